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

/// What is known about an order when its payment is captured: the inputs of
/// every indicator. The store gathers them; [`hits`] turns them into points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub ip: Option<String>,
    /// Orders from the same IP in the last 10 minutes, this one included.
    pub orders_from_ip_10m: u32,
    pub device: Option<String>,
    /// Other customers seen with the same device fingerprint.
    pub other_accounts_on_device: u32,
    /// The IP is on the reputation list (abuse score 0-100), if known.
    pub ip_abuse_score: Option<u8>,
    pub ip_is_proxy: bool,
    pub ip_country: Option<String>,
    pub billing_country: Option<String>,
    pub shipping_country: Option<String>,
    /// Earlier disputes or chargebacks by the same payer.
    pub payer_disputes: u32,
    /// The customer's earlier paid orders.
    pub previous_orders: u32,
    /// Order total in minor units, and the high-value line for a first order.
    pub total_minor: i64,
    pub high_value_minor: i64,
    pub email_domain: Option<String>,
    pub email_domain_disposable: bool,
    /// Denied payment attempts by the same payer or email in the last hour.
    pub failed_payments_1h: u32,
    /// A blocklist entry matched (kind and value).
    pub blocklisted: Option<(String, String)>,
}

/// The indicators that fire for `signals`, each with its points and evidence.
pub fn hits(s: &Signals) -> Vec<Hit> {
    let mut out = Vec::new();
    let mut fire = |indicator: Indicator, evidence: String| {
        out.push(Hit {
            indicator,
            points: indicator.default_points(),
            evidence,
        })
    };
    if let Some((kind, value)) = &s.blocklisted {
        fire(
            Indicator::Blocklisted,
            format!("{kind} {value} is on the blocklist"),
        );
    }
    if s.orders_from_ip_10m >= 3 {
        let ip = s.ip.as_deref().unwrap_or("?");
        fire(
            Indicator::IpVelocity,
            format!("{} orders from {ip} in 10 min", s.orders_from_ip_10m),
        );
    }
    if s.other_accounts_on_device >= 2 {
        let device = s.device.as_deref().unwrap_or("?");
        fire(
            Indicator::SharedDevice,
            format!(
                "device {device} seen on {} other accounts",
                s.other_accounts_on_device
            ),
        );
    }
    if let Some(score) = s.ip_abuse_score.filter(|v| *v >= 50) {
        fire(
            Indicator::IpReputation,
            format!("{} has abuse score {score}", s.ip.as_deref().unwrap_or("?")),
        );
    }
    if s.ip_is_proxy {
        fire(
            Indicator::VpnProxy,
            format!(
                "{} is a known proxy/VPN exit",
                s.ip.as_deref().unwrap_or("?")
            ),
        );
    }
    if let (Some(ip), Some(billing)) = (&s.ip_country, &s.billing_country)
        && ip != billing
    {
        fire(
            Indicator::GeoMismatch,
            format!("IP in {ip}, billing in {billing}"),
        );
    }
    if let (Some(ship), Some(billing)) = (&s.shipping_country, &s.billing_country)
        && ship != billing
    {
        fire(
            Indicator::ShippingBillingMismatch,
            format!("ships to {ship}, bills to {billing}"),
        );
    }
    if s.payer_disputes > 0 {
        fire(
            Indicator::PaymentHistory,
            format!("payer has {} earlier dispute(s)", s.payer_disputes),
        );
    }
    if s.previous_orders == 0 && s.high_value_minor > 0 && s.total_minor >= s.high_value_minor {
        fire(
            Indicator::HighValueFirstOrder,
            format!("first order, {} minor units", s.total_minor),
        );
    }
    if s.email_domain_disposable {
        fire(
            Indicator::SuspiciousEmailDomain,
            format!(
                "disposable domain {}",
                s.email_domain.as_deref().unwrap_or("?")
            ),
        );
    }
    if s.failed_payments_1h >= 2 {
        fire(
            Indicator::FailedPaymentAttempts,
            format!("{} failed payment attempts in 1h", s.failed_payments_1h),
        );
    }
    out
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
    fn signals_fire_their_indicators_with_evidence() {
        assert!(hits(&Signals::default()).is_empty());
        let risky = Signals {
            ip: Some("203.0.113.7".into()),
            orders_from_ip_10m: 4,
            ip_country: Some("RO".into()),
            billing_country: Some("US".into()),
            shipping_country: Some("US".into()),
            email_domain: Some("mailinator.com".into()),
            email_domain_disposable: true,
            ..Default::default()
        };
        let fired = hits(&risky);
        let names: Vec<_> = fired.iter().map(|h| h.indicator).collect();
        assert_eq!(
            names,
            [
                Indicator::IpVelocity,
                Indicator::GeoMismatch,
                Indicator::SuspiciousEmailDomain
            ]
        );
        assert_eq!(fired[0].evidence, "4 orders from 203.0.113.7 in 10 min");
        assert_eq!(score(&fired), 25 + 15 + 15);
        let two = Signals {
            orders_from_ip_10m: 2,
            ..risky.clone()
        };
        assert!(
            !hits(&two)
                .iter()
                .any(|h| h.indicator == Indicator::IpVelocity),
            "velocity starts at 3"
        );
        let blocked = Signals {
            blocklisted: Some(("ip".into(), "203.0.113.7".into())),
            ..Default::default()
        };
        assert_eq!(
            score(&hits(&blocked)),
            100,
            "a blocklisted order scores at the top"
        );
    }

    #[test]
    fn indicator_names_round_trip() {
        for i in Indicator::ALL {
            assert_eq!(Indicator::parse(i.as_str()), Some(i));
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn signals() -> impl Strategy<Value = Signals> {
        (
            (
                0u32..20,
                0u32..10,
                proptest::option::of(0u8..=100),
                any::<bool>(),
            ),
            (0u32..5, 0u32..5, 0i64..200_000, 0u32..6),
            (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |(
                    (ip_orders, devices, abuse, proxy),
                    (disputes, previous, total, failed),
                    (geo, ship, disposable, blocked),
                )| Signals {
                    ip: Some("203.0.113.7".into()),
                    orders_from_ip_10m: ip_orders,
                    device: Some("fp".into()),
                    other_accounts_on_device: devices,
                    ip_abuse_score: abuse,
                    ip_is_proxy: proxy,
                    ip_country: Some(if geo { "RO" } else { "US" }.into()),
                    billing_country: Some("US".into()),
                    shipping_country: Some(if ship { "CA" } else { "US" }.into()),
                    payer_disputes: disputes,
                    previous_orders: previous,
                    total_minor: total,
                    high_value_minor: 50_000,
                    email_domain: Some("example.com".into()),
                    email_domain_disposable: disposable,
                    failed_payments_1h: failed,
                    blocklisted: blocked.then(|| ("ip".to_string(), "203.0.113.7".to_string())),
                },
            )
    }

    proptest! {
        /// Whatever the signals, the score is 0-100.
        #[test]
        fn score_stays_in_range(s in signals()) {
            let score = score(&hits(&s));
            prop_assert!(score <= 100);
        }

        /// Making any one signal worse never lowers the score.
        #[test]
        fn score_is_monotone_in_each_signal(s in signals()) {
            let base = score(&hits(&s));
            let worse = [
                Signals { orders_from_ip_10m: s.orders_from_ip_10m + 5, ..s.clone() },
                Signals { other_accounts_on_device: s.other_accounts_on_device + 3, ..s.clone() },
                Signals { ip_abuse_score: Some(100), ..s.clone() },
                Signals { ip_is_proxy: true, ..s.clone() },
                Signals { ip_country: Some("NG".into()), ..s.clone() },
                Signals { shipping_country: Some("NG".into()), ..s.clone() },
                Signals { payer_disputes: s.payer_disputes + 1, ..s.clone() },
                Signals { email_domain_disposable: true, ..s.clone() },
                Signals { failed_payments_1h: s.failed_payments_1h + 3, ..s.clone() },
                Signals { blocklisted: Some(("email".into(), "x@y".into())), ..s.clone() },
            ];
            for w in worse {
                prop_assert!(score(&hits(&w)) >= base, "{:?} scored lower than {:?}", w, s);
            }
        }
    }
}
