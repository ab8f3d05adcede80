//! The command executor against the built-in simulators over real HTTP on
//! loopback and a real PostgreSQL: money moves once per idempotency key even
//! when the executor dies between the provider call and recording it; 429/5xx
//! are retried; permanent refusals park the command as dead with an alert.

use lsn_ops::config::Config;
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{Fault, SimConfig, Simulators};
use lsn_ops::store::outbox::{CommandKind, enqueue};
use lsn_ops::worker::commands::{Clients, ExecOptions, Outcome, execute_due_with, execute_next};
use serde_json::json;
use sqlx::PgPool;

struct Fixture {
    sims: Simulators,
    clients: Clients,
    capture_id: String,
    refund_id: i64,
    refund_key: String,
    item_id: i64,
    ctid: String,
}

/// Simulators (no webhooks), clients pointed at them, and in the database: a
/// paid order with its PayPal payment (captured at the simulator), a
/// requested refund of 20.00 out of 50.00, and an approved payout line of
/// 123.45 for a creator with verified bank details.
async fn fixture(pool: &PgPool) -> Fixture {
    let sims = Simulators::start(SimConfig::default())
        .await
        .expect("simulators start");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    let capture_id = sims.paypal.create_capture("ORD-1", 5000, "USD");
    let recipient = sims.wise.add_recipient("USD", "Ava Creator");

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
    let order: i64 = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor, email)
         VALUES ('ORD-1', $1, $2, 'paid', 'USD', 5000, 5000, 'b@example.com') RETURNING id",
    )
    .bind(customer)
    .bind(creator)
    .fetch_one(pool)
    .await
    .expect("order");
    let payment: i64 = sqlx::query_scalar(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency)
         VALUES ($1, $2, 'COMPLETED', 5000, 'USD') RETURNING id",
    )
    .bind(order)
    .bind(&capture_id)
    .fetch_one(pool)
    .await
    .expect("payment");
    let refund_key = "refund:ORD-1:1".to_string();
    let refund_id: i64 = sqlx::query_scalar(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, reason, requested_by, idempotency_key)
         VALUES ($1, $2, 2000, 'USD', 'damaged', 'alice', $3) RETURNING id",
    )
    .bind(order)
    .bind(payment)
    .bind(&refund_key)
    .fetch_one(pool)
    .await
    .expect("refund");
    let batch: i64 = sqlx::query_scalar(
        "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency)
         VALUES (now() - interval '7 days', now(), now(), 'approved', 'USD') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("batch");
    let ctid = uuid::Uuid::new_v4().to_string();
    let item_id: i64 = sqlx::query_scalar(
        "INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, customer_transaction_id)
         VALUES ($1, $2, 'earnings', 'USD', 2000, 12345, $3::uuid) RETURNING id",
    )
    .bind(batch)
    .bind(creator)
    .bind(&ctid)
    .fetch_one(pool)
    .await
    .expect("payout item");
    Fixture {
        sims,
        clients,
        capture_id,
        refund_id,
        refund_key,
        item_id,
        ctid,
    }
}

/// Enqueues the refund and the transfer commands (as an operator's
/// transaction would), returning their ids.
async fn enqueue_both(pool: &PgPool, f: &Fixture) -> (i64, i64) {
    let mut tx = pool.begin().await.expect("begin");
    let refund = enqueue(
        &mut tx,
        CommandKind::PaypalRefund,
        &f.refund_key,
        &json!({ "refund_id": f.refund_id }),
        "alice",
    )
    .await
    .expect("enqueue refund")
    .expect("new refund command");
    let transfer = enqueue(
        &mut tx,
        CommandKind::WiseTransfer,
        &format!("payout-item:{}", f.item_id),
        &json!({ "payout_item_id": f.item_id }),
        "finance",
    )
    .await
    .expect("enqueue transfer")
    .expect("new transfer command");
    // Same key again: no second command.
    let again = enqueue(
        &mut tx,
        CommandKind::PaypalRefund,
        &f.refund_key,
        &json!({ "refund_id": f.refund_id }),
        "alice",
    )
    .await
    .expect("enqueue again");
    assert_eq!(again, None);
    tx.commit().await.expect("commit");
    (refund, transfer)
}

