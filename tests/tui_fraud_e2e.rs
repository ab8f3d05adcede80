//! End to end: an analyst (`--operator alice`, an agent) clears 20 seeded
//! high-risk orders in the real dashboard in tmux with the keyboard alone:
//! Enter opens the first order, then `a`/`r`/`d` with a template reason, and
//! each Enter opens the next order. Then the database must hold 20 decisions
//! by alice with reasons, one PayPal refund command per decline, and the
//! blocklist entries the declines asked for.
//!
//! Own database, own tmux socket, own log directory; the screen is polled
//! against deadlines (no fixed sleeps for correctness). The server comes from
//! `LSN_OPS_TEST_PG_BASE` or `DATABASE_URL` (as `scripts/test` sets them).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Dashboard, TestDb, Tmux, workdir};
use sqlx::{Connection, PgConnection};

/// alice, an agent, at 120x40.
fn dashboard(dir: &std::path::Path) -> Dashboard<'_> {
    Dashboard {
        tag: dir.file_name().and_then(|n| n.to_str()).unwrap_or("fraud"),
        width: 120,
        height: 40,
        operator: "alice",
        // Seeded orders go up to ~$1,000; this analyst may refund them all.
        env: &[("LSN_OPS_OPS__AGENT_REFUND_LIMIT_MINOR", "100000000")],
    }
}

const UP: Duration = Duration::from_secs(20);

async fn decisions_by_alice(conn: &mut PgConnection, since: chrono::DateTime<chrono::Utc>) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM fraud_decisions WHERE operator = 'alice' AND decided_at >= $1",
    )
    .bind(since)
    .fetch_one(conn)
    .await
    .expect("count decisions")
}

/// A seeded database (its own name) and the dashboard's queue order.
async fn seeded(tag: &str) -> (TestDb, PathBuf, PgConnection, Vec<(i64, String)>) {
    let db = TestDb::create(tag).await;
    let dir = workdir(tag);
    db.seed(&dir);
    // The OS account running the test acts as alice (`--operator`): an admin.
    db.register_os_admin().await;
    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");
    // The queue as the dashboard lists it: highest score first, then oldest.
    let queue: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, order_number FROM orders
          WHERE fraud_state IN ('pending', 'review') AND fraud_score > 70
          ORDER BY fraud_score DESC, created_at, id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("queue");
    (db, dir, conn, queue)
}

