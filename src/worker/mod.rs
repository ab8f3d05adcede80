//! The worker: provider webhooks in, their effects applied, provider calls
//! out, all of it through PostgreSQL ([`process`] runs every part as tasks of
//! one process; several workers can share a database).
//!
//! The HTTP side, on `[worker] listen`:
//! - `POST /webhooks/paypal`, `/webhooks/wise`, `/webhooks/twilio`: the
//!   signature is checked ([`crate::providers`]), the event gets a stable id and
//!   goes into the inbox (`provider_events`, unique on provider + event id) with
//!   `NOTIFY lsn_ops_changes`. Answers: 200 once stored (a duplicate is 200
//!   too, with no second row), 400 malformed, 401 bad or missing signature
//!   (nothing stored), 413 over 1 MiB, 503 when the database (or PayPal, for its
//!   certificate or verify API) is unavailable, so the provider retries.
//! - `GET /healthz`: 200 only when the database answers `SELECT 1` in time.
//! - `GET /metrics`: Prometheus text ([`metrics`]).
//!
//! Module map: [`server`] (router, the answer for each outcome, raising the
//! signature-failure alert), [`state`] (what the endpoints share, and the
//! refusal counts behind that alert), [`ingest`] (per provider: verify, parse,
//! derive the event id), [`paypal`] (the I/O PayPal verification needs:
//! certificate fetch and the verify-webhook-signature API), [`metrics`];
//! against hostile senders (issue 18, table in docs/RECEIVER.md): [`listener`]
//! (header-read timeout, connection cap), [`limits`] (field limits,
//! future-dated events ordered at their receipt) and [`shapes`] (payloads the
//! applier parks as permanent).
//!
//! Behind it: [`apply`], the applier, claims `pending` inbox rows with `FOR
//! UPDATE SKIP LOCKED` and applies each to the domain tables in one
//! transaction with its audit row; [`scoring`] scores captured orders for
//! fraud (and rescores on demand), looking IPs and email domains up in
//! [`reference`] (the reference lists, reloaded when they change);
//! [`commands`], the executor, runs the command outbox against the providers
//! ([`refunds`] records what PayPal says about a refund, from either side);
//! [`reconcile`] asks the providers about stuck captures and transfers;
//! [`wake`] is how the loops sleep until a NOTIFY or their poll interval.
//!
//! [`disputes`] gathers dispute evidence again and auto-submits it when the
//! runbook allows. [`payouts`] runs the weekly payout batch on its schedule. [`probes`] runs
//! the configured and built-in probes into `probe_samples`; [`monitor`]
//! evaluates the alert rules and escalates incidents; [`notify`] sends the
//! notification outbox to Slack and PagerDuty.

pub mod apply;
pub mod checklists;
pub mod checkouts;
pub mod commands;
pub mod disputes;
pub mod ingest;
pub mod limits;
pub mod listener;
pub mod maintenance;
pub mod metrics;
pub mod monitor;
pub mod notify;
pub mod payouts;
pub mod paypal;
pub mod probes;
pub mod process;
pub mod reconcile;
pub mod reference;
pub mod refunds;
pub mod scoring;
pub mod server;
pub mod shapes;
pub mod state;
pub mod wake;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, PaypalMode, PaypalVerify, Secret};
use crate::providers::paypal::{CERT_HOSTS, OfflinePolicy};
use crate::providers::wise::WiseKey;

pub use server::{router, serve};
pub use state::AppState;

/// The current time, injectable: tests pin it inside a certificate's validity.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The real clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// Everything the webhook endpoints need, resolved from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL providers call (Twilio signs it), without a trailing slash.
    pub public_base_url: String,
    pub paypal: PaypalSettings,
    /// Wise's webhook public key.
    pub wise_key: WiseKey,
    /// Twilio's auth token; empty means Twilio webhooks cannot be verified (503).
    pub twilio_auth_token: Secret,
    /// Longest wait for the database on a webhook or health check before 503.
    pub db_timeout: Duration,
    /// Longest a request may take as a whole (then 408).
    pub request_timeout: Duration,
    /// Longest a client may take to send a request head (then the connection
    /// is closed): `[worker] header_timeout_s`.
    pub header_timeout: Duration,
    /// Most connections served at once: `[worker] max_connections`.
    pub max_connections: usize,
    pub failure_alert: FailureAlert,
}

#[derive(Debug, Clone)]
pub struct PaypalSettings {
    pub verify: PaypalVerify,
    /// The webhook id PayPal signs with; empty means PayPal webhooks cannot be verified (503).
    pub webhook_id: String,
    /// `[paypal] api_base`, or the mode's PayPal host.
    pub api_base: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub policy: OfflinePolicy,
    /// A certificate host allowed besides PayPal's own (the local simulator's).
    pub extra_cert_host: Option<String>,
}

/// When refused signatures raise the warning alert.
#[derive(Debug, Clone, Copy)]
pub struct FailureAlert {
    /// This many refusals for one provider within `window` raise (or refresh) it.
    pub threshold: usize,
    pub window: Duration,
    /// While failures continue, the alert row is refreshed at most this often.
    pub refresh_every: Duration,
    /// A recurrence this soon after resolution reopens the old alert.
    pub reopen_within: Duration,
}

impl Default for FailureAlert {
    fn default() -> Self {
        Self {
            threshold: 10,
            window: Duration::from_secs(5 * 60),
            refresh_every: Duration::from_secs(60),
            reopen_within: Duration::from_secs(30 * 60),
        }
    }
}

impl Settings {
    /// Resolves the configuration. A bad Wise key setting is the only failure.
    ///
    /// When `[paypal] api_base` points somewhere other than PayPal (the local
    /// simulator), its host is also allowed to serve webhook certificates, and
    /// their subject need not end in `.paypal.com`.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let wise_key =
            WiseKey::from_setting(&config.wise.webhook_public_key, &config.wise.api_base)
                .map_err(|e| format!("[wise] webhook_public_key: {e}"))?;
        let api_base = match config.paypal.api_base.trim() {
            "" => match config.paypal.mode {
                PaypalMode::Sandbox => "https://api-m.sandbox.paypal.com".to_string(),
                PaypalMode::Live => "https://api-m.paypal.com".to_string(),
            },
            other => other.trim_end_matches('/').to_string(),
        };
        let simulator_host = reqwest::Url::parse(&api_base).ok().and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            if CERT_HOSTS.contains(&host.as_str()) {
                return None;
            }
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        });
        let mut policy = OfflinePolicy::default();
        if simulator_host.is_some() {
            policy.cn_suffix = None;
        }
        Ok(Self {
            public_base_url: config
                .worker
                .public_base_url
                .trim_end_matches('/')
                .to_string(),
            paypal: PaypalSettings {
                verify: config.paypal.verify,
                webhook_id: config.paypal.webhook_id.trim().to_string(),
                api_base,
                client_id: config.paypal.client_id.clone(),
                client_secret: config.paypal.client_secret.clone(),
                policy,
                extra_cert_host: simulator_host,
            },
            wise_key,
            twilio_auth_token: config.twilio.auth_token.clone(),
            db_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(config.worker.header_timeout_s.max(1)),
            max_connections: config.worker.max_connections.max(1),
            failure_alert: FailureAlert::default(),
        })
    }
}
