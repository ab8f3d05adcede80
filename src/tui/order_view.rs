//! The order overlay: `:order QUERY` from any pane (an order number, an
//! email, a PayPal payer id or capture id). It owns its state (the query,
//! the orders found or the order open, the selected item, the refund
//! dialog), its bindings ([`BINDINGS`], in the key registry's form, so
//! refusals and hints follow the permission table), its key handling and its
//! drawing. Lookups, reloads and refunds go to the orders task
//! (`super::orders_task`) as requests; answers come back through
//! [`OrderOverlay::on_outcome`]. Drawing is a pure function of this state.
//!
//! `R` refunds the selected item (one unit, its price pre-filled and
//! editable) with a reason; the amount is shown again and confirmed before
//! the request goes. The store authorizes it (agent limit) and writes the
//! refund with its outbox command; the view reloads as the refund lands.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::action::{Action, OrderAction};
use super::keymap::{Binding, Key, Keymap};
use super::orders_task::{Outcome, Request};
use super::panes::table::centered;
use super::theme::Theme;
use crate::domain::money::display_minor as money;
use crate::domain::operators::Permission;
use crate::store::orders::{OrderHit, OrderView};

/// The overlay's keys, in the registry's form (help texts ≤ 25 characters).
pub const BINDINGS: &[Binding] = &[
    Binding::read(
        "order_up",
        &[Key::Code(KeyCode::Up), Key::Char('k')],
        Action::Order(OrderAction::Up),
        "previous item / order",
        None,
    ),
    Binding::read(
        "order_down",
        &[Key::Code(KeyCode::Down), Key::Char('j')],
        Action::Order(OrderAction::Down),
        "next item / order",
        Some("j/k item"),
    ),
    Binding::read(
        "order_open",
        &[Key::Code(KeyCode::Enter)],
        Action::Order(OrderAction::Open),
        "open the order",
        None,
    ),
    Binding::change(
        "order_refund",
        &[Key::Char('R')],
        Action::Order(OrderAction::Refund),
        "refund the item (amount)",
        Some("R refund"),
        Permission::IssueRefunds,
    ),
    Binding::read(
        "order_close",
        &[Key::Code(KeyCode::Esc), Key::Char('q')],
        Action::Order(OrderAction::Close),
        "close the order",
        Some("Esc close"),
    ),
];

/// What the overlay shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Loading,
    NotFound,
    /// Several orders: pick one.
    List(Vec<OrderHit>),
    Order(Box<OrderView>),
}

/// The refund dialog's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Amount,
    Reason,
}

/// `R`: a refund being written, then confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDialog {
    pub order_number: String,
    /// (SKU, units) given back; the SKU shown.
    pub item: Option<(String, i32)>,
    pub amount: String,
    pub reason: String,
    pub field: Field,
    /// Enter once: the amount is shown for confirmation; Enter again sends.
    pub confirming: bool,
    pub currency: String,
    pub refundable_minor: i64,
}

/// The overlay's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderOverlay {
    pub query: String,
    pub shown: Shown,
    pub selected: usize,
    pub dialog: Option<RefundDialog>,
    /// The last outcome (a refund queued, a refusal).
    pub note: Option<String>,
}

impl OrderOverlay {
    /// Opens on `query`: the lookup is requested now.
    pub fn open(query: &str, requests: &mut Vec<Request>) -> OrderOverlay {
        requests.push(Request::Find(query.to_string()));
        OrderOverlay {
            query: query.to_string(),
            shown: Shown::Loading,
            selected: 0,
            dialog: None,
            note: None,
        }
    }

    /// The order open, if one is.
    pub fn order(&self) -> Option<&OrderView> {
        match &self.shown {
            Shown::Order(v) => Some(v),
            _ => None,
        }
    }

    /// A new snapshot arrived: the open order is read again (a refund landing,
    /// stock moving), in the background.
    pub fn refresh(&self, requests: &mut Vec<Request>) {
        if let Some(v) = self.order() {
            requests.push(Request::Load(v.id));
        }
    }

