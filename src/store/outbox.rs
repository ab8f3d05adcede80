//! The command outbox (`commands`): rows that ask the worker to call a provider.
//!
//! Whoever decides that money must move (a refund, a payout line, evidence to
//! submit) writes the decision, its audit row and the command in **one
//! transaction** with [`enqueue`]; the worker's executor
//! ([`crate::worker::commands`]) sends it with the command's idempotency key.
//! A second enqueue with the same key is a no-op (`ON CONFLICT DO NOTHING`).
//! [`enqueue`] runs inside its caller's transaction, which has already
//! authorized the operator (`store::authz`) when one is behind it.

use serde_json::Value;
use sqlx::PgConnection;

/// The kinds the schema allows (`commands.kind` CHECK list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `{"refund_id": <refunds.id>}`; PayPal-Request-Id = the command's key.
    PaypalRefund,
    /// `{"dispute_id": <disputes.id>, "input": {"evidences": [...]}}`.
    PaypalProvideEvidence,
    /// `{"dispute_id": <disputes.id>, "note": "...", "accept_claim_type": "REFUND"}`.
    PaypalAcceptClaim,
    /// `{"capture_id": "..."}`: reads the capture (no domain change).
    PaypalSyncCapture,
    /// `{"payout_item_id": <payout_items.id>}`; customerTransactionId = the item's.
    WiseTransfer,
    /// `{"payout_item_id": <payout_items.id>}`: reads the transfer's status.
    WiseSyncTransfer,
    /// `{"show_id": <shows.id>}` (room by sid or name): records the room sid.
    TwilioRoomLookup,
}

impl CommandKind {
    pub const ALL: [CommandKind; 7] = [
        Self::PaypalRefund,
        Self::PaypalProvideEvidence,
        Self::PaypalAcceptClaim,
        Self::PaypalSyncCapture,
        Self::WiseTransfer,
        Self::WiseSyncTransfer,
        Self::TwilioRoomLookup,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PaypalRefund => "paypal_refund",
            Self::PaypalProvideEvidence => "paypal_provide_evidence",
            Self::PaypalAcceptClaim => "paypal_accept_claim",
            Self::PaypalSyncCapture => "paypal_sync_capture",
            Self::WiseTransfer => "wise_transfer",
            Self::WiseSyncTransfer => "wise_sync_transfer",
            Self::TwilioRoomLookup => "twilio_room_lookup",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The channel the executor LISTENs on; [`enqueue`] notifies it (delivered at commit).
pub const COMMANDS_CHANNEL: &str = "lsn_ops_commands";

/// Enqueues a command in the caller's transaction. Returns the new row's id,
/// or `None` when a command with this idempotency key already exists.
pub async fn enqueue(
    conn: &mut PgConnection,
    kind: CommandKind,
    idempotency_key: &str,
    payload: &Value,
    created_by: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO commands (kind, idempotency_key, payload, created_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id",
    )
    .bind(kind.as_str())
    .bind(idempotency_key)
    .bind(payload)
    .bind(created_by)
    .fetch_optional(&mut *conn)
    .await?;
    if id.is_some() {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(COMMANDS_CHANNEL)
            .bind(kind.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// Cancels a command that has not been sent yet (`pending` or `failed`).
pub async fn cancel(conn: &mut PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE commands SET state = 'cancelled', completed_at = now()
          WHERE id = $1 AND state IN ('pending', 'failed')",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a dead command back in the queue, due now (same idempotency key, so
/// the provider still deduplicates).
pub async fn retry_dead(conn: &mut PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE commands SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
          WHERE id = $1 AND state = 'dead'",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in CommandKind::ALL {
            assert_eq!(CommandKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(CommandKind::parse("stripe_refund"), None);
    }
}
