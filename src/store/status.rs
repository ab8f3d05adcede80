//! The morning checklist facts (`lsn-ops status`): open alerts by severity,
//! incidents, disputes due within 24h, the payout batch, high-risk orders
//! pending, today's shows and the day's orders. Bounded queries only: counts
//! and the day's shows, never whole tables.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::disputes::DisputeState;
use crate::domain::money::{Currency, Money, ratio_bps};
use crate::domain::shows::{self, Phase, ShowStatus};

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct MorningFacts {
    pub generated_at: DateTime<Utc>,
    pub timezone: String,
    pub ops_day: String,
    pub alerts: AlertCounts,
    pub incidents: IncidentCounts,
    pub disputes: DisputeCounts,
    pub payout_batch: Option<PayoutBatchFacts>,
    pub fraud: FraudCounts,
    pub shows_today: ShowsToday,
    pub orders_today: OrderFacts,
    pub webhooks: WebhookCounts,
    pub low_stock_for_today: i64,
    /// The day list that matters now (morning until 18:00, then evening):
    /// items done of all, evaluated from the data and the ticks.
    pub checklist: Option<super::checklists::ChecklistCount>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct AlertCounts {
    pub critical: i64,
    pub warning: i64,
    pub info: i64,
    pub unacknowledged: i64,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct IncidentCounts {
    pub open: i64,
    pub overdue: i64,
    pub p0: i64,
    pub p1: i64,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DisputeCounts {
    /// Not yet won, lost or closed.
    pub active: i64,
    /// Awaiting evidence with the earlier deadline (SLA or PayPal's) within 24h.
    pub due_within_24h: i64,
    /// Awaiting evidence with a deadline already passed.
    pub overdue: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PayoutBatchFacts {
    pub id: i64,
    pub state: String,
    pub scheduled_for: DateTime<Utc>,
    pub total: Money,
    pub items: i64,
    pub failed_items: i64,
    pub held_items: i64,
    /// Lines waiting to be sent (what `process` would pay) and their sum.
    pub pending_items: i64,
    pub pending_total: Money,
    /// Failed lines in earlier batches (waiting for `payouts retry`), which
    /// the screen mentions since it shows the newest batch only.
    pub older_failed_items: i64,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FraudCounts {
    pub threshold: u8,
    /// Score above the threshold, not yet decided.
    pub high_risk_pending: i64,
    /// Review holds whose time is up: back in the queue.
    pub review_holds_expired: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ShowFact {
    pub id: i64,
    pub title: String,
    pub creator: String,
    pub scheduled_start: DateTime<Utc>,
    pub status: String,
    pub phase: String,
    pub cannot_start: bool,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ShowsToday {
    pub total: i64,
    pub live: i64,
    pub upcoming: i64,
    pub ended: i64,
    /// Past their start with no video room: P0.
    pub cannot_start: i64,
    pub shows: Vec<ShowFact>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct OrderFacts {
    pub orders: i64,
    pub paid: i64,
    pub payment_failed: i64,
    pub gmv: Money,
    pub aov: Option<Money>,
    /// Paid orders per storefront session, in basis points.
    pub conversion_bps: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct WebhookCounts {
    pub pending: i64,
    pub failed: i64,
    pub dead: i64,
}

/// Overall verdict of the checklist, and the process exit code for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Warning,
    Critical,
}

impl Health {
    pub fn exit_code(&self) -> u8 {
        match self {
            Health::Healthy => 0,
            Health::Warning => 1,
            Health::Critical => 2,
        }
    }
}

impl MorningFacts {
    /// Critical: a critical alert, an overdue incident or dispute, a show that
    /// cannot start, dead webhooks. Warning: anything else that needs a person.
    pub fn health(&self) -> (Health, Vec<String>) {
        let mut critical = Vec::new();
        let mut warning = Vec::new();
        if self.alerts.critical > 0 {
            critical.push(format!("{} critical alert(s) open", self.alerts.critical));
        }
        if self.shows_today.cannot_start > 0 {
            critical.push(format!(
                "{} show(s) past start with no room",
                self.shows_today.cannot_start
            ));
        }
        if self.incidents.overdue > 0 {
            critical.push(format!(
                "{} incident(s) past their resolution target",
                self.incidents.overdue
            ));
        }
        if self.disputes.overdue > 0 {
            critical.push(format!(
                "{} dispute(s) past their evidence deadline",
                self.disputes.overdue
            ));
        }
        if self.webhooks.dead > 0 {
            critical.push(format!(
                "{} webhook event(s) parked as dead",
                self.webhooks.dead
            ));
        }
        if self.alerts.warning > 0 {
            warning.push(format!("{} warning alert(s) open", self.alerts.warning));
        }
        if self.incidents.open > 0 {
            warning.push(format!("{} incident(s) open", self.incidents.open));
        }
        if self.disputes.due_within_24h > 0 {
            warning.push(format!(
                "{} dispute(s) due within 24h",
                self.disputes.due_within_24h
            ));
        }
        if self.fraud.high_risk_pending > 0 {
            warning.push(format!(
                "{} high-risk order(s) pending review",
                self.fraud.high_risk_pending
            ));
        }
        if let Some(batch) = &self.payout_batch
            && batch.failed_items > 0
        {
            warning.push(format!(
                "{} payout(s) failed in batch #{}",
                batch.failed_items, batch.id
            ));
        }
        if self.low_stock_for_today > 0 {
            warning.push(format!(
                "{} product(s) low on stock for today's shows",
                self.low_stock_for_today
            ));
        }
        if self.webhooks.failed > 0 {
            warning.push(format!("{} webhook event(s) failing", self.webhooks.failed));
        }
        if !critical.is_empty() {
            critical.extend(warning);
            (Health::Critical, critical)
        } else if !warning.is_empty() {
            (Health::Warning, warning)
        } else {
            (Health::Healthy, Vec::new())
        }
    }
}

/// The UTC bounds of the ops-time-zone day containing `now`.
pub fn ops_day_bounds<Tz: TimeZone>(now: DateTime<Utc>, tz: &Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = now.with_timezone(tz).date_naive();
    let start_of = |date: chrono::NaiveDate| {
        let naive = date.and_time(NaiveTime::MIN);
        tz.from_local_datetime(&naive)
            .earliest()
            // Midnight can fall in a DST gap; then the day starts an hour later.
            .or_else(|| {
                tz.from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    (start_of(day), start_of(day + Duration::days(1)))
}

/// Reads every morning-checklist fact at `now`.
pub async fn morning_facts(
    pool: &PgPool,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    high_risk_threshold: u8,
    currency: Currency,
) -> Result<MorningFacts, sqlx::Error> {
    let (day_start, day_end) = ops_day_bounds(now, tz);

    let (critical, warning, info, unacked): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE severity = 'critical'),
                count(*) FILTER (WHERE severity = 'warning'),
                count(*) FILTER (WHERE severity = 'info'),
                count(*) FILTER (WHERE state = 'open')
           FROM alerts WHERE state IN ('open', 'acknowledged')",
    )
    .fetch_one(pool)
    .await?;

    let (inc_open, inc_overdue, p0, p1): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE due_at < $1),
                count(*) FILTER (WHERE priority = 'P0'), count(*) FILTER (WHERE priority = 'P1')
           FROM incidents WHERE state <> 'resolved'",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;

    let awaiting: Vec<&str> = DisputeState::ALL
        .iter()
        .filter(|s| s.awaiting_evidence())
        .map(|s| s.as_str())
        .collect();
    let (active, due_24h, overdue): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE state = ANY($3) AND deadline >= $1 AND deadline < $2),
                count(*) FILTER (WHERE state = ANY($3) AND deadline < $1)
           FROM (SELECT state, LEAST(sla_due_at, COALESCE(seller_response_due_at, sla_due_at)) AS deadline
                   FROM disputes WHERE state NOT IN ('WON', 'LOST', 'CLOSED')) d",
    )
    .bind(now)
    .bind(now + Duration::hours(24))
    .bind(&awaiting)
    .fetch_one(pool)
    .await?;

    let payout_batch = current_payout_batch(pool, now, currency).await?;

    let (high_risk_pending, holds_expired): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE fraud_state = 'pending' AND fraud_score > $1),
                count(*) FILTER (WHERE fraud_state = 'review' AND fraud_hold_until <= $2)
           FROM orders WHERE fraud_state IN ('pending', 'review')",
    )
    .bind(i16::from(high_risk_threshold))
    .bind(now)
    .fetch_one(pool)
    .await?;

    let shows_today = shows_today(pool, now, day_start, day_end).await?;

    let (orders, paid, failed, gmv_minor): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')),
                count(*) FILTER (WHERE status = 'payment_failed'),
                COALESCE(sum(total_minor) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')), 0)::bigint
           FROM orders WHERE created_at >= $1 AND created_at < $2 AND currency = $3",
    )
    .bind(day_start)
    .bind(day_end)
    .bind(currency.code())
    .fetch_one(pool)
    .await?;
    let sessions: Option<i64> =
        sqlx::query_scalar("SELECT sessions FROM daily_traffic WHERE day = $1")
            .bind(now.with_timezone(tz).date_naive())
            .fetch_optional(pool)
            .await?;
    let gmv = Money::new(gmv_minor, currency);
    let orders_today = OrderFacts {
        orders,
        paid,
        payment_failed: failed,
        gmv,
        aov: gmv.divide(paid),
        conversion_bps: sessions.and_then(|s| ratio_bps(paid, s)),
    };

    let (pending, failed_events, dead): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'dead')
           FROM provider_events WHERE status IN ('pending', 'failed', 'dead')",
    )
    .fetch_one(pool)
    .await?;

    let low_stock: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT p.id)
           FROM shows s JOIN show_products sp ON sp.show_id = s.id JOIN products p ON p.id = sp.product_id
          WHERE s.scheduled_start >= $1 AND s.scheduled_start < $2
            AND s.status IN ('scheduled', 'preshow', 'live')
            AND p.stock_on_hand - p.stock_reserved <= p.reorder_point",
    )
    .bind(day_start)
    .bind(day_end)
    .fetch_one(pool)
    .await?;

    let checklist =
        Some(super::checklists::current_count(pool, now, tz, high_risk_threshold).await?);
    Ok(MorningFacts {
        generated_at: now,
        timezone: tz.name().to_string(),
        ops_day: now.with_timezone(tz).date_naive().to_string(),
        alerts: AlertCounts {
            critical,
            warning,
            info,
            unacknowledged: unacked,
        },
        incidents: IncidentCounts {
            open: inc_open,
            overdue: inc_overdue,
            p0,
            p1,
        },
        disputes: DisputeCounts {
            active,
            due_within_24h: due_24h,
            overdue,
        },
        payout_batch,
        fraud: FraudCounts {
            threshold: high_risk_threshold,
            high_risk_pending,
            review_holds_expired: holds_expired,
        },
        shows_today,
        orders_today,
        webhooks: WebhookCounts {
            pending,
            failed: failed_events,
            dead,
        },
        low_stock_for_today: low_stock,
        checklist,
    })
}

