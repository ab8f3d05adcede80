//! The checklist overlay (`:checklist [morning|evening|preshow ID|postshow
//! ID]`, any pane): the list with each item done or open and why, `j`/`k` to
//! move, `t` to tick or untick an operator's item (refused by the permission
//! table like any change, and checked again by the store), `Tab` between the
//! morning and evening lists, `Esc` to close. It reloads whenever a new
//! snapshot arrives, so another operator's tick shows at once; the work runs
//! in the operations task ([`super::ops_task`]), never on the draw path.

use chrono::Utc;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use sqlx::PgPool;

use crate::domain::checklists::{Check, List};
use crate::domain::operators::{Actor, Permission};
use crate::store::checklists::{self, Checklist, Scope, TickError};
use crate::tui::theme::Theme;

/// What the overlay asks the operations task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Load {
        list: List,
        scope: Scope,
    },
    Tick {
        list: List,
        scope: Scope,
        key: String,
        undo: bool,
    },
}

/// Its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Loaded(Result<Checklist, String>),
    Ticked(Result<String, String>),
}

/// The time zone and threshold the evaluation needs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub tz: chrono_tz::Tz,
    pub threshold: u8,
}

/// Runs one request (in the operations task).
pub async fn handle(pool: &PgPool, actor: &Actor, s: Settings, req: Request) -> Answer {
    match req {
        Request::Load { list, scope } => Answer::Loaded(
            checklists::evaluate(pool, list, scope, Utc::now(), &s.tz, s.threshold)
                .await
                .map_err(|e| format!("checklist: {}", crate::store::short_reason(&e))),
        ),
        Request::Tick {
            list,
            scope,
            key,
            undo,
        } => Answer::Ticked(
            match checklists::tick(pool, actor, list, scope, &key, None, undo).await {
                Ok(()) => Ok(format!(
                    "{} {key} on the {} list",
                    if undo { "unticked" } else { "ticked" },
                    list.as_str()
                )),
                Err(TickError::Invalid(m)) => Err(m),
                Err(TickError::Auth(e)) => Err(e.to_string()),
            },
        ),
    }
}

/// The overlay's state.
#[derive(Debug, Clone)]
pub struct ChecklistOverlay {
    pub list: List,
    pub scope: Scope,
    pub data: Option<Checklist>,
    pub selected: usize,
    pub error: Option<String>,
}

/// Keys of the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Tick,
    Switch,
    Close,
}

impl ChecklistOverlay {
    /// Parses the command's argument: nothing (the current day list),
    /// `morning`/`evening` (today), `preshow ID`/`postshow ID`.
    pub fn open(arg: &str, now_local: chrono::DateTime<chrono_tz::Tz>) -> Result<Self, String> {
        let mut words = arg.split_whitespace();
        let today = now_local.date_naive();
        let (list, scope) = match words.next() {
            None => (
                checklists::current_day_list(now_local.time()),
                Scope::Day(today),
            ),
            Some(name) => {
                let list = List::parse(name).ok_or_else(|| {
                    format!("no checklist \"{name}\": morning, evening, preshow ID, postshow ID")
                })?;
                if list.per_show() {
                    let id = words
                        .next()
                        .and_then(|w| w.trim_start_matches('#').parse::<i64>().ok())
                        .ok_or_else(|| format!("usage: :checklist {} SHOW_ID", list.as_str()))?;
                    (list, Scope::Show(id))
                } else {
                    (list, Scope::Day(today))
                }
            }
        };
        Ok(ChecklistOverlay {
            list,
            scope,
            data: None,
            selected: 0,
            error: None,
        })
    }

    pub fn load(&self) -> Request {
        Request::Load {
            list: self.list,
            scope: self.scope,
        }
    }

    /// A key: the request it makes, if any; `Err(())` closes the overlay.
    /// `may_tick` is the operator's `WorkChecklists` as the keymap knows it.
    pub fn key(&mut self, key: Key, may_tick: bool) -> Result<Option<Request>, String> {
        let len = self.data.as_ref().map_or(0, |c| c.items.len());
        match key {
            Key::Up => self.selected = self.selected.saturating_sub(1),
            Key::Down => self.selected = (self.selected + 1).min(len.saturating_sub(1)),
            Key::Switch => {
                if let Scope::Day(_) = self.scope {
                    self.list = match self.list {
                        List::Morning => List::Evening,
                        _ => List::Morning,
                    };
                    self.data = None;
                    self.selected = 0;
                    return Ok(Some(self.load()));
                }
            }
            Key::Tick => {
                let Some(item) = self.data.as_ref().and_then(|c| c.items.get(self.selected)) else {
                    return Ok(None);
                };
                if item.check == Check::Data {
                    return Err(format!(
                        "\"{}\" is settled by the data: {}",
                        item.key, item.detail
                    ));
                }
                if !may_tick {
                    return Err(format!(
                        "ticking needs the role to {}",
                        Permission::WorkChecklists.what()
                    ));
                }
                return Ok(Some(Request::Tick {
                    list: self.list,
                    scope: self.scope,
                    key: item.key.to_string(),
                    undo: item.done,
                }));
            }
            Key::Close => {}
        }
        Ok(None)
    }

