//! Demo traffic: keeps `lsn-ops demo` alive by acting as the marketplace's
//! buyers, creators and PayPal's dispute desk through the built-in simulators.
//! Everything reaches the database the real way: the simulators deliver signed
//! webhooks to the in-process worker, which verifies, stores and applies them.
//!
//! What it does, about every second and a half: a buyer orders from the live
//! show (captured, or now and then denied; one in about sixteen from a risky
//! proxy IP abroad, which the worker scores into the fraud queue); viewers join
//! the live room; every half minute or so a buyer opens a dispute; after two
//! minutes the show that had no room gets one, its creator connects and it
//! goes live (the P0 clears).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::domain::money::{Currency, Money, Rounding};
use crate::simulators::Simulators;

/// One show the traffic drives through the Twilio simulator.
struct Stage {
    show_id: i64,
    room_sid: String,
    creator_handle: String,
}

/// Runs until `stop` turns true. Errors are logged, never fatal: the demo goes on.
pub async fn run(pool: PgPool, sims: Arc<Simulators>, mut stop: watch::Receiver<bool>) {
    let mut rng = ChaCha8Rng::from_os_rng();
    let live = match open_room(&pool, &sims, "live").await {
        Ok(stage) => stage,
        Err(e) => {
            tracing::warn!("demo traffic: no live show to drive: {e}");
            None
        }
    };
    let mut captures: Vec<String> = Vec::new();
    let mut viewers = 0u32;
    let started = tokio::time::Instant::now();
    let mut late_show_fixed = false;
    loop {
        let pause = Duration::from_millis(rng.random_range(800..2_200));
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        if *stop.borrow() {
            return;
        }
        if let Some(stage) = &live {
            if rng.random_bool(0.7) {
                match place_order(&pool, &mut rng, stage.show_id).await {
                    Ok(Some((number, total))) => {
                        if rng.random_bool(0.05) {
                            deny(&sims, &number, total);
                        } else {
                            captures.push(sims.paypal.create_capture(&number, total, "USD"));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("demo traffic: order: {e}"),
                }
            }
            if rng.random_bool(0.5) {
                viewers += 1;
                sims.twilio
                    .connect(&stage.room_sid, &format!("viewer-{viewers}"));
            }
        }
        if !captures.is_empty() && rng.random_bool(0.04) {
            let capture = captures[rng.random_range(0..captures.len())].clone();
            let reason = *[
                "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
                "UNAUTHORISED",
            ]
            .choose(&mut rng)
            .unwrap_or(&"OTHER");
            sims.paypal
                .open_dispute(&capture, reason, rng.random_range(3..12));
        }
        if !late_show_fixed && started.elapsed() > Duration::from_secs(120) {
            late_show_fixed = true;
            match open_room(&pool, &sims, "late").await {
                Ok(Some(stage)) => {
                    sims.twilio.connect(&stage.room_sid, &stage.creator_handle);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("demo traffic: late show: {e}"),
            }
        }
    }
}

/// Gives a show a room in the Twilio simulator: the live one (its creator is
/// already on) or the one past its start without a room. The room is found by
/// name when its `room-created` callback arrives.
async fn open_room(
    pool: &PgPool,
    sims: &Simulators,
    which: &str,
) -> Result<Option<Stage>, sqlx::Error> {
    let sql = if which == "live" {
        "SELECT s.id, c.handle FROM shows s JOIN creators c ON c.id = s.creator_id
          WHERE s.status = 'live' ORDER BY s.started_at DESC NULLS LAST LIMIT 1"
    } else {
        "SELECT s.id, c.handle FROM shows s JOIN creators c ON c.id = s.creator_id
          WHERE s.status IN ('scheduled', 'preshow') AND s.twilio_room_sid IS NULL AND s.scheduled_start < now()
          ORDER BY s.scheduled_start DESC LIMIT 1"
    };
    let Some((show_id, creator_handle)) = sqlx::query_as::<_, (i64, String)>(sql)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let name = format!("show-{show_id}");
    sqlx::query("UPDATE shows SET twilio_room_sid = NULL, twilio_room_name = $2 WHERE id = $1")
        .bind(show_id)
        .bind(&name)
        .execute(pool)
        .await?;
    let room_sid = sims.twilio.create_room(&name);
    Ok(Some(Stage {
        show_id,
        room_sid,
        creator_handle,
    }))
}

/// A buyer orders one or two of the show's pinned products; the order waits
/// for its payment. Returns the order number and total in minor units.
async fn place_order(
    pool: &PgPool,
    rng: &mut ChaCha8Rng,
    show_id: i64,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    let products: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT p.id, COALESCE(sp.price_drop_minor, p.price_minor), p.cost_minor, s.creator_id
           FROM show_products sp JOIN products p ON p.id = sp.product_id JOIN shows s ON s.id = sp.show_id
          WHERE sp.show_id = $1 AND sp.pinned",
    )
    .bind(show_id)
    .fetch_all(pool)
    .await?;
    let Some(&(product_id, price, cost, creator_id)) = products.choose(rng) else {
        return Ok(None);
    };
    let customer: Option<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, email, country::text, paypal_payer_id FROM customers WHERE id = $1",
    )
    .bind(rng.random_range(1..2_000i64))
    .fetch_optional(pool)
    .await?;
    let Some((customer_id, email, country, payer)) = customer else {
        return Ok(None);
    };
    let quantity: i64 = if rng.random_bool(0.8) { 1 } else { 2 };
    let shipping = *[0i64, 499, 799].choose(rng).unwrap_or(&0);
    let subtotal = price * quantity;
    let total = subtotal + shipping;
    let fee = Money::new(total, Currency::USD)
        .apply_bps(500, Rounding::HalfEven)
        .map_or(0, |m| m.minor);
    let number = format!(
        "LSN-D{}{:03}",
        Utc::now().format("%H%M%S"),
        rng.random_range(0..1000)
    );
    // Now and then a risky buyer: an IP in a listed proxy range with a bad
    // reputation (assets/fraud), abroad, shipping elsewhere, on a shared device;
    // the worker's scoring puts such orders in the fraud queue.
    let risky = rng.random_bool(0.06);
    let (ip, ip_country, shipping_country, device) = if risky {
        let host = rng.random_range(2..40);
        let ip = if rng.random_bool(0.5) {
            format!("45.142.212.{host}")
        } else {
            format!("185.220.101.{host}")
        };
        let device = format!("fp_demo_shared_{}", rng.random_range(0..4));
        (ip, "RO".to_string(), "NG".to_string(), device)
    } else {
        let ip = format!(
            "73.{}.{}.{}",
            rng.random_range(0..255),
            rng.random_range(0..255),
            rng.random_range(1..254)
        );
        let device = format!("fp_demo_{:012x}", rng.random::<u64>() >> 16);
        (ip, country.clone(), country.clone(), device)
    };
    let mut tx = pool.begin().await?;
    let order_id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, creator_id, show_id, status, currency, subtotal_minor,
                             shipping_minor, total_minor, product_cost_minor, shipping_cost_minor, platform_fee_minor,
                             email, ip, ip_country, billing_country, shipping_country, device_fingerprint, paypal_payer_id)
         VALUES ($1, $2, $3, $4, 'pending_payment', 'USD', $5, $6, $7, $8, $9, $10, $11, $12::inet, $16, $13, $17, $14, $15)
         RETURNING id",
    )
    .bind(&number)
    .bind(customer_id)
    .bind(creator_id)
    .bind(show_id)
    .bind(subtotal)
    .bind(shipping)
    .bind(total)
    .bind(cost * quantity)
    .bind(shipping * 8 / 10)
    .bind(fee)
    .bind(&email)
    .bind(&ip)
    .bind(&country)
    .bind(device)
    .bind(payer)
    .bind(ip_country)
    .bind(shipping_country)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order_id)
    .bind(product_id)
    .bind(quantity as i32)
    .bind(price)
    .bind(cost)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((number, total)))
}

/// A card the processor refused: PayPal reports the capture as denied.
fn deny(sims: &Simulators, order_number: &str, total: i64) {
    let money = Money::new(total, Currency::USD);
    sims.paypal.emit(
        "PAYMENT.CAPTURE.DENIED",
        "capture",
        json!({
            "id": format!("SIMDENY-{order_number}"),
            "status": "DECLINED",
            "custom_id": order_number,
            "amount": { "currency_code": "USD", "value": money.to_major_string() },
            "create_time": Utc::now().to_rfc3339(),
            "update_time": Utc::now().to_rfc3339(),
        }),
    );
}
