//! The notification targets, simulated: a Slack-compatible incoming webhook
//! (`POST /services/...` with `{"text": ...}`, answered `200 ok`, or `400
//! invalid_payload` / `no_text` like Slack) and the PagerDuty Events API v2
//! (`POST /v2/enqueue`: `trigger` with a payload of summary, source and
//! severity, `acknowledge` / `resolve` by `dedup_key`; answered `202
//! {"status":"success","message":"Event processed","dedup_key":...}` or
//! `400 {"status":"invalid event",...}`). Both keep what they received, for
//! the tests and the demo.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::{Server, lock};

/// The path of the simulated Slack webhook (Slack's shape: /services/T/B/secret).
pub const SLACK_PATH: &str = "/services/T0SIM0001/B0SIM0001/simulatorsecret0000000000";
/// The routing key the PagerDuty simulator accepts (32 characters, like PagerDuty's).
pub const PAGERDUTY_ROUTING_KEY: &str = "R0sim0000000000000000000000000pd";

#[derive(Debug, Default)]
struct Received {
    slack: Vec<String>,
    pagerduty: Vec<Value>,
    refused: u64,
}

/// Both simulated targets on one local server.
#[derive(Debug, Clone)]
pub struct PagingSim {
    received: Arc<Mutex<Received>>,
    server: Arc<Server>,
}

impl PagingSim {
    pub async fn start() -> Result<PagingSim, String> {
        let (listener, base_url) = Server::bind().await?;
        let received = Arc::new(Mutex::new(Received::default()));
        let router = Router::new()
            .route("/services/{t}/{b}/{secret}", post(slack))
            .route("/v2/enqueue", post(pagerduty))
            .with_state(received.clone());
        let server = Server::serve(listener, base_url, router);
        Ok(PagingSim {
            received,
            server: Arc::new(server),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }

    pub fn slack_url(&self) -> String {
        format!("{}{SLACK_PATH}", self.server.base_url)
    }

    pub fn pagerduty_url(&self) -> String {
        format!("{}/v2/enqueue", self.server.base_url)
    }

    /// Points `[escalation]` at this simulator.
    pub fn apply_to(&self, config: &mut crate::config::Config) {
        config.escalation.slack_webhook_url = crate::config::Secret::new(self.slack_url());
        config.escalation.pagerduty_url = self.pagerduty_url();
        config.escalation.pagerduty_routing_key = crate::config::Secret::new(PAGERDUTY_ROUTING_KEY);
    }

    /// The Slack messages' texts, in order.
    pub fn slack_messages(&self) -> Vec<String> {
        lock(&self.received).slack.clone()
    }

    /// The PagerDuty events accepted, in order (routing key removed).
    pub fn pagerduty_events(&self) -> Vec<Value> {
        lock(&self.received).pagerduty.clone()
    }

    /// Requests refused as invalid.
    pub fn refused(&self) -> u64 {
        lock(&self.received).refused
    }

    pub async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}

fn parse(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok()
}

async fn slack(State(received): State<Arc<Mutex<Received>>>, body: axum::body::Bytes) -> Response {
    let Some(v) = parse(&body) else {
        lock(&received).refused += 1;
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    match v.get("text").and_then(Value::as_str) {
        Some(text) if !text.is_empty() => {
            lock(&received).slack.push(text.to_string());
            (StatusCode::OK, "ok").into_response()
        }
        _ => {
            lock(&received).refused += 1;
            (StatusCode::BAD_REQUEST, "no_text").into_response()
        }
    }
}

fn invalid(received: &Mutex<Received>, errors: Vec<String>) -> Response {
    lock(received).refused += 1;
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": errors,
        })),
    )
        .into_response()
}

async fn pagerduty(
    State(received): State<Arc<Mutex<Received>>>,
    body: axum::body::Bytes,
) -> Response {
    let Some(mut v) = parse(&body) else {
        return invalid(&received, vec!["Malformed JSON".into()]);
    };
    let mut errors = Vec::new();
    if v.get("routing_key").and_then(Value::as_str) != Some(PAGERDUTY_ROUTING_KEY) {
        errors.push("'routing_key' is invalid".to_string());
    }
    let action = v.get("event_action").and_then(Value::as_str).unwrap_or("");
    let dedup = v
        .get("dedup_key")
        .and_then(Value::as_str)
        .map(str::to_string);
    match action {
        "trigger" => {
            let p = v.get("payload");
            for field in ["summary", "source", "severity"] {
                if p.and_then(|p| p.get(field))
                    .and_then(Value::as_str)
                    .is_none()
                {
                    errors.push(format!("'payload.{field}' is missing or blank"));
                }
            }
            let severity = p.and_then(|p| p.get("severity")).and_then(Value::as_str);
            if let Some(s) = severity
                && !matches!(s, "critical" | "error" | "warning" | "info")
            {
                errors.push("'payload.severity' is invalid".into());
            }
        }
        "acknowledge" | "resolve" => {
            if dedup.as_deref().is_none_or(str::is_empty) {
                errors.push("'dedup_key' is missing or blank".into());
            }
        }
        _ => errors.push("'event_action' is invalid".into()),
    }
    if !errors.is_empty() {
        return invalid(&received, errors);
    }
    if let Value::Object(m) = &mut v {
        m.remove("routing_key");
    }
    let dedup = dedup.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    lock(&received).pagerduty.push(v);
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "status": "success",
            "message": "Event processed",
            "dedup_key": dedup,
        })),
    )
        .into_response()
}
