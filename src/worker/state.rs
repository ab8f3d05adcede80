//! What the webhook endpoints share ([`AppState`]): the database pool, the
//! resolved settings, the clock, the metrics, the HTTP client and caches that
//! PayPal verification needs, and the recent signature refusals per provider
//! that decide when the "webhook signature failures" alert is due. The server
//! ([`super::server`]) owns it; verification ([`super::ingest`]) reads it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::providers::paypal::CertCache;

use super::metrics::Metrics;
use super::paypal::TokenCache;
use super::{Clock, Settings};

/// What every request handler shares.
pub struct AppState {
    pub pool: sqlx::PgPool,
    pub settings: Settings,
    pub clock: Clock,
    pub metrics: Metrics,
    pub http: reqwest::Client,
    pub certs: CertCache,
    /// The process's one PayPal token cache ([`AppState::with_paypal_tokens`]).
    pub paypal_tokens: Arc<TokenCache>,
    failures: Mutex<HashMap<&'static str, FailureWindow>>,
}

/// Recent refusals of one provider, and when its alert was last written.
#[derive(Debug, Default)]
struct FailureWindow {
    at: VecDeque<Instant>,
    last_raised: Option<Instant>,
}

impl AppState {
    pub fn new(pool: sqlx::PgPool, settings: Settings, clock: Clock) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("lsn-ops/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            pool,
            settings,
            clock,
            metrics: Metrics::default(),
            http,
            certs: CertCache::default(),
            paypal_tokens: Arc::new(TokenCache::default()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Shares `tokens` (the API client's cache) for PayPal verification, so
    /// the process holds one PayPal token, not two.
    pub fn with_paypal_tokens(mut self, tokens: Arc<TokenCache>) -> Self {
        self.paypal_tokens = tokens;
        self
    }

    /// Records a refused signature; returns the count in the window when the
    /// alert is due to be raised or refreshed now.
    pub(super) fn note_failure(&self, provider: &'static str) -> Option<usize> {
        let cfg = self.settings.failure_alert;
        let now = Instant::now();
        let mut all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let w = all.entry(provider).or_default();
        w.at.push_back(now);
        while w
            .at
            .front()
            .is_some_and(|t| now.duration_since(*t) > cfg.window)
        {
            w.at.pop_front();
        }
        let due = w.at.len() >= cfg.threshold
            && w.last_raised
                .is_none_or(|t| now.duration_since(t) >= cfg.refresh_every);
        if due {
            w.last_raised = Some(now);
            Some(w.at.len())
        } else {
            None
        }
    }
}
