//! The maintenance steps (`lsn-ops maintenance`, and the worker's weekly
//! run): optimize, cleanup, backup and verify-backup. Each reports progress
//! through a `Say` and returns its one result line; each is audited, an
//! operator authorized as an admin first (`store::maintenance`).
//!
//! Backups are `pg_dump --format=custom` (PostgreSQL's client tools must be
//! installed) with a manifest beside the file: size, SHA-256, the row count
//! of every table and the migration version, all taken from the very
//! snapshot the dump was made from (`pg_export_snapshot`), so that a restore
//! can be checked row for row.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgPool};

use crate::cli::Failure;
use crate::domain::operators::Actor;
use crate::store::maintenance::{self as m, RETAINED, Who};

/// Where progress lines go: stderr for the CLI, the log for the worker.
pub type Say<'a> = &'a (dyn Fn(&str) + Send + Sync);

pub fn to_stderr(line: &str) {
    eprintln!("{line}");
}

fn sql_failure(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: format!("maintenance {what}: {e}"),
    }
}

/// VACUUM (ANALYZE) of every table, the bloat report, REINDEX CONCURRENTLY
/// above `reindex_above` percent; the result line.
pub async fn optimize(
    pool: &PgPool,
    who: Who<'_>,
    reindex_above: u8,
    say: Say<'_>,
) -> Result<String, Failure> {
    let tables = m::tables_by_size(pool)
        .await
        .map_err(|e| sql_failure("optimize", e))?;
    let started = std::time::Instant::now();
    for (i, table) in tables.iter().enumerate() {
        say(&format!(
            "optimize: VACUUM (ANALYZE) {table} ({}/{})",
            i + 1,
            tables.len()
        ));
        m::vacuum_analyze(pool, table)
            .await
            .map_err(|e| sql_failure("optimize", e))?;
    }
    say("optimize: measuring bloat of the largest tables and indexes");
    let report = m::bloat_report(pool, 10)
        .await
        .map_err(|e| sql_failure("optimize", e))?;
    say(&format!(
        "{:<6} {:<44} {:>10} {:>6}",
        "kind", "name", "size", "bloat"
    ));
    for b in &report {
        say(&format!(
            "{:<6} {:<44} {:>10} {:>6}",
            b.kind,
            b.name,
            human_bytes(b.bytes),
            b.bloat_pct.map_or("?".into(), |p| format!("{p}%"))
        ));
    }
    let mut reindexed = Vec::new();
    for b in report.iter().filter(|b| b.kind == "index") {
        if b.bloat_pct.is_some_and(|p| p > i32::from(reindex_above)) {
            say(&format!("optimize: REINDEX INDEX CONCURRENTLY {}", b.name));
            m::reindex_concurrently(pool, &b.name)
                .await
                .map_err(|e| sql_failure("optimize", e))?;
            reindexed.push(b.name.clone());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    m::audit(
        pool,
        who,
        "maintenance.optimize",
        serde_json::json!({"tables": tables.len(), "reindexed": reindexed, "seconds": secs}),
    )
    .await
    .map_err(|e| Failure::store("maintenance optimize", e))?;
    Ok(format!(
        "optimize: {} tables vacuumed and analyzed, {} index(es) rebuilt{} in {secs:.1} s",
        tables.len(),
        reindexed.len(),
        if reindexed.is_empty() {
            format!(" (none above {reindex_above}% bloat)")
        } else {
            format!(" ({})", reindexed.join(", "))
        }
    ))
}

/// Retention: counts (dry run) or deletes in batches; the result line.
pub async fn cleanup(
    pool: &PgPool,
    who: Who<'_>,
    days: u32,
    apply: bool,
    logs: Option<&Path>,
    say: Say<'_>,
) -> Result<String, Failure> {
    let before = Utc::now() - Duration::days(i64::from(days));
    let mut rows = BTreeMap::new();
    for r in RETAINED {
        let n = m::expired_count(pool, r, before)
            .await
            .map_err(|e| sql_failure("cleanup", e))?;
        rows.insert(r.table, n);
    }
    let old_logs = logs.map(|dir| old_files(dir, days)).unwrap_or_default();
    if !apply {
        for (table, n) in &rows {
            say(&format!(
                "cleanup: {n} row(s) of {table} older than {days} days"
            ));
        }
        say(&format!(
            "cleanup: {} log file(s) older than {days} days",
            old_logs.len()
        ));
        return Ok(format!(
            "cleanup (dry run): would delete {} row(s) and {} log file(s); nothing deleted (--apply deletes)",
            rows.values().sum::<i64>(),
            old_logs.len()
        ));
    }
    let mut deleted = BTreeMap::new();
    for r in RETAINED {
        let total = rows.get(r.table).copied().unwrap_or(0);
        let mut done = 0u64;
        loop {
            let n = m::delete_expired_batch(pool, r, before)
                .await
                .map_err(|e| sql_failure("cleanup", e))?;
            if n == 0 {
                break;
            }
            done += n;
            say(&format!("cleanup: {}: {done}/{total} deleted", r.table));
        }
        deleted.insert(r.table, done);
    }
    let mut files = 0;
    for f in &old_logs {
        match std::fs::remove_file(f) {
            Ok(()) => files += 1,
            Err(e) => say(&format!("cleanup: cannot delete {}: {e}", f.display())),
        }
    }
    m::audit(
        pool,
        who,
        "maintenance.cleanup",
        serde_json::json!({"days": days, "rows": deleted, "log_files": files}),
    )
    .await
    .map_err(|e| Failure::store("maintenance cleanup", e))?;
    Ok(format!(
        "cleanup: deleted {} row(s) ({}) and {files} log file(s) older than {days} days",
        deleted.values().sum::<u64>(),
        deleted
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Regular files in `dir` last modified more than `days` days ago.
fn old_files(dir: &Path, days: u32) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let limit = std::time::Duration::from_secs(u64::from(days) * 86_400);
    let now = std::time::SystemTime::now();
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > limit)
        })
        .map(|e| e.path())
        .collect()
}

/// What a backup's manifest records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub created_at: chrono::DateTime<Utc>,
    pub migration_version: i64,
    pub lsn_ops_version: String,
    pub tables: BTreeMap<String, i64>,
}

