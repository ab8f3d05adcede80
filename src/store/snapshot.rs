//! The dashboard's data: one immutable [`Snapshot`] of everything on screen,
//! built by [`build_snapshot`] from bounded queries (top-N rows plus counts,
//! never whole tables). The header facts come from [`super::status`]; each
//! pane query here walks its own index (see `migrations/0001_schema.sql`).
//!
//! A snapshot is plain data: the TUI renders it without any I/O, the screen
//! tests and the benchmark use a hand-built one (`fixture`, compiled only for
//! tests and with the `fixtures` feature), and the benchmark also builds one
//! at the 1M scale.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::domain::money::{Currency, Money};
use crate::domain::shows::{self, ShowStatus};
use crate::store::status::{MorningFacts, morning_facts, ops_day_bounds};

mod alerts;
pub mod shared;
use alerts::{alerts, incidents};
#[cfg(any(test, feature = "fixtures"))]
mod fixture;
#[cfg(any(test, feature = "fixtures"))]
pub use fixture::fixture;

/// Rows kept per pane: enough to scroll through, small enough to stay cheap.
pub const PANE_LIMIT: i64 = 100;

/// Everything the dashboard shows, at one instant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub taken_at: DateTime<Utc>,
    /// When finished shows' sales were last read (see [`build_snapshot_after`]).
    pub sales_read_at: DateTime<Utc>,
    /// When `dispute_rates` were last read (see [`build_snapshot_after`]).
    #[serde(default)]
    pub rates_read_at: DateTime<Utc>,
    /// Header figures and counts (the same facts as `lsn-ops status`).
    pub facts: MorningFacts,
    pub alerts: Vec<AlertRow>,
    pub incidents: Vec<IncidentRow>,
    pub shows: Vec<ShowRow>,
    pub disputes: Vec<DisputeRow>,
    /// Win and recovery rates of decided disputes (last 90 days), for pane 3's footer.
    pub dispute_rates: crate::store::disputes::rates::Rates,
    pub payout_items: Vec<PayoutItemRow>,
    pub fraud: Vec<FraudRow>,
    /// Orders in the fraud queue (pending or review), of which `fraud` holds the top rows.
    pub fraud_queue_total: i64,
    /// Active blocklist entries, newest first (the top of `blocklist_total`).
    pub blocklist: Vec<BlockRow>,
    pub blocklist_total: i64,
    /// Today's GMV per hour of the ops day, and the same weekday last week's.
    pub gmv_by_hour: HourlyGmv,
}

impl Snapshot {
    /// The same rows and figures as `other`, whenever each was read (the
    /// dashboard skips drawing an unchanged poll: nothing to send over SSH).
    pub fn same_content(&self, other: &Snapshot) -> bool {
        let facts = |s: &Snapshot| {
            let mut f = s.facts.clone();
            f.generated_at = DateTime::<Utc>::MIN_UTC;
            f
        };
        facts(self) == facts(other)
            && self.alerts == other.alerts
            && self.incidents == other.incidents
            && self.shows == other.shows
            && self.disputes == other.disputes
            && self.dispute_rates == other.dispute_rates
            && self.payout_items == other.payout_items
            && self.fraud == other.fraud
            && self.fraud_queue_total == other.fraud_queue_total
            && self.blocklist == other.blocklist
            && self.blocklist_total == other.blocklist_total
            && self.gmv_by_hour == other.gmv_by_hour
    }
}

/// GMV per hour (minor units of the dashboard's currency) of today's ops day
/// so far and of the same weekday a week ago, hour 0 first.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HourlyGmv {
    pub today: Vec<i64>,
    pub last_week: Vec<i64>,
}

/// One active blocklist entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlockRow {
    pub id: i64,
    /// ip, email, device or payer.
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    /// Orders with this value (capped at [`BLOCK_MATCH_CAP`]).
    pub orders: i64,
    /// Added by a decline (rather than by hand).
    pub decision_id: Option<i64>,
}

