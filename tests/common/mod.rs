//! What the end-to-end tests share: a fresh database per test on the test
//! server, a private work directory, and the real binary in a tmux server of
//! its own (`send-keys` in, `capture-pane` out, polled against deadlines).
//!
//! The server comes from `LSN_OPS_TEST_PG_BASE` or `DATABASE_URL` (as
//! `scripts/test` sets them), else `postgres://postgres@127.0.0.1:5432`.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

pub const BIN: &str = env!("CARGO_BIN_EXE_lsn-ops");

/// `postgres://user@host:port` of the test server.
pub fn server() -> String {
    if let Ok(base) = std::env::var("LSN_OPS_TEST_PG_BASE") {
        return base.trim_end_matches('/').to_string();
    }
    if let Ok(url) = std::env::var("DATABASE_URL")
        && let Some((base, _db)) = url.rsplit_once('/')
        && base.contains("://")
        && !base.ends_with('/')
    {
        return base.to_string();
    }
    "postgres://postgres@127.0.0.1:5432".into()
}

/// `host:port` of the test server (for a TCP proxy in front of it).
pub fn server_addr() -> String {
    let base = server();
    let after_user = base.rsplit_once('@').map_or(base.as_str(), |(_, h)| h);
    let host_port = after_user
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://");
    if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    }
}

/// A fresh database, dropped (with its connections) when the test ends.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub async fn create(tag: &str) -> TestDb {
        let name = format!("lsn_e2e_{tag}_{}", std::process::id());
        let mut conn = PgConnection::connect(&format!("{}/postgres", server()))
            .await
            .expect("PostgreSQL (LSN_OPS_TEST_PG_BASE / DATABASE_URL)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .expect("drop old database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("create database");
        TestDb { name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    /// The same database through another port on the same host (a proxy).
    pub fn url_via(&self, port: u16) -> String {
        let base = server();
        let without_port = match base.rsplit_once(':') {
            Some((head, tail)) if tail.chars().all(|c| c.is_ascii_digit()) => head.to_string(),
            _ => base,
        };
        format!("{without_port}:{port}/{}", self.name)
    }

    /// `lsn-ops seed --orders 2000 --seed 7` (which migrates first), the real seeder.
    pub fn seed(&self, dir: &Path) {
        let out = Command::new(BIN)
            .args(["--config", &dir.join("config.toml").to_string_lossy()])
            .args(["seed", "--orders", "2000", "--seed", "7"])
            .env("DATABASE_URL", self.url())
            .env("LSN_OPS_LOG__DIR", dir.join("logs"))
            .output()
            .expect("run lsn-ops seed");
        assert!(
            out.status.success(),
            "seed failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl TestDb {
    /// Makes the OS account running the tests an admin, so that the dashboard
    /// it starts may act as another operator (`tui --operator NAME`).
    pub async fn register_os_admin(&self) {
        let mut conn = PgConnection::connect(&self.url()).await.expect("connect");
        sqlx::query(
            "INSERT INTO operators (name, role, created_by) VALUES ($1, 'admin', 'test')
             ON CONFLICT (name) DO UPDATE SET role = 'admin'",
        )
        .bind(lsn_ops::identity::os_account())
        .execute(&mut conn)
        .await
        .expect("register the OS account as admin");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = format!("{}/postgres", server());
        // A fresh runtime: Drop may run outside (or at the end of) the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A temporary directory with an empty config file (so no stray ./config.toml
/// is read) and the log directory.
pub fn workdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lsn-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).expect("temp dir");
    std::fs::write(dir.join("config.toml"), "").expect("config file");
    dir
}

/// How to start the dashboard in tmux.
pub struct Dashboard<'a> {
    pub tag: &'a str,
    pub width: u16,
    pub height: u16,
    pub operator: &'a str,
    /// Extra environment (configuration overrides).
    pub env: &'a [(&'a str, &'a str)],
}

/// One tmux server (own socket) running the dashboard in a session "main".
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(d: &Dashboard<'_>, dir: &Path, url: &str) -> Tmux {
        // After the dashboard exits, the shell reports the exit code and the
        // terminal mode, then waits so the pane can still be read.
        let script = format!(
            "{BIN} --config {cfg} tui --operator {op}; echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 600",
            cfg = dir.join("config.toml").display(),
            op = d.operator,
        );
        Tmux::start_script(d, dir, url, &script)
    }

    /// `script` (a shell command line) in the tmux session, with the
    /// dashboard's environment (`d.operator` is not used).
    pub fn start_script(d: &Dashboard<'_>, dir: &Path, url: &str, script: &str) -> Tmux {
        let socket = format!("lsn-e2e-{}-{}", d.tag, std::process::id());
        let _ = Command::new("tmux")
            .args(["-L", &socket, "kill-server"])
            .output();
        let mut cmd = Command::new("tmux");
        cmd.args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
        ])
        .args(["-x", &d.width.to_string(), "-y", &d.height.to_string()])
        .args(["-e", "LANG=C.UTF-8", "-e", "TERM=tmux-256color"])
        .args(["-e", &format!("DATABASE_URL={url}")])
        .args([
            "-e",
            &format!("LSN_OPS_LOG__DIR={}", dir.join("logs").display()),
        ]);
        for (k, v) in d.env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        let out = cmd.arg(script).output().expect("tmux");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = Command::new("tmux")
            .args(["-L", &socket, "set-option", "-g", "window-size", "manual"])
            .output();
        Tmux { socket }
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }

    /// Polls the screen until `pred` holds; panics with the last screen at the deadline.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Escape on its own, then waits until `pred` holds: a key that follows
    /// Escape in the same burst reaches the app as Alt+key.
    pub async fn escape(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.keys(&["Escape"]);
        self.wait_for(what, Duration::from_secs(20), pred).await
    }

    pub async fn wait_text(&self, text: &str, within: Duration) -> String {
        self.wait_for(text, within, |s| s.contains(text)).await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
