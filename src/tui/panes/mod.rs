//! The five panes, each a component ([`Pane`]) in a module of its own: its
//! state, its key bindings, what its actions do and how it draws. Their rows
//! are pure functions of a [`Snapshot`] ([`Rows`]). This module holds the
//! component contract, the contexts panes get ([`Cx`] to act, [`View`] to
//! draw) and the shared cell helpers.

pub mod alerts;
pub mod disputes;
pub mod fraud;
pub mod payouts;
pub mod shows;
pub mod table;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::action::{Nav, PaneAction};
use super::keymap::{Binding, Keymap, Section};
pub use super::pane_id::PaneId;
use super::poller::DataState;
use super::theme::Theme;
use super::triage;
use crate::domain::disputes::Urgency;
use crate::store::snapshot::Snapshot;
pub use table::{Rows, Table, TablePane};

/// A pane of the dashboard: it owns its state, turns the actions routed to it
/// into state changes and requests for background tasks, declares its key
/// bindings and draws itself. [`super::app::App`] keeps only what is shared
/// and routes by focus.
pub trait Pane {
    fn id(&self) -> PaneId;
    fn table(&self) -> &Table;
    fn table_mut(&mut self) -> &mut Table;
    /// Rows of this kind in the database (for the tab strip).
    fn total(&self, s: &Snapshot) -> i64;
    /// The identity of the selected row in `s`.
    fn selected_key(&self, s: &Snapshot) -> Option<i64>;
    /// Filters and sorts again (new filter or sort), keeping row `keep` selected.
    fn rebuild(&mut self, cx: &Cx, keep: Option<i64>);
    /// New data arrived (`old` is what the view was built from).
    fn on_data(&mut self, old: Option<&Snapshot>, cx: &mut Cx) {
        let keep = old.and_then(|s| self.selected_key(s));
        self.rebuild(cx, keep);
    }
    /// Moves, opens, sorts. False: not handled here (the app unzooms on Esc).
    fn nav(&mut self, nav: Nav, cx: &mut Cx) -> bool;
    /// The pane's own bindings, all of them (help lists them by section).
    fn sections(&self) -> &'static [Section] {
        &[]
    }
    /// Whether a binding (the pane's or an app-wide one) means something in
    /// the pane's current view; one that does not is left out of the hints
    /// and its key does nothing.
    fn applies(&self, _binding: &Binding) -> bool {
        true
    }
    /// One of the pane's own actions.
    fn act(&mut self, _action: PaneAction, _cx: &mut Cx) {}
    /// A dialog is open: every key goes to [`Pane::modal_key`].
    fn modal(&self) -> bool {
        false
    }
    fn modal_key(&mut self, _key: KeyEvent, _cx: &mut Cx) {}
    /// `/` was pressed: the filter line takes the keyboard.
    fn start_filter(&mut self, _cx: &mut Cx) {
        self.table_mut().detail = false;
    }
    /// What the filter line explains while typing (the Fraud pane's terms).
    fn filter_hint(&self) -> Option<&'static str> {
        None
    }
    /// The selected row's main id, for `y` (order number, dispute id, ...).
    fn copy_id(&self, s: &Snapshot) -> Option<String>;
    /// `:command ARG`: selects the first row matching `query` and opens it.
    /// False when no row shown matches.
    fn find(&mut self, query: &str, cx: &mut Cx) -> bool;
    /// The screen (and so the pane's height) changed.
    fn clamp(&mut self, rows: usize, _s: Option<&Snapshot>) {
        self.table_mut().clamp(rows);
    }
    /// The operator quits: give back what this dashboard holds.
    fn quit(&mut self, _cx: &mut Cx) {}
    /// The last answer of this pane's background work, for the footer.
    fn status(&self, _keymap: &Keymap) -> Option<&str> {
        None
    }
    /// The pane's frame and rows.
    fn draw(&self, f: &mut Frame, area: Rect, v: &View);
    /// What the pane shows over the body: its detail view, its dialogs.
    fn draw_overlay(&self, f: &mut Frame, body: Rect, v: &View);
}

/// Requests for the background tasks, drained by the UI loop after each update.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    /// For the triage task (claims, decisions, blocklist edits).
    pub triage: Vec<triage::Request>,
    /// Fraud order details for the detail task.
    pub details: Vec<i64>,
    /// Text for the terminal's clipboard (OSC 52).
    pub clipboard: Option<String>,
    /// For the payouts task.
    pub payouts: Vec<super::ops_task::Request>,
    /// For the orders task (the order overlay).
    pub orders: Vec<super::orders_task::Request>,
    /// Pane 1's alert and incident actions (the same task).
    pub alerts: Vec<super::alerts_task::Request>,
    /// The checklist overlay's loads and ticks (the same task).
    pub checklist: Vec<super::checklist_view::Request>,
    /// Pane 3's actions and detail loads (the same task).
    pub disputes: Vec<super::disputes_task::Request>,
}

