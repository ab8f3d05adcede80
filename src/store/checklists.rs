//! The checklists against the data ([`crate::domain::checklists`]): the
//! facts each list's data items look at, the ticks (`checklist_items`, per
//! ops day or per show, audited), the header's count, and the warning alert
//! for a list still open at its deadline (raised by the worker).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::authz::{self, AuthError};
use crate::domain::checklists::{
    Check, DayFacts, Evaluated, List, ShowFacts, evaluate_day, evaluate_show, ticked,
};
use crate::domain::operators::{Actor, Permission};

/// Which list: a day's (morning, evening) or a show's (pre-show, post-show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scope {
    Day(NaiveDate),
    Show(i64),
}

/// A list with every item's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checklist {
    pub list: List,
    pub scope: Scope,
    pub title: String,
    pub items: Vec<Evaluated>,
}

impl Checklist {
    pub fn done(&self) -> usize {
        self.items.iter().filter(|i| i.done).count()
    }
}

/// The header's "morning 5/7": the day list that matters now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChecklistCount {
    pub list: List,
    pub done: usize,
    pub total: usize,
}

/// Midnight of `day` in `tz`, in UTC.
fn day_start(tz: &chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight).earliest().map_or_else(
        || Utc.from_utc_datetime(&midnight),
        |t| t.with_timezone(&Utc),
    )
}

/// What the day's data items look at, now.
pub async fn day_facts(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    day: NaiveDate,
    high_risk_threshold: u8,
) -> Result<DayFacts, sqlx::Error> {
    let from = day_start(tz, day);
    let to = day_start(tz, day + Duration::days(1));
    type Row = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let r: Row = sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM alerts WHERE state = 'open' AND (severity = 'critical' OR priority = 'P0')),
           (SELECT count(*) FROM shows WHERE scheduled_start >= $2 AND scheduled_start < $3
               AND ((status IN ('scheduled', 'preshow') AND scheduled_start < $1 AND twilio_room_sid IS NULL)
                    OR status = 'failed')),
           (SELECT count(*) FROM disputes WHERE state NOT IN ('WON', 'LOST', 'CLOSED', 'SUBMITTED')
               AND assigned_to IS NULL
               AND LEAST(sla_due_at, COALESCE(seller_response_due_at, sla_due_at)) < $1 + interval '24 hours'),
           (SELECT count(*) FROM payout_items WHERE state = 'failed'),
           (SELECT count(*) FROM payout_batches WHERE state = 'approved'),
           (SELECT count(DISTINCT p.id) FROM shows s JOIN show_products sp ON sp.show_id = s.id
               JOIN products p ON p.id = sp.product_id
             WHERE s.scheduled_start >= $2 AND s.scheduled_start < $3 AND sp.pinned
               AND s.status IN ('scheduled', 'preshow', 'live')
               AND p.stock_on_hand - p.stock_reserved <= p.reorder_point),
           (SELECT count(*) FROM orders WHERE fraud_state IN ('pending', 'review')
               AND ((fraud_state = 'pending' AND fraud_score > $4 AND COALESCE(paid_at, created_at) < $1 - interval '4 hours')
                    OR (fraud_state = 'review' AND fraud_hold_until <= $1))),
           (SELECT count(*) FROM shows WHERE scheduled_start >= $2 AND scheduled_start < $3
               AND scheduled_end < $1 AND status NOT IN ('ended', 'cancelled')),
           (SELECT count(*) FROM orders WHERE status IN ('paid', 'fulfilling') AND shipped_at IS NULL
               AND paid_at < $1 - interval '48 hours' AND fraud_state NOT IN ('pending', 'review')),
           (SELECT count(*) FROM provider_events WHERE status IN ('failed', 'dead'))",
    )
    .bind(now)
    .bind(from)
    .bind(to)
    .bind(i16::from(high_risk_threshold))
    .fetch_one(&mut *conn)
    .await?;
    Ok(DayFacts {
        unacked_critical_alerts: r.0,
        shows_in_trouble: r.1,
        disputes_due_unassigned: r.2,
        failed_payout_lines: r.3,
        approved_unprocessed_batches: r.4,
        low_stock_for_today: r.5,
        fraud_waiting_long: r.6,
        shows_not_completed: r.7,
        unshipped_over_48h: r.8,
        webhooks_failed: r.9,
    })
}

