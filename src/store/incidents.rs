//! Incidents: declared fresh or from an alert, assigned, noted, moved through
//! investigating → identified → monitoring → resolved, each change with its
//! timeline row (`incident_events`), its audit row and, where someone must be
//! told, its notifications, in one transaction authorized at the store
//! (`AcknowledgeAlerts`: "work alerts and incidents"). The worker opens the
//! incident of an alert that asks for one (a live show that cannot start)
//! and escalates unresolved incidents along the runbook's path
//! ([`escalate_due`], with the clock passed in).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::alert_rules::WORKER;
use super::authz::{AuthError, authorize};
use super::notify::{self, IncidentNote, Targets};
use crate::config::EscalationConfig;
use crate::domain::incidents::{IncidentState, Priority, Step, due_at, escalation_due};
use crate::domain::operators::{Actor, Permission};

/// An incident as `incidents list` and the screen show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Incident {
    pub id: i64,
    pub priority: String,
    pub title: String,
    pub state: String,
    pub alert_id: Option<i64>,
    pub commander: Option<String>,
    pub declared_by: String,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub escalation_level: i32,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub summary: String,
}

/// One row of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub operator: String,
    pub kind: String,
    pub body: String,
}

const COLUMNS: &str =
    "id, priority, title, state, alert_id, commander, declared_by, opened_at, due_at,
                       escalation_level, resolved_at, resolved_by, summary";

/// Unresolved incidents by deadline (with `all`, the latest resolved too), at most `limit`.
pub async fn list(pool: &PgPool, all: bool, limit: i64) -> Result<Vec<Incident>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents WHERE $1 OR state <> 'resolved'
          ORDER BY (state = 'resolved'), due_at, id LIMIT $2"
    )))
    .bind(all)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Option<Incident>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The timeline of incident `id`, oldest first (the last `limit` rows).