/// What a pane may use while it handles an action: the shared state, and
/// where its requests and footer messages go.
pub struct Cx<'a> {
    pub data: &'a DataState,
    pub now: DateTime<Utc>,
    pub tz: chrono_tz::Tz,
    pub threshold: u8,
    pub operator: &'a str,
    pub keymap: &'a Keymap,
    pub wall: bool,
    /// The pane acted on has the focus.
    pub focused: bool,
    /// The pane's visible rows at the current size.
    pub rows: usize,
    /// Lines a detail page scrolls.
    pub page: u16,
    /// The body is zoomed to this one pane (a pane may ask for it).
    pub zoom: &'a mut bool,
    pub requests: &'a mut Requests,
    /// The footer's one-line message (cleared by the next key).
    pub message: &'a mut Option<String>,
}

impl Cx<'_> {
    pub fn snap(&self) -> Option<&Snapshot> {
        self.data.snapshot.as_deref()
    }

    pub fn snapshot_arc(&self) -> Option<&Arc<Snapshot>> {
        self.data.snapshot.as_ref()
    }
}

/// What a pane may use while it draws: the shared state, read-only.
pub struct View<'a> {
    pub data: &'a DataState,
    pub now: DateTime<Utc>,
    pub tz: &'a chrono_tz::Tz,
    pub theme: &'a Theme,
    pub threshold: u8,
    pub operator: &'a str,
    pub keymap: &'a Keymap,
    pub wall: bool,
    /// The pane being drawn has the focus.
    pub focused: bool,
}

impl<'a> View<'a> {
    pub fn snapshot(&self) -> Option<&'a Snapshot> {
        self.data.snapshot.as_deref()
    }

    /// The cell context for rows of `snap`, with `marked` rows starred.
    pub fn ctx<'b>(&'b self, snap: &'b Snapshot, marked: &'b BTreeSet<i64>) -> Ctx<'b> {
        Ctx {
            snap,
            now: self.now,
            tz: self.tz,
            theme: self.theme,
            threshold: self.threshold,
            operator: self.operator,
            marked,
        }
    }
}

/// The five panes, each its own component.
#[derive(Debug, Clone, Default)]
pub struct Panes {
    pub alerts: alerts::AlertsPane,
    pub shows: shows::ShowsPane,
    pub disputes: disputes::DisputesPane,
    pub payouts: payouts::PayoutsPane,
    pub fraud: fraud::FraudPane,
}

impl Panes {
    pub fn get(&self, id: PaneId) -> &dyn Pane {
        match id {
            PaneId::Alerts => &self.alerts,
            PaneId::Shows => &self.shows,
            PaneId::Disputes => &self.disputes,
            PaneId::Payouts => &self.payouts,
            PaneId::Fraud => &self.fraud,
        }
    }

    pub fn get_mut(&mut self, id: PaneId) -> &mut dyn Pane {
        match id {
            PaneId::Alerts => &mut self.alerts,
            PaneId::Shows => &mut self.shows,
            PaneId::Disputes => &mut self.disputes,
            PaneId::Payouts => &mut self.payouts,
            PaneId::Fraud => &mut self.fraud,
        }
    }
}

/// One table column. Narrow panes drop columns, highest `drop` first
/// (0 = never dropped).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub width: Constraint,
    pub right: bool,
    pub drop: u8,
}

pub const fn col(name: &'static str, width: u16, right: bool, drop: u8) -> Column {
    Column {
        name,
        width: Constraint::Length(width),
        right,
        drop,
    }
}

pub const fn fill(name: &'static str, drop: u8) -> Column {
    Column {
        name,
        width: Constraint::Fill(1),
        right: false,
        drop,
    }
}

/// Narrowest useful width of a fill column.
pub const FILL_MIN: u16 = 14;

/// The columns that fit in `width` cells (one space between columns), in
/// order: the never-dropped ones, then the others by importance while they fit.
pub fn fit_columns(cols: &[Column], width: u16) -> Vec<usize> {
    let cost = |c: &Column| -> u32 {
        match c.width {
            Constraint::Length(n) => u32::from(n) + 1,
            _ => u32::from(FILL_MIN) + 1,
        }
    };
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|&i| (cols[i].drop, i));
    let mut used = 0u32;
    let mut keep = Vec::with_capacity(cols.len());
    for i in order {
        let c = cost(&cols[i]);
        if cols[i].drop == 0 || used + c <= u32::from(width) + 1 {
            used += c;
            keep.push(i);
        }
    }
    keep.sort_unstable();
    keep
}