/// The batch that matters now: the newest one that has been generated (a
/// completed batch stays on screen until the next is generated), else the
/// newest draft (adjustments made ahead of the week's generation).
pub async fn current_payout_batch(
    pool: &PgPool,
    now: DateTime<Utc>,
    currency: Currency,
) -> Result<Option<PayoutBatchFacts>, sqlx::Error> {
    let _ = now;
    let row: Option<(i64, String, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT id, state, scheduled_for, currency::text FROM payout_batches
          WHERE currency = $1
          ORDER BY (state = 'draft'), scheduled_for DESC
          LIMIT 1",
    )
    .bind(currency.code())
    .fetch_optional(pool)
    .await?;
    let Some((id, state, scheduled_for, code)) = row else {
        return Ok(None);
    };
    let (items, failed, held, total, pending, pending_total): (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'held'),
                COALESCE(sum(amount_minor) FILTER (WHERE state <> 'cancelled'), 0)::bigint,
                count(*) FILTER (WHERE state = 'pending'),
                COALESCE(sum(amount_minor) FILTER (WHERE state = 'pending'), 0)::bigint
           FROM payout_items WHERE batch_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let older_failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payout_items WHERE state = 'failed' AND batch_id <> $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let currency = Currency::parse(&code).unwrap_or(currency);
    Ok(Some(PayoutBatchFacts {
        id,
        state,
        scheduled_for,
        total: Money::new(total, currency),
        items,
        failed_items: failed,
        held_items: held,
        pending_items: pending,
        pending_total: Money::new(pending_total, currency),
        older_failed_items: older_failed,
    }))
}

