//! `lsn-ops alerts list|ack|silence|resolve`: the alert lifecycle from the
//! command line, as the OS account's operator (the store authorizes and
//! audits). `list --format json` is a stable contract for scripts: an array
//! of objects with `id`, `dedup_key`, `severity`, `state` (`pending`,
//! `firing`, `acknowledged`, `silenced`, `resolved`), `title`, `source`,
//! `since`, `occurrences`, `acked_by`, `silenced_until` and more.

use chrono::Utc;

use crate::cli::{AlertsAction, Failure, StatusFormat};
use crate::config::Loaded;
use crate::domain::operators::Actor;
use crate::store::alert_actions::{self, AlertError};
use crate::store::authz::AuthError;
use crate::store::notify::Targets;

/// Rows `alerts list` prints at most.
const LIST_LIMIT: i64 = 500;

pub fn failure(what: &str, e: AlertError) -> Failure {
    match e {
        AlertError::Auth(e) => Failure::store(what, e),
        AlertError::Invalid(m) => Failure {
            code: 2,
            message: m,
        },
        other => Failure {
            code: 1,
            message: other.to_string(),
        },
    }
}

pub async fn run(loaded: &Loaded, action: AlertsAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    let targets = Targets::from_config(&loaded.config.escalation);
    let tz = loaded.timezone;
    match action {
        AlertsAction::List { all, format } => {
            let list = crate::store::alerts::list(&pool, all, Utc::now(), LIST_LIMIT)
                .await
                .map_err(|e| Failure::store("alerts list", AuthError::Sql(e)))?;
            match format {
                StatusFormat::Json => {
                    let text = serde_json::to_string_pretty(&list).map_err(|e| Failure {
                        code: 1,
                        message: format!("alerts list: {e}"),
                    })?;
                    println!("{text}");
                }
                StatusFormat::Text => {
                    if list.is_empty() {
                        println!("no alerts");
                    }
                    for a in list {
                        let since = a.since.with_timezone(&tz).format("%a %H:%M");
                        let who = match (&a.state[..], &a.acked_by, a.silenced_until) {
                            ("silenced", _, Some(until)) => {
                                format!(" until {}", until.with_timezone(&tz).format("%a %H:%M"))
                            }
                            ("acknowledged", Some(by), _) => format!(" by {by}"),
                            _ => String::new(),
                        };
                        println!(
                            "#{:<6} {:<8} {:<3} {:<12} {}  x{}  since {since}  [{}] {}{who}",
                            a.id,
                            a.severity,
                            a.priority.as_deref().unwrap_or("-"),
                            a.state,
                            a.title,
                            a.occurrences,
                            a.dedup_key,
                            a.source,
                        );
                    }
                }
            }
        }
        AlertsAction::Ack { id } => {
            let at = alert_actions::ack(&pool, &actor, id, targets)
                .await
                .map_err(|e| failure("alerts ack", e))?;
            println!(
                "alert #{id} acknowledged by {} at {}",
                actor.name,
                at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z")
            );
        }
        AlertsAction::Silence { key, r#for, reason } => {
            let duration = alert_actions::parse_duration(&r#for).ok_or(Failure {
                code: 2,
                message: format!("--for {for:?}: expected a duration such as 30m, 2h or 1d", for = r#for),
            })?;
            let s = alert_actions::silence(&pool, &actor, &key, duration, &reason)
                .await
                .map_err(|e| failure("alerts silence", e))?;
            println!(
                "silence #{} on {} until {} ({})",
                s.id,
                s.matcher,
                s.ends_at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
                s.reason
            );
        }
        AlertsAction::Resolve { id, note } => {
            alert_actions::resolve(&pool, &actor, id, &note, targets)
                .await
                .map_err(|e| failure("alerts resolve", e))?;
            println!("alert #{id} resolved by {}: {note}", actor.name);
        }
    }
    Ok(0)
}
