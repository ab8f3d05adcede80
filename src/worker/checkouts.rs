//! Expired checkouts: every minute the worker cancels the orders still
//! pending payment after `[ops] checkout_timeout_minutes` and releases what
//! they hold ([`crate::store::stock::expire_checkouts`], audited). Several
//! workers may run it: an order is taken by one of them (`SKIP LOCKED`).

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

use super::apply::WORKER;

pub const CHECK_EVERY: Duration = Duration::from_secs(60);

/// Orders expired per transaction at most (the rest wait for the next round).
const BATCH: i64 = 500;

/// Runs until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    timeout: chrono::Duration,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match crate::store::stock::expire_checkouts(&pool, Utc::now(), timeout, BATCH, WORKER).await
        {
            Ok(done) if done.is_empty() => {}
            Ok(done) => tracing::info!(
                "checkouts: {} expired order(s) cancelled, {} unit(s) released",
                done.len(),
                done.iter().map(|e| i64::from(e.released)).sum::<i64>()
            ),
            Err(e) => tracing::warn!("checkouts: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}
