//! Fraud scoring on capture, on a real PostgreSQL: every indicator fires from
//! the data it names with its evidence, weights and thresholds come from the
//! configuration, the reference lists reload without a restart (a bad edit
//! never takes effect and raises an alert), blocklisted orders score at the
//! top, and `rescore` recomputes without touching decisions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lsn_ops::domain::fraud::Rules;
use lsn_ops::domain::fraud_lists::FILES;
use lsn_ops::domain::operators::Actor;
use lsn_ops::worker::apply::{ApplySettings, apply_due};
use lsn_ops::worker::reference::ReferenceCache;
use lsn_ops::worker::scoring::{Scoring, rescore};
use serde_json::json;
use sqlx::PgPool;

/// An order awaiting payment, with the attributes scoring reads.
struct NewOrder<'a> {
    number: &'a str,
    email: &'a str,
    ip: &'a str,
    ip_country: &'a str,
    billing: &'a str,
    shipping: &'a str,
    device: &'a str,
    payer: &'a str,
    total_minor: i64,
    status: &'a str,
    minutes_ago: i32,
}

impl Default for NewOrder<'_> {
    fn default() -> Self {
        Self {
            number: "LSN-1",
            email: "buyer@gmail.com",
            ip: "198.51.100.10",
            ip_country: "US",
            billing: "US",
            shipping: "US",
            device: "fp_own",
            payer: "PAYER-OWN",
            total_minor: 2_500,
            status: "pending_payment",
            minutes_ago: 0,
        }
    }
}

async fn customer(pool: &PgPool, email: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ($1, 'B', 'US')
         ON CONFLICT (email) DO UPDATE SET name = 'B' RETURNING id",
    )
    .bind(email)
    .fetch_one(pool)
    .await
    .expect("customer")
}

async fn order(pool: &PgPool, o: NewOrder<'_>) -> i64 {
    let customer = customer(pool, o.email).await;
    sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email, ip,
                             ip_country, billing_country, shipping_country, device_fingerprint, paypal_payer_id, created_at)
         VALUES ($1, $2, $3, 'USD', $4, $4, $5, $6::inet, $7, $8, $9, $10, $11, now() - make_interval(mins => $12))
         RETURNING id",
    )
    .bind(o.number)
    .bind(customer)
    .bind(o.status)
    .bind(o.total_minor)
    .bind(o.email)
    .bind(o.ip)
    .bind(o.ip_country)
    .bind(o.billing)
    .bind(o.shipping)
    .bind(o.device)
    .bind(o.payer)
    .bind(o.minutes_ago)
    .fetch_one(pool)
    .await
    .expect("order")
}

/// PayPal's PAYMENT.CAPTURE.COMPLETED for `number`, into the inbox, applied.
async fn capture(pool: &PgPool, settings: &ApplySettings, number: &str, value: &str) {
    let payload = json!({ "id": format!("WH-{number}"), "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource_type": "capture",
        "resource": { "id": format!("CAP-{number}"), "status": "COMPLETED", "custom_id": number,
                      "amount": { "currency_code": "USD", "value": value },
                      "create_time": "2026-11-24T10:00:00Z" } });
    sqlx::query(
        "INSERT INTO provider_events (provider, event_id, event_type, payload) VALUES ('paypal', $1, 'PAYMENT.CAPTURE.COMPLETED', $2)",
    )
    .bind(format!("WH-{number}"))
    .bind(payload)
    .execute(pool)
    .await
    .expect("event");
    apply_due(pool, settings.clone(), 10).await.expect("apply");
}

