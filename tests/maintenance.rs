//! Issue 14: `lsn-ops maintenance` run as the real binary on a seeded
//! database: backup then verify-backup succeed; one changed byte makes
//! verify-backup fail with a clear line; cleanup without --apply deletes
//! nothing, with --apply deletes only what retention allows (never the audit
//! log or work still pending); optimize vacuums and reports; a non-admin is
//! refused with nothing written.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{BIN, TestDb, workdir};
use sqlx::{Connection, PgConnection};

fn run(db: &TestDb, dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--config", &dir.join("config.toml").to_string_lossy()])
        .args(["maintenance"])
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("LSN_OPS_LOG__DIR", dir.join("logs"))
        .output()
        .expect("run lsn-ops maintenance")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(conn)
        .await
        .expect(sql)
}

#[tokio::test]
async fn backup_verify_cleanup_and_optimize_on_a_seeded_database() {
    let db = TestDb::create("maint").await;
    let dir = workdir("maint");
    db.seed(&dir);
    db.register_os_admin().await;
    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");

    // Backup, then verify: exit 0 and the manifest's counts are the database's.
    let backups = dir.join("backups");
    let out = run(&db, &dir, &["backup", "--out", &backups.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out));
    let dump = std::fs::read_dir(&backups)
        .expect("backups dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("a .dump file");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.manifest.json", dump.display())).expect("manifest"),
    )
    .expect("manifest json");
    let orders = count(&mut conn, "SELECT count(*) FROM orders").await;
    assert_eq!(manifest["tables"]["orders"], orders);
    assert!(manifest["migration_version"].as_i64().unwrap() >= 9);
    assert_eq!(manifest["sha256"].as_str().unwrap().len(), 64);

    let out = run(&db, &dir, &["verify-backup", &dump.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("verify-backup: OK"), "{}", text(&out));
    // No scratch database left behind.
    let scratch = count(
        &mut conn,
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'lsn_ops_verify_%'",
    )
    .await;
    assert_eq!(scratch, 0);

    // One byte changed: exit 1 and a line saying the file is damaged.
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&dump, &bytes).unwrap();
    let out = run(&db, &dir, &["verify-backup", &dump.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("damaged"), "{}", text(&out));

    // Cleanup: events applied long ago, one pending old event, old probe samples.
    sqlx::raw_sql(
        "INSERT INTO provider_events (provider, event_id, event_type, received_at, payload, status)
              SELECT 'wise', 'OLD-' || i, 'transfers#state-change', now() - interval '200 days', '{}', 'applied'
                FROM generate_series(1, 7) i;
         INSERT INTO provider_events (provider, event_id, event_type, received_at, payload, status)
              VALUES ('wise', 'RECENT', 'transfers#state-change', now() - interval '10 days', '{}', 'applied');
         INSERT INTO provider_events (provider, event_id, event_type, received_at, payload, status)
              VALUES ('paypal', 'OLD-PENDING', 'PAYMENT.CAPTURE.COMPLETED', now() - interval '200 days', '{}', 'pending');
         INSERT INTO probe_samples (probe, at, ok) SELECT 'db', now() - interval '100 days', true FROM generate_series(1, 5);
         INSERT INTO probe_samples (probe, at, ok) VALUES ('db', now(), true);",
    )
    .execute(&mut conn)
    .await
    .expect("old rows");
    let before = (
        count(&mut conn, "SELECT count(*) FROM provider_events").await,
        count(&mut conn, "SELECT count(*) FROM probe_samples").await,
        count(&mut conn, "SELECT count(*) FROM audit_log").await,
    );
    let expired_events = count(
        &mut conn,
        "SELECT count(*) FROM provider_events
          WHERE status IN ('applied', 'ignored') AND received_at < now() - interval '90 days'",
    )
    .await;
    assert!(expired_events >= 7);
    let out = run(&db, &dir, &["cleanup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("would delete {} row(s)", expired_events + 5)),
        "{}",
        text(&out)
    );
    let after_dry = (
        count(&mut conn, "SELECT count(*) FROM provider_events").await,
        count(&mut conn, "SELECT count(*) FROM probe_samples").await,
        count(&mut conn, "SELECT count(*) FROM audit_log").await,
    );
    assert_eq!(before, after_dry, "a dry run deletes nothing");

    let out = run(&db, &dir, &["cleanup", "--apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM provider_events").await,
        before.0 - expired_events
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM provider_events WHERE event_id = 'OLD-PENDING'"
        )
        .await,
        1,
        "pending work is never cleaned up"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM probe_samples").await,
        before.1 - 5
    );
    let audits = count(
        &mut conn,
        "SELECT count(*) FROM audit_log WHERE action LIKE 'maintenance.%'",
    )
    .await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM audit_log").await,
        before.2 + 1,
        "the audit log is never cleaned up; the cleanup itself is audited"
    );
    assert_eq!(audits, 4, "backup, two verifications, cleanup");

    // Optimize: every table vacuumed, one result line.
    let out = run(&db, &dir, &["optimize"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("tables vacuumed and analyzed"),
        "{}",
        text(&out)
    );
    let analyzed = count(
        &mut conn,
        "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'orders' AND last_vacuum IS NOT NULL",
    )
    .await;
    assert_eq!(analyzed, 1);

    // A viewer (the OS account demoted) is refused, nothing written.
    sqlx::query("UPDATE operators SET role = 'viewer' WHERE name = $1")
        .bind(lsn_ops::identity::os_account())
        .execute(&mut conn)
        .await
        .unwrap();
    let audit_before = count(&mut conn, "SELECT count(*) FROM audit_log").await;
    let out = run(&db, &dir, &["cleanup", "--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("admin"), "{}", text(&out));
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM audit_log").await,
        audit_before
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The worker's weekly run (`[maintenance] weekly`): due after its time, it
/// optimizes, cleans up, backs up into `backup_dir` and writes the weekly
/// report into `reports_dir`, once: a second look (or a second worker) in
/// the same week does nothing.
#[tokio::test]
async fn the_weekly_run_happens_once_per_week() {
    use lsn_ops::worker::maintenance::{Weekly, tick};
    let db = TestDb::create("weekly").await;
    let dir = workdir("weekly");
    db.seed(&dir);
    let pool = sqlx::PgPool::connect(&db.url()).await.expect("pool");
    let mut config = lsn_ops::config::Config::default();
    config.database.url = lsn_ops::config::Secret::new(db.url());
    config.maintenance.weekly = true;
    config.maintenance.backup_dir = dir.join("backups").display().to_string();
    config.maintenance.reports_dir = dir.join("reports").display().to_string();
    config.log.dir = dir.join("logs").display().to_string();
    let weekly = Weekly::from_config(&config, chrono_tz::UTC).expect("weekly is on");
    let now = chrono::Utc::now();
    let due = weekly.last_due(now);
    assert!(due <= now && now - due < chrono::Duration::days(7));

    // Long after the week's time (past the catch-up window): nothing.
    let stale = tick(&pool, &weekly, due + chrono::Duration::hours(13))
        .await
        .expect("tick");
    assert!(stale.is_none());
    // Just after its time: every step, none failed.
    let ran = tick(&pool, &weekly, due + chrono::Duration::minutes(1))
        .await
        .expect("tick");
    assert_eq!(ran, Some(Vec::new()), "every step succeeded");
    let again = tick(&pool, &weekly, due + chrono::Duration::minutes(2))
        .await
        .expect("tick");
    assert!(again.is_none(), "once per week");

    let backups: Vec<_> = std::fs::read_dir(dir.join("backups"))
        .expect("backups")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(backups.iter().any(|f| f.ends_with(".dump")), "{backups:?}");
    assert!(backups.iter().any(|f| f.ends_with(".manifest.json")));
    let reports: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .expect("reports")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for ext in ["txt", "json", "csv"] {
        assert!(
            reports
                .iter()
                .any(|f| f.starts_with("weekly-") && f.ends_with(ext)),
            "{reports:?}"
        );
    }
    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE operator = 'worker' AND action LIKE 'maintenance.%' ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("audit");
    assert_eq!(
        audited,
        vec![
            "maintenance.optimize",
            "maintenance.cleanup",
            "maintenance.backup",
            "maintenance.weekly"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
