//! Alerts & incidents: firing and acknowledged alerts (most severe first)
//! and open incidents with their time left, P0s impossible to miss. The rows
//! are here; the component with the lifecycle actions is [`pane`].

mod pane;
#[cfg(test)]
mod tests;
pub use pane::{AlertsPane, Ask, Prompt, SECTIONS};

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::Line;

use super::{Column, Ctx, TextCell, ago, cell, col, field, fill, right, styled_field};
use crate::domain::incidents::format_time_left;
use crate::store::snapshot::{AlertRow, IncidentRow, Snapshot};

pub const COLUMNS: &[Column] = &[
    col("Pri", 3, false, 0),
    col("Sev", 4, false, 1),
    fill("What", 0),
    col("State", 13, false, 3),
    col("Age / due", 14, true, 0),
    col("Hits", 4, true, 4),
];

pub const SORT_KEYS: &[&str] = &["urgency", "newest", "kind"];

pub(crate) enum Item<'a> {
    Alert(&'a AlertRow),
    Incident(&'a IncidentRow),
}

pub(crate) fn item(s: &Snapshot, i: usize) -> Option<Item<'_>> {
    if i < s.alerts.len() {
        s.alerts.get(i).map(Item::Alert)
    } else {
        s.incidents.get(i - s.alerts.len()).map(Item::Incident)
    }
}

pub fn key(s: &Snapshot, i: usize) -> i64 {
    match item(s, i) {
        Some(Item::Alert(a)) => a.id,
        Some(Item::Incident(inc)) => -inc.id,
        None => i64::MIN,
    }
}

fn pri_rank(p: Option<&str>) -> u8 {
    match p {
        Some("P0") => 0,
        Some("P1") => 1,
        Some("P2") => 2,
        Some("P3") => 3,
        _ => 4,
    }
}

fn sev_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    }
}

fn urgency(s: &Snapshot, i: usize) -> (u8, u8, u8, i64) {
    match item(s, i) {
        Some(Item::Alert(a)) => (
            pri_rank(a.priority.as_deref()),
            sev_rank(&a.severity),
            u8::from(a.state != "open"),
            -a.opened_at.timestamp(),
        ),
        Some(Item::Incident(inc)) => (pri_rank(Some(&inc.priority)), 0, 0, inc.due_at.timestamp()),
        None => (9, 9, 9, 0),
    }
}

fn opened(s: &Snapshot, i: usize) -> i64 {
    match item(s, i) {
        Some(Item::Alert(a)) => a.opened_at.timestamp(),
        Some(Item::Incident(inc)) => inc.opened_at.timestamp(),
        None => 0,
    }
}

/// What the State column says of an alert.
fn alert_state(a: &AlertRow) -> &'static str {
    if a.silenced_until.is_some() {
        "silenced"
    } else if a.recovering {
        "recovering"
    } else if a.state == "acknowledged" {
        "acked"
    } else {
        "FIRING"
    }
}

/// This pane's rows of the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alerts;

