//! PayPal payment events: a capture completed (the order paid, its fraud
//! score due), denied, refunded or reversed. Payments never move backwards
//! ([`payment_rank`]); a refund we asked for completes our own row, one an
//! accepted claim implies is recognised, any other is recorded from PayPal.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::{Applied, ApplyError, ApplySettings, Outcome, WORKER, amount, required, text, time};
use crate::domain::money::Money;
use crate::domain::payments;

/// Rank of a payment status: a lower rank never overwrites a higher one.
pub fn payment_rank(status: &str) -> u8 {
    match status {
        "PENDING" => 0,
        "DENIED" | "DECLINED" | "FAILED" => 1,
        "COMPLETED" => 2,
        "PARTIALLY_REFUNDED" => 3,
        "REFUNDED" | "REVERSED" => 4,
        _ => 0,
    }
}

pub(super) async fn order_by_reference(
    conn: &mut PgConnection,
    resource: &Value,
) -> Result<(i64, String), ApplyError> {
    let reference = text(resource, &["custom_id"])
        .or_else(|| text(resource, &["invoice_id"]))
        .ok_or_else(|| {
            ApplyError("capture has no custom_id or invoice_id naming the order".into())
        })?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, status FROM orders WHERE order_number = $1 FOR UPDATE")
            .bind(reference)
            .fetch_optional(&mut *conn)
            .await?;
    row.ok_or_else(|| ApplyError(format!("no order {reference}")))
}

