//! Dispute lifecycle: the runbook's states, the legal transitions between them,
//! the internal 24h evidence SLA and the evidence checklist.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The runbook's dispute states, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DisputeState {
    Open,
    EvidenceRequired,
    EvidenceBuilding,
    EvidenceReady,
    Submitted,
    Won,
    Lost,
    Closed,
}

impl DisputeState {
    pub const ALL: [DisputeState; 8] = [
        Self::Open,
        Self::EvidenceRequired,
        Self::EvidenceBuilding,
        Self::EvidenceReady,
        Self::Submitted,
        Self::Won,
        Self::Lost,
        Self::Closed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::EvidenceRequired => "EVIDENCE_REQUIRED",
            Self::EvidenceBuilding => "EVIDENCE_BUILDING",
            Self::EvidenceReady => "EVIDENCE_READY",
            Self::Submitted => "SUBMITTED",
            Self::Won => "WON",
            Self::Lost => "LOST",
            Self::Closed => "CLOSED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Still needs the team: not yet won, lost or closed.
    pub fn is_active(&self) -> bool {
        !matches!(self, Self::Won | Self::Lost | Self::Closed)
    }

    /// Evidence still has to reach PayPal, so the SLA clock matters.
    pub fn awaiting_evidence(&self) -> bool {
        matches!(
            self,
            Self::Open | Self::EvidenceRequired | Self::EvidenceBuilding | Self::EvidenceReady
        )
    }

    /// The legal next states: always forward in lifecycle order. WON/LOST
    /// may come from any pre-resolution state because PayPal can decide a
    /// case (or the buyer cancel it) at any time.
    pub fn next_states(&self) -> &'static [DisputeState] {
        use DisputeState::*;
        match self {
            Open => &[EvidenceRequired, Won, Lost],
            EvidenceRequired => &[EvidenceBuilding, Won, Lost],
            EvidenceBuilding => &[EvidenceReady, Won, Lost],
            EvidenceReady => &[Submitted, Won, Lost],
            Submitted => &[Won, Lost],
            Won | Lost => &[Closed],
            Closed => &[],
        }
    }

    pub fn can_move_to(&self, next: DisputeState) -> bool {
        self.next_states().contains(&next)
    }

    /// Checks a transition; the error says what was asked and what is allowed.
    pub fn transition(self, next: DisputeState) -> Result<DisputeState, IllegalTransition> {
        if self.can_move_to(next) {
            Ok(next)
        } else {
            Err(IllegalTransition {
                from: self,
                to: next,
            })
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("dispute cannot go from {} to {}", from.as_str(), to.as_str())]
pub struct IllegalTransition {
    pub from: DisputeState,
    pub to: DisputeState,
}

/// Internal SLA: evidence within 24 hours of the dispute's creation.
pub const EVIDENCE_SLA: Duration = Duration::hours(24);
/// Auto-submission needs the hard deadline more than 48 hours away.
pub const AUTO_SUBMIT_MIN_LEAD: Duration = Duration::hours(48);

pub fn sla_due_at(opened_at: DateTime<Utc>) -> DateTime<Utc> {
    opened_at + EVIDENCE_SLA
}

/// The deadline that comes first: the internal SLA or PayPal's due date.
pub fn effective_deadline(
    sla_due_at: DateTime<Utc>,
    seller_response_due_at: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    seller_response_due_at.map_or(sla_due_at, |hard| hard.min(sla_due_at))
}

/// How urgent a deadline is, for colours and for the morning checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Overdue,
    /// Under 4 hours left.
    Critical,
    /// Under 24 hours left.
    DueSoon,
    Ok,
}

pub fn urgency(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Urgency {
    let left = deadline - now;
    if left <= Duration::zero() {
        Urgency::Overdue
    } else if left < Duration::hours(4) {
        Urgency::Critical
    } else if left < Duration::hours(24) {
        Urgency::DueSoon
    } else {
        Urgency::Ok
    }
}

/// The runbook's evidence collection checklist, in its order.
pub const EVIDENCE_ITEMS: [(&str, &str); 7] = [
    ("order_confirmation", "Order confirmation email"),
    ("shipping_tracking", "Shipping tracking number"),
    ("delivery_confirmation", "Delivery confirmation"),
    ("product_description", "Product description and images"),
    ("customer_communication", "Customer communication history"),
    ("refund_policy", "Refund policy"),
    ("terms_of_service", "Terms of service"),
];

/// Evidence may go to PayPal automatically only when complete and the hard
/// deadline is more than 48 hours away; otherwise it waits for a person.
pub fn may_auto_submit(
    evidence_complete: bool,
    seller_response_due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    evidence_complete && seller_response_due_at.is_some_and(|due| due - now > AUTO_SUBMIT_MIN_LEAD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn happy_path_is_legal_and_shortcuts_are_not() {
        use DisputeState::*;
        let path = [
            Open,
            EvidenceRequired,
            EvidenceBuilding,
            EvidenceReady,
            Submitted,
            Won,
            Closed,
        ];
        for pair in path.windows(2) {
            assert_eq!(pair[0].transition(pair[1]), Ok(pair[1]));
        }
        assert!(Open.transition(Submitted).is_err());
        assert!(Closed.transition(Open).is_err());
        assert!(Won.transition(Lost).is_err());
        assert!(Submitted.transition(EvidenceBuilding).is_err());
        assert!(EvidenceReady.transition(EvidenceBuilding).is_err());
        let err = Open.transition(Closed).unwrap_err();
        assert_eq!(err.to_string(), "dispute cannot go from OPEN to CLOSED");
    }

    #[test]
    fn every_legal_step_goes_forward() {
        for from in DisputeState::ALL {
            for to in from.next_states() {
                assert!(to > &from, "{} -> {}", from.as_str(), to.as_str());
            }
        }
    }

    #[test]
    fn states_round_trip_their_names() {
        for state in DisputeState::ALL {
            assert_eq!(DisputeState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DisputeState::parse("open"), None);
    }

    #[test]
    fn deadlines_and_urgency() {
        let opened = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let sla = sla_due_at(opened);
        assert_eq!(sla, Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap());
        let hard = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
        assert_eq!(effective_deadline(sla, Some(hard)), hard);
        assert_eq!(effective_deadline(sla, None), sla);
        assert_eq!(urgency(sla, sla), Urgency::Overdue);
        assert_eq!(urgency(sla, sla - Duration::hours(3)), Urgency::Critical);
        assert_eq!(urgency(sla, sla - Duration::hours(23)), Urgency::DueSoon);
        assert_eq!(urgency(sla, sla - Duration::hours(24)), Urgency::Ok);
    }

    #[test]
    fn auto_submit_needs_complete_evidence_and_48h() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        assert!(may_auto_submit(true, Some(now + Duration::hours(49)), now));
        assert!(!may_auto_submit(true, Some(now + Duration::hours(48)), now));
        assert!(!may_auto_submit(
            false,
            Some(now + Duration::hours(100)),
            now
        ));
        assert!(!may_auto_submit(true, None, now));
    }
}
