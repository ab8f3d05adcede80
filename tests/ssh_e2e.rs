//! End to end: `lsn-ops ssh-server` on loopback, driven by the system `ssh`
//! client (openssh-client) inside tmux, against a freshly seeded database.
//!
//! - a registered key gets the dashboard, whose header names the key's
//!   operator and role; an unknown key is refused at authentication;
//! - a resize of the client's terminal redraws at the new size;
//! - a viewer's key cannot decide a fraud order (refused on screen, nothing
//!   in the database);
//! - `[ssh] max_sessions` is told to the one session too many;
//! - `q` closes the channel cleanly (ssh exits 0, the client's terminal is
//!   cooked and back on its main screen); a client that vanishes leaves no
//!   fraud claim behind; `wall` opens the wall monitor;
//! - every login and logout is an audit row; SIGTERM stops the server.
//!
//! Operators and keys are set up with the real CLI (`operators add`,
//! `operators key add`) by the OS account running the tests, an admin.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Dashboard, TestDb, Tmux, workdir};
use sqlx::{Connection, PgConnection};

const UP: Duration = Duration::from_secs(30);

/// The server as a child process, stopped (SIGTERM) when dropped.
struct Server {
    child: Child,
}

impl Server {
    fn start(dir: &Path, url: &str, port: u16) -> Server {
        let mut child = Command::new(BIN)
            .args(["--config", &dir.join("config.toml").to_string_lossy()])
            .arg("ssh-server")
            .env("DATABASE_URL", url)
            .env("LSN_OPS_LOG__DIR", dir.join("logs"))
            .env("LSN_OPS_SSH__LISTEN", format!("127.0.0.1:{port}"))
            .env("LSN_OPS_SSH__HOST_KEY", dir.join("host_ed25519"))
            .env("LSN_OPS_SSH__MAX_SESSIONS", "2")
            .env("LSN_OPS_TUI__REFRESH_MS", "60000")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lsn-ops ssh-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server says where it listens");
        assert!(line.contains("listening on"), "{line}");
        assert!(
            line.contains(", new)"),
            "a host key made on first start: {line}"
        );
        Server { child }
    }

    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A new ed25519 key pair; returns the private key's path.
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C"])
        .arg(format!("{name}@e2e"))
        .arg("-f")
        .arg(&path)
        .output()
        .expect("ssh-keygen (openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// The real CLI, as the OS account (an admin).
fn cli(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["--config", &dir.join("config.toml").to_string_lossy()])
        .args(args)
        .env("DATABASE_URL", url)
        .env("LSN_OPS_LOG__DIR", dir.join("logs"))
        .output()
        .expect("run lsn-ops");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "lsn-ops {args:?}: {text}");
    text
}

/// `ssh` to the server with only this key, no user configuration, no host check.
fn ssh_command(port: u16, key: &Path, command: &str) -> String {
    format!(
        "ssh -F /dev/null -tt -p {port} -i {key} -o IdentitiesOnly=yes -o BatchMode=yes \
         -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
         ops@127.0.0.1 {command}",
        key = key.display()
    )
}

/// `ssh` in tmux; after it exits the shell reports its exit code and
/// whether the terminal is cooked, then waits so the pane can be read.
fn ssh_in_tmux(tag: &str, dir: &Path, url: &str, port: u16, key: &Path, command: &str) -> Tmux {
    let script = format!(
        "{}; echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 600",
        ssh_command(port, key, command)
    );
    let d = Dashboard {
        tag,
        width: 120,
        height: 40,
        operator: "",
        env: &[],
    };
    Tmux::start_script(&d, dir, url, &script)
}

async fn audit_count(conn: &mut PgConnection, operator: &str, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE operator = $1 AND action = $2")
        .bind(operator)
        .bind(action)
        .fetch_one(conn)
        .await
        .expect("audit count")
}

