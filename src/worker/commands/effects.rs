//! What a call's outcome does to the domain, in the recording transaction:
//! a success's effect (the refund, the transfer, the evidence, the accepted
//! claim) with its audit row, and a refusal's (the domain row marked failed,
//! an acceptance undone).

use serde_json::{Value, json};
use sqlx::PgConnection;

use super::*;

pub(super) async fn succeed(
    conn: &mut PgConnection,
    command: &Claimed,
    result: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE commands SET state = 'succeeded', result = $2, last_error = NULL, completed_at = now() WHERE id = $1",
    )
    .bind(command.id)
    .bind(result)
    .execute(&mut *conn)
    .await?;
    crate::store::audit(
        conn,
        WORKER,
        &format!("command.{}", command.kind),
        "command",
        &command.id.to_string(),
        json!({ "idempotency_key": command.key }),
    )
    .await
}

/// Applies a successful call's domain effect. `Some(error)` when the call
/// "succeeded" but its answer is a permanent failure (a rejected funding).
pub(super) async fn effect_outcome(
    conn: &mut PgConnection,
    command: &Claimed,
    effect: Effect,
) -> Result<Option<ApiError>, sqlx::Error> {
    match effect {
        Effect::Refund { refund_id, refund } => {
            crate::worker::refunds::record_answer(conn, refund_id, &refund).await?;
            succeed(conn, command, &refund.raw).await?;
        }
        Effect::Transfer {
            item_id,
            transfer,
            funding,
            replaced,
            retry,
        } => {
            if let Some((old_id, old_status, old_ctid, new_ctid)) = &replaced {
                // The failed transfer goes to the history; the line now
                // follows the new one (its events, its idempotency key).
                sqlx::query(
                    "INSERT INTO payout_transfers (wise_transfer_id, payout_item_id, customer_transaction_id, final_status)
                     VALUES ($1, $2, $3::uuid, $4) ON CONFLICT (wise_transfer_id) DO NOTHING",
                )
                .bind(old_id)
                .bind(item_id)
                .bind(old_ctid)
                .bind(old_status)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "UPDATE payout_items SET customer_transaction_id = $2::uuid, wise_transfer_id = NULL,
                            wise_status = NULL, wise_status_at = NULL, failure_reason = NULL
                      WHERE id = $1",
                )
                .bind(item_id)
                .bind(new_ctid)
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query(
                "UPDATE payout_items
                    SET wise_transfer_id = $2,
                        wise_status = CASE WHEN wise_status_at IS NULL THEN $3 ELSE wise_status END,
                        state = CASE WHEN state <> 'pending' THEN state
                                     WHEN $5 AND $3 = 'outgoing_payment_sent' THEN 'sent'
                                     WHEN $5 AND $3 = ANY($4) THEN 'failed' ELSE 'processing' END,
                        attempts = attempts + 1, updated_at = now()
                  WHERE id = $1",
            )
            .bind(item_id)
            .bind(transfer.id)
            .bind(&transfer.status)
            .bind(TRANSFER_FAILED_STATES)
            .bind(retry)
            .execute(&mut *conn)
            .await?;
            if let Some(Err(e)) = funding {
                // The transfer exists but was not funded: the command fails
                // permanently (recorded by the caller) with the id kept.
                return Ok(Some(e));
            }
            let result = json!({
                "transfer": transfer.raw,
                "funding": funding.and_then(Result::ok).map(|f| f.raw),
            });
            succeed(conn, command, &result).await?;
        }
        Effect::Evidence { dispute_id, answer } => {
            let moved = sqlx::query(
                "UPDATE disputes SET state = 'SUBMITTED', submitted_at = COALESCE(submitted_at, now()),
                        updated_at = now()
                  WHERE id = $1 AND state = 'EVIDENCE_READY'",
            )
            .bind(dispute_id)
            .execute(&mut *conn)
            .await?;
            if moved.rows_affected() == 1 {
                let by = command.payload.get("requested_by").and_then(Value::as_str);
                let auto = command.payload.get("auto").and_then(Value::as_bool) == Some(true);
                crate::store::audit(
                    conn,
                    WORKER,
                    "dispute.state",
                    "dispute",
                    &dispute_id.to_string(),
                    json!({
                        "from": "EVIDENCE_READY", "to": "SUBMITTED", "why": "PayPal took the evidence",
                        "requested_by": by, "note": if auto { "auto-submitted" } else { "submitted" },
                        "command_id": command.id,
                    }),
                )
                .await?;
            }
            succeed(conn, command, &answer).await?;
        }
        Effect::AcceptClaim { dispute_id, answer } => {
            // PayPal refunds the buyer itself: the refund row recorded at
            // accept completes and counts into its payment, once.
            if let Some(refund_id) = command.payload.get("refund_id").and_then(Value::as_i64) {
                let done: Option<(i64, Option<i64>)> = sqlx::query_as(
                    "UPDATE refunds SET status = 'completed', completed_at = COALESCE(completed_at, now())
                      WHERE id = $1 AND status <> 'completed' RETURNING amount_minor, payment_id",
                )
                .bind(refund_id)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some((amount, Some(payment_id))) = done {
                    crate::worker::refunds::count_into_payment(conn, payment_id, amount).await?;
                }
            }
            succeed(
                conn,
                command,
                &json!({ "dispute_id": dispute_id, "answer": answer }),
            )
            .await?;
        }
        Effect::Capture { answer } => {
            let synced = crate::worker::reconcile::SyncAnswer::Capture {
                raw: answer.clone(),
            };
            crate::worker::reconcile::record_answer(conn, "paypal", &synced).await?;
            succeed(conn, command, &answer).await?;
        }
        Effect::TransferStatus { item_id, transfer } => {
            let synced = crate::worker::reconcile::SyncAnswer::Transfer {
                id: transfer.id,
                status: transfer.status.clone(),
                at: chrono::Utc::now(),
            };
            crate::worker::reconcile::record_answer(conn, "wise", &synced).await?;
            sqlx::query(
                "UPDATE payout_items SET wise_status = $2, updated_at = now()
                  WHERE id = $1 AND wise_status_at IS NULL",
            )
            .bind(item_id)
            .bind(&transfer.status)
            .execute(&mut *conn)
            .await?;
            succeed(conn, command, &transfer.raw).await?;
        }
        Effect::Room { show_id, room } => {
            sqlx::query(
                "UPDATE shows SET twilio_room_sid = COALESCE(twilio_room_sid, $2) WHERE id = $1",
            )
            .bind(show_id)
            .bind(&room.sid)
            .execute(&mut *conn)
            .await?;
            succeed(conn, command, &room.raw).await?;
        }
    }
    Ok(None)
}