/// What a pane needs to draw: the data, the clock and the looks.
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub now: DateTime<Utc>,
    pub tz: &'a chrono_tz::Tz,
    pub theme: &'a Theme,
    pub threshold: u8,
    /// Who is looking (their own claims are not "someone else's").
    pub operator: &'a str,
    /// Fraud orders marked for a bulk decision.
    pub marked: &'a BTreeSet<i64>,
}

impl Ctx<'_> {
    pub fn local(&self, t: DateTime<Utc>, fmt: &str) -> String {
        t.with_timezone(self.tz).format(fmt).to_string()
    }

    /// Replaces the few non-ASCII characters of labels when the theme is ASCII.
    pub fn text(&self, s: &str) -> String {
        if self.theme.sym.dot == "*" {
            s.replace('≠', "!=")
                .replace('…', "...")
                .replace('×', "x")
                .replace('·', "-")
        } else {
            s.to_string()
        }
    }

    pub fn urgency_style(&self, u: Urgency) -> Style {
        match u {
            Urgency::Overdue => self.theme.alarm,
            Urgency::Critical => self.theme.critical,
            Urgency::DueSoon => self.theme.warning,
            Urgency::Ok => self.theme.ok,
        }
    }
}

/// One table cell: text, style and alignment; drawn by `ui` straight into the buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextCell {
    pub text: String,
    pub style: Style,
    pub right: bool,
}

pub fn cell(text: impl Into<String>, style: Style) -> TextCell {
    TextCell {
        text: text.into(),
        style,
        right: false,
    }
}

pub fn right(text: impl Into<String>, style: Style) -> TextCell {
    TextCell {
        text: text.into(),
        style,
        right: true,
    }
}

/// "1,234,567".
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `values` as one line of `width` bars (▁ to █; ASCII ` .:-=+*#`), each bar
/// the largest of its share of the values, scaled so that `max` is a full bar
/// (a trend: the header's GMV per hour, a live show's viewers).
pub fn spark(values: &[u64], width: usize, max: u64, ascii: bool) -> String {
    if width == 0 {
        return String::new();
    }
    spark_by(values, values.len().div_ceil(width), max, ascii)
}

/// [`spark`] with `per` values a bar (so that two series line up bar by bar).
pub fn spark_by(values: &[u64], per: usize, max: u64, ascii: bool) -> String {
    const ASCII_LEVELS: [&str; 9] = [" ", " ", ".", ":", "-", "=", "+", "*", "#"];
    let set = ratatui::symbols::bar::NINE_LEVELS;
    let levels = [
        set.empty,
        set.one_eighth,
        set.one_quarter,
        set.three_eighths,
        set.half,
        set.five_eighths,
        set.three_quarters,
        set.seven_eighths,
        set.full,
    ];
    let per = per.max(1);
    values
        .chunks(per)
        .map(|c| {
            let v = c.iter().copied().max().unwrap_or(0);
            // Anything above zero shows at least the lowest bar.
            let level = if max == 0 || v == 0 {
                0
            } else {
                (v.min(max) * 8).div_ceil(max).clamp(1, 8) as usize
            };
            if ascii {
                ASCII_LEVELS[level]
            } else {
                levels[level]
            }
        })
        .collect()
}

/// "12m ago", "3h 05m ago".
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", crate::domain::incidents::format_duration(now - t))
}

/// A label/value line for detail views.
pub fn field(label: &str, value: impl Into<String>, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:>16}  "), theme.muted),
        Span::styled(value.into(), theme.text),
    ])
}

pub fn styled_field(
    label: &str,
    value: impl Into<String>,
    style: Style,
    theme: &Theme,
) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:>16}  "), theme.muted),
        Span::styled(value.into(), style),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_panes_drop_the_least_important_columns_first() {
        let cols = <fraud::Queue as Rows>::COLUMNS;
        let all: Vec<usize> = (0..cols.len()).collect();
        assert_eq!(fit_columns(cols, 200), all);
        let narrow = fit_columns(cols, 50);
        assert!(narrow.len() < cols.len());
        for i in narrow.iter() {
            assert!(cols[*i].drop <= 2, "{}", cols[*i].name);
        }
        // Never-dropped columns stay even when nothing fits.
        let tiny = fit_columns(cols, 1);
        assert!(tiny.iter().all(|i| cols[*i].drop == 0));
        assert!(!tiny.is_empty());
    }

    #[test]
    fn sparks_scale_to_the_max_and_take_each_shares_peak() {
        assert_eq!(spark(&[0, 1, 4, 8], 4, 8, false), " ▁▄█");
        assert_eq!(spark(&[0, 1, 4, 8], 2, 8, false), "▁█");
        assert_eq!(spark(&[0, 8], 2, 8, true), " #");
        assert_eq!(spark(&[], 4, 8, false), "");
        assert_eq!(spark(&[5, 5], 2, 0, false), "  ");
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-1_000), "-1,000");
    }
}
