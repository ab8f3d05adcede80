//! PayPal dispute events: created, updated, resolved. A dispute's state only
//! moves forward (`domain::disputes`); a new one gets its SLA and its
//! evidence gathered from the data.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::{Applied, ApplyError, Outcome, WORKER, amount, required, text, time};
use crate::domain::disputes::{DisputeState, sla_due_at};

/// The state a dispute should reach for PayPal's status and outcome.
pub(super) fn dispute_target(status: Option<&str>, outcome: Option<&str>) -> DisputeState {
    match (status, outcome) {
        (_, Some("RESOLVED_SELLER_FAVOUR" | "CANCELED_BY_BUYER" | "DENIED")) => DisputeState::Won,
        (_, Some("RESOLVED_BUYER_FAVOUR" | "RESOLVED_WITH_PAYOUT" | "ACCEPTED")) => {
            DisputeState::Lost
        }
        (Some("WAITING_FOR_SELLER_RESPONSE"), _) => DisputeState::EvidenceRequired,
        _ => DisputeState::Open,
    }
}

pub(super) async fn dispute_event(
    conn: &mut PgConnection,
    event_type: &str,
    payload: &Value,
    received_at: DateTime<Utc>,
) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let dispute_id = required(resource, &["dispute_id"])?;
    let status = text(resource, &["status"]);
    let outcome = text(resource, &["dispute_outcome", "outcome_code"]);
    let updated = time(resource, &["update_time"])
        .or_else(|| time(resource, &["create_time"]))
        .unwrap_or_else(Utc::now);
    // A future-dated update orders at its receipt (issue 18: never frozen).
    let updated = crate::worker::limits::ordering_time(updated, received_at);
    let due = time(resource, &["seller_response_due_date"]);
    let stage = text(resource, &["dispute_life_cycle_stage"]);
    let existing: Option<(i64, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT id, state, paypal_updated_at FROM disputes WHERE paypal_dispute_id = $1 FOR UPDATE",
    )
    .bind(dispute_id)
    .fetch_optional(&mut *conn)
    .await?;
    let target = dispute_target(status, outcome);
    let (id, from) = match existing {
        Some((id, state, last)) => {
            if last.is_some_and(|last| updated < last) {
                return Ok(Outcome::Ignored(format!(
                    "dispute {dispute_id}: update from {updated} is older than the one applied"
                )));
            }
            (
                id,
                DisputeState::parse(&state).unwrap_or(DisputeState::Open),
            )
        }
        None => {
            let money = amount(resource, &["dispute_amount"])?;
            let opened = time(resource, &["create_time"]).unwrap_or(updated);
            let capture = resource
                .get("disputed_transactions")
                .and_then(Value::as_array)
                .and_then(|txs| txs.first())
                .and_then(|t| text(t, &["seller_transaction_id"]));
            let payment: Option<(i64, i64)> = match capture {
                Some(c) => {
                    sqlx::query_as("SELECT id, order_id FROM payments WHERE capture_id = $1")
                        .bind(c)
                        .fetch_optional(&mut *conn)
                        .await?
                }
                None => None,
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO disputes (paypal_dispute_id, order_id, payment_id, state, reason, paypal_status, life_cycle_stage,
                                       amount_minor, currency, opened_at, sla_due_at, seller_response_due_at, paypal_updated_at)
                 VALUES ($1, $2, $3, 'OPEN', $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(dispute_id)
            .bind(payment.map(|p| p.1))
            .bind(payment.map(|p| p.0))
            .bind(text(resource, &["reason"]).unwrap_or("OTHER"))
            .bind(status)
            .bind(stage)
            .bind(money.minor)
            .bind(money.currency.code())
            .bind(opened)
            .bind(sla_due_at(opened))
            .bind(due)
            .bind(updated)
            .fetch_one(&mut *conn)
            .await?;
            crate::store::disputes::gather::create_items(conn, id).await?;
            (id, DisputeState::Open)
        }
    };
    // Forward only: move when the target is a legal next state; never back.
    let next = if from == target || !from.can_move_to(target) {
        from
    } else {
        target
    };
    let decided = matches!(next, DisputeState::Won | DisputeState::Lost) && next != from;
    // What a lost case cost: PayPal's refunded amount, else the amount disputed.
    let lost_minor = (decided && next == DisputeState::Lost).then(|| {
        amount(resource, &["dispute_outcome", "amount_refunded"])
            .ok()
            .map(|m| m.minor)
    });
    sqlx::query(
        "UPDATE disputes SET state = $2, outcome = COALESCE($3, outcome), paypal_status = COALESCE($4, paypal_status),
                life_cycle_stage = COALESCE($5, life_cycle_stage), seller_response_due_at = COALESCE($6, seller_response_due_at),
                resolved_at = CASE WHEN $3 IS NOT NULL THEN COALESCE(resolved_at, $7) ELSE resolved_at END,
                lost_minor = CASE WHEN $8 THEN COALESCE($9, amount_minor) ELSE lost_minor END,
                paypal_updated_at = $7, updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(next.as_str())
    .bind(matches!(next, DisputeState::Won | DisputeState::Lost).then(|| next.as_str()))
    .bind(status)
    .bind(stage)
    .bind(due)
    .bind(updated)
    .bind(lost_minor.is_some())
    .bind(lost_minor.flatten())
    .execute(&mut *conn)
    .await?;
    crate::store::audit(
        conn,
        WORKER,
        &format!("paypal.{}", event_type.to_lowercase()),
        "dispute",
        &id.to_string(),
        serde_json::json!({ "paypal_dispute_id": dispute_id, "from": from.as_str(), "to": next.as_str() }),
    )
    .await?;
    // A final outcome closes the case (PayPal's status RESOLVED): one more
    // audited step, WON/LOST → CLOSED.
    if matches!(next, DisputeState::Won | DisputeState::Lost) && status == Some("RESOLVED") {
        sqlx::query(
            "UPDATE disputes SET state = 'CLOSED', closed_at = COALESCE(closed_at, $2), updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(updated)
        .execute(&mut *conn)
        .await?;
        crate::store::audit(
            conn,
            WORKER,
            "dispute.state",
            "dispute",
            &id.to_string(),
            serde_json::json!({ "paypal_dispute_id": dispute_id, "from": next.as_str(), "to": "CLOSED", "why": "outcome final" }),
        )
        .await?;
    }
    // Evidence from the data, as soon as the dispute exists (and again on
    // each update: PayPal asking for evidence moves it on).
    if next.awaiting_evidence() {
        crate::store::disputes::gather(conn, id).await?;
    }
    Ok(Outcome::Applied)
}
