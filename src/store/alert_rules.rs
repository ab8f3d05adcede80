//! The rules evaluator's writes: one evaluation's true conditions against the
//! unresolved alerts, in one transaction under an advisory lock (several
//! workers may evaluate; one does at a time). Each alert moves as
//! `domain::alert_lifecycle::step` says; a transition (firing, firing again,
//! resolved) writes its audit row (operator `lsn-ops`) and its notifications
//! in the same transaction, and an alert whose condition opens an incident
//! (a live show that cannot start) opens it when it fires. A firing alert
//! covered by a silence is notified when the silence ends, if still firing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::notify::{self, Action, AlertNote, Targets};
use crate::domain::alert_lifecycle::{self, Step, Timing, Tracked};
use crate::domain::alerts::{AlertState, Condition};

/// The operator name the worker's own transitions carry in the audit log.
pub const WORKER: &str = "lsn-ops";

/// The evaluator's advisory lock key ("alerts" in ASCII).
const LOCK: i64 = 0x616c_6572_7473;

/// What applies to every rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub ack_timeout: Option<Duration>,
    pub targets: Targets,
}

/// What one evaluation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// False when another worker held the lock (nothing was done).
    pub evaluated: bool,
    pub pending: Vec<i64>,
    pub fired: Vec<i64>,
    pub refired: Vec<i64>,
    pub resolved: Vec<i64>,
    pub incidents: Vec<i64>,
    pub notifications: usize,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Active {
    id: i64,
    rule_key: String,
    dedup_key: String,
    state: String,
    opened_at: DateTime<Utc>,
    clear_since: Option<DateTime<Utc>>,
    acked_at: Option<DateTime<Utc>>,
    evaluated: bool,
    recover_s: i32,
}

impl Active {
    fn tracked(&self) -> Tracked {
        Tracked {
            state: AlertState::parse(&self.state).unwrap_or(AlertState::Open),
            opened_at: self.opened_at,
            clear_since: self.clear_since,
            acked_at: self.acked_at,
        }
    }
}

