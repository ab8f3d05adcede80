//! The seeder against a real PostgreSQL: the same arguments give the same data,
//! and the data has the shape the runbook's screens need.

use chrono::{Datelike, Timelike};
use lsn_ops::store::seed::seed_database;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

const TZ: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

/// Row counts and money sums that must match between two seeds.
async fn fingerprint(pool: &PgPool) -> Vec<i64> {
    let row: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders), (SELECT COALESCE(sum(total_minor), 0)::bigint FROM orders),
                (SELECT count(*) FROM order_items), (SELECT COALESCE(sum(amount_minor), 0)::bigint FROM payments),
                (SELECT COALESCE(sum(amount_minor), 0)::bigint FROM refunds), (SELECT count(*) FROM disputes),
                (SELECT COALESCE(sum(amount_minor), 0)::bigint FROM disputes),
                (SELECT COALESCE(sum(score), 0)::bigint FROM fraud_scores), (SELECT count(*) FROM fraud_indicators),
                (SELECT COALESCE(sum(amount_minor), 0)::bigint FROM payout_items),
                (SELECT count(*) FROM payout_item_orders), (SELECT count(*) FROM customers)",
    )
    .fetch_one(pool)
    .await
    .expect("fingerprint");
    vec![
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11,
    ]
}

/// A second database on the same server, migrated; dropped by the caller.
async fn second_database(pool: &PgPool, name: &str) -> PgPool {
    let options = pool.connect_options().as_ref().clone();
    let mut admin = sqlx::PgConnection::connect_with(&options)
        .await
        .expect("admin connection");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut admin)
    .await
    .expect("drop");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create");
    let other = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.database(name))
        .await
        .expect("second pool");
    lsn_ops::store::migrate(&other)
        .await
        .expect("migrate second");
    other
}

#[sqlx::test]
async fn same_arguments_same_data_and_a_different_seed_differs(pool: PgPool) {
    let summary = seed_database(&pool, 3_000, 7, &TZ, false)
        .await
        .expect("seed");
    assert_eq!(summary.orders, 3_000);
    let first = fingerprint(&pool).await;

    let name = format!("lsn_ops_seed_twin_{}", std::process::id());
    let twin = second_database(&pool, &name).await;
    seed_database(&twin, 3_000, 7, &TZ, false)
        .await
        .expect("seed twin");
    assert_eq!(
        fingerprint(&twin).await,
        first,
        "same --orders and --seed must give the same data"
    );

    let other_name = format!("lsn_ops_seed_other_{}", std::process::id());
    let other = second_database(&pool, &other_name).await;
    seed_database(&other, 3_000, 8, &TZ, false)
        .await
        .expect("seed other");
    assert_ne!(
        fingerprint(&other).await,
        first,
        "a different seed gives different data"
    );

    twin.close().await;
    other.close().await;
    for db in [name, other_name] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
            .execute(&pool)
            .await
            .expect("drop");
    }
}

#[sqlx::test]
async fn a_second_seed_is_refused_and_changes_nothing(pool: PgPool) {
    seed_database(&pool, 500, 1, &TZ, false)
        .await
        .expect("seed");
    let before = fingerprint(&pool).await;
    let err = seed_database(&pool, 500, 1, &TZ, false)
        .await
        .expect_err("second seed refused");
    assert!(err.to_string().contains("already has data"), "{err}");
    assert_eq!(fingerprint(&pool).await, before);
}

#[sqlx::test]
async fn the_data_has_what_the_morning_checklist_looks_for(pool: PgPool) {
    seed_database(&pool, 3_000, 7, &TZ, false)
        .await
        .expect("seed");

    // Today's shows: one live, one past its start with no room, upcoming ones.
    let (live, no_room, upcoming): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'live'),
                count(*) FILTER (WHERE status = 'scheduled' AND scheduled_start < now() AND twilio_room_sid IS NULL),
                count(*) FILTER (WHERE scheduled_start > now())
           FROM shows WHERE scheduled_start > now() - interval '6 hours'",
    )
    .fetch_one(&pool)
    .await
    .expect("shows");
    assert_eq!((live, no_room), (1, 1));
    assert!(upcoming >= 4, "{upcoming}");

    // Disputes in every state, some inside 24h of their SLA. EVIDENCE_REQUIRED
    // lasts until the first gathering, which the seed runs as the worker would
    // (the policy texts are always there, so every case moves on).
    let states: Vec<String> = sqlx::query_scalar("SELECT DISTINCT state FROM disputes ORDER BY 1")
        .fetch_all(&pool)
        .await
        .expect("states");
    assert_eq!(
        states,
        [
            "CLOSED",
            "EVIDENCE_BUILDING",
            "EVIDENCE_READY",
            "LOST",
            "OPEN",
            "SUBMITTED",
            "WON"
        ],
    );
    // Their evidence was gathered from the data, with its sources.
    let gathered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM dispute_evidence e JOIN disputes d ON d.id = e.dispute_id
          WHERE d.state IN ('EVIDENCE_BUILDING', 'EVIDENCE_READY') AND e.status = 'collected' AND e.source IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("evidence");
    assert!(gathered > 0);
    let due_soon: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM disputes WHERE state IN ('OPEN','EVIDENCE_REQUIRED','EVIDENCE_BUILDING','EVIDENCE_READY')
            AND sla_due_at BETWEEN now() AND now() + interval '24 hours'",
    )
    .fetch_one(&pool)
    .await
    .expect("due soon");
    assert!(due_soon > 0);

    // High-risk orders above 70 waiting, each with its indicators and evidence.
    let (pending, min_score, without_indicators): (i64, Option<i16>, i64) = sqlx::query_as(
        "SELECT count(*), min(o.fraud_score),
                count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM fraud_scores s JOIN fraud_indicators i ON i.score_id = s.id
                                                    WHERE s.order_id = o.id AND i.evidence <> ''))
           FROM orders o WHERE o.fraud_state = 'pending'",
    )
    .fetch_one(&pool)
    .await
    .expect("fraud");
    assert!(pending > 0);
    assert!(min_score.unwrap_or(0) > 70);
    assert_eq!(without_indicators, 0);

    // This Friday's batch at 14:00 local, a draft for `generate` to fill
    // (one adjustment made ahead), and every line equals the sum of its orders.
    let (state, scheduled): (String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT state, scheduled_for FROM payout_batches ORDER BY scheduled_for DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("batch");
    assert_eq!(state, "draft");
    let local = scheduled.with_timezone(&TZ);
    assert_eq!(
        (local.weekday(), local.hour(), local.minute()),
        (chrono::Weekday::Fri, 14, 0)
    );
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payout_items i
          WHERE i.kind = 'earnings'
            AND i.amount_minor <> (SELECT COALESCE(sum(earnings_minor), 0) FROM payout_item_orders o WHERE o.payout_item_id = i.id)",
    )
    .fetch_one(&pool)
    .await
    .expect("lines");
    assert_eq!(mismatched, 0);

    // Open alerts, a critical one among them; an open P0 incident with its deadline.
    let (open, critical): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE severity = 'critical') FROM alerts WHERE state <> 'resolved'",
    )
    .fetch_one(&pool)
    .await
    .expect("alerts");
    assert!(open >= 3 && critical >= 1);
    let p0_due: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT due_at FROM incidents WHERE priority = 'P0' AND state <> 'resolved'",
    )
    .fetch_optional(&pool)
    .await
    .expect("incident");
    assert!(p0_due.is_some());

    // Sequences continue after the explicit ids.
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ('new@example.com', 'New', 'US') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("insert after seed");
    assert!(next > 200);
}
