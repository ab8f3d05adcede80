//! Shows: twelve weeks of ended ones, and today's schedule (two ended, one
//! live, one past its start with no Twilio room, one in its pre-show window,
//! more ahead) with their pinned products and pre-/post-show checklists.

use chrono::{DateTime, Duration, Utc};
use color_eyre::eyre::Result;
use rand::prelude::*;
use sqlx::PgConnection;

use super::{Generator, WINDOW_DAYS, pick};
use crate::domain::shows::{POSTSHOW_CHECKLIST, PRESHOW_CHECKLIST};
use crate::store::seed::CopyBuf;

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

impl Generator {
    pub(super) async fn load_shows(&mut self, conn: &mut PgConnection) -> Result<()> {
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
}