pub async fn timeline(pool: &PgPool, id: i64, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    let mut rows: Vec<Event> = sqlx::query_as(
        "SELECT at, operator, kind, body FROM incident_events WHERE incident_id = $1
          ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.reverse();
    Ok(rows)
}

async fn event(
    conn: &mut PgConnection,
    id: i64,
    operator: &str,
    kind: &str,
    body: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO incident_events (incident_id, at, operator, kind, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(at)
    .bind(operator)
    .bind(kind)
    .bind(crate::text::clip(body).as_ref())
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes on the open incident of alert `alert_id`, if any, what happened to the alert.
pub async fn alert_event(
    conn: &mut PgConnection,
    alert_id: i64,
    body: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let open: Option<i64> =
        sqlx::query_scalar("SELECT id FROM incidents WHERE alert_id = $1 AND state <> 'resolved'")
            .bind(alert_id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(id) = open {
        event(
            conn,
            id,
            WORKER,
            "alert",
            &format!("alert #{alert_id}: {body}"),
            at,
        )
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    conn: &mut PgConnection,
    operator: &str,
    priority: Priority,
    title: &str,
    alert_id: Option<i64>,
    now: DateTime<Utc>,
    targets: Targets,
) -> Result<Option<i64>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO incidents (priority, title, alert_id, opened_at, due_at, declared_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (alert_id) WHERE alert_id IS NOT NULL AND state <> 'resolved' DO NOTHING
         RETURNING id",
    )
    .bind(priority.as_str())
    .bind(crate::text::clip(title).as_ref())
    .bind(alert_id)
    .bind(now)
    .bind(due_at(priority, now))
    .bind(operator)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    let from = alert_id
        .map(|a| format!(" from alert #{a}"))
        .unwrap_or_default();
    event(
        conn,
        id,
        operator,
        "opened",
        &format!("{} declared{from}: {title}", priority.as_str()),
        now,
    )
    .await?;
    super::audit(
        conn,
        operator,
        "incident.open",
        "incident",
        &id.to_string(),
        json!({ "priority": priority.as_str(), "title": title, "alert_id": alert_id, "reason": format!("declared{from}") }),
    )
    .await?;
    let note = IncidentNote {
        id,
        priority: priority.as_str(),
        title,
        at: now,
    };
    let text = format!(
        ":fire: INC-{id} opened [{}] {title}; resolve within {} (by {operator})",
        priority.as_str(),
        crate::domain::incidents::format_duration(priority.resolve_within())
    );
    notify::incident(conn, targets, &note, "opened", &text).await?;
    Ok(Some(id))
}

/// The worker's incident for a firing alert that asks for one; `None` when
/// the alert already has an open incident.
pub async fn open_for_alert(
    conn: &mut PgConnection,
    alert_id: i64,
    priority: Priority,
    title: &str,
    now: DateTime<Utc>,
    targets: Targets,
) -> Result<Option<i64>, sqlx::Error> {
    insert(conn, WORKER, priority, title, Some(alert_id), now, targets).await
}

/// What went wrong with an incident change.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("no incident #{0}")]
    NotFound(i64),
    #[error("no alert #{0}")]
    NoAlert(i64),
    #[error("alert #{alert} already has incident INC-{incident}")]
    AlreadyDeclared { alert: i64, incident: i64 },
    #[error("incident INC-{0} is already resolved")]
    Resolved(i64),
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for IncidentError {
    fn from(e: sqlx::Error) -> Self {
        IncidentError::Auth(AuthError::Sql(e))
    }
}

/// Declares an incident: fresh (`priority` and `title` required) or from
/// alert `alert_id` (its priority and title unless given).
pub async fn open(
    pool: &PgPool,
    actor: &Actor,
    priority: Option<Priority>,
    title: Option<&str>,
    alert_id: Option<i64>,
    targets: Targets,
) -> Result<i64, IncidentError> {
    let mut tx = pool.begin().await?;
    authorize(&mut tx, actor, Permission::AcknowledgeAlerts).await?;
    let now = Utc::now();
    let (priority, title) = match alert_id {
        Some(a) => {
            let row: Option<(Option<String>, String, Option<i64>)> = sqlx::query_as(
                "SELECT a.priority, a.title,
                        (SELECT i.id FROM incidents i WHERE i.alert_id = a.id AND i.state <> 'resolved')
                   FROM alerts a WHERE a.id = $1 FOR UPDATE",
            )
            .bind(a)
            .fetch_optional(&mut *tx)
            .await?;
            let (p, t, existing) = row.ok_or(IncidentError::NoAlert(a))?;
            if let Some(incident) = existing {
                return Err(IncidentError::AlreadyDeclared { alert: a, incident });
            }
            (
                priority
                    .or_else(|| p.as_deref().and_then(Priority::parse))
                    .unwrap_or(Priority::P2),
                title.map(str::to_string).unwrap_or(t),
            )
        }
        None => {
            let title = title
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| IncidentError::Invalid("a title is required".into()))?;
            let priority = priority
                .ok_or_else(|| IncidentError::Invalid("a priority (P0-P3) is required".into()))?;
            (priority, title.to_string())
        }
    };
    let id = insert(
        &mut tx,
        &actor.name,
        priority,
        &title,
        alert_id,
        now,
        targets,
    )
    .await?
    .ok_or_else(|| IncidentError::Invalid("the alert already has an open incident".into()))?;
    tx.commit().await?;
    Ok(id)
}

/// Locks incident `id` for a change by `actor` (authorized), refusing a resolved one.
async fn lock_open(
    conn: &mut PgConnection,
    actor: &Actor,
    id: i64,
) -> Result<Incident, IncidentError> {
    authorize(conn, actor, Permission::AcknowledgeAlerts).await?;
    sqlx::query("SELECT id FROM incidents WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(IncidentError::NotFound(id))?;
    let inc = get(conn, id).await?.ok_or(IncidentError::NotFound(id))?;
    if inc.state == "resolved" {
        return Err(IncidentError::Resolved(id));
    }
    Ok(inc)
}

/// Makes `who` the incident's commander.
pub async fn assign(pool: &PgPool, actor: &Actor, id: i64, who: &str) -> Result<(), IncidentError> {
    let who = who.trim();
    if who.is_empty() {
        return Err(IncidentError::Invalid("whom to assign is required".into()));
    }
    let mut tx = pool.begin().await?;
    let inc = lock_open(&mut tx, actor, id).await?;
    let now = Utc::now();
    sqlx::query("UPDATE incidents SET commander = $2 WHERE id = $1")
        .bind(id)
        .bind(who)
        .execute(&mut *tx)
        .await?;
    event(
        &mut tx,
        id,
        &actor.name,
        "assigned",
        &format!("assigned to {who}"),
        now,
    )
    .await?;
    super::audit(
        &mut tx,
        &actor.name,
        "incident.assign",
        "incident",
        &id.to_string(),
        json!({ "from": inc.commander, "to": who, "admin": actor.admin }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a note to the timeline.
pub async fn note(pool: &PgPool, actor: &Actor, id: i64, text: &str) -> Result<(), IncidentError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(IncidentError::Invalid("the note is empty".into()));
    }
    let mut tx = pool.begin().await?;
    lock_open(&mut tx, actor, id).await?;
    event(&mut tx, id, &actor.name, "note", text, Utc::now()).await?;
    super::audit(
        &mut tx,
        &actor.name,
        "incident.note",
        "incident",
        &id.to_string(),
        json!({ "note": text, "admin": actor.admin }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the incident to `state` (resolving goes through [`resolve`]), with an optional note.
pub async fn set_status(
    pool: &PgPool,
    actor: &Actor,
    id: i64,
    state: IncidentState,
    note: Option<&str>,
    targets: Targets,
) -> Result<(), IncidentError> {
    if state == IncidentState::Resolved {
        return resolve(pool, actor, id, note.unwrap_or("resolved"), targets).await;
    }
    let mut tx = pool.begin().await?;
    let inc = lock_open(&mut tx, actor, id).await?;
    let now = Utc::now();
    sqlx::query("UPDATE incidents SET state = $2 WHERE id = $1")
        .bind(id)
        .bind(state.as_str())
        .execute(&mut *tx)
        .await?;
    let body = match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("{} → {}: {n}", inc.state, state.as_str()),
        None => format!("{} → {}", inc.state, state.as_str()),
    };
    event(&mut tx, id, &actor.name, "status", &body, now).await?;
    super::audit(
        &mut tx,
        &actor.name,
        "incident.status",
        "incident",
        &id.to_string(),
        json!({ "from": inc.state, "to": state.as_str(), "reason": note, "admin": actor.admin }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Resolves the incident with a summary.
pub async fn resolve(
    pool: &PgPool,
    actor: &Actor,
    id: i64,
    summary: &str,
    targets: Targets,
) -> Result<(), IncidentError> {
    let summary = summary.trim();
    if summary.is_empty() {
        return Err(IncidentError::Invalid("a summary is required".into()));
    }
    let mut tx = pool.begin().await?;
    let inc = lock_open(&mut tx, actor, id).await?;
    let now = Utc::now();
    sqlx::query(
        "UPDATE incidents SET state = 'resolved', resolved_at = $2, resolved_by = $3, summary = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(&actor.name)
    .bind(crate::text::clip(summary).as_ref())
    .execute(&mut *tx)
    .await?;
    event(&mut tx, id, &actor.name, "resolved", summary, now).await?;
    super::audit(
        &mut tx,
        &actor.name,
        "incident.resolve",
        "incident",
        &id.to_string(),
        json!({ "from": inc.state, "reason": summary, "late": now > inc.due_at, "admin": actor.admin }),
    )
    .await?;
    let note = IncidentNote {
        id,
        priority: &inc.priority,
        title: &inc.title,
        at: now,
    };
    let text = format!(
        ":white_check_mark: INC-{id} resolved by {} [{}] {}: {summary}",
        actor.name, inc.priority, inc.title
    );
    notify::incident(&mut tx, targets, &note, "resolved", &text).await?;
    tx.commit().await?;
    Ok(())
}

/// Escalates every unresolved incident whose next step is due at `now`
/// (the runbook's path; `[escalation]` names the contacts): one timeline
/// row, audit row and message per step reached, once. Returns the
/// (incident, step) pairs escalated.
pub async fn escalate_due(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    targets: Targets,
) -> Result<Vec<(i64, Step)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let open: Vec<(i64, String, String, DateTime<Utc>, i32)> = sqlx::query_as(
        "SELECT id, priority, title, opened_at, escalation_level FROM incidents
          WHERE state <> 'resolved' ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    let times = config.times();
    let mut done = Vec::new();
    for (id, priority, title, opened_at, level) in open {
        let Some(p) = Priority::parse(&priority) else {
            continue;
        };
        let due = escalation_due(p, opened_at, now, &times);
        if due.level() <= level {
            continue;
        }
        for step in Step::ALL
            .into_iter()
            .filter(|s| s.level() > level && s.level() <= due.level())
        {
            // The CEO step is for P0 only; a P0 passes the CTO on the way.
            if step == Step::Ceo && p != Priority::P0 {
                continue;
            }
            let contact = config.contact(step);
            let body = format!(
                "escalated to the {} ({contact}): unresolved after {}",
                step.label(),
                crate::domain::incidents::format_duration(now - opened_at)
            );
            event(&mut tx, id, WORKER, "escalated", &body, now).await?;
            super::audit(
                &mut tx,
                WORKER,
                "incident.escalate",
                "incident",
                &id.to_string(),
                json!({ "step": step.label(), "contact": contact, "reason": body }),
            )
            .await?;
            let note = IncidentNote {
                id,
                priority: &priority,
                title: &title,
                at: now,
            };
            let text = format!(
                ":arrow_up: INC-{id} [{priority}] {title}: {body}; @{contact} please take a look"
            );
            notify::incident(
                &mut tx,
                targets,
                &note,
                &format!("escalated:{}", step.level()),
                &text,
            )
            .await?;
            done.push((id, step));
        }
        sqlx::query("UPDATE incidents SET escalation_level = $2, escalated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(due.level())
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(done)
}
