//! Cancelling an order that has not shipped (`lsn-ops orders cancel`). In
//! **one transaction**: the operator is authorized (`IssueRefunds`: a paid
//! order's money goes back), the order is locked, refused if it shipped (a
//! return is the way then) or is cancelled already, set `cancelled` with when
//! and why, every unit it reserves is released at once
//! ([`stock::release_order`], a `stock_movements` row each), what is left of
//! each capture is refunded through the outbox ([`refunds::request_locked`]:
//! the agent limit applies, and a refusal writes nothing), and the audit row
//! is written.

use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use super::authz::{self, AuthError};
use super::refunds::{self, RefundError, RefundRequest, Requested};
use super::stock;
use crate::domain::operators::{Actor, Permission, Refusal};
use crate::domain::payments;

/// An order cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancelled {
    pub order_number: String,
    /// Units whose reservation was released.
    pub released: i32,
    /// The refunds queued for what was left of each capture.
    pub refunds: Vec<Requested>,
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("a reason is required")]
    EmptyReason,
    #[error("no order {0}")]
    NoOrder(String),
    #[error("order {0} is cancelled already")]
    AlreadyCancelled(String),
    #[error("order {order} shipped at {at}: open a return instead (lsn-ops returns open)")]
    Shipped { order: String, at: String },
    #[error("{0}")]
    Refused(Refusal),
    #[error("refund: {0}")]
    Refund(RefundError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

impl From<AuthError> for CancelError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(r) => CancelError::Refused(r),
            AuthError::Sql(e) => CancelError::Sql(e),
        }
    }
}

impl From<RefundError> for CancelError {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::Refused(r) => CancelError::Refused(r),
            RefundError::Sql(e) => CancelError::Sql(e),
            other => CancelError::Refund(other),
        }
    }
}

/// Cancels `order` (a number or an id); see the module doc.
pub async fn cancel(
    pool: &PgPool,
    actor: &Actor,
    order: &str,
    reason: &str,
    agent_limit_minor: i64,
) -> Result<Cancelled, CancelError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(CancelError::EmptyReason);
    }
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::IssueRefunds).await?;
    let wanted = order.trim();
    type Row = (i64, String, String, Option<chrono::DateTime<chrono::Utc>>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, order_number, status, shipped_at FROM orders
          WHERE order_number = $1 OR id = $2
          ORDER BY (order_number = $1) DESC LIMIT 1 FOR UPDATE",
    )
    .bind(wanted.to_uppercase())
    .bind(wanted.parse::<i64>().ok())
    .fetch_optional(&mut *tx)
    .await?;
    let (order_id, order_number, status, shipped_at) =
        row.ok_or_else(|| CancelError::NoOrder(wanted.to_string()))?;
    if status == "cancelled" {
        return Err(CancelError::AlreadyCancelled(order_number));
    }
    if let Some(at) = shipped_at {
        return Err(CancelError::Shipped {
            order: order_number,
            at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
        });
    }
    if matches!(status.as_str(), "shipped" | "delivered") {
        return Err(CancelError::Shipped {
            order: order_number,
            at: "an unknown time".into(),
        });
    }
    let why = format!("order cancelled: {reason}");
    // The units first: the refunds below then give back money only.
    let released = stock::release_order(&mut tx, order_id, &why, &actor.audit_name()).await?;
    sqlx::query(
        "UPDATE orders SET status = 'cancelled', cancelled_at = now(), cancel_reason = $2 WHERE id = $1",
    )
    .bind(order_id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    // What is left of each capture goes back (open refunds count as asked).
    let captures: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT p.capture_id, p.amount_minor, p.refunded_minor,
                coalesce((SELECT sum(r.amount_minor) FROM refunds r
                           WHERE r.payment_id = p.id AND r.status IN ('requested', 'pending')), 0)::bigint
           FROM payments p
          WHERE p.order_id = $1 AND p.status IN ('COMPLETED', 'PARTIALLY_REFUNDED')
          ORDER BY p.id",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut queued = Vec::new();
    for (capture_id, captured, refunded, open) in captures {
        if payments::refundable(captured, refunded, open) == 0 {
            continue;
        }
        let request = RefundRequest {
            order: order_id.to_string(),
            amount: None,
            items: Vec::new(),
            capture_id: Some(capture_id),
            reason: why.clone(),
            agent_limit_minor,
        };
        queued.push(refunds::request_locked(&mut tx, actor, order_id, &request).await?);
    }
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "order.cancel",
        "order",
        &order_id.to_string(),
        json!({ "order_number": order_number, "reason": reason, "previous_status": status,
                "units_released": released,
                "refunds": queued.iter().map(|r| r.refund_id).collect::<Vec<_>>() }),
    )
    .await?;
    tx.commit().await?;
    Ok(Cancelled {
        order_number,
        released,
        refunds: queued,
    })
}
