//! The stock ledger against the real database, as a property: random
//! sequences of captures (webhooks through the applier, a second charge
//! too), refunds asked for and completed later (PayPal's webhook path),
//! fraud declines, cancels, expired checkouts and returns (good and
//! defective) keep each product's on hand, reserved and sold what the
//! domain's [`Ledger`] says they are, what the order lines add up to, and
//! what the audited `stock_movements` add up to; whenever reserved exceeds
//! on hand an oversell alert is open and `inventory oversold` lists the
//! product.
//!
//! A seeded loop (not proptest: every step is async against one database):
//! `LSN_OPS_LEDGER_CASES` cases (24 by default) of `STEPS` steps each, from
//! `LSN_OPS_LEDGER_SEED`; a failure prints the seed and the steps that led
//! to it.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use lsn_ops::domain::inventory::{Ledger, LineUnits, StockEvent};
use lsn_ops::domain::operators::Actor;
use lsn_ops::store::fraud::{BlockToggles, Decision, DecisionRequest};
use lsn_ops::store::refunds::RefundRequest;
use lsn_ops::store::{cancel, fraud, refunds, returns, stock};
use lsn_ops::worker::apply::{ApplySettings, apply_due};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use sqlx::PgPool;

const STEPS: usize = 20;
const PRODUCTS: usize = 2;
const NEW_ORDERS: usize = 4;
const DELIVERED_ORDERS: usize = 2;
const PRICE: i64 = 1_000;

/// One order of the case: one line of one product.
#[derive(Debug, Clone)]
struct Order {
    id: i64,
    number: String,
    product: usize,
    /// The line's index in its product's ledger.
    line: usize,
    quantity: i32,
    delivered: bool,
    /// Cancelled by an operator (a later capture does not revive it).
    cancelled: bool,
    declined: bool,
}

/// A refund asked for and not yet completed, and what its completion does.
#[derive(Debug, Clone)]
enum Pending {
    Refund {
        key: String,
        order: usize,
        units: i32,
    },
    Decline {
        key: String,
        order: usize,
    },
    /// Money only (a cancel's, a return's): no stock moves on completion.
    Money {
        key: String,
    },
}

impl Pending {
    fn key(&self) -> &str {
        match self {
            Pending::Refund { key, .. } | Pending::Decline { key, .. } | Pending::Money { key } => {
                key
            }
        }
    }
}

struct Case {
    n: usize,
    products: Vec<(i64, String)>,
    ledgers: Vec<Ledger>,
    /// (on hand, reserved) written at setup: the movements count from there.
    setup: Vec<(i32, i32)>,
    orders: Vec<Order>,
    pending: Vec<Pending>,
    log: Vec<String>,
    events: usize,
}

/// How often each kind of step changed something (the test is not vacuous).
type Tally = BTreeMap<&'static str, usize>;

fn admin() -> Actor {
    Actor::new("ada")
}

