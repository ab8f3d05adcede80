//! Refunds an operator asks for, against the PayPal simulator over real HTTP
//! and a real PostgreSQL: several partials up to the captured amount and a
//! further one refused before any call; one refund per idempotency key when
//! the executor crashes between call and record, retries or runs twice; 422
//! answers as one clear line (not retried); the agent limit at the store; the
//! refunded items' stock released once, whichever of the answer and the
//! webhook comes first.

use lsn_ops::config::Config;
use lsn_ops::domain::operators::Actor;
use lsn_ops::domain::payments::refusal_line;
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{SimConfig, Simulators};
use lsn_ops::store::refunds::{self, RefundError, RefundRequest};
use lsn_ops::worker::commands::{Clients, ExecOptions, Outcome, execute_due_with, execute_next};
use sqlx::PgPool;

struct Fixture {
    sims: Simulators,
    clients: Clients,
    capture_id: String,
    order_id: i64,
    /// Two products: A (2 x 12.50) and B (1 x 25.00); shipping 0.
    product_a: i64,
}

/// Operators: alice (agent), fiona (finance), vic (viewer, not registered).
/// An order LSN-1 of 50.00 (2 x SKU-A at 12.50, 1 x SKU-B at 25.00), paid and
/// not shipped, its capture at the simulator; SKU-A has 10 on hand, 2 reserved.
async fn fixture(pool: &PgPool) -> Fixture {
    let sims = Simulators::start(SimConfig::default())
        .await
        .expect("simulators start");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    let capture_id = sims.paypal.create_capture("LSN-1", 5000, "USD");
    sqlx::raw_sql(
        "INSERT INTO operators (name, role, created_by) VALUES ('alice', 'agent', 't'), ('fiona', 'finance', 't');
         INSERT INTO customers (id, email, name, country, paypal_payer_id) VALUES (1, 'Buyer@Example.com', 'B', 'US', 'PAYER1');
         INSERT INTO products (id, sku, name, currency, price_minor, cost_minor, stock_on_hand, stock_reserved)
              VALUES (1, 'SKU-A', 'Mug', 'USD', 1250, 400, 10, 2), (2, 'SKU-B', 'Lamp', 'USD', 2500, 900, 5, 1);
         INSERT INTO orders (id, order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                             paypal_payer_id, paid_at)
              VALUES (1, 'LSN-1', 1, 'paid', 'USD', 5000, 5000, 'buyer@example.com', 'PAYER1', now());
         INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor)
              VALUES (1, 1, 2, 1250, 400), (1, 2, 1, 2500, 900);",
    )
    .execute(pool)
    .await
    .expect("fixture rows");
    sqlx::query(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency) VALUES (1, $1, 'COMPLETED', 5000, 'USD')",
    )
    .bind(&capture_id)
    .execute(pool)
    .await
    .expect("payment");
    Fixture {
        sims,
        clients,
        capture_id,
        order_id: 1,
        product_a: 1,
    }
}

fn ask(amount: Option<&str>, items: &[(&str, i32)], reason: &str) -> RefundRequest {
    RefundRequest {
        order: "LSN-1".into(),
        amount: amount.map(str::to_string),
        items: items.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
        capture_id: None,
        reason: reason.into(),
        agent_limit_minor: 2_000,
    }
}

fn fast() -> ExecOptions {
    ExecOptions {
        base_backoff: chrono::Duration::zero(),
        ..ExecOptions::default()
    }
}

async fn payment(pool: &PgPool) -> (String, i64) {
    sqlx::query_as("SELECT status, refunded_minor FROM payments WHERE order_id = 1")
        .fetch_one(pool)
        .await
        .expect("payment row")
}

async fn reserved(pool: &PgPool, product: i64) -> i32 {
    sqlx::query_scalar("SELECT stock_reserved FROM products WHERE id = $1")
        .bind(product)
        .fetch_one(pool)
        .await
        .expect("product")
}