async fn shows_today(
    pool: &PgPool,
    now: DateTime<Utc>,
    day_start: DateTime<Utc>,
    day_end: DateTime<Utc>,
) -> Result<ShowsToday, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        title: String,
        creator: String,
        scheduled_start: DateTime<Utc>,
        status: String,
        started_at: Option<DateTime<Utc>>,
        has_room: bool,
    }
    // A day has tens of shows, not thousands; the cap keeps it bounded anyway.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.title, c.display_name AS creator, s.scheduled_start, s.status, s.started_at,
                (s.twilio_room_sid IS NOT NULL) AS has_room
           FROM shows s JOIN creators c ON c.id = s.creator_id
          WHERE s.scheduled_start >= $1 AND s.scheduled_start < $2
          ORDER BY s.scheduled_start, s.id
          LIMIT 200",
    )
    .bind(day_start)
    .bind(day_end)
    .fetch_all(pool)
    .await?;
    let mut out = ShowsToday {
        total: rows.len() as i64,
        ..Default::default()
    };
    for row in rows {
        let status = ShowStatus::parse(&row.status).unwrap_or(ShowStatus::Scheduled);
        let phase = shows::phase(
            status,
            row.scheduled_start,
            row.started_at,
            row.has_room,
            now,
        );
        match phase {
            Phase::Live { .. } => out.live += 1,
            Phase::Upcoming { .. } | Phase::PreShow { .. } | Phase::Late { .. } => {
                out.upcoming += 1
            }
            Phase::LateNoRoom { .. } => out.cannot_start += 1,
            Phase::Done => out.ended += 1,
        }
        out.shows.push(ShowFact {
            id: row.id,
            title: row.title,
            creator: row.creator,
            scheduled_start: row.scheduled_start,
            status: row.status,
            cannot_start: phase.cannot_start(),
            phase: phase.label(),
        });
    }
    Ok(out)
}
