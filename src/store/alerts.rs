//! Alerts lsn-ops raises on its own, in `alerts`: the applier's "webhook
//! delivery failures", the executor's "commands parked as dead", the scorer's
//! "reference lists not reloaded", and the receiver's "webhook signature
//! failures".
//!
//! One row per condition (`dedup_key`) while it is unresolved (the schema's
//! `alerts_active_uq`): a recurrence bumps `occurrences` and `last_seen_at`
//! instead of opening a second alert, so a flapping condition pages once.
//! Reading alerts for the screens is in [`super::snapshot`] and
//! [`super::status`]; [`list`] is the CLI's view (`alerts list`). The
//! rules evaluator's writes are in [`super::alert_rules`], the operators' in
//! [`super::alert_actions`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::domain::alerts::AlertState;

/// An alert as `lsn-ops alerts list` shows it (and its JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub dedup_key: String,
    pub rule_key: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    pub priority: Option<String>,
    /// `pending`, `firing`, `acknowledged`, `silenced` or `resolved`.
    pub state: String,
    pub title: String,
    pub details: String,
    pub source: String,
    /// Firing since (pending since, for a pending alert).
    pub since: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub occurrences: i32,
    pub acked_by: Option<String>,
    pub acked_at: Option<DateTime<Utc>>,
    pub silenced_until: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolve_note: Option<String>,
}

/// Unresolved alerts, most severe first (with `all`, then the latest
/// resolved ones), at most `limit`, as they stand at `now`.
pub async fn list(
    pool: &PgPool,
    all: bool,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<AlertView>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        dedup_key: String,
        rule_key: String,
        severity: String,
        priority: Option<String>,
        state: String,
        title: String,
        details: String,
        source: String,
        since: DateTime<Utc>,
        last_seen_at: DateTime<Utc>,
        occurrences: i32,
        acked_by: Option<String>,
        acked_at: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        resolved_by: Option<String>,
        resolved_at: Option<DateTime<Utc>>,
        resolve_note: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.dedup_key, a.rule_key, a.severity, a.priority, a.state, a.title, a.details,
                a.source, COALESCE(a.fired_at, a.opened_at) AS since, a.last_seen_at, a.occurrences,
                a.acked_by, a.acked_at, s.until, a.resolved_by, a.resolved_at, a.resolve_note
           FROM (SELECT * FROM alerts WHERE state <> 'resolved'
                 UNION ALL
                 (SELECT * FROM alerts WHERE $1 AND state = 'resolved' ORDER BY resolved_at DESC LIMIT $3)) a
           LEFT JOIN LATERAL (
                SELECT max(ends_at) AS until FROM alert_silences s
                 WHERE s.lifted_at IS NULL AND s.starts_at <= $2 AND s.ends_at > $2
                   AND (s.matcher = a.dedup_key
                        OR (right(s.matcher, 1) = '*' AND starts_with(a.dedup_key, left(s.matcher, -1))))) s ON true
          ORDER BY (a.state = 'resolved'), (a.state = 'pending'),
                   CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                   COALESCE(a.priority, 'P9'), COALESCE(a.resolved_at, a.opened_at) DESC, a.id DESC
          LIMIT $3",
    )
    .bind(all)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let state = AlertState::parse(&r.state).unwrap_or(AlertState::Open);
            let silenced =
                r.until.is_some() && matches!(state, AlertState::Open | AlertState::Acknowledged);
            AlertView {
                id: r.id,
                dedup_key: r.dedup_key,
                rule_key: r.rule_key,
                severity: r.severity,
                priority: r.priority,
                state: state.shown(silenced).to_string(),
                title: r.title,
                details: crate::text::clip(&r.details).into_owned(),
                source: r.source,
                since: r.since,
                last_seen: r.last_seen_at,
                occurrences: r.occurrences,
                acked_by: r.acked_by,
                acked_at: r.acked_at,
                silenced_until: if silenced { r.until } else { None },
                resolved_by: r.resolved_by,
                resolved_at: r.resolved_at,
                resolve_note: r.resolve_note,
            }
        })
        .collect())
}

/// Opens an alert, or bumps the unresolved one for the same condition (flap
/// damping), inside the caller's transaction. Returns the alert's id.
pub async fn raise(
    conn: &mut PgConnection,
    rule_key: &str,
    dedup_key: &str,
    severity: &str,
    priority: &str,
    title: &str,
    details: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title, details, fired_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (dedup_key) WHERE state <> 'resolved'
         DO UPDATE SET occurrences = alerts.occurrences + 1, last_seen_at = now(), details = EXCLUDED.details
         RETURNING id",
    )
    .bind(rule_key)
    .bind(dedup_key)
    .bind(severity)
    .bind(priority)
    .bind(title)
    // Details may quote outside values: clipped (issue 18).
    .bind(crate::text::clip(details).as_ref())
    .fetch_one(conn)
    .await
}

/// Raises the "webhook signature failures" warning for `provider`, or refreshes
/// the unresolved one (its title and details carry the latest count). An alert
/// of the same key resolved less than `reopen_within` ago is reopened rather
/// than duplicated, so a flapping condition stays one alert. One transaction;
/// returns the alert's id.
pub async fn raise_signature_alert(
    pool: &PgPool,
    provider: &str,
    failures: usize,
    window_minutes: i64,
    reopen_within: chrono::Duration,
) -> Result<i64, sqlx::Error> {
    let dedup_key = format!("webhook_signature_failures:{provider}");
    let title = format!("{provider} webhooks: {failures} bad signatures in {window_minutes} min");
    let details = format!(
        "{failures} {provider} webhook deliveries were refused (401) for a bad or missing signature \
         in the last {window_minutes} minutes. Check the {provider} webhook secret/key in the \
         configuration, and whether someone is probing the endpoint."
    );
    let mut tx = pool.begin().await?;
    // Refresh the open one, if any.
    let refreshed: Option<i64> = sqlx::query_scalar(
        "UPDATE alerts SET last_seen_at = now(), occurrences = occurrences + 1, title = $2, details = $3
         WHERE dedup_key = $1 AND state <> 'resolved'
         RETURNING id",
    )
    .bind(&dedup_key)
    .bind(&title)
    .bind(&details)
    .fetch_optional(&mut *tx)
    .await?;
    let id = match refreshed {
        Some(id) => id,
        None => {
            // Flap damping: reopen a recently resolved one instead of a new alert.
            let reopened: Option<i64> = sqlx::query_scalar(
                "UPDATE alerts SET state = 'open', resolved_at = NULL, resolved_by = NULL,
                        acked_at = NULL, acked_by = NULL, last_seen_at = now(), resolve_note = NULL,
                        fire_seq = fire_seq + 1, fired_at = now(),
                        occurrences = occurrences + 1, title = $2, details = $3
                 WHERE id = (SELECT id FROM alerts
                             WHERE dedup_key = $1 AND state = 'resolved'
                               AND resolved_at > now() - make_interval(secs => $4)
                             ORDER BY resolved_at DESC LIMIT 1)
                 RETURNING id",
            )
            .bind(&dedup_key)
            .bind(&title)
            .bind(&details)
            .bind(reopen_within.num_seconds() as f64)
            .fetch_optional(&mut *tx)
            .await?;
            match reopened {
                Some(id) => id,
                None => {
                    raise(
                        &mut tx,
                        "webhook_signature_failures",
                        &dedup_key,
                        "warning",
                        "P2",
                        &title,
                        &details,
                    )
                    .await?
                }
            }
        }
    };
    tx.commit().await?;
    Ok(id)
}
