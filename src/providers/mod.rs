//! Provider webhook signatures: PayPal, Wise and Twilio, each in its own module.
//!
//! Everything here is pure: functions take the raw body bytes, the relevant
//! header values, keys, and (where time matters) the current time passed in by
//! the caller, and answer [`Verified`] or a [`VerifyError`]. No network, no
//! database, no global clock, so the published test vectors (expired
//! certificates included) check offline with a clock inside their validity.
//!
//! The I/O around verification (fetching PayPal's certificate, calling PayPal's
//! verify-webhook-signature API) lives in [`crate::worker`], which owns the
//! HTTP client; the request and response shapes of that API are here.
//!
//! - [`paypal`]: offline RSA-SHA256 over `id|time|webhook_id|crc32(body)` with the
//!   certificate named by `PAYPAL-CERT-URL`, its host allow-list and a cache;
//!   the verify-webhook-signature API body and answer.
//! - [`wise`]: `X-Signature-SHA256`, RSA-SHA256 over the raw body with Wise's
//!   public key (the sandbox and live keys ship in `assets/wise/`).
//! - [`twilio`]: `X-Twilio-Signature`, HMAC-SHA1 of the public URL plus the sorted
//!   form parameters, compared in constant time.

pub mod api;
pub mod paypal;
pub mod paypal_headers;
pub mod twilio;
pub mod wise;

/// A successful verification (a unit type, so a forgotten check does not compile away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified;

/// Why a webhook's signature was refused. Messages never contain keys or tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} is not valid: {1}")]
    BadHeader(&'static str, String),
    #[error("signature does not match")]
    Mismatch,
    #[error("transmission time {0} is outside the replay window")]
    Replay(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("certificate URL not allowed: {0}")]
    CertUrl(String),
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
    /// PayPal's verify-webhook-signature refused the delivery's fields (4xx).
    #[error("{0}")]
    RefusedByPaypal(String),
}

impl VerifyError {
    /// A short stable label for metrics (`reason="..."`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_signature",
            Self::BadHeader(..) => "bad_header",
            Self::Mismatch => "bad_signature",
            Self::Replay(_) => "replay_window",
            Self::Certificate(_) => "bad_certificate",
            Self::CertUrl(_) => "cert_url_not_allowed",
            Self::Algorithm(_) => "unsupported_algorithm",
            Self::RefusedByPaypal(_) => "refused_by_paypal",
        }
    }
}

/// Standard base64 (padded) decoding of a signature header value.
pub(crate) fn decode_b64(header: &'static str, value: &str) -> Result<Vec<u8>, VerifyError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| VerifyError::BadHeader(header, format!("not base64 ({e})")))
}
