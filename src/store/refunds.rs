//! Refunds an operator asks for (`lsn-ops refund`, `R` in the order view, a
//! duplicate charge, a return received): full or partial, several partials up
//! to the captured amount and never more. In **one transaction**: the operator
//! is authorized (`IssueRefunds`, then [`authz::authorize_refund`] with the
//! agent limit), the order and its payment are locked, what is left to refund
//! is computed from what was refunded and what open refunds already ask for
//! ([`payments::refundable`]; the trigger `refunds_within_capture` checks the
//! same sum for every writer), then the refund row, the whole items it gives
//! back, the outbox command (its idempotency key is PayPal's
//! `PayPal-Request-Id`) and the audit row are written. Nothing is sent here:
//! the worker's executor calls PayPal, and the stock of the items is released
//! when PayPal says the refund completed ([`super::stock::release_refund`]).

use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission, Refusal};
use crate::domain::payments;
use crate::store::authz::{self, AuthError};
use crate::store::outbox::{self, CommandKind};

/// What an operator asks to refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// An order number (LSN-0000042) or the order's id.
    pub order: String,
    /// A decimal amount in the order's currency ("12.34"); `None`: the items'
    /// price if items are named, else everything left.
    pub amount: Option<String>,
    /// Whole items given back: (SKU or order line id, units).
    pub items: Vec<(String, i32)>,
    /// Which capture (a duplicate charge); `None`: the order's first one with money left.
    pub capture_id: Option<String>,
    pub reason: String,
    /// `[ops] agent_refund_limit_minor`.
    pub agent_limit_minor: i64,
}

/// A refund written and queued for PayPal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requested {
    pub refund_id: i64,
    pub command_id: Option<i64>,
    pub order_number: String,
    pub capture_id: String,
    pub amount: Money,
    /// What is left to refund of the capture after this one.
    pub left_after: Money,
    /// Items (SKU, units) whose stock is released when the refund completes.
    pub items: Vec<(String, i32)>,
    pub idempotency_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("a reason is required")]
    EmptyReason,
    #[error("no order {0}")]
    NoOrder(String),
    #[error("order {0} has no captured payment to refund")]
    NoCapture(String),
    #[error("nothing left to refund: {captured} captured, all refunded or asked for already")]
    NothingLeft { captured: String },
    #[error("{asked} is more than is left to refund ({left} of {captured})")]
    Exceeds {
        asked: String,
        left: String,
        captured: String,
    },
    #[error("bad amount {0}")]
    BadAmount(String),
    #[error("{0}")]
    BadItem(String),
    /// What the operator confirmed is no longer so (a duplicate refunded
    /// meanwhile, another amount left): nothing was written.
    #[error("{0}")]
    Stale(String),
    #[error("{0}")]
    Refused(Refusal),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

impl From<AuthError> for RefundError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(r) => RefundError::Refused(r),
            AuthError::Sql(e) => RefundError::Sql(e),
        }
    }
}

/// The order row a refund locks.
#[derive(Debug, sqlx::FromRow)]
struct OrderRow {
    id: i64,
    order_number: String,
}

/// Locks the order named by number or id.
async fn lock_order(conn: &mut PgConnection, order: &str) -> Result<OrderRow, RefundError> {
    let order = order.trim();
    let by_id = order.parse::<i64>().ok();
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT id, order_number FROM orders
          WHERE order_number = $1 OR id = $2
          ORDER BY (order_number = $1) DESC LIMIT 1 FOR UPDATE",
    )
    .bind(order.to_uppercase())
    .bind(by_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or_else(|| RefundError::NoOrder(order.to_string()))
}

/// Writes a refund and its command in one transaction; see the module doc.
pub async fn request(
    pool: &PgPool,
    actor: &Actor,
    request: &RefundRequest,
) -> Result<Requested, RefundError> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(RefundError::EmptyReason);
    }
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::IssueRefunds).await?;
    let order = lock_order(&mut tx, &request.order).await?;
    let requested = request_in(&mut tx, actor, &order, request, reason).await?;
    tx.commit().await?;
    Ok(requested)
}

/// [`request`] in the caller's transaction, the order already locked
/// (returns receive refunds inside its own transaction).
pub(crate) async fn request_locked(
    conn: &mut PgConnection,
    actor: &Actor,
    order_id: i64,
    request: &RefundRequest,
) -> Result<Requested, RefundError> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(RefundError::EmptyReason);
    }
    authz::authorize(&mut *conn, actor, Permission::IssueRefunds).await?;
    let order = lock_order(&mut *conn, &order_id.to_string()).await?;
    request_in(conn, actor, &order, request, reason).await
}

