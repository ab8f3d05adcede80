//! The Fraud pane's detail view of one order: what the snapshot has (score,
//! indicators with their evidence), then what the detail task loaded (items,
//! the customer's history, related orders), or "loading" until it is there.

use ratatui::text::{Line, Span};

use super::queue::{label, score_u8, state_label};
use crate::store::fraud_detail::{COUNT_CAP, OrderDetail, PastDecision};
use crate::store::snapshot::FraudRow;
use crate::tui::detail::Entry;
use crate::tui::panes::{Ctx, ago, field, styled_field};

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
