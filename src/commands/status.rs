//! `lsn-ops status`: the morning checklist for scripts and humans.

use chrono::Utc;

use crate::cli::{Failure, StatusFormat};
use crate::config::Loaded;
use crate::domain::Currency;
use crate::domain::money::format_bps;
use crate::store::status::{MorningFacts, morning_facts};

pub async fn run(loaded: &Loaded, format: StatusFormat) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let currency = Currency::parse(&loaded.config.payouts.currency).unwrap_or(Currency::USD);
    let facts = morning_facts(
        &pool,
        Utc::now(),
        &loaded.timezone,
        loaded.config.fraud.high_risk_threshold,
        currency,
    )
    .await
    .map_err(|e| Failure {
        code: 1,
        message: format!("status query failed: {e}"),
    })?;
    let (health, reasons) = facts.health();
    match format {
        StatusFormat::Json => {
            let mut value = serde_json::to_value(&facts).map_err(|e| Failure {
                code: 1,
                message: format!("cannot encode status: {e}"),
            })?;
            if let serde_json::Value::Object(map) = &mut value {
                map.insert(
                    "health".into(),
                    serde_json::to_value(health).unwrap_or_default(),
                );
                map.insert(
                    "reasons".into(),
                    serde_json::to_value(&reasons).unwrap_or_default(),
                );
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        StatusFormat::Text => print!("{}", render_text(&facts, &loaded.timezone, &reasons)),
    }
    Ok(health.exit_code())
}

/// The checklist as lines a person reads over SSH.
pub fn render_text(facts: &MorningFacts, tz: &chrono_tz::Tz, reasons: &[String]) -> String {
    use std::fmt::Write;
    let (health, _) = facts.health();
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(tz).format("%a %H:%M").to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lsn-ops status  {}  ({})  {:?}",
        facts.ops_day, facts.timezone, health
    );
    let a = &facts.alerts;
    let _ = writeln!(
        out,
        "alerts      {} critical, {} warning, {} info ({} unacknowledged)",
        a.critical, a.warning, a.info, a.unacknowledged
    );
    let i = &facts.incidents;
    let _ = writeln!(
        out,
        "incidents   {} open ({} P0, {} P1), {} overdue",
        i.open, i.p0, i.p1, i.overdue
    );
    let d = &facts.disputes;
    let _ = writeln!(
        out,
        "disputes    {} active, {} due within 24h, {} overdue",
        d.active, d.due_within_24h, d.overdue
    );
    match &facts.payout_batch {
        Some(b) => {
            let _ = writeln!(
                out,
                "payouts     batch #{} {} for {}: {} items, {} ({} failed, {} held)",
                b.id,
                b.state,
                local(b.scheduled_for),
                b.items,
                b.total.display(),
                b.failed_items,
                b.held_items
            );
        }
        None => {
            let _ = writeln!(out, "payouts     no batch yet");
        }
    }
    let f = &facts.fraud;
    let _ = writeln!(
        out,
        "fraud       {} high-risk (> {}) pending, {} review holds expired",
        f.high_risk_pending, f.threshold, f.review_holds_expired
    );
    let o = &facts.orders_today;
    let _ = writeln!(
        out,
        "orders      {} today, {} paid, {} failed; GMV {}, AOV {}, conversion {}",
        o.orders,
        o.paid,
        o.payment_failed,
        o.gmv.display(),
        o.aov.map_or("-".into(), |m| m.display()),
        o.conversion_bps.map_or("-".into(), format_bps)
    );
    let w = &facts.webhooks;
    let _ = writeln!(
        out,
        "webhooks    {} pending, {} failing, {} dead",
        w.pending, w.failed, w.dead
    );
    let _ = writeln!(
        out,
        "inventory   {} product(s) low for today's shows",
        facts.low_stock_for_today
    );
    let s = &facts.shows_today;
    let _ = writeln!(
        out,
        "shows       {} today: {} live, {} upcoming, {} done, {} cannot start",
        s.total, s.live, s.upcoming, s.ended, s.cannot_start
    );
    for show in &s.shows {
        let mark = if show.cannot_start { "!!" } else { "  " };
        let _ = writeln!(
            out,
            "  {mark} {}  {:<14} {}  ({})",
            local(show.scheduled_start),
            show.phase,
            show.title,
            show.creator
        );
    }
    for reason in reasons {
        let _ = writeln!(out, "- {reason}");
    }
    out
}
