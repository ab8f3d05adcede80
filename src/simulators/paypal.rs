//! PayPal simulator: OAuth, captures, refunds (deduplicated by
//! `PayPal-Request-Id`), disputes (list, show, provide-evidence multipart,
//! accept-claim), the webhook certificate, the verify-webhook-signature API
//! (SUCCESS for what it sent, for `[paypal] verify = "api"`), and signed webhooks
//! (`PAYMENT.CAPTURE.COMPLETED/REFUNDED`, `CUSTOMER.DISPUTE.*`) in the shapes
//! [`crate::worker::apply`] reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{
    CommonStats, Delivery, Fault, Knobs, PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET, Server, Shared,
    SimConfig, SimKey, b64, lock, paypal_error,
};
use crate::domain::money::{Currency, Money};
use crate::providers::api::paypal::amount_json;
use crate::providers::paypal as pp;

mod captures;
mod disputes;

use captures::{get_capture, get_refund, refund};
use disputes::{accept_claim, get_dispute, list_disputes, provide_evidence};

/// Where the simulator serves its webhook certificate.
pub const CERT_PATH: &str = "/v1/notifications/certs/CERT-lsn-ops-simulator";

/// One refund the simulator made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRefund {
    pub id: String,
    pub capture_id: String,
    pub request_id: Option<String>,
    pub amount: Money,
    /// How many requests answered with this refund (1 + replays).
    pub requests: u32,
    /// The request's `custom_id`, echoed in the refund and its webhook.
    pub custom_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaypalStats {
    pub common: CommonStats,
    pub tokens_issued: u64,
    pub captures: usize,
    pub refunds: usize,
    pub evidence_submissions: usize,
    pub claims_accepted: usize,
    /// Calls to `POST /v1/notifications/verify-webhook-signature`.
    pub verifications: u64,
}

#[derive(Debug, Clone)]
struct Capture {
    id: String,
    amount: Money,
    refunded_minor: i64,
    status: String,
    custom_id: String,
    create_time: String,
}

#[derive(Debug, Default)]
struct State_ {
    captures: HashMap<String, Capture>,
    refunds: Vec<SimRefund>,
    refund_by_request: HashMap<String, usize>,
    /// The next refund request is refused with this 422 issue (once).
    refuse_next_refund: Option<String>,
    /// The next accept-claim request is refused with this 422 issue (once).
    refuse_next_accept: Option<String>,
    disputes: BTreeMap<String, Value>,
    /// PayPal-Request-Id → the answer given (provide-evidence, accept-claim).
    actions: HashMap<String, Value>,
    tokens: Vec<String>,
    tokens_issued: u64,
    /// Transmissions sent: id → (signature, webhook id, event id), for the
    /// verify-webhook-signature API.
    transmissions: HashMap<String, (String, String, String)>,
    verifications: u64,
    evidence_submissions: usize,
    /// Every `evidence-file` part received: dispute id and the file's bytes.
    evidence_files: Vec<(String, Vec<u8>)>,
    claims_accepted: usize,
    seq: u64,
}

struct Inner {
    shared: Arc<Shared>,
    state: Mutex<State_>,
    key: SimKey,
    cert_pem: String,
    base_url: String,
    webhook_id: Option<String>,
    webhooks: Option<tokio::sync::mpsc::UnboundedSender<Delivery>>,
}

/// A running PayPal simulator.
#[derive(Clone)]
pub struct PaypalSim {
    inner: Arc<Inner>,
    server: Arc<Server>,
}

