//! End to end in tmux: the habits operators bring from k9s, gitui and htop.
//!
//! - a key rebound in the config's `[keys]` moves the action (the old key is
//!   inert, the new one works, `?` shows it);
//! - `y` on a fraud row writes an OSC 52 sequence holding the order number
//!   (captured from the pane's output with `tmux pipe-pane`);
//! - `f` freezes the screen: an alert inserted meanwhile appears only after
//!   `f` again;
//! - `:fraud NUMBER` opens that order of the queue.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{Dashboard, TestDb, Tmux, workdir};
use sqlx::Connection;

const UP: Duration = Duration::from_secs(20);

fn dashboard(tag: &str) -> Dashboard<'_> {
    Dashboard {
        tag,
        width: 120,
        height: 40,
        operator: "e2e",
        env: &[("LSN_OPS_TUI__REFRESH_MS", "60000")],
    }
}

/// The order number on the first fraud row of the screen.
fn first_order(screen: &str) -> String {
    screen
        .lines()
        .skip_while(|l| !l.contains("5 Fraud"))
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("LSN-"))
                .map(str::to_string)
        })
        .expect("an order on screen")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebound_keys_copy_freeze_and_order_command() {
    let dir = workdir("ergo");
    std::fs::write(
        dir.join("config.toml"),
        "[keys]\nquit = \"Q\"\nzoom = \"Z\"\n",
    )
    .expect("config");
    let db = TestDb::create("ergo").await;
    db.seed(&dir);
    // `--operator e2e` needs the OS account to be an admin.
    db.register_os_admin().await;
    let t = Tmux::start(&dashboard("ergo"), &dir, &db.url());
    let s = t
        .wait_for("the dashboard", UP, |s| {
            s.contains("db ok") && s.contains("5 Fraud") && s.contains("LSN-")
        })
        .await;
    // The footer shows the rebound keys.
    assert!(s.contains("Z zoom") && s.contains("Q quit"), "{s}");

    // y on the first fraud row: OSC 52 with its order number, out of the pane.
    let osc = dir.join("pane-output");
    t.tmux(&[
        "pipe-pane",
        "-o",
        "-t",
        "main",
        &format!("cat >> {}", osc.display()),
    ]);
    t.keys(&["5"]);
    let s = t
        .wait_for("the Fraud pane focused", UP, |s| s.contains("▶"))
        .await;
    let number = first_order(&s);
    t.keys(&["y"]);
    t.wait_text(&format!("copied {number}"), UP).await;
    let mut copied = None;
    for _ in 0..100 {
        let out = std::fs::read(&osc).unwrap_or_default();
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(start) = text.find("\x1b]52;c;") {
            let rest = &text[start + 7..];
            if let Some(end) = rest.find(['\x07', '\x1b']) {
                copied = Some(rest[..end].to_string());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b64 = copied.expect("an OSC 52 sequence in the pane's output");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .expect("base64");
    assert_eq!(String::from_utf8_lossy(&decoded), number);
    t.tmux(&["pipe-pane", "-t", "main"]);

    // The old zoom key is inert, the new one zooms; ? lists the new key.
    t.keys(&["1", "z"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // (Unzoomed, pane 2 has its box; zoomed, only its tab is left.)
    assert!(t.screen().contains("╭ 2 Shows"), "z must no longer zoom");
    t.keys(&["Z"]);
    t.wait_for("zoomed on alerts", UP, |s| !s.contains("╭ 2 Shows"))
        .await;
    t.keys(&["?"]);
    let help = t.wait_text("any key closes", UP).await;
    assert!(
        help.lines()
            .any(|l| l.contains(" Z  zoom the pane") || l.contains("Z  zoom the pane")),
        "{help}"
    );
    t.keys(&["j"]);
    t.wait_for("help closed", UP, |s| !s.contains("any key closes"))
        .await;

    // f freezes: an alert inserted now stays off screen until f again.
    t.keys(&["f"]);
    t.wait_text("FROZEN", UP).await;
    let mut conn = sqlx::PgConnection::connect(&db.url()).await.expect("db");
    sqlx::query(
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title)
         VALUES ('e2e', 'e2e-frozen', 'critical', 'P0', 'Arrived while frozen')",
    )
    .execute(&mut conn)
    .await
    .expect("insert alert");
    // The change has reached the dashboard (it says newer data is waiting)...
    t.wait_text("newer waiting", Duration::from_secs(30)).await;
    assert!(!t.screen().contains("Arrived while frozen"));
    // ...and shows once unfrozen.
    t.keys(&["f"]);
    t.wait_for("the alert after unfreezing", UP, |s| {
        s.contains("Arrived while frozen") && !s.contains("FROZEN")
    })
    .await;

    // :fraud N opens an order of the queue.
    let order = number.clone();
    t.keys(&["Z", ":"]);
    t.keys(&["-l", &format!("fraud {order}")]);
    t.keys(&["Enter"]);
    t.wait_for("the order open", UP, |s| {
        s.contains("Fraud detail") && s.contains(&format!("{order} (#"))
    })
    .await;
    t.escape("the detail closed", |s| !s.contains("Fraud detail"))
        .await;

    // q is inert now; Q quits.
    t.keys(&["q"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!t.screen().contains("EXIT="), "q must no longer quit");
    t.keys(&["Q"]);
    t.wait_text("EXIT=0", UP).await;
}

/// A `[keys]` mistake stops the dashboard before it takes the terminal:
/// exit 2, one line naming the file, the key and the clash.
#[test]
fn a_bad_rebinding_is_exit_2_naming_file_key_and_clash() {
    let dir = workdir("ergo-bad");
    let cfg = dir.join("config.toml");
    for (text, want) in [
        (
            "[keys]\nquit = \"j\"\n",
            "[keys] quit: j is already the key of down",
        ),
        (
            "[keys]\nquitt = \"Q\"\n",
            "[keys] quitt: unknown action (did you mean \"quit\"?)",
        ),
        ("[keys]\napprove = \"hyper-a\"\n", "is not a key"),
    ] {
        std::fs::write(&cfg, text).expect("config");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lsn-ops"))
            .args(["--config", &cfg.to_string_lossy(), "tui"])
            .env("DATABASE_URL", "postgres://127.0.0.1:9/none")
            .env("LSN_OPS_LOG__DIR", dir.join("logs"))
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&*cfg.to_string_lossy()), "{err}");
        assert!(err.contains(want), "{err}");
    }
}
