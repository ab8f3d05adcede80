//! Reconciliation ("Sync PayPal Status", stuck Wise transfers): asks the
//! providers for the truth about what looks stuck, on a schedule and on demand.
//!
//! [`enqueue_due`] puts sync commands in the outbox for PayPal captures still
//! `PENDING` after 10 minutes and payout lines still `processing` at Wise after
//! an hour. The executor calls the provider and hands the answer to
//! [`record_answer`], which files it in the inbox as a synthetic event: the
//! applier then applies it like a webhook, with the same out-of-order rules,
//! so a sync can never move anything backwards or apply twice.
//!
//! The schedule ([`run`] → [`enqueue_due`]) is the worker's own doing and
//! takes no operator; an operator asking now (`lsn-ops worker sync`) goes
//! through [`enqueue_due_for`], which needs `OperateWorker` (`store::authz`)
//! and is audited under their name.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::domain::operators::{Actor, Permission};
use crate::store::authz::{self, AuthError};
use crate::store::outbox::{self, CommandKind};

/// A capture still pending this long is asked about.
pub const CAPTURE_STUCK_AFTER: Duration = Duration::minutes(10);
/// A transfer still processing this long is asked about.
pub const TRANSFER_STUCK_AFTER: Duration = Duration::hours(1);
/// At most one sync per item per this window (the idempotency key's bucket).
pub const SYNC_WINDOW: Duration = Duration::minutes(10);
/// Advisory lock id: one scheduler at a time across worker replicas.
const LOCK_ID: i64 = 0x6c73_6e5f_7379_6e63;

/// The scheduler's name on the commands it queues.
pub const SCHEDULER: &str = "scheduler";

/// The schedule: enqueues sync commands for what looks stuck at `now`;
/// returns how many. The commands name [`SCHEDULER`].
pub async fn enqueue_due(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let queued = enqueue(&mut tx, now, SCHEDULER).await?;
    tx.commit().await?;
    Ok(queued)
}

/// [`enqueue_due`] on an operator's request ("Sync PayPal Status" now):
/// `actor` needs `OperateWorker`, checked before anything is written; the
/// commands and an audit row (`worker.sync`) name `actor.audit_name()`.
pub async fn enqueue_due_for(
    pool: &PgPool,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<usize, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::OperateWorker).await?;
    let by = actor.audit_name();
    let queued = enqueue(&mut tx, now, &by).await?;
    crate::store::audit(
        &mut tx,
        &by,
        "worker.sync",
        "commands",
        "sync",
        json!({ "queued": queued }),
    )
    .await?;
    tx.commit().await?;
    Ok(queued)
}

/// Queues the sync commands in the caller's transaction; 0 when another
/// scheduler holds the lock right now.
async fn enqueue(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    operator: &str,
) -> Result<usize, sqlx::Error> {
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK_ID)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(0);
    }
    let bucket = now.duration_trunc(SYNC_WINDOW).unwrap_or(now).timestamp();
    let captures: Vec<String> = sqlx::query_scalar(
        "SELECT capture_id FROM payments WHERE status = 'PENDING' AND updated_at < $1 ORDER BY updated_at LIMIT 500",
    )
    .bind(now - CAPTURE_STUCK_AFTER)
    .fetch_all(&mut *tx)
    .await?;
    let mut queued = 0;
    for capture in captures {
        let key = format!("sync-capture-{capture}-{bucket}");
        let payload = json!({ "capture_id": capture });
        if outbox::enqueue(
            &mut *tx,
            CommandKind::PaypalSyncCapture,
            &key,
            &payload,
            operator,
        )
        .await?
        .is_some()
        {
            queued += 1;
        }
    }
    let items: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM payout_items
          WHERE state = 'processing' AND wise_transfer_id IS NOT NULL AND updated_at < $1
          ORDER BY updated_at LIMIT 500",
    )
    .bind(now - TRANSFER_STUCK_AFTER)
    .fetch_all(&mut *tx)
    .await?;
    for item in items {
        let key = format!("sync-transfer-{item}-{bucket}");
        let payload = json!({ "payout_item_id": item });
        if outbox::enqueue(
            &mut *tx,
            CommandKind::WiseSyncTransfer,
            &key,
            &payload,
            operator,
        )
        .await?
        .is_some()
        {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Files a provider's answer to a sync as an inbox event for the applier.
pub async fn record_answer(
    conn: &mut PgConnection,
    provider: &str,
    answer: &SyncAnswer,
) -> Result<(), sqlx::Error> {
    let (event_id, event_type, payload) = match answer {
        SyncAnswer::Capture { raw } => {
            let id = raw.get("id").and_then(Value::as_str).unwrap_or("?");
            let status = raw.get("status").and_then(Value::as_str).unwrap_or("?");
            let event_type = match status {
                "COMPLETED" => "PAYMENT.CAPTURE.COMPLETED",
                "DECLINED" | "FAILED" => "PAYMENT.CAPTURE.DENIED",
                "REFUNDED" | "PARTIALLY_REFUNDED" => "PAYMENT.CAPTURE.SYNCED_REFUND",
                _ => "PAYMENT.CAPTURE.PENDING",
            };
            (
                format!("sync-{id}-{status}"),
                event_type.to_string(),
                json!({ "id": format!("sync-{id}-{status}"), "event_type": event_type, "resource": raw, "source": "sync" }),
            )
        }
        SyncAnswer::Transfer { id, status, at } => (
            format!("sync-{id}-{status}"),
            "transfers#state-change".to_string(),
            json!({ "data": { "resource": { "type": "transfer", "id": id }, "current_state": status,
                              "previous_state": null, "occurred_at": at.to_rfc3339() },
                    "event_type": "transfers#state-change", "source": "sync" }),
        ),
    };
    sqlx::query(
        "INSERT INTO provider_events (provider, event_id, event_type, payload) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a provider said when asked.
pub enum SyncAnswer {
    /// PayPal's capture resource, as returned.
    Capture { raw: Value },
    /// Wise's transfer status, as of `at` (when we asked).
    Transfer {
        id: i64,
        status: String,
        at: DateTime<Utc>,
    },
}

/// The scheduler task: every `every`, until `shutdown`.
pub async fn run(
    pool: PgPool,
    every: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match enqueue_due(&pool, Utc::now()).await {
            Ok(n) if n > 0 => tracing::info!("reconcile: {n} sync command(s) queued"),
            Ok(_) => {}
            Err(e) => tracing::warn!("reconcile: {e}"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
