//! The rules over the data, as conditions for the evaluator
//! ([`super::alert_rules`]): the built-in payment failure rate and webhook
//! inbox checks, and the domain alerts (a live show that cannot start, a
//! dispute SLA at risk, failed payout lines, low stock for today's shows,
//! oversell, a stale fraud queue). Each query is bounded; a condition that
//! the data no longer shows is gone from the next evaluation, so its alert
//! resolves by itself.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::config::AlertsConfig;
use crate::domain::alerts::Thresholds;
use crate::domain::alerts::{Condition, Severity};
use crate::domain::disputes::DisputeState;
use crate::domain::incidents::Priority;
use crate::domain::money::format_bps;

/// Rows a domain rule looks at, at most (the screen shows a handful anyway).
const MAX_ROWS: i64 = 50;

/// Rule keys [`builtin`] evaluates.
pub const BUILTIN_RULES: &[&str] = &[
    "payment_failure_rate",
    "webhook_failures",
    "webhook_backlog",
];
/// Rule keys [`domain`] evaluates.
pub const DOMAIN_RULES: &[&str] = &[
    "show_cannot_start",
    "dispute_sla",
    "payout_failures",
    "low_stock",
    "oversell",
    "fraud_backlog",
];

#[allow(clippy::too_many_arguments)]
fn condition(
    rule: &str,
    dedup_key: String,
    source: &str,
    severity: Severity,
    priority: Priority,
    title: String,
    details: String,
    (for_s, recover_s): (i64, i64),
) -> Condition {
    Condition {
        rule_key: rule.into(),
        dedup_key,
        source: source.into(),
        severity,
        priority,
        title,
        details,
        for_s,
        recover_s,
        opens_incident: false,
    }
}

/// The payment failure rate over the last `payment_window_min` and the
/// webhook inbox (failed or dead events in the window, events waiting more
/// than a minute), damped like the probes (`for_s`, `recover_s`).
pub async fn builtin(
    pool: &PgPool,
    a: &AlertsConfig,
    now: DateTime<Utc>,
) -> Result<Vec<Condition>, sqlx::Error> {
    let t = &a.thresholds;
    let timing = (a.for_s as i64, a.recover_s as i64);
    let mut out = Vec::new();
    let since = now - Duration::minutes(a.payment_window_min.min(100_000) as i64);
    let (total, failed): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status IN ('DECLINED', 'DENIED', 'FAILED'))
           FROM payments WHERE created_at > $1 AND created_at <= $2",
    )
    .bind(since)
    .bind(now)
    .fetch_one(pool)
    .await?;
    if total >= i64::from(a.payment_min_count) && total > 0 {
        let rate = (failed * 10_000 / total) as u32;
        if rate > Thresholds::bps(t.payment_failure_rate_max_pct) {
            out.push(condition(
                "payment_failure_rate",
                "payments:failure_rate".into(),
                "payments",
                Severity::Critical,
                Priority::P0,
                format!(
                    "Payment failure rate {} (> {})",
                    format_bps(rate.into()),
                    format_bps(Thresholds::bps(t.payment_failure_rate_max_pct).into())
                ),
                format!(
                    "{failed} of {total} payments in the last {} min were declined, denied or failed",
                    a.payment_window_min
                ),
                timing,
            ));
        }
    }
    let window_start = now - Duration::seconds(a.window_s.min(10_000_000) as i64);
    let (failures, backlog): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM provider_events
                  WHERE received_at > $1 AND status IN ('failed', 'dead')),
                (SELECT count(*) FROM provider_events
                  WHERE status IN ('pending', 'failed') AND received_at < $2 - interval '1 minute')",
    )
    .bind(window_start)
    .bind(now)
    .fetch_one(pool)
    .await?;
    if failures > i64::from(t.webhook_failures_max) {
        out.push(condition(
            "webhook_failures",
            "inbox:failures".into(),
            "inbox",
            Severity::Warning,
            Priority::P1,
            format!("{failures} webhook events failed to apply"),
            format!(
                "in the last {} s; see `lsn-ops worker` logs, replay with `lsn-ops worker replay ID`",
                a.window_s
            ),
            timing,
        ));
    }
    if backlog > i64::from(t.webhook_backlog_max) {
        out.push(condition(
            "webhook_backlog",
            "inbox:backlog".into(),
            "inbox",
            Severity::Warning,
            Priority::P1,
            format!("{backlog} webhook events waiting over a minute"),
            "the applier is behind or stuck; check the worker".into(),
            timing,
        ));
    }
    Ok(out)
}