/// Matching orders are counted up to this many per blocklist entry.
pub const BLOCK_MATCH_CAP: i64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertRow {
    pub id: i64,
    pub severity: String,
    pub priority: Option<String>,
    pub rule_key: String,
    pub title: String,
    pub details: String,
    pub state: String,
    pub opened_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub occurrences: i32,
    pub acked_by: Option<String>,
    pub dedup_key: String,
    /// What raised it ("probe:checkout", "shows", ...).
    pub source: String,
    /// A silence covers it until then.
    pub silenced_until: Option<DateTime<Utc>>,
    /// Its condition is clear; it resolves by itself after `recover_s`.
    pub recovering: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IncidentRow {
    pub id: i64,
    pub priority: String,
    pub title: String,
    pub state: String,
    pub commander: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub summary: String,
    /// The alert it was declared from.
    pub alert_id: Option<i64>,
    /// Escalation steps told (0 the on-call engineer ... 3 the CEO).
    pub escalation_level: i32,
    /// The latest timeline entry ("note: ...", "escalated to ...").
    pub last_event: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShowRow {
    pub id: i64,
    pub title: String,
    pub creator: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub has_room: bool,
    pub current_viewers: i32,
    pub peak_viewers: i32,
    pub orders: i64,
    pub sales: Money,
    pub pinned_products: i64,
    pub low_stock_products: i64,
    pub recording_status: String,
    /// Live shows: viewers per minute over the last 30 minutes, oldest first
    /// (empty for shows not live).
    pub viewer_trend: Vec<u32>,
}

impl ShowRow {
    pub fn phase(&self, now: DateTime<Utc>) -> shows::Phase {
        let status = ShowStatus::parse(&self.status).unwrap_or(ShowStatus::Scheduled);
        shows::phase(
            status,
            self.scheduled_start,
            self.started_at,
            self.has_room,
            now,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DisputeRow {
    pub id: i64,
    pub paypal_dispute_id: String,
    pub order_number: Option<String>,
    pub state: String,
    pub reason: String,
    pub stage: Option<String>,
    pub amount: Money,
    pub opened_at: DateTime<Utc>,
    pub sla_due_at: DateTime<Utc>,
    pub seller_response_due_at: Option<DateTime<Utc>>,
    pub assigned_to: Option<String>,
    /// Evidence items collected (or not applicable) out of the runbook's 7.
    pub evidence_done: i64,
    /// The order's creator (handle), for the win rate by creator.
    pub creator: Option<String>,
    /// Who asked for the submission (an operator, or the worker's auto-submit) and when.
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub auto_submitted: bool,
    /// Why an EVIDENCE_READY dispute waits for a person.
    pub manual_reason: Option<String>,
}

impl DisputeRow {
    /// Whichever comes first: the internal SLA or PayPal's due date.
    pub fn deadline(&self) -> DateTime<Utc> {
        crate::domain::disputes::effective_deadline(self.sla_due_at, self.seller_response_due_at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PayoutItemRow {
    pub id: i64,
    pub creator: String,
    pub tier: String,
    pub kind: String,
    pub order_count: i32,
    pub order_total: Money,
    pub costs: Money,
    pub commission_bps: i32,
    pub amount: Money,
    pub state: String,
    pub recipient_status: String,
    pub hold_reason: Option<String>,
    pub failure_reason: Option<String>,
    pub attempts: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FraudRow {
    pub order_id: i64,
    pub order_number: String,
    pub score: i16,
    pub state: String,
    pub total: Money,
    pub email: String,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub hold_until: Option<DateTime<Utc>>,
    pub indicators: Vec<IndicatorRow>,
    /// Who holds a live triage claim on the order (`fraud_claims`), if anyone.
    pub claimed_by: Option<String>,
    /// The show it was bought in and the creator's handle, when known.
    pub show: Option<String>,
    pub creator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndicatorRow {
    pub indicator: String,
    pub points: i16,
    pub evidence: String,
}

fn money(minor: i64, code: &str, fallback: Currency) -> Money {
    Money::new(minor, Currency::parse(code).unwrap_or(fallback))
}

/// Reads the whole dashboard at `now`: the morning facts plus each pane's top rows.
/// Runs three queries at a time, so give the pool at least three connections.
pub async fn build_snapshot(
    pool: &PgPool,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    high_risk_threshold: u8,
    currency: Currency,
) -> Result<Snapshot, sqlx::Error> {
    build_snapshot_after(pool, now, tz, high_risk_threshold, currency, None, None).await
}

/// Finished shows' sales are re-read at most this often (a refund after the
/// show still shows up, a little later).
pub const FINISHED_SALES_REFRESH: Duration = Duration::minutes(10);

/// Dispute win rates (90 days of decided disputes) are re-read at least this
/// often, and whenever the disputes table changed.
pub const RATES_REFRESH: Duration = Duration::minutes(1);

/// [`build_snapshot`] that reuses what cannot have changed since `previous`:
/// the sales of shows that had already finished (re-read every
/// [`FINISHED_SALES_REFRESH`]), and, when `changed` (the tables announced on
/// [`crate::store::CHANGE_CHANNEL`] since `previous`; `None`: unknown) does
/// not name their table, the dispute rates (`disputes`; re-read every
/// [`RATES_REFRESH`] anyway; 110 ms of the build at 1M orders) and the hourly
/// GMV (`orders`, within the same hour; 25-50 ms). The poller's steady state.
pub async fn build_snapshot_after(
    pool: &PgPool,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    high_risk_threshold: u8,
    currency: Currency,
    previous: Option<&Snapshot>,
    changed: Option<&std::collections::BTreeSet<String>>,
) -> Result<Snapshot, sqlx::Error> {
    let previous = previous.filter(|p| now - p.sales_read_at < FINISHED_SALES_REFRESH);
    let rates_kept = previous
        .filter(|p| now - p.rates_read_at < RATES_REFRESH)
        .filter(|_| changed.is_some_and(|tables| !tables.contains("disputes")))
        .map(|p| (p.dispute_rates.clone(), p.rates_read_at));
    let (day_start, day_end) = ops_day_bounds(now, tz);
    // The hourly GMV reads only orders: kept while no order changed, within
    // the same hour of the same ops day.
    let gmv_kept = previous
        .filter(|_| changed.is_some_and(|tables| !tables.contains("orders")))
        .filter(|p| ops_day_bounds(p.taken_at, tz).0 == day_start)
        .filter(|p| p.gmv_by_hour.today.len() == hours_so_far(now, day_start))
        .map(|p| p.gmv_by_hour.clone());
    // Three lanes on three connections: the header facts (then this week's
    // payout lines), today's shows with their sales, and the other panes.
    let facts_lane = async {
        let facts = morning_facts(pool, now, tz, high_risk_threshold, currency).await?;
        let items = match &facts.payout_batch {
            Some(batch) => payout_items(pool, batch.id, currency).await?,
            None => Vec::new(),
        };
        Ok::<_, sqlx::Error>((facts, items))
    };
    let shows_lane = async {
        let shows = shows(pool, now, day_start, day_end, currency, previous).await?;
        let gmv = match gmv_kept {
            Some(kept) => kept,
            None => gmv_by_hour(pool, now, day_start, currency).await?,
        };
        Ok::<_, sqlx::Error>((shows, gmv))
    };
    let panes_lane = async {
        let alerts = alerts(pool).await?;
        let incidents = incidents(pool).await?;
        let disputes = disputes(pool, currency).await?;
        let rates = match rates_kept {
            Some(kept) => kept,
            None => (
                crate::store::disputes::rates::rates(
                    pool,
                    Some(now - chrono::Duration::days(90)),
                    currency.code(),
                    500,
                )
                .await?,
                now,
            ),
        };
        let fraud = fraud(pool, currency).await?;
        let blocklist = blocklist(pool).await?;
        Ok::<_, sqlx::Error>((alerts, incidents, (disputes, rates), fraud, blocklist))
    };
    let (
        (facts, payout_items),
        (shows, gmv_by_hour),
        (
            alerts,
            incidents,
            (disputes, (dispute_rates, rates_read_at)),
            (fraud, fraud_queue_total),
            (blocklist, blocklist_total),
        ),
    ) = tokio::try_join!(facts_lane, shows_lane, panes_lane)?;
    Ok(Snapshot {
        taken_at: now,
        sales_read_at: previous.map_or(now, |p| p.sales_read_at),
        rates_read_at,
        facts,
        alerts,
        incidents,
        shows,
        disputes,
        dispute_rates,
        payout_items,
        fraud,
        fraud_queue_total,
        blocklist,
        blocklist_total,
        gmv_by_hour,
    })
}

/// Today's GMV by hour so far and the same weekday last week's (the header's
/// trend). Two ranges of orders_created_idx, each an index-only scan (an OR
/// of the two made a bitmap scan of the table: 385 ms at 1M orders, now 25),
/// binned by hour from each range's own start.
async fn gmv_by_hour(
    pool: &PgPool,
    now: DateTime<Utc>,
    day_start: DateTime<Utc>,
    currency: Currency,
) -> Result<HourlyGmv, sqlx::Error> {
    let week = chrono::Duration::days(7);
    let last_week = day_start - week;
    let rows: Vec<(bool, DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT today, date_bin('1 hour', created_at, base), COALESCE(sum(total_minor), 0)::bigint
           FROM (SELECT true AS today, $1::timestamptz AS base, created_at, total_minor FROM orders
                  WHERE created_at >= $1 AND created_at < $3
                    AND currency = $4 AND status NOT IN ('pending_payment', 'payment_failed', 'cancelled')
                 UNION ALL
                 SELECT false, $2::timestamptz, created_at, total_minor FROM orders
                  WHERE created_at >= $2 AND created_at < $2 + interval '25 hours'
                    AND currency = $4 AND status NOT IN ('pending_payment', 'payment_failed', 'cancelled')) o
          GROUP BY 1, 2",
    )
    .bind(day_start)
    .bind(last_week)
    .bind(now)
    .bind(currency.code())
    .fetch_all(pool)
    .await?;
    let rows = rows.into_iter().map(|(today, bin, minor)| {
        let base = if today { day_start } else { last_week };
        (today, (bin - base).num_hours(), minor)
    });
    // A day has 23 to 25 hours across a DST change.
    let hours = hours_so_far(now, day_start);
    let mut gmv = HourlyGmv {
        today: vec![0; hours],
        last_week: vec![0; 24],
    };
    for (today, hour, minor) in rows {
        let series = if today {
            &mut gmv.today
        } else {
            &mut gmv.last_week
        };
        if let Some(slot) = usize::try_from(hour).ok().and_then(|h| series.get_mut(h)) {
            *slot += minor;
        }
    }
    Ok(gmv)
}

/// Hours of the ops day begun by `now` (23 to 25 across a DST change).
fn hours_so_far(now: DateTime<Utc>, day_start: DateTime<Utc>) -> usize {
    usize::try_from(((now - day_start).num_hours() + 1).clamp(1, 25)).unwrap_or(24)
}

async fn blocklist(pool: &PgPool) -> Result<(Vec<BlockRow>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        kind: String,
        value: String,
        reason: String,
        added_by: String,
        added_at: DateTime<Utc>,
        orders: Option<i64>,
        decision_id: Option<i64>,
    }
    // blocklist_active_added_idx: the newest active entries; each count walks
    // the orders index of its kind, capped.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT b.id, b.kind, b.value, b.reason, b.added_by, b.added_at, b.decision_id,
                CASE b.kind
                  WHEN 'ip' THEN (SELECT count(*) FROM (SELECT 1 FROM orders o
                                   WHERE o.ip = lsn_try_inet(b.value) LIMIT $2) x)
                  WHEN 'email' THEN (SELECT count(*) FROM (SELECT 1 FROM orders o
                                   WHERE o.email = b.value LIMIT $2) x)
                  WHEN 'device' THEN (SELECT count(*) FROM (SELECT 1 FROM orders o
                                   WHERE o.device_fingerprint = b.value LIMIT $2) x)
                  WHEN 'payer' THEN (SELECT count(*) FROM (SELECT 1 FROM orders o
                                   WHERE o.paypal_payer_id = b.value LIMIT $2) x)
                END AS orders
           FROM blocklist b
          WHERE b.removed_at IS NULL
          ORDER BY b.added_at DESC, b.id DESC
          LIMIT $1",
    )
    .bind(PANE_LIMIT)
    .bind(BLOCK_MATCH_CAP)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM blocklist WHERE removed_at IS NULL")
        .fetch_one(pool)
        .await?;
    Ok((
        rows.into_iter()
            .map(|r| BlockRow {
                id: r.id,
                kind: r.kind,
                value: r.value,
                reason: r.reason,
                added_by: r.added_by,
                added_at: r.added_at,
                orders: r.orders.unwrap_or(0),
                decision_id: r.decision_id,
            })
            .collect(),
        total,
    ))
}

async fn shows(
    pool: &PgPool,
    now: DateTime<Utc>,
    day_start: DateTime<Utc>,
    day_end: DateTime<Utc>,
    currency: Currency,
    previous: Option<&Snapshot>,
) -> Result<Vec<ShowRow>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        title: String,
        creator: String,
        scheduled_start: DateTime<Utc>,
        scheduled_end: DateTime<Utc>,
        status: String,
        started_at: Option<DateTime<Utc>>,
        has_room: bool,
        current_viewers: i32,
        peak_viewers: i32,
        recording_status: String,
        pinned: i64,
        low_stock: i64,
    }
    // shows_schedule_idx: one day of shows (tens), capped anyway.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.title, c.display_name AS creator, s.scheduled_start, s.scheduled_end, s.status,
                s.started_at, (s.twilio_room_sid IS NOT NULL) AS has_room, s.current_viewers,
                s.peak_viewers, s.recording_status,
                (SELECT count(*) FROM show_products sp WHERE sp.show_id = s.id AND sp.pinned) AS pinned,
                (SELECT count(*) FROM show_products sp JOIN products p ON p.id = sp.product_id
                  WHERE sp.show_id = s.id AND sp.pinned
                    AND p.stock_on_hand - p.stock_reserved <= p.reorder_point) AS low_stock
           FROM shows s JOIN creators c ON c.id = s.creator_id
          WHERE s.scheduled_start >= $1 AND s.scheduled_start < $2
          ORDER BY s.scheduled_start, s.id
          LIMIT 200",
    )
    .bind(day_start)
    .bind(day_end)
    .fetch_all(pool)
    .await?;
    let finished = |status: &str| matches!(status, "ended" | "cancelled" | "failed");
    // Sales of shows that were already over last time cannot have moved much.
    let known: HashMap<i64, (i64, i64)> = previous
        .map(|p| {
            p.shows
                .iter()
                .filter(|s| finished(&s.status))
                .map(|s| (s.id, (s.orders, s.sales.minor)))
                .collect()
        })
        .unwrap_or_default();
    let ids: Vec<i64> = rows
        .iter()
        .filter(|r| !(finished(&r.status) && known.contains_key(&r.id)))
        .map(|r| r.id)
        .collect();
    // orders_show_idx: sales of today's shows only.
    let sales: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT show_id, count(*),
                COALESCE(sum(total_minor) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')), 0)::bigint
           FROM orders WHERE show_id = ANY($1) AND currency = $2
          GROUP BY show_id",
    )
    .bind(&ids)
    .bind(currency.code())
    .fetch_all(pool)
    .await?;
    let mut sales: HashMap<i64, (i64, i64)> =
        sales.into_iter().map(|(s, n, m)| (s, (n, m))).collect();
    for (id, known) in known {
        sales.entry(id).or_insert(known);
    }
    // Live shows' viewers over the last half hour: the samples in the window
    // and the last one before it (show_viewer_samples' key is (show, time)).
    let live: Vec<i64> = rows
        .iter()
        .filter(|r| r.status == "live")
        .map(|r| r.id)
        .collect();
    let window = chrono::Duration::minutes(shows::VIEWER_TREND_MINUTES);
    let samples: Vec<(i64, DateTime<Utc>, i32)> = if live.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT show_id, at, viewers FROM show_viewer_samples
              WHERE show_id = ANY($1) AND at > $2 AND at <= $3
             UNION ALL
             (SELECT DISTINCT ON (show_id) show_id, at, viewers FROM show_viewer_samples
               WHERE show_id = ANY($1) AND at <= $2
               ORDER BY show_id, at DESC)
             ORDER BY 1, 2",
        )
        .bind(&live)
        .bind(now - window)
        .bind(now)
        .fetch_all(pool)
        .await?
    };
    let mut by_show: HashMap<i64, Vec<(DateTime<Utc>, i32)>> = HashMap::new();
    for (id, at, viewers) in samples {
        by_show.entry(id).or_default().push((at, viewers));
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let (orders, minor) = sales.get(&r.id).copied().unwrap_or((0, 0));
            let viewer_trend = if r.status == "live" {
                let samples = by_show.get(&r.id).map_or(&[][..], Vec::as_slice);
                shows::viewer_trend(samples, now, shows::VIEWER_TREND_MINUTES)
            } else {
                Vec::new()
            };
            ShowRow {
                id: r.id,
                title: r.title,
                creator: r.creator,
                scheduled_start: r.scheduled_start,
                scheduled_end: r.scheduled_end,
                status: r.status,
                started_at: r.started_at,
                has_room: r.has_room,
                current_viewers: r.current_viewers,
                peak_viewers: r.peak_viewers,
                orders,
                sales: Money::new(minor, currency),
                pinned_products: r.pinned,
                low_stock_products: r.low_stock,
                viewer_trend,
                recording_status: r.recording_status,
            }
        })
        .collect())
}

async fn disputes(pool: &PgPool, currency: Currency) -> Result<Vec<DisputeRow>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        paypal_dispute_id: String,
        order_number: Option<String>,
        state: String,
        reason: String,
        life_cycle_stage: Option<String>,
        amount_minor: i64,
        currency: String,
        opened_at: DateTime<Utc>,
        sla_due_at: DateTime<Utc>,
        seller_response_due_at: Option<DateTime<Utc>>,
        assigned_to: Option<String>,
        evidence_done: i64,
        creator: Option<String>,
        submit_requested_by: Option<String>,
        submit_requested_at: Option<DateTime<Utc>>,
        auto_submitted: bool,
        manual_reason: Option<String>,
    }
    // disputes_sla_queue_idx: active disputes (a few hundred at most), those still
    // owing evidence first, by whichever deadline comes first. The top rows are
    // picked before the joins (joining all of them first: 40 ms at 1M orders).
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.paypal_dispute_id, o.order_number, d.state, d.reason, d.life_cycle_stage,
                d.amount_minor, d.currency::text AS currency, d.opened_at, d.sla_due_at,
                d.seller_response_due_at, d.assigned_to,
                (SELECT count(*) FROM dispute_evidence e
                  WHERE e.dispute_id = d.id AND e.status <> 'missing') AS evidence_done,
                c.handle AS creator, d.submit_requested_by, d.submit_requested_at, d.auto_submitted,
                d.manual_reason
           FROM (SELECT * FROM disputes
                  WHERE state NOT IN ('WON', 'LOST', 'CLOSED')
                  ORDER BY state NOT IN ('OPEN', 'EVIDENCE_REQUIRED', 'EVIDENCE_BUILDING', 'EVIDENCE_READY'),
                           LEAST(sla_due_at, COALESCE(seller_response_due_at, sla_due_at)), id
                  LIMIT $1) d
           LEFT JOIN orders o ON o.id = d.order_id
           LEFT JOIN creators c ON c.id = o.creator_id
          ORDER BY d.state NOT IN ('OPEN', 'EVIDENCE_REQUIRED', 'EVIDENCE_BUILDING', 'EVIDENCE_READY'),
                   LEAST(d.sla_due_at, COALESCE(d.seller_response_due_at, d.sla_due_at)), d.id",
    )
    .bind(PANE_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DisputeRow {
            id: r.id,
            paypal_dispute_id: r.paypal_dispute_id,
            order_number: r.order_number,
            state: r.state,
            reason: r.reason,
            stage: r.life_cycle_stage,
            amount: money(r.amount_minor, &r.currency, currency),
            opened_at: r.opened_at,
            sla_due_at: r.sla_due_at,
            seller_response_due_at: r.seller_response_due_at,
            assigned_to: r.assigned_to,
            evidence_done: r.evidence_done,
            creator: r.creator,
            submitted_by: r.submit_requested_by,
            submitted_at: r.submit_requested_at,
            auto_submitted: r.auto_submitted,
            manual_reason: r.manual_reason,
        })
        .collect())
}

