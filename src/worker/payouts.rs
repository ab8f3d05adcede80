//! The payout schedule: every `[payouts] weekday` at `time` in `[ops]
//! timezone` (the runbook's Friday 2:00 PM), the worker generates the week's
//! batch. Several workers may run it: generation takes an advisory lock and
//! is idempotent (one batch per week), so the week gets exactly one batch.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::store::payouts::{self, Maker, Schedule};

/// How often the schedule looks whether the week's batch is due.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);

/// Generates the due week's batch if it does not exist yet. `Some(batch id)`
/// when one was made now.
pub async fn tick(
    pool: &PgPool,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<Option<i64>, payouts::PayoutError> {
    let week = schedule.due_week(now);
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM payout_batches WHERE scheduled_for = $1 AND currency = $2 AND state <> 'draft')",
    )
    .bind(schedule.batch_at(week))
    .bind(schedule.currency.code())
    .fetch_one(pool)
    .await?;
    if exists {
        return Ok(None);
    }
    let g = payouts::generate(pool, Maker::Schedule, schedule, week).await?;
    if g.created {
        tracing::info!(
            batch = g.batch_id,
            week = %g.week,
            lines = g.lines,
            "weekly payout batch generated"
        );
        return Ok(Some(g.batch_id));
    }
    Ok(None)
}

/// Runs the schedule until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    schedule: Schedule,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = tick(&pool, &schedule, Utc::now()).await {
            tracing::warn!("payout schedule: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}
