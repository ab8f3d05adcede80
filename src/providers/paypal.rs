//! PayPal webhooks: the offline check and the verify-webhook-signature API shapes.
//!
//! Offline (PayPal's SDKs, `Event.validateReceivedEvent`): the signed string is
//! `transmission_id|transmission_time|webhook_id|crc32(raw body)` with the CRC
//! as an unsigned decimal; `PAYPAL-TRANSMISSION-SIG` is base64 of an RSA PKCS#1
//! v1.5 SHA-256 signature over it, checked with the public key of the X.509
//! certificate served at `PAYPAL-CERT-URL`. On top of the signature we check:
//! - the transmission time is within a replay window of the injected `now`;
//! - the certificate is valid at `now` and, when a suffix is required, its
//!   subject CN ends with it (`.paypal.com` for real PayPal, like the SDKs);
//! - the certificate URL is HTTPS on a PayPal API host ([`cert_url_allowed`]),
//!   so the certificate's authenticity rests on TLS to PayPal. The SDKs also
//!   chain it to DigiCert; we do not (the local simulator has no such chain).
//!
//! API (`[paypal] verify = "api"`): [`verify_api_request`] builds the 7-field
//! body for `POST /v1/notifications/verify-webhook-signature` and
//! [`parse_verify_api_response`] reads `verification_status`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use super::{Verified, VerifyError, decode_b64};

pub const TRANSMISSION_ID: &str = "PAYPAL-TRANSMISSION-ID";
pub const TRANSMISSION_TIME: &str = "PAYPAL-TRANSMISSION-TIME";
pub const TRANSMISSION_SIG: &str = "PAYPAL-TRANSMISSION-SIG";
pub const CERT_URL: &str = "PAYPAL-CERT-URL";
pub const AUTH_ALGO: &str = "PAYPAL-AUTH-ALGO";

/// The only algorithm PayPal uses (and the only one we accept).
pub const SHA256_WITH_RSA: &str = "SHA256withRSA";

/// Hosts PayPal serves webhook certificates from.
pub const CERT_HOSTS: &[&str] = &[
    "api.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.paypal.com",
    "api-m.sandbox.paypal.com",
];

/// The five `PAYPAL-*` headers of one delivery, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransmissionHeaders {
    pub transmission_id: Option<String>,
    pub transmission_time: Option<String>,
    pub transmission_sig: Option<String>,
    pub cert_url: Option<String>,
    pub auth_algo: Option<String>,
}

/// The headers every check needs, present and non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmission<'a> {
    pub id: &'a str,
    pub time: &'a str,
    pub sig: &'a str,
    pub cert_url: &'a str,
    pub auth_algo: &'a str,
}

impl TransmissionHeaders {
    /// Builds from a header lookup (case-insensitive names are the caller's job).
    pub fn from_lookup<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let own = |name: &str| get(name).map(|v| v.trim().to_string());
        Self {
            transmission_id: own(TRANSMISSION_ID),
            transmission_time: own(TRANSMISSION_TIME),
            transmission_sig: own(TRANSMISSION_SIG),
            cert_url: own(CERT_URL),
            auth_algo: own(AUTH_ALGO),
        }
    }

    /// All required headers present (`PAYPAL-AUTH-ALGO` defaults to SHA256withRSA),
    /// and the algorithm is the one we support.
    pub fn require(&self) -> Result<Transmission<'_>, VerifyError> {
        fn need<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, VerifyError> {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .ok_or(VerifyError::MissingHeader(name))
        }
        let sig = need(&self.transmission_sig, TRANSMISSION_SIG)?;
        let t = Transmission {
            id: need(&self.transmission_id, TRANSMISSION_ID)?,
            time: need(&self.transmission_time, TRANSMISSION_TIME)?,
            sig,
            cert_url: need(&self.cert_url, CERT_URL)?,
            auth_algo: self
                .auth_algo
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or(SHA256_WITH_RSA),
        };
        if !t.auth_algo.eq_ignore_ascii_case(SHA256_WITH_RSA) {
            return Err(VerifyError::Algorithm(t.auth_algo.to_string()));
        }
        Ok(t)
    }
}

