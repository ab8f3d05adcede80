//! The Fraud pane's blocklist view (`b`): the active entries, newest first,
//! with how many orders match each, who added it and why; `n` adds an entry
//! and `x` removes the selected one, each with a required reason (the dialogs
//! are in [`super::dialogs`]). The view state lives here; the edits go to the
//! triage task.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::dialogs::BlockDialog;
use crate::store::snapshot::{BlockRow, Snapshot};
use crate::tui::action::Nav;
use crate::tui::panes::table::draw_rows;
use crate::tui::panes::{Column, Ctx, TextCell, View, cell, col, fill, grouped, right};

/// The view's state.
#[derive(Debug, Clone, Default)]
pub struct Blocklist {
    /// The Fraud pane shows the blocklist instead of the queue.
    pub open: bool,
    /// Selection and first visible row.
    pub selected: usize,
    pub offset: usize,
    /// The add / remove dialog, while open.
    pub dialog: Option<BlockDialog>,
    /// The zoom before the view took the screen.
    pub zoom_before: Option<bool>,
}

impl Blocklist {
    /// The entry under the selection.
    pub fn selected_entry<'a>(&self, s: &'a Snapshot) -> Option<&'a BlockRow> {
        s.blocklist.get(self.selected)
    }

    /// Moves the selection by `delta` entries (within bounds, on screen).
    pub fn move_by(&mut self, delta: isize, n: usize, rows: usize) {
        self.selected = self
            .selected
            .saturating_add_signed(delta)
            .min(n.saturating_sub(1));
        self.clamp(n, rows);
    }

    pub fn clamp(&mut self, n: usize, rows: usize) {
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        self.offset = self.offset.min(n.saturating_sub(rows));
    }

    /// The selected entry stays selected as others come and go.
    pub fn follow(&mut self, old: Option<&Snapshot>, new: Option<&Snapshot>, rows: usize) {
        let key = old.and_then(|s| self.selected_entry(s)).map(|b| b.id);
        if let Some(pos) = key.and_then(|k| new?.blocklist.iter().position(|b| b.id == k)) {
            self.selected = pos;
        }
        let n = new.map_or(0, |s| s.blocklist.len());
        self.move_by(0, n, rows);
    }

    /// Moving keys in the view; false for the ones that mean nothing here.
    pub fn nav(&mut self, nav: Nav, n: usize, rows: usize) -> bool {
        let page = rows as isize;
        let delta = match nav {
            Nav::Down => 1,
            Nav::Up => -1,
            Nav::PageDown => page,
            Nav::PageUp => -page,
            Nav::Top => isize::MIN / 2,
            Nav::Bottom => isize::MAX / 2,
            Nav::Open | Nav::Back | Nav::NextSort | Nav::ReverseSort => return false,
        };
        self.move_by(delta, n, rows);
        true
    }
}

/// The blocklist view (`b`): active entries, newest first.
pub const BLOCK_COLUMNS: &[Column] = &[
    col("Kind", 6, false, 0),
    col("Value", 26, false, 0),
    col("Orders", 6, true, 1),
    col("Added by", 10, false, 2),
    col("Added", 9, false, 2),
    fill("Reason", 3),
];

/// The cells of blocklist entry `i`: when in ops time, matching orders capped.
pub fn block_row(c: &Ctx, i: usize) -> Vec<TextCell> {
    let t = c.theme;
    let Some(b) = c.snap.blocklist.get(i) else {
        return Vec::new();
    };
    let orders = if b.orders >= crate::store::snapshot::BLOCK_MATCH_CAP {
        format!("{}+", b.orders)
    } else {
        b.orders.to_string()
    };
    // This week: weekday and time; older: the date.
    let when = if c.now - b.added_at < chrono::Duration::days(6) {
        c.local(b.added_at, "%a %H:%M")
    } else {
        c.local(b.added_at, "%d %b %y")
    };
    let reason = if b.decision_id.is_some() {
        format!("decline: {}", b.reason)
    } else {
        b.reason.clone()
    };
    vec![
        cell(b.kind.clone(), t.accent),
        cell(b.value.clone(), t.text),
        right(orders, if b.orders > 0 { t.warning } else { t.muted }),
        cell(b.added_by.clone(), t.text),
        cell(when, t.muted),
        cell(c.text(&reason), t.muted),
    ]
}

/// The view in the pane's place: active entries, newest first.
pub fn draw(f: &mut Frame, area: Rect, v: &View, b: &Blocklist, may_edit: bool) {
    let theme = v.theme;
    let Some(s) = v.snapshot() else { return };
    let shown = s.blocklist.len();
    let count = if shown as i64 == s.blocklist_total {
        format!(" {shown} ")
    } else {
        format!(" {shown} of {} ", grouped(s.blocklist_total))
    };
    let name = if area.width < 70 {
        "Blocklist"
    } else {
        "Blocklist (active entries, newest first)"
    };
    let mut bottom = vec![Span::styled(" b back to the queue ", theme.muted)];
    if may_edit {
        bottom.push(Span::styled(" n add  x remove ", theme.accent));
    }
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(format!(" 5 {name} "), theme.title))
        .title_top(Line::styled(count, theme.muted).right_aligned())
        .title_bottom(Line::from(bottom));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if s.blocklist.is_empty() {
        f.render_widget(
            Paragraph::new(Line::styled("The blocklist is empty.", theme.muted)),
            inner,
        );
        return;
    }
    let none = std::collections::BTreeSet::new();
    let c = v.ctx(s, &none);
    let rows_fit = usize::from(inner.height.saturating_sub(1)).max(1);
    let offset = b.offset.min(shown.saturating_sub(1));
    let rows: Vec<_> = (offset..shown)
        .take(rows_fit)
        .map(|i| (block_row(&c, i), Style::default()))
        .collect();
    let selected = (!v.wall).then_some(b.selected);
    draw_rows(
        f.buffer_mut(),
        inner,
        v,
        BLOCK_COLUMNS,
        &rows,
        offset,
        selected,
    );
}
