//! Provider API clients: the calls lsn-ops makes *to* PayPal, Wise and Twilio.
//!
//! Each client ([`paypal::PaypalClient`], [`wise::WiseClient`],
//! [`twilio::TwilioClient`]) wraps one `reqwest` client (rustls, connect and
//! request timeouts) and sends through [`send`], which retries transport
//! failures, 429 and 5xx with jittered exponential backoff, honouring
//! `Retry-After`, a bounded number of times. Every failure ends up as an
//! [`ApiError`]: [`ApiError::Retryable`] (try again later, with the same
//! idempotency key) or [`ApiError::Permanent`] (retrying cannot help).
//!
//! Secrets (client secret, tokens, API key secrets) are only ever put in
//! request headers; no `Debug` impl, log line or error message contains them.
//! Error messages quote at most a short, sanitised excerpt of the provider's
//! answer (its `name`/`message`/`issue`, never our request).
//!
//! `api_base` (from `[paypal]`, `[wise]`, `[twilio]`) may point at a local
//! simulator ([`crate::simulators`]).

pub mod paypal;
pub mod twilio;
pub mod wise;

use std::time::Duration;

use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Why a provider call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Transport failure, timeout, 408/409/429 or 5xx: send again later with the
    /// same idempotency key. `retry_after` is the provider's hint, if any.
    #[error("{message} (retryable)")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// A refusal retrying cannot change (4xx, a rejected funding, bad answer).
    #[error("{message}")]
    Permanent {
        status: Option<u16>,
        message: String,
    },
}

impl ApiError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } => *retry_after,
            Self::Permanent { .. } => None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            status: None,
            message: message.into(),
        }
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Retryable { message, .. } | Self::Permanent { message, .. } => message,
        }
    }
}

/// Timeouts and the in-call retry budget shared by the clients.
#[derive(Debug, Clone, Copy)]
pub struct HttpPolicy {
    pub connect_timeout: Duration,
    /// Whole request (connect + send + answer).
    pub timeout: Duration,
    /// Retries after the first attempt, within one call.
    pub max_retries: u32,
    /// First backoff; doubled each retry, with full jitter, capped at `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for in-call: the call
    /// returns [`ApiError::Retryable`] carrying it, for the outbox to schedule.
    pub max_retry_after: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_retries: 2,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl HttpPolicy {
    /// Fast retries for tests and simulators on loopback.
    pub fn fast() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_retries: 3,
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(2),
        }
    }

    /// The jittered wait before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1).min(16)));
        let cap = exp.min(self.max_backoff);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        // "Full jitter": uniformly between half the cap and the cap.
        let low = millis / 2;
        Duration::from_millis(rand::rng().random_range(low..=millis.max(low)))
    }
}

/// Builds the shared `reqwest` client: rustls, timeouts, no redirects to other hosts.
pub fn http_client(policy: &HttpPolicy) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("lsn-ops/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ApiError::permanent(format!("cannot build the HTTP client: {e}")))
}

/// A provider's answer: status and the body (JSON when it parses, else `Null`).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

/// One request description; cloned for each attempt.
#[derive(Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub url: String,
    /// Header name and value; values may be secrets, so `Request` has no `Debug`.
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Clone)]
pub(crate) enum Body {
    Empty,
    Json(Value),
    Form(Vec<(String, String)>),
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// The `Retry-After` header in seconds (HTTP dates are treated as "soon").
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    match value.trim().parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) => Some(Duration::from_secs(1)),
    }
}