async fn request_in(
    conn: &mut PgConnection,
    actor: &Actor,
    order: &OrderRow,
    request: &RefundRequest,
    reason: &str,
) -> Result<Requested, RefundError> {
    // The capture, locked: concurrent refunds of it are checked one after the other.
    let payment: Option<(i64, String, i64, i64, String)> = sqlx::query_as(
        "SELECT id, capture_id, amount_minor, refunded_minor, currency::text FROM payments
          WHERE order_id = $1 AND status IN ('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED')
            AND ($2::text IS NULL OR capture_id = $2)
          ORDER BY (amount_minor > refunded_minor) DESC, id LIMIT 1 FOR UPDATE",
    )
    .bind(order.id)
    .bind(request.capture_id.as_deref())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((payment_id, capture_id, captured, refunded, currency)) = payment else {
        return Err(RefundError::NoCapture(order.order_number.clone()));
    };
    let currency = Currency::parse(&currency)
        .ok_or_else(|| RefundError::BadAmount(format!("unknown currency {currency}")))?;
    let money = |minor: i64| Money::new(minor, currency);
    let open: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount_minor), 0)::bigint FROM refunds
          WHERE payment_id = $1 AND status IN ('requested', 'pending')",
    )
    .bind(payment_id)
    .fetch_one(&mut *conn)
    .await?;
    // The amount, parsed exactly in the capture's currency (never rounded).
    let asked = match &request.amount {
        Some(text) => {
            let m = Money::from_major_str(text.trim(), currency)
                .map_err(|e| RefundError::BadAmount(format!("{text}: {e}")))?;
            if m.minor <= 0 {
                return Err(RefundError::BadAmount(format!(
                    "{text}: must be more than zero"
                )));
            }
            Some(m.minor)
        }
        None => None,
    };
    let left = payments::refundable(captured, refunded, open);
    if left == 0 {
        return Err(RefundError::NothingLeft {
            captured: money(captured).display(),
        });
    }

    // The items: named ones, or (a refund of everything left) all not released.
    type Line = (i64, String, i32, i32, i64);
    let lines: Vec<Line> = sqlx::query_as(
        "SELECT i.id, p.sku, i.quantity, i.released_qty, i.unit_price_minor
           FROM order_items i JOIN products p ON p.id = i.product_id
          WHERE i.order_id = $1 ORDER BY i.id",
    )
    .bind(order.id)
    .fetch_all(&mut *conn)
    .await?;
    let mut items: Vec<(i64, String, i32)> = Vec::new();
    for (wanted, units) in &request.items {
        let line = lines
            .iter()
            .find(|l| l.1.eq_ignore_ascii_case(wanted.trim()) || l.0.to_string() == wanted.trim())
            .ok_or_else(|| {
                RefundError::BadItem(format!("order {} has no item {wanted}", order.order_number))
            })?;
        if *units < 1 || *units > line.2 - line.3 {
            return Err(RefundError::BadItem(format!(
                "item {}: {units} unit(s) asked, {} not yet given back",
                line.1,
                line.2 - line.3
            )));
        }
        items.push((line.0, line.1.clone(), *units));
    }
    let items_price: i64 = items
        .iter()
        .filter_map(|(id, _, units)| {
            lines
                .iter()
                .find(|l| l.0 == *id)
                .map(|l| l.4.saturating_mul(i64::from(*units)))
        })
        .sum();
    let amount = match asked {
        Some(minor) => minor,
        None if !items.is_empty() => items_price.min(left),
        None => left,
    };
    if amount > left {
        return Err(RefundError::Exceeds {
            asked: money(amount).display(),
            left: money(left).display(),
            captured: money(captured).display(),
        });
    }
    if items.is_empty() && request.amount.is_none() {
        // Everything left: every unit not released goes back with it.
        items = lines
            .iter()
            .filter(|l| l.2 > l.3)
            .map(|l| (l.0, l.1.clone(), l.2 - l.3))
            .collect();
    }
    match authz::authorize_refund(&mut *conn, actor, money(amount), request.agent_limit_minor).await
    {
        Ok(_) => {}
        Err(e) => return Err(e.into()),
    }

    let key = format!("refund-{}-{}", order.id, uuid::Uuid::new_v4());
    let refund_id: i64 = sqlx::query_scalar(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, status, reason, requested_by, idempotency_key)
         VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7) RETURNING id",
    )
    .bind(order.id)
    .bind(payment_id)
    .bind(amount)
    .bind(currency.code())
    .bind(reason)
    .bind(&actor.name)
    .bind(&key)
    .fetch_one(&mut *conn)
    .await?;
    for (item, _, units) in &items {
        sqlx::query(
            "INSERT INTO refund_items (refund_id, order_item_id, quantity) VALUES ($1, $2, $3)",
        )
        .bind(refund_id)
        .bind(item)
        .bind(units)
        .execute(&mut *conn)
        .await?;
    }
    let command_id = outbox::enqueue(
        &mut *conn,
        CommandKind::PaypalRefund,
        &key,
        &json!({ "refund_id": refund_id, "note_to_payer": reason }),
        &actor.name,
    )
    .await?;
    let item_list: Vec<(String, i32)> = items.iter().map(|(_, s, u)| (s.clone(), *u)).collect();
    super::audit(
        &mut *conn,
        &actor.audit_name(),
        "refund.request",
        "order",
        &order.id.to_string(),
        json!({ "reason": reason, "refund_id": refund_id, "capture_id": capture_id,
                "amount": money(amount).to_major_string(), "currency": currency.code(),
                "items": item_list, "idempotency_key": key }),
    )
    .await?;
    Ok(Requested {
        refund_id,
        command_id,
        order_number: order.order_number.clone(),
        capture_id,
        amount: money(amount),
        left_after: money(left - amount),
        items: item_list,
        idempotency_key: key,
    })
}

