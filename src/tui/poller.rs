//! The poller: the one task that talks to the database for the dashboard,
//! publishing a [`DataState`] on a `watch` channel. Dashboards share one
//! snapshot ([`crate::store::snapshot::shared`]): the one holding the
//! builder's lock `LISTEN`s on [`crate::store::CHANGE_CHANNEL`], builds a
//! [`Snapshot`] once per burst of changes and publishes it; the others
//! learn of new versions from their process's one `LISTEN`
//! ([`shared::Reads`]) and read them. Every `[tui] refresh_ms` each one
//! polls as well, and a reader tries the lock (so a dead builder is replaced
//! within one poll interval). When the database goes away it says so, keeps
//! the last snapshot, and retries with backoff until the data comes back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::domain::money::Currency;
use crate::domain::operators::Role;
use crate::store::snapshot::{Snapshot, build_snapshot_after, shared};

/// What the UI knows about the data: the last snapshot and the connection.
#[derive(Debug, Clone, Default)]
pub struct DataState {
    pub snapshot: Option<Arc<Snapshot>>,
    pub connected: bool,
    /// When the last snapshot was built.
    pub last_success: Option<DateTime<Utc>>,
    /// When the database stopped answering (None while it answers).
    pub down_since: Option<DateTime<Utc>>,
    /// The last failure, in a few words (never a password).
    pub error: Option<String>,
    pub role: Option<Role>,
    /// LISTEN is active (changes arrive at once, not at the next poll).
    pub listening: bool,
    /// The server answered but the snapshot query failed (e.g. no schema).
    pub query_failed: bool,
}

#[derive(Debug, Clone)]
pub struct PollerConfig {
    pub refresh: Duration,
    pub tz: chrono_tz::Tz,
    pub threshold: u8,
    pub currency: Currency,
    pub operator: String,
    /// The snapshot reads this dashboard shares with the others of its
    /// process (the SSH server's sessions); `Default`: its own.
    pub reads: shared::Reads,
}

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A snapshot that takes longer than this counts as a failure.
const BUILD_TIMEOUT: Duration = Duration::from_secs(10);
/// Bursts of NOTIFY are merged: at most one rebuild per this interval.
const MIN_REBUILD_GAP: Duration = Duration::from_millis(150);
/// A builder republishes an unchanged snapshot this often (readers' clocks).
const REPUBLISH: Duration = Duration::from_secs(30);

/// What this dashboard does for the shared snapshot
/// ([`crate::store::snapshot::shared`]).
enum Part {
    /// It holds the builder's lock (on this connection of its own): it
    /// builds once per burst of changes and publishes.
    Builds(PgConnection),
    /// Another dashboard builds: it reads each new version.
    Reads,
}

