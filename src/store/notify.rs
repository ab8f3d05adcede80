//! The notification outbox (`notifications`): one row per transition and
//! target, written in the transaction of the transition itself (an alert
//! firing, acknowledged or resolved; an incident opened, escalated or
//! resolved), so a transition is told exactly when it commits, and once: the
//! row's idempotency key is unique, and the worker's sender
//! (`worker::notify`) claims each row with `FOR UPDATE SKIP LOCKED`.
//!
//! A row holds the target's wire body without its secret: the Slack webhook
//! URL and the PagerDuty routing key are added by the sender.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::config::EscalationConfig;

/// Which targets are configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub slack: bool,
    pub pagerduty: bool,
}

impl Targets {
    pub fn from_config(c: &EscalationConfig) -> Targets {
        Targets {
            slack: !c.slack_webhook_url.is_empty(),
            pagerduty: !c.pagerduty_routing_key.is_empty() && !c.pagerduty_url.is_empty(),
        }
    }

    pub fn none(&self) -> bool {
        !self.slack && !self.pagerduty
    }
}

/// The PagerDuty Events v2 actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Trigger,
    Acknowledge,
    Resolve,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Trigger => "trigger",
            Self::Acknowledge => "acknowledge",
            Self::Resolve => "resolve",
        }
    }
}

/// What a message says about an alert.
#[derive(Debug, Clone)]
pub struct AlertNote<'a> {
    pub id: i64,
    pub dedup_key: &'a str,
    pub severity: &'a str,
    pub priority: Option<&'a str>,
    pub title: &'a str,
    pub source: &'a str,
    /// Who acknowledged or resolved it, or why ("recovered").
    pub by: Option<&'a str>,
    pub at: DateTime<Utc>,
}

async fn insert(
    conn: &mut PgConnection,
    target: &str,
    key: &str,
    payload: &Value,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO notifications (target, idempotency_key, payload) VALUES ($1, $2, $3)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(target)
    .bind(key)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// PagerDuty's severities: critical, error, warning, info.
fn pd_severity(severity: &str) -> &'static str {
    match severity {
        "critical" => "critical",
        "warning" => "warning",
        _ => "info",
    }
}

/// Enqueues the messages of one alert transition (`seq`: the firing episode).
/// Info alerts go to Slack only. Returns how many rows were written.
pub async fn alert(
    conn: &mut PgConnection,
    targets: Targets,
    a: &AlertNote<'_>,
    action: Action,
    seq: i32,
) -> Result<usize, sqlx::Error> {
    let mut written = 0;
    let pri = a.priority.map(|p| format!(" {p}")).unwrap_or_default();
    if targets.slack {
        let text = match action {
            Action::Trigger => format!(
                ":rotating_light: FIRING [{}{pri}] {} (alert #{}, {})",
                a.severity, a.title, a.id, a.source
            ),
            Action::Acknowledge => format!(
                ":eyes: ACKNOWLEDGED by {} [{}{pri}] {} (alert #{})",
                a.by.unwrap_or("?"),
                a.severity,
                a.title,
                a.id
            ),
            Action::Resolve => format!(
                ":white_check_mark: RESOLVED ({}) [{}{pri}] {} (alert #{})",
                a.by.unwrap_or("recovered"),
                a.severity,
                a.title,
                a.id
            ),
        };
        let key = format!("alert:{}:{}:{seq}:slack", a.id, action.as_str());
        written += usize::from(insert(conn, "slack", &key, &json!({ "text": text })).await?);
    }
    if targets.pagerduty && a.severity != "info" {
        let body = match action {
            Action::Trigger => json!({
                "event_action": "trigger",
                "dedup_key": a.dedup_key,
                "payload": {
                    "summary": crate::text::clip(a.title).as_ref(),
                    "source": a.source,
                    "severity": pd_severity(a.severity),
                    "timestamp": a.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "component": "lsn-ops",
                    "custom_details": { "alert_id": a.id, "priority": a.priority },
                },
            }),
            _ => json!({ "event_action": action.as_str(), "dedup_key": a.dedup_key }),
        };
        let key = format!("alert:{}:{}:{seq}:pagerduty", a.id, action.as_str());
        written += usize::from(insert(conn, "pagerduty", &key, &body).await?);
    }
    Ok(written)
}

