//! Wise simulator: quotes, recipients, transfers deduplicated by
//! `customerTransactionId`, balance funding (one funding per transfer; a
//! `REJECTED` answer when the balance is set insufficient), transfer status,
//! and `transfers#state-change` webhooks signed with a simulator RSA key
//! (`X-Signature-SHA256`), in the shape [`crate::worker::apply`] reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{
    CommonStats, Delivery, Fault, Knobs, Server, Shared, SimConfig, SimKey, WISE_API_TOKEN,
    WISE_PROFILE_ID, b64, lock,
};
use crate::providers::wise as ws;

/// One transfer the simulator created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTransfer {
    pub id: i64,
    pub customer_transaction_id: String,
    pub target_account: i64,
    pub quote_uuid: String,
    pub status: String,
    /// Creation requests answered with this transfer (1 + replays).
    pub requests: u32,
    /// Times money left the balance for it (exactly-once: at most 1).
    pub fundings: u32,
    pub target_value: String,
    pub target_currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WiseStats {
    pub common: CommonStats,
    pub quotes: usize,
    pub transfers: usize,
    pub fundings: u32,
}

#[derive(Debug, Default)]
struct State_ {
    quotes: HashMap<String, Value>,
    transfers: Vec<SimTransfer>,
    by_ctid: HashMap<String, usize>,
    recipients: HashMap<i64, Value>,
    balance_insufficient: bool,
    seq: i64,
    /// Transfer ids count up from here: the start time in milliseconds, so a
    /// restarted simulator (the demo, run again on its database) never hands
    /// out an id an earlier run (or the seed's 50,000,001...) already used,
    /// as Wise's ids are unique.
    transfer_base: i64,
}

struct Inner {
    shared: Arc<Shared>,
    state: Mutex<State_>,
    key: SimKey,
    webhooks: Option<tokio::sync::mpsc::UnboundedSender<Delivery>>,
}

#[derive(Clone)]
pub struct WiseSim {
    inner: Arc<Inner>,
    server: Arc<Server>,
}

impl std::fmt::Debug for WiseSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WiseSim")
            .field("base_url", &self.server.base_url)
            .finish_non_exhaustive()
    }
}

impl WiseSim {
    pub async fn start(config: SimConfig) -> Result<Self, String> {
        let key = SimKey::generate()?;
        let (listener, base_url) = Server::bind().await?;
        let (shared, tx, deliverer) = super::start_shared(&config);
        let inner = Arc::new(Inner {
            shared: shared.clone(),
            state: Mutex::new(State_ {
                transfer_base: Utc::now().timestamp_millis().max(100_000_000),
                ..State_::default()
            }),
            key,
            webhooks: tx,
        });
        let router = Router::new()
            .route("/v3/profiles/{profile}/quotes", post(quote))
            .route("/v1/accounts", post(create_recipient))
            .route("/v2/accounts/{id}", get(get_recipient))
            .route("/v1/transfers", post(create_transfer))
            .route("/v1/transfers/{id}", get(get_transfer))
            .route("/v3/profiles/{profile}/transfers/{id}/payments", post(fund))
            .layer(axum::middleware::from_fn_with_state(shared, super::faults))
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

    /// The webhook public key, for `[wise] webhook_public_key`.
    pub fn public_key_pem(&self) -> String {
        self.inner.key.public_key_pem()
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        *lock(&self.inner.shared.knobs) = knobs;
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.inner.shared.faults).extend(faults);
    }

    /// While set, fundings answer `200 {"status":"REJECTED"}`.
    pub fn set_balance_insufficient(&self, insufficient: bool) {
        lock(&self.inner.state).balance_insufficient = insufficient;
    }

    /// Registers a recipient account and returns its id.
    pub fn add_recipient(&self, currency: &str, holder: &str) -> i64 {
        let mut s = lock(&self.inner.state);
        s.seq += 1;
        let id = 140_000_000 + s.seq;
        s.recipients
            .insert(id, recipient_json(id, currency, holder));
        id
    }

    pub fn stats(&self) -> WiseStats {
        let s = lock(&self.inner.state);
        WiseStats {
            common: lock(&self.inner.shared.stats).clone(),
            quotes: s.quotes.len(),
            transfers: s.transfers.len(),
            fundings: s.transfers.iter().map(|t| t.fundings).sum(),
        }
    }

    pub fn transfers(&self) -> Vec<SimTransfer> {
        lock(&self.inner.state).transfers.clone()
    }

    /// Transfers created under one `customerTransactionId` (at most one).
    pub fn transfers_for(&self, customer_transaction_id: &str) -> Vec<SimTransfer> {
        lock(&self.inner.state)
            .transfers
            .iter()
            .filter(|t| {
                t.customer_transaction_id
                    .eq_ignore_ascii_case(customer_transaction_id)
            })
            .cloned()
            .collect()
    }

