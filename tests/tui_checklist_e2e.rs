//! Issue 14, tried as a new user would: two dashboards on one seeded
//! database; in the first, `:checklist` opens today's list (morning until
//! 18:00, then evening) with the items the data already settles ticked;
//! `t` ticks an operator's item by hand; the second dashboard's header count
//! moves at once (the tick is a NOTIFY away); the tick is in the audit log.
//! Then `Enter` on an ended show in pane 2 shows its performance report.

mod common;

use std::time::Duration;

use common::{Dashboard, TestDb, Tmux, workdir};
use sqlx::{Connection, PgConnection};

/// "(3/6 done)" in the overlay's title → (3, 6).
fn done_of(screen: &str) -> Option<(usize, usize)> {
    let at = screen.find(" done)")?;
    let head = &screen[..at];
    let open = head.rfind('(')?;
    let (done, total) = head[open + 1..].split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

#[tokio::test]
async fn checklist_overlay_tick_moves_the_header_on_another_dashboard() {
    let db = TestDb::create("cklist").await;
    let dir = workdir("cklist");
    db.seed(&dir);
    db.register_os_admin().await;
    let me = lsn_ops::identity::os_account();
    let first = Tmux::start(
        &Dashboard {
            tag: "cklist-a",
            width: 140,
            height: 40,
            operator: &me,
            env: &[],
        },
        &dir,
        &db.url(),
    );
    let second = Tmux::start(
        &Dashboard {
            tag: "cklist-b",
            width: 140,
            height: 40,
            operator: "dana",
            env: &[],
        },
        &dir,
        &db.url(),
    );
    first
        .wait_text(&format!("{me} (admin)"), Duration::from_secs(30))
        .await;
    second
        .wait_text("Checklist ", Duration::from_secs(30))
        .await;

    first.keys(&[":checklist", "Enter"]);
    let s = first
        .wait_for("the checklist", Duration::from_secs(20), |s| {
            done_of(s).is_some()
        })
        .await;
    let (done, total) = done_of(&s).expect("count");
    let evening = s.contains("evening checklist");
    assert!(s.contains("data:") && s.contains("tick:"), "{s}");
    assert!(
        s.lines().any(|l| l.contains("[x]") && l.contains("data:")),
        "an item the data settles is ticked:\n{s}"
    );
    let list = if evening { "evening" } else { "morning" };
    second
        .wait_text(&format!("{list} {done}/{total}"), Duration::from_secs(20))
        .await;

    // The first item to tick by hand: evening's first, morning's second.
    if !evening {
        first.keys(&["j"]);
    }
    first.keys(&["t"]);
    first
        .wait_text(
            &format!("({}/{total} done)", done + 1),
            Duration::from_secs(20),
        )
        .await;
    first.wait_text("ticked by", Duration::from_secs(5)).await;
    // The other dashboard's header follows.
    second
        .wait_text(
            &format!("{list} {}/{total}", done + 1),
            Duration::from_secs(20),
        )
        .await;

    let mut conn = PgConnection::connect(&db.url()).await.expect("connect");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'checklist.tick' AND operator = $1",
    )
    .bind(&me)
    .fetch_one(&mut conn)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    // Pane 2: Enter on today's first show (the seed ended it five hours ago)
    // opens its performance report.
    first.keys(&["Escape"]);
    first.keys(&["2"]);
    first.keys(&["g", "Enter"]);
    let s = first
        .wait_for("the show report", Duration::from_secs(20), |s| {
            s.contains("performance report") && s.contains("Net GMV after refunds")
        })
        .await;
    assert!(s.contains("Top products"), "{s}");
    first.keys(&["Escape"]);
    first.keys(&["q"]);
    second.keys(&["q"]);
    let _ = std::fs::remove_dir_all(&dir);
}
