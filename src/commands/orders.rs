//! `lsn-ops orders find|duplicates|cancel` and `lsn-ops refund`: the support
//! lookups ("where is my order?", "I was charged twice") and refunds from the
//! shell. Times are shown in `[ops] timezone`; money with its currency.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use crate::cli::{Failure, OrdersAction, RefundArgs, StatusFormat};
use crate::config::Loaded;
use crate::domain::operators::Actor;
use crate::store::cancel::{self, CancelError};
use crate::store::orders::{self, OrderView};
use crate::store::refunds::{self, RefundError, RefundRequest};

/// At most this many orders are listed for one query.
pub const FIND_LIMIT: i64 = 50;

fn sql(what: &'static str) -> impl Fn(sqlx::Error) -> Failure {
    move |e| Failure {
        code: 1,
        message: format!("{what}: {e}"),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

use crate::domain::money::display_minor as money;

pub async fn run(loaded: &Loaded, action: OrdersAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let tz = loaded.timezone;
    match action {
        OrdersAction::Find { query, format } => {
            let hits = orders::find(&pool, &query, FIND_LIMIT)
                .await
                .map_err(sql("orders find"))?;
            let view = match hits.as_slice() {
                [one] => orders::view(&pool, one.id, loaded.config.ops.return_window_days)
                    .await
                    .map_err(sql("orders find"))?,
                _ => None,
            };
            match format {
                StatusFormat::Json => println!(
                    "{}",
                    json(&serde_json::json!({ "query": query, "orders": hits, "order": view }))
                ),
                StatusFormat::Text => {
                    if hits.is_empty() {
                        println!(
                            "no order matches {query} (order number, email, payer id or capture id)"
                        );
                        return Ok(1);
                    }
                    if let Some(v) = &view {
                        print!("{}", view_text(v, &tz));
                    } else {
                        println!("{} orders match {query}, newest first:", hits.len());
                        for h in &hits {
                            println!(
                                "  {:<12} {:<15} {:>12}  {}  {}",
                                h.order_number,
                                h.status,
                                money(h.total_minor, &h.currency),
                                local(h.created_at, &tz),
                                h.email
                            );
                        }
                    }
                }
            }
            Ok(0)
        }
        OrdersAction::Cancel {
            order,
            reason,
            format,
        } => {
            if reason.trim().is_empty() {
                return Err(Failure {
                    code: 2,
                    message: "--reason must not be empty".into(),
                });
            }
            let actor = Actor::new(crate::identity::os_account());
            let done = cancel::cancel(
                &pool,
                &actor,
                &order,
                &reason,
                loaded.config.ops.agent_refund_limit_minor,
            )
            .await
            .map_err(|e| Failure {
                code: match e {
                    CancelError::NoOrder(_) | CancelError::EmptyReason => 2,
                    _ => 1,
                },
                message: match &e {
                    CancelError::Sql(s) if refunds::is_over_capture(s) => {
                        "cancel refused: the refunds would add up to more than was captured"
                            .to_string()
                    }
                    _ => format!("cancel refused: {e}"),
                },
            })?;
            match format {
                StatusFormat::Json => println!("{}", json(&done)),
                StatusFormat::Text => {
                    println!(
                        "{} cancelled; {} unit(s) released to stock",
                        done.order_number, done.released
                    );
                    for r in &done.refunds {
                        println!(
                            "  refund #{} of {} (capture {}) queued for PayPal",
                            r.refund_id,
                            r.amount.display(),
                            r.capture_id
                        );
                    }
                }
            }
            Ok(0)
        }
        OrdersAction::Duplicates { days, format } => {
            let window = Duration::minutes(loaded.config.ops.duplicate_window_minutes);
            let found = orders::duplicates(&pool, Utc::now(), days, window, 500)
                .await
                .map_err(sql("orders duplicates"))?;
            match format {
                StatusFormat::Json => println!("{}", json(&found)),
                StatusFormat::Text => {
                    if found.is_empty() {
                        println!(
                            "no duplicate charges in the last {days} days (same payer, same amount, within {} min)",
                            window.num_minutes()
                        );
                    }
                    for d in &found {
                        println!(
                            "{} {} charged twice: {} {} at {}, again {} {} at {}  -> lsn-ops refund {} --capture {} --reason \"Duplicate charge\"",
                            d.payer_id,
                            money(d.amount_minor, &d.currency),
                            d.first_order,
                            d.first_capture,
                            local(d.first_at, &tz),
                            d.later_order,
                            d.later_capture,
                            local(d.later_at, &tz),
                            d.later_order,
                            d.later_capture,
                        );
                    }
                }
            }
            Ok(0)
        }
    }
}

/// `lsn-ops refund ORDER [--amount 12.34] [--items SKU[:N],...] --reason TEXT`.
pub async fn refund(loaded: &Loaded, args: RefundArgs) -> Result<u8, Failure> {
    if args.reason.trim().is_empty() {
        return Err(Failure {
            code: 2,
            message: "--reason must not be empty".into(),
        });
    }
    let items = parse_items(&args.items)?;
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    let request = RefundRequest {
        order: args.order.clone(),
        amount: args.amount.clone(),
        items,
        capture_id: args.capture.clone(),
        reason: args.reason.clone(),
        agent_limit_minor: loaded.config.ops.agent_refund_limit_minor,
    };
    let done = refunds::request(&pool, &actor, &request)
        .await
        .map_err(refund_failure)?;
    match args.format {
        StatusFormat::Json => println!("{}", json(&done)),
        StatusFormat::Text => {
            println!(
                "refund #{} of {} for {} (capture {}) queued for PayPal; {} left to refund",
                done.refund_id,
                done.amount.display(),
                done.order_number,
                done.capture_id,
                done.left_after.display()
            );
            if done.items.is_empty() {
                println!("  stock: nothing released (name the items with --items SKU[:UNITS])");
            } else {
                let list: Vec<String> = done
                    .items
                    .iter()
                    .map(|(s, n)| format!("{n} x {s}"))
                    .collect();
                println!("  stock released when PayPal confirms: {}", list.join(", "));
            }
        }
    }
    Ok(0)
}

/// A refund refusal as a one-line failure: bad input is exit 2, the rest 1.
pub fn refund_failure(e: RefundError) -> Failure {
    let code = match e {
        RefundError::BadAmount(_) | RefundError::BadItem(_) | RefundError::EmptyReason => 2,
        _ => 1,
    };
    let message = match &e {
        RefundError::Sql(s) if refunds::is_over_capture(s) => {
            "refused: the refunds would add up to more than was captured".to_string()
        }
        _ => format!("refund: {e}"),
    };
    Failure { code, message }
}

/// `SKU[:UNITS]` items (one unit when no count is given).
pub fn parse_items(items: &[String]) -> Result<Vec<(String, i32)>, Failure> {
    items
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let (sku, units) = match s.trim().rsplit_once(':') {
                Some((sku, n)) => (sku, n.trim().parse::<i32>().ok().filter(|n| *n > 0)),
                None => (s.trim(), Some(1)),
            };
            units
                .map(|n| (sku.trim().to_string(), n))
                .ok_or_else(|| Failure {
                    code: 2,
                    message: format!("--items {s}: expected SKU or SKU:UNITS (units 1 or more)"),
                })
        })
        .collect()
}

