//! `lsn-ops maintenance optimize|cleanup|backup|verify-backup`: the runbook's
//! weekly (Sunday 2:00) and monthly (backup verification) maintenance
//! ([`crate::housekeeping::maintenance`]). Progress goes to stderr, one result
//! line to stdout; each needs an admin and leaves an audit row.

use crate::cli::{Failure, MaintenanceTask};
use crate::config::Loaded;
use crate::domain::operators::Actor;
use crate::housekeeping::maintenance::{backup, cleanup, optimize, to_stderr, verify_backup};
use crate::store::maintenance::{self as m, Who};

pub async fn run(loaded: &Loaded, task: MaintenanceTask) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    m::authorize(&pool, &actor)
        .await
        .map_err(|e| Failure::store("maintenance", e))?;
    let settings = &loaded.config.maintenance;
    let who = Who::Operator(&actor);
    let line = match task {
        MaintenanceTask::Optimize { reindex_above_pct } => {
            let threshold = reindex_above_pct.unwrap_or(settings.reindex_above_pct);
            optimize(&pool, who, threshold, &to_stderr).await?
        }
        MaintenanceTask::Cleanup { apply, days } => {
            let days = days.unwrap_or(settings.retention_days);
            let logs = crate::telemetry::log_dir(&loaded.config.log);
            cleanup(&pool, who, days, apply, Some(&logs), &to_stderr).await?
        }
        MaintenanceTask::Backup { out } => {
            backup(&pool, &loaded.config.database.url, who, &out, &to_stderr).await?
        }
        MaintenanceTask::VerifyBackup { file } => {
            return verify_backup(&pool, &loaded.config.database.url, &actor, &file).await;
        }
    };
    println!("{line}");
    Ok(0)
}
