//! The runbook's weekly maintenance (Sunday 2:00 in `[ops] timezone` by
//! default) when `[maintenance] weekly = true`: optimize, cleanup (applied),
//! a backup into `backup_dir`, and the weekly report (text, JSON and CSV)
//! into `reports_dir`. A week runs once, even with several workers: the run
//! holds an advisory lock and leaves a `maintenance.weekly` audit row keyed
//! by the week. A failing step raises a warning alert and the other steps
//! still run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use sqlx::PgPool;

use crate::config::{Config, Secret};
use crate::domain::money::Currency;
use crate::domain::payouts::week_of;
use crate::housekeeping::maintenance as steps;
use crate::store::maintenance::Who;
use crate::store::reports::{self, Period};

/// How often the schedule looks whether the week's run is due.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);
/// A run missed (worker down at the time) is made up for within this long.
const CATCH_UP: chrono::Duration = chrono::Duration::hours(12);
const LOCK: i64 = 0x6d61_696e_7400; // "maint"

/// What the weekly run needs from the configuration.
#[derive(Debug, Clone)]
pub struct Weekly {
    pub tz: chrono_tz::Tz,
    pub weekday: Weekday,
    pub time: NaiveTime,
    pub retention_days: u32,
    pub reindex_above_pct: u8,
    pub backup_dir: Option<PathBuf>,
    pub reports_dir: Option<PathBuf>,
    pub log_dir: PathBuf,
    pub currency: Currency,
    pub database_url: Secret,
}

impl Weekly {
    /// `None` when `[maintenance] weekly` is off.
    pub fn from_config(config: &Config, tz: chrono_tz::Tz) -> Option<Weekly> {
        let m = &config.maintenance;
        if !m.weekly {
            return None;
        }
        let (day, time) = parse_when(&m.weekly_at)?;
        let dir = |s: &str| (!s.trim().is_empty()).then(|| PathBuf::from(s));
        Some(Weekly {
            tz,
            weekday: day,
            time,
            retention_days: m.retention_days,
            reindex_above_pct: m.reindex_above_pct,
            backup_dir: dir(&m.backup_dir),
            reports_dir: dir(&m.reports_dir),
            log_dir: crate::telemetry::log_dir(&config.log),
            currency: Currency::parse(&config.payouts.currency).unwrap_or(Currency::USD),
            database_url: config.database.url.clone(),
        })
    }

    /// The latest scheduled instant at or before `now`.
    pub fn last_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let this = week_of(now, &self.tz);
        let at = this.batch_at(&self.tz, self.weekday, self.time);
        if at <= now {
            at
        } else {
            this.previous().batch_at(&self.tz, self.weekday, self.time)
        }
    }
}

/// `"sunday 02:00"`: a weekday and a local time.
pub fn parse_when(text: &str) -> Option<(Weekday, NaiveTime)> {
    let mut parts = text.split_whitespace();
    let day = crate::domain::payouts::parse_weekday(parts.next()?)?;
    let time = NaiveTime::parse_from_str(parts.next()?, "%H:%M").ok()?;
    parts.next().is_none().then_some((day, time))
}

/// Runs the week's maintenance if it is due and nobody ran it; `Some(failed
/// steps)` when it ran now.
pub async fn tick(
    pool: &PgPool,
    weekly: &Weekly,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let due = weekly.last_due(now);
    if now - due > CATCH_UP {
        return Ok(None);
    }
    let key = due.to_rfc3339();
    // The lock is held on one connection for the whole run.
    let mut lock = pool.acquire().await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK)
        .fetch_one(&mut *lock)
        .await?;
    if !got {
        return Ok(None);
    }
    let done: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = 'maintenance.weekly' AND entity_id = $1)",
    )
    .bind(&key)
    .fetch_one(&mut *lock)
    .await?;
    let outcome = if done {
        None
    } else {
        Some(run_steps(pool, weekly, due).await)
    };
    if let Some(failed) = &outcome {
        let mut tx = pool.begin().await?;
        crate::store::audit(
            &mut tx,
            "worker",
            "maintenance.weekly",
            "maintenance",
            &key,
            serde_json::json!({"failed": failed}),
        )
        .await?;
        tx.commit().await?;
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK)
        .execute(&mut *lock)
        .await?;
    Ok(outcome)
}

