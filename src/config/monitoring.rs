//! The monitoring sections: `[alerts]` (how rules are evaluated, the
//! runbook's thresholds), `[[probes]]` (what the worker checks) and
//! `[escalation]` (who is told, through which targets), with their checks.

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::domain::alerts::{ProbeThresholds, Thresholds};
use crate::domain::probes::{ProbeKind, StatusRange};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// How often the worker evaluates the rules (seconds).
    pub interval_s: u64,
    /// The rolling window of the probe figures (seconds).
    pub window_s: u64,
    /// A condition must hold this long before its alert fires (seconds).
    pub for_s: u64,
    /// A firing alert resolves after its condition has been clear this long (seconds).
    pub recover_s: u64,
    /// An acknowledged alert still firing after this many minutes fires again (0: never).
    pub ack_timeout_min: u64,
    /// The payment failure rate is over the payments of the last this many minutes.
    pub payment_window_min: u64,
    /// ... and only once there are at least this many.
    pub payment_min_count: u32,
    /// A scheduled show this many minutes past its start without a room cannot start (P0).
    pub show_start_grace_min: u64,
    /// A dispute whose internal SLA ends within this many hours with evidence missing is at risk.
    pub dispute_sla_risk_h: u64,
    /// The high-risk fraud queue is a backlog when its oldest order waits longer than this.
    pub fraud_queue_max_age_min: u64,
    /// Probe samples older than this many hours are deleted.
    pub retention_h: u64,
    pub thresholds: Thresholds,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            interval_s: 15,
            window_s: 300,
            for_s: 60,
            recover_s: 120,
            ack_timeout_min: 30,
            payment_window_min: 15,
            payment_min_count: 20,
            show_start_grace_min: 2,
            dispute_sla_risk_h: 4,
            fraud_queue_max_age_min: 60,
            retention_h: 72,
            thresholds: Thresholds::default(),
        }
    }
}

/// One `[[probes]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Unique; names the probe's alerts ("probe:NAME").
    pub name: String,
    pub kind: ProbeKind,
    /// http: a URL; tcp and tls: "host:port".
    pub target: String,
    #[serde(default = "default_probe_interval")]
    pub interval_s: u64,
    #[serde(default = "default_probe_timeout")]
    pub timeout_ms: u64,
    /// http: the statuses that pass, "200-399" or "204".
    #[serde(default = "default_expect_status")]
    pub expect_status: String,
    /// Overrides `[alerts] for_s` / `recover_s` for this probe's alerts.
    #[serde(default)]
    pub for_s: Option<u64>,
    #[serde(default)]
    pub recover_s: Option<u64>,
    #[serde(default)]
    pub thresholds: ProbeThresholds,
}

fn default_probe_interval() -> u64 {
    10
}
fn default_probe_timeout() -> u64 {
    2000
}
fn default_expect_status() -> String {
    "200-399".into()
}

impl ProbeConfig {
    /// The expected status range (checked when the configuration loads).
    pub fn status_range(&self) -> StatusRange {
        StatusRange::parse(&self.expect_status).unwrap_or(StatusRange { lo: 200, hi: 399 })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Contacts along the runbook's escalation path (names, handles or emails).
    pub on_call: String,
    pub tech_lead: String,
    pub cto: String,
    pub ceo: String,
    /// The technical lead is told about an incident unresolved after this many minutes.
    pub tech_lead_after_min: u64,
    /// The CTO, after this many.
    pub cto_after_min: u64,
    /// The CEO, for a P0 unresolved after this many.
    pub ceo_after_min: u64,
    /// Slack-compatible incoming webhook URL (secret); empty: no Slack messages.
    pub slack_webhook_url: Secret,
    /// PagerDuty Events API v2 endpoint.
    pub pagerduty_url: String,
    /// PagerDuty integration (routing) key (secret); empty: no PagerDuty events.
    pub pagerduty_routing_key: Secret,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            on_call: "on-call engineer".into(),
            tech_lead: "technical lead".into(),
            cto: "CTO".into(),
            ceo: "CEO".into(),
            tech_lead_after_min: 60,
            cto_after_min: 240,
            ceo_after_min: 60,
            slack_webhook_url: Secret::default(),
            pagerduty_url: "https://events.pagerduty.com/v2/enqueue".into(),
            pagerduty_routing_key: Secret::default(),
        }
    }
}

