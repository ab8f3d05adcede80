//! Alert rules and severities: the runbook's critical and warning thresholds,
//! evaluated over measured health figures, plus the domain alert kinds.

use serde::{Deserialize, Serialize};

use super::incidents::Priority;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Self::Critical, Self::Warning, Self::Info];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// An alert's state as stored (`alerts.state`): `open` is firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds, not yet for `for_s`: not paged, not counted.
    Pending,
    /// Firing.
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub const ALL: [AlertState; 4] = [
        Self::Pending,
        Self::Open,
        Self::Acknowledged,
        Self::Resolved,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The state scripts and the screen see (`alerts list --format json`):
    /// `pending`, `firing`, `acknowledged`, `silenced` (a silence covers a
    /// firing or acknowledged alert) or `resolved`.
    pub fn shown(&self, silenced: bool) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Resolved => "resolved",
            _ if silenced => "silenced",
            Self::Open => "firing",
            Self::Acknowledged => "acknowledged",
        }
    }
}

/// The runbook's thresholds (`[alerts.thresholds]`); the probe ones can be
/// overridden per probe ([`ProbeThresholds`]). Percentages are of 100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Critical below this uptime (runbook: < 99%).
    pub uptime_min_pct: f64,
    /// Critical above this error rate (runbook: > 1%).
    pub error_rate_max_pct: f64,
    /// Critical above this payment failure rate (runbook: > 5%).
    pub payment_failure_rate_max_pct: f64,
    /// Warning above this p95 latency (runbook: API response time > 500 ms).
    pub p95_max_ms: u32,
    /// Warning above this disk usage (runbook: > 80%).
    pub disk_max_pct: f64,
    /// Warning above this memory usage (runbook: > 85%).
    pub memory_max_pct: f64,
    /// Warning when a certificate expires within this many days.
    pub cert_min_days: u32,
    /// Warning above this many failed or dead webhook events in the window.
    pub webhook_failures_max: u32,
    /// Warning above this many webhook events waiting more than a minute.
    pub webhook_backlog_max: u32,
    /// Critical above this many failed database connections in the window.
    pub db_connection_failures_max: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            uptime_min_pct: 99.0,
            error_rate_max_pct: 1.0,
            payment_failure_rate_max_pct: 5.0,
            p95_max_ms: 500,
            disk_max_pct: 80.0,
            memory_max_pct: 85.0,
            cert_min_days: 14,
            webhook_failures_max: 0,
            webhook_backlog_max: 100,
            db_connection_failures_max: 0,
        }
    }
}

impl Thresholds {
    /// A percentage as basis points (99.5 -> 9950).
    pub fn bps(pct: f64) -> u32 {
        (pct * 100.0).round().clamp(0.0, 10_000.0) as u32
    }

    /// The first percentage out of 0..=100, as (key, value), for the config's message.
    pub fn out_of_range(&self) -> Option<(&'static str, f64)> {
        [
            ("uptime_min_pct", self.uptime_min_pct),
            ("error_rate_max_pct", self.error_rate_max_pct),
            (
                "payment_failure_rate_max_pct",
                self.payment_failure_rate_max_pct,
            ),
            ("disk_max_pct", self.disk_max_pct),
            ("memory_max_pct", self.memory_max_pct),
        ]
        .into_iter()
        .find(|(_, v)| !(0.0..=100.0).contains(v))
    }
}

/// One probe's overrides of the [`Thresholds`] (`[probes.thresholds]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeThresholds {
    pub uptime_min_pct: Option<f64>,
    pub error_rate_max_pct: Option<f64>,
    pub p95_max_ms: Option<u32>,
    pub cert_min_days: Option<u32>,
}

impl ProbeThresholds {
    /// `base` with this probe's overrides.
    pub fn over(&self, base: &Thresholds) -> Thresholds {
        Thresholds {
            uptime_min_pct: self.uptime_min_pct.unwrap_or(base.uptime_min_pct),
            error_rate_max_pct: self.error_rate_max_pct.unwrap_or(base.error_rate_max_pct),
            p95_max_ms: self.p95_max_ms.unwrap_or(base.p95_max_ms),
            cert_min_days: self.cert_min_days.unwrap_or(base.cert_min_days),
            ..*base
        }
    }
}

/// A condition the rules found true now, to become (or keep) an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub rule_key: String,
    /// One alert per key while unresolved.
    pub dedup_key: String,
    /// What raised it: "probe:NAME", "system", "database", "payments", "inbox", "shows", ...
    pub source: String,
    pub severity: Severity,
    pub priority: Priority,
    pub title: String,
    pub details: String,
    /// Held this long before firing; clear this long before resolving.
    pub for_s: i64,
    pub recover_s: i64,
    /// Opens an incident of the alert's priority when it fires (a live show
    /// that cannot start).
    pub opens_incident: bool,
}

/// Health figures measured by the probes, in integer units (no floats):
/// ratios in basis points, latency in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthFigures {
    pub uptime_bps: Option<u32>,
    pub error_rate_bps: Option<u32>,
    pub payment_failure_rate_bps: Option<u32>,
    pub database_connection_failures: u32,
    pub api_p95_ms: Option<u32>,
    pub disk_used_bps: Option<u32>,
    pub memory_used_bps: Option<u32>,
    pub webhook_failures: u32,
}