/// (score, fraud_state, status) and the indicators as "name points evidence".
async fn scored(pool: &PgPool, number: &str) -> (i16, String, String, Vec<String>) {
    let (id, score, state, status): (i64, Option<i16>, String, String) = sqlx::query_as(
        "SELECT id, fraud_score, fraud_state, status FROM orders WHERE order_number = $1",
    )
    .bind(number)
    .fetch_one(pool)
    .await
    .expect("order");
    let indicators: Vec<(String, i16, String)> = sqlx::query_as(
        "SELECT fi.indicator, fi.points, fi.evidence FROM fraud_indicators fi
          WHERE fi.score_id = (SELECT id FROM fraud_scores WHERE order_id = $1 ORDER BY computed_at DESC, id DESC LIMIT 1)
          ORDER BY fi.indicator",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("indicators");
    (
        score.expect("scored"),
        state,
        status,
        indicators
            .into_iter()
            .map(|(i, p, e)| format!("{i} {p} {e}"))
            .collect(),
    )
}

fn settings(scoring: Scoring) -> ApplySettings {
    ApplySettings {
        scoring: Arc::new(scoring),
    }
}

fn lists_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lsn-ops-fraud-lists-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write_lists(dir: &Path, disposable: &str, proxies: &str, reputation: &str) {
    for (name, text) in FILES.iter().zip([disposable, proxies, reputation]) {
        std::fs::write(dir.join(name), text).expect("write list");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn every_indicator_fires_from_its_data_with_evidence(pool: PgPool) {
    let settings = ApplySettings::default();
    // Two earlier orders from the same proxy IP in the last 10 minutes, one of
    // them a failed payment by the same payer, on a device two others used.
    for (n, (email, status)) in [("a@gmail.com", "paid"), ("b@gmail.com", "payment_failed")]
        .into_iter()
        .enumerate()
    {
        order(
            &pool,
            NewOrder {
                number: &format!("LSN-EARLIER-{n}"),
                email,
                ip: "45.142.212.66",
                device: "fp_shared",
                payer: "PAYER-X",
                status,
                minutes_ago: 4 + n as i32,
                ..Default::default()
            },
        )
        .await;
    }
    // Another failed attempt by the payer, and an old dispute against the payer.
    order(
        &pool,
        NewOrder {
            number: "LSN-FAILED",
            email: "c@gmail.com",
            status: "payment_failed",
            payer: "PAYER-X",
            minutes_ago: 30,
            ..Default::default()
        },
    )
    .await;
    let disputed = order(
        &pool,
        NewOrder {
            number: "LSN-OLD",
            email: "d@gmail.com",
            payer: "PAYER-X",
            status: "delivered",
            minutes_ago: 60 * 24 * 30,
            ..Default::default()
        },
    )
    .await;
    sqlx::query(
        "INSERT INTO disputes (paypal_dispute_id, order_id, reason, amount_minor, currency, opened_at, sla_due_at)
         VALUES ('PP-D-1', $1, 'UNAUTHORISED', 2500, 'USD', now() - interval '20 days', now() - interval '19 days')",
    )
    .bind(disputed)
    .execute(&pool)
    .await
    .expect("dispute");

    order(
        &pool,
        NewOrder {
            number: "LSN-RISKY",
            email: "new@eu.yopmail.com",
            ip: "45.142.212.66",
            ip_country: "RO",
            billing: "US",
            shipping: "NG",
            device: "fp_shared",
            payer: "PAYER-X",
            total_minor: 61_200,
            ..Default::default()
        },
    )
    .await;
    capture(&pool, &settings, "LSN-RISKY", "612.00").await;
    let (score, state, status, indicators) = scored(&pool, "LSN-RISKY").await;
    assert_eq!(
        (score, state.as_str(), status.as_str()),
        (100, "pending", "on_hold")
    );
    assert_eq!(
        indicators,
        [
            "failed_payment_attempts 20 2 failed payment attempts in 1h",
            "geo_mismatch 15 IP in RO, billing in US, shipping to NG",
            "high_value_first_order 15 first order, $612.00",
            "ip_reputation 20 45.142.212.66 has abuse score 95 on the reputation list",
            "ip_velocity 25 3 orders from 45.142.212.66 in 10 min",
            "payment_history 25 payer has 1 earlier dispute(s) or chargeback(s)",
            "shared_device 20 device fp_shared seen on 2 other accounts",
            "shipping_billing_mismatch 10 ships to NG, bills to US",
            "suspicious_email_domain 15 disposable domain eu.yopmail.com",
            "vpn_proxy 15 45.142.212.66 is in proxy/VPN range 45.142.212.0/24 (Hosting VPN exits (sample))",
        ]
    );

    // A quiet order scores 0 and stays out of the queue.
    order(
        &pool,
        NewOrder {
            number: "LSN-QUIET",
            email: "quiet@gmail.com",
            device: "fp_quiet",
            ..Default::default()
        },
    )
    .await;
    capture(&pool, &settings, "LSN-QUIET", "25.00").await;
    let (score, state, status, indicators) = scored(&pool, "LSN-QUIET").await;
    assert_eq!(
        (score, state.as_str(), status.as_str()),
        (0, "clear", "paid")
    );
    assert!(indicators.is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn a_blocklisted_email_scores_at_the_top_of_the_queue(pool: PgPool) {
    sqlx::query(
        "INSERT INTO blocklist (kind, value, reason, added_by) VALUES ('email', 'mule@gmail.com', 'chargeback ring', 'alice')",
    )
    .execute(&pool)
    .await
    .expect("block");
    order(
        &pool,
        NewOrder {
            number: "LSN-MULE",
            email: "Mule@gmail.com",
            ..Default::default()
        },
    )
    .await;
    capture(&pool, &ApplySettings::default(), "LSN-MULE", "25.00").await;
    let (score, state, _, indicators) = scored(&pool, "LSN-MULE").await;
    assert_eq!((score, state.as_str()), (100, "pending"));
    assert_eq!(
        indicators,
        ["blocklisted 100 email mule@gmail.com is on the blocklist"]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn configured_weights_and_thresholds_decide_the_score(pool: PgPool) {
    let mut rules = Rules::default();
    rules.weights.shipping_billing_mismatch = 75;
    rules.weights.geo_mismatch = 0;
    rules.thresholds.high_value_first_order_minor = 10_000;
    let settings = settings(Scoring {
        high_risk_threshold: 70,
        rules,
        lists: ReferenceCache::built_in(),
    });
    order(
        &pool,
        NewOrder {
            number: "LSN-SHIP",
            email: "ship@gmail.com",
            shipping: "CA",
            total_minor: 12_000,
            ..Default::default()
        },
    )
    .await;
    capture(&pool, &settings, "LSN-SHIP", "120.00").await;
    let (score, state, _, indicators) = scored(&pool, "LSN-SHIP").await;
    assert_eq!(
        indicators,
        [
            "high_value_first_order 15 first order, $120.00",
            "shipping_billing_mismatch 75 ships to CA, bills to US",
        ],
        "geo mismatch is weighted 0: off"
    );
    assert_eq!((score, state.as_str()), (90, "pending"));
}

#[sqlx::test(migrations = "./migrations")]
async fn reference_lists_reload_without_a_restart(pool: PgPool) {
    let dir = lists_dir();
    let header = "range,abuse_score,source\n";
    write_lists(
        &dir,
        "mailinator.com\n",
        "203.0.113.0/24 test range\n",
        header,
    );
    let settings = settings(Scoring {
        high_risk_threshold: 70,
        rules: Rules::default(),
        lists: ReferenceCache::load(&dir, Duration::ZERO).expect("lists load"),
    });
    // The first order is outside the velocity window, so the other two count 1 and 2.
    let ip_order = |number: &'static str, email: &'static str, minutes_ago: i32| NewOrder {
        number,
        email,
        ip: "198.51.100.50",
        device: number,
        minutes_ago,
        ..Default::default()
    };
    order(&pool, ip_order("LSN-R1", "r1@newmail.example", 30)).await;
    capture(&pool, &settings, "LSN-R1", "25.00").await;
    assert!(scored(&pool, "LSN-R1").await.3.is_empty(), "not listed yet");

    // Ops add the range and the domain; the running worker picks them up.
    write_lists(
        &dir,
        "mailinator.com\nnewmail.example\n",
        "203.0.113.0/24 test range\n198.51.100.0/24 new VPN feed\n",
        &format!("{header}198.51.100.50,90,abuse desk\n"),
    );
    order(&pool, ip_order("LSN-R2", "r2@newmail.example", 0)).await;
    capture(&pool, &settings, "LSN-R2", "25.00").await;
    let (score, state, _, indicators) = scored(&pool, "LSN-R2").await;
    assert_eq!(
        indicators,
        [
            "ip_reputation 20 198.51.100.50 has abuse score 90 on the reputation list",
            "suspicious_email_domain 15 disposable domain newmail.example",
            "vpn_proxy 15 198.51.100.50 is in proxy/VPN range 198.51.100.0/24 (new VPN feed)",
        ]
    );
    assert_eq!((score, state.as_str()), (50, "clear"));

    // A typo: the previous lists stay in use and an alert says where.
    write_lists(
        &dir,
        "mailinator.com\nnewmail.example\n",
        "203.0.113.0/24 test range\n198.51.100.0/24 new VPN feed\n198.51.100.300 typo\n",
        &format!("{header}198.51.100.50,90,abuse desk\n"),
    );
    order(&pool, ip_order("LSN-R3", "r3@newmail.example", 0)).await;
    capture(&pool, &settings, "LSN-R3", "25.00").await;
    assert_eq!(
        scored(&pool, "LSN-R3").await.0,
        50,
        "previous lists still used"
    );
    let alert: (String, String, i32) = sqlx::query_as(
        "SELECT title, details, occurrences FROM alerts WHERE dedup_key = 'fraud:reference_lists' AND state = 'open'",
    )
    .fetch_one(&pool)
    .await
    .expect("alert raised");
    assert_eq!(alert.0, "Fraud reference lists not reloaded");
    assert!(
        alert
            .1
            .contains("proxy_ranges.txt:3: \"198.51.100.300\" is not an IP address"),
        "{}",
        alert.1
    );
    assert_eq!(alert.2, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrations = "./migrations")]
async fn rescore_recomputes_with_new_rules_and_keeps_decisions(pool: PgPool) {
    let defaults = ApplySettings::default();
    for (number, email) in [("LSN-P", "p@yopmail.com"), ("LSN-A", "a@yopmail.com")] {
        order(
            &pool,
            NewOrder {
                number,
                email,
                ip: "45.142.212.66",
                ip_country: "RO",
                total_minor: 80_000,
                ..Default::default()
            },
        )
        .await;
        capture(&pool, &defaults, number, "800.00").await;
    }
    // 20 reputation + 15 proxy + 15 geo + 15 high-value + 15 disposable = 80.
    assert_eq!(scored(&pool, "LSN-P").await.0, 80);
    sqlx::query(
        "UPDATE orders SET fraud_state = 'approved', status = 'paid' WHERE order_number = 'LSN-A'",
    )
    .execute(&pool)
    .await
    .expect("approve");

    // The team decides disposable domains and proxies matter less.
    let mut rules = Rules::default();
    rules.weights.suspicious_email_domain = 5;
    rules.weights.vpn_proxy = 5;
    let tuned = Scoring {
        high_risk_threshold: 70,
        rules,
        lists: ReferenceCache::built_in(),
    };
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE order_number IN ('LSN-P', 'LSN-A') ORDER BY order_number DESC",
    )
    .fetch_all(&pool)
    .await
    .expect("ids");
    // Rescoring is an agent's (or an admin's) call.
    sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ('alice', 'agent', 't')")
        .execute(&pool)
        .await
        .expect("operator");
    let alice = Actor::new("alice");
    let pending = rescore(&pool, ids[0], &tuned, &alice)
        .await
        .expect("rescore")
        .expect("found");
    assert_eq!(pending.order_number, "LSN-P");
    assert_eq!((pending.score_before, pending.score_after), (Some(80), 60));
    assert_eq!(
        (pending.state_before.as_str(), pending.state_after.as_str()),
        ("pending", "clear")
    );
    let (score, state, status, _) = scored(&pool, "LSN-P").await;
    assert_eq!(
        (score, state.as_str(), status.as_str()),
        (60, "clear", "paid"),
        "out of the queue, hold released"
    );

    let approved = rescore(&pool, ids[1], &tuned, &alice)
        .await
        .expect("rescore")
        .expect("found");
    assert_eq!(
        (
            approved.state_before.as_str(),
            approved.state_after.as_str()
        ),
        ("approved", "approved")
    );
    assert_eq!(
        scored(&pool, "LSN-A").await.0,
        60,
        "new score, same decision"
    );

    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'fraud.rescore' AND operator = 'alice'
            AND details->>'score_before' = '80' AND details->>'score_after' = '60'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audits, 2);
    assert!(
        rescore(&pool, -1, &tuned, &alice)
            .await
            .expect("rescore")
            .is_none()
    );
}
