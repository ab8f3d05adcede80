//! Issue 13, tried as a new user would: in `lsn-ops demo` (the worker and the
//! PayPal simulator with its webhooks running), `:order` a customer's email
//! from the seed, open their newest order from the list, refund one item
//! partially with a reason (the amount shown and confirmed first), and watch
//! the refund land (the simulator's answer and webhook) and the item's stock
//! go back up, on screen and in the database. Then `:duplicates` shows a
//! planted duplicate charge and `R`, `y` refunds the later capture, reason
//! pre-filled.

mod common;

use std::time::Duration;

use common::{BIN, Dashboard, TestDb, Tmux, workdir};
use sqlx::{Connection, PgConnection};

/// The first "stock N avail" figure on the screen's line naming `sku`.
fn avail_on(screen: &str, sku: &str) -> Option<i64> {
    let line = screen.lines().find(|l| l.contains(sku))?;
    let rest = line.split("stock ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[tokio::test]
async fn order_an_email_refund_one_item_see_it_land_and_stock_come_back_then_a_duplicate() {
    let db = TestDb::create("orderui").await;
    let dir = workdir("orderui");
    db.seed(&dir);
    db.register_os_admin().await;
    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");

    // A customer with several orders whose newest is paid and not shipped,
    // with more than one unit's worth captured (a partial refund).
    type Target = (String, String, i64, String, i64, i64);
    let (email, number, order_id, sku, product_id, price): Target = sqlx::query_as(
        "WITH newest AS (
            SELECT DISTINCT ON (lower(email)) id, email, order_number, status, shipped_at, total_minor, created_at
              FROM orders ORDER BY lower(email), created_at DESC, id DESC)
         SELECT n.email, n.order_number, n.id, pr.sku, pr.id, i.unit_price_minor
           FROM newest n
           JOIN order_items i ON i.order_id = n.id AND i.id = (SELECT min(id) FROM order_items WHERE order_id = n.id)
           JOIN products pr ON pr.id = i.product_id
           JOIN payments pay ON pay.order_id = n.id
          WHERE n.status = 'paid' AND n.shipped_at IS NULL AND pay.status = 'COMPLETED'
            AND pay.refunded_minor = 0 AND n.total_minor > i.unit_price_minor
            AND i.quantity > i.released_qty
            AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = n.id)
            AND (SELECT count(*) FROM orders o2 WHERE lower(o2.email) = lower(n.email)) BETWEEN 2 AND 8
          ORDER BY n.created_at DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .expect("a seeded customer with a refundable newest order");
    // A duplicate charge, planted before the demo starts (so the PayPal
    // simulator knows the capture): another recent paid order captured again
    // 30 seconds later, same payer, same amount.
    let (dup_order, dup_amount): (String, i64) = sqlx::query_as(
        "WITH o AS (
            SELECT o.id, o.order_number, p.amount_minor, p.created_at FROM orders o JOIN payments p ON p.order_id = o.id
             WHERE o.status = 'paid' AND o.paypal_payer_id IS NOT NULL AND o.id <> $1
               AND p.status = 'COMPLETED' AND p.refunded_minor = 0
               AND p.created_at < now() - interval '10 minutes'
             ORDER BY p.created_at DESC LIMIT 1),
         planted AS (
            INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at, updated_at)
            SELECT id, 'CAPDUP-E2E-1', 'COMPLETED', amount_minor, 'USD', created_at + interval '30 seconds',
                   created_at + interval '30 seconds' FROM o RETURNING order_id)
         SELECT order_number, amount_minor FROM o",
    )
    .bind(order_id)
    .fetch_one(&mut conn)
    .await
    .expect("a planted duplicate");

    let env: &[(&str, &str)] = &[("LSN_OPS_TUI__REFRESH_MS", "500")];
    let t = Tmux::start_script(
        &Dashboard {
            tag: "orderui",
            width: 140,
            height: 40,
            operator: "",
            env,
        },
        &dir,
        &db.url(),
        &format!(
            "{BIN} --config {} demo; echo EXIT=$?; sleep 600",
            dir.join("config.toml").display()
        ),
    );
    let me = lsn_ops::identity::os_account();
    t.wait_text(&format!("{me} (admin)"), Duration::from_secs(180))
        .await;

    // :order EMAIL lists the customer's orders, newest first; open ours.
    let command = format!(":order {email}");
    t.keys(&[command.as_str(), "Enter"]);
    let s = t
        .wait_for("the customer's orders", Duration::from_secs(20), |s| {
            s.contains("newest first") && s.contains(&number)
        })
        .await;
    let listed: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("LSN-") && l.contains(&email))
        .collect();
    let at = listed
        .iter()
        .position(|l| l.contains(&number))
        .expect("our order listed");
    for _ in 0..at {
        t.keys(&["j"]);
    }
    t.keys(&["Enter"]);
    let s = t
        .wait_for("the order view", Duration::from_secs(20), |s| {
            s.contains(&format!("Order {number}")) && s.contains(&sku) && s.contains("refundable")
        })
        .await;
    let avail_before = avail_on(&s, &sku).expect("the item's stock on screen");
    let (on_hand, reserved): (i32, i32) =
        sqlx::query_as("SELECT stock_on_hand, stock_reserved FROM products WHERE id = $1")
            .bind(product_id)
            .fetch_one(&mut conn)
            .await
            .expect("product");
    assert_eq!(
        avail_before,
        i64::from(on_hand - reserved),
        "the screen shows the database's stock:\n{s}"
    );

    // R on the first item: its price is pre-filled; a reason, then the
    // amount is shown for confirmation before anything goes.
    t.keys(&["R"]);
    t.wait_text(" Refund ", Duration::from_secs(10)).await;
    t.keys(&["Arrived broken", "Enter"]);
    let amount = format!("{}.{:02}", price / 100, price % 100);
    let s = t
        .wait_text(
            &format!("Refund {amount} USD to the buyer through PayPal?"),
            Duration::from_secs(10),
        )
        .await;
    assert!(s.contains(&format!("1 x {sku} back to stock")), "{s}");
    t.keys(&["Enter"]);
    t.wait_text("queued for PayPal", Duration::from_secs(15))
        .await;
    // The worker sends it; PayPal's answer and webhook complete it, and the
    // unit's reservation is released: on screen, the refund line turns
    // completed and the item says it was given back.
    let s = t
        .wait_for("the refund landing", Duration::from_secs(60), |s| {
            s.lines()
                .any(|l| l.contains("completed") && l.contains("Arrived broken"))
                && s.contains("1 given back")
        })
        .await;
    let (status, paypal_id, refunded, stock_released): (String, Option<String>, i64, bool) =
        sqlx::query_as(
            "SELECT r.status, r.paypal_refund_id, p.refunded_minor, r.stock_released_at IS NOT NULL
               FROM refunds r JOIN payments p ON p.id = r.payment_id
              WHERE r.order_id = $1 AND r.reason = 'Arrived broken'",
        )
        .bind(order_id)
        .fetch_one(&mut conn)
        .await
        .expect("the refund");
    assert_eq!(status, "completed");
    assert!(paypal_id.is_some(), "PayPal's refund id recorded");
    assert_eq!(refunded, price, "a partial refund of one item");
    assert!(stock_released);
    let (delta, reason): (i32, String) = sqlx::query_as(
        "SELECT m.reserved_delta, m.reason FROM stock_movements m JOIN order_items i ON i.id = m.order_item_id
          WHERE m.order_id = $1 AND m.kind = 'release' AND i.product_id = $2",
    )
    .bind(order_id)
    .bind(product_id)
    .fetch_one(&mut conn)
    .await
    .expect("the stock movement");
    assert_eq!(delta, -1, "one unit released ({reason})");
    // The stock on screen: one more available, or what the database says now
    // if demo traffic moved this product meanwhile.
    let (on_hand, reserved): (i32, i32) =
        sqlx::query_as("SELECT stock_on_hand, stock_reserved FROM products WHERE id = $1")
            .bind(product_id)
            .fetch_one(&mut conn)
            .await
            .expect("product");
    let others: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock_movements WHERE product_id = $1 AND (order_id IS DISTINCT FROM $2)",
    )
    .bind(product_id)
    .bind(order_id)
    .fetch_one(&mut conn)
    .await
    .expect("movements");
    let want = i64::from(on_hand - reserved);
    if others == 0 {
        assert_eq!(want, avail_before + 1, "the unit is available again");
    }
    t.wait_for(
        "the stock back up on screen",
        Duration::from_secs(20),
        |s| avail_on(s, &sku) == Some(want),
    )
    .await;
    assert!(s.contains("given back"));

    // The duplicates view: the planted pair, R and y refund the later capture.
    t.escape("the order view closed", |s| {
        !s.contains(&format!("Order {number}"))
    })
    .await;
    t.keys(&[":dup", "Enter"]);
    let s = t
        .wait_for("the duplicate charge", Duration::from_secs(20), |s| {
            s.contains("Duplicate charges") && s.contains("CAPDUP-E2E-1")
        })
        .await;
    let listed: Vec<&str> = s.lines().filter(|l| l.contains("charged twice")).collect();
    let at = listed
        .iter()
        .position(|l| l.contains(&dup_order))
        .expect("the planted pair listed");
    for _ in 0..at {
        t.keys(&["j"]);
    }
    t.wait_text("CAPDUP-E2E-1 at", Duration::from_secs(10))
        .await;
    t.keys(&["R"]);
    let dollars = lsn_ops::domain::money::display_minor(dup_amount, "USD");
    let s = t
        .wait_text(
            &format!("Refund {dollars} to the buyer through PayPal?"),
            Duration::from_secs(10),
        )
        .await;
    assert!(
        s.contains(&format!("duplicate charge of {dup_order}")),
        "{s}"
    );
    t.keys(&["y"]);
    t.wait_text("(CAPDUP-E2E-1) queued for PayPal", Duration::from_secs(15))
        .await;
    let mut landed = None;
    for _ in 0..120 {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT r.status, r.reason, p.refunded_minor FROM refunds r JOIN payments p ON p.id = r.payment_id
              WHERE p.capture_id = 'CAPDUP-E2E-1'",
        )
        .fetch_optional(&mut conn)
        .await
        .expect("duplicate refund");
        if row.as_ref().is_some_and(|r| r.0 == "completed") {
            landed = row;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, reason, refunded) = landed.expect("the duplicate's refund completed");
    assert_eq!(reason, format!("duplicate charge of {dup_order}"));
    assert_eq!(refunded, dup_amount);
    let first_left: i64 = sqlx::query_scalar(
        "SELECT amount_minor - refunded_minor FROM payments p JOIN orders o ON o.id = p.order_id
          WHERE o.order_number = $1 AND p.capture_id <> 'CAPDUP-E2E-1'",
    )
    .bind(&dup_order)
    .fetch_one(&mut conn)
    .await
    .expect("the first capture");
    assert_eq!(first_left, dup_amount, "the first charge is kept");
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    let _ = std::fs::remove_dir_all(&dir);
}