fn fast_options() -> ExecOptions {
    ExecOptions {
        base_backoff: chrono::Duration::zero(),
        ..ExecOptions::default()
    }
}

async fn command(pool: &PgPool, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT state, attempts, last_error FROM commands WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("command row")
}

/// Runs one executor that "crashes" (is aborted) right after its provider
/// call, before recording the outcome. Returns the command it was sending.
async fn crash_after_call(pool: &PgPool, clients: &Clients) -> i64 {
    let (hook, mut called) = tokio::sync::mpsc::unbounded_channel();
    let options = ExecOptions {
        crash_after_call: Some(hook),
        ..fast_options()
    };
    let task = {
        let pool = pool.clone();
        let clients = clients.clone();
        tokio::spawn(async move { execute_next(&pool, &clients, &options).await })
    };
    let id = called
        .recv()
        .await
        .expect("the executor reached the provider");
    task.abort();
    let joined = task.await;
    assert!(
        joined.is_err_and(|e| e.is_cancelled()),
        "the task was killed"
    );
    id
}

#[sqlx::test]
async fn killed_between_call_and_record_then_restarted_moves_money_once(pool: PgPool) {
    let f = fixture(&pool).await;
    let (refund_cmd, transfer_cmd) = enqueue_both(&pool, &f).await;

    // Two executors die, each right after its provider call.
    let first = crash_after_call(&pool, &f.clients).await;
    let second = crash_after_call(&pool, &f.clients).await;
    let mut crashed = [first, second];
    crashed.sort_unstable();
    let mut expected = [refund_cmd, transfer_cmd];
    expected.sort_unstable();
    assert_eq!(crashed, expected);
    for id in expected {
        assert_eq!(command(&pool, id).await.0, "in_flight");
    }
    // The money did move at the providers, but nothing is recorded yet.
    assert_eq!(f.sims.paypal.refunds_for_request_id(&f.refund_key).len(), 1);
    assert_eq!(f.sims.wise.transfers_for(&f.ctid).len(), 1);
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT paypal_refund_id FROM refunds WHERE id = $1")
            .bind(f.refund_id)
            .fetch_one(&pool)
            .await
            .expect("refund row");
    assert_eq!(recorded, None);

    // Nothing is due while the leases run.
    let handled = execute_due_with(&pool, &f.clients, &fast_options(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 0);

    // The leases run out (moved into the past rather than waited for).
    sqlx::query("UPDATE commands SET next_attempt_at = now() - interval '1 second' WHERE state = 'in_flight'")
        .execute(&pool)
        .await
        .expect("expire leases");
    let handled = execute_due_with(&pool, &f.clients, &fast_options(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 2);

    for id in expected {
        let (state, attempts, error) = command(&pool, id).await;
        assert_eq!((state.as_str(), attempts, error), ("succeeded", 2, None));
    }
    // One refund and one transfer per idempotency key, each asked for twice.
    let refunds = f.sims.paypal.refunds_for_request_id(&f.refund_key);
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].requests, 2);
    assert_eq!(refunds[0].amount.minor, 2000);
    assert_eq!(refunds[0].capture_id, f.capture_id);
    assert_eq!(f.sims.paypal.stats().refunds, 1);
    let transfers = f.sims.wise.transfers_for(&f.ctid);
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    assert_eq!(transfers[0].requests, 2);
    assert_eq!(
        transfers[0].fundings, 1,
        "funded once, not again on the re-send"
    );
    assert_eq!(f.sims.wise.stats().transfers, 1);

    // The domain effect is recorded once.
    let (paypal_id, status): (Option<String>, String) =
        sqlx::query_as("SELECT paypal_refund_id, status FROM refunds WHERE id = $1")
            .bind(f.refund_id)
            .fetch_one(&pool)
            .await
            .expect("refund row");
    assert_eq!(paypal_id.as_deref(), Some(refunds[0].id.as_str()));
    assert_eq!(status, "completed");
    let (refunded, pay_status): (i64, String) =
        sqlx::query_as("SELECT refunded_minor, status FROM payments WHERE capture_id = $1")
            .bind(&f.capture_id)
            .fetch_one(&pool)
            .await
            .expect("payment");
    assert_eq!(
        (refunded, pay_status.as_str()),
        (2000, "PARTIALLY_REFUNDED")
    );
    let (transfer_id, item_state): (Option<i64>, String) =
        sqlx::query_as("SELECT wise_transfer_id, state FROM payout_items WHERE id = $1")
            .bind(f.item_id)
            .fetch_one(&pool)
            .await
            .expect("payout item");
    assert_eq!(transfer_id, Some(transfers[0].id));
    assert_eq!(item_state, "processing");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action IN ('command.paypal_refund', 'command.wise_transfer')",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 2);

    // Running again finds nothing to do.
    let handled = execute_due_with(&pool, &f.clients, &fast_options(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 0);
    f.sims.shutdown().await;
}

#[sqlx::test]
async fn rate_limits_and_lost_responses_are_retried_with_the_same_key(pool: PgPool) {
    let f = fixture(&pool).await;
    let (refund_cmd, transfer_cmd) = enqueue_both(&pool, &f).await;
    // PayPal: OAuth is rate limited (then passes), then the refund is made
    // but its answer is lost (500 after processing), then answered.
    f.sims
        .paypal
        .inject([Fault::rate_limited(0), Fault::pass(), Fault::after(500)]);
    // Wise: the quote meets a 503, then the transfer is made but its answer
    // is lost once.
    f.sims
        .wise
        .inject([Fault::before(503), Fault::pass(), Fault::after(502)]);
    let handled = execute_due_with(&pool, &f.clients, &fast_options(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 2);
    for id in [refund_cmd, transfer_cmd] {
        assert_eq!(command(&pool, id).await.0, "succeeded");
    }
    let refunds = f.sims.paypal.refunds_for_request_id(&f.refund_key);
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        refunds[0].requests, 2,
        "the lost answer was asked for again"
    );
    let transfers = f.sims.wise.transfers_for(&f.ctid);
    assert_eq!(transfers.len(), 1);
    assert_eq!(
        transfers[0].requests, 2,
        "the lost answer was asked for again"
    );
    assert_eq!(transfers[0].fundings, 1);
    assert_eq!(f.sims.paypal.stats().common.injected_faults, 2);
    assert_eq!(f.sims.wise.stats().common.injected_faults, 2);
    f.sims.shutdown().await;
}

#[sqlx::test]
async fn an_outage_longer_than_the_call_budget_fails_then_succeeds_later(pool: PgPool) {
    let f = fixture(&pool).await;
    let (refund_cmd, _) = enqueue_both(&pool, &f).await;
    sqlx::query("UPDATE commands SET next_attempt_at = now() + interval '1 hour' WHERE id <> $1")
        .bind(refund_cmd)
        .execute(&pool)
        .await
        .expect("only the refund is due");
    // More 503s than one call retries (1 + 3).
    f.sims.paypal.inject([Fault::before(503); 4]);
    let options = ExecOptions {
        base_backoff: chrono::Duration::minutes(1),
        ..ExecOptions::default()
    };
    let outcome = execute_next(&pool, &f.clients, &options)
        .await
        .expect("execute")
        .expect("one command");
    assert!(matches!(outcome.1, Outcome::Retrying(_)), "{outcome:?}");
    let (state, attempts, error) = command(&pool, refund_cmd).await;
    assert_eq!((state.as_str(), attempts), ("failed", 1));
    assert!(error.is_some_and(|e| e.contains("503")));
    let later: bool = sqlx::query_scalar(
        "SELECT next_attempt_at > now() + interval '20 seconds' FROM commands WHERE id = $1",
    )
    .bind(refund_cmd)
    .fetch_one(&pool)
    .await
    .expect("backoff");
    assert!(later, "the retry is scheduled after a backoff");
    assert!(f.sims.paypal.refunds().is_empty());

    // The backoff passes.
    sqlx::query("UPDATE commands SET next_attempt_at = now() WHERE id = $1")
        .bind(refund_cmd)
        .execute(&pool)
        .await
        .expect("due");
    let outcome = execute_next(&pool, &f.clients, &options)
        .await
        .expect("execute")
        .expect("one command");
    assert_eq!(outcome, (refund_cmd, Outcome::Succeeded));
    assert_eq!(f.sims.paypal.refunds_for_request_id(&f.refund_key).len(), 1);
    f.sims.shutdown().await;
}

#[sqlx::test]
async fn permanent_refusals_are_dead_with_an_alert_and_the_domain_row_failed(pool: PgPool) {
    let f = fixture(&pool).await;
    // A refund larger than what is left on the capture: PayPal answers 422.
    sqlx::query("UPDATE refunds SET amount_minor = 9000 WHERE id = $1")
        .bind(f.refund_id)
        .execute(&pool)
        .await
        .expect("too large");
    // Wise: the balance cannot fund the transfer (200 with status REJECTED).
    f.sims.wise.set_balance_insufficient(true);
    let (refund_cmd, transfer_cmd) = enqueue_both(&pool, &f).await;
    let handled = execute_due_with(&pool, &f.clients, &fast_options(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 2);

    let (state, attempts, error) = command(&pool, refund_cmd).await;
    assert_eq!((state.as_str(), attempts), ("dead", 1));
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("422") && e.contains("REFUND_AMOUNT_EXCEEDED")),
        "{error:?}"
    );
    let refund_status: String = sqlx::query_scalar("SELECT status FROM refunds WHERE id = $1")
        .bind(f.refund_id)
        .fetch_one(&pool)
        .await
        .expect("refund");
    assert_eq!(refund_status, "failed");
    assert!(f.sims.paypal.refunds().is_empty());

    let (state, _, error) = command(&pool, transfer_cmd).await;
    assert_eq!(state, "dead");
    assert!(
        error.as_deref().is_some_and(|e| e.contains("REJECTED")),
        "{error:?}"
    );
    let (transfer_id, item_state, reason): (Option<i64>, String, Option<String>) = sqlx::query_as(
        "SELECT wise_transfer_id, state, failure_reason FROM payout_items WHERE id = $1",
    )
    .bind(f.item_id)
    .fetch_one(&pool)
    .await
    .expect("payout item");
    let transfers = f.sims.wise.transfers_for(&f.ctid);
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].fundings, 0);
    assert_eq!(
        transfer_id,
        Some(transfers[0].id),
        "the unfunded transfer is kept"
    );
    assert_eq!(item_state, "failed");
    assert!(reason.is_some_and(|r| r.contains("balance.insufficient")));

    let alerts: Vec<(String, String)> = sqlx::query_as(
        "SELECT dedup_key, priority FROM alerts WHERE rule_key = 'command_failures' ORDER BY dedup_key",
    )
    .fetch_all(&pool)
    .await
    .expect("alerts");
    assert_eq!(
        alerts,
        vec![
            ("command:dead:paypal_refund".to_string(), "P1".to_string()),
            ("command:dead:wise_transfer".to_string(), "P1".to_string()),
        ]
    );
    f.sims.shutdown().await;
}

