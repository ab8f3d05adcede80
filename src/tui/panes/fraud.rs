//! Fraud: the review queue by score, highest first; scores above the
//! threshold (the runbook's "> 70") are marked, with the indicators behind them.

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::Line;

use super::{Column, Ctx, TextCell, ago, cell, col, field, fill, right, styled_field};
use crate::domain::fraud::{Band, Indicator, band};
use crate::store::snapshot::Snapshot;

pub const COLUMNS: &[Column] = &[
    col("Score", 5, true, 0),
    col("Order", 11, false, 1),
    col("Amount", 11, true, 0),
    col("Email", 24, false, 3),
    fill("Signals", 2),
    col("State", 7, false, 4),
    col("Age", 7, true, 2),
];

pub const SORT_KEYS: &[&str] = &["score", "amount", "oldest"];

/// "pending", "held" (a review hold still running) or "due" (a hold that ended:
/// back in the queue).
pub fn state_label(
    f: &crate::store::snapshot::FraudRow,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    match (f.state.as_str(), f.hold_until) {
        ("review", Some(h)) if h > now => "held".into(),
        ("review", _) => "due".into(),
        (other, _) => other.into(),
    }
}

/// Counts by state of the listed queue: "pending 21 · due 2 · held 3", plus marks.
pub fn subtitle(c: &Ctx) -> String {
    let (mut pending, mut due, mut held) = (0, 0, 0);
    for f in &c.snap.fraud {
        match state_label(f, c.now).as_str() {
            "pending" => pending += 1,
            "due" => due += 1,
            "held" => held += 1,
            _ => {}
        }
    }
    let mut s = format!(
        "pending {pending} {dot} due {due} {dot} held {held}",
        dot = c.theme.sym.dot
    );
    if !c.marked.is_empty() {
        s.push_str(&format!(" {} {} marked", c.theme.sym.dot, c.marked.len()));
    }
    s
}

pub fn haystack(s: &Snapshot, i: usize) -> String {
    s.fraud.get(i).map_or_else(String::new, |f| {
        let mut h = format!(
            "{} {} {} {} {}",
            f.order_number,
            f.email,
            f.ip.as_deref().unwrap_or(""),
            f.state,
            f.total.display()
        );
        for ind in &f.indicators {
            h.push(' ');
            h.push_str(&ind.indicator.replace('_', " "));
        }
        h
    })
}

pub fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
    let (Some(x), Some(y)) = (s.fraud.get(a), s.fraud.get(b)) else {
        return a.cmp(&b);
    };
    match key {
        1 => y.total.minor.cmp(&x.total.minor),
        2 => x.created_at.cmp(&y.created_at),
        _ => y.score.cmp(&x.score).then(x.created_at.cmp(&y.created_at)),
    }
    .then(x.order_id.cmp(&y.order_id))
}

fn label(indicator: &str) -> String {
    Indicator::parse(indicator)
        .map_or_else(|| indicator.replace('_', " "), |i| i.label().to_string())
}

fn score_u8(score: i16) -> u8 {
    u8::try_from(score.clamp(0, 100)).unwrap_or(0)
}

pub fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
    let t = c.theme;
    let Some(f) = c.snap.fraud.get(i) else {
        return (Vec::new(), Style::new());
    };
    let b = band(score_u8(f.score), c.threshold);
    let (score_text, score_style) = match b {
        Band::High => (format!("{} {}", t.sym.flag, f.score), t.critical),
        Band::Elevated => (f.score.to_string(), t.warning),
        Band::Low => (f.score.to_string(), t.ok),
    };
    let signals: Vec<String> = f
        .indicators
        .iter()
        .take(3)
        .map(|ind| label(&ind.indicator))
        .collect();
    let (state_text, state_style) = match &f.claimed_by {
        Some(by) if by != c.operator => (format!("by {by}"), t.warning),
        _ => (
            state_label(f, c.now),
            if f.state == "review" { t.muted } else { t.text },
        ),
    };
    let mark = if c.marked.contains(&f.order_id) {
        "* "
    } else {
        ""
    };
    let cells = vec![
        right(score_text, score_style),
        cell(format!("{mark}{}", f.order_number), t.text),
        right(f.total.display(), t.text),
        cell(f.email.clone(), t.muted),
        cell(c.text(&signals.join(", ")), t.text),
        cell(state_text, state_style),
        right(
            crate::domain::incidents::format_duration(c.now - f.created_at),
            t.muted,
        ),
    ];
    (cells, Style::new())
}

pub fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
    let t = c.theme;
    let Some(f) = c.snap.fraud.get(i) else {
        return Vec::new();
    };
    let s = score_u8(f.score);
    let high = crate::domain::fraud::is_high_risk(s, c.threshold);
    let mut lines = vec![
        field("Order", format!("{} (#{})", f.order_number, f.order_id), t),
        styled_field(
            "Score",
            format!(
                "{} / 100 - {}",
                f.score,
                if high {
                    format!("HIGH RISK (> {})", c.threshold)
                } else {
                    format!("at or under {}", c.threshold)
                }
            ),
            if high { t.critical } else { t.text },
            t,
        ),
        field("State", state_label(f, c.now), t),
        field("Amount", f.total.display(), t),
        field("Email", f.email.clone(), t),
        field("IP", f.ip.clone().unwrap_or_else(|| "-".into()), t),
        field(
            "Placed",
            format!(
                "{} ({})",
                c.local(f.created_at, "%a %H:%M %Z"),
                ago(f.created_at, c.now)
            ),
            t,
        ),
    ];
    if let Some(by) = f.claimed_by.as_ref().filter(|by| *by != c.operator) {
        lines.push(styled_field(
            "Claim",
            format!("being reviewed by {by}"),
            t.warning,
            t,
        ));
    }
    if let Some(h) = f.hold_until {
        lines.push(field(
            "Review hold until",
            c.local(h, "%a %d %b %H:%M %Z"),
            t,
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("  Contributing indicators:", t.title));
    if f.indicators.is_empty() {
        lines.push(Line::styled("    (none recorded)", t.muted));
    }
    for ind in &f.indicators {
        lines.push(Line::from(vec![
            ratatui::text::Span::styled(format!("    +{:>3}  ", ind.points), t.warning),
            ratatui::text::Span::styled(format!("{:<16}", c.text(&label(&ind.indicator))), t.text),
            ratatui::text::Span::styled(c.text(&ind.evidence), t.muted),
        ]));
    }
    lines
}
