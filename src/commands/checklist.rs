//! `lsn-ops checklist [show [LIST] | tick LIST ITEM]`: the runbook's
//! checklists from the command line ([`crate::store::checklists`]).

use chrono::Utc;

use crate::cli::{ChecklistAction, Failure, StatusFormat};
use crate::config::Loaded;
use crate::domain::checklists::{Check, List};
use crate::domain::operators::Actor;
use crate::store::checklists::{self, Scope, TickError};

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
}

/// The list and its scope from the arguments (the current day list by default).
fn scope_of(
    loaded: &Loaded,
    list: Option<&str>,
    show: Option<i64>,
    date: Option<&str>,
) -> Result<(List, Scope), Failure> {
    let tz = loaded.timezone;
    let local = Utc::now().with_timezone(&tz);
    let list = match list {
        None => checklists::current_day_list(local.time()),
        Some(name) => List::parse(name).ok_or_else(|| {
            usage(format!(
                "no checklist \"{name}\": morning, evening, preshow or postshow"
            ))
        })?,
    };
    if list.per_show() {
        let show =
            show.ok_or_else(|| usage(format!("the {} list needs --show ID", list.as_str())))?;
        return Ok((list, Scope::Show(show)));
    }
    let day = match date {
        None => local.date_naive(),
        Some(text) => super::report::parse_date(text, local.date_naive()).ok_or_else(|| {
            usage(format!(
                "--date \"{text}\": expected YYYY-MM-DD, \"today\" or \"yesterday\""
            ))
        })?,
    };
    Ok((list, Scope::Day(day)))
}

pub async fn run(loaded: &Loaded, action: Option<ChecklistAction>) -> Result<u8, Failure> {
    let action = action.unwrap_or(ChecklistAction::Show {
        list: None,
        show: None,
        date: None,
        format: StatusFormat::Text,
    });
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let threshold = loaded.config.fraud.high_risk_threshold;
    match action {
        ChecklistAction::Show {
            list,
            show,
            date,
            format,
        } => {
            let (list, scope) = scope_of(loaded, list.as_deref(), show, date.as_deref())?;
            let c =
                checklists::evaluate(&pool, list, scope, Utc::now(), &loaded.timezone, threshold)
                    .await
                    .map_err(|e| Failure {
                        code: 1,
                        message: format!("checklist: {}", crate::store::short_reason(&e)),
                    })?;
            match format {
                StatusFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&c).map_err(|e| Failure {
                        code: 1,
                        message: format!("cannot encode the checklist: {e}"),
                    })?
                ),
                StatusFormat::Text => {
                    println!("{} ({}/{} done)", c.title, c.done(), c.items.len());
                    for i in &c.items {
                        println!(
                            "  [{}] {:<18} {:<46} {}{}",
                            if i.done { "x" } else { " " },
                            i.key,
                            i.label,
                            if i.check == Check::Data { "data: " } else { "" },
                            i.detail
                        );
                    }
                }
            }
            Ok(0)
        }
        ChecklistAction::Tick {
            list,
            item,
            show,
            date,
            note,
            undo,
        } => {
            let (list, scope) = scope_of(loaded, Some(&list), show, date.as_deref())?;
            let actor = Actor::new(crate::identity::os_account());
            match checklists::tick(&pool, &actor, list, scope, &item, note.as_deref(), undo).await {
                Ok(()) => {
                    println!(
                        "{} {} on the {} list",
                        if undo { "unticked" } else { "ticked" },
                        item,
                        list.as_str()
                    );
                    Ok(0)
                }
                Err(TickError::Invalid(m)) => Err(usage(m)),
                Err(TickError::Auth(e)) => Err(Failure::store("checklist tick", e)),
            }
        }
    }
}
