//! Drawing: a pure function of the [`App`] and the [`Theme`]. Nothing here
//! waits on I/O; only the visible rows of each pane are formatted.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{Action, App, Input};
use super::keymap::{self, COMMANDS, Group};
use super::layout::{self, LayoutKind, MIN_HEIGHT, MIN_WIDTH};
use super::panes::{Ctx, PaneId, fit_columns, grouped};
use super::theme::Theme;
use crate::domain::money::format_bps;

pub fn draw(f: &mut Frame, app: &App, theme: &Theme) {
    let area = f.area();
    if layout::choose(area.width, area.height) == LayoutKind::TooSmall {
        draw_too_small(f, area, theme);
        return;
    }
    let screen = layout::compute(area, app.focus, app.zoom, app.wall && app.alarm());
    draw_header(f, screen.header, app, theme);
    if let Some(b) = screen.banner {
        draw_banner(f, b, app, theme);
    }
    if let Some(t) = screen.tabs {
        draw_tabs(f, t, app, theme);
    }
    for id in PaneId::ALL {
        if let Some(r) = screen.pane(id) {
            draw_pane(f, r, app, id, theme);
        }
    }
    draw_footer(f, screen.footer, app, theme);
    let p = app.pane(app.focus);
    if p.detail && !app.blocklist_open() {
        draw_detail(f, screen.body, app, theme);
    }
    if let Some(d) = &app.dialog {
        draw_dialog(f, screen.body, d, theme);
    }
    if let Some(d) = &app.block_dialog {
        draw_block_dialog(f, screen.body, d, theme);
    }
    if app.help {
        draw_help(f, area, app, theme);
    }
}

/// The reason dialog of a fraud decision.
fn draw_dialog(f: &mut Frame, body: Rect, d: &crate::tui::triage::Dialog, theme: &Theme) {
    use crate::tui::triage::Kind;
    let templates = d.kind.templates();
    let mut lines: Vec<Line<'static>> = Vec::new();
    let orders: Vec<String> = d
        .targets
        .iter()
        .take(4)
        .map(|t| format!("{} ({})", t.order_number, t.score))
        .collect();
    let more = d.targets.len().saturating_sub(4);
    lines.push(Line::from(vec![
        Span::styled(
            if d.targets.len() == 1 {
                " Order  ".to_string()
            } else {
                format!(" {} orders  ", d.targets.len())
            },
            theme.muted,
        ),
        Span::styled(
            if more > 0 {
                format!("{} +{more}", orders.join(", "))
            } else {
                orders.join(", ")
            },
            theme.text,
        ),
    ]));
    let on = |b: bool, label: &str| {
        Span::styled(
            format!("[{}] {label}  ", if b { "x" } else { " " }),
            if b { theme.critical } else { theme.text },
        )
    };
    match d.kind {
        Kind::Review => lines.push(Line::from(vec![
            Span::styled(" Hold   ", theme.muted),
            on(d.hold_hours == 24, "24h"),
            on(d.hold_hours == 48, "48h"),
            Span::styled("(Tab switches)", theme.muted),
        ])),
        Kind::Decline => lines.push(Line::from(vec![
            Span::styled(" Block  ", theme.muted),
            on(d.block.ip, "IP Alt-i"),
            on(d.block.email, "email Alt-e"),
            on(d.block.device, "device Alt-d"),
            on(d.block.payer, "payer Alt-p"),
        ])),
        Kind::Approve => {}
    }
    lines.push(Line::styled(" Reason (required):", theme.title));
    for (i, t) in templates.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", i + 1), theme.accent),
            Span::styled(t.to_string(), theme.text),
        ]));
    }
    let height = lines.len() as u16 + 2 + 3 + 1;
    let area = centered(body, 78, height);
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(format!(" {} ", d.kind.title()), theme.title))
        .title_bottom(Line::styled(
            " Enter confirm  Esc cancel  1-9 template ",
            theme.muted,
        ));
    let inner = block.inner(area);
    f.render_widget(Clear, area);
    f.render_widget(block, area);
    let [top, input, err] = Layout::vertical([
        Constraint::Length(lines.len() as u16),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(lines), top);
    let mut ta = d.reason.clone();
    ta.set_block(Block::bordered().border_style(theme.border_focus));
    ta.set_cursor_line_style(Style::default());
    f.render_widget(&ta, input);
    if let Some(e) = &d.error {
        f.render_widget(
            Paragraph::new(Line::styled(format!(" {e}"), theme.critical)),
            err,
        );
    }
}

