//! `build_snapshot` against a real PostgreSQL (a fresh database per test):
//! what each pane gets, in which order, bounded.

use chrono::{DateTime, Duration, TimeZone, Utc};
use lsn_ops::domain::money::Currency;
use lsn_ops::store::snapshot::{PANE_LIMIT, build_snapshot};
use sqlx::PgPool;

fn tz() -> chrono_tz::Tz {
    chrono_tz::America::Los_Angeles
}

/// Tuesday 24 Nov 2026, 09:30 in Los Angeles.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 17, 30, 0).unwrap()
}

async fn exec(pool: &PgPool, sql: &'static str, now: DateTime<Utc>) {
    sqlx::query(sql)
        .bind(now)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

async fn base(pool: &PgPool) {
    let n = now();
    exec(
        pool,
        "INSERT INTO creators (id, handle, display_name, tier, commission_bps, recipient_status)
         VALUES (1, 'ava', 'Ava Chen', 'platinum', 3000, 'verified'),
                (2, 'leo', 'Leo Ortiz', 'silver', 1500, 'unverified')",
        n,
    )
    .await;
    exec(
        pool,
        "INSERT INTO customers (id, email, name, country) VALUES (1, 'a@example.com', 'A', 'US')",
        n,
    )
    .await;
}

#[sqlx::test]
async fn alerts_and_incidents_most_severe_first_resolved_left_out(pool: PgPool) {
    base(&pool).await;
    exec(
        &pool,
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title, state, opened_at, acked_at, resolved_at)
         VALUES ('a', 'info1', 'info', 'P3', 'info one', 'open', $1 - interval '1 minute', NULL, NULL),
                ('b', 'warn1', 'warning', 'P2', 'warning one', 'open', $1 - interval '2 minutes', NULL, NULL),
                ('c', 'crit1', 'critical', 'P0', 'critical one', 'open', $1 - interval '3 minutes', NULL, NULL),
                ('d', 'gone', 'critical', 'P0', 'resolved one', 'resolved', $1 - interval '9 minutes', NULL, $1)",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO incidents (priority, title, state, opened_at, due_at)
         VALUES ('P2', 'later', 'identified', $1, $1 + interval '24 hours'),
                ('P0', 'sooner', 'investigating', $1, $1 + interval '1 hour'),
                ('P1', 'done', 'resolved', $1, $1 + interval '4 hours')",
        now(),
    )
    .await;
    let s = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    let titles: Vec<&str> = s.alerts.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, ["critical one", "warning one", "info one"]);
    let inc: Vec<&str> = s.incidents.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(inc, ["sooner", "later"]);
    assert_eq!(s.facts.alerts.critical, 1);
    assert_eq!(s.facts.incidents.p0, 1);
}

#[sqlx::test]
async fn disputes_owing_evidence_first_by_the_earlier_deadline(pool: PgPool) {
    base(&pool).await;
    // d1: SLA in 20h, PayPal in 2h -> deadline 2h. d2: SLA in 5h. d3: submitted, overdue SLA.
    // d4: won (not shown).
    exec(
        &pool,
        "INSERT INTO disputes (paypal_dispute_id, state, reason, amount_minor, currency, opened_at, sla_due_at, seller_response_due_at)
         VALUES ('PP-1', 'EVIDENCE_REQUIRED', 'UNAUTHORISED', 1000, 'USD', $1 - interval '4 hours', $1 + interval '20 hours', $1 + interval '2 hours'),
                ('PP-2', 'OPEN', 'INCORRECT_AMOUNT', 2000, 'USD', $1 - interval '19 hours', $1 + interval '5 hours', NULL),
                ('PP-3', 'SUBMITTED', 'UNAUTHORISED', 3000, 'USD', $1 - interval '40 hours', $1 - interval '16 hours', $1 + interval '5 days'),
                ('PP-4', 'WON', 'UNAUTHORISED', 4000, 'USD', $1 - interval '9 days', $1 - interval '8 days', NULL)",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO dispute_evidence (dispute_id, item, status)
         SELECT id, 'order_confirmation', 'collected' FROM disputes WHERE paypal_dispute_id = 'PP-1'",
        now(),
    )
    .await;
    let s = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    let ids: Vec<&str> = s
        .disputes
        .iter()
        .map(|d| d.paypal_dispute_id.as_str())
        .collect();
    assert_eq!(ids, ["PP-1", "PP-2", "PP-3"]);
    assert_eq!(s.disputes[0].deadline(), now() + Duration::hours(2));
    assert_eq!(s.disputes[0].evidence_done, 1);
    assert_eq!(s.disputes[1].amount.display(), "$20.00");
    assert_eq!(s.facts.disputes.due_within_24h, 2);
}

