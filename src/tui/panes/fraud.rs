//! Fraud: the review queue by score, highest first; scores above the
//! threshold (the runbook's "> 70") are marked, with the indicators behind them.

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Column, Ctx, TextCell, ago, cell, col, field, fill, right, styled_field};
use crate::domain::fraud::{Band, Indicator, band};
use crate::store::fraud_detail::{COUNT_CAP, OrderDetail, PastDecision};
use crate::store::snapshot::{FraudRow, Snapshot};
use crate::tui::detail::Entry;

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
            "{} {} {} {} {} {} {}",
            f.order_number,
            f.email,
            f.ip.as_deref().unwrap_or(""),
            f.state,
            f.total.display(),
            f.show.as_deref().unwrap_or(""),
            f.creator.as_deref().unwrap_or("")
        );
        for ind in &f.indicators {
            h.push(' ');
            h.push_str(&ind.indicator.replace('_', " "));
        }
        h
    })
}

/// The Fraud pane's `/` filter: space-separated terms, all of which must hold
/// (several bands: any of them). `band:high|elevated|low` (the score band), `ind:TEXT` (an indicator's name
/// or label contains it, e.g. `ind:vpn`), `show:TEXT` and `creator:TEXT` (the
/// show title or creator handle contains it); anything else is plain text
/// matched anywhere in the row, as in the other panes. Double quotes keep
/// spaces in one term (`show:"sneaker drop"`). Any case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub bands: Vec<Band>,
    pub indicators: Vec<String>,
    pub shows: Vec<String>,
    pub creators: Vec<String>,
    pub text: Vec<String>,
}

/// What the footer says while typing a Fraud filter.
pub const FILTER_HINT: &str = "band:high|elevated|low ind:vpn show:X creator:X text";