async fn setup(pool: &PgPool, n: usize, rng: &mut ChaCha8Rng) -> Case {
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ($1, 'Buyer', 'US') RETURNING id",
    )
    .bind(format!("buyer{n}@example.com"))
    .fetch_one(pool)
    .await
    .expect("customer");
    // The orders first (in the model), so that the delivered ones have shipped
    // from what was on hand.
    let mut orders = Vec::new();
    let mut lines: Vec<Vec<LineUnits>> = vec![Vec::new(); PRODUCTS];
    for i in 0..NEW_ORDERS + DELIVERED_ORDERS {
        let product = rng.random_range(0..PRODUCTS);
        let quantity = rng.random_range(1..=3);
        lines[product].push(LineUnits {
            quantity,
            ..LineUnits::default()
        });
        orders.push(Order {
            id: 0,
            number: format!("LSN-P{n:03}-{i}"),
            product,
            line: lines[product].len() - 1,
            quantity,
            delivered: i >= NEW_ORDERS,
            cancelled: false,
            declined: false,
        });
    }
    let mut ledgers = Vec::new();
    for (p, product_lines) in lines.into_iter().enumerate() {
        let shipped: i32 = orders
            .iter()
            .filter(|o| o.product == p && o.delivered)
            .map(|o| o.quantity)
            .sum();
        let mut ledger = Ledger::new(rng.random_range(0..=5) + shipped, product_lines);
        for o in orders.iter().filter(|o| o.product == p && o.delivered) {
            ledger.apply(StockEvent::Capture { line: o.line });
            ledger.apply(StockEvent::Ship { line: o.line });
        }
        ledger.check().expect("setup ledger");
        ledgers.push(ledger);
    }
    let mut products = Vec::new();
    let mut setup = Vec::new();
    for (p, ledger) in ledgers.iter().enumerate() {
        let sku = format!("SKU-P{n:03}-{p}");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO products (sku, name, currency, price_minor, cost_minor, stock_on_hand, stock_reserved)
             VALUES ($1, 'Thing', 'USD', $2, 400, $3, $4) RETURNING id",
        )
        .bind(&sku)
        .bind(PRICE)
        .bind(ledger.on_hand)
        .bind(ledger.reserved)
        .fetch_one(pool)
        .await
        .expect("product");
        products.push((id, sku));
        setup.push((ledger.on_hand, ledger.reserved));
    }
    let day_ago = Utc::now() - Duration::days(1);
    for o in &mut orders {
        let total = PRICE * i64::from(o.quantity);
        let (status, paid, delivered) = if o.delivered {
            (
                "delivered",
                Some(day_ago - Duration::days(2)),
                Some(day_ago),
            )
        } else {
            ("pending_payment", None, None)
        };
        o.id = sqlx::query_scalar(
            "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email,
                                 paypal_payer_id, paid_at, shipped_at, delivered_at, created_at)
             VALUES ($1, $2, $3, 'USD', $4, $4, $5, $6, $7, $7, $8, now() - interval '1 hour') RETURNING id",
        )
        .bind(&o.number)
        .bind(customer)
        .bind(status)
        .bind(total)
        .bind(format!("buyer{n}@example.com"))
        .bind(format!("PAYER{n}"))
        .bind(paid)
        .bind(delivered)
        .fetch_one(pool)
        .await
        .expect("order");
        sqlx::query(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor)
             VALUES ($1, $2, $3, $4, 400)",
        )
        .bind(o.id)
        .bind(products[o.product].0)
        .bind(o.quantity)
        .bind(PRICE)
        .execute(pool)
        .await
        .expect("line");
        if o.delivered {
            sqlx::query(
                "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at)
                 VALUES ($1, $2, 'COMPLETED', $3, 'USD', $4)",
            )
            .bind(o.id)
            .bind(format!("CAP-{}", o.number))
            .bind(total)
            .bind(day_ago - Duration::days(2))
            .execute(pool)
            .await
            .expect("payment");
        }
    }
    Case {
        n,
        products,
        ledgers,
        setup,
        orders,
        pending: Vec::new(),
        log: Vec::new(),
        events: 0,
    }
}

