//! Returns (RMA) in the store. [`open`] issues an RMA number when the order
//! is within its return window (`domain::returns`, 30 days from delivery by
//! default) and refuses with the date otherwise (`WorkChecklists`: "tick
//! checklists and open returns"). [`receive`] marks the goods received and,
//! in the same transaction, refunds the returned items through the outbox
//! (`super::refunds`, with the agent limit) and puts them back on hand; a
//! defective return flags the product for quality review instead of putting
//! it back. Each with its audit row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use super::refunds::{self, RefundError, RefundRequest, Requested};
use super::stock::{self, Movement};
use crate::domain::inventory;
use crate::domain::operators::{Actor, Permission, Refusal};
use crate::domain::returns::{self, WindowError};
use crate::store::authz::{self, AuthError};

#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error("a reason is required")]
    EmptyReason,
    #[error("name the returned items (--items SKU[:UNITS],...)")]
    NoItems,
    #[error("no order {0}")]
    NoOrder(String),
    #[error("no return {0}")]
    NoReturn(String),
    #[error("return {0} was already received")]
    AlreadyReceived(String),
    #[error("{0}")]
    Window(#[from] WindowError),
    #[error("{0}")]
    BadItem(String),
    #[error("{0}")]
    Refused(Refusal),
    #[error("refund: {0}")]
    Refund(RefundError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

impl From<AuthError> for ReturnError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(r) => ReturnError::Refused(r),
            AuthError::Sql(e) => ReturnError::Sql(e),
        }
    }
}

impl From<RefundError> for ReturnError {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::Refused(r) => ReturnError::Refused(r),
            RefundError::Sql(e) => ReturnError::Sql(e),
            other => ReturnError::Refund(other),
        }
    }
}

/// An RMA issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opened {
    pub rma_number: String,
    pub order_number: String,
    pub window_ends_at: DateTime<Utc>,
    pub items: Vec<(String, i32)>,
}

/// Opens a return of `items` (SKU or line id, units) of `order`.
#[allow(clippy::too_many_arguments)]
pub async fn open(
    pool: &PgPool,
    actor: &Actor,
    order: &str,
    items: &[(String, i32)],
    reason: &str,
    defective: bool,
    window_days: i64,
    now: DateTime<Utc>,
) -> Result<Opened, ReturnError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ReturnError::EmptyReason);
    }
    if items.is_empty() {
        return Err(ReturnError::NoItems);
    }
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::WorkChecklists).await?;
    let row: Option<(i64, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT id, order_number, delivered_at FROM orders WHERE order_number = $1 FOR UPDATE",
    )
    .bind(order.trim().to_uppercase())
    .fetch_optional(&mut *tx)
    .await?;
    let (order_id, order_number, delivered_at) =
        row.ok_or_else(|| ReturnError::NoOrder(order.to_string()))?;
    let window_ends_at = returns::check_window(delivered_at, now, window_days)?;
    let lines: Vec<(i64, String, i32, i32, i32)> = sqlx::query_as(
        "SELECT i.id, p.sku, i.quantity, i.released_qty, i.returned_qty
           FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = $1 ORDER BY i.id",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    // Units already on an open RMA are not returnable twice.
    let pending: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT ri.order_item_id, sum(ri.quantity)::bigint FROM return_items ri JOIN returns r ON r.id = ri.return_id
          WHERE r.order_id = $1 AND r.state = 'open' GROUP BY ri.order_item_id",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut chosen = Vec::new();
    for (wanted, units) in items {
        let line = lines
            .iter()
            .find(|l| l.1.eq_ignore_ascii_case(wanted.trim()) || l.0.to_string() == wanted.trim())
            .ok_or_else(|| {
                ReturnError::BadItem(format!("order {order_number} has no item {wanted}"))
            })?;
        let open_units = pending
            .iter()
            .find(|p| p.0 == line.0)
            .map_or(0, |p| i32::try_from(p.1).unwrap_or(i32::MAX));
        let can = inventory::return_units(line.2 - line.3, line.4 + open_units, *units);
        if *units < 1 || can < *units {
            return Err(ReturnError::BadItem(format!(
                "item {}: {units} unit(s) asked, {} returnable",
                line.1,
                inventory::return_units(line.2 - line.3, line.4 + open_units, i32::MAX)
            )));
        }
        chosen.push((line.0, line.1.clone(), *units));
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) + 1 FROM returns WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(&mut *tx)
        .await?;
    let rma = returns::rma_number(&order_number, n);
    let return_id: i64 = sqlx::query_scalar(
        "INSERT INTO returns (rma_number, order_id, reason, defective, window_ends_at, opened_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&rma)
    .bind(order_id)
    .bind(reason)
    .bind(defective)
    .bind(window_ends_at)
    .bind(&actor.name)
    .fetch_one(&mut *tx)
    .await?;
    for (item, _, units) in &chosen {
        sqlx::query(
            "INSERT INTO return_items (return_id, order_item_id, quantity) VALUES ($1, $2, $3)",
        )
        .bind(return_id)
        .bind(item)
        .bind(units)
        .execute(&mut *tx)
        .await?;
    }
    let item_list: Vec<(String, i32)> = chosen.iter().map(|(_, s, u)| (s.clone(), *u)).collect();
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "return.open",
        "order",
        &order_id.to_string(),
        json!({ "rma": rma, "reason": reason, "defective": defective, "items": item_list,
                "window_ends_at": window_ends_at }),
    )
    .await?;
    tx.commit().await?;
    Ok(Opened {
        rma_number: rma,
        order_number,
        window_ends_at,
        items: item_list,
    })
}