async fn payout_items(
    pool: &PgPool,
    batch_id: i64,
    currency: Currency,
) -> Result<Vec<PayoutItemRow>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        creator: String,
        tier: String,
        kind: String,
        currency: String,
        order_count: i32,
        order_total_minor: i64,
        costs_minor: i64,
        commission_bps: i32,
        amount_minor: i64,
        state: String,
        recipient_status: String,
        hold_reason: Option<String>,
        failure_reason: Option<String>,
        attempts: i32,
    }
    // payout_items_batch_idx: one batch, failures first, then the largest lines.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT pi.id, c.display_name AS creator, c.tier, pi.kind, pi.currency::text AS currency,
                pi.order_count, pi.order_total_minor, pi.costs_minor, pi.commission_bps,
                pi.amount_minor, pi.state, c.recipient_status, pi.hold_reason, pi.failure_reason,
                pi.attempts
           FROM payout_items pi JOIN creators c ON c.id = pi.creator_id
          WHERE pi.batch_id = $1
          ORDER BY CASE pi.state WHEN 'failed' THEN 0 WHEN 'held' THEN 1 ELSE 2 END,
                   pi.amount_minor DESC, pi.id
          LIMIT $2",
    )
    .bind(batch_id)
    .bind(PANE_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PayoutItemRow {
            id: r.id,
            creator: r.creator,
            tier: r.tier,
            kind: r.kind,
            order_count: r.order_count,
            order_total: money(r.order_total_minor, &r.currency, currency),
            costs: money(r.costs_minor, &r.currency, currency),
            commission_bps: r.commission_bps,
            amount: money(r.amount_minor, &r.currency, currency),
            state: r.state,
            recipient_status: r.recipient_status,
            hold_reason: r.hold_reason,
            failure_reason: r.failure_reason,
            attempts: r.attempts,
        })
        .collect())
}