fn terms(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in input.chars() {
        match ch {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Filter {
    pub fn parse(input: &str) -> Filter {
        let mut f = Filter::default();
        for term in terms(&input.to_lowercase()) {
            let (key, value) = term.split_once(':').unwrap_or(("", term.as_str()));
            let value = value.to_string();
            match key {
                "band" => match value.as_str() {
                    "high" | "h" | "hi" => f.bands.push(Band::High),
                    "elevated" | "e" | "elev" | "medium" | "med" => f.bands.push(Band::Elevated),
                    "low" | "l" => f.bands.push(Band::Low),
                    // An unknown band matches nothing, visibly.
                    _ => f.text.push(term.clone()),
                },
                "ind" | "indicator" => f.indicators.push(value),
                "show" => f.shows.push(value),
                "creator" => f.creators.push(value.trim_start_matches('@').to_string()),
                _ => f.text.push(term.clone()),
            }
        }
        f
    }

    pub fn is_empty(&self) -> bool {
        self == &Filter::default()
    }

    /// Row `i` of the snapshot passes; `threshold` draws the score bands.
    pub fn matches(&self, s: &Snapshot, i: usize, threshold: u8) -> bool {
        let Some(f) = s.fraud.get(i) else {
            return false;
        };
        let contains = |hay: Option<&str>, needle: &str| {
            hay.is_some_and(|h| h.to_lowercase().contains(needle))
        };
        if !self.bands.is_empty() && !self.bands.contains(&band(score_u8(f.score), threshold)) {
            return false;
        }
        let indicator = |needle: &String| {
            f.indicators.iter().any(|ind| {
                ind.indicator.replace('_', " ").contains(needle.as_str())
                    || ind.indicator.contains(needle.as_str())
                    || label(&ind.indicator)
                        .to_lowercase()
                        .contains(needle.as_str())
            })
        };
        if !self.indicators.iter().all(indicator) {
            return false;
        }
        if !self.shows.iter().all(|n| contains(f.show.as_deref(), n)) {
            return false;
        }
        if !self
            .creators
            .iter()
            .all(|n| contains(f.creator.as_deref(), n))
        {
            return false;
        }
        if self.text.is_empty() {
            return true;
        }
        let hay = haystack(s, i).to_lowercase();
        self.text.iter().all(|n| hay.contains(n.as_str()))
    }
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
    detail_with(c, i, None, 94)
}

/// Cuts `s` to `n` characters, with an ellipsis when cut.
fn cut(c: &Ctx, s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n.saturating_sub(1)).collect();
        c.text(&format!("{head}…"))
    }
}

fn decision_text(c: &Ctx, d: &PastDecision) -> String {
    format!(
        "{} by {} {}: {}",
        d.decision,
        d.operator,
        ago(d.decided_at, c.now),
        d.reason
    )
}

fn plural(n: i64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The detail of order row `i`, `width` cells wide: the snapshot's fields, then
/// what the detail task loaded (items, customer history, related orders), or
/// "loading" until it is there.
pub fn detail_with(c: &Ctx, i: usize, entry: Option<&Entry>, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width).max(40);
    let t = c.theme;
    let Some(f) = c.snap.fraud.get(i) else {
        return Vec::new();
    };
    let d = entry.and_then(|e| e.detail.as_deref());
    let mut lines = head_lines(c, f, d);
    let Some(d) = d else {
        lines.push(Line::from(""));
        match entry.and_then(|e| e.error.as_deref()) {
            Some(err) => lines.push(Line::styled(
                cut(
                    c,
                    &format!("  Could not load the history and related orders: {err}"),
                    width,
                ),
                t.critical,
            )),
            None => lines.push(Line::styled(
                c.text("  Loading items, customer history and related orders…"),
                t.muted,
            )),
        }
        lines.extend(indicator_lines(c, f));
        return lines;
    };

    // Items.
    lines.push(Line::from(""));
    lines.push(Line::styled(
        format!(
            "  Items ({} + shipping {}):",
            d.subtotal.display(),
            d.shipping.display()
        ),
        t.title,
    ));
    if d.items.is_empty() {
        lines.push(Line::styled("    (no items recorded)", t.muted));
    }
    let name_w = width.saturating_sub(28).clamp(10, 44);
    for it in &d.items {
        lines.push(Line::from(vec![
            Span::styled(format!("    {:>3} x ", it.quantity), t.text),
            Span::styled(format!("{:<name_w$} ", cut(c, &it.product, name_w)), t.text),
            Span::styled(format!("{:>10} each", it.unit_price.display()), t.muted),
        ]));
    }

    lines.extend(indicator_lines(c, f));

    // The customer's history.
    let h = &d.history;
    lines.push(Line::from(""));
    lines.push(Line::styled(
        cut(
            c,
            &format!(
                "  Customer: {} ({}, #{}), since {} ({})",
                h.name,
                h.country,
                h.customer_id,
                c.local(h.since, "%d %b %Y"),
                ago(h.since, c.now)
            ),
            width,
        ),
        t.title,
    ));
    let spent = if h.spent.is_empty() {
        String::new()
    } else {
        format!(
            ", {} spent",
            h.spent
                .iter()
                .map(|m| m.display())
                .collect::<Vec<_>>()
                .join(" + ")
        )
    };
    lines.push(Line::from(vec![
        Span::styled("    ", t.text),
        Span::styled(
            format!("{}{spent}", plural(h.paid_orders, "previous paid order")),
            if h.paid_orders == 0 {
                t.warning
            } else {
                t.text
            },
        ),
        Span::styled(format!(" {} ", t.sym.dot), t.muted),
        Span::styled(
            format!(
                "{}, {}, {} lost",
                plural(h.disputes, "dispute"),
                plural(h.chargebacks, "chargeback"),
                h.disputes_lost
            ),
            if h.chargebacks > 0 || h.disputes_lost > 0 {
                t.critical
            } else {
                t.text
            },
        ),
    ]));
    if h.decisions.is_empty() {
        lines.push(Line::styled("    no earlier fraud decisions", t.muted));
    } else {
        let shown = h.decisions.len() as i64;
        lines.push(Line::styled(
            if h.decisions_total > shown {
                format!(
                    "    earlier fraud decisions ({shown} newest of {}):",
                    h.decisions_total
                )
            } else {
                format!("    earlier fraud decisions ({shown}):")
            },
            t.text,
        ));
        for pd in &h.decisions {
            let style = if pd.undone {
                t.muted
            } else if pd.decision == "decline" {
                t.critical
            } else {
                t.text
            };
            let text = format!(
                "{}{}",
                decision_text(c, pd),
                if pd.undone { " (undone)" } else { "" }
            );
            lines.push(Line::from(vec![
                Span::styled(format!("      {:<12} ", pd.order_number), t.text),
                Span::styled(cut(c, &text, width.saturating_sub(19)), style),
            ]));
        }
    }

    // Related orders: what links them, and what became of them.
    lines.push(Line::from(""));
    let counts: Vec<String> = d
        .link_counts
        .iter()
        .map(|lc| {
            let n = if lc.orders >= COUNT_CAP {
                format!("{}+", lc.orders)
            } else {
                lc.orders.to_string()
            };
            if lc.declined > 0 {
                format!("{} {n} ({} declined)", lc.link.as_str(), lc.declined)
            } else {
                format!("{} {n}", lc.link.as_str())
            }
        })
        .collect();
    lines.push(Line::from(vec![
        Span::styled("  Related orders: ", t.title),
        Span::styled(
            cut(
                c,
                &counts.join(&format!(" {} ", t.sym.dot)),
                width.saturating_sub(18),
            ),
            if d.link_counts.iter().any(|l| l.declined > 0) {
                t.warning
            } else {
                t.text
            },
        ),
    ]));
    if d.related.is_empty() {
        lines.push(Line::styled(
            cut(
                c,
                "    none: no other order shares its IP, device, payer or email",
                width,
            ),
            t.muted,
        ));
    } else {
        lines.push(Line::styled(
            format!(
                "    {:<11} {:<12} {:>10} {:>7} {:>5} {:<8} {}",
                "Shares", "Order", "Amount", "Age", "Score", "State", "Decision"
            ),
            t.muted.add_modifier(ratatui::style::Modifier::BOLD),
        ));
    }
    // Wide enough: the decision on the same line; otherwise on the next one.
    const ROW: usize = 4 + 12 + 13 + 11 + 8 + 6 + 9;
    let inline = width >= ROW + 30;
    for r in &d.related {
        let links: Vec<&str> = r.links.iter().map(|l| l.as_str()).collect();
        let score = r.score.map_or_else(|| "-".into(), |s| s.to_string());
        let high = r.score.is_some_and(|s| s > i16::from(c.threshold));
        let state_style = match r.fraud_state.as_str() {
            "declined" => t.critical,
            "pending" | "review" => t.warning,
            _ => t.text,
        };
        let decision = r
            .decision
            .as_ref()
            .map_or_else(|| "-".into(), |pd| decision_text(c, pd));
        let mut spans = vec![
            Span::styled(format!("    {:<11} ", links.join("+")), t.accent),
            Span::styled(format!("{:<12} ", r.order_number), t.text),
            Span::styled(format!("{:>10} ", r.total.display()), t.text),
            Span::styled(
                format!(
                    "{:>7} ",
                    crate::domain::incidents::format_duration(c.now - r.created_at)
                ),
                t.muted,
            ),
            Span::styled(
                format!("{score:>5} "),
                if high { t.critical } else { t.text },
            ),
            Span::styled(format!("{:<8} ", r.fraud_state), state_style),
        ];
        if inline {
            spans.push(Span::styled(
                cut(c, &decision, width.saturating_sub(ROW)),
                t.muted,
            ));
            lines.push(Line::from(spans));
        } else {
            lines.push(Line::from(spans));
            if r.decision.is_some() {
                lines.push(Line::styled(
                    format!("      {}", cut(c, &decision, width.saturating_sub(7))),
                    t.muted,
                ));
            }
        }
    }
    let total = d.related_total();
    if total > d.related.len() as i64 {
        lines.push(Line::styled(
            format!(
                "    the newest {} of {} links (counted per link)",
                d.related.len(),
                total
            ),
            t.muted,
        ));
    }
    lines
}

fn indicator_lines(c: &Ctx, f: &FraudRow) -> Vec<Line<'static>> {
    let t = c.theme;
    let mut lines = vec![
        Line::from(""),
        Line::styled("  Contributing indicators:", t.title),
    ];
    if f.indicators.is_empty() {
        lines.push(Line::styled("    (none recorded)", t.muted));
    }
    for ind in &f.indicators {
        lines.push(Line::from(vec![
            Span::styled(format!("    +{:>3}  ", ind.points), t.warning),
            Span::styled(format!("{:<16}", c.text(&label(&ind.indicator))), t.text),
            Span::styled(c.text(&ind.evidence), t.muted),
        ]));
    }
    lines
}

