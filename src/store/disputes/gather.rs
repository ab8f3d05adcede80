//! Evidence gathered from the data: for each of the seven items, what the
//! order, its payment, shipping and delivery, its products, the messages
//! with the customer and the policy texts in force hold, with the source
//! named. Run by the applier when a dispute arrives and by the worker's
//! sweep afterwards (a delivery scan that comes later is picked up). Items an
//! operator set are left alone; the state follows the evidence
//! ([`crate::domain::evidence::advance`]), one audited step at a time.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;

use super::{evidence_items, statuses, utc};
use crate::domain::disputes::{DisputeState, EVIDENCE_ITEMS};
use crate::domain::evidence::{self, ItemStatus};
use crate::domain::money::{Currency, Money};
use crate::domain::policies;

/// What one gathering changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathered {
    /// Items whose status or content changed.
    pub changed: Vec<&'static str>,
    /// The states the dispute moved through.
    pub steps: Vec<DisputeState>,
}

/// The audit name of the worker's gathering.
pub const GATHERER: &str = "worker";

type OrderFacts = (
    i64,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
);

/// One item's gathered value.
struct Found {
    status: ItemStatus,
    source: String,
    lines: Vec<String>,
}

fn found(source: String, lines: Vec<String>) -> Option<Found> {
    Some(Found {
        status: ItemStatus::Collected,
        source,
        lines,
    })
}