    /// An answer of the orders task.
    pub fn on_outcome(&mut self, out: Outcome, requests: &mut Vec<Request>) {
        match out {
            Outcome::Found { query, hits } if query == self.query => match hits.as_slice() {
                [] => self.shown = Shown::NotFound,
                [one] => requests.push(Request::Load(one.id)),
                _ => {
                    self.selected = 0;
                    self.shown = Shown::List(hits);
                }
            },
            Outcome::Found { .. } => {}
            Outcome::Loaded(Some(view)) => {
                // The same order again keeps the selection; another starts at the top.
                if self.order().map(|v| v.id) != Some(view.id) {
                    self.selected = 0;
                }
                self.selected = self.selected.min(view.items.len().saturating_sub(1));
                self.shown = Shown::Order(view);
            }
            Outcome::Loaded(None) => self.shown = Shown::NotFound,
            Outcome::Refunded(Ok(line)) => {
                self.note = Some(line);
                self.refresh(requests);
            }
            Outcome::Refunded(Err(line)) | Outcome::Failed(line) => self.note = Some(line),
            // The duplicates view's answers go there.
            Outcome::Duplicates(_) | Outcome::DuplicateRefunded(_) => {}
        }
    }

    /// A key the registry turned into an overlay action.
    pub fn act(&mut self, action: OrderAction, requests: &mut Vec<Request>) -> bool {
        let len = match &self.shown {
            Shown::List(hits) => hits.len(),
            Shown::Order(v) => v.items.len(),
            _ => 0,
        };
        match action {
            OrderAction::Close => return false,
            // The command line opens the overlay; inside it there is nothing to find.
            OrderAction::Find => {}
            OrderAction::Up => self.selected = self.selected.saturating_sub(1),
            OrderAction::Down => self.selected = (self.selected + 1).min(len.saturating_sub(1)),
            OrderAction::Open => {
                if let Shown::List(hits) = &self.shown
                    && let Some(hit) = hits.get(self.selected)
                {
                    requests.push(Request::Load(hit.id));
                    self.shown = Shown::Loading;
                }
            }
            OrderAction::Refund => self.start_refund(),
        }
        true
    }

    fn start_refund(&mut self) {
        let Some(v) = self.order() else {
            self.note = Some("open an order first".into());
            return;
        };
        let left = v.refundable_minor();
        if left <= 0 {
            self.note = Some(format!("{}: nothing left to refund", v.order_number));
            return;
        }
        let item = v
            .items
            .get(self.selected)
            .filter(|i| i.quantity > i.released_qty);
        let price = item.map_or(left, |i| i.unit_price_minor.min(left));
        let amount = crate::domain::money::Currency::parse(&v.currency)
            .map(|c| crate::domain::money::Money::new(price, c).to_major_string())
            .unwrap_or_default();
        self.dialog = Some(RefundDialog {
            order_number: v.order_number.clone(),
            item: item.map(|i| (i.sku.clone(), 1)),
            amount,
            reason: String::new(),
            field: Field::Reason,
            confirming: false,
            currency: v.currency.clone(),
            refundable_minor: left,
        });
    }