/// What a show's data items look at.
pub async fn show_facts(conn: &mut PgConnection, show: i64) -> Result<ShowFacts, sqlx::Error> {
    let r: (bool, i64, i64, bool, bool, i64) = sqlx::query_as(
        "SELECT s.creator_connected_at IS NOT NULL,
                (SELECT count(*) FROM show_products sp WHERE sp.show_id = s.id AND sp.pinned),
                (SELECT count(*) FROM show_products sp JOIN products p ON p.id = sp.product_id
                  WHERE sp.show_id = s.id AND sp.pinned AND p.stock_on_hand - p.stock_reserved <= p.reorder_point),
                s.recording_status = 'saved',
                s.status = 'ended',
                (SELECT count(*) FROM orders o WHERE o.show_id = s.id
                  AND (o.status = 'pending_payment' OR o.fraud_state IN ('pending', 'review')))
           FROM shows s WHERE s.id = $1",
    )
    .bind(show)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ShowFacts {
        creator_connected: r.0,
        pinned_products: r.1,
        pinned_low_stock: r.2,
        recording_saved: r.3,
        ended: r.4,
        pending_orders: r.5,
    })
}

/// Ticks of one list: item key → (who, note).
async fn ticks(
    conn: &mut PgConnection,
    list: List,
    scope: Scope,
) -> Result<Vec<(String, String, Option<String>)>, sqlx::Error> {
    let (day, show) = match scope {
        Scope::Day(d) => (Some(d), None),
        Scope::Show(s) => (None, Some(s)),
    };
    sqlx::query_as(
        "SELECT item_key, COALESCE(done_by, ''), note FROM checklist_items
          WHERE checklist = $1 AND done_at IS NOT NULL
            AND ops_day IS NOT DISTINCT FROM $2 AND show_id IS NOT DISTINCT FROM $3",
    )
    .bind(list.as_str())
    .bind(day)
    .bind(show)
    .fetch_all(conn)
    .await
}

/// One list with every item's state, now.
pub async fn evaluate(
    pool: &PgPool,
    list: List,
    scope: Scope,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    high_risk_threshold: u8,
) -> Result<Checklist, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let done = ticks(&mut conn, list, scope).await?;
    let tick_of = |key: &str| {
        done.iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, who, note)| (who.as_str(), note.as_deref()))
    };
    let (items, title) = match scope {
        Scope::Day(day) => {
            let facts = day_facts(&mut conn, now, tz, day, high_risk_threshold).await?;
            let items = list
                .items()
                .iter()
                .map(|i| match i.check {
                    Check::Data => evaluate_day(i, &facts),
                    Check::Tick => ticked(i, tick_of(i.key)),
                })
                .collect();
            (items, format!("{} checklist, {day}", list.as_str()))
        }
        Scope::Show(show) => {
            let facts = show_facts(&mut conn, show).await?;
            let title: String = sqlx::query_scalar("SELECT title FROM shows WHERE id = $1")
                .bind(show)
                .fetch_one(&mut *conn)
                .await?;
            let items = list
                .items()
                .iter()
                .map(|i| match i.check {
                    Check::Data => evaluate_show(i, &facts),
                    Check::Tick => ticked(i, tick_of(i.key)),
                })
                .collect();
            (
                items,
                format!("{} checklist, show #{show} {title}", list.as_str()),
            )
        }
    };
    Ok(Checklist {
        list,
        scope,
        title,
        items,
    })
}

/// Why a tick did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for TickError {
    fn from(e: sqlx::Error) -> Self {
        TickError::Auth(AuthError::Sql(e))
    }
}

