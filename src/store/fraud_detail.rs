//! One fraud order in full, for the analyst's detail view: the order and its
//! items, the customer's history (since when, paid orders and spend, disputes
//! and chargebacks, earlier fraud decisions) and the related orders, those
//! sharing the order's IP, device fingerprint, PayPal payer id or email, each
//! with what links it and its own decision.
//!
//! Bounded like the snapshot: the newest [`RELATED_LIMIT`] related orders and
//! [`HISTORY_LIMIT`] earlier decisions, plus counts (capped at
//! [`COUNT_CAP`]) per link. Each link walks its own index on `orders`
//! (`orders_ip_idx`, `orders_device_created_idx`, `orders_payer_created_idx`,
//! `orders_email_created_idx`, each ending in `created_at` so the newest come
//! first); the history walks `orders_customer_idx`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::money::{Currency, Money};

#[cfg(any(test, feature = "fixtures"))]
mod fixture;
#[cfg(any(test, feature = "fixtures"))]
pub use fixture::fixture;

/// Related orders listed per detail (newest first).
pub const RELATED_LIMIT: i64 = 10;
/// Earlier fraud decisions listed per customer (newest first).
pub const HISTORY_LIMIT: i64 = 5;
/// Counts stop here ("10000+"): an address shared by a botnet stays cheap.
pub const COUNT_CAP: i64 = 10_000;

/// What two orders share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Link {
    Ip,
    Device,
    Payer,
    Email,
}

impl Link {
    pub const ALL: [Link; 4] = [Link::Ip, Link::Device, Link::Payer, Link::Email];

    pub fn as_str(&self) -> &'static str {
        match self {
            Link::Ip => "ip",
            Link::Device => "device",
            Link::Payer => "payer",
            Link::Email => "email",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub product: String,
    pub sku: String,
    pub quantity: i32,
    pub unit_price: Money,
}

/// A fraud decision (the latest one standing, or one of the customer's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastDecision {
    pub order_number: String,
    pub decision: String,
    pub operator: String,
    pub reason: String,
    pub decided_at: DateTime<Utc>,
    /// Undone later (kept in the history, marked).
    pub undone: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerHistory {
    pub customer_id: i64,
    pub name: String,
    pub email: String,
    pub country: String,
    pub since: DateTime<Utc>,
    /// Paid orders placed before this one.
    pub paid_orders: i64,
    /// What those orders came to, per currency (most spent first).
    pub spent: Vec<Money>,
    /// Disputes on any of the customer's orders, of which chargebacks
    /// (chargeback stage or later) and lost.
    pub disputes: i64,
    pub chargebacks: i64,
    pub disputes_lost: i64,
    /// Fraud decisions on the customer's other orders, newest first.
    pub decisions: Vec<PastDecision>,
    pub decisions_total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedOrder {
    pub order_id: i64,
    pub order_number: String,
    /// What it shares with the order under review (at least one).
    pub links: Vec<Link>,
    pub total: Money,
    pub created_at: DateTime<Utc>,
    pub score: Option<i16>,
    pub fraud_state: String,
    pub status: String,
    /// The decision standing on it, if any.
    pub decision: Option<PastDecision>,
}

/// How many other orders share one value of the order (capped at [`COUNT_CAP`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCount {
    pub link: Link,
    pub value: String,
    pub orders: i64,
    /// Of which declined as fraud.
    pub declined: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetail {
    pub order_id: i64,
    pub order_number: String,
    pub status: String,
    pub total: Money,
    pub subtotal: Money,
    pub shipping: Money,
    pub created_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub ip_country: Option<String>,
    pub billing_country: Option<String>,
    pub shipping_country: Option<String>,
    pub device: Option<String>,
    pub payer: Option<String>,
    pub email: String,
    pub show_title: Option<String>,
    pub creator: Option<String>,
    pub items: Vec<OrderItem>,
    pub history: CustomerHistory,
    /// One entry per link the order has a value for (no IP: no ip entry).
    pub link_counts: Vec<LinkCount>,
    /// The newest related orders, at most [`RELATED_LIMIT`].
    pub related: Vec<RelatedOrder>,
}

impl OrderDetail {
    /// Related orders in all (an order linked twice counts once per link).
    pub fn related_total(&self) -> i64 {
        self.link_counts.iter().map(|c| c.orders).sum()
    }
}

fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, Currency::parse(code.trim()).unwrap_or(Currency::USD))
}

