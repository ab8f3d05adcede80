//! The table every pane is built on: the rows of the snapshot a pane shows
//! ([`Rows`]), the view state over them ([`Table`]: filter, sort, selection,
//! scroll, detail) and how both are drawn. [`TablePane`] is a whole pane made
//! of nothing else (the read-only panes); panes with actions embed a
//! [`Table`] and add their own state.

use std::cmp::Ordering;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{Column, Ctx, Cx, Pane, TextCell, View, fit_columns, grouped};
use crate::store::snapshot::Snapshot;
use crate::tui::action::Nav;
use crate::tui::pane_id::PaneId;

/// One pane's rows of the snapshot: columns, cells, filter text, sort order and
/// detail, as pure functions (the pane modules implement it).
pub trait Rows {
    const ID: PaneId;
    const COLUMNS: &'static [Column];
    const SORT_KEYS: &'static [&'static str];
    /// The pane's own bindings (a read-only pane: its `:` commands).
    const SECTIONS: &'static [crate::tui::keymap::Section] = &[];
    /// Rows in the snapshot.
    fn len(s: &Snapshot) -> usize;
    /// Rows of this kind in the database (the snapshot holds the top of them).
    fn total(s: &Snapshot) -> i64;
    /// A stable identity of row `i`, to keep the selection across refreshes.
    fn key(s: &Snapshot, i: usize) -> i64;
    /// The text `/` matches against (any case).
    fn haystack(s: &Snapshot, i: usize) -> String;
    fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering;
    /// The cells of row `i`, plus a style for the whole row (P0 rows shout).
    fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style);
    fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>>;
    /// Row `i`'s main id, as `y` copies it (order number, dispute id, ...).
    fn copy_id(s: &Snapshot, i: usize) -> Option<String>;
    /// Extra text for the pane's bottom border (batch state, queue size, ...).
    fn subtitle(_c: &Ctx) -> String {
        String::new()
    }
}

/// A test on row `i` of a snapshot (a filter).
pub type RowTest<'a> = dyn Fn(&Snapshot, usize) -> bool + 'a;

/// A pane's view state over its rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Position in `view`.
    pub selected: usize,
    /// First visible position in `view`.
    pub offset: usize,
    pub filter: String,
    pub sort: usize,
    pub reverse: bool,
    /// Indices into the snapshot's rows, filtered and sorted.
    pub view: Vec<usize>,
    /// The detail view of the selected row is open.
    pub detail: bool,
    /// Lines scrolled in the open detail view (PgDn/PgUp).
    pub detail_scroll: u16,
}

impl Table {
    /// The snapshot row under the selection.
    pub fn selected_row(&self) -> Option<usize> {
        self.view.get(self.selected).copied()
    }

    /// The identity of the selected row.
    pub fn selected_key<R: Rows>(&self, s: &Snapshot) -> Option<i64> {
        self.selected_row().map(|row| R::key(s, row))
    }

