//! Pane 1's rows of the snapshot: the firing and acknowledged alerts (with
//! their silence and whether they are recovering) and the open incidents
//! (with their latest timeline entry), each one bounded query.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{AlertRow, IncidentRow, PANE_LIMIT};

pub(super) async fn alerts(pool: &PgPool) -> Result<Vec<AlertRow>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        severity: String,
        priority: Option<String>,
        rule_key: String,
        title: String,
        details: String,
        state: String,
        since: DateTime<Utc>,
        last_seen_at: DateTime<Utc>,
        occurrences: i32,
        acked_by: Option<String>,
        dedup_key: String,
        source: String,
        until: Option<DateTime<Utc>>,
        recovering: bool,
    }
    // alerts_active_idx: the unresolved alerts are few; most severe, then
    // newest first. Pending ones (not yet for `for_s`) are not shown.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.severity, a.priority, a.rule_key, a.title, a.details, a.state,
                COALESCE(a.fired_at, a.opened_at) AS since, a.last_seen_at, a.occurrences, a.acked_by,
                a.dedup_key, a.source, s.until, a.clear_since IS NOT NULL AS recovering
           FROM alerts a
           LEFT JOIN LATERAL (
                SELECT max(ends_at) AS until FROM alert_silences s
                 WHERE s.lifted_at IS NULL AND s.starts_at <= now() AND s.ends_at > now()
                   AND (s.matcher = a.dedup_key
                        OR (right(s.matcher, 1) = '*' AND starts_with(a.dedup_key, left(s.matcher, -1))))) s ON true
          WHERE a.state IN ('open', 'acknowledged')
          ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                   COALESCE(a.priority, 'P9'), a.opened_at DESC, a.id DESC
          LIMIT $1",
    )
    .bind(PANE_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AlertRow {
            id: r.id,
            severity: r.severity,
            priority: r.priority,
            rule_key: r.rule_key,
            title: r.title,
            // Written before limits existed, or by hand: clipped for the screen.
            details: crate::text::clip(&r.details).into_owned(),
            state: r.state,
            opened_at: r.since,
            last_seen_at: r.last_seen_at,
            occurrences: r.occurrences,
            acked_by: r.acked_by,
            dedup_key: r.dedup_key,
            source: r.source,
            silenced_until: r.until,
            recovering: r.recovering,
        })
        .collect())
}

pub(super) async fn incidents(pool: &PgPool) -> Result<Vec<IncidentRow>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        priority: String,
        title: String,
        state: String,
        commander: Option<String>,
        opened_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
        summary: String,
        alert_id: Option<i64>,
        escalation_level: i32,
        last_event: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.id, i.priority, i.title, i.state, i.commander, i.opened_at, i.due_at, i.summary,
                i.alert_id, i.escalation_level,
                (SELECT e.kind || ': ' || e.body FROM incident_events e WHERE e.incident_id = i.id
                  ORDER BY e.at DESC, e.id DESC LIMIT 1) AS last_event
           FROM incidents i WHERE i.state <> 'resolved'
          ORDER BY i.due_at, i.id
          LIMIT $1",
    )
    .bind(PANE_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| IncidentRow {
            id: r.id,
            priority: r.priority,
            title: r.title,
            state: r.state,
            commander: r.commander,
            opened_at: r.opened_at,
            due_at: r.due_at,
            summary: r.summary,
            alert_id: r.alert_id,
            escalation_level: r.escalation_level,
            last_event: r
                .last_event
                .map(|e| crate::text::clip_to(&e, 200).into_owned()),
        })
        .collect())
}
