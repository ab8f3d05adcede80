//! `lsn-ops demo` end to end in tmux: the dashboard changes by itself within
//! seconds (orders arrive through the simulators, the worker and the database),
//! and `q` quits with the terminal restored.

use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lsn-ops");

fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The "Orders N" figure of the header, if the header is on screen.
fn orders_on_screen(screen: &str) -> Option<u64> {
    let rest = screen.split("Orders ").nth(1)?;
    rest.split_whitespace()
        .next()?
        .replace(',', "")
        .parse()
        .ok()
}

fn wait_for(
    socket: &str,
    what: &str,
    within: Duration,
    mut check: impl FnMut(&str) -> bool,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let screen = tmux(socket, &["capture-pane", "-p", "-t", "demo"]);
        if check(&screen) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen within {within:?}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_demo_dashboard_changes_by_itself() {
    let name = format!("lsn_ops_demo_e2e_{}", std::process::id());
    let (base, _) = server_url()
        .rsplit_once('/')
        .map(|(b, d)| (b.to_string(), d.to_string()))
        .expect("url");
    let url = format!("{base}/{name}");
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let socket = format!("lsn-demo-{}", std::process::id());
    // The demo creates the database itself; make sure none is left from an earlier run.
    let _ = Command::new("psql")
        .args([
            &server_url(),
            "-qc",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ])
        .output();

    let command = format!(
        "env DATABASE_URL='{url}' LSN_OPS_LOG__DIR='{}' LSN_OPS_TUI__REFRESH_MS=60000 '{BIN}' demo; echo DEMO-EXITED $?; sleep 30",
        dir.join("logs").display()
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            "120",
            "-y",
            "40",
            &command,
        ],
    );
    let first = wait_for(&socket, "the dashboard", Duration::from_secs(120), |s| {
        orders_on_screen(s).is_some()
    });
    let before = orders_on_screen(&first).unwrap_or(0);
    // With the poll at a minute, a change on screen comes through NOTIFY from the worker.
    let later = wait_for(&socket, "a new order", Duration::from_secs(30), |s| {
        orders_on_screen(s).is_some_and(|n| n > before)
    });
    assert!(later.contains("LIVE"), "the live show is on screen");

    tmux(&socket, &["send-keys", "-t", "demo", "q"]);
    let exited = wait_for(&socket, "the demo to exit", Duration::from_secs(30), |s| {
        s.contains("DEMO-EXITED")
    });
    assert!(exited.contains("DEMO-EXITED 0"), "{exited}");
    assert!(
        !exited.contains("LSN OPS"),
        "the alternate screen is gone after quitting"
    );

    tmux(&socket, &["kill-server"]);
    let _ = Command::new("psql")
        .args([
            &server_url(),
            "-qc",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ])
        .output();
    let _ = std::fs::remove_dir_all(&dir);
}
