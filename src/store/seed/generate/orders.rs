//! Orders (60% during shows) with their items, payments, refunds and fraud
//! scores (indicators and evidence); about two dozen recent high-risk orders
//! waiting for review, older ones decided (with blocklist entries for the
//! declines). Collects each creator's payable orders per payout week and the
//! orders that will be disputed.

use std::collections::HashMap;

use chrono::Duration;
use color_eyre::eyre::{Result, WrapErr};
use indicatif::ProgressBar;
use rand::distr::weighted::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use sqlx::PgConnection;

use super::{DisputeSeed, Generator, HIGH_RISK, WINDOW_DAYS, WeekLine, WeekLines, pick};
use crate::domain::fraud::{FraudState, Hit, Indicator, score};
use crate::domain::money::{Money, Rounding};
use crate::domain::payouts::OrderFigures;
use crate::store::seed::CopyBuf;

const RISKY_COUNTRIES: &[&str] = &["NG", "RU", "VN", "BR", "ID", "RO"];
const CARRIERS: &[&str] = &["USPS", "UPS", "FEDEX", "DHL"];

/// One paid order in this many is charged twice (a planted duplicate).
pub const DUPLICATE_EVERY: i64 = 499;

/// The capture id of order `id`'s planted duplicate charge.
pub fn duplicate_capture_id(id: i64) -> String {
    format!("CAPD{:016}", id * 7919)
}

fn ip_normal(rng: &mut ChaCha8Rng) -> String {
    let first = *pick(rng, &[24u8, 67, 73, 98, 104, 174, 76, 99]);
    format!(
        "{first}.{}.{}.{}",
        rng.random_range(0..=255),
        rng.random_range(0..=255),
        rng.random_range(1..=254)
    )
}

/// The `assets/fraud/proxy_ranges.txt` entry a risky address falls in, as
/// live scoring's evidence names it.
fn proxy_range(ip: &str) -> &'static str {
    if ip.starts_with("185.220.") {
        "185.220.100.0/22 (Tor exit relays (sample))"
    } else if ip.starts_with("45.142.212.") {
        "45.142.212.0/24 (Hosting VPN exits (sample))"
    } else {
        "203.0.113.0/24 (documentation range)"
    }
}

fn ip_risky(rng: &mut ChaCha8Rng) -> String {
    // A handful of shared addresses (proxy exits, one abused host), so velocity shows.
    let host = rng.random_range(1..=12);
    match rng.random_range(0..3) {
        0 => format!("185.220.101.{host}"),
        1 => format!("203.0.113.{host}"),
        _ => format!("45.142.212.{host}"),
    }
}

