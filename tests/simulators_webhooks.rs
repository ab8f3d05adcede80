//! The simulators against the real worker: their webhooks pass the worker's
//! signature checks (PayPal offline with the simulator's certificate, Wise
//! with the simulator's key, Twilio HMAC over `public_base_url`), land in the
//! inbox once each even when delivered twice or out of order, and the
//! applier turns them into the domain effects; the executor's calls and the
//! webhooks they cause meet in the same rows.

use std::sync::Arc;
use std::time::Duration;

use lsn_ops::config::{Config, PaypalVerify};
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{Knobs, SimConfig, Simulators, WebhookTarget};
use lsn_ops::store::outbox::{CommandKind, enqueue};
use lsn_ops::worker::apply::{ApplySettings, apply_due};
use lsn_ops::worker::commands::{Clients, ExecOptions, execute_due_with};
use lsn_ops::worker::{AppState, Settings, system_clock};
use serde_json::json;
use sqlx::PgPool;
use tokio::net::TcpListener;

struct Running {
    worker_url: String,
    sims: Simulators,
    clients: Clients,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The worker's webhook server on loopback and the simulators delivering to it.
async fn start(pool: &PgPool, knobs: Knobs) -> Running {
    start_with(pool, knobs, PaypalVerify::Offline).await
}

async fn start_with(pool: &PgPool, knobs: Knobs, verify: PaypalVerify) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let sims = Simulators::start(SimConfig {
        knobs,
        webhooks: Some(WebhookTarget::local(&base)),
    })
    .await
    .expect("simulators");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    config.paypal.verify = verify;
    config.worker.public_base_url = base.clone();
    let settings = Settings::from_config(&config).expect("settings");
    let state = Arc::new(AppState::new(pool.clone(), settings, system_clock()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(lsn_ops::worker::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    Running {
        worker_url: base,
        sims,
        clients,
        stop: Some(stop),
    }
}

impl Running {
    /// Waits (bounded) until the simulators have emitted `n` webhooks and
    /// finished delivering all of them.
    async fn delivered(&self, n: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.sims.stats();
            let stats = [all.paypal.common, all.wise.common, all.twilio.common];
            let queued: u64 = stats.iter().map(|c| c.webhooks_queued).sum();
            let done: u64 = stats.iter().map(|c| c.webhooks_settled).sum();
            if queued >= n && done >= queued {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {done} of {n} webhooks delivered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn failed(&self) -> u64 {
        self.sims.paypal.stats().common.webhooks_failed
            + self.sims.wise.stats().common.webhooks_failed
            + self.sims.twilio.stats().common.webhooks_failed
    }

    async fn stop(mut self) {
        self.sims.shutdown().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A creator with verified bank details at the Wise simulator, an order
/// awaiting payment, today's show with its room name, and a payout line.
async fn domain(pool: &PgPool, recipient: i64) -> (i64, String) {
    let creator: i64 = sqlx::query_scalar(
        "INSERT INTO creators (handle, display_name, tier, commission_bps, wise_recipient_id, recipient_status)
         VALUES ('ava', 'Ava', 'gold', 2000, $1, 'verified') RETURNING id",
    )
    .bind(recipient)
    .fetch_one(pool)
    .await
    .expect("creator");
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ('b@example.com', 'B', 'US') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("customer");
    let product: i64 = sqlx::query_scalar(
        "INSERT INTO products (sku, name, creator_id, currency, price_minor, cost_minor, stock_on_hand)
         VALUES ('SKU-1', 'Mug', $1, 'USD', 2500, 1000, 40) RETURNING id",
    )
    .bind(creator)
    .fetch_one(pool)
    .await
    .expect("product");
    let order: i64 = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor, email,
                             ip, ip_country, billing_country, shipping_country)
         VALUES ('ORD-1', $1, $2, 'pending_payment', 'USD', 5000, 5000, 'b@example.com', '203.0.113.7', 'US', 'US', 'US')
         RETURNING id",
    )
    .bind(customer)
    .bind(creator)
    .fetch_one(pool)
    .await
    .expect("order");
    sqlx::query("INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor) VALUES ($1, $2, 2, 2500, 1000)")
        .bind(order)
        .bind(product)
        .execute(pool)
        .await
        .expect("order item");
    sqlx::query(
        "INSERT INTO shows (creator_id, title, scheduled_start, scheduled_end, status, twilio_room_name)
         VALUES ($1, 'Mugs live', now() - interval '5 minutes', now() + interval '1 hour', 'preshow', 'show-1')",
    )
    .bind(creator)
    .execute(pool)
    .await
    .expect("show");
    let batch: i64 = sqlx::query_scalar(
        "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency)
         VALUES (now() - interval '7 days', now(), now(), 'processing', 'USD') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("batch");
    let ctid = uuid::Uuid::new_v4().to_string();
    let item: i64 = sqlx::query_scalar(
        "INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, customer_transaction_id)
         VALUES ($1, $2, 'earnings', 'USD', 2000, 12345, $3::uuid) RETURNING id",
    )
    .bind(batch)
    .bind(creator)
    .bind(&ctid)
    .fetch_one(pool)
    .await
    .expect("payout item");
    (item, ctid)
}

async fn inbox(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT provider, count(*) FROM provider_events GROUP BY provider ORDER BY provider",
    )
    .fetch_all(pool)
    .await
    .expect("inbox")
}

async fn traffic(pool: &PgPool, knobs: Knobs) {
    let run = start(pool, knobs).await;
    let recipient = run.sims.wise.add_recipient("USD", "Ava Creator");
    let (item, ctid) = domain(pool, recipient).await;

    // PayPal: a capture (1 webhook). Twilio: a room, the creator joins, it ends (3).
    let capture = run.sims.paypal.create_capture("ORD-1", 5000, "USD");
    let room = run.sims.twilio.create_room("show-1");
    assert!(run.sims.twilio.connect(&room, "ava"));
    // Wise: the executor pays the payout line (4 state changes).
    let mut tx = pool.begin().await.expect("begin");
    enqueue(
        &mut tx,
        CommandKind::WiseTransfer,
        &format!("payout-item:{item}"),
        &json!({ "payout_item_id": item }),
        "finance",
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    let handled = execute_due_with(pool, &run.clients, &ExecOptions::default(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 1);
    run.delivered(7).await;
    assert!(run.sims.twilio.end_room(&room));
    run.delivered(8).await;
    assert_eq!(run.failed(), 0, "every webhook was accepted");
    let duplicated: u64 = [
        run.sims.paypal.stats().common,
        run.sims.wise.stats().common,
        run.sims.twilio.stats().common,
    ]
    .iter()
    .map(|c| c.webhooks_duplicated)
    .sum();
    if knobs.duplicate_rate >= 1.0 {
        assert_eq!(duplicated, 8, "every webhook was delivered twice");
    } else {
        assert_eq!(duplicated, 0);
    }
    if knobs.out_of_order_rate >= 1.0 {
        // Every other Wise state change was held back behind the next one.
        assert!(run.sims.wise.stats().common.webhooks_reordered >= 2);
    }

    // One inbox row per event, however often it was delivered.
    assert_eq!(
        inbox(pool).await,
        vec![
            ("paypal".to_string(), 1),
            ("twilio".to_string(), 3),
            ("wise".to_string(), 4),
        ]
    );
    apply_due(pool, ApplySettings::default(), 100)
        .await
        .expect("apply");
    let applied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM provider_events WHERE status IN ('applied', 'ignored')",
    )
    .fetch_one(pool)
    .await
    .expect("applied");
    assert_eq!(applied, 8);

    let (pay_status, order_status): (String, String) = sqlx::query_as(
        "SELECT p.status, o.status FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.capture_id = $1",
    )
    .bind(&capture)
    .fetch_one(pool)
    .await
    .expect("payment from the webhook");
    assert_eq!(pay_status, "COMPLETED");
    assert_ne!(order_status, "pending_payment");
    let (state, wise_status): (String, Option<String>) =
        sqlx::query_as("SELECT state, wise_status FROM payout_items WHERE id = $1")
            .bind(item)
            .fetch_one(pool)
            .await
            .expect("payout item");
    assert_eq!(
        (state.as_str(), wise_status.as_deref()),
        ("sent", Some("outgoing_payment_sent")),
        "the newest Wise state wins whatever the delivery order"
    );
    assert_eq!(run.sims.wise.transfers_for(&ctid).len(), 1);
    let (room_sid, show_status): (Option<String>, String) = sqlx::query_as(
        "SELECT twilio_room_sid, status FROM shows WHERE twilio_room_name = 'show-1'",
    )
    .fetch_one(pool)
    .await
    .expect("show");
    assert_eq!(room_sid.as_deref(), Some(room.as_str()));
    assert_eq!(show_status, "ended");
    run.stop().await;
}

#[sqlx::test]
async fn signed_webhooks_reach_the_inbox_and_apply(pool: PgPool) {
    traffic(&pool, Knobs::default()).await;
}

#[sqlx::test]
async fn duplicated_and_reordered_deliveries_change_nothing(pool: PgPool) {
    let knobs = Knobs {
        duplicate_rate: 1.0,
        out_of_order_rate: 1.0,
        ..Knobs::default()
    };
    traffic(&pool, knobs).await;
}

/// A paid order (its capture's webhook applied) with a requested refund of
/// 20.00 and its command enqueued. Returns (refund row id, capture id).
async fn refund_requested(pool: &PgPool, run: &Running) -> (i64, String) {
    let recipient = run.sims.wise.add_recipient("USD", "Ava Creator");
    domain(pool, recipient).await;
    let capture = run.sims.paypal.create_capture("ORD-1", 5000, "USD");
    run.delivered(1).await;
    apply_due(pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    let (order, payment): (i64, i64) =
        sqlx::query_as("SELECT order_id, id FROM payments WHERE capture_id = $1")
            .bind(&capture)
            .fetch_one(pool)
            .await
            .expect("payment from the capture webhook");
    let mut tx = pool.begin().await.expect("begin");
    let refund: i64 = sqlx::query_scalar(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, reason, requested_by, idempotency_key)
         VALUES ($1, $2, 2000, 'USD', 'damaged', 'alice', 'refund:ORD-1:1') RETURNING id",
    )
    .bind(order)
    .bind(payment)
    .fetch_one(&mut *tx)
    .await
    .expect("refund");
    enqueue(
        &mut tx,
        CommandKind::PaypalRefund,
        "refund:ORD-1:1",
        &json!({ "refund_id": refund }),
        "alice",
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    (refund, capture)
}

/// Refund rows of the order and what the payment counts as refunded.
async fn refund_books(pool: &PgPool, capture: &str) -> (i64, i64, String) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM refunds r WHERE r.payment_id = p.id), p.refunded_minor, p.status
           FROM payments p WHERE p.capture_id = $1",
    )
    .bind(capture)
    .fetch_one(pool)
    .await
    .expect("books")
}

#[sqlx::test]
async fn refund_recorded_before_its_webhook_is_counted_once(pool: PgPool) {
    let run = start(&pool, Knobs::default()).await;
    let (refund, capture) = refund_requested(&pool, &run).await;
    let handled = execute_due_with(&pool, &run.clients, &ExecOptions::default(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 1);
    run.delivered(2).await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    assert_eq!(
        refund_books(&pool, &capture).await,
        (1, 2000, "PARTIALLY_REFUNDED".to_string())
    );
    let (status, paypal_id): (String, Option<String>) =
        sqlx::query_as("SELECT status, paypal_refund_id FROM refunds WHERE id = $1")
            .bind(refund)
            .fetch_one(&pool)
            .await
            .expect("refund");
    assert_eq!(status, "completed");
    let made = run.sims.paypal.refunds_for_request_id("refund:ORD-1:1");
    assert_eq!(made.len(), 1);
    assert_eq!(paypal_id.as_deref(), Some(made[0].id.as_str()));
    run.stop().await;
}

#[sqlx::test]
async fn refund_webhook_applied_while_the_executor_was_down_is_folded_in(pool: PgPool) {
    let run = start(&pool, Knobs::default()).await;
    let (refund, capture) = refund_requested(&pool, &run).await;
    // The executor dies right after PayPal made the refund...
    let (hook, mut called) = tokio::sync::mpsc::unbounded_channel();
    let options = ExecOptions {
        crash_after_call: Some(hook),
        ..ExecOptions::default()
    };
    let task = {
        let pool = pool.clone();
        let clients = run.clients.clone();
        tokio::spawn(async move {
            lsn_ops::worker::commands::execute_next(&pool, &clients, &options).await
        })
    };
    called.recv().await.expect("the refund was sent");
    task.abort();
    let _ = task.await;
    // ...PayPal's REFUNDED webhook arrives and is applied meanwhile...
    run.delivered(2).await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    // The webhook carries our key as custom_id: the applier completes our
    // own row (no row of its own) and counts it once.
    assert_eq!(
        refund_books(&pool, &capture).await,
        (1, 2000, "PARTIALLY_REFUNDED".to_string()),
        "the applier completed our refund row"
    );
    // ...and the restarted executor re-sends with the same key: nothing more.
    sqlx::query("UPDATE commands SET next_attempt_at = now() - interval '1 second' WHERE state = 'in_flight'")
        .execute(&pool)
        .await
        .expect("lease over");
    let handled = execute_due_with(&pool, &run.clients, &ExecOptions::default(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 1);
    assert_eq!(
        refund_books(&pool, &capture).await,
        (1, 2000, "PARTIALLY_REFUNDED".to_string()),
        "one refund row, counted once"
    );
    let (status, paypal_id): (String, Option<String>) =
        sqlx::query_as("SELECT status, paypal_refund_id FROM refunds WHERE id = $1")
            .bind(refund)
            .fetch_one(&pool)
            .await
            .expect("refund");
    let made = run.sims.paypal.refunds_for_request_id("refund:ORD-1:1");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].requests, 2);
    assert_eq!(
        (status.as_str(), paypal_id.as_deref()),
        ("completed", Some(made[0].id.as_str()))
    );
    run.stop().await;
}

#[sqlx::test]
async fn paypal_webhooks_verify_through_the_simulated_verify_api(pool: PgPool) {
    let run = start_with(&pool, Knobs::default(), PaypalVerify::Api).await;
    run.sims.paypal.create_capture("ORD-404", 100, "USD");
    run.delivered(1).await;
    assert_eq!(run.failed(), 0);
    assert_eq!(inbox(&pool).await, vec![("paypal".to_string(), 1)]);
    assert_eq!(run.sims.paypal.stats().verifications, 1);

    // A delivery the simulator never sent is refused.
    let forged = json!({ "id": "WH-FORGED", "event_type": "PAYMENT.CAPTURE.COMPLETED",
                         "create_time": "2026-11-24T10:00:00Z", "resource": {} });
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/paypal", run.worker_url))
        .header("content-type", "application/json")
        .header("PAYPAL-TRANSMISSION-ID", uuid::Uuid::new_v4().to_string())
        .header(
            "PAYPAL-TRANSMISSION-TIME",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .header("PAYPAL-TRANSMISSION-SIG", "Zm9yZ2Vk")
        .header("PAYPAL-CERT-URL", run.sims.paypal.cert_url())
        .header("PAYPAL-AUTH-ALGO", "SHA256withRSA")
        .body(forged.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status().as_u16(), 401);
    assert_eq!(run.sims.paypal.stats().verifications, 2);
    assert_eq!(inbox(&pool).await, vec![("paypal".to_string(), 1)]);
    run.stop().await;
}

/// Accepting a claim: PayPal refunds the buyer itself and sends
/// PAYMENT.CAPTURE.REFUNDED for a refund we did not ask for (no custom_id of
/// ours). The worker takes it for the accepted claim's refund: one refund,
/// counted once, named with PayPal's refund id.
#[sqlx::test]
async fn an_accepted_claims_refund_webhook_is_counted_once(pool: PgPool) {
    let run = start(&pool, Knobs::default()).await;
    let recipient = run.sims.wise.add_recipient("USD", "Ava Creator");
    domain(&pool, recipient).await;
    let capture = run.sims.paypal.create_capture("ORD-1", 5000, "USD");
    let dispute = run
        .sims
        .paypal
        .open_dispute(&capture, "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", 10)
        .expect("dispute");
    run.delivered(2).await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ('fiona', 'finance', 'test')",
    )
    .execute(&pool)
    .await
    .expect("operator");
    let accepted = lsn_ops::store::disputes::accept(
        &pool,
        &lsn_ops::domain::operators::Actor::new("fiona"),
        &dispute,
        "parcel lost by the carrier",
        2_000,
    )
    .await
    .expect("accept");
    let handled = execute_due_with(&pool, &run.clients, &ExecOptions::default(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 1);
    // The refund PayPal made and the dispute resolved: two more webhooks.
    run.delivered(4).await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    assert_eq!(
        refund_books(&pool, &capture).await,
        (1, 5000, "REFUNDED".to_string()),
        "one refund, counted once"
    );
    let (status, paypal_id): (String, Option<String>) =
        sqlx::query_as("SELECT status, paypal_refund_id FROM refunds WHERE id = $1")
            .bind(accepted.refund_id)
            .fetch_one(&pool)
            .await
            .expect("refund");
    assert_eq!(status, "completed");
    assert!(
        paypal_id
            .as_deref()
            .is_some_and(|id| id.starts_with("SIMREF")),
        "{paypal_id:?}"
    );
    assert_eq!(run.failed(), 0);
    run.stop().await;
}