async fn eventually(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_over_ssh_by_key_role_resize_limits_quit_and_audit() {
    let dir = workdir("ssh");
    let db = TestDb::create("ssh").await;
    db.seed(&dir);
    db.register_os_admin().await;
    let url = db.url();
    let mut conn = PgConnection::connect(&url).await.expect("connect");

    // Operators and their keys, with the real CLI.
    let alice = keygen(&dir, "alice");
    let victor = keygen(&dir, "victor");
    let stranger = keygen(&dir, "stranger");
    cli(
        &dir,
        &url,
        &["operators", "add", "alice", "--role", "agent"],
    );
    cli(
        &dir,
        &url,
        &["operators", "add", "victor", "--role", "viewer"],
    );
    for (name, key) in [("alice", &alice), ("victor", &victor)] {
        let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
        let said = cli(
            &dir,
            &url,
            &["operators", "key", "add", name, public.trim()],
        );
        assert!(said.contains("may now log in over SSH"), "{said}");
    }
    let listed = cli(&dir, &url, &["operators", "key", "list"]);
    assert!(
        listed.contains("alice") && listed.contains("victor") && listed.contains("SHA256:"),
        "{listed}"
    );

    let port = free_port();
    let mut server = Server::start(&dir, &url, port);

    // An unknown key is refused during authentication: nothing opened.
    let refused = Command::new("timeout")
        .arg("30")
        .args(["sh", "-c", &ssh_command(port, &stranger, "")])
        .stdin(Stdio::null())
        .output()
        .expect("ssh");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("Permission denied (publickey)"), "{stderr}");
    let logins: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'ssh.login'")
            .fetch_one(&mut conn)
            .await
            .expect("logins");
    assert_eq!(logins, 0, "a refused key is no login");

    // alice's key: her dashboard, her name and role in the header.
    let a = ssh_in_tmux("ssh-alice", &dir, &url, port, &alice, "");
    a.wait_for("alice's dashboard", UP, |s| {
        s.contains("alice (agent)") && s.contains("5 Fraud") && s.contains("db ok")
    })
    .await;

    // The client's terminal resized: redrawn at the new size, each way.
    a.tmux(&["resize-window", "-t", "main", "-x", "20", "-y", "5"]);
    a.wait_text("too small", UP).await;
    a.tmux(&["resize-window", "-t", "main", "-x", "100", "-y", "30"]);
    let s = a
        .wait_for("the dashboard at 100x30", UP, |s| {
            s.contains("5 Fraud") && !s.contains("too small")
        })
        .await;
    let widest = s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!((95..=100).contains(&widest), "drawn to the new width:\n{s}");
    a.tmux(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]);
    a.wait_for("back at 120x40", UP, |s| {
        s.lines().any(|l| l.chars().count() > 110) && s.contains("5 Fraud")
    })
    .await;

    // victor, a viewer: his key opens a dashboard where deciding is refused.
    let v = ssh_in_tmux("ssh-victor", &dir, &url, port, &victor, "");
    v.wait_for("victor's dashboard", UP, |s| {
        s.contains("victor (viewer)") && s.contains("db ok")
    })
    .await;
    v.keys(&["5", "z"]);
    v.wait_text("5 Fraud (highest first)", UP).await;
    v.keys(&["a"]);
    v.wait_for("the refusal", UP, |s| {
        s.contains("victor is a viewer") && s.contains("you need to be an agent")
    })
    .await;
    let decided: i64 =
        sqlx::query_scalar("SELECT count(*) FROM fraud_decisions WHERE operator = 'victor'")
            .fetch_one(&mut conn)
            .await
            .expect("decisions");
    assert_eq!(decided, 0);

    // Two dashboards are open, the configured most: a third is told so.
    let third = Command::new("timeout")
        .arg("30")
        .args(["sh", "-c", &ssh_command(port, &alice, "")])
        .stdin(Stdio::null())
        .output()
        .expect("ssh");
    let said = String::from_utf8_lossy(&third.stdout);
    assert_eq!(third.status.code(), Some(1), "{said}");
    assert!(said.contains("2 dashboards are open"), "{said}");

    // q: the channel closes, ssh exits 0, the client's terminal is cooked
    // and on its main screen again.
    v.keys(&["q"]);
    let end = v
        .wait_for("ssh to exit and stty to answer", UP, |s| {
            s.contains("EXIT=0") && s.contains("icanon")
        })
        .await;
    assert!(end.contains("\nicanon"), "terminal not restored:\n{end}");
    assert!(
        !end.contains("5 Fraud"),
        "still on the alternate screen:\n{end}"
    );

    // alice opens a fraud order (her claim), then her client vanishes: the
    // server's dashboard quits and gives the claim back.
    a.keys(&["5", "z"]);
    a.wait_text("5 Fraud (highest first)", UP).await;
    a.keys(&["Enter"]);
    a.wait_text("Fraud detail", UP).await;
    eventually("alice's claim", UP, async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM fraud_claims WHERE operator = 'alice'")
            .fetch_one(&mut conn)
            .await
            .expect("claims")
            == 1
    })
    .await;
    drop(a); // kills tmux, and the ssh client in it
    eventually("the claim given back", UP, async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM fraud_claims WHERE operator = 'alice'")
            .fetch_one(&mut conn)
            .await
            .expect("claims")
            == 0
    })
    .await;

    // `ssh -t HOST wall`: the wall monitor, read-only.
    let w = ssh_in_tmux("ssh-wall", &dir, &url, port, &alice, "wall");
    w.wait_for("the wall", UP, |s| {
        s.contains(" WALL ") && s.contains("alice (agent)")
    })
    .await;
    w.keys(&["q"]);
    w.wait_text("EXIT=0", UP).await;

    // Every login and logout is an audit row (a logout once its connection ends).
    eventually("every logout audited", UP, async || {
        audit_count(&mut conn, "alice", "ssh.logout").await == 3
            && audit_count(&mut conn, "victor", "ssh.logout").await == 1
    })
    .await;
    assert_eq!(audit_count(&mut conn, "alice", "ssh.login").await, 3);
    assert_eq!(audit_count(&mut conn, "victor", "ssh.login").await, 1);

    // A key taken away no longer gets in.
    let public = std::fs::read_to_string(victor.with_extension("pub")).expect("public key");
    cli(
        &dir,
        &url,
        &["operators", "key", "remove", "victor", public.trim()],
    );
    let gone = Command::new("timeout")
        .arg("30")
        .args(["sh", "-c", &ssh_command(port, &victor, "")])
        .stdin(Stdio::null())
        .output()
        .expect("ssh");
    assert_eq!(gone.status.code(), Some(255));

    let status = server.stop().expect("the server stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    drop(w);
}