/// Ticks (or, with `undo`, unticks) an operator's item, with an optional
/// note; authorized and audited in one transaction. Data items cannot be
/// ticked: the data settles them.
pub async fn tick(
    pool: &PgPool,
    actor: &Actor,
    list: List,
    scope: Scope,
    key: &str,
    note: Option<&str>,
    undo: bool,
) -> Result<(), TickError> {
    let Some(item) = list.items().iter().find(|i| i.key == key) else {
        let keys: Vec<_> = list.items().iter().map(|i| i.key).collect();
        return Err(TickError::Invalid(format!(
            "the {} list has no item \"{key}\" (items: {})",
            list.as_str(),
            keys.join(", ")
        )));
    };
    if item.check == Check::Data {
        return Err(TickError::Invalid(format!(
            "\"{key}\" is settled by the data, not ticked: {}",
            item.label
        )));
    }
    if list.per_show() != matches!(scope, Scope::Show(_)) {
        return Err(TickError::Invalid(format!(
            "the {} list is per {}",
            list.as_str(),
            if list.per_show() { "show" } else { "day" }
        )));
    }
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::WorkChecklists).await?;
    let (day, show) = match scope {
        Scope::Day(d) => (Some(d), None),
        Scope::Show(s) => (None, Some(s)),
    };
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let who = actor.audit_name();
    let updated = sqlx::query(
        "UPDATE checklist_items SET done_at = CASE WHEN $5 THEN NULL ELSE now() END,
                done_by = CASE WHEN $5 THEN NULL ELSE $6 END, note = CASE WHEN $5 THEN NULL ELSE $7 END
          WHERE checklist = $1 AND item_key = $2
            AND ops_day IS NOT DISTINCT FROM $3 AND show_id IS NOT DISTINCT FROM $4",
    )
    .bind(list.as_str())
    .bind(key)
    .bind(day)
    .bind(show)
    .bind(undo)
    .bind(&who)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 && !undo {
        sqlx::query(
            "INSERT INTO checklist_items (checklist, ops_day, show_id, item_key, label, done_at, done_by, note)
             VALUES ($1, $2, $3, $4, $5, now(), $6, $7)",
        )
        .bind(list.as_str())
        .bind(day)
        .bind(show)
        .bind(key)
        .bind(item.label)
        .bind(&who)
        .bind(note)
        .execute(&mut *tx)
        .await?;
    }
    let entity = match scope {
        Scope::Day(d) => format!("{}:{d}:{key}", list.as_str()),
        Scope::Show(s) => format!("{}:show-{s}:{key}", list.as_str()),
    };
    super::audit(
        &mut tx,
        &who,
        if undo {
            "checklist.untick"
        } else {
            "checklist.tick"
        },
        "checklist_item",
        &entity,
        serde_json::json!({"note": note}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The day list that matters now: morning until 18:00, then evening.
pub fn current_day_list(local: chrono::NaiveTime) -> List {
    if local < chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default() {
        List::Morning
    } else {
        List::Evening
    }
}

/// The header's count for the current day list.
pub async fn current_count(
    pool: &PgPool,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    high_risk_threshold: u8,
) -> Result<ChecklistCount, sqlx::Error> {
    let local = now.with_timezone(tz);
    let list = current_day_list(local.time());
    let c = evaluate(
        pool,
        list,
        Scope::Day(local.date_naive()),
        now,
        tz,
        high_risk_threshold,
    )
    .await?;
    Ok(ChecklistCount {
        list,
        done: c.done(),
        total: c.items.len(),
    })
}

/// Raises one warning alert per list still open at its deadline: today's
/// morning (9:30) and evening (18:30) lists, and the pre-show list of each
/// show that started in the last two hours. Returns the alerts raised now.
pub async fn alert_overdue(
    pool: &PgPool,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    high_risk_threshold: u8,
) -> Result<usize, sqlx::Error> {
    let local = now.with_timezone(tz);
    let day = local.date_naive();
    let mut due: Vec<(List, Scope, String)> = Vec::new();
    for list in [List::Morning, List::Evening] {
        if let Some(at) = list.due_time()
            && local.time() >= at
        {
            due.push((
                list,
                Scope::Day(day),
                format!("checklist:{}:{day}", list.as_str()),
            ));
        }
    }
    let started: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM shows WHERE scheduled_start <= $1 AND scheduled_start > $1 - interval '2 hours'
            AND status NOT IN ('cancelled')",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for show in started {
        due.push((
            List::Preshow,
            Scope::Show(show),
            format!("checklist:preshow:{show}"),
        ));
    }
    let mut raised = 0;
    for (list, scope, dedup) in due {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM alerts WHERE dedup_key = $1)")
                .bind(&dedup)
                .fetch_one(pool)
                .await?;
        if exists {
            continue;
        }
        let c = evaluate(pool, list, scope, now, tz, high_risk_threshold).await?;
        let open: Vec<&str> = c
            .items
            .iter()
            .filter(|i| !i.done)
            .map(|i| i.label)
            .collect();
        if open.is_empty() {
            continue;
        }
        let mut conn = pool.acquire().await?;
        super::alerts::raise(
            &mut conn,
            "checklist_overdue",
            &dedup,
            "warning",
            "P2",
            &format!(
                "{}: {} of {} items open at the deadline",
                c.title,
                open.len(),
                c.items.len()
            ),
            &format!("Open: {}", open.join("; ")),
        )
        .await?;
        raised += 1;
    }
    Ok(raised)
}