    /// A key while the refund dialog is open.
    pub fn dialog_key(&mut self, k: KeyEvent, requests: &mut Vec<Request>) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        match k.code {
            KeyCode::Esc if d.confirming => d.confirming = false,
            KeyCode::Esc => self.dialog = None,
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down if !d.confirming => {
                d.field = match d.field {
                    Field::Amount => Field::Reason,
                    Field::Reason => Field::Amount,
                };
            }
            KeyCode::Enter if !d.confirming => {
                if d.reason.trim().is_empty() {
                    self.note = Some("a reason is required".into());
                } else if d.amount.trim().is_empty() {
                    self.note = Some("an amount is required".into());
                } else {
                    d.confirming = true;
                }
            }
            KeyCode::Enter => {
                requests.push(Request::Refund {
                    order: d.order_number.clone(),
                    amount: d.amount.trim().to_string(),
                    items: d.item.iter().cloned().collect(),
                    reason: d.reason.trim().to_string(),
                });
                self.note = Some(format!(
                    "refund of {} {} sent...",
                    d.amount.trim(),
                    d.currency
                ));
                self.dialog = None;
            }
            KeyCode::Backspace if !d.confirming => {
                match d.field {
                    Field::Amount => d.amount.pop(),
                    Field::Reason => d.reason.pop(),
                };
            }
            KeyCode::Char(c) if !d.confirming => match d.field {
                Field::Amount if c.is_ascii_digit() || c == '.' => {
                    if d.amount.len() < 16 {
                        d.amount.push(c);
                    }
                }
                Field::Amount => {}
                Field::Reason => {
                    if d.reason.chars().count() < 200 {
                        d.reason.push(c);
                    }
                }
            },
            _ => {}
        }
    }

    /// The footer hints of the overlay for this operator.
    pub fn hints(keymap: &Keymap) -> Vec<String> {
        BINDINGS
            .iter()
            .filter(|b| keymap.allows(b))
            .filter_map(|b| keymap.footer(b))
            .collect()
    }

    /// Draws the overlay over `body`.
    pub fn draw(&self, f: &mut Frame, body: Rect, theme: &Theme, tz: &chrono_tz::Tz) {
        let area = centered(body, body.width.saturating_sub(4).min(110), body.height);
        let title = match &self.shown {
            Shown::Order(v) => format!(" Order {} ", v.order_number),
            _ => format!(" :order {} ", self.query),
        };
        let keys = match (&self.dialog, &self.shown) {
            (Some(d), _) if d.confirming => " Enter send to PayPal  Esc back ".to_string(),
            (Some(_), _) => " Tab field  Enter confirm  Esc cancel ".to_string(),
            (None, Shown::List(_)) => " j/k pick  Enter open  Esc close ".to_string(),
            (None, _) => " j/k item  R refund  Esc close ".to_string(),
        };
        let block = Block::bordered()
            .border_set(theme.sym.focus_border)
            .border_style(theme.border_focus)
            .title(Line::styled(title, theme.title))
            .title_bottom(Line::styled(keys, theme.muted));
        let (mut lines, anchor) = match &self.shown {
            Shown::Loading => (vec![Line::styled("looking...", theme.muted)], 0),
            Shown::NotFound => (
                vec![Line::styled(
                    format!(
                        "no order matches {} (order number, email, payer id or capture id)",
                        self.query
                    ),
                    theme.warning,
                )],
                0,
            ),
            Shown::List(hits) => (
                list_lines(hits, self.selected, theme, tz),
                self.selected + 1,
            ),
            Shown::Order(v) => order_lines(v, self.selected, theme, tz),
        };
        let mut anchor = anchor;
        if let Some(note) = &self.note {
            lines.insert(0, Line::styled(note.clone(), theme.warning));
            anchor += 1;
        }
        // The selected line stays on screen: scroll past the top part if needed.
        let visible = area.height.saturating_sub(2) as usize;
        let scroll = (anchor + 3).saturating_sub(visible);
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false })
                .scroll((u16::try_from(scroll).unwrap_or(0), 0)),
            area,
        );
        if let Some(d) = &self.dialog {
            draw_dialog(f, area, d, theme);
        }
    }
}

fn local(t: DateTime<Utc>, tz: &chrono_tz::Tz) -> String {
    t.with_timezone(tz).format("%a %m-%d %H:%M").to_string()
}

fn list_lines(
    hits: &[OrderHit],
    selected: usize,
    theme: &Theme,
    tz: &chrono_tz::Tz,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        format!("{} orders, newest first:", hits.len()),
        theme.muted,
    )];
    for (i, h) in hits.iter().enumerate() {
        let style = if i == selected {
            theme.selected
        } else {
            theme.text
        };
        lines.push(Line::styled(
            format!(
                "{}{:<12} {:<15} {:>11}  {}  {}",
                if i == selected {
                    theme.sym.select
                } else {
                    "  "
                },
                h.order_number,
                h.status,
                money(h.total_minor, &h.currency),
                local(h.created_at, tz),
                h.email
            ),
            style,
        ));
    }
    lines
}

