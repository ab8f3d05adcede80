//! Issue 11, tried as a new user would: `lsn-ops demo` runs (the worker and
//! the PayPal simulator, which knows the seed's open disputes); a second OS
//! account, `nobody`, an agent, opens pane 3 in a dashboard of its own, goes
//! to a dispute whose evidence is ready, reads its seven items and its pack,
//! submits it with `s` (confirmed), and sees SUBMITTED with who and when; a
//! second `s` is refused with who and when. Then `lsn-ops disputes pack ID
//! --out FILE` writes the PDF, and `pdftotext` shows the order number and
//! every item.
//!
//! `nobody` runs through `setpriv` (needs root; CI runs as root); as another
//! user the test says why and returns.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{BIN, Dashboard, TestDb, Tmux, workdir};
use lsn_ops::domain::disputes::EVIDENCE_ITEMS;
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn an_agent_reads_a_disputes_evidence_submits_it_and_exports_the_pack() {
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: not root, so the test cannot run a dashboard as another OS account");
        return;
    }
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_err()
    {
        panic!("pdftotext is missing: apt-get install poppler-utils (scripts/test installs it)");
    }
    let db = TestDb::create("dispui").await;
    let dir = workdir("dispui");
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
    db.seed(&dir);
    db.register_os_admin().await;
    let env: &[(&str, &str)] = &[("LSN_OPS_TUI__REFRESH_MS", "500")];

    let demo = Tmux::start_script(
        &Dashboard {
            tag: "dispui-demo",
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
    demo.wait_text(&format!("{me} (admin)"), Duration::from_secs(180))
        .await;
    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ('nobody', 'agent', 'test')
         ON CONFLICT (name) DO UPDATE SET role = 'agent'",
    )
    .execute(&mut conn)
    .await
    .expect("nobody is an agent");
    // A dispute whose evidence is ready and that waits for a person (the
    // worker will not auto-submit it during the test: its internal deadline
    // is more than an hour away, or PayPal's is under 48 h).
    let (id, paypal_id, order): (i64, String, String) = sqlx::query_as(
        "SELECT d.id, d.paypal_dispute_id, o.order_number FROM disputes d JOIN orders o ON o.id = d.order_id
          WHERE d.state = 'EVIDENCE_READY' AND d.submit_requested_at IS NULL
            AND (d.sla_due_at > now() + interval '1 hour' OR d.seller_response_due_at < now() + interval '47 hours')
          ORDER BY d.id LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .expect("a ready dispute waiting for a person");

    let agent = Tmux::start_script(
        &Dashboard {
            tag: "dispui-agent",
            width: 140,
            height: 45,
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
    agent
        .wait_text("nobody (agent)", Duration::from_secs(30))
        .await;
    agent.keys(&["3"]);
    agent.keys(&[":"]);
    agent.keys(&["-l", &format!("dispute {paypal_id}")]);
    agent.keys(&["Enter"]);
    // Its detail: the case, then the seven items with their sources.
    let s = agent
        .wait_for("the dispute's evidence", Duration::from_secs(20), |s| {
            s.contains(&format!("#{id} {paypal_id}")) && s.contains("Evidence: ")
        })
        .await;
    assert!(s.contains("EVIDENCE_READY"), "{s}");
    assert!(s.contains("1. Order confirmation email"), "{s}");
    assert!(s.contains("source: orders"), "{s}");

    // Submit: said in full, confirmed, sent once.
    agent.keys(&["s"]);
    agent
        .wait_text(
            &format!("Submit the evidence of {paypal_id}"),
            Duration::from_secs(10),
        )
        .await;
    agent.keys(&["y"]);
    let s = agent
        .wait_for(
            "SUBMITTED with who and when",
            Duration::from_secs(60),
            |s| s.contains("SUBMITTED") && s.contains("submitted by nobody at"),
        )
        .await;
    assert!(s.contains(&paypal_id), "{s}");
    agent.keys(&["s"]);
    agent
        .wait_text("already submitted by nobody at", Duration::from_secs(10))
        .await;
    let (state, by, sent): (String, Option<String>, String) = sqlx::query_as(
        "SELECT d.state, d.submit_requested_by, c.state FROM disputes d JOIN commands c ON c.id = d.submit_command_id
          WHERE d.id = $1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .expect("the submission");
    assert_eq!(
        (state.as_str(), by.as_deref(), sent.as_str()),
        ("SUBMITTED", Some("nobody"), "succeeded")
    );
    let commands: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM commands WHERE kind = 'paypal_provide_evidence' AND payload->>'dispute_id' = $1",
    )
    .bind(id.to_string())
    .fetch_one(&mut conn)
    .await
    .expect("commands");
    assert_eq!(commands, 1);

    // The pack, exported by the same account and read back as text.
    let pdf = dir.join("pack.pdf");
    // nobody may not write in the test's directory: a directory of its own.
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).expect("out dir");
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        .arg("--config")
        .arg(&cfg)
        .args(["disputes", "pack", &id.to_string(), "--out"])
        .arg(out_dir.join("pack.pdf"))
        .env("DATABASE_URL", db.url())
        .env("LSN_OPS_LOG__DIR", dir.join("logs"))
        .output()
        .expect("disputes pack");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(out_dir.join("pack.pdf"), &pdf).expect("the pack");
    let text = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&order), "the order number:\n{text}");
    for (n, (_, label)) in EVIDENCE_ITEMS.iter().enumerate() {
        assert!(
            text.contains(&format!("{}. {label}:", n + 1)),
            "item {label}:\n{text}"
        );
    }
    agent.keys(&["q"]);
    demo.keys(&["q"]);
    let _ = std::fs::remove_dir_all(&dir);
}