impl EscalationConfig {
    pub fn times(&self) -> crate::domain::incidents::EscalationTimes {
        let min = |m: u64| chrono::Duration::minutes(m.min(1_000_000) as i64);
        crate::domain::incidents::EscalationTimes {
            tech_lead_after: min(self.tech_lead_after_min),
            cto_after: min(self.cto_after_min),
            ceo_after_p0: min(self.ceo_after_min),
        }
    }

    /// The contact of an escalation step.
    pub fn contact(&self, step: crate::domain::incidents::Step) -> &str {
        use crate::domain::incidents::Step;
        match step {
            Step::OnCall => &self.on_call,
            Step::TechLead => &self.tech_lead,
            Step::Cto => &self.cto,
            Step::Ceo => &self.ceo,
        }
    }
}

/// A bad value: (key as "section.key", shown value, what was expected).
pub type Bad = (String, String, String);

/// Checks `[alerts]`, every `[[probes]]` entry and `[escalation]`.
pub fn validate(
    alerts: &AlertsConfig,
    probes: &[ProbeConfig],
    escalation: &EscalationConfig,
) -> Result<(), Bad> {
    let bad = |key: &str, shown: String, expected: &str| Err((key.into(), shown, expected.into()));
    for (key, value) in [
        ("interval_s", alerts.interval_s),
        ("window_s", alerts.window_s),
        ("payment_window_min", alerts.payment_window_min),
        ("retention_h", alerts.retention_h),
    ] {
        if value == 0 {
            return bad(&format!("alerts.{key}"), "0".into(), "at least 1");
        }
    }
    if let Some((key, value)) = alerts.thresholds.out_of_range() {
        return bad(
            &format!("alerts.thresholds.{key}"),
            value.to_string(),
            "a percentage from 0 to 100",
        );
    }
    let mut names = std::collections::HashSet::new();
    for (i, p) in probes.iter().enumerate() {
        let at = |key: &str| format!("probes.{key}");
        let shown = |v: &str| format!("\"{v}\" (probe #{} {:?})", i + 1, p.name);
        if p.name.trim().is_empty()
            || p.name.len() > 64
            || p.name.chars().any(|c| c.is_control() || c == ':')
        {
            return bad(
                &at("name"),
                shown(&p.name),
                "a name of 1 to 64 characters without ':'",
            );
        }
        if !names.insert(p.name.as_str()) {
            return bad(&at("name"), shown(&p.name), "a name no other probe has");
        }
        let target_ok = match p.kind {
            ProbeKind::Http => reqwest::Url::parse(&p.target)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()),
            ProbeKind::Tcp | ProbeKind::Tls => p
                .target
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok()),
        };
        if !target_ok {
            let expected = match p.kind {
                ProbeKind::Http => "an http:// or https:// URL",
                _ => "host:port",
            };
            return bad(&at("target"), shown(&p.target), expected);
        }
        if p.interval_s == 0 {
            return bad(&at("interval_s"), shown("0"), "at least 1 (seconds)");
        }
        if p.timeout_ms == 0 {
            return bad(&at("timeout_ms"), shown("0"), "at least 1 (milliseconds)");
        }
        if StatusRange::parse(&p.expect_status).is_none() {
            return bad(
                &at("expect_status"),
                shown(&p.expect_status),
                "a status or range such as \"200-399\"",
            );
        }
        let t = p.thresholds.over(&alerts.thresholds);
        if let Some((key, value)) = t.out_of_range() {
            return bad(
                &at(&format!("thresholds.{key}")),
                shown(&value.to_string()),
                "a percentage from 0 to 100",
            );
        }
    }
    for (key, url) in [
        ("slack_webhook_url", escalation.slack_webhook_url.expose()),
        ("pagerduty_url", escalation.pagerduty_url.as_str()),
    ] {
        let ok = url.is_empty() || url.starts_with("http://") || url.starts_with("https://");
        if !ok {
            let shown = if key == "slack_webhook_url" {
                "[redacted]".to_string()
            } else {
                format!("\"{url}\"")
            };
            return bad(
                &format!("escalation.{key}"),
                shown,
                "an http:// or https:// URL",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use crate::config::load_from;

    fn file(text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lsn-ops-monitoring-config-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.toml");
        std::fs::write(&path, text).expect("write");
        path
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn alerts_keys_come_from_the_environment_like_every_other_key() {
        let loaded = load_from(
            None,
            env(&[
                ("LSN_OPS_ALERTS__WINDOW_S", "5"),
                ("LSN_OPS_ALERTS__THRESHOLDS__DISK_MAX_PCT", "90.5"),
                ("LSN_OPS_ESCALATION__CTO", "carl@example.com"),
            ]),
        )
        .expect("loads");
        assert_eq!(loaded.config.alerts.window_s, 5);
        assert_eq!(loaded.config.alerts.thresholds.disk_max_pct, 90.5);
        assert_eq!(loaded.config.alerts.for_s, 60, "the rest keeps its default");
        assert_eq!(loaded.config.escalation.cto, "carl@example.com");
    }

    #[test]
    fn probes_load_with_defaults_and_overrides() {
        let path = file(
            "[[probes]]\nname = \"api\"\nkind = \"http\"\ntarget = \"https://shop.example.com/health\"\n\
             [probes.thresholds]\np95_max_ms = 800\n\
             [[probes]]\nname = \"cert\"\nkind = \"tls\"\ntarget = \"shop.example.com:443\"\ninterval_s = 3600\n",
        );
        let loaded = load_from(Some(&path), env(&[])).expect("loads");
        let p = &loaded.config.probes;
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].interval_s, p[0].timeout_ms), (10, 2000));
        assert_eq!(p[0].thresholds.p95_max_ms, Some(800));
        assert_eq!(
            p[0].thresholds
                .over(&loaded.config.alerts.thresholds)
                .p95_max_ms,
            800
        );
        assert_eq!(p[1].interval_s, 3600);
    }

    #[test]
    fn bad_probes_and_thresholds_are_named() {
        let bad = |text: &str| match load_from(Some(&file(text)), env(&[])) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.0,
        };
        let m = bad("[[probes]]\nname = \"a\"\nkind = \"http\"\ntarget = \"shop.example.com\"\n");
        assert!(
            m.contains("[probes] target") && m.contains("an http:// or https:// URL"),
            "{m}"
        );
        let m = bad("[[probes]]\nname = \"a\"\nkind = \"ping\"\ntarget = \"x:1\"\n");
        assert!(m.contains("\"http\", \"tcp\" or \"tls\""), "{m}");
        let m = bad(
            "[[probes]]\nname = \"a\"\nkind = \"tcp\"\ntarget = \"db:5432\"\n[[probes]]\nname = \"a\"\nkind = \"tcp\"\ntarget = \"db:5433\"\n",
        );
        assert!(m.contains("a name no other probe has"), "{m}");
        let m = bad(
            "[[probes]]\nname = \"a\"\nkind = \"http\"\ntarget = \"http://x\"\nexpect_status = \"500-200\"\n",
        );
        assert!(m.contains("expect_status"), "{m}");
        let m = bad("[[probes]]\nname = \"a\"\nkind = \"tcp\"\ntarget = \"db:5432\"\ncolour = 1\n");
        assert!(m.contains("unknown key"), "{m}");
        let m = bad("[alerts.thresholds]\nmemory_max_pct = 185.0\n");
        assert!(
            m.contains("[alerts.thresholds] memory_max_pct = 185"),
            "{m}"
        );
        let m = bad("[alerts]\ninterval_s = 0\n");
        assert!(
            m.contains("[alerts] interval_s = 0: expected at least 1"),
            "{m}"
        );
        let m = bad("[escalation]\nslack_webhook_url = \"hooks.slack.com/x\"\n");
        assert!(
            m.contains("[redacted]") && !m.contains("hooks.slack.com"),
            "{m}"
        );
    }
}
