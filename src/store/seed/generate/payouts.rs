//! Creator payouts: twelve paid weekly batches (the latest with a bounced
//! transfer), each line the exact sum of its orders, and this Friday's batch
//! as a draft holding one adjustment made ahead: generating it (pane 4's `n`,
//! `lsn-ops payouts generate`, or the worker on Friday) fills it from the
//! payable orders, as a new operator would do it in the demo.

use chrono::Duration;
use color_eyre::eyre::Result;
use sqlx::PgConnection;

use super::{Generator, PAST_BATCHES, WeekLines, uuid_from};
use crate::store::seed::CopyBuf;

impl Generator {
    pub(super) async fn load_payouts(
        &mut self,
        conn: &mut PgConnection,
        lines: &WeekLines,
    ) -> Result<()> {
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
                "draft"
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
                .f((!current).then_some(generated))
                .f((!current).then_some("bob"))
                .f((!current).then_some(end - Duration::minutes(20)))
                .f((!current).then_some("bob"))
                .f((!current).then_some(end))
                .f((!current).then_some("bob"))
                .f((!current && !latest_paid).then_some(end + Duration::days(1)));
            for (c, creator) in self.creators.iter().enumerate() {
                // This week's earnings lines are for `generate` to make.
                let Some((line, orders)) = lines.get(&(week, c)).filter(|_| !current) else {
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
}