/// The order's lines, and the index of the selected item's line.
fn order_lines(
    v: &OrderView,
    selected: usize,
    theme: &Theme,
    tz: &chrono_tz::Tz,
) -> (Vec<Line<'static>>, usize) {
    let m = |minor: i64| money(minor, &v.currency);
    let kv = |k: &str, val: String| {
        Line::from(vec![
            Span::styled(format!("{k:<11}"), theme.muted),
            Span::styled(val, theme.text),
        ])
    };
    let mut l = vec![
        kv(
            "status",
            format!(
                "{}  total {}  placed {}",
                v.status,
                m(v.total_minor),
                local(v.created_at, tz)
            ),
        ),
        kv(
            "customer",
            format!(
                "{} <{}>  payer {}",
                v.customer,
                v.email,
                v.payer_id.as_deref().unwrap_or("-")
            ),
        ),
        kv(
            "fraud",
            format!(
                "score {} ({}){}",
                v.fraud_score.map_or("-".into(), |s| s.to_string()),
                v.fraud_state,
                v.fraud_decision
                    .as_ref()
                    .map(|(d, by, why)| format!("  {d} by {by}: {why}"))
                    .unwrap_or_default()
            ),
        ),
    ];
    let shipping = match &v.tracking {
        Some(t) => format!(
            "{} {}  {}",
            t.carrier,
            t.number,
            t.link.as_deref().unwrap_or("")
        ),
        None => "not shipped".into(),
    };
    l.push(kv("tracking", shipping));
    let mut dates = Vec::new();
    if let Some(d) = v.ship_by {
        dates.push(format!("ship by {}", local(d, tz)));
    }
    if let Some(d) = v.delivered_at {
        dates.push(format!("delivered {}", local(d, tz)));
    }
    if let Some(d) = v.return_by {
        dates.push(format!("returns until {}", local(d, tz)));
    }
    if !dates.is_empty() {
        l.push(kv("dates", dates.join("  ")));
    }
    l.push(Line::styled("items", theme.title));
    let anchor = l.len() + selected;
    for (i, it) in v.items.iter().enumerate() {
        let sel = i == selected;
        let mut text = format!(
            "{}{:<12} {:<26} {} x {:>9}  stock {} avail ({} on hand)",
            if sel { theme.sym.select } else { "  " },
            it.sku,
            it.name.chars().take(26).collect::<String>(),
            it.quantity,
            m(it.unit_price_minor),
            it.stock_on_hand - it.stock_reserved,
            it.stock_on_hand
        );
        if it.released_qty > 0 {
            text.push_str(&format!("  {} given back", it.released_qty));
        }
        if it.returned_qty > 0 {
            text.push_str(&format!("  {} returned", it.returned_qty));
        }
        l.push(Line::styled(
            text,
            if sel { theme.selected } else { theme.text },
        ));
    }
    l.push(Line::styled("payments", theme.title));
    for p in &v.payments {
        l.push(Line::styled(
            format!(
                "  {} {} {}  refunded {}",
                p.capture_id,
                p.status,
                money(p.amount_minor, &p.currency),
                money(p.refunded_minor, &p.currency)
            ),
            theme.text,
        ));
    }
    for r in &v.refunds {
        let style = match r.status.as_str() {
            "failed" => theme.critical,
            "completed" => theme.ok,
            _ => theme.warning,
        };
        l.push(Line::styled(
            format!(
                "  refund {} {} {} by {}: {}{}",
                money(r.amount_minor, &r.currency),
                r.status,
                r.paypal_refund_id.as_deref().unwrap_or(""),
                r.requested_by,
                r.reason,
                r.failure
                    .as_deref()
                    .map(|f| format!("  {f}"))
                    .unwrap_or_default()
            ),
            style,
        ));
    }
    l.push(kv("refundable", m(v.refundable_minor())));
    for d in &v.disputes {
        l.push(kv(
            "dispute",
            format!(
                "{} {} {} {}",
                d.paypal_dispute_id,
                d.state,
                d.reason,
                money(d.amount_minor, &d.currency)
            ),
        ));
    }
    for r in &v.returns {
        l.push(kv(
            "return",
            format!("{} {}: {}", r.rma_number, r.state, r.reason),
        ));
    }
    if !v.other_orders.is_empty() {
        l.push(Line::styled("the customer's other orders", theme.title));
        for o in &v.other_orders {
            l.push(Line::styled(
                format!(
                    "  {:<12} {:<15} {:>11}  {}",
                    o.order_number,
                    o.status,
                    money(o.total_minor, &o.currency),
                    local(o.created_at, tz)
                ),
                theme.muted,
            ));
        }
    }
    (l, anchor)
}

fn draw_dialog(f: &mut Frame, over: Rect, d: &RefundDialog, theme: &Theme) {
    let area = centered(over, over.width.saturating_sub(8).min(70), 8);
    let title = if d.confirming {
        " Confirm refund "
    } else {
        " Refund "
    };
    let field = |name: &str, value: &str, on: bool| {
        Line::from(vec![
            Span::styled(format!("{name:<8}"), theme.muted),
            Span::styled(
                format!("{value}{}", if on && !d.confirming { "_" } else { "" }),
                if on { theme.accent } else { theme.text },
            ),
        ])
    };
    let left = money(d.refundable_minor, &d.currency);
    let mut lines = vec![
        Line::styled(
            format!(
                "{}{}  (up to {left})",
                d.order_number,
                d.item
                    .as_ref()
                    .map(|(sku, n)| format!(": {n} x {sku} back to stock"))
                    .unwrap_or_default()
            ),
            theme.text,
        ),
        field(
            "amount",
            &format!("{} {}", d.amount, d.currency),
            d.field == Field::Amount,
        ),
        field("reason", &d.reason, d.field == Field::Reason),
    ];
    if d.confirming {
        lines.push(Line::styled(
            format!(
                "Refund {} {} to the buyer through PayPal?",
                d.amount, d.currency
            ),
            theme.warning,
        ));
    }
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(title, theme.title));
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
