//! Issue 12: the weekly creator payout run end to end, on a real PostgreSQL
//! with the Wise simulator over loopback and its signed webhooks through the
//! worker's receiver and applier: generate → approve (maker-checker) →
//! process pays each verified line exactly once (also with the executor
//! killed mid-way); a bounced transfer fails its line with a P1 alert and
//! `retry` pays it once; refusals write nothing; an order is in one batch only.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveTime, Utc, Weekday};
use lsn_ops::config::Config;
use lsn_ops::domain::money::{Currency, Money};
use lsn_ops::domain::operators::Actor;
use lsn_ops::domain::payouts::{OrderFigures, line_for};
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{SimConfig, Simulators, WebhookTarget};
use lsn_ops::store::payouts::{self, Maker, PayoutError, Schedule};
use lsn_ops::worker::apply::{ApplySettings, apply_due};
use lsn_ops::worker::commands::{Clients, ExecOptions, execute_due_with, execute_next};
use lsn_ops::worker::{AppState, Settings, system_clock};
use sqlx::PgPool;
use tokio::net::TcpListener;

struct Run {
    sims: Simulators,
    clients: Clients,
    schedule: Schedule,
    /// (creator id, handle, verified)
    creators: Vec<(i64, String, bool)>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn usd(m: i64) -> Money {
    Money::new(m, Currency::USD)
}

fn schedule() -> Schedule {
    Schedule {
        tz: chrono_tz::UTC,
        weekday: Weekday::Fri,
        time: NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
        currency: Currency::USD,
        return_window: chrono::Duration::days(14),
    }
}

fn options() -> ExecOptions {
    ExecOptions {
        base_backoff: chrono::Duration::zero(),
        lease: chrono::Duration::zero(),
        ..ExecOptions::default()
    }
}

/// The worker's receiver with the simulators delivering to it; operators
/// alice and bob (finance), root (admin), ann (agent), vic (viewer);
/// `verified` creators with a Wise recipient plus one with no bank details,
/// each with four payable orders paid 30 days ago, and one order of each
/// kind that is not payable.
async fn start(pool: &PgPool, verified: usize) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let sims = Simulators::start(SimConfig {
        knobs: Default::default(),
        webhooks: Some(WebhookTarget::local(&base)),
    })
    .await
    .expect("simulators");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    config.worker.public_base_url = base.clone();
    let settings = Settings::from_config(&config).expect("settings");
    let state = Arc::new(AppState::new(pool.clone(), settings, system_clock()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(lsn_ops::worker::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");

    for (name, role) in [
        ("alice", "finance"),
        ("bob", "finance"),
        ("root", "admin"),
        ("ann", "agent"),
    ] {
        sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ($1, $2, 'test')")
            .bind(name)
            .bind(role)
            .execute(pool)
            .await
            .expect("operator");
    }
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ('b@example.com', 'B', 'US') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("customer");
    let mut creators = Vec::new();
    for i in 0..=verified {
        let ok = i < verified;
        let recipient = ok.then(|| sims.wise.add_recipient("USD", &format!("Creator {i}")));
        let tier = ["bronze", "silver", "gold", "platinum"][i % 4];
        let bps = [1000, 1500, 2000, 3000][i % 4];
        let handle = format!("creator{i}");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO creators (handle, display_name, tier, commission_bps, wise_recipient_id, recipient_status)
             VALUES ($1, $1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&handle)
        .bind(tier)
        .bind(bps)
        .bind(recipient)
        .bind(if ok { "verified" } else { "missing" })
        .fetch_one(pool)
        .await
        .expect("creator");
        creators.push((id, handle, ok));
        // Four payable orders, then one of each kind that is not.
        let kinds = [
            ("paid", 30, "clear"),
            ("delivered", 31, "approved"),
            ("shipped", 40, "clear"),
            ("paid", 29, "clear"),
            ("paid", 2, "clear"),      // inside the return window
            ("refunded", 30, "clear"), // refunded
            ("on_hold", 30, "review"), // held for fraud review
            ("paid", 30, "clear"),     // disputed (open), below
            ("paid", 30, "clear"),     // refund requested, below
        ];
        for (k, (status, days, fraud)) in kinds.iter().enumerate() {
            let total = 10_000 + 1_234 * k as i64 + 17 * i as i64;
            let order: i64 = sqlx::query_scalar(
                "INSERT INTO orders (order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor,
                                     product_cost_minor, shipping_cost_minor, platform_fee_minor, email, fraud_state,
                                     paid_at)
                 VALUES ($1, $2, $3, $4, 'USD', $5, $5, $6, 500, $7, 'b@example.com', $8, now() - make_interval(days => $9))
                 RETURNING id",
            )
            .bind(format!("ORD-{i}-{k}"))
            .bind(customer)
            .bind(id)
            .bind(status)
            .bind(total)
            .bind(total * 4 / 10)
            .bind(total / 10)
            .bind(fraud)
            .bind(*days)
            .fetch_one(pool)
            .await
            .expect("order");
            if k == 7 {
                sqlx::query(
                    "INSERT INTO disputes (paypal_dispute_id, order_id, reason, amount_minor, currency, opened_at, sla_due_at)
                     VALUES ($1, $2, 'MERCHANDISE_OR_SERVICE_NOT_RECEIVED', $3, 'USD', now(), now() + interval '1 day')",
                )
                .bind(format!("PP-D-{i}"))
                .bind(order)
                .bind(total)
                .execute(pool)
                .await
                .expect("dispute");
            }
            if k == 8 {
                sqlx::query(
                    "INSERT INTO refunds (order_id, amount_minor, currency, reason, requested_by, idempotency_key)
                     VALUES ($1, 100, 'USD', 'damaged', 'ann', $2)",
                )
                .bind(order)
                .bind(format!("refund-{i}"))
                .execute(pool)
                .await
                .expect("refund");
            }
        }
    }
    Run {
        sims,
        clients,
        schedule: schedule(),
        creators,
        _stop: stop,
    }
}

impl Run {
    /// Executes due commands and applies the webhooks they cause until quiet.
    async fn settle(&self, pool: &PgPool) {
        for _ in 0..50 {
            let executed = execute_due_with(pool, &self.clients, &options(), 100)
                .await
                .expect("execute");
            self.delivered().await;
            let applied = apply_due(pool, ApplySettings::default(), 1000)
                .await
                .expect("apply");
            if executed == 0 && applied == 0 {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM provider_events WHERE status IN ('pending', 'failed')",
                )
                .fetch_one(pool)
                .await
                .expect("inbox");
                if waiting == 0 {
                    return;
                }
                // An event that came before its transfer was recorded: due again soon.
                sqlx::query(
                    "UPDATE provider_events SET next_attempt_at = now() WHERE status = 'failed'",
                )
                .execute(pool)
                .await
                .expect("due");
            }
        }
        panic!("the payout run did not settle");
    }

    async fn delivered(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let c = self.sims.wise.stats().common;
            if c.webhooks_settled >= c.webhooks_queued {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "webhooks not delivered"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn fundings(&self) -> u32 {
        self.sims.wise.stats().fundings
    }
}

fn actor(name: &str) -> Actor {
    Actor::new(name)
}

async fn generate(pool: &PgPool, run: &Run, who: &str) -> payouts::Generated {
    let week = run.schedule.this_week(Utc::now());
    payouts::generate(pool, Maker::Operator(&actor(who)), &run.schedule, week)
        .await
        .expect("generate")
}

async fn lines(pool: &PgPool, batch: i64) -> Vec<(i64, i64, String, i64, Option<String>)> {
    sqlx::query_as(
        "SELECT id, creator_id, state, amount_minor, customer_transaction_id::text FROM payout_items
          WHERE batch_id = $1 ORDER BY id",
    )
    .bind(batch)
    .fetch_all(pool)
    .await
    .expect("lines")
}

/// Row counts of every table plus the content of the payout tables.
async fn fingerprint(pool: &PgPool) -> Vec<(String, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = Vec::new();
    for t in tables {
        let sql = format!(
            "SELECT count(*)::text || ':' || COALESCE(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM \"{t}\" x"
        );
        let v: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .expect("fingerprint");
        out.push((t, v));
    }
    out
}

#[sqlx::test]
async fn generate_approve_process_pays_each_verified_line_once(pool: PgPool) {
    let run = start(&pool, 3).await;
    let g = generate(&pool, &run, "alice").await;
    assert!(g.created);
    assert_eq!(g.lines, 4, "one line per creator with payable orders");
    assert_eq!(g.orders, 16, "four payable orders each");

    // The lines are the domain formula over exactly the payable orders.
    for (id, creator, state, amount, _) in lines(&pool, g.batch_id).await {
        let (bps, verified): (i32, String) =
            sqlx::query_as("SELECT commission_bps, recipient_status FROM creators WHERE id = $1")
                .bind(creator)
                .fetch_one(&pool)
                .await
                .unwrap();
        let figures: Vec<OrderFigures> = sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT o.total_minor, o.product_cost_minor, o.shipping_cost_minor, o.platform_fee_minor
               FROM payout_item_orders p JOIN orders o ON o.id = p.order_id WHERE p.payout_item_id = $1",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(t, c, s, f)| OrderFigures {
            total: usd(t),
            product_cost: usd(c),
            shipping: usd(s),
            platform_fee: usd(f),
        })
        .collect();
        assert_eq!(figures.len(), 4);
        let (line, _) = line_for(&figures, bps as u32, Currency::USD).unwrap();
        assert_eq!(amount, line.amount.minor);
        assert!(amount > 0);
        if verified == "verified" {
            assert_eq!(state, "pending");
        } else {
            assert_eq!(state, "held");
        }
    }
    let view = payouts::show(&pool, Some(g.batch_id), &chrono_tz::UTC)
        .await
        .unwrap()
        .unwrap();
    let json = serde_json::to_value(&view).unwrap();
    for key in [
        "id",
        "week",
        "state",
        "generated_by",
        "approved_by",
        "lines",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let held = view.lines.iter().find(|l| l.state == "held").unwrap();
    assert_eq!(held.hold_reason.as_deref(), Some("bank details missing"));
    assert_eq!(json["lines"][0]["net"]["currency"], "USD");

    // Generating again: the same batch, nothing new.
    let again = generate(&pool, &run, "bob").await;
    assert!(!again.created);
    assert_eq!(again.batch_id, g.batch_id);
    assert_eq!(again.total, g.total);

    // Maker-checker: alice generated it.
    let before = fingerprint(&pool).await;
    let e = payouts::approve(&pool, &actor("alice"), g.batch_id)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("maker-checker"), "{e}");
    assert_eq!(fingerprint(&pool).await, before);
    // Not approved: cannot be processed.
    assert!(
        payouts::process(&pool, &actor("bob"), g.batch_id)
            .await
            .is_err()
    );
    payouts::approve(&pool, &actor("bob"), g.batch_id)
        .await
        .expect("bob approves");

    let q = payouts::process(&pool, &actor("bob"), g.batch_id)
        .await
        .expect("process");
    assert_eq!(q.queued.len(), 3);
    run.settle(&pool).await;
    assert_eq!(run.fundings(), 3, "one funded transfer per verified line");
    for (_, _, state, _, ctid) in lines(&pool, g.batch_id).await {
        if state == "held" {
            continue;
        }
        assert_eq!(state, "sent");
        let t = run.sims.wise.transfers_for(&ctid.unwrap());
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].fundings, 1);
    }
    let state: String = sqlx::query_scalar("SELECT state FROM payout_batches WHERE id = $1")
        .bind(g.batch_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "completed");

    // Processing again pays nothing new.
    let q = payouts::process(&pool, &actor("bob"), g.batch_id)
        .await
        .expect("process again");
    assert!(q.queued.is_empty());
    run.settle(&pool).await;
    assert_eq!(run.fundings(), 3);

    // The held creator's bank details verified: the line is released and paid once.
    let (missing_id, missing, _) = run.creators.iter().find(|c| !c.2).unwrap().clone();
    assert!(
        payouts::bank(&pool, &actor("bob"), &missing, true, "checked")
            .await
            .is_err(),
        "no Wise recipient on file"
    );
    let recipient = run.sims.wise.add_recipient("USD", "late");
    sqlx::query("UPDATE creators SET wise_recipient_id = $2 WHERE id = $1")
        .bind(missing_id)
        .bind(recipient)
        .execute(&pool)
        .await
        .unwrap();
    let t = payouts::bank(&pool, &actor("alice"), &missing, true, "statement checked")
        .await
        .expect("verify");
    assert_eq!(t.lines.len(), 1);
    let q = payouts::process(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    assert_eq!(q.queued.len(), 1);
    run.settle(&pool).await;
    assert_eq!(run.fundings(), 4);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT action) FROM audit_log WHERE action LIKE 'payouts.%' OR action LIKE 'creators.%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 4, "generate, approve, process, bank verify");
}