impl std::fmt::Debug for PaypalSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaypalSim")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl PaypalSim {
    pub async fn start(config: SimConfig) -> Result<Self, String> {
        let key = SimKey::generate()?;
        let cert_pem = key.self_signed_cert_pem("lsn-ops PayPal simulator")?;
        let (listener, base_url) = Server::bind().await?;
        let (shared, tx, deliverer) = super::start_shared(&config);
        let inner = Arc::new(Inner {
            shared: shared.clone(),
            state: Mutex::new(State_::default()),
            key,
            cert_pem,
            base_url: base_url.clone(),
            webhook_id: config
                .webhooks
                .as_ref()
                .map(|t| t.paypal_webhook_id.clone()),
            webhooks: tx,
        });
        let api = Router::new()
            .route("/v1/oauth2/token", post(token))
            .route("/v2/payments/captures/{id}", get(get_capture))
            .route("/v2/payments/captures/{id}/refund", post(refund))
            .route("/v2/payments/refunds/{id}", get(get_refund))
            .route("/v1/customer/disputes", get(list_disputes))
            .route("/v1/customer/disputes/{id}", get(get_dispute))
            .route(
                "/v1/customer/disputes/{id}/provide-evidence",
                post(provide_evidence),
            )
            .route(
                "/v1/customer/disputes/{id}/accept-claim",
                post(accept_claim),
            )
            .route(
                "/v1/notifications/verify-webhook-signature",
                post(verify_webhook_signature),
            )
            .layer(axum::middleware::from_fn_with_state(shared, super::faults));
        let router = Router::new()
            .route(CERT_PATH, get(cert))
            .merge(api)
            .with_state(inner.clone());
        let server = Server::serve(listener, base_url, router);
        if let Some(d) = deliverer {
            server.add_task(d);
        }
        Ok(Self {
            inner,
            server: Arc::new(server),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }

    /// The URL of the simulator's webhook certificate.
    pub fn cert_url(&self) -> String {
        format!("{}{CERT_PATH}", self.server.base_url)
    }

    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        *lock(&self.inner.shared.knobs) = knobs;
    }

    /// Answers the next API request(s) with these faults, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.inner.shared.faults).extend(faults);
    }

    pub fn stats(&self) -> PaypalStats {
        let s = lock(&self.inner.state);
        PaypalStats {
            common: lock(&self.inner.shared.stats).clone(),
            tokens_issued: s.tokens_issued,
            captures: s.captures.len(),
            refunds: s.refunds.len(),
            evidence_submissions: s.evidence_submissions,
            claims_accepted: s.claims_accepted,
            verifications: s.verifications,
        }
    }

    /// Every refund made, in order.
    pub fn refunds(&self) -> Vec<SimRefund> {
        lock(&self.inner.state).refunds.clone()
    }

    /// Refunds made under one `PayPal-Request-Id` (idempotency: at most one).
    pub fn refunds_for_request_id(&self, request_id: &str) -> Vec<SimRefund> {
        lock(&self.inner.state)
            .refunds
            .iter()
            .filter(|r| r.request_id.as_deref() == Some(request_id))
            .cloned()
            .collect()
    }

    /// Records a completed capture for order `custom_id` and emits
    /// `PAYMENT.CAPTURE.COMPLETED`. Returns the capture id. An unknown
    /// currency code is treated as USD.
    pub fn create_capture(&self, custom_id: &str, amount_minor: i64, currency: &str) -> String {
        let currency = Currency::parse(currency)
            .or_else(|| Currency::parse("USD"))
            .unwrap_or_else(|| unreachable!("USD is a known currency"));
        let resource = {
            let mut s = lock(&self.inner.state);
            s.seq += 1;
            let id = format!("SIMCAP{:010}", s.seq);
            let capture = Capture {
                id: id.clone(),
                amount: Money::new(amount_minor, currency),
                refunded_minor: 0,
                status: "COMPLETED".into(),
                custom_id: custom_id.to_string(),
                create_time: now(),
            };
            let resource = capture_json(&capture, &self.inner.base_url);
            s.captures.insert(id, capture);
            resource
        };
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.inner
            .emit("PAYMENT.CAPTURE.COMPLETED", "capture", resource);
        id
    }

    /// Registers a capture that exists outside the simulator (seeded data)
    /// without emitting a webhook, so refunds of it can be made. An unknown
    /// currency code is treated as USD.
    pub fn register_capture(
        &self,
        capture_id: &str,
        custom_id: &str,
        amount_minor: i64,
        currency: &str,
    ) {
        self.register_capture_at(capture_id, custom_id, amount_minor, currency, Utc::now());
    }

    /// [`Self::register_capture`] captured at `at`: a capture older than
    /// [`REFUND_TIME_LIMIT_DAYS`] is refused with `REFUND_TIME_LIMIT_EXCEEDED`.
    pub fn register_capture_at(
        &self,
        capture_id: &str,
        custom_id: &str,
        amount_minor: i64,
        currency: &str,
        at: chrono::DateTime<Utc>,
    ) {
        let currency = Currency::parse(currency)
            .or_else(|| Currency::parse("USD"))
            .unwrap_or_else(|| unreachable!("USD is a known currency"));
        lock(&self.inner.state).captures.insert(
            capture_id.to_string(),
            Capture {
                id: capture_id.to_string(),
                amount: Money::new(amount_minor, currency),
                refunded_minor: 0,
                status: "COMPLETED".into(),
                custom_id: custom_id.to_string(),
                create_time: at.to_rfc3339_opts(SecondsFormat::Secs, true),
            },
        );
    }

    /// The next refund request (a new one, not a replay) is answered 422
    /// with `issue` (e.g. `TRANSACTION_DISPUTED`), as PayPal would.
    pub fn refuse_next_refund(&self, issue: &str) {
        lock(&self.inner.state).refuse_next_refund = Some(issue.to_string());
    }

    /// The next accept-claim request (a new one, not a replay) is answered
    /// 422 with `issue` (e.g. `ACTION_NOT_ALLOWED_IN_CURRENT_STATE`).
    pub fn refuse_next_accept_claim(&self, issue: &str) {
        lock(&self.inner.state).refuse_next_accept = Some(issue.to_string());
    }

    /// Opens a dispute on a capture (status `WAITING_FOR_SELLER_RESPONSE`,
    /// seller response due in `due_in_days`) and emits
    /// `CUSTOMER.DISPUTE.CREATED`. `None` for an unknown capture.
    pub fn open_dispute(&self, capture_id: &str, reason: &str, due_in_days: i64) -> Option<String> {
        let resource = {
            let mut s = lock(&self.inner.state);
            let capture = s.captures.get(capture_id)?.clone();
            s.seq += 1;
            let id = format!("PP-D-SIM{:08}", s.seq);
            let created = now();
            let due = (Utc::now() + chrono::Duration::days(due_in_days))
                .to_rfc3339_opts(SecondsFormat::Secs, true);
            let dispute = json!({
                "dispute_id": id,
                "create_time": created,
                "update_time": created,
                "disputed_transactions": [{ "seller_transaction_id": capture.id, "custom": capture.custom_id }],
                "reason": reason,
                "status": "WAITING_FOR_SELLER_RESPONSE",
                "dispute_amount": amount_json(capture.amount),
                "dispute_life_cycle_stage": "CHARGEBACK",
                "dispute_channel": "INTERNAL",
                "seller_response_due_date": due,
                "evidences": [],
                "links": dispute_links(&self.inner.base_url, &id, true),
            });
            s.disputes.insert(id, dispute.clone());
            dispute
        };
        let id = resource
            .get("dispute_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        self.inner
            .emit("CUSTOMER.DISPUTE.CREATED", "dispute", resource);
        id
    }

    /// A dispute that exists at "PayPal" without a webhook (the demo's
    /// seeded disputes): waiting for the seller's evidence until `due`.
    pub fn register_dispute(
        &self,
        dispute_id: &str,
        capture_id: &str,
        reason: &str,
        amount_minor: i64,
        currency: &str,
        due: chrono::DateTime<Utc>,
    ) {
        let Some(currency) = Currency::parse(currency.trim()) else {
            return;
        };
        let created = now();
        let dispute = json!({
            "dispute_id": dispute_id,
            "create_time": created,
            "update_time": created,
            "disputed_transactions": [{ "seller_transaction_id": capture_id }],
            "reason": reason,
            "status": "WAITING_FOR_SELLER_RESPONSE",
            "dispute_amount": amount_json(Money::new(amount_minor, currency)),
            "dispute_life_cycle_stage": "CHARGEBACK",
            "dispute_channel": "INTERNAL",
            "seller_response_due_date": due.to_rfc3339_opts(SecondsFormat::Secs, true),
            "evidences": [],
            "links": dispute_links(&self.inner.base_url, dispute_id, true),
        });
        lock(&self.inner.state)
            .disputes
            .insert(dispute_id.to_string(), dispute);
    }

    /// The evidence files received for a dispute, in order.
    pub fn evidence_files(&self, dispute_id: &str) -> Vec<Vec<u8>> {
        lock(&self.inner.state)
            .evidence_files
            .iter()
            .filter(|(d, _)| d == dispute_id)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// The evidences recorded on a dispute (what provide-evidence sent).
    pub fn evidences(&self, dispute_id: &str) -> Vec<Value> {
        lock(&self.inner.state)
            .disputes
            .get(dispute_id)
            .and_then(|d| d.get("evidences"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// Resolves a dispute (`RESOLVED_SELLER_FAVOUR` or `RESOLVED_BUYER_FAVOUR`)
    /// and emits `CUSTOMER.DISPUTE.RESOLVED`.
    pub fn resolve_dispute(&self, dispute_id: &str, seller_wins: bool) -> bool {
        let outcome = if seller_wins {
            "RESOLVED_SELLER_FAVOUR"
        } else {
            "RESOLVED_BUYER_FAVOUR"
        };
        let resource = {
            let mut s = lock(&self.inner.state);
            let Some(d) = s.disputes.get_mut(dispute_id) else {
                return false;
            };
            resolve(d, outcome, &self.inner.base_url);
            d.clone()
        };
        self.inner
            .emit("CUSTOMER.DISPUTE.RESOLVED", "dispute", resource);
        true
    }

    /// Emits any event with this resource (signed like the others).
    pub fn emit(&self, event_type: &str, resource_type: &str, resource: Value) {
        self.inner.emit(event_type, resource_type, resource);
    }

    pub async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}

impl Inner {
    fn emit(&self, event_type: &str, resource_type: &str, resource: Value) {
        let (Some(tx), Some(webhook_id)) = (&self.webhooks, &self.webhook_id) else {
            return;
        };
        let event = json!({
            "id": format!("WH-SIM-{}", uuid::Uuid::new_v4().simple()),
            "create_time": now(),
            "resource_type": resource_type,
            "event_type": event_type,
            "summary": format!("{event_type} (simulated)"),
            "resource": resource,
            "resource_version": "2.0",
            "event_version": "1.0",
            "links": [],
        });
        let body = event.to_string().into_bytes();
        let transmission_id = uuid::Uuid::new_v4().to_string();
        let time = now();
        let message = pp::signed_string(&transmission_id, &time, webhook_id, &body);
        let signature = match self.key.sign(message.as_bytes()) {
            Ok(s) => b64(&s),
            Err(e) => {
                tracing::warn!("{e}");
                return;
            }
        };
        let event_id = event
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        lock(&self.state).transmissions.insert(
            transmission_id.clone(),
            (signature.clone(), webhook_id.clone(), event_id),
        );
        super::queue(
            &self.shared,
            tx,
            Delivery {
                path: "/webhooks/paypal",
                content_type: "application/json",
                headers: vec![
                    (pp::TRANSMISSION_ID.into(), transmission_id),
                    (pp::TRANSMISSION_TIME.into(), time),
                    (pp::TRANSMISSION_SIG.into(), signature),
                    (pp::CERT_URL.into(), format!("{}{CERT_PATH}", self.base_url)),
                    (pp::AUTH_ALGO.into(), pp::SHA256_WITH_RSA.into()),
                ],
                body,
            },
        );
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        lock(&self.state).tokens.iter().any(|t| t == token)
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn capture_json(c: &Capture, base: &str) -> Value {
    json!({
        "id": c.id,
        "status": c.status,
        "amount": amount_json(c.amount),
        "custom_id": c.custom_id,
        "invoice_id": c.custom_id,
        "final_capture": true,
        "create_time": c.create_time,
        "update_time": now(),
        "links": [{ "rel": "self", "href": format!("{base}/v2/payments/captures/{}", c.id), "method": "GET" }],
    })
}

/// PayPal refuses refunds of captures older than this (180 days).
pub const REFUND_TIME_LIMIT_DAYS: i64 = 180;

/// A refund as PayPal shows it: its `custom_id` is the one its request sent
/// (`fallback`, the capture's, when it sent none).
fn refund_json(r: &SimRefund, fallback: &str, base: &str) -> Value {
    json!({
        "id": r.id,
        "status": "COMPLETED",
        "amount": amount_json(r.amount),
        "custom_id": r.custom_id.as_deref().unwrap_or(fallback),
        "create_time": now(),
        "update_time": now(),
        "links": [
            { "rel": "self", "href": format!("{base}/v2/payments/refunds/{}", r.id), "method": "GET" },
            { "rel": "up", "href": format!("{base}/v2/payments/captures/{}", r.capture_id), "method": "GET" },
        ],
    })
}

fn dispute_links(base: &str, id: &str, open: bool) -> Value {
    let mut links = vec![
        json!({ "rel": "self", "href": format!("{base}/v1/customer/disputes/{id}"), "method": "GET" }),
    ];
    if open {
        links.push(json!({ "rel": "provide_evidence", "href": format!("{base}/v1/customer/disputes/{id}/provide-evidence"), "method": "POST" }));
        links.push(json!({ "rel": "accept_claim", "href": format!("{base}/v1/customer/disputes/{id}/accept-claim"), "method": "POST" }));
    }
    Value::Array(links)
}

fn resolve(d: &mut Value, outcome: &str, base: &str) {
    let id = d
        .get("dispute_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    d["status"] = json!("RESOLVED");
    d["dispute_outcome"] = json!({ "outcome_code": outcome });
    d["update_time"] = json!(now());
    d["links"] = dispute_links(base, &id, false);
}

type S = State<Arc<Inner>>;

async fn cert(State(inner): S) -> Response {
    (
        [("content-type", "application/x-pem-file")],
        inner.cert_pem.clone(),
    )
        .into_response()
}

async fn token(State(inner): S, headers: HeaderMap, body: Bytes) -> Response {
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{PAYPAL_CLIENT_ID}:{PAYPAL_CLIENT_SECRET}"));
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        == Some(expected.as_str());
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client", "error_description": "Client Authentication failed" })),
        )
            .into_response();
    }
    if !String::from_utf8_lossy(&body).contains("grant_type=client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    let token = format!("A21AASIM{}", uuid::Uuid::new_v4().simple());
    {
        let mut s = lock(&inner.state);
        s.tokens.push(token.clone());
        s.tokens_issued += 1;
    }
    axum::Json(json!({
        "scope": "https://uri.paypal.com/services/disputes/read-seller https://uri.paypal.com/services/payments/refund",
        "access_token": token,
        "token_type": "Bearer",
        "app_id": "APP-SIMULATOR",
        "expires_in": 32400,
        "nonce": uuid::Uuid::new_v4().to_string(),
    }))
    .into_response()
}

fn unauthorized() -> Response {
    paypal_error(
        StatusCode::UNAUTHORIZED,
        "AUTHENTICATION_FAILURE",
        "INVALID_TOKEN",
    )
}

/// `POST /v1/notifications/verify-webhook-signature`: SUCCESS for a
/// transmission this simulator sent, unchanged (signature, webhook id, event id).
async fn verify_webhook_signature(State(inner): S, headers: HeaderMap, body: Bytes) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "MALFORMED_REQUEST_JSON",
        );
    };
    let field = |k: &str| request.get(k).and_then(Value::as_str).unwrap_or_default();
    for required in [
        "auth_algo",
        "cert_url",
        "transmission_id",
        "transmission_sig",
        "transmission_time",
        "webhook_id",
    ] {
        if field(required).is_empty() {
            return paypal_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "MISSING_REQUIRED_PARAMETER",
            );
        }
    }
    let Some(event_id) = request
        .get("webhook_event")
        .and_then(|e| e.get("id"))
        .and_then(Value::as_str)
    else {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "MISSING_REQUIRED_PARAMETER",
        );
    };
    let mut s = lock(&inner.state);
    s.verifications += 1;
    let genuine =
        s.transmissions
            .get(field("transmission_id"))
            .is_some_and(|(sig, webhook_id, id)| {
                sig == field("transmission_sig")
                    && webhook_id == field("webhook_id")
                    && id == event_id
            });
    axum::Json(json!({ "verification_status": if genuine { "SUCCESS" } else { "FAILURE" } }))
        .into_response()
}
