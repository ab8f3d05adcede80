//! The Fraud pane's queue: the review queue by score, highest first; scores
//! above the threshold (the runbook's "> 70") are marked, with the indicators
//! behind them; the `/` filter with its `band:`, `ind:`, `show:` and
//! `creator:` terms.

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::Line;

use super::super::{Column, Ctx, TextCell, cell, col, fill, right};
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

pub(super) fn label(indicator: &str) -> String {
    Indicator::parse(indicator)
        .map_or_else(|| indicator.replace('_', " "), |i| i.label().to_string())
}

pub(super) fn score_u8(score: i16) -> u8 {
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

/// The queue's rows of the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Queue;

impl super::super::Rows for Queue {
    const ID: super::super::PaneId = super::super::PaneId::Fraud;
    const COLUMNS: &'static [Column] = COLUMNS;
    const SORT_KEYS: &'static [&'static str] = SORT_KEYS;

    fn len(s: &Snapshot) -> usize {
        s.fraud.len()
    }

    fn total(s: &Snapshot) -> i64 {
        s.fraud_queue_total
    }

    fn key(s: &Snapshot, i: usize) -> i64 {
        s.fraud.get(i).map_or(-1, |r| r.order_id)
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

    /// The order number.
    fn copy_id(s: &Snapshot, i: usize) -> Option<String> {
        s.fraud.get(i).map(|f| f.order_number.clone())
    }

    fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
        super::detail_view::detail_with(c, i, None, 94)
    }

    fn subtitle(c: &Ctx) -> String {
        subtitle(c)
    }
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