#[sqlx::test]
async fn fraud_queue_highest_score_first_bounded_with_indicators(pool: PgPool) {
    base(&pool).await;
    // 150 orders in the queue (scores 0..=99 and 50 more), one decided order outside it.
    exec(
        &pool,
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                             fraud_score, fraud_state, created_at)
         SELECT 'LSN-' || g, 1, 'on_hold', 'USD', 1000 + g, 1000 + g, 'b' || g || '@example.com',
                g % 100, CASE WHEN g % 7 = 0 THEN 'review' ELSE 'pending' END, $1 - g * interval '1 minute'
           FROM generate_series(1, 150) g",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                             fraud_score, fraud_state, created_at)
         VALUES ('LSN-DONE', 1, 'paid', 'USD', 5, 5, 'x@example.com', 100, 'declined', $1)",
        now(),
    )
    .await;
    exec(
        &pool,
        "WITH s AS (
            INSERT INTO fraud_scores (order_id, score, model_version, computed_at)
            SELECT id, fraud_score, 'v1', $1 FROM orders WHERE order_number = 'LSN-99' RETURNING id)
         INSERT INTO fraud_indicators (score_id, indicator, points, evidence)
         SELECT id, 'ip_velocity', 25, '4 orders from this IP in 1h' FROM s
         UNION ALL SELECT id, 'vpn_proxy', 40, 'exit node' FROM s",
        now(),
    )
    .await;
    let s = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    assert_eq!(s.fraud.len() as i64, PANE_LIMIT);
    assert_eq!(s.fraud_queue_total, 150);
    assert!(s.fraud.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(s.fraud.iter().all(|f| f.order_number != "LSN-DONE"));
    assert_eq!(s.fraud[0].score, 99);
    let top = s
        .fraud
        .iter()
        .find(|f| f.order_number == "LSN-99")
        .expect("LSN-99 listed");
    let ind: Vec<(&str, i16)> = top
        .indicators
        .iter()
        .map(|i| (i.indicator.as_str(), i.points))
        .collect();
    assert_eq!(ind, [("vpn_proxy", 40), ("ip_velocity", 25)]);
    // Scores 71..=99 pending (not review) are the runbook's high-risk count.
    assert!(s.facts.fraud.high_risk_pending > 0);
}

#[sqlx::test]
async fn todays_shows_with_sales_and_this_weeks_payout_batch(pool: PgPool) {
    base(&pool).await;
    exec(
        &pool,
        "INSERT INTO shows (id, creator_id, title, scheduled_start, scheduled_end, status, started_at, twilio_room_sid, current_viewers)
         VALUES (1, 1, 'Live now', $1 - interval '30 minutes', $1 + interval '30 minutes', 'live', $1 - interval '29 minutes', 'RM1', 812),
                (2, 2, 'No room', $1 - interval '5 minutes', $1 + interval '55 minutes', 'scheduled', NULL, NULL, 0),
                (3, 1, 'Tomorrow', $1 + interval '1 day', $1 + interval '25 hours', 'scheduled', NULL, NULL, 0)",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO orders (order_number, customer_id, show_id, status, currency, subtotal_minor, total_minor, email, created_at)
         VALUES ('S1', 1, 1, 'paid', 'USD', 2500, 2500, 'a@example.com', $1),
                ('S2', 1, 1, 'paid', 'USD', 1500, 1500, 'a@example.com', $1),
                ('S3', 1, 1, 'payment_failed', 'USD', 9900, 9900, 'a@example.com', $1)",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO payout_batches (id, period_start, period_end, scheduled_for, state, currency)
         VALUES (7, $1 - interval '7 days', $1 + interval '3 days', $1 + interval '3 days', 'generated', 'USD')",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO payout_items (batch_id, creator_id, kind, currency, order_count, order_total_minor, costs_minor,
                                   commission_bps, amount_minor, state, customer_transaction_id, failure_reason)
         VALUES (7, 1, 'earnings', 'USD', 10, 100000, 40000, 3000, 18000, 'pending', gen_random_uuid(), NULL),
                (7, 2, 'earnings', 'USD', 3, 9000, 3000, 1500, 900, 'failed', gen_random_uuid(), 'account closed')",
        now(),
    )
    .await;
    let s = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    let titles: Vec<&str> = s.shows.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["Live now", "No room"]);
    assert_eq!(s.shows[0].orders, 3);
    assert_eq!(s.shows[0].sales.display(), "$40.00");
    assert!(s.shows[1].phase(now()).cannot_start());
    let batch = s.facts.payout_batch.as_ref().expect("batch");
    assert_eq!(batch.id, 7);
    let creators: Vec<&str> = s.payout_items.iter().map(|p| p.creator.as_str()).collect();
    assert_eq!(creators, ["Leo Ortiz", "Ava Chen"], "failures first");
    assert_eq!(s.payout_items[1].amount.display(), "$180.00");
}

