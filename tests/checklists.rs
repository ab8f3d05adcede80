//! Issue 14: the checklists on a real PostgreSQL. Each data item turns open
//! and done again with its data; ticks are authorized, audited and per day;
//! a list open at its deadline raises one warning alert.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use lsn_ops::domain::checklists::List;
use lsn_ops::domain::operators::Actor;
use lsn_ops::store::checklists::{self, Scope, TickError};
use sqlx::PgPool;

const TZ: chrono_tz::Tz = chrono_tz::UTC;

async fn item(pool: &PgPool, list: List, scope: Scope, key: &str) -> bool {
    let c = checklists::evaluate(pool, list, scope, Utc::now(), &TZ, 70)
        .await
        .expect("evaluate");
    c.items
        .iter()
        .find(|i| i.key == key)
        .unwrap_or_else(|| panic!("no item {key}"))
        .done
}

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[sqlx::test]
async fn each_data_item_follows_its_data(pool: PgPool) {
    let today = Scope::Day(Utc::now().date_naive());
    exec(
        &pool,
        "INSERT INTO creators (id, handle, display_name, tier, commission_bps) VALUES (1, 'c1', 'C1', 'gold', 2000);
         INSERT INTO customers (id, email, name, country) VALUES (1, 'b@example.com', 'B', 'US');",
    )
    .await;
    let cases: &[(List, &str, &str, &str)] = &[
        (
            List::Morning,
            "alerts",
            "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title) VALUES ('r', 'k1', 'critical', 'P1', 'boom')",
            "UPDATE alerts SET state = 'acknowledged', acked_at = now(), acked_by = 'ann' WHERE dedup_key = 'k1'",
        ),
        (
            List::Morning,
            "disputes",
            "INSERT INTO disputes (paypal_dispute_id, reason, amount_minor, currency, opened_at, sla_due_at)
             VALUES ('PP-D-1', 'X', 100, 'USD', now(), now() + interval '10 hours')",
            "UPDATE disputes SET assigned_to = 'dana' WHERE paypal_dispute_id = 'PP-D-1'",
        ),
        (
            List::Morning,
            "fraud",
            "INSERT INTO orders (id, order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                                 fraud_state, fraud_score, paid_at, created_at)
             VALUES (1, 'LSN-1', 1, 'on_hold', 'USD', 100, 100, 'b@example.com', 'pending', 90,
                     now() - interval '5 hours', now() - interval '5 hours')",
            "UPDATE orders SET fraud_state = 'approved' WHERE id = 1",
        ),
        (
            List::Evening,
            "fulfilment",
            "UPDATE orders SET status = 'paid', paid_at = now() - interval '3 days' WHERE id = 1",
            "UPDATE orders SET status = 'shipped', shipped_at = now() WHERE id = 1",
        ),
        (
            List::Evening,
            "webhooks",
            "INSERT INTO provider_events (provider, event_id, event_type, payload, status)
             VALUES ('wise', 'E1', 'transfers#state-change', '{}', 'dead')",
            "UPDATE provider_events SET status = 'applied' WHERE event_id = 'E1'",
        ),
        (
            List::Evening,
            "shows_completed",
            "INSERT INTO shows (id, creator_id, title, scheduled_start, scheduled_end, status)
             VALUES (1, 1, 'Show', date_trunc('day', now()) + interval '1 minute',
                     date_trunc('day', now()) + interval '2 minutes', 'failed')",
            "UPDATE shows SET status = 'ended', ended_at = now() WHERE id = 1",
        ),
        (
            List::Morning,
            "payout_queue",
            "INSERT INTO payout_batches (id, period_start, period_end, scheduled_for, state, currency)
             VALUES (1, now() - interval '7 days', now(), now(), 'partially_failed', 'USD');
             INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, state,
                                       customer_transaction_id)
             VALUES (1, 1, 'earnings', 'USD', 2000, 500, 'failed', gen_random_uuid())",
            "UPDATE payout_items SET state = 'sent' WHERE batch_id = 1",
        ),
    ];
    for (list, key, break_it, fix_it) in cases {
        assert!(
            item(&pool, *list, today, key).await,
            "{key}: done on a quiet day"
        );
        exec(&pool, break_it).await;
        assert!(
            !item(&pool, *list, today, key).await,
            "{key}: open with its data"
        );
        exec(&pool, fix_it).await;
        assert!(item(&pool, *list, today, key).await, "{key}: done again");
    }

    // A show's lists: products pinned and stocked, creator online, recording.
    exec(
        &pool,
        "INSERT INTO shows (id, creator_id, title, scheduled_start, scheduled_end, status)
         VALUES (2, 1, 'Next', now() + interval '20 minutes', now() + interval '80 minutes', 'scheduled');
         INSERT INTO products (id, sku, name, creator_id, currency, price_minor, cost_minor, stock_on_hand, reorder_point)
         VALUES (1, 'SKU-1', 'Thing', 1, 'USD', 1000, 400, 5, 10);",
    )
    .await;
    let show = Scope::Show(2);
    assert!(!item(&pool, List::Preshow, show, "products_pinned").await);
    exec(
        &pool,
        "INSERT INTO show_products (show_id, product_id) VALUES (2, 1)",
    )
    .await;
    assert!(item(&pool, List::Preshow, show, "products_pinned").await);
    assert!(
        !item(&pool, List::Preshow, show, "inventory").await,
        "5 on hand, reorder at 10"
    );
    exec(&pool, "UPDATE products SET stock_on_hand = 50 WHERE id = 1").await;
    assert!(item(&pool, List::Preshow, show, "inventory").await);
    assert!(!item(&pool, List::Preshow, show, "creator_online").await);
    exec(
        &pool,
        "UPDATE shows SET creator_connected_at = now() WHERE id = 2",
    )
    .await;
    assert!(item(&pool, List::Preshow, show, "creator_online").await);
    assert!(!item(&pool, List::Postshow, show, "recording").await);
    exec(
        &pool,
        "UPDATE shows SET recording_status = 'saved' WHERE id = 2",
    )
    .await;
    assert!(item(&pool, List::Postshow, show, "recording").await);
}

