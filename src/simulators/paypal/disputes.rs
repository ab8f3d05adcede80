//! The simulator's dispute endpoints: list, get, provide-evidence (multipart,
//! deduplicated by `PayPal-Request-Id`) and accept-claim (which refunds the
//! disputed capture, as PayPal does), each with its webhooks.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::money::Money;
use crate::providers::api::paypal::{multipart_parts, parse_amount};
use crate::simulators::{lock, paypal_error};

use super::*;

pub(super) async fn list_disputes(
    State(inner): S,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    let page_size = query
        .get("page_size")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 50);
    let s = lock(&inner.state);
    let items: Vec<Value> = s
        .disputes
        .values()
        .take(page_size)
        .map(|d| {
            json!({
                "dispute_id": d["dispute_id"],
                "create_time": d["create_time"],
                "update_time": d["update_time"],
                "reason": d["reason"],
                "status": d["status"],
                "dispute_amount": d["dispute_amount"],
                "links": [{ "rel": "self", "href": format!("{}/v1/customer/disputes/{}", inner.base_url, d["dispute_id"].as_str().unwrap_or_default()) }],
            })
        })
        .collect();
    axum::Json(json!({ "items": items, "links": [] })).into_response()
}

pub(super) async fn get_dispute(
    State(inner): S,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    match lock(&inner.state).disputes.get(&id) {
        Some(d) => axum::Json(d.clone()).into_response(),
        None => paypal_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "INVALID_RESOURCE_ID",
        ),
    }
}

pub(super) async fn provide_evidence(
    State(inner): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    let request_id = headers
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(parts) = multipart_parts(content_type, &body) else {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "INVALID_MULTIPART",
        );
    };
    let Some(input) = parts
        .iter()
        .find(|(name, _)| name == "input")
        .and_then(|(_, bytes)| serde_json::from_slice::<Value>(bytes).ok())
    else {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "MISSING_INPUT_PART",
        );
    };
    let Some(evidences) = input.get("evidences").and_then(Value::as_array).cloned() else {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "MISSING_EVIDENCES",
        );
    };
    let (answer, updated) = {
        let mut s = lock(&inner.state);
        if let Some(key) = &request_id
            && let Some(previous) = s.actions.get(key)
        {
            return axum::Json(previous.clone()).into_response();
        }
        let Some(d) = s.disputes.get_mut(&id) else {
            return paypal_error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "INVALID_RESOURCE_ID",
            );
        };
        if d.get("status").and_then(Value::as_str) != Some("WAITING_FOR_SELLER_RESPONSE") {
            return paypal_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "ACTION_NOT_ALLOWED_IN_CURRENT_STATE",
            );
        }
        if let Some(list) = d.get_mut("evidences").and_then(Value::as_array_mut) {
            for mut e in evidences {
                e["source"] = json!("SUBMITTED_BY_SELLER");
                list.push(e);
            }
        }
        d["status"] = json!("UNDER_REVIEW");
        d["update_time"] = json!(now());
        d["links"] = dispute_links(&inner.base_url, &id, false);
        let updated = d.clone();
        let answer = json!({ "links": [{ "rel": "self", "href": format!("{}/v1/customer/disputes/{id}", inner.base_url) }] });
        s.evidence_submissions += 1;
        let files: Vec<Vec<u8>> = parts
            .iter()
            .filter(|(name, _)| name == "evidence-file")
            .map(|(_, bytes)| bytes.to_vec())
            .collect();
        for f in files {
            s.evidence_files.push((id.clone(), f));
        }
        if let Some(key) = request_id {
            s.actions.insert(key, answer.clone());
        }
        (answer, updated)
    };
    inner.emit("CUSTOMER.DISPUTE.UPDATED", "dispute", updated);
    axum::Json(answer).into_response()
}

pub(super) async fn accept_claim(
    State(inner): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    let request_id = headers
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !body.is_empty() && serde_json::from_slice::<Value>(&body).is_err() {
        return paypal_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "MALFORMED_REQUEST_JSON",
        );
    }
    let (answer, (updated, refund)) = {
        let mut s = lock(&inner.state);
        if let Some(key) = &request_id
            && let Some(previous) = s.actions.get(key)
        {
            return axum::Json(previous.clone()).into_response();
        }
        let Some(d) = s.disputes.get_mut(&id) else {
            return paypal_error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "INVALID_RESOURCE_ID",
            );
        };
        if d.get("status").and_then(Value::as_str) == Some("RESOLVED") {
            return paypal_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "ACTION_NOT_ALLOWED_IN_CURRENT_STATE",
            );
        }
        if let Some(issue) = s.refuse_next_accept.take() {
            return paypal_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                &issue,
            );
        }
        let Some(d) = s.disputes.get_mut(&id) else {
            return paypal_error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "INVALID_RESOURCE_ID",
            );
        };
        resolve(d, "ACCEPTED", &inner.base_url);
        let updated = d.clone();
        let answer = json!({ "links": [{ "rel": "self", "href": format!("{}/v1/customer/disputes/{id}", inner.base_url) }] });
        s.claims_accepted += 1;
        if let Some(key) = request_id {
            s.actions.insert(key, answer.clone());
        }
        let refund = claim_refund(&mut s, &updated, &inner.base_url);
        (answer, (updated, refund))
    };
    // PayPal refunds the buyer itself and says so, like any refund.
    if let Some(refund) = refund {
        inner.emit("PAYMENT.CAPTURE.REFUNDED", "refund", refund);
    }
    inner.emit("CUSTOMER.DISPUTE.RESOLVED", "dispute", updated);
    axum::Json(answer).into_response()
}

/// The refund an accepted claim (`accept_claim_type` REFUND) makes on the
/// disputed capture: the disputed amount, at most what is left of it, and no
/// request of the seller's behind it (no idempotency key, no custom_id).
pub(super) fn claim_refund(s: &mut State_, dispute: &Value, base: &str) -> Option<Value> {
    let capture_id = dispute
        .pointer("/disputed_transactions/0/seller_transaction_id")?
        .as_str()?
        .to_string();
    let asked = parse_amount(dispute.get("dispute_amount")?)?;
    let capture = s.captures.get_mut(&capture_id)?;
    let minor = asked
        .minor
        .min(capture.amount.minor - capture.refunded_minor);
    if minor <= 0 {
        return None;
    }
    capture.refunded_minor += minor;
    capture.status = if capture.refunded_minor >= capture.amount.minor {
        "REFUNDED".into()
    } else {
        "PARTIALLY_REFUNDED".into()
    };
    let currency = capture.amount.currency;
    s.seq += 1;
    let refund = SimRefund {
        id: format!("SIMREF{:010}", s.seq),
        capture_id,
        request_id: None,
        amount: Money::new(minor, currency),
        requests: 1,
        custom_id: None,
    };
    let mut resource = refund_json(&refund, "", base);
    if let Some(r) = resource.as_object_mut() {
        r.remove("custom_id");
    }
    s.refunds.push(refund);
    Some(resource)
}
