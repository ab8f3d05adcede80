//! One show's performance (`lsn-ops report show ID`): gross and net GMV,
//! orders, AOV, conversion against peak and unique viewers, peak and average
//! viewers with the viewers over time, top products, payment failures, fraud
//! holds and declines, and the refunds and disputes so far.
//!
//! Orders count when they are attributed to the show and got paid (the same
//! rule as GMV everywhere); unique viewers are the distinct participant
//! identities in the show's Twilio callbacks kept in the inbox (None when
//! there are none, e.g. for seeded shows).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::reports::bps;
use crate::domain::money::{Currency, Money};

const PAID: &str = "o.status NOT IN ('pending_payment', 'payment_failed', 'cancelled')";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TopProduct {
    pub sku: String,
    pub name: String,
    pub units: i64,
    pub revenue: Money,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShowReport {
    pub id: i64,
    pub title: String,
    pub creator: String,
    pub status: String,
    pub scheduled_start: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub currency: Currency,
    pub gmv: Money,
    /// GMV less completed refunds of the show's orders.
    pub net_gmv: Money,
    pub orders: i64,
    pub aov: Option<Money>,
    pub peak_viewers: i64,
    pub unique_viewers: Option<i64>,
    /// Time-weighted over the show's viewer samples (None without samples).
    pub average_viewers: Option<i64>,
    /// Orders per peak viewer, in basis points.
    pub conversion_peak_bps: Option<i64>,
    /// Orders per unique viewer, in basis points.
    pub conversion_unique_bps: Option<i64>,
    /// Viewer counts at even steps from start to end (for a sparkline).
    pub viewers_over_time: Vec<i64>,
    pub top_products: Vec<TopProduct>,
    pub payment_failures: i64,
    pub fraud_holds: i64,
    pub fraud_declines: i64,
    pub refunds: i64,
    pub refunded: Money,
    pub disputes: i64,
    pub disputed: Money,
}

/// Points in `viewers_over_time`.
pub const STEPS: usize = 30;

pub async fn build(
    pool: &PgPool,
    show_id: i64,
    currency: Currency,
) -> Result<Option<ShowReport>, sqlx::Error> {
    type Head = (
        i64,
        String,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        i32,
        Option<String>,
    );
    let head: Option<Head> = sqlx::query_as(
        "SELECT s.id, s.title, c.handle, s.status, s.scheduled_start, s.started_at, s.ended_at,
                s.peak_viewers, s.twilio_room_sid
           FROM shows s JOIN creators c ON c.id = s.creator_id WHERE s.id = $1",
    )
    .bind(show_id)
    .fetch_optional(pool)
    .await?;
    let Some((id, title, creator, status, scheduled_start, started_at, ended_at, peak, room)) =
        head
    else {
        return Ok(None);
    };
    let code = currency.code();
    let (orders, gmv, failed, holds, declines): (i64, i64, i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FILTER (WHERE {PAID}),
                COALESCE(sum(o.total_minor) FILTER (WHERE {PAID}), 0)::bigint,
                count(*) FILTER (WHERE o.status = 'payment_failed'),
                count(*) FILTER (WHERE o.fraud_state IN ('pending', 'review')),
                count(*) FILTER (WHERE o.fraud_state = 'declined')
           FROM orders o WHERE o.show_id = $1 AND o.currency = $2"
        )))
        .bind(id)
        .bind(code)
        .fetch_one(pool)
        .await?;
    let (refunds, refunded): (i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(r.amount_minor), 0)::bigint
           FROM refunds r JOIN orders o ON o.id = r.order_id
          WHERE o.show_id = $1 AND r.status = 'completed' AND r.currency = $2",
    )
    .bind(id)
    .bind(code)
    .fetch_one(pool)
    .await?;
    let (disputes, disputed): (i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(d.amount_minor), 0)::bigint
           FROM disputes d JOIN orders o ON o.id = d.order_id WHERE o.show_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let top: Vec<(String, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.sku, p.name, sum(i.quantity)::bigint, sum(i.quantity * i.unit_price_minor)::bigint
           FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
          WHERE o.show_id = $1 AND {PAID}
          GROUP BY p.sku, p.name ORDER BY 4 DESC, 1 LIMIT 5"
    )))
    .bind(id)
    .fetch_all(pool)
    .await?;
    let unique: Option<i64> = match &room {
        Some(sid) => {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(DISTINCT payload->>'ParticipantIdentity') FROM provider_events
                  WHERE provider = 'twilio' AND payload->>'RoomSid' = $1
                    AND payload->>'StatusCallbackEvent' = 'participant-connected'",
            )
            .bind(sid)
            .fetch_one(pool)
            .await?;
            // The creator is a participant too.
            (n > 0).then(|| (n - 1).max(0))
        }
        None => None,
    };
    let samples: Vec<(DateTime<Utc>, i32)> = sqlx::query_as(
        "SELECT at, viewers FROM show_viewer_samples WHERE show_id = $1 ORDER BY at LIMIT 100000",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let end = ended_at.unwrap_or_else(Utc::now);
    let (average, over_time) = match started_at {
        Some(start) if end > start => viewer_curve(&samples, start, end),
        _ => (None, Vec::new()),
    };
    let gmv = Money::new(gmv, currency);
    Ok(Some(ShowReport {
        id,
        title,
        creator,
        status,
        scheduled_start,
        started_at,
        ended_at,
        currency,
        gmv,
        net_gmv: Money::new(gmv.minor - refunded, currency),
        orders,
        aov: gmv.divide(orders),
        peak_viewers: i64::from(peak),
        unique_viewers: unique,
        average_viewers: average,
        conversion_peak_bps: bps(orders, i64::from(peak)),
        conversion_unique_bps: unique.and_then(|u| bps(orders, u)),
        viewers_over_time: over_time,
        top_products: top
            .into_iter()
            .map(|(sku, name, units, revenue)| TopProduct {
                sku,
                name,
                units,
                revenue: Money::new(revenue, currency),
            })
            .collect(),
        payment_failures: failed,
        fraud_holds: holds,
        fraud_declines: declines,
        refunds,
        refunded: Money::new(refunded, currency),
        disputes,
        disputed: Money::new(disputed, currency),
    }))
}

