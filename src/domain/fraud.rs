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
mod tests;