/// `transmission_id|transmission_time|webhook_id|crc32` (unsigned decimal CRC-32/IEEE).
pub fn signed_string(
    transmission_id: &str,
    transmission_time: &str,
    webhook_id: &str,
    body: &[u8],
) -> String {
    format!(
        "{transmission_id}|{transmission_time}|{webhook_id}|{}",
        crc32fast::hash(body)
    )
}

/// What the offline check enforces besides the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflinePolicy {
    /// Largest allowed distance between `PAYPAL-TRANSMISSION-TIME` and now.
    pub replay_window: chrono::Duration,
    /// Required ending of the certificate's subject CN (`Some(".paypal.com")` for
    /// PayPal); `None` for a simulator's own certificate.
    pub cn_suffix: Option<String>,
}

impl Default for OfflinePolicy {
    fn default() -> Self {
        Self {
            replay_window: chrono::Duration::minutes(5),
            cn_suffix: Some(".paypal.com".into()),
        }
    }
}

/// The offline check of one delivery. `cert_pem` is what `PAYPAL-CERT-URL`
/// served (leaf first; any chain after it is ignored); `now` is the clock.
pub fn verify_offline(
    body: &[u8],
    headers: &Transmission<'_>,
    webhook_id: &str,
    cert_pem: &[u8],
    now: DateTime<Utc>,
    policy: &OfflinePolicy,
) -> Result<Verified, VerifyError> {
    let sent = DateTime::parse_from_rfc3339(headers.time)
        .map_err(|e| VerifyError::BadHeader(TRANSMISSION_TIME, format!("not RFC 3339 ({e})")))?
        .with_timezone(&Utc);
    if (now - sent).abs() > policy.replay_window {
        return Err(VerifyError::Replay(headers.time.to_string()));
    }
    let signature = decode_b64(TRANSMISSION_SIG, headers.sig)?;

    let der = CertificateDer::from_pem_slice(cert_pem)
        .map_err(|e| VerifyError::Certificate(format!("not a PEM certificate ({e})")))?;
    let facts = CertFacts::parse(der.as_ref())
        .ok_or_else(|| VerifyError::Certificate("cannot read its validity".into()))?;
    if now < facts.not_before || now > facts.not_after {
        return Err(VerifyError::Certificate(format!(
            "not valid at {} (valid {} to {})",
            now.to_rfc3339(),
            facts.not_before.to_rfc3339(),
            facts.not_after.to_rfc3339()
        )));
    }
    if let Some(suffix) = &policy.cn_suffix {
        let cn = facts.common_name.as_deref().unwrap_or("");
        if !cn
            .to_ascii_lowercase()
            .ends_with(&suffix.to_ascii_lowercase())
        {
            return Err(VerifyError::Certificate(format!(
                "subject CN \"{cn}\" does not end with \"{suffix}\""
            )));
        }
    }
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| VerifyError::Certificate(format!("unusable ({e:?})")))?;
    let message = signed_string(headers.id, headers.time, webhook_id, body);
    cert.verify_signature(
        webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
        message.as_bytes(),
        &signature,
    )
    .map(|()| Verified)
    .map_err(|_| VerifyError::Mismatch)
}

/// Whether `url` may be fetched as a PayPal webhook certificate: HTTPS on one of
/// [`CERT_HOSTS`], or (for the local simulator) any scheme on `extra_host`
/// (`host` or `host:port`). No user info, no other port on PayPal hosts.
pub fn cert_url_allowed(url: &str, extra_host: Option<&str>) -> Result<(), VerifyError> {
    let refuse = |why: &str| VerifyError::CertUrl(format!("{url}: {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("user info is not allowed"));
    }
    let host = parsed.host_str().unwrap_or("").to_ascii_lowercase();
    if let Some(extra) = extra_host.map(str::trim).filter(|h| !h.is_empty()) {
        let with_port = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let extra = extra.to_ascii_lowercase();
        if (extra == with_port || extra == host) && matches!(parsed.scheme(), "http" | "https") {
            return Ok(());
        }
    }
    if parsed.scheme() != "https" {
        return Err(refuse("not https"));
    }
    if parsed.port().is_some() {
        return Err(refuse("a non-default port"));
    }
    if CERT_HOSTS.contains(&host.as_str()) {
        Ok(())
    } else {
        Err(refuse("not a PayPal certificate host"))
    }
}

/// When a certificate was fetched, and its PEM.
type Cached = (Instant, Arc<Vec<u8>>);

/// Fetched certificates by URL, kept for `ttl` (PayPal rotates them rarely),
/// at most `capacity` entries (the oldest is dropped first).
#[derive(Debug)]
pub struct CertCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Cached>>,
}