async fn fraud(pool: &PgPool, currency: Currency) -> Result<(Vec<FraudRow>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        order_number: String,
        fraud_score: i16,
        fraud_state: String,
        total_minor: i64,
        currency: String,
        email: String,
        ip: Option<String>,
        created_at: DateTime<Utc>,
        fraud_hold_until: Option<DateTime<Utc>>,
        claimed_by: Option<String>,
        show: Option<String>,
        creator: Option<String>,
    }
    // orders_fraud_queue_idx: the partial index holds exactly the queue.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT o.id, o.order_number, o.fraud_score, o.fraud_state, o.total_minor, o.currency::text AS currency,
                o.email, host(o.ip) AS ip, o.created_at, o.fraud_hold_until,
                (SELECT c.operator FROM fraud_claims c
                  WHERE c.order_id = o.id AND c.expires_at > now()) AS claimed_by,
                s.title AS show, cr.handle AS creator
           FROM orders o
           LEFT JOIN shows s ON s.id = o.show_id
           LEFT JOIN creators cr ON cr.id = COALESCE(o.creator_id, s.creator_id)
          WHERE o.fraud_state IN ('pending', 'review') AND o.fraud_score IS NOT NULL
          ORDER BY o.fraud_score DESC, o.created_at
          LIMIT $1",
    )
    .bind(PANE_LIMIT)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE fraud_state IN ('pending', 'review')",
    )
    .fetch_one(pool)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    // The latest score of each listed order, with its indicators.
    let indicators: Vec<(i64, String, i16, String)> = sqlx::query_as(
        "SELECT fs.order_id, fi.indicator, fi.points, fi.evidence
           FROM (SELECT DISTINCT ON (order_id) id, order_id FROM fraud_scores
                  WHERE order_id = ANY($1) ORDER BY order_id, computed_at DESC, id DESC) fs
           JOIN fraud_indicators fi ON fi.score_id = fs.id
          ORDER BY fs.order_id, fi.points DESC, fi.indicator",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut by_order: HashMap<i64, Vec<IndicatorRow>> = HashMap::new();
    for (order_id, indicator, points, evidence) in indicators {
        by_order.entry(order_id).or_default().push(IndicatorRow {
            indicator,
            points,
            evidence,
        });
    }
    let rows = rows
        .into_iter()
        .map(|r| FraudRow {
            order_id: r.id,
            order_number: r.order_number,
            score: r.fraud_score,
            state: r.fraud_state,
            total: money(r.total_minor, &r.currency, currency),
            email: r.email,
            ip: r.ip,
            created_at: r.created_at,
            hold_until: r.fraud_hold_until,
            indicators: by_order.remove(&r.id).unwrap_or_default(),
            claimed_by: r.claimed_by,
            show: r.show,
            creator: r.creator,
        })
        .collect();
    Ok((rows, total))
}
