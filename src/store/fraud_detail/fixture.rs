//! The hand-built [`OrderDetail`] of the screen tests and the dashboard unit
//! tests. Test support only: compiled for `cargo test` and with the
//! `fixtures` feature, never into the release binary.

use chrono::{DateTime, Utc};

use super::{CustomerHistory, Link, LinkCount, OrderDetail, OrderItem, PastDecision, RelatedOrder};
use crate::domain::money::{Currency, Money};

/// A hand-built detail for screen tests: the first order of the snapshot
/// fixture ($120.00), with a customer history and related orders on every link.
pub fn fixture(order_id: i64, order_number: &str, now: DateTime<Utc>) -> OrderDetail {
    use chrono::Duration;
    let usd = |minor: i64| Money::new(minor, Currency::USD);
    let decision = |n: &str, d: &str, by: &str, reason: &str, ago_h: i64| PastDecision {
        order_number: n.into(),
        decision: d.into(),
        operator: by.into(),
        reason: reason.into(),
        decided_at: now - Duration::hours(ago_h),
        undone: false,
    };
    let related = vec![
        RelatedOrder {
            order_id: 69_990,
            order_number: "LSN-1008911".into(),
            links: vec![Link::Ip, Link::Device],
            total: usd(89_900),
            created_at: now - Duration::minutes(42),
            score: Some(92),
            fraud_state: "declined".into(),
            status: "refunded".into(),
            decision: Some(decision(
                "LSN-1008911",
                "decline",
                "dana",
                "Velocity from one IP / device across accounts",
                0,
            )),
        },
        RelatedOrder {
            order_id: 69_981,
            order_number: "LSN-1008870".into(),
            links: vec![Link::Ip],
            total: usd(24_500),
            created_at: now - Duration::hours(3),
            score: Some(64),
            fraud_state: "pending".into(),
            status: "on_hold".into(),
            decision: None,
        },
        RelatedOrder {
            order_id: 69_902,
            order_number: "LSN-1008404".into(),
            links: vec![Link::Payer, Link::Email],
            total: usd(3_999),
            created_at: now - Duration::days(12),
            score: Some(18),
            fraud_state: "approved".into(),
            status: "delivered".into(),
            decision: Some(decision(
                "LSN-1008404",
                "approve",
                "maria",
                "Known customer, history checks out",
                24 * 12,
            )),
        },
    ];
    OrderDetail {
        order_id,
        order_number: order_number.into(),
        status: "on_hold".into(),
        total: usd(12_000),
        subtotal: usd(11_000),
        shipping: usd(1_000),
        created_at: now - Duration::minutes(5),
        ip: Some("203.0.113.10".into()),
        ip_country: Some("NL".into()),
        billing_country: Some("US".into()),
        shipping_country: Some("NG".into()),
        device: Some("fp-7f3a9c".into()),
        payer: Some("PAYER7QX2".into()),
        email: "buyer.fast@tempmail.io".into(),
        show_title: Some("Sneaker Drop Friday".into()),
        creator: Some("kicks_marcus".into()),
        items: vec![
            OrderItem {
                product: "Air Retro High OG (size 10)".into(),
                sku: "SNK-AJ1-10".into(),
                quantity: 1,
                unit_price: usd(9_500),
            },
            OrderItem {
                product: "Sneaker cleaning kit".into(),
                sku: "ACC-CLN-1".into(),
                quantity: 1,
                unit_price: usd(1_500),
            },
        ],
        history: CustomerHistory {
            customer_id: 5_120,
            name: "Jordan Fast".into(),
            email: "buyer.fast@tempmail.io".into(),
            country: "US".into(),
            since: now - Duration::days(16),
            paid_orders: 1,
            spent: vec![usd(3_999)],
            disputes: 1,
            chargebacks: 1,
            disputes_lost: 0,
            decisions: vec![decision(
                "LSN-1008404",
                "approve",
                "maria",
                "Known customer, history checks out",
                24 * 12,
            )],
            decisions_total: 1,
        },
        link_counts: vec![
            LinkCount {
                link: Link::Ip,
                value: "203.0.113.10".into(),
                orders: 7,
                declined: 3,
            },
            LinkCount {
                link: Link::Device,
                value: "fp-7f3a9c".into(),
                orders: 4,
                declined: 3,
            },
            LinkCount {
                link: Link::Payer,
                value: "PAYER7QX2".into(),
                orders: 1,
                declined: 0,
            },
            LinkCount {
                link: Link::Email,
                value: "buyer.fast@tempmail.io".into(),
                orders: 1,
                declined: 0,
            },
        ],
        related,
    }
}
