//! `lsn-ops inventory low|oversold|reorder` (the runbook's daily stock
//! checks and its automated reorder, as a list a buyer can send) and `lsn-ops
//! returns open|receive` (RMA within the return window; receiving refunds and
//! restocks).

use chrono::{Days, Utc};

use crate::cli::{Failure, Format, InventoryAction, ReturnsAction};
use crate::config::Loaded;
use crate::domain::operators::Actor;
use crate::store::returns::{self, ReturnError};
use crate::store::stock;

/// Rows listed at most.
const LIMIT: i64 = 500;

fn sql(what: &'static str) -> impl Fn(sqlx::Error) -> Failure {
    move |e| Failure {
        code: 1,
        message: format!("{what}: {e}"),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A CSV field, quoted when it needs to be.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

pub async fn run(loaded: &Loaded, action: InventoryAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let tz = loaded.timezone;
    match action {
        InventoryAction::Low { format } => {
            // Today and tomorrow in ops time.
            let today = Utc::now().with_timezone(&tz).date_naive();
            let start = |d: chrono::NaiveDate| {
                d.and_hms_opt(0, 0, 0)
                    .and_then(|t| t.and_local_timezone(tz).earliest())
                    .map(|t| t.with_timezone(&Utc))
            };
            let from = start(today).unwrap_or_else(Utc::now);
            let until = today
                .checked_add_days(Days::new(2))
                .and_then(start)
                .unwrap_or_else(|| from + chrono::Duration::days(2));
            let low = stock::low(&pool, from, until, LIMIT)
                .await
                .map_err(sql("inventory low"))?;
            match format {
                Format::Json => println!("{}", json(&low)),
                Format::Csv => {
                    println!(
                        "sku,name,on_hand,reserved,available,reorder_point,level,pinned_in,show_starts"
                    );
                    for l in &low {
                        println!(
                            "{},{},{},{},{},{},{:?},{},{}",
                            csv(&l.sku),
                            csv(&l.name),
                            l.on_hand,
                            l.reserved,
                            l.available,
                            l.reorder_point,
                            l.level,
                            csv(l.pinned_in.as_deref().unwrap_or("")),
                            l.show_starts.map(|t| t.to_rfc3339()).unwrap_or_default()
                        );
                    }
                }
                Format::Text => {
                    if low.is_empty() {
                        println!("no product is at or below its reorder point");
                    }
                    for l in &low {
                        println!(
                            "{:<14} {:<30} {:>4} available ({} on hand, {} reserved, reorder at {}){}",
                            l.sku,
                            l.name.chars().take(30).collect::<String>(),
                            l.available,
                            l.on_hand,
                            l.reserved,
                            l.reorder_point,
                            match (&l.pinned_in, l.show_starts) {
                                (Some(show), Some(at)) => format!(
                                    "  pinned in \"{show}\" at {}",
                                    at.with_timezone(&tz).format("%a %H:%M")
                                ),
                                _ => String::new(),
                            }
                        );
                    }
                }
            }
        }
        InventoryAction::Oversold { format } => {
            let over = stock::oversold(&pool, LIMIT)
                .await
                .map_err(sql("inventory oversold"))?;
            match format {
                Format::Json => println!("{}", json(&over)),
                Format::Csv => {
                    println!("sku,name,on_hand,reserved,order");
                    for p in &over {
                        for o in &p.orders {
                            println!(
                                "{},{},{},{},{}",
                                csv(&p.sku),
                                csv(&p.name),
                                p.on_hand,
                                p.reserved,
                                o
                            );
                        }
                    }
                }
                Format::Text => {
                    if over.is_empty() {
                        println!("nothing is oversold");
                    }
                    for p in &over {
                        println!(
                            "{} {}: {} reserved, {} on hand ({} short); orders, newest first: {}",
                            p.sku,
                            p.name,
                            p.reserved,
                            p.on_hand,
                            p.reserved - p.on_hand,
                            p.orders.join(", ")
                        );
                    }
                }
            }
            return Ok(u8::from(!over.is_empty()));
        }
        InventoryAction::Reorder { format } => {
            let list = stock::reorder(&pool, Utc::now(), LIMIT)
                .await
                .map_err(sql("inventory reorder"))?;
            match format {
                Format::Json => println!("{}", json(&list)),
                Format::Csv => {
                    println!(
                        "sku,name,creator,on_hand,reserved,reorder_point,sold_14d,suggested_quantity"
                    );
                    for r in &list {
                        println!(
                            "{},{},{},{},{},{},{},{}",
                            csv(&r.sku),
                            csv(&r.name),
                            csv(r.creator.as_deref().unwrap_or("")),
                            r.on_hand,
                            r.reserved,
                            r.reorder_point,
                            r.sold_14d,
                            r.suggested
                        );
                    }
                }
                Format::Text => {
                    if list.is_empty() {
                        println!("nothing to reorder");
                    }
                    for r in &list {
                        println!(
                            "{:<14} {:<30} order {:>5}  ({} sold in 14 days, {} on hand, {} reserved, reorder at {})",
                            r.sku,
                            r.name.chars().take(30).collect::<String>(),
                            r.suggested,
                            r.sold_14d,
                            r.on_hand,
                            r.reserved,
                            r.reorder_point
                        );
                    }
                }
            }
        }
    }
    Ok(0)
}

fn return_failure(e: ReturnError) -> Failure {
    let code = match e {
        ReturnError::EmptyReason | ReturnError::NoItems | ReturnError::BadItem(_) => 2,
        _ => 1,
    };
    Failure {
        code,
        message: format!("returns: {e}"),
    }
}

pub async fn returns(loaded: &Loaded, action: ReturnsAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    let tz = loaded.timezone;
    match action {
        ReturnsAction::Open {
            order,
            items,
            reason,
            defective,
        } => {
            let items = super::orders::parse_items(&items)?;
            let opened = returns::open(
                &pool,
                &actor,
                &order,
                &items,
                &reason,
                defective,
                loaded.config.ops.return_window_days,
                Utc::now(),
            )
            .await
            .map_err(return_failure)?;
            let list: Vec<String> = opened
                .items
                .iter()
                .map(|(s, n)| format!("{n} x {s}"))
                .collect();
            println!(
                "{} opened for {} ({}); the window closes {}",
                opened.rma_number,
                opened.order_number,
                list.join(", "),
                opened
                    .window_ends_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M %Z")
            );
        }
        ReturnsAction::Receive { rma } => {
            let got = returns::receive(
                &pool,
                &actor,
                &rma,
                loaded.config.ops.agent_refund_limit_minor,
            )
            .await
            .map_err(return_failure)?;
            println!(
                "{} received: refund #{} of {} queued for PayPal; {} unit(s) back in stock{}",
                got.rma_number,
                got.refund.refund_id,
                got.refund.amount.display(),
                got.restocked,
                if got.flagged.is_empty() {
                    String::new()
                } else {
                    format!("; flagged for quality review: {}", got.flagged.join(", "))
                }
            );
        }
    }
    Ok(0)
}
