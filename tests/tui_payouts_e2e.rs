//! Issue 12, tried as a new user would: in `lsn-ops demo` (the worker, the
//! Wise simulator and its webhooks all running), this week's batch is
//! generated from pane 4 by the demo's operator, approved from a second
//! dashboard by another OS account (finance), the maker's own approval having
//! been refused, processed after a confirmation that says the amount, and
//! the lines turn paid on screen as the simulator's webhooks arrive.
//!
//! The second account is `nobody` (through `setpriv`, which needs root; CI
//! runs as root); as another user the test says why and returns.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{BIN, Dashboard, TestDb, Tmux, workdir};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn generate_in_the_demo_approve_as_a_second_account_process_and_watch_lines_paid() {
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: not root, so the test cannot run a dashboard as another OS account");
        return;
    }
    let db = TestDb::create("payui").await;
    let dir = workdir("payui");
    // The binary where `nobody` can run it.
    let bin = dir.join("lsn-ops");
    std::fs::copy(BIN, &bin).expect("copy the binary");
    for (path, mode) in [(&dir, 0o755), (&bin, 0o755)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    std::fs::set_permissions(dir.join("logs"), std::fs::Permissions::from_mode(0o777))
        .expect("chmod logs");
    std::fs::set_permissions(
        dir.join("config.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod config");
    let cfg = dir.join("config.toml");
    // The data set first, so that the account running the tests can be its
    // admin (the demo then finds the database seeded and keeps it).
    db.seed(&dir);
    db.register_os_admin().await;
    let env: &[(&str, &str)] = &[("LSN_OPS_TUI__REFRESH_MS", "500")];

    // The maker: the demo's own dashboard, as the account running the tests.
    let maker = Tmux::start_script(
        &Dashboard {
            tag: "payui-maker",
            width: 140,
            height: 40,
            operator: "",
            env,
        },
        &dir,
        &db.url(),
        &format!(
            "{} --config {} demo; echo EXIT=$?; sleep 600",
            bin.display(),
            cfg.display()
        ),
    );
    let me = lsn_ops::identity::os_account();
    maker
        .wait_text(&format!("{me} (admin)"), Duration::from_secs(180))
        .await;
    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ('nobody', 'finance', 'test')
         ON CONFLICT (name) DO UPDATE SET role = 'finance'",
    )
    .execute(&mut conn)
    .await
    .expect("nobody is finance");

    // Generate this week's batch from pane 4.
    // Pane 4 holds last week's batch (one bounced line) until this week's is generated.
    maker
        .wait_text("partially_failed", Duration::from_secs(30))
        .await;
    maker.keys(&["4"]);
    maker.keys(&["n"]);
    let s = maker
        .wait_for("the batch generated", Duration::from_secs(30), |s| {
            s.contains(" generated") && s.contains("lines, $")
        })
        .await;
    assert!(s.contains("pending"), "lines wait to be paid:\n{s}");
    let (batch, lines): (i64, i64) = sqlx::query_as(
        "SELECT b.id, count(i.id) FILTER (WHERE i.state = 'pending')
           FROM payout_batches b JOIN payout_items i ON i.batch_id = b.id
          WHERE b.state = 'generated' GROUP BY b.id",
    )
    .fetch_one(&mut conn)
    .await
    .expect("the generated batch");
    assert!(lines > 1, "{lines} pending lines");

    // The maker cannot approve their own batch: said, nothing changes.
    maker
        .wait_text(&format!("#{batch} generated ·"), Duration::from_secs(10))
        .await;
    maker.keys(&["a"]);
    maker
        .wait_text("Approve batch #", Duration::from_secs(10))
        .await;
    maker.keys(&["y"]);
    maker
        .wait_text("must approve it (maker-checker)", Duration::from_secs(10))
        .await;

    // The checker: another OS account, finance, in a dashboard of its own.
    let checker = Tmux::start_script(
        &Dashboard {
            tag: "payui-checker",
            width: 140,
            height: 40,
            operator: "",
            env,
        },
        &dir,
        &db.url(),
        &format!(
            "setpriv --reuid=nobody --regid=nogroup --clear-groups -- {} --config {} tui; echo EXIT=$?; sleep 600",
            bin.display(),
            cfg.display()
        ),
    );
    checker
        .wait_for("the checker's data", Duration::from_secs(30), |s| {
            s.contains("nobody (finance)") && s.contains(&format!("#{batch} generated"))
        })
        .await;
    checker.keys(&["4"]);
    checker.keys(&["a"]);
    let s = checker
        .wait_text(
            &format!("Approve batch #{batch} ("),
            Duration::from_secs(10),
        )
        .await;
    assert!(s.contains("Confirm"), "{s}");
    checker.keys(&["y"]);
    checker
        .wait_text(&format!("batch #{batch} approved"), Duration::from_secs(15))
        .await;

    // Process: the confirmation says how much goes to how many lines.
    checker.keys(&["p"]);
    let s = checker
        .wait_text("through Wise", Duration::from_secs(10))
        .await;
    assert!(
        s.contains(&format!("to {lines} creator line(s) of batch #{batch}")),
        "{s}"
    );
    checker.keys(&["y"]);
    // The demo's worker pays through the Wise simulator; its webhooks turn
    // the lines paid, on both screens.
    checker
        .wait_for("every line paid", Duration::from_secs(90), |s| {
            s.contains(&format!("#{batch} completed"))
        })
        .await;
    maker
        .wait_for("the maker sees it too", Duration::from_secs(30), |s| {
            s.contains(&format!("#{batch} completed"))
        })
        .await;

    let (sent, approved_by, generated_by): (i64, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payout_items WHERE batch_id = $1 AND state = 'sent'),
                approved_by, generated_by FROM payout_batches WHERE id = $1",
    )
    .bind(batch)
    .fetch_one(&mut conn)
    .await
    .expect("batch");
    assert_eq!(sent, lines, "every pending line paid once");
    assert_eq!(approved_by.as_deref(), Some("nobody"));
    assert_eq!(generated_by.as_deref(), Some(me.as_str()));
    maker.keys(&["q"]);
    checker.keys(&["q"]);
    let _ = std::fs::remove_dir_all(&dir);
}
