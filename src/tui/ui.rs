//! Drawing: a pure function of the [`App`] and the [`Theme`]. This module
//! draws the shared chrome (header, banner, tabs, footer, help, "too small");
//! each pane draws itself ([`super::panes::Pane::draw`]). Nothing here waits
//! on I/O; only the visible rows of each pane are formatted.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::action::Action;
use super::app::{App, Input};

use super::layout::{self, LayoutKind, MIN_HEIGHT, MIN_WIDTH};
use super::panes::table::centered;
use super::panes::{PaneId, grouped};
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
    // Each pane draws itself; the focused one then draws its overlays.
    for id in PaneId::ALL {
        if let Some(r) = screen.pane(id) {
            app.panes.get(id).draw(f, r, &app.view(theme, id));
        }
    }
    draw_footer(f, screen.footer, app, theme);
    app.panes
        .get(app.focus)
        .draw_overlay(f, screen.body, &app.view(theme, app.focus));
    if let Some(order) = &app.order {
        order.draw(f, screen.body, theme, &app.tz);
    }
    if let Some(checklist) = &app.checklist {
        checklist.draw(f, screen.body, theme);
    }
    if let Some(duplicates) = &app.duplicates {
        duplicates.draw(f, screen.body, theme, &app.tz);
    }
    if let Some((id, report)) = &app.show_report {
        draw_show_report(f, screen.body, theme, *id, report.as_ref());
    }
    if app.help {
        draw_help(f, area, app, theme);
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
    // To the minute: at rest the screen changes once a minute, not each second.
    let clock = if narrow {
        local.format("%a %H:%M %Z").to_string()
    } else {
        local.format("%a %d %b %Y %H:%M %Z").to_string()
    };
    let d = &app.data;
    let age =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| (app.now - t).num_seconds().max(0));
    let db = if d.connected {
        // LISTEN up: every change arrives at once, the data is live. Polling
        // only: say how old it is.
        let s = if d.listening {
            format!("{} db ok, live", theme.sym.dot)
        } else {
            format!(
                "{} db ok, data {}s old (polling)",
                theme.sym.dot,
                age(d.last_success).unwrap_or(0)
            )
        };
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
    let mut line1 = vec![
        Span::styled(" LSN OPS", theme.title),
        sep(theme),
        Span::styled(clock, theme.text.add_modifier(Modifier::BOLD)),
        sep(theme),
        Span::styled(
            format!("{} ({})", app.operator, app.role().as_str()),
            theme.accent,
        ),
        sep(theme),
    ];
    if let Some(since) = app.frozen {
        // Frozen (`f`): say so first, with how old what is on screen is.
        let shown = age(d.last_success).unwrap_or(0);
        line1.push(Span::styled(
            format!(
                " FROZEN {}s (data {shown}s old{}) f: now ",
                (app.now - since).num_seconds().max(0),
                if app.has_pending() {
                    ", newer waiting"
                } else {
                    ""
                }
            ),
            theme.selected.add_modifier(Modifier::BOLD),
        ));
        line1.push(sep(theme));
    }
    line1.push(db);
    if let Some(s) = app.snapshot() {
        let used: usize = line1.iter().map(Span::width).sum();
        line1.extend(gmv_trend(
            s,
            theme,
            app,
            usize::from(area.width).saturating_sub(used),
        ));
    }
    let line1 = Line::from(line1);
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
            // The day's checklist: "morning 5/7" (`:checklist` opens it).
            // Only when it fits whole: the alerts come first.
            if let Some(c) = s.facts.checklist {
                let count = format!("{} {}/{}", c.list.as_str(), c.done, c.total);
                let used: usize = line2.iter().map(|s| s.width()).sum();
                let sep = sep(theme);
                let room = usize::from(area.width).saturating_sub(used + sep.width());
                let word = if !narrow && room >= "Checklist ".len() + count.len() {
                    "Checklist "
                } else {
                    ""
                };
                if word.len() + count.len() <= room {
                    line2.push(sep);
                    line2.push(label(word));
                    line2.push(Span::styled(
                        count,
                        if c.done < c.total {
                            theme.warning
                        } else {
                            theme.muted
                        },
                    ));
                }
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

/// Today's GMV per hour next to the same weekday last week's, as two
/// sparklines on one scale, in the `room` cells left on the header's first
/// line: 24 bars an hour each, or 12, 8 or 6 (2 to 4 hours a bar) when that is
/// what fits; nothing when even that does not.
fn gmv_trend(
    s: &crate::store::snapshot::Snapshot,
    theme: &Theme,
    app: &App,
    room: usize,
) -> Vec<Span<'static>> {
    let g = &s.gmv_by_hour;
    let last = (app.now - chrono::Duration::days(7))
        .with_timezone(&app.tz)
        .format("%a")
        .to_string();
    let (head, mid) = ("GMV/h ", format!(" {last} "));
    let labels = sep(theme).width() + head.len() + mid.len();
    let Some(bars) = [24usize, 12, 8, 6]
        .into_iter()
        .find(|&n| labels + 2 * n <= room)
    else {
        return Vec::new();
    };
    let as_u64 =
        |v: &[i64]| -> Vec<u64> { v.iter().map(|&m| u64::try_from(m).unwrap_or(0)).collect() };
    let (today, week) = (as_u64(&g.today), as_u64(&g.last_week));
    let max = today.iter().chain(&week).copied().max().unwrap_or(0);
    let ascii = theme.sym.dot == "*";
    let per = 24 / bars;
    // Today's hours to come stay blank.
    let mut now_bars = crate::tui::panes::spark_by(&today, per, max, ascii);
    while now_bars.chars().count() < bars {
        now_bars.push(' ');
    }
    vec![
        sep(theme),
        Span::styled(head, theme.muted),
        Span::styled(now_bars, theme.accent),
        Span::styled(mid, theme.muted),
        Span::styled(
            crate::tui::panes::spark_by(&week, per, max, ascii),
            theme.muted,
        ),
    ]
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

/// The help text, generated from the registry (so it is never stale): the
/// app-wide sections and the focused pane's, each section this operator has
/// a usable binding in, whole sections in two
/// columns `width` cells wide together, as short as they can be. Returns the
/// columns and the left one's width.
pub fn help_columns(
    app: &App,
    theme: &Theme,
    width: u16,
) -> (Vec<Line<'static>>, Vec<Line<'static>>, u16) {
    let ascii = theme.sym.dot == "*";
    let mut blocks: Vec<(Vec<Line<'static>>, usize)> = Vec::new();
    let pane = app.panes.get(app.focus);
    for section in app.help_sections() {
        // Keys this operator may not use are left out, and app-wide keys the
        // focused pane gives another meaning (pane 3's `s`); so is an empty
        // section.
        let usable: Vec<_> = section
            .bindings
            .iter()
            .filter(|b| app.keymap.allows(b))
            .filter(|b| !shadowed(pane, b.name))
            .collect();
        if usable.is_empty() {
            continue;
        }
        let mut lines = vec![Line::styled(section.title.to_string(), theme.title)];
        for b in usable {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{:>11}  ", app.keymap.label(b, ascii)),
                    theme.accent,
                ),
                Span::styled(b.help.to_string(), theme.text),
            ]));
        }
        let widest = lines.iter().map(Line::width).max().unwrap_or(0);
        blocks.push((lines, widest));
    }
    // Which sections go left: the split whose taller column is shortest among
    // those whose columns fit side by side, and among those the one closest
    // to the registry's order (fewest sections on the left that come after
    // one on the right). A handful of sections: every split is tried.
    let n = blocks.len().min(16);
    let mut best: Option<((usize, u32), u32)> = None;
    for mask in 0u32..(1 << n) {
        let (mut lh, mut rh, mut lw, mut rw) = (0, 0, 0, 0);
        let (mut right_seen, mut inversions) = (0u32, 0u32);
        for (i, (lines, w)) in blocks.iter().enumerate().take(n) {
            if mask & (1 << i) != 0 {
                lh += lines.len();
                lw = lw.max(*w);
                inversions += right_seen;
            } else {
                rh += lines.len();
                rw = rw.max(*w);
                right_seen += 1;
            }
        }
        let fits = lw + rw + 2 <= usize::from(width);
        let score = (lh.max(rh) + if fits { 0 } else { 10_000 }, inversions);
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, mask));
        }
    }
    let mask = best.map_or(0, |(_, m)| m);
    let (mut left, mut right, mut left_width) = (Vec::new(), Vec::new(), 0);
    for (i, (lines, w)) in blocks.into_iter().enumerate() {
        if i < 32 && mask & (1 << i) != 0 {
            left_width = left_width.max(w);
            left.extend(lines);
        } else {
            right.extend(lines);
        }
    }
    (
        left,
        right,
        u16::try_from(left_width + 2).unwrap_or(width / 2),
    )
}

