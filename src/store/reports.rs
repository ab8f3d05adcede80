//! The runbook's business and operational metrics over a period of ops
//! days (`lsn-ops report daily|weekly`, and the worker's weekly report):
//! GMV and net GMV, orders, AOV, conversion, refunds, dispute rate and win
//! rate, payout success rate, the fraud false-positive rate, webhook
//! failures, order fulfilment time, inventory turnover, and the shows run.
//!
//! Definitions match `status` where they overlap: an order counts on the
//! ops day it was created; GMV is the total of the orders that got paid
//! (not pending, failed or cancelled), so `report daily` and `status` agree
//! on the same day.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::money::{Currency, Money};

/// The period a report covers: whole ops days `first..=last` in the ops time
/// zone, and the UTC instants they span.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Period {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: String,
}

impl Period {
    /// Ops days `first..=last` in `tz` (a day skipped by a DST change still
    /// starts at its first valid local instant).
    pub fn days(tz: &chrono_tz::Tz, first: NaiveDate, last: NaiveDate) -> Period {
        let start = |d: NaiveDate| -> DateTime<Utc> {
            let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            tz.from_local_datetime(&midnight)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                        .earliest()
                })
                .map_or_else(
                    || Utc.from_utc_datetime(&midnight),
                    |t| t.with_timezone(&Utc),
                )
        };
        Period {
            first_day: first,
            last_day: last,
            from: start(first),
            to: start(last + chrono::Duration::days(1)),
            timezone: tz.name().to_string(),
        }
    }
}

/// One show run in the period with its GMV.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShowGmv {
    pub id: i64,
    pub title: String,
    pub creator: String,
    pub started_at: Option<DateTime<Utc>>,
    pub orders: i64,
    pub gmv: Money,
}

/// Counted refunds: completed within the period.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Refunds {
    pub count: i64,
    pub amount: Money,
}

/// The report. JSON keys are stable (money `{minor, currency}`, rates in
/// basis points, `null` where the denominator is zero).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub kind: &'static str,
    pub period: Period,
    pub generated_at: DateTime<Utc>,
    pub currency: Currency,
    /// Orders created in the period (every state), as `status` counts them.
    pub orders: i64,
    /// Of those, the ones that got paid.
    pub paid_orders: i64,
    pub payment_failed_orders: i64,
    pub gmv: Money,
    /// GMV less the refunds completed in the period.
    pub net_gmv: Money,
    pub aov: Option<Money>,
    /// Paid orders per storefront session.
    pub conversion_bps: Option<i64>,
    pub sessions: Option<i64>,
    pub refunds: Refunds,
    pub disputes_opened: i64,
    /// Disputes opened per paid order.
    pub dispute_rate_bps: Option<i64>,
    pub disputes_won: i64,
    pub disputes_lost: i64,
    /// Won over decided (won + lost) among disputes decided in the period.
    pub dispute_win_rate_bps: Option<i64>,
    pub payout_lines_sent: i64,
    pub payout_lines_failed: i64,
    /// Sent over sent + failed among payout lines settled in the period.
    pub payout_success_rate_bps: Option<i64>,
    pub fraud_approved: i64,
    pub fraud_declined: i64,
    /// Approved over approved + declined among the high-risk decisions made
    /// in the period (as `fraud report` defines it).
    pub fraud_false_positive_rate_bps: Option<i64>,
    /// Webhook events received in the period that failed or were parked dead.
    pub webhook_failures: i64,
    pub webhooks_received: i64,
    /// Orders shipped in the period: hours from payment to shipment.
    pub orders_shipped: i64,
    pub fulfilment_hours_avg: Option<i64>,
    pub fulfilment_hours_p90: Option<i64>,
    /// Units sold in the period.
    pub units_sold: i64,
    /// Units on hand now (the turnover's denominator).
    pub units_on_hand: i64,
    /// Units sold per unit on hand, in basis points (10000 = the stock turned once).
    pub inventory_turnover_bps: Option<i64>,
    pub shows_run: i64,
    pub shows: Vec<ShowGmv>,
}

/// `part / whole` in basis points (None when `whole` is 0).
pub fn bps(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| ((i128::from(part) * 10_000) / i128::from(whole)) as i64)
}

