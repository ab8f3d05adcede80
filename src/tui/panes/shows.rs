//! Live shows (today): the day's schedule with countdowns, live viewers and
//! sales, low stock of pinned products; a show past its start with no video
//! room is the runbook's P0.

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::Line;

use super::{Column, Ctx, TextCell, cell, col, field, fill, grouped, right, styled_field};
use crate::domain::shows::{PRESHOW_CHECKLIST, Phase};
use crate::store::snapshot::Snapshot;

pub const COLUMNS: &[Column] = &[
    col("Start", 5, false, 0),
    fill("Show", 0),
    col("Creator", 14, false, 3),
    col("Phase", 14, false, 0),
    col("Viewers", 7, true, 2),
    col("30 min", 10, false, 3),
    col("Sales", 12, true, 1),
    col("Low", 3, true, 4),
];

pub const SORT_KEYS: &[&str] = &["start", "viewers", "sales"];

/// A live show's viewers over the last 30 minutes as `width` bars, scaled to
/// the most seen in that half hour.
fn trend(c: &Ctx, r: &crate::store::snapshot::ShowRow, width: usize) -> String {
    let values: Vec<u64> = r.viewer_trend.iter().map(|&v| u64::from(v)).collect();
    let max = values.iter().copied().max().unwrap_or(0);
    super::spark(&values, width, max, c.theme.sym.dot == "*")
}

/// The pane: a table of these rows (no actions of its own yet).
pub type ShowsPane = super::TablePane<Shows>;

/// This pane's rows of the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shows;

/// The day's checklists live with the day's shows: `:checklist` (any pane)
/// opens today's list, `:checklist preshow ID` a show's.
const SECTIONS: &[crate::tui::keymap::Section] = &[crate::tui::keymap::Section {
    title: "Checklists",
    bindings: &[crate::tui::keymap::Binding::command(
        "checklist",
        &["checklist", "cl"],
        crate::tui::action::Action::OpenChecklist,
        "checklist; :cl preshow ID",
    )],
}];

impl super::Rows for Shows {
    const ID: super::PaneId = super::PaneId::Shows;
    const COLUMNS: &'static [Column] = COLUMNS;
    const SORT_KEYS: &'static [&'static str] = SORT_KEYS;
    const SECTIONS: &'static [crate::tui::keymap::Section] = SECTIONS;

    fn len(s: &Snapshot) -> usize {
        s.shows.len()
    }

    fn total(s: &Snapshot) -> i64 {
        s.facts.shows_today.total
    }

    fn key(s: &Snapshot, i: usize) -> i64 {
        s.shows.get(i).map_or(-1, |r| r.id)
    }

    fn haystack(s: &Snapshot, i: usize) -> String {
        s.shows.get(i).map_or_else(String::new, |r| {
            format!("{} {} {}", r.title, r.creator, r.status)
        })
    }

    fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
        let (Some(x), Some(y)) = (s.shows.get(a), s.shows.get(b)) else {
            return a.cmp(&b);
        };
        match key {
            1 => y.current_viewers.cmp(&x.current_viewers),
            2 => y.sales.minor.cmp(&x.sales.minor),
            _ => x.scheduled_start.cmp(&y.scheduled_start),
        }
        .then(x.id.cmp(&y.id))
    }

    fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
        let t = c.theme;
        let Some(r) = c.snap.shows.get(i) else {
            return (Vec::new(), Style::new());
        };
        let phase = r.phase(c.now);
        let phase_style = match phase {
            Phase::LateNoRoom { .. } => t.alarm,
            Phase::Live { .. } => t.ok,
            Phase::PreShow { .. } | Phase::Late { .. } => t.warning,
            Phase::Upcoming { .. } => t.text,
            Phase::Done => t.muted,
        };
        let done = phase == Phase::Done;
        let base = if done { t.muted } else { t.text };
        let cells = vec![
            cell(c.local(r.scheduled_start, "%H:%M"), base),
            cell(c.text(&r.title), base),
            cell(r.creator.clone(), base),
            cell(phase.label(), phase_style),
            right(
                if matches!(phase, Phase::Live { .. }) {
                    grouped(i64::from(r.current_viewers))
                } else if done {
                    grouped(i64::from(r.peak_viewers))
                } else {
                    "-".into()
                },
                base,
            ),
            // Viewers over the last half hour, 3 minutes a bar (live shows).
            cell(trend(c, r, 10), t.accent),
            right(r.sales.display(), base),
            right(
                if r.low_stock_products > 0 {
                    r.low_stock_products.to_string()
                } else {
                    String::new()
                },
                t.warning,
            ),
        ];
        let row_style = if phase.cannot_start() {
            t.alarm
        } else {
            Style::new()
        };
        (cells, row_style)
    }

    /// The show's id (what `lsn-ops report show ID` takes).
    fn copy_id(s: &Snapshot, i: usize) -> Option<String> {
        s.shows.get(i).map(|r| r.id.to_string())
    }

    fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
        let t = c.theme;
        let Some(r) = c.snap.shows.get(i) else {
            return Vec::new();
        };
        let phase = r.phase(c.now);
        let mut lines = vec![
            field("Show", format!("#{} {}", r.id, c.text(&r.title)), t),
            field("Creator", r.creator.clone(), t),
            field(
                "Scheduled",
                format!(
                    "{} - {}",
                    c.local(r.scheduled_start, "%a %H:%M"),
                    c.local(r.scheduled_end, "%H:%M %Z")
                ),
                t,
            ),
            styled_field(
                "Phase",
                phase.label(),
                if phase.cannot_start() {
                    t.alarm
                } else {
                    t.text
                },
                t,
            ),
            field("Status", r.status.clone(), t),
            field("Video room", if r.has_room { "created" } else { "none" }, t),
            field(
                "Viewers",
                format!(
                    "{} now, {} peak",
                    grouped(i64::from(r.current_viewers)),
                    grouped(i64::from(r.peak_viewers))
                ),
                t,
            ),
            field("Last 30 min", trend(c, r, 30), t),
            field(
                "Sales",
                format!("{} from {} orders", r.sales.display(), grouped(r.orders)),
                t,
            ),
            styled_field(
                "Pinned products",
                format!(
                    "{} pinned, {} at or under reorder point",
                    r.pinned_products, r.low_stock_products
                ),
                if r.low_stock_products > 0 {
                    t.warning
                } else {
                    t.text
                },
                t,
            ),
            field("Recording", r.recording_status.clone(), t),
        ];
        if matches!(
            phase,
            Phase::PreShow { .. } | Phase::Late { .. } | Phase::LateNoRoom { .. }
        ) {
            lines.push(Line::from(""));
            lines.push(Line::styled(
                "  Pre-show checklist (30 minutes before):",
                t.title,
            ));
            for (_, label) in PRESHOW_CHECKLIST {
                lines.push(Line::styled(format!("    - {label}"), t.text));
            }
        }
        lines
    }
}
