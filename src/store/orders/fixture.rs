//! A hand-built order view for unit tests and screen snapshots (never in
//! the release binary: `fixtures` feature or unit tests only).

use chrono::{DateTime, Duration, Utc};

use super::{Duplicate, ItemLine, OrderHit, OrderView, OtherOrder, PaymentLine, Tracking};
use crate::store::refunds::RefundRow;

/// Order LSN-0001234 of two lines, paid two hours before `now`, one partial
/// refund completed, two other orders of the same customer.
pub fn view(now: DateTime<Utc>) -> OrderView {
    let placed = now - Duration::hours(2);
    OrderView {
        id: 1234,
        order_number: "LSN-0001234".into(),
        status: "paid".into(),
        currency: "USD".into(),
        subtotal_minor: 8_500,
        shipping_minor: 599,
        total_minor: 9_099,
        email: "jo.buyer@example.com".into(),
        customer: "Jo Buyer".into(),
        payer_id: Some("PAYERJO123".into()),
        created_at: placed,
        paid_at: Some(placed + Duration::seconds(30)),
        shipped_at: None,
        delivered_at: None,
        ship_by: Some(placed + Duration::hours(48)),
        return_by: None,
        tracking: None::<Tracking>,
        fraud_score: Some(12),
        fraud_state: "clear".into(),
        fraud_decision: None,
        items: vec![
            ItemLine {
                id: 5001,
                sku: "SKU-MUG-01".into(),
                name: "Stoneware mug".into(),
                quantity: 2,
                unit_price_minor: 2_500,
                released_qty: 1,
                returned_qty: 0,
                stock_on_hand: 40,
                stock_reserved: 12,
            },
            ItemLine {
                id: 5002,
                sku: "SKU-LAMP-7".into(),
                name: "Desk lamp".into(),
                quantity: 1,
                unit_price_minor: 3_500,
                released_qty: 0,
                returned_qty: 0,
                stock_on_hand: 6,
                stock_reserved: 5,
            },
        ],
        payments: vec![PaymentLine {
            capture_id: "CAP00000009772646".into(),
            status: "PARTIALLY_REFUNDED".into(),
            amount_minor: 9_099,
            refunded_minor: 2_500,
            currency: "USD".into(),
            created_at: placed + Duration::seconds(30),
        }],
        refunds: vec![RefundRow {
            id: 77,
            amount_minor: 2_500,
            currency: "USD".into(),
            status: "completed".into(),
            reason: "One mug arrived chipped".into(),
            requested_by: "alice".into(),
            paypal_refund_id: Some("SIMREF0000000042".into()),
            failure: None,
            created_at: now - Duration::minutes(30),
            completed_at: Some(now - Duration::minutes(29)),
        }],
        disputes: vec![],
        returns: vec![],
        other_orders: vec![
            OtherOrder {
                order_number: "LSN-0001101".into(),
                status: "delivered".into(),
                total_minor: 4_250,
                currency: "USD".into(),
                created_at: now - Duration::days(12),
            },
            OtherOrder {
                order_number: "LSN-0000987".into(),
                status: "refunded".into(),
                total_minor: 1_999,
                currency: "USD".into(),
                created_at: now - Duration::days(40),
            },
        ],
    }
}

/// What `find` answers for the fixture's customer email.
pub fn hits(now: DateTime<Utc>) -> Vec<OrderHit> {
    let v = view(now);
    vec![OrderHit {
        id: v.id,
        order_number: v.order_number,
        status: v.status,
        total_minor: v.total_minor,
        currency: v.currency,
        email: v.email,
        created_at: v.created_at,
        matched: "email".into(),
    }]
}

/// What `duplicates` answers: a second order of the same payer for the same
/// amount 3 minutes after the first, and a capture taken twice on one order
/// (its refund asked for already: nothing left).
pub fn duplicates(now: DateTime<Utc>) -> Vec<Duplicate> {
    let first = now - Duration::minutes(50);
    vec![
        Duplicate {
            payer_id: "PAYERJO123".into(),
            amount_minor: 4_599,
            currency: "USD".into(),
            first_order: "LSN-0001240".into(),
            first_capture: "CAP-0001240-A".into(),
            first_at: first,
            later_order: "LSN-0001241".into(),
            later_capture: "CAP-0001241-A".into(),
            later_at: first + Duration::minutes(3),
            refundable_minor: 4_599,
        },
        Duplicate {
            payer_id: "PAYERKIM77".into(),
            amount_minor: 12_000,
            currency: "USD".into(),
            first_order: "LSN-0001100".into(),
            first_capture: "CAP-0001100-A".into(),
            first_at: now - Duration::hours(26),
            later_order: "LSN-0001100".into(),
            later_capture: "CAPD-0001100-B".into(),
            later_at: now - Duration::hours(26) + Duration::seconds(40),
            refundable_minor: 0,
        },
    ]
}