    /// Filters and sorts the rows again (new data, filter or sort), keeping
    /// the row `keep` selected when it is still there. `also` filters more
    /// (the Fraud pane hides what it decided); `matches` replaces the plain
    /// text filter when given.
    pub fn rebuild<R: Rows>(
        &mut self,
        snap: Option<&Snapshot>,
        rows: usize,
        keep: Option<i64>,
        matches: Option<&RowTest>,
        also: &RowTest,
    ) {
        let Some(snap) = snap else {
            self.view.clear();
            return;
        };
        let needle = self.filter.to_lowercase();
        let mut view: Vec<usize> = (0..R::len(snap))
            .filter(|&i| match matches {
                Some(m) => m(snap, i),
                None => needle.is_empty() || R::haystack(snap, i).to_lowercase().contains(&needle),
            })
            .filter(|&i| also(snap, i))
            .collect();
        view.sort_by(|&a, &b| R::compare(snap, self.sort, a, b));
        if self.reverse {
            view.reverse();
        }
        self.view = view;
        if let Some(k) = keep
            && let Some(pos) = self.view.iter().position(|&i| R::key(snap, i) == k)
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.view.len().saturating_sub(1));
        self.clamp(rows);
    }

    /// Moves the selection by `delta` rows, within bounds.
    pub fn move_by(&mut self, delta: isize, rows: usize) {
        let last = self.view.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        self.detail_scroll = 0;
        self.clamp(rows);
    }

    /// Keeps the selection on screen: the window moves only when it must.
    pub fn clamp(&mut self, rows: usize) {
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        let max_offset = self.view.len().saturating_sub(rows);
        self.offset = self.offset.min(max_offset);
    }

    /// Selects the first row whose id or text contains `query` (any case) and
    /// opens its detail. False when none matches.
    pub fn find<R: Rows>(&mut self, s: Option<&Snapshot>, query: &str, rows: usize) -> bool {
        let Some(s) = s else { return false };
        let q = query.to_lowercase();
        let hit = self
            .view
            .iter()
            .position(|&i| R::copy_id(s, i).is_some_and(|id| id.to_lowercase() == q));
        let hit = hit.or_else(|| {
            self.view
                .iter()
                .position(|&i| R::haystack(s, i).to_lowercase().contains(&q))
        });
        let Some(pos) = hit else { return false };
        self.selected = pos;
        self.detail = true;
        self.detail_scroll = 0;
        self.clamp(rows);
        true
    }

    /// Selects the row drawn on screen line `line` of the pane (a click).
    pub fn click(&mut self, line: usize) {
        let pos = self.offset + line;
        if pos < self.view.len() {
            self.selected = pos;
        }
    }

    /// The navigation every table understands. A changed filter or sort asks
    /// the pane to rebuild (keeping the selected row); Esc with nothing to
    /// close is left to the app (unzoom).
    pub fn nav<R: Rows>(&mut self, nav: Nav, cx: &Cx) -> Navigated {
        let rows = cx.rows;
        let keep = cx.snap().and_then(|s| self.selected_key::<R>(s));
        match nav {
            Nav::Down => self.move_by(1, rows),
            Nav::Up => self.move_by(-1, rows),
            // In a detail view the page keys scroll the detail.
            Nav::PageDown if self.detail => {
                self.detail_scroll = self.detail_scroll.saturating_add(cx.page);
            }
            Nav::PageUp if self.detail => {
                self.detail_scroll = self.detail_scroll.saturating_sub(cx.page);
            }
            Nav::PageDown => self.move_by(rows as isize, rows),
            Nav::PageUp => self.move_by(-(rows as isize), rows),
            Nav::Top => self.move_by(isize::MIN / 2, rows),
            Nav::Bottom => self.move_by(isize::MAX / 2, rows),
            Nav::Open => {
                self.detail_scroll = 0;
                if !self.view.is_empty() {
                    self.detail = !self.detail;
                }
            }
            Nav::Back => {
                if self.detail {
                    self.detail = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    return Navigated::Rebuild(keep);
                } else {
                    return Navigated::NotHere;
                }
            }
            Nav::NextSort => {
                self.sort = (self.sort + 1) % R::SORT_KEYS.len().max(1);
                self.reverse = false;
                return Navigated::Rebuild(keep);
            }
            Nav::ReverseSort => {
                self.reverse = !self.reverse;
                return Navigated::Rebuild(keep);
            }
        }
        Navigated::Done
    }
}

/// What a table did with a navigation key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigated {
    Done,
    /// The filter or sort changed: rebuild, keeping this row selected.
    Rebuild(Option<i64>),
    /// Nothing to do here (Esc with no detail and no filter).
    NotHere,
}

/// A pane that is a table and nothing more.
#[derive(Debug, Clone, Default)]
pub struct TablePane<R> {
    pub table: Table,
    rows: std::marker::PhantomData<R>,
}

impl<R: Rows> Pane for TablePane<R> {
    fn id(&self) -> PaneId {
        R::ID
    }

    fn table(&self) -> &Table {
        &self.table
    }

    fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }

    fn sections(&self) -> &'static [crate::tui::keymap::Section] {
        R::SECTIONS
    }

    fn total(&self, s: &Snapshot) -> i64 {
        R::total(s).max(R::len(s) as i64)
    }

    fn selected_key(&self, s: &Snapshot) -> Option<i64> {
        self.table.selected_key::<R>(s)
    }

    fn rebuild(&mut self, cx: &Cx, keep: Option<i64>) {
        self.table
            .rebuild::<R>(cx.snap(), cx.rows, keep, None, &|_, _| true);
    }

    fn nav(&mut self, nav: Nav, cx: &mut Cx) -> bool {
        match self.table.nav::<R>(nav, cx) {
            Navigated::Done => true,
            Navigated::Rebuild(keep) => {
                self.rebuild(cx, keep);
                true
            }
            Navigated::NotHere => false,
        }
    }

    fn copy_id(&self, s: &Snapshot) -> Option<String> {
        R::copy_id(s, self.table.selected_row()?)
    }

    fn find(&mut self, query: &str, cx: &mut Cx) -> bool {
        self.table.find::<R>(cx.snap(), query, cx.rows)
    }

    fn draw(&self, f: &mut Frame, area: Rect, v: &View) {
        draw_table::<R>(f, area, v, &self.table, &empty_marks(), Vec::new());
    }

    fn draw_overlay(&self, f: &mut Frame, body: Rect, v: &View) {
        if !self.table.detail {
            return;
        }
        let (Some(s), Some(row)) = (v.snapshot(), self.table.selected_row()) else {
            return;
        };
        let lines = R::detail(&v.ctx(s, &empty_marks()), row);
        draw_detail(
            f,
            body,
            v,
            R::ID,
            lines,
            self.table.detail_scroll,
            " Esc close  j/k next/previous".into(),
            DETAIL_WIDTH,
        );
    }
}

/// No marked rows (only the Fraud pane marks rows).
pub fn empty_marks() -> std::collections::BTreeSet<i64> {
    std::collections::BTreeSet::new()
}

/// Widest a detail popup gets.
pub const DETAIL_WIDTH: u16 = 96;