impl CertCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, url: &str) -> Option<Arc<Vec<u8>>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(url)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, pem)| pem.clone())
    }

    /// How long ago `url`'s certificate was fetched, if it is cached.
    pub fn age(&self, url: &str) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(url).map(|(at, _)| at.elapsed())
    }

    pub fn put(&self, url: &str, pem: Vec<u8>) -> Arc<Vec<u8>> {
        let pem = Arc::new(pem);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        while entries.len() >= self.capacity {
            let oldest = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    entries.remove(&k);
                }
                None => break,
            }
        }
        entries.insert(url.to_string(), (Instant::now(), pem.clone()));
        pem
    }

    /// Forgets one URL (after its certificate failed to verify a signature, so a
    /// rotated certificate is fetched again on the next delivery).
    pub fn forget(&self, url: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(url);
    }
}

impl Default for CertCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(6 * 3600), 32)
    }
}

/// Body of `POST /v1/notifications/verify-webhook-signature`: the 7 required
/// fields, `webhook_event` being the parsed event (not the raw bytes).
pub fn verify_api_request(headers: &Transmission<'_>, webhook_id: &str, event: &Value) -> Value {
    json!({
        "auth_algo": headers.auth_algo,
        "cert_url": headers.cert_url,
        "transmission_id": headers.id,
        "transmission_sig": headers.sig,
        "transmission_time": headers.time,
        "webhook_id": webhook_id,
        "webhook_event": event,
    })
}

/// Reads `{"verification_status": "SUCCESS" | "FAILURE"}`: `Ok(true)` on
/// SUCCESS, `Ok(false)` on FAILURE, `Err` for anything else.
pub fn parse_verify_api_response(body: &[u8]) -> Result<bool, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("verify response is not JSON: {e}"))?;
    match value.get("verification_status").and_then(Value::as_str) {
        Some("SUCCESS") => Ok(true),
        Some("FAILURE") => Ok(false),
        Some(other) => Err(format!("unexpected verification_status \"{other}\"")),
        None => Err("verify response has no verification_status".into()),
    }
}

/// What we read from a certificate ourselves (webpki does not expose validity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub common_name: Option<String>,
}

impl CertFacts {
    /// Walks the DER: Certificate → TBSCertificate → [version] serial sigAlg
    /// issuer validity subject. `None` if it is not shaped like X.509.
    pub fn parse(der: &[u8]) -> Option<Self> {
        let (tag, cert, _) = tlv(der)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, tbs, _) = tlv(cert)?;
        if tag != 0x30 {
            return None;
        }
        let mut rest = tbs;
        let (tag, _, after) = tlv(rest)?;
        if tag == 0xA0 {
            rest = after; // explicit version
        }
        for expected in [0x02, 0x30, 0x30] {
            // serial, signature algorithm, issuer
            let (tag, _, after) = tlv(rest)?;
            if tag != expected {
                return None;
            }
            rest = after;
        }
        let (tag, validity, after) = tlv(rest)?;
        if tag != 0x30 {
            return None;
        }
        let (t1, v1, more) = tlv(validity)?;
        let (t2, v2, _) = tlv(more)?;
        let not_before = der_time(t1, v1)?;
        let not_after = der_time(t2, v2)?;
        let (tag, subject, _) = tlv(after)?;
        let common_name = if tag == 0x30 {
            common_name(subject)
        } else {
            None
        };
        Some(Self {
            not_before,
            not_after,
            common_name,
        })
    }
}

/// One DER tag-length-value: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// UTCTime (`YYMMDDHHMMSSZ`, 50–99 → 19xx) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn der_time(tag: u8, value: &[u8]) -> Option<DateTime<Utc>> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: i32 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let n = |i: usize| rest[i..i + 2].parse::<u32>().ok();
    Utc.with_ymd_and_hms(year, n(0)?, n(2)?, n(4)?, n(6)?, n(8)?)
        .single()
}

