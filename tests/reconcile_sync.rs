//! Reconciliation: a capture stuck PENDING is asked about (once per window),
//! PayPal's answer goes through the inbox, and the applier pays the order.

use chrono::{Duration, Utc};
use lsn_ops::config::Config;
use lsn_ops::domain::operators::Actor;
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{SimConfig, Simulators};
use lsn_ops::worker::apply::{ApplySettings, apply_due};
use lsn_ops::worker::commands::{Clients, execute_due};
use lsn_ops::worker::reconcile::{enqueue_due, enqueue_due_for};
use sqlx::PgPool;

#[sqlx::test]
async fn a_stuck_capture_is_synced_once_per_window_and_applied(pool: PgPool) {
    let customer: i64 = sqlx::query_scalar("INSERT INTO customers (email, name, country) VALUES ('s@example.com', 'S', 'US') RETURNING id")
        .fetch_one(&pool)
        .await
        .expect("customer");
    let order: i64 = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email)
         VALUES ('SYNC-1', $1, 'pending_payment', 'USD', 3000, 3000, 's@example.com') RETURNING id",
    )
    .bind(customer)
    .fetch_one(&pool)
    .await
    .expect("order");
    sqlx::query(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at, updated_at)
         VALUES ($1, 'CAPSYNC1', 'PENDING', 3000, 'USD', now() - interval '30 minutes', now() - interval '30 minutes'),
                ($1, 'CAPFRESH', 'PENDING', 3000, 'USD', now(), now())",
    )
    .bind(order)
    .execute(&pool)
    .await
    .expect("payments");

    sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ('carol', 'admin', 't')")
        .execute(&pool)
        .await
        .expect("operator");
    let now = Utc::now();
    assert_eq!(
        enqueue_due(&pool, now).await.expect("enqueue"),
        1,
        "only the stuck capture"
    );
    assert_eq!(
        enqueue_due_for(&pool, now, &Actor::new("carol"))
            .await
            .expect("enqueue"),
        0,
        "once per window"
    );
    assert_eq!(
        enqueue_due(&pool, now + Duration::minutes(11))
            .await
            .expect("enqueue"),
        2,
        "asked again next window, with the other capture now stuck too"
    );

    let sims = Simulators::start(SimConfig::default())
        .await
        .expect("simulators");
    sims.paypal
        .register_capture("CAPSYNC1", "SYNC-1", 3000, "USD");
    sims.paypal
        .register_capture("CAPFRESH", "SYNC-1", 3000, "USD");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    assert_eq!(execute_due(&pool, &clients, 10).await.expect("execute"), 3);
    let synced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM provider_events WHERE payload->>'source' = 'sync'",
    )
    .fetch_one(&pool)
    .await
    .expect("inbox");
    assert_eq!(synced, 2, "the same answer twice is one inbox event");
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    let (status, payment): (String, String) = sqlx::query_as(
        "SELECT o.status, p.status FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.capture_id = 'CAPSYNC1'",
    )
    .fetch_one(&pool)
    .await
    .expect("order");
    assert_eq!((status.as_str(), payment.as_str()), ("paid", "COMPLETED"));
    sims.shutdown().await;
}
