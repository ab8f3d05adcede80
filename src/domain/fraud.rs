//! Fraud scores: the runbook's indicators, their points, and the 0–100 score.
//!
//! A score is the sum of its indicators' points, capped at 100; every indicator
//! carries the evidence behind it so an analyst sees why, not just how much.
//! Scores strictly above the configured threshold (70) are high risk.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    IpVelocity,
    SharedDevice,
    IpReputation,
    GeoMismatch,
    PaymentHistory,
    ShippingBillingMismatch,
    HighValueFirstOrder,
    VpnProxy,
    SuspiciousEmailDomain,
    FailedPaymentAttempts,
    Blocklisted,
}

impl Indicator {
    pub const ALL: [Indicator; 11] = [
        Self::IpVelocity,
        Self::SharedDevice,
        Self::IpReputation,
        Self::GeoMismatch,
        Self::PaymentHistory,
        Self::ShippingBillingMismatch,
        Self::HighValueFirstOrder,
        Self::VpnProxy,
        Self::SuspiciousEmailDomain,
        Self::FailedPaymentAttempts,
        Self::Blocklisted,
    ];

    /// The name stored in `fraud_indicators.indicator`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::IpVelocity => "ip_velocity",
            Self::SharedDevice => "shared_device",
            Self::IpReputation => "ip_reputation",
            Self::GeoMismatch => "geo_mismatch",
            Self::PaymentHistory => "payment_history",
            Self::ShippingBillingMismatch => "shipping_billing_mismatch",
            Self::HighValueFirstOrder => "high_value_first_order",
            Self::VpnProxy => "vpn_proxy",
            Self::SuspiciousEmailDomain => "suspicious_email_domain",
            Self::FailedPaymentAttempts => "failed_payment_attempts",
            Self::Blocklisted => "blocklisted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }

    /// Short label for table cells.
    pub fn label(&self) -> &'static str {
        match self {
            Self::IpVelocity => "IP velocity",
            Self::SharedDevice => "Shared device",
            Self::IpReputation => "IP reputation",
            Self::GeoMismatch => "Geo mismatch",
            Self::PaymentHistory => "Payment history",
            Self::ShippingBillingMismatch => "Ship≠bill",
            Self::HighValueFirstOrder => "High-value 1st",
            Self::VpnProxy => "VPN/proxy",
            Self::SuspiciousEmailDomain => "Email domain",
            Self::FailedPaymentAttempts => "Failed payments",
            Self::Blocklisted => "Blocklisted",
        }
    }

    /// Default points when the indicator fires at full strength.
    pub fn default_points(&self) -> u8 {
        match self {
            Self::IpVelocity => 25,
            Self::SharedDevice => 20,
            Self::IpReputation => 20,
            Self::GeoMismatch => 15,
            Self::PaymentHistory => 25,
            Self::ShippingBillingMismatch => 10,
            Self::HighValueFirstOrder => 15,
            Self::VpnProxy => 15,
            Self::SuspiciousEmailDomain => 15,
            Self::FailedPaymentAttempts => 20,
            Self::Blocklisted => 100,
        }
    }
}

/// One fired indicator with its points and the evidence behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub indicator: Indicator,
    pub points: u8,
    pub evidence: String,
}

/// Sum of points, capped at 100.
pub fn score(hits: &[Hit]) -> u8 {
    let total: u32 = hits.iter().map(|h| u32::from(h.points)).sum();
    total.min(100) as u8
}

/// The runbook's rule: a score strictly above the threshold is high risk.
pub fn is_high_risk(score: u8, threshold: u8) -> bool {
    score > threshold
}

/// Colour band of a score on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Low,
    Elevated,
    High,
}

pub fn band(score: u8, threshold: u8) -> Band {
    if is_high_risk(score, threshold) {
        Band::High
    } else if score >= threshold.saturating_sub(20) {
        Band::Elevated
    } else {
        Band::Low
    }
}

/// Fraud workflow state of an order (`orders.fraud_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FraudState {
    Unscored,
    Clear,
    Pending,
    Approved,
    Review,
    Declined,
}

impl FraudState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unscored => "unscored",
            Self::Clear => "clear",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Review => "review",
            Self::Declined => "declined",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(indicator: Indicator, points: u8) -> Hit {
        Hit {
            indicator,
            points,
            evidence: String::new(),
        }
    }

    #[test]
    fn score_sums_and_caps() {
        assert_eq!(score(&[]), 0);
        assert_eq!(
            score(&[hit(Indicator::IpVelocity, 25), hit(Indicator::VpnProxy, 15)]),
            40
        );
        assert_eq!(
            score(&[
                hit(Indicator::Blocklisted, 100),
                hit(Indicator::VpnProxy, 15)
            ]),
            100
        );
    }

    #[test]
    fn seventy_is_not_high_risk_seventy_one_is() {
        assert!(!is_high_risk(70, 70));
        assert!(is_high_risk(71, 70));
        assert_eq!(band(71, 70), Band::High);
        assert_eq!(band(50, 70), Band::Elevated);
        assert_eq!(band(49, 70), Band::Low);
    }

    #[test]
    fn indicator_names_round_trip() {
        for i in Indicator::ALL {
            assert_eq!(Indicator::parse(i.as_str()), Some(i));
        }
    }
}
