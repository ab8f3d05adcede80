//! Orders and stock against a real PostgreSQL: finding an order by number,
//! email, payer or capture; planted duplicate charges found in a seeded
//! database and nothing else; returns within (and outside) the window; the
//! stock ledger (a property test of its rules, and oversell raised by the
//! database the moment reserved exceeds on hand, affected orders newest
//! first); low stock and the reorder list.

use chrono::{Duration, Utc};
use lsn_ops::domain::inventory::{Ledger, LineUnits, StockEvent};
use lsn_ops::domain::operators::Actor;
use lsn_ops::store::{orders, returns, stock};
use proptest::prelude::*;
use sqlx::PgPool;

const TZ: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

#[sqlx::test]
async fn find_by_number_email_payer_and_capture_in_a_seeded_database(pool: PgPool) {
    lsn_ops::store::seed::seed_database(&pool, 2_000, 7, &TZ, false)
        .await
        .expect("seed");
    let (id, number, email, payer, capture): (i64, String, String, String, String) =
        sqlx::query_as(
            "SELECT o.id, o.order_number, o.email, o.paypal_payer_id, p.capture_id
           FROM orders o JOIN payments p ON p.order_id = o.id
          WHERE o.paypal_payer_id IS NOT NULL ORDER BY o.id DESC LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .expect("a seeded order");
    let by_number = orders::find(&pool, &number.to_lowercase(), 50)
        .await
        .expect("find");
    assert_eq!(by_number.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
    let by_capture = orders::find(&pool, &capture, 50).await.expect("find");
    assert_eq!(by_capture[0].id, id);
    assert_eq!(by_capture[0].matched, "capture");
    let by_email = orders::find(&pool, &email.to_uppercase(), 50)
        .await
        .expect("find");
    assert!(by_email.iter().any(|h| h.id == id));
    assert!(
        by_email
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    let by_payer = orders::find(&pool, &payer, 50).await.expect("find");
    assert!(by_payer.iter().all(|h| h.matched == "payer"));
    assert!(by_payer.iter().any(|h| h.id == id));
    assert!(
        orders::find(&pool, "nobody@nowhere.example", 50)
            .await
            .expect("find")
            .is_empty()
    );

    let view = orders::view(&pool, id, 30)
        .await
        .expect("view")
        .expect("the order");
    assert_eq!(view.order_number, number);
    assert!(!view.items.is_empty() && !view.payments.is_empty());
    assert!(view.other_orders.iter().all(|o| o.order_number != number));
    // A shipped order's tracking has the carrier's link.
    let shipped: i64 = sqlx::query_scalar(
        "SELECT id FROM orders WHERE carrier IS NOT NULL AND tracking_number IS NOT NULL LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("a shipped order");
    let v = orders::view(&pool, shipped, 30)
        .await
        .expect("view")
        .expect("order");
    let t = v.tracking.expect("tracking");
    assert!(
        t.link
            .is_some_and(|l| l.starts_with("https://") && l.contains(&t.number))
    );
}

#[sqlx::test]
async fn planted_duplicate_charges_are_found_and_nothing_else(pool: PgPool) {
    lsn_ops::store::seed::seed_database(&pool, 3_000, 7, &TZ, false)
        .await
        .expect("seed");
    let mut planted: Vec<String> = sqlx::query_scalar(
        "SELECT capture_id FROM payments WHERE capture_id LIKE 'CAPD%' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("planted");
    assert!(
        planted.len() >= 3,
        "the seed plants duplicates: {planted:?}"
    );
    let found = orders::duplicates(&pool, Utc::now(), 3650, Duration::minutes(10), 1000)
        .await
        .expect("duplicates");
    let mut later: Vec<String> = found.iter().map(|d| d.later_capture.clone()).collect();
    later.sort();
    planted.sort();
    assert_eq!(later, planted);
    for d in &found {
        assert_eq!(d.first_order, d.later_order, "the same order charged twice");
        assert!(d.later_at > d.first_at);
    }
}

/// An order delivered `days_ago` with one line of 2 x SKU-R (on hand 5).
async fn delivered_order(pool: &PgPool, days_ago: i64) {
    sqlx::raw_sql(
        "INSERT INTO operators (name, role, created_by) VALUES ('alice', 'agent', 't'), ('fiona', 'finance', 't');
         INSERT INTO customers (id, email, name, country) VALUES (1, 'r@example.com', 'R', 'US');
         INSERT INTO products (id, sku, name, currency, price_minor, cost_minor, stock_on_hand, stock_reserved)
              VALUES (1, 'SKU-R', 'Kettle', 'USD', 3000, 1000, 5, 0);",
    )
    .execute(pool)
    .await
    .expect("rows");
    sqlx::query(
        "INSERT INTO orders (id, order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                             paid_at, shipped_at, delivered_at)
         VALUES (1, 'LSN-R', 1, 'delivered', 'USD', 6000, 6000, 'r@example.com', $1, $1, $2)",
    )
    .bind(Utc::now() - Duration::days(days_ago + 3))
    .bind(Utc::now() - Duration::days(days_ago))
    .execute(pool)
    .await
    .expect("order");
    sqlx::raw_sql(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor) VALUES (1, 1, 2, 3000, 1000);
         INSERT INTO payments (order_id, capture_id, status, amount_minor, currency) VALUES (1, 'CAP-R', 'COMPLETED', 6000, 'USD');",
    )
    .execute(pool)
    .await
    .expect("items");
}

#[sqlx::test]
async fn a_return_within_the_window_gets_an_rma_refund_and_restock(pool: PgPool) {
    delivered_order(&pool, 10).await;
    let alice = Actor::new("alice");
    let items = vec![("SKU-R".to_string(), 1)];
    let opened = returns::open(
        &pool,
        &alice,
        "lsn-r",
        &items,
        "too small",
        false,
        30,
        Utc::now(),
    )
    .await
    .expect("open");
    assert_eq!(opened.rma_number, "RMA-LSN-R-1");
    // The same unit cannot be on two RMAs; the other one can.
    let again = returns::open(
        &pool,
        &alice,
        "LSN-R",
        &[("SKU-R".into(), 2)],
        "x",
        false,
        30,
        Utc::now(),
    )
    .await;
    assert!(
        matches!(again, Err(returns::ReturnError::BadItem(_))),
        "{again:?}"
    );
    let got = returns::receive(&pool, &alice, "RMA-LSN-R-1", 50_000)
        .await
        .expect("receive");
    assert_eq!(got.refund.amount.minor, 3000);
    assert_eq!(got.restocked, 1);
    let on_hand: i32 = sqlx::query_scalar("SELECT stock_on_hand FROM products WHERE id = 1")
        .fetch_one(&pool)
        .await
        .expect("product");
    assert_eq!(on_hand, 6);
    let command: i64 =
        sqlx::query_scalar("SELECT count(*) FROM commands WHERE kind = 'paypal_refund'")
            .fetch_one(&pool)
            .await
            .expect("commands");
    assert_eq!(command, 1, "the refund goes through the outbox");
    let twice = returns::receive(&pool, &alice, "RMA-LSN-R-1", 50_000).await;
    assert!(matches!(
        twice,
        Err(returns::ReturnError::AlreadyReceived(_))
    ));

    // A defective return flags the product and does not restock it.
    returns::open(
        &pool,
        &alice,
        "LSN-R",
        &[("SKU-R".into(), 1)],
        "cracked",
        true,
        30,
        Utc::now(),
    )
    .await
    .expect("open defective");
    let got = returns::receive(&pool, &alice, "RMA-LSN-R-2", 50_000)
        .await
        .expect("receive");
    assert_eq!(
        (got.restocked, got.flagged.clone()),
        (0, vec!["SKU-R".to_string()])
    );
    let flagged: Option<String> =
        sqlx::query_scalar("SELECT quality_review_reason FROM products WHERE id = 1")
            .fetch_one(&pool)
            .await
            .expect("product");
    assert!(flagged.is_some_and(|r| r.contains("RMA-LSN-R-2")));
}

#[sqlx::test]
async fn a_return_after_the_window_is_refused_with_the_date(pool: PgPool) {
    delivered_order(&pool, 31).await;
    let r = returns::open(
        &pool,
        &Actor::new("alice"),
        "LSN-R",
        &[("SKU-R".into(), 1)],
        "late",
        false,
        30,
        Utc::now(),
    )
    .await;
    let message = r
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(message.contains("return window closed on"), "{message}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM returns")
        .fetch_one(&pool)
        .await
        .expect("returns");
    assert_eq!(rows, 0);
    // A viewer may not open one at all.
    let viewer = returns::open(
        &pool,
        &Actor::new("vic"),
        "LSN-R",
        &[("SKU-R".into(), 1)],
        "x",
        false,
        90,
        Utc::now(),
    )
    .await;
    assert!(
        matches!(viewer, Err(returns::ReturnError::Refused(_))),
        "{viewer:?}"
    );
}

#[sqlx::test]
async fn oversell_is_raised_the_moment_it_happens_with_the_orders_newest_first(pool: PgPool) {
    sqlx::raw_sql(
        "INSERT INTO customers (id, email, name, country) VALUES (1, 'o@example.com', 'O', 'US');
         INSERT INTO products (id, sku, name, currency, price_minor, cost_minor, stock_on_hand, stock_reserved, reorder_point)
              VALUES (1, 'SKU-O', 'Lamp', 'USD', 1000, 100, 3, 0, 2);
         INSERT INTO orders (id, order_number, customer_id, status, currency, subtotal_minor, total_minor, email, paid_at, created_at)
              VALUES (1, 'LSN-O1', 1, 'paid', 'USD', 2000, 2000, 'o@example.com', now(), now() - interval '2 minutes'),
                     (2, 'LSN-O2', 1, 'paid', 'USD', 2000, 2000, 'o@example.com', now(), now() - interval '1 minute');
         INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor)
              VALUES (1, 1, 2, 1000, 100), (2, 1, 2, 1000, 100);",
    )
    .execute(&pool)
    .await
    .expect("rows");
    let mut tx = pool.begin().await.expect("tx");
    stock::reserve_order(&mut tx, 1, "worker")
        .await
        .expect("reserve 1");
    tx.commit().await.expect("commit");
    let alerts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM alerts WHERE rule_key = 'inventory_oversold'")
            .fetch_one(&pool)
            .await
            .expect("alerts");
    assert_eq!(alerts, 0, "2 of 3 reserved is not an oversell");
    let mut tx = pool.begin().await.expect("tx");
    stock::reserve_order(&mut tx, 2, "worker")
        .await
        .expect("reserve 2");
    tx.commit().await.expect("commit");
    let (title, details): (String, String) = sqlx::query_as(
        "SELECT title, details FROM alerts WHERE rule_key = 'inventory_oversold' AND state = 'open'",
    )
    .fetch_one(&pool)
    .await
    .expect("the oversell alert");
    assert!(
        title.contains("SKU-O") && title.contains("4 reserved, 3 on hand"),
        "{title}"
    );
    let o2 = details.find("LSN-O2").expect("O2 listed");
    let o1 = details.find("LSN-O1").expect("O1 listed");
    assert!(o2 < o1, "newest first: {details}");
    let over = stock::oversold(&pool, 10).await.expect("oversold");
    assert_eq!(over.len(), 1);
    assert_eq!(
        over[0].orders,
        vec!["LSN-O2".to_string(), "LSN-O1".to_string()]
    );
    let moves: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stock_movements WHERE kind = 'reserve'")
            .fetch_one(&pool)
            .await
            .expect("movements");
    assert_eq!(moves, 2, "stock changes are recorded");
    // Below the reorder point: listed as low, with a purchase suggestion.
    let low = stock::low(&pool, Utc::now(), Utc::now() + Duration::days(2), 10)
        .await
        .expect("low");
    assert_eq!(low[0].sku, "SKU-O");
    let reorder = stock::reorder(&pool, Utc::now() + Duration::seconds(1), 10)
        .await
        .expect("reorder");
    // 4 sold in 14 days + reorder point 2 - (-1 available) = 7.
    assert_eq!(
        (
            reorder[0].sku.as_str(),
            reorder[0].sold_14d,
            reorder[0].suggested
        ),
        ("SKU-O", 4, 7)
    );
}

fn event(lines: usize) -> impl Strategy<Value = StockEvent> {
    let l = 0..lines;
    prop_oneof![
        l.clone().prop_map(|line| StockEvent::Capture { line }),
        (l.clone(), 0..4i32).prop_map(|(line, units)| StockEvent::Refund { line, units }),
        l.clone().prop_map(|line| StockEvent::Decline { line }),
        l.clone().prop_map(|line| StockEvent::Cancel { line }),
        l.clone().prop_map(|line| StockEvent::Ship { line }),
        (l, 0..4i32, any::<bool>()).prop_map(|(line, units, defective)| StockEvent::Return {
            line,
            units,
            defective
        }),
        (0..5i32).prop_map(|units| StockEvent::Restock { units }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    /// Any sequence of captures, refunds, declines, cancels, shipments and
    /// returns keeps on hand, reserved and sold consistent with the lines, and
    /// an oversell is reported whenever reserved exceeds on hand.
    #[test]
    fn the_stock_ledger_stays_consistent_and_reports_every_oversell(
        on_hand in 0..6i32,
        quantities in prop::collection::vec(1..4i32, 1..6),
        events in prop::collection::vec(event(6), 0..60),
    ) {
        let lines = quantities
            .iter()
            .map(|&quantity| LineUnits { quantity, ..LineUnits::default() })
            .collect();
        let mut ledger = Ledger::new(on_hand, lines);
        let mut was_oversold = false;
        for e in events {
            ledger.apply(e);
            prop_assert_eq!(ledger.check(), Ok(()), "after {:?}", e);
            let now_oversold = ledger.reserved > ledger.on_hand;
            prop_assert_eq!(ledger.oversell_reported, now_oversold);
            if now_oversold && !was_oversold {
                prop_assert!(ledger.reports > 0);
            }
            was_oversold = now_oversold;
        }
    }
}

/// Operators, a customer (payer PAYER-C), a product (on hand 5) and an order
/// `number` of 2 units at $30, `status`, created `minutes_ago`; captured
/// (`capture`) and reserved when paid.
async fn order_with(
    pool: &PgPool,
    number: &str,
    status: &str,
    minutes_ago: i64,
    capture: Option<&str>,
) -> i64 {
    sqlx::raw_sql(
        "INSERT INTO operators (name, role, created_by) VALUES ('alice', 'agent', 't'), ('vic', 'viewer', 't')
           ON CONFLICT DO NOTHING;
         INSERT INTO customers (id, email, name, country) VALUES (1, 'c@example.com', 'C', 'US') ON CONFLICT DO NOTHING;
         INSERT INTO products (id, sku, name, currency, price_minor, cost_minor, stock_on_hand, stock_reserved)
              VALUES (1, 'SKU-C', 'Lamp', 'USD', 3000, 1000, 5, 0) ON CONFLICT DO NOTHING;",
    )
    .execute(pool)
    .await
    .expect("rows");
    let at = Utc::now() - Duration::minutes(minutes_ago);
    let paid = capture.map(|_| at);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                             paypal_payer_id, created_at, paid_at)
         VALUES ($1, 1, $2, 'USD', 6000, 6000, 'c@example.com', 'PAYER-C', $3, $4) RETURNING id",
    )
    .bind(number)
    .bind(status)
    .bind(at)
    .bind(paid)
    .fetch_one(pool)
    .await
    .expect("order");
    sqlx::query(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor)
         VALUES ($1, 1, 2, 3000, 1000)",
    )
    .bind(id)
    .execute(pool)
    .await
    .expect("item");
    if let Some(capture) = capture {
        sqlx::query(
            "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at)
             VALUES ($1, $2, 'COMPLETED', 6000, 'USD', $3)",
        )
        .bind(id)
        .bind(capture)
        .bind(at)
        .execute(pool)
        .await
        .expect("payment");
        let mut tx = pool.begin().await.expect("tx");
        stock::reserve_order(&mut tx, id, "worker")
            .await
            .expect("reserve");
        tx.commit().await.expect("commit");
    }
    id
}

async fn levels(pool: &PgPool) -> (i32, i32) {
    sqlx::query_as("SELECT stock_on_hand, stock_reserved FROM products WHERE id = 1")
        .fetch_one(pool)
        .await
        .expect("product")
}

#[sqlx::test]
async fn a_cancel_releases_the_stock_at_once_and_refunds_what_is_left(pool: PgPool) {
    use lsn_ops::store::cancel::{self, CancelError};
    let id = order_with(&pool, "LSN-C1", "paid", 30, Some("CAP-C1")).await;
    assert_eq!(levels(&pool).await, (5, 2));
    // A viewer may not; over the agent limit an agent may not: nothing written.
    let viewer = cancel::cancel(&pool, &Actor::new("vic"), "LSN-C1", "asked", 50_000).await;
    assert!(matches!(viewer, Err(CancelError::Refused(_))), "{viewer:?}");
    let over = cancel::cancel(&pool, &Actor::new("alice"), "LSN-C1", "asked", 1_000).await;
    assert!(matches!(over, Err(CancelError::Refused(_))), "{over:?}");
    assert_eq!(levels(&pool).await, (5, 2), "nothing moved when refused");

    let done = cancel::cancel(
        &pool,
        &Actor::new("alice"),
        "lsn-c1",
        "customer changed mind",
        50_000,
    )
    .await
    .expect("cancel");
    assert_eq!(done.released, 2);
    assert_eq!(done.refunds.len(), 1);
    assert_eq!(done.refunds[0].amount.minor, 6000);
    assert!(
        done.refunds[0].items.is_empty(),
        "the units went back already"
    );
    assert_eq!(levels(&pool).await, (5, 0), "released at once");
    let (status, why): (String, Option<String>) =
        sqlx::query_as("SELECT status, cancel_reason FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("order");
    assert_eq!(
        (status.as_str(), why.as_deref()),
        ("cancelled", Some("customer changed mind"))
    );
    let (kind, delta, reason, by): (String, i32, String, String) = sqlx::query_as(
        "SELECT kind, reserved_delta, reason, operator FROM stock_movements WHERE order_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("movement");
    assert_eq!(
        (kind.as_str(), delta, reason.as_str(), by.as_str()),
        (
            "release",
            -2,
            "order cancelled: customer changed mind",
            "alice"
        )
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'order.cancel' AND entity_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    // The refund completing leaves the order cancelled and releases nothing more.
    let mut tx = pool.begin().await.expect("tx");
    lsn_ops::worker::refunds::complete_ours(&mut tx, &done.refunds[0].idempotency_key, "PPR-C1")
        .await
        .expect("complete");
    tx.commit().await.expect("commit");
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("order");
    assert_eq!(status, "cancelled");
    assert_eq!(levels(&pool).await, (5, 0));
    let again = cancel::cancel(&pool, &Actor::new("alice"), "LSN-C1", "again", 50_000).await;
    assert!(
        matches!(again, Err(CancelError::AlreadyCancelled(_))),
        "{again:?}"
    );

    // A shipped order is a return, not a cancel.
    let shipped = order_with(&pool, "LSN-C2", "shipped", 60, Some("CAP-C2")).await;
    sqlx::query("UPDATE orders SET shipped_at = now() WHERE id = $1")
        .bind(shipped)
        .execute(&pool)
        .await
        .expect("ship");
    let r = cancel::cancel(&pool, &Actor::new("alice"), "LSN-C2", "late", 50_000).await;
    assert!(
        matches!(&r, Err(e @ CancelError::Shipped { .. }) if e.to_string().contains("open a return")),
        "{r:?}"
    );
}

#[sqlx::test]
async fn expired_checkouts_are_cancelled_audited_and_a_late_capture_revives_the_order(
    pool: PgPool,
) {
    let old = order_with(&pool, "LSN-X1", "pending_payment", 45, None).await;
    let fresh = order_with(&pool, "LSN-X2", "pending_payment", 5, None).await;
    let paid = order_with(&pool, "LSN-X3", "paid", 90, Some("CAP-X3")).await;
    let expired = stock::expire_checkouts(&pool, Utc::now(), Duration::minutes(30), 100, "worker")
        .await
        .expect("expire");
    assert_eq!(
        expired.iter().map(|e| e.order_id).collect::<Vec<_>>(),
        vec![old],
        "only the unpaid checkout older than the timeout"
    );
    let states: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, cancel_reason FROM orders ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("orders");
    assert_eq!(
        states,
        vec![
            (old, "cancelled".into(), Some("checkout expired".into())),
            (fresh, "pending_payment".into(), None),
            (paid, "paid".into(), None),
        ]
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'order.checkout_expired' AND entity_id = $1",
    )
    .bind(old.to_string())
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    assert!(
        stock::expire_checkouts(&pool, Utc::now(), Duration::minutes(30), 100, "worker")
            .await
            .expect("again")
            .is_empty(),
        "once"
    );
    // The buyer paid after all: the capture revives the order and reserves.
    assert_eq!(levels(&pool).await, (5, 2));
    sqlx::query(
        "INSERT INTO provider_events (provider, event_id, event_type, payload)
         VALUES ('paypal', 'WH-X1', 'PAYMENT.CAPTURE.COMPLETED', $1)",
    )
    .bind(serde_json::json!({ "id": "WH-X1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type": "capture",
        "resource": { "id": "CAP-X1", "status": "COMPLETED", "custom_id": "LSN-X1",
                      "amount": { "currency_code": "USD", "value": "60.00" },
                      "create_time": Utc::now().to_rfc3339() } }))
    .execute(&pool)
    .await
    .expect("event");
    lsn_ops::worker::apply::apply_due(&pool, lsn_ops::worker::apply::ApplySettings::default(), 10)
        .await
        .expect("apply");
    let (status, why): (String, Option<String>) =
        sqlx::query_as("SELECT status, cancel_reason FROM orders WHERE id = $1")
            .bind(old)
            .fetch_one(&pool)
            .await
            .expect("order");
    assert_ne!(status, "cancelled");
    assert_eq!(why, None);
    assert_eq!(levels(&pool).await, (5, 4), "its units reserved");
}

#[sqlx::test]
async fn the_one_key_refund_of_a_duplicate_checks_it_again_at_the_store(pool: PgPool) {
    use lsn_ops::store::refunds::{self, RefundError};
    let window = Duration::minutes(10);
    let first = order_with(&pool, "LSN-D1", "paid", 20, Some("CAP-D1")).await;
    let later = order_with(&pool, "LSN-D2", "paid", 17, Some("CAP-D2")).await;
    // Another order of the payer, long after: not a duplicate.
    order_with(&pool, "LSN-D3", "paid", 1, Some("CAP-D3")).await;
    assert_eq!(levels(&pool).await, (5, 6));
    let found = orders::duplicates(&pool, Utc::now(), 7, window, 100)
        .await
        .expect("duplicates");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (
            found[0].later_capture.as_str(),
            found[0].first_order.as_str(),
            found[0].refundable_minor
        ),
        ("CAP-D2", "LSN-D1", 6000)
    );
    let viewer =
        refunds::refund_duplicate(&pool, &Actor::new("vic"), "CAP-D2", 6000, window, 50_000).await;
    assert!(matches!(viewer, Err(RefundError::Refused(_))), "{viewer:?}");
    let changed =
        refunds::refund_duplicate(&pool, &Actor::new("alice"), "CAP-D2", 5000, window, 50_000)
            .await;
    assert!(matches!(changed, Err(RefundError::Stale(_))), "{changed:?}");
    let not_dup =
        refunds::refund_duplicate(&pool, &Actor::new("alice"), "CAP-D3", 6000, window, 50_000)
            .await;
    assert!(matches!(not_dup, Err(RefundError::Stale(_))), "{not_dup:?}");
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM refunds")
        .fetch_one(&pool)
        .await
        .expect("refunds");
    assert_eq!(none, 0, "refusals write nothing");

    let done =
        refunds::refund_duplicate(&pool, &Actor::new("alice"), "CAP-D2", 6000, window, 50_000)
            .await
            .expect("refund the later charge");
    assert_eq!(done.order_number, "LSN-D2");
    assert_eq!(done.amount.minor, 6000);
    assert_eq!(
        done.items,
        vec![("SKU-C".to_string(), 2)],
        "a second order's items go back"
    );
    let (reason, by): (String, String) =
        sqlx::query_as("SELECT reason, requested_by FROM refunds WHERE id = $1")
            .bind(done.refund_id)
            .fetch_one(&pool)
            .await
            .expect("refund");
    assert_eq!(
        (reason.as_str(), by.as_str()),
        ("duplicate charge of LSN-D1", "alice")
    );
    let commands: i64 =
        sqlx::query_scalar("SELECT count(*) FROM commands WHERE kind = 'paypal_refund'")
            .fetch_one(&pool)
            .await
            .expect("commands");
    assert_eq!(commands, 1, "through the outbox");
    // Listed still (until PayPal completes it), with nothing left; a second R is refused.
    let found = orders::duplicates(&pool, Utc::now(), 7, window, 100)
        .await
        .expect("duplicates");
    assert_eq!(found[0].refundable_minor, 0);
    let twice =
        refunds::refund_duplicate(&pool, &Actor::new("alice"), "CAP-D2", 6000, window, 50_000)
            .await;
    assert!(
        matches!(twice, Err(RefundError::NothingLeft { .. })),
        "{twice:?}"
    );
    // Completed: the later order's units go back; the first order keeps its own.
    let mut tx = pool.begin().await.expect("tx");
    lsn_ops::worker::refunds::complete_ours(&mut tx, &done.idempotency_key, "PPR-D2")
        .await
        .expect("complete");
    tx.commit().await.expect("commit");
    assert_eq!(levels(&pool).await, (5, 4));
    let _ = (first, later);
}

#[sqlx::test]
async fn a_second_capture_of_one_order_refunded_leaves_the_order_and_its_stock_alone(pool: PgPool) {
    use lsn_ops::store::refunds;
    let id = order_with(&pool, "LSN-S1", "shipped", 30, Some("CAP-S1")).await;
    sqlx::query(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at)
         VALUES ($1, 'CAP-S1B', 'COMPLETED', 6000, 'USD', now() - interval '29 minutes')",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("the second charge");
    let done = refunds::refund_duplicate(
        &pool,
        &Actor::new("alice"),
        "CAP-S1B",
        6000,
        Duration::minutes(10),
        50_000,
    )
    .await
    .expect("refund the second charge");
    assert_eq!(done.capture_id, "CAP-S1B");
    assert!(done.items.is_empty(), "the order stands: no item goes back");
    let mut tx = pool.begin().await.expect("tx");
    lsn_ops::worker::refunds::complete_ours(&mut tx, &done.idempotency_key, "PPR-S1B")
        .await
        .expect("complete");
    tx.commit().await.expect("commit");
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("order");
    assert_eq!(
        status, "shipped",
        "one capture of two went back, not the order"
    );
    assert_eq!(levels(&pool).await, (5, 2));
}

/// Migration 0014 lands before another branch's 0013: a database migrated
/// here then lacks 0013 below its newest. The check names the gap (and
/// `lsn-ops migrate` fills it: sqlx applies any migration not yet applied).
#[sqlx::test]
async fn a_gap_below_the_newest_migration_is_named(pool: PgPool) {
    lsn_ops::store::check_migrated(&pool)
        .await
        .expect("all applied");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 12")
        .execute(&pool)
        .await
        .expect("forget 12");
    let e = lsn_ops::store::check_migrated(&pool)
        .await
        .expect_err("a gap");
    assert!(
        e.to_string()
            .contains("lacks migration 12: run `lsn-ops migrate`"),
        "{e}"
    );
}
