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

/// Points per indicator when it fires (`[fraud.weights]`). Zero turns an
/// indicator off. The defaults put two strong signals plus one more over 70.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub ip_velocity: u8,
    pub shared_device: u8,
    pub ip_reputation: u8,
    pub geo_mismatch: u8,
    pub payment_history: u8,
    pub shipping_billing_mismatch: u8,
    pub high_value_first_order: u8,
    pub vpn_proxy: u8,
    pub suspicious_email_domain: u8,
    pub failed_payment_attempts: u8,
    /// A blocklist match: 100 puts the order at the top of the queue.
    pub blocklisted: u8,
}

impl Default for Weights {
    fn default() -> Self {
        let p = Indicator::default_points;
        Self {
            ip_velocity: p(&Indicator::IpVelocity),
            shared_device: p(&Indicator::SharedDevice),
            ip_reputation: p(&Indicator::IpReputation),
            geo_mismatch: p(&Indicator::GeoMismatch),
            payment_history: p(&Indicator::PaymentHistory),
            shipping_billing_mismatch: p(&Indicator::ShippingBillingMismatch),
            high_value_first_order: p(&Indicator::HighValueFirstOrder),
            vpn_proxy: p(&Indicator::VpnProxy),
            suspicious_email_domain: p(&Indicator::SuspiciousEmailDomain),
            failed_payment_attempts: p(&Indicator::FailedPaymentAttempts),
            blocklisted: p(&Indicator::Blocklisted),
        }
    }
}

impl Weights {
    pub fn of(&self, indicator: Indicator) -> u8 {
        match indicator {
            Indicator::IpVelocity => self.ip_velocity,
            Indicator::SharedDevice => self.shared_device,
            Indicator::IpReputation => self.ip_reputation,
            Indicator::GeoMismatch => self.geo_mismatch,
            Indicator::PaymentHistory => self.payment_history,
            Indicator::ShippingBillingMismatch => self.shipping_billing_mismatch,
            Indicator::HighValueFirstOrder => self.high_value_first_order,
            Indicator::VpnProxy => self.vpn_proxy,
            Indicator::SuspiciousEmailDomain => self.suspicious_email_domain,
            Indicator::FailedPaymentAttempts => self.failed_payment_attempts,
            Indicator::Blocklisted => self.blocklisted,
        }
    }
}

/// When the counting indicators fire (`[fraud.thresholds]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Velocity counts orders from one IP in this many minutes...
    pub velocity_window_min: u32,
    /// ...and fires at this many (the order itself included).
    pub velocity_min_orders: u32,
    /// A device fingerprint seen on at least this many other customers.
    pub shared_device_min_accounts: u32,
    /// An IP whose reputation-list abuse score (0-100) is at least this.
    pub ip_reputation_min_abuse: u8,
    /// A customer's first paid order at or above this total (minor units).
    pub high_value_first_order_minor: i64,
    /// Failed payment attempts by the same payer or email in this many minutes...
    pub failed_payments_window_min: u32,
    /// ...fire at this many.
    pub failed_payments_min: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            velocity_window_min: 10,
            velocity_min_orders: 3,
            shared_device_min_accounts: 2,
            ip_reputation_min_abuse: 50,
            high_value_first_order_minor: 50_000,
            failed_payments_window_min: 60,
            failed_payments_min: 2,
        }
    }
}

/// Weights and thresholds together: everything [`hits`] needs besides the signals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    pub weights: Weights,
    pub thresholds: Thresholds,
}

/// A rule value out of range: the key (as in the config file), what it was and
/// what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub key: String,
    pub value: String,
    pub expected: &'static str,
}

