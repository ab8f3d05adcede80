//! The alert rules on a real PostgreSQL, driven through time by passing the
//! clock to `Monitor::tick` (no test waits): a probe's alert fires only after
//! `for_s`, does not flap around the threshold, resolves after `recover_s`;
//! every built-in and domain rule raises its alert from the data and resolves
//! it when the data no longer shows it; a live show that cannot start opens a
//! P0 incident and its alert resolves when the show goes live.

use chrono::{DateTime, Duration, Utc};
use lsn_ops::config::{Config, ProbeConfig};
use lsn_ops::domain::probes::ProbeKind;
use lsn_ops::store::probes::{Sample, insert};
use lsn_ops::worker::monitor::Monitor;
use sqlx::PgPool;

fn t0() -> DateTime<Utc> {
    // A fixed instant in the recent past (the domain rules compare with the
    // rows' own timestamps, which these tests write relative to it).
    Utc::now() - Duration::hours(1)
}

fn probe(name: &str) -> ProbeConfig {
    ProbeConfig {
        name: name.into(),
        kind: ProbeKind::Http,
        target: "http://127.0.0.1:9/health".into(),
        interval_s: 10,
        timeout_ms: 1000,
        expect_status: "200-399".into(),
        for_s: None,
        recover_s: None,
        thresholds: Default::default(),
    }
}

fn monitor(config: Config) -> Monitor {
    Monitor::from_config(&config, chrono_tz::UTC)
}

async fn sample(pool: &PgPool, name: &str, at: DateTime<Utc>, status: i32) {
    let s = Sample {
        probe: name.into(),
        at,
        ok: (200..400).contains(&status),
        reached: true,
        latency_ms: Some(20),
        status: Some(status),
        cert_days: None,
        value: None,
        detail: None,
    };
    insert(pool, &[s]).await.expect("sample");
}