    pub fn on_loaded(&mut self, loaded: Result<Checklist, String>) {
        match loaded {
            Ok(c) if c.list == self.list && c.scope == self.scope => {
                self.selected = self.selected.min(c.items.len().saturating_sub(1));
                self.data = Some(c);
                self.error = None;
            }
            Ok(_) => {}
            Err(e) => self.error = Some(e),
        }
    }

    pub fn draw(&self, f: &mut Frame, body: Rect, theme: &Theme) {
        let area = crate::tui::panes::table::centered(body, 100, 14);
        let mut lines = Vec::new();
        let title = match &self.data {
            Some(c) => format!(" {} ({}/{} done) ", c.title, c.done(), c.items.len()),
            None => format!(" {} checklist: loading… ", self.list.as_str()),
        };
        if let Some(e) = &self.error {
            lines.push(Line::styled(e.clone(), theme.alarm));
        }
        if let Some(c) = &self.data {
            for (i, item) in c.items.iter().enumerate() {
                let mark = if item.done { "[x]" } else { "[ ]" };
                let how = if item.check == Check::Data {
                    "data"
                } else {
                    "tick"
                };
                let style = if i == self.selected {
                    theme.selected
                } else if item.done {
                    theme.muted
                } else {
                    theme.text
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{mark} {:<45} ", item.label), style),
                    Span::styled(format!("{how}: {}", item.detail), theme.muted),
                ]));
            }
        }
        let footer = if matches!(self.scope, Scope::Day(_)) {
            " j/k move  t tick/untick  Tab morning/evening  Esc close "
        } else {
            " j/k move  t tick/untick  Esc close "
        };
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(title)
                    .title_bottom(footer),
            ),
            area,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::checklists::{Evaluated, MORNING};

    fn overlay() -> ChecklistOverlay {
        let now = chrono_tz::UTC.from_utc_datetime(
            &chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
        );
        let mut o = ChecklistOverlay::open("", now).unwrap();
        let items = MORNING
            .iter()
            .map(|i| Evaluated {
                key: i.key,
                label: i.label,
                check: i.check,
                done: false,
                detail: "open".into(),
            })
            .collect();
        o.on_loaded(Ok(Checklist {
            list: o.list,
            scope: o.scope,
            title: "morning checklist, 2026-12-01".into(),
            items,
        }));
        o
    }

    use chrono::TimeZone;

    #[test]
    fn ticks_only_operator_items_and_only_with_the_role() {
        let mut o = overlay();
        assert_eq!(o.list, List::Morning);
        // Item 0 is settled by the data.
        assert!(o.key(Key::Tick, true).is_err());
        o.key(Key::Down, true).unwrap();
        assert!(o.key(Key::Tick, false).is_err(), "a viewer cannot tick");
        assert_eq!(
            o.key(Key::Tick, true).unwrap(),
            Some(Request::Tick {
                list: List::Morning,
                scope: o.scope,
                key: "overnight_orders".into(),
                undo: false
            })
        );
        assert!(matches!(
            o.key(Key::Switch, true).unwrap(),
            Some(Request::Load {
                list: List::Evening,
                ..
            })
        ));
    }

    #[test]
    fn arguments_name_the_list_and_the_show() {
        let now = chrono_tz::UTC.from_utc_datetime(
            &chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(19, 0, 0)
                .unwrap(),
        );
        assert_eq!(ChecklistOverlay::open("", now).unwrap().list, List::Evening);
        let o = ChecklistOverlay::open("preshow 42", now).unwrap();
        assert_eq!((o.list, o.scope), (List::Preshow, Scope::Show(42)));
        assert!(ChecklistOverlay::open("preshow", now).is_err());
        assert!(ChecklistOverlay::open("lunch", now).is_err());
    }
}