/// Someone else's claim shows and blocks; Space marks two orders for one
/// decline; `u` undoes the last decision, and says "too late" once the refund
/// has been attempted at PayPal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_bulk_decline_and_undo_on_screen() {
    let (db, dir, mut conn, queue) = seeded("safety").await;
    assert!(queue.len() >= 3);
    sqlx::query(
        "INSERT INTO fraud_claims (order_id, operator, expires_at) VALUES ($1, 'dana', now() + interval '5 minutes')",
    )
    .bind(queue[0].0)
    .execute(&mut conn)
    .await
    .expect("dana's claim");
    let t = Tmux::start(&dashboard(&dir), &dir, &db.url());
    t.wait_for("the dashboard as alice", UP, |s| {
        s.contains("alice (agent)")
    })
    .await;
    t.keys(&["5", "z"]);
    t.wait_for("dana's claim in the list", UP, |s| s.contains("by dana"))
        .await;
    t.keys(&["Enter"]);
    t.wait_for("being reviewed by dana", UP, |s| {
        s.contains("Fraud detail") && s.contains("being reviewed by dana")
    })
    .await;
    t.keys(&["a"]);
    let s = t.screen();
    assert!(!s.contains("Approve ━"), "no dialog on dana's order:\n{s}");
    t.escape("the detail closed", |s| !s.contains("Fraud detail"))
        .await;
    t.keys(&["j", "Space", "Space"]);
    t.wait_for("two marked", UP, |s| s.contains("2 marked"))
        .await;
    t.keys(&["d"]);
    t.wait_for("the bulk decline dialog", UP, |s| s.contains("2 orders"))
        .await;
    t.keys(&["2", "Enter"]);
    t.wait_for("two declined", UP, |s| s.contains("declined 2 orders"))
        .await;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT order_id, reason FROM fraud_decisions WHERE operator = 'alice' AND decision = 'decline'
            AND undone_at IS NULL AND order_id = ANY($1) ORDER BY order_id",
    )
    .bind(vec![queue[1].0, queue[2].0])
    .fetch_all(&mut conn)
    .await
    .expect("declines");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].1, rows[1].1, "one reason for the bulk");

    t.keys(&["u"]);
    t.wait_for("undone", UP, |s| s.contains("undone:")).await;
    // The other decline's refund has now been tried at PayPal: too late.
    sqlx::query(
        "UPDATE commands SET attempts = 1 WHERE id IN (SELECT command_id FROM fraud_decisions
            WHERE operator = 'alice' AND undone_at IS NULL AND order_id = ANY($1))",
    )
    .bind(vec![queue[1].0, queue[2].0])
    .execute(&mut conn)
    .await
    .expect("attempted");
    t.keys(&["u"]);
    t.wait_for("too late to undo", UP, |s| s.contains("too late to undo"))
        .await;
    let undone: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM fraud_decisions WHERE operator = 'alice' AND undone_at IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .expect("undone");
    assert_eq!(undone, 1);
    t.keys(&["q"]);
    t.wait_for("the dashboard to quit", UP, |s| s.contains("EXIT=0"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_clears_twenty_high_risk_orders_with_the_keyboard() {
    let (db, dir, mut conn, queue) = seeded("clear").await;
    assert!(
        queue.len() >= 20,
        "seed made {} high-risk orders",
        queue.len()
    );
    let start: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut conn)
        .await
        .expect("now");

    let t = Tmux::start(&dashboard(&dir), &dir, &db.url());
    t.wait_for("the dashboard as alice", UP, |s| {
        s.contains("alice (agent)")
    })
    .await;
    t.keys(&["5", "z"]);
    t.wait_for("the fraud queue", UP, |s| {
        s.contains("5 Fraud (highest first)") && s.contains(&queue[0].1)
    })
    .await;
    t.keys(&["Enter"]);
    t.wait_for("the first order open", UP, |s| {
        s.contains("Fraud detail") && s.contains(&format!("{} (#", queue[0].1))
    })
    .await;

    let mut declines = 0;
    for (i, (_, number)) in queue.iter().take(20).enumerate() {
        // The order on screen is the next one in the queue.
        t.wait_for(&format!("order {number} open"), UP, |s| {
            s.contains("Fraud detail") && s.contains(&format!("{number} (#"))
        })
        .await;
        match i % 3 {
            0 => {
                t.keys(&["a"]);
                t.wait_for("the approve dialog", UP, |s| s.contains("Approve ━"))
                    .await;
                t.keys(&["1"]);
            }
            1 => {
                t.keys(&["r"]);
                t.wait_for("the review dialog", UP, |s| s.contains("Review (hold)"))
                    .await;
                t.keys(&["Tab", "2"]);
                t.wait_for("48h picked", UP, |s| s.contains("[x] 48h"))
                    .await;
            }
            _ => {
                declines += 1;
                t.keys(&["d"]);
                t.wait_for("the decline dialog", UP, |s| {
                    s.contains("Decline (refund now)")
                })
                .await;
                t.keys(&["M-i"]);
                t.wait_for("IP toggled", UP, |s| s.contains("[x] IP")).await;
                t.keys(&["M-e"]);
                t.wait_for("email toggled", UP, |s| s.contains("[x] email"))
                    .await;
                t.keys(&["3"]);
            }
        }
        t.wait_for("a reason from the template", UP, |s| {
            !s.contains("type a reason, or press a digit")
        })
        .await;
        t.keys(&["Enter"]);
        // The decision lands in the database; the screen never waited for it.
        let deadline = Instant::now() + UP;
        while decisions_by_alice(&mut conn, start).await < i as i64 + 1 {
            assert!(
                Instant::now() < deadline,
                "decision {} not stored; screen:\n{}",
                i + 1,
                t.screen()
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let s = t.screen();
    assert!(!s.contains("already decided"), "{s}");

    // 20 decisions by alice, with reasons, on exactly the first 20 orders.
    let rows: Vec<(i64, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT order_id, decision, reason, command_id FROM fraud_decisions
          WHERE operator = 'alice' AND decided_at >= $1 AND undone_at IS NULL ORDER BY id",
    )
    .bind(start)
    .fetch_all(&mut conn)
    .await
    .expect("decisions");
    assert_eq!(rows.len(), 20);
    let mut got: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut want: Vec<i64> = queue.iter().take(20).map(|q| q.0).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "the decided orders are the top of the queue");
    assert!(rows.iter().all(|r| !r.2.trim().is_empty()));
    let kinds = |k: &str| rows.iter().filter(|r| r.1 == k).count();
    assert_eq!(kinds("approve"), 7);
    assert_eq!(kinds("review"), 7);
    assert_eq!(kinds("decline"), declines);

    // One PayPal refund command per decline.
    let refunds: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM fraud_decisions d JOIN commands c ON c.id = d.command_id
          WHERE d.operator = 'alice' AND d.decided_at >= $1 AND d.decision = 'decline'
            AND c.kind = 'paypal_refund'",
    )
    .bind(start)
    .fetch_one(&mut conn)
    .await
    .expect("refund commands");
    assert_eq!(refunds, declines as i64);

    // Every declined order's IP and email are on the blocklist (an address
    // shared by two declined orders is one entry).
    let missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM fraud_decisions d JOIN orders o ON o.id = d.order_id
          CROSS JOIN (VALUES ('ip'), ('email')) k(kind)
          WHERE d.operator = 'alice' AND d.decided_at >= $1 AND d.decision = 'decline'
            AND NOT EXISTS (SELECT 1 FROM blocklist b
                             WHERE b.kind = k.kind AND b.removed_at IS NULL
                               AND b.value = CASE k.kind WHEN 'ip' THEN host(o.ip) ELSE o.email END)",
    )
    .bind(start)
    .fetch_one(&mut conn)
    .await
    .expect("blocklist");
    assert_eq!(missing, 0);
    let added: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM blocklist WHERE added_by = 'alice' AND added_at >= $1",
    )
    .bind(start)
    .fetch_one(&mut conn)
    .await
    .expect("blocklist count");
    assert!(added >= 2, "{added} blocklist entries");

    t.escape("the detail closed", |s| !s.contains("Fraud detail"))
        .await;
    t.keys(&["q"]);
    t.wait_for("the dashboard to quit", UP, |s| s.contains("EXIT=0"))
        .await;
    drop(conn);
}