/// Adding a key is an admin's change, through the one authorization point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_add_keys_and_unknown_operators_have_none() {
    use lsn_ops::domain::operators::Actor;
    use lsn_ops::ssh::keys::ParsedKey;
    use lsn_ops::store::operator_keys::{self, KeyError};

    let db = TestDb::create("sshkeys").await;
    let pool = lsn_ops::store::connect(&lsn_ops::config::DatabaseConfig {
        url: lsn_ops::config::Secret::new(db.url()),
        ..Default::default()
    })
    .await
    .expect("connect");
    lsn_ops::store::migrate(&pool).await.expect("migrate");
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES
            ('root', 'admin', 't'), ('alice', 'agent', 't'), ('victor', 'viewer', 't')",
    )
    .execute(&pool)
    .await
    .expect("operators");
    let key = ParsedKey::parse(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea a@b",
    )
    .expect("key");

    for who in ["alice", "victor"] {
        let err = operator_keys::add(&pool, &Actor::new(who), "alice", &key)
            .await
            .expect_err("not an admin");
        assert!(err.to_string().contains("manage operators"), "{err}");
    }
    let err = operator_keys::add(&pool, &Actor::new("root"), "nobody", &key)
        .await
        .expect_err("no such operator");
    assert!(matches!(err, KeyError::NoOperator(_)), "{err}");
    assert!(
        operator_keys::add(&pool, &Actor::new("root"), "alice", &key)
            .await
            .expect("added")
    );
    assert!(
        !operator_keys::add(&pool, &Actor::new("root"), "alice", &key)
            .await
            .expect("already")
    );
    let err = operator_keys::add(&pool, &Actor::new("root"), "victor", &key)
        .await
        .expect_err("one key, one operator");
    assert!(matches!(err, KeyError::Taken { .. }), "{err}");
    assert_eq!(
        operator_keys::owner_of(&pool, &key.fingerprint)
            .await
            .expect("owner")
            .as_deref(),
        Some("alice")
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'operator.key_add' AND operator = 'root'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    // Removing the operator takes their keys (and says so in the audit row).
    assert!(
        lsn_ops::store::operators::remove(&pool, &Actor::new("root"), "alice")
            .await
            .expect("removed")
    );
    assert_eq!(
        operator_keys::owner_of(&pool, &key.fingerprint)
            .await
            .expect("owner"),
        None
    );
    pool.close().await;
}
