//! Configuration: defaults < file < environment, validated into a [`Config`].
//!
//! The file is found by `--config PATH`, then `$LSN_OPS_CONFIG`, then
//! `./config.toml`, then `~/.config/lsn-ops/config.toml`; no file at all is fine.
//! Environment variables override the file: the runbook's names (`DATABASE_URL`,
//! `PAYPAL_MODE`, ...) and any key as `LSN_OPS_<SECTION>__<KEY>`.
//! Every failure is a [`ConfigError`] whose message names the source, the key
//! and what was expected, so an operator can fix it from the one line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod disputes;
mod load;
mod monitoring;
pub use disputes::DisputesConfig;
pub use load::{ConfigError, Loaded, find_file, load, load_from};
pub use monitoring::{AlertsConfig, EscalationConfig, ProbeConfig};

/// The runbook's environment variable names and the key each one sets.
pub const RUNBOOK_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("PAYPAL_CLIENT_ID", "paypal.client_id"),
    ("PAYPAL_CLIENT_SECRET", "paypal.client_secret"),
    ("PAYPAL_MODE", "paypal.mode"),
    ("PAYPAL_WEBHOOK_ID", "paypal.webhook_id"),
    ("WISE_API_TOKEN", "wise.api_token"),
    ("WISE_PROFILE_ID", "wise.profile_id"),
    ("TWILIO_ACCOUNT_SID", "twilio.account_sid"),
    ("TWILIO_API_KEY_SID", "twilio.api_key_sid"),
    ("TWILIO_API_KEY_SECRET", "twilio.api_key_secret"),
    ("TWILIO_AUTH_TOKEN", "twilio.auth_token"),
];

/// Prefix of the generic `LSN_OPS_<SECTION>__<KEY>` overrides.
pub const ENV_PREFIX: &str = "LSN_OPS_";

/// A secret string: readable only through [`Secret::expose`]; `Debug` and
/// `Display` print `[redacted]`, so it cannot leak into logs, errors or the screen.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub ops: OpsConfig,
    pub tui: TuiConfig,
    pub worker: WorkerConfig,
    pub ssh: SshConfig,
    pub paypal: PaypalConfig,
    pub wise: WiseConfig,
    pub twilio: TwilioConfig,
    pub fraud: FraudConfig,
    pub payouts: PayoutsConfig,
    pub maintenance: MaintenanceConfig,
    pub disputes: DisputesConfig,
    pub alerts: AlertsConfig,
    /// What the worker checks (`[[probes]]`); none by default.
    pub probes: Vec<ProbeConfig>,
    pub escalation: EscalationConfig,
    pub log: LogConfig,
    /// Dashboard keys rebound by action name (`quit = "Q"`); checked when the
    /// dashboard starts (an unknown name or a clash is exit 2).
    pub keys: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; the password part is a secret and never printed.
    pub url: Secret,
    pub max_connections: u32,
    pub connect_timeout_s: u64,
}

