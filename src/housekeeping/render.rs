//! The period report ([`crate::store::reports::Report`]) as text for a
//! terminal and as CSV for a sheet; JSON is its serde form.

use crate::domain::money::{Money, format_bps};
use crate::store::reports::Report;
use crate::store::show_report::ShowReport;

fn hours(h: Option<i64>) -> String {
    h.map_or("-".into(), |h| format!("{h} h"))
}

fn rate(bps: Option<i64>) -> String {
    bps.map_or("-".into(), format_bps)
}

fn money(m: Option<Money>) -> String {
    m.map_or("-".into(), |m| m.display())
}

/// The report for a terminal: one metric per line, the shows at the end.
pub fn render_text(r: &Report) -> String {
    let period = if r.period.first_day == r.period.last_day {
        r.period.first_day.to_string()
    } else {
        format!("{} to {}", r.period.first_day, r.period.last_day)
    };
    let mut lines = vec![
        format!(
            "lsn-ops {} report: {period} ({})",
            r.kind, r.period.timezone
        ),
        String::new(),
        format!("  GMV                    {}", r.gmv.display()),
        format!("  Net GMV after refunds  {}", r.net_gmv.display()),
        format!(
            "  Orders                 {} ({} paid, {} payment failed)",
            r.orders, r.paid_orders, r.payment_failed_orders
        ),
        format!("  Average order value    {}", money(r.aov)),
        format!(
            "  Conversion             {}{}",
            rate(r.conversion_bps),
            r.sessions
                .map_or(String::new(), |s| format!(" of {s} sessions"))
        ),
        format!(
            "  Refunds                {} ({})",
            r.refunds.count,
            r.refunds.amount.display()
        ),
        format!(
            "  Disputes               {} opened ({} of paid orders); {} won, {} lost: win rate {}",
            r.disputes_opened,
            rate(r.dispute_rate_bps),
            r.disputes_won,
            r.disputes_lost,
            rate(r.dispute_win_rate_bps)
        ),
        format!(
            "  Payout success         {} ({} sent, {} failed)",
            rate(r.payout_success_rate_bps),
            r.payout_lines_sent,
            r.payout_lines_failed
        ),
        format!(
            "  Fraud false positives  {} ({} approved, {} declined)",
            rate(r.fraud_false_positive_rate_bps),
            r.fraud_approved,
            r.fraud_declined
        ),
        format!(
            "  Webhook failures       {} of {} received",
            r.webhook_failures, r.webhooks_received
        ),
        format!(
            "  Fulfilment time        avg {}, p90 {} ({} shipped)",
            hours(r.fulfilment_hours_avg),
            hours(r.fulfilment_hours_p90),
            r.orders_shipped
        ),
        format!(
            "  Inventory turnover     {} ({} units sold, {} on hand)",
            rate(r.inventory_turnover_bps),
            r.units_sold,
            r.units_on_hand
        ),
        format!("  Shows run              {}", r.shows_run),
    ];
    for s in &r.shows {
        lines.push(format!(
            "    #{:<6} {:<36} {:<16} {:>5} orders  {}",
            s.id,
            crate::text::clip_to(&s.title, 36),
            crate::text::clip_to(&s.creator, 16),
            s.orders,
            s.gmv.display()
        ));
    }
    lines.join("\n") + "\n"
}

/// Eight-level bars of `values` scaled to their maximum.
pub fn sparkline(values: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|v| BARS[((v.max(&0) * 7) / max).clamp(0, 7) as usize])
        .collect()
}

