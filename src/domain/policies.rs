//! The refund policy and terms of service as versioned texts in
//! `assets/policies/` (compiled into the binary), and which version was in
//! force at a given time: a dispute's evidence cites the version that applied
//! when its order was placed.

use chrono::{DateTime, NaiveDate, Utc};

/// One version of a policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `refund_policy` or `terms_of_service` (the evidence item it answers).
    pub kind: &'static str,
    /// The day it took effect (UTC), also its version name.
    pub effective: &'static str,
    /// Its file in the repository, cited as the evidence's source.
    pub path: &'static str,
    pub text: &'static str,
}

/// Every version, oldest first within a kind.
pub const POLICIES: &[Policy] = &[
    Policy {
        kind: "refund_policy",
        effective: "2025-01-01",
        path: "assets/policies/refund-policy-2025-01-01.md",
        text: include_str!("../../assets/policies/refund-policy-2025-01-01.md"),
    },
    Policy {
        kind: "refund_policy",
        effective: "2026-06-01",
        path: "assets/policies/refund-policy-2026-06-01.md",
        text: include_str!("../../assets/policies/refund-policy-2026-06-01.md"),
    },
    Policy {
        kind: "terms_of_service",
        effective: "2025-01-01",
        path: "assets/policies/terms-of-service-2025-01-01.md",
        text: include_str!("../../assets/policies/terms-of-service-2025-01-01.md"),
    },
    Policy {
        kind: "terms_of_service",
        effective: "2026-06-01",
        path: "assets/policies/terms-of-service-2026-06-01.md",
        text: include_str!("../../assets/policies/terms-of-service-2026-06-01.md"),
    },
];

fn effective_at(p: &Policy) -> Option<DateTime<Utc>> {
    NaiveDate::parse_from_str(p.effective, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// The version of `kind` in force at `at`: the newest that took effect on or
/// before it (the oldest when `at` predates them all).
pub fn in_force(kind: &str, at: DateTime<Utc>) -> Option<&'static Policy> {
    let mut versions = POLICIES.iter().filter(|p| p.kind == kind);
    let oldest = versions.clone().next();
    versions
        .rfind(|p| effective_at(p).is_some_and(|e| e <= at))
        .or(oldest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_version_in_force_when_the_order_was_placed() {
        let before = Utc.with_ymd_and_hms(2026, 5, 31, 23, 59, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert_eq!(
            in_force("refund_policy", before).map(|p| p.effective),
            Some("2025-01-01")
        );
        assert_eq!(
            in_force("refund_policy", after).map(|p| p.effective),
            Some("2026-06-01")
        );
        let ancient = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            in_force("terms_of_service", ancient).map(|p| p.effective),
            Some("2025-01-01")
        );
        assert!(in_force("privacy", after).is_none());
        for p in POLICIES {
            assert!(effective_at(p).is_some(), "{}", p.path);
            assert!(p.text.contains(p.effective), "{} names its version", p.path);
        }
    }
}
