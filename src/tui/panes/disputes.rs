//! Disputes: the SLA queue, most urgent first. The deadline is whichever
//! comes first, the internal 24h evidence SLA or PayPal's response due date.
//! This module holds the rows (a pure function of the snapshot) and the
//! detail's text; [`pane`] is the component with the actions.

mod pane;
pub use pane::{DisputesPane, SECTIONS};

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Column, Ctx, TextCell, View, ago, cell, col, field, fill, right, styled_field};
use crate::domain::disputes::{DisputeState, urgency};
use crate::domain::incidents::format_time_left;
use crate::store::disputes::Detail;
use crate::store::snapshot::{DisputeRow, Snapshot};

pub const COLUMNS: &[Column] = &[
    col("Due", 14, true, 0),
    col("State", 17, false, 1),
    fill("Reason", 3),
    col("Amount", 12, true, 0),
    col("Ev", 3, true, 2),
    col("Owner", 8, false, 4),
];

pub const SORT_KEYS: &[&str] = &["deadline", "amount", "newest", "state"];

/// Evidence still has to reach PayPal: the SLA clock runs.
fn waiting(state: &str) -> bool {
    DisputeState::parse(state).is_some_and(|s| s.awaiting_evidence())
}

fn state_rank(s: &str) -> usize {
    DisputeState::ALL
        .iter()
        .position(|d| d.as_str() == s)
        .unwrap_or(99)
}

fn reason_label(reason: &str) -> String {
    let r = reason
        .trim_start_matches("MERCHANDISE_OR_SERVICE_")
        .replace('_', " ")
        .to_lowercase();
    let mut chars = r.chars();
    chars.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// This pane's rows of the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disputes;

impl super::Rows for Disputes {
    const ID: super::PaneId = super::PaneId::Disputes;
    const COLUMNS: &'static [Column] = COLUMNS;
    const SORT_KEYS: &'static [&'static str] = SORT_KEYS;

    fn len(s: &Snapshot) -> usize {
        s.disputes.len()
    }

    fn total(s: &Snapshot) -> i64 {
        s.facts.disputes.active
    }

    fn key(s: &Snapshot, i: usize) -> i64 {
        s.disputes.get(i).map_or(-1, |r| r.id)
    }

    fn haystack(s: &Snapshot, i: usize) -> String {
        s.disputes.get(i).map_or_else(String::new, |d| {
            format!(
                "{} {} {} {} {} {}",
                d.paypal_dispute_id,
                d.order_number.as_deref().unwrap_or(""),
                d.state,
                d.reason.replace('_', " "),
                d.assigned_to.as_deref().unwrap_or(""),
                d.amount.display()
            )
        })
    }

    fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
        let (Some(x), Some(y)) = (s.disputes.get(a), s.disputes.get(b)) else {
            return a.cmp(&b);
        };
        match key {
            1 => y.amount.minor.cmp(&x.amount.minor),
            2 => y.opened_at.cmp(&x.opened_at),
            3 => state_rank(&x.state)
                .cmp(&state_rank(&y.state))
                .then(x.deadline().cmp(&y.deadline())),
            _ => waiting(&y.state)
                .cmp(&waiting(&x.state))
                .then(x.deadline().cmp(&y.deadline())),
        }
        .then(x.id.cmp(&y.id))
    }

    fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
        let t = c.theme;
        let Some(d) = c.snap.disputes.get(i) else {
            return (Vec::new(), Style::new());
        };
        let deadline = d.deadline();
        let awaiting = DisputeState::parse(&d.state).is_some_and(|s| s.awaiting_evidence());
        let due_style = if awaiting {
            c.urgency_style(urgency(deadline, c.now))
        } else {
            t.muted
        };
        let ev_style = if d.evidence_done >= 7 { t.ok } else { t.text };
        let cells = vec![
            right(
                if awaiting {
                    format_time_left(deadline, c.now)
                } else {
                    "evidence sent".into()
                },
                due_style,
            ),
            cell(d.state.clone(), t.text),
            cell(reason_label(&d.reason), t.text),
            right(d.amount.display(), t.text),
            right(format!("{}/7", d.evidence_done), ev_style),
            cell(d.assigned_to.clone().unwrap_or_else(|| "-".into()), t.muted),
        ];
        (cells, Style::new())
    }

    /// PayPal's dispute id.
    fn copy_id(s: &Snapshot, i: usize) -> Option<String> {
        s.disputes.get(i).map(|r| r.paypal_dispute_id.clone())
    }

    fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
        let t = c.theme;
        let Some(d) = c.snap.disputes.get(i) else {
            return Vec::new();
        };
        let when = |x| c.local(x, "%a %d %b %H:%M %Z");
        let deadline = d.deadline();
        let state = DisputeState::parse(&d.state);
        let next: Vec<&str> = state
            .map(|s| s.next_states().iter().map(|n| n.as_str()).collect())
            .unwrap_or_default();
        let mut lines = vec![
            field("Dispute", format!("#{} {}", d.id, d.paypal_dispute_id), t),
            field(
                "Order",
                d.order_number.clone().unwrap_or_else(|| "-".into()),
                t,
            ),
            field("State", d.state.clone(), t),
            field("Reason", reason_label(&d.reason), t),
            field("Stage", d.stage.clone().unwrap_or_else(|| "-".into()), t),
            field("Amount", d.amount.display(), t),
            field(
                "Opened",
                format!("{} ({})", when(d.opened_at), ago(d.opened_at, c.now)),
                t,
            ),
            field(
                "Internal SLA",
                format!(
                    "{} ({})",
                    when(d.sla_due_at),
                    format_time_left(d.sla_due_at, c.now)
                ),
                t,
            ),
            field(
                "PayPal due",
                d.seller_response_due_at.map_or_else(
                    || "-".into(),
                    |x| format!("{} ({})", when(x), format_time_left(x, c.now)),
                ),
                t,
            ),
            styled_field(
                "Deadline",
                format!("{} ({})", when(deadline), format_time_left(deadline, c.now)),
                c.urgency_style(urgency(deadline, c.now)),
                t,
            ),
            field(
                "Owner",
                d.assigned_to.clone().unwrap_or_else(|| "unassigned".into()),
                t,
            ),
            field(
                "Next states",
                if next.is_empty() {
                    "-".into()
                } else {
                    next.join(", ")
                },
                t,
            ),
            field("Submission", submission(c, d), t),
        ];
        if let Some(creator) = &d.creator {
            lines.insert(2, field("Creator", format!("@{creator}"), t));
        }
        lines
    }
}

