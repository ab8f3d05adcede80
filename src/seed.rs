//! Deterministic synthetic data (`lsn-ops seed --orders N --seed S`).
//!
//! The same N and S always give the same rows, amounts and relations (times are
//! relative to the moment of seeding). The data is shaped like a real week of
//! the marketplace: creators across tiers, today's shows (one live, upcoming
//! ones, one past its start with no room), orders during shows, high-risk
//! orders above 70 waiting for review, disputes in every state with some inside
//! 24h of their SLA, twelve weeks of paid creator payouts plus this Friday's
//! batch, and open alerts and incidents. Everything is loaded with COPY inside
//! one transaction: a failed seed leaves the database as it was.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use color_eyre::eyre::{Result, WrapErr, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::distr::weighted::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use sqlx::{PgConnection, PgPool};

use crate::cli::Failure;
use crate::config::Loaded;
use crate::domain::disputes::{DisputeState, EVIDENCE_ITEMS, sla_due_at};
use crate::domain::fraud::{Hit, Indicator, score};
use crate::domain::incidents::{Priority, due_at};
use crate::domain::money::{Currency, Money, Rounding};
use crate::domain::payouts::{OrderFigures, Tier, next_batch_at};
use crate::domain::shows::{POSTSHOW_CHECKLIST, PRESHOW_CHECKLIST};
use crate::store::seed::{
    CopyBuf, is_empty, reset_sequences, restore_constraints, set_aside_constraints, table_counts,
};

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