fn draw_too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::styled("terminal too small", theme.critical),
        Line::styled(format!("(need {MIN_WIDTH}x{MIN_HEIGHT})"), theme.text),
        Line::styled(format!("now {}x{}", area.width, area.height), theme.muted),
    ];
    f.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn sep(theme: &Theme) -> Span<'static> {
    Span::styled(format!(" {} ", theme.sym.sep), theme.muted)
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let narrow = area.width < 120;
    let local = app.now.with_timezone(&app.tz);
    let clock = if narrow {
        local.format("%a %H:%M:%S %Z").to_string()
    } else {
        local.format("%a %d %b %Y %H:%M:%S %Z").to_string()
    };
    let d = &app.data;
    let age =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| (app.now - t).num_seconds().max(0));
    let db = if d.connected {
        let mut s = format!(
            "{} db ok, data {}s old",
            theme.sym.dot,
            age(d.last_success).unwrap_or(0)
        );
        if !d.listening {
            s.push_str(" (polling)");
        }
        Span::styled(s, theme.ok)
    } else if let Some(since) = d.down_since {
        let since = since.with_timezone(&app.tz).format("%H:%M");
        let data = match age(d.last_success) {
            Some(n) => format!("data {n} s old"),
            None => "no data yet".into(),
        };
        let what = if d.query_failed {
            format!(
                "db error: {} (since {since})",
                d.error.as_deref().unwrap_or("query failed")
            )
        } else {
            format!("database unreachable since {since}")
        };
        let text = if d.query_failed && d.last_success.is_none() {
            format!(" {} {what} ", theme.sym.dot)
        } else {
            format!(" {} {what}, {data} ", theme.sym.dot)
        };
        Span::styled(text, theme.alarm)
    } else {
        Span::styled(
            format!("{} connecting to the database...", theme.sym.dot),
            theme.muted,
        )
    };
    let line1 = Line::from(vec![
        Span::styled(" LSN OPS", theme.title),
        sep(theme),
        Span::styled(clock, theme.text.add_modifier(Modifier::BOLD)),
        sep(theme),
        Span::styled(
            format!("{} ({})", app.operator, app.role().as_str()),
            theme.accent,
        ),
        sep(theme),
        db,
    ]);
    let mut line2 = vec![Span::raw(" ")];
    match app.snapshot() {
        Some(s) => {
            let o = &s.facts.orders_today;
            let label = |l: &'static str| Span::styled(l, theme.muted);
            let value = |v: String| Span::styled(v, theme.text.add_modifier(Modifier::BOLD));
            let gmv = if narrow {
                o.gmv.display_compact()
            } else {
                o.gmv.display()
            };
            line2.extend([
                label("GMV "),
                value(gmv),
                label(if narrow { "  Ord " } else { "  Orders " }),
                value(grouped(o.orders)),
                label(if narrow { "  Conv " } else { "  Conversion " }),
                value(o.conversion_bps.map_or_else(|| "-".into(), format_bps)),
                label("  AOV "),
                value(o.aov.map_or_else(|| "-".into(), |m| m.display())),
                sep(theme),
            ]);
            let a = &s.facts.alerts;
            let count = |n: i64, word: &str, style: Style| {
                Span::styled(
                    format!("{n} {word}"),
                    if n > 0 { style } else { theme.muted },
                )
            };
            if !narrow {
                line2.push(label("Alerts "));
            }
            line2.extend([
                count(
                    a.critical,
                    if narrow { "crit" } else { "critical" },
                    theme.alarm,
                ),
                Span::raw(" "),
                count(
                    a.warning,
                    if narrow { "warn" } else { "warning" },
                    theme.warning,
                ),
                Span::raw(" "),
                count(a.info, "info", theme.info),
            ]);
            let p0 = s.facts.incidents.p0;
            if p0 > 0 {
                line2.push(Span::raw(" "));
                line2.push(Span::styled(
                    format!(" {} P0 ", theme.sym.flag),
                    theme.alarm,
                ));
            }
        }
        None => line2.push(Span::styled(
            "waiting for the first snapshot...",
            theme.muted,
        )),
    }
    f.render_widget(
        // The whole header turns red while the database is unreachable.
        Paragraph::new(vec![line1, Line::from(line2)]).style(
            if d.connected || d.down_since.is_none() {
                theme.header
            } else {
                theme.alarm
            },
        ),
        area,
    );
}

