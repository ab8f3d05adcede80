//! The morning checklist facts (`store::status`) against a real PostgreSQL:
//! each count is driven by rows inserted here, including the thresholds' edges.

use chrono::{Duration, Utc};
use lsn_ops::domain::Currency;
use lsn_ops::store::status::{Health, morning_facts};
use sqlx::PgPool;

const TZ: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

async fn creator(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('ava', 'Ava N', 'gold', 2000) RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("creator")
}

async fn order(pool: &PgPool, n: i64, score: i16, fraud_state: &str) -> i64 {
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ($1, 'C', 'US')
         ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id",
    )
    .bind(format!("c{n}@example.com"))
    .fetch_one(pool)
    .await
    .expect("customer");
    sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                             fraud_score, fraud_state, created_at, paid_at)
         VALUES ($1, $2, 'paid', 'USD', 1000, 1000, 'c@example.com', $3, $4, now(), now()) RETURNING id",
    )
    .bind(format!("T-{n}"))
    .bind(customer)
    .bind(score)
    .bind(fraud_state)
    .fetch_one(pool)
    .await
    .expect("order")
}

#[sqlx::test]
async fn an_empty_database_is_healthy(pool: PgPool) {
    let facts = morning_facts(&pool, Utc::now(), &TZ, 70, Currency::USD)
        .await
        .expect("facts");
    assert_eq!(facts.health(), (Health::Healthy, vec![]));
    assert_eq!(facts.shows_today.total, 0);
    assert!(facts.payout_batch.is_none());
    assert_eq!(facts.orders_today.gmv.minor, 0);
}

#[sqlx::test]
async fn counts_follow_the_rows_and_the_thresholds(pool: PgPool) {
    let now = Utc::now();
    let c = creator(&pool).await;

    // A show five minutes past its start with no room: P0, critical.
    sqlx::query(
        "INSERT INTO shows (creator_id, title, scheduled_start, scheduled_end, status)
         VALUES ($1, 'Late show', $2, $3, 'scheduled')",
    )
    .bind(c)
    .bind(now - Duration::minutes(5))
    .bind(now + Duration::minutes(55))
    .execute(&pool)
    .await
    .expect("show");

    // Fraud: 71 counts, 70 does not (the runbook says "> 70"); decided orders do not.
    order(&pool, 1, 71, "pending").await;
    order(&pool, 2, 70, "pending").await;
    order(&pool, 3, 95, "approved").await;

    // Disputes: one opened 20h ago (SLA in 4h: due within 24h), one opened 30h ago
    // (overdue), one submitted (not waiting for evidence), one won (inactive).
    for (id, hours_ago, state) in [
        ("D1", 20, "EVIDENCE_BUILDING"),
        ("D2", 30, "OPEN"),
        ("D3", 30, "SUBMITTED"),
        ("D4", 50, "WON"),
    ] {
        let opened = now - Duration::hours(hours_ago);
        sqlx::query(
            "INSERT INTO disputes (paypal_dispute_id, state, reason, amount_minor, currency, opened_at, sla_due_at,
                                   seller_response_due_at)
             VALUES ($1, $2, 'UNAUTHORISED', 1000, 'USD', $3, $4, $5)",
        )
        .bind(id)
        .bind(state)
        .bind(opened)
        .bind(opened + Duration::hours(24))
        .bind(opened + Duration::days(10))
        .execute(&pool)
        .await
        .expect("dispute");
    }

    // Alerts: critical open, warning acknowledged, info resolved (not counted).
    sqlx::query(
        "INSERT INTO alerts (rule_key, dedup_key, severity, title, state, acked_at, resolved_at) VALUES
           ('uptime', 'u', 'critical', 'Uptime 98%', 'open', NULL, NULL),
           ('disk', 'd', 'warning', 'Disk 85%', 'acknowledged', now(), NULL),
           ('x', 'x', 'info', 'old', 'resolved', now(), now())",
    )
    .execute(&pool)
    .await
    .expect("alerts");

    let facts = morning_facts(&pool, now, &TZ, 70, Currency::USD)
        .await
        .expect("facts");
    assert_eq!(facts.shows_today.cannot_start, 1);
    assert!(
        facts.shows_today.shows[0].phase.starts_with("NO ROOM"),
        "{:?}",
        facts.shows_today.shows
    );
    assert_eq!(facts.fraud.high_risk_pending, 1);
    assert_eq!(facts.disputes.active, 3);
    assert_eq!(facts.disputes.due_within_24h, 1);
    assert_eq!(facts.disputes.overdue, 1);
    assert_eq!(
        (
            facts.alerts.critical,
            facts.alerts.warning,
            facts.alerts.info
        ),
        (1, 1, 0)
    );
    assert_eq!(facts.alerts.unacknowledged, 1);
    assert_eq!(facts.orders_today.paid, 3);
    assert_eq!(facts.orders_today.gmv.minor, 3000);
    assert_eq!(facts.orders_today.aov.map(|m| m.minor), Some(1000));

    let (health, reasons) = facts.health();
    assert_eq!(health, Health::Critical);
    assert_eq!(health.exit_code(), 2);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("past start with no room")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("1 high-risk")),
        "{reasons:?}"
    );
}

#[sqlx::test]
async fn warnings_alone_give_exit_code_one(pool: PgPool) {
    order(&pool, 1, 88, "pending").await;
    let facts = morning_facts(&pool, Utc::now(), &TZ, 70, Currency::USD)
        .await
        .expect("facts");
    let (health, reasons) = facts.health();
    assert_eq!(health, Health::Warning);
    assert_eq!(health.exit_code(), 1);
    assert_eq!(
        reasons,
        vec!["1 high-risk order(s) pending review".to_string()]
    );
}

#[sqlx::test]
async fn the_current_payout_batch_is_the_open_one(pool: PgPool) {
    let c = creator(&pool).await;
    let now = Utc::now();
    for (k, state) in [
        (2i64, "completed"),
        (1, "partially_failed"),
        (0, "generated"),
    ] {
        let end = now + Duration::days(3) - Duration::weeks(k);
        let batch: i64 = sqlx::query_scalar(
            "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency)
             VALUES ($1, $2, $2, $3, 'USD') RETURNING id",
        )
        .bind(end - Duration::weeks(1))
        .bind(end)
        .bind(state)
        .fetch_one(&pool)
        .await
        .expect("batch");
        for (amount, item_state) in [(1_250i64, "pending"), (300, "failed"), (99, "cancelled")] {
            sqlx::query(
                "INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, state,
                                           customer_transaction_id)
                 VALUES ($1, $2, 'earnings', 'USD', 2000, $3, $4, gen_random_uuid())",
            )
            .bind(batch)
            .bind(c)
            .bind(amount)
            .bind(item_state)
            .execute(&pool)
            .await
            .expect("item");
        }
    }
    let facts = morning_facts(&pool, now, &TZ, 70, Currency::USD)
        .await
        .expect("facts");
    let batch = facts.payout_batch.expect("a batch");
    assert_eq!(batch.state, "generated");
    assert_eq!(batch.items, 3);
    assert_eq!(batch.failed_items, 1);
    assert_eq!(batch.total.minor, 1_550, "cancelled lines do not count");
}