/// The later capture of a duplicate charge, refunded with one key from the
/// dashboard's duplicates view: everything left of it, reason "duplicate
/// charge of FIRST", in one transaction like [`request`] (authorization, the
/// agent limit, the outbox command, the audit row). The store checks again
/// that the capture is a duplicate (an earlier capture of the same payer for
/// the same amount within `window`, still standing) and that what is left of
/// it is `expected_minor`, the amount the operator confirmed; otherwise
/// nothing is written ([`RefundError::Stale`]). When the duplicate is a
/// second order, its items go back to stock with the refund; when it is a
/// second capture of the same order, no item does (the order stands).
pub async fn refund_duplicate(
    pool: &PgPool,
    actor: &Actor,
    capture_id: &str,
    expected_minor: i64,
    window: chrono::Duration,
    agent_limit_minor: i64,
) -> Result<Requested, RefundError> {
    let capture_id = capture_id.trim();
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::IssueRefunds).await?;
    let order_id: Option<i64> =
        sqlx::query_scalar("SELECT order_id FROM payments WHERE capture_id = $1")
            .bind(capture_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(order_id) = order_id else {
        return Err(RefundError::NoCapture(capture_id.to_string()));
    };
    // The order, then its payment: the same lock order as every refund.
    let order = lock_order(&mut tx, &order_id.to_string()).await?;
    type Capture = (
        i64,
        i64,
        i64,
        String,
        chrono::DateTime<chrono::Utc>,
        Option<String>,
    );
    let capture: Option<Capture> = sqlx::query_as(
        "SELECT p.id, p.amount_minor, p.refunded_minor, p.currency::text, p.created_at, o.paypal_payer_id
           FROM payments p JOIN orders o ON o.id = p.order_id
          WHERE p.capture_id = $1 AND p.status IN ('COMPLETED', 'PARTIALLY_REFUNDED')
          FOR UPDATE OF p",
    )
    .bind(capture_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((payment_id, captured, refunded, currency, at, payer)) = capture else {
        return Err(RefundError::Stale(format!(
            "capture {capture_id} has nothing captured left (refunded meanwhile?)"
        )));
    };
    let first: Option<(String, i64)> = match &payer {
        Some(payer) => {
            sqlx::query_as(
                "SELECT o.order_number, o.id FROM payments p JOIN orders o ON o.id = p.order_id
                  WHERE o.paypal_payer_id = $1 AND p.amount_minor = $2 AND p.currency = $3
                    AND p.status IN ('COMPLETED', 'PARTIALLY_REFUNDED')
                    AND (p.created_at, p.id) < ($4, $5) AND p.created_at >= $4 - $6::interval
                  ORDER BY p.created_at, p.id LIMIT 1",
            )
            .bind(payer)
            .bind(captured)
            .bind(&currency)
            .bind(at)
            .bind(payment_id)
            .bind(window)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let Some((first_order, first_order_id)) = first else {
        return Err(RefundError::Stale(format!(
            "capture {capture_id} is not a duplicate charge now (no earlier capture of its payer \
             for the same amount within {} min)",
            window.num_minutes()
        )));
    };
    let money_currency = Currency::parse(&currency)
        .ok_or_else(|| RefundError::BadAmount(format!("unknown currency {currency}")))?;
    let open: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount_minor), 0)::bigint FROM refunds
          WHERE payment_id = $1 AND status IN ('requested', 'pending')",
    )
    .bind(payment_id)
    .fetch_one(&mut *tx)
    .await?;
    let left = payments::refundable(captured, refunded, open);
    if left == 0 {
        return Err(RefundError::NothingLeft {
            captured: Money::new(captured, money_currency).display(),
        });
    }
    if left != expected_minor {
        return Err(RefundError::Stale(format!(
            "{} is left to refund of capture {capture_id} now, not the {} confirmed: look again",
            Money::new(left, money_currency).display(),
            Money::new(expected_minor, money_currency).display()
        )));
    }
    let reason = format!("duplicate charge of {first_order}");
    let request = RefundRequest {
        order: order_id.to_string(),
        // A second order: everything left, its items with it. A second
        // capture of one order: the amount only.
        amount: (first_order_id == order_id)
            .then(|| Money::new(left, money_currency).to_major_string()),
        items: Vec::new(),
        capture_id: Some(capture_id.to_string()),
        reason: reason.clone(),
        agent_limit_minor,
    };
    let done = request_in(&mut tx, actor, &order, &request, &reason).await?;
    tx.commit().await?;
    Ok(done)
}

/// Whether a refund error is the database's own check (`refunds_within_capture`).
pub fn is_over_capture(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("refunds_within_capture"))
}

/// The refund rows of an order's payment, for the views (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RefundRow {
    pub id: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub reason: String,
    pub requested_by: String,
    pub paypal_refund_id: Option<String>,
    pub failure: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
}
