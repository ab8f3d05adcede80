//! The applier: inbox → domain tables, exactly once in effect.
//!
//! Verified provider events wait in `provider_events`. The applier claims a
//! batch of them with `FOR UPDATE SKIP LOCKED` (so several workers share the
//! inbox), applies each one's domain effect together with an audit row, and
//! marks them applied, all in one transaction ([`apply_batch`]): a crash
//! leaves the batch pending, never half done.
//! Events that arrive out of order never move an entity backwards (ranks for
//! payments, orders, shows and disputes; the event time for Wise transfers,
//! which may roll back). Unknown event types are kept and marked ignored. A
//! failing event is retried with exponential backoff and, after
//! [`MAX_ATTEMPTS`], parked as `dead` with its error, raising the runbook's
//! "webhook delivery failures" alert; `lsn-ops worker replay ID` revives it.
//!
//! Applying events is the providers' doing: it takes no operator and is not
//! authorized (it is audited as [`WORKER`]). [`replay`] is an operator's
//! request and needs `OperateWorker` (`store::authz`).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission};
use crate::store::authz::{self, AuthError};

mod captures;
mod disputes;
mod rooms;
mod wise;

pub use captures::payment_rank;
use captures::{capture_completed, capture_denied, capture_refunded};
use disputes::dispute_event;
use wise::wise_state_change;
pub use wise::{payout_failed_alert, payout_state_for};

/// Attempts before an event is parked as dead.
pub const MAX_ATTEMPTS: i32 = 8;
/// The operator name the worker writes in the audit log.
pub const WORKER: &str = "worker";

/// Settings the effects need from the configuration. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ApplySettings {
    /// Fraud rules, threshold and reference lists for scoring captured orders.
    pub scoring: std::sync::Arc<super::scoring::Scoring>,
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Kept but not applied: an event type lsn-ops does not act on, or a stale one.
    Ignored(String),
    /// The effect failed; retried later (or parked as dead).
    Failed(String),
}

/// An effect that cannot be applied (yet): unknown order, malformed resource...
#[derive(Debug)]
pub struct ApplyError(pub String);

impl From<sqlx::Error> for ApplyError {
    fn from(e: sqlx::Error) -> Self {
        ApplyError(crate::text::clip(&format!("database: {e}")).into_owned())
    }
}

type Applied = Result<Outcome, ApplyError>;

/// Backoff before attempt `attempts + 1`: 2, 4, 8 ... seconds, at most 10 minutes.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 12) as u32;
    Duration::seconds(2i64.pow(exp).min(600))
}

/// Claims and applies at most one due event, in a transaction of its own
/// (a batch of one). `None` when nothing is due.
pub async fn apply_next(
    pool: &PgPool,
    settings: ApplySettings,
) -> Result<Option<(i64, Outcome)>, sqlx::Error> {
    Ok(apply_batch(pool, &settings, 1).await?.into_iter().next())
}

/// Events claimed and applied in one transaction by [`apply_batch`].
pub const BATCH: usize = 200;

type Claimed = (i64, String, String, Value, i32, DateTime<Utc>);

/// Claims up to `max` due events (oldest first, `FOR UPDATE SKIP LOCKED`)
/// and applies them, in order, in one transaction: one commit (one WAL
/// flush) and one NOTIFY per table for the whole batch instead of one per
/// event. Each event's effect and its status row still commit together, so a
/// crash leaves the whole batch pending and nothing half done.
///
/// The fast path applies the batch without savepoints; if an effect fails
/// (a poison event, a refund before its capture) the transaction is rolled
/// back and the batch is applied again with a savepoint around each effect,
/// so the failure is recorded and the others still apply.
pub async fn apply_batch(
    pool: &PgPool,
    settings: &ApplySettings,
    max: usize,
) -> Result<Vec<(i64, Outcome)>, sqlx::Error> {
    match apply_claimed(pool, settings, max, false).await? {
        Some(done) => Ok(done),
        None => Ok(apply_claimed(pool, settings, max, true)
            .await?
            .unwrap_or_default()),
    }
}

