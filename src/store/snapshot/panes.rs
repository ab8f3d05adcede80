//! The other panes' rows of the snapshot and the header's hourly GMV:
//! shows with their sales, disputes, this week's payout lines, the fraud
//! queue and the blocklist, each a bounded query (top rows plus a count).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::money::{Currency, Money};
use crate::domain::shows;

use super::{
    BLOCK_MATCH_CAP, BlockRow, DisputeRow, FraudRow, HourlyGmv, IndicatorRow, PANE_LIMIT,
    PayoutItemRow, ShowRow, Snapshot, money,
};

/// Today's GMV by hour so far and the same weekday last week's (the header's
/// trend). Two ranges of orders_created_idx, each an index-only scan (an OR
/// of the two made a bitmap scan of the table: 385 ms at 1M orders, now 25),
/// binned by hour from each range's own start.
pub(super) async fn gmv_by_hour(
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
pub(super) fn hours_so_far(now: DateTime<Utc>, day_start: DateTime<Utc>) -> usize {
    usize::try_from(((now - day_start).num_hours() + 1).clamp(1, 25)).unwrap_or(24)
}

pub(super) async fn blocklist(pool: &PgPool) -> Result<(Vec<BlockRow>, i64), sqlx::Error> {
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

pub(super) async fn shows(
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

pub(super) async fn disputes(
    pool: &PgPool,
    currency: Currency,
) -> Result<Vec<DisputeRow>, sqlx::Error> {
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

pub(super) async fn payout_items(
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

pub(super) async fn fraud(
    pool: &PgPool,
    currency: Currency,
) -> Result<(Vec<FraudRow>, i64), sqlx::Error> {
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