/// Applies one evaluation at `now`: `conditions` are the ones true now;
/// `owned` the rule keys whose rules were evaluated (an evaluated alert of an
/// owned rule whose condition is not among them is clear).
pub async fn reconcile(
    pool: &PgPool,
    conditions: &[Condition],
    owned: &HashSet<String>,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Result<Outcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK)
        .fetch_one(&mut *tx)
        .await?;
    let mut out = Outcome::default();
    if !locked {
        return Ok(out);
    }
    out.evaluated = true;
    let active: Vec<Active> = sqlx::query_as(
        "SELECT id, rule_key, dedup_key, state, opened_at, clear_since, acked_at, evaluated, recover_s
           FROM alerts WHERE state <> 'resolved' ORDER BY id LIMIT 10000 FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let by_key: HashMap<&str, &Active> = active.iter().map(|a| (a.dedup_key.as_str(), a)).collect();
    let mut holding = HashSet::new();

    for c in conditions {
        if !holding.insert(c.dedup_key.as_str()) {
            continue; // the same key twice in one evaluation: the first wins
        }
        let timing = Timing {
            for_s: c.for_s,
            recover_s: c.recover_s,
            ack_timeout: settings.ack_timeout,
        };
        let Some(a) = by_key.get(c.dedup_key.as_str()) else {
            let state = alert_lifecycle::first(&timing);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title, details, state,
                                     opened_at, last_seen_at, fired_at, source, evaluated, recover_s)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, CASE WHEN $7 = 'open' THEN $8 END, $9, true, $10)
                 RETURNING id",
            )
            .bind(&c.rule_key)
            .bind(&c.dedup_key)
            .bind(c.severity.as_str())
            .bind(c.priority.as_str())
            .bind(crate::text::clip(&c.title).as_ref())
            .bind(crate::text::clip(&c.details).as_ref())
            .bind(state.as_str())
            .bind(now)
            .bind(&c.source)
            .bind(c.recover_s.clamp(0, i32::MAX as i64) as i32)
            .fetch_one(&mut *tx)
            .await?;
            if state == AlertState::Open {
                fired(&mut tx, id, c, now, &mut out).await?;
            } else {
                out.pending.push(id);
            }
            continue;
        };
        let step = alert_lifecycle::step(&a.tracked(), true, now, &timing);
        // Every step of a holding condition refreshes what the alert says.
        sqlx::query(
            "UPDATE alerts SET last_seen_at = $2, title = $3, details = $4, severity = $5,
                    priority = $6, source = $7, evaluated = true, recover_s = $8
              WHERE id = $1",
        )
        .bind(a.id)
        .bind(now)
        .bind(crate::text::clip(&c.title).as_ref())
        .bind(crate::text::clip(&c.details).as_ref())
        .bind(c.severity.as_str())
        .bind(c.priority.as_str())
        .bind(&c.source)
        .bind(c.recover_s.clamp(0, i32::MAX as i64) as i32)
        .execute(&mut *tx)
        .await?;
        match step {
            Step::Fire => {
                sqlx::query("UPDATE alerts SET state = 'open', fired_at = $2 WHERE id = $1")
                    .bind(a.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                fired(&mut tx, a.id, c, now, &mut out).await?;
            }
            Step::Recur => {
                sqlx::query(
                    "UPDATE alerts SET clear_since = NULL, occurrences = occurrences + 1 WHERE id = $1",
                )
                .bind(a.id)
                .execute(&mut *tx)
                .await?;
            }
            Step::Refire => refire(&mut tx, a.id, now, &mut out).await?,
            Step::Hold if a.state == "pending" => out.pending.push(a.id),
            _ => {}
        }
    }

    for a in &active {
        if holding.contains(a.dedup_key.as_str()) {
            continue;
        }
        if !(a.evaluated && owned.contains(&a.rule_key)) {
            // Raised by an event (or by a rule not evaluated this time): no
            // condition says whether it still fires, so it stays as it is.
            continue;
        }
        let timing = Timing {
            for_s: 0,
            recover_s: i64::from(a.recover_s),
            ack_timeout: settings.ack_timeout,
        };
        match alert_lifecycle::step(&a.tracked(), false, now, &timing) {
            Step::Drop => {
                sqlx::query("DELETE FROM alerts WHERE id = $1 AND state = 'pending'")
                    .bind(a.id)
                    .execute(&mut *tx)
                    .await?;
            }
            Step::StartClearing => {
                sqlx::query("UPDATE alerts SET clear_since = $2 WHERE id = $1")
                    .bind(a.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            Step::Resolve => {
                resolve_recovered(&mut tx, a.id, now, settings.targets).await?;
                out.resolved.push(a.id);
            }
            _ => {}
        }
    }

    out.notifications += notify_due(&mut tx, now, settings.targets).await?;
    for id in out.fired.clone() {
        if let Some(inc) = open_incident_if_asked(&mut tx, id, conditions, now, settings).await? {
            out.incidents.push(inc);
        }
    }
    tx.commit().await?;
    Ok(out)
}

async fn fired(
    conn: &mut PgConnection,
    id: i64,
    c: &Condition,
    now: DateTime<Utc>,
    out: &mut Outcome,
) -> Result<(), sqlx::Error> {
    super::audit(
        conn,
        WORKER,
        "alert.fire",
        "alert",
        &id.to_string(),
        json!({ "dedup_key": c.dedup_key, "reason": format!("held for {} s", c.for_s), "at": now }),
    )
    .await?;
    out.fired.push(id);
    Ok(())
}

async fn refire(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    out: &mut Outcome,
) -> Result<(), sqlx::Error> {
    let acked_by: Option<String> = sqlx::query_scalar(
        "UPDATE alerts a SET state = 'open', fire_seq = a.fire_seq + 1, acked_by = NULL, acked_at = NULL,
                fired_at = $2
           FROM (SELECT id, acked_by FROM alerts WHERE id = $1) old
          WHERE a.id = old.id
          RETURNING old.acked_by",
    )
    .bind(id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    super::audit(
        conn,
        WORKER,
        "alert.refire",
        "alert",
        &id.to_string(),
        json!({ "reason": "acknowledged but still firing after the ack timeout", "acked_by": acked_by, "at": now }),
    )
    .await?;
    out.refired.push(id);
    Ok(())
}

async fn resolve_recovered(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    targets: Targets,
) -> Result<(), sqlx::Error> {
    let row: (String, String, Option<String>, String, String, i32, i32) = sqlx::query_as(
        "UPDATE alerts SET state = 'resolved', resolved_at = $2, resolved_by = $3,
                resolve_note = 'recovered', clear_since = COALESCE(clear_since, $2)
          WHERE id = $1
          RETURNING dedup_key, severity, priority, title, source, fire_seq, notified_seq",
    )
    .bind(id)
    .bind(now)
    .bind(WORKER)
    .fetch_one(&mut *conn)
    .await?;
    let (dedup_key, severity, priority, title, source, fire_seq, notified_seq) = row;
    super::audit(
        conn,
        WORKER,
        "alert.resolve",
        "alert",
        &id.to_string(),
        json!({ "dedup_key": dedup_key, "reason": "recovered: condition clear for recover_s", "at": now }),
    )
    .await?;
    if notified_seq > 0 {
        let note = AlertNote {
            id,
            dedup_key: &dedup_key,
            severity: &severity,
            priority: priority.as_deref(),
            title: &title,
            source: &source,
            by: Some("recovered"),
            at: now,
        };
        notify::alert(conn, targets, &note, Action::Resolve, fire_seq).await?;
    }
    super::incidents::alert_event(conn, id, "alert resolved by itself (recovered)", now).await?;
    Ok(())
}

/// Pages the firing alerts not yet paged for their current episode and not
/// covered by a silence at `now` (a silence that ended pages what still fires).
pub async fn notify_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    targets: Targets,
) -> Result<usize, sqlx::Error> {
    type Row = (i64, String, String, Option<String>, String, String, i32);
    let due: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.dedup_key, a.severity, a.priority, a.title, a.source, a.fire_seq
           FROM alerts a
          WHERE a.state = 'open' AND a.notified_seq < a.fire_seq
            AND NOT EXISTS (SELECT 1 FROM alert_silences s
                             WHERE s.lifted_at IS NULL AND s.starts_at <= $1 AND s.ends_at > $1
                               AND (s.matcher = a.dedup_key
                                    OR (right(s.matcher, 1) = '*'
                                        AND starts_with(a.dedup_key, left(s.matcher, -1)))))
          ORDER BY a.id LIMIT 500",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut written = 0;
    for (id, dedup_key, severity, priority, title, source, seq) in due {
        let note = AlertNote {
            id,
            dedup_key: &dedup_key,
            severity: &severity,
            priority: priority.as_deref(),
            title: &title,
            source: &source,
            by: None,
            at: now,
        };
        written += notify::alert(conn, targets, &note, Action::Trigger, seq).await?;
        sqlx::query("UPDATE alerts SET notified_seq = $2 WHERE id = $1")
            .bind(id)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(written)
}

async fn open_incident_if_asked(
    conn: &mut PgConnection,
    alert_id: i64,
    conditions: &[Condition],
    now: DateTime<Utc>,
    settings: &Settings,
) -> Result<Option<i64>, sqlx::Error> {
    let key: String = sqlx::query_scalar("SELECT dedup_key FROM alerts WHERE id = $1")
        .bind(alert_id)
        .fetch_one(&mut *conn)
        .await?;
    let Some(c) = conditions
        .iter()
        .find(|c| c.dedup_key == key && c.opens_incident)
    else {
        return Ok(None);
    };
    super::incidents::open_for_alert(conn, alert_id, c.priority, &c.title, now, settings.targets)
        .await
}