#[sqlx::test]
async fn killed_mid_processing_and_restarted_pays_every_line_exactly_once(pool: PgPool) {
    let run = start(&pool, 6).await;
    let g = generate(&pool, &run, "alice").await;
    payouts::approve(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    let q = payouts::process(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    assert_eq!(q.queued.len(), 6);
    // Three executors die right after Wise answered, before recording.
    for _ in 0..3 {
        let (hook, mut called) = tokio::sync::mpsc::unbounded_channel();
        let opts = ExecOptions {
            crash_after_call: Some(hook),
            ..options()
        };
        let task = {
            let pool = pool.clone();
            let clients = run.clients.clone();
            tokio::spawn(async move { execute_next(&pool, &clients, &opts).await })
        };
        called.recv().await.expect("reached Wise");
        task.abort();
        assert!(task.await.is_err_and(|e| e.is_cancelled()));
    }
    // Restarted: everything is sent again with the same keys.
    run.settle(&pool).await;
    let transfers = run.sims.wise.transfers();
    assert_eq!(transfers.len(), 6, "one transfer per line");
    assert!(transfers.iter().all(|t| t.fundings == 1), "{transfers:?}");
    assert_eq!(run.fundings(), 6);
    let paid: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payout_items WHERE batch_id = $1 AND state = 'sent'",
    )
    .bind(g.batch_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(paid, 6);
}

#[sqlx::test]
async fn a_bounced_transfer_fails_the_line_with_a_p1_alert_and_retry_pays_it_once(pool: PgPool) {
    let run = start(&pool, 2).await;
    let g = generate(&pool, &run, "alice").await;
    payouts::approve(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    payouts::process(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    run.settle(&pool).await;
    assert_eq!(run.fundings(), 2);
    // Nothing failed yet: nothing to retry.
    assert!(
        payouts::retry(&pool, &actor("bob"), g.batch_id, None)
            .await
            .unwrap()
            .queued
            .is_empty()
    );

    let (line, old_transfer): (i64, i64) = sqlx::query_as(
        "SELECT id, wise_transfer_id FROM payout_items WHERE batch_id = $1 AND state = 'sent' ORDER BY id LIMIT 1",
    )
    .bind(g.batch_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        run.sims
            .wise
            .set_transfer_status(old_transfer, "bounced_back")
    );
    run.settle(&pool).await;
    let (state, reason): (String, Option<String>) =
        sqlx::query_as("SELECT state, failure_reason FROM payout_items WHERE id = $1")
            .bind(line)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(state, "failed");
    assert!(reason.unwrap().contains("bounced_back"));
    let alert: (String, String) = sqlx::query_as(
        "SELECT priority, rule_key FROM alerts WHERE rule_key = 'payout_failures' AND state = 'open'",
    )
    .fetch_one(&pool)
    .await
    .expect("a payout failure alert");
    assert_eq!(alert.0, "P1");
    let batch_state: String = sqlx::query_scalar("SELECT state FROM payout_batches WHERE id = $1")
        .bind(g.batch_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(batch_state, "partially_failed");

    // A viewer and an agent cannot retry; a paid line is never retried.
    let before = fingerprint(&pool).await;
    assert!(
        payouts::retry(&pool, &actor("vic"), g.batch_id, None)
            .await
            .is_err()
    );
    assert!(
        payouts::retry(&pool, &actor("ann"), g.batch_id, Some(line))
            .await
            .is_err()
    );
    let paid_line: i64 = sqlx::query_scalar(
        "SELECT id FROM payout_items WHERE batch_id = $1 AND state = 'sent' LIMIT 1",
    )
    .bind(g.batch_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let e = payouts::retry(&pool, &actor("bob"), g.batch_id, Some(paid_line))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("only failed lines"), "{e}");
    assert_eq!(fingerprint(&pool).await, before);

    let q = payouts::retry(&pool, &actor("bob"), g.batch_id, None)
        .await
        .unwrap();
    assert_eq!(q.queued, vec![line]);
    // Asked twice before the worker ran: still one retry.
    let q = payouts::retry(&pool, &actor("bob"), g.batch_id, None)
        .await
        .unwrap();
    assert!(q.queued.is_empty());
    run.settle(&pool).await;
    assert_eq!(
        run.fundings(),
        3,
        "the bounced line paid once more, nothing else"
    );
    let (state, transfer): (String, i64) =
        sqlx::query_as("SELECT state, wise_transfer_id FROM payout_items WHERE id = $1")
            .bind(line)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(state, "sent");
    assert_ne!(transfer, old_transfer);
    // The bounced transfer's late events change nothing.
    assert!(
        run.sims
            .wise
            .set_transfer_status(old_transfer, "funds_refunded")
    );
    run.settle(&pool).await;
    let state: String = sqlx::query_scalar("SELECT state FROM payout_items WHERE id = $1")
        .bind(line)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "sent");
    let batch_state: String = sqlx::query_scalar("SELECT state FROM payout_batches WHERE id = $1")
        .bind(g.batch_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(batch_state, "completed");
}

#[sqlx::test]
async fn retry_never_pays_a_line_whose_money_may_have_moved(pool: PgPool) {
    let run = start(&pool, 1).await;
    let g = generate(&pool, &run, "alice").await;
    payouts::approve(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    payouts::process(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    run.settle(&pool).await;
    // Our books say failed (say, a bounce event that Wise then rolled back),
    // but Wise says the money went out: the retry asks first and pays nothing.
    let line: i64 = sqlx::query_scalar(
        "UPDATE payout_items SET state = 'failed', failure_reason = 'test' WHERE batch_id = $1 AND state = 'sent' RETURNING id",
    )
    .bind(g.batch_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    payouts::retry(&pool, &actor("bob"), g.batch_id, Some(line))
        .await
        .unwrap();
    run.settle(&pool).await;
    assert_eq!(run.fundings(), 1);
    assert_eq!(run.sims.wise.transfers().len(), 1);
    let state: String = sqlx::query_scalar("SELECT state FROM payout_items WHERE id = $1")
        .bind(line)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "sent");
}

#[sqlx::test]
async fn refusals_at_the_store_write_nothing(pool: PgPool) {
    let run = start(&pool, 2).await;
    let creator = run.creators[0].1.clone();
    let week = run.schedule.this_week(Utc::now());
    let before = fingerprint(&pool).await;
    let refused = |r: Result<(), PayoutError>, who: &str| {
        let e = r.expect_err(who);
        assert!(
            matches!(e, PayoutError::Auth(_) | PayoutError::Refused(_)),
            "{who}: {e}"
        );
    };
    for who in ["vic", "ann"] {
        refused(
            payouts::generate(&pool, Maker::Operator(&actor(who)), &run.schedule, week)
                .await
                .map(|_| ()),
            who,
        );
        refused(
            payouts::hold(&pool, &actor(who), &creator, "x")
                .await
                .map(|_| ()),
            who,
        );
        refused(
            payouts::bank(&pool, &actor(who), &creator, false, "x")
                .await
                .map(|_| ()),
            who,
        );
        refused(
            payouts::adjust(
                &pool,
                &actor(who),
                &run.schedule,
                &creator,
                usd(500),
                "x",
                Utc::now(),
            )
            .await
            .map(|_| ()),
            who,
        );
    }
    let ro = Actor::new("alice").read_only();
    refused(
        payouts::generate(&pool, Maker::Operator(&ro), &run.schedule, week)
            .await
            .map(|_| ()),
        "read-only",
    );
    // An operator who is not an admin cannot act as someone else.
    refused(
        payouts::hold(&pool, &Actor::acting_as("ann", "bob"), &creator, "x")
            .await
            .map(|_| ()),
        "agent acting as finance",
    );
    // Negative adjustments and reasonless holds are refused too.
    refused(
        payouts::adjust(
            &pool,
            &actor("alice"),
            &run.schedule,
            &creator,
            usd(-500),
            "x",
            Utc::now(),
        )
        .await
        .map(|_| ()),
        "negative",
    );
    refused(
        payouts::hold(&pool, &actor("alice"), &creator, "  ")
            .await
            .map(|_| ()),
        "no reason",
    );
    assert_eq!(fingerprint(&pool).await, before, "nothing written");

    // Maker-checker on changes: bob holds a line of alice's batch; neither approves.
    let g = generate(&pool, &run, "alice").await;
    payouts::hold(&pool, &actor("bob"), &creator, "tax form missing")
        .await
        .unwrap();
    let before = fingerprint(&pool).await;
    for who in ["alice", "bob", "ann", "vic"] {
        refused(payouts::approve(&pool, &actor(who), g.batch_id).await, who);
    }
    refused(
        payouts::approve(&pool, &Actor::acting_as("root", "alice"), g.batch_id).await,
        "root as alice",
    );
    refused(
        payouts::approve(&pool, &Actor::new("root").read_only(), g.batch_id).await,
        "read-only root",
    );
    assert_eq!(fingerprint(&pool).await, before, "nothing written");
    payouts::approve(&pool, &actor("root"), g.batch_id)
        .await
        .expect("root neither generated nor changed it");
    // The held line is not sent; released, it is.
    let q = payouts::process(&pool, &actor("alice"), g.batch_id)
        .await
        .unwrap();
    assert_eq!(q.queued.len(), 1);
    let t = payouts::release(&pool, &actor("alice"), &creator, "form received")
        .await
        .unwrap();
    assert_eq!(t.lines.len(), 1);
    let q = payouts::process(&pool, &actor("alice"), g.batch_id)
        .await
        .unwrap();
    assert_eq!(q.queued.len(), 1);
    run.settle(&pool).await;
    assert_eq!(run.fundings(), 2);
}

#[sqlx::test]
async fn an_order_is_never_in_two_batches_and_adjustments_are_their_own_lines(pool: PgPool) {
    let run = start(&pool, 2).await;
    let week = run.schedule.this_week(Utc::now());
    let first = payouts::generate(&pool, Maker::Operator(&actor("alice")), &run.schedule, week)
        .await
        .unwrap();
    // Orders paid since become payable a week later; none of the first batch's again.
    sqlx::query("UPDATE orders SET paid_at = paid_at - interval '10 days' WHERE paid_at > now() - interval '3 days'")
        .execute(&pool)
        .await
        .unwrap();
    let second = payouts::generate(&pool, Maker::Schedule, &run.schedule, week.next())
        .await
        .unwrap();
    assert_ne!(first.batch_id, second.batch_id);
    assert_eq!(
        second.orders, 3,
        "only the three orders that were in the return window"
    );
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT order_id FROM payout_item_orders GROUP BY order_id HAVING count(*) > 1) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(twice, 0);
    // The database itself refuses an order in a second line.
    let (order, other_line): (i64, i64) = sqlx::query_as(
        "SELECT p.order_id, (SELECT id FROM payout_items WHERE batch_id = $1 LIMIT 1)
           FROM payout_item_orders p JOIN payout_items i ON i.id = p.payout_item_id WHERE i.batch_id = $2 LIMIT 1",
    )
    .bind(second.batch_id)
    .bind(first.batch_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let dup = sqlx::query(
        "INSERT INTO payout_item_orders (payout_item_id, order_id, earnings_minor) VALUES ($1, $2, 1)",
    )
    .bind(other_line)
    .bind(order)
    .execute(&pool)
    .await;
    assert!(dup.is_err(), "unique order_id");

    // An adjustment joins the open (generated) batch as its own line; the
    // adjuster may no longer approve it.
    let a = payouts::adjust(
        &pool,
        &actor("bob"),
        &run.schedule,
        &run.creators[0].1,
        usd(2_500),
        "commission miscalculated on ORD-0-1",
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(a.batch_id, first.batch_id);
    assert!(
        payouts::approve(&pool, &actor("bob"), first.batch_id)
            .await
            .is_err()
    );
    payouts::approve(&pool, &actor("root"), first.batch_id)
        .await
        .unwrap();
    payouts::approve(&pool, &actor("root"), second.batch_id)
        .await
        .unwrap();
    // Both batches approved: the next adjustment opens a draft for a later week,
    // which that week's generation fills.
    let b = payouts::adjust(
        &pool,
        &actor("bob"),
        &run.schedule,
        &run.creators[1].1,
        usd(100),
        "goodwill",
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(b.batch_id != first.batch_id && b.batch_id != second.batch_id);
    assert!(b.week > week.next());
    let filled = payouts::generate(&pool, Maker::Schedule, &run.schedule, b.week)
        .await
        .unwrap();
    assert_eq!(filled.batch_id, b.batch_id);
    assert!(filled.created);
}

#[sqlx::test]
async fn the_worker_schedule_generates_the_due_week_once(pool: PgPool) {
    let run = start(&pool, 1).await;
    let now = Utc::now();
    let made = lsn_ops::worker::payouts::tick(&pool, &run.schedule, now)
        .await
        .unwrap();
    let id = made.expect("the due week's batch");
    let (by, at): (String, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT generated_by, scheduled_for FROM payout_batches WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(by, "worker (schedule)");
    assert!(at <= now && now - at < chrono::Duration::days(7));
    assert_eq!(
        lsn_ops::worker::payouts::tick(&pool, &run.schedule, now)
            .await
            .unwrap(),
        None
    );
    // The scheduler made it, so any finance operator may approve it.
    payouts::approve(&pool, &actor("alice"), id).await.unwrap();
}

/// The acceptance run with a real `lsn-ops worker` process: the batch is
/// processed by the worker binary, which is killed with SIGKILL twice while
/// Wise calls are in flight and started again; the Wise simulator (slowed so
/// that the kills land mid-run) counts one funded transfer per line. The
/// simulators' webhooks go to this test's receiver, which stays up; the
/// worker process applies them from the inbox like any other worker would.
#[sqlx::test]
async fn a_worker_process_killed_with_sigkill_mid_run_pays_every_line_once(pool: PgPool) {
    const LINES: u32 = 8;
    let run = start(&pool, LINES as usize).await;
    let g = generate(&pool, &run, "alice").await;
    payouts::approve(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    let q = payouts::process(&pool, &actor("bob"), g.batch_id)
        .await
        .unwrap();
    assert_eq!(q.queued.len(), LINES as usize);
    run.sims.wise.set_knobs(lsn_ops::simulators::Knobs {
        latency: Duration::from_millis(120),
        ..Default::default()
    });

    let dir = std::env::temp_dir().join(format!("lsn-ops-payout-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("config.toml");
    std::fs::write(&config, worker_config(&pool, &run)).expect("config");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lsn-ops"))
            .arg("--config")
            .arg(&config)
            .arg("worker")
            .env_remove("DATABASE_URL")
            .env("LSN_OPS_LOG__DIR", dir.join("logs"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start lsn-ops worker")
    };
    for kill_at in [2, 5] {
        let mut worker = spawn();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while run.fundings() < kill_at {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the worker funded {} transfers in 60 s",
                run.fundings()
            );
            assert!(worker.try_wait().expect("wait").is_none(), "worker exited");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // SIGKILL: no shutdown path runs, whatever was in flight stays so.
        worker.kill().expect("SIGKILL");
        worker.wait().expect("reap");
        // Time passes: the dead worker's lease on its in-flight command runs
        // out (fast-forwarded here instead of waiting five minutes).
        sqlx::query("UPDATE commands SET next_attempt_at = now() WHERE state = 'in_flight'")
            .execute(&pool)
            .await
            .unwrap();
    }
    assert!(run.fundings() < LINES, "the kills landed before the end");

    let mut worker = spawn();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM payout_items WHERE batch_id = $1 AND state = 'sent'",
        )
        .bind(g.batch_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        if sent == i64::from(LINES) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sent} of {LINES} lines sent after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.kill().expect("stop the worker");
    worker.wait().expect("reap");

    let transfers = run.sims.wise.transfers();
    assert_eq!(transfers.len(), LINES as usize, "one transfer per line");
    assert!(transfers.iter().all(|t| t.fundings == 1), "{transfers:?}");
    assert_eq!(run.fundings(), LINES);
    let keys: std::collections::HashSet<_> = transfers
        .iter()
        .map(|t| t.customer_transaction_id.clone())
        .collect();
    assert_eq!(keys.len(), LINES as usize, "one key per line");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A config file that points the worker binary at this test's database and
/// simulators (its own HTTP server on a free port; webhooks come to the
/// test's receiver).
fn worker_config(pool: &PgPool, run: &Run) -> String {
    use lsn_ops::simulators::*;
    let options = pool.connect_options();
    let database = options.get_database().expect("test database name");
    let server = std::env::var("LSN_OPS_TEST_PG_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    format!(
        r#"[database]
url = "{server}/{database}"
[ops]
timezone = "UTC"
[worker]
listen = "127.0.0.1:0"
[paypal]
api_base = "{paypal}"
client_id = "{PAYPAL_CLIENT_ID}"
client_secret = "{PAYPAL_CLIENT_SECRET}"
webhook_id = "{PAYPAL_WEBHOOK_ID}"
verify = "offline"
[wise]
api_base = "{wise}"
api_token = "{WISE_API_TOKEN}"
profile_id = "{WISE_PROFILE_ID}"
webhook_public_key = '''
{key}'''
[twilio]
api_base = "{twilio}"
account_sid = "{TWILIO_ACCOUNT_SID}"
api_key_sid = "{TWILIO_API_KEY_SID}"
api_key_secret = "{TWILIO_API_KEY_SECRET}"
auth_token = "{TWILIO_AUTH_TOKEN}"
"#,
        paypal = run.sims.paypal.base_url(),
        wise = run.sims.wise.base_url(),
        twilio = run.sims.twilio.base_url(),
        key = run.sims.wise.public_key_pem(),
    )
}
