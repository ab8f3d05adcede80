//! End to end: the real binary in tmux against a freshly seeded database.
//! `send-keys` in, `capture-pane` out, polled against a deadline (no fixed
//! sleeps for correctness). Each test has its own database, tmux socket and
//! log directory, all removed at the end.
//!
//! - the five panes, `?`, `/`, `3` + Enter, the too-small screen, `q` with the
//!   terminal restored;
//! - a row inserted by SQL shows up through LISTEN/NOTIFY while the poll
//!   interval is a minute;
//! - the database cut off (through a TCP proxy in this process, so the shared
//!   PostgreSQL keeps running) and back: the screen stays, turns red, recovers
//!   with no key pressed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const BIN: &str = env!("CARGO_BIN_EXE_lsn-ops");
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PG_ADDR: &str = "127.0.0.1:5432";

/// A fresh database, dropped (with its connections) when the test ends.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create(tag: &str) -> TestDb {
        let name = format!("lsn_tui_{tag}_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(ADMIN_URL)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&mut conn)
            .await
            .expect("drop old database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("create database");
        TestDb { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    fn url_via(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{}", self.name)
    }

    /// `lsn-ops seed` (which migrates first), the real seeder.
    fn seed(&self, dir: &std::path::Path) {
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

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"])
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// A temporary directory with an empty config file (so no stray ./config.toml
/// is read) and the log directory.
fn workdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lsn-tui-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).expect("temp dir");
    std::fs::write(dir.join("config.toml"), "").expect("config file");
    dir
}

/// One tmux server (own socket) running the dashboard in a session "main".
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(tag: &str, width: u16, height: u16, dir: &std::path::Path, url: &str) -> Tmux {
        let socket = format!("lsn-tui-{tag}-{}", std::process::id());
        let _ = Command::new("tmux")
            .args(["-L", &socket, "kill-server"])
            .output();
        // After the dashboard exits, the shell reports the exit code and the
        // terminal mode, then waits so the pane can still be read.
        let script = format!(
            "{BIN} --config {cfg} tui --operator e2e; echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 600",
            cfg = dir.join("config.toml").display()
        );
        let out = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["-e", "LANG=C.UTF-8", "-e", "TERM=tmux-256color"])
            .args(["-e", &format!("DATABASE_URL={url}")])
            .args([
                "-e",
                &format!("LSN_OPS_LOG__DIR={}", dir.join("logs").display()),
            ])
            // The poll is a minute: anything sooner came through LISTEN/NOTIFY.
            .args(["-e", "LSN_OPS_TUI__REFRESH_MS=60000"])
            .args(["-e", "LSN_OPS_DATABASE__CONNECT_TIMEOUT_S=2"])
            .arg(script)
            .output()
            .expect("tmux");
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

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }

    /// Polls the screen until `pred` holds; panics with the last screen at the deadline.
    async fn wait_for(&self, what: &str, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_text(&self, text: &str, within: Duration) -> String {
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

const UP: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_tmux_panes_keys_notify_resize_quit() {
    let dir = workdir("e2e");
    let db = TestDb::create("e2e").await;
    db.seed(&dir);
    let t = Tmux::start("e2e", 120, 40, &dir, &db.url());

    // All five panes with data (polled as a whole: a capture can catch a frame
    // half drawn).
    let panes = [
        ("1 Alerts", "Checkout API"),
        ("2 Shows", "LIVE"),
        ("3 Disputes", "EVIDENCE_"),
        ("4 Payouts", "pending"),
        ("5 Fraud", "LSN-"),
    ];
    t.wait_for("five panes with data", UP, |s| {
        s.contains("db ok")
            && panes
                .iter()
                .all(|(pane, data)| s.contains(pane) && s.contains(data))
    })
    .await;

    // ? shows the help; any key closes it.
    t.keys(&["?"]);
    t.wait_text("any key closes", UP).await;
    t.keys(&["Escape"]);
    t.wait_for("help closed", UP, |s| !s.contains("any key closes"))
        .await;

    // / filters the alerts pane live; Esc clears.
    t.keys(&["1", "/", "p", "a", "y", "o", "u", "t"]);
    t.wait_for("the filter", UP, |s| {
        s.contains("/payout") && !s.contains("Checkout API") && s.contains("Creator payout")
    })
    .await;
    t.keys(&["Escape"]);
    t.wait_text("Checkout API", UP).await;

    // 3 then Enter: a dispute's detail.
    t.keys(&["3", "Enter"]);
    t.wait_for("a dispute's detail", UP, |s| {
        s.contains("Disputes detail") && s.contains("Internal SLA") && s.contains("Evidence:")
    })
    .await;
    t.keys(&["Escape"]);
    t.wait_for("detail closed", UP, |s| !s.contains("Disputes detail"))
        .await;

    // A row inserted by SQL arrives by NOTIFY (the poll is a minute away).
    t.wait_for("a quiet moment", UP, |s| s.contains("db ok"))
        .await;
    let mut conn = sqlx::PgConnection::connect(&db.url()).await.expect("db");
    let inserted = Instant::now();
    sqlx::query(
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title)
         VALUES ('e2e', 'e2e-notify', 'critical', 'P0', 'E2E notify probe')",
    )
    .execute(&mut conn)
    .await
    .expect("insert alert");
    t.wait_text("E2E notify probe", Duration::from_secs(30))
        .await;
    eprintln!(
        "NOTIFY: row on screen {} ms after the INSERT (poll interval 60000 ms)",
        inserted.elapsed().as_millis()
    );

    // Resize to 20x5: the too-small screen; back to 120x40: the dashboard.
    t.tmux(&["resize-window", "-t", "main", "-x", "20", "-y", "5"]);
    t.wait_text("too small", UP).await;
    t.tmux(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]);
    t.wait_text("5 Fraud", UP).await;

    // q quits; the shell behind it finds a cooked terminal on the main screen.
    t.keys(&["q"]);
    let end = t
        .wait_for("the exit code and terminal mode", UP, |s| {
            s.contains("EXIT=0") && s.lines().any(|l| l.trim().ends_with("icanon"))
        })
        .await;
    assert!(
        end.lines().any(|l| l.trim() == "icanon"),
        "raw mode left on:\n{end}"
    );
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "main", "#{alternate_on}"])
            .trim(),
        "0"
    );
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "main", "#{cursor_flag}"])
            .trim(),
        "1"
    );
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "main", "#{mouse_any_flag}"])
            .trim(),
        "0"
    );
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TCP proxy to PostgreSQL that can be cut (existing connections closed,
/// new ones refused at once) and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(PG_ADDR).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Proxy { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_keeps_the_screen_and_recovers_by_itself() {
    let dir = workdir("outage");
    let db = TestDb::create("outage").await;
    db.seed(&dir);
    let proxy = Proxy::start().await;
    let t = Tmux::start("outage", 120, 40, &dir, &db.url_via(proxy.port));
    t.wait_text("db ok", UP).await;
    t.wait_text("LIVE", UP).await;

    proxy.cut();
    // The last data stays on screen while the header shows how old it is.
    t.wait_for("the outage, over the last data", UP, |s| {
        s.contains("database unreachable since") && s.contains("LIVE") && s.contains("5 Fraud")
    })
    .await;
    t.wait_for("the data age", UP, |s| {
        s.lines()
            .any(|l| l.contains("unreachable since") && l.contains(" s old"))
    })
    .await;

    // Back up: no key pressed, the dashboard reconnects and says so.
    proxy.restore();
    t.wait_for("recovery", Duration::from_secs(30), |s| {
        s.contains("db ok") && !s.contains("unreachable")
    })
    .await;
    // And it is live again: a change arrives by NOTIFY on the new connection.
    let mut conn = sqlx::PgConnection::connect(&db.url()).await.expect("db");
    sqlx::query(
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title)
         VALUES ('e2e', 'e2e-after-outage', 'critical', 'P0', 'After the outage')",
    )
    .execute(&mut conn)
    .await
    .expect("insert alert");
    t.wait_text("After the outage", Duration::from_secs(30))
        .await;

    t.keys(&["q"]);
    t.wait_text("EXIT=0", UP).await;
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}