/// One show's report for a terminal.
pub fn render_show(r: &ShowReport, tz: &chrono_tz::Tz) -> String {
    let local = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".into(), |t| {
            t.with_timezone(tz).format("%a %d %b %H:%M").to_string()
        })
    };
    let count = |v: Option<i64>| v.map_or("-".into(), |v| v.to_string());
    let mut lines = vec![
        format!("Show #{} {} ({}), {}", r.id, r.title, r.creator, r.status),
        format!(
            "  Started {}, ended {} ({})",
            local(r.started_at),
            local(r.ended_at),
            tz.name()
        ),
        String::new(),
        format!("  GMV                    {}", r.gmv.display()),
        format!("  Net GMV after refunds  {}", r.net_gmv.display()),
        format!("  Orders                 {}", r.orders),
        format!("  Average order value    {}", money(r.aov)),
        format!(
            "  Viewers                peak {}, unique {}, average {}",
            r.peak_viewers,
            count(r.unique_viewers),
            count(r.average_viewers)
        ),
        format!(
            "  Conversion             {} of peak viewers, {} of unique viewers",
            rate(r.conversion_peak_bps),
            rate(r.conversion_unique_bps)
        ),
        format!(
            "  Viewers over time      {}",
            if r.viewers_over_time.is_empty() {
                "-".to_string()
            } else {
                sparkline(&r.viewers_over_time)
            }
        ),
        format!("  Payment failures       {}", r.payment_failures),
        format!(
            "  Fraud                  {} held for review, {} declined",
            r.fraud_holds, r.fraud_declines
        ),
        format!(
            "  Refunds so far         {} ({})",
            r.refunds,
            r.refunded.display()
        ),
        format!(
            "  Disputes so far        {} ({})",
            r.disputes,
            r.disputed.display()
        ),
        "  Top products".to_string(),
    ];
    if r.top_products.is_empty() {
        lines.push("    none sold".into());
    }
    for p in &r.top_products {
        lines.push(format!(
            "    {:<14} {:<36} {:>4} units  {}",
            crate::text::clip_to(&p.sku, 14),
            crate::text::clip_to(&p.name, 36),
            p.units,
            p.revenue.display()
        ));
    }
    lines.join("\n") + "\n"
}

/// The report as CSV: a header row and one row, money in minor units (the
/// currency in its own column), rates in basis points, so that daily files
/// append into one sheet.
pub fn render_csv(r: &Report) -> String {
    let opt = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    let fields: Vec<(&str, String)> = vec![
        ("kind", r.kind.to_string()),
        ("first_day", r.period.first_day.to_string()),
        ("last_day", r.period.last_day.to_string()),
        ("timezone", r.period.timezone.clone()),
        ("currency", r.currency.code().to_string()),
        ("gmv_minor", r.gmv.minor.to_string()),
        ("net_gmv_minor", r.net_gmv.minor.to_string()),
        ("orders", r.orders.to_string()),
        ("paid_orders", r.paid_orders.to_string()),
        ("payment_failed_orders", r.payment_failed_orders.to_string()),
        ("aov_minor", opt(r.aov.map(|m| m.minor))),
        ("conversion_bps", opt(r.conversion_bps)),
        ("sessions", opt(r.sessions)),
        ("refunds", r.refunds.count.to_string()),
        ("refunds_minor", r.refunds.amount.minor.to_string()),
        ("disputes_opened", r.disputes_opened.to_string()),
        ("dispute_rate_bps", opt(r.dispute_rate_bps)),
        ("disputes_won", r.disputes_won.to_string()),
        ("disputes_lost", r.disputes_lost.to_string()),
        ("dispute_win_rate_bps", opt(r.dispute_win_rate_bps)),
        ("payout_lines_sent", r.payout_lines_sent.to_string()),
        ("payout_lines_failed", r.payout_lines_failed.to_string()),
        ("payout_success_rate_bps", opt(r.payout_success_rate_bps)),
        (
            "fraud_false_positive_rate_bps",
            opt(r.fraud_false_positive_rate_bps),
        ),
        ("webhook_failures", r.webhook_failures.to_string()),
        ("webhooks_received", r.webhooks_received.to_string()),
        ("orders_shipped", r.orders_shipped.to_string()),
        ("fulfilment_hours_avg", opt(r.fulfilment_hours_avg)),
        ("fulfilment_hours_p90", opt(r.fulfilment_hours_p90)),
        ("units_sold", r.units_sold.to_string()),
        ("inventory_turnover_bps", opt(r.inventory_turnover_bps)),
        ("shows_run", r.shows_run.to_string()),
    ];
    let header: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    let row: Vec<String> = fields.iter().map(|(_, v)| csv_field(v)).collect();
    format!("{}\n{}\n", header.join(","), row.join(","))
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_to_its_maximum() {
        assert_eq!(sparkline(&[0, 50, 100]), "▁▄█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
