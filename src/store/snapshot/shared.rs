//! One snapshot for every dashboard (issue 15). Building the snapshot costs
//! the database a few tens of milliseconds; ten dashboards building their own
//! at every burst of changes would cost it a core. So the dashboards elect a
//! builder: whichever holds the snapshot's session-level advisory lock
//! ([`try_lead`]) builds once per burst and [`publish`]es it (a row in
//! `dashboard_snapshots` with a new version, and `NOTIFY lsn_ops_snapshot`);
//! the others [`read_newer`] that row when they are told, or at their poll.
//! When the builder dies its session ends and its lock with it: the next
//! dashboard to try takes over within one poll interval.
//!
//! A snapshot depends on the time zone (the ops day), the high-risk threshold
//! and the currency, which are the [`key`]; dashboards configured alike share.
//!
//! Dashboards of one process (the SSH server's sessions) also share their
//! reads ([`Reads`]): one LISTEN for new versions, and each version fetched
//! and decoded once per process, not once per dashboard.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use super::Snapshot;

/// Where a new version is announced (payload: `KEY VERSION`).
pub const SNAPSHOT_CHANNEL: &str = "lsn_ops_snapshot";

/// The row (and lock) of snapshots built with these settings.
pub fn key(tz: &chrono_tz::Tz, threshold: u8, currency: &str) -> String {
    format!("{}|{threshold}|{currency}", tz.name())
}

/// The advisory lock of `key`: a stable 64-bit number (FNV-1a), in a
/// namespace of its own so it cannot collide with another lock by chance.
pub fn lock_id(key: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "lsn-ops snapshot ".bytes().chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// Takes the builder's lock on `conn` (held for the connection's life) if no
/// one holds it. True: this dashboard builds from now on.
pub async fn try_lead(conn: &mut PgConnection, key: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(lock_id(key))
        .fetch_one(conn)
        .await
}

/// Whether some session holds the builder's lock of `key`: a reader asks
/// this on a pooled connection at each poll, and opens a connection of its
/// own to [`try_lead`] only when no one does (connecting costs the server a
/// process; fifty readers polling would otherwise cost it more than reading).
pub async fn is_led(pool: &PgPool, key: &str) -> Result<bool, sqlx::Error> {
    // A 64-bit advisory lock shows in pg_locks as two 32-bit halves.
    let id = u64::from_ne_bytes(lock_id(key).to_ne_bytes());
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks
                         WHERE locktype = 'advisory' AND granted AND objsubid = 1
                           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                           AND classid::bigint = $1 AND objid::bigint = $2)",
    )
    .bind(i64::try_from(id >> 32).unwrap_or_default())
    .bind(i64::try_from(id & 0xffff_ffff).unwrap_or_default())
    .fetch_one(pool)
    .await
}

/// Stores `snap` as the newest version of `key` and announces it. Returns
/// the version.
pub async fn publish(
    pool: &PgPool,
    key: &str,
    snap: &Snapshot,
    built_by: &str,
) -> Result<i64, sqlx::Error> {
    let body = pack(snap)?;
    sqlx::query_scalar(
        "WITH stored AS (
           INSERT INTO dashboard_snapshots (key, version, built_at, built_by, body)
           VALUES ($1, 1, now(), $2, $3)
           ON CONFLICT (key) DO UPDATE
             SET version = dashboard_snapshots.version + 1, built_at = now(),
                 built_by = EXCLUDED.built_by, body = EXCLUDED.body
           RETURNING version)
         SELECT version FROM stored, LATERAL (SELECT pg_notify($4, $1 || ' ' || version)) announced",
    )
    .bind(key)
    .bind(built_by)
    .bind(&body)
    .bind(SNAPSHOT_CHANNEL)
    .fetch_one(pool)
    .await
}

/// A stored snapshot older than this is not read: its builder is gone (a
/// live builder republishes every 30 s), and a reader that finds none takes
/// over at its next poll instead of showing old data as current.
pub const STALE_AFTER_S: i64 = 60;

/// The stored snapshot of `key` if its version is newer than `have` and it
/// was built in the last [`STALE_AFTER_S`] seconds.
pub async fn read_newer(
    pool: &PgPool,
    key: &str,
    have: i64,
) -> Result<Option<(i64, Snapshot)>, sqlx::Error> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, body FROM dashboard_snapshots
          WHERE key = $1 AND version > $2 AND built_at > now() - make_interval(secs => $3)",
    )
    .bind(key)
    .bind(have)
    .bind(STALE_AFTER_S as f64)
    .fetch_optional(pool)
    .await?;
    match row {
        None => Ok(None),
        Some((version, body)) => Ok(Some((version, unpack(&body)?))),
    }
}

/// What the readers of one process share, by key: one LISTEN connection
/// telling them of new versions ([`Reads::announcements`]), and the newest
/// version read ([`Reads::newer`]). A new version is fetched and decoded by
/// the first reader to ask for it while the others wait for it, then handed
/// to each as the same `Arc`. Fifty SSH sessions cost the database one
/// listening backend and one fetch per version, and the process one decode
/// (~1.5 ms), instead of fifty of each. A builder in the process hands in
/// what it published. Cloning shares; `Default` is a set of one's own.
#[derive(Clone, Default)]
pub struct Reads(Arc<Shared>);

#[derive(Default)]
struct Shared {
    held: tokio::sync::Mutex<HashMap<String, Held>>,
    /// The newest version announced, by key, from the one listening task.
    announcing: tokio::sync::Mutex<HashMap<String, watch::Sender<i64>>>,
}

/// A version held for the readers, and when it was read (or published).
struct Held {
    version: i64,
    snapshot: Arc<Snapshot>,
    at: Instant,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reads")
    }
}

