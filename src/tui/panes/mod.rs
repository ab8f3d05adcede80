//! The five panes. Each module owns one pane's columns, rows, filter text,
//! sort keys and detail view, as pure functions of a [`Snapshot`]; this module
//! dispatches on [`PaneId`] and holds the shared cell helpers.

pub mod alerts;
pub mod disputes;
pub mod fraud;
pub mod payouts;
pub mod shows;

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::domain::disputes::Urgency;
use crate::store::snapshot::Snapshot;

/// The panes, in key order (1-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaneId {
    Alerts,
    Shows,
    Disputes,
    Payouts,
    Fraud,
}

impl PaneId {
    pub const ALL: [PaneId; 5] = [
        Self::Alerts,
        Self::Shows,
        Self::Disputes,
        Self::Payouts,
        Self::Fraud,
    ];

    pub fn index(self) -> usize {
        match self {
            Self::Alerts => 0,
            Self::Shows => 1,
            Self::Disputes => 2,
            Self::Payouts => 3,
            Self::Fraud => 4,
        }
    }

    pub fn from_index(i: usize) -> PaneId {
        Self::ALL[i % Self::ALL.len()]
    }

    pub fn next(self) -> PaneId {
        Self::from_index(self.index() + 1)
    }

    pub fn prev(self) -> PaneId {
        Self::from_index(self.index() + Self::ALL.len() - 1)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Alerts => "Alerts & incidents",
            Self::Shows => "Live shows (today)",
            Self::Disputes => "Disputes (SLA queue)",
            Self::Payouts => "Payouts (this week)",
            Self::Fraud => "Fraud (highest first)",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Self::Alerts => "Alerts",
            Self::Shows => "Shows",
            Self::Disputes => "Disputes",
            Self::Payouts => "Payouts",
            Self::Fraud => "Fraud",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Self::Alerts => alerts::COLUMNS,
            Self::Shows => shows::COLUMNS,
            Self::Disputes => disputes::COLUMNS,
            Self::Payouts => payouts::COLUMNS,
            Self::Fraud => fraud::COLUMNS,
        }
    }

    pub fn sort_keys(self) -> &'static [&'static str] {
        match self {
            Self::Alerts => alerts::SORT_KEYS,
            Self::Shows => shows::SORT_KEYS,
            Self::Disputes => disputes::SORT_KEYS,
            Self::Payouts => payouts::SORT_KEYS,
            Self::Fraud => fraud::SORT_KEYS,
        }
    }

    pub fn empty_text(self) -> &'static str {
        match self {
            Self::Alerts => "No open alerts or incidents.",
            Self::Shows => "No shows scheduled today.",
            Self::Disputes => "No active disputes.",
            Self::Payouts => "No payout batch yet this week.",
            Self::Fraud => "Fraud queue is empty.",
        }
    }

    /// Rows in the snapshot for this pane.
    pub fn len(self, s: &Snapshot) -> usize {
        match self {
            Self::Alerts => s.alerts.len() + s.incidents.len(),
            Self::Shows => s.shows.len(),
            Self::Disputes => s.disputes.len(),
            Self::Payouts => s.payout_items.len(),
            Self::Fraud => s.fraud.len(),
        }
    }

    /// Rows of this kind in the database (the pane holds the top of them).
    pub fn total(self, s: &Snapshot) -> i64 {
        match self {
            Self::Alerts => {
                let f = &s.facts;
                (f.alerts.critical + f.alerts.warning + f.alerts.info + f.incidents.open)
                    .max(self.len(s) as i64)
            }
            Self::Shows => s.facts.shows_today.total.max(s.shows.len() as i64),
            Self::Disputes => s.facts.disputes.active.max(s.disputes.len() as i64),
            Self::Payouts => s
                .facts
                .payout_batch
                .as_ref()
                .map_or(0, |b| b.items)
                .max(s.payout_items.len() as i64),
            Self::Fraud => s.fraud_queue_total.max(s.fraud.len() as i64),
        }
    }

    /// A stable identity of row `i`, to keep the selection across refreshes.
    pub fn key(self, s: &Snapshot, i: usize) -> i64 {
        match self {
            Self::Alerts => alerts::key(s, i),
            Self::Shows => s.shows.get(i).map_or(-1, |r| r.id),
            Self::Disputes => s.disputes.get(i).map_or(-1, |r| r.id),
            Self::Payouts => s.payout_items.get(i).map_or(-1, |r| r.id),
            Self::Fraud => s.fraud.get(i).map_or(-1, |r| r.order_id),
        }
    }

    /// The text `/` matches against (lower case).
    pub fn haystack(self, s: &Snapshot, i: usize) -> String {
        let text = match self {
            Self::Alerts => alerts::haystack(s, i),
            Self::Shows => shows::haystack(s, i),
            Self::Disputes => disputes::haystack(s, i),
            Self::Payouts => payouts::haystack(s, i),
            Self::Fraud => fraud::haystack(s, i),
        };
        text.to_lowercase()
    }

    pub fn compare(self, s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
        match self {
            Self::Alerts => alerts::compare(s, key, a, b),
            Self::Shows => shows::compare(s, key, a, b),
            Self::Disputes => disputes::compare(s, key, a, b),
            Self::Payouts => payouts::compare(s, key, a, b),
            Self::Fraud => fraud::compare(s, key, a, b),
        }
    }

    /// The cells of row `i`, plus a style for the whole row (P0 rows shout).
    pub fn row(self, c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
        match self {
            Self::Alerts => alerts::row(c, i),
            Self::Shows => shows::row(c, i),
            Self::Disputes => disputes::row(c, i),
            Self::Payouts => payouts::row(c, i),
            Self::Fraud => fraud::row(c, i),
        }
    }

    pub fn detail(self, c: &Ctx, i: usize) -> Vec<Line<'static>> {
        match self {
            Self::Alerts => alerts::detail(c, i),
            Self::Shows => shows::detail(c, i),
            Self::Disputes => disputes::detail(c, i),
            Self::Payouts => payouts::detail(c, i),
            Self::Fraud => fraud::detail(c, i),
        }
    }

    /// Extra text for the pane's title (batch state, queue size, ...).
    pub fn subtitle(self, c: &Ctx) -> String {
        match self {
            Self::Payouts => payouts::subtitle(c),
            Self::Fraud => fraud::subtitle(c),
            _ => String::new(),
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
    pub marked: &'a std::collections::BTreeSet<i64>,
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
        let cols = fraud::COLUMNS;
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
    fn grouping_and_pane_cycle() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-1_000), "-1,000");
        assert_eq!(PaneId::Fraud.next(), PaneId::Alerts);
        assert_eq!(PaneId::Alerts.prev(), PaneId::Fraud);
        for id in PaneId::ALL {
            assert_eq!(PaneId::from_index(id.index()), id);
        }
    }
}
