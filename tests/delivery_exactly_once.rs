//! Issue 4's delivery test: 2,000 webhooks made and signed by the simulators,
//! redelivered with 20% duplicates in shuffled order, concurrently, to two
//! worker instances on one database, give each domain effect exactly once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use futures::StreamExt;
use lsn_ops::config::Config;
use lsn_ops::simulators::{SimConfig, Simulators, WebhookTarget};
use lsn_ops::worker::apply::{ApplySettings, apply_due};
use lsn_ops::worker::{AppState, Settings, serve, system_clock};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// One webhook as the simulator sent it.
#[derive(Clone)]
struct Delivery {
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

type Recorded = Arc<Mutex<Vec<Delivery>>>;

/// Stands where the worker would: records every delivery and answers 200.
async fn record(
    State(recorded): State<Recorded>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let headers = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length"))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    if let Ok(mut list) = recorded.lock() {
        list.push(Delivery {
            path: uri.path().to_string(),
            headers,
            body,
        });
    }
    "ok"
}

async fn start_worker(pool: PgPool, config: &Config) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind worker");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let settings = Settings::from_config(config).expect("worker settings");
    let state = Arc::new(AppState::new(pool, settings, system_clock()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (url, stop)
}

#[sqlx::test]
async fn two_thousand_shuffled_duplicated_webhooks_two_workers_each_effect_once(pool: PgPool) {
    // The shop: one creator, a live show with a room name, a product, 1,000 orders awaiting payment.
    let creator: i64 = sqlx::query_scalar("INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('hana', 'Hana', 'gold', 2000) RETURNING id")
        .fetch_one(&pool).await.expect("creator");
    sqlx::query("INSERT INTO shows (creator_id, title, scheduled_start, scheduled_end, status, twilio_room_name) VALUES ($1, 'Live', now(), now() + interval '1 hour', 'live', 'show-live')")
        .bind(creator).execute(&pool).await.expect("show");
    let product: i64 = sqlx::query_scalar("INSERT INTO products (sku, name, creator_id, currency, price_minor, cost_minor, stock_on_hand) VALUES ('MUG', 'Mug', $1, 'USD', 1250, 500, 100000) RETURNING id")
        .bind(creator).fetch_one(&pool).await.expect("product");
    let customer: i64 = sqlx::query_scalar("INSERT INTO customers (email, name, country) VALUES ('b@example.com', 'B', 'US') RETURNING id")
        .fetch_one(&pool).await.expect("customer");
    sqlx::query(
        "WITH o AS (
           INSERT INTO orders (order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor, email, billing_country, shipping_country, ip_country)
           SELECT 'ORD-' || n, $1, $2, 'pending_payment', 'USD', 2500, 2500, 'b@example.com', 'US', 'US', 'US' FROM generate_series(1, 1000) n
           RETURNING id)
         INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor) SELECT id, $3, 2, 1250, 500 FROM o",
    )
    .bind(customer).bind(creator).bind(product).execute(&pool).await.expect("orders");

    // The simulators deliver to a recorder, which keeps every signed request.
    let recorded: Recorded = Arc::default();
    let recorder = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind recorder");
    let recorder_url = format!("http://{}", recorder.local_addr().expect("addr"));
    let app = axum::Router::new()
        .fallback(axum::routing::post(record))
        .with_state(recorded.clone());
    tokio::spawn(async move { axum::serve(recorder, app).await });
    let sims = Simulators::start(SimConfig {
        webhooks: Some(WebhookTarget::local(&recorder_url)),
        ..SimConfig::default()
    })
    .await
    .expect("simulators");

    // 2,000 distinct events: 1,000 captures, 300 disputes opened and 200 of them
    // resolved, one room created and 499 viewers connecting.
    let mut captures = Vec::new();
    for n in 1..=1000 {
        captures.push(sims.paypal.create_capture(&format!("ORD-{n}"), 2500, "USD"));
    }
    let mut disputes = Vec::new();
    for capture in captures.iter().take(300) {
        disputes.push(
            sims.paypal
                .open_dispute(capture, "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", 10)
                .expect("dispute"),
        );
    }
    for (k, dispute) in disputes.iter().take(200).enumerate() {
        assert!(sims.paypal.resolve_dispute(dispute, k % 2 == 0));
    }
    let room = sims.twilio.create_room("show-live");
    for n in 0..499 {
        assert!(sims.twilio.connect(&room, &format!("viewer-{n}")));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while recorded.lock().map(|l| l.len()).unwrap_or(0) < 2000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulators did not deliver 2,000 webhooks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut deliveries = recorded.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(deliveries.len(), 2000);

    // 20% duplicates, shuffled, sent concurrently to two workers.
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let duplicates: Vec<Delivery> = deliveries.choose_multiple(&mut rng, 400).cloned().collect();
    deliveries.extend(duplicates);
    deliveries.shuffle(&mut rng);
    let mut config = Config::default();
    sims.apply_to(&mut config);
    config.worker.public_base_url = recorder_url.clone();
    let options = pool.connect_options().as_ref().clone();
    let second_pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options)
        .await
        .expect("second pool");
    let (worker_a, stop_a) = start_worker(pool.clone(), &config).await;
    let (worker_b, stop_b) = start_worker(second_pool.clone(), &config).await;
    let client = reqwest::Client::new();
    let statuses: Vec<u16> = futures::stream::iter(deliveries.into_iter().enumerate())
        .map(|(k, d)| {
            let client = client.clone();
            let url = format!(
                "{}{}",
                if k % 2 == 0 { &worker_a } else { &worker_b },
                d.path
            );
            async move {
                let mut request = client.post(url).body(d.body);
                for (name, value) in d.headers {
                    request = request.header(name, value);
                }
                request
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(statuses.len(), 2400);
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every delivery stored or recognised: {:?}",
        statuses
            .iter()
            .filter(|s| **s != 200)
            .take(5)
            .collect::<Vec<_>>()
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_events")
        .fetch_one(&pool)
        .await
        .expect("inbox");
    assert_eq!(stored, 2000, "one inbox row per event");

    // Two appliers drain the inbox together, retrying what waited on an earlier event.
    for _ in 0..20 {
        let (a, b) = tokio::join!(
            apply_due(&pool, ApplySettings::default(), 5_000),
            apply_due(&second_pool, ApplySettings::default(), 5_000)
        );
        a.expect("applier a");
        b.expect("applier b");
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM provider_events WHERE status IN ('pending', 'failed')",
        )
        .fetch_one(&pool)
        .await
        .expect("waiting");
        if waiting == 0 {
            break;
        }
        sqlx::query("UPDATE provider_events SET next_attempt_at = now() WHERE status = 'failed'")
            .execute(&pool)
            .await
            .expect("due now");
    }
    let (applied, ignored, other): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'applied'), count(*) FILTER (WHERE status = 'ignored'),
                count(*) FILTER (WHERE status NOT IN ('applied', 'ignored')) FROM provider_events",
    )
    .fetch_one(&pool).await.expect("outcomes");
    assert_eq!(other, 0, "nothing left pending, failed or dead");
    assert_eq!(applied + ignored, 2000);

    // Each effect exactly once.
    let (paid, payments, reserved): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders WHERE paid_at IS NOT NULL), (SELECT count(*) FROM payments),
                (SELECT stock_reserved::bigint FROM products WHERE sku = 'MUG')",
    )
    .fetch_one(&pool).await.expect("payments");
    assert_eq!((paid, payments), (1000, 1000));
    assert_eq!(reserved, 2000, "two mugs reserved per order, once");
    let scores: i64 = sqlx::query_scalar("SELECT count(*) FROM fraud_scores")
        .fetch_one(&pool)
        .await
        .expect("scores");
    assert_eq!(scores, 1000, "one fraud score per captured order");
    let (disputes_n, won, lost, evidence): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE outcome = 'WON' AND state = 'CLOSED'),
                count(*) FILTER (WHERE outcome = 'LOST' AND state = 'CLOSED'),
                (SELECT count(*) FROM dispute_evidence) FROM disputes",
    )
    .fetch_one(&pool)
    .await
    .expect("disputes");
    assert_eq!((disputes_n, won + lost, evidence), (300, 200, 2100));
    let (viewers, room_sid): (i32, Option<String>) =
        sqlx::query_as("SELECT current_viewers, twilio_room_sid FROM shows")
            .fetch_one(&pool)
            .await
            .expect("show");
    assert_eq!(viewers, 499, "each viewer counted once");
    assert_eq!(room_sid.as_deref(), Some(room.as_str()));

    let _ = stop_a.send(());
    let _ = stop_b.send(());
    sims.shutdown().await;
    second_pool.close().await;
}
