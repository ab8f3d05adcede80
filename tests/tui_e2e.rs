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

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Dashboard, TestDb, Tmux, server_addr, workdir};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The dashboard as these tests run it: the poll is a minute, so anything
/// sooner came through LISTEN/NOTIFY; connection attempts give up after 2 s.
fn dashboard(tag: &str) -> Dashboard<'_> {
    Dashboard {
        tag,
        width: 120,
        height: 40,
        operator: "e2e",
        env: &[
            ("LSN_OPS_TUI__REFRESH_MS", "60000"),
            ("LSN_OPS_DATABASE__CONNECT_TIMEOUT_S", "2"),
        ],
    }
}

const UP: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_tmux_panes_keys_notify_resize_quit() {
    let dir = workdir("e2e");
    let db = TestDb::create("e2e").await;
    db.seed(&dir);
    db.register_os_admin().await;
    let t = Tmux::start(&dashboard("e2e"), &dir, &db.url());

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
                    let Ok(mut server) = TcpStream::connect(server_addr()).await else {
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
    db.register_os_admin().await;
    let proxy = Proxy::start().await;
    let t = Tmux::start(&dashboard("outage"), &dir, &db.url_via(proxy.port));
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
