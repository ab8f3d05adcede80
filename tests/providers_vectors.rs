//! Signature checks against the providers' published test vectors (copied into
//! tests/fixtures/provider-vectors/ from shared/reference, where
//! `verify_all.sh` re-checks them with openssl), and one mutation at a time:
//! a body byte, a header, the URL, the time, the key.

use chrono::{DateTime, TimeZone, Utc};
use lsn_ops::providers::VerifyError;
use lsn_ops::providers::paypal::{self, CertFacts, OfflinePolicy, Transmission};
use lsn_ops::providers::twilio;
use lsn_ops::providers::wise::{self, WiseKey};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/provider-vectors")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("utf-8 fixture")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------- Wise

#[test]
fn wise_vector_1_official_example_verifies_with_the_sandbox_key_only() {
    let body = fixture("wise_official_body.json");
    assert_eq!(body.len(), 354);
    let sig = text("wise_official_sig.b64");
    assert_eq!(
        wise::verify(&body, Some(&sig), &WiseKey::sandbox()),
        Ok(lsn_ops::providers::Verified)
    );
    assert_eq!(
        wise::verify(&body, Some(&sig), &WiseKey::live()),
        Err(VerifyError::Mismatch),
        "the live key must not verify a sandbox signature"
    );
}

#[test]
fn wise_vector_2_pywisetransfer_and_its_corrupt_variants() {
    let body = fixture("wise_pywisetransfer_body.json");
    assert_eq!(body.len(), 341);
    let sig = text("wise_pywisetransfer_sig.b64");
    assert!(wise::verify(&body, Some(&sig), &WiseKey::sandbox()).is_ok());
    assert_eq!(
        wise::verify(&body, Some(&sig), &WiseKey::live()),
        Err(VerifyError::Mismatch)
    );

    // Corrupt payload: one byte of the body changed.
    let mut corrupt = body.clone();
    corrupt[10] ^= 0x01;
    assert_eq!(
        wise::verify(&corrupt, Some(&sig), &WiseKey::sandbox()),
        Err(VerifyError::Mismatch)
    );
    // A trailing newline is a different body.
    let mut newline = body.clone();
    newline.push(b'\n');
    assert_eq!(
        wise::verify(&newline, Some(&sig), &WiseKey::sandbox()),
        Err(VerifyError::Mismatch)
    );
    // Corrupt signature: one base64 character changed (still valid base64).
    let mut bad_sig = sig.clone().into_bytes();
    bad_sig[5] = if bad_sig[5] == b'A' { b'B' } else { b'A' };
    let bad_sig = String::from_utf8(bad_sig).expect("ascii");
    assert_eq!(
        wise::verify(&body, Some(&bad_sig), &WiseKey::sandbox()),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn wise_missing_or_garbled_headers_and_keys() {
    let body = fixture("wise_official_body.json");
    assert_eq!(
        wise::verify(&body, None, &WiseKey::sandbox()),
        Err(VerifyError::MissingHeader("X-Signature-SHA256"))
    );
    assert!(matches!(
        wise::verify(&body, Some("not base64!"), &WiseKey::sandbox()),
        Err(VerifyError::BadHeader(..))
    ));
    // The fixture keys are the shipped assets, byte for byte.
    assert_eq!(
        WiseKey::from_pem(&text("wise_sandbox_pub.pem")),
        Ok(WiseKey::sandbox())
    );
    assert_eq!(
        WiseKey::from_pem(&text("wise_live_pub.pem")),
        Ok(WiseKey::live())
    );
    assert!(
        WiseKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err()
    );
    assert!(WiseKey::from_pem("hello").is_err());
    // The setting: names, PEM text, a path, and the default by api_base.
    assert_eq!(WiseKey::from_setting("live", ""), Ok(WiseKey::live()));
    assert_eq!(
        WiseKey::from_setting("", "https://api.wise.com"),
        Ok(WiseKey::live())
    );
    assert_eq!(
        WiseKey::from_setting("", "https://api.sandbox.transferwise.tech"),
        Ok(WiseKey::sandbox())
    );
    assert_eq!(
        WiseKey::from_setting(&text("wise_live_pub.pem"), ""),
        Ok(WiseKey::live())
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/wise/sandbox_pub.pem");
    assert_eq!(
        WiseKey::from_setting(&path.display().to_string(), ""),
        Ok(WiseKey::sandbox())
    );
    assert!(WiseKey::from_setting("/nonexistent/key.pem", "").is_err());
}

// ---------------------------------------------------------------- PayPal

struct PaypalVector {
    body: Vec<u8>,
    cert: Vec<u8>,
    sig: String,
    id: &'static str,
    time: &'static str,
    webhook_id: &'static str,
    cert_url: &'static str,
}

impl PaypalVector {
    fn java() -> Self {
        Self {
            body: fixture("paypal_java_body.json"),
            cert: fixture("paypal_java_cert.pem"),
            sig: text("paypal_java_sig.b64"),
            id: "071f7d20-1584-11e7-abf0-6b62a8a99ac4",
            time: "2017-03-30T20:04:05Z",
            webhook_id: "96605875FF6516633",
            cert_url: "https://api.sandbox.paypal.com/v1/notifications/test",
        }
    }

    fn node() -> Self {
        Self {
            body: fixture("paypal_node_body.json"),
            cert: fixture("paypal_node_cert.pem"),
            sig: text("paypal_node_sig.b64"),
            id: "dfb3be50-fd74-11e4-8bf3-77339302725b",
            time: "2015-05-18T15:45:13Z",
            webhook_id: "4JH86294D6297924G",
            cert_url: "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
        }
    }

    fn headers(&self) -> Transmission<'_> {
        Transmission {
            id: self.id,
            time: self.time,
            sig: &self.sig,
            cert_url: self.cert_url,
            auth_algo: "SHA256withRSA",
        }
    }

    /// The delivery time itself: inside both the replay window and the certificate.
    fn now(&self) -> DateTime<Utc> {
        at(self.time) + chrono::Duration::seconds(30)
    }

    fn check(
        &self,
        body: &[u8],
        h: &Transmission<'_>,
        webhook_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        paypal::verify_offline(
            body,
            h,
            webhook_id,
            &self.cert,
            now,
            &OfflinePolicy::default(),
        )
        .map(|_| ())
    }
}

#[test]
fn paypal_vectors_verify_offline_with_a_clock_inside_their_validity() {
    for v in [PaypalVector::java(), PaypalVector::node()] {
        assert_eq!(
            v.check(&v.body, &v.headers(), v.webhook_id, v.now()),
            Ok(()),
            "{}",
            v.id
        );
        assert_eq!(paypal::cert_url_allowed(v.cert_url, None), Ok(()));
    }
}

#[test]
fn paypal_signed_strings_use_the_unsigned_decimal_crc() {
    let java = PaypalVector::java();
    assert_eq!(java.body.len(), 1636);
    assert_eq!(
        paypal::signed_string(java.id, java.time, java.webhook_id, &java.body),
        "071f7d20-1584-11e7-abf0-6b62a8a99ac4|2017-03-30T20:04:05Z|96605875FF6516633|3494065244"
    );
    let node = PaypalVector::node();
    assert_eq!(node.body.len(), 1288);
    assert!(
        paypal::signed_string(node.id, node.time, node.webhook_id, &node.body)
            .ends_with("|2771810304")
    );
}

#[test]
fn paypal_certificate_facts_match_the_published_validity() {
    let java = PaypalVector::java();
    let der = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(&java.cert).expect("pem")
    };
    let facts = CertFacts::parse(der.as_ref()).expect("x509");
    assert_eq!(
        facts.common_name.as_deref(),
        Some("messageverificationcerts.sandbox.paypal.com")
    );
    assert_eq!(
        facts.not_before.date_naive(),
        Utc.with_ymd_and_hms(2017, 2, 18, 0, 0, 0)
            .unwrap()
            .date_naive()
    );
    assert_eq!(
        facts.not_after.date_naive(),
        Utc.with_ymd_and_hms(2019, 4, 26, 0, 0, 0)
            .unwrap()
            .date_naive()
    );
    // The node certificate's PEM has CRLF line endings.
    let node = PaypalVector::node();
    assert!(node.cert.windows(2).any(|w| w == b"\r\n"));
}

#[test]
fn paypal_each_mutation_fails() {
    for v in [PaypalVector::java(), PaypalVector::node()] {
        let h = v.headers();
        // The Java SDK's own negative test: another webhook id.
        assert_eq!(
            v.check(&v.body, &h, "NotToBeFound", v.now()),
            Err(VerifyError::Mismatch)
        );
        // One byte of the body.
        let mut body = v.body.clone();
        let last = body.len() - 2;
        body[last] ^= 0x20;
        assert_eq!(
            v.check(&body, &h, v.webhook_id, v.now()),
            Err(VerifyError::Mismatch)
        );
        // The transmission id.
        let other_id = Transmission {
            id: "071f7d20-0000-11e7-abf0-6b62a8a99ac4",
            ..h
        };
        assert_eq!(
            v.check(&v.body, &other_id, v.webhook_id, v.now()),
            Err(VerifyError::Mismatch)
        );
        // The transmission time, one second later (still inside the window).
        let later = (at(v.time) + chrono::Duration::seconds(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let other_time = Transmission { time: &later, ..h };
        assert_eq!(
            v.check(&v.body, &other_time, v.webhook_id, v.now()),
            Err(VerifyError::Mismatch)
        );
        // The signature.
        let mut sig = v.sig.clone().into_bytes();
        sig[0] = if sig[0] == b'A' { b'B' } else { b'A' };
        let sig = String::from_utf8(sig).expect("ascii");
        let other_sig = Transmission { sig: &sig, ..h };
        assert_eq!(
            v.check(&v.body, &other_sig, v.webhook_id, v.now()),
            Err(VerifyError::Mismatch)
        );
        // The time outside the replay window, either way.
        for skew in [6, -6] {
            let now = at(v.time) + chrono::Duration::minutes(skew);
            assert!(
                matches!(
                    v.check(&v.body, &h, v.webhook_id, now),
                    Err(VerifyError::Replay(_))
                ),
                "{skew}"
            );
        }
        // A wider window accepts the same skew.
        let wide = OfflinePolicy {
            replay_window: chrono::Duration::minutes(10),
            ..OfflinePolicy::default()
        };
        let now = at(v.time) + chrono::Duration::minutes(6);
        assert!(paypal::verify_offline(&v.body, &h, v.webhook_id, &v.cert, now, &wide).is_ok());
        // A garbled time header.
        let garbled = Transmission {
            time: "yesterday",
            ..h
        };
        assert!(matches!(
            v.check(&v.body, &garbled, v.webhook_id, v.now()),
            Err(VerifyError::BadHeader(..))
        ));
    }
}

#[test]
fn paypal_wrong_or_expired_certificates_fail() {
    let java = PaypalVector::java();
    let node = PaypalVector::node();
    // The other vector's certificate (a different key), at a time valid for both... none
    // exists (2015-2017 vs 2017-2019 barely overlap); 2017-03-01 is inside both.
    let both = at("2017-03-01T00:00:00Z");
    let h = Transmission {
        time: "2017-03-01T00:00:00Z",
        ..java.headers()
    };
    let r = paypal::verify_offline(
        &java.body,
        &h,
        java.webhook_id,
        &node.cert,
        both,
        &OfflinePolicy::default(),
    );
    assert_eq!(r, Err(VerifyError::Mismatch));
    // Today, both certificates have expired: the transmission time is fresh, the certificate is not.
    let now = Utc::now();
    let fresh = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let h = Transmission {
        time: &fresh,
        ..java.headers()
    };
    let r = java.check(&java.body, &h, java.webhook_id, now);
    assert!(
        matches!(r, Err(VerifyError::Certificate(ref m)) if m.contains("not valid")),
        "{r:?}"
    );
    // The CN policy: a simulator certificate is refused when .paypal.com is required.
    let strict = OfflinePolicy {
        cn_suffix: Some(".example.com".into()),
        ..OfflinePolicy::default()
    };
    let r = paypal::verify_offline(
        &java.body,
        &java.headers(),
        java.webhook_id,
        &java.cert,
        java.now(),
        &strict,
    );
    assert!(
        matches!(r, Err(VerifyError::Certificate(ref m)) if m.contains("CN")),
        "{r:?}"
    );
    // Not a certificate at all.
    let r = paypal::verify_offline(
        &java.body,
        &java.headers(),
        java.webhook_id,
        b"hello",
        java.now(),
        &OfflinePolicy::default(),
    );
    assert!(matches!(r, Err(VerifyError::Certificate(_))));
}

// ---------------------------------------------------------------- Twilio

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn twilio_params() -> Vec<(String, String)> {
    vec![
        p("CallSid", "CA1234567890ABCDE"),
        p("Digits", "1234"),
        p("From", "+14158675309"),
        p("To", "+18005551212"),
        p("Caller", "+14158675309"),
    ]
}

const TW_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

#[test]
fn twilio_documented_vectors() {
    let params = twilio_params();
    assert_eq!(
        twilio::signed_string(TW_URL, &params),
        "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
    );
    assert_eq!(
        twilio::sign("12345", TW_URL, &params),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert!(
        twilio::verify(
            "12345",
            TW_URL,
            &params,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        )
        .is_ok()
    );
    assert_eq!(
        twilio::sign(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params
        ),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    assert_eq!(
        twilio::sign(
            "12345",
            "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            &params
        ),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    );
    assert_eq!(
        twilio::sign(
            "12345",
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &params
        ),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    );
}

#[test]
fn twilio_ports_are_accepted_either_way() {
    let params = twilio_params();
    // Signed with :443, validated against the URL without it (and the reverse).
    assert!(
        twilio::verify(
            "12345",
            TW_URL,
            &params,
            Some("kvajT1Ptam85bY51eRf/AJRuM3w=")
        )
        .is_ok()
    );
    assert!(
        twilio::verify(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        )
        .is_ok()
    );
    assert!(
        twilio::verify(
            "12345",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")
        )
        .is_ok()
    );
    // A non-default port is part of the signature: it must be the one called.
    assert!(
        twilio::verify(
            "12345",
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &params,
            Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")
        )
        .is_ok()
    );
    assert_eq!(
        twilio::verify(
            "12345",
            "http://mycompany.com:4321/myapp.php?foo=1&bar=2",
            &params,
            Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")
        ),
        Err(VerifyError::Mismatch)
    );
    // The :443 signature is not valid for http.
    assert_eq!(
        twilio::verify(
            "12345",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            Some("kvajT1Ptam85bY51eRf/AJRuM3w=")
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn twilio_multi_valued_params_in_any_order() {
    let params = vec![
        p("Sid", "CA123"),
        p("SidAccount", "AC123"),
        p("Digits", "5678"),
        p("Digits", "1234"),
        p("Digits", "1234"),
    ];
    assert_eq!(
        twilio::sign("12345", TW_URL, &params),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    let mut reordered = params.clone();
    reordered.reverse();
    assert!(
        twilio::verify(
            "12345",
            TW_URL,
            &reordered,
            Some("IK+Dwps556ElfBT0I3Rgjkr1wJU=")
        )
        .is_ok()
    );
}

#[test]
fn twilio_json_body_with_body_sha256() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    assert!(
        twilio::verify_json_body("12345", url, body, Some("a9nBmqA0ju/hNViExpshrM61xv4=")).is_ok()
    );
    assert_eq!(
        twilio::verify_json_body(
            "12345",
            url,
            br#"{"property": "value", "boolean": false}"#,
            Some("a9nBmqA0ju/hNViExpshrM61xv4=")
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn twilio_each_mutation_fails() {
    let params = twilio_params();
    let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    // A parameter value.
    let mut changed = params.clone();
    changed[1].1 = "1235".into();
    assert_eq!(
        twilio::verify("12345", TW_URL, &changed, Some(good)),
        Err(VerifyError::Mismatch)
    );
    // An extra parameter.
    let mut extra = params.clone();
    extra.push(p("Extra", "1"));
    assert_eq!(
        twilio::verify("12345", TW_URL, &extra, Some(good)),
        Err(VerifyError::Mismatch)
    );
    // The URL: path, query, scheme.
    for url in [
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/other.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
    ] {
        assert_eq!(
            twilio::verify("12345", url, &params, Some(good)),
            Err(VerifyError::Mismatch),
            "{url}"
        );
    }
    // The token.
    assert_eq!(
        twilio::verify("54321", TW_URL, &params, Some(good)),
        Err(VerifyError::Mismatch)
    );
    // Missing, garbled and truncated signatures.
    assert_eq!(
        twilio::verify("12345", TW_URL, &params, None),
        Err(VerifyError::MissingHeader("X-Twilio-Signature"))
    );
    assert!(matches!(
        twilio::verify("12345", TW_URL, &params, Some("***")),
        Err(VerifyError::BadHeader(..))
    ));
    assert_eq!(
        twilio::verify("12345", TW_URL, &params, Some("RSOYDt4T")),
        Err(VerifyError::Mismatch)
    );
}