/// Runs until every receiver is gone.
pub async fn run(pool: PgPool, cfg: PollerConfig, tx: watch::Sender<DataState>) {
    let key = shared::key(&cfg.tz, cfg.threshold, cfg.currency.code());
    let mut state = DataState::default();
    let mut backoff = MIN_BACKOFF;
    let mut listener: Option<Listening> = None;
    let mut part = Part::Reads;
    let mut version: i64 = 0;
    // The newest version a notification announced (a reader reads at least it).
    let mut announced: i64 = 0;
    let mut role_read: Option<Instant> = None;
    let mut published: Option<Instant> = None;
    let mut unsent = false;
    // The tables announced since the last build (None: unknown, read all).
    let mut changed: Option<std::collections::BTreeSet<String>> = None;
    // The poll interval has passed: check the lock (take over a dead builder).
    let mut poll_due = true;
    loop {
        if tx.is_closed() {
            break;
        }
        let built_at = Instant::now();
        let now = Utc::now();
        let was_building = matches!(part, Part::Builds(_));
        if poll_due {
            part = match part {
                // A builder whose lock connection died has lost the lock.
                Part::Builds(mut c) => {
                    match timeout(BUILD_TIMEOUT, sqlx::query("SELECT 1").execute(&mut c)).await {
                        Ok(Ok(_)) => Part::Builds(c),
                        _ => Part::Reads,
                    }
                }
                Part::Reads => match timeout(BUILD_TIMEOUT, lead(&pool, &key)).await {
                    Ok(Ok(p)) => p,
                    _ => Part::Reads,
                },
            };
        }
        let building = matches!(part, Part::Builds(_));
        let result = timeout(BUILD_TIMEOUT, async {
            let fresh = match building {
                true => {
                    let snap = Arc::new(build_snapshot_after(
                        &pool,
                        now,
                        &cfg.tz,
                        cfg.threshold,
                        cfg.currency,
                        state.snapshot.as_deref(),
                        changed.as_ref(),
                    )
                    .await?);
                    // Readers fetch what is published: an unchanged snapshot is
                    // published only now and then (its clock moves on).
                    let unchanged = state
                        .snapshot
                        .as_deref()
                        .is_some_and(|previous| previous.same_content(&snap));
                    if !unchanged || published.is_none_or(|at| at.elapsed() >= REPUBLISH) {
                        version = shared::publish(&pool, &key, &snap, &cfg.operator).await?;
                        published = Some(Instant::now());
                        cfg.reads.published(&key, version, snap.clone()).await;
                    }
                    Some(snap)
                }
                false => match cfg.reads.newer(&pool, &key, version, announced).await? {
                    Some((v, snap)) => {
                        tracing::debug!(operator = %cfg.operator, version = v, "read a newer snapshot");
                        version = v;
                        Some(snap)
                    }
                    None => None,
                },
            };
            // The operator's role: at most once per poll interval.
            let role = if poll_due || role_read.is_none_or(|at| at.elapsed() >= cfg.refresh) {
                role_read = Some(Instant::now());
                Some(crate::store::operators::role_of(&pool, &cfg.operator).await?)
            } else {
                None
            };
            Ok::<_, sqlx::Error>((fresh, role))
        })
        .await;
        poll_due = false;
        changed = None;
        match result {
            Ok(Ok((fresh, role))) => {
                let before = (state.connected, state.role, state.error.is_some());
                let got_fresh = fresh.is_some();
                if let Some(snap) = fresh {
                    state.snapshot = Some(snap);
                    state.last_success = Some(now);
                }
                if let Some(role) = role {
                    state.role = Some(role);
                }
                state.connected = true;
                state.down_since = None;
                state.error = None;
                state.query_failed = false;
                backoff = MIN_BACKOFF;
                // What changed is sent once this round is over (a LISTEN set
                // up below reads once more before that).
                unsent |=
                    got_fresh || before != (state.connected, state.role, state.error.is_some());
                // LISTEN once the database answers (again), and again when this
                // dashboard starts or stops building (other channel); then read
                // once more at once, so a change made before the LISTEN began is
                // not left to the next poll.
                if listener.is_none() || building != was_building {
                    listener = listen(&pool, building, &cfg.reads, &key).await;
                    state.listening = listener.is_some();
                    if state.listening {
                        continue;
                    }
                }
                // Nothing new (a reader's poll found the same version): the
                // screen has nothing to redraw.
                if unsent {
                    tx.send_replace(state.clone());
                    unsent = false;
                }
            }
            failure => {
                // The server answered but the query failed (no schema, no rights):
                // say so, since reconnecting will not fix it.
                let (reason, answered) = match failure {
                    Ok(Err(sqlx::Error::Database(db))) => {
                        if db.code().as_deref() == Some("42P01") {
                            ("no schema, run `lsn-ops migrate`".to_string(), true)
                        } else {
                            (db.message().to_string(), true)
                        }
                    }
                    Ok(Err(e)) => (crate::store::short_reason(&e), false),
                    _ => ("timed out".into(), false),
                };
                state.query_failed = answered;
                tracing::warn!(%reason, "dashboard snapshot failed");
                state.connected = false;
                state.down_since.get_or_insert(now);
                state.error = Some(reason);
                state.listening = false;
                listener = None;
                if let Part::Builds(conn) = std::mem::replace(&mut part, Part::Reads) {
                    let _ = timeout(Duration::from_secs(1), conn.close()).await;
                }
                poll_due = true;
                tx.send_replace(state.clone());
                sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        // Wait for a notification or the poll interval, whichever is first.
        let deadline = built_at + cfg.refresh;
        match listener.as_mut() {
            Some(Listening::Changes(l)) => {
                tokio::select! {
                    got = l.try_recv() => match got {
                        Ok(Some(n)) => {
                            tracing::debug!(operator = %cfg.operator, payload = n.payload(), "notified of a change");
                            // A burst of changes: one rebuild for all of it,
                            // knowing which tables it touched.
                            sleep_until(built_at + MIN_REBUILD_GAP).await;
                            let mut tables = std::collections::BTreeSet::new();
                            tables.insert(n.payload().to_string());
                            while let Some(more) = l.next_buffered() {
                                tables.insert(more.payload().to_string());
                            }
                            changed = Some(tables);
                        }
                        // The connection is gone: read now, which finds out.
                        Ok(None) | Err(_) => listener = None,
                    },
                    _ = sleep_until(deadline) => poll_due = true,
                    _ = tx.closed() => break,
                }
            }
            Some(Listening::Versions(versions)) => {
                tokio::select! {
                    got = versions.changed() => match got {
                        Ok(()) => {
                            announced = announced.max(*versions.borrow_and_update());
                            tracing::debug!(operator = %cfg.operator, announced, "notified of a version");
                        }
                        // The process's listener lost its connection: read
                        // now, which finds out, then listen again.
                        Err(_) => listener = None,
                    },
                    _ = sleep_until(deadline) => poll_due = true,
                    _ = tx.closed() => break,
                }
            }
            None => {
                tokio::select! {
                    _ = sleep_until(deadline) => poll_due = true,
                    _ = tx.closed() => break,
                }
            }
        }
    }
    // The dashboard quits: its connections end cleanly (Terminate), so the
    // server logs no "connection reset by peer"; the lock goes with them.
    drop(listener);
    if let Part::Builds(conn) = part {
        let _ = conn.close().await;
    }
}

/// Tries to become the builder: the advisory lock on a connection of its own.
async fn lead(pool: &PgPool, key: &str) -> Result<Part, sqlx::Error> {
    if shared::is_led(pool, key).await? {
        return Ok(Part::Reads);
    }
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    if shared::try_lead(&mut conn, key).await? {
        tracing::info!("this dashboard builds the shared snapshot");
        Ok(Part::Builds(conn))
    } else {
        // Closed cleanly (Terminate), not dropped: no "connection reset" in
        // the server's log.
        let _ = conn.close().await;
        Ok(Part::Reads)
    }
}

/// What a dashboard listens to: the changes (its own connection, when it
/// builds) or the new versions (its process's one listener, when it reads).
enum Listening {
    Changes(PgListener),
    Versions(watch::Receiver<i64>),
}

/// LISTENs on the changes (a builder) or on new snapshot versions (a reader,
/// through the listener its process's readers share).
async fn listen(
    pool: &PgPool,
    building: bool,
    reads: &shared::Reads,
    key: &str,
) -> Option<Listening> {
    if !building {
        return reads
            .announcements(pool, key)
            .await
            .map(Listening::Versions);
    }
    let mut l = timeout(Duration::from_secs(5), PgListener::connect_with(pool))
        .await
        .ok()?
        .ok()?;
    // A lost connection is reported by try_recv (Ok(None)) at once; this task
    // then reads again (which notices the outage) and makes a new listener.
    l.eager_reconnect(false);
    timeout(
        Duration::from_secs(5),
        l.listen(crate::store::CHANGE_CHANNEL),
    )
    .await
    .ok()?
    .ok()?;
    Some(Listening::Changes(l))
}
