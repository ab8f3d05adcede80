//! Issue 15: dashboards share one snapshot. The first dashboard takes the
//! builder's lock and publishes each version; a second one only reads them;
//! the builder killed under a running dashboard, that dashboard takes over
//! and keeps showing fresh data within one poll interval. A snapshot survives
//! the trip through the database unchanged.

use std::time::Duration;

use chrono::Utc;
use lsn_ops::domain::Currency;
use lsn_ops::store::snapshot::{build_snapshot, shared};
use lsn_ops::tui::poller::{self, DataState, PollerConfig};
use sqlx::PgPool;
use tokio::sync::watch;

const REFRESH: Duration = Duration::from_millis(400);

fn config(operator: &str) -> PollerConfig {
    PollerConfig {
        refresh: REFRESH,
        tz: chrono_tz::America::Los_Angeles,
        threshold: 70,
        currency: Currency::USD,
        operator: operator.into(),
        reads: Default::default(),
    }
}

fn key() -> String {
    shared::key(&chrono_tz::America::Los_Angeles, 70, "USD")
}

async fn alert(pool: &PgPool, title: &str) {
    sqlx::query(
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title) VALUES ('bench', $1, 'warning', 'P2', $1)",
    )
    .bind(title)
    .execute(pool)
    .await
    .expect("alert");
}

/// Waits until the dashboard fed by `rx` shows an alert titled `title`.
async fn shows(rx: &mut watch::Receiver<DataState>, title: &str, within: Duration) -> Duration {
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = rx
            .borrow_and_update()
            .snapshot
            .as_ref()
            .is_some_and(|s| s.alerts.iter().any(|a| a.title == title));
        if seen {
            return started.elapsed();
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            panic!("{title:?} not on the dashboard within {within:?}");
        }
    }
}

async fn builders(pool: &PgPool) -> (i64, String) {
    sqlx::query_as("SELECT version, built_by FROM dashboard_snapshots WHERE key = $1")
        .bind(key())
        .fetch_one(pool)
        .await
        .expect("the shared row")
}

/// A dashboard started on an empty database (it takes the builder's lock),
/// once its first snapshot is there.
async fn first_dashboard(
    pool: &PgPool,
    operator: &str,
) -> (tokio::task::JoinHandle<()>, watch::Receiver<DataState>) {
    let (tx, mut rx) = watch::channel(DataState::default());
    let task = tokio::spawn(poller::run(pool.clone(), config(operator), tx));
    tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|s| s.snapshot.is_some()),
    )
    .await
    .expect("a snapshot in time")
    .expect("the first snapshot");
    (task, rx)
}

/// The snapshot of the data as it is now.
async fn snapshot_now(pool: &PgPool) -> lsn_ops::store::snapshot::Snapshot {
    build_snapshot(
        pool,
        Utc::now(),
        &chrono_tz::America::Los_Angeles,
        70,
        Currency::USD,
    )
    .await
    .expect("snapshot")
}

#[sqlx::test]
async fn one_builder_many_readers_and_a_dead_builder_is_replaced(pool: PgPool) {
    let (a, mut rx_a) = first_dashboard(&pool, "ana").await;
    let (tx_b, mut rx_b) = watch::channel(DataState::default());
    let b = tokio::spawn(poller::run(pool.clone(), config("bo"), tx_b));

    // One change: both see it; only ana built it.
    alert(&pool, "first change").await;
    shows(&mut rx_a, "first change", Duration::from_secs(5)).await;
    shows(&mut rx_b, "first change", Duration::from_secs(5)).await;
    let (_, by) = builders(&pool).await;
    assert_eq!(by, "ana", "the first dashboard builds; the second reads");

    // The builder dies (its task, its lock connection with it).
    a.abort();
    assert!(a.await.is_err_and(|e| e.is_cancelled()));
    drop(rx_a);
    alert(&pool, "after the builder died").await;
    let took = shows(
        &mut rx_b,
        "after the builder died",
        REFRESH * 3 + Duration::from_secs(2),
    )
    .await;
    let (_, by) = builders(&pool).await;
    assert_eq!(by, "bo", "the reader took over");
    eprintln!("fresh again after {took:?} (poll interval {REFRESH:?})");

    // And keeps building: the next change is there at once.
    alert(&pool, "bo builds now").await;
    shows(&mut rx_b, "bo builds now", Duration::from_secs(5)).await;
    drop(rx_b);
    let _ = tokio::time::timeout(Duration::from_secs(5), b).await;
}

#[sqlx::test]
async fn a_snapshot_survives_the_database_unchanged(pool: PgPool) {
    alert(&pool, "round trip").await;
    let snap = snapshot_now(&pool).await;
    let v1 = shared::publish(&pool, &key(), &snap, "ana")
        .await
        .expect("publish");
    let v2 = shared::publish(&pool, &key(), &snap, "ana")
        .await
        .expect("publish again");
    assert_eq!(v2, v1 + 1);
    let (v, back) = shared::read_newer(&pool, &key(), v1)
        .await
        .expect("read")
        .expect("newer");
    assert_eq!(v, v2);
    assert_eq!(back, snap);
    assert!(
        shared::read_newer(&pool, &key(), v2)
            .await
            .expect("read")
            .is_none()
    );
    // The fixture, every field filled, too.
    let fixture = lsn_ops::store::snapshot::fixture(Utc::now(), &chrono_tz::America::Los_Angeles);
    shared::publish(&pool, "fixture", &fixture, "t")
        .await
        .expect("publish");
    let (_, back) = shared::read_newer(&pool, "fixture", 0)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(back, fixture);
    // A snapshot its builder stopped republishing is not shown as current.
    sqlx::query("UPDATE dashboard_snapshots SET built_at = now() - interval '2 minutes' WHERE key = 'fixture'")
        .execute(&pool)
        .await
        .expect("age it");
    assert!(
        shared::read_newer(&pool, "fixture", 0)
            .await
            .expect("read")
            .is_none(),
        "a snapshot older than a minute is not read"
    );
}

