//! Fraud decisions in the store, on a real PostgreSQL: reasons required,
//! viewers refused, one decision per order however many analysts try, the
//! decline's refund through the outbox (executed once against the PayPal
//! simulator), blocklist entries, undo before any provider call, the report.

use std::sync::Arc;

use chrono::{Duration, Utc};
use lsn_ops::config::Config;
use lsn_ops::domain::operators::{Actor, Refusal};
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{SimConfig, Simulators};
use lsn_ops::store::fraud::{
    BlockToggles, Claim, DecideError, Decision, DecisionRequest, UndoError, claim, decide, report,
    undo_last,
};
use lsn_ops::worker::commands::{Clients, execute_due};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use sqlx::PgPool;

/// `n` high-risk orders pending review, each with a completed PayPal capture CAP-<id>.
async fn pending_orders(pool: &PgPool, n: i64) -> Vec<i64> {
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ('alice', 'agent', 't'), ('dana', 'agent', 't'),
                ('victor', 'viewer', 't'), ('fin', 'finance', 't')",
    )
    .execute(pool)
    .await
    .expect("operators");
    let customer: i64 = sqlx::query_scalar("INSERT INTO customers (email, name, country) VALUES ('f@mailinator.com', 'F', 'US') RETURNING id")
        .fetch_one(pool)
        .await
        .expect("customer");
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email, ip,
                             device_fingerprint, paypal_payer_id, fraud_score, fraud_state, created_at, paid_at)
         SELECT 'F-' || k, $1, 'on_hold', 'USD', 4000, 4000, 'f' || k || '@mailinator.com', ('203.0.113.' || (k % 200 + 1))::inet,
                'fp-' || k, 'PAYER' || k, 85, 'pending', now() - interval '1 hour', now() - interval '1 hour'
           FROM generate_series(1, $2) k RETURNING id",
    )
    .bind(customer)
    .bind(n)
    .fetch_all(pool)
    .await
    .expect("orders");
    sqlx::query(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency)
         SELECT id, 'CAP-' || id, 'COMPLETED', 4000, 'USD' FROM orders WHERE order_number LIKE 'F-%'",
    )
    .execute(pool)
    .await
    .expect("payments");
    ids
}

fn request(order_id: i64, operator: &str, decision: Decision) -> DecisionRequest {
    DecisionRequest {
        order_id,
        actor: Actor::new(operator),
        decision,
        reason: "Proxy IP and throwaway mailbox".into(),
        score_seen: 85,
        agent_refund_limit_minor: 50_000,
    }
}

const DECLINE_ALL: Decision = Decision::Decline {
    block: BlockToggles {
        ip: true,
        email: true,
        device: true,
        payer: true,
    },
};

#[sqlx::test]
async fn a_decision_needs_a_reason_a_role_and_an_undecided_order(pool: PgPool) {
    let ids = pending_orders(&pool, 3).await;
    let now = Utc::now();
    let mut empty = request(ids[0], "alice", Decision::Approve);
    empty.reason = "   ".into();
    assert_eq!(
        decide(&pool, &empty, now).await,
        Err(DecideError::EmptyReason)
    );
    assert!(matches!(
        decide(&pool, &request(ids[0], "victor", Decision::Approve), now).await,
        Err(DecideError::Refused(Refusal::Role { .. }))
    ));
    assert!(matches!(
        decide(&pool, &request(ids[0], "fin", Decision::Approve), now).await,
        Err(DecideError::Refused(Refusal::Role { .. }))
    ));

    // Claims: dana opens the order, alice is told who has it.
    assert!(matches!(
        claim(&pool, ids[0], &Actor::new("dana"), now)
            .await
            .expect("claim"),
        Claim::Mine { .. }
    ));
    assert!(
        matches!(claim(&pool, ids[0], &Actor::new("alice"), now).await.expect("claim"), Claim::Theirs { ref by, .. } if by == "dana")
    );
    assert!(matches!(
        decide(&pool, &request(ids[0], "alice", Decision::Approve), now).await,
        Err(DecideError::ClaimedBy { .. })
    ));
    // An expired claim is free again.
    assert!(matches!(
        claim(
            &pool,
            ids[0],
            &Actor::new("alice"),
            now + Duration::minutes(6)
        )
        .await
        .expect("claim"),
        Claim::Mine { .. }
    ));

    decide(&pool, &request(ids[0], "alice", Decision::Approve), now)
        .await
        .expect("approve");
    match decide(&pool, &request(ids[0], "dana", DECLINE_ALL), now).await {
        Err(DecideError::AlreadyDecided { by, .. }) => assert_eq!(by, "alice"),
        other => panic!("expected already decided, got {other:?}"),
    }
    let (state, status): (String, String) =
        sqlx::query_as("SELECT fraud_state, status FROM orders WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&pool)
            .await
            .expect("order");
    assert_eq!((state.as_str(), status.as_str()), ("approved", "paid"));

    // Review holds the order, and it comes back when the hold ends.
    decide(
        &pool,
        &request(ids[1], "alice", Decision::Review { hold_hours: 24 }),
        now,
    )
    .await
    .expect("review");
    assert!(matches!(
        decide(
            &pool,
            &request(ids[1], "dana", Decision::Approve),
            now + Duration::hours(23)
        )
        .await,
        Err(DecideError::AlreadyDecided { .. })
    ));
    decide(
        &pool,
        &request(ids[1], "dana", Decision::Approve),
        now + Duration::hours(25),
    )
    .await
    .expect("after the hold");

    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action LIKE 'fraud.%' AND details ? 'score_seen'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audits, 3);
}

