//! The shape of PayPal's five signature headers, checked locally before any
//! certificate download or call to verify-webhook-signature (issue 18).
//!
//! A header PayPal could not have sent is a forgery: it is refused as a bad
//! signature (401, counted toward the burst alert) at no cost to us and without
//! asking PayPal, which would only answer 400 to it. The limits are the
//! `verify-webhook-signature` request's documented field limits:
//!
//! | header | limit |
//! | --- | --- |
//! | `PAYPAL-TRANSMISSION-ID` | ≤ 50 characters, letters, digits and `-` |
//! | `PAYPAL-TRANSMISSION-TIME` | RFC 3339, ≤ 64 characters, within the replay window of now |
//! | `PAYPAL-TRANSMISSION-SIG` | ≤ 500 characters of base64 |
//! | `PAYPAL-CERT-URL` | ≤ 500 characters, HTTPS on a PayPal certificate host ([`super::paypal::cert_url_allowed`]) |
//! | `PAYPAL-AUTH-ALGO` | `SHA256withRSA` (the only algorithm PayPal signs with) |
//!
//! Error messages give lengths, never the (possibly huge) values.

use chrono::{DateTime, Utc};

use super::VerifyError;
use super::paypal::{
    CERT_URL, SHA256_WITH_RSA, TRANSMISSION_ID, TRANSMISSION_SIG, TRANSMISSION_TIME, Transmission,
    cert_url_allowed,
};

/// `transmission_id`: at most 50 characters.
pub const MAX_TRANSMISSION_ID: usize = 50;
/// `transmission_sig`: at most 500 characters.
pub const MAX_TRANSMISSION_SIG: usize = 500;
/// `cert_url`: at most 500 characters.
pub const MAX_CERT_URL: usize = 500;
/// `transmission_time`: an RFC 3339 time is far shorter; this bounds the parse.
pub const MAX_TRANSMISSION_TIME: usize = 64;

fn bad(header: &'static str, why: String) -> VerifyError {
    VerifyError::BadHeader(header, why)
}

fn at_most(header: &'static str, value: &str, max: usize) -> Result<(), VerifyError> {
    if value.len() > max {
        return Err(bad(
            header,
            format!("{} characters, at most {max} allowed", value.len()),
        ));
    }
    Ok(())
}

/// Checks every header's shape; `now` and `window` bound the transmission
/// time, `extra_cert_host` is the simulator's certificate host (if any).
pub fn check_shape(
    t: &Transmission<'_>,
    now: DateTime<Utc>,
    window: chrono::Duration,
    extra_cert_host: Option<&str>,
) -> Result<(), VerifyError> {
    if !t.auth_algo.eq_ignore_ascii_case(SHA256_WITH_RSA) {
        return Err(VerifyError::Algorithm(format!(
            "{} ({} characters)",
            crate::text::clip_to(t.auth_algo, 32),
            t.auth_algo.len()
        )));
    }

    at_most(TRANSMISSION_ID, t.id, MAX_TRANSMISSION_ID)?;
    if !t.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(bad(
            TRANSMISSION_ID,
            "only letters, digits and '-' are allowed".into(),
        ));
    }

    at_most(TRANSMISSION_TIME, t.time, MAX_TRANSMISSION_TIME)?;
    let sent = DateTime::parse_from_rfc3339(t.time)
        .map_err(|e| bad(TRANSMISSION_TIME, format!("not an RFC 3339 time ({e})")))?
        .with_timezone(&Utc);
    if (now - sent).abs() > window {
        return Err(VerifyError::Replay(t.time.to_string()));
    }

    at_most(TRANSMISSION_SIG, t.sig, MAX_TRANSMISSION_SIG)?;
    if !t
        .sig
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return Err(bad(TRANSMISSION_SIG, "not base64".into()));
    }

    at_most(CERT_URL, t.cert_url, MAX_CERT_URL)?;
    cert_url_allowed(t.cert_url, extra_cert_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-01-15T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    const GOOD: Transmission<'static> = Transmission {
        id: "b2384410-f8d2-11e6-a5c2-c1e2b0a7e4f0",
        time: "2027-01-15T11:59:59Z",
        sig: "dGVzdA==",
        cert_url: "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42",
        auth_algo: "SHA256withRSA",
    };

    fn check(t: &Transmission<'_>) -> Result<(), VerifyError> {
        check_shape(t, now(), chrono::Duration::minutes(5), None)
    }

    #[test]
    fn a_genuine_shape_passes_and_each_bad_one_is_named() {
        assert_eq!(check(&GOOD), Ok(()));
        let long_id = "a".repeat(51);
        let long_sig = "A".repeat(501);
        let long_url = format!("https://api.paypal.com/{}", "c".repeat(500));
        let reason = |t: Transmission<'_>| check(&t).map_err(|e| e.reason());
        assert_eq!(
            reason(Transmission {
                id: &long_id,
                ..GOOD
            }),
            Err("bad_header")
        );
        assert_eq!(
            reason(Transmission { id: "a b", ..GOOD }),
            Err("bad_header")
        );
        assert_eq!(
            reason(Transmission {
                sig: &long_sig,
                ..GOOD
            }),
            Err("bad_header")
        );
        assert_eq!(
            reason(Transmission {
                sig: "not base64!",
                ..GOOD
            }),
            Err("bad_header")
        );
        assert_eq!(
            reason(Transmission {
                time: "yesterday",
                ..GOOD
            }),
            Err("bad_header")
        );
        assert_eq!(
            reason(Transmission {
                time: "2027-01-15T11:50:00Z",
                ..GOOD
            }),
            Err("replay_window")
        );
        assert_eq!(
            reason(Transmission {
                cert_url: &long_url,
                ..GOOD
            }),
            Err("bad_header")
        );
        assert_eq!(
            reason(Transmission {
                cert_url: "https://evil.example/cert",
                ..GOOD
            }),
            Err("cert_url_not_allowed")
        );
        assert_eq!(
            reason(Transmission {
                auth_algo: "SHA1withRSA",
                ..GOOD
            }),
            Err("unsupported_algorithm")
        );
    }

    #[test]
    fn errors_give_lengths_not_values() {
        let huge = "A".repeat(100_000);
        let e = check(&Transmission { sig: &huge, ..GOOD }).map_err(|e| e.to_string());
        let text = e.err().unwrap_or_default();
        assert!(text.contains("100000 characters"), "{text}");
        assert!(text.len() < 200, "{text}");
    }
}
