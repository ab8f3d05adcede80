//! Twilio Video REST client: room lookup, with HTTP Basic auth as the API key
//! (`api_key_sid:api_key_secret`).

use std::fmt;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{ApiError, Body, HttpPolicy, Request, base, permanent, seg, send};
use crate::config::Secret;

#[derive(Debug, Clone)]
pub struct TwilioApiConfig {
    /// `https://video.twilio.com` or a simulator.
    pub api_base: String,
    pub api_key_sid: String,
    pub api_key_secret: Secret,
}

impl TwilioApiConfig {
    pub fn from_config(c: &crate::config::TwilioConfig) -> Self {
        let api_base = match c.api_base.trim() {
            "" => "https://video.twilio.com".to_string(),
            other => base(other),
        };
        Self {
            api_base,
            api_key_sid: c.api_key_sid.clone(),
            api_key_secret: c.api_key_secret.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub sid: String,
    pub unique_name: Option<String>,
    /// `in-progress`, `completed`, `failed`.
    pub status: String,
    pub raw: Value,
}

pub struct TwilioClient {
    http: reqwest::Client,
    policy: HttpPolicy,
    config: TwilioApiConfig,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("api_base", &self.config.api_base)
            .field("api_key_sid", &self.config.api_key_sid)
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    pub fn new(config: TwilioApiConfig, policy: HttpPolicy) -> Result<Self, ApiError> {
        Ok(Self {
            http: super::http_client(&policy)?,
            policy,
            config,
        })
    }

    /// `GET /v1/Rooms/{sid or unique name}`; `Ok(None)` when Twilio has no such room.
    pub async fn get_room(&self, sid_or_name: &str) -> Result<Option<Room>, ApiError> {
        let what = "Twilio room lookup";
        if self.config.api_key_sid.is_empty() || self.config.api_key_secret.is_empty() {
            return Err(ApiError::permanent(
                "[twilio] api_key_sid and api_key_secret are not configured",
            ));
        }
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.config.api_key_sid,
            self.config.api_key_secret.expose()
        ));
        let request = Request {
            method: Method::GET,
            url: format!("{}/v1/Rooms/{}", self.config.api_base, seg(sid_or_name)),
            headers: vec![("Authorization".into(), format!("Basic {basic}"))],
            body: Body::Empty,
        };
        let answer = send(&self.http, &self.policy, what, &request).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(permanent(what, &answer));
        }
        let b = &answer.body;
        let field = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Some(Room {
            sid: field("sid")
                .ok_or_else(|| ApiError::permanent(format!("{what}: the answer has no sid")))?,
            unique_name: field("unique_name"),
            status: field("status").unwrap_or_default(),
            raw: answer.body,
        }))
    }
}