#[sqlx::test]
async fn an_empty_database_gives_an_empty_snapshot(pool: PgPool) {
    let s = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    assert!(s.alerts.is_empty() && s.shows.is_empty() && s.disputes.is_empty());
    assert!(s.fraud.is_empty() && s.payout_items.is_empty());
    assert_eq!(s.fraud_queue_total, 0);
    assert!(s.facts.payout_batch.is_none());
}

#[sqlx::test]
async fn fraud_rows_name_their_show_and_creator_and_the_blocklist_counts_matches(pool: PgPool) {
    base(&pool).await;
    exec(
        &pool,
        "INSERT INTO shows (id, creator_id, title, scheduled_start, scheduled_end)
         VALUES (1, 1, 'Sneaker Drop Friday', $1, $1 + interval '1 hour')",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO orders (order_number, customer_id, show_id, status, currency, subtotal_minor, total_minor,
                             email, ip, device_fingerprint, fraud_score, fraud_state, created_at)
         VALUES ('LSN-S', 1, 1, 'on_hold', 'USD', 5, 5, 'bad@mailinator.com', '203.0.113.9', 'fp-1', 90, 'pending', $1),
                ('LSN-N', 1, NULL, 'on_hold', 'USD', 5, 5, 'bad@mailinator.com', '203.0.113.9', NULL, 80, 'pending', $1),
                ('LSN-O', 1, NULL, 'paid', 'USD', 5, 5, 'ok@example.com', '203.0.113.9', NULL, 5, 'clear', $1)",
        now(),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO blocklist (kind, value, reason, added_by, added_at, removed_at)
         VALUES ('ip', '203.0.113.9', 'ring', 'maria', $1 - interval '1 hour', NULL),
                ('email', 'bad@mailinator.com', 'disposable', 'dana', $1, NULL),
                ('device', 'fp-1', 'gone', 'dana', $1, $1),
                ('ip', 'not an address', 'typo by hand', 'bob', $1 - interval '2 hours', NULL)",
        now(),
    )
    .await;
    let s = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    let f: Vec<(&str, Option<&str>, Option<&str>)> = s
        .fraud
        .iter()
        .map(|f| {
            (
                f.order_number.as_str(),
                f.show.as_deref(),
                f.creator.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        f,
        [
            ("LSN-S", Some("Sneaker Drop Friday"), Some("ava")),
            ("LSN-N", None, None)
        ]
    );
    // Active entries only, newest first, each with the orders it matches; a
    // malformed IP entry matches nothing and breaks nothing.
    let b: Vec<(&str, &str, i64)> = s
        .blocklist
        .iter()
        .map(|b| (b.kind.as_str(), b.value.as_str(), b.orders))
        .collect();
    assert_eq!(
        b,
        [
            ("email", "bad@mailinator.com", 2),
            ("ip", "203.0.113.9", 3),
            ("ip", "not an address", 0)
        ]
    );
    assert_eq!(s.blocklist_total, 3);
    assert_eq!(s.blocklist[0].added_by, "dana");
}

#[sqlx::test]
async fn gmv_by_hour_bins_today_and_the_same_weekday_last_week(pool: PgPool) {
    base(&pool).await;
    // now() is 09:30 in Los Angeles; the ops day began at 08:00 UTC.
    exec(
        &pool,
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email, created_at)
         VALUES ('T-1', 1, 'paid', 'USD', 100, 100, 'a@example.com', $1 - interval '9 hours 20 minutes'),
                ('T-2', 1, 'delivered', 'USD', 200, 200, 'a@example.com', $1 - interval '8 hours 40 minutes'),
                ('T-3', 1, 'paid', 'USD', 300, 300, 'a@example.com', $1 - interval '25 minutes'),
                ('T-LATER', 1, 'paid', 'USD', 900, 900, 'a@example.com', $1 + interval '10 minutes'),
                ('T-FAILED', 1, 'payment_failed', 'USD', 900, 900, 'a@example.com', $1 - interval '8 hours'),
                ('T-EUR', 1, 'paid', 'EUR', 900, 900, 'a@example.com', $1 - interval '8 hours'),
                ('W-EVE', 1, 'paid', 'USD', 400, 400, 'a@example.com', $1 - interval '7 days 9 hours 30 minutes' - interval '30 minutes'),
                ('W-0', 1, 'paid', 'USD', 50, 50, 'a@example.com', $1 - interval '7 days 9 hours 20 minutes'),
                ('W-BEFORE', 1, 'paid', 'USD', 900, 900, 'a@example.com', $1 - interval '7 days 10 hours')",
        now(),
    )
    .await;
    let s = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    let mut today = vec![0; 10];
    today[0] = 300;
    today[9] = 300;
    assert_eq!(s.gmv_by_hour.today, today, "hours 0..=9 of today");
    let mut last_week = [0i64; 24];
    last_week[0] = 50;
    assert_eq!(s.gmv_by_hour.last_week[..], last_week[..]);
    assert_eq!(s.gmv_by_hour.last_week.len(), 24);
}