/// A return received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    pub rma_number: String,
    pub refund: Requested,
    /// Units back on hand (0 for a defective return).
    pub restocked: i32,
    /// Products flagged for quality review (a defective return).
    pub flagged: Vec<String>,
}

/// Receives return `rma`: refunds its items, restocks or flags them.
pub async fn receive(
    pool: &PgPool,
    actor: &Actor,
    rma: &str,
    agent_limit_minor: i64,
) -> Result<Received, ReturnError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::IssueRefunds).await?;
    let row: Option<(i64, i64, String, String, bool)> = sqlx::query_as(
        "SELECT id, order_id, state, reason, defective FROM returns WHERE rma_number = $1 FOR UPDATE",
    )
    .bind(rma.trim().to_uppercase())
    .fetch_optional(&mut *tx)
    .await?;
    let (return_id, order_id, state, reason, defective) =
        row.ok_or_else(|| ReturnError::NoReturn(rma.to_string()))?;
    if state != "open" {
        return Err(ReturnError::AlreadyReceived(rma.to_string()));
    }
    let items: Vec<(i64, String, i64, i32)> = sqlx::query_as(
        "SELECT ri.order_item_id, p.sku, p.id, ri.quantity FROM return_items ri
           JOIN order_items i ON i.id = ri.order_item_id JOIN products p ON p.id = i.product_id
          WHERE ri.return_id = $1 ORDER BY ri.order_item_id",
    )
    .bind(return_id)
    .fetch_all(&mut *tx)
    .await?;
    let request = RefundRequest {
        order: order_id.to_string(),
        amount: None,
        items: items
            .iter()
            .map(|(item, _, _, units)| (item.to_string(), *units))
            .collect(),
        capture_id: None,
        reason: format!("Return {rma} received: {reason}"),
        agent_limit_minor,
    };
    let refund = refunds::request_locked(&mut tx, actor, order_id, &request).await?;
    // The goods are back: the refund's items are not released again from
    // reservations (they shipped), they come back on hand (or to quality review).
    sqlx::query("UPDATE refunds SET stock_released_at = now() WHERE id = $1")
        .bind(refund.refund_id)
        .execute(&mut *tx)
        .await?;
    let mut restocked = 0;
    let mut flagged = Vec::new();
    for (item, sku, product, units) in &items {
        sqlx::query("UPDATE order_items SET returned_qty = returned_qty + $2 WHERE id = $1")
            .bind(item)
            .bind(units)
            .execute(&mut *tx)
            .await?;
        if defective {
            stock::move_stock(
                &mut tx,
                *product,
                Some((order_id, *item)),
                Movement::ReturnDefective,
                0,
                0,
                &format!("return {rma}: defective, to quality review"),
                &actor.audit_name(),
            )
            .await?;
            sqlx::query(
                "UPDATE products SET quality_review_at = now(), quality_review_reason = $2 WHERE id = $1",
            )
            .bind(product)
            .bind(format!("defective return {rma}: {reason}"))
            .execute(&mut *tx)
            .await?;
            flagged.push(sku.clone());
        } else {
            stock::move_stock(
                &mut tx,
                *product,
                Some((order_id, *item)),
                Movement::Return,
                *units,
                0,
                &format!("return {rma} received"),
                &actor.audit_name(),
            )
            .await?;
            restocked += units;
        }
    }
    sqlx::query(
        "UPDATE returns SET state = 'received', received_by = $2, received_at = now(), refund_id = $3 WHERE id = $1",
    )
    .bind(return_id)
    .bind(&actor.name)
    .bind(refund.refund_id)
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "return.receive",
        "order",
        &order_id.to_string(),
        json!({ "rma": rma, "refund_id": refund.refund_id, "restocked": restocked,
                "quality_review": flagged, "defective": defective }),
    )
    .await?;
    tx.commit().await?;
    Ok(Received {
        rma_number: rma.to_string(),
        refund,
        restocked,
        flagged,
    })
}
