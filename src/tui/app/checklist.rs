//! The checklist overlay and pane 2's show report in the app. The checklist: opening it from the command line, its
//! keys (a tick is refused here when the operator's role lacks
//! `WorkChecklists`, and checked again by the store), and the answers of the
//! operations task.

use crossterm::event::{KeyCode, KeyEvent};

use super::App;
use crate::domain::operators::Permission;
use crate::tui::action::Action;
use crate::tui::checklist_view::{Answer, ChecklistOverlay, Key};

impl App {
    /// A key while the overlay is open: its own keys, `q` still quits.
    pub(super) fn translate_checklist_key(k: &KeyEvent) -> Option<Action> {
        Some(match k.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Esc => Action::ChecklistKey(Key::Close),
            KeyCode::Up | KeyCode::Char('k') => Action::ChecklistKey(Key::Up),
            KeyCode::Down | KeyCode::Char('j') => Action::ChecklistKey(Key::Down),
            KeyCode::Char('t') | KeyCode::Char(' ') => Action::ChecklistKey(Key::Tick),
            KeyCode::Tab => Action::ChecklistKey(Key::Switch),
            _ => return None,
        })
    }

    /// `:checklist [LIST]`: the overlay opens and its list is requested.
    pub(super) fn open_checklist(&mut self, arg: &str) {
        let now = self.now.with_timezone(&self.tz);
        match ChecklistOverlay::open(arg, now) {
            Ok(overlay) => {
                self.requests.checklist.push(overlay.load());
                self.checklist = Some(Box::new(overlay));
            }
            Err(message) => self.message = Some(message),
        }
    }

    pub(super) fn checklist_key(&mut self, key: Key) {
        if key == Key::Close {
            self.checklist = None;
            return;
        }
        let may = self.keymap.may(Permission::WorkChecklists);
        let Some(overlay) = self.checklist.as_mut() else {
            return;
        };
        match overlay.key(key, may) {
            Ok(Some(req)) => self.requests.checklist.push(req),
            Ok(None) => {}
            Err(message) => self.message = Some(message),
        }
    }

    /// An answer for the overlay (dropped once it is closed).
    pub(super) fn on_checklist(&mut self, answer: Answer) {
        let Some(overlay) = self.checklist.as_mut() else {
            return;
        };
        match answer {
            Answer::Loaded(loaded) => overlay.on_loaded(loaded),
            Answer::Ticked(Ok(message)) => {
                self.message = Some(message);
                let load = overlay.load();
                self.requests.checklist.push(load);
            }
            Answer::Ticked(Err(message)) => self.message = Some(message),
        }
    }
}

impl App {
    /// `Enter` on an ended show in pane 2: while its detail is open, the
    /// show's performance report is requested once and drawn over it.
    pub(super) fn sync_show_report(&mut self) {
        let table = &self.panes.shows.table;
        let want = (self.focus == crate::tui::panes::PaneId::Shows && table.detail)
            .then(|| {
                let s = self.snapshot()?;
                let show = s.shows.get(table.selected_row()?)?;
                (show.status == "ended").then_some(show.id)
            })
            .flatten();
        match want {
            Some(id) if self.show_report.as_ref().map(|r| r.0) != Some(id) => {
                self.show_report = Some((id, None));
                self.requests
                    .payouts
                    .push(crate::tui::ops_task::Request::ShowReport(id));
            }
            Some(_) => {}
            None => self.show_report = None,
        }
    }
}
