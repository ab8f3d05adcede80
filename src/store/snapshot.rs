//! The dashboard's data: one immutable [`Snapshot`] of everything on screen,
//! built by [`build_snapshot`] from bounded queries (top-N rows plus counts,
//! never whole tables). The header facts come from [`super::status`]; each
//! pane query here walks its own index (see `migrations/0001_schema.sql`).
//!
//! A snapshot is plain data: the TUI renders it without any I/O, tests build
//! one by hand ([`fixture`]), and the benchmark builds one at the 1M scale.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;

use crate::domain::money::{Currency, Money};
use crate::domain::shows::{self, ShowStatus};
use crate::store::status::{
    AlertCounts, DisputeCounts, FraudCounts, IncidentCounts, MorningFacts, OrderFacts,
    PayoutBatchFacts, ShowsToday, WebhookCounts, morning_facts, ops_day_bounds,
};

/// Rows kept per pane: enough to scroll through, small enough to stay cheap.
pub const PANE_LIMIT: i64 = 100;

/// Everything the dashboard shows, at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub taken_at: DateTime<Utc>,
    /// When finished shows' sales were last read (see [`build_snapshot_after`]).
    pub sales_read_at: DateTime<Utc>,
    /// Header figures and counts (the same facts as `lsn-ops status`).
    pub facts: MorningFacts,
    pub alerts: Vec<AlertRow>,
    pub incidents: Vec<IncidentRow>,
    pub shows: Vec<ShowRow>,
    pub disputes: Vec<DisputeRow>,
    pub payout_items: Vec<PayoutItemRow>,
    pub fraud: Vec<FraudRow>,
    /// Orders in the fraud queue (pending or review), of which `fraud` holds the top rows.
    pub fraud_queue_total: i64,
    /// Active blocklist entries, newest first (the top of `blocklist_total`).
    pub blocklist: Vec<BlockRow>,
    pub blocklist_total: i64,
}