impl DatabaseConfig {
    /// Parses `url` without connecting (the store connects with it). The
    /// error never echoes the URL.
    pub fn parse_url(&self) -> Result<sqlx::postgres::PgConnectOptions, String> {
        let url = self.url.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("it does not start with postgres://".into());
        }
        sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(|e| e.to_string().replace(url, "[redacted url]"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// IANA time zone the ops team works in: what the screen shows and schedules use.
    pub timezone: String,
    /// Largest refund an `agent` may issue, in minor units of the order currency.
    pub agent_refund_limit_minor: i64,
    /// Days after delivery a return may be opened (the runbook's 30).
    pub return_window_days: i64,
    /// Two captures of one payer for one amount this close together are a
    /// duplicate charge (`orders duplicates`).
    pub duplicate_window_minutes: i64,
    /// A checkout not paid within this many minutes expires: the worker
    /// cancels the order and releases what it holds.
    pub checkout_timeout_minutes: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuiConfig {
    pub refresh_ms: u64,
    pub wall_cycle_s: u64,
    pub theme: String,
    /// Mouse clicks and wheel in the dashboard; off keeps the terminal's own
    /// selection (copy with the mouse) working.
    pub mouse: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    pub listen: String,
    /// The URL providers call; Twilio signs it, so it must match exactly.
    pub public_base_url: String,
    /// Most client connections served at once; further ones wait in the
    /// listen backlog until one closes.
    pub max_connections: usize,
    /// A request head not complete within this many seconds closes its connection.
    pub header_timeout_s: u64,
}

/// `lsn-ops ssh-server`: the dashboard served over SSH.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SshConfig {
    pub listen: String,
    /// The server's ed25519 host key (OpenSSH format), made on the first start
    /// when absent; empty: `ssh_host_ed25519_key` in the state directory.
    pub host_key: String,
    /// Most dashboards open at once; one more is told so and closed.
    pub max_sessions: usize,
    /// A dashboard with no keystroke for this long closes; 0: never.
    pub idle_timeout_s: u64,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:2222".into(),
            host_key: String::new(),
            max_sessions: 32,
            idle_timeout_s: 1800,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaypalMode {
    Sandbox,
    Live,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaypalVerify {
    Api,
    Offline,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaypalConfig {
    pub mode: PaypalMode,
    pub client_id: String,
    pub client_secret: Secret,
    pub webhook_id: String,
    /// Empty means the mode's PayPal host.
    pub api_base: String,
    pub verify: PaypalVerify,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WiseConfig {
    pub api_token: Secret,
    pub profile_id: String,
    pub api_base: String,
    /// PEM text, or a path to a PEM file.
    pub webhook_public_key: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub api_key_sid: String,
    pub api_key_secret: Secret,
    pub auth_token: Secret,
    pub api_base: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudConfig {
    /// Scores strictly above this are high risk (the runbook's "> 70").
    pub high_risk_threshold: u8,
    /// Directory of the reference lists (disposable domains, proxy ranges, IP
    /// reputation); "" uses the lists built into the binary.
    pub reference_dir: String,
    /// How often the worker looks for changed list files (seconds).
    pub reload_check_s: u64,
    /// When the counting indicators fire.
    pub thresholds: crate::domain::fraud::Thresholds,
    /// Points per indicator; 0 turns one off.
    pub weights: crate::domain::fraud::Weights,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PayoutsConfig {
    /// Day of the weekly batch, e.g. "friday".
    pub weekday: String,
    /// Local time of the weekly batch, "HH:MM" in `[ops] timezone`.
    pub time: String,
    pub currency: String,
    /// Orders paid less than this many days before a batch's cut-off wait for a later batch.
    pub return_window_days: u32,
}

/// The runbook's maintenance (`lsn-ops maintenance`, and the worker's weekly run).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// Applied webhook events, probe samples and log files older than this are deleted by `cleanup`.
    pub retention_days: u32,
    /// `optimize` rebuilds an index whose estimated bloat is above this percentage.
    pub reindex_above_pct: u8,
    /// The worker runs optimize, cleanup, backup and the weekly report every week.
    pub weekly: bool,
    /// When, in `[ops] timezone`: "sunday 02:00" (the runbook's weekly maintenance).
    pub weekly_at: String,
    /// Where the weekly run writes its backup; empty: no backup.
    pub backup_dir: String,
    /// Where the weekly run writes the weekly report (text, JSON, CSV); empty: none.
    pub reports_dir: String,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            retention_days: 90,
            reindex_above_pct: 30,
            weekly: false,
            weekly_at: "sunday 02:00".into(),
            backup_dir: String::new(),
            reports_dir: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Directory of the log files (the TUI owns the screen, so logs never go
    /// there). Empty (the default): the XDG state directory,
    /// `$XDG_STATE_HOME/lsn-ops`, else `~/.local/state/lsn-ops` (`telemetry::log_dir`).
    pub dir: String,
    /// tracing filter, e.g. "info" or "lsn_ops=debug,sqlx=warn".
    pub level: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("postgres://postgres@127.0.0.1:5432/lsn_ops"),
            max_connections: 10,
            connect_timeout_s: 5,
        }
    }
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            timezone: "America/Los_Angeles".into(),
            agent_refund_limit_minor: 50_000,
            return_window_days: 30,
            duplicate_window_minutes: 10,
            checkout_timeout_minutes: 30,
        }
    }
}

impl Default for TuiConfig {
    fn default() -> Self {
        Self {
            refresh_ms: 2000,
            wall_cycle_s: 30,
            theme: "default".into(),
            mouse: false,
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8787".into(),
            public_base_url: "http://127.0.0.1:8787".into(),
            max_connections: 512,
            header_timeout_s: 5,
        }
    }
}

impl Default for PaypalConfig {
    fn default() -> Self {
        Self {
            mode: PaypalMode::Sandbox,
            client_id: String::new(),
            client_secret: Secret::default(),
            webhook_id: String::new(),
            api_base: String::new(),
            verify: PaypalVerify::Api,
        }
    }
}

impl Default for FraudConfig {
    fn default() -> Self {
        Self {
            high_risk_threshold: 70,
            reference_dir: crate::domain::fraud_lists::DEFAULT_DIR.into(),
            reload_check_s: 5,
            thresholds: crate::domain::fraud::Thresholds::default(),
            weights: crate::domain::fraud::Weights::default(),
        }
    }
}

impl Default for PayoutsConfig {
    fn default() -> Self {
        Self {
            weekday: "friday".into(),
            time: "14:00".into(),
            currency: "USD".into(),
            return_window_days: 14,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            dir: String::new(),
            level: "info".into(),
        }
    }
}
