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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Acknowledged, Self::Resolved]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
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
    if let Some(v) = h.uptime_bps.filter(|v| *v < 9_900) {
        fire(
            "uptime",
            Severity::Critical,
            Priority::P0,
            format!("Uptime {} (< 99%)", pct(v)),
        );
    }
    if let Some(v) = h.error_rate_bps.filter(|v| *v > 100) {
        fire(
            "error_rate",
            Severity::Critical,
            Priority::P1,
            format!("Error rate {} (> 1%)", pct(v)),
        );
    }
    if let Some(v) = h.payment_failure_rate_bps.filter(|v| *v > 500) {
        fire(
            "payment_failure_rate",
            Severity::Critical,
            Priority::P0,
            format!("Payment failure rate {} (> 5%)", pct(v)),
        );
    }
    if h.database_connection_failures > 0 {
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
    if let Some(v) = h.api_p95_ms.filter(|v| *v > 500) {
        fire(
            "api_latency",
            Severity::Warning,
            Priority::P2,
            format!("API p95 {v} ms (> 500 ms)"),
        );
    }
    if let Some(v) = h.disk_used_bps.filter(|v| *v > 8_000) {
        fire(
            "disk",
            Severity::Warning,
            Priority::P2,
            format!("Disk {} used (> 80%)", pct(v)),
        );
    }
    if let Some(v) = h.memory_used_bps.filter(|v| *v > 8_500) {
        fire(
            "memory",
            Severity::Warning,
            Priority::P2,
            format!("Memory {} used (> 85%)", pct(v)),
        );
    }
    if h.webhook_failures > 0 {
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
