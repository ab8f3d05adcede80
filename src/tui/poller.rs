//! The poller: the one task that talks to the database for the dashboard.
//! It `LISTEN`s on [`crate::store::CHANGE_CHANNEL`] and also polls every
//! `[tui] refresh_ms`, builds a [`Snapshot`] and publishes a [`DataState`] on a
//! `watch` channel. When the database goes away it says so, keeps the last
//! snapshot, and retries with backoff until the data comes back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::domain::money::Currency;
use crate::domain::operators::Role;
use crate::store::snapshot::{Snapshot, build_snapshot_after};

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
}

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A snapshot that takes longer than this counts as a failure.
const BUILD_TIMEOUT: Duration = Duration::from_secs(10);
/// Bursts of NOTIFY are merged: at most one rebuild per this interval.
const MIN_REBUILD_GAP: Duration = Duration::from_millis(150);

/// Runs until every receiver is gone.
pub async fn run(pool: PgPool, cfg: PollerConfig, tx: watch::Sender<DataState>) {
    let mut state = DataState::default();
    let mut backoff = MIN_BACKOFF;
    let mut listener: Option<PgListener> = None;
    loop {
        if tx.is_closed() {
            return;
        }
        let built_at = Instant::now();
        let previous = state.snapshot.clone();
        let now = Utc::now();
        let result = timeout(BUILD_TIMEOUT, async {
            let snap = build_snapshot_after(
                &pool,
                now,
                &cfg.tz,
                cfg.threshold,
                cfg.currency,
                previous.as_deref(),
            )
            .await?;
            let role = crate::store::operators::role_of(&pool, &cfg.operator).await?;
            Ok::<_, sqlx::Error>((snap, role))
        })
        .await;
        match result {
            Ok(Ok((snap, role))) => {
                state.snapshot = Some(Arc::new(snap));
                state.role = Some(role);
                state.connected = true;
                state.last_success = Some(now);
                state.down_since = None;
                state.error = None;
                state.query_failed = false;
                backoff = MIN_BACKOFF;
                // LISTEN once the database answers (again), then read once more at
                // once, so a change made before the LISTEN began is not left to the
                // next poll; that second read is the one published.
                if listener.is_none() {
                    listener = listen(&pool).await;
                    state.listening = listener.is_some();
                    if state.listening {
                        continue;
                    }
                }
                tx.send_replace(state.clone());
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
                tx.send_replace(state.clone());
                sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        // Wait for a change notification or the poll interval, whichever is first.
        let deadline = built_at + cfg.refresh;
        match listener.as_mut() {
            Some(l) => {
                tokio::select! {
                    got = l.try_recv() => match got {
                        Ok(Some(_)) => {
                            sleep_until(built_at + MIN_REBUILD_GAP).await;
                            while l.next_buffered().is_some() {}
                        }
                        // The connection is gone: rebuild now, which finds out.
                        Ok(None) | Err(_) => listener = None,
                    },
                    _ = sleep_until(deadline) => {}
                    _ = tx.closed() => return,
                }
            }
            None => {
                tokio::select! {
                    _ = sleep_until(deadline) => {}
                    _ = tx.closed() => return,
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut l = timeout(Duration::from_secs(5), PgListener::connect_with(pool))
        .await
        .ok()?
        .ok()?;
    // A lost connection is reported by try_recv (Ok(None)) at once; this task
    // then rebuilds (which notices the outage) and makes a new listener.
    l.eager_reconnect(false);
    timeout(
        Duration::from_secs(5),
        l.listen(crate::store::CHANGE_CHANNEL),
    )
    .await
    .ok()?
    .ok()?;
    Some(l)
}