/// An app-wide binding whose key `pane` gives to one of its own
/// (`keymap::SHADOWS`): left out of that pane's help.
fn shadowed(pane: &dyn crate::tui::panes::Pane, name: &str) -> bool {
    crate::tui::keymap::SHADOWS.iter().any(|(own, app_wide)| {
        *app_wide == name
            && pane
                .sections()
                .iter()
                .any(|s| s.bindings.iter().any(|b| b.name == *own))
    })
}

fn draw_help(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    // Viewers, read-only dashboards and the wall do not see the keys that change data.
    let width = area.width.min(92);
    let (left, right, left_width) = help_columns(app, theme, width.saturating_sub(2));
    // Two columns always: the whole keymap fits 80x24.
    let height = left.len().max(right.len()) as u16 + 2;
    let popup = centered(area, width, height);
    let title = if app.wall {
        " Keys (wall mode: read-only) "
    } else if app.readonly {
        " Keys (read-only) "
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
            if app.mouse() {
                " any key closes  mouse: wheel scrolls, click selects "
            } else {
                " any key closes "
            },
            theme.muted,
        ));
    }
    let inner = block.inner(popup);
    f.render_widget(Clear, popup);
    f.render_widget(block, popup);
    let [l, r] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Fill(1)]).areas(inner);
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
            if let Some(hint) = app.panes.get(app.focus).filter_hint() {
                spans.push(Span::styled(format!("   {hint}"), theme.muted));
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
                if let Some(st) = app.panes.get(app.focus).status(&app.keymap) {
                    spans.push(Span::styled(format!(" {st} "), theme.warning));
                }
                // The wall shows only what works there without a keyboard habit.
                let mut hints: Vec<String> = if app.order.is_some() {
                    super::order_view::OrderOverlay::hints(&app.keymap)
                } else if let Some(d) = &app.duplicates {
                    d.hints(
                        app.keymap
                            .may(crate::domain::operators::Permission::IssueRefunds),
                    )
                } else {
                    app.live_bindings()
                        .filter(|b| {
                            !app.wall || matches!(b.action, Action::Quit | Action::ToggleHelp)
                        })
                        .filter_map(|b| app.keymap.footer(b))
                        .collect()
                };
                let used: usize = spans.iter().map(|s| s.width()).sum();
                let width = |h: &[String]| h.iter().map(|l| l.chars().count() + 2).sum::<usize>();
                // Too narrow: the first hints go first; help and quit always stay.
                while hints.len() > 2 && used + width(&hints) > usize::from(area.width) {
                    hints.remove(0);
                }
                for label in &hints {
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

/// Pane 2's detail on an ended show: the show's performance report
/// (`lsn-ops report show ID`), over the body.
fn draw_show_report(
    f: &mut Frame,
    body: Rect,
    theme: &Theme,
    id: i64,
    report: Option<&Result<String, String>>,
) {
    let area = crate::tui::panes::table::centered(body, 100, 24);
    let lines: Vec<Line> = match report {
        None => vec![Line::styled("Loading…", theme.muted)],
        Some(Err(e)) => vec![Line::styled(e.clone(), theme.alarm)],
        Some(Ok(text)) => text
            .lines()
            .map(|l| Line::styled(l.to_string(), theme.text))
            .collect(),
    };
    f.render_widget(ratatui::widgets::Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(format!(" Show #{id}: performance report "))
                .title_bottom(" Esc close "),
        ),
        area,
    );
}