/// Gathers dispute `dispute_id`'s evidence in the caller's transaction.
pub async fn gather(conn: &mut PgConnection, dispute_id: i64) -> Result<Gathered, sqlx::Error> {
    let row: Option<(String, String, Option<i64>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT state, reason, order_id, opened_at FROM disputes WHERE id = $1 FOR UPDATE",
    )
    .bind(dispute_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((state, reason, order_id, opened_at)) = row else {
        return Ok(Gathered::default());
    };
    if !DisputeState::parse(&state).is_some_and(|s| s.awaiting_evidence()) {
        return Ok(Gathered::default());
    }
    let order: Option<OrderFacts> = match order_id {
        Some(o) => {
            sqlx::query_as(
                "SELECT o.id, o.order_number, o.created_at, o.paid_at, o.currency, o.total_minor, o.email,
                        o.tracking_number, o.carrier, o.shipped_at, o.delivered_at,
                        (SELECT p.capture_id FROM payments p WHERE p.order_id = o.id ORDER BY p.id LIMIT 1)
                   FROM orders o WHERE o.id = $1",
            )
            .bind(o)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => None,
    };
    let mut values: Vec<(&'static str, Option<Found>)> = Vec::new();
    let placed = order.as_ref().map_or(opened_at, |o| o.2);
    if let Some(o) = &order {
        let number = &o.1;
        let currency = Currency::parse(o.4.trim()).unwrap_or(Currency::USD);
        let money = |m: i64| Money::new(m, currency).display();
        type ItemRow = (String, String, i32, i64, Option<String>, Vec<String>);
        let items: Vec<ItemRow> = sqlx::query_as(
            "SELECT p.name, p.sku, i.quantity, i.unit_price_minor, p.description, p.image_urls
               FROM order_items i JOIN products p ON p.id = i.product_id
              WHERE i.order_id = $1 ORDER BY i.id LIMIT 50",
        )
        .bind(o.0)
        .fetch_all(&mut *conn)
        .await?;
        let messages: Vec<(i64, String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, kind, direction, subject, sent_at FROM customer_messages
              WHERE order_id = $1 ORDER BY sent_at, id LIMIT 100",
        )
        .bind(o.0)
        .fetch_all(&mut *conn)
        .await?;
        // 1. Order confirmation: the paid order, its items, the email.
        values.push((
            "order_confirmation",
            o.3.and_then(|paid| {
                let mut lines = vec![
                    format!("Order {number} placed {} by {}", utc(o.2), o.6),
                    format!(
                        "Paid {}: {}{}",
                        utc(paid),
                        money(o.5),
                        o.11.as_deref()
                            .map_or_else(String::new, |c| format!(" (PayPal capture {c})"))
                    ),
                ];
                lines.extend(items.iter().map(|(name, sku, qty, unit, _, _)| {
                    format!("{qty} x {name} ({sku}) at {}", money(*unit))
                }));
                let confirmation = messages.iter().find(|m| m.1 == "order_confirmation");
                let mut source = format!("orders {number}, order_items");
                match confirmation {
                    Some(m) => {
                        lines.push(format!("Confirmation email sent {}: {}", utc(m.4), m.3));
                        source.push_str(&format!(", customer_messages #{}", m.0));
                    }
                    None => lines.push("No confirmation email on record".into()),
                }
                if let Some(c) = &o.11 {
                    source.push_str(&format!(", payments capture {c}"));
                }
                found(source, lines)
            }),
        ));
        // 2. Shipping tracking.
        values.push((
            "shipping_tracking",
            o.7.as_ref().and_then(|tracking| {
                let carrier = o.8.clone().unwrap_or_else(|| "carrier unknown".into());
                found(
                    format!("orders {number} (carrier, tracking_number)"),
                    vec![format!(
                        "Shipped {} by {carrier}, tracking number {tracking}",
                        o.9.map_or_else(|| "(date not recorded)".into(), utc)
                    )],
                )
            }),
        ));
        // 3. Delivery confirmation.
        values.push((
            "delivery_confirmation",
            o.10.and_then(|at| {
                found(
                    format!("orders {number} (delivered_at, carrier scan)"),
                    vec![format!(
                        "Delivered {}{}",
                        utc(at),
                        o.7.as_deref()
                            .map_or_else(String::new, |t| format!(" (tracking {t})"))
                    )],
                )
            }),
        ));
        // 4. Product description and images: every product described.
        let described = !items.is_empty() && items.iter().all(|i| i.4.is_some());
        values.push((
            "product_description",
            described
                .then(|| {
                    let lines = items
                        .iter()
                        .flat_map(|(name, sku, _, _, desc, images)| {
                            let mut l =
                                vec![format!("{name} ({sku}): {}", desc.as_deref().unwrap_or(""))];
                            if !images.is_empty() {
                                l.push(format!("  images: {}", images.join(" ")));
                            }
                            l
                        })
                        .collect();
                    found("products (description, image_urls)".into(), lines)
                })
                .flatten(),
        ));
        // 5. Customer communication history: the conversations with the
        // customer (the confirmation and shipping emails are items 1 and 2).
        let conversation: Vec<_> = messages.iter().filter(|m| m.1 == "support").collect();
        values.push((
            "customer_communication",
            (!conversation.is_empty())
                .then(|| {
                    found(
                        format!("customer_messages of {number} ({})", conversation.len()),
                        conversation
                            .iter()
                            .map(|(_, kind, dir, subject, at)| {
                                format!(
                                    "{} {} {}: {subject}",
                                    utc(*at),
                                    if dir == "inbound" {
                                        "from customer"
                                    } else {
                                        "to customer"
                                    },
                                    kind.replace('_', " ")
                                )
                            })
                            .collect(),
                    )
                })
                .flatten(),
        ));
    } else {
        for key in [
            "order_confirmation",
            "shipping_tracking",
            "delivery_confirmation",
            "product_description",
            "customer_communication",
        ] {
            values.push((key, None));
        }
    }
    // 6, 7. The policy texts in force when the order was placed.
    for key in ["refund_policy", "terms_of_service"] {
        values.push((
            key,
            policies::in_force(key, placed).and_then(|p| {
                let mut lines = vec![format!(
                    "Version {} in force when the order was placed ({})",
                    p.effective,
                    utc(placed)
                )];
                lines.extend(
                    p.text
                        .lines()
                        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                        .map(str::to_string),
                );
                found(p.path.to_string(), lines)
            }),
        ));
    }

    let mut changed = Vec::new();
    for (key, value) in values {
        let value = value.unwrap_or_else(|| {
            if evidence::is_required(&reason, key) {
                Found {
                    status: ItemStatus::Missing,
                    source: "not in the data yet".into(),
                    lines: Vec::new(),
                }
            } else {
                Found {
                    status: ItemStatus::NotApplicable,
                    source: format!("not needed for {reason} (and not in the data)"),
                    lines: Vec::new(),
                }
            }
        });
        let content = json!({ "lines": value.lines });
        let done = sqlx::query(
            "UPDATE dispute_evidence
                SET status = $3, source = $4, content = $5,
                    collected_at = CASE WHEN $3 = 'collected' THEN COALESCE(collected_at, now()) ELSE NULL END,
                    collected_by = CASE WHEN $3 = 'collected' THEN $6 ELSE NULL END
              WHERE dispute_id = $1 AND item = $2 AND NOT manual
                AND (status, source, content) IS DISTINCT FROM ($3, $4, $5)",
        )
        .bind(dispute_id)
        .bind(key)
        .bind(value.status.as_str())
        .bind(&value.source)
        .bind(&content)
        .bind(GATHERER)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() > 0 {
            changed.push(key);
        }
    }
    // Only a change touches the row (and so wakes the dashboards): the
    // sweep runs every half minute over every dispute still gathering.
    sqlx::query(
        "UPDATE disputes SET gathered_at = now(), updated_at = now()
          WHERE id = $1 AND (gathered_at IS NULL OR $2)",
    )
    .bind(dispute_id)
    .bind(!changed.is_empty())
    .execute(&mut *conn)
    .await?;
    if !changed.is_empty() {
        crate::store::audit(
            conn,
            GATHERER,
            "dispute.gather",
            "dispute",
            &dispute_id.to_string(),
            json!({ "changed": changed }),
        )
        .await?;
    }
    let steps = advance_state(conn, dispute_id, GATHERER).await?;
    Ok(Gathered { changed, steps })
}

/// Moves the dispute as far as its evidence allows, one audited step at a
/// time (by `who`: the worker or the operator who added evidence).
pub async fn advance_state(
    conn: &mut PgConnection,
    dispute_id: i64,
    who: &str,
) -> Result<Vec<DisputeState>, sqlx::Error> {
    let (state, reason, paypal): (String, String, String) = sqlx::query_as(
        "SELECT state, reason, paypal_dispute_id FROM disputes WHERE id = $1 FOR UPDATE",
    )
    .bind(dispute_id)
    .fetch_one(&mut *conn)
    .await?;
    let Some(mut from) = DisputeState::parse(&state) else {
        return Ok(Vec::new());
    };
    let items = evidence_items(conn, dispute_id, &reason).await?;
    let steps = evidence::advance(from, &reason, &statuses(&items));
    for to in &steps {
        sqlx::query("UPDATE disputes SET state = $2, updated_at = now() WHERE id = $1")
            .bind(dispute_id)
            .bind(to.as_str())
            .execute(&mut *conn)
            .await?;
        crate::store::audit(
            conn,
            who,
            "dispute.state",
            "dispute",
            &dispute_id.to_string(),
            json!({ "paypal_dispute_id": paypal, "from": from.as_str(), "to": to.as_str(), "why": "evidence" }),
        )
        .await?;
        from = *to;
    }
    Ok(steps)
}

/// The seven rows a new dispute starts with.
pub async fn create_items(conn: &mut PgConnection, dispute_id: i64) -> Result<(), sqlx::Error> {
    for (item, _) in EVIDENCE_ITEMS {
        sqlx::query(
            "INSERT INTO dispute_evidence (dispute_id, item) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(dispute_id)
        .bind(item)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