/// One batch; `None` when the fast path met a failure (nothing committed).
async fn apply_claimed(
    pool: &PgPool,
    settings: &ApplySettings,
    max: usize,
    careful: bool,
) -> Result<Option<Vec<(i64, Outcome)>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<Claimed> = sqlx::query_as(
        "SELECT id, provider, event_type, payload, attempts, received_at FROM provider_events
          WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id
          LIMIT $1
          FOR UPDATE SKIP LOCKED",
    )
    .bind(i64::try_from(max.max(1)).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    let mut done: Vec<(i64, Outcome)> = Vec::with_capacity(rows.len());
    let mut rooms_batch = Vec::new();
    let mut malformed = std::collections::HashSet::new();
    for (id, provider, event_type, payload, _, received_at) in &rows {
        if let Err(why) = super::shapes::check(provider, event_type, payload) {
            malformed.insert(*id);
            done.push((*id, Outcome::Failed(why)));
            continue;
        }
        // Room callbacks are folded together (see `rooms`); they touch only
        // shows, which no other event type writes.
        if provider == "twilio" {
            rooms_batch.push((*id, payload));
            continue;
        }
        if careful {
            sqlx::query("SAVEPOINT effect").execute(&mut *tx).await?;
        }
        let result = apply_event(
            &mut tx,
            provider,
            event_type,
            payload,
            *received_at,
            settings,
        )
        .await;
        match result {
            Ok(outcome @ (Outcome::Applied | Outcome::Ignored(_))) => done.push((*id, outcome)),
            Ok(Outcome::Failed(message)) | Err(ApplyError(message)) => {
                if !careful {
                    tx.rollback().await?;
                    return Ok(None);
                }
                sqlx::query("ROLLBACK TO SAVEPOINT effect")
                    .execute(&mut *tx)
                    .await?;
                done.push((*id, Outcome::Failed(message)));
            }
        }
    }
    if !rooms_batch.is_empty() {
        match rooms::apply(&mut tx, &rooms_batch, careful).await {
            Ok(outcomes) => done.extend(outcomes),
            Err(_) if !careful => {
                tx.rollback().await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
    // Back in claim order, then each outcome recorded: applied and ignored
    // events in one statement each, failures one by one (they are rare).
    let order: std::collections::HashMap<i64, usize> =
        rows.iter().enumerate().map(|(n, row)| (row.0, n)).collect();
    done.sort_by_key(|(id, _)| order.get(id).copied().unwrap_or(usize::MAX));
    let mut applied = Vec::new();
    let (mut ignored, mut reasons) = (Vec::new(), Vec::new());
    for (id, outcome) in &done {
        match outcome {
            Outcome::Applied => applied.push(*id),
            Outcome::Ignored(reason) => {
                ignored.push(*id);
                reasons.push(reason.clone());
            }
            Outcome::Failed(message) => {
                let Some((_, provider, event_type, _, attempts, _)) =
                    order.get(id).and_then(|n| rows.get(*n))
                else {
                    continue;
                };
                record_failure(
                    &mut tx,
                    *id,
                    provider,
                    event_type,
                    attempts + 1,
                    message,
                    malformed.contains(id),
                )
                .await?;
            }
        }
    }
    if !applied.is_empty() {
        sqlx::query(
            "UPDATE provider_events SET status = 'applied', applied_at = now(), attempts = attempts + 1, last_error = NULL
              WHERE id = ANY($1)",
        )
        .bind(&applied)
        .execute(&mut *tx)
        .await?;
    }
    if !ignored.is_empty() {
        sqlx::query(
            "UPDATE provider_events e SET status = 'ignored', applied_at = now(), attempts = attempts + 1, last_error = t.reason
               FROM unnest($1::bigint[], $2::text[]) AS t(id, reason)
              WHERE e.id = t.id",
        )
        .bind(&ignored)
        .bind(&reasons)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(done))
}

/// Applies due events until none is due or `max` were handled, in batches
/// of at most [`BATCH`].
pub async fn apply_due(
    pool: &PgPool,
    settings: ApplySettings,
    max: usize,
) -> Result<usize, sqlx::Error> {
    let mut handled = 0;
    while handled < max {
        let done = apply_batch(pool, &settings, (max - handled).min(BATCH)).await?;
        if done.is_empty() {
            break;
        }
        handled += done.len();
    }
    Ok(handled)
}

/// Applies due events one transaction each until none is due or `max`
/// were handled (the slow path, kept for comparison in benchmarks).
pub async fn apply_due_one_by_one(
    pool: &PgPool,
    settings: ApplySettings,
    max: usize,
) -> Result<usize, sqlx::Error> {
    let mut handled = 0;
    while handled < max {
        match apply_next(pool, settings.clone()).await? {
            Some(_) => handled += 1,
            None => break,
        }
    }
    Ok(handled)
}

async fn record_failure(
    conn: &mut PgConnection,
    id: i64,
    provider: &str,
    event_type: &str,
    attempts: i32,
    message: &str,
    permanent: bool,
) -> Result<(), sqlx::Error> {
    // Permanent failures (a malformed payload) are parked at once; temporary
    // ones after MAX_ATTEMPTS. The message may quote the payload: clipped.
    let dead = permanent || attempts >= MAX_ATTEMPTS;
    let message = &*crate::text::clip(message);
    let message = &if permanent {
        format!("permanent: {message}")
    } else {
        message.to_string()
    };
    sqlx::query(
        "UPDATE provider_events SET status = $2, attempts = $3, last_error = $4, next_attempt_at = now() + $5
          WHERE id = $1",
    )
    .bind(id)
    .bind(if dead { "dead" } else { "failed" })
    .bind(attempts)
    .bind(message)
    .bind(backoff(attempts))
    .execute(&mut *conn)
    .await?;
    tracing::warn!(
        event = id,
        provider,
        event_type,
        attempts,
        dead,
        "event failed: {message}"
    );
    if dead {
        crate::store::alerts::raise(
            conn,
            "webhook_failures",
            &format!("webhook:dead:{provider}"),
            "warning",
            "P1",
            &format!("{provider} webhook events parked as dead"),
            &if permanent {
                format!("event #{id} ({}) cannot be applied: {message}; after a fix, replay with `lsn-ops worker replay {id}`", crate::text::clip(event_type))
            } else {
                format!("event #{id} ({}) failed {attempts} times: {message}; replay with `lsn-ops worker replay {id}`", crate::text::clip(event_type))
            },
        )
        .await?;
    }
    Ok(())
}

/// Puts a dead (or failed) event back in the queue, due now; audited.
/// `actor` needs `OperateWorker`, checked before anything is written.
pub async fn replay(pool: &PgPool, id: i64, actor: &Actor) -> Result<bool, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::OperateWorker).await?;
    let updated = sqlx::query(
        "UPDATE provider_events SET status = 'pending', attempts = 0, next_attempt_at = now()
          WHERE id = $1 AND status IN ('dead', 'failed')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    crate::store::audit(
        &mut tx,
        &actor.audit_name(),
        "event.replay",
        "provider_event",
        &id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn apply_event(
    conn: &mut PgConnection,
    provider: &str,
    event_type: &str,
    payload: &Value,
    received_at: DateTime<Utc>,
    settings: &ApplySettings,
) -> Applied {
    match (provider, event_type) {
        ("paypal", "PAYMENT.CAPTURE.COMPLETED") => capture_completed(conn, payload, settings).await,
        ("paypal", "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED") => {
            capture_denied(conn, payload).await
        }
        ("paypal", "PAYMENT.CAPTURE.REFUNDED") => capture_refunded(conn, payload, "REFUNDED").await,
        ("paypal", "PAYMENT.CAPTURE.REVERSED") => capture_refunded(conn, payload, "REVERSED").await,
        (
            "paypal",
            "CUSTOMER.DISPUTE.CREATED" | "CUSTOMER.DISPUTE.UPDATED" | "CUSTOMER.DISPUTE.RESOLVED",
        ) => dispute_event(conn, event_type, payload, received_at).await,
        ("wise", "transfers#state-change") => wise_state_change(conn, payload, received_at).await,
        _ => Ok(Outcome::Ignored(format!(
            "{provider} event type {event_type} is not acted on"
        ))),
    }
}

// --- Payload helpers ----------------------------------------------------

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

fn required<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str, ApplyError> {
    text(value, path).ok_or_else(|| ApplyError(format!("payload has no {}", path.join("."))))
}

fn time(value: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    text(value, path)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A PayPal `{currency_code, value}` amount, parsed exactly.
fn amount(value: &Value, path: &[&str]) -> Result<Money, ApplyError> {
    let mut prefix = path.to_vec();
    prefix.push("currency_code");
    let code = required(value, &prefix)?;
    let currency =
        Currency::parse(code).ok_or_else(|| ApplyError(format!("unknown currency {code:?}")))?;
    prefix.pop();
    prefix.push("value");
    Money::from_major_str(required(value, &prefix)?, currency)
        .map_err(|e| ApplyError(e.to_string()))
}

// --- Twilio: see `rooms` ------------------------------------------------------

/// The applier task: applies due events until `shutdown` fires, waking on the
/// inbox's NOTIFY and at least every `poll`. Database outages are logged and
/// retried; an event is never lost (it stays in the inbox).
pub async fn run(
    pool: PgPool,
    settings: ApplySettings,
    poll: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut wake = super::wake::Wake::new(pool.clone(), crate::store::CHANGE_CHANNEL, "applier");
    loop {
        if *shutdown.borrow() {
            return;
        }
        match apply_due(&pool, settings.clone(), 500).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!("applier: {e}"),
        }
        wake.wait(poll, &mut shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use super::captures::refund_capture_id;
    use super::disputes::dispute_target;
    use super::*;
    use crate::domain::disputes::DisputeState;

    #[test]
    fn ranks_never_let_an_old_event_win() {
        assert!(payment_rank("COMPLETED") > payment_rank("PENDING"));
        assert!(payment_rank("REFUNDED") > payment_rank("COMPLETED"));
        assert!(payment_rank("DENIED") < payment_rank("COMPLETED"));
        assert_eq!(payout_state_for("outgoing_payment_sent"), Some("sent"));
        assert_eq!(payout_state_for("bounced_back"), Some("failed"));
        assert_eq!(payout_state_for("unknown"), None);
    }

    #[test]
    fn dispute_targets_follow_paypal_status_and_outcome() {
        assert_eq!(
            dispute_target(Some("WAITING_FOR_SELLER_RESPONSE"), None),
            DisputeState::EvidenceRequired
        );
        assert_eq!(
            dispute_target(Some("RESOLVED"), Some("RESOLVED_SELLER_FAVOUR")),
            DisputeState::Won
        );
        assert_eq!(
            dispute_target(Some("RESOLVED"), Some("RESOLVED_BUYER_FAVOUR")),
            DisputeState::Lost
        );
        assert_eq!(dispute_target(Some("OPEN"), None), DisputeState::Open);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(3), Duration::seconds(8));
        assert_eq!(backoff(20), Duration::seconds(600));
    }

    #[test]
    fn refund_capture_comes_from_the_up_link() {
        let refund = serde_json::json!({ "id": "R1", "links": [
            { "rel": "self", "href": "https://api-m.paypal.com/v2/payments/refunds/R1" },
            { "rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/CAP9" } ] });
        assert_eq!(refund_capture_id(&refund).as_deref(), Some("CAP9"));
        assert_eq!(
            refund_capture_id(&serde_json::json!({ "id": "CAP9" })),
            None
        );
    }
}
