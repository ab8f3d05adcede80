//! PayPal REST client: OAuth2 client credentials (cached, renewed before
//! expiry, dropped and fetched again once on a 401), captures, refunds with
//! `PayPal-Request-Id`, and the disputes calls (list, show, provide-evidence as
//! `multipart/form-data` with an `input` JSON part, accept-claim).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::{Answer, ApiError, Body, HttpPolicy, Request, base, permanent, seg, send};
use crate::config::Secret;
use crate::domain::money::{Currency, Money};

/// Where and as whom to call PayPal.
#[derive(Debug, Clone)]
pub struct PaypalApiConfig {
    /// `https://api-m.paypal.com`, the sandbox, or a simulator.
    pub api_base: String,
    pub client_id: String,
    pub client_secret: Secret,
}

impl PaypalApiConfig {
    /// From `[paypal]`: an empty `api_base` means the mode's PayPal host.
    pub fn from_config(c: &crate::config::PaypalConfig) -> Self {
        let api_base = match c.api_base.trim() {
            "" => match c.mode {
                crate::config::PaypalMode::Sandbox => "https://api-m.sandbox.paypal.com",
                crate::config::PaypalMode::Live => "https://api-m.paypal.com",
            }
            .to_string(),
            other => base(other),
        };
        Self {
            api_base,
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
        }
    }
}

/// A PayPal refund as lsn-ops needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    /// `COMPLETED`, `PENDING`, `FAILED`, `CANCELLED`.
    pub status: String,
    pub amount: Option<Money>,
    /// The whole answer, kept as the command's result.
    pub raw: Value,
}

/// A capture's status and amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub id: String,
    pub status: String,
    pub amount: Money,
    pub custom_id: Option<String>,
    pub raw: Value,
}

pub struct PaypalClient {
    http: reqwest::Client,
    policy: HttpPolicy,
    config: PaypalApiConfig,
    tokens: Arc<TokenCache>,
}

/// PayPal's OAuth access token and when to stop using it: one per process,
/// shared by the API client (refunds, captures, disputes) and the webhook
/// verifier (`verify = "api"`), so both ride on one token (issue 18).
#[derive(Debug, Default)]
pub struct TokenCache {
    slot: Mutex<Option<(Secret, Instant)>>,
}

impl TokenCache {
    /// The cached token while it is fresh, else `fetch()`'s, kept for its
    /// lifetime in seconds less a minute (or half of a very short one). One
    /// fetch at a time: callers waiting meanwhile get the fetched token.
    pub async fn get_or_fetch<F, Fut, E>(&self, fetch: F) -> Result<Secret, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Secret, u64), E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((token, until)) = slot.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch().await?;
        let keep = Duration::from_secs(lifetime.saturating_sub(60).max(lifetime / 2));
        *slot = Some((token.clone(), Instant::now() + keep));
        Ok(token)
    }

    /// Forgets the token (PayPal refused it).
    pub async fn clear(&self) {
        *self.slot.lock().await = None;
    }
}

impl fmt::Debug for PaypalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalClient")
            .field("api_base", &self.config.api_base)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

/// Parses a PayPal `{currency_code, value}` object exactly.
pub fn parse_amount(v: &Value) -> Option<Money> {
    let currency = Currency::parse(v.get("currency_code")?.as_str()?)?;
    Money::from_major_str(v.get("value")?.as_str()?, currency).ok()
}

/// The `{currency_code, value}` object for an amount.
pub fn amount_json(m: Money) -> Value {
    json!({ "currency_code": m.currency.code(), "value": m.to_major_string() })
}

impl PaypalClient {
    pub fn new(config: PaypalApiConfig, policy: HttpPolicy) -> Result<Self, ApiError> {
        Ok(Self {
            http: super::http_client(&policy)?,
            policy,
            config,
            tokens: Arc::new(TokenCache::default()),
        })
    }

