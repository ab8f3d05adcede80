//! `order_detail` against a real PostgreSQL (a fresh database per test): the
//! order and its items, the customer's history, and the related orders with
//! what links them, their own decisions and the counts per link.

use chrono::{DateTime, TimeZone, Utc};
use lsn_ops::store::fraud_detail::{Link, RELATED_LIMIT, order_detail};
use sqlx::PgPool;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 17, 30, 0).unwrap()
}

async fn exec(pool: &PgPool, sql: &'static str) {
    sqlx::query(sql)
        .bind(now())
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Order 1 (under review) by customer 1; others sharing its IP, device, payer
/// or email, some decided; one order of customer 1 paid before; a dispute.
async fn seed(pool: &PgPool) {
    exec(
        pool,
        "INSERT INTO creators (id, handle, display_name, tier, commission_bps)
         VALUES (1, 'kicks_marcus', 'Marcus Bell', 'gold', 2500)",
    )
    .await;
    exec(
        pool,
        "INSERT INTO shows (id, creator_id, title, scheduled_start, scheduled_end, status)
         VALUES (1, 1, 'Sneaker Drop Friday', $1 - interval '1 hour', $1, 'live')",
    )
    .await;
    exec(
        pool,
        "INSERT INTO customers (id, email, name, country, created_at)
         VALUES (1, 'fast@tempmail.io', 'Jordan Fast', 'US', $1 - interval '16 days'),
                (2, 'other@example.com', 'Other', 'US', $1 - interval '30 days'),
                (3, 'third@example.com', 'Third', 'GB', $1 - interval '30 days'),
                (4, 'nobody@example.com', 'Nobody', 'US', $1 - interval '30 days')",
    )
    .await;
    exec(
        pool,
        "INSERT INTO products (id, sku, name, currency, price_minor, cost_minor, stock_on_hand)
         VALUES (1, 'SNK-10', 'Air Retro High (10)', 'USD', 45000, 20000, 5),
                (2, 'HD-L', 'Limited Hoodie', 'USD', 29000, 9000, 5)",
    )
    .await;
    // id, customer, ip, device, payer, email, score, state, age, paid
    exec(
        pool,
        "INSERT INTO orders (id, order_number, customer_id, show_id, status, currency, subtotal_minor,
                             shipping_minor, total_minor, email, ip, ip_country, billing_country,
                             shipping_country, device_fingerprint, paypal_payer_id, fraud_score,
                             fraud_state, created_at, paid_at)
         VALUES
          (1, 'LSN-1', 1, 1, 'on_hold', 'USD', 119000, 5000, 124000, 'fast@tempmail.io', '203.0.113.10',
           'NL', 'US', 'NG', 'fp-1', 'PAYER1', 96, 'pending', $1 - interval '5 minutes', $1),
          -- the same customer, paid 12 days ago (same payer and email)
          (2, 'LSN-2', 1, NULL, 'delivered', 'USD', 3999, 0, 3999, 'fast@tempmail.io', '198.51.100.7',
           'US', 'US', 'US', 'fp-9', 'PAYER1', 18, 'approved', $1 - interval '12 days', $1 - interval '12 days'),
          -- another customer on the same IP and device, declined by dana
          (3, 'LSN-3', 2, NULL, 'refunded', 'USD', 89900, 0, 89900, 'other@example.com', '203.0.113.10',
           'NL', 'US', 'NG', 'fp-1', 'PAYER3', 92, 'declined', $1 - interval '42 minutes', $1 - interval '40 minutes'),
          -- a third customer on the same IP only, still pending
          (4, 'LSN-4', 3, NULL, 'on_hold', 'USD', 24500, 0, 24500, 'third@example.com', '203.0.113.10',
           'NL', 'GB', 'GB', 'fp-4', NULL, 64, 'pending', $1 - interval '3 hours', NULL),
          -- unrelated
          (5, 'LSN-5', 4, NULL, 'paid', 'USD', 1000, 0, 1000, 'nobody@example.com', '192.0.2.1',
           'US', 'US', 'US', 'fp-5', 'PAYER5', 5, 'clear', $1 - interval '1 hour', $1)",
    )
    .await;
    exec(
        pool,
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor)
         VALUES (1, 1, 2, 45000, 20000), (1, 2, 1, 29000, 9000), (2, 2, 1, 3999, 1000)",
    )
    .await;
    exec(
        pool,
        "INSERT INTO fraud_decisions (order_id, decision, reason, operator, score_seen, decided_at)
         VALUES (2, 'approve', 'Known customer, history checks out', 'maria', 18, $1 - interval '12 days'),
                (3, 'approve', 'first look', 'bob', 92, $1 - interval '41 minutes'),
                (3, 'decline', 'Velocity from one IP / device across accounts', 'dana', 92, $1 - interval '30 minutes')",
    )
    .await;
    // The approve on LSN-3 was undone before dana declined it.
    exec(
        pool,
        "UPDATE fraud_decisions SET undone_at = $1 - interval '35 minutes', undone_by = 'bob'
          WHERE order_id = 3 AND decision = 'approve'",
    )
    .await;
    exec(
        pool,
        "INSERT INTO disputes (paypal_dispute_id, order_id, state, reason, life_cycle_stage, amount_minor,
                               currency, opened_at, sla_due_at)
         VALUES ('PP-D-1', 2, 'OPEN', 'UNAUTHORISED', 'CHARGEBACK', 3999, 'USD', $1 - interval '2 days', $1)",
    )
    .await;
}

