//! The duplicates view in the app: opening it (`:duplicates`), its keys (`R`
//! is refused here when the operator's role may not refund, and checked again
//! by the store), and the orders task's answers for it.

use crossterm::event::{KeyCode, KeyEvent};

use super::App;
use crate::domain::operators::Permission;
use crate::tui::action::Action;
use crate::tui::duplicates_view::{DuplicatesOverlay, Key};
use crate::tui::orders_task::Outcome;

impl App {
    /// A key while the view is open: its own keys; `q` still quits outside
    /// the confirmation.
    pub(super) fn translate_duplicates_key(k: &KeyEvent, confirming: bool) -> Option<Action> {
        let key = if confirming {
            match k.code {
                KeyCode::Enter | KeyCode::Char('y') => Key::Yes,
                KeyCode::Esc | KeyCode::Char('n') => Key::No,
                _ => return None,
            }
        } else {
            match k.code {
                KeyCode::Char('q') => return Some(Action::Quit),
                KeyCode::Esc => Key::Close,
                KeyCode::Up | KeyCode::Char('k') => Key::Up,
                KeyCode::Down | KeyCode::Char('j') => Key::Down,
                KeyCode::Char('R') => Key::Refund,
                _ => return None,
            }
        };
        Some(Action::DuplicatesKey(key))
    }

    /// `:duplicates`: the view opens and its list is requested.
    pub(super) fn open_duplicates(&mut self) {
        self.duplicates = Some(Box::new(DuplicatesOverlay::open(
            self.now,
            &mut self.requests.orders,
        )));
    }

    pub(super) fn duplicates_key(&mut self, key: Key) {
        let may = self.keymap.check(Permission::IssueRefunds);
        if key == Key::Refund
            && self
                .duplicates
                .as_ref()
                .is_some_and(|d| d.confirm.is_none())
            && let Err(why) = &may
        {
            // Said like any refused key: the role (or a read-only session);
            // before the first answer the role is not known yet.
            self.message = Some(if self.data.role.is_none() {
                "duplicate_refund: still loading who you are; try again in a moment".into()
            } else {
                format!("duplicate_refund: {why}")
            });
            return;
        }
        let Some(view) = self.duplicates.as_mut() else {
            return;
        };
        match view.key(key, may.is_ok(), &mut self.requests.orders) {
            Ok(true) => {}
            Ok(false) => self.duplicates = None,
            Err(message) => self.message = Some(message),
        }
    }

    /// An answer for the view (dropped once it is closed).
    pub(super) fn on_duplicates(&mut self, out: Outcome) {
        let now = self.now;
        if let Some(view) = self.duplicates.as_mut() {
            view.on_outcome(out, now, &mut self.requests.orders);
        }
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;

    use crate::domain::operators::Role;
    use crate::store::orders::fixture;
    use crate::tui::app::tests::{app, chars, now, press, set_role};
    use crate::tui::orders_task::{Outcome, Request};

    fn opened(role: Role) -> crate::tui::app::App {
        let mut a = app(false, (80, 24));
        set_role(&mut a, role);
        chars(&mut a, ":dup");
        press(&mut a, KeyCode::Enter);
        assert_eq!(
            a.requests.orders.drain(..).collect::<Vec<_>>(),
            vec![Request::Duplicates]
        );
        a.on_orders(Outcome::Duplicates(Ok(fixture::duplicates(now()))));
        a
    }

    #[test]
    fn duplicates_opens_from_the_command_line_and_r_y_refunds_the_later_charge() {
        let mut a = opened(Role::Agent);
        chars(&mut a, "R");
        assert!(a.requests.orders.is_empty(), "confirmation first");
        assert!(a.duplicates.as_ref().is_some_and(|d| d.confirm.is_some()));
        // q does not quit inside the confirmation; y sends.
        chars(&mut a, "q");
        assert!(!a.quit);
        chars(&mut a, "y");
        assert_eq!(
            a.requests.orders.drain(..).collect::<Vec<_>>(),
            vec![Request::RefundDuplicate {
                capture_id: "CAP-0001241-A".into(),
                later_order: "LSN-0001241".into(),
                expected_minor: 4_599,
            }]
        );
        press(&mut a, KeyCode::Esc);
        assert!(a.duplicates.is_none());
    }

    #[test]
    fn a_viewer_sees_the_duplicates_but_r_is_refused() {
        let mut a = opened(Role::Viewer);
        chars(&mut a, "R");
        assert!(a.duplicates.as_ref().is_some_and(|d| d.confirm.is_none()));
        assert!(a.requests.orders.is_empty());
        assert!(
            a.message
                .as_deref()
                .is_some_and(|m| m.starts_with("duplicate_refund: ") && m.contains("viewer")),
            "{:?}",
            a.message
        );
    }
}