    /// This client with `tokens` as its token cache (the process's one).
    pub fn with_tokens(mut self, tokens: Arc<TokenCache>) -> Self {
        self.tokens = tokens;
        self
    }

    /// The token cache, to share with the webhook verifier.
    pub fn tokens(&self) -> Arc<TokenCache> {
        self.tokens.clone()
    }

    pub fn api_base(&self) -> &str {
        &self.config.api_base
    }

    /// A valid access token: the cached one, or a fresh one.
    async fn token(&self) -> Result<Secret, ApiError> {
        self.tokens.get_or_fetch(|| self.fetch_token()).await
    }

    /// `POST /v1/oauth2/token` (client credentials): the token and its lifetime.
    async fn fetch_token(&self) -> Result<(Secret, u64), ApiError> {
        if self.config.client_id.is_empty() || self.config.client_secret.is_empty() {
            return Err(ApiError::permanent(
                "[paypal] client_id and client_secret are not configured",
            ));
        }
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.config.client_id,
            self.config.client_secret.expose()
        ));
        let request = Request {
            method: Method::POST,
            url: format!("{}/v1/oauth2/token", self.config.api_base),
            headers: vec![("Authorization".into(), format!("Basic {basic}"))],
            body: Body::Form(vec![("grant_type".into(), "client_credentials".into())]),
        };
        let answer = send(&self.http, &self.policy, "PayPal OAuth", &request).await?;
        if !answer.status.is_success() {
            return Err(permanent("PayPal OAuth", &answer));
        }
        let token = answer
            .body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::permanent("PayPal OAuth: the answer has no access_token"))?;
        let lifetime = answer
            .body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(300);
        Ok((Secret::new(token), lifetime))
    }

    /// Sends with a bearer token; on 401 drops the token and tries once more.
    async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        extra_headers: Vec<(String, String)>,
        body: Body,
    ) -> Result<Answer, ApiError> {
        for attempt in 0..2 {
            let token = self.token().await?;
            let mut headers = vec![(
                "Authorization".to_string(),
                format!("Bearer {}", token.expose()),
            )];
            headers.extend(extra_headers.iter().cloned());
            let request = Request {
                method: method.clone(),
                url: format!("{}{path}", self.config.api_base),
                headers,
                body: body.clone(),
            };
            let answer = send(&self.http, &self.policy, what, &request).await?;
            if answer.status == StatusCode::UNAUTHORIZED && attempt == 0 {
                self.tokens.clear().await;
                continue;
            }
            return Ok(answer);
        }
        Err(ApiError::permanent(format!(
            "{what}: PayPal refused a fresh access token (HTTP 401)"
        )))
    }

    /// `GET /v2/payments/captures/{id}`.
    pub async fn get_capture(&self, capture_id: &str) -> Result<Capture, ApiError> {
        let what = "PayPal capture lookup";
        let answer = self
            .call(
                what,
                Method::GET,
                &format!("/v2/payments/captures/{}", seg(capture_id)),
                vec![],
                Body::Empty,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(permanent(what, &answer));
        }
        let b = &answer.body;
        Ok(Capture {
            id: str_field(b, "id", what)?,
            status: str_field(b, "status", what)?,
            amount: b
                .get("amount")
                .and_then(parse_amount)
                .ok_or_else(|| ApiError::permanent(format!("{what}: no readable amount")))?,
            custom_id: b
                .get("custom_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            raw: answer.body,
        })
    }

    /// `POST /v2/payments/captures/{id}/refund` with `PayPal-Request-Id:
    /// request_id`: the same id answers the same refund, never a second one.
    /// `amount: None` refunds the whole capture. `custom_id` comes back in the
    /// refund and its webhook. A 422 is [`ApiError::Permanent`] with one line
    /// naming PayPal's issue (`domain::payments::refusal_line`).
    pub async fn refund(
        &self,
        capture_id: &str,
        amount: Option<Money>,
        request_id: &str,
        note_to_payer: Option<&str>,
        custom_id: Option<&str>,
    ) -> Result<Refund, ApiError> {
        let what = "PayPal refund";
        let mut body = serde_json::Map::new();
        if let Some(m) = amount {
            body.insert("amount".into(), amount_json(m));
        }
        if let Some(id) = custom_id {
            body.insert(
                "custom_id".into(),
                Value::String(id.chars().take(127).collect()),
            );
        }
        if let Some(note) = note_to_payer {
            body.insert(
                "note_to_payer".into(),
                Value::String(note.chars().take(255).collect()),
            );
        }
        let answer = self
            .call(
                what,
                Method::POST,
                &format!("/v2/payments/captures/{}/refund", seg(capture_id)),
                vec![
                    ("PayPal-Request-Id".into(), request_id.to_string()),
                    ("Prefer".into(), "return=representation".into()),
                ],
                Body::Json(Value::Object(body)),
            )
            .await?;
        if answer.status.as_u16() == 422 {
            // A business refusal (already refunded, amount exceeded, time
            // limit, ...): one clear line, and never sent again.
            let issue = super::issues(&answer.body)
                .into_iter()
                .next()
                .unwrap_or_else(|| "UNPROCESSABLE_ENTITY".into());
            return Err(ApiError::Permanent {
                status: Some(422),
                message: crate::domain::payments::refusal_line(&issue),
            });
        }
        if !answer.status.is_success() {
            return Err(permanent(what, &answer));
        }
        let b = &answer.body;
        Ok(Refund {
            id: str_field(b, "id", what)?,
            status: str_field(b, "status", what)?,
            amount: b.get("amount").and_then(parse_amount),
            raw: answer.body,
        })
    }

    /// `GET /v1/customer/disputes` with query parameters (e.g. `dispute_state`,
    /// `update_time_after`, `page_size`, `next_page_token`). Returns the body.
    pub async fn list_disputes(&self, query: &[(&str, &str)]) -> Result<Value, ApiError> {
        let what = "PayPal dispute list";
        let qs: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let path = if qs.is_empty() {
            "/v1/customer/disputes".to_string()
        } else {
            format!("/v1/customer/disputes?{qs}")
        };
        let answer = self
            .call(what, Method::GET, &path, vec![], Body::Empty)
            .await?;
        ok_body(what, answer)
    }

    /// `GET /v1/customer/disputes/{id}`.
    pub async fn get_dispute(&self, dispute_id: &str) -> Result<Value, ApiError> {
        let what = "PayPal dispute lookup";
        let answer = self
            .call(
                what,
                Method::GET,
                &format!("/v1/customer/disputes/{}", seg(dispute_id)),
                vec![],
                Body::Empty,
            )
            .await?;
        ok_body(what, answer)
    }

    /// `POST /v1/customer/disputes/{id}/provide-evidence` as
    /// `multipart/form-data`: the `input` JSON part (`{"evidences":[...]}`)
    /// plus optional `evidence-file` parts (name, content type, bytes).
    pub async fn provide_evidence(
        &self,
        dispute_id: &str,
        input: &Value,
        files: &[(String, String, Vec<u8>)],
        request_id: &str,
    ) -> Result<Value, ApiError> {
        let what = "PayPal provide-evidence";
        let boundary = format!("lsnops{}", uuid::Uuid::new_v4().simple());
        let bytes = multipart_body(&boundary, input, files);
        let answer = self
            .call(
                what,
                Method::POST,
                &format!("/v1/customer/disputes/{}/provide-evidence", seg(dispute_id)),
                vec![("PayPal-Request-Id".into(), request_id.to_string())],
                Body::Raw {
                    content_type: format!("multipart/form-data; boundary={boundary}"),
                    bytes,
                },
            )
            .await?;
        ok_body(what, answer)
    }

    /// `POST /v1/customer/disputes/{id}/accept-claim` (JSON body, e.g.
    /// `{"note":…, "accept_claim_type":"REFUND"}`) with `PayPal-Request-Id`.
    pub async fn accept_claim(
        &self,
        dispute_id: &str,
        body: &Value,
        request_id: &str,
    ) -> Result<Value, ApiError> {
        let what = "PayPal accept-claim";
        let answer = self
            .call(
                what,
                Method::POST,
                &format!("/v1/customer/disputes/{}/accept-claim", seg(dispute_id)),
                vec![("PayPal-Request-Id".into(), request_id.to_string())],
                Body::Json(body.clone()),
            )
            .await?;
        ok_body(what, answer)
    }
}