impl Manifest {
    fn path_for(dump: &Path) -> PathBuf {
        let mut name = dump.as_os_str().to_os_string();
        name.push(".manifest.json");
        PathBuf::from(name)
    }
}

/// The server URL for libpq without its password, and the password apart
/// (given to pg_dump in PGPASSWORD, never on a command line).
fn libpq_target(url: &crate::config::Secret) -> Result<(String, Option<String>), Failure> {
    let mut parsed = url::Url::parse(url.expose()).map_err(|_| Failure {
        code: 2,
        message: "[database] url is not a URL".into(),
    })?;
    let password = parsed.password().map(percent_decode);
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// Runs a PostgreSQL client tool; a missing tool is one clear line.
async fn pg_tool(tool: &str, args: &[String], password: Option<&str>) -> Result<(), Failure> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().await.map_err(|e| Failure {
        code: 1,
        message: if e.kind() == std::io::ErrorKind::NotFound {
            format!("{tool} not found: install PostgreSQL's client tools (Debian: apt-get install postgresql-client)")
        } else {
            format!("{tool}: {e}")
        },
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Err(Failure {
        code: 1,
        message: format!("{tool} failed ({}): {first}", out.status),
    })
}

/// `pg_dump` into `dir` with its manifest; returns the result line.
pub async fn backup(
    pool: &PgPool,
    url: &crate::config::Secret,
    who: Who<'_>,
    dir: &Path,
    say: Say<'_>,
) -> Result<String, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure {
        code: 1,
        message: format!("backup: cannot create {}: {e}", dir.display()),
    })?;
    let (target, password) = libpq_target(url)?;
    let created_at = Utc::now();
    let file = dir.join(format!(
        "lsn-ops-{}.dump",
        created_at.format("%Y%m%dT%H%M%SZ")
    ));
    // One snapshot: the counts below and pg_dump see the same rows.
    let mut tx = pool.begin().await.map_err(|e| sql_failure("backup", e))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(|e| sql_failure("backup", e))?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| sql_failure("backup", e))?;
    say("backup: counting rows");
    let tables = m::table_counts(&mut tx)
        .await
        .map_err(|e| sql_failure("backup", e))?;
    let migration_version = m::migration_version(&mut tx)
        .await
        .map_err(|e| sql_failure("backup", e))?;
    say(&format!("backup: pg_dump to {}", file.display()));
    let dumped = pg_tool(
        "pg_dump",
        &[
            "--format=custom".into(),
            format!("--snapshot={snapshot}"),
            format!("--file={}", file.display()),
            format!("--dbname={target}"),
        ],
        password.as_deref(),
    )
    .await;
    let _ = tx.rollback().await;
    dumped?;
    let (bytes, sha256) = checksum(&file)?;
    let manifest = Manifest {
        file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        sha256: sha256.clone(),
        created_at,
        migration_version,
        lsn_ops_version: env!("CARGO_PKG_VERSION").into(),
        tables,
    };
    let manifest_path = Manifest::path_for(&file);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| sql_failure("backup", e))?;
    std::fs::write(&manifest_path, json + "\n").map_err(|e| Failure {
        code: 1,
        message: format!("backup: cannot write {}: {e}", manifest_path.display()),
    })?;
    let rows: i64 = manifest.tables.values().sum();
    m::audit(
        pool,
        who,
        "maintenance.backup",
        serde_json::json!({"file": file.display().to_string(), "bytes": bytes, "sha256": sha256,
                           "rows": rows, "migration_version": migration_version}),
    )
    .await
    .map_err(|e| Failure::store("maintenance backup", e))?;
    Ok(format!(
        "backup: {} ({}, sha256 {}), {} tables, {rows} rows, migration {migration_version}; manifest {}",
        file.display(),
        human_bytes(bytes as i64),
        &sha256[..12],
        manifest.tables.len(),
        manifest_path.display()
    ))
}

