//! `lsn-ops payouts generate|show|approve|process|retry|adjust|hold|release`
//! and `lsn-ops creators bank CREATOR verify|invalidate`: the weekly creator
//! payout run from the shell. The work and every rule (authorization,
//! maker-checker, holds) are in [`crate::store::payouts`]; this module parses,
//! prints, and maps a refusal to one line and exit 1.

use std::fmt::Write as _;

use chrono::Utc;

use crate::cli::{CreatorsAction, Failure, Format, PayoutsAction};
use crate::config::Loaded;
use crate::domain::money::{Money, format_bps};
use crate::domain::operators::Actor;
use crate::domain::payouts::IsoWeek;
use crate::store::payouts::{self as store, BatchView, PayoutError, Schedule};

/// The operator running the command: the OS account (the one place it is read).
fn actor() -> Actor {
    Actor::new(crate::identity::os_account())
}

fn fail(e: PayoutError) -> Failure {
    Failure {
        code: 1,
        message: e.to_string(),
    }
}

fn sql(e: sqlx::Error) -> Failure {
    Failure {
        code: 1,
        message: format!("payouts: database: {e}"),
    }
}

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
}

pub async fn run(loaded: &Loaded, action: PayoutsAction) -> Result<u8, Failure> {
    let schedule = Schedule::from_config(&loaded.config).map_err(usage)?;
    // Bad arguments are exit 2 before any connection.
    let week = match &action {
        PayoutsAction::Generate { week: Some(w) } => {
            Some(IsoWeek::parse(w).ok_or_else(|| {
                usage(format!("--week {w:?}: expected an ISO week like 2026-W48"))
            })?)
        }
        _ => None,
    };
    let amount = match &action {
        PayoutsAction::Adjust { amount, .. } => Some(
            Money::from_major_str(amount.trim(), schedule.currency).map_err(|e| {
                usage(format!(
                    "AMOUNT {amount:?}: expected an amount in {} like 25.00 ({e})",
                    schedule.currency.code()
                ))
            })?,
        ),
        _ => None,
    };
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = actor();
    match action {
        PayoutsAction::Generate { .. } => {
            let week = week.unwrap_or_else(|| schedule.this_week(Utc::now()));
            let g = store::generate(&pool, store::Maker::Operator(&actor), &schedule, week)
                .await
                .map_err(fail)?;
            let what = if g.created {
                "generated"
            } else {
                "already exists (unchanged)"
            };
            println!(
                "batch #{} for {} {what}: {} line(s), {} order(s), {}",
                g.batch_id,
                g.week,
                g.lines,
                g.orders,
                g.total.display()
            );
            Ok(0)
        }
        PayoutsAction::Show {
            batch,
            line: Some(line),
            format,
        } => breakdown(&pool, batch, line, format).await,
        PayoutsAction::Show {
            batch,
            line: None,
            format,
        } => {
            let Some(view) = store::show(&pool, batch, &schedule.tz).await.map_err(sql)? else {
                return Err(Failure {
                    code: 1,
                    message: match batch {
                        Some(id) => format!("there is no payout batch #{id}"),
                        None => "there is no payout batch yet: `lsn-ops payouts generate`".into(),
                    },
                });
            };
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&view).unwrap_or_default()
                ),
                Format::Csv => print!("{}", statement_csv(&pool, &view).await.map_err(sql)?),
                Format::Text => print!("{}", text(&view, &schedule.tz)),
            }
            Ok(0)
        }
        PayoutsAction::Approve { batch } => {
            store::approve(&pool, &actor, batch).await.map_err(fail)?;
            println!(
                "batch #{batch} approved by {}; `lsn-ops payouts process {batch}` sends it",
                actor.audit_name()
            );
            Ok(0)
        }
        PayoutsAction::Process { batch } => {
            let q = store::process(&pool, &actor, batch).await.map_err(fail)?;
            println!(
                "batch #{batch}: {} transfer(s) queued, {} already queued or sent, {} with nothing to pay; a running worker sends them through Wise",
                q.queued.len(),
                q.already,
                q.nothing_to_pay
            );
            Ok(0)
        }
        PayoutsAction::Retry { batch, line } => {
            let q = store::retry(&pool, &actor, batch, line)
                .await
                .map_err(fail)?;
            println!(
                "batch #{batch}: {} failed line(s) queued again",
                q.queued.len()
            );
            for (id, why) in &q.skipped {
                println!("  line #{id} not retried: {why}");
            }
            Ok(0)
        }
        PayoutsAction::Adjust {
            creator, reason, ..
        } => {
            let amount = amount.unwrap_or(Money::zero(schedule.currency));
            let a = store::adjust(
                &pool,
                &actor,
                &schedule,
                &creator,
                amount,
                &reason,
                Utc::now(),
            )
            .await
            .map_err(fail)?;
            println!(
                "adjustment line #{} of {} for {creator} added to batch #{} ({}){}",
                a.item_id,
                amount.display(),
                a.batch_id,
                a.week,
                a.held.map(|h| format!("; held: {h}")).unwrap_or_default()
            );
            Ok(0)
        }
        PayoutsAction::Hold { creator, reason } => {
            let t = store::hold(&pool, &actor, &creator, &reason)
                .await
                .map_err(fail)?;
            println!("{creator} on hold; {} line(s) held", t.lines.len());
            for (id, why) in &t.skipped {
                println!("  line #{id} not held: {why}");
            }
            Ok(0)
        }
        PayoutsAction::Release { creator, reason } => {
            let t = store::release(&pool, &actor, &creator, &reason)
                .await
                .map_err(fail)?;
            println!(
                "{creator} released; {} line(s) pending again",
                t.lines.len()
            );
            for (id, why) in &t.skipped {
                println!("  line #{id} {why}");
            }
            Ok(0)
        }
    }
}

