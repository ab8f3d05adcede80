//! Waiting for work: a background loop (applier, executor) sleeps until a
//! NOTIFY on its channel, its poll interval, or shutdown, whichever comes
//! first. LISTEN is (re)connected lazily, so a database outage only costs the
//! prompt wake-up, never the polling.

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

pub struct Wake {
    pool: PgPool,
    channel: &'static str,
    /// Names the loop in log lines.
    who: &'static str,
    listener: Option<PgListener>,
}

impl Wake {
    pub fn new(pool: PgPool, channel: &'static str, who: &'static str) -> Self {
        Self {
            pool,
            channel,
            who,
            listener: None,
        }
    }

    /// Returns on a notification, after `poll`, or when `shutdown` changes.
    pub async fn wait(&mut self, poll: std::time::Duration, shutdown: &mut watch::Receiver<bool>) {
        if self.listener.is_none() {
            self.listener = match PgListener::connect_with(&self.pool).await {
                Ok(mut l) => match l.listen(self.channel).await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!("{}: LISTEN failed: {e}", self.who);
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!("{}: cannot listen: {e}", self.who);
                    None
                }
            };
        }
        let listener = &mut self.listener;
        let woke = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(|_| ()),
                None => std::future::pending().await,
            }
        };
        let lost = tokio::select! {
            _ = shutdown.changed() => false,
            _ = tokio::time::sleep(poll) => false,
            woke = woke => woke.is_err(),
        };
        if lost {
            self.listener = None;
        }
    }
}