impl Rules {
    /// Checks what the types cannot: points and abuse scores up to 100, counts
    /// and windows of at least 1.
    pub fn validate(&self) -> Result<(), RuleError> {
        for i in Indicator::ALL {
            let w = self.weights.of(i);
            if w > 100 {
                return Err(RuleError {
                    key: format!("weights.{}", i.as_str()),
                    value: w.to_string(),
                    expected: "points from 0 (off) to 100",
                });
            }
        }
        let t = &self.thresholds;
        let counts = [
            ("thresholds.velocity_window_min", t.velocity_window_min),
            ("thresholds.velocity_min_orders", t.velocity_min_orders),
            (
                "thresholds.shared_device_min_accounts",
                t.shared_device_min_accounts,
            ),
            (
                "thresholds.failed_payments_window_min",
                t.failed_payments_window_min,
            ),
            ("thresholds.failed_payments_min", t.failed_payments_min),
        ];
        for (key, v) in counts {
            if v == 0 {
                return Err(RuleError {
                    key: key.into(),
                    value: "0".into(),
                    expected: "at least 1",
                });
            }
        }
        if !(1..=100).contains(&t.ip_reputation_min_abuse) {
            return Err(RuleError {
                key: "thresholds.ip_reputation_min_abuse".into(),
                value: t.ip_reputation_min_abuse.to_string(),
                expected: "an abuse score from 1 to 100",
            });
        }
        if t.high_value_first_order_minor <= 0 {
            return Err(RuleError {
                key: "thresholds.high_value_first_order_minor".into(),
                value: t.high_value_first_order_minor.to_string(),
                expected: "more than 0 minor units",
            });
        }
        Ok(())
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
/// every indicator. The store gathers them (counting over the windows in
/// [`Thresholds`]) and looks the IP and email domain up in the reference
/// lists; [`hits`] turns them into points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub ip: Option<String>,
    /// Orders from the same IP in the velocity window, this one included.
    pub orders_from_ip: u32,
    pub device: Option<String>,
    /// Other customers seen with the same device fingerprint.
    pub other_accounts_on_device: u32,
    /// The IP's abuse score (0-100) on the reputation list, if listed.
    pub ip_abuse_score: Option<u8>,
    /// The proxy/VPN range the IP is in, if any.
    pub proxy_range: Option<String>,
    pub ip_country: Option<String>,
    pub billing_country: Option<String>,
    pub shipping_country: Option<String>,
    /// Earlier disputes or chargebacks by the same payer.
    pub payer_disputes: u32,
    /// The customer's earlier paid orders.
    pub previous_orders: u32,
    /// Order total in minor units, and its display ("$612.00").
    pub total_minor: i64,
    pub total_display: String,
    pub email_domain: Option<String>,
    pub email_domain_disposable: bool,
    /// Failed payment attempts by the same payer or email in the failed-payments window.
    pub failed_payments: u32,
    /// A blocklist entry matched (kind and value).
    pub blocklisted: Option<(String, String)>,
}

/// "10 min", "1h", "90 min": a window as the evidence says it.
fn window(minutes: u32) -> String {
    if minutes >= 60 && minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

/// The indicators that fire for `signals` under `rules`, each with its points
/// and evidence. An indicator weighted 0 is off and not listed.
pub fn hits(s: &Signals, rules: &Rules) -> Vec<Hit> {
    let t = &rules.thresholds;
    let mut out = Vec::new();
    let mut fire = |indicator: Indicator, evidence: String| {
        let points = rules.weights.of(indicator);
        if points > 0 {
            out.push(Hit {
                indicator,
                points,
                evidence,
            });
        }
    };
    let ip = s.ip.as_deref().unwrap_or("?");
    if let Some((kind, value)) = &s.blocklisted {
        fire(
            Indicator::Blocklisted,
            format!("{kind} {value} is on the blocklist"),
        );
    }
    if s.orders_from_ip >= t.velocity_min_orders {
        fire(
            Indicator::IpVelocity,
            format!(
                "{} orders from {ip} in {}",
                s.orders_from_ip,
                window(t.velocity_window_min)
            ),
        );
    }
    if s.other_accounts_on_device >= t.shared_device_min_accounts {
        let device = s.device.as_deref().unwrap_or("?");
        fire(
            Indicator::SharedDevice,
            format!(
                "device {device} seen on {} other accounts",
                s.other_accounts_on_device
            ),
        );
    }
    if let Some(abuse) = s.ip_abuse_score.filter(|v| *v >= t.ip_reputation_min_abuse) {
        fire(
            Indicator::IpReputation,
            format!("{ip} has abuse score {abuse} on the reputation list"),
        );
    }
    if let Some(range) = &s.proxy_range {
        fire(
            Indicator::VpnProxy,
            format!("{ip} is in proxy/VPN range {range}"),
        );
    }
    // The IP's country against both addresses on the order.
    if let Some(ip_country) = &s.ip_country {
        let billing = s.billing_country.as_ref().filter(|b| *b != ip_country);
        let shipping = s.shipping_country.as_ref().filter(|c| *c != ip_country);
        let evidence = match (billing, shipping) {
            (Some(b), Some(c)) if b == c => {
                Some(format!("IP in {ip_country}, billing and shipping in {b}"))
            }
            (Some(b), Some(c)) => Some(format!(
                "IP in {ip_country}, billing in {b}, shipping to {c}"
            )),
            (Some(b), None) => Some(format!("IP in {ip_country}, billing in {b}")),
            (None, Some(c)) => Some(format!("IP in {ip_country}, shipping to {c}")),
            (None, None) => None,
        };
        if let Some(evidence) = evidence {
            fire(Indicator::GeoMismatch, evidence);
        }
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
            format!(
                "payer has {} earlier dispute(s) or chargeback(s)",
                s.payer_disputes
            ),
        );
    }
    if s.previous_orders == 0 && s.total_minor >= t.high_value_first_order_minor {
        let total = if s.total_display.is_empty() {
            format!("{} minor units", s.total_minor)
        } else {
            s.total_display.clone()
        };
        fire(
            Indicator::HighValueFirstOrder,
            format!("first order, {total}"),
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
    if s.failed_payments >= t.failed_payments_min {
        fire(
            Indicator::FailedPaymentAttempts,
            format!(
                "{} failed payment attempts in {}",
                s.failed_payments,
                window(t.failed_payments_window_min)
            ),
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

/// Fraud workflow state of an order (`orders.fraud_state`): the one place its
/// strings come from (the schema's CHECK lists the same six, a test keeps them
/// equal). Scoring moves an undecided order between `clear` and `pending` (the
/// review queue); an analyst's decision makes it `approved`, `review` (held,
/// back in the queue when the hold ends) or `declined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    pub const ALL: [FraudState; 6] = [
        Self::Unscored,
        Self::Clear,
        Self::Pending,
        Self::Approved,
        Self::Review,
        Self::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unscored => "unscored",
            Self::Clear => "clear",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Review => "review",
            Self::Declined => "declined",
        }
    }

    /// The state named by `text` (as stored), if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The state a fresh score gives an order no analyst has decided.
    pub fn scored(high_risk: bool) -> Self {
        if high_risk {
            Self::Pending
        } else {
            Self::Clear
        }
    }

    /// No analyst has decided the order: a rescore may move it into or out of
    /// the queue. A decided order keeps its decision.
    pub fn is_undecided(self) -> bool {
        matches!(self, Self::Unscored | Self::Clear | Self::Pending)
    }

    /// An analyst may decide the order now: it is waiting in the queue, or it
    /// was put in review and its hold (`hold_until`) has ended.
    pub fn is_decidable(
        self,
        hold_until: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        match self {
            Self::Pending => true,
            Self::Review => hold_until.is_some_and(|h| h <= now),
            _ => false,
        }
    }
}

impl std::fmt::Display for FraudState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

    /// An order no indicator fires for: a returning US customer, US IP, small total.
    fn clean() -> Signals {
        Signals {
            ip: Some("198.51.100.7".into()),
            orders_from_ip: 1,
            device: Some("fp_1".into()),
            ip_country: Some("US".into()),
            billing_country: Some("US".into()),
            shipping_country: Some("US".into()),
            previous_orders: 3,
            total_minor: 2_500,
            total_display: "$25.00".into(),
            email_domain: Some("gmail.com".into()),
            ..Default::default()
        }
    }

    fn fired(s: &Signals) -> Vec<Indicator> {
        hits(s, &Rules::default())
            .into_iter()
            .map(|h| h.indicator)
            .collect()
    }

    /// The one hit `s` produces for `indicator`, if any.
    fn only(s: &Signals, indicator: Indicator) -> Option<Hit> {
        hits(s, &Rules::default())
            .into_iter()
            .find(|h| h.indicator == indicator)
    }

    #[test]
    fn a_clean_order_fires_nothing() {
        assert!(fired(&clean()).is_empty());
        assert_eq!(score(&hits(&clean(), &Rules::default())), 0);
    }

    #[test]
    fn ip_velocity_fires_at_three_orders_in_ten_minutes() {
        let two = Signals {
            orders_from_ip: 2,
            ..clean()
        };
        assert_eq!(only(&two, Indicator::IpVelocity), None);
        let three = Signals {
            orders_from_ip: 3,
            ip: Some("203.0.113.7".into()),
            ..clean()
        };
        let h = only(&three, Indicator::IpVelocity).expect("fires at 3");
        assert_eq!(h.points, 25);
        assert_eq!(h.evidence, "3 orders from 203.0.113.7 in 10 min");
    }

    #[test]
    fn shared_device_fires_at_two_other_accounts() {
        let one = Signals {
            other_accounts_on_device: 1,
            ..clean()
        };
        assert_eq!(only(&one, Indicator::SharedDevice), None);
        let two = Signals {
            other_accounts_on_device: 2,
            ..clean()
        };
        let h = only(&two, Indicator::SharedDevice).expect("fires at 2");
        assert_eq!(
            (h.points, h.evidence.as_str()),
            (20, "device fp_1 seen on 2 other accounts")
        );
    }

    #[test]
    fn ip_reputation_fires_at_abuse_score_fifty() {
        for (abuse, fires) in [
            (None, false),
            (Some(49), false),
            (Some(50), true),
            (Some(100), true),
        ] {
            let s = Signals {
                ip_abuse_score: abuse,
                ..clean()
            };
            assert_eq!(
                only(&s, Indicator::IpReputation).is_some(),
                fires,
                "abuse {abuse:?}"
            );
        }
        let s = Signals {
            ip_abuse_score: Some(87),
            ..clean()
        };
        assert_eq!(
            only(&s, Indicator::IpReputation).map(|h| h.evidence),
            Some("198.51.100.7 has abuse score 87 on the reputation list".into())
        );
    }

    #[test]
    fn vpn_proxy_fires_inside_a_listed_range() {
        let s = Signals {
            proxy_range: Some("198.51.100.0/24".into()),
            ..clean()
        };
        let h = only(&s, Indicator::VpnProxy).expect("fires");
        assert_eq!(
            (h.points, h.evidence.as_str()),
            (15, "198.51.100.7 is in proxy/VPN range 198.51.100.0/24")
        );
    }

    #[test]
    fn geo_mismatch_compares_the_ip_country_with_billing_and_shipping() {
        let cases = [
            ("US", "US", "US", None),
            (
                "RO",
                "US",
                "US",
                Some("IP in RO, billing and shipping in US"),
            ),
            ("US", "US", "CA", Some("IP in US, shipping to CA")),
            (
                "RO",
                "US",
                "CA",
                Some("IP in RO, billing in US, shipping to CA"),
            ),
            ("US", "CA", "US", Some("IP in US, billing in CA")),
        ];
        for (ip, billing, shipping, expected) in cases {
            let s = Signals {
                ip_country: Some(ip.into()),
                billing_country: Some(billing.into()),
                shipping_country: Some(shipping.into()),
                ..clean()
            };
            assert_eq!(
                only(&s, Indicator::GeoMismatch).map(|h| h.evidence),
                expected.map(String::from),
                "{ip} {billing} {shipping}"
            );
        }
        let unknown = Signals {
            ip_country: None,
            billing_country: Some("CA".into()),
            ..clean()
        };
        assert_eq!(
            only(&unknown, Indicator::GeoMismatch),
            None,
            "no IP country, no mismatch"
        );
    }

    #[test]
    fn shipping_billing_mismatch_fires_when_they_differ() {
        let s = Signals {
            shipping_country: Some("NG".into()),
            ..clean()
        };
        let h = only(&s, Indicator::ShippingBillingMismatch).expect("fires");
        assert_eq!(
            (h.points, h.evidence.as_str()),
            (10, "ships to NG, bills to US")
        );
    }

    #[test]
    fn payment_history_fires_on_one_earlier_dispute() {
        assert_eq!(only(&clean(), Indicator::PaymentHistory), None);
        let s = Signals {
            payer_disputes: 1,
            ..clean()
        };
        let h = only(&s, Indicator::PaymentHistory).expect("fires");
        assert_eq!(h.points, 25);
        assert_eq!(
            h.evidence,
            "payer has 1 earlier dispute(s) or chargeback(s)"
        );
    }

    #[test]
    fn high_value_first_order_fires_at_the_line_for_first_orders_only() {
        let first = |total: i64, display: &str| Signals {
            previous_orders: 0,
            total_minor: total,
            total_display: display.into(),
            ..clean()
        };
        assert_eq!(
            only(&first(49_999, "$499.99"), Indicator::HighValueFirstOrder),
            None
        );
        let h = only(&first(50_000, "$500.00"), Indicator::HighValueFirstOrder)
            .expect("fires at the line");
        assert_eq!(
            (h.points, h.evidence.as_str()),
            (15, "first order, $500.00")
        );
        let returning = Signals {
            previous_orders: 1,
            ..first(90_000, "$900.00")
        };
        assert_eq!(only(&returning, Indicator::HighValueFirstOrder), None);
    }

    #[test]
    fn suspicious_email_domain_fires_for_disposable_domains() {
        let s = Signals {
            email_domain: Some("mailinator.com".into()),
            email_domain_disposable: true,
            ..clean()
        };
        let h = only(&s, Indicator::SuspiciousEmailDomain).expect("fires");
        assert_eq!(
            (h.points, h.evidence.as_str()),
            (15, "disposable domain mailinator.com")
        );
    }

    #[test]
    fn failed_payment_attempts_fire_at_two_in_an_hour() {
        let one = Signals {
            failed_payments: 1,
            ..clean()
        };
        assert_eq!(only(&one, Indicator::FailedPaymentAttempts), None);
        let two = Signals {
            failed_payments: 2,
            ..clean()
        };
        let h = only(&two, Indicator::FailedPaymentAttempts).expect("fires at 2");
        assert_eq!(
            (h.points, h.evidence.as_str()),
            (20, "2 failed payment attempts in 1h")
        );
    }

    #[test]
    fn a_blocklist_match_scores_at_the_top() {
        let s = Signals {
            blocklisted: Some(("ip".into(), "203.0.113.7".into())),
            ..clean()
        };
        let all = hits(&s, &Rules::default());
        assert_eq!(all[0].evidence, "ip 203.0.113.7 is on the blocklist");
        assert_eq!(score(&all), 100);
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
        assert_eq!(band(70, 70), Band::Elevated);
        assert_eq!(band(50, 70), Band::Elevated);
        assert_eq!(band(49, 70), Band::Low);
    }

    /// The default weights at the runbook's line: velocity + shared device +
    /// geo = 60; with shipping ≠ billing exactly 70 (not reviewed); with a
    /// disposable domain instead 75 (reviewed).
    #[test]
    fn default_weights_at_the_high_risk_line() {
        let rules = Rules::default();
        let sixty = Signals {
            orders_from_ip: 4,
            other_accounts_on_device: 3,
            ip_country: Some("RO".into()),
            ..clean()
        };
        let s = score(&hits(&sixty, &rules));
        assert_eq!(s, 60);
        assert!(!is_high_risk(s, 70));
        let seventy = Signals {
            shipping_country: Some("RO".into()),
            ..sixty.clone()
        };
        // Geo now says billing only (shipping matches the IP) and ship≠bill adds 10.
        assert_eq!(score(&hits(&seventy, &rules)), 70);
        assert!(!is_high_risk(70, 70), "exactly 70 is not high risk");
        let seventy_five = Signals {
            email_domain: Some("yopmail.com".into()),
            email_domain_disposable: true,
            ..sixty
        };
        let s = score(&hits(&seventy_five, &rules));
        assert_eq!(s, 75);
        assert!(is_high_risk(s, 70));
    }

    #[test]
    fn weights_and_thresholds_come_from_the_rules() {
        let s = Signals {
            orders_from_ip: 3,
            failed_payments: 2,
            ..clean()
        };
        let mut rules = Rules::default();
        rules.weights.ip_velocity = 40;
        rules.weights.failed_payment_attempts = 0;
        let got = hits(&s, &rules);
        assert_eq!(
            got.len(),
            1,
            "a zero weight turns the indicator off: {got:?}"
        );
        assert_eq!(
            (got[0].indicator, got[0].points),
            (Indicator::IpVelocity, 40)
        );
        rules.thresholds.velocity_min_orders = 4;
        rules.thresholds.velocity_window_min = 5;
        assert!(hits(&s, &rules).is_empty(), "velocity now starts at 4");
        let four = Signals {
            orders_from_ip: 4,
            ..s
        };
        assert_eq!(
            hits(&four, &rules)[0].evidence,
            "4 orders from 198.51.100.7 in 5 min"
        );
    }

    #[test]
    fn rules_reject_out_of_range_values() {
        assert_eq!(Rules::default().validate(), Ok(()));
        let mut r = Rules::default();
        r.weights.vpn_proxy = 101;
        assert_eq!(
            r.validate().map_err(|e| e.key),
            Err("weights.vpn_proxy".into())
        );
        let mut r = Rules::default();
        r.thresholds.velocity_min_orders = 0;
        assert_eq!(
            r.validate().map_err(|e| e.key),
            Err("thresholds.velocity_min_orders".into())
        );
        let mut r = Rules::default();
        r.thresholds.ip_reputation_min_abuse = 0;
        assert!(r.validate().is_err());
    }

    #[test]
    fn indicator_names_round_trip() {
        for i in Indicator::ALL {
            assert_eq!(Indicator::parse(i.as_str()), Some(i));
            assert_eq!(Weights::default().of(i), i.default_points());
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    const COUNTRIES: [&str; 4] = ["US", "CA", "RO", "NG"];

    fn country() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(proptest::sample::select(&COUNTRIES[..]).prop_map(String::from))
    }

    fn signals() -> impl Strategy<Value = Signals> {
        (
            (
                0u32..20,
                0u32..10,
                proptest::option::of(0u8..=100),
                any::<bool>(),
            ),
            (0u32..5, 0u32..5, 0i64..200_000, 0u32..6),
            (country(), country(), country()),
            (any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |(
                    (ip_orders, devices, abuse, proxy),
                    (disputes, previous, total, failed),
                    (ip_country, billing_country, shipping_country),
                    (disposable, blocked),
                )| Signals {
                    ip: Some("203.0.113.7".into()),
                    orders_from_ip: ip_orders,
                    device: Some("fp".into()),
                    other_accounts_on_device: devices,
                    ip_abuse_score: abuse,
                    proxy_range: proxy.then(|| "203.0.113.0/24".to_string()),
                    ip_country,
                    billing_country,
                    shipping_country,
                    payer_disputes: disputes,
                    previous_orders: previous,
                    total_minor: total,
                    total_display: String::new(),
                    email_domain: Some("example.com".into()),
                    email_domain_disposable: disposable,
                    failed_payments: failed,
                    blocklisted: blocked.then(|| ("ip".to_string(), "203.0.113.7".to_string())),
                },
            )
    }

    /// Any valid rules: every weight 0-100, every threshold in range.
    fn rules() -> impl Strategy<Value = Rules> {
        (
            proptest::collection::vec(0u8..=100, 11),
            (1u32..10, 1u32..10, 1u8..=100, 1i64..200_000, 1u32..6),
        )
            .prop_map(
                |(w, (velocity, devices, abuse, high_value, failed))| Rules {
                    weights: Weights {
                        ip_velocity: w[0],
                        shared_device: w[1],
                        ip_reputation: w[2],
                        geo_mismatch: w[3],
                        payment_history: w[4],
                        shipping_billing_mismatch: w[5],
                        high_value_first_order: w[6],
                        vpn_proxy: w[7],
                        suspicious_email_domain: w[8],
                        failed_payment_attempts: w[9],
                        blocklisted: w[10],
                    },
                    thresholds: Thresholds {
                        velocity_min_orders: velocity,
                        shared_device_min_accounts: devices,
                        ip_reputation_min_abuse: abuse,
                        high_value_first_order_minor: high_value,
                        failed_payments_min: failed,
                        ..Thresholds::default()
                    },
                },
            )
    }

    proptest! {
        /// Whatever the signals and the rules, the score is 0-100.
        #[test]
        fn score_stays_in_range(s in signals(), r in rules()) {
            prop_assert!(r.validate().is_ok());
            prop_assert!(score(&hits(&s, &r)) <= 100);
        }

        /// Making any one signal worse never lowers the score, whatever the weights.
        #[test]
        fn score_is_monotone_in_each_signal(s in signals(), r in rules()) {
            let base = score(&hits(&s, &r));
            let worse = [
                Signals { orders_from_ip: s.orders_from_ip + 5, ..s.clone() },
                Signals { other_accounts_on_device: s.other_accounts_on_device + 3, ..s.clone() },
                Signals { ip_abuse_score: Some(s.ip_abuse_score.unwrap_or(0).saturating_add(30).min(100)), ..s.clone() },
                Signals { proxy_range: Some("203.0.113.0/24".into()), ..s.clone() },
                Signals { ip_country: Some("XX".into()), ..s.clone() },
                Signals { shipping_country: Some("XX".into()), ..s.clone() },
                Signals { payer_disputes: s.payer_disputes + 1, ..s.clone() },
                Signals { total_minor: s.total_minor + 100_000, ..s.clone() },
                Signals { email_domain_disposable: true, ..s.clone() },
                Signals { failed_payments: s.failed_payments + 3, ..s.clone() },
                Signals { blocklisted: Some(("email".into(), "x@y".into())), ..s.clone() },
            ];
            for w in worse {
                prop_assert!(score(&hits(&w, &r)) >= base, "{:?} scored lower than {:?}", w, s);
            }
        }

        /// Raising any one weight never lowers the score.
        #[test]
        fn score_is_monotone_in_each_weight(s in signals(), r in rules(), which in 0usize..11, by in 1u8..50) {
            let base = score(&hits(&s, &r));
            let mut heavier = r;
            let i = Indicator::ALL[which];
            let w = heavier.weights.of(i).saturating_add(by).min(100);
            let field = match i {
                Indicator::IpVelocity => &mut heavier.weights.ip_velocity,
                Indicator::SharedDevice => &mut heavier.weights.shared_device,
                Indicator::IpReputation => &mut heavier.weights.ip_reputation,
                Indicator::GeoMismatch => &mut heavier.weights.geo_mismatch,
                Indicator::PaymentHistory => &mut heavier.weights.payment_history,
                Indicator::ShippingBillingMismatch => &mut heavier.weights.shipping_billing_mismatch,
                Indicator::HighValueFirstOrder => &mut heavier.weights.high_value_first_order,
                Indicator::VpnProxy => &mut heavier.weights.vpn_proxy,
                Indicator::SuspiciousEmailDomain => &mut heavier.weights.suspicious_email_domain,
                Indicator::FailedPaymentAttempts => &mut heavier.weights.failed_payment_attempts,
                Indicator::Blocklisted => &mut heavier.weights.blocklisted,
            };
            *field = w;
            prop_assert!(score(&hits(&s, &heavier)) >= base);
        }
    }

    #[test]
    fn fraud_states_round_trip_and_match_the_schema() {
        for state in FraudState::ALL {
            assert_eq!(FraudState::parse(state.as_str()), Some(state));
            assert_eq!(state.to_string(), state.as_str());
            assert_eq!(
                serde_json::to_value(state).expect("json"),
                serde_json::Value::String(state.as_str().into())
            );
        }
        assert_eq!(FraudState::parse("held"), None);
        // The schema's CHECK on orders.fraud_state lists exactly these.
        let schema = include_str!("../../migrations/0001_schema.sql");
        let check = schema
            .split("CHECK (fraud_state IN (")
            .nth(1)
            .and_then(|rest| rest.split("))").next())
            .expect("the fraud_state CHECK");
        let listed: Vec<&str> = check
            .split(',')
            .map(|s| s.trim().trim_matches('\''))
            .collect();
        let ours: Vec<&str> = FraudState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(listed, ours);
    }

    #[test]
    fn undecided_and_decidable_states() {
        let now = chrono::Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(FraudState::scored(true), FraudState::Pending);
        assert_eq!(FraudState::scored(false), FraudState::Clear);
        let undecided: Vec<FraudState> = FraudState::ALL
            .into_iter()
            .filter(|s| s.is_undecided())
            .collect();
        assert_eq!(
            undecided,
            [FraudState::Unscored, FraudState::Clear, FraudState::Pending]
        );
        assert!(FraudState::Pending.is_decidable(None, now));
        assert!(FraudState::Review.is_decidable(Some(now - hour), now));
        assert!(!FraudState::Review.is_decidable(Some(now + hour), now));
        assert!(!FraudState::Review.is_decidable(None, now));
        assert!(!FraudState::Clear.is_decidable(None, now));
        assert!(!FraudState::Declined.is_decidable(Some(now - hour), now));
    }
}