fn local(t: DateTime<Utc>, tz: &chrono_tz::Tz) -> String {
    t.with_timezone(tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// The order view as text (the CLI's `orders find` for one order).
pub fn view_text(v: &OrderView, tz: &chrono_tz::Tz) -> String {
    let mut o = String::new();
    let m = |minor: i64| money(minor, &v.currency);
    let _ = writeln!(
        o,
        "{}  {}  {}  ({} items, shipping {})",
        v.order_number,
        v.status,
        m(v.total_minor),
        m(v.subtotal_minor),
        m(v.shipping_minor)
    );
    let _ = writeln!(
        o,
        "customer {} <{}>  payer {}  placed {}",
        v.customer,
        v.email,
        v.payer_id.as_deref().unwrap_or("-"),
        local(v.created_at, tz)
    );
    let _ = writeln!(
        o,
        "fraud score {} ({}){}",
        v.fraud_score.map_or("-".into(), |s| s.to_string()),
        v.fraud_state,
        v.fraud_decision
            .as_ref()
            .map(|(d, by, why)| format!("  {d} by {by}: {why}"))
            .unwrap_or_default()
    );
    match &v.tracking {
        Some(t) => {
            let _ = writeln!(
                o,
                "shipped {} via {} {}  {}",
                v.shipped_at.map_or("-".into(), |t| local(t, tz)),
                t.carrier,
                t.number,
                t.link.as_deref().unwrap_or("")
            );
        }
        None => {
            let _ = writeln!(o, "not shipped");
        }
    }
    if let Some(d) = v.delivered_at {
        let _ = writeln!(o, "delivered {}", local(d, tz));
    }
    if let Some(d) = v.ship_by {
        let _ = writeln!(o, "ship by {}", local(d, tz));
    }
    if let Some(d) = v.return_by {
        let _ = writeln!(o, "returns until {}", local(d, tz));
    }
    let _ = writeln!(o, "items:");
    for i in &v.items {
        let _ = writeln!(
            o,
            "  #{:<8} {:<14} {:<28} {} x {}{}{}  stock {} on hand, {} reserved",
            i.id,
            i.sku,
            i.name.chars().take(28).collect::<String>(),
            i.quantity,
            m(i.unit_price_minor),
            if i.released_qty > 0 {
                format!("  {} released", i.released_qty)
            } else {
                String::new()
            },
            if i.returned_qty > 0 {
                format!("  {} returned", i.returned_qty)
            } else {
                String::new()
            },
            i.stock_on_hand,
            i.stock_reserved
        );
    }
    let _ = writeln!(o, "payments:");
    for p in &v.payments {
        let _ = writeln!(
            o,
            "  {} {} {} refunded {}  {}",
            p.capture_id,
            p.status,
            money(p.amount_minor, &p.currency),
            money(p.refunded_minor, &p.currency),
            local(p.created_at, tz)
        );
    }
    if !v.refunds.is_empty() {
        let _ = writeln!(o, "refunds:");
        for r in &v.refunds {
            let _ = writeln!(
                o,
                "  #{} {} {} {} by {}: {}{}",
                r.id,
                money(r.amount_minor, &r.currency),
                r.status,
                r.paypal_refund_id.as_deref().unwrap_or("-"),
                r.requested_by,
                r.reason,
                r.failure
                    .as_deref()
                    .map(|f| format!("  ({f})"))
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(o, "refundable: {}", m(v.refundable_minor()));
    for d in &v.disputes {
        let _ = writeln!(
            o,
            "dispute {} {} {} {}{}",
            d.paypal_dispute_id,
            d.state,
            d.reason,
            money(d.amount_minor, &d.currency),
            d.seller_response_due_at
                .map(|t| format!("  respond by {}", local(t, tz)))
                .unwrap_or_default()
        );
    }
    for r in &v.returns {
        let _ = writeln!(
            o,
            "return {} {}{}: {}",
            r.rma_number,
            r.state,
            if r.defective { " (defective)" } else { "" },
            r.reason
        );
    }
    if !v.other_orders.is_empty() {
        let _ = writeln!(o, "the customer's other orders:");
        for x in &v.other_orders {
            let _ = writeln!(
                o,
                "  {} {} {} {}",
                x.order_number,
                x.status,
                money(x.total_minor, &x.currency),
                local(x.created_at, tz)
            );
        }
    }
    o
}
