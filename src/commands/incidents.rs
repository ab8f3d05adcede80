//! `lsn-ops incidents list|show|open|assign|note|status|resolve`: incidents
//! from the command line (P0-P3 with the runbook's resolution targets, the
//! time left always shown), as the OS account's operator.

use chrono::Utc;

use crate::cli::{Failure, IncidentsAction, StatusFormat};
use crate::config::Loaded;
use crate::domain::incidents::{IncidentState, Priority, format_time_left};
use crate::domain::operators::Actor;
use crate::store::authz::AuthError;
use crate::store::incidents::{self as store, IncidentError};
use crate::store::notify::Targets;

fn failure(what: &str, e: IncidentError) -> Failure {
    match e {
        IncidentError::Auth(e) => Failure::store(what, e),
        IncidentError::Invalid(m) => Failure {
            code: 2,
            message: m,
        },
        other => Failure {
            code: 1,
            message: other.to_string(),
        },
    }
}

fn sql(what: &str) -> impl Fn(sqlx::Error) -> Failure + '_ {
    move |e| Failure::store(what, AuthError::Sql(e))
}

fn priority(p: Option<String>) -> Result<Option<Priority>, Failure> {
    p.map(|p| {
        Priority::parse(&p).ok_or(Failure {
            code: 2,
            message: format!("--priority {p:?}: expected P0, P1, P2 or P3"),
        })
    })
    .transpose()
}

pub async fn run(loaded: &Loaded, action: IncidentsAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    let targets = Targets::from_config(&loaded.config.escalation);
    let tz = loaded.timezone;
    let now = Utc::now();
    match action {
        IncidentsAction::List { all, format } => {
            let list = store::list(&pool, all, 500)
                .await
                .map_err(sql("incidents list"))?;
            match format {
                StatusFormat::Json => {
                    let rows: Vec<serde_json::Value> = list
                        .iter()
                        .map(|i| {
                            let mut v = serde_json::to_value(i).unwrap_or_default();
                            if let serde_json::Value::Object(m) = &mut v {
                                m.insert(
                                    "overdue".into(),
                                    (i.state != "resolved" && i.due_at < now).into(),
                                );
                                m.insert(
                                    "seconds_left".into(),
                                    (i.due_at - now).num_seconds().into(),
                                );
                            }
                            v
                        })
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rows).unwrap_or_default()
                    );
                }
                StatusFormat::Text => {
                    if list.is_empty() {
                        println!("no open incidents");
                    }
                    for i in list {
                        let left = if i.state == "resolved" {
                            "resolved".to_string()
                        } else {
                            format_time_left(i.due_at, now)
                        };
                        println!(
                            "INC-{:<5} {} {:<13} {:<16} {}  (commander {})",
                            i.id,
                            i.priority,
                            i.state,
                            left,
                            i.title,
                            i.commander.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
        }
        IncidentsAction::Show { id } => {
            let mut conn = pool.acquire().await.map_err(sql("incidents show"))?;
            let i = store::get(&mut conn, id)
                .await
                .map_err(sql("incidents show"))?
                .ok_or(Failure {
                    code: 1,
                    message: format!("no incident #{id}"),
                })?;
            println!("INC-{} [{}] {}", i.id, i.priority, i.title);
            println!(
                "state {}, commander {}, due {} ({})",
                i.state,
                i.commander.as_deref().unwrap_or("-"),
                i.due_at.with_timezone(&tz).format("%a %H:%M %Z"),
                format_time_left(i.due_at, now)
            );
            for e in store::timeline(&pool, id, 200)
                .await
                .map_err(sql("incidents show"))?
            {
                println!(
                    "  {}  {:<9} {:<10} {}",
                    e.at.with_timezone(&tz).format("%m-%d %H:%M"),
                    e.kind,
                    e.operator,
                    e.body
                );
            }
        }
        IncidentsAction::Open {
            alert,
            priority: p,
            title,
        } => {
            let id = store::open(
                &pool,
                &actor,
                priority(p)?,
                title.as_deref(),
                alert,
                targets,
            )
            .await
            .map_err(|e| failure("incidents open", e))?;
            println!("INC-{id} opened");
        }
        IncidentsAction::Assign { id, who } => {
            store::assign(&pool, &actor, id, &who)
                .await
                .map_err(|e| failure("incidents assign", e))?;
            println!("INC-{id} assigned to {who}");
        }
        IncidentsAction::Note { id, text } => {
            store::note(&pool, &actor, id, &text)
                .await
                .map_err(|e| failure("incidents note", e))?;
            println!("note added to INC-{id}");
        }
        IncidentsAction::Status { id, state, note } => {
            let state = IncidentState::parse(&state).ok_or(Failure {
                code: 2,
                message: format!(
                    "{state:?}: expected investigating, identified, monitoring or resolved"
                ),
            })?;
            store::set_status(&pool, &actor, id, state, note.as_deref(), targets)
                .await
                .map_err(|e| failure("incidents status", e))?;
            println!("INC-{id} is {}", state.as_str());
        }
        IncidentsAction::Resolve { id, note } => {
            store::resolve(&pool, &actor, id, &note, targets)
                .await
                .map_err(|e| failure("incidents resolve", e))?;
            println!("INC-{id} resolved");
        }
    }
    Ok(0)
}