/// What a message says about an incident.
#[derive(Debug, Clone)]
pub struct IncidentNote<'a> {
    pub id: i64,
    pub priority: &'a str,
    pub title: &'a str,
    pub at: DateTime<Utc>,
}

/// An incident's transition: `opened` (PagerDuty trigger), `escalated:N`
/// (Slack, naming the contact), `resolved` (PagerDuty resolve).
pub async fn incident(
    conn: &mut PgConnection,
    targets: Targets,
    inc: &IncidentNote<'_>,
    transition: &str,
    text: &str,
) -> Result<usize, sqlx::Error> {
    let mut written = 0;
    if targets.slack {
        let key = format!("incident:{}:{transition}:slack", inc.id);
        written += usize::from(insert(conn, "slack", &key, &json!({ "text": text })).await?);
    }
    let action = match transition {
        "opened" => Some("trigger"),
        "resolved" => Some("resolve"),
        _ => None,
    };
    if let (true, Some(action)) = (targets.pagerduty, action) {
        let dedup = format!("lsn-ops:incident:{}", inc.id);
        let body = if action == "trigger" {
            json!({
                "event_action": "trigger",
                "dedup_key": dedup,
                "payload": {
                    "summary": format!("INC-{} [{}] {}", inc.id, inc.priority, crate::text::clip(inc.title)),
                    "source": "lsn-ops",
                    "severity": if matches!(inc.priority, "P0" | "P1") { "critical" } else { "warning" },
                    "timestamp": inc.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "component": "incident",
                },
            })
        } else {
            json!({ "event_action": action, "dedup_key": dedup })
        };
        let key = format!("incident:{}:{transition}:pagerduty", inc.id);
        written += usize::from(insert(conn, "pagerduty", &key, &body).await?);
    }
    Ok(written)
}

/// A claimed notification.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub target: String,
    pub payload: Value,
    pub attempts: i32,
}

/// Claims the next due notification (a lease of `lease`: a sender that died
/// mid-send leaves it to be claimed again after that).
pub async fn claim(
    conn: &mut PgConnection,
    lease: std::time::Duration,
) -> Result<Option<Claimed>, sqlx::Error> {
    let row: Option<(i64, String, Value, i32)> = sqlx::query_as(
        "UPDATE notifications n SET state = 'in_flight', attempts = n.attempts + 1,
                started_at = now(), next_attempt_at = now() + make_interval(secs => $1)
          WHERE n.id = (SELECT id FROM notifications
                         WHERE state IN ('pending', 'failed', 'in_flight') AND next_attempt_at <= now()
                         ORDER BY next_attempt_at, id LIMIT 1
                         FOR UPDATE SKIP LOCKED)
          RETURNING n.id, n.target, n.payload, n.attempts",
    )
    .bind(lease.as_secs_f64())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id, target, payload, attempts)| Claimed {
        id,
        target,
        payload,
        attempts,
    }))
}

/// Marks a claimed notification sent.
pub async fn sent(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET state = 'sent', sent_at = now(), last_error = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried after `retry_in`, or parked `dead`.
pub async fn failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_in: Option<std::time::Duration>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET state = CASE WHEN $3::float8 IS NULL THEN 'dead' ELSE 'failed' END,
                last_error = $2, next_attempt_at = now() + make_interval(secs => COALESCE($3, 0))
          WHERE id = $1",
    )
    .bind(id)
    .bind(crate::text::clip(error).as_ref())
    .bind(retry_in.map(|d| d.as_secs_f64()))
    .execute(conn)
    .await?;
    Ok(())
}