#[sqlx::test]
async fn partial_partial_and_the_rest_reach_the_capture_and_no_more(pool: PgPool) {
    let f = fixture(&pool).await;
    let fiona = Actor::new("fiona");
    // 12.34 exactly (no float on the way), then one mug (its price), then the rest.
    let first = refunds::request(&pool, &fiona, &ask(Some("12.34"), &[], "late delivery"))
        .await
        .expect("first partial");
    assert_eq!(first.amount.minor, 1234);
    assert_eq!(first.left_after.minor, 3766);
    let second = refunds::request(&pool, &fiona, &ask(None, &[("SKU-A", 1)], "one mug broken"))
        .await
        .expect("second partial");
    assert_eq!(second.amount.minor, 1250);
    // Asking for more than is left (with both still open) is refused at once.
    let too_much = refunds::request(&pool, &fiona, &ask(Some("25.17"), &[], "too much")).await;
    assert!(
        matches!(&too_much, Err(RefundError::Exceeds { left, .. }) if left == "$25.16"),
        "{too_much:?}"
    );
    let rest = refunds::request(&pool, &fiona, &ask(None, &[], "order cancelled"))
        .await
        .expect("the rest");
    assert_eq!(rest.amount.minor, 5000 - 1234 - 1250);
    assert_eq!(rest.left_after.minor, 0);

    let handled = execute_due_with(&pool, &f.clients, &fast(), 10)
        .await
        .expect("execute");
    assert_eq!(handled, 3);
    let at_paypal: i64 = f
        .sims
        .paypal
        .refunds()
        .iter()
        .filter(|r| r.capture_id == f.capture_id)
        .map(|r| r.amount.minor)
        .sum();
    assert_eq!(at_paypal, 5000, "exactly the captured amount at PayPal");
    assert_eq!(payment(&pool).await, ("REFUNDED".to_string(), 5000));
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = 1")
        .fetch_one(&pool)
        .await
        .expect("order");
    assert_eq!(status, "refunded");
    let completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refunds WHERE order_id = 1 AND status = 'completed' AND paypal_refund_id IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("refunds");
    assert_eq!(completed, 3);
    // The stock of every unit came back once: 1 mug with the second refund,
    // the other mug and the lamp with the full one.
    assert_eq!(reserved(&pool, 1).await, 0);
    assert_eq!(reserved(&pool, 2).await, 0);

    // A fourth is refused before anything is written or sent.
    let calls = f.sims.paypal.stats().refunds;
    let commands: i64 = sqlx::query_scalar("SELECT count(*) FROM commands")
        .fetch_one(&pool)
        .await
        .expect("commands");
    let more = refunds::request(&pool, &fiona, &ask(Some("0.01"), &[], "one more")).await;
    assert!(
        matches!(more, Err(RefundError::NothingLeft { .. })),
        "{more:?}"
    );
    let commands_after: i64 = sqlx::query_scalar("SELECT count(*) FROM commands")
        .fetch_one(&pool)
        .await
        .expect("commands");
    assert_eq!(commands_after, commands);
    assert_eq!(f.sims.paypal.stats().refunds, calls);
    f.sims.shutdown().await;
}

#[sqlx::test]
async fn the_database_refuses_refunds_beyond_the_capture_from_any_writer(pool: PgPool) {
    let _f = fixture(&pool).await;
    sqlx::query(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, reason, requested_by, idempotency_key)
         SELECT 1, id, 4000, 'USD', 'x', 'alice', 'k1' FROM payments",
    )
    .execute(&pool)
    .await
    .expect("within the capture");
    let over = sqlx::query(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, reason, requested_by, idempotency_key)
         SELECT 1, id, 1001, 'USD', 'x', 'alice', 'k2' FROM payments",
    )
    .execute(&pool)
    .await;
    assert!(
        over.as_ref().is_err_and(refunds::is_over_capture),
        "{over:?}"
    );
}

