//! What PayPal says about a refund, recorded: the executor's answer
//! ([`record_answer`]) and the `PAYMENT.CAPTURE.REFUNDED` webhook
//! ([`complete_ours`], for a refund lsn-ops asked for, found by the
//! `custom_id` it sent: the refund's idempotency key) move the same refund
//! row, count it into its payment once ([`count_into_payment`]) and release
//! the stock of its items once (`store::stock::release_refund`), whichever
//! arrives first.

use sqlx::PgConnection;

use crate::domain::payments;
use crate::providers::api::paypal::Refund;
use crate::worker::apply::WORKER;

/// PayPal's refund status as ours.
pub fn status_of(paypal: &str) -> &'static str {
    match paypal {
        "COMPLETED" => "completed",
        "FAILED" => "failed",
        "CANCELLED" => "cancelled",
        _ => "pending",
    }
}

/// A refund newly completed: its payment's refunded amount and status, and
/// the order's status when everything captured, every capture, went back.
pub async fn count_into_payment(
    conn: &mut PgConnection,
    payment_id: i64,
    amount: i64,
) -> Result<(), sqlx::Error> {
    let row: Option<(i64, i64, i64, String)> = sqlx::query_as(
        "SELECT order_id, amount_minor, refunded_minor, status FROM payments WHERE id = $1 FOR UPDATE",
    )
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((order_id, captured, refunded, pay_status)) = row {
        let after = payments::after_refund(captured, refunded, amount, pay_status == "REVERSED");
        sqlx::query(
            "UPDATE payments SET refunded_minor = $2, status = $3, updated_at = now() WHERE id = $1",
        )
        .bind(payment_id)
        .bind(after.refunded_minor)
        .bind(after.status)
        .execute(&mut *conn)
        .await?;
        if after.in_full {
            // Refunded once every capture went back (a duplicate charge
            // refunded in full leaves the order as it was); a cancelled order
            // stays cancelled (its money going back is why).
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
    }
    Ok(())
}

/// Our refund row gets PayPal's id and status. If the applier already
/// recorded this PayPal refund from its webhook (a row of its own), that row
/// is folded into ours and the payment is not counted twice.
pub async fn record_answer(
    conn: &mut PgConnection,
    refund_id: i64,
    refund: &Refund,
) -> Result<(), sqlx::Error> {
    let status = status_of(&refund.status);
    let ours: Option<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT status, amount_minor, payment_id FROM refunds WHERE id = $1 FOR UPDATE",
    )
    .bind(refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((previous, amount, payment_id)) = ours else {
        return Ok(());
    };
    let from_webhook: Option<i64> = sqlx::query_scalar(
        "DELETE FROM refunds WHERE paypal_refund_id = $1 AND id <> $2 RETURNING id",
    )
    .bind(&refund.id)
    .bind(refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    // A completed refund stays completed (the webhook may have been first).
    let status = if previous == "completed" {
        "completed"
    } else {
        status
    };
    sqlx::query(
        "UPDATE refunds SET paypal_refund_id = $2, status = $3, failure = NULL,
                completed_at = CASE WHEN $3 = 'completed' THEN COALESCE(completed_at, now()) ELSE completed_at END
          WHERE id = $1",
    )
    .bind(refund_id)
    .bind(&refund.id)
    .bind(status)
    .execute(&mut *conn)
    .await?;
    let newly_completed = status == "completed" && previous != "completed";
    if newly_completed
        && from_webhook.is_none()
        && let Some(payment_id) = payment_id
    {
        count_into_payment(conn, payment_id, amount).await?;
    }
    if status == "completed" {
        crate::store::stock::release_refund(conn, refund_id, WORKER).await?;
    }
    Ok(())
}

/// The webhook of a refund we asked for (its `custom_id` is our idempotency
/// key): our row completes, is counted and releases its stock. `None` when
/// the refund is not one of ours; `Some(false)` when it was already complete.
pub async fn complete_ours(
    conn: &mut PgConnection,
    custom_id: &str,
    paypal_refund_id: &str,
) -> Result<Option<bool>, sqlx::Error> {
    type Ours = (i64, String, i64, Option<i64>, Option<String>);
    let ours: Option<Ours> = sqlx::query_as(
        "SELECT id, status, amount_minor, payment_id, paypal_refund_id FROM refunds
          WHERE idempotency_key = $1 FOR UPDATE",
    )
    .bind(custom_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, status, amount, payment_id, known)) = ours else {
        return Ok(None);
    };
    if known.as_deref().is_some_and(|k| k != paypal_refund_id) {
        // Our row names another PayPal refund: this one is not ours.
        return Ok(None);
    }
    if status == "completed" {
        // Completed by the executor's answer (an accepted claim's answer
        // names no refund): it learns PayPal's id, so a repeat is known.
        if known.is_none() {
            sqlx::query("UPDATE refunds SET paypal_refund_id = $2 WHERE id = $1")
                .bind(id)
                .bind(paypal_refund_id)
                .execute(&mut *conn)
                .await?;
        }
        return Ok(Some(false));
    }
    sqlx::query(
        "UPDATE refunds SET paypal_refund_id = $2, status = 'completed', failure = NULL,
                completed_at = COALESCE(completed_at, now())
          WHERE id = $1",
    )
    .bind(id)
    .bind(paypal_refund_id)
    .execute(&mut *conn)
    .await?;
    if let Some(payment_id) = payment_id {
        count_into_payment(conn, payment_id, amount).await?;
    }
    crate::store::stock::release_refund(conn, id, WORKER).await?;
    Ok(Some(true))
}
