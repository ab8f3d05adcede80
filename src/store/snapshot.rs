//! The dashboard's data: one immutable [`Snapshot`] of everything on screen,
//! built by [`build_snapshot`] from bounded queries (top-N rows plus counts,
//! never whole tables). The header facts come from [`super::status`]; the
//! panes' queries live in `alerts` and `panes`, each walking its own index.
//!
//! A snapshot is plain data: the TUI renders it without any I/O, the screen
//! tests and the benchmark use a hand-built one (`fixture`, compiled only for
//! tests and with the `fixtures` feature), and the benchmark also builds one
//! at the 1M scale.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::domain::money::{Currency, Money};
use crate::domain::shows::{self, ShowStatus};
use crate::store::status::{MorningFacts, morning_facts, ops_day_bounds};

mod alerts;
mod panes;
pub mod shared;
use alerts::{alerts, incidents};
use panes::{blocklist, disputes, fraud, gmv_by_hour, hours_so_far, payout_items, shows};
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