/// A pane's frame and its visible rows: title, counts, filter and sort in the
/// border, `extra` hints in the bottom border.
pub fn draw_table<R: Rows>(
    f: &mut Frame,
    area: Rect,
    v: &View,
    p: &Table,
    marked: &std::collections::BTreeSet<i64>,
    extra: Vec<Span<'static>>,
) {
    let theme = v.theme;
    let focused = v.focused;
    let id = R::ID;
    let name = if area.width < 70 {
        id.short()
    } else {
        id.title()
    };
    let title = vec![Span::styled(
        format!(" {} {name} ", id.index() + 1),
        if focused { theme.title } else { theme.text },
    )];
    let mut bottom = Vec::new();
    let mut count_line = None;
    if let Some(s) = v.snapshot() {
        let c = v.ctx(s, marked);
        let sub = R::subtitle(&c);
        if !sub.is_empty() {
            bottom.push(Span::styled(format!(" {sub} "), theme.accent));
        }
        let shown = p.view.len();
        let total = R::total(s).max(R::len(s) as i64);
        let count = if p.filter.is_empty() && shown as i64 == total {
            format!(" {shown} ")
        } else {
            format!(" {shown} of {} ", grouped(total))
        };
        count_line = Some(Line::styled(count, theme.muted).right_aligned());
        if !p.filter.is_empty() {
            bottom.push(Span::styled(format!(" /{} ", p.filter), theme.warning));
        }
        bottom.extend(extra);
        if p.sort != 0 || p.reverse {
            let arrow = if p.reverse {
                theme.sym.up
            } else {
                theme.sym.down
            };
            let key = R::SORT_KEYS.get(p.sort).copied().unwrap_or("");
            bottom.push(Span::styled(format!(" sort: {key} {arrow} "), theme.muted));
        }
    }
    let mut block = Block::bordered()
        .border_set(if focused {
            theme.sym.focus_border
        } else {
            theme.sym.border
        })
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        })
        .title(Line::from(title));
    if let Some(line) = count_line {
        block = block.title_top(line);
    }
    if !bottom.is_empty() {
        block = block.title_bottom(Line::from(bottom));
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(s) = v.snapshot() else {
        let msg = if v.data.query_failed {
            "No data: the database answered with an error (see the header)."
        } else if v.data.down_since.is_some() {
            "No data: the database is unreachable."
        } else {
            "Loading..."
        };
        f.render_widget(Paragraph::new(Line::styled(msg, theme.muted)), inner);
        return;
    };
    if p.view.is_empty() {
        let msg = if p.filter.is_empty() {
            id.empty_text().to_string()
        } else {
            format!("No rows match /{} (Esc clears)", p.filter)
        };
        f.render_widget(
            Paragraph::new(Line::styled(msg, theme.muted)).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let c = v.ctx(s, marked);
    let rows_fit = usize::from(inner.height.saturating_sub(1)).max(1);
    let offset = p.offset.min(p.view.len().saturating_sub(1));
    let offset = if p.selected >= offset + rows_fit {
        p.selected + 1 - rows_fit
    } else {
        offset.min(p.selected)
    };
    // Only the visible rows are formatted, each string measured once.
    let rows: Vec<_> = p
        .view
        .iter()
        .skip(offset)
        .take(rows_fit)
        .map(|&i| R::row(&c, i))
        .collect();
    // The wall is read-only: no selection to show.
    let selected = (focused && !v.wall).then_some(p.selected);
    draw_rows(
        f.buffer_mut(),
        inner,
        v,
        R::COLUMNS,
        &rows,
        offset,
        selected,
    );
}

/// Rows of a table straight into the buffer: the column header, then the
/// visible rows from `offset`, the `selected` one highlighted. Column
/// positions as ratatui's Table lays them out (start-aligned, one space
/// apart), after the selection marker.
pub fn draw_rows(
    buf: &mut Buffer,
    inner: Rect,
    v: &View,
    cols: &[Column],
    rows: &[(Vec<TextCell>, Style)],
    offset: usize,
    selected: Option<usize>,
) {
    let theme = v.theme;
    let hl = (theme.sym.select.chars().count() as u16).min(inner.width);
    let keep = fit_columns(cols, inner.width - hl);
    let widths: Vec<Constraint> = keep.iter().map(|&k| cols[k].width).collect();
    let rects = Layout::horizontal(widths).spacing(1).split(Rect::new(
        inner.x + hl,
        inner.y,
        inner.width - hl,
        1,
    ));
    let head = theme.muted.add_modifier(Modifier::BOLD);
    for (j, &k) in keep.iter().enumerate() {
        put(buf, rects[j], inner.y, cols[k].name, head, cols[k].right);
    }
    for (line, (cells, style)) in rows.iter().enumerate() {
        let y = inner.y + 1 + line as u16;
        if y >= inner.bottom() {
            break;
        }
        let row_area = Rect::new(inner.x, y, inner.width, 1);
        if *style != Style::default() {
            buf.set_style(row_area, *style);
        }
        for (j, &k) in keep.iter().enumerate() {
            if let Some(cell) = cells.get(k) {
                put(buf, rects[j], y, &cell.text, cell.style, cell.right);
            }
        }
        if selected == Some(offset + line) {
            buf.set_stringn(
                inner.x,
                y,
                theme.sym.select,
                usize::from(hl),
                Style::default(),
            );
            buf.set_style(row_area, theme.selected);
        }
    }
}

/// Writes `text` in the column `col` on row `y`, cut to the column's width;
/// right-aligned text that does not fit is shown from its start.
fn put(buf: &mut Buffer, col: Rect, y: u16, text: &str, style: Style, right: bool) {
    if col.width == 0 {
        return;
    }
    let width = if text.is_ascii() {
        text.len()
    } else {
        Span::raw(text).width()
    };
    let pad = if right {
        usize::from(col.width).saturating_sub(width) as u16
    } else {
        0
    };
    buf.set_stringn(col.x + pad, y, text, usize::from(col.width - pad), style);
}

/// A `width` x `height` rectangle in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The detail popup of a pane: `lines` in a bordered box over the body,
/// scrolled by `scroll` (kept within the text), `keys` in the bottom border.
#[allow(clippy::too_many_arguments)]
pub fn draw_detail(
    f: &mut Frame,
    body: Rect,
    v: &View,
    id: PaneId,
    lines: Vec<Line<'static>>,
    scroll: u16,
    keys: String,
    max_width: u16,
) {
    let theme = v.theme;
    let wanted = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let area = centered(body, max_width, wanted);
    // Longer than the screen: PgDn/PgUp scroll it (kept within the text).
    let visible = area.height.saturating_sub(2);
    let overflow = wanted.saturating_sub(2).saturating_sub(visible);
    let scroll = scroll.min(overflow);
    let more = if overflow > 0 {
        if scroll < overflow {
            "  PgDn more"
        } else {
            "  PgUp back"
        }
    } else {
        ""
    };
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(
            format!(" {} detail ", id.short()),
            theme.title,
        ))
        .title_bottom(Line::styled(format!("{keys}{more} "), theme.muted));
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