async fn alert(pool: &PgPool, key: &str) -> Option<(i64, String, i32)> {
    sqlx::query_as(
        "SELECT id, state, occurrences FROM alerts WHERE dedup_key = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(key)
    .fetch_optional(pool)
    .await
    .expect("alert")
}

#[sqlx::test]
async fn a_probe_alert_fires_after_for_s_does_not_flap_and_resolves_after_recover_s(pool: PgPool) {
    let mut config = Config::default();
    config.alerts.for_s = 60;
    config.alerts.recover_s = 120;
    config.alerts.window_s = 60;
    config.probes = vec![probe("api")];
    let m = monitor(config);
    let key = "probe:api:error_rate";
    let t = t0();
    let at = |s: i64| t + Duration::seconds(s);

    // Failing: pending for 59 s, firing at 60 s.
    sample(&pool, "api", at(-1), 500).await;
    let tick = m.tick(&pool, at(0)).await.expect("tick");
    assert_eq!(tick.outcome.pending.len(), 1);
    assert_eq!(alert(&pool, key).await.expect("row").1, "pending");
    sample(&pool, "api", at(58), 500).await;
    m.tick(&pool, at(59)).await.expect("tick");
    assert_eq!(alert(&pool, key).await.expect("row").1, "pending");
    let tick = m.tick(&pool, at(60)).await.expect("tick");
    assert_eq!(tick.outcome.fired.len(), 1, "fires at for_s");
    let (id, state, occurrences) = alert(&pool, key).await.expect("row");
    assert_eq!((state.as_str(), occurrences), ("open", 1));
    let title: String = sqlx::query_scalar("SELECT title FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("title");
    assert!(title.starts_with("api: error rate 100.00%"), "{title}");

    // Clear for a while, then failing again before recover_s: the same alert, one more occurrence.
    for s in (150..=199).step_by(10) {
        sample(&pool, "api", at(s), 200).await;
    }
    m.tick(&pool, at(200)).await.expect("tick");
    assert_eq!(
        alert(&pool, key).await.expect("row").1,
        "open",
        "recovering, not resolved"
    );
    sample(&pool, "api", at(249), 500).await;
    m.tick(&pool, at(250)).await.expect("tick");
    let (again, state, occurrences) = alert(&pool, key).await.expect("row");
    assert_eq!(
        (again, state.as_str(), occurrences),
        (id, "open", 2),
        "no second alert"
    );

    // Clear from 320 s: still firing at 439 s, resolved by itself at 440 s.
    for s in (260..=439).step_by(10) {
        sample(&pool, "api", at(s), 200).await;
    }
    m.tick(&pool, at(320)).await.expect("tick");
    m.tick(&pool, at(439)).await.expect("tick");
    assert_eq!(alert(&pool, key).await.expect("row").1, "open");
    let tick = m.tick(&pool, at(440)).await.expect("tick");
    assert_eq!(tick.outcome.resolved, vec![id]);
    let (state, by, note): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT state, resolved_by, resolve_note FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("resolved");
    assert_eq!(
        (state.as_str(), by.as_deref(), note.as_deref()),
        ("resolved", Some("lsn-ops"), Some("recovered"))
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE entity_type = 'alert' AND entity_id = $1
            AND action IN ('alert.fire', 'alert.resolve')",
    )
    .bind(id.to_string())
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 2, "firing and resolving are audited");
}

#[sqlx::test]
async fn a_condition_that_clears_while_pending_never_fires(pool: PgPool) {
    let mut config = Config::default();
    config.alerts.for_s = 60;
    config.alerts.window_s = 20;
    config.probes = vec![probe("edge")];
    let m = monitor(config);
    let t = t0();
    let at = |s: i64| t + Duration::seconds(s);
    // Around the threshold: failing, passing, failing... each shorter than for_s.
    for round in 0..4 {
        let base = round * 40;
        sample(&pool, "edge", at(base), 500).await;
        m.tick(&pool, at(base + 1)).await.expect("tick");
        sample(&pool, "edge", at(base + 21), 200).await;
        m.tick(&pool, at(base + 22)).await.expect("tick");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 0, "nothing fired, nothing left pending");
}

#[sqlx::test]
async fn per_probe_thresholds_and_unreachable_targets(pool: PgPool) {
    let mut config = Config::default();
    config.alerts.for_s = 0;
    config.alerts.window_s = 60;
    let mut slow = probe("slow");
    slow.thresholds.p95_max_ms = Some(1000);
    config.probes = vec![slow, probe("fast"), probe("down")];
    let m = monitor(config);
    let t = t0();
    let latency = |probe: &str, ms: i32| Sample {
        probe: probe.into(),
        at: t - Duration::seconds(5),
        ok: true,
        reached: true,
        latency_ms: Some(ms),
        status: Some(200),
        cert_days: None,
        value: None,
        detail: None,
    };
    let down = Sample {
        probe: "down".into(),
        reached: false,
        ok: false,
        latency_ms: None,
        status: None,
        detail: Some("connection refused".into()),
        ..latency("down", 0)
    };
    insert(&pool, &[latency("slow", 800), latency("fast", 800), down])
        .await
        .expect("samples");
    let tick = m.tick(&pool, t).await.expect("tick");
    let mut holding = tick.holding.clone();
    holding.retain(|k| k.starts_with("probe:"));
    holding.sort();
    assert_eq!(
        holding,
        ["probe:down:uptime", "probe:fast:api_latency"],
        "800 ms is over the default 500 ms, not over slow's 1000 ms"
    );
}

/// A creator, a customer and `n` orders (for payments and the fraud queue).
async fn orders(pool: &PgPool, n: i64, fraud_state: &str, created: DateTime<Utc>) -> Vec<i64> {
    sqlx::query(
        "INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('ava', 'Ava', 'gold', 2000)
         ON CONFLICT DO NOTHING",
    )
    .execute(pool)
    .await
    .expect("creator");
    sqlx::query(
        "INSERT INTO customers (email, name, country) VALUES ('b@example.com', 'B', 'US') ON CONFLICT DO NOTHING",
    )
    .execute(pool)
    .await
    .expect("customer");
    sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor,
                             email, fraud_state, created_at)
         SELECT 'ORD-' || $3 || '-' || g, (SELECT id FROM customers LIMIT 1), (SELECT id FROM creators LIMIT 1),
                'paid', 'USD', 1000, 1000, 'b@example.com', $2, $4
           FROM generate_series(1, $1) g
         RETURNING id",
    )
    .bind(n)
    .bind(fraud_state)
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(created)
    .fetch_all(pool)
    .await
    .expect("orders")
}

async fn state_of(pool: &PgPool, key: &str) -> Option<String> {
    alert(pool, key).await.map(|a| a.1)
}