#[sqlx::test]
async fn dispute_rates_are_reused_until_the_disputes_table_changes(pool: PgPool) {
    use lsn_ops::store::snapshot::build_snapshot_after;
    use std::collections::BTreeSet;
    base(&pool).await;
    const DECIDED: &str = "INSERT INTO disputes (paypal_dispute_id, state, reason, amount_minor, currency, opened_at, sla_due_at, outcome)
             VALUES ($2, 'CLOSED', 'UNAUTHORISED', 1000, 'USD', $1 - interval '9 days', $1 - interval '8 days', 'WON')";
    sqlx::query(DECIDED)
        .bind(now())
        .bind("PP-W1")
        .execute(&pool)
        .await
        .expect("dispute");
    let first = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    assert_eq!(first.dispute_rates.overall.decided, 1);
    sqlx::query(DECIDED)
        .bind(now())
        .bind("PP-W2")
        .execute(&pool)
        .await
        .expect("dispute");
    let tables = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    let later = now() + Duration::seconds(5);
    let build = |changed: Option<BTreeSet<String>>, at: DateTime<Utc>| {
        let pool = pool.clone();
        let first = first.clone();
        async move {
            build_snapshot_after(
                &pool,
                at,
                &tz(),
                70,
                Currency::USD,
                Some(&first),
                changed.as_ref(),
            )
            .await
            .expect("snapshot")
            .dispute_rates
            .overall
            .decided
        }
    };
    assert_eq!(
        build(Some(tables(&["alerts", "orders"])), later).await,
        1,
        "kept"
    );
    assert_eq!(
        build(Some(tables(&["alerts", "disputes"])), later).await,
        2,
        "disputes changed"
    );
    assert_eq!(build(None, later).await, 2, "changes unknown: read");
    assert_eq!(
        build(Some(tables(&["alerts"])), now() + Duration::minutes(2)).await,
        2,
        "re-read after a minute whatever changed"
    );
}

#[sqlx::test]
async fn hourly_gmv_is_reused_until_an_order_changes(pool: PgPool) {
    use lsn_ops::store::snapshot::build_snapshot_after;
    use std::collections::BTreeSet;
    base(&pool).await;
    const ORDER: &str = "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email, created_at)
         VALUES ($2, 1, 'paid', 'USD', 100, 100, 'a@example.com', $1 - interval '5 minutes')";
    sqlx::query(ORDER)
        .bind(now())
        .bind("G-1")
        .execute(&pool)
        .await
        .expect("order");
    let first = build_snapshot(&pool, now(), &tz(), 70, Currency::USD)
        .await
        .expect("snapshot");
    assert_eq!(first.gmv_by_hour.today.iter().sum::<i64>(), 100);
    sqlx::query(ORDER)
        .bind(now())
        .bind("G-2")
        .execute(&pool)
        .await
        .expect("order");
    let tables = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    let gmv = |changed: Option<BTreeSet<String>>, at: DateTime<Utc>| {
        let pool = pool.clone();
        let first = first.clone();
        async move {
            build_snapshot_after(
                &pool,
                at,
                &tz(),
                70,
                Currency::USD,
                Some(&first),
                changed.as_ref(),
            )
            .await
            .expect("snapshot")
            .gmv_by_hour
            .today
            .iter()
            .sum::<i64>()
        }
    };
    let later = now() + Duration::seconds(5);
    assert_eq!(gmv(Some(tables(&["alerts"])), later).await, 100, "kept");
    assert_eq!(
        gmv(Some(tables(&["alerts", "orders"])), later).await,
        200,
        "orders changed"
    );
    assert_eq!(gmv(None, later).await, 200, "changes unknown: read");
    assert_eq!(
        gmv(Some(tables(&["alerts"])), now() + Duration::hours(1)).await,
        200,
        "a new hour: read"
    );
}