/// PayPal's capture webhook for order `o` (capture `attempt`), through the applier.
async fn capture(pool: &PgPool, case: &mut Case, o: usize, attempt: u8) {
    let order = case.orders[o].clone();
    case.events += 1;
    let capture_id = format!("CAP-{}-{attempt}", order.number);
    let value = format!("{}.00", PRICE / 100 * i64::from(order.quantity));
    let payload = json!({ "id": format!("WH-{capture_id}-{}", case.events),
        "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type": "capture",
        "resource": { "id": capture_id, "status": "COMPLETED", "custom_id": order.number,
                      "amount": { "currency_code": "USD", "value": value },
                      "create_time": Utc::now().to_rfc3339() } });
    sqlx::query(
        "INSERT INTO provider_events (provider, event_id, event_type, payload)
         VALUES ('paypal', $1, 'PAYMENT.CAPTURE.COMPLETED', $2)",
    )
    .bind(format!("WH-{capture_id}-{}", case.events))
    .bind(payload)
    .execute(pool)
    .await
    .expect("event");
    apply_due(pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
}

/// The key of the newest refund of order `o` asked for and not completed.
async fn newest_refund_key(pool: &PgPool, order_id: i64) -> Option<String> {
    sqlx::query_scalar(
        "SELECT idempotency_key FROM refunds WHERE order_id = $1 AND status = 'requested'
          ORDER BY id DESC LIMIT 1",
    )
    .bind(order_id)
    .fetch_optional(pool)
    .await
    .expect("refund key")
}

/// One random step; what it did goes to the log and the tally.
async fn step(pool: &PgPool, case: &mut Case, rng: &mut ChaCha8Rng, tally: &mut Tally) {
    let o = rng.random_range(0..case.orders.len());
    let order = case.orders[o].clone();
    let ledger = &mut case.ledgers[order.product];
    match rng.random_range(0..8) {
        0 | 1 => {
            let attempt = rng.random_range(0..2);
            capture(pool, case, o, attempt).await;
            let ledger = &mut case.ledgers[order.product];
            let was = ledger.lines[order.line].captured;
            // An order cancelled by an operator is not revived by a capture;
            // a delivered one was captured at setup.
            if !order.cancelled {
                ledger.apply(StockEvent::Capture { line: order.line });
            }
            if !was && ledger.lines[order.line].captured {
                *tally.entry("capture").or_default() += 1;
            }
            case.log
                .push(format!("capture {} #{attempt}", order.number));
        }
        2 => {
            let units = rng.random_range(1..=2);
            let request = RefundRequest {
                order: order.number.clone(),
                amount: None,
                items: vec![(case.products[order.product].1.clone(), units)],
                capture_id: None,
                reason: "customer asked".into(),
                agent_limit_minor: 0,
            };
            match refunds::request(pool, &admin(), &request).await {
                Ok(r) => {
                    case.pending.push(Pending::Refund {
                        key: r.idempotency_key,
                        order: o,
                        units,
                    });
                    *tally.entry("refund asked").or_default() += 1;
                    case.log.push(format!("refund {units} of {}", order.number));
                }
                Err(e) => case
                    .log
                    .push(format!("refund {} refused: {e}", order.number)),
            }
        }
        3 => {
            if case.pending.is_empty() {
                return;
            }
            let p = case.pending.remove(rng.random_range(0..case.pending.len()));
            let mut tx = pool.begin().await.expect("tx");
            let done = lsn_ops::worker::refunds::complete_ours(
                &mut tx,
                p.key(),
                &format!("PPR-{}", p.key()),
            )
            .await
            .expect("complete");
            tx.commit().await.expect("commit");
            assert_eq!(done, Some(true), "refund {} completes once", p.key());
            match p {
                Pending::Refund {
                    order: i, units, ..
                } => {
                    let line = case.orders[i].line;
                    case.ledgers[case.orders[i].product].apply(StockEvent::Refund { line, units });
                    case.log.push(format!(
                        "refund completed: {units} of {}",
                        case.orders[i].number
                    ));
                }
                Pending::Decline { order: i, .. } => {
                    let line = case.orders[i].line;
                    case.ledgers[case.orders[i].product].apply(StockEvent::Decline { line });
                    case.log.push(format!(
                        "decline refund completed: {}",
                        case.orders[i].number
                    ));
                }
                Pending::Money { key } => case.log.push(format!("refund completed: {key}")),
            }
            *tally.entry("refund completed").or_default() += 1;
        }
        4 => {
            if order.declined || !ledger.lines[order.line].captured {
                return;
            }
            // Scored high: it waits in the fraud queue for an analyst.
            sqlx::query("UPDATE orders SET fraud_state = 'pending' WHERE id = $1")
                .bind(order.id)
                .execute(pool)
                .await
                .expect("queued");
            let request = DecisionRequest {
                order_id: order.id,
                actor: admin(),
                decision: Decision::Decline {
                    block: BlockToggles::default(),
                },
                reason: "stolen card".into(),
                score_seen: 90,
                agent_refund_limit_minor: 0,
            };
            if let Err(e) = fraud::decide(pool, &request, Utc::now()).await {
                case.log
                    .push(format!("decline {} refused: {e}", order.number));
                return;
            }
            case.orders[o].declined = true;
            if let Some(key) = newest_refund_key(pool, order.id)
                .await
                .filter(|k| k.starts_with("fraud-decline-"))
            {
                case.pending.push(Pending::Decline { key, order: o });
                *tally.entry("decline").or_default() += 1;
            }
            case.log.push(format!("decline {}", order.number));
        }
        5 => {
            match cancel::cancel(pool, &admin(), &order.number, "customer changed mind", 0).await {
                Ok(done) => {
                    case.orders[o].cancelled = true;
                    ledger.apply(StockEvent::Cancel { line: order.line });
                    for r in done.refunds {
                        case.pending.push(Pending::Money {
                            key: r.idempotency_key,
                        });
                    }
                    *tally.entry("cancel").or_default() += 1;
                    case.log.push(format!(
                        "cancel {}: {} released",
                        order.number, done.released
                    ));
                }
                Err(e) => case
                    .log
                    .push(format!("cancel {} refused: {e}", order.number)),
            }
        }
        6 => {
            let expired =
                stock::expire_checkouts(pool, Utc::now(), Duration::zero(), 100, "worker")
                    .await
                    .expect("expire");
            for e in &expired {
                if let Some(i) = case.orders.iter().position(|o| o.id == e.order_id) {
                    let line = case.orders[i].line;
                    case.ledgers[case.orders[i].product].apply(StockEvent::Cancel { line });
                    *tally.entry("checkout expired").or_default() += 1;
                    case.log
                        .push(format!("checkout expired: {}", case.orders[i].number));
                }
            }
        }
        _ => {
            if !order.delivered {
                return;
            }
            let units = rng.random_range(1..=2);
            let defective = rng.random_bool(0.3);
            let items = vec![(case.products[order.product].1.clone(), units)];
            let opened = returns::open(
                pool,
                &admin(),
                &order.number,
                &items,
                "does not fit",
                defective,
                30,
                Utc::now(),
            )
            .await;
            let Ok(opened) = opened else {
                case.log.push(format!("return of {} refused", order.number));
                return;
            };
            match returns::receive(pool, &admin(), &opened.rma_number, 0).await {
                Ok(got) => {
                    ledger.apply(StockEvent::Return {
                        line: order.line,
                        units,
                        defective,
                    });
                    case.pending.push(Pending::Money {
                        key: got.refund.idempotency_key,
                    });
                    *tally
                        .entry(if defective {
                            "return defective"
                        } else {
                            "return"
                        })
                        .or_default() += 1;
                    case.log.push(format!(
                        "return {units} of {} (defective {defective})",
                        order.number
                    ));
                }
                Err(e) => case
                    .log
                    .push(format!("receive {} refused: {e}", opened.rma_number)),
            }
        }
    }
}

/// Everything that must hold after every step, or what broke.
async fn check(pool: &PgPool, case: &Case, tally: &mut Tally) -> Result<(), String> {
    let listed: Vec<i64> = stock::oversold(pool, 10_000)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|o| o.product_id)
        .collect();
    for (p, ledger) in case.ledgers.iter().enumerate() {
        let (id, sku) = &case.products[p];
        ledger.check().map_err(|e| format!("{sku}: model: {e}"))?;
        let (on_hand, reserved): (i32, i32) =
            sqlx::query_as("SELECT stock_on_hand, stock_reserved FROM products WHERE id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .map_err(|e| e.to_string())?;
        if (on_hand, reserved) != (ledger.on_hand, ledger.reserved) {
            return Err(format!(
                "{sku}: database on hand {on_hand}, reserved {reserved}; ledger {}, {}",
                ledger.on_hand, ledger.reserved
            ));
        }
        // What the order lines add up to: reserved by paid lines not shipped,
        // sold by shipped lines less what came back.
        let (lines_reserved, lines_sold): (i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(i.quantity - i.released_qty) FILTER (WHERE o.shipped_at IS NULL), 0)::bigint,
                    coalesce(sum(i.quantity - i.released_qty - i.returned_qty)
                             FILTER (WHERE o.shipped_at IS NOT NULL), 0)::bigint
               FROM order_items i JOIN orders o ON o.id = i.order_id
              WHERE i.product_id = $1 AND o.paid_at IS NOT NULL",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
        if lines_reserved != i64::from(reserved) || lines_sold != i64::from(ledger.sold) {
            return Err(format!(
                "{sku}: lines reserve {lines_reserved} and sold {lines_sold}; product {reserved}, ledger sold {}",
                ledger.sold
            ));
        }
        // Every change audited: the movements add up to the change since
        // setup, and the newest one says where the levels are.
        let (on_hand_moved, reserved_moved, last): (i64, i64, Option<(i32, i32)>) = {
            let sums: (i64, i64) = sqlx::query_as(
                "SELECT coalesce(sum(on_hand_delta), 0)::bigint, coalesce(sum(reserved_delta), 0)::bigint
                   FROM stock_movements WHERE product_id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await
            .map_err(|e| e.to_string())?;
            let last: Option<(i32, i32)> = sqlx::query_as(
                "SELECT on_hand_after, reserved_after FROM stock_movements WHERE product_id = $1
                  ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| e.to_string())?;
            (sums.0, sums.1, last)
        };
        let (on_hand0, reserved0) = case.setup[p];
        if i64::from(on_hand - on_hand0) != on_hand_moved
            || i64::from(reserved - reserved0) != reserved_moved
            || last.is_some_and(|l| l != (on_hand, reserved))
        {
            return Err(format!(
                "{sku}: movements add up to ({on_hand_moved}, {reserved_moved}) ending at {last:?}; \
                 levels moved ({}, {})",
                on_hand - on_hand0,
                reserved - reserved0
            ));
        }
        // Oversold: reported (an open alert) and listed, whenever it is so.
        let alert_open: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE dedup_key = $1 AND state <> 'resolved')",
        )
        .bind(format!("inventory:oversold:{id}"))
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
        let over = reserved > on_hand;
        if over && !(alert_open && listed.contains(id) && ledger.oversell_reported) {
            return Err(format!(
                "{sku}: oversold ({reserved} reserved, {on_hand} on hand) but alert {alert_open}, \
                 listed {}",
                listed.contains(id)
            ));
        }
        if !over && listed.contains(id) {
            return Err(format!("{sku}: listed as oversold at {reserved}/{on_hand}"));
        }
        if over {
            *tally.entry("oversold seen").or_default() += 1;
        }
    }
    Ok(())
}