/// The blocklist view: `b` opens it, `n` adds an entry with a reason, it shows
/// up in the list, `x` removes it with a reason; the database holds who added
/// and removed it, both reasons, and one audit row for each change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocklist_add_and_remove_with_reasons_on_screen() {
    let (db, dir, mut conn, _queue) = seeded("block").await;
    let t = Tmux::start(&dashboard(&dir), &dir, &db.url());
    t.wait_for("the dashboard as alice", UP, |s| {
        s.contains("alice (agent)")
    })
    .await;
    t.keys(&["5", "b"]);
    t.wait_for("the blocklist view", UP, |s| {
        s.contains("Blocklist (active entries") && s.contains("n add")
    })
    .await;
    t.keys(&["n"]);
    t.wait_for("the add dialog", UP, |s| s.contains("Block: add an entry"))
        .await;
    // `e` picks the kind (email) and moves to the value.
    t.keys(&["e"]);
    t.wait_for("email picked", UP, |s| s.contains("[x] email"))
        .await;
    t.keys(&["-l", "ring@fraud.test"]);
    t.wait_for("the value typed", UP, |s| s.contains("ring@fraud.test"))
        .await;
    // No reason yet: refused on screen.
    t.keys(&["Enter"]);
    t.wait_for("a reason is required", UP, |s| {
        s.contains("a reason is required")
    })
    .await;
    t.keys(&["Tab"]);
    t.keys(&["-l", "card testing ring"]);
    t.wait_for("the reason typed", UP, |s| s.contains("card testing ring"))
        .await;
    t.keys(&["Enter"]);
    // The entry is listed (a row with its kind, value and who added it).
    let row = |s: &str| {
        s.lines()
            .any(|l| l.contains("email") && l.contains("ring@fraud.test") && l.contains("alice"))
    };
    t.wait_for("the new entry in the list", UP, |s| {
        row(s) && !s.contains("Block: add an entry")
    })
    .await;
    let added: (String, String, Option<String>) = sqlx::query_as(
        "SELECT added_by, reason, removed_by FROM blocklist WHERE kind = 'email' AND value = 'ring@fraud.test'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("blocklist row");
    assert_eq!(
        added,
        ("alice".to_string(), "card testing ring".to_string(), None)
    );

    // Newest first: the entry is the top row.
    t.keys(&["g", "x"]);
    t.wait_for("the remove dialog", UP, |s| {
        s.contains("Block: remove the entry") && s.contains("email ring@fraud.test")
    })
    .await;
    t.keys(&["Enter"]);
    t.wait_for("a reason is required", UP, |s| {
        s.contains("a reason is required")
    })
    .await;
    t.keys(&["-l", "customer verified by phone"]);
    t.wait_for("the reason typed", UP, |s| {
        s.contains("customer verified by phone")
    })
    .await;
    t.keys(&["Enter"]);
    t.wait_for("the entry gone from the list", UP, |s| {
        !row(s) && s.contains("removed email ring@fraud.test from the blocklist")
    })
    .await;
    let removed: (String, String, Option<String>, Option<String>, bool) = sqlx::query_as(
        "SELECT added_by, reason, removed_by, removed_reason, removed_at IS NOT NULL
           FROM blocklist WHERE kind = 'email' AND value = 'ring@fraud.test'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("blocklist row");
    assert_eq!(
        removed,
        (
            "alice".to_string(),
            "card testing ring".to_string(),
            Some("alice".to_string()),
            Some("customer verified by phone".to_string()),
            true
        )
    );
    let audit: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT operator, action, entity_type, details->>'reason' FROM audit_log
          WHERE entity_id = 'ring@fraud.test' ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("audit");
    // The OS account acted as alice: the audit log says so.
    let as_alice =
        lsn_ops::domain::operators::Actor::acting_as(lsn_ops::identity::os_account(), "alice")
            .audit_name();
    assert_eq!(
        audit,
        [
            (
                as_alice.clone(),
                "blocklist.add".to_string(),
                "email".to_string(),
                Some("card testing ring".to_string())
            ),
            (
                as_alice.clone(),
                "blocklist.remove".to_string(),
                "email".to_string(),
                Some("customer verified by phone".to_string())
            ),
        ]
    );
    t.escape("back to the queue", |s| !s.contains("Blocklist (active"))
        .await;
    t.keys(&["q"]);
    t.wait_for("the dashboard to quit", UP, |s| s.contains("EXIT=0"))
        .await;
}
