//! The network half of PayPal verification: fetching the certificate named by
//! `PAYPAL-CERT-URL` (offline mode, after the host allow-list check) and calling
//! `POST /v1/notifications/verify-webhook-signature` (API mode) with an OAuth
//! token obtained by client credentials and kept until shortly before it expires.
//!
//! Failures here are PayPal's or the network's (the webhook answers 503 so
//! PayPal retries), except a 4xx from verify-webhook-signature: PayPal refused
//! what the sender gave us, so it is a bad signature (401). The OAuth token
//! cache is the process's one, shared with the API client. Credentials never
//! appear in errors.

use std::time::Duration;

use serde_json::Value;

use crate::providers::paypal::{Transmission, parse_verify_api_response, verify_api_request};

use super::PaypalSettings;
use crate::config::Secret;

/// Largest certificate (chain) we accept; PayPal's is about 3 KB.
const MAX_CERT_BYTES: usize = 64 * 1024;

/// Why a certificate could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The host answered that there is no such certificate (4xx) or sent
    /// something unusable: the delivery's `PAYPAL-CERT-URL` is bad (401).
    Refused(String),
    /// The host could not be reached or failed (5xx): try again later (503).
    Unavailable(String),
}

/// Downloads a certificate PEM. The URL must already have passed
/// [`crate::providers::paypal::cert_url_allowed`].
pub async fn fetch_cert(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, FetchError> {
    use FetchError::{Refused, Unavailable};
    let response = client
        .get(url)
        .timeout(Duration::from_secs(4))
        .send()
        .await
        .map_err(|e| Unavailable(format!("fetching the certificate: {}", e.without_url())))?;
    let status = response.status();
    if status.is_client_error() {
        return Err(Refused(format!("fetching the certificate: HTTP {status}")));
    }
    if !status.is_success() {
        return Err(Unavailable(format!(
            "fetching the certificate: HTTP {status}"
        )));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_CERT_BYTES as u64)
    {
        return Err(Refused("the certificate is too large".into()));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Unavailable(format!("reading the certificate: {}", e.without_url())))?;
    if bytes.len() > MAX_CERT_BYTES {
        return Err(Refused("the certificate is too large".into()));
    }
    Ok(bytes.to_vec())
}

/// The process's PayPal token cache (shared with the API client).
pub use crate::providers::api::paypal::TokenCache;

/// `POST /v1/oauth2/token` for the verifier: the token and its lifetime.
async fn fetch_token(
    client: &reqwest::Client,
    s: &PaypalSettings,
) -> Result<(Secret, u64), VerifyApiError> {
    use VerifyApiError::Unavailable;
    if s.client_id.is_empty() || s.client_secret.is_empty() {
        return Err(Unavailable(
            "[paypal] client_id and client_secret are needed for verify = \"api\"".into(),
        ));
    }
    let response = client
        .post(format!("{}/v1/oauth2/token", s.api_base))
        .basic_auth(&s.client_id, Some(s.client_secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .timeout(Duration::from_secs(4))
        .send()
        .await
        .map_err(|e| Unavailable(format!("PayPal OAuth: {}", e.without_url())))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| {
        Unavailable(format!(
            "PayPal OAuth: HTTP {status}, unreadable answer ({})",
            e.without_url()
        ))
    })?;
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|_| status.is_success())
        .ok_or_else(|| Unavailable(format!("PayPal OAuth: HTTP {status}, no access_token")))?;
    let lifetime = body
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(300);
    Ok((Secret::new(token), lifetime))
}

/// Why verify-webhook-signature gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyApiError {
    /// PayPal refused the request as malformed (a 4xx other than 401 and 429):
    /// what the sender gave us is not a PayPal delivery. A bad signature (401).
    Refused(String),
    /// PayPal could not answer (5xx, timeout, connection failure), refused our
    /// token (401), or asked us to slow down (429): try again later (503).
    Unavailable(String),
}

/// Asks PayPal whether the delivery is genuine: `Ok(true)` SUCCESS, `Ok(false)`
/// FAILURE, `Err` when PayPal could not answer.
pub async fn verify_via_api(
    client: &reqwest::Client,
    tokens: &TokenCache,
    s: &PaypalSettings,
    headers: &Transmission<'_>,
    event: &Value,
) -> Result<bool, VerifyApiError> {
    use VerifyApiError::{Refused, Unavailable};
    let token = tokens.get_or_fetch(|| fetch_token(client, s)).await?;
    let response = client
        .post(format!(
            "{}/v1/notifications/verify-webhook-signature",
            s.api_base
        ))
        .bearer_auth(token.expose())
        .json(&verify_api_request(headers, &s.webhook_id, event))
        .timeout(Duration::from_secs(4))
        .send()
        .await
        .map_err(|e| Unavailable(format!("PayPal verify API: {}", e.without_url())))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        tokens.clear().await;
        return Err(Unavailable(
            "PayPal verify API: token refused (HTTP 401)".into(),
        ));
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Unavailable("PayPal verify API: HTTP 429".into()));
    }
    // Any other 4xx: PayPal refused what the sender gave us (e.g. a field over
    // its documented limit). That is the sender's fault, not a reason to retry.
    if status.is_client_error() {
        return Err(Refused(format!(
            "PayPal verify API refused the request (HTTP {status})"
        )));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| Unavailable(format!("PayPal verify API: {}", e.without_url())))?;
    if !status.is_success() {
        return Err(Unavailable(format!("PayPal verify API: HTTP {status}")));
    }
    parse_verify_api_response(&body).map_err(|e| Unavailable(format!("PayPal verify API: {e}")))
}