/// The order's own fields: the snapshot row, and what the detail adds to them.
fn head_lines(c: &Ctx, f: &FraudRow, d: Option<&OrderDetail>) -> Vec<Line<'static>> {
    let t = c.theme;
    let s = score_u8(f.score);
    let high = crate::domain::fraud::is_high_risk(s, c.threshold);
    let mut lines = vec![
        field(
            "Order",
            format!(
                "{} (#{}), {}, placed {} ({})",
                f.order_number,
                f.order_id,
                state_label(f, c.now),
                c.local(f.created_at, "%a %H:%M %Z"),
                ago(f.created_at, c.now)
            ),
            t,
        ),
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
    ];
    let mut amount = f.total.display();
    if let Some(d) = d {
        let via = match (&d.show_title, &d.creator) {
            (Some(show), Some(cr)) => format!(" in \"{show}\" by @{cr}"),
            (Some(show), None) => format!(" in \"{show}\""),
            (None, Some(cr)) => format!(" from @{cr}"),
            (None, None) => String::new(),
        };
        amount.push_str(&via);
    }
    lines.push(field("Amount", amount, t));
    lines.push(field("Email", f.email.clone(), t));
    let ip = f.ip.clone().unwrap_or_else(|| "-".into());
    match d {
        Some(d) => {
            let country = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
            lines.push(field(
                "IP",
                format!(
                    "{ip} ({}), billing {}, shipping {}",
                    country(&d.ip_country),
                    country(&d.billing_country),
                    country(&d.shipping_country)
                ),
                t,
            ));
            lines.push(field(
                "Device / payer",
                format!(
                    "{} / {}",
                    d.device.as_deref().unwrap_or("-"),
                    d.payer.as_deref().unwrap_or("-")
                ),
                t,
            ));
        }
        None => lines.push(field("IP", ip, t)),
    }
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
    lines
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::snapshot::fixture;

    fn snap() -> Snapshot {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 17, 30, 0)
            .unwrap();
        fixture(now, &chrono_tz::America::Los_Angeles)
    }

    fn numbers(s: &Snapshot, filter: &str) -> Vec<String> {
        let f = Filter::parse(filter);
        (0..s.fraud.len())
            .filter(|&i| f.matches(s, i, 70))
            .map(|i| s.fraud[i].order_number.clone())
            .collect()
    }

    #[test]
    fn terms_parse_by_key_with_quotes_and_any_case() {
        let f = Filter::parse(r#"Band:HIGH ind:VPN show:"Sneaker Drop" creator:@Ava mailinator"#);
        assert_eq!(f.bands, [Band::High]);
        assert_eq!(f.indicators, ["vpn"]);
        assert_eq!(f.shows, ["sneaker drop"]);
        assert_eq!(f.creators, ["ava"]);
        assert_eq!(f.text, ["mailinator"]);
        assert!(Filter::parse("  ").is_empty());
        // An unknown key is plain text.
        assert_eq!(Filter::parse("foo:bar").text, ["foo:bar"]);
    }

    #[test]
    fn band_splits_the_queue_by_score() {
        let s = snap();
        let high = numbers(&s, "band:high");
        let scores = |ns: &[String]| -> Vec<i16> {
            ns.iter()
                .map(|n| s.fraud.iter().find(|f| &f.order_number == n).unwrap().score)
                .collect()
        };
        assert!(scores(&high).iter().all(|&x| x > 70));
        assert_eq!(high.len(), 6);
        let elevated = numbers(&s, "band:elevated");
        assert!(scores(&elevated).iter().all(|&x| (50..=70).contains(&x)));
        assert_eq!(high.len() + elevated.len(), s.fraud.len());
        assert!(numbers(&s, "band:low").is_empty());
        // Two bands: either of them.
        assert_eq!(numbers(&s, "band:high band:elevated").len(), s.fraud.len());
        assert!(numbers(&s, "band:purple").is_empty());
    }

    #[test]
    fn indicator_show_creator_and_text_combine() {
        let s = snap();
        // Eight fixture orders came through a proxy; one is a high-value first order.
        assert_eq!(numbers(&s, "ind:vpn").len(), 8);
        assert_eq!(numbers(&s, "ind:high_value").len(), 1);
        assert_eq!(numbers(&s, "ind:high-value").len(), 1, "by label too");
        assert!(numbers(&s, "ind:blocklisted").is_empty());
        let kitchen = numbers(&s, "show:kitchen");
        assert!(!kitchen.is_empty());
        for n in &kitchen {
            let f = s.fraud.iter().find(|f| &f.order_number == n).unwrap();
            assert_eq!(f.show.as_deref(), Some("Kitchen Gadget Blitz"));
        }
        let sneaker = numbers(&s, r#"show:"sneaker drop""#);
        assert!(!sneaker.is_empty());
        let ava = numbers(&s, "creator:ava");
        assert!(!ava.is_empty());
        assert!(ava.iter().all(|n| {
            s.fraud
                .iter()
                .any(|f| &f.order_number == n && f.creator.as_deref() == Some("ava_chen"))
        }));
        // All terms must hold: a creator and a band.
        let both = numbers(&s, "creator:ava band:high");
        assert!(both.len() <= ava.len());
        assert!(both.iter().all(|n| ava.contains(n)));
        // Plain text still matches anywhere (the email here).
        assert_eq!(numbers(&s, "MAILINATOR"), ["LSN-1009062"]);
        // The storefront order has no show: a show term leaves it out.
        let last = &s.fraud[9].order_number;
        assert!(!numbers(&s, "show:").contains(last));
    }
}