/// The domain alerts at `now` (ops day from `tz`): raised at once and
/// resolved at once when the data no longer shows them.
pub async fn domain(
    pool: &PgPool,
    a: &AlertsConfig,
    tz: &chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<Vec<Condition>, sqlx::Error> {
    let at_once = (0, 0);
    let mut out = Vec::new();

    // A live show past its start (plus the grace) that has not started: P0.
    let grace = Duration::minutes(a.show_start_grace_min.min(100_000) as i64);
    /// id, title, scheduled start, room, creator connected at.
    type LateShow = (
        i64,
        String,
        DateTime<Utc>,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let shows: Vec<LateShow> = sqlx::query_as(
        "SELECT id, title, scheduled_start, twilio_room_sid, creator_connected_at FROM shows
              WHERE status IN ('scheduled', 'preshow') AND started_at IS NULL
                AND scheduled_start < $1 AND scheduled_end > $2
              ORDER BY scheduled_start LIMIT $3",
    )
    .bind(now - grace)
    .bind(now)
    .bind(MAX_ROWS)
    .fetch_all(pool)
    .await?;
    for (id, title, start, room, connected) in shows {
        let late = crate::domain::incidents::format_duration(now - start);
        let why = match (room, connected) {
            (None, None) => "no Twilio room and the creator is not connected",
            (None, Some(_)) => "no Twilio room",
            (Some(_), None) => "the creator is not connected",
            (Some(_), Some(_)) => "the room exists but the show has not gone live",
        };
        let mut c = condition(
            "show_cannot_start",
            format!("show:{id}:cannot_start"),
            "shows",
            Severity::Critical,
            Priority::P0,
            format!(
                "Live show #{id} cannot start: {}",
                crate::text::clip_to(&title, 60)
            ),
            format!("scheduled {late} ago; {why}"),
            at_once,
        );
        c.opens_incident = true;
        out.push(c);
    }

    // Disputes whose internal SLA ends within the risk window with evidence
    // missing: one alert for all of them (the Disputes pane lists them).
    let awaiting: Vec<&str> = DisputeState::ALL
        .iter()
        .filter(|s| s.awaiting_evidence())
        .map(|s| s.as_str())
        .collect();
    let disputes: Vec<(String, DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT d.paypal_dispute_id, d.sla_due_at,
                (SELECT count(*) FROM dispute_evidence e WHERE e.dispute_id = d.id AND e.status = 'missing')
           FROM disputes d
          WHERE d.state = ANY($1) AND d.sla_due_at < $2
            AND EXISTS (SELECT 1 FROM dispute_evidence e WHERE e.dispute_id = d.id AND e.status = 'missing')
          ORDER BY d.sla_due_at LIMIT $3",
    )
    .bind(&awaiting)
    .bind(now + Duration::hours(a.dispute_sla_risk_h.min(10_000) as i64))
    .bind(MAX_ROWS)
    .fetch_all(pool)
    .await?;
    if let Some((first, due, missing)) = disputes.first() {
        let n = disputes.len();
        let more = if n >= MAX_ROWS as usize { "+" } else { "" };
        let ids: Vec<&str> = disputes.iter().take(10).map(|d| d.0.as_str()).collect();
        out.push(condition(
            "dispute_sla",
            "disputes:sla_at_risk".into(),
            "disputes",
            Severity::Warning,
            Priority::P1,
            format!(
                "{n}{more} dispute(s): evidence SLA within {} h, evidence missing",
                a.dispute_sla_risk_h
            ),
            format!(
                "soonest {first} ({}, {missing} of 7 items missing); {}",
                crate::domain::incidents::format_time_left(*due, now),
                ids.join(", ")
            ),
            at_once,
        ));
    }

    // Failed payout lines, per batch (the applier raises the same key on a failure).
    let payouts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT batch_id, count(*) FROM payout_items WHERE state = 'failed'
          GROUP BY batch_id ORDER BY batch_id DESC LIMIT $1",
    )
    .bind(MAX_ROWS)
    .fetch_all(pool)
    .await?;
    for (batch, lines) in payouts {
        out.push(condition(
            "payout_failures",
            format!("payout:failed:batch:{batch}"),
            "payouts",
            Severity::Warning,
            Priority::P1,
            format!("Creator payout failed in batch #{batch}"),
            format!(
                "{lines} failed line(s); check bank details, then `lsn-ops payouts retry {batch}`"
            ),
            at_once,
        ));
    }

    // Stock: pinned in a show of today's ops day at or under the reorder point; oversold anywhere.
    let (day_start, day_end) = crate::store::status::ops_day_bounds(now, tz);
    let stock: Vec<(i64, String, i32, i32, i32, bool)> = sqlx::query_as(
        "SELECT p.id, p.sku, p.stock_on_hand, p.stock_reserved, p.reorder_point,
                p.stock_reserved > p.stock_on_hand AS oversold
           FROM products p
          WHERE p.stock_reserved > p.stock_on_hand
             OR (p.stock_on_hand - p.stock_reserved <= p.reorder_point
                 AND EXISTS (SELECT 1 FROM show_products sp JOIN shows s ON s.id = sp.show_id
                              WHERE sp.product_id = p.id AND sp.pinned
                                AND s.scheduled_start >= $1 AND s.scheduled_start < $2
                                AND s.status NOT IN ('ended', 'cancelled', 'failed')))
          ORDER BY p.id LIMIT $3",
    )
    .bind(day_start)
    .bind(day_end)
    .bind(MAX_ROWS)
    .fetch_all(pool)
    .await?;
    for (id, sku, on_hand, reserved, reorder, oversold) in stock {
        if oversold {
            out.push(condition(
                "oversell",
                format!("oversell:{id}"),
                "inventory",
                Severity::Critical,
                Priority::P1,
                format!("Oversold {sku}: {reserved} reserved, {on_hand} on hand"),
                "contact the buyers, offer alternatives or refunds; `lsn-ops inventory oversold`"
                    .into(),
                at_once,
            ));
        } else {
            out.push(condition(
                "low_stock",
                format!("low_stock:{id}"),
                "inventory",
                Severity::Warning,
                Priority::P2,
                format!("Low stock on {sku}, pinned in a show today"),
                format!("{} free, reorder point {reorder}", on_hand - reserved),
                at_once,
            ));
        }
    }

    // The high-risk queue: its oldest pending order waits too long.
    let oldest: Option<(DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT min(created_at), count(*) FROM orders WHERE fraud_state = 'pending' HAVING count(*) > 0",
    )
    .fetch_optional(pool)
    .await?;
    if let Some((oldest, count)) = oldest {
        let max_age = Duration::minutes(a.fraud_queue_max_age_min.min(1_000_000) as i64);
        if now - oldest > max_age {
            out.push(condition(
                "fraud_backlog",
                "fraud:backlog".into(),
                "fraud",
                Severity::Info,
                Priority::P3,
                format!(
                    "High-risk queue: {count} orders, oldest waiting {}",
                    crate::domain::incidents::format_duration(now - oldest)
                ),
                format!("older than {} min", a.fraud_queue_max_age_min),
                at_once,
            ));
        }
    }
    Ok(out)
}
