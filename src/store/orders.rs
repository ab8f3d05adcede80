//! Finding an order and everything support needs about it ("where is my
//! order?"): [`find`] takes an order number, an email (any case), a PayPal
//! payer id or capture id, each answered by an index (`orders.order_number`
//! and `payments.capture_id` unique, `orders_payer_created_idx`,
//! `orders_email_lower_created_idx`), newest first and bounded. [`view`] reads
//! one order: items with their product's stock, payments and refunds with
//! provider ids, fulfilment and tracking, shipping and return deadlines,
//! disputes, returns, the fraud score and decision, and the customer's other
//! orders. Read only.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::refunds::RefundRow;
use crate::domain::returns;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixture;

/// Orders a paid order should ship within (the ship-by deadline shown).
pub const SHIP_WITHIN: Duration = Duration::hours(48);

/// One order found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OrderHit {
    pub id: i64,
    pub order_number: String,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    /// What the query matched: number, capture, payer or email.
    pub matched: String,
}

/// Orders matching `query` (trimmed): an exact order number or capture id, or
/// a payer id's or an email's orders, newest first, at most `limit`.
pub async fn find(pool: &PgPool, query: &str, limit: i64) -> Result<Vec<OrderHit>, sqlx::Error> {
    let q = query.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let limit = limit.clamp(1, 500);
    let cols = "o.id, o.order_number, o.status, o.total_minor, o.currency::text AS currency, o.email, o.created_at";
    let sql = if q.contains('@') {
        format!(
            "SELECT {cols}, 'email' AS matched FROM orders o
              WHERE lower(o.email) = lower($1) ORDER BY lower(o.email), o.created_at DESC LIMIT $2"
        )
    } else {
        format!(
            "(SELECT {cols}, 'number' AS matched FROM orders o WHERE o.order_number = upper($1))
             UNION ALL
             (SELECT {cols}, 'capture' AS matched FROM payments p JOIN orders o ON o.id = p.order_id
               WHERE p.capture_id = $1)
             UNION ALL
             (SELECT {cols}, 'payer' AS matched FROM orders o
               WHERE o.paypal_payer_id = $1 ORDER BY o.paypal_payer_id, o.created_at DESC LIMIT $2)
             LIMIT $2"
        )
    };
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(q)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// One item line with its product's stock now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ItemLine {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub released_qty: i32,
    pub returned_qty: i32,
    pub stock_on_hand: i32,
    pub stock_reserved: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PaymentLine {
    pub capture_id: String,
    pub status: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DisputeLine {
    pub paypal_dispute_id: String,
    pub state: String,
    pub reason: String,
    pub amount_minor: i64,
    pub currency: String,
    pub seller_response_due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ReturnLine {
    pub rma_number: String,
    pub state: String,
    pub reason: String,
    pub defective: bool,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OtherOrder {
    pub order_number: String,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// Tracking of a shipped order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tracking {
    pub carrier: String,
    pub number: String,
    pub link: Option<String>,
}

/// Everything support needs about one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderView {
    pub id: i64,
    pub order_number: String,
    pub status: String,
    pub currency: String,
    pub subtotal_minor: i64,
    pub shipping_minor: i64,
    pub total_minor: i64,
    pub email: String,
    pub customer: String,
    pub payer_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Paid and not shipped: the ship-by deadline ([`SHIP_WITHIN`]).
    pub ship_by: Option<DateTime<Utc>>,
    /// Delivered: the end of the return window.
    pub return_by: Option<DateTime<Utc>>,
    pub tracking: Option<Tracking>,
    pub fraud_score: Option<i16>,
    pub fraud_state: String,
    /// The last decision in force: (decision, operator, reason).
    pub fraud_decision: Option<(String, String, String)>,
    pub items: Vec<ItemLine>,
    pub payments: Vec<PaymentLine>,
    pub refunds: Vec<RefundRow>,
    pub disputes: Vec<DisputeLine>,
    pub returns: Vec<ReturnLine>,
    /// The customer's other orders, newest first (at most 10).
    pub other_orders: Vec<OtherOrder>,
}

impl OrderView {
    /// Captured less refunded, over every payment, in minor units.
    pub fn refundable_minor(&self) -> i64 {
        let open: i64 = self
            .refunds
            .iter()
            .filter(|r| matches!(r.status.as_str(), "requested" | "pending"))
            .map(|r| r.amount_minor)
            .sum();
        let left: i64 = self
            .payments
            .iter()
            .filter(|p| matches!(p.status.as_str(), "COMPLETED" | "PARTIALLY_REFUNDED"))
            .map(|p| p.amount_minor - p.refunded_minor)
            .sum();
        (left - open).max(0)
    }
}

/// The carrier's public tracking page, for the carriers the shop uses.
pub fn tracking_link(carrier: &str, number: &str) -> Option<String> {
    let n: String = number.chars().filter(char::is_ascii_alphanumeric).collect();
    let url = match carrier.to_ascii_uppercase().as_str() {
        "UPS" => format!("https://www.ups.com/track?tracknum={n}"),
        "USPS" => format!("https://tools.usps.com/go/TrackConfirmAction?tLabels={n}"),
        "FEDEX" => format!("https://www.fedex.com/fedextrack/?trknbr={n}"),
        "DHL" => format!("https://www.dhl.com/en/express/tracking.html?AWB={n}"),
        _ => return None,
    };
    Some(url)
}

/// One order by id, with everything [`OrderView`] holds; `None` if there is none.
pub async fn view(
    pool: &PgPool,
    order_id: i64,
    return_window_days: i64,
) -> Result<Option<OrderView>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Head {
        id: i64,
        order_number: String,
        status: String,
        currency: String,
        subtotal_minor: i64,
        shipping_minor: i64,
        total_minor: i64,
        email: String,
        customer: String,
        payer_id: Option<String>,
        created_at: DateTime<Utc>,
        paid_at: Option<DateTime<Utc>>,
        shipped_at: Option<DateTime<Utc>>,
        delivered_at: Option<DateTime<Utc>>,
        carrier: Option<String>,
        tracking_number: Option<String>,
        fraud_score: Option<i16>,
        fraud_state: String,
        customer_id: i64,
    }
    let head: Option<Head> = sqlx::query_as(
        "SELECT o.id, o.order_number, o.status, o.currency::text AS currency, o.subtotal_minor, o.shipping_minor,
                o.total_minor, o.email, c.name AS customer, o.paypal_payer_id AS payer_id, o.created_at, o.paid_at,
                o.shipped_at, o.delivered_at, o.carrier, o.tracking_number, o.fraud_score, o.fraud_state, o.customer_id
           FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(pool)
    .await?;
    let Some(Head {
        id,
        order_number,
        status,
        currency,
        subtotal_minor,
        shipping_minor,
        total_minor,
        email,
        customer,
        payer_id,
        created_at,
        paid_at,
        shipped_at,
        delivered_at,
        carrier,
        tracking_number,
        fraud_score,
        fraud_state,
        customer_id,
    }) = head
    else {
        return Ok(None);
    };
    let items: Vec<ItemLine> = sqlx::query_as(
        "SELECT i.id, p.sku, p.name, i.quantity, i.unit_price_minor, i.released_qty, i.returned_qty,
                p.stock_on_hand, p.stock_reserved
           FROM order_items i JOIN products p ON p.id = i.product_id
          WHERE i.order_id = $1 ORDER BY i.id LIMIT 100",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let payments: Vec<PaymentLine> = sqlx::query_as(
        "SELECT capture_id, status, amount_minor, refunded_minor, currency::text AS currency, created_at
           FROM payments WHERE order_id = $1 ORDER BY created_at, id LIMIT 20",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let refunds: Vec<RefundRow> = sqlx::query_as(
        "SELECT id, amount_minor, currency::text AS currency, status, reason, requested_by,
                paypal_refund_id, failure, created_at, completed_at
           FROM refunds WHERE order_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let disputes: Vec<DisputeLine> = sqlx::query_as(
        "SELECT paypal_dispute_id, state, reason, amount_minor, currency::text AS currency, seller_response_due_at
           FROM disputes WHERE order_id = $1 ORDER BY opened_at DESC LIMIT 10",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let returns_: Vec<ReturnLine> = sqlx::query_as(
        "SELECT rma_number, state, reason, defective, opened_at
           FROM returns WHERE order_id = $1 ORDER BY opened_at DESC LIMIT 10",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let other_orders: Vec<OtherOrder> = sqlx::query_as(
        "SELECT order_number, status, total_minor, currency::text AS currency, created_at
           FROM orders WHERE customer_id = $1 AND id <> $2 ORDER BY created_at DESC LIMIT 10",
    )
    .bind(customer_id)
    .bind(id)
    .fetch_all(pool)
    .await?;
    let fraud_decision: Option<(String, String, String)> = sqlx::query_as(
        "SELECT decision, operator, reason FROM fraud_decisions
          WHERE order_id = $1 AND undone_at IS NULL ORDER BY decided_at DESC, id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let tracking = match (carrier, tracking_number) {
        (Some(carrier), Some(number)) => Some(Tracking {
            link: tracking_link(&carrier, &number),
            carrier,
            number,
        }),
        _ => None,
    };
    let ship_by = paid_at
        .filter(|_| shipped_at.is_none() && matches!(status.as_str(), "paid" | "fulfilling"))
        .map(|p| p + SHIP_WITHIN);
    let return_by = delivered_at.map(|d| returns::window_end(d, return_window_days));
    Ok(Some(OrderView {
        id,
        order_number,
        status,
        currency,
        subtotal_minor,
        shipping_minor,
        total_minor,
        email,
        customer,
        payer_id,
        created_at,
        paid_at,
        shipped_at,
        delivered_at,
        ship_by,
        return_by,
        tracking,
        fraud_score,
        fraud_state,
        fraud_decision,
        items,
        payments,
        refunds,
        disputes,
        returns: returns_,
        other_orders,
    }))
}

/// A capture that looks like a duplicate of an earlier one: the same payer,
/// the same amount, within the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Duplicate {
    pub payer_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The earlier capture (kept).
    pub first_order: String,
    pub first_capture: String,
    pub first_at: DateTime<Utc>,
    /// The later capture (the one to refund).
    pub later_order: String,
    pub later_capture: String,
    pub later_at: DateTime<Utc>,
    /// What is left to refund of the later capture (its amount less what was
    /// refunded and what open refunds ask for): what its one-key refund gives back.
    pub refundable_minor: i64,
}

/// Captures of the last `days` days by the same payer for the same amount
/// within `window` of an earlier one, still refundable; newest first.
pub async fn duplicates(
    pool: &PgPool,
    now: DateTime<Utc>,
    days: i64,
    window: Duration,
    limit: i64,
) -> Result<Vec<Duplicate>, sqlx::Error> {
    sqlx::query_as(
        "WITH recent AS (
            SELECT p.id, p.capture_id, p.amount_minor, p.currency::text AS currency, p.created_at,
                   o.order_number, o.paypal_payer_id, p.amount_minor - p.refunded_minor AS left_minor
              FROM payments p JOIN orders o ON o.id = p.order_id
             WHERE p.created_at >= $1 - make_interval(days => $2::int) - $3::interval AND p.created_at <= $1
               AND p.status IN ('COMPLETED', 'PARTIALLY_REFUNDED')
               AND o.paypal_payer_id IS NOT NULL)
         SELECT DISTINCT ON (later.id)
                later.paypal_payer_id AS payer_id, later.amount_minor, later.currency,
                first.order_number AS first_order, first.capture_id AS first_capture, first.created_at AS first_at,
                later.order_number AS later_order, later.capture_id AS later_capture, later.created_at AS later_at,
                greatest(later.left_minor - coalesce((SELECT sum(r.amount_minor) FROM refunds r
                                                       WHERE r.payment_id = later.id
                                                         AND r.status IN ('requested', 'pending')), 0), 0)::bigint
                    AS refundable_minor
           FROM recent later
           JOIN recent first ON first.paypal_payer_id = later.paypal_payer_id
                            AND first.amount_minor = later.amount_minor
                            AND first.currency = later.currency
                            AND (first.created_at, first.id) < (later.created_at, later.id)
                            AND later.created_at - first.created_at <= $3::interval
          WHERE later.created_at >= $1 - make_interval(days => $2::int)
          ORDER BY later.id, first.created_at
          LIMIT $4",
    )
    .bind(now)
    .bind(days)
    .bind(window)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map(|mut v: Vec<Duplicate>| {
        v.sort_by_key(|d| std::cmp::Reverse(d.later_at));
        v
    })
}