impl super::Rows for Alerts {
    const ID: super::PaneId = super::PaneId::Alerts;
    const COLUMNS: &'static [Column] = COLUMNS;
    const SORT_KEYS: &'static [&'static str] = SORT_KEYS;

    fn len(s: &Snapshot) -> usize {
        s.alerts.len() + s.incidents.len()
    }

    fn total(s: &Snapshot) -> i64 {
        let f = &s.facts;
        f.alerts.critical + f.alerts.warning + f.alerts.info + f.incidents.open
    }

    fn key(s: &Snapshot, i: usize) -> i64 {
        key(s, i)
    }

    fn haystack(s: &Snapshot, i: usize) -> String {
        match item(s, i) {
            Some(Item::Alert(a)) => format!(
                "{} {} {} {} {} {}",
                a.priority.as_deref().unwrap_or(""),
                a.severity,
                a.title,
                a.state,
                a.rule_key,
                a.acked_by.as_deref().unwrap_or("")
            ),
            Some(Item::Incident(inc)) => format!(
                "incident {} {} {} {}",
                inc.priority,
                inc.title,
                inc.state,
                inc.commander.as_deref().unwrap_or("")
            ),
            None => String::new(),
        }
    }

    fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
        match key {
            1 => opened(s, b).cmp(&opened(s, a)),
            2 => (a >= s.alerts.len())
                .cmp(&(b >= s.alerts.len()))
                .then(urgency(s, a).cmp(&urgency(s, b))),
            _ => urgency(s, a).cmp(&urgency(s, b)),
        }
        .then(a.cmp(&b))
    }

    fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
        let t = c.theme;
        match item(c.snap, i) {
            Some(Item::Alert(a)) => {
                let p0 = a.priority.as_deref() == Some("P0");
                let (sev, sev_style) = match a.severity.as_str() {
                    "critical" => ("CRIT", t.critical),
                    "warning" => ("WARN", t.warning),
                    _ => ("info", t.info),
                };
                let state = alert_state(a);
                let state_style = if state == "FIRING" { t.accent } else { t.muted };
                let cells = vec![
                    cell(
                        a.priority.clone().unwrap_or_default(),
                        if p0 { t.alarm } else { t.text },
                    ),
                    cell(sev, sev_style),
                    cell(c.text(&a.title), t.text),
                    cell(state, state_style),
                    right(ago(a.opened_at, c.now), t.muted),
                    right(format!("{}", a.occurrences), t.muted),
                ];
                (cells, if p0 { t.alarm } else { Style::new() })
            }
            Some(Item::Incident(inc)) => {
                let p0 = inc.priority == "P0";
                let left = inc.due_at - c.now;
                let due_style = if left <= chrono::Duration::zero() {
                    t.alarm
                } else if left < chrono::Duration::minutes(30) {
                    t.critical
                } else if left < chrono::Duration::hours(2) {
                    t.warning
                } else {
                    t.ok
                };
                let cells = vec![
                    cell(inc.priority.clone(), if p0 { t.alarm } else { t.text }),
                    cell("INC", t.accent),
                    cell(c.text(&inc.title), t.text),
                    cell(inc.state.clone(), t.muted),
                    right(format_time_left(inc.due_at, c.now), due_style),
                    right("", t.muted),
                ];
                (cells, if p0 { t.alarm } else { Style::new() })
            }
            None => (Vec::new(), Style::new()),
        }
    }

    /// An alert's dedup key, an incident's number.
    fn copy_id(s: &Snapshot, i: usize) -> Option<String> {
        match item(s, i)? {
            Item::Alert(a) => Some(a.rule_key.clone()),
            Item::Incident(inc) => Some(format!("INC-{}", inc.id)),
        }
    }

    fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
        let t = c.theme;
        let when = |d| c.local(d, "%a %H:%M:%S %Z");
        match item(c.snap, i) {
            Some(Item::Alert(a)) => {
                let mut lines = vec![
                    field("Alert", format!("#{} {}", a.id, c.text(&a.title)), t),
                    styled_field(
                        "Severity",
                        format!("{} {}", a.severity, a.priority.as_deref().unwrap_or("")),
                        if a.severity == "critical" {
                            t.critical
                        } else {
                            t.text
                        },
                        t,
                    ),
                    field("Rule", a.rule_key.clone(), t),
                    field("Key", c.text(&a.dedup_key), t),
                    field("Source", c.text(&a.source), t),
                    field(
                        "State",
                        match a.silenced_until {
                            Some(until) => format!("{} (silenced until {})", a.state, when(until)),
                            None if a.recovering => format!("{} (recovering)", a.state),
                            None => a.state.clone(),
                        },
                        t,
                    ),
                    field(
                        "Opened",
                        format!("{} ({})", when(a.opened_at), ago(a.opened_at, c.now)),
                        t,
                    ),
                    field(
                        "Last seen",
                        format!("{} ({})", when(a.last_seen_at), ago(a.last_seen_at, c.now)),
                        t,
                    ),
                    field("Occurrences", a.occurrences.to_string(), t),
                    field(
                        "Acknowledged by",
                        a.acked_by.clone().unwrap_or_else(|| "-".into()),
                        t,
                    ),
                ];
                if !a.details.is_empty() {
                    lines.push(field("Details", c.text(&a.details), t));
                }
                lines
            }
            Some(Item::Incident(inc)) => {
                let within = crate::domain::incidents::Priority::parse(&inc.priority)
                    .map_or("", |p| p.label());
                vec![
                    field("Incident", format!("#{} {}", inc.id, c.text(&inc.title)), t),
                    styled_field(
                        "Priority",
                        format!("{} {within}", inc.priority),
                        if inc.priority == "P0" {
                            t.alarm
                        } else {
                            t.text
                        },
                        t,
                    ),
                    field("State", inc.state.clone(), t),
                    field(
                        "Commander",
                        inc.commander.clone().unwrap_or_else(|| "-".into()),
                        t,
                    ),
                    field(
                        "Opened",
                        format!("{} ({})", when(inc.opened_at), ago(inc.opened_at, c.now)),
                        t,
                    ),
                    field(
                        "Resolve by",
                        format!(
                            "{} ({})",
                            when(inc.due_at),
                            format_time_left(inc.due_at, c.now)
                        ),
                        t,
                    ),
                    field(
                        "Escalated to",
                        crate::domain::incidents::Step::from_level(inc.escalation_level)
                            .map_or("-", |s| s.label())
                            .to_string(),
                        t,
                    ),
                    field(
                        "From alert",
                        inc.alert_id.map_or("-".into(), |a| format!("#{a}")),
                        t,
                    ),
                    field(
                        "Latest",
                        inc.last_event.as_deref().map_or("-".into(), |e| c.text(e)),
                        t,
                    ),
                    field(
                        "Summary",
                        if inc.summary.is_empty() {
                            "-".into()
                        } else {
                            c.text(&inc.summary)
                        },
                        t,
                    ),
                ]
            }
            None => Vec::new(),
        }
    }
}
