//! Disputes: the SLA queue, most urgent first. The deadline is whichever
//! comes first, the internal 24h evidence SLA or PayPal's response due date.

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::Line;

use super::{Column, Ctx, TextCell, ago, cell, col, field, fill, right, styled_field};
use crate::domain::disputes::{DisputeState, EVIDENCE_ITEMS, may_auto_submit, urgency};
use crate::domain::incidents::format_time_left;
use crate::store::snapshot::Snapshot;

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

/// The pane: a table of these rows (no actions of its own yet).
pub type DisputesPane = super::TablePane<Disputes>;

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
        let auto = may_auto_submit(d.evidence_done >= 7, d.seller_response_due_at, c.now);
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
            field(
                "Submission",
                if auto {
                    "automatic (evidence complete, deadline > 48h)"
                } else {
                    "manual queue"
                },
                t,
            ),
            Line::from(""),
            Line::styled(
                format!("  Evidence: {}/7 items collected", d.evidence_done),
                t.title,
            ),
        ];
        for (_, label) in EVIDENCE_ITEMS {
            lines.push(Line::styled(format!("    - {label}"), t.muted));
        }
        lines
    }
}
