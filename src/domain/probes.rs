//! Probes and what their samples mean, pure: the kinds (`http`, `tcp`,
//! `tls`), an http probe's expected status range, a probe's figures over the
//! rolling window (uptime, error rate, p95 latency, days until its
//! certificate expires) and the alert conditions they make against the
//! thresholds.

use serde::{Deserialize, Serialize};

use super::alerts::{Condition, Severity, Thresholds};
use super::incidents::Priority;
use super::money::format_bps;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// GET the target URL; ok when the status is in the expected range.
    Http,
    /// Connect to `host:port`.
    Tcp,
    /// TLS handshake with `host:port` (SNI = host); reads the certificate's expiry.
    Tls,
}

impl ProbeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

/// An http probe's expected statuses, written "200-399" or "204".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub lo: u16,
    pub hi: u16,
}

impl StatusRange {
    pub fn parse(s: &str) -> Option<StatusRange> {
        let s = s.trim();
        let (lo, hi) = s.split_once('-').unwrap_or((s, s));
        let lo: u16 = lo.trim().parse().ok()?;
        let hi: u16 = hi.trim().parse().ok()?;
        ((100..=599).contains(&lo) && (lo..=599).contains(&hi)).then_some(StatusRange { lo, hi })
    }

    pub fn contains(&self, status: u16) -> bool {
        (self.lo..=self.hi).contains(&status)
    }
}

/// One probe's samples over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub samples: i64,
    /// Samples where the target answered at all.
    pub reached: i64,
    /// Samples that passed (answered, and for http in the expected range).
    pub ok: i64,
    /// 95th percentile of the answered samples' latency.
    pub p95_ms: Option<i32>,
    /// Days until the certificate expires, from the latest sample that read it.
    pub cert_days: Option<i32>,
}

impl Figures {
    /// Answered samples out of all, in basis points.
    pub fn uptime_bps(&self) -> Option<u32> {
        (self.samples > 0).then(|| (self.reached * 10_000 / self.samples) as u32)
    }

    /// Failed checks among the answered samples, in basis points.
    pub fn error_rate_bps(&self) -> Option<u32> {
        (self.reached > 0).then(|| ((self.reached - self.ok) * 10_000 / self.reached) as u32)
    }
}

/// The nearest-rank 95th percentile of `values` (sorted here).
pub fn p95(values: &mut [i32]) -> Option<i32> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * 95).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// The alert conditions of probe `name` (`source` "probe:NAME") whose figures
/// cross `t`. An unreachable target is an uptime alert; errors among the
/// answers are an error-rate alert; slow answers a latency warning; a
/// certificate close to expiry a warning.
pub fn conditions(
    name: &str,
    f: &Figures,
    t: &Thresholds,
    for_s: i64,
    recover_s: i64,
) -> Vec<Condition> {
    let bps = Thresholds::bps;
    let mut out = Vec::new();
    let mut push = |rule: &str, severity, priority, title: String, details: String| {
        out.push(Condition {
            rule_key: rule.into(),
            dedup_key: format!("probe:{name}:{rule}"),
            source: format!("probe:{name}"),
            severity,
            priority,
            title,
            details,
            for_s,
            recover_s,
            opens_incident: false,
        })
    };
    let of = format!("{} of {} checks", f.reached, f.samples);
    if let Some(v) = f.uptime_bps().filter(|v| *v < bps(t.uptime_min_pct)) {
        push(
            "uptime",
            Severity::Critical,
            Priority::P1,
            format!(
                "{name}: uptime {} (< {})",
                format_bps(v.into()),
                format_bps(bps(t.uptime_min_pct).into())
            ),
            format!("{of} answered in the window"),
        );
    }
    if let Some(v) = f
        .error_rate_bps()
        .filter(|v| *v > bps(t.error_rate_max_pct))
    {
        push(
            "error_rate",
            Severity::Critical,
            Priority::P1,
            format!(
                "{name}: error rate {} (> {})",
                format_bps(v.into()),
                format_bps(bps(t.error_rate_max_pct).into())
            ),
            format!(
                "{} of {} answers failed the check in the window",
                f.reached - f.ok,
                f.reached
            ),
        );
    }
    if let Some(v) = f.p95_ms.filter(|v| *v > 0 && *v as u32 > t.p95_max_ms) {
        push(
            "api_latency",
            Severity::Warning,
            Priority::P2,
            format!("{name}: p95 {v} ms (> {} ms)", t.p95_max_ms),
            format!("over {} answered checks in the window", f.reached),
        );
    }
    if let Some(days) = f.cert_days.filter(|d| *d < t.cert_min_days as i32) {
        let when = if days < 0 {
            format!("expired {} days ago", -days)
        } else {
            format!("expires in {days} days")
        };
        push(
            "cert_expiry",
            Severity::Warning,
            Priority::P2,
            format!("{name}: TLS certificate {when}"),
            format!(
                "renew before it expires (warning under {} days)",
                t.cert_min_days
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(f: &Figures) -> Vec<String> {
        conditions("checkout", f, &Thresholds::default(), 30, 60)
            .into_iter()
            .map(|c| c.dedup_key)
            .collect()
    }

    #[test]
    fn status_ranges() {
        assert_eq!(
            StatusRange::parse("200-399"),
            Some(StatusRange { lo: 200, hi: 399 })
        );
        assert_eq!(
            StatusRange::parse("204"),
            Some(StatusRange { lo: 204, hi: 204 })
        );
        assert_eq!(StatusRange::parse("399-200"), None);
        assert_eq!(StatusRange::parse("abc"), None);
        assert!(StatusRange::parse("200-299").is_some_and(|r| r.contains(204) && !r.contains(500)));
    }

    #[test]
    fn percentile_is_nearest_rank() {
        assert_eq!(p95(&mut []), None);
        assert_eq!(p95(&mut [7]), Some(7));
        let mut v: Vec<i32> = (1..=100).rev().collect();
        assert_eq!(p95(&mut v), Some(95));
        let mut v: Vec<i32> = (1..=20).collect();
        assert_eq!(p95(&mut v), Some(19));
    }

    #[test]
    fn a_healthy_probe_makes_nothing() {
        let f = Figures {
            samples: 30,
            reached: 30,
            ok: 30,
            p95_ms: Some(120),
            cert_days: Some(60),
        };
        assert!(rules(&f).is_empty());
        assert!(
            rules(&Figures::default()).is_empty(),
            "no samples, no alert"
        );
    }

    #[test]
    fn errors_downtime_latency_and_certificates_each_have_their_alert() {
        let errors = Figures {
            samples: 10,
            reached: 10,
            ok: 0,
            p95_ms: Some(20),
            cert_days: None,
        };
        assert_eq!(rules(&errors), ["probe:checkout:error_rate"]);
        let down = Figures {
            samples: 10,
            reached: 0,
            ..Default::default()
        };
        assert_eq!(rules(&down), ["probe:checkout:uptime"]);
        let slow = Figures {
            samples: 10,
            reached: 10,
            ok: 10,
            p95_ms: Some(501),
            cert_days: Some(13),
        };
        assert_eq!(
            rules(&slow),
            ["probe:checkout:api_latency", "probe:checkout:cert_expiry"]
        );
        let at_limit = Figures {
            samples: 100,
            reached: 100,
            ok: 99,
            p95_ms: Some(500),
            cert_days: Some(14),
        };
        assert_eq!(rules(&at_limit), Vec::<String>::new());
    }
}
