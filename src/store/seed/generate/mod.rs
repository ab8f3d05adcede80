//! The seed generator: deterministic synthetic data (`lsn-ops seed --orders N
//! --seed S`), written with the COPY loader of [`super`].
//!
//! The same N and S always give the same rows, amounts and relations (times are
//! relative to the moment of seeding). The data is shaped like a real week of
//! the marketplace: creators across tiers, today's shows (one live, upcoming
//! ones, one past its start with no room), orders during shows, high-risk
//! orders above 70 waiting for review, disputes in every state with some inside
//! 24h of their SLA, twelve weeks of paid creator payouts plus this Friday's
//! batch, and open alerts and incidents. Everything is loaded with COPY inside
//! one transaction: a failed seed leaves the database as it was.
//!
//! This module holds the entry points ([`seed_database`], [`seed_if_empty`])
//! and the generator's state; each table group has its own file, loaded in
//! this order: [`people`] (creators, catalogue, customers, operators),
//! [`shows`], [`orders`] (with payments, refunds, fraud scores and decisions),
//! [`disputes`], [`payouts`], [`ops`] (alerts, incidents, traffic, audit).

mod disputes;
mod ops;
mod orders;
mod payouts;
mod people;
mod shows;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use color_eyre::eyre::{Result, WrapErr, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use sqlx::{PgConnection, PgPool};

use super::{is_empty, reset_sequences, restore_constraints, set_aside_constraints, table_counts};
use crate::domain::money::{Currency, Money};
use crate::domain::payouts::{Tier, next_batch_at};

/// The orders span this many days back from now (twelve payout weeks).
const WINDOW_DAYS: i64 = 84;
/// Past weekly payout batches, all paid.
const PAST_BATCHES: i64 = 12;
/// Fraud threshold the seed shapes its high-risk orders around (the runbook's 70).
const HIGH_RISK: u8 = 70;

/// What a seed made, for the summary line and for tests.
#[derive(Debug, Clone)]
pub struct SeedSummary {
    pub orders: u64,
    pub seed: u64,
    pub counts: Vec<(String, i64)>,
    pub gmv: Money,
    pub elapsed: std::time::Duration,
}

/// Seeds when the database has no data yet; true when it seeded.
pub async fn seed_if_empty(
    pool: &PgPool,
    orders: u64,
    seed: u64,
    tz: &chrono_tz::Tz,
    show_progress: bool,
) -> Result<bool> {
    let mut conn = pool.acquire().await?;
    if !is_empty(&mut conn).await? {
        return Ok(false);
    }
    drop(conn);
    seed_database(pool, orders, seed, tz, show_progress).await?;
    Ok(true)
}

/// Loads the synthetic data set into an empty, migrated database.
pub async fn seed_database(
    pool: &PgPool,
    orders: u64,
    seed: u64,
    tz: &chrono_tz::Tz,
    show_progress: bool,
) -> Result<SeedSummary> {
    let started = Instant::now();
    let now = Utc::now();
    let mut tx = pool
        .begin()
        .await
        .wrap_err("cannot start the seed transaction")?;
    if !is_empty(&mut tx).await? {
        bail!(
            "the database already has data; seed needs an empty database (drop and recreate it, then `lsn-ops migrate`)"
        );
    }
    // The whole load is one transaction; make its commit cheap and its COPYs fast.
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;

    let progress = progress_bar(orders, show_progress);
    let set_aside = set_aside_constraints(&mut tx).await?;
    let mut generator = Generator::new(orders, seed, now, tz);
    let gmv = generator
        .load(&mut tx, &progress)
        .await
        .wrap_err("seed failed (nothing was written)")?;
    progress.set_message("indexes and foreign keys");
    restore_constraints(&mut tx, set_aside)
        .await
        .wrap_err("seed failed while checking the loaded rows")?;
    reset_sequences(&mut tx).await?;
    let counts = table_counts(&mut tx).await?;
    tx.commit().await.wrap_err("cannot commit the seed")?;
    progress.finish_and_clear();
    // VACUUM, not just ANALYZE: a table loaded by COPY has no visibility map
    // yet, so the dashboard's index-only counts (blocklist matches, show sales)
    // would read the heap until autovacuum came by (a 1M snapshot: 63 ms
    // before, 21 ms after). Outside the transaction, as VACUUM must be.
    sqlx::query("VACUUM (ANALYZE)").execute(pool).await?;
    Ok(SeedSummary {
        orders,
        seed,
        counts,
        gmv,
        elapsed: started.elapsed(),
    })
}

fn progress_bar(orders: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(orders);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg:<22} [{bar:30}] {pos}/{len} orders ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

struct Creator {
    id: i64,
    tier: Tier,
    verified: bool,
    display_name: String,
    shows: Vec<(i64, DateTime<Utc>)>,
    products: Vec<usize>,
}

struct Product {
    id: i64,
    price: i64,
    cost: i64,
}

struct Customer {
    id: i64,
    email: String,
    country: &'static str,
    payer_id: String,
    disposable: bool,
}

/// Per (payout week, creator index): the line's totals and its (order id, earnings).
type WeekLines = HashMap<(i64, usize), (WeekLine, Vec<(i64, i64)>)>;

/// Per (payout week, creator): what the week's earnings line adds up to.
#[derive(Default, Clone, Copy)]
struct WeekLine {
    orders: i32,
    total: i64,
    costs: i64,
    earnings: i64,
}

struct Generator {
    rng: ChaCha8Rng,
    orders: u64,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    usd: Currency,
    creators: Vec<Creator>,
    products: Vec<Product>,
    customers: Vec<Customer>,
    /// This Friday's batch time; weeks count back from it.
    batch_at: DateTime<Utc>,
    live_show: i64,
    no_room_show: i64,
    today_show_products: Vec<i64>,
    next_show_id: i64,
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn uuid_from(rng: &mut ChaCha8Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

impl Generator {
    fn new(orders: u64, seed: u64, now: DateTime<Utc>, tz: &chrono_tz::Tz) -> Self {
        let two_pm = NaiveTime::from_hms_opt(14, 0, 0).unwrap_or(NaiveTime::MIN);
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            orders,
            now,
            tz: *tz,
            usd: Currency::USD,
            creators: Vec::new(),
            products: Vec::new(),
            customers: Vec::new(),
            batch_at: next_batch_at(now, tz, Weekday::Fri, two_pm),
            live_show: 0,
            no_room_show: 0,
            today_show_products: Vec::new(),
            next_show_id: 1,
        }
    }

    /// Payout week of a payment: 0 is this Friday's (not generated yet), 1..=12 past weeks.
    fn week_of(&self, at: DateTime<Utc>) -> Option<i64> {
        // As `payouts generate` decides: an order waits out the return
        // window before the batch that pays it, so week 0 (this Friday's,
        // left for the operator to generate) holds the orders paid 14 to 21
        // days before it. The oldest batch also took everything before.
        let window = chrono::Duration::days(i64::from(
            crate::config::PayoutsConfig::default().return_window_days,
        ));
        let back = (self.batch_at - window - at).num_seconds();
        if back <= 0 {
            return None;
        }
        Some((back / (7 * 86_400)).min(PAST_BATCHES))
    }

    async fn load(&mut self, conn: &mut PgConnection, progress: &ProgressBar) -> Result<Money> {
        progress.set_message("creators and catalogue");
        self.load_people_and_catalogue(conn).await?;
        progress.set_message("shows");
        self.load_shows(conn).await?;
        progress.set_message("orders");
        let (gmv, lines, disputes) = self.load_orders(conn, progress).await?;
        progress.set_message("disputes");
        self.load_disputes(conn, disputes).await?;
        progress.set_message("payouts");
        self.load_payouts(conn, &lines).await?;
        progress.set_message("alerts and incidents");
        self.load_ops(conn).await?;
        Ok(Money::new(gmv, self.usd))
    }
}

struct DisputeSeed {
    order_id: i64,
    total: i64,
    created_at: DateTime<Utc>,
    roll: u64,
}