/// A held version is handed out without asking the database only this long
/// after it was read: past that, [`read_newer`] decides (it may have gone
/// stale, its builder gone).
const HELD_FOR: Duration = Duration::from_secs(5);

impl Reads {
    /// The newest snapshot of `key` if it is newer than `have`: the one this
    /// process holds when it is at least the `announced` version (0: none
    /// announced), or else [`read_newer`]'s (then held for the others).
    pub async fn newer(
        &self,
        pool: &PgPool,
        key: &str,
        have: i64,
        announced: i64,
    ) -> Result<Option<(i64, Arc<Snapshot>)>, sqlx::Error> {
        // Held across the fetch: readers told of the same version at once
        // wait for the first one's read instead of each reading it.
        let mut held = self.0.held.lock().await;
        if let Some(h) = held.get(key)
            && h.at.elapsed() < HELD_FOR
            && h.version > have
            && h.version >= announced
        {
            return Ok(Some((h.version, h.snapshot.clone())));
        }
        match read_newer(pool, key, have).await? {
            Some((version, snap)) => {
                let snapshot = Arc::new(snap);
                held.insert(
                    key.to_string(),
                    Held {
                        version,
                        snapshot: snapshot.clone(),
                        at: Instant::now(),
                    },
                );
                Ok(Some((version, snapshot)))
            }
            None => Ok(None),
        }
    }

    /// The newest version announced for `key`, kept current by one task
    /// LISTENing for the whole process (started by the first reader to ask,
    /// ended when the last one is gone). `None`: the database cannot be
    /// listened to now. The receiver's `changed()` fails when the listening
    /// connection is lost: ask again (and read once, for what was missed).
    pub async fn announcements(&self, pool: &PgPool, key: &str) -> Option<watch::Receiver<i64>> {
        let mut announcing = self.0.announcing.lock().await;
        if let Some(tx) = announcing.get(key)
            && !tx.is_closed()
        {
            return Some(tx.subscribe());
        }
        let wait = Duration::from_secs(5);
        let mut listener = tokio::time::timeout(wait, PgListener::connect_with(pool))
            .await
            .ok()?
            .ok()?;
        // A lost connection ends the task at once (below): its readers ask
        // again, which notices the outage and reads what they missed.
        listener.eager_reconnect(false);
        tokio::time::timeout(wait, listener.listen(SNAPSHOT_CHANNEL))
            .await
            .ok()?
            .ok()?;
        let (tx, rx) = watch::channel(0);
        announcing.insert(key.to_string(), tx.clone());
        let shared = Arc::downgrade(&self.0);
        let key = key.to_string();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    got = listener.try_recv() => match got {
                        Ok(Some(n)) => {
                            let mut newest = announced(n.payload(), &key);
                            while let Some(more) = listener.next_buffered() {
                                newest = newest.max(announced(more.payload(), &key));
                            }
                            if let Some(v) = newest {
                                tx.send_if_modified(|have| {
                                    let newer = v > *have;
                                    *have = (*have).max(v);
                                    newer
                                });
                            }
                        }
                        Ok(None) | Err(_) => break,
                    },
                    // No reader left.
                    _ = tx.closed() => break,
                }
            }
            // Forgotten, so the next reader to ask starts a new listener; the
            // readers holding a receiver see `changed()` fail.
            if let Some(shared) = shared.upgrade() {
                let mut announcing = shared.announcing.lock().await;
                if announcing.get(&key).is_some_and(|t| t.same_channel(&tx)) {
                    announcing.remove(&key);
                }
            }
            drop(listener);
        });
        Some(rx)
    }

    /// What a builder of this process just published.
    pub async fn published(&self, key: &str, version: i64, snapshot: Arc<Snapshot>) {
        self.0.held.lock().await.insert(
            key.to_string(),
            Held {
                version,
                snapshot,
                at: Instant::now(),
            },
        );
    }
}

/// JSON, deflated (zlib, fastest level): 231 KB → 37 KB at the 1M scale.
/// Every reader fetches each version, so the wire and the fetch shrink six
/// times for 1 ms of the builder's time per version; inflating costs a
/// reader 0.5 ms.
fn pack(snap: &Snapshot) -> Result<Vec<u8>, sqlx::Error> {
    let json = serde_json::to_vec(snap).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    Ok(miniz_oxide::deflate::compress_to_vec_zlib(&json, 1))
}

/// Reads [`pack`]'s body, or plain JSON (a body published before bodies were
/// deflated starts with `{`; a zlib stream never does).
fn unpack(body: &[u8]) -> Result<Snapshot, sqlx::Error> {
    let decode = |e: String| sqlx::Error::Decode(e.into());
    let json = match body.first() {
        Some(b'{') => std::borrow::Cow::Borrowed(body),
        _ => std::borrow::Cow::Owned(
            miniz_oxide::inflate::decompress_to_vec_zlib(body)
                .map_err(|e| decode(format!("snapshot body: {e}")))?,
        ),
    };
    serde_json::from_slice(&json).map_err(|e| decode(format!("snapshot body: {e}")))
}

/// The version a notification announces for `key` (`None`: another key).
pub fn announced(payload: &str, key: &str) -> Option<i64> {
    let (k, v) = payload.rsplit_once(' ')?;
    (k == key).then(|| v.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_locks_and_announcements() {
        let k = key(&chrono_tz::America::Los_Angeles, 70, "USD");
        assert_eq!(k, "America/Los_Angeles|70|USD");
        assert_eq!(lock_id(&k), lock_id(&k));
        assert_ne!(lock_id(&k), lock_id("Europe/Paris|70|USD"));
        assert_eq!(announced(&format!("{k} 42"), &k), Some(42));
        assert_eq!(announced("Europe/Paris|70|USD 42", &k), None);
        assert_eq!(announced("garbage", &k), None);
    }
}