#[sqlx::test]
async fn agents_refund_up_to_their_limit_finance_above_viewers_not_at_all(pool: PgPool) {
    let _f = fixture(&pool).await;
    let over = refunds::request(&pool, &Actor::new("alice"), &ask(Some("20.01"), &[], "x")).await;
    assert!(
        matches!(&over, Err(RefundError::Refused(r)) if r.to_string().contains("limit")),
        "{over:?}"
    );
    let viewer = refunds::request(&pool, &Actor::new("vic"), &ask(Some("1.00"), &[], "x")).await;
    assert!(matches!(viewer, Err(RefundError::Refused(_))), "{viewer:?}");
    let readonly = refunds::request(
        &pool,
        &Actor::new("fiona").read_only(),
        &ask(Some("1.00"), &[], "x"),
    )
    .await;
    assert!(
        matches!(readonly, Err(RefundError::Refused(_))),
        "{readonly:?}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM refunds")
        .fetch_one(&pool)
        .await
        .expect("refunds");
    assert_eq!(rows, 0, "nothing written by a refusal");
    refunds::request(&pool, &Actor::new("alice"), &ask(Some("20.00"), &[], "x"))
        .await
        .expect("at the limit");
    refunds::request(&pool, &Actor::new("fiona"), &ask(Some("30.00"), &[], "x"))
        .await
        .expect("finance above it");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'refund.request' AND details ? 'reason'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 2);
    // Malformed amounts are refused, never rounded.
    for bad in ["12.345", "abc", "-1", "0"] {
        let r = refunds::request(&pool, &Actor::new("fiona"), &ask(Some(bad), &[], "x")).await;
        assert!(matches!(r, Err(RefundError::BadAmount(_))), "{bad}: {r:?}");
    }
}

/// Runs one executor that dies right after its PayPal call.
async fn crash_after_call(pool: &PgPool, clients: &Clients) -> i64 {
    let (hook, mut called) = tokio::sync::mpsc::unbounded_channel();
    let options = ExecOptions {
        crash_after_call: Some(hook),
        ..fast()
    };
    let task = {
        let pool = pool.clone();
        let clients = clients.clone();
        tokio::spawn(async move { execute_next(&pool, &clients, &options).await })
    };
    let id = called.recv().await.expect("the executor reached PayPal");
    task.abort();
    assert!(task.await.is_err_and(|e| e.is_cancelled()));
    id
}

#[sqlx::test]
async fn a_refund_sent_twice_crashed_or_raced_refunds_once(pool: PgPool) {
    let f = fixture(&pool).await;
    let fiona = Actor::new("fiona");
    let r = refunds::request(&pool, &fiona, &ask(None, &[("SKU-A", 1)], "broken"))
        .await
        .expect("refund");
    // A crash between PayPal's answer and the record, then the lease runs out.
    crash_after_call(&pool, &f.clients).await;
    sqlx::query("UPDATE commands SET next_attempt_at = now() - interval '1 second' WHERE state = 'in_flight'")
        .execute(&pool)
        .await
        .expect("expire lease");
    // Two workers take it up at once: one claims it, the other finds nothing.
    let options = fast();
    let (a, b) = tokio::join!(
        execute_next(&pool, &f.clients, &options),
        execute_next(&pool, &f.clients, &options)
    );
    let outcomes: Vec<_> = [a.expect("a"), b.expect("b")]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].1, Outcome::Succeeded);
    let at_paypal = f.sims.paypal.refunds_for_request_id(&r.idempotency_key);
    assert_eq!(at_paypal.len(), 1, "{at_paypal:?}");
    assert_eq!(at_paypal[0].requests, 2, "sent twice, refunded once");
    assert_eq!(
        payment(&pool).await,
        ("PARTIALLY_REFUNDED".to_string(), 1250)
    );
    // The mug's stock came back once.
    assert_eq!(reserved(&pool, f.product_a).await, 1);
    let movements: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock_movements WHERE kind = 'release' AND product_id = $1",
    )
    .bind(f.product_a)
    .fetch_one(&pool)
    .await
    .expect("movements");
    assert_eq!(movements, 1);
    // Nothing left due: no retry loop.
    assert_eq!(
        execute_due_with(&pool, &f.clients, &fast(), 10)
            .await
            .expect("execute"),
        0
    );
    let _ = f.order_id;
    f.sims.shutdown().await;
}