/// Where the submission stands: who asked and when (the worker says
/// "auto-submitted"), or why it waits for a person.
fn submission(c: &Ctx, d: &DisputeRow) -> String {
    match (&d.submitted_by, d.submitted_at) {
        (Some(by), Some(at)) => format!(
            "{} by {by} at {}",
            if d.auto_submitted {
                "auto-submitted"
            } else {
                "submitted"
            },
            c.local(at, "%a %d %b %H:%M %Z")
        ),
        _ => d.manual_reason.clone().unwrap_or_else(|| {
            if d.state == DisputeState::EvidenceReady.as_str() {
                "ready: s submits".into()
            } else {
                "waiting for evidence".into()
            }
        }),
    }
}

/// The detail's evidence part: the seven items with status and source, the
/// required ones still missing, and the evidence pack as text.
pub fn detail_lines(c: &Ctx, d: &Detail, lines: &mut Vec<Line<'static>>) {
    let t = c.theme;
    lines.push(Line::styled(
        format!(
            "  Evidence: {}/7{}",
            d.summary.evidence_done,
            if d.missing_required.is_empty() {
                String::new()
            } else {
                format!(" (required missing: {})", d.missing_required.join(", "))
            }
        ),
        t.title,
    ));
    for (n, e) in d.evidence.iter().enumerate() {
        let style = match e.status {
            crate::domain::evidence::ItemStatus::Collected => t.ok,
            crate::domain::evidence::ItemStatus::NotApplicable => t.muted,
            crate::domain::evidence::ItemStatus::Missing if e.required => t.warning,
            crate::domain::evidence::ItemStatus::Missing => t.muted,
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {} {}. {}", pane::status_mark(e.status), n + 1, e.label),
                style,
            ),
            Span::styled(
                format!(
                    "  {}{}",
                    e.status.as_str(),
                    if e.required { ", required" } else { "" }
                ),
                t.muted,
            ),
        ]));
        if let Some(src) = &e.source {
            lines.push(Line::styled(
                c.text(&format!("        source: {src}")),
                t.muted,
            ));
        }
        if let Some(note) = &e.note {
            lines.push(Line::styled(format!("        note: {note}"), t.text));
        }
    }
    if let Some(err) = d
        .submit_error
        .as_ref()
        .filter(|_| d.submit_command_state.as_deref() == Some("dead"))
    {
        lines.push(field("PayPal said", err.clone(), t));
    }
    if let (Some(by), Some(at)) = (&d.accepted_by, d.accepted_at) {
        lines.push(field(
            "Accepted",
            format!(
                "by {by} at {}: {}",
                c.local(at, "%a %d %b %H:%M %Z"),
                d.accept_reason.clone().unwrap_or_default()
            ),
            t,
        ));
    }
    lines.push(Line::from(""));
    match &d.pack {
        Some(p) => {
            lines.push(Line::styled(
                format!(
                    "  Evidence pack #{} ({} bytes, sha256 {}…, {}):",
                    p.id,
                    p.bytes,
                    p.sha256.get(..12).unwrap_or(""),
                    c.local(p.created_at, "%a %H:%M")
                ),
                t.title,
            ));
            for l in p.text.lines() {
                lines.push(Line::styled(format!("    {l}"), t.text));
            }
        }
        None => lines.push(Line::styled(
            "  No evidence pack yet (built when submitted; lsn-ops disputes pack ID --out FILE)",
            t.muted,
        )),
    }
}

/// The footer's rates for the selected dispute: overall, its reason's, its
/// creator's (decided disputes of the last 90 days).
pub fn rates_spans(s: &Snapshot, d: &DisputeRow, v: &View) -> Vec<Span<'static>> {
    let r = &s.dispute_rates;
    let pct = |x: Option<i64>| x.map_or_else(|| "-".into(), |p| format!("{p}%"));
    let mut text = format!(
        "won {} · recovered {}",
        pct(r.overall.win_pct()),
        pct(r.overall.recovery_pct())
    );
    if let Some(x) = r.reason(&d.reason) {
        text.push_str(&format!(
            " · {} {}/{}",
            reason_label(&d.reason),
            x.won,
            x.decided
        ));
    }
    if let Some(x) = d.creator.as_deref().and_then(|c| r.creator(c)) {
        text.push_str(&format!(" · @{} {}/{}", x.key, x.won, x.decided));
    }
    let text = if v.theme.sym.dot == "*" {
        text.replace('·', "-")
    } else {
        text
    };
    vec![Span::styled(format!(" {text} "), v.theme.muted)]
}