/// Each step in turn; a failure is logged and alerted, and the next runs.
async fn run_steps(pool: &PgPool, weekly: &Weekly, due: DateTime<Utc>) -> Vec<String> {
    let say = |line: &str| tracing::info!(target: "lsn_ops::maintenance", "{line}");
    let mut failed = Vec::new();
    let mut outcome = |step: &str, result: Result<String, String>| match result {
        Ok(line) => tracing::info!("weekly maintenance: {line}"),
        Err(e) => {
            tracing::warn!("weekly maintenance: {step} failed: {e}");
            failed.push(format!("{step}: {e}"));
        }
    };
    let r = steps::optimize(pool, Who::Schedule, weekly.reindex_above_pct, &say).await;
    outcome("optimize", r.map_err(|f| f.message));
    let r = steps::cleanup(
        pool,
        Who::Schedule,
        weekly.retention_days,
        true,
        Some(&weekly.log_dir),
        &say,
    )
    .await;
    outcome("cleanup", r.map_err(|f| f.message));
    if let Some(dir) = &weekly.backup_dir {
        let r = steps::backup(pool, &weekly.database_url, Who::Schedule, dir, &say).await;
        outcome("backup", r.map_err(|f| f.message));
    }
    if let Some(dir) = &weekly.reports_dir {
        let r = write_weekly_report(pool, weekly, due, dir).await;
        outcome("weekly report", r);
    }
    for f in &failed {
        if let Err(e) = alert(pool, f).await {
            tracing::warn!("weekly maintenance: cannot raise the alert: {e}");
        }
    }
    failed
}

async fn alert(pool: &PgPool, failure: &str) -> Result<(), sqlx::Error> {
    let step = failure.split(':').next().unwrap_or("maintenance");
    let mut conn = pool.acquire().await?;
    crate::store::alerts::raise(
        &mut conn,
        "maintenance_failed",
        &format!("maintenance_failed:{step}"),
        "warning",
        "P2",
        &format!("Weekly maintenance: {step} failed"),
        failure,
    )
    .await?;
    Ok(())
}

/// The seven ops days before the run's day, as text, JSON and CSV files
/// named by their last day.
async fn write_weekly_report(
    pool: &PgPool,
    weekly: &Weekly,
    due: DateTime<Utc>,
    dir: &Path,
) -> Result<String, String> {
    let last = due.with_timezone(&weekly.tz).date_naive() - chrono::Duration::days(1);
    let first = last - chrono::Duration::days(6);
    let report = reports::build(
        pool,
        "weekly",
        Period::days(&weekly.tz, first, last),
        weekly.currency,
        Utc::now(),
    )
    .await
    .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    let base = dir.join(format!("weekly-{last}"));
    for (ext, body) in [
        ("txt", crate::housekeeping::render::render_text(&report)),
        ("json", json + "\n"),
        ("csv", crate::housekeeping::render::render_csv(&report)),
    ] {
        let path = base.with_extension(ext);
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(format!(
        "weekly report {first} to {last} in {}",
        dir.display()
    ))
}

/// Runs the schedule until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    weekly: Weekly,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match tick(&pool, &weekly, Utc::now()).await {
            Ok(Some(failed)) if failed.is_empty() => tracing::info!("weekly maintenance done"),
            Ok(Some(failed)) => {
                tracing::warn!("weekly maintenance: {} step(s) failed", failed.len())
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("weekly maintenance: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_is_a_weekday_and_a_local_time() {
        assert_eq!(
            parse_when("sunday 02:00"),
            Some((Weekday::Sun, NaiveTime::from_hms_opt(2, 0, 0).unwrap()))
        );
        assert_eq!(
            parse_when("Sun 2:00"),
            Some((Weekday::Sun, NaiveTime::from_hms_opt(2, 0, 0).unwrap()))
        );
        assert_eq!(parse_when("sunday"), None);
        assert_eq!(parse_when("someday 02:00"), None);
        assert_eq!(parse_when("sunday 02:00 extra"), None);
    }
}