/// Reads order `order_id` in full. `RowNotFound` when there is no such order.
pub async fn order_detail(pool: &PgPool, order_id: i64) -> Result<OrderDetail, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Head {
        order_number: String,
        status: String,
        currency: String,
        total_minor: i64,
        subtotal_minor: i64,
        shipping_minor: i64,
        created_at: DateTime<Utc>,
        ip: Option<String>,
        ip_country: Option<String>,
        billing_country: Option<String>,
        shipping_country: Option<String>,
        device_fingerprint: Option<String>,
        paypal_payer_id: Option<String>,
        email: String,
        show_title: Option<String>,
        creator: Option<String>,
        customer_id: i64,
        customer_name: String,
        customer_email: String,
        customer_country: String,
        customer_since: DateTime<Utc>,
    }
    let head: Head = sqlx::query_as(
        "SELECT o.order_number, o.status, o.currency::text AS currency, o.total_minor, o.subtotal_minor,
                o.shipping_minor, o.created_at, host(o.ip) AS ip, o.ip_country::text AS ip_country,
                o.billing_country::text AS billing_country, o.shipping_country::text AS shipping_country,
                o.device_fingerprint, o.paypal_payer_id, o.email,
                s.title AS show_title, cr.handle AS creator,
                cu.id AS customer_id, cu.name AS customer_name, cu.email AS customer_email,
                cu.country::text AS customer_country, cu.created_at AS customer_since
           FROM orders o
           JOIN customers cu ON cu.id = o.customer_id
           LEFT JOIN shows s ON s.id = o.show_id
           LEFT JOIN creators cr ON cr.id = COALESCE(o.creator_id, s.creator_id)
          WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_one(pool)
    .await?;

    let items: Vec<(String, String, i32, i64)> = sqlx::query_as(
        "SELECT p.name, p.sku, i.quantity, i.unit_price_minor
           FROM order_items i JOIN products p ON p.id = i.product_id
          WHERE i.order_id = $1 ORDER BY i.id LIMIT 50",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;

    // orders_customer_idx: the customer's orders placed before this one.
    let spent: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT currency::text, count(*), COALESCE(sum(total_minor), 0)::bigint
           FROM orders
          WHERE customer_id = $1 AND id <> $2 AND created_at < $3 AND paid_at IS NOT NULL
          GROUP BY currency ORDER BY 3 DESC",
    )
    .bind(head.customer_id)
    .bind(order_id)
    .bind(head.created_at)
    .fetch_all(pool)
    .await?;
    let (disputes, chargebacks, disputes_lost): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE d.life_cycle_stage IN ('CHARGEBACK', 'PRE_ARBITRATION', 'ARBITRATION')),
                count(*) FILTER (WHERE d.outcome = 'LOST')
           FROM orders o JOIN disputes d ON d.order_id = o.id
          WHERE o.customer_id = $1",
    )
    .bind(head.customer_id)
    .fetch_one(pool)
    .await?;
    #[derive(sqlx::FromRow)]
    struct Dec {
        order_number: String,
        decision: String,
        operator: String,
        reason: String,
        decided_at: DateTime<Utc>,
        undone: bool,
        total: i64,
    }
    let decisions: Vec<Dec> = sqlx::query_as(
        "SELECT o.order_number, d.decision, d.operator, d.reason, d.decided_at,
                d.undone_at IS NOT NULL AS undone, count(*) OVER () AS total
           FROM orders o JOIN fraud_decisions d ON d.order_id = o.id
          WHERE o.customer_id = $1 AND o.id <> $2
          ORDER BY d.decided_at DESC, d.id DESC
          LIMIT $3",
    )
    .bind(head.customer_id)
    .bind(order_id)
    .bind(HISTORY_LIMIT)
    .fetch_all(pool)
    .await?;
    let decisions_total = decisions.first().map_or(0, |d| d.total);

    // Per link: how many other orders share the value (capped), of which declined.
    let mut link_counts = Vec::new();
    let values = [
        (Link::Ip, head.ip.clone()),
        (Link::Device, head.device_fingerprint.clone()),
        (Link::Payer, head.paypal_payer_id.clone()),
        (Link::Email, Some(head.email.clone())),
    ];
    for (link, value) in values {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let sql = match link {
            Link::Ip => {
                "SELECT count(*), count(*) FILTER (WHERE fraud_state = 'declined') FROM
                   (SELECT fraud_state FROM orders WHERE ip = $1::inet AND id <> $2 LIMIT $3) x"
            }
            Link::Device => {
                "SELECT count(*), count(*) FILTER (WHERE fraud_state = 'declined') FROM
                   (SELECT fraud_state FROM orders WHERE device_fingerprint = $1 AND id <> $2 LIMIT $3) x"
            }
            Link::Payer => {
                "SELECT count(*), count(*) FILTER (WHERE fraud_state = 'declined') FROM
                   (SELECT fraud_state FROM orders WHERE paypal_payer_id = $1 AND id <> $2 LIMIT $3) x"
            }
            Link::Email => {
                "SELECT count(*), count(*) FILTER (WHERE fraud_state = 'declined') FROM
                   (SELECT fraud_state FROM orders WHERE email = $1 AND id <> $2 LIMIT $3) x"
            }
        };
        let (orders, declined): (i64, i64) = sqlx::query_as(sql)
            .bind(&value)
            .bind(order_id)
            .bind(COUNT_CAP)
            .fetch_one(pool)
            .await?;
        link_counts.push(LinkCount {
            link,
            value,
            orders,
            declined,
        });
    }

    // The newest related orders: the newest few of each link, merged.
    #[derive(sqlx::FromRow)]
    struct Rel {
        id: i64,
        order_number: String,
        currency: String,
        total_minor: i64,
        created_at: DateTime<Utc>,
        fraud_score: Option<i16>,
        fraud_state: String,
        status: String,
        by_ip: bool,
        by_device: bool,
        by_payer: bool,
        by_email: bool,
        decision: Option<String>,
        operator: Option<String>,
        reason: Option<String>,
        decided_at: Option<DateTime<Utc>>,
    }
    let related: Vec<Rel> = sqlx::query_as(
        "WITH me AS (SELECT id, ip, device_fingerprint AS dev, paypal_payer_id AS payer, email
                       FROM orders WHERE id = $1),
         cand AS (
             (SELECT o.id, o.created_at FROM orders o, me
               WHERE o.ip = me.ip AND o.id <> me.id ORDER BY o.created_at DESC LIMIT $2)
           UNION
             (SELECT o.id, o.created_at FROM orders o, me
               WHERE o.device_fingerprint = me.dev AND me.dev <> '' AND o.id <> me.id
               ORDER BY o.created_at DESC LIMIT $2)
           UNION
             (SELECT o.id, o.created_at FROM orders o, me
               WHERE o.paypal_payer_id = me.payer AND me.payer <> '' AND o.id <> me.id
               ORDER BY o.created_at DESC LIMIT $2)
           UNION
             (SELECT o.id, o.created_at FROM orders o, me
               WHERE o.email = me.email AND o.id <> me.id ORDER BY o.created_at DESC LIMIT $2)
         ),
         top AS (SELECT id FROM cand ORDER BY created_at DESC, id DESC LIMIT $2)
         SELECT o.id, o.order_number, o.currency::text AS currency, o.total_minor, o.created_at,
                o.fraud_score, o.fraud_state, o.status,
                COALESCE(o.ip = me.ip, false) AS by_ip,
                COALESCE(o.device_fingerprint = me.dev AND me.dev <> '', false) AS by_device,
                COALESCE(o.paypal_payer_id = me.payer AND me.payer <> '', false) AS by_payer,
                (o.email = me.email) AS by_email,
                d.decision, d.operator, d.reason, d.decided_at
           FROM top JOIN orders o ON o.id = top.id CROSS JOIN me
           LEFT JOIN LATERAL (
                SELECT decision, operator, reason, decided_at FROM fraud_decisions fd
                 WHERE fd.order_id = o.id AND fd.undone_at IS NULL
                 ORDER BY fd.decided_at DESC, fd.id DESC LIMIT 1) d ON true
          ORDER BY o.created_at DESC, o.id DESC",
    )
    .bind(order_id)
    .bind(RELATED_LIMIT)
    .fetch_all(pool)
    .await?;

    let related = related
        .into_iter()
        .map(|r| {
            let links = [
                (r.by_ip, Link::Ip),
                (r.by_device, Link::Device),
                (r.by_payer, Link::Payer),
                (r.by_email, Link::Email),
            ]
            .into_iter()
            .filter_map(|(on, l)| on.then_some(l))
            .collect();
            let decision = match (r.decision, r.operator, r.reason, r.decided_at) {
                (Some(decision), Some(operator), Some(reason), Some(decided_at)) => {
                    Some(PastDecision {
                        order_number: r.order_number.clone(),
                        decision,
                        operator,
                        reason,
                        decided_at,
                        undone: false,
                    })
                }
                _ => None,
            };
            RelatedOrder {
                order_id: r.id,
                order_number: r.order_number,
                links,
                total: money(r.total_minor, &r.currency),
                created_at: r.created_at,
                score: r.fraud_score,
                fraud_state: r.fraud_state,
                status: r.status,
                decision,
            }
        })
        .collect();

    Ok(OrderDetail {
        order_id,
        order_number: head.order_number,
        status: head.status,
        total: money(head.total_minor, &head.currency),
        subtotal: money(head.subtotal_minor, &head.currency),
        shipping: money(head.shipping_minor, &head.currency),
        created_at: head.created_at,
        ip: head.ip,
        ip_country: head.ip_country,
        billing_country: head.billing_country,
        shipping_country: head.shipping_country,
        device: head.device_fingerprint,
        payer: head.paypal_payer_id,
        email: head.email,
        show_title: head.show_title,
        creator: head.creator,
        items: items
            .into_iter()
            .map(|(product, sku, quantity, price)| OrderItem {
                product,
                sku,
                quantity,
                unit_price: money(price, &head.currency),
            })
            .collect(),
        history: CustomerHistory {
            customer_id: head.customer_id,
            name: head.customer_name,
            email: head.customer_email,
            country: head.customer_country,
            since: head.customer_since,
            paid_orders: spent.iter().map(|s| s.1).sum(),
            spent: spent.iter().map(|(c, _, m)| money(*m, c)).collect(),
            disputes,
            chargebacks,
            disputes_lost,
            decisions: decisions
                .into_iter()
                .map(|d| PastDecision {
                    order_number: d.order_number,
                    decision: d.decision,
                    operator: d.operator,
                    reason: d.reason,
                    decided_at: d.decided_at,
                    undone: d.undone,
                })
                .collect(),
            decisions_total,
        },
        link_counts,
        related,
    })
}