/// A short description of a provider's error body: its well-known fields only.
pub fn describe_error_body(body: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["name", "error", "message", "error_description", "code"] {
        if let Some(s) = body.get(key).and_then(Value::as_str) {
            parts.push(truncate(s, 160));
        }
    }
    if let Some(details) = body.get("details").and_then(Value::as_array) {
        for d in details.iter().take(3) {
            if let Some(issue) = d.get("issue").and_then(Value::as_str) {
                parts.push(truncate(issue, 80));
            }
        }
    }
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        for e in errors.iter().take(3) {
            if let Some(code) = e.get("code").and_then(Value::as_str) {
                parts.push(truncate(code, 80));
            }
        }
    }
    parts.join(": ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// The issue codes of a PayPal-style error body (`details[].issue`).
pub fn issues(body: &Value) -> Vec<String> {
    body.get("details")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter_map(|x| x.get("issue").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether an HTTP status is worth sending again.
pub fn status_is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::CONFLICT
        || status.is_server_error()
}

/// Sends `request`, retrying transport errors, 408/409/429 and 5xx within the
/// policy's budget. Any other answer (2xx or a 4xx) is returned for the
/// caller to interpret. `what` names the call in errors ("PayPal refund").
pub(crate) async fn send(
    client: &reqwest::Client,
    policy: &HttpPolicy,
    what: &str,
    request: &Request,
) -> Result<Answer, ApiError> {
    let mut retry = 0u32;
    loop {
        let error = match send_once(client, request).await {
            Ok(raw) if !status_is_retryable(raw.status) => {
                return Ok(Answer {
                    status: raw.status,
                    body: raw.body,
                });
            }
            Ok(raw) => {
                let detail = describe_error_body(&raw.body);
                ApiError::Retryable {
                    message: format!(
                        "{what}: HTTP {}{}",
                        raw.status.as_u16(),
                        if detail.is_empty() {
                            String::new()
                        } else {
                            format!(" ({detail})")
                        }
                    ),
                    retry_after: raw.retry_after,
                }
            }
            Err(e) => ApiError::retryable(format!("{what}: {e}")),
        };
        retry += 1;
        if retry > policy.max_retries {
            return Err(error);
        }
        let wait = match error.retry_after() {
            Some(hint) if hint > policy.max_retry_after => return Err(error),
            Some(hint) => hint.max(policy.backoff(retry)),
            None => policy.backoff(retry),
        };
        tracing::debug!(retry, ?wait, "{}", error.message());
        tokio::time::sleep(wait).await;
    }
}

/// One answer as [`send`] sees it, with its `Retry-After` hint.
struct RawAnswer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Value,
}

async fn send_once(client: &reqwest::Client, request: &Request) -> Result<RawAnswer, String> {
    let mut builder = client.request(request.method.clone(), &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder = match &request.body {
        Body::Empty => builder,
        Body::Json(v) => builder.json(v),
        Body::Form(pairs) => builder.form(pairs),
        Body::Raw {
            content_type,
            bytes,
        } => builder
            .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
            .body(bytes.clone()),
    };
    let response = builder.send().await.map_err(|e| transport_message(&e))?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let bytes = response.bytes().await.map_err(|e| transport_message(&e))?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(RawAnswer {
        status,
        retry_after,
        body,
    })
}

fn transport_message(e: &reqwest::Error) -> String {
    // URLs carry ids, never secrets; credentials only ever travel in headers.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    let mut message = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

/// Classifies a non-retryable, non-2xx answer as permanent, naming the call.
pub(crate) fn permanent(what: &str, answer: &Answer) -> ApiError {
    let detail = describe_error_body(&answer.body);
    ApiError::Permanent {
        status: Some(answer.status.as_u16()),
        message: format!(
            "{what}: HTTP {}{}",
            answer.status.as_u16(),
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        ),
    }
}

/// Trims a trailing slash from a configured base URL.
pub(crate) fn base(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// Percent-encodes one path segment (ids from the database or a provider).
pub(crate) fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_within_bounds() {
        let p = HttpPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..HttpPolicy::default()
        };
        for _ in 0..50 {
            let first = p.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let late = p.backoff(10);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn error_bodies_are_summarised_from_known_fields_only() {
        let body = serde_json::json!({
            "name": "UNPROCESSABLE_ENTITY",
            "message": "The requested action could not be performed",
            "details": [{ "issue": "CAPTURE_FULLY_REFUNDED", "description": "x" }],
            "debug_id": "abc",
            "secret": "should-not-appear"
        });
        let text = describe_error_body(&body);
        assert!(text.contains("UNPROCESSABLE_ENTITY"));
        assert!(text.contains("CAPTURE_FULLY_REFUNDED"));
        assert!(!text.contains("should-not-appear"));
        assert_eq!(issues(&body), vec!["CAPTURE_FULLY_REFUNDED".to_string()]);
    }

    #[test]
    fn retryable_statuses() {
        assert!(status_is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(status_is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(status_is_retryable(StatusCode::CONFLICT));
        assert!(!status_is_retryable(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(!status_is_retryable(StatusCode::NOT_FOUND));
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("AB 12/x"), "AB%2012%2Fx");
    }
}