fn ok_body(what: &str, answer: Answer) -> Result<Value, ApiError> {
    if answer.status.is_success() {
        Ok(answer.body)
    } else {
        Err(permanent(what, &answer))
    }
}

fn str_field(body: &Value, key: &str, what: &str) -> Result<String, ApiError> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::permanent(format!("{what}: the answer has no \"{key}\"")))
}

/// A `multipart/form-data` body: the `input` JSON part, then the files.
pub fn multipart_body(
    boundary: &str,
    input: &Value,
    files: &[(String, String, Vec<u8>)],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"input\"\r\nContent-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(input.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, content_type, bytes) in files {
        let safe: String = name
            .chars()
            .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
            .collect();
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"evidence-file\"; filename=\"{safe}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// The named parts of a `multipart/form-data` body (name → bytes); for the
/// simulator and tests. `None` when the body is not well formed.
pub fn multipart_parts(content_type: &str, body: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let start = find(rest, delimiter.as_bytes())?;
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let name = head
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name="))?
            .trim_matches('"')
            .to_string();
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes())?;
        parts.push((name, content[..end].to_vec()));
        rest = &content[end + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_round_trips() {
        let input = json!({ "evidences": [{ "evidence_type": "PROOF_OF_FULFILLMENT", "notes": "a\r\nb" }] });
        let files = vec![(
            "label.pdf".to_string(),
            "application/pdf".to_string(),
            b"%PDF-1.4".to_vec(),
        )];
        let body = multipart_body("XyZ", &input, &files);
        let parts = multipart_parts("multipart/form-data; boundary=XyZ", &body).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].0, "input");
        let back: Value = serde_json::from_slice(&parts[0].1).unwrap_or(Value::Null);
        assert_eq!(back, input);
        assert_eq!(
            parts[1],
            ("evidence-file".to_string(), b"%PDF-1.4".to_vec())
        );
    }

    proptest::proptest! {
        #[test]
        fn multipart_parsing_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                                          boundary in "[a-zA-Z0-9]{1,12}") {
            let _ = multipart_parts(&format!("multipart/form-data; boundary={boundary}"), &body);
            let mut framed = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"input\"\r\n\r\n").into_bytes();
            framed.extend_from_slice(&body);
            let _ = multipart_parts(&format!("multipart/form-data; boundary={boundary}"), &framed);
        }
    }

    #[test]
    fn amounts_are_exact() {
        let m = parse_amount(&json!({ "currency_code": "USD", "value": "10.05" }));
        assert_eq!(m.map(|m| m.minor), Some(1005));
        assert_eq!(
            parse_amount(&json!({ "currency_code": "USD", "value": 10.05 })),
            None
        );
        let usd = Currency::parse("USD").map(|c| Money::new(1005, c));
        assert_eq!(
            usd.map(amount_json),
            Some(json!({ "currency_code": "USD", "value": "10.05" }))
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = PaypalClient::new(
            PaypalApiConfig {
                api_base: "http://127.0.0.1:1".into(),
                client_id: "id".into(),
                client_secret: Secret::new("s3cr3t-value"),
            },
            HttpPolicy::fast(),
        );
        let text = format!("{c:?}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("PaypalClient"));
    }
}
