//! Incident priorities and their resolution targets (runbook: P0 1h, P1 4h,
//! P2 24h, P3 1 week), with the time left that the screen always shows; the
//! states (investigating → identified → monitoring → resolved) and the
//! runbook's escalation path (on-call engineer, the technical lead after 1 h,
//! the CTO after 4 h, the CEO for P0).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    P0,
    P1,
    P2,
    P3,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Self::P0, Self::P1, Self::P2, Self::P3];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }

    /// How long the runbook allows to resolve an incident of this priority.
    pub fn resolve_within(&self) -> Duration {
        match self {
            Self::P0 => Duration::hours(1),
            Self::P1 => Duration::hours(4),
            Self::P2 => Duration::hours(24),
            Self::P3 => Duration::weeks(1),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::P0 => "Critical",
            Self::P1 => "High",
            Self::P2 => "Medium",
            Self::P3 => "Low",
        }
    }
}

/// An incident's state, as a status page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentState {
    pub const ALL: [IncidentState; 4] = [
        Self::Investigating,
        Self::Identified,
        Self::Monitoring,
        Self::Resolved,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Who is told, in the runbook's order. The step number is
/// `incidents.escalation_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    OnCall = 0,
    TechLead = 1,
    Cto = 2,
    Ceo = 3,
}

impl Step {
    pub const ALL: [Step; 4] = [Self::OnCall, Self::TechLead, Self::Cto, Self::Ceo];

    pub fn level(self) -> i32 {
        self as i32
    }

    pub fn from_level(level: i32) -> Option<Step> {
        Self::ALL.into_iter().find(|s| s.level() == level)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::OnCall => "on-call engineer",
            Self::TechLead => "technical lead",
            Self::Cto => "CTO",
            Self::Ceo => "CEO",
        }
    }
}

/// When each step is due after an incident opened (`[escalation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationTimes {
    pub tech_lead_after: Duration,
    pub cto_after: Duration,
    /// P0 only: the CEO (business-critical).
    pub ceo_after_p0: Duration,
}

impl Default for EscalationTimes {
    fn default() -> Self {
        Self {
            tech_lead_after: Duration::hours(1),
            cto_after: Duration::hours(4),
            ceo_after_p0: Duration::hours(1),
        }
    }
}

/// The highest step an unresolved incident opened at `opened_at` has reached
/// at `now`: the on-call engineer from the start, the technical lead after 1 h,
/// the CTO after 4 h; a P0 reaches the CEO after `ceo_after_p0` (then the
/// CTO is told too, as the path goes through them).
pub fn escalation_due(
    priority: Priority,
    opened_at: DateTime<Utc>,
    now: DateTime<Utc>,
    times: &EscalationTimes,
) -> Step {
    let open_for = now - opened_at;
    if priority == Priority::P0 && open_for >= times.ceo_after_p0 {
        Step::Ceo
    } else if open_for >= times.cto_after {
        Step::Cto
    } else if open_for >= times.tech_lead_after {
        Step::TechLead
    } else {
        Step::OnCall
    }
}

pub fn due_at(priority: Priority, opened_at: DateTime<Utc>) -> DateTime<Utc> {
    opened_at + priority.resolve_within()
}

/// "1h 05m left", "12m left", "overdue 3m", "2d 4h left".
pub fn format_time_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = deadline - now;
    if left <= Duration::zero() {
        format!("overdue {}", format_duration(-left))
    } else {
        format!("{} left", format_duration(left))
    }
}

/// Compact duration: "45s", "12m", "1h 05m", "2d 04h".
pub fn format_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if days > 0 {
        format!("{days}d {hours:02}h")
    } else if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn runbook_resolution_targets() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        assert_eq!(due_at(Priority::P0, t), t + Duration::hours(1));
        assert_eq!(due_at(Priority::P1, t), t + Duration::hours(4));
        assert_eq!(due_at(Priority::P2, t), t + Duration::hours(24));
        assert_eq!(due_at(Priority::P3, t), t + Duration::days(7));
    }

    #[test]
    fn escalation_follows_the_runbook_path() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        let times = EscalationTimes::default();
        let at = |m| escalation_due(Priority::P1, t, t + Duration::minutes(m), &times);
        assert_eq!(at(0), Step::OnCall);
        assert_eq!(at(59), Step::OnCall);
        assert_eq!(at(60), Step::TechLead);
        assert_eq!(at(239), Step::TechLead);
        assert_eq!(at(240), Step::Cto);
        assert_eq!(at(10_000), Step::Cto, "only a P0 reaches the CEO");
        let p0 = |m| escalation_due(Priority::P0, t, t + Duration::minutes(m), &times);
        assert_eq!(p0(30), Step::OnCall);
        assert_eq!(p0(60), Step::Ceo);
        assert_eq!(
            IncidentState::parse("Monitoring"),
            Some(IncidentState::Monitoring)
        );
        assert_eq!(Step::from_level(2), Some(Step::Cto));
    }

    #[test]
    fn time_left_reads_naturally() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        assert_eq!(
            format_time_left(t + Duration::minutes(65), t),
            "1h 05m left"
        );
        assert_eq!(format_time_left(t + Duration::minutes(12), t), "12m left");
        assert_eq!(format_time_left(t - Duration::minutes(3), t), "overdue 3m");
        assert_eq!(format_time_left(t + Duration::hours(52), t), "2d 04h left");
        assert_eq!(format_time_left(t + Duration::seconds(40), t), "40s left");
    }
}
