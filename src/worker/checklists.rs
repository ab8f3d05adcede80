//! Checklist deadlines: every minute the worker raises one warning alert for
//! each list still open at its deadline (today's morning list at 9:30 and
//! evening list at 18:30, a show's pre-show list at its start;
//! [`crate::store::checklists::alert_overdue`]). Several workers may run it:
//! a list's alert is raised once (dedup key per list and day or show).

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

pub const CHECK_EVERY: Duration = Duration::from_secs(60);

/// Runs until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    tz: chrono_tz::Tz,
    high_risk_threshold: u8,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match crate::store::checklists::alert_overdue(&pool, Utc::now(), &tz, high_risk_threshold)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("checklists: {n} overdue list(s) alerted"),
            Err(e) => tracing::warn!("checklists: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}
