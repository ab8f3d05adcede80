//! The fraud rules' tests: each indicator, the score, the bands and the
//! decision states against hand-made signals; then properties over random ones.

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
    let h =
        only(&first(50_000, "$500.00"), Indicator::HighValueFirstOrder).expect("fires at the line");
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
        let schema = include_str!("../../../migrations/0001_schema.sql");
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