#[sqlx::test]
async fn detail_has_items_history_and_related_orders_with_links(pool: PgPool) {
    seed(&pool).await;
    let d = order_detail(&pool, 1).await.expect("detail");
    assert_eq!(d.order_number, "LSN-1");
    assert_eq!(d.total.display(), "$1,240.00");
    assert_eq!(d.show_title.as_deref(), Some("Sneaker Drop Friday"));
    assert_eq!(d.creator.as_deref(), Some("kicks_marcus"));
    assert_eq!(d.ip.as_deref(), Some("203.0.113.10"));
    let items: Vec<(&str, i32, String)> = d
        .items
        .iter()
        .map(|i| (i.product.as_str(), i.quantity, i.unit_price.display()))
        .collect();
    assert_eq!(
        items,
        [
            ("Air Retro High (10)", 2, "$450.00".to_string()),
            ("Limited Hoodie", 1, "$290.00".to_string())
        ]
    );

    // History: one paid order before this one, its dispute (a chargeback), the
    // approve on it.
    let h = &d.history;
    assert_eq!(h.name, "Jordan Fast");
    assert_eq!(h.paid_orders, 1);
    assert_eq!(
        h.spent.iter().map(|m| m.display()).collect::<Vec<_>>(),
        ["$39.99"]
    );
    assert_eq!((h.disputes, h.chargebacks, h.disputes_lost), (1, 1, 0));
    assert_eq!(h.decisions_total, 1);
    assert_eq!(h.decisions[0].order_number, "LSN-2");
    assert_eq!(h.decisions[0].operator, "maria");

    // Related: LSN-3 (ip+device, newest), LSN-4 (ip), LSN-2 (payer+email); not LSN-5.
    let rel: Vec<(&str, Vec<Link>)> = d
        .related
        .iter()
        .map(|r| (r.order_number.as_str(), r.links.clone()))
        .collect();
    assert_eq!(
        rel,
        [
            ("LSN-3", vec![Link::Ip, Link::Device]),
            ("LSN-4", vec![Link::Ip]),
            ("LSN-2", vec![Link::Payer, Link::Email]),
        ]
    );
    // Each with its own standing decision (an undone one does not count).
    let lsn3 = &d.related[0];
    assert_eq!(lsn3.fraud_state, "declined");
    assert_eq!(lsn3.score, Some(92));
    let dec = lsn3.decision.as_ref().expect("LSN-3 decided");
    assert_eq!(
        (dec.decision.as_str(), dec.operator.as_str()),
        ("decline", "dana")
    );
    assert!(dec.reason.contains("Velocity"));
    assert_eq!(d.related[1].decision, None);
    assert_eq!(
        d.related[2].decision.as_ref().map(|x| x.operator.as_str()),
        Some("maria")
    );

    // Counts per link: 2 on the IP (1 declined), 1 device, 1 payer, 1 email.
    let counts: Vec<(Link, i64, i64)> = d
        .link_counts
        .iter()
        .map(|c| (c.link, c.orders, c.declined))
        .collect();
    assert_eq!(
        counts,
        [
            (Link::Ip, 2, 1),
            (Link::Device, 1, 1),
            (Link::Payer, 1, 0),
            (Link::Email, 1, 0),
        ]
    );
}

#[sqlx::test]
async fn related_orders_are_bounded_but_counted(pool: PgPool) {
    seed(&pool).await;
    // 30 more orders on the same IP.
    exec(
        &pool,
        "INSERT INTO orders (id, order_number, customer_id, status, currency, subtotal_minor, total_minor,
                             email, ip, fraud_state, created_at)
         SELECT 100 + g, 'LSN-B' || g, 4, 'paid', 'USD', 100, 100, 'bot' || g || '@example.com', '203.0.113.10',
                'clear', $1 - g * interval '1 minute'
           FROM generate_series(1, 30) g",
    )
    .await;
    let d = order_detail(&pool, 1).await.expect("detail");
    assert_eq!(d.related.len() as i64, RELATED_LIMIT);
    let ip = d
        .link_counts
        .iter()
        .find(|c| c.link == Link::Ip)
        .expect("ip count");
    assert_eq!(ip.orders, 32);
    // Newest first.
    assert!(
        d.related
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    // No such order: an error, not a panic.
    assert!(matches!(
        order_detail(&pool, 999_999).await,
        Err(sqlx::Error::RowNotFound)
    ));
}

#[sqlx::test]
async fn an_order_without_ip_device_or_payer_links_by_email_only(pool: PgPool) {
    seed(&pool).await;
    exec(
        &pool,
        "INSERT INTO orders (id, order_number, customer_id, status, currency, subtotal_minor, total_minor,
                             email, fraud_score, fraud_state, created_at)
         VALUES (50, 'LSN-50', 4, 'on_hold', 'USD', 100, 100, 'nobody@example.com', 80, 'pending', $1)",
    )
    .await;
    let d = order_detail(&pool, 50).await.expect("detail");
    assert_eq!(
        d.link_counts.iter().map(|c| c.link).collect::<Vec<_>>(),
        [Link::Email]
    );
    assert_eq!(d.related.len(), 1);
    assert_eq!(d.related[0].order_number, "LSN-5");
    assert_eq!(d.history.paid_orders, 1);
    assert!(d.items.is_empty());
}