fn draw_banner(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(s) = app.snapshot() else { return };
    // The most urgent thing first: a P0 alert, else a critical one, else a P0
    // incident; a P0 incident's time left is always shown.
    let first = s
        .alerts
        .iter()
        .find(|a| a.priority.as_deref() == Some("P0"))
        .or_else(|| s.alerts.iter().find(|a| a.severity == "critical"))
        .map(|a| a.title.clone())
        .unwrap_or_default();
    let incident = s.incidents.iter().find(|i| i.priority == "P0").map(|i| {
        format!(
            "   P0 incident: {} ({})",
            i.title,
            crate::domain::incidents::format_time_left(i.due_at, app.now)
        )
    });
    let text = format!(
        " {flag} P0 / CRITICAL {flag}  {first}{}   [{} critical alert(s), {} P0 incident(s)] ",
        incident.unwrap_or_default(),
        s.facts.alerts.critical,
        s.facts.incidents.p0,
        flag = theme.sym.flag
    );
    f.render_widget(
        Paragraph::new(Line::styled(text, theme.alarm)).style(theme.alarm),
        area,
    );
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    for id in PaneId::ALL {
        let label = app.tab_label(id);
        let style = if id == app.focus {
            theme.selected
        } else if id == PaneId::Alerts && app.alarm() {
            theme.critical
        } else {
            theme.muted
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn ctx<'a>(app: &'a App, theme: &'a Theme, snap: &'a crate::store::snapshot::Snapshot) -> Ctx<'a> {
    Ctx {
        snap,
        now: app.now,
        tz: &app.tz,
        theme,
        threshold: app.threshold,
        operator: &app.operator,
        marked: &app.marked,
    }
}

/// Rows of a table straight into the buffer: the column header, then the
/// visible rows from `offset`, the `selected` one highlighted. Column
/// positions as ratatui's Table lays them out (start-aligned, one space
/// apart), after the selection marker.
#[allow(clippy::too_many_arguments)]
fn draw_rows(
    buf: &mut Buffer,
    inner: Rect,
    theme: &Theme,
    cols: &[super::panes::Column],
    rows: &[(Vec<super::panes::TextCell>, Style)],
    offset: usize,
    selected: Option<usize>,
) {
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

/// The Fraud pane's blocklist view: active entries, newest first.
fn draw_blocklist(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(s) = app.snapshot() else { return };
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
    if app.may_decide() {
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
    let c = ctx(app, theme, s);
    let rows_fit = usize::from(inner.height.saturating_sub(1)).max(1);
    let offset = app.block_offset.min(shown.saturating_sub(1));
    let rows: Vec<_> = (offset..shown)
        .take(rows_fit)
        .map(|i| (crate::tui::panes::fraud::block_row(&c, i), Style::default()))
        .collect();
    let selected = (!app.wall).then_some(app.block_selected);
    draw_rows(
        f.buffer_mut(),
        inner,
        theme,
        crate::tui::panes::fraud::BLOCK_COLUMNS,
        &rows,
        offset,
        selected,
    );
}

/// The add / remove dialog of the blocklist view.
fn draw_block_dialog(
    f: &mut Frame,
    body: Rect,
    d: &crate::tui::triage::BlockDialog,
    theme: &Theme,
) {
    use crate::tui::triage::{BLOCK_KINDS, BlockField};
    let adding = d.removing.is_none();
    let focus = |on: bool| if on { theme.border_focus } else { theme.border };
    let height = if adding {
        1 + 3 + 3 + 1 + 2
    } else {
        2 + 3 + 1 + 2
    };
    let area = centered(body, 72, height);
    let title = if adding {
        " Block: add an entry "
    } else {
        " Block: remove the entry "
    };
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(title, theme.title))
        .title_bottom(Line::styled(
            if adding {
                " Tab field  Left/Right or i/e/d/p kind  Enter confirm  Esc cancel "
            } else {
                " Enter confirm  Esc cancel "
            },
            theme.muted,
        ));
    let inner = block.inner(area);
    f.render_widget(Clear, area);
    f.render_widget(block, area);
    let ta_style = |ta: &ratatui_textarea::TextArea<'static>, label: &str, on: bool| {
        let mut ta = ta.clone();
        ta.set_block(
            Block::bordered()
                .border_style(focus(on))
                .title(Line::styled(format!(" {label} "), theme.muted)),
        );
        ta.set_cursor_line_style(Style::default());
        if !on {
            ta.set_cursor_style(Style::default());
        }
        ta
    };
    if adding {
        let [kind, value, reason, err] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Length(3),
            Constraint::Length(1),
        ])
        .areas(inner);
        let mut spans = vec![Span::styled(" Kind  ", theme.muted)];
        for (i, k) in BLOCK_KINDS.iter().enumerate() {
            let on = i == d.kind;
            spans.push(Span::styled(
                format!("[{}] {k}  ", if on { "x" } else { " " }),
                if on { theme.critical } else { theme.text },
            ));
        }
        if d.field == BlockField::Kind {
            spans.push(Span::styled("<", theme.accent));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), kind);
        let v = ta_style(&d.value, "Value", d.field == BlockField::Value);
        f.render_widget(&v, value);
        let r = ta_style(
            &d.reason,
            "Reason (required)",
            d.field == BlockField::Reason,
        );
        f.render_widget(&r, reason);
        if let Some(e) = &d.error {
            f.render_widget(
                Paragraph::new(Line::styled(format!(" {e}"), theme.critical)),
                err,
            );
        }
    } else {
        let [what, reason, err] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(3),
            Constraint::Length(1),
        ])
        .areas(inner);
        let (kind, value) = d.removing.clone().unwrap_or_default();
        f.render_widget(
            Paragraph::new(vec![
                Line::from(vec![
                    Span::styled(" Entry  ", theme.muted),
                    Span::styled(format!("{kind} {value}"), theme.text),
                ]),
                Line::styled(
                    " Orders with it are no longer flagged as blocklisted.",
                    theme.muted,
                ),
            ]),
            what,
        );
        let r = ta_style(&d.reason, "Reason (required)", true);
        f.render_widget(&r, reason);
        if let Some(e) = &d.error {
            f.render_widget(
                Paragraph::new(Line::styled(format!(" {e}"), theme.critical)),
                err,
            );
        }
    }
}

