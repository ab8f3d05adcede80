//! The binary's external contract: exit codes, one-line errors, `migrate`,
//! `seed` and `status --format json` on a fresh database.

use std::process::{Command, Output};

fn lsn_ops(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsn-ops"));
    cmd.args(args)
        .env_remove("LSN_OPS_CONFIG")
        .env(
            "LSN_OPS_LOG__DIR",
            std::env::temp_dir().join("lsn-ops-test-logs"),
        )
        .current_dir(std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run lsn-ops")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_one_clear_line(out: &Output, code: i32, contains: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line, got: {err}");
    assert!(err.contains(contains), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("Backtrace") && !err.contains("Location:"),
        "{err}"
    );
}

/// The server the test suite uses (scripts/test sets DATABASE_URL).
fn server_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL must be set (scripts/test sets it)")
}

fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("url has a database part");
    format!("{base}/{name}")
}

#[test]
fn a_config_typo_is_exit_2_with_the_file_and_key() {
    let path = std::env::temp_dir().join(format!("lsn-ops-typo-{}.toml", std::process::id()));
    std::fs::write(&path, "[paypal]\nmode = \"prod\"\n").expect("write");
    let out = lsn_ops(
        &["--config", path.to_str().expect("utf-8 path"), "status"],
        &[],
    );
    assert_one_clear_line(
        &out,
        2,
        "[paypal] mode = \"prod\": expected \"sandbox\" or \"live\"",
    );
}

#[test]
fn a_bad_database_url_is_exit_2_and_never_echoed() {
    let out = lsn_ops(
        &["status"],
        &[("DATABASE_URL", "mysql://root:hunter2@db/x")],
    );
    assert_one_clear_line(&out, 2, "DATABASE_URL: [database] url");
    assert!(!stderr(&out).contains("hunter2"));
}

#[test]
fn an_unreachable_database_is_exit_1_with_where_and_why() {
    // Port 9 (discard) on loopback: nothing listens there.
    let out = lsn_ops(
        &["status"],
        &[("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:9/ops")],
    );
    assert_one_clear_line(&out, 1, "cannot reach PostgreSQL at 127.0.0.1:9/ops");
    assert!(!stderr(&out).contains("hunter2"));
}

#[test]
fn bad_usage_is_exit_2_and_help_is_exit_0() {
    assert_eq!(lsn_ops(&["frobnicate"], &[]).status.code(), Some(2));
    assert_eq!(
        lsn_ops(&["seed", "--orders", "0"], &[]).status.code(),
        Some(2)
    );
    let help = lsn_ops(&["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for command in [
        "tui",
        "worker",
        "demo",
        "migrate",
        "seed",
        "status",
        "payouts",
        "report",
        "maintenance",
        "operators",
    ] {
        assert!(text.contains(command), "--help lists {command}");
    }
}

#[test]
fn migrate_seed_and_status_json_on_a_fresh_database() {
    let name = format!("lsn_ops_cli_{}", std::process::id());
    let admin = server_url();
    let url = with_database(&admin, &name);
    let psql = |sql: &str| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to the test server");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .expect("admin sql");
        });
    };
    psql(&format!("DROP DATABASE IF EXISTS {name}"));
    psql(&format!("CREATE DATABASE {name}"));
    let env = [("DATABASE_URL", url.as_str())];

    let out = lsn_ops(&["status"], &env);
    assert_one_clear_line(&out, 1, "no lsn-ops schema yet: run `lsn-ops migrate`");

    let out = lsn_ops(&["migrate"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = lsn_ops(&["migrate"], &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "migrate twice is fine: {}",
        stderr(&out)
    );

    let out = lsn_ops(&["seed", "--orders", "2000", "--seed", "3"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("seeded 2000 orders"));
    let again = lsn_ops(&["seed", "--orders", "2000", "--seed", "3"], &env);
    assert_eq!(again.status.code(), Some(1), "a second seed is refused");

    let out = lsn_ops(&["status", "--format", "json"], &env);
    // The seed has a critical alert and a show without a room: critical, exit 2.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status prints valid JSON");
    assert_eq!(json["health"], "critical");
    assert!(json["alerts"]["critical"].as_i64().unwrap_or(0) >= 1);
    assert!(json["disputes"]["due_within_24h"].is_i64());
    // This week's batch is a draft until generated: last week's, with its
    // bounced line, is the batch that needs attention.
    assert_eq!(json["payout_batch"]["state"], "partially_failed");
    assert!(json["payout_batch"]["failed_items"].as_i64().unwrap_or(0) >= 1);
    assert!(json["fraud"]["high_risk_pending"].as_i64().unwrap_or(0) > 0);
    assert!(
        json["shows_today"]["shows"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );

    let out = lsn_ops(
        &["fraud", "report", "--days", "120", "--format", "json"],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("fraud report is JSON");
    assert!(
        report["approved"].as_i64().unwrap_or(0) + report["declined"].as_i64().unwrap_or(0) > 0
    );
    assert!(
        report["indicators"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
    );

    let text = lsn_ops(&["status"], &env);
    assert!(String::from_utf8_lossy(&text.stdout).contains("disputes"));
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
}

#[test]
fn fraud_lists_checks_the_reference_lists_and_names_a_bad_line() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fraud");
    let out = lsn_ops(
        &[
            "fraud",
            "lists",
            "--ip",
            "45.142.212.66",
            "--email",
            "x@eu.mailinator.com",
        ],
        &[("LSN_OPS_FRAUD__REFERENCE_DIR", shipped)],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        text.contains(&format!("fraud reference lists from {shipped}")),
        "{text}"
    );
    assert!(
        text.contains("45.142.212.66: in proxy/VPN range 45.142.212.0/24"),
        "{text}"
    );
    assert!(text.contains("45.142.212.66: abuse score 95"), "{text}");
    assert!(text.contains("eu.mailinator.com: disposable"), "{text}");

    // Run outside the repository with the default directory: the built-in lists.
    let out = lsn_ops(&["fraud", "lists"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("from built-in"));

    // A typo in a copy of the lists: exit 2, file and line.
    let dir = std::env::temp_dir().join(format!("lsn-ops-cli-lists-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in [
        "disposable_domains.txt",
        "proxy_ranges.txt",
        "ip_reputation.csv",
    ] {
        std::fs::copy(format!("{shipped}/{name}"), dir.join(name)).expect("copy list");
    }
    let mut reputation = std::fs::read_to_string(dir.join("ip_reputation.csv")).expect("read");
    reputation.push_str("198.51.100.7,high,typo\n");
    std::fs::write(dir.join("ip_reputation.csv"), &reputation).expect("write");
    let line = reputation.lines().count();
    let dir_text = dir.to_string_lossy().into_owned();
    let out = lsn_ops(
        &["fraud", "lists"],
        &[("LSN_OPS_FRAUD__REFERENCE_DIR", &dir_text)],
    );
    assert_one_clear_line(
        &out,
        2,
        &format!(
            "ip_reputation.csv:{line}: abuse score \"high\": expected a whole number from 0 to 100"
        ),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