#[sqlx::test]
async fn repeated_transient_failures_end_dead_after_max_attempts(pool: PgPool) {
    let f = fixture(&pool).await;
    let (refund_cmd, _) = enqueue_both(&pool, &f).await;
    sqlx::query("UPDATE commands SET next_attempt_at = now() + interval '1 hour' WHERE id <> $1")
        .bind(refund_cmd)
        .execute(&pool)
        .await
        .expect("only the refund is due");
    f.sims.paypal.inject([Fault::before(503); 8]);
    let options = ExecOptions {
        max_attempts: 2,
        ..fast_options()
    };
    let first = execute_next(&pool, &f.clients, &options)
        .await
        .expect("execute")
        .expect("claimed");
    assert!(matches!(first.1, Outcome::Retrying(_)), "{first:?}");
    let second = execute_next(&pool, &f.clients, &options)
        .await
        .expect("execute")
        .expect("claimed again (no backoff)");
    assert!(matches!(second.1, Outcome::Dead(_)), "{second:?}");
    let (state, attempts, _) = command(&pool, refund_cmd).await;
    assert_eq!((state.as_str(), attempts), ("dead", 2));
    assert!(f.sims.paypal.refunds().is_empty());
    // Giving up on transient errors is not a refusal: the refund is not
    // marked failed (it may have happened behind a lost answer).
    let refund_status: String = sqlx::query_scalar("SELECT status FROM refunds WHERE id = $1")
        .bind(f.refund_id)
        .fetch_one(&pool)
        .await
        .expect("refund");
    assert_eq!(refund_status, "requested");
    let details: String = sqlx::query_scalar(
        "SELECT details FROM alerts WHERE dedup_key = 'command:dead:paypal_refund'",
    )
    .fetch_one(&pool)
    .await
    .expect("alert");
    assert!(details.contains("unknown"), "{details}");

    // An operator revives it once PayPal is back: same key, one refund.
    let mut conn = pool.acquire().await.expect("conn");
    assert!(
        lsn_ops::store::outbox::retry_dead(&mut conn, refund_cmd)
            .await
            .expect("retry")
    );
    drop(conn);
    let revived = execute_next(&pool, &f.clients, &options)
        .await
        .expect("execute")
        .expect("claimed");
    assert_eq!(revived, (refund_cmd, Outcome::Succeeded));
    assert_eq!(f.sims.paypal.refunds_for_request_id(&f.refund_key).len(), 1);
    f.sims.shutdown().await;
}