    /// Moves a transfer to `status` (e.g. `bounced_back`) and emits the webhook.
    pub fn set_transfer_status(&self, transfer_id: i64, status: &str) -> bool {
        let previous = {
            let mut s = lock(&self.inner.state);
            let Some(t) = s.transfers.iter_mut().find(|t| t.id == transfer_id) else {
                return false;
            };
            std::mem::replace(&mut t.status, status.to_string())
        };
        self.inner
            .emit_state(transfer_id, Some(&previous), status, Utc::now());
        true
    }

    pub async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}

impl Inner {
    fn emit_state(
        &self,
        transfer_id: i64,
        previous: Option<&str>,
        current: &str,
        at: chrono::DateTime<Utc>,
    ) {
        let Some(tx) = &self.webhooks else {
            return;
        };
        let account = lock(&self.state)
            .transfers
            .iter()
            .find(|t| t.id == transfer_id)
            .map(|t| t.target_account)
            .unwrap_or_default();
        let occurred = at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let event = json!({
            "data": {
                "resource": {
                    "type": "transfer",
                    "id": transfer_id,
                    "profile_id": WISE_PROFILE_ID.parse::<i64>().unwrap_or_default(),
                    "account_id": account,
                },
                "current_state": current,
                "previous_state": previous,
                "occurred_at": occurred,
            },
            "subscription_id": "00000000-0000-4000-8000-5151a7e50000",
            "event_type": "transfers#state-change",
            "schema_version": "2.0.0",
            "sent_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        let body = event.to_string().into_bytes();
        let signature = match self.key.sign(&body) {
            Ok(s) => b64(&s),
            Err(e) => {
                tracing::warn!("{e}");
                return;
            }
        };
        super::queue(
            &self.shared,
            tx,
            Delivery {
                path: "/webhooks/wise",
                content_type: "application/json",
                headers: vec![
                    (ws::SIGNATURE_HEADER.into(), signature),
                    (
                        ws::DELIVERY_ID_HEADER.into(),
                        uuid::Uuid::new_v4().to_string(),
                    ),
                ],
                body,
            },
        );
    }
}

fn recipient_json(id: i64, currency: &str, holder: &str) -> Value {
    json!({
        "id": id,
        "profile": WISE_PROFILE_ID.parse::<i64>().unwrap_or_default(),
        "accountHolderName": holder,
        "currency": currency,
        "type": "iban",
        "active": true,
        "ownedByCustomer": false,
    })
}

fn transfer_json(t: &SimTransfer) -> Value {
    json!({
        "id": t.id,
        "user": 1,
        "targetAccount": t.target_account,
        "sourceAccount": null,
        "quoteUuid": t.quote_uuid,
        "status": t.status,
        "rate": 1,
        "created": Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        "business": WISE_PROFILE_ID.parse::<i64>().unwrap_or_default(),
        "details": { "reference": "" },
        "hasActiveIssues": false,
        "sourceCurrency": t.target_currency,
        "sourceValue": t.target_value.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::Null),
        "targetCurrency": t.target_currency,
        "targetValue": t.target_value.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::Null),
        "customerTransactionId": t.customer_transaction_id,
    })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errors": [{ "code": code, "message": message }] })),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(WISE_API_TOKEN)
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid token")
}

type S = State<Arc<Inner>>;

async fn quote(
    State(inner): S,
    headers: HeaderMap,
    Path(profile): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if profile != WISE_PROFILE_ID {
        return error(StatusCode::FORBIDDEN, "forbidden", "Not your profile");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid.json", "Malformed JSON");
    };
    let target = body
        .get("targetAmount")
        .or_else(|| body.get("sourceAmount"));
    let (Some(source), Some(target_ccy), Some(amount)) = (
        body.get("sourceCurrency").and_then(Value::as_str),
        body.get("targetCurrency").and_then(Value::as_str),
        target.filter(|v| v.is_number()),
    ) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "quote.invalid",
            "currencies and an amount are required",
        );
    };
    let id = uuid::Uuid::new_v4().to_string();
    let quote = json!({
        "id": id,
        "sourceCurrency": source,
        "targetCurrency": target_ccy,
        "sourceAmount": amount,
        "targetAmount": amount,
        "rate": 1,
        "rateType": "FIXED",
        "payOut": "BANK_TRANSFER",
        "createdTime": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "profile": WISE_PROFILE_ID.parse::<i64>().unwrap_or_default(),
        "paymentOptions": [{ "payIn": "BALANCE", "payOut": "BANK_TRANSFER", "fee": { "total": 0 } }],
        "status": "PENDING",
    });
    lock(&inner.state).quotes.insert(id, quote.clone());
    axum::Json(quote).into_response()
}