#[sqlx::test]
async fn ticks_are_authorized_audited_and_per_day(pool: PgPool) {
    exec(
        &pool,
        "INSERT INTO operators (name, role, created_by) VALUES ('ann', 'agent', 't'), ('vic', 'viewer', 't')",
    )
    .await;
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let scope = Scope::Day(day);
    // A viewer is refused at the store, nothing written.
    let refused = checklists::tick(
        &pool,
        &Actor::new("vic"),
        List::Morning,
        scope,
        "overnight_orders",
        None,
        false,
    )
    .await;
    assert!(matches!(refused, Err(TickError::Auth(_))), "{refused:?}");
    // So is an agent on a read-only dashboard.
    let readonly = Actor::new("ann").read_only();
    let refused = checklists::tick(
        &pool,
        &readonly,
        List::Morning,
        scope,
        "overnight_orders",
        None,
        false,
    )
    .await;
    assert!(matches!(refused, Err(TickError::Auth(_))), "{refused:?}");
    // A data item cannot be ticked; an unknown item names the real ones.
    let data = checklists::tick(
        &pool,
        &Actor::new("ann"),
        List::Morning,
        scope,
        "alerts",
        None,
        false,
    )
    .await;
    assert!(matches!(data, Err(TickError::Invalid(ref m)) if m.contains("settled by the data")));
    let unknown = checklists::tick(
        &pool,
        &Actor::new("ann"),
        List::Morning,
        scope,
        "coffee",
        None,
        false,
    )
    .await;
    assert!(matches!(unknown, Err(TickError::Invalid(ref m)) if m.contains("overnight_orders")));
    let audits: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audits, 0);

    checklists::tick(
        &pool,
        &Actor::new("ann"),
        List::Morning,
        scope,
        "overnight_orders",
        Some("normal"),
        false,
    )
    .await
    .expect("tick");
    assert!(item(&pool, List::Morning, scope, "overnight_orders").await);
    // The next day starts unticked.
    let next = Scope::Day(day + Duration::days(1));
    assert!(!item(&pool, List::Morning, next, "overnight_orders").await);
    checklists::tick(
        &pool,
        &Actor::new("ann"),
        List::Morning,
        scope,
        "overnight_orders",
        None,
        true,
    )
    .await
    .expect("untick");
    assert!(!item(&pool, List::Morning, scope, "overnight_orders").await);
    let audited: Vec<(String, String, String)> =
        sqlx::query_as("SELECT operator, action, entity_id FROM audit_log ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        audited,
        vec![
            (
                "ann".into(),
                "checklist.tick".into(),
                "morning:2026-12-01:overnight_orders".into()
            ),
            (
                "ann".into(),
                "checklist.untick".into(),
                "morning:2026-12-01:overnight_orders".into()
            ),
        ]
    );
}

#[sqlx::test]
async fn a_list_open_at_its_deadline_raises_one_warning(pool: PgPool) {
    let day = Utc::now().date_naive();
    let before = TZ
        .from_utc_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .with_timezone(&Utc);
    let after = TZ
        .from_utc_datetime(&day.and_hms_opt(9, 45, 0).unwrap())
        .with_timezone(&Utc);
    assert_eq!(
        checklists::alert_overdue(&pool, before, &TZ, 70)
            .await
            .unwrap(),
        0,
        "not due yet"
    );
    // At 9:45 the morning list (its ticked items open) is overdue: one alert,
    // and only one however often the worker looks.
    assert_eq!(
        checklists::alert_overdue(&pool, after, &TZ, 70)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        checklists::alert_overdue(&pool, after, &TZ, 70)
            .await
            .unwrap(),
        0
    );
    let (severity, title): (String, String) =
        sqlx::query_as("SELECT severity, title FROM alerts WHERE dedup_key = $1")
            .bind(format!("checklist:morning:{day}"))
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(severity, "warning");
    assert!(title.contains("1 of 7 items open"), "{title}");
}