/// The time-weighted average of a step function (each sample holds until
/// the next; zero before the first) over `start..end`, and its value at
/// `STEPS` even points.
pub fn viewer_curve(
    samples: &[(DateTime<Utc>, i32)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (Option<i64>, Vec<i64>) {
    if samples.is_empty() {
        return (None, Vec::new());
    }
    let at = |t: DateTime<Utc>| -> i64 {
        samples
            .iter()
            .take_while(|(s, _)| *s <= t)
            .last()
            .map_or(0, |(_, v)| i64::from(*v))
    };
    let total_ms = (end - start).num_milliseconds().max(1);
    let mut area: i128 = 0;
    let mut t = start;
    let mut value = at(start);
    for (s, v) in samples.iter().filter(|(s, _)| *s > start && *s < end) {
        area += i128::from((*s - t).num_milliseconds()) * i128::from(value);
        t = *s;
        value = i64::from(*v);
    }
    area += i128::from((end - t).num_milliseconds()) * i128::from(value);
    let average = (area / i128::from(total_ms)) as i64;
    let steps = (0..STEPS)
        .map(|i| {
            let offset = total_ms * i as i64 / (STEPS as i64 - 1);
            at(start + chrono::Duration::milliseconds(offset))
        })
        .collect();
    (Some(average), steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_weighs_each_count_by_how_long_it_held() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let m = |n: i64| t0 + chrono::Duration::minutes(n);
        // 0 for 10 min, 100 for 20 min, 40 for 30 min: (0 + 2000 + 1200) / 60.
        let samples = [(m(10), 100), (m(30), 40)];
        let (avg, curve) = viewer_curve(&samples, t0, m(60));
        assert_eq!(avg, Some(53));
        assert_eq!(curve.len(), STEPS);
        assert_eq!(curve[0], 0);
        assert_eq!(*curve.last().unwrap(), 40);
        assert!(curve.contains(&100));
        assert_eq!(viewer_curve(&[], t0, m(60)), (None, Vec::new()));
    }
}