fn draw_pane(f: &mut Frame, area: Rect, app: &App, id: PaneId, theme: &Theme) {
    if id == PaneId::Fraud && app.blocklist {
        draw_blocklist(f, area, app, theme);
        return;
    }
    let focused = id == app.focus;
    let p = app.pane(id);
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
    if let Some(s) = app.snapshot() {
        let c = ctx(app, theme, s);
        let sub = id.subtitle(&c);
        if !sub.is_empty() {
            bottom.push(Span::styled(format!(" {sub} "), theme.accent));
        }
        let shown = p.view.len();
        let total = id.total(s);
        let count = if p.filter.is_empty() && shown as i64 == total {
            format!(" {shown} ")
        } else {
            format!(" {shown} of {} ", grouped(total))
        };
        count_line = Some(Line::styled(count, theme.muted).right_aligned());
        if !p.filter.is_empty() {
            bottom.push(Span::styled(format!(" /{} ", p.filter), theme.warning));
        }
        if id == PaneId::Fraud && focused && !app.wall {
            bottom.push(Span::styled(" b blocklist ", theme.muted));
        }
        if p.sort != 0 || p.reverse {
            let arrow = if p.reverse {
                theme.sym.up
            } else {
                theme.sym.down
            };
            let key = id.sort_keys().get(p.sort).copied().unwrap_or("");
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
    let Some(s) = app.snapshot() else {
        let msg = if app.data.query_failed {
            "No data: the database answered with an error (see the header)."
        } else if app.data.down_since.is_some() {
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
    let c = ctx(app, theme, s);
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
        .map(|&i| id.row(&c, i))
        .collect();
    // The wall is read-only: no selection to show.
    let selected = (focused && !app.wall).then_some(p.selected);
    draw_rows(
        f.buffer_mut(),
        inner,
        theme,
        id.columns(),
        &rows,
        offset,
        selected,
    );
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

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Widest the Fraud detail gets (the other details: 96).
const DETAIL_WIDTH: u16 = 110;

fn draw_detail(f: &mut Frame, body: Rect, app: &App, theme: &Theme) {
    let Some(s) = app.snapshot() else { return };
    let Some(row) = app.selected_row(app.focus) else {
        return;
    };
    let c = ctx(app, theme, s);
    let mut lines = if app.focus == PaneId::Fraud {
        let entry = s.fraud.get(row).and_then(|f| app.detail_of(f.order_id));
        let width = body.width.min(DETAIL_WIDTH).saturating_sub(2);
        crate::tui::panes::fraud::detail_with(&c, row, entry, width)
    } else {
        app.focus.detail(&c, row)
    };
    if app.focus == PaneId::Fraud
        && let Some((order, note)) = &app.claimed
        && s.fraud.get(row).is_some_and(|f| f.order_id == *order)
    {
        lines.insert(0, Line::styled(format!("  {note}"), theme.critical));
    }
    let wanted = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let max_width = if app.focus == PaneId::Fraud {
        DETAIL_WIDTH
    } else {
        96
    };
    let area = centered(body, max_width, wanted);
    // Longer than the screen: PgDn/PgUp scroll it (kept within the text).
    let visible = area.height.saturating_sub(2);
    let overflow = wanted.saturating_sub(2).saturating_sub(visible);
    let scroll = app.detail_scroll.min(overflow);
    let more = if overflow > 0 {
        if scroll < overflow {
            "  PgDn more"
        } else {
            "  PgUp back"
        }
    } else {
        ""
    };
    let keys = if app.focus == PaneId::Fraud && app.may_decide() {
        " Esc close  j/k next/previous  a approve  r review  d decline"
    } else {
        " Esc close  j/k next/previous"
    };
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(
            format!(" {} detail ", app.focus.short()),
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

/// The help text, generated from the keymap (so it is never stale).
pub fn help_lines(wall: bool, theme: &Theme) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let ascii = theme.sym.dot == "*";
    let group_lines = |groups: &[Group]| {
        let mut out = Vec::new();
        for g in groups {
            // A group with nothing usable here (the Fraud keys for a viewer) is left out.
            if keymap::active(wall).any(|b| b.group == *g) {
                out.push(Line::styled(g.title().to_string(), theme.title));
            }
            for b in keymap::active(wall).filter(|b| b.group == *g) {
                out.push(Line::from(vec![
                    Span::styled(
                        format!("{:>11}  ", keymap::keys_label(b, ascii)),
                        theme.accent,
                    ),
                    Span::styled(b.help.to_string(), theme.text),
                ]));
            }
        }
        out
    };
    let left = group_lines(&[Group::Panes, Group::Move, Group::Fraud]);
    let mut right = group_lines(&[Group::View, Group::Blocklist, Group::App]);
    right.push(Line::styled("Commands (Enter runs)", theme.title));
    for (names, _, help) in COMMANDS {
        right.push(Line::from(vec![
            Span::styled(format!("{:>11}  ", format!(":{}", names[0])), theme.accent),
            Span::styled(help.to_string(), theme.text),
        ]));
    }
    (left, right)
}

fn draw_help(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    // Viewers and the wall do not see the keys that change data.
    let (left, right) = help_lines(app.wall || !app.may_decide(), theme);
    // Two columns always: the whole keymap fits 80x24.
    let height = left.len().max(right.len()) as u16 + 2;
    let popup = centered(area, 92, height);
    let title = if app.wall {
        " Keys (wall mode: read-only) "
    } else {
        " Keys "
    };
    let mut block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(title, theme.title));
    // One line short (80x24): the bottom border and its hint give way.
    if height > area.height {
        block = block.borders(
            ratatui::widgets::Borders::TOP
                | ratatui::widgets::Borders::LEFT
                | ratatui::widgets::Borders::RIGHT,
        );
    } else {
        block = block.title_bottom(Line::styled(
            " any key closes  mouse: wheel scrolls, click selects ",
            theme.muted,
        ));
    }
    let inner = block.inner(popup);
    f.render_widget(Clear, popup);
    f.render_widget(block, popup);
    let [l, r] = Layout::horizontal([Constraint::Percentage(46), Constraint::Fill(1)]).areas(inner);
    f.render_widget(Paragraph::new(left), l);
    f.render_widget(Paragraph::new(right), r);
}

/// The input cursor after `text`, kept on screen.
fn cursor_x(area: Rect, text: &str) -> u16 {
    let len = u16::try_from(text.chars().count()).unwrap_or(u16::MAX);
    area.x
        .saturating_add(len)
        .min(area.right().saturating_sub(1))
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = match app.input {
        Input::Filter => {
            let text = format!("/{}", app.pane(app.focus).filter);
            if !app.wall {
                f.set_cursor_position((cursor_x(area, &text), area.y));
            }
            let mut spans = vec![
                Span::styled(text, theme.warning),
                Span::styled("   Enter keep  Esc clear", theme.muted),
            ];
            if app.focus == PaneId::Fraud {
                spans.push(Span::styled(
                    format!("   {}", crate::tui::panes::fraud::FILTER_HINT),
                    theme.muted,
                ));
            }
            Line::from(spans)
        }
        Input::Command => {
            let text = format!(":{}", app.command_line);
            if !app.wall {
                f.set_cursor_position((cursor_x(area, &text), area.y));
            }
            Line::from(vec![
                Span::styled(text, theme.accent),
                Span::styled("   Enter run  Esc cancel", theme.muted),
            ])
        }
        Input::None => {
            if let Some(m) = &app.message {
                Line::styled(m.clone(), theme.warning)
            } else {
                let mut spans = Vec::new();
                if app.wall {
                    spans.push(Span::styled(" WALL ", theme.selected));
                    spans.push(Span::styled(" read-only, cycling panes ", theme.muted));
                }
                // The wall shows only what works there without a keyboard habit.
                let fraud = app.focus == PaneId::Fraud && app.may_decide();
                if let Some(st) = app.status.as_ref().filter(|_| fraud) {
                    spans.push(Span::styled(format!(" {st} "), theme.warning));
                }
                let mut hints: Vec<&str> = keymap::active(app.wall)
                    .filter(|b| !app.wall || matches!(b.action, Action::Quit | Action::ToggleHelp))
                    .filter(|b| fraud || !b.changes_data)
                    .filter(|b| keymap::in_context(app, b))
                    .filter(|b| {
                        app.focus == PaneId::Fraud || !matches!(b.action, Action::ToggleBlocklist)
                    })
                    .filter_map(|b| b.footer)
                    .collect();
                let used: usize = spans.iter().map(|s| s.width()).sum();
                let width = |h: &[&str]| h.iter().map(|l| l.chars().count() + 2).sum::<usize>();
                // Too narrow: the first hints go first; help and quit always stay.
                while hints.len() > 2 && used + width(&hints) > usize::from(area.width) {
                    hints.remove(0);
                }
                for label in hints {
                    let (key, rest) = label.split_once(' ').unwrap_or((label, ""));
                    spans.push(Span::styled(format!(" {key}"), theme.accent));
                    spans.push(Span::styled(format!(" {rest} "), theme.muted));
                }
                Line::from(spans)
            }
        }
    };
    f.render_widget(Paragraph::new(line), area);
}
