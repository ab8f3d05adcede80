//! What operators do to alerts: acknowledge (who, when), silence a key (or a
//! "prefix*") for a while with a reason, resolve with a note. Each is one
//! transaction: authorized first (`AcknowledgeAlerts`), then the change, its
//! audit row and its notifications (PagerDuty acknowledge / resolve, a Slack
//! line), so a refusal changes nothing.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::authz::{AuthError, authorize};
use super::notify::{self, Action, AlertNote, Targets};
use crate::domain::operators::{Actor, Permission};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("no alert #{0}")]
    NotFound(i64),
    #[error("alert #{id} is {state}: {what}")]
    Conflict {
        id: i64,
        state: String,
        what: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for AlertError {
    fn from(e: sqlx::Error) -> Self {
        AlertError::Auth(AuthError::Sql(e))
    }
}

struct Locked {
    state: String,
    dedup_key: String,
    severity: String,
    priority: Option<String>,
    title: String,
    source: String,
    fire_seq: i32,
    notified_seq: i32,
}

async fn lock(conn: &mut PgConnection, id: i64) -> Result<Locked, AlertError> {
    type Row = (
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        i32,
        i32,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT state, dedup_key, severity, priority, title, source, fire_seq, notified_seq
           FROM alerts WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let r = row.ok_or(AlertError::NotFound(id))?;
    Ok(Locked {
        state: r.0,
        dedup_key: r.1,
        severity: r.2,
        priority: r.3,
        title: r.4,
        source: r.5,
        fire_seq: r.6,
        notified_seq: r.7,
    })
}

async fn tell(
    conn: &mut PgConnection,
    targets: Targets,
    id: i64,
    a: &Locked,
    action: Action,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // Nothing was paged for this alert: nothing to acknowledge or resolve.
    if a.notified_seq == 0 {
        return Ok(());
    }
    let note = AlertNote {
        id,
        dedup_key: &a.dedup_key,
        severity: &a.severity,
        priority: a.priority.as_deref(),
        title: &a.title,
        source: &a.source,
        by: Some(by),
        at: now,
    };
    notify::alert(conn, targets, &note, action, a.fire_seq).await?;
    Ok(())
}

/// Acknowledges firing alert `id`: records who and when. Returns when.
pub async fn ack(
    pool: &PgPool,
    actor: &Actor,
    id: i64,
    targets: Targets,
) -> Result<DateTime<Utc>, AlertError> {
    let mut tx = pool.begin().await?;
    authorize(&mut tx, actor, Permission::AcknowledgeAlerts).await?;
    let a = lock(&mut tx, id).await?;
    if a.state != "open" {
        let what = match a.state.as_str() {
            "pending" => "it is not firing yet",
            "acknowledged" => "already acknowledged",
            _ => "already resolved",
        };
        return Err(AlertError::Conflict {
            id,
            state: a.state,
            what,
        });
    }
    // PostgreSQL keeps microseconds: the time returned is the time stored.
    let now = Utc::now();
    let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    sqlx::query(
        "UPDATE alerts SET state = 'acknowledged', acked_by = $2, acked_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(&actor.name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.name,
        "alert.ack",
        "alert",
        &id.to_string(),
        json!({ "dedup_key": a.dedup_key, "title": a.title, "admin": actor.admin }),
    )
    .await?;
    tell(
        &mut tx,
        targets,
        id,
        &a,
        Action::Acknowledge,
        &actor.name,
        now,
    )
    .await?;
    super::incidents::alert_event(&mut tx, id, &format!("acknowledged by {}", actor.name), now)
        .await?;
    tx.commit().await?;
    Ok(now)
}

/// Resolves alert `id` (pending, firing or acknowledged) with a note. An
/// evaluated condition that still holds raises a new alert at the next
/// evaluation.
pub async fn resolve(
    pool: &PgPool,
    actor: &Actor,
    id: i64,
    note: &str,
    targets: Targets,
) -> Result<(), AlertError> {
    let note = note.trim();
    if note.is_empty() {
        return Err(AlertError::Invalid(
            "a note is required (--note TEXT)".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    authorize(&mut tx, actor, Permission::AcknowledgeAlerts).await?;
    let a = lock(&mut tx, id).await?;
    if a.state == "resolved" {
        return Err(AlertError::Conflict {
            id,
            state: a.state,
            what: "already resolved",
        });
    }
    let now = Utc::now();
    sqlx::query(
        "UPDATE alerts SET state = 'resolved', resolved_by = $2, resolved_at = $3, resolve_note = $4,
                acked_at = COALESCE(acked_at, $3), acked_by = COALESCE(acked_by, $2)
          WHERE id = $1",
    )
    .bind(id)
    .bind(&actor.name)
    .bind(now)
    .bind(crate::text::clip(note).as_ref())
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.name,
        "alert.resolve",
        "alert",
        &id.to_string(),
        json!({ "dedup_key": a.dedup_key, "from": a.state, "reason": note, "admin": actor.admin }),
    )
    .await?;
    tell(&mut tx, targets, id, &a, Action::Resolve, &actor.name, now).await?;
    super::incidents::alert_event(
        &mut tx,
        id,
        &format!("resolved by {}: {note}", actor.name),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A silence as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Silence {
    pub id: i64,
    pub matcher: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
}

/// Silences the alerts of `matcher` (a dedup key, or "prefix*") for `for_`
/// from now, with a reason: no notifications while it lasts; a firing alert
/// still firing when it ends is paged then. Returns the silence's id.
pub async fn silence(
    pool: &PgPool,
    actor: &Actor,
    matcher: &str,
    for_: Duration,
    reason: &str,
) -> Result<Silence, AlertError> {
    let matcher = matcher.trim();
    let reason = reason.trim();
    if matcher.is_empty() || matcher.len() > 200 || matcher == "*" {
        return Err(AlertError::Invalid(
            "a dedup key or a \"prefix*\" (not everything) is required".into(),
        ));
    }
    if reason.is_empty() {
        return Err(AlertError::Invalid(
            "a reason is required (--reason TEXT)".into(),
        ));
    }
    if for_ <= Duration::zero() || for_ > Duration::days(30) {
        return Err(AlertError::Invalid(
            "a silence lasts from 1 minute to 30 days".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    authorize(&mut tx, actor, Permission::AcknowledgeAlerts).await?;
    let now = Utc::now();
    let s: Silence = sqlx::query_as(
        "INSERT INTO alert_silences (matcher, starts_at, ends_at, reason, created_by)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, matcher, starts_at, ends_at, reason, created_by",
    )
    .bind(matcher)
    .bind(now)
    .bind(now + for_)
    .bind(crate::text::clip(reason).as_ref())
    .bind(&actor.name)
    .fetch_one(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.name,
        "alert.silence",
        "alert_silence",
        &s.id.to_string(),
        json!({ "matcher": matcher, "until": s.ends_at, "reason": reason, "admin": actor.admin }),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

/// Parses "90s", "30m", "2h", "1d" (or a combination, "1h30m").
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        total += match c {
            's' => Duration::seconds(n),
            'm' => Duration::minutes(n),
            'h' => Duration::hours(n),
            'd' => Duration::days(n),
            _ => return None,
        };
    }
    if !digits.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2h"), Some(Duration::hours(2)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("45s"), Some(Duration::seconds(45)));
        assert_eq!(parse_duration("3d"), Some(Duration::days(3)));
        assert_eq!(parse_duration("2"), None);
        assert_eq!(parse_duration("2w"), None);
        assert_eq!(parse_duration(""), None);
    }
}