#[sqlx::test]
async fn the_run_loop_executes_enqueued_commands_and_stops_on_shutdown(pool: PgPool) {
    let f = fixture(&pool).await;
    let (shutdown, stopped) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(lsn_ops::worker::commands::run(
        pool.clone(),
        f.clients.clone(),
        fast_options(),
        std::time::Duration::from_millis(100),
        stopped,
    ));
    // Enqueued while the loop runs (woken by NOTIFY or the poll).
    let (refund_cmd, transfer_cmd) = enqueue_both(&pool, &f).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM commands WHERE state = 'succeeded' AND id IN ($1, $2)",
        )
        .bind(refund_cmd)
        .bind(transfer_cmd)
        .fetch_one(&pool)
        .await
        .expect("count");
        if done == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the loop did not execute them"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    shutdown.send(true).expect("signal");
    runner.await.expect("the loop ends on shutdown");
    assert_eq!(f.sims.paypal.refunds_for_request_id(&f.refund_key).len(), 1);
    assert_eq!(f.sims.wise.transfers_for(&f.ctid).len(), 1);
    f.sims.shutdown().await;
}

#[sqlx::test]
async fn seeded_captures_can_be_refunded_at_the_simulator(pool: PgPool) {
    let f = fixture(&pool).await;
    // A payment seeded outside the simulator, registered with it afterwards.
    f.sims
        .paypal
        .register_capture("SEEDED-CAP-1", "ORD-1", 5000, "USD");
    sqlx::query("UPDATE payments SET capture_id = 'SEEDED-CAP-1' WHERE capture_id = $1")
        .bind(&f.capture_id)
        .execute(&pool)
        .await
        .expect("reseed");
    let (refund_cmd, _) = enqueue_both(&pool, &f).await;
    let handled = execute_due_with(&pool, &f.clients, &fast_options(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 2);
    assert_eq!(command(&pool, refund_cmd).await.0, "succeeded");
    let made = f.sims.paypal.refunds_for_request_id(&f.refund_key);
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].capture_id, "SEEDED-CAP-1");
    f.sims.shutdown().await;
}
