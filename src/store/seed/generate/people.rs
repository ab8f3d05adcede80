//! Creators (across the four tiers, two with unverified bank details), their
//! catalogue, customers (some with disposable mailboxes), and the seeded
//! operators, added as `lsn-ops operators add` adds them (audited).

use chrono::Duration;
use color_eyre::eyre::{Result, eyre};
use rand::prelude::*;
use sqlx::PgConnection;

use super::{Creator, Customer, Generator, Product, pick};
use crate::domain::operators::{Actor, Role};
use crate::domain::payouts::Tier;
use crate::store::operators;
use crate::store::seed::CopyBuf;

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
const HANDLE_WORDS: &[&str] = &[
    "glow", "drop", "vault", "thrift", "deal", "luxe", "card", "kicks", "nest", "tech", "bloom",
    "haul",
];
const COUNTRIES: &[&str] = &["US", "US", "US", "US", "CA", "GB", "US", "MX", "US", "AU"];

impl Generator {
    pub(super) async fn load_people_and_catalogue(
        &mut self,
        conn: &mut PgConnection,
    ) -> Result<()> {
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
                            stock_reserved, reorder_point, created_at, description, image_urls) FROM STDIN",
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
                let sku = format!("{}-{:04}-{k:02}", &category[..3].to_uppercase(), c + 1);
                // The listing's text and photos (the dispute evidence's
                // "product description and images"); one product in eleven
                // was listed without a description. No random draw here: the
                // rest of the seed stays as it was.
                let description = (id % 11 != 0).then(|| {
                    format!(
                        "{category}, sold live by {}. New, in its original packaging; ships tracked within 2 business days.",
                        self.creators[c].display_name
                    )
                });
                let images = format!(
                    "{{https://cdn.lsn.example/p/{sku}-1.jpg,https://cdn.lsn.example/p/{sku}-2.jpg}}"
                );
                products
                    .row()
                    .f(id)
                    .f(&sku)
                    .f(&name)
                    .f(self.creators[c].id)
                    .f("USD")
                    .f(price)
                    .f(cost)
                    .f(on_hand)
                    .f(reserved)
                    .f(reorder)
                    .f(self.now - Duration::days(200))
                    .f(description)
                    .f(images);
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

        // Added the way `lsn-ops operators add` adds them: authorized and
        // audited. On an empty table carol, the seeded admin, bootstraps and
        // adds the others; where operators exist already (`demo` registers
        // its user first), the OS account running the seed adds them and
        // theirs are kept.
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM operators)")
            .fetch_one(&mut *conn)
            .await?;
        let acting = if any {
            Actor::new(crate::identity::os_account())
        } else {
            Actor::new("carol")
        };
        for (name, role) in [
            ("carol", Role::Admin),
            ("alice", Role::Agent),
            ("bob", Role::Finance),
            ("victor", Role::Viewer),
            ("dana", Role::Agent),
        ] {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM operators WHERE name = $1)")
                    .bind(name)
                    .fetch_one(&mut *conn)
                    .await?;
            if !exists {
                operators::upsert_in(conn, &acting, name, role)
                    .await
                    .map_err(|e| eyre!("seeding operator {name}: {e}"))?;
            }
        }
        Ok(())
    }
}