#[sqlx::test]
async fn random_captures_refunds_declines_cancels_expiries_and_returns_keep_the_ledger(
    pool: PgPool,
) {
    sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ('ada', 'admin', 'test')")
        .execute(&pool)
        .await
        .expect("operator");
    let cases: usize = std::env::var("LSN_OPS_LEDGER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seed: u64 = std::env::var("LSN_OPS_LEDGER_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x005e_ed13);
    let mut tally = Tally::new();
    for n in 0..cases {
        let case_seed = seed.wrapping_add(n as u64);
        let mut rng = ChaCha8Rng::seed_from_u64(case_seed);
        let mut case = setup(&pool, n, &mut rng).await;
        check(&pool, &case, &mut tally)
            .await
            .unwrap_or_else(|e| panic!("seed {case_seed}: after setup: {e}"));
        for _ in 0..STEPS {
            step(&pool, &mut case, &mut rng, &mut tally).await;
            if let Err(e) = check(&pool, &case, &mut tally).await {
                panic!(
                    "seed {case_seed} (case {}): {e}\nsteps:\n  {}",
                    case.n,
                    case.log.join("\n  ")
                );
            }
        }
        // Whatever is still asked for completes: the levels still agree.
        while let Some(p) = case.pending.pop() {
            let mut tx = pool.begin().await.expect("tx");
            lsn_ops::worker::refunds::complete_ours(&mut tx, p.key(), &format!("PPR-{}", p.key()))
                .await
                .expect("complete");
            tx.commit().await.expect("commit");
            match p {
                Pending::Refund {
                    order: i, units, ..
                } => {
                    let line = case.orders[i].line;
                    case.ledgers[case.orders[i].product].apply(StockEvent::Refund { line, units });
                }
                Pending::Decline { order: i, .. } => {
                    let line = case.orders[i].line;
                    case.ledgers[case.orders[i].product].apply(StockEvent::Decline { line });
                }
                Pending::Money { .. } => {}
            }
            check(&pool, &case, &mut tally)
                .await
                .unwrap_or_else(|e| panic!("seed {case_seed}: completing the rest: {e}"));
        }
    }
    eprintln!("stock ledger against the database: {cases} cases x {STEPS} steps: {tally:?}");
    // Every kind of step changed something somewhere, and oversell was met.
    for kind in [
        "capture",
        "refund asked",
        "refund completed",
        "decline",
        "cancel",
        "checkout expired",
        "return",
        "return defective",
        "oversold seen",
    ] {
        assert!(
            tally.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in {cases} cases: {tally:?}"
        );
    }
}
