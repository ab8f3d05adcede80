//! Tried as a new user would: the real `lsn-ops worker` with an http probe to
//! a local server that answers 500. The firing alert naming the probe shows
//! in `lsn-ops alerts list --format json` (polled against a deadline, never a
//! timing assert); the server answers 200 again and the alert resolves by
//! itself. `alerts ack ID` as an agent records who and when; as a viewer it
//! exits 1 and nothing changes. Then `incidents open --alert`, `assign`,
//! `note`, `status` and `resolve`, and `alerts silence`.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, TestDb, workdir};
use lsn_ops::simulators::probe_target::{Health, ProbeTarget};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(dir: &std::path::Path, url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--config", &dir.join("config.toml").to_string_lossy()])
        .args(args)
        .env("DATABASE_URL", url)
        .env("LSN_OPS_LOG__DIR", dir.join("logs"))
        .env_remove("LSN_OPS_CONFIG")
        .output()
        .expect("run lsn-ops")
}

fn alerts(dir: &std::path::Path, url: &str, all: bool) -> Vec<Value> {
    let mut args = vec!["alerts", "list", "--format", "json"];
    if all {
        args.push("--all");
    }
    let out = cli(dir, url, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("alerts list JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls `alerts list` until `pred` holds for one alert of the probe (or the deadline).
async fn wait_alert(
    dir: &std::path::Path,
    url: &str,
    all: bool,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let list = alerts(dir, url, all);
        if let Some(a) = list.iter().find(|a| pred(a)) {
            return a.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no such alert in time; last list: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn set_role(url: &str, role: &str) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ($1, $2, 'test')
         ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(lsn_ops::identity::os_account())
    .bind(role)
    .execute(&mut conn)
    .await
    .expect("role");
}

async fn alert_row(
    url: &str,
    id: i64,
) -> (
    String,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::query_as("SELECT state, acked_by, acked_at FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .expect("alert")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_to_a_failing_server_fires_resolves_and_is_worked_from_the_cli() {
    let db = TestDb::create("monitoring_cli").await;
    let dir = workdir("monitoring-cli");
    let url = db.url();
    let target = ProbeTarget::start().await.expect("probe target");
    target.set(Health::Failing(500));
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[worker]\nlisten = \"127.0.0.1:0\"\n\
             [alerts]\ninterval_s = 1\nwindow_s = 4\nfor_s = 2\nrecover_s = 2\n\
             [[probes]]\nname = \"shop\"\nkind = \"http\"\ntarget = \"{}\"\ninterval_s = 1\ntimeout_ms = 1000\n",
            target.url()
        ),
    )
    .expect("config");
    let out = cli(&dir, &url, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let worker = Worker(
        Command::new(BIN)
            .args([
                "--config",
                &dir.join("config.toml").to_string_lossy(),
                "worker",
            ])
            .env("DATABASE_URL", &url)
            .env("LSN_OPS_LOG__DIR", dir.join("logs"))
            .env_remove("LSN_OPS_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the worker"),
    );

    // Firing, naming the probe.
    let firing = wait_alert(&dir, &url, false, Duration::from_secs(60), |a| {
        a["source"] == "probe:shop" && a["state"] == "firing"
    })
    .await;
    assert_eq!(firing["dedup_key"], "probe:shop:error_rate");
    assert_eq!(firing["severity"], "critical");
    assert!(
        firing["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("shop: error rate")),
        "{firing}"
    );
    for key in ["id", "since", "occurrences", "acked_by", "silenced_until"] {
        assert!(firing.get(key).is_some(), "JSON has {key}: {firing}");
    }
    let id = firing["id"].as_i64().expect("id");

    // A viewer cannot acknowledge: exit 1, nothing changes.
    set_role(&url, "viewer").await;
    let before = alert_row(&url, id).await;
    let out = cli(&dir, &url, &["alerts", "ack", &id.to_string()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a viewer"));
    assert_eq!(alert_row(&url, id).await, before);

    // An agent can: who and when.
    set_role(&url, "agent").await;
    let out = cli(&dir, &url, &["alerts", "ack", &id.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (state, by, at) = alert_row(&url, id).await;
    assert_eq!(state, "acknowledged");
    assert_eq!(
        by.as_deref(),
        Some(lsn_ops::identity::os_account().as_str())
    );
    assert!(at.is_some());
    let listed = wait_alert(&dir, &url, false, Duration::from_secs(5), |a| a["id"] == id).await;
    assert_eq!(listed["state"], "acknowledged");

    // An incident from it, worked from the CLI.
    let out = cli(
        &dir,
        &url,
        &["incidents", "open", "--alert", &id.to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inc = String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("INC-")
        .trim_end_matches(" opened")
        .to_string();
    for args in [
        vec!["incidents", "assign", &inc, "bob"],
        vec!["incidents", "note", &inc, "upstream returns 500"],
        vec!["incidents", "status", &inc, "identified"],
    ] {
        let out = cli(&dir, &url, &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = cli(&dir, &url, &["incidents", "list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("incidents JSON");
    let row = &list[0];
    assert_eq!(row["priority"], "P1");
    assert_eq!(row["state"], "identified");
    assert_eq!(row["commander"], "bob");
    assert!(
        row["seconds_left"].as_i64().is_some_and(|s| s > 3 * 3600),
        "{row}"
    );

    // The server recovers: the alert resolves by itself.
    target.set(Health::Ok);
    let resolved = wait_alert(&dir, &url, true, Duration::from_secs(60), |a| {
        a["id"] == id && a["state"] == "resolved"
    })
    .await;
    assert_eq!(resolved["resolved_by"], "lsn-ops");
    assert_eq!(resolved["resolve_note"], "recovered");
    let out = cli(&dir, &url, &["incidents", "show", &inc]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("resolved by itself"), "{text}");
    let out = cli(
        &dir,
        &url,
        &["incidents", "resolve", &inc, "--note", "upstream fixed"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A silence: shown on the next firing alert of the key.
    let out = cli(
        &dir,
        &url,
        &[
            "alerts",
            "silence",
            "probe:shop:*",
            "--for",
            "2h",
            "--reason",
            "planned maintenance",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = cli(
        &dir,
        &url,
        &["alerts", "silence", "x", "--for", "soon", "--reason", "r"],
    );
    assert_eq!(bad.status.code(), Some(2));
    target.set(Health::Failing(503));
    let silenced = wait_alert(&dir, &url, false, Duration::from_secs(60), |a| {
        a["source"] == "probe:shop" && a["state"] == "silenced"
    })
    .await;
    assert!(silenced["silenced_until"].is_string(), "{silenced}");
    drop(worker);
    target.shutdown().await;
}