/// `lsn-ops creators bank CREATOR verify|invalidate --reason`.
pub async fn creators(loaded: &Loaded, action: CreatorsAction) -> Result<u8, Failure> {
    let CreatorsAction::Bank {
        creator,
        action,
        reason,
    } = action;
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let verify = action == "verify";
    let t = store::bank(&pool, &actor(), &creator, verify, &reason)
        .await
        .map_err(fail)?;
    if verify {
        println!(
            "{creator}'s bank details verified; {} held line(s) released",
            t.lines.len()
        );
    } else {
        println!(
            "{creator}'s bank details invalidated; {} unsent line(s) held",
            t.lines.len()
        );
    }
    for (id, why) in &t.skipped {
        println!("  line #{id}: {why}");
    }
    Ok(0)
}

fn text(v: &BatchView, tz: &chrono_tz::Tz) -> String {
    let mut out = String::new();
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(tz).format("%a %Y-%m-%d %H:%M %Z");
    let _ = writeln!(
        out,
        "batch #{} {} · {} · scheduled {} · total {}",
        v.id,
        v.week,
        v.state,
        local(v.scheduled_for),
        money(&v.total)
    );
    let _ = writeln!(
        out,
        "generated by {} · approved by {} · lines: {} paid, {} processing, {} pending, {} held, {} failed",
        v.generated_by.as_deref().unwrap_or("-"),
        v.approved_by.as_deref().unwrap_or("-"),
        v.progress.paid,
        v.progress.processing,
        v.progress.pending,
        v.progress.held,
        v.progress.failed
    );
    let _ = writeln!(
        out,
        "{:>6}  {:<20} {:<9} {:>6} {:>13} {:>13} {:>5} {:>12}  {:<10} {:<10} note",
        "line", "creator", "tier", "orders", "gross", "costs", "rate", "net", "state", "bank"
    );
    for l in &v.lines {
        let note = l
            .hold_reason
            .clone()
            .or(l.failure_reason.clone())
            .or(l.note.clone())
            .unwrap_or_default();
        let creator = if l.kind == "adjustment" {
            format!("{} (adj.)", l.creator)
        } else {
            l.creator.clone()
        };
        let _ = writeln!(
            out,
            "{:>6}  {:<20} {:<9} {:>6} {:>13} {:>13} {:>5} {:>12}  {:<10} {:<10} {note}",
            l.id,
            creator,
            l.tier,
            l.orders,
            money(&l.gross),
            money(&l.costs),
            format_bps(i64::from(l.commission_bps)).replace(".00", ""),
            money(&l.net),
            l.state,
            l.bank
        );
    }
    out
}