impl Generator {
    pub(super) async fn load_orders(
        &mut self,
        conn: &mut PgConnection,
        progress: &ProgressBar,
    ) -> Result<(
        i64,
        HashMap<(i64, usize), (WeekLine, Vec<(i64, i64)>)>,
        Vec<DisputeSeed>,
    )> {
        let mut orders = CopyBuf::new(
            "COPY orders (id, order_number, customer_id, creator_id, show_id, status, currency, subtotal_minor,
                          shipping_minor, total_minor, product_cost_minor, shipping_cost_minor, platform_fee_minor,
                          email, ip, ip_country, billing_country, shipping_country, device_fingerprint, paypal_payer_id,
                          fraud_score, fraud_state, fraud_hold_until, tracking_number, carrier, shipped_at,
                          delivered_at, created_at, paid_at) FROM STDIN",
        );
        let mut items = CopyBuf::new(
            "COPY order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor) FROM STDIN",
        );
        let mut payments = CopyBuf::new(
            "COPY payments (id, order_id, capture_id, status, amount_minor, currency, refunded_minor, created_at,
                            updated_at) FROM STDIN",
        );
        let mut refunds = CopyBuf::new(
            "COPY refunds (order_id, payment_id, amount_minor, currency, status, reason, requested_by,
                           idempotency_key, paypal_refund_id, created_at, completed_at) FROM STDIN",
        );
        let mut scores = CopyBuf::new(
            "COPY fraud_scores (id, order_id, score, model_version, computed_at) FROM STDIN",
        );
        let mut indicators = CopyBuf::new(
            "COPY fraud_indicators (score_id, indicator, points, evidence) FROM STDIN",
        );
        let mut decisions = CopyBuf::new(
            "COPY fraud_decisions (order_id, decision, reason, operator, score_seen, hold_until, decided_at) FROM STDIN",
        );
        let mut blocklist =
            CopyBuf::new("COPY blocklist (kind, value, reason, added_by, added_at) FROM STDIN");

        let weights: Vec<f64> = (0..self.creators.len())
            .map(|r| 1.0 / ((r + 1) as f64).powf(0.7))
            .collect();
        let creator_dist = WeightedIndex::new(&weights).wrap_err("creator weights")?;
        let mut lines: WeekLines = HashMap::new();
        let mut disputes = Vec::new();
        let mut gmv: i64 = 0;
        let mut blocked: std::collections::HashSet<String> = std::collections::HashSet::new();

        for n in 0..self.orders {
            let id = n as i64 + 1;
            let c = creator_dist.sample(&mut self.rng);
            // The first orders are recent high-risk ones, so every seed size has a
            // fraud queue to work (about two dozen orders).
            let forced_risk = n < 24;
            let high_risk = forced_risk || self.rng.random_bool(0.02);
            let customer = if high_risk && self.rng.random_bool(0.5) {
                // Fraudsters favour throwaway mailboxes.
                let mut k = self.rng.random_range(0..self.customers.len());
                for _ in 0..40 {
                    if self.customers[k].disposable {
                        break;
                    }
                    k = self.rng.random_range(0..self.customers.len());
                }
                k
            } else {
                self.rng.random_range(0..self.customers.len())
            };

            // When: during one of the creator's shows (60%), else any time in the window.
            let shows = &self.creators[c].shows;
            let (show_id, created_at) = if forced_risk {
                (
                    None,
                    self.now - Duration::seconds(self.rng.random_range(600..2 * 86_400)),
                )
            } else if !shows.is_empty() && self.rng.random_bool(0.6) {
                let (sid, start) = shows[self.rng.random_range(0..shows.len())];
                let at = (start + Duration::seconds(self.rng.random_range(60..5_400)))
                    .min(self.now - Duration::seconds(5));
                (Some(sid), at)
            } else {
                (
                    None,
                    self.now - Duration::seconds(self.rng.random_range(30..WINDOW_DAYS * 86_400)),
                )
            };
            let age = self.now - created_at;

            // Items from the creator's catalogue.
            let n_items = *pick(&mut self.rng, &[1usize, 1, 1, 2, 2, 3]);
            let (mut subtotal, mut cost) = (0i64, 0i64);
            let catalogue = &self.creators[c].products;
            let mut lines_of_order = Vec::with_capacity(n_items);
            for _ in 0..n_items {
                let product = &self.products[catalogue[self.rng.random_range(0..catalogue.len())]];
                let qty: i32 = if self.rng.random_bool(0.85) {
                    1
                } else {
                    self.rng.random_range(2..4)
                };
                subtotal += product.price * i64::from(qty);
                cost += product.cost * i64::from(qty);
                lines_of_order.push((product.id, qty, product.price, product.cost));
            }
            if high_risk {
                // Fraud skews to big baskets.
                subtotal *= 3;
                cost *= 3;
                for line in &mut lines_of_order {
                    line.1 *= 3;
                }
            }
            let shipping = *pick(&mut self.rng, &[0i64, 499, 799]);
            let total = subtotal + shipping;
            let shipping_cost = shipping * 8 / 10;
            let fee = Money::new(total, self.usd)
                .apply_bps(500, Rounding::HalfEven)?
                .minor;

            // Fraud indicators, with the order's attributes made to match them.
            let cust = &self.customers[customer];
            let mut hits: Vec<Hit> = Vec::new();
            let mut ip = ip_normal(&mut self.rng);
            let mut ip_country = cust.country;
            let billing = cust.country;
            let mut shipping_country = cust.country;
            let mut device = format!("fp_{:016x}", self.rng.random::<u64>());
            if high_risk {
                ip = ip_risky(&mut self.rng);
                ip_country = *pick(&mut self.rng, RISKY_COUNTRIES);
                device = format!("fp_shared_{:02}", self.rng.random_range(0..20));
                let candidates = [
                    (
                        Indicator::IpVelocity,
                        format!("{} orders from {ip} in 10 min", self.rng.random_range(3..9)),
                    ),
                    (
                        Indicator::SharedDevice,
                        format!(
                            "device {device} seen on {} other accounts",
                            self.rng.random_range(3..12)
                        ),
                    ),
                    (
                        Indicator::IpReputation,
                        format!(
                            "{ip} has abuse score {} on the reputation list",
                            self.rng.random_range(60..99)
                        ),
                    ),
                    (
                        Indicator::GeoMismatch,
                        format!("IP in {ip_country}, billing in {billing}"),
                    ),
                    (
                        Indicator::VpnProxy,
                        format!("{ip} is in proxy/VPN range {}", proxy_range(&ip)),
                    ),
                    (
                        Indicator::HighValueFirstOrder,
                        format!("first order, {}", Money::new(total, self.usd).display()),
                    ),
                    (
                        Indicator::FailedPaymentAttempts,
                        format!(
                            "{} failed payment attempts in 1h",
                            self.rng.random_range(2..6)
                        ),
                    ),
                    (
                        Indicator::ShippingBillingMismatch,
                        format!("ships to {}, bills to {billing}", RISKY_COUNTRIES[0]),
                    ),
                ];
                let mut chosen = Vec::new();
                while score(&chosen) <= HIGH_RISK {
                    let (indicator, evidence) =
                        candidates[self.rng.random_range(0..candidates.len())].clone();
                    if chosen.iter().any(|h: &Hit| h.indicator == indicator) {
                        continue;
                    }
                    chosen.push(Hit {
                        indicator,
                        points: indicator.default_points(),
                        evidence,
                    });
                }
                if chosen
                    .iter()
                    .any(|h| h.indicator == Indicator::ShippingBillingMismatch)
                {
                    shipping_country = RISKY_COUNTRIES[0];
                }
                if cust.disposable {
                    let domain = cust.email.rsplit('@').next().unwrap_or("");
                    chosen.push(Hit {
                        indicator: Indicator::SuspiciousEmailDomain,
                        points: Indicator::SuspiciousEmailDomain.default_points(),
                        evidence: format!("disposable domain {domain}"),
                    });
                }
                hits = chosen;
            } else if self.rng.random_bool(0.25) {
                let indicator = *pick(
                    &mut self.rng,
                    &[
                        Indicator::ShippingBillingMismatch,
                        Indicator::HighValueFirstOrder,
                        Indicator::GeoMismatch,
                    ],
                );
                if indicator == Indicator::ShippingBillingMismatch {
                    shipping_country = if cust.country == "US" { "CA" } else { "US" };
                }
                let evidence = match indicator {
                    Indicator::ShippingBillingMismatch => {
                        format!("ships to {shipping_country}, bills to {billing}")
                    }
                    Indicator::HighValueFirstOrder => {
                        format!("first order, {}", Money::new(total, self.usd).display())
                    }
                    _ => {
                        ip_country = if cust.country == "US" { "MX" } else { "US" };
                        format!("IP in {ip_country}, billing in {billing}")
                    }
                };
                hits.push(Hit {
                    indicator,
                    points: indicator.default_points() / 2,
                    evidence,
                });
            }
            let fraud_score = score(&hits);

            // Outcome: payment, fraud workflow, fulfilment.
            let payment_failed = !high_risk && self.rng.random_bool(0.03);
            let pending_payment =
                !payment_failed && age < Duration::minutes(10) && self.rng.random_bool(0.3);
            let mut fraud_state = FraudState::scored(fraud_score > HIGH_RISK);
            let mut hold_until = None;
            let mut decision: Option<(&str, &str, &str)> = None;
            if high_risk && age > Duration::days(5) {
                let roll = self.rng.random_range(0..10);
                decision = Some(match roll {
                    0..=6 => (
                        "approve",
                        "Customer verified by phone; long-time account",
                        "alice",
                    ),
                    _ => (
                        "decline",
                        "Confirmed fraud: proxy IP, shared device, throwaway email",
                        "dana",
                    ),
                });
                fraud_state = if roll <= 6 {
                    FraudState::Approved
                } else {
                    FraudState::Declined
                };
            } else if high_risk && age > Duration::days(2) && self.rng.random_bool(0.3) {
                // Review holds: some expired (back in the queue), some still running.
                fraud_state = FraudState::Review;
                decision = Some((
                    "review",
                    "Asked customer to confirm shipping address",
                    "dana",
                ));
            }
            if fraud_state == FraudState::Review {
                let hours = *pick(&mut self.rng, &[24i64, 48]);
                hold_until = Some(created_at + Duration::hours(2) + Duration::hours(hours));
            }
            let refund_reason = if fraud_state == FraudState::Declined {
                Some("Declined as fraud")
            } else if !payment_failed
                && !pending_payment
                && !high_risk
                && age > Duration::days(3)
                && self.rng.random_bool(0.02)
            {
                Some(*pick(
                    &mut self.rng,
                    &[
                        "Item arrived damaged",
                        "Customer changed mind within 30 days",
                        "Charged twice",
                    ],
                ))
            } else {
                None
            };
            let status = if payment_failed {
                "payment_failed"
            } else if pending_payment {
                "pending_payment"
            } else if refund_reason.is_some() {
                "refunded"
            } else if matches!(fraud_state, FraudState::Pending | FraudState::Review) {
                "on_hold"
            } else if age > Duration::days(6) {
                "delivered"
            } else if age > Duration::days(2) {
                "shipped"
            } else if age > Duration::hours(6) {
                "fulfilling"
            } else {
                "paid"
            };
            let paid_at = (!payment_failed && !pending_payment)
                .then(|| created_at + Duration::seconds(self.rng.random_range(3..90)));
            let shipped = matches!(status, "shipped" | "delivered");
            let tracking = shipped.then(|| {
                format!(
                    "1Z{:016}",
                    self.rng.random_range(0..10_000_000_000_000_000u64)
                )
            });
            let carrier = shipped.then(|| *pick(&mut self.rng, CARRIERS));
            let shipped_at =
                shipped.then(|| created_at + Duration::hours(self.rng.random_range(20..60)));
            let delivered_at = (status == "delivered")
                .then(|| created_at + Duration::days(self.rng.random_range(3..6)));
            if paid_at.is_some() && refund_reason.is_none() {
                gmv += total;
            }

            let cust = &self.customers[customer];
            orders
                .row()
                .f(id)
                .f(format!("LSN-{id:07}"))
                .f(cust.id)
                .f(self.creators[c].id)
                .f(show_id)
                .f(status)
                .f("USD")
                .f(subtotal)
                .f(shipping)
                .f(total)
                .f(cost)
                .f(shipping_cost)
                .f(fee)
                .f(&cust.email)
                .f(&ip)
                .f(ip_country)
                .f(billing)
                .f(shipping_country)
                .f(&device)
                .f(&cust.payer_id)
                .f(Some(i16::from(fraud_score)))
                .f(fraud_state.as_str())
                .f(hold_until)
                .f(tracking)
                .f(carrier)
                .f(shipped_at)
                .f(delivered_at)
                .f(created_at)
                .f(paid_at);
            for (product_id, qty, price, unit_cost) in lines_of_order {
                items.row().f(id).f(product_id).f(qty).f(price).f(unit_cost);
            }
            if !pending_payment {
                let pay_status = if payment_failed {
                    "DENIED"
                } else if refund_reason.is_some() {
                    "REFUNDED"
                } else {
                    "COMPLETED"
                };
                let refunded = if refund_reason.is_some() { total } else { 0 };
                payments
                    .row()
                    .f(id)
                    .f(id)
                    .f(format!("CAP{:017}", id * 7919))
                    .f(pay_status)
                    .f(total)
                    .f("USD")
                    .f(refunded)
                    .f(created_at)
                    .f(paid_at.unwrap_or(created_at));
            }
            // Planted duplicate charges ("I was charged twice"): one paid order
            // in 499 captured a second time 47 seconds later, same payer and
            // amount (`orders duplicates` must find exactly these). Chosen by
            // id, so the random stream of everything else is unchanged.
            if let Some(paid) = paid_at
                && refund_reason.is_none()
                && id % DUPLICATE_EVERY == 0
            {
                let again = paid + Duration::seconds(47);
                payments
                    .row()
                    .f(self.orders as i64 + id)
                    .f(id)
                    .f(duplicate_capture_id(id))
                    .f("COMPLETED")
                    .f(total)
                    .f("USD")
                    .f(0i64)
                    .f(again)
                    .f(again);
            }
            if let Some(reason) = refund_reason {
                let at = created_at + Duration::hours(self.rng.random_range(3..48)).min(age);
                refunds
                    .row()
                    .f(id)
                    .f(id)
                    .f(total)
                    .f("USD")
                    .f("completed")
                    .f(reason)
                    .f(if fraud_state == FraudState::Declined {
                        "dana"
                    } else {
                        "alice"
                    })
                    .f(format!("refund-order-{id}"))
                    .f(format!("RF{:015}", id * 104_729))
                    .f(at)
                    .f(at + Duration::minutes(2));
            }
            if paid_at.is_some() || payment_failed {
                scores
                    .row()
                    .f(id)
                    .f(id)
                    .f(i16::from(fraud_score))
                    .f("seed-v1")
                    .f(created_at + Duration::seconds(2));
                for hit in &hits {
                    indicators
                        .row()
                        .f(id)
                        .f(hit.indicator.as_str())
                        .f(i16::from(hit.points))
                        .f(&hit.evidence);
                }
            }
            if let Some((decision, reason, operator)) = decision {
                let decided = created_at + Duration::hours(2);
                let hold = (decision == "review")
                    .then(|| hold_until.unwrap_or(decided + Duration::hours(24)));
                decisions
                    .row()
                    .f(id)
                    .f(decision)
                    .f(reason)
                    .f(operator)
                    .f(i16::from(fraud_score))
                    .f(hold)
                    .f(decided);
                if decision == "decline" && blocked.len() < 25 && blocked.insert(ip.clone()) {
                    blocklist
                        .row()
                        .f("ip")
                        .f(&ip)
                        .f(reason)
                        .f(operator)
                        .f(decided);
                }
            }

            // Payout attribution: paid, kept, cleared orders in a payout week.
            let payable = paid_at.is_some()
                && refund_reason.is_none()
                && matches!(fraud_state, FraudState::Clear | FraudState::Approved);
            if let (true, Some(paid)) = (payable, paid_at)
                && let Some(week) = self.week_of(paid)
            {
                let figures = OrderFigures {
                    total: Money::new(total, self.usd),
                    product_cost: Money::new(cost, self.usd),
                    shipping: Money::new(shipping_cost, self.usd),
                    platform_fee: Money::new(fee, self.usd),
                };
                let earnings = figures
                    .earnings(self.creators[c].tier.commission_bps())?
                    .minor;
                let (line, order_list) = lines.entry((week, c)).or_default();
                line.orders += 1;
                line.total += total;
                line.costs += cost + shipping_cost + fee;
                line.earnings += earnings;
                order_list.push((id, earnings));
            }

            // Disputes: about 0.6% of paid orders older than three days.
            if paid_at.is_some()
                && refund_reason.is_none()
                && age > Duration::days(3)
                && self.rng.random_bool(0.006)
            {
                disputes.push(DisputeSeed {
                    order_id: id,
                    total,
                    created_at,
                    roll: self.rng.random(),
                });
            }

            // When one buffer is full, flush them all, parents first: a child row
            // must never reach the database before the order it points to.
            let all = [
                &mut orders,
                &mut items,
                &mut payments,
                &mut refunds,
                &mut scores,
                &mut indicators,
                &mut decisions,
            ];
            if all.iter().any(|b| b.is_full()) {
                for buf in all {
                    buf.flush(conn).await?;
                }
            }
            if n % 4096 == 0 {
                progress.set_position(n);
            }
        }
        progress.set_position(self.orders);
        // Parents before children: the foreign keys are checked row by row.
        for buf in [
            &mut orders,
            &mut items,
            &mut payments,
            &mut refunds,
            &mut scores,
            &mut indicators,
            &mut decisions,
            &mut blocklist,
        ] {
            buf.flush(conn).await?;
        }
        Ok((gmv, lines, disputes))
    }
}