/// The metrics over `period` in `currency`.
pub async fn build(
    pool: &PgPool,
    kind: &'static str,
    period: Period,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<Report, sqlx::Error> {
    let (from, to) = (period.from, period.to);
    let code = currency.code();
    let (orders, paid, failed, gmv): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')),
                count(*) FILTER (WHERE status = 'payment_failed'),
                COALESCE(sum(total_minor) FILTER (WHERE status NOT IN ('pending_payment', 'payment_failed', 'cancelled')), 0)::bigint
           FROM orders WHERE created_at >= $1 AND created_at < $2 AND currency = $3",
    )
    .bind(from)
    .bind(to)
    .bind(code)
    .fetch_one(pool)
    .await?;
    let sessions: Option<i64> = sqlx::query_scalar(
        "SELECT sum(sessions)::bigint FROM daily_traffic WHERE day >= $1 AND day <= $2",
    )
    .bind(period.first_day)
    .bind(period.last_day)
    .fetch_one(pool)
    .await?;
    let (refund_count, refunded): (i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(amount_minor), 0)::bigint FROM refunds
          WHERE status = 'completed' AND completed_at >= $1 AND completed_at < $2 AND currency = $3",
    )
    .bind(from)
    .bind(to)
    .bind(code)
    .fetch_one(pool)
    .await?;
    let (opened, won, lost): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE opened_at >= $1 AND opened_at < $2),
                count(*) FILTER (WHERE outcome = 'WON' AND resolved_at >= $1 AND resolved_at < $2),
                count(*) FILTER (WHERE outcome = 'LOST' AND resolved_at >= $1 AND resolved_at < $2)
           FROM disputes WHERE (opened_at >= $1 AND opened_at < $2) OR (resolved_at >= $1 AND resolved_at < $2)",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let (sent, payout_failed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'failed')
           FROM payout_items WHERE state IN ('sent', 'failed') AND updated_at >= $1 AND updated_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let (approved, declined): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE decision = 'approve'), count(*) FILTER (WHERE decision = 'decline')
           FROM fraud_decisions WHERE undone_at IS NULL AND decided_at >= $1 AND decided_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let (webhooks, webhook_failures): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status IN ('failed', 'dead'))
           FROM provider_events WHERE received_at >= $1 AND received_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let (shipped, avg_hours, p90_hours): (i64, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT count(*),
                avg(EXTRACT(EPOCH FROM shipped_at - paid_at) / 3600)::float8,
                (percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM shipped_at - paid_at) / 3600))::float8
           FROM orders WHERE shipped_at >= $1 AND shipped_at < $2 AND paid_at IS NOT NULL",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let units_sold: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(i.quantity), 0)::bigint FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE o.created_at >= $1 AND o.created_at < $2 AND o.currency = $3
            AND o.status NOT IN ('pending_payment', 'payment_failed', 'cancelled')",
    )
    .bind(from)
    .bind(to)
    .bind(code)
    .fetch_one(pool)
    .await?;
    let units_on_hand: i64 =
        sqlx::query_scalar("SELECT COALESCE(sum(stock_on_hand), 0)::bigint FROM products")
            .fetch_one(pool)
            .await?;
    let shows = shows_run(pool, from, to, currency).await?;
    let gmv = Money::new(gmv, currency);
    Ok(Report {
        kind,
        generated_at: now,
        currency,
        orders,
        paid_orders: paid,
        payment_failed_orders: failed,
        gmv,
        net_gmv: Money::new(gmv.minor - refunded, currency),
        aov: gmv.divide(paid),
        conversion_bps: sessions.and_then(|s| bps(paid, s)),
        sessions,
        refunds: Refunds {
            count: refund_count,
            amount: Money::new(refunded, currency),
        },
        disputes_opened: opened,
        dispute_rate_bps: bps(opened, paid),
        disputes_won: won,
        disputes_lost: lost,
        dispute_win_rate_bps: bps(won, won + lost),
        payout_lines_sent: sent,
        payout_lines_failed: payout_failed,
        payout_success_rate_bps: bps(sent, sent + payout_failed),
        fraud_approved: approved,
        fraud_declined: declined,
        fraud_false_positive_rate_bps: bps(approved, approved + declined),
        webhook_failures,
        webhooks_received: webhooks,
        orders_shipped: shipped,
        fulfilment_hours_avg: avg_hours.map(|h| h.round() as i64),
        fulfilment_hours_p90: p90_hours.map(|h| h.round() as i64),
        units_sold,
        units_on_hand,
        inventory_turnover_bps: bps(units_sold, units_on_hand),
        shows_run: shows.len() as i64,
        shows,
        period,
    })
}

async fn shows_run(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    currency: Currency,
) -> Result<Vec<ShowGmv>, sqlx::Error> {
    type Row = (i64, String, String, Option<DateTime<Utc>>, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.title, c.handle, s.started_at,
                count(o.id) FILTER (WHERE o.status NOT IN ('pending_payment', 'payment_failed', 'cancelled')),
                COALESCE(sum(o.total_minor) FILTER (WHERE o.status NOT IN ('pending_payment', 'payment_failed', 'cancelled')), 0)::bigint
           FROM shows s JOIN creators c ON c.id = s.creator_id
           LEFT JOIN orders o ON o.show_id = s.id AND o.currency = $3
          WHERE s.started_at >= $1 AND s.started_at < $2 AND s.status IN ('live', 'ended')
          GROUP BY s.id, c.handle ORDER BY s.started_at, s.id",
    )
    .bind(from)
    .bind(to)
    .bind(currency.code())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, title, creator, started_at, orders, gmv)| ShowGmv {
            id,
            title,
            creator,
            started_at,
            orders,
            gmv: Money::new(gmv, currency),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_points_round_down_and_need_a_denominator() {
        assert_eq!(bps(1, 3), Some(3333));
        assert_eq!(bps(0, 5), Some(0));
        assert_eq!(bps(5, 0), None);
        assert_eq!(bps(i64::MAX, i64::MAX), Some(10_000));
    }

    #[test]
    fn a_period_is_whole_ops_days_in_the_time_zone() {
        let tz = chrono_tz::America::Los_Angeles;
        let d = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let p = Period::days(&tz, d, d);
        assert_eq!(p.from.to_rfc3339(), "2026-11-30T08:00:00+00:00");
        assert_eq!(p.to.to_rfc3339(), "2026-12-01T08:00:00+00:00");
        // The spring-forward day has 23 hours.
        let dst = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let p = Period::days(&tz, dst, dst);
        assert_eq!((p.to - p.from).num_hours(), 23);
    }
}