fn money(m: &store::MoneyJson) -> String {
    crate::domain::money::Currency::parse(&m.currency)
        .map(|c| Money::new(m.minor, c).display())
        .unwrap_or_else(|| format!("{} {}", m.minor, m.currency))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The statement a finance team hands to a creator: one row per attributed
/// order with its computation, one per adjustment, in major units.
async fn statement_csv(pool: &sqlx::PgPool, v: &BatchView) -> Result<String, sqlx::Error> {
    let mut out = String::from(
        "batch,week,creator,line,kind,line_state,order,paid_at,order_total,product_cost,shipping,platform_fee,net,commission_rate,earnings,currency\n",
    );
    for l in &v.lines {
        let c = crate::domain::money::Currency::parse(&l.net.currency)
            .unwrap_or(crate::domain::money::Currency::USD);
        let major = |minor: i64| Money::new(minor, c).to_major_string();
        let head = format!(
            "{},{},{},{},{},{}",
            v.id,
            v.week,
            csv_field(&l.creator),
            l.id,
            l.kind,
            l.state
        );
        if l.kind == "adjustment" {
            let _ = writeln!(
                out,
                "{head},,,,,,,,,{},{},{}",
                csv_field(l.note.as_deref().unwrap_or("adjustment")),
                major(l.net.minor),
                c.code()
            );
            continue;
        }
        for o in store::breakdown(pool, l.id).await? {
            let _ = writeln!(
                out,
                "{head},{},{},{},{},{},{},{},{},{},{}",
                o.order_number,
                o.paid_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                major(o.total_minor),
                major(o.product_cost_minor),
                major(o.shipping_minor),
                major(o.platform_fee_minor),
                major(o.net_minor),
                format_bps(i64::from(o.commission_bps)),
                major(o.earnings_minor),
                c.code()
            );
        }
    }
    Ok(out)
}

/// `payouts show [BATCH] --line ID`: one line's orders and how each was computed.
async fn breakdown(
    pool: &sqlx::PgPool,
    batch: Option<i64>,
    line: i64,
    format: Format,
) -> Result<u8, Failure> {
    let owner: Option<(i64, String)> =
        sqlx::query_as("SELECT batch_id, currency::text FROM payout_items WHERE id = $1")
            .bind(line)
            .fetch_optional(pool)
            .await
            .map_err(sql)?;
    let Some((batch_id, currency)) = owner.filter(|(b, _)| batch.is_none_or(|x| x == *b)) else {
        return Err(Failure {
            code: 1,
            message: format!(
                "there is no payout line #{line}{}",
                batch.map(|b| format!(" in batch #{b}")).unwrap_or_default()
            ),
        });
    };
    let c = crate::domain::money::Currency::parse(&currency)
        .unwrap_or(crate::domain::money::Currency::USD);
    let orders = store::breakdown(pool, line).await.map_err(sql)?;
    let d = |minor: i64| Money::new(minor, c).display();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "batch": batch_id, "line": line, "currency": c.code(), "orders": orders
            }))
            .unwrap_or_default()
        ),
        Format::Csv => {
            println!(
                "order,paid_at,order_total,product_cost,shipping,platform_fee,net,commission_rate,earnings,currency"
            );
            for o in &orders {
                let m = |minor: i64| Money::new(minor, c).to_major_string();
                println!(
                    "{},{},{},{},{},{},{},{},{},{}",
                    o.order_number,
                    o.paid_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    m(o.total_minor),
                    m(o.product_cost_minor),
                    m(o.shipping_minor),
                    m(o.platform_fee_minor),
                    m(o.net_minor),
                    format_bps(i64::from(o.commission_bps)),
                    m(o.earnings_minor),
                    c.code()
                );
            }
        }
        Format::Text => {
            println!(
                "line #{line} of batch #{batch_id}: {} order(s)",
                orders.len()
            );
            println!(
                "  earnings = (total - product cost - shipping - platform fee, at least 0) x rate, rounded half to even"
            );
            for o in &orders {
                println!(
                    "  {:<14} ({} - {} - {} - {}) = {} x {} = {}",
                    o.order_number,
                    d(o.total_minor),
                    d(o.product_cost_minor),
                    d(o.shipping_minor),
                    d(o.platform_fee_minor),
                    d(o.net_minor),
                    format_bps(i64::from(o.commission_bps)),
                    d(o.earnings_minor)
                );
            }
            println!(
                "  total {}",
                d(orders.iter().map(|o| o.earnings_minor).sum())
            );
        }
    }
    Ok(0)
}