async fn refusal_of(pool: &PgPool, f: &Fixture) -> (String, Option<String>, String, i32) {
    let outcome = execute_next(pool, &f.clients, &fast())
        .await
        .expect("execute")
        .expect("a command");
    assert!(matches!(outcome.1, Outcome::Dead(_)), "{outcome:?}");
    let (status, failure): (String, Option<String>) =
        sqlx::query_as("SELECT status, failure FROM refunds ORDER BY id DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("refund");
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state, attempts FROM commands WHERE id = $1")
            .bind(outcome.0)
            .fetch_one(pool)
            .await
            .expect("command");
    (status, failure, state, attempts)
}

#[sqlx::test]
async fn paypal_422_answers_are_one_clear_line_and_never_retried(pool: PgPool) {
    let f = fixture(&pool).await;
    let fiona = Actor::new("fiona");
    // Someone refunded the whole capture at PayPal directly (not known here yet).
    f.clients
        .paypal
        .refund(&f.capture_id, None, "outside-1", None, None)
        .await
        .expect("outside refund");
    refunds::request(&pool, &fiona, &ask(Some("10.00"), &[], "x"))
        .await
        .expect("request");
    let (status, failure, state, attempts) = refusal_of(&pool, &f).await;
    assert_eq!(
        (status.as_str(), state.as_str(), attempts),
        ("failed", "dead", 1)
    );
    assert_eq!(failure, Some(refusal_line("CAPTURE_FULLY_REFUNDED")));
    assert!(!failure.unwrap_or_default().contains('\n'));

    // The amount exceeds what PayPal still holds (a partial refund elsewhere).
    let cap2 = f.sims.paypal.create_capture("LSN-1", 5000, "USD");
    sqlx::query("UPDATE payments SET capture_id = $1, status = 'COMPLETED', refunded_minor = 0")
        .bind(&cap2)
        .execute(&pool)
        .await
        .expect("second capture");
    f.clients
        .paypal
        .refund(
            &cap2,
            Some(lsn_ops::domain::money::Money::new(
                4000,
                lsn_ops::domain::money::Currency::USD,
            )),
            "outside-2",
            None,
            None,
        )
        .await
        .expect("outside partial");
    refunds::request(&pool, &fiona, &ask(Some("20.00"), &[], "x"))
        .await
        .expect("request");
    let (_, failure, state, attempts) = refusal_of(&pool, &f).await;
    assert_eq!((state.as_str(), attempts), ("dead", 1));
    assert_eq!(failure, Some(refusal_line("REFUND_AMOUNT_EXCEEDED")));

    // A capture older than PayPal's refund time limit.
    f.sims.paypal.register_capture_at(
        "CAP-OLD",
        "LSN-1",
        5000,
        "USD",
        chrono::Utc::now() - chrono::Duration::days(200),
    );
    sqlx::query(
        "UPDATE payments SET capture_id = 'CAP-OLD', status = 'COMPLETED', refunded_minor = 0",
    )
    .execute(&pool)
    .await
    .expect("old capture");
    refunds::request(&pool, &fiona, &ask(Some("5.00"), &[], "x"))
        .await
        .expect("request");
    let (_, failure, _, attempts) = refusal_of(&pool, &f).await;
    assert_eq!(attempts, 1);
    assert_eq!(failure, Some(refusal_line("REFUND_TIME_LIMIT_EXCEEDED")));
    let reserved_a = reserved(&pool, f.product_a).await;
    assert_eq!(reserved_a, 2, "a refused refund releases nothing");
    f.sims.shutdown().await;
}
