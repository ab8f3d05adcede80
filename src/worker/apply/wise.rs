//! Wise transfer state changes: a payout line follows its transfer by the
//! event's time (Wise may roll a state back), and a failed line raises its
//! alert ([`payout_failed_alert`]).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::{Applied, ApplyError, Outcome, WORKER, required, time};

/// Payout line state for a Wise transfer state.
pub fn payout_state_for(wise_state: &str) -> Option<&'static str> {
    match wise_state {
        "incoming_payment_waiting"
        | "incoming_payment_initiated"
        | "processing"
        | "funds_converted" => Some("processing"),
        "outgoing_payment_sent" => Some("sent"),
        "bounced_back" | "cancelled" | "funds_refunded" | "charged_back" => Some("failed"),
        _ => None,
    }
}

pub(super) async fn wise_state_change(
    conn: &mut PgConnection,
    payload: &Value,
    received_at: DateTime<Utc>,
) -> Applied {
    let data = payload
        .get("data")
        .ok_or_else(|| ApplyError("no data".into()))?;
    let transfer_id = data
        .get("resource")
        .and_then(|r| r.get("id"))
        .and_then(Value::as_i64)
        .ok_or_else(|| ApplyError("payload has no data.resource.id".into()))?;
    let current = required(data, &["current_state"])?;
    // Issue 18: a webhook dated past its receipt orders at its receipt, so
    // one event cannot freeze the line; Wise's own API answer (a sync, filed
    // by `reconcile::record_answer`) is the truth and wins over any webhook.
    let from_sync = payload.get("source").and_then(Value::as_str) == Some("sync");
    let occurred = crate::worker::limits::ordering_time(
        time(data, &["occurred_at"]).unwrap_or_else(Utc::now),
        received_at,
    );
    let Some(state) = payout_state_for(current) else {
        return Ok(Outcome::Ignored(format!(
            "transfer state {current} is not acted on"
        )));
    };
    let row: Option<(i64, i64, Option<DateTime<Utc>>, String)> = sqlx::query_as(
        "SELECT id, batch_id, wise_status_at, state FROM payout_items WHERE wise_transfer_id = $1 FOR UPDATE",
    )
    .bind(transfer_id)
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_none() {
        // A transfer a retry replaced: its late events change nothing.
        let replaced: Option<i64> = sqlx::query_scalar(
            "SELECT payout_item_id FROM payout_transfers WHERE wise_transfer_id = $1",
        )
        .bind(transfer_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(item) = replaced {
            return Ok(Outcome::Ignored(format!(
                "transfer {transfer_id} of payout line #{item} was replaced by a retry"
            )));
        }
    }
    // The transfer may not be recorded yet (the executor records it after Wise answers): retry.
    let (item_id, batch_id, last, line_state) =
        row.ok_or_else(|| ApplyError(format!("no payout line for Wise transfer {transfer_id}")))?;
    if !from_sync && last.is_some_and(|last| occurred <= last) {
        return Ok(Outcome::Ignored(format!(
            "transfer {transfer_id}: {current} at {occurred} is older than the state held"
        )));
    }
    sqlx::query(
        "UPDATE payout_items SET wise_status = $2, wise_status_at = $3, state = $4, updated_at = now(),
                failure_reason = CASE WHEN $4 = 'failed' THEN 'Wise transfer ' || $2 ELSE failure_reason END
          WHERE id = $1",
    )
    .bind(item_id)
    .bind(current)
    .bind(occurred)
    .bind(state)
    .execute(&mut *conn)
    .await?;
    if state == "failed" && line_state != "failed" {
        payout_failed_alert(
            conn,
            item_id,
            &format!("Wise transfer {transfer_id} {current}"),
        )
        .await?;
    }
    // The batch follows its lines once it is being processed.
    sqlx::query(
        "UPDATE payout_batches b SET
            state = CASE WHEN s.processing > 0 OR s.pending > 0 THEN 'processing'
                         WHEN s.failed > 0 THEN 'partially_failed' ELSE 'completed' END,
            completed_at = CASE WHEN s.processing = 0 AND s.pending = 0 AND s.failed = 0 THEN now() ELSE NULL END
           FROM (SELECT count(*) FILTER (WHERE state = 'processing') AS processing,
                        count(*) FILTER (WHERE state = 'pending') AS pending,
                        count(*) FILTER (WHERE state = 'failed') AS failed
                   FROM payout_items WHERE batch_id = $1) s
          WHERE b.id = $1 AND b.state IN ('processing', 'completed', 'partially_failed')",
    )
    .bind(batch_id)
    .execute(&mut *conn)
    .await?;
    crate::store::audit(
        conn,
        WORKER,
        "wise.transfer.state_change",
        "payout_item",
        &item_id.to_string(),
        serde_json::json!({ "transfer_id": transfer_id, "state": current, "occurred_at": occurred }),
    )
    .await?;
    Ok(Outcome::Applied)
}

/// The P1 "creator payout failures" alert for a line that failed (one open
/// alert per batch; each failure bumps it).
pub async fn payout_failed_alert(
    conn: &mut PgConnection,
    item_id: i64,
    why: &str,
) -> Result<(), sqlx::Error> {
    let line: Option<(i64, String)> = sqlx::query_as(
        "SELECT pi.batch_id, c.handle FROM payout_items pi JOIN creators c ON c.id = pi.creator_id WHERE pi.id = $1",
    )
    .bind(item_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((batch_id, creator)) = line else {
        return Ok(());
    };
    crate::store::alerts::raise(
        conn,
        "payout_failures",
        &format!("payout:failed:batch:{batch_id}"),
        "warning",
        "P1",
        &format!("Creator payout failed in batch #{batch_id}"),
        &format!(
            "line #{item_id} ({creator}): {why}; check the bank details, then `lsn-ops payouts retry {batch_id} --line {item_id}`"
        ),
    )
    .await
    .map(|_| ())
}