#[sqlx::test]
async fn a_decline_refunds_through_the_outbox_blocklists_and_can_be_undone_until_sent(
    pool: PgPool,
) {
    let ids = pending_orders(&pool, 2).await;
    let now = Utc::now();
    let decided = decide(&pool, &request(ids[0], "alice", DECLINE_ALL), now)
        .await
        .expect("decline");
    assert!(decided.refund_command.is_some());
    assert_eq!(decided.blocklisted, 4);
    let (refunds, amount): (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), max(amount_minor) FROM refunds WHERE status = 'requested'",
    )
    .fetch_one(&pool)
    .await
    .expect("refund");
    assert_eq!((refunds, amount), (1, Some(4000)));

    assert_eq!(undo_last(&pool, &Actor::new("alice")).await, Ok(ids[0]));
    let (state, active_blocks, command_state): (String, i64, String) = sqlx::query_as(
        "SELECT (SELECT fraud_state FROM orders WHERE id = $1), (SELECT count(*) FROM blocklist WHERE removed_at IS NULL),
                (SELECT state FROM commands LIMIT 1)",
    )
    .bind(ids[0])
    .fetch_one(&pool)
    .await
    .expect("after undo");
    assert_eq!(
        (state.as_str(), active_blocks, command_state.as_str()),
        ("pending", 0, "cancelled")
    );
    assert_eq!(
        undo_last(&pool, &Actor::new("alice")).await,
        Err(UndoError::Nothing)
    );

    // Once the executor has tried the refund, undo is refused.
    decide(&pool, &request(ids[1], "alice", DECLINE_ALL), now)
        .await
        .expect("decline");
    sqlx::query("UPDATE commands SET attempts = 1, state = 'in_flight' WHERE state = 'pending'")
        .execute(&pool)
        .await
        .expect("sent");
    assert_eq!(
        undo_last(&pool, &Actor::new("alice")).await,
        Err(UndoError::ProviderCalled)
    );
}

#[sqlx::test]
async fn two_analysts_deciding_500_orders_at_once_decide_each_once_and_refund_once(pool: PgPool) {
    let ids = pending_orders(&pool, 500).await;
    let sims = Simulators::start(SimConfig::default())
        .await
        .expect("simulators");
    for id in &ids {
        sims.paypal
            .register_capture(&format!("CAP-{id}"), &format!("F-{id}"), 4000, "USD");
    }
    let now = Utc::now();
    let pool = Arc::new(pool);
    let mut tasks = Vec::new();
    for (analyst, seed) in [("alice", 1u64), ("dana", 2)] {
        let pool = pool.clone();
        let mut order: Vec<i64> = ids.clone();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        tasks.push(tokio::spawn(async move {
            let (mut won, mut lost) = (0, 0);
            for (k, id) in order.into_iter().enumerate() {
                let decision = if k % 3 == 0 {
                    Decision::Approve
                } else {
                    DECLINE_ALL
                };
                match decide(&pool, &request(id, analyst, decision), now).await {
                    Ok(_) => won += 1,
                    Err(DecideError::AlreadyDecided { .. }) => lost += 1,
                    Err(other) => panic!("{analyst}: {other}"),
                }
            }
            (won, lost)
        }));
    }
    let mut decided = 0;
    for task in tasks {
        let (won, lost) = task.await.expect("analyst");
        assert_eq!(won + lost, 500);
        decided += won;
    }
    assert_eq!(
        decided, 500,
        "every order decided exactly once between the two"
    );
    let (decisions, orders_with_two): (i64, i64) = sqlx::query_as(
        "SELECT count(*), (SELECT count(*) FROM (SELECT order_id FROM fraud_decisions GROUP BY order_id HAVING count(*) > 1) d)
           FROM fraud_decisions",
    )
    .fetch_one(&*pool)
    .await
    .expect("decisions");
    assert_eq!((decisions, orders_with_two), (500, 0));
    let declines: i64 =
        sqlx::query_scalar("SELECT count(*) FROM fraud_decisions WHERE decision = 'decline'")
            .fetch_one(&*pool)
            .await
            .expect("declines");
    let commands: i64 =
        sqlx::query_scalar("SELECT count(*) FROM commands WHERE kind = 'paypal_refund'")
            .fetch_one(&*pool)
            .await
            .expect("commands");
    assert_eq!(commands, declines, "one refund command per decline");

    // Two executors drain the outbox against the simulator.
    let mut config = Config::default();
    sims.apply_to(&mut config);
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    let (a, b) = tokio::join!(
        execute_due(&pool, &clients, 10_000),
        execute_due(&pool, &clients, 10_000)
    );
    assert_eq!(
        a.expect("executor a") + b.expect("executor b"),
        declines as usize
    );
    let stats = sims.paypal.stats();
    assert_eq!(
        stats.refunds as i64, declines,
        "PayPal saw one refund per declined order"
    );
    let keys: Vec<String> = sqlx::query_scalar("SELECT idempotency_key FROM commands")
        .fetch_all(&*pool)
        .await
        .expect("keys");
    for key in keys.iter().take(50) {
        assert_eq!(sims.paypal.refunds_for_request_id(key).len(), 1, "{key}");
    }
    let completed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refunds WHERE paypal_refund_id IS NOT NULL")
            .fetch_one(&*pool)
            .await
            .expect("refunds");
    assert_eq!(completed, declines);

    let report = report(&pool, 7, now + Duration::minutes(1))
        .await
        .expect("report");
    assert_eq!(report.approved + report.declined, 500);
    assert_eq!(report.declined, declines);
    sims.shutdown().await;
}
