//! The simulator's capture and refund endpoints: get a capture, refund it
//! (deduplicated by `PayPal-Request-Id`, refusing more than is left, the
//! refund's webhook sent), get a refund.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use crate::domain::money::Money;
use crate::providers::api::paypal::parse_amount;
use crate::simulators::{lock, paypal_error};

use super::*;

pub(super) async fn get_capture(
    State(inner): S,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    let s = lock(&inner.state);
    match s.captures.get(&id) {
        Some(c) => axum::Json(capture_json(c, &inner.base_url)).into_response(),
        None => paypal_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "INVALID_RESOURCE_ID",
        ),
    }
}

pub(super) async fn refund(
    State(inner): S,
    headers: HeaderMap,
    Path(capture_id): Path<String>,
    body: Bytes,
) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    let request_id = headers
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return paypal_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "MALFORMED_REQUEST_JSON",
                );
            }
        }
    };
    let (answer, resource) = {
        let mut s = lock(&inner.state);
        if let Some(key) = &request_id
            && let Some(&i) = s.refund_by_request.get(key)
        {
            s.refunds[i].requests += 1;
            let r = s.refunds[i].clone();
            let custom = s
                .captures
                .get(&r.capture_id)
                .map(|c| c.custom_id.clone())
                .unwrap_or_default();
            return (
                StatusCode::OK,
                axum::Json(refund_json(&r, &custom, &inner.base_url)),
            )
                .into_response();
        }
        let Some(capture) = s.captures.get(&capture_id).cloned() else {
            return paypal_error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "INVALID_RESOURCE_ID",
            );
        };
        if let Some(issue) = s.refuse_next_refund.take() {
            return paypal_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                &issue,
            );
        }
        let too_old = chrono::DateTime::parse_from_rfc3339(&capture.create_time).is_ok_and(|at| {
            Utc::now() - at.with_timezone(&Utc) > chrono::Duration::days(REFUND_TIME_LIMIT_DAYS)
        });
        if too_old {
            return paypal_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "REFUND_TIME_LIMIT_EXCEEDED",
            );
        }
        let remaining = capture.amount.minor - capture.refunded_minor;
        if remaining <= 0 {
            return paypal_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "CAPTURE_FULLY_REFUNDED",
            );
        }
        let amount = match body.get("amount") {
            None => Money::new(remaining, capture.amount.currency),
            Some(a) => match parse_amount(a) {
                Some(m) if m.currency == capture.amount.currency && m.minor > 0 => m,
                _ => {
                    return paypal_error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "UNPROCESSABLE_ENTITY",
                        "INVALID_CURRENCY_CODE",
                    );
                }
            },
        };
        if amount.minor > remaining {
            return paypal_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "REFUND_AMOUNT_EXCEEDED",
            );
        }
        s.seq += 1;
        let refund = SimRefund {
            id: format!("SIMREF{:010}", s.seq),
            capture_id: capture_id.clone(),
            request_id: request_id.clone(),
            amount,
            requests: 1,
            custom_id: body
                .get("custom_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        if let Some(c) = s.captures.get_mut(&capture_id) {
            c.refunded_minor += amount.minor;
            c.status = if c.refunded_minor >= c.amount.minor {
                "REFUNDED".into()
            } else {
                "PARTIALLY_REFUNDED".into()
            };
        }
        let answer = refund_json(&refund, &capture.custom_id, &inner.base_url);
        if let Some(key) = request_id {
            let index = s.refunds.len();
            s.refund_by_request.insert(key, index);
        }
        s.refunds.push(refund);
        (answer.clone(), answer)
    };
    inner.emit("PAYMENT.CAPTURE.REFUNDED", "refund", resource);
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

pub(super) async fn get_refund(
    State(inner): S,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !inner.authorized(&headers) {
        return unauthorized();
    }
    let s = lock(&inner.state);
    match s.refunds.iter().find(|r| r.id == id) {
        Some(r) => {
            let custom = s
                .captures
                .get(&r.capture_id)
                .map(|c| c.custom_id.clone())
                .unwrap_or_default();
            axum::Json(refund_json(r, &custom, &inner.base_url)).into_response()
        }
        None => paypal_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "INVALID_RESOURCE_ID",
        ),
    }
}