/// A dead command's domain row says it failed, where there is one.
pub(super) async fn mark_domain_failed(
    conn: &mut PgConnection,
    command: &Claimed,
    message: &str,
) -> Result<(), sqlx::Error> {
    match CommandKind::parse(&command.kind) {
        Some(CommandKind::PaypalRefund | CommandKind::PaypalAcceptClaim) => {
            if let Some(id) = command.payload.get("refund_id").and_then(Value::as_i64) {
                sqlx::query(
                    "UPDATE refunds SET status = 'failed', failure = $2
                      WHERE id = $1 AND status IN ('requested', 'pending')",
                )
                .bind(id)
                .bind(message)
                .execute(&mut *conn)
                .await?;
            }
            if command.kind == CommandKind::PaypalAcceptClaim.as_str() {
                undo_acceptance(conn, command, message).await?;
            }
        }
        Some(CommandKind::WiseTransfer) => {
            if let Some(id) = command
                .payload
                .get("payout_item_id")
                .and_then(Value::as_i64)
            {
                let failed = sqlx::query(
                    "UPDATE payout_items SET state = 'failed', failure_reason = $2, updated_at = now()
                      WHERE id = $1 AND state IN ('pending', 'processing')",
                )
                .bind(id)
                .bind(message)
                .execute(&mut *conn)
                .await?;
                if failed.rows_affected() == 1 {
                    crate::worker::apply::payout_failed_alert(conn, id, message).await?;
                }
            }
        }
        Some(CommandKind::PaypalProvideEvidence) => {
            // The dispute stays EVIDENCE_READY; its detail shows the refusal
            // and `s` may submit again (under a new key).
            if let Some(id) = command.payload.get("dispute_id").and_then(Value::as_i64) {
                sqlx::query(
                    "UPDATE disputes SET manual_reason = $2, updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind(format!("PayPal refused the evidence: {message}"))
                .execute(&mut *conn)
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// PayPal refused to accept the claim: the dispute is no longer "accepted"
/// (its detail says why), so an operator may accept again (under a new key)
/// or fight it.
async fn undo_acceptance(
    conn: &mut PgConnection,
    command: &Claimed,
    message: &str,
) -> Result<(), sqlx::Error> {
    let Some(id) = command.payload.get("dispute_id").and_then(Value::as_i64) else {
        return Ok(());
    };
    let undone = sqlx::query(
        "UPDATE disputes SET accepted_by = NULL, accepted_at = NULL, manual_reason = $3, updated_at = now()
          WHERE id = $1 AND accept_command_id = $2 AND accepted_by IS NOT NULL",
    )
    .bind(id)
    .bind(command.id)
    .bind(format!("PayPal refused the acceptance: {message}"))
    .execute(&mut *conn)
    .await?;
    if undone.rows_affected() == 1 {
        crate::store::audit(
            conn,
            WORKER,
            "dispute.accept_refused",
            "dispute",
            &id.to_string(),
            json!({ "command_id": command.id, "refusal": message }),
        )
        .await?;
    }
    Ok(())
}