#[sqlx::test]
async fn a_reader_sees_whether_the_builders_lock_is_held(pool: PgPool) {
    use sqlx::Connection;
    assert!(!shared::is_led(&pool, &key()).await.expect("ask"));
    let mut builder = sqlx::PgConnection::connect_with(&pool.connect_options())
        .await
        .expect("connect");
    assert!(shared::try_lead(&mut builder, &key()).await.expect("lead"));
    assert!(shared::is_led(&pool, &key()).await.expect("ask"));
    assert!(
        !shared::is_led(&pool, "another key").await.expect("ask"),
        "another key's lock is free"
    );
    builder.close().await.expect("close");
    // The lock goes with the session (the server releases it as it ends).
    let mut free = false;
    for _ in 0..50 {
        if !shared::is_led(&pool, &key()).await.expect("ask") {
            free = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(free, "the lock is released when the builder's session ends");
}

/// The dashboards of one process (the SSH server's sessions) read each
/// version once: the second reader gets the first one's copy without asking
/// the database, but never a version older than the one it was told of.
#[sqlx::test]
async fn readers_of_one_process_read_each_version_once(pool: PgPool) {
    use std::sync::Arc;
    alert(&pool, "shared read").await;
    let snap = snapshot_now(&pool).await;
    let v1 = shared::publish(&pool, &key(), &snap, "ana")
        .await
        .expect("publish");
    let reads = shared::Reads::default();
    let (got, first) = reads
        .newer(&pool, &key(), 0, v1)
        .await
        .expect("read")
        .expect("the published version");
    assert_eq!((got, &*first), (v1, &snap));
    // The row can no longer be read from the database (aged past
    // STALE_AFTER_S): the second reader is handed the copy the first one
    // read, so it did not read the row.
    sqlx::query("UPDATE dashboard_snapshots SET built_at = now() - interval '2 minutes'")
        .execute(&pool)
        .await
        .expect("age it");
    let (got, second) = reads
        .newer(&pool, &key(), 0, v1)
        .await
        .expect("read")
        .expect("the held version");
    assert_eq!(got, v1);
    assert!(Arc::ptr_eq(&first, &second), "one decoded copy, shared");
    // A reader that has it already gets nothing new.
    assert!(
        reads
            .newer(&pool, &key(), v1, v1)
            .await
            .expect("read")
            .is_none()
    );
    // A newer version announced: read from the database, not the held one.
    alert(&pool, "second version").await;
    let snap2 = snapshot_now(&pool).await;
    let v2 = shared::publish(&pool, &key(), &snap2, "ana")
        .await
        .expect("publish");
    let (got, third) = reads
        .newer(&pool, &key(), 0, v2)
        .await
        .expect("read")
        .expect("the announced version");
    assert_eq!((got, &*third), (v2, &snap2));
    // What a builder of the process published is handed out as it is.
    let own = Arc::new(snap2.clone());
    reads.published(&key(), v2 + 1, own.clone()).await;
    let (got, fourth) = reads
        .newer(&pool, &key(), v2, v2 + 1)
        .await
        .expect("read")
        .expect("the builder's version");
    assert_eq!(got, v2 + 1);
    assert!(Arc::ptr_eq(&own, &fourth));
}

/// LISTEN connections on the snapshot channel in this test's database.
async fn version_listeners(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN%lsn_ops_snapshot%'",
    )
    .fetch_one(pool)
    .await
    .expect("count listeners")
}

/// Readers of one process (the SSH server's sessions) learn of new versions
/// through one LISTEN connection; when it is lost they listen again and miss
/// nothing.
#[sqlx::test]
async fn readers_of_one_process_share_one_listener(pool: PgPool) {
    let (a, rx_a) = first_dashboard(&pool, "ana").await;
    let reads = shared::Reads::default();
    let mut readers = Vec::new();
    for name in ["bo", "cy", "di"] {
        let (tx, mut rx) = watch::channel(DataState::default());
        let task = tokio::spawn(poller::run(
            pool.clone(),
            PollerConfig {
                reads: reads.clone(),
                ..config(name)
            },
            tx,
        ));
        tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|s| s.listening))
            .await
            .expect("listening in time")
            .expect("listening");
        readers.push((task, rx));
    }
    alert(&pool, "seen by all three").await;
    for (_, rx) in &mut readers {
        shows(rx, "seen by all three", Duration::from_secs(5)).await;
    }
    assert_eq!(
        version_listeners(&pool).await,
        1,
        "one listener for the three readers"
    );

    // The listener's connection is lost: they listen again and see the next change.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN%lsn_ops_snapshot%'",
    )
    .execute(&pool)
    .await
    .expect("terminate the listener");
    alert(&pool, "after the listener was lost").await;
    for (_, rx) in &mut readers {
        shows(
            rx,
            "after the listener was lost",
            REFRESH * 3 + Duration::from_secs(2),
        )
        .await;
    }
    let mut listeners = 0;
    for _ in 0..50 {
        listeners = version_listeners(&pool).await;
        if listeners == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listeners, 1, "one new listener for the three");
    for (task, rx) in readers {
        drop(rx);
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    drop(rx_a);
    let _ = tokio::time::timeout(Duration::from_secs(5), a).await;
}
