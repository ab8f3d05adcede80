//! Many refunds and payouts through flaky providers (503/429 before, 500
//! after processing), two executors sharing the outbox, and executors killed
//! mid-flight: every command ends succeeded and each idempotency key moved
//! money exactly once at the provider and once in the books.

use lsn_ops::config::Config;
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{Knobs, SimConfig, Simulators};
use lsn_ops::store::outbox::{CommandKind, enqueue};
use lsn_ops::worker::commands::{Clients, ExecOptions, execute_due_with, execute_next};
use serde_json::json;
use sqlx::PgPool;

const N: usize = 12;

#[sqlx::test]
async fn flaky_providers_crashes_and_two_executors_still_move_money_once(pool: PgPool) {
    let sims = Simulators::start(SimConfig {
        knobs: Knobs {
            error_rate: 0.25,
            lost_response_rate: 0.25,
            ..Knobs::default()
        },
        webhooks: None,
    })
    .await
    .expect("simulators");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    let recipient = sims.wise.add_recipient("USD", "Ava");

    let creator: i64 = sqlx::query_scalar(
        "INSERT INTO creators (handle, display_name, tier, commission_bps, wise_recipient_id, recipient_status)
         VALUES ('ava', 'Ava', 'gold', 2000, $1, 'verified') RETURNING id",
    )
    .bind(recipient)
    .fetch_one(&pool)
    .await
    .expect("creator");
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ('b@example.com', 'B', 'US') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("customer");
    let batch: i64 = sqlx::query_scalar(
        "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency)
         VALUES (now() - interval '7 days', now(), now(), 'processing', 'USD') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("batch");
    let mut refund_keys = Vec::new();
    let mut ctids = Vec::new();
    let mut captures = Vec::new();
    let mut tx = pool.begin().await.expect("begin");
    for i in 0..N {
        let number = format!("ORD-{i}");
        let capture = sims.paypal.create_capture(&number, 10_000, "USD");
        let order: i64 = sqlx::query_scalar(
            "INSERT INTO orders (order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor, email)
             VALUES ($1, $2, $3, 'paid', 'USD', 10000, 10000, 'b@example.com') RETURNING id",
        )
        .bind(&number)
        .bind(customer)
        .bind(creator)
        .fetch_one(&mut *tx)
        .await
        .expect("order");
        let payment: i64 = sqlx::query_scalar(
            "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency)
             VALUES ($1, $2, 'COMPLETED', 10000, 'USD') RETURNING id",
        )
        .bind(order)
        .bind(&capture)
        .fetch_one(&mut *tx)
        .await
        .expect("payment");
        let key = format!("refund:{number}");
        let refund: i64 = sqlx::query_scalar(
            "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, reason, requested_by, idempotency_key)
             VALUES ($1, $2, $3, 'USD', 'declined', 'alice', $4) RETURNING id",
        )
        .bind(order)
        .bind(payment)
        .bind(1000 + i as i64)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await
        .expect("refund");
        enqueue(
            &mut tx,
            CommandKind::PaypalRefund,
            &key,
            &json!({ "refund_id": refund }),
            "alice",
        )
        .await
        .expect("enqueue refund");
        let ctid = uuid::Uuid::new_v4().to_string();
        let item: i64 = sqlx::query_scalar(
            "INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, customer_transaction_id)
             VALUES ($1, $2, 'adjustment', 'USD', 2000, $3, $4::uuid) RETURNING id",
        )
        .bind(batch)
        .bind(creator)
        .bind(5000 + i as i64)
        .bind(&ctid)
        .fetch_one(&mut *tx)
        .await
        .expect("payout item");
        enqueue(
            &mut tx,
            CommandKind::WiseTransfer,
            &format!("payout-item:{item}"),
            &json!({ "payout_item_id": item }),
            "finance",
        )
        .await
        .expect("enqueue transfer");
        refund_keys.push(key);
        ctids.push(ctid);
        captures.push(capture);
    }
    tx.commit().await.expect("commit");

    let options = ExecOptions {
        base_backoff: chrono::Duration::zero(),
        max_attempts: 50,
        ..ExecOptions::default()
    };
    let mut rounds = 0;
    loop {
        rounds += 1;
        if rounds > 40 {
            let left: Vec<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT kind, state, last_error FROM commands WHERE state <> 'succeeded'",
            )
            .fetch_all(&pool)
            .await
            .expect("left");
            panic!("the outbox did not drain: {left:?}");
        }
        if rounds <= 8 {
            // In the first rounds one executor dies right after a provider call...
            let (hook, mut called) = tokio::sync::mpsc::unbounded_channel();
            let crashing = ExecOptions {
                crash_after_call: Some(hook),
                ..options.clone()
            };
            let task = {
                let pool = pool.clone();
                let clients = clients.clone();
                tokio::spawn(async move { execute_next(&pool, &clients, &crashing).await })
            };
            // `None` when it found nothing due (the task ended, dropping the hook).
            if called.recv().await.is_some() {
                task.abort();
            }
            let _ = task.await;
        }
        // ...while two others share the outbox.
        let (a, b) = tokio::join!(
            execute_due_with(&pool, &clients, &options, 100),
            execute_due_with(&pool, &clients, &options, 100),
        );
        a.expect("executor a");
        b.expect("executor b");
        // Leases of crashed executors and backoffs are over.
        sqlx::query(
            "UPDATE commands SET next_attempt_at = now() - interval '1 second' WHERE state IN ('failed', 'in_flight')",
        )
        .execute(&pool)
        .await
        .expect("make due");
        let open: i64 =
            sqlx::query_scalar("SELECT count(*) FROM commands WHERE state <> 'succeeded'")
                .fetch_one(&pool)
                .await
                .expect("count");
        if open == 0 {
            break;
        }
    }
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM commands WHERE state = 'dead'")
        .fetch_one(&pool)
        .await
        .expect("dead");
    assert_eq!(dead, 0);

    for (i, key) in refund_keys.iter().enumerate() {
        let made = sims.paypal.refunds_for_request_id(key);
        assert_eq!(made.len(), 1, "{key}: {made:?}");
        assert_eq!(made[0].amount.minor, 1000 + i as i64);
    }
    assert_eq!(sims.paypal.refunds().len(), N);
    for ctid in &ctids {
        let made = sims.wise.transfers_for(ctid);
        assert_eq!(made.len(), 1, "{ctid}: {made:?}");
        assert_eq!(made[0].fundings, 1, "{ctid}: funded once");
    }
    assert_eq!(sims.wise.stats().transfers, N);
    assert_eq!(sims.wise.stats().fundings, N as u32);

    // The books agree with the providers.
    for (i, capture) in captures.iter().enumerate() {
        let (refunded, rows): (i64, i64) = sqlx::query_as(
            "SELECT p.refunded_minor, (SELECT count(*) FROM refunds r WHERE r.payment_id = p.id AND r.status = 'completed')
               FROM payments p WHERE p.capture_id = $1",
        )
        .bind(capture)
        .fetch_one(&pool)
        .await
        .expect("payment");
        assert_eq!((refunded, rows), (1000 + i as i64, 1));
    }
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT wise_transfer_id) FROM payout_items WHERE state = 'processing'",
    )
    .fetch_one(&pool)
    .await
    .expect("items");
    assert_eq!(recorded, N as i64);
    let faults =
        sims.paypal.stats().common.injected_faults + sims.wise.stats().common.injected_faults;
    assert!(faults > 0, "the providers were flaky");
    sims.shutdown().await;
}