/// Inserts or raises a payment's status; returns the status it had before.
async fn upsert_payment(
    conn: &mut PgConnection,
    order_id: i64,
    capture_id: &str,
    status: &str,
    money: Money,
    at: DateTime<Utc>,
) -> Result<Option<String>, ApplyError> {
    let previous: Option<String> =
        sqlx::query_scalar("SELECT status FROM payments WHERE capture_id = $1 FOR UPDATE")
            .bind(capture_id)
            .fetch_optional(&mut *conn)
            .await?;
    match &previous {
        None => {
            sqlx::query(
                "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(order_id)
            .bind(capture_id)
            .bind(status)
            .bind(money.minor)
            .bind(money.currency.code())
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        Some(old) if payment_rank(status) > payment_rank(old) => {
            sqlx::query("UPDATE payments SET status = $2, updated_at = $3 WHERE capture_id = $1")
                .bind(capture_id)
                .bind(status)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
        Some(_) => {}
    }
    Ok(previous)
}

pub(super) async fn capture_completed(
    conn: &mut PgConnection,
    payload: &Value,
    settings: &ApplySettings,
) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let capture_id = required(resource, &["id"])?;
    let money = amount(resource, &["amount"])?;
    let at = time(resource, &["create_time"]).unwrap_or_else(Utc::now);
    let (order_id, status) = order_by_reference(conn, resource).await?;
    let previous = upsert_payment(conn, order_id, capture_id, "COMPLETED", money, at).await?;
    if previous
        .as_deref()
        .is_some_and(|p| payment_rank(p) >= payment_rank("COMPLETED"))
    {
        return Ok(Outcome::Ignored(format!(
            "capture {capture_id} already {}",
            previous.unwrap_or_default()
        )));
    }
    // A capture after the checkout expired (the worker cancelled the unpaid
    // order): the buyer paid, so the order stands again.
    let expired = status == "cancelled" && checkout_expired(conn, order_id).await?;
    if matches!(status.as_str(), "pending_payment" | "payment_failed") || expired {
        // First capture of this order: paid, stock reserved, fraud score computed.
        sqlx::query(
            "UPDATE orders SET status = 'paid', paid_at = $2, cancelled_at = NULL, cancel_reason = NULL
              WHERE id = $1",
        )
            .bind(order_id)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        // Each line's units reserved, with its stock movement (an oversell
        // raises its alert here, trigger products_oversold).
        crate::store::stock::reserve_order(conn, order_id, WORKER).await?;
        let score = crate::worker::scoring::score_order(conn, order_id, &settings.scoring).await?;
        crate::store::audit(
            conn,
            WORKER,
            "paypal.capture.completed",
            "order",
            &order_id.to_string(),
            serde_json::json!({ "capture_id": capture_id, "amount": money.to_major_string(), "currency": money.currency.code(), "fraud_score": score, "after_checkout_expired": expired }),
        )
        .await?;
    }
    Ok(Outcome::Applied)
}

/// The order was cancelled by the expiry of its checkout, never paid.
async fn checkout_expired(conn: &mut PgConnection, order_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT cancel_reason = 'checkout expired' AND paid_at IS NULL FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await
    .map(|v: Option<Option<bool>>| v.flatten().unwrap_or(false))
}

pub(super) async fn capture_denied(conn: &mut PgConnection, payload: &Value) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let capture_id = required(resource, &["id"])?;
    let money = amount(resource, &["amount"])?;
    let at = time(resource, &["update_time"])
        .or_else(|| time(resource, &["create_time"]))
        .unwrap_or_else(Utc::now);
    let (order_id, status) = order_by_reference(conn, resource).await?;
    let previous = upsert_payment(conn, order_id, capture_id, "DENIED", money, at).await?;
    if previous
        .as_deref()
        .is_some_and(|p| payment_rank(p) >= payment_rank("DENIED"))
    {
        return Ok(Outcome::Ignored(format!(
            "capture {capture_id} already {}",
            previous.unwrap_or_default()
        )));
    }
    if status == "pending_payment" {
        sqlx::query("UPDATE orders SET status = 'payment_failed' WHERE id = $1")
            .bind(order_id)
            .execute(&mut *conn)
            .await?;
    }
    crate::store::audit(
        conn,
        WORKER,
        "paypal.capture.denied",
        "order",
        &order_id.to_string(),
        serde_json::json!({ "capture_id": capture_id }),
    )
    .await?;
    Ok(Outcome::Applied)
}

/// The capture a refund belongs to: an explicit field, or the `up` link.
pub(super) fn refund_capture_id(resource: &Value) -> Option<String> {
    if let Some(id) = text(resource, &["capture_id"]) {
        return Some(id.to_string());
    }
    let links = resource.get("links")?.as_array()?;
    links
        .iter()
        .filter(|l| l.get("rel").and_then(Value::as_str) == Some("up"))
        .filter_map(|l| l.get("href").and_then(Value::as_str))
        .find_map(|href| {
            href.split("/captures/")
                .nth(1)
                .map(|rest| rest.trim_end_matches('/').to_string())
        })
}

pub(super) async fn capture_refunded(
    conn: &mut PgConnection,
    payload: &Value,
    kind: &str,
) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let resource_id = required(resource, &["id"])?;
    // REVERSED carries the capture itself; REFUNDED carries the refund (lenient: either).
    let (capture_id, refund_id) = match refund_capture_id(resource) {
        Some(capture) => (capture, resource_id.to_string()),
        None => (resource_id.to_string(), format!("{kind}-{resource_id}")),
    };
    let money = amount(resource, &["amount"])?;
    let payment: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, order_id, amount_minor, refunded_minor FROM payments WHERE capture_id = $1 FOR UPDATE",
    )
    .bind(&capture_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (payment_id, order_id, captured, refunded) =
        payment.ok_or_else(|| ApplyError(format!("no payment with capture {capture_id}")))?;
    // A refund lsn-ops asked for carries our idempotency key as custom_id:
    // our own row completes (counted and its stock released once).
    if kind == "REFUNDED"
        && let Some(custom) = text(resource, &["custom_id"])
    {
        match crate::worker::refunds::complete_ours(conn, custom, &refund_id).await? {
            Some(true) => {
                crate::store::audit(
                    conn,
                    WORKER,
                    "paypal.capture.refunded",
                    "order",
                    &order_id.to_string(),
                    serde_json::json!({ "capture_id": capture_id, "refund_id": refund_id,
                                        "amount": money.to_major_string(), "ours": custom }),
                )
                .await?;
                return Ok(Outcome::Applied);
            }
            Some(false) => {
                return Ok(Outcome::Ignored(format!(
                    "refund {refund_id} already recorded"
                )));
            }
            None => {}
        }
    }
    // An accepted claim's refund is made by PayPal itself: its webhook carries
    // no custom_id of ours, and our row (recorded at accept, completed by the
    // executor's answer) does not know PayPal's refund id. The first refund of
    // this payment and amount that no row names is that one, not another.
    if kind == "REFUNDED" {
        let accepted: Option<String> = sqlx::query_scalar(
            "SELECT idempotency_key FROM refunds
              WHERE payment_id = $1 AND amount_minor = $2 AND paypal_refund_id IS NULL
                AND idempotency_key LIKE 'dispute-accept:%' AND status IN ('pending', 'completed')
              ORDER BY id LIMIT 1",
        )
        .bind(payment_id)
        .bind(money.minor)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(key) = accepted
            && let Some(counted) =
                crate::worker::refunds::complete_ours(conn, &key, &refund_id).await?
        {
            crate::store::audit(
                conn,
                WORKER,
                "paypal.capture.refunded",
                "order",
                &order_id.to_string(),
                serde_json::json!({ "capture_id": capture_id, "refund_id": refund_id,
                                    "amount": money.to_major_string(), "ours": key,
                                    "counted_now": counted }),
            )
            .await?;
            return Ok(Outcome::Applied);
        }
    }
    // A refund already completed here (by the executor's answer or an earlier
    // webhook) was counted then. One still pending (PayPal answered PENDING)
    // completes now and is counted now.
    let existing: Option<String> =
        sqlx::query_scalar("SELECT status FROM refunds WHERE paypal_refund_id = $1 FOR UPDATE")
            .bind(&refund_id)
            .fetch_optional(&mut *conn)
            .await?;
    if existing.as_deref() == Some("completed") {
        return Ok(Outcome::Ignored(format!(
            "refund {refund_id} already recorded"
        )));
    }
    sqlx::query(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, status, reason, requested_by,
                              idempotency_key, paypal_refund_id, completed_at)
         VALUES ($1, $2, $3, $4, 'completed', $5, 'paypal', $6, $7, now())
         ON CONFLICT (paypal_refund_id) DO UPDATE SET status = 'completed', completed_at = COALESCE(refunds.completed_at, now())",
    )
    .bind(order_id)
    .bind(payment_id)
    .bind(money.minor)
    .bind(money.currency.code())
    .bind(if kind == "REVERSED" { "payment reversed at PayPal" } else { "refund completed at PayPal" })
    .bind(format!("paypal-{refund_id}"))
    .bind(&refund_id)
    .execute(&mut *conn)
    .await?;
    let after = payments::after_refund(captured, refunded, money.minor, kind == "REVERSED");
    sqlx::query(
        "UPDATE payments SET refunded_minor = $2, status = $3, updated_at = now() WHERE id = $1",
    )
    .bind(payment_id)
    .bind(after.refunded_minor)
    .bind(after.status)
    .execute(&mut *conn)
    .await?;
    if after.in_full {
        sqlx::query(
            "UPDATE orders SET status = 'refunded'
              WHERE id = $1 AND status <> 'cancelled'
                AND NOT EXISTS (SELECT 1 FROM payments WHERE order_id = $1
                                   AND status IN ('COMPLETED', 'PARTIALLY_REFUNDED'))",
        )
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    }
    crate::store::audit(
        conn,
        WORKER,
        &format!("paypal.capture.{}", kind.to_lowercase()),
        "order",
        &order_id.to_string(),
        serde_json::json!({ "capture_id": capture_id, "refund_id": refund_id, "amount": money.to_major_string() }),
    )
    .await?;
    Ok(Outcome::Applied)
}