/// Size and SHA-256 (hex) of a file, read in blocks.
fn checksum(path: &Path) -> Result<(u64, String), Failure> {
    let fail = |e: std::io::Error| Failure {
        code: 1,
        message: format!("cannot read {}: {e}", path.display()),
    };
    let mut f = std::fs::File::open(path).map_err(fail)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// Restores `file` into a scratch database, compares it with the manifest,
/// drops the scratch database; exit 0 only when everything matches.
pub async fn verify_backup(
    pool: &PgPool,
    url: &crate::config::Secret,
    actor: &Actor,
    file: &Path,
) -> Result<u8, Failure> {
    let manifest_path = Manifest::path_for(file);
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| Failure {
        code: 1,
        message: format!(
            "verify-backup: no manifest {} beside the backup: {e}",
            manifest_path.display()
        ),
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Failure {
        code: 1,
        message: format!(
            "verify-backup: {} is not a manifest: {e}",
            manifest_path.display()
        ),
    })?;
    eprintln!("verify-backup: checking size and SHA-256");
    let (bytes, sha256) = checksum(file)?;
    if bytes != manifest.bytes || sha256 != manifest.sha256 {
        m::audit(
            pool,
            Who::Operator(actor),
            "maintenance.verify_backup",
            serde_json::json!({"file": file.display().to_string(), "ok": false,
                               "differences": ["checksum"]}),
        )
        .await
        .map_err(|e| Failure::store("maintenance verify-backup", e))?;
        println!(
            "verify-backup: FAILED: {} does not match its manifest (size {bytes} vs {}, sha256 {} vs {}): the file is damaged",
            file.display(),
            manifest.bytes,
            &sha256[..12],
            &manifest.sha256[..manifest.sha256.len().min(12)]
        );
        return Ok(1);
    }
    let (target, password) = libpq_target(url)?;
    let mut scratch_url = url::Url::parse(&target).map_err(|_| Failure {
        code: 2,
        message: "[database] url is not a URL".into(),
    })?;
    let scratch = format!(
        "lsn_ops_verify_{}_{}",
        std::process::id(),
        Utc::now().timestamp()
    );
    scratch_url.set_path(&format!("/{scratch}"));
    let admin_options = pool.connect_options().as_ref().clone().database("postgres");
    let mut admin = sqlx::PgConnection::connect_with(&admin_options)
        .await
        .map_err(|e| sql_failure("verify-backup", e))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{scratch}\""
    )))
    .execute(&mut admin)
    .await
    .map_err(|e| sql_failure("verify-backup: create the scratch database", e))?;
    eprintln!("verify-backup: restoring into scratch database {scratch}");
    let outcome =
        restore_and_compare(&scratch_url, password.as_deref(), file, &manifest, pool).await;
    let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    if let Err(e) = dropped {
        eprintln!("verify-backup: could not drop the scratch database {scratch}: {e}");
    }
    let differences = outcome?;
    let rows: i64 = manifest.tables.values().sum();
    m::audit(
        pool,
        Who::Operator(actor),
        "maintenance.verify_backup",
        serde_json::json!({"file": file.display().to_string(), "ok": differences.is_empty(),
                           "differences": differences}),
    )
    .await
    .map_err(|e| Failure::store("maintenance verify-backup", e))?;
    if differences.is_empty() {
        println!(
            "verify-backup: OK: {} restored; {} tables, {rows} rows and migration {} match the manifest",
            file.display(),
            manifest.tables.len(),
            manifest.migration_version
        );
        Ok(0)
    } else {
        println!(
            "verify-backup: FAILED: the restore of {} differs from its manifest: {}",
            file.display(),
            differences.join("; ")
        );
        Ok(1)
    }
}

