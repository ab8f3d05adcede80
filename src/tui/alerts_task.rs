//! The alerts task's work: the store calls behind pane 1's actions
//! (acknowledge, silence, resolve an alert; declare, take, note, move and
//! resolve an incident), run off the UI loop with the dashboard's actor. The
//! requests travel on the operations task's channel ([`super::ops_task`]);
//! each answer is a footer line.

use sqlx::PgPool;

use crate::domain::incidents::IncidentState;
use crate::domain::operators::Actor;
use crate::store::notify::Targets;
use crate::store::{alert_actions, incidents};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Ack {
        id: i64,
    },
    Silence {
        key: String,
        minutes: i64,
        reason: String,
    },
    Resolve {
        id: i64,
        note: String,
    },
    Declare {
        alert: i64,
    },
    Take {
        incident: i64,
    },
    Note {
        incident: i64,
        text: String,
    },
    Status {
        incident: i64,
        state: IncidentState,
    },
    ResolveIncident {
        incident: i64,
        summary: String,
    },
}

/// Runs one request; the answer is what the footer says.
pub async fn handle(
    pool: &PgPool,
    actor: &Actor,
    targets: Targets,
    req: Request,
) -> Result<String, String> {
    let e = |e: alert_actions::AlertError| e.to_string();
    let i = |e: incidents::IncidentError| e.to_string();
    match req {
        Request::Ack { id } => alert_actions::ack(pool, actor, id, targets)
            .await
            .map(|_| format!("alert #{id} acknowledged by {}", actor.name))
            .map_err(e),
        Request::Silence {
            key,
            minutes,
            reason,
        } => alert_actions::silence(
            pool,
            actor,
            &key,
            chrono::Duration::minutes(minutes),
            &reason,
        )
        .await
        .map(|s| format!("{} silenced for {} min", s.matcher, minutes))
        .map_err(e),
        Request::Resolve { id, note } => alert_actions::resolve(pool, actor, id, &note, targets)
            .await
            .map(|_| format!("alert #{id} resolved"))
            .map_err(e),
        Request::Declare { alert } => {
            incidents::open(pool, actor, None, None, Some(alert), targets)
                .await
                .map(|id| format!("INC-{id} declared from alert #{alert}"))
                .map_err(i)
        }
        Request::Take { incident } => incidents::assign(pool, actor, incident, &actor.name)
            .await
            .map(|_| format!("INC-{incident} is yours"))
            .map_err(i),
        Request::Note { incident, text } => incidents::note(pool, actor, incident, &text)
            .await
            .map(|_| format!("note added to INC-{incident}"))
            .map_err(i),
        Request::Status { incident, state } => {
            incidents::set_status(pool, actor, incident, state, None, targets)
                .await
                .map(|_| format!("INC-{incident} is {}", state.as_str()))
                .map_err(i)
        }
        Request::ResolveIncident { incident, summary } => {
            incidents::resolve(pool, actor, incident, &summary, targets)
                .await
                .map(|_| format!("INC-{incident} resolved"))
                .map_err(i)
        }
    }
}