/// One threshold crossed, ready to become (or refresh) an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub rule_key: &'static str,
    pub severity: Severity,
    pub priority: Priority,
    pub title: String,
}

/// The runbook's alert thresholds. Critical: uptime < 99%, error rate > 1%,
/// payment failure rate > 5%, database connection failures. Warning: API p95 >
/// 500 ms, disk > 80%, memory > 85%, webhook delivery failures.
pub fn evaluate(h: &HealthFigures) -> Vec<Firing> {
    evaluate_with(h, &Thresholds::default())
}

/// [`evaluate`] with configured thresholds.
pub fn evaluate_with(h: &HealthFigures, t: &Thresholds) -> Vec<Firing> {
    let bps = Thresholds::bps;
    let mut out = Vec::new();
    let mut fire = |rule_key, severity, priority, title: String| {
        out.push(Firing {
            rule_key,
            severity,
            priority,
            title,
        })
    };
    let pct = |bps: u32| super::money::format_bps(i64::from(bps));
    let limit = |p: f64| pct(bps(p));
    if let Some(v) = h.uptime_bps.filter(|v| *v < bps(t.uptime_min_pct)) {
        fire(
            "uptime",
            Severity::Critical,
            Priority::P0,
            format!("Uptime {} (< {})", pct(v), limit(t.uptime_min_pct)),
        );
    }
    if let Some(v) = h.error_rate_bps.filter(|v| *v > bps(t.error_rate_max_pct)) {
        fire(
            "error_rate",
            Severity::Critical,
            Priority::P1,
            format!("Error rate {} (> {})", pct(v), limit(t.error_rate_max_pct)),
        );
    }
    if let Some(v) = h
        .payment_failure_rate_bps
        .filter(|v| *v > bps(t.payment_failure_rate_max_pct))
    {
        fire(
            "payment_failure_rate",
            Severity::Critical,
            Priority::P0,
            format!(
                "Payment failure rate {} (> {})",
                pct(v),
                limit(t.payment_failure_rate_max_pct)
            ),
        );
    }
    if h.database_connection_failures > t.db_connection_failures_max {
        fire(
            "database_connection",
            Severity::Critical,
            Priority::P1,
            format!(
                "{} database connection failures",
                h.database_connection_failures
            ),
        );
    }
    if let Some(v) = h.api_p95_ms.filter(|v| *v > t.p95_max_ms) {
        fire(
            "api_latency",
            Severity::Warning,
            Priority::P2,
            format!("API p95 {v} ms (> {} ms)", t.p95_max_ms),
        );
    }
    if let Some(v) = h.disk_used_bps.filter(|v| *v > bps(t.disk_max_pct)) {
        fire(
            "disk",
            Severity::Warning,
            Priority::P2,
            format!("Disk {} used (> {})", pct(v), limit(t.disk_max_pct)),
        );
    }
    if let Some(v) = h.memory_used_bps.filter(|v| *v > bps(t.memory_max_pct)) {
        fire(
            "memory",
            Severity::Warning,
            Priority::P2,
            format!("Memory {} used (> {})", pct(v), limit(t.memory_max_pct)),
        );
    }
    if h.webhook_failures > t.webhook_failures_max {
        fire(
            "webhook_failures",
            Severity::Warning,
            Priority::P1,
            format!("{} webhook delivery/apply failures", h.webhook_failures),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(h: &HealthFigures) -> Vec<&'static str> {
        evaluate(h).into_iter().map(|f| f.rule_key).collect()
    }

    #[test]
    fn healthy_figures_fire_nothing() {
        let h = HealthFigures {
            uptime_bps: Some(9_990),
            error_rate_bps: Some(10),
            payment_failure_rate_bps: Some(100),
            api_p95_ms: Some(180),
            disk_used_bps: Some(5_000),
            memory_used_bps: Some(6_000),
            ..Default::default()
        };
        assert!(evaluate(&h).is_empty());
    }

    #[test]
    fn thresholds_are_strict_where_the_runbook_says_greater_than() {
        let at_limits = HealthFigures {
            uptime_bps: Some(9_900),
            error_rate_bps: Some(100),
            payment_failure_rate_bps: Some(500),
            api_p95_ms: Some(500),
            disk_used_bps: Some(8_000),
            memory_used_bps: Some(8_500),
            ..Default::default()
        };
        assert!(evaluate(&at_limits).is_empty());
        let over = HealthFigures {
            uptime_bps: Some(9_899),
            error_rate_bps: Some(101),
            payment_failure_rate_bps: Some(501),
            database_connection_failures: 1,
            api_p95_ms: Some(501),
            disk_used_bps: Some(8_001),
            memory_used_bps: Some(8_501),
            webhook_failures: 2,
        };
        assert_eq!(
            keys(&over),
            [
                "uptime",
                "error_rate",
                "payment_failure_rate",
                "database_connection",
                "api_latency",
                "disk",
                "memory",
                "webhook_failures"
            ]
        );
        let sev: Vec<_> = evaluate(&over).iter().map(|f| f.severity).collect();
        assert_eq!(&sev[..4], &[Severity::Critical; 4]);
        assert_eq!(&sev[4..], &[Severity::Warning; 4]);
    }
}