/// pg_restore into the scratch database, then the differences from the
/// manifest (empty: it matches).
async fn restore_and_compare(
    scratch_url: &url::Url,
    password: Option<&str>,
    file: &Path,
    manifest: &Manifest,
    pool: &PgPool,
) -> Result<Vec<String>, Failure> {
    pg_tool(
        "pg_restore",
        &[
            "--no-owner".into(),
            "--no-privileges".into(),
            "--exit-on-error".into(),
            format!("--dbname={scratch_url}"),
            file.display().to_string(),
        ],
        password,
    )
    .await?;
    let scratch_name = scratch_url.path().trim_start_matches('/').to_string();
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .database(&scratch_name);
    let mut conn = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(|e| sql_failure("verify-backup", e))?;
    let counts = m::table_counts(&mut conn)
        .await
        .map_err(|e| sql_failure("verify-backup", e))?;
    let version = m::migration_version(&mut conn)
        .await
        .map_err(|e| sql_failure("verify-backup", e))?;
    let _ = conn.close().await;
    Ok(compare(manifest, &counts, version))
}

/// What differs between a manifest and a restored database.
pub fn compare(manifest: &Manifest, counts: &BTreeMap<String, i64>, version: i64) -> Vec<String> {
    let mut out = Vec::new();
    if version != manifest.migration_version {
        out.push(format!(
            "migration {version}, manifest {}",
            manifest.migration_version
        ));
    }
    for (table, expected) in &manifest.tables {
        match counts.get(table) {
            None => out.push(format!("table {table} missing")),
            Some(n) if n != expected => out.push(format!("{table}: {n} rows, manifest {expected}")),
            Some(_) => {}
        }
    }
    for table in counts.keys().filter(|t| !manifest.tables.contains_key(*t)) {
        out.push(format!("table {table} not in the manifest"));
    }
    out
}

fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_to_the_environment_not_the_command_line() {
        let url = crate::config::Secret::new(
            "postgres://ops:p%40ss%2Bw@db.example:6432/lsn?sslmode=require",
        );
        let (target, password) = libpq_target(&url).unwrap();
        assert_eq!(target, "postgres://ops@db.example:6432/lsn?sslmode=require");
        assert_eq!(password.as_deref(), Some("p@ss+w"));
    }

    #[test]
    fn compare_names_every_difference() {
        let manifest = Manifest {
            file: "x.dump".into(),
            bytes: 1,
            sha256: "00".into(),
            created_at: Utc::now(),
            migration_version: 9,
            lsn_ops_version: "0".into(),
            tables: [("orders".to_string(), 10), ("refunds".to_string(), 2)].into(),
        };
        let same: BTreeMap<String, i64> = manifest.tables.clone();
        assert!(compare(&manifest, &same, 9).is_empty());
        let other: BTreeMap<String, i64> =
            [("orders".to_string(), 9), ("extra".to_string(), 1)].into();
        let diff = compare(&manifest, &other, 8);
        assert_eq!(diff.len(), 4, "{diff:?}");
        assert!(diff[0].contains("migration 8"));
    }
}