#[sqlx::test]
async fn every_data_rule_raises_its_alert_and_resolves_when_the_data_is_fixed(pool: PgPool) {
    // The built-in rules are damped (for_s, recover_s); the domain ones are not.
    let mut config = Config::default();
    config.alerts.for_s = 60;
    config.alerts.recover_s = 120;
    config.alerts.window_s = 300;
    config.alerts.payment_min_count = 10;
    let m = monitor(config);
    let now = Utc::now();

    // Payments: 2 of 20 failed in the window (10% > 5%).
    let ids = orders(&pool, 20, "clear", now - Duration::minutes(5)).await;
    for (i, id) in ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at)
             VALUES ($1, $2, $3, 1000, 'USD', $4)",
        )
        .bind(id)
        .bind(format!("CAP-{id}"))
        .bind(if i < 2 { "FAILED" } else { "COMPLETED" })
        .bind(now - Duration::minutes(2))
        .execute(&pool)
        .await
        .expect("payment");
    }
    // The inbox: a dead event; 101 events waiting over a minute.
    sqlx::query(
        "INSERT INTO provider_events (provider, event_id, event_type, payload, status, received_at)
         SELECT 'paypal', 'EV-' || g, 'X', '{}'::jsonb, CASE WHEN g = 0 THEN 'dead' ELSE 'pending' END,
                now() - interval '2 minutes'
           FROM generate_series(0, 101) g",
    )
    .execute(&pool)
    .await
    .expect("events");
    // A show 10 minutes past its start, no room; a product pinned in it, oversold.
    let show: i64 = sqlx::query_scalar(
        "INSERT INTO shows (creator_id, title, scheduled_start, scheduled_end)
         VALUES ((SELECT id FROM creators LIMIT 1), 'Sneaker Drop', $1, $2) RETURNING id",
    )
    .bind(now - Duration::minutes(10))
    .bind(now + Duration::hours(1))
    .fetch_one(&pool)
    .await
    .expect("show");
    let product: i64 = sqlx::query_scalar(
        "INSERT INTO products (sku, name, currency, price_minor, cost_minor, stock_on_hand, stock_reserved, reorder_point)
         VALUES ('SKU-LOW', 'Mug', 'USD', 1000, 500, 10, 8, 5) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("product");
    let oversold: i64 = sqlx::query_scalar(
        "INSERT INTO products (sku, name, currency, price_minor, cost_minor, stock_on_hand, stock_reserved)
         VALUES ('SKU-OVER', 'Cap', 'USD', 1000, 500, 3, 5) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("product");
    sqlx::query("INSERT INTO show_products (show_id, product_id) VALUES ($1, $2)")
        .bind(show)
        .bind(product)
        .execute(&pool)
        .await
        .expect("pin");
    // A dispute whose SLA ends in 2 h with evidence missing.
    let dispute: i64 = sqlx::query_scalar(
        "INSERT INTO disputes (paypal_dispute_id, state, reason, amount_minor, currency, opened_at, sla_due_at)
         VALUES ('PP-D-1', 'EVIDENCE_REQUIRED', 'MERCHANDISE_OR_SERVICE_NOT_RECEIVED', 1000, 'USD', $1, $2) RETURNING id",
    )
    .bind(now - Duration::hours(22))
    .bind(now + Duration::hours(2))
    .fetch_one(&pool)
    .await
    .expect("dispute");
    sqlx::query("INSERT INTO dispute_evidence (dispute_id, item) VALUES ($1, 'shipping_tracking')")
        .bind(dispute)
        .execute(&pool)
        .await
        .expect("evidence");
    // A failed payout line.
    let batch: i64 = sqlx::query_scalar(
        "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency)
         VALUES ($1, $2, $2, 'processing', 'USD') RETURNING id",
    )
    .bind(now - Duration::days(7))
    .bind(now)
    .fetch_one(&pool)
    .await
    .expect("batch");
    sqlx::query(
        "INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, state,
                                   customer_transaction_id)
         VALUES ($1, (SELECT id FROM creators LIMIT 1), 'earnings', 'USD', 2000, 5000, 'failed', gen_random_uuid())",
    )
    .bind(batch)
    .execute(&pool)
    .await
    .expect("line");
    // The fraud queue: an order pending review for 2 hours.
    orders(&pool, 1, "pending", now - Duration::hours(2)).await;
    // This machine: disk 91% used, memory 97%; the database failed twice.
    let system = |probe: &str, v: f64| Sample {
        probe: probe.into(),
        at: now - Duration::seconds(5),
        ok: true,
        reached: true,
        latency_ms: None,
        status: None,
        cert_days: None,
        value: Some(v),
        detail: Some("test-host /".into()),
    };
    insert(
        &pool,
        &[system("system:disk", 91.0), system("system:memory", 97.0)],
    )
    .await
    .expect("system");
    // Inside the window at +0 s and +60 s, out of it from +100 s.
    m.database_failed(now - Duration::seconds(200));
    m.database_failed(now - Duration::seconds(190));

    let damped = [
        "payments:failure_rate",
        "inbox:failures",
        "inbox:backlog",
        "system:disk",
        "system:memory",
        "database:connection",
    ];
    let tick = m.tick(&pool, now).await.expect("tick");
    for key in damped {
        assert_eq!(
            state_of(&pool, key).await.as_deref(),
            Some("pending"),
            "{key} waits for for_s"
        );
    }
    m.tick(&pool, now + Duration::seconds(59))
        .await
        .expect("tick");
    for key in damped {
        assert_eq!(
            state_of(&pool, key).await.as_deref(),
            Some("pending"),
            "{key} at 59 s"
        );
    }
    let fired_late = m
        .tick(&pool, now + Duration::seconds(60))
        .await
        .expect("tick");
    assert_eq!(
        fired_late.outcome.fired.len(),
        damped.len(),
        "all fire at for_s"
    );
    let keys = [
        "payments:failure_rate".to_string(),
        "inbox:failures".into(),
        "inbox:backlog".into(),
        format!("show:{show}:cannot_start"),
        format!("low_stock:{product}"),
        format!("oversell:{oversold}"),
        "disputes:sla_at_risk".into(),
        format!("payout:failed:batch:{batch}"),
        "fraud:backlog".into(),
        "system:disk".into(),
        "system:memory".into(),
        "database:connection".into(),
    ];
    for key in &keys {
        assert_eq!(
            state_of(&pool, key).await.as_deref(),
            Some("open"),
            "{key} fires"
        );
    }
    assert_eq!(
        tick.outcome.fired.len(),
        keys.len() - damped.len(),
        "the domain rules at once"
    );
    // The show's P0 opened an incident by itself.
    let (priority, declared_by): (String, String) = sqlx::query_as(
        "SELECT i.priority, i.declared_by FROM incidents i JOIN alerts a ON a.id = i.alert_id
          WHERE a.dedup_key = $1",
    )
    .bind(format!("show:{show}:cannot_start"))
    .fetch_one(&pool)
    .await
    .expect("incident");
    assert_eq!((priority.as_str(), declared_by.as_str()), ("P0", "lsn-ops"));

    // Fix the data: each domain alert resolves at the next evaluation, the
    // damped ones once clear for recover_s.
    let fixes = [
        "UPDATE payments SET status = 'COMPLETED'",
        "UPDATE provider_events SET status = 'applied'",
        "UPDATE shows SET status = 'live', started_at = now(), twilio_room_sid = 'RM1'",
        "UPDATE products SET stock_on_hand = 50, stock_reserved = 0",
        "UPDATE dispute_evidence SET status = 'collected'",
        "UPDATE payout_items SET state = 'sent'",
        "UPDATE orders SET fraud_state = 'approved'",
    ];
    for sql in fixes {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let at = |secs: i64| now + Duration::seconds(secs);
    let healthy = [system("system:disk", 50.0), system("system:memory", 40.0)]
        .map(|s| Sample { at: at(119), ..s });
    insert(&pool, &healthy).await.expect("system");
    let domain: Vec<&String> = keys
        .iter()
        .filter(|k| !damped.contains(&k.as_str()))
        .collect();
    let tick = m.tick(&pool, at(120)).await.expect("tick");
    assert_eq!(tick.outcome.resolved.len(), domain.len());
    for key in &domain {
        assert_eq!(
            state_of(&pool, key).await.as_deref(),
            Some("resolved"),
            "{key} resolves at once"
        );
    }
    m.tick(&pool, at(239)).await.expect("tick");
    for key in damped {
        assert_eq!(
            state_of(&pool, key).await.as_deref(),
            Some("open"),
            "{key} recovering at 239 s"
        );
    }
    let tick = m.tick(&pool, at(240)).await.expect("tick");
    assert_eq!(tick.outcome.resolved.len(), damped.len());
    for key in &keys {
        assert_eq!(
            state_of(&pool, key).await.as_deref(),
            Some("resolved"),
            "{key} resolves"
        );
    }
    let still_open: i64 =
        sqlx::query_scalar("SELECT count(*) FROM alerts WHERE state <> 'resolved'")
            .fetch_one(&pool)
            .await
            .expect("open");
    assert_eq!(still_open, 0);
    // The incident stays for a human, with the alert's news on its timeline.
    let news: String = sqlx::query_scalar(
        "SELECT e.body FROM incident_events e JOIN incidents i ON i.id = e.incident_id
          WHERE e.kind = 'alert' ORDER BY e.id DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("timeline");
    assert!(news.contains("resolved by itself"), "{news}");
}