/// `lsn-ops seed`: refuses a database that already has data.
pub async fn run(loaded: &Loaded, orders: u64, seed: u64) -> Result<u8, Failure> {
    let pool = crate::store::connect(&loaded.config.database).await?;
    crate::store::migrate(&pool).await?;
    let summary = seed_database(&pool, orders, seed, &loaded.timezone, true)
        .await
        .map_err(Failure::from)?;
    println!(
        "seeded {} orders (seed {}) in {:.1}s; GMV {}",
        summary.orders,
        summary.seed,
        summary.elapsed.as_secs_f64(),
        summary.gmv.display()
    );
    for (table, n) in &summary.counts {
        println!("  {table:<20} {n:>10}");
    }
    Ok(0)
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

// --- The generator ---------------------------------------------------------

const FIRST_NAMES: &[&str] = &[
    "Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Maya", "Lucas", "Chloe", "Mateo", "Aria", "Leo",
    "Nora", "Kai", "Ivy", "Owen", "Ruby", "Eli", "Luna", "Jude", "Sofia", "Omar", "Priya", "Hana",
];
const LAST_NAMES: &[&str] = &[
    "Nguyen", "Garcia", "Smith", "Patel", "Kim", "Johnson", "Lopez", "Brown", "Chen", "Martin",
    "Davis", "Silva", "Khan", "Rossi", "Müller", "Okafor", "Tanaka", "Walsh", "Cohen", "Haddad",
];
const MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "fastmail.com",
];
const DISPOSABLE_DOMAINS: &[&str] = &[
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "yopmail.com",
];
const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "Beauty",
        &[
            "Glow Serum",
            "Lip Tint Trio",
            "Vitamin C Cream",
            "Brow Gel",
            "Hair Oil",
        ],
    ),
    (
        "Fashion",
        &[
            "Denim Jacket",
            "Silk Scarf",
            "Chunky Sneakers",
            "Linen Shirt",
            "Cargo Pants",
        ],
    ),
    (
        "Collectibles",
        &[
            "Trading Card Box",
            "Vinyl Figure",
            "Signed Poster",
            "Booster Pack",
            "Coin Set",
        ],
    ),
    (
        "Home",
        &[
            "Ceramic Mug Set",
            "Scented Candle",
            "Throw Blanket",
            "Cast Iron Pan",
            "Plant Pot",
        ],
    ),
    (
        "Tech",
        &[
            "Wireless Earbuds",
            "Phone Gimbal",
            "Ring Light",
            "Power Bank",
            "Smart Plug",
        ],
    ),
];
const ADJECTIVES: &[&str] = &[
    "Vintage", "Limited", "Classic", "Pro", "Mini", "Deluxe", "Everyday", "Studio",
];
const SHOW_TITLES: &[&str] = &[
    "Friday Night Drops",
    "Morning Glow-Up",
    "Card Break Live",
    "Closet Clear-Out",
    "Kitchen Haul",
    "Gadget Hour",
    "Sneaker Sunday",
    "Mystery Box Madness",
    "Flash Sale Frenzy",
    "Restock Party",
];
const HANDLE_WORDS: &[&str] = &[
    "glow", "drop", "vault", "thrift", "deal", "luxe", "card", "kicks", "nest", "tech", "bloom",
    "haul",
];
const COUNTRIES: &[&str] = &["US", "US", "US", "US", "CA", "GB", "US", "MX", "US", "AU"];
const RISKY_COUNTRIES: &[&str] = &["NG", "RU", "VN", "BR", "ID", "RO"];
const CARRIERS: &[&str] = &["USPS", "UPS", "FEDEX", "DHL"];

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

    /// Payout week of an instant: 0 is the current (unpaid) week, 1..=12 past weeks.
    fn week_of(&self, at: DateTime<Utc>) -> Option<i64> {
        let back = (self.batch_at - at).num_seconds();
        if back <= 0 {
            return None;
        }
        let week = back / (7 * 86_400);
        (week <= PAST_BATCHES).then_some(week)
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

    async fn load_people_and_catalogue(&mut self, conn: &mut PgConnection) -> Result<()> {
        let n_creators = (self.orders / 2_000).clamp(12, 500) as usize;
        let n_customers = (self.orders / 4).clamp(200, 400_000) as usize;

        let mut creators = CopyBuf::new(
            "COPY creators (id, handle, display_name, tier, commission_bps, payout_currency, wise_recipient_id,
                            bank_account_summary, bank_details_updated_at, recipient_verified_at, recipient_status, created_at)
             FROM STDIN",
        );
        for i in 0..n_creators {
            let id = i as i64 + 1;
            let tier = *pick(
                &mut self.rng,
                &[
                    Tier::Bronze,
                    Tier::Bronze,
                    Tier::Silver,
                    Tier::Silver,
                    Tier::Gold,
                    Tier::Platinum,
                ],
            );
            let first = *pick(&mut self.rng, FIRST_NAMES);
            let word = *pick(&mut self.rng, HANDLE_WORDS);
            let handle = format!("{}{}{}", first.to_lowercase(), word, id);
            let display_name = format!("{first} {}", pick(&mut self.rng, LAST_NAMES));
            // Two creators have bank details that are not verified: their lines are held.
            let verified = !(i == 3 || i == 7);
            let created = self.now - Duration::days(self.rng.random_range(120..900));
            let bank_updated = created + Duration::days(self.rng.random_range(1..100));
            creators
                .row()
                .f(id)
                .f(&handle)
                .f(&display_name)
                .f(tier.as_str())
                .f(tier.commission_bps())
                .f("USD")
                .f(if i == 7 { None } else { Some(40_000_000 + id) })
                .f(if i == 7 {
                    None
                } else {
                    Some(format!("ACH ****{:04}", self.rng.random_range(0..10_000)))
                })
                .f(bank_updated)
                .f(verified.then_some(bank_updated + Duration::days(1)))
                .f(if verified {
                    "verified"
                } else if i == 7 {
                    "missing"
                } else {
                    "unverified"
                })
                .f(created);
            self.creators.push(Creator {
                id,
                tier,
                verified,
                display_name,
                shows: Vec::new(),
                products: Vec::new(),
            });
        }
        creators.flush(conn).await?;

        let mut products = CopyBuf::new(
            "COPY products (id, sku, name, creator_id, currency, price_minor, cost_minor, stock_on_hand,
                            stock_reserved, reorder_point, created_at) FROM STDIN",
        );
        for c in 0..self.creators.len() {
            let (category, items) = *pick(&mut self.rng, CATEGORIES);
            for k in 0..12 {
                let id = self.products.len() as i64 + 1;
                let name = format!(
                    "{} {}",
                    pick(&mut self.rng, ADJECTIVES),
                    pick(&mut self.rng, items)
                );
                let price: i64 =
                    self.rng.random_range(8..180) * 100 + *pick(&mut self.rng, &[0i64, 49, 99]);
                let cost = price * self.rng.random_range(30..60) / 100;
                let on_hand: i32 = self.rng.random_range(20..600);
                let reserved: i32 = self.rng.random_range(0..on_hand / 10 + 1);
                let reorder: i32 = self.rng.random_range(10..40);
                products
                    .row()
                    .f(id)
                    .f(format!(
                        "{}-{:04}-{k:02}",
                        &category[..3].to_uppercase(),
                        c + 1
                    ))
                    .f(&name)
                    .f(self.creators[c].id)
                    .f("USD")
                    .f(price)
                    .f(cost)
                    .f(on_hand)
                    .f(reserved)
                    .f(reorder)
                    .f(self.now - Duration::days(200));
                self.creators[c].products.push(self.products.len());
                self.products.push(Product { id, price, cost });
            }
        }
        products.flush(conn).await?;

        let mut customers = CopyBuf::new(
            "COPY customers (id, email, name, country, paypal_payer_id, created_at) FROM STDIN",
        );
        for i in 0..n_customers {
            let id = i as i64 + 1;
            let first = *pick(&mut self.rng, FIRST_NAMES);
            let last = *pick(&mut self.rng, LAST_NAMES);
            let disposable = self.rng.random_bool(0.03);
            let domain = if disposable {
                *pick(&mut self.rng, DISPOSABLE_DOMAINS)
            } else {
                *pick(&mut self.rng, MAIL_DOMAINS)
            };
            let email = format!(
                "{}.{}{}@{domain}",
                first.to_lowercase(),
                last.to_lowercase(),
                id
            );
            let country = *pick(&mut self.rng, COUNTRIES);
            let payer_id = format!("PAYER{:010}", self.rng.random_range(0..10_000_000_000u64));
            customers
                .row()
                .f(id)
                .f(&email)
                .f(format!("{first} {last}"))
                .f(country)
                .f(&payer_id)
                .f(self.now - Duration::days(self.rng.random_range(1..700)));
            customers.flush_if_full(conn).await?;
            self.customers.push(Customer {
                id,
                email,
                country,
                payer_id,
                disposable,
            });
        }
        customers.flush(conn).await?;

        // Operators may already exist (`demo` registers its user first): keep theirs.
        for (name, role) in [
            ("alice", "agent"),
            ("bob", "finance"),
            ("carol", "admin"),
            ("victor", "viewer"),
            ("dana", "agent"),
        ] {
            sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ($1, $2, 'seed') ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(role)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn load_shows(&mut self, conn: &mut PgConnection) -> Result<()> {
        let mut shows = CopyBuf::new(
            "COPY shows (id, creator_id, title, scheduled_start, scheduled_end, status, twilio_room_sid, twilio_room_name,
                         creator_connected_at, started_at, ended_at, current_viewers, peak_viewers, recording_status,
                         recording_sid, created_at) FROM STDIN",
        );
        let mut show_products = CopyBuf::new(
            "COPY show_products (show_id, product_id, position, pinned, price_drop_minor, price_drop_at) FROM STDIN",
        );
        let mut checklist = CopyBuf::new(
            "COPY checklist_items (checklist, show_id, item_key, label, done_at, done_by) FROM STDIN",
        );
        let per_day = (self.creators.len() / 4).clamp(4, 40) as i64;

        // Past shows: every day of the window, all ended with their recordings.
        for day in 1..=WINDOW_DAYS {
            for _ in 0..per_day {
                let c = self.rng.random_range(0..self.creators.len());
                let start = self.now - Duration::days(day)
                    + Duration::minutes(self.rng.random_range(-300..300));
                let peak: i32 = self.rng.random_range(40..4_000);
                self.add_show(
                    &mut shows,
                    &mut show_products,
                    c,
                    start,
                    "ended",
                    true,
                    peak,
                    0,
                );
            }
        }
        // Today: two ended, one live, one past its start with no room (P0),
        // one in its pre-show window, and the rest of the day ahead.
        let today: [(i64, &str, bool); 9] = [
            (-300, "ended", true),
            (-170, "ended", true),
            (-40, "live", true),
            (-7, "scheduled", false),
            (20, "preshow", true),
            (75, "scheduled", false),
            (150, "scheduled", false),
            (240, "scheduled", false),
            (330, "scheduled", false),
        ];
        for (k, (offset_min, status, room)) in today.into_iter().enumerate() {
            let c = k % self.creators.len();
            let start = self.now + Duration::minutes(offset_min);
            let peak: i32 = if status == "ended" {
                self.rng.random_range(500..3_000)
            } else {
                0
            };
            let viewers: i32 = if status == "live" {
                self.rng.random_range(800..2_500)
            } else {
                0
            };
            let id = self.add_show(
                &mut shows,
                &mut show_products,
                c,
                start,
                status,
                room,
                peak.max(viewers),
                viewers,
            );
            match status {
                "live" => self.live_show = id,
                "scheduled" if offset_min < 0 => self.no_room_show = id,
                _ => {}
            }
            // Pre-show checklist for what is live or about to be; post-show for ended.
            if matches!(status, "live" | "preshow" | "scheduled") && offset_min < 90 {
                for (n, (key, label)) in PRESHOW_CHECKLIST.iter().enumerate() {
                    let done = status == "live" || n < 4 && status == "preshow";
                    let done_at = done.then(|| start - Duration::minutes(30 - n as i64));
                    checklist
                        .row()
                        .f("preshow")
                        .f(id)
                        .f(*key)
                        .f(*label)
                        .f(done_at)
                        .f(done.then_some("alice"));
                }
            }
            if status == "ended" {
                for (n, (key, label)) in POSTSHOW_CHECKLIST.iter().enumerate() {
                    let done = n < 3;
                    let done_at = done.then(|| start + Duration::minutes(100 + n as i64));
                    checklist
                        .row()
                        .f("postshow")
                        .f(id)
                        .f(*key)
                        .f(*label)
                        .f(done_at)
                        .f(done.then_some("dana"));
                }
            }
        }
        shows.flush(conn).await?;
        show_products.flush(conn).await?;
        checklist.flush(conn).await?;

        // One pinned product of the live show runs low: the morning check should see it.
        if let Some(product) = self.today_show_products.first() {
            sqlx::query("UPDATE products SET stock_on_hand = 12, stock_reserved = 4, reorder_point = 15 WHERE id = $1")
                .bind(product)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn add_show(
        &mut self,
        shows: &mut CopyBuf,
        show_products: &mut CopyBuf,
        creator: usize,
        start: DateTime<Utc>,
        status: &str,
        room: bool,
        peak: i32,
        viewers: i32,
    ) -> i64 {
        let id = self.next_show_id;
        self.next_show_id += 1;
        let title = format!(
            "{} with {}",
            pick(&mut self.rng, SHOW_TITLES),
            self.creators[creator].display_name
        );
        let end = start + Duration::minutes(*pick(&mut self.rng, &[60i64, 90, 120]));
        let started = matches!(status, "live" | "ended")
            .then(|| start + Duration::minutes(self.rng.random_range(0..4)));
        let ended = (status == "ended").then_some(end);
        let room_sid = room.then(|| format!("RM{:032x}", self.rng.random::<u128>()));
        let recording = match status {
            "ended" => "saved",
            "live" => "recording",
            _ => "none",
        };
        let recording_sid =
            (status == "ended").then(|| format!("RT{:032x}", self.rng.random::<u128>()));
        shows
            .row()
            .f(id)
            .f(self.creators[creator].id)
            .f(&title)
            .f(start)
            .f(end)
            .f(status)
            .f(room_sid)
            .f(room.then(|| format!("show-{id}")))
            .f(started.map(|s| s - Duration::minutes(10)))
            .f(started)
            .f(ended)
            .f(viewers)
            .f(peak)
            .f(recording)
            .f(recording_sid)
            .f(start - Duration::days(7));
        // Pin four of the creator's products, one with a price drop.
        let catalogue = self.creators[creator].products.clone();
        let first = self.rng.random_range(0..catalogue.len());
        for k in 0..4 {
            let product = &self.products[catalogue[(first + k) % catalogue.len()]];
            let drop = (k == 0).then(|| product.price * 8 / 10);
            show_products
                .row()
                .f(id)
                .f(product.id)
                .f(k as i32)
                .f(true)
                .f(drop)
                .f(drop.map(|_| start + Duration::minutes(30)));
            if status == "live" && k == 0 {
                self.today_show_products.push(product.id);
            }
        }
        if start <= self.now {
            self.creators[creator].shows.push((id, start));
        }
        id
    }

    async fn load_orders(
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
            let mut fraud_state = if fraud_score > HIGH_RISK {
                "pending"
            } else {
                "clear"
            };
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
                fraud_state = if roll <= 6 { "approved" } else { "declined" };
            } else if high_risk && age > Duration::days(2) && self.rng.random_bool(0.3) {
                // Review holds: some expired (back in the queue), some still running.
                fraud_state = "review";
                decision = Some((
                    "review",
                    "Asked customer to confirm shipping address",
                    "dana",
                ));
            }
            if fraud_state == "review" {
                let hours = *pick(&mut self.rng, &[24i64, 48]);
                hold_until = Some(created_at + Duration::hours(2) + Duration::hours(hours));
            }
            let refund_reason = if fraud_state == "declined" {
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
            } else if matches!(fraud_state, "pending" | "review") {
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
                .f(fraud_state)
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
                    .f(if fraud_state == "declined" {
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
                && matches!(fraud_state, "clear" | "approved");
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

    async fn load_disputes(
        &mut self,
        conn: &mut PgConnection,
        seeds: Vec<DisputeSeed>,
    ) -> Result<()> {
        let mut disputes = CopyBuf::new(
            "COPY disputes (id, paypal_dispute_id, order_id, payment_id, state, outcome, reason, paypal_status,
                            life_cycle_stage, amount_minor, currency, opened_at, sla_due_at, seller_response_due_at,
                            assigned_to, submitted_at, resolved_at, closed_at, updated_at) FROM STDIN",
        );
        let mut evidence = CopyBuf::new(
            "COPY dispute_evidence (dispute_id, item, status, content, collected_at, collected_by) FROM STDIN",
        );
        let reasons = [
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
            "UNAUTHORISED",
            "DUPLICATE_TRANSACTION",
            "CREDIT_NOT_PROCESSED",
        ];
        for (k, seed) in seeds.iter().enumerate() {
            let id = k as i64 + 1;
            // The first disputes cover every active state near its SLA
            // (twice each), then one of each outcome; the rest are mostly history.
            let active_roll = if k < 10 {
                0
            } else if k < 13 {
                99
            } else {
                seed.roll % 100
            };
            let pick_state = if k < 10 {
                k as u64
            } else if k < 13 {
                k as u64 - 10
            } else {
                seed.roll
            };
            let state = if active_roll < 18 {
                match pick_state % 5 {
                    0 => DisputeState::Open,
                    1 => DisputeState::EvidenceRequired,
                    2 => DisputeState::EvidenceBuilding,
                    3 => DisputeState::EvidenceReady,
                    _ => DisputeState::Submitted,
                }
            } else {
                match pick_state % 4 {
                    0 => DisputeState::Won,
                    1 => DisputeState::Lost,
                    _ => DisputeState::Closed,
                }
            };
            let opened_at = if state.awaiting_evidence() {
                // Spread over the last 30 hours: some overdue, most inside 24h of the SLA.
                self.now - Duration::minutes((seed.roll % 1_800) as i64)
            } else if state == DisputeState::Submitted {
                self.now - Duration::hours(30 + (seed.roll % 100) as i64)
            } else {
                (seed.created_at + Duration::days(3 + (seed.roll % 20) as i64))
                    .min(self.now - Duration::days(1))
            };
            let hard_due = opened_at + Duration::days(if seed.roll % 7 == 0 { 2 } else { 10 });
            let outcome = match state {
                DisputeState::Won => Some("WON"),
                DisputeState::Lost => Some("LOST"),
                DisputeState::Closed => Some(if seed.roll % 3 == 0 { "LOST" } else { "WON" }),
                _ => None,
            };
            let resolved_at =
                outcome.map(|_| opened_at + Duration::days(12).min(self.now - opened_at));
            let submitted_at = matches!(
                state,
                DisputeState::Submitted
                    | DisputeState::Won
                    | DisputeState::Lost
                    | DisputeState::Closed
            )
            .then(|| opened_at + Duration::hours(20));
            let paypal_status = if state.is_active() {
                "WAITING_FOR_SELLER_RESPONSE"
            } else {
                "RESOLVED"
            };
            let amount = if seed.roll % 5 == 0 {
                seed.total / 2
            } else {
                seed.total
            };
            disputes
                .row()
                .f(id)
                .f(format!("PP-D-{:05}", 10_000 + id))
                .f(seed.order_id)
                .f(seed.order_id)
                .f(state.as_str())
                .f(outcome)
                .f(reasons[(seed.roll % reasons.len() as u64) as usize])
                .f(paypal_status)
                .f(if seed.roll % 4 == 0 {
                    "INQUIRY"
                } else {
                    "CHARGEBACK"
                })
                .f(amount)
                .f("USD")
                .f(opened_at)
                .f(sla_due_at(opened_at))
                .f(hard_due)
                .f(state
                    .is_active()
                    .then_some(if k % 2 == 0 { "alice" } else { "dana" }))
                .f(submitted_at)
                .f(resolved_at)
                .f((state == DisputeState::Closed)
                    .then_some(resolved_at.unwrap_or(opened_at) + Duration::days(1)))
                .f(resolved_at.unwrap_or(opened_at));
            let collected = match state {
                DisputeState::Open | DisputeState::EvidenceRequired => 0,
                DisputeState::EvidenceBuilding => 4,
                _ => 7,
            };
            for (n, (item, label)) in EVIDENCE_ITEMS.iter().enumerate() {
                let done = n < collected;
                let content = done.then(|| {
                    serde_json::json!({ "summary": label, "order_id": seed.order_id }).to_string()
                });
                evidence
                    .row()
                    .f(id)
                    .f(*item)
                    .f(if done { "collected" } else { "missing" })
                    .f(content)
                    .f(done.then_some(opened_at + Duration::minutes(5)))
                    .f(done.then_some("lsn-ops"));
            }
        }
        disputes.flush(conn).await?;
        evidence.flush(conn).await?;
        Ok(())
    }

    async fn load_payouts(&mut self, conn: &mut PgConnection, lines: &WeekLines) -> Result<()> {
        let mut batches = CopyBuf::new(
            "COPY payout_batches (id, period_start, period_end, scheduled_for, state, currency, generated_at,
                                  generated_by, approved_at, approved_by, processed_at, processed_by, completed_at)
             FROM STDIN",
        );
        let mut items = CopyBuf::new(
            "COPY payout_items (id, batch_id, creator_id, kind, currency, order_count, order_total_minor, costs_minor,
                                commission_bps, amount_minor, state, hold_reason, adjusts_item_id, note,
                                customer_transaction_id, wise_transfer_id, wise_status, failure_reason, attempts,
                                created_at, updated_at) FROM STDIN",
        );
        let mut item_orders = CopyBuf::new(
            "COPY payout_item_orders (payout_item_id, order_id, earnings_minor) FROM STDIN",
        );
        let mut item_id = 0i64;
        // Oldest week first, so batch ids rise with time; week 0 is this Friday's.
        for week in (0..=PAST_BATCHES).rev() {
            let batch_id = PAST_BATCHES - week + 1;
            let end = self.batch_at - Duration::weeks(week);
            let start = end - Duration::weeks(1);
            let current = week == 0;
            let latest_paid = week == 1;
            let generated = if current {
                self.now - Duration::minutes(30)
            } else {
                end - Duration::hours(1)
            };
            let state = if current {
                "generated"
            } else if latest_paid {
                "partially_failed"
            } else {
                "completed"
            };
            batches
                .row()
                .f(batch_id)
                .f(start)
                .f(end)
                .f(end)
                .f(state)
                .f("USD")
                .f(generated)
                .f("bob")
                .f((!current).then_some(end - Duration::minutes(20)))
                .f((!current).then_some("bob"))
                .f((!current).then_some(end))
                .f((!current).then_some("bob"))
                .f((!current && !latest_paid).then_some(end + Duration::days(1)));
            for (c, creator) in self.creators.iter().enumerate() {
                let Some((line, orders)) = lines.get(&(week, c)) else {
                    continue;
                };
                item_id += 1;
                let held = current && !creator.verified;
                let failed = latest_paid && c == 1;
                let (state, wise_status) = if current {
                    (if held { "held" } else { "pending" }, None)
                } else if failed {
                    ("failed", Some("bounced_back"))
                } else {
                    ("sent", Some("outgoing_payment_sent"))
                };
                items
                    .row()
                    .f(item_id)
                    .f(batch_id)
                    .f(creator.id)
                    .f("earnings")
                    .f("USD")
                    .f(line.orders)
                    .f(line.total)
                    .f(line.costs)
                    .f(creator.tier.commission_bps())
                    .f(line.earnings)
                    .f(state)
                    .f(held.then_some("bank details not verified"))
                    .f(None::<i64>)
                    .f(None::<&str>)
                    .f(uuid_from(&mut self.rng))
                    .f((!current).then_some(50_000_000 + item_id))
                    .f(wise_status)
                    .f(failed.then_some("Recipient bank rejected the transfer (account closed)"))
                    .f(if current { 0 } else { 1 })
                    .f(generated)
                    .f(if current {
                        generated
                    } else {
                        end + Duration::hours(2)
                    });
                for (order_id, earnings) in orders {
                    item_orders.row().f(item_id).f(*order_id).f(*earnings);
                }
                if item_orders.is_full() {
                    batches.flush(conn).await?;
                    items.flush(conn).await?;
                    item_orders.flush(conn).await?;
                }
            }
        }
        // One adjustment line in this week's batch: a creator disputed last week's amount.
        if let Some((_, _)) = lines.get(&(1, 0)) {
            item_id += 1;
            items
                .row()
                .f(item_id)
                .f(PAST_BATCHES + 1)
                .f(self.creators[0].id)
                .f("adjustment")
                .f("USD")
                .f(0)
                .f(0i64)
                .f(0i64)
                .f(self.creators[0].tier.commission_bps())
                .f(2_450i64)
                .f("pending")
                .f(None::<&str>)
                .f(None::<i64>)
                .f(Some(
                    "Commission recalculated after creator query (tier change mid-week)",
                ))
                .f(uuid_from(&mut self.rng))
                .f(None::<i64>)
                .f(None::<&str>)
                .f(None::<&str>)
                .f(0)
                .f(self.now - Duration::minutes(25))
                .f(self.now - Duration::minutes(25));
        }
        batches.flush(conn).await?;
        items.flush(conn).await?;
        item_orders.flush(conn).await?;
        Ok(())
    }

    async fn load_ops(&mut self, conn: &mut PgConnection) -> Result<()> {
        let now = self.now;
        let mut alerts = CopyBuf::new(
            "COPY alerts (id, rule_key, dedup_key, severity, priority, title, details, state, opened_at, last_seen_at,
                          occurrences, acked_by, acked_at, resolved_by, resolved_at) FROM STDIN",
        );
        type AlertSeed<'a> = (
            &'a str,
            String,
            &'a str,
            &'a str,
            String,
            String,
            &'a str,
            i64,
            Option<&'a str>,
        );
        let no_room = self.no_room_show;
        let list: Vec<AlertSeed> = vec![
            (
                "show_cannot_start",
                format!("show:{no_room}"),
                "critical",
                "P0",
                format!("Live show #{no_room} cannot start: no Twilio room"),
                "Scheduled 7 minutes ago; creator not connected, room creation failed".into(),
                "open",
                7,
                None,
            ),
            (
                "payout_failures",
                "payout:failed".into(),
                "critical",
                "P1",
                "Creator payout failed: transfer bounced back".into(),
                "1 transfer in last week's batch bounced back (account closed)".into(),
                "acknowledged",
                600,
                Some("bob"),
            ),
            (
                "api_latency",
                "api_latency".into(),
                "warning",
                "P2",
                "API p95 612 ms (> 500 ms)".into(),
                "checkout-api p95 over the last 15 minutes".into(),
                "open",
                18,
                None,
            ),
            (
                "webhook_failures",
                "webhook:paypal".into(),
                "warning",
                "P1",
                "3 PayPal webhook deliveries failed".into(),
                "signature verification failed for 3 requests from 198.51.100.20".into(),
                "open",
                42,
                None,
            ),
            (
                "low_stock",
                "low_stock:today".into(),
                "warning",
                "P2",
                "Low stock on a product pinned in today's live show".into(),
                "8 units free, reorder point 15".into(),
                "open",
                35,
                None,
            ),
            (
                "fraud_backlog",
                "fraud:backlog".into(),
                "info",
                "P3",
                "High-risk queue above 10 orders".into(),
                "Oldest pending order waiting 3h".into(),
                "open",
                180,
                None,
            ),
            (
                "disk",
                "disk:/var/lib/postgresql".into(),
                "warning",
                "P2",
                "Disk 83.10% used (> 80%)".into(),
                "db-primary /var/lib/postgresql".into(),
                "resolved",
                2_000,
                Some("carol"),
            ),
        ];
        for (n, (rule, dedup, severity, priority, title, details, state, minutes_ago, who)) in
            list.into_iter().enumerate()
        {
            let opened = now - Duration::minutes(minutes_ago);
            let acked = (state != "open").then(|| opened + Duration::minutes(4));
            let resolved = (state == "resolved").then(|| opened + Duration::minutes(50));
            alerts
                .row()
                .f(n as i64 + 1)
                .f(rule)
                .f(dedup)
                .f(severity)
                .f(priority)
                .f(title)
                .f(details)
                .f(state)
                .f(opened)
                .f(now - Duration::minutes(1))
                .f(1 + (minutes_ago % 5) as i32)
                .f(acked.and(who))
                .f(acked)
                .f(resolved.and(who))
                .f(resolved);
        }
        alerts.flush(conn).await?;

        let mut incidents = CopyBuf::new(
            "COPY incidents (priority, title, state, alert_id, commander, opened_at, due_at, resolved_at, resolved_by,
                             summary) FROM STDIN",
        );
        let list: [(Priority, &str, &str, Option<i64>, i64); 4] = [
            (
                Priority::P0,
                "Live show cannot start (no room)",
                "investigating",
                Some(1),
                6,
            ),
            (
                Priority::P1,
                "Creator payout failure: bounced transfer",
                "open",
                Some(2),
                170,
            ),
            (
                Priority::P2,
                "Checkout API latency degraded",
                "open",
                Some(3),
                15,
            ),
            (
                Priority::P3,
                "Payout breakdown CSV misaligned columns",
                "resolved",
                None,
                3 * 24 * 60,
            ),
        ];
        for (priority, title, state, alert, minutes_ago) in list {
            let opened = now - Duration::minutes(minutes_ago);
            let resolved = (state == "resolved").then(|| opened + Duration::hours(20));
            incidents
                .row()
                .f(priority.as_str())
                .f(title)
                .f(state)
                .f(alert)
                .f(Some("carol"))
                .f(opened)
                .f(due_at(priority, opened))
                .f(resolved)
                .f(resolved.map(|_| "carol"))
                .f(if state == "resolved" {
                    "Fixed column order in export"
                } else {
                    ""
                });
        }
        incidents.flush(conn).await?;

        // Storefront sessions per ops day: about 3.5% of sessions convert.
        let tz = self.tz.to_string();
        sqlx::query(
            "INSERT INTO daily_traffic (day, sessions)
             SELECT (created_at AT TIME ZONE $1)::date AS day, count(*) * 28 + 500
               FROM orders GROUP BY 1",
        )
        .bind(&tz)
        .execute(&mut *conn)
        .await?;

        sqlx::query(
            "INSERT INTO audit_log (operator, action, entity_type, entity_id, details)
             SELECT operator, 'fraud.' || decision, 'order', order_id::text,
                    jsonb_build_object('reason', reason, 'score_seen', score_seen)
               FROM fraud_decisions",
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO audit_log (operator, action, entity_type, entity_id, details)
             VALUES ('seed', 'seed.load', 'database', current_database(), $1)",
        )
        .bind(serde_json::json!({ "orders": self.orders }))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

struct DisputeSeed {
    order_id: i64,
    total: i64,
    created_at: DateTime<Utc>,
    roll: u64,
}