async fn create_recipient(
    State(inner): S,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid.json", "Malformed JSON");
    };
    let currency = body
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or("USD");
    let holder = body
        .get("accountHolderName")
        .and_then(Value::as_str)
        .unwrap_or("Simulated Holder");
    let mut s = lock(&inner.state);
    s.seq += 1;
    let id = 140_000_000 + s.seq;
    let r = recipient_json(id, currency, holder);
    s.recipients.insert(id, r.clone());
    axum::Json(r).into_response()
}

async fn get_recipient(State(inner): S, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    match lock(&inner.state).recipients.get(&id) {
        Some(r) => axum::Json(r.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not.found", "No such account"),
    }
}

async fn create_transfer(State(inner): S, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid.json", "Malformed JSON");
    };
    let (Some(target), Some(quote_uuid), Some(ctid)) = (
        body.get("targetAccount").and_then(Value::as_i64),
        body.get("quoteUuid").and_then(Value::as_str),
        body.get("customerTransactionId").and_then(Value::as_str),
    ) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "transfer.invalid",
            "targetAccount, quoteUuid and customerTransactionId are required",
        );
    };
    if uuid::Uuid::parse_str(ctid).is_err() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "customerTransactionId.invalid",
            "not a UUID",
        );
    }
    let created = {
        let mut s = lock(&inner.state);
        let key = ctid.to_ascii_lowercase();
        if let Some(&i) = s.by_ctid.get(&key) {
            s.transfers[i].requests += 1;
            return axum::Json(transfer_json(&s.transfers[i])).into_response();
        }
        let Some(quote) = s.quotes.get(quote_uuid).cloned() else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "quote.not.found",
                "Unknown quote",
            );
        };
        // Creators seeded outside the simulator: accept their account ids.
        s.recipients
            .entry(target)
            .or_insert_with(|| recipient_json(target, "USD", "Seeded Recipient"));
        s.seq += 1;
        let transfer = SimTransfer {
            id: s.transfer_base + s.seq,
            customer_transaction_id: key.clone(),
            target_account: target,
            quote_uuid: quote_uuid.to_string(),
            status: "incoming_payment_waiting".into(),
            requests: 1,
            fundings: 0,
            target_value: quote
                .get("targetAmount")
                .map(Value::to_string)
                .unwrap_or_default(),
            target_currency: quote
                .get("targetCurrency")
                .and_then(Value::as_str)
                .unwrap_or("USD")
                .to_string(),
        };
        let index = s.transfers.len();
        s.by_ctid.insert(key, index);
        s.transfers.push(transfer.clone());
        transfer
    };
    inner.emit_state(created.id, None, &created.status, Utc::now());
    axum::Json(transfer_json(&created)).into_response()
}

async fn get_transfer(State(inner): S, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let s = lock(&inner.state);
    match s.transfers.iter().find(|t| t.id == id) {
        Some(t) => axum::Json(transfer_json(t)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "transfer.not.found",
            "No such transfer",
        ),
    }
}

async fn fund(
    State(inner): S,
    headers: HeaderMap,
    Path((profile, id)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if profile != WISE_PROFILE_ID {
        return error(StatusCode::FORBIDDEN, "forbidden", "Not your profile");
    }
    let balance = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b.get("type").and_then(Value::as_str).map(str::to_string));
    if balance.as_deref() != Some("BALANCE") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "type.invalid",
            "type must be BALANCE",
        );
    }
    let steps = {
        let mut s = lock(&inner.state);
        let insufficient = s.balance_insufficient;
        let Some(t) = s.transfers.iter_mut().find(|t| t.id == id) else {
            return error(
                StatusCode::NOT_FOUND,
                "transfer.not.found",
                "No such transfer",
            );
        };
        if t.status != "incoming_payment_waiting" {
            return axum::Json(json!({ "type": "BALANCE", "status": "REJECTED", "errorCode": "transfer.already.funded", "balanceTransactionId": null })).into_response();
        }
        if insufficient {
            return axum::Json(json!({ "type": "BALANCE", "status": "REJECTED", "errorCode": "balance.insufficient", "balanceTransactionId": null })).into_response();
        }
        t.fundings += 1;
        t.status = "outgoing_payment_sent".into();
        ["processing", "funds_converted", "outgoing_payment_sent"]
    };
    // The state changes, each a little later than the previous one.
    let start = Utc::now();
    let mut previous = "incoming_payment_waiting";
    for (i, step) in steps.iter().enumerate() {
        let at = start + chrono::Duration::milliseconds(10 * (i as i64 + 1));
        inner.emit_state(id, Some(previous), step, at);
        previous = step;
    }
    axum::Json(json!({ "type": "BALANCE", "status": "COMPLETED", "errorCode": null, "balanceTransactionId": 900_000 + id }))
        .into_response()
}
