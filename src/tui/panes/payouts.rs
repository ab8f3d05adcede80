//! Payouts: this week's batch (Friday 14:00 local), one line per creator:
//! (order total - costs) x commission rate, failures and holds first.

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::Line;

use super::{Column, Ctx, TextCell, cell, col, field, fill, grouped, right, styled_field};
use crate::domain::money::{Money, format_bps};
use crate::store::snapshot::Snapshot;

pub const COLUMNS: &[Column] = &[
    fill("Creator", 0),
    col("Tier", 8, false, 3),
    col("Orders", 6, true, 4),
    col("Net", 12, true, 2),
    col("Rate", 4, true, 5),
    col("Amount", 12, true, 0),
    col("State", 7, false, 0),
    col("Bank", 10, false, 1),
];

pub const SORT_KEYS: &[&str] = &["attention", "amount", "creator"];

pub fn haystack(s: &Snapshot, i: usize) -> String {
    s.payout_items.get(i).map_or_else(String::new, |p| {
        format!(
            "{} {} {} {} {} {}",
            p.creator,
            p.tier,
            p.kind,
            p.state,
            p.recipient_status,
            p.failure_reason.as_deref().unwrap_or("")
        )
    })
}

fn attention(state: &str) -> u8 {
    match state {
        "failed" => 0,
        "held" => 1,
        "processing" => 2,
        "pending" => 3,
        _ => 4,
    }
}

pub fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
    let (Some(x), Some(y)) = (s.payout_items.get(a), s.payout_items.get(b)) else {
        return a.cmp(&b);
    };
    match key {
        1 => y.amount.minor.cmp(&x.amount.minor),
        2 => x.creator.to_lowercase().cmp(&y.creator.to_lowercase()),
        _ => attention(&x.state)
            .cmp(&attention(&y.state))
            .then(y.amount.minor.cmp(&x.amount.minor)),
    }
    .then(x.id.cmp(&y.id))
}

fn net(p: &crate::store::snapshot::PayoutItemRow) -> Money {
    Money::new(
        p.order_total.minor.saturating_sub(p.costs.minor),
        p.order_total.currency,
    )
}

pub fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
    let t = c.theme;
    let Some(p) = c.snap.payout_items.get(i) else {
        return (Vec::new(), Style::new());
    };
    let state_style = match p.state.as_str() {
        "failed" => t.critical,
        "held" => t.warning,
        "sent" => t.ok,
        _ => t.text,
    };
    let bank_style = if p.recipient_status == "verified" {
        t.muted
    } else {
        t.warning
    };
    let creator = if p.kind == "adjustment" {
        format!("{} (adj.)", p.creator)
    } else {
        p.creator.clone()
    };
    let cells = vec![
        cell(creator, t.text),
        cell(p.tier.clone(), t.muted),
        right(grouped(i64::from(p.order_count)), t.text),
        right(net(p).display(), t.text),
        right(
            format_bps(i64::from(p.commission_bps)).replace(".00", ""),
            t.muted,
        ),
        right(p.amount.display(), t.text),
        cell(p.state.clone(), state_style),
        cell(p.recipient_status.clone(), bank_style),
    ];
    (cells, Style::new())
}

pub fn subtitle(c: &Ctx) -> String {
    match &c.snap.facts.payout_batch {
        Some(b) => {
            let mut s = format!(
                "#{} {} · {} · {}",
                b.id,
                b.state,
                c.local(b.scheduled_for, "%a %H:%M"),
                b.total.display()
            );
            if b.failed_items > 0 {
                s.push_str(&format!(" · {} failed", b.failed_items));
            }
            if b.held_items > 0 {
                s.push_str(&format!(" · {} held", b.held_items));
            }
            c.text(&s)
        }
        None => "no batch".into(),
    }
}

pub fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
    let t = c.theme;
    let Some(p) = c.snap.payout_items.get(i) else {
        return Vec::new();
    };
    let mut lines = vec![
        field(
            "Payout line",
            format!("#{} {} ({})", p.id, p.creator, p.kind),
            t,
        ),
        field(
            "Tier",
            format!("{} at {}", p.tier, format_bps(i64::from(p.commission_bps))),
            t,
        ),
        field("Orders", grouped(i64::from(p.order_count)), t),
        field("Order total", p.order_total.display(), t),
        field("Costs", format!("- {}", p.costs.display()), t),
        field("Net", net(p).display(), t),
        field(
            "Earnings",
            format!(
                "{} = net x {}",
                p.amount.display(),
                format_bps(i64::from(p.commission_bps))
            ),
            t,
        ),
        styled_field(
            "State",
            p.state.clone(),
            if p.state == "failed" {
                t.critical
            } else {
                t.text
            },
            t,
        ),
        styled_field(
            "Bank details",
            p.recipient_status.clone(),
            if p.recipient_status == "verified" {
                t.ok
            } else {
                t.warning
            },
            t,
        ),
        field("Attempts", p.attempts.to_string(), t),
    ];
    if let Some(r) = &p.hold_reason {
        lines.push(styled_field("Held", r.clone(), t.warning, t));
    }
    if let Some(r) = &p.failure_reason {
        lines.push(styled_field("Failure", r.clone(), t.critical, t));
    }
    if let Some(b) = &c.snap.facts.payout_batch {
        lines.push(Line::from(""));
        lines.push(field(
            "Batch",
            format!(
                "#{} {} for {}",
                b.id,
                b.state,
                c.local(b.scheduled_for, "%a %d %b %H:%M %Z")
            ),
            t,
        ));
        lines.push(field(
            "Batch total",
            format!("{} over {} lines", b.total.display(), b.items),
            t,
        ));
    }
    lines
}

/// The pane: a table of these rows (no actions of its own yet).
pub type PayoutsPane = super::TablePane<Payouts>;

/// This pane's rows of the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Payouts;

impl super::Rows for Payouts {
    const ID: super::PaneId = super::PaneId::Payouts;
    const COLUMNS: &'static [Column] = COLUMNS;
    const SORT_KEYS: &'static [&'static str] = SORT_KEYS;

    fn len(s: &Snapshot) -> usize {
        s.payout_items.len()
    }

    fn total(s: &Snapshot) -> i64 {
        s.facts.payout_batch.as_ref().map_or(0, |b| b.items)
    }

    fn key(s: &Snapshot, i: usize) -> i64 {
        s.payout_items.get(i).map_or(-1, |r| r.id)
    }

    fn haystack(s: &Snapshot, i: usize) -> String {
        haystack(s, i)
    }

    fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
        compare(s, key, a, b)
    }

    fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
        row(c, i)
    }

    /// The creator of the line.
    fn copy_id(s: &Snapshot, i: usize) -> Option<String> {
        s.payout_items.get(i).map(|r| r.creator.clone())
    }

    fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
        detail(c, i)
    }

    fn subtitle(c: &Ctx) -> String {
        subtitle(c)
    }
}
