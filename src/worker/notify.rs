//! The notification sender: claims due rows of the notification outbox
//! (`store::notify`, `FOR UPDATE SKIP LOCKED`, so two workers never send one
//! row) and posts them: the Slack-compatible incoming webhook (`{"text"}`,
//! answered 200 "ok") and the PagerDuty Events API v2 (the routing key added
//! here, answered 202). A 429 or 5xx is retried with backoff; any other
//! refusal parks the row `dead` (the body will not become valid by retrying).

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::config::EscalationConfig;
use crate::store::notify::{self, Claimed};

/// A sender that died mid-send leaves its row to be claimed again after this.
const LEASE: Duration = Duration::from_secs(60);
/// Attempts before a row is parked `dead`.
const MAX_ATTEMPTS: i32 = 8;

/// Where messages go, with the secrets.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    config: EscalationConfig,
}

enum Sent {
    Ok,
    Retry(String),
    Refused(String),
}

impl Sender {
    pub fn new(config: &EscalationConfig) -> Result<Sender, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("lsn-ops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("notification client: {e}"))?;
        Ok(Sender {
            http,
            config: config.clone(),
        })
    }

    async fn post(&self, c: &Claimed) -> Sent {
        let (url, body) = match c.target.as_str() {
            "slack" => (
                self.config.slack_webhook_url.expose().to_string(),
                c.payload.clone(),
            ),
            "pagerduty" => {
                let mut body = c.payload.clone();
                if let Value::Object(map) = &mut body {
                    map.insert(
                        "routing_key".into(),
                        Value::String(self.config.pagerduty_routing_key.expose().to_string()),
                    );
                }
                (self.config.pagerduty_url.clone(), body)
            }
            other => return Sent::Refused(format!("unknown target {other}")),
        };
        if url.is_empty() {
            return Sent::Refused(format!("{} is not configured", c.target));
        }
        match self.http.post(&url).json(&body).send().await {
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                let text = crate::text::clip_to(&text, 200).into_owned();
                if status.is_success() {
                    Sent::Ok
                } else if status.as_u16() == 429 || status.is_server_error() {
                    Sent::Retry(format!("HTTP {status}: {text}"))
                } else {
                    Sent::Refused(format!("HTTP {status}: {text}"))
                }
            }
            // The URL holds the Slack secret: never in the error.
            Err(e) => Sent::Retry(e.without_url().to_string()),
        }
    }

    /// Sends the next due notification; false when there was none.
    pub async fn send_next(&self, pool: &PgPool) -> Result<bool, sqlx::Error> {
        let claimed = {
            let mut conn = pool.acquire().await?;
            notify::claim(&mut conn, LEASE).await?
        };
        let Some(c) = claimed else {
            return Ok(false);
        };
        let result = self.post(&c).await;
        let mut conn = pool.acquire().await?;
        match result {
            Sent::Ok => notify::sent(&mut conn, c.id).await?,
            Sent::Retry(e) if c.attempts < MAX_ATTEMPTS => {
                let backoff =
                    Duration::from_secs(2u64.saturating_pow(c.attempts.clamp(0, 10) as u32));
                tracing::warn!(
                    notification = c.id,
                    target = c.target,
                    "not sent, retrying: {e}"
                );
                notify::failed(
                    &mut conn,
                    c.id,
                    &e,
                    Some(backoff.min(Duration::from_secs(600))),
                )
                .await?
            }
            Sent::Retry(e) | Sent::Refused(e) => {
                tracing::warn!(
                    notification = c.id,
                    target = c.target,
                    "not sent, parked: {e}"
                );
                notify::failed(&mut conn, c.id, &e, None).await?
            }
        }
        Ok(true)
    }

    /// Sends until there is nothing due (tests and the loop).
    pub async fn drain(&self, pool: &PgPool) -> Result<usize, sqlx::Error> {
        let mut n = 0;
        while self.send_next(pool).await? {
            n += 1;
        }
        Ok(n)
    }

    /// Sends due notifications every `poll` until `stop`.
    pub async fn run(self, pool: PgPool, poll: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.drain(&pool).await {
                tracing::warn!("notifications: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
