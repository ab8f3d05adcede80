//! Issue 14: `lsn-ops report daily|weekly` as the real binary on a seeded
//! database: the daily report agrees with `status` on the same ops day; the
//! weekly report's figures equal sums computed here from the rows; the CSV
//! has a header row; a bad date is exit 2.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use common::{BIN, TestDb, workdir};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

fn run(db: &TestDb, dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--config", &dir.join("config.toml").to_string_lossy()])
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("LSN_OPS_LOG__DIR", dir.join("logs"))
        .env("LSN_OPS_OPS__TIMEZONE", "America/Los_Angeles")
        .output()
        .expect("run lsn-ops")
}

fn json(o: &Output) -> Value {
    assert!(
        o.status.code().is_some_and(|c| c <= 2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[tokio::test]
async fn reports_agree_with_status_and_with_the_rows() {
    let db = TestDb::create("reports").await;
    let dir = workdir("reports");
    db.seed(&dir);
    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");

    // Daily, today: the same GMV and orders as status for the same day.
    let status = json(&run(&db, &dir, &["status", "--format", "json"]));
    let daily = json(&run(
        &db,
        &dir,
        &["report", "daily", "--date", "today", "--format", "json"],
    ));
    assert_eq!(daily["gmv"], status["orders_today"]["gmv"], "{daily}");
    assert_eq!(daily["orders"], status["orders_today"]["orders"]);
    assert_eq!(daily["paid_orders"], status["orders_today"]["paid"]);
    assert_eq!(daily["period"]["first_day"], status["ops_day"]);
    assert!(
        daily["gmv"]["minor"].as_i64().unwrap() > 0,
        "the seed sells today"
    );
    for key in [
        "aov",
        "conversion_bps",
        "refunds",
        "dispute_win_rate_bps",
        "payout_success_rate_bps",
        "fraud_false_positive_rate_bps",
    ] {
        assert!(daily.get(key).is_some(), "key {key} missing: {daily}");
    }

    // Weekly: the seven ops days ending yesterday, against sums over the rows.
    let weekly = json(&run(&db, &dir, &["report", "weekly", "--format", "json"]));
    let from: chrono::DateTime<Utc> = weekly["period"]["from"].as_str().unwrap().parse().unwrap();
    let to: chrono::DateTime<Utc> = weekly["period"]["to"].as_str().unwrap().parse().unwrap();
    assert_eq!(to - from, Duration::days(7), "no DST change in this week");
    assert!(to <= Utc::now());
    let (orders, gmv): (i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(total_minor) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')), 0)::bigint
           FROM orders WHERE created_at >= $1 AND created_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(weekly["orders"], orders);
    assert_eq!(weekly["gmv"]["minor"], gmv);
    let refunded: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(amount_minor), 0)::bigint FROM refunds
          WHERE status = 'completed' AND completed_at >= $1 AND completed_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(weekly["net_gmv"]["minor"], gmv - refunded);
    let (won, lost): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE outcome = 'WON'), count(*) FILTER (WHERE outcome = 'LOST')
           FROM disputes WHERE resolved_at >= $1 AND resolved_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(weekly["disputes_won"], won);
    assert_eq!(weekly["disputes_lost"], lost);
    let shows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM shows WHERE started_at >= $1 AND started_at < $2 AND status IN ('live', 'ended')",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(weekly["shows_run"], shows);
    assert!(shows > 0, "the seed ran shows last week");

    // CSV: a header row and one row, the same GMV.
    let csv = run(&db, &dir, &["report", "weekly", "--format", "csv"]);
    assert!(csv.status.success());
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), row.len());
    let at = header.iter().position(|h| *h == "gmv_minor").unwrap();
    assert_eq!(row[at], gmv.to_string());

    // One show: figures equal sums over its rows; viewers from its samples.
    let (show, started): (i64, chrono::DateTime<Utc>) = sqlx::query_as(
        "SELECT s.id, s.started_at FROM shows s
          WHERE s.status = 'ended' AND EXISTS (SELECT 1 FROM orders o WHERE o.show_id = s.id)
          ORDER BY s.id LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .expect("an ended show with orders");
    sqlx::query(
        "UPDATE shows SET ended_at = $2 + interval '60 minutes', peak_viewers = 300 WHERE id = $1;",
    )
    .bind(show)
    .bind(started)
    .execute(&mut conn)
    .await
    .unwrap();
    // 0 viewers for 10 min, 300 for 20, 120 for 30: (6000 + 3600) / 60 = 160 on average.
    for (minute, viewers) in [(10, 300), (30, 120)] {
        sqlx::query("INSERT INTO show_viewer_samples (show_id, at, viewers) VALUES ($1, $2, $3)")
            .bind(show)
            .bind(started + Duration::minutes(minute))
            .bind(viewers)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (orders, gmv, refunded): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')),
                COALESCE(sum(total_minor) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')), 0)::bigint,
                (SELECT COALESCE(sum(r.amount_minor), 0)::bigint FROM refunds r JOIN orders o2 ON o2.id = r.order_id
                  WHERE o2.show_id = $1 AND r.status = 'completed')
           FROM orders WHERE show_id = $1",
    )
    .bind(show)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let report = json(&run(
        &db,
        &dir,
        &["report", "show", &show.to_string(), "--format", "json"],
    ));
    assert_eq!(report["orders"], orders, "{report}");
    assert_eq!(report["gmv"]["minor"], gmv);
    assert_eq!(report["net_gmv"]["minor"], gmv - refunded);
    assert_eq!(report["peak_viewers"], 300);
    assert_eq!(report["average_viewers"], 160);
    assert_eq!(
        report["conversion_peak_bps"],
        orders * 10_000 / 300,
        "orders per peak viewer"
    );
    let curve = report["viewers_over_time"].as_array().unwrap();
    assert_eq!(curve.first().unwrap(), 0);
    assert_eq!(curve.last().unwrap(), 120);
    let text = run(&db, &dir, &["report", "show", &show.to_string()]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("Viewers over time"));
    let missing = run(&db, &dir, &["report", "show", "99999999"]);
    assert_eq!(missing.status.code(), Some(1));

    // Text: readable, and a bad date is a usage error.
    let out = run(&db, &dir, &["report", "daily"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("GMV"));
    let out = run(&db, &dir, &["report", "daily", "--date", "31/12/2026"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
    let _ = std::fs::remove_dir_all(&dir);
}