/// One active blocklist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: i64,
    pub priority: String,
    pub title: String,
    pub state: String,
    pub commander: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl DisputeRow {
    /// Whichever comes first: the internal SLA or PayPal's due date.
    pub fn deadline(&self) -> DateTime<Utc> {
        crate::domain::disputes::effective_deadline(self.sla_due_at, self.seller_response_due_at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
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
    build_snapshot_after(pool, now, tz, high_risk_threshold, currency, None).await
}

/// Finished shows' sales are re-read at most this often (a refund after the
/// show still shows up, a little later).
pub const FINISHED_SALES_REFRESH: Duration = Duration::minutes(10);

/// [`build_snapshot`] that reuses what cannot have changed since `previous`:
/// the sales of shows that had already finished (re-read every
/// [`FINISHED_SALES_REFRESH`]). The poller's steady state.
pub async fn build_snapshot_after(
    pool: &PgPool,
    now: DateTime<Utc>,
    tz: &chrono_tz::Tz,
    high_risk_threshold: u8,
    currency: Currency,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, sqlx::Error> {
    let previous = previous.filter(|p| now - p.sales_read_at < FINISHED_SALES_REFRESH);
    let (day_start, day_end) = ops_day_bounds(now, tz);
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
    let shows_lane = shows(pool, day_start, day_end, currency, previous);
    let panes_lane = async {
        let alerts = alerts(pool).await?;
        let incidents = incidents(pool).await?;
        let disputes = disputes(pool, currency).await?;
        let fraud = fraud(pool, currency).await?;
        let blocklist = blocklist(pool).await?;
        Ok::<_, sqlx::Error>((alerts, incidents, disputes, fraud, blocklist))
    };
    let (
        (facts, payout_items),
        shows,
        (alerts, incidents, disputes, (fraud, fraud_queue_total), (blocklist, blocklist_total)),
    ) = tokio::try_join!(facts_lane, shows_lane, panes_lane)?;
    Ok(Snapshot {
        taken_at: now,
        sales_read_at: previous.map_or(now, |p| p.sales_read_at),
        facts,
        alerts,
        incidents,
        shows,
        disputes,
        payout_items,
        fraud,
        fraud_queue_total,
        blocklist,
        blocklist_total,
    })
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

async fn alerts(pool: &PgPool) -> Result<Vec<AlertRow>, sqlx::Error> {
    type Row = (
        i64,
        String,
        Option<String>,
        String,
        String,
        String,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        i32,
        Option<String>,
    );
    // alerts_active_idx: the unresolved alerts are few; most severe, then newest first.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, severity, priority, rule_key, title, details, state, opened_at, last_seen_at,
                occurrences, acked_by
           FROM alerts WHERE state <> 'resolved'
          ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                   COALESCE(priority, 'P9'), opened_at DESC, id DESC
          LIMIT $1",
    )
    .bind(PANE_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AlertRow {
            id: r.0,
            severity: r.1,
            priority: r.2,
            rule_key: r.3,
            title: r.4,
            // Written before limits existed, or by hand: clipped for the screen.
            details: crate::text::clip(&r.5).into_owned(),
            state: r.6,
            opened_at: r.7,
            last_seen_at: r.8,
            occurrences: r.9,
            acked_by: r.10,
        })
        .collect())
}

async fn incidents(pool: &PgPool) -> Result<Vec<IncidentRow>, sqlx::Error> {
    type Row = (
        i64,
        String,
        String,
        String,
        Option<String>,
        DateTime<Utc>,
        DateTime<Utc>,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, priority, title, state, commander, opened_at, due_at, summary
           FROM incidents WHERE state <> 'resolved'
          ORDER BY due_at, id
          LIMIT $1",
    )
    .bind(PANE_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| IncidentRow {
            id: r.0,
            priority: r.1,
            title: r.2,
            state: r.3,
            commander: r.4,
            opened_at: r.5,
            due_at: r.6,
            summary: r.7,
        })
        .collect())
}

async fn shows(
    pool: &PgPool,
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
    Ok(rows
        .into_iter()
        .map(|r| {
            let (orders, minor) = sales.get(&r.id).copied().unwrap_or((0, 0));
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
    }
    // disputes_sla_queue_idx: active disputes (a few hundred at most), those still
    // owing evidence first, by whichever deadline comes first.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.paypal_dispute_id, o.order_number, d.state, d.reason, d.life_cycle_stage,
                d.amount_minor, d.currency::text AS currency, d.opened_at, d.sla_due_at,
                d.seller_response_due_at, d.assigned_to,
                (SELECT count(*) FROM dispute_evidence e
                  WHERE e.dispute_id = d.id AND e.status <> 'missing') AS evidence_done
           FROM disputes d LEFT JOIN orders o ON o.id = d.order_id
          WHERE d.state NOT IN ('WON', 'LOST', 'CLOSED')
          ORDER BY d.state NOT IN ('OPEN', 'EVIDENCE_REQUIRED', 'EVIDENCE_BUILDING', 'EVIDENCE_READY'),
                   LEAST(d.sla_due_at, COALESCE(d.seller_response_due_at, d.sla_due_at)), d.id
          LIMIT $1",
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

/// A fixed, hand-built snapshot at `now` (ops day in `tz`): the data of the
/// screen tests and the benchmark without a database. Deterministic for a given `now`.
#[allow(clippy::type_complexity)]
pub fn fixture(now: DateTime<Utc>, tz: &chrono_tz::Tz) -> Snapshot {
    let usd = Currency::USD;
    let m = |minor: i64| Money::new(minor, usd);
    let mins = Duration::minutes;
    let hours = Duration::hours;
    let (day_start, _) = ops_day_bounds(now, tz);
    let local_day = now.with_timezone(tz).date_naive();

    let alerts = vec![
        alert(
            1,
            "critical",
            Some("P0"),
            "show_cannot_start",
            "Live show cannot start: \"Sneaker Drop Friday\" has no video room",
            now - mins(7),
            "open",
            1,
            None,
        ),
        alert(
            2,
            "critical",
            Some("P1"),
            "payment_failure_rate",
            "Payment failure rate 6.20% over 15 min (> 5%)",
            now - mins(23),
            "acknowledged",
            4,
            Some("maria"),
        ),
        alert(
            3,
            "warning",
            Some("P1"),
            "dispute_sla_at_risk",
            "3 disputes within 4h of their evidence deadline",
            now - mins(41),
            "open",
            2,
            None,
        ),
        alert(
            4,
            "warning",
            Some("P2"),
            "api_p95",
            "API p95 612 ms (> 500 ms)",
            now - hours(2),
            "open",
            9,
            None,
        ),
        alert(
            5,
            "warning",
            Some("P2"),
            "low_stock",
            "Low stock for today's shows: 4 products at or under reorder point",
            now - hours(3),
            "acknowledged",
            1,
            Some("devon"),
        ),
        alert(
            6,
            "info",
            Some("P3"),
            "fraud_backlog",
            "High-risk queue backlog: 12 orders waiting over 2h",
            now - hours(5),
            "open",
            1,
            None,
        ),
    ];
    let incidents = vec![
        IncidentRow {
            id: 41,
            priority: "P0".into(),
            title: "Sneaker Drop Friday cannot start (no Twilio room)".into(),
            state: "investigating".into(),
            commander: Some("maria".into()),
            opened_at: now - mins(6),
            due_at: now + mins(54),
            summary: String::new(),
        },
        IncidentRow {
            id: 40,
            priority: "P1".into(),
            title: "PayPal capture failures above 5%".into(),
            state: "open".into(),
            commander: None,
            opened_at: now - hours(3) - mins(50),
            due_at: now + mins(10),
            summary: String::new(),
        },
        IncidentRow {
            id: 37,
            priority: "P2".into(),
            title: "Slow seller dashboard".into(),
            state: "mitigated".into(),
            commander: Some("devon".into()),
            opened_at: now - hours(20),
            due_at: now + hours(4),
            summary: "Index added, watching".into(),
        },
    ];
    let creators = [
        "Ava Chen",
        "Marcus Bell",
        "Priya Raman",
        "Leo Ortiz",
        "Sam Okafor",
        "Nina Petrova",
        "Jules Martin",
        "Kenji Mori",
    ];
    let show_specs: [(&str, i64, &str, bool, i32, i64, i64); 7] = [
        (
            "Morning Makeup Must-Haves",
            -300,
            "ended",
            true,
            0,
            212,
            1_934_550,
        ),
        ("Vintage Denim Hour", -150, "ended", true, 0, 98, 742_300),
        (
            "Kitchen Gadget Blitz",
            -35,
            "live",
            true,
            1_284,
            57,
            402_150,
        ),
        ("Sneaker Drop Friday", -7, "scheduled", false, 0, 0, 0),
        ("Skincare Q&A", 20, "preshow", true, 0, 0, 0),
        ("Gaming Gear Deals", 95, "scheduled", false, 0, 0, 0),
        ("Late Night Jewelry", 260, "scheduled", false, 0, 0, 0),
    ];
    let shows: Vec<ShowRow> = show_specs
        .iter()
        .enumerate()
        .map(
            |(i, &(title, start_min, status, room, viewers, orders, sales))| {
                let start = now + mins(start_min);
                let start = if start < day_start {
                    day_start + mins(i as i64)
                } else {
                    start
                };
                ShowRow {
                    id: 100 + i as i64,
                    title: title.into(),
                    creator: creators[i % creators.len()].into(),
                    scheduled_start: start,
                    scheduled_end: start + hours(1),
                    status: status.into(),
                    started_at: matches!(status, "live" | "ended").then(|| start + mins(1)),
                    has_room: room,
                    current_viewers: viewers,
                    peak_viewers: viewers.max(if status == "ended" {
                        2_310 - 300 * i as i32
                    } else {
                        0
                    }),
                    orders,
                    sales: m(sales),
                    pinned_products: 6 + i as i64,
                    low_stock_products: if i == 2 || i == 4 { 2 } else { 0 },
                    recording_status: if status == "live" {
                        "recording"
                    } else if status == "ended" {
                        "saved"
                    } else {
                        "none"
                    }
                    .into(),
                }
            },
        )
        .collect();
    let dispute_specs: [(&str, i64, Option<i64>, &str, i64, &str, i64); 9] = [
        (
            "EVIDENCE_REQUIRED",
            -23 * 60 - 30,
            Some(3 * 24 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            18_999,
            "maria",
            2,
        ),
        (
            "OPEN",
            -22 * 60,
            Some(6 * 24 * 60),
            "UNAUTHORISED",
            24_900,
            "",
            0,
        ),
        (
            "EVIDENCE_BUILDING",
            -20 * 60,
            Some(26 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
            7_450,
            "devon",
            4,
        ),
        (
            "EVIDENCE_REQUIRED",
            -14 * 60,
            Some(9 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            132_000,
            "",
            1,
        ),
        (
            "EVIDENCE_READY",
            -6 * 60,
            Some(10 * 24 * 60),
            "DUPLICATE_TRANSACTION",
            5_600,
            "maria",
            7,
        ),
        ("OPEN", -90, None, "INCORRECT_AMOUNT", 3_125, "", 0),
        (
            "SUBMITTED",
            -30 * 60,
            Some(5 * 24 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            45_000,
            "devon",
            7,
        ),
        (
            "EVIDENCE_REQUIRED",
            -25 * 60,
            Some(2 * 24 * 60),
            "CREDIT_NOT_PROCESSED",
            8_800,
            "",
            3,
        ),
        (
            "OPEN",
            -10,
            Some(9 * 24 * 60),
            "UNAUTHORISED",
            1_234_567,
            "",
            0,
        ),
    ];
    let mut disputes: Vec<DisputeRow> = dispute_specs
        .iter()
        .enumerate()
        .map(
            |(i, &(state, opened_min, hard_min, reason, amount, who, evidence))| {
                let opened = now + mins(opened_min);
                DisputeRow {
                    id: 500 + i as i64,
                    paypal_dispute_id: format!("PP-D-{:05}", 48_210 + i * 7),
                    order_number: Some(format!("LSN-{:07}", 1_004_200 + i * 13)),
                    state: state.into(),
                    reason: reason.into(),
                    stage: Some(if i % 3 == 0 { "CHARGEBACK" } else { "INQUIRY" }.into()),
                    amount: m(amount),
                    opened_at: opened,
                    sla_due_at: opened + hours(24),
                    seller_response_due_at: hard_min.map(|h| opened + mins(h)),
                    assigned_to: (!who.is_empty()).then(|| who.to_string()),
                    evidence_done: evidence,
                }
            },
        )
        .collect();
    disputes.sort_by_key(|d| (d.state == "SUBMITTED", d.deadline(), d.id));

    let payout_specs: [(&str, &str, i32, i64, i64, i32, &str, &str); 8] = [
        (
            "Ava Chen", "platinum", 412, 2_843_000, 1_620_000, 3000, "failed", "verified",
        ),
        (
            "Marcus Bell",
            "gold",
            230,
            1_512_500,
            880_000,
            2500,
            "held",
            "unverified",
        ),
        (
            "Priya Raman",
            "gold",
            198,
            1_320_000,
            760_000,
            2500,
            "pending",
            "verified",
        ),
        (
            "Leo Ortiz",
            "silver",
            120,
            702_400,
            398_000,
            1500,
            "pending",
            "verified",
        ),
        (
            "Sam Okafor",
            "silver",
            96,
            551_000,
            315_000,
            1500,
            "pending",
            "verified",
        ),
        (
            "Nina Petrova",
            "bronze",
            40,
            189_900,
            120_000,
            1000,
            "pending",
            "verified",
        ),
        (
            "Jules Martin",
            "bronze",
            22,
            98_000,
            61_000,
            1000,
            "pending",
            "verified",
        ),
        ("Kenji Mori", "bronze", 0, 0, 0, 1000, "pending", "verified"),
    ];
    let payout_items: Vec<PayoutItemRow> = payout_specs
        .iter()
        .enumerate()
        .map(
            |(i, &(creator, tier, n, total, costs, bps, state, recipient))| {
                let adjustment = i == 7;
                let amount = if adjustment {
                    2_500
                } else {
                    (total - costs) * i64::from(bps) / 10_000
                };
                PayoutItemRow {
                    id: 900 + i as i64,
                    creator: creator.into(),
                    tier: tier.into(),
                    kind: if adjustment { "adjustment" } else { "earnings" }.into(),
                    order_count: n,
                    order_total: m(total),
                    costs: m(costs),
                    commission_bps: bps,
                    amount: m(amount),
                    state: state.into(),
                    recipient_status: recipient.into(),
                    hold_reason: (state == "held")
                        .then(|| "bank details changed 2 days ago".to_string()),
                    failure_reason: (state == "failed")
                        .then(|| "Wise: recipient account closed".to_string()),
                    attempts: if state == "failed" { 2 } else { 0 },
                }
            },
        )
        .collect();
    let payout_total = payout_items.iter().map(|p| p.amount.minor).sum::<i64>();
    let friday = {
        use chrono::Datelike;
        let ahead = (4 + 7 - i64::from(local_day.weekday().num_days_from_monday())) % 7;
        let date = local_day + Duration::days(ahead);
        tz.from_local_datetime(&date.and_hms_opt(14, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };

    let emails = [
        "buyer.fast@tempmail.io",
        "j.smith@example.com",
        "deals4u@mailinator.com",
        "anna.k@example.org",
        "x9x9@proton.me",
        "mike.r@example.com",
        "new.user@example.net",
        "carla@example.com",
        "zz@guerrilla.biz",
        "tom.b@example.com",
    ];
    // Each queue row's signals, one letter per indicator; its indicators,
    // evidence and score come from the real rules, so the fixture adds up.
    // v velocity, d shared device, r IP reputation, p proxy, g geo mismatch,
    // s shipping != billing, e disposable email, f failed payments, h
    // high-value first order, y payment history.
    let signals = [
        "vdpgse", "vdrpg", "vrphg", "yvrp", "vfrp", "vdpg", "vdps", "vdf", "vdp", "vds",
    ];
    let rules = crate::domain::fraud::Rules::default();
    let fraud: Vec<FraudRow> = signals
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let has = |c: char| code.contains(c);
            let total = m(12_000 + 31_337 * i as i64);
            let ip = format!("203.0.113.{}", 10 + i);
            let sig = crate::domain::fraud::Signals {
                ip: Some(ip.clone()),
                orders_from_ip: if has('v') { 3 + i as u32 } else { 1 },
                device: Some("fp_fixture_shared".into()),
                other_accounts_on_device: if has('d') { 3 } else { 0 },
                ip_abuse_score: has('r').then_some(85),
                proxy_range: has('p').then(|| "203.0.113.0/24 (fixture VPN)".into()),
                // Shipping elsewhere always differs from an IP country too, so
                // a row with `s` but no `g` has no known IP country.
                ip_country: if has('g') {
                    Some("NL".into())
                } else if has('s') {
                    None
                } else {
                    Some("US".into())
                },
                billing_country: Some("US".into()),
                shipping_country: Some(if has('s') { "NG" } else { "US" }.into()),
                payer_disputes: u32::from(has('y')),
                previous_orders: if has('h') { 0 } else { 2 },
                total_minor: total.minor,
                total_display: total.display(),
                email_domain: emails[i].rsplit_once('@').map(|(_, d)| d.to_string()),
                email_domain_disposable: has('e'),
                failed_payments: if has('f') { 3 } else { 0 },
                blocklisted: None,
            };
            let hits = crate::domain::fraud::hits(&sig, &rules);
            let score = i16::from(crate::domain::fraud::score(&hits));
            // Row 5 is on a running review hold; rows 6-9 came back when theirs ended.
            let state = if i >= 5 { "review" } else { "pending" };
            let hold_until = match i {
                5 => Some(now + hours(20)),
                6.. => Some(now - mins(10 * i as i64)),
                _ => None,
            };
            FraudRow {
                order_id: 70_000 + i as i64,
                order_number: format!("LSN-{:07}", 1_009_000 + i * 31),
                score,
                state: state.into(),
                total,
                email: emails[i].into(),
                ip: Some(ip),
                created_at: now - mins(5 + 17 * i as i64),
                hold_until,
                indicators: hits
                    .into_iter()
                    .map(|h| IndicatorRow {
                        indicator: h.indicator.as_str().into(),
                        points: i16::from(h.points),
                        evidence: h.evidence,
                    })
                    .collect(),
                claimed_by: (i == 2).then(|| "dana".to_string()),
                // The last order came from the storefront, not a show.
                show: (i < 9).then(|| show_specs[i % show_specs.len()].0.to_string()),
                creator: (i < 9).then(|| {
                    creators[i % creators.len()]
                        .to_lowercase()
                        .replace(' ', "_")
                }),
            }
        })
        .collect();
    debug_assert!(fraud.windows(2).all(|w| w[0].score > w[1].score));

    let gmv = m(48_213_077);
    let paid = 1_043;
    let facts = MorningFacts {
        generated_at: now,
        timezone: tz.name().to_string(),
        ops_day: local_day.to_string(),
        alerts: AlertCounts {
            critical: 2,
            warning: 3,
            info: 1,
            unacknowledged: 4,
        },
        incidents: IncidentCounts {
            open: 3,
            overdue: 0,
            p0: 1,
            p1: 1,
        },
        disputes: DisputeCounts {
            active: disputes.len() as i64,
            due_within_24h: 4,
            overdue: 0,
        },
        payout_batch: Some(PayoutBatchFacts {
            id: 12,
            state: "generated".into(),
            scheduled_for: friday,
            total: m(payout_total),
            items: payout_items.len() as i64,
            failed_items: 1,
            held_items: 1,
        }),
        fraud: FraudCounts {
            threshold: 70,
            high_risk_pending: 7,
            review_holds_expired: 0,
        },
        shows_today: ShowsToday {
            total: 7,
            live: 1,
            upcoming: 3,
            ended: 2,
            cannot_start: 1,
            shows: Vec::new(),
        },
        orders_today: OrderFacts {
            orders: 1_118,
            paid,
            payment_failed: 41,
            gmv,
            aov: gmv.divide(paid),
            conversion_bps: Some(327),
        },
        webhooks: WebhookCounts {
            pending: 3,
            failed: 1,
            dead: 0,
        },
        low_stock_for_today: 4,
    };
    Snapshot {
        taken_at: now,
        sales_read_at: now,
        facts,
        alerts,
        incidents,
        shows,
        disputes,
        payout_items,
        fraud,
        fraud_queue_total: 23,
        blocklist: fixture_blocklist(now),
        blocklist_total: 25,
    }
}

fn fixture_blocklist(now: DateTime<Utc>) -> Vec<BlockRow> {
    let specs: [(&str, &str, &str, &str, i64, i64, bool); 5] = [
        (
            "ip",
            "203.0.113.77",
            "Velocity from one IP / device across accounts",
            "maria",
            12,
            14,
            true,
        ),
        (
            "email",
            "deals4u@mailinator.com",
            "Disposable email and VPN on a high-value first order",
            "dana",
            95,
            3,
            true,
        ),
        (
            "device",
            "fp_shared_15",
            "Card testing ring, 40 accounts on one device",
            "devon",
            26 * 60,
            203,
            false,
        ),
        (
            "payer",
            "PAYER2115503571",
            "Chargeback fraud confirmed by PayPal",
            "maria",
            3 * 24 * 60,
            6,
            false,
        ),
        (
            "ip",
            "198.51.100.23",
            "Known proxy exit node",
            "dana",
            9 * 24 * 60,
            1_000,
            false,
        ),
    ];
    specs
        .iter()
        .enumerate()
        .map(
            |(i, &(kind, value, reason, by, ago_min, orders, decided))| BlockRow {
                id: 300 - i as i64,
                kind: kind.into(),
                value: value.into(),
                reason: reason.into(),
                added_by: by.into(),
                added_at: now - Duration::minutes(ago_min),
                orders,
                decision_id: decided.then_some(8_000 + i as i64),
            },
        )
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn alert(
    id: i64,
    severity: &str,
    priority: Option<&str>,
    rule: &str,
    title: &str,
    opened_at: DateTime<Utc>,
    state: &str,
    occurrences: i32,
    acked_by: Option<&str>,
) -> AlertRow {
    AlertRow {
        id,
        severity: severity.into(),
        priority: priority.map(str::to_string),
        rule_key: rule.into(),
        title: title.into(),
        details: String::new(),
        state: state.into(),
        opened_at,
        last_seen_at: opened_at,
        occurrences,
        acked_by: acked_by.map(str::to_string),
    }
}
