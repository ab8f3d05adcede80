//! The order overlay in the app: opening it from the command line, routing
//! keys to it (its bindings, refused by the permission table like any other),
//! and the orders task's answers.

use crossterm::event::KeyEvent;

use super::App;
use crate::tui::action::{Action, OrderAction};
use crate::tui::order_view::{BINDINGS, OrderOverlay};
use crate::tui::orders_task::Outcome;

impl App {
    /// `:order QUERY`: the overlay opens and the lookup is requested.
    pub(super) fn open_order(&mut self, query: &str) {
        if query.is_empty() {
            self.message = Some("usage: :order NUMBER | EMAIL | PAYER ID | CAPTURE ID".into());
            return;
        }
        self.order = Some(Box::new(OrderOverlay::open(
            query,
            &mut self.requests.orders,
        )));
    }

    /// A key while the overlay is open: its dialog takes every key; else its
    /// bindings, as far as this operator may use them.
    pub(super) fn translate_order_key(&self, k: &KeyEvent) -> Option<Action> {
        let order = self.order.as_ref()?;
        if order.dialog.is_some() {
            return Some(Action::OrderKey(*k));
        }
        let bound = BINDINGS.iter().find(|b| self.keymap.matches(b, k))?;
        match bound.needs {
            Some(permission) if !self.keymap.may(permission) => Some(Action::Refused {
                binding: bound.name,
                permission,
            }),
            _ => Some(bound.action),
        }
    }

    pub(super) fn order_action(&mut self, action: OrderAction) {
        if let Some(order) = self.order.as_mut()
            && !order.act(action, &mut self.requests.orders)
        {
            self.order = None;
        }
    }

    /// An answer from the orders task (for the overlay or the duplicates
    /// view; dropped once it is closed).
    pub fn on_orders(&mut self, out: Outcome) {
        if matches!(out, Outcome::Duplicates(_) | Outcome::DuplicateRefunded(_)) {
            self.on_duplicates(out);
            return;
        }
        if let Some(order) = self.order.as_mut() {
            order.on_outcome(out, &mut self.requests.orders);
        }
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;

    use crate::domain::operators::Role;
    use crate::store::orders::fixture;
    use crate::tui::app::tests::{app, chars, now, press, set_role};
    use crate::tui::order_view::Shown;
    use crate::tui::orders_task::{Outcome, Request};

    /// `:order EMAIL` → the lookup, one hit → the load, the view → shown.
    fn opened(role: Role) -> crate::tui::app::App {
        let mut a = app(false, (120, 40));
        set_role(&mut a, role);
        chars(&mut a, ":order jo.buyer@example.com");
        press(&mut a, KeyCode::Enter);
        assert_eq!(
            a.requests.orders.drain(..).collect::<Vec<_>>(),
            vec![Request::Find("jo.buyer@example.com".into())]
        );
        a.on_orders(Outcome::Found {
            query: "jo.buyer@example.com".into(),
            hits: fixture::hits(now()),
        });
        assert_eq!(
            a.requests.orders.drain(..).collect::<Vec<_>>(),
            vec![Request::Load(1234)]
        );
        a.on_orders(Outcome::Loaded(Some(Box::new(fixture::view(now())))));
        a
    }

    #[test]
    fn order_opens_from_any_pane_and_refunds_the_selected_item_after_confirming() {
        let mut a = opened(Role::Agent);
        assert!(matches!(
            a.order.as_ref().map(|o| &o.shown),
            Some(Shown::Order(_))
        ));
        // The second item, R: its price is pre-filled; a reason is required.
        press(&mut a, KeyCode::Down);
        chars(&mut a, "R");
        let d = a
            .order
            .as_ref()
            .and_then(|o| o.dialog.clone())
            .expect("dialog");
        assert_eq!(
            (d.amount.as_str(), d.item.clone()),
            ("35.00", Some(("SKU-LAMP-7".into(), 1)))
        );
        press(&mut a, KeyCode::Enter);
        assert!(
            a.order
                .as_ref()
                .is_some_and(|o| o.dialog.as_ref().is_some_and(|d| !d.confirming))
        );
        chars(&mut a, "Dented on arrival");
        press(&mut a, KeyCode::Enter);
        assert!(a.requests.orders.is_empty(), "shown for confirmation first");
        press(&mut a, KeyCode::Enter);
        assert_eq!(
            a.requests.orders.drain(..).collect::<Vec<_>>(),
            vec![Request::Refund {
                order: "LSN-0001234".into(),
                amount: "35.00".into(),
                items: vec![("SKU-LAMP-7".into(), 1)],
                reason: "Dented on arrival".into(),
            }]
        );
        // The answer, and a reload as it lands.
        a.on_orders(Outcome::Refunded(Ok("refund #78 of $35.00 queued".into())));
        assert_eq!(a.requests.orders, vec![Request::Load(1234)]);
        press(&mut a, KeyCode::Esc);
        assert!(a.order.is_none());
    }

    #[test]
    fn a_viewer_sees_the_order_but_r_is_refused_with_the_reason() {
        let mut a = opened(Role::Viewer);
        chars(&mut a, "R");
        assert!(a.order.as_ref().is_some_and(|o| o.dialog.is_none()));
        assert!(
            a.message.as_deref().is_some_and(|m| m.contains("refund")),
            "{:?}",
            a.message
        );
    }

    #[test]
    fn order_without_a_query_says_how() {
        let mut a = app(false, (120, 40));
        chars(&mut a, ":order");
        press(&mut a, KeyCode::Enter);
        assert!(a.order.is_none());
        assert!(
            a.message
                .as_deref()
                .is_some_and(|m| m.starts_with("usage: :order"))
        );
    }
}