/// The first commonName (OID 2.5.4.3) in a Name (SEQUENCE OF SET OF AttributeTypeAndValue).
fn common_name(mut name: &[u8]) -> Option<String> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    while !name.is_empty() {
        let (_, set, rest) = tlv(name)?;
        name = rest;
        let mut set = set;
        while !set.is_empty() {
            let (_, atv, more) = tlv(set)?;
            set = more;
            let (tag, oid, value) = tlv(atv)?;
            if tag == 0x06 && oid == CN {
                let (_, text, _) = tlv(value)?;
                return Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_an_unsigned_decimal() {
        // crc32("The quick brown fox jumps over the lazy dog") = 0x414FA339.
        let s = signed_string(
            "a",
            "b",
            "c",
            b"The quick brown fox jumps over the lazy dog",
        );
        assert_eq!(s, format!("a|b|c|{}", 0x414F_A339u32));
        assert!(!s.contains('-'));
    }

    #[test]
    fn cert_hosts_are_allow_listed() {
        for ok in [
            "https://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
            "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
            "https://API-M.SANDBOX.PAYPAL.COM/v1/notifications/certs/CERT-1",
        ] {
            assert_eq!(cert_url_allowed(ok, None), Ok(()), "{ok}");
        }
        for bad in [
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.example/cert",
            "https://evil.example/api.paypal.com",
            "https://api.paypal.com:8443/cert",
            "https://user@api.paypal.com/cert",
            "https://paypal.com/cert",
            "not a url",
        ] {
            assert!(cert_url_allowed(bad, None).is_err(), "{bad}");
        }
        assert_eq!(
            cert_url_allowed("http://127.0.0.1:9000/certs/x", Some("127.0.0.1:9000")),
            Ok(())
        );
        assert!(cert_url_allowed("http://127.0.0.1:9001/certs/x", Some("127.0.0.1:9000")).is_err());
        assert!(cert_url_allowed("file:///etc/passwd", Some("")).is_err());
    }

    #[test]
    fn the_cache_keeps_evicts_and_forgets() {
        let cache = CertCache::new(Duration::from_secs(60), 2);
        cache.put("a", b"A".to_vec());
        cache.put("b", b"B".to_vec());
        cache.put("c", b"C".to_vec());
        assert!(cache.get("a").is_none(), "the oldest went first");
        assert_eq!(
            cache.get("c").as_deref().map(Vec::as_slice),
            Some(&b"C"[..])
        );
        cache.forget("c");
        assert!(cache.get("c").is_none());
        let expired = CertCache::new(Duration::ZERO, 2);
        expired.put("a", b"A".to_vec());
        assert!(expired.get("a").is_none());
    }

    #[test]
    fn the_api_body_has_the_seven_fields_and_the_answer_is_read() {
        let h = Transmission {
            id: "t-1",
            time: "2026-11-24T10:00:00Z",
            sig: "c2ln",
            cert_url: "https://api.paypal.com/c",
            auth_algo: "SHA256withRSA",
        };
        let body = verify_api_request(&h, "WH-9", &json!({"id": "WH-EVT"}));
        let keys: Vec<&str> = body
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), 7, "{keys:?}");
        assert_eq!(body["webhook_event"]["id"], "WH-EVT");
        assert_eq!(body["webhook_id"], "WH-9");
        assert_eq!(
            parse_verify_api_response(br#"{"verification_status":"SUCCESS"}"#),
            Ok(true)
        );
        assert_eq!(
            parse_verify_api_response(br#"{"verification_status":"FAILURE"}"#),
            Ok(false)
        );
        assert!(parse_verify_api_response(b"{}").is_err());
        assert!(parse_verify_api_response(b"<html>").is_err());
    }

    #[test]
    fn missing_headers_are_named_and_other_algorithms_refused() {
        let h = TransmissionHeaders::default();
        assert_eq!(
            h.require(),
            Err(VerifyError::MissingHeader(TRANSMISSION_SIG))
        );
        let h = TransmissionHeaders {
            transmission_id: Some("a".into()),
            transmission_time: Some("b".into()),
            transmission_sig: Some("c".into()),
            cert_url: Some("d".into()),
            auth_algo: Some("SHA1withRSA".into()),
        };
        assert_eq!(
            h.require().map(|_| ()),
            Err(VerifyError::Algorithm("SHA1withRSA".into()))
        );
    }
}
