//! From one HTTP delivery to one inbox row: verify the signature, parse the
//! body, derive a stable event id, keep the useful headers.
//!
//! Order of checks: a missing signature header is refused first (401) without
//! reading the body; where the signature covers the raw bytes (PayPal offline,
//! Wise) it is checked before parsing, so unsigned junk is a 401, not a 400;
//! Twilio's covers the decoded form and PayPal's API wants the parsed event, so
//! those parse first (400 when malformed).
//!
//! Event ids, stable across redeliveries:
//! - PayPal: the event's `id` (`WH-...`).
//! - Wise: `transfer:<resource id>:<current_state>:<occurred_at>` for state
//!   changes (the payload has no event id; this triple is the event's identity
//!   whatever delivery carries it), else `X-Delivery-Id`, else `sha256:<hex of the body>`.
//! - Twilio: `<RoomSid>:<StatusCallbackEvent>:<SequenceNumber or Timestamp>`
//!   plus `:<ParticipantSid>`, `:<TrackSid>`, `:<RecordingSid>` when present.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Uri};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::PaypalVerify;
use crate::providers::paypal::{self as pp, TransmissionHeaders};
use crate::providers::{VerifyError, twilio as tw, wise as ws};
use crate::store::inbox::NewEvent;

use super::state::AppState;

/// A cached PayPal certificate that fails a signature is fetched again only
/// when it is at least this old.
const CERT_REFETCH_AFTER: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Why a delivery is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// 400: the body or a required field is not what the provider sends.
    Malformed(String),
    /// 401: bad or missing signature.
    Unauthorized(VerifyError),
    /// 503: we cannot verify right now (not configured, PayPal unreachable).
    Unavailable(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Header names never stored: credentials a proxy or client might add.
fn is_secret_header(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key"
    ) || name.contains("token")
        || name.contains("secret")
        || name.contains("password")
}

/// The request headers as a JSON object (lower-case names, repeated headers
/// joined with ", "), without credentials.
pub fn kept_headers(headers: &HeaderMap) -> Value {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str();
        if is_secret_header(name) {
            continue;
        }
        // Kept for forensics, clipped like everything else we write (issue 18).
        let value = crate::text::clip(&String::from_utf8_lossy(value.as_bytes())).into_owned();
        out.entry(name.to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    Value::Object(
        out.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

fn parse_time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let text = value?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn json_object(body: &[u8]) -> Result<Value, Reject> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Reject::Malformed(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Reject::Malformed("the body is not a JSON object".into()));
    }
    Ok(value)
}

// ------------------------------------------------------------------ PayPal

pub async fn paypal(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<NewEvent, Reject> {
    let s = &state.settings.paypal;
    let th = TransmissionHeaders::from_lookup(|name| header(headers, name));
    let t = th.require().map_err(Reject::Unauthorized)?;
    // Issue 18: a header PayPal could not have sent is a forgery (401, counted),
    // refused here before any certificate download or call to PayPal.
    crate::providers::paypal_headers::check_shape(
        &t,
        (state.clock)(),
        s.policy.replay_window,
        s.extra_cert_host.as_deref(),
    )
    .map_err(Reject::Unauthorized)?;
    if s.webhook_id.is_empty() {
        return Err(Reject::Unavailable(
            "[paypal] webhook_id is not configured: cannot verify PayPal webhooks".into(),
        ));
    }
    let event = match s.verify {
        PaypalVerify::Offline => {
            pp::cert_url_allowed(t.cert_url, s.extra_cert_host.as_deref())
                .map_err(Reject::Unauthorized)?;
            let now = (state.clock)();
            let (cert, cached) = match state.certs.get(t.cert_url) {
                Some(pem) => (pem, true),
                None => {
                    let pem = super::paypal::fetch_cert(&state.http, t.cert_url)
                        .await
                        .map_err(cert_fetch_reject)?;
                    (state.certs.put(t.cert_url, pem), false)
                }
            };
            let mut result = pp::verify_offline(body, &t, &s.webhook_id, &cert, now, &s.policy);
            // PayPal may have rotated the certificate behind the same URL: fetch it
            // again, but at most every few minutes, so bad signatures cannot make
            // us hammer PayPal with one download each.
            let stale = state
                .certs
                .age(t.cert_url)
                .is_some_and(|age| age > CERT_REFETCH_AFTER);
            if result == Err(VerifyError::Mismatch) && cached && stale {
                state.certs.forget(t.cert_url);
                let pem = super::paypal::fetch_cert(&state.http, t.cert_url)
                    .await
                    .map_err(cert_fetch_reject)?;
                let cert = state.certs.put(t.cert_url, pem);
                result = pp::verify_offline(body, &t, &s.webhook_id, &cert, now, &s.policy);
            }
            result.map_err(Reject::Unauthorized)?;
            json_object(body)?
        }
        PaypalVerify::Api => {
            let event = json_object(body)?;
            let genuine =
                super::paypal::verify_via_api(&state.http, &state.paypal_tokens, s, &t, &event)
                    .await
                    .map_err(|e| match e {
                        super::paypal::VerifyApiError::Refused(why) => {
                            Reject::Unauthorized(VerifyError::RefusedByPaypal(why))
                        }
                        super::paypal::VerifyApiError::Unavailable(why) => Reject::Unavailable(why),
                    })?;
            if !genuine {
                return Err(Reject::Unauthorized(VerifyError::Mismatch));
            }
            event
        }
    };
    vet(state, paypal_event(event, headers)?)
}

/// Field limits and the future-date clamp ([`super::limits::vet`], issue 18):
/// a field over its documented length is 400 naming it.
fn vet(state: &AppState, event: NewEvent) -> Result<NewEvent, Reject> {
    super::limits::vet(event, (state.clock)(), &state.metrics).map_err(Reject::Malformed)
}

fn cert_fetch_reject(e: super::paypal::FetchError) -> Reject {
    match e {
        super::paypal::FetchError::Refused(why) => {
            Reject::Unauthorized(VerifyError::Certificate(why))
        }
        super::paypal::FetchError::Unavailable(why) => Reject::Unavailable(why),
    }
}

fn paypal_event(event: Value, headers: &HeaderMap) -> Result<NewEvent, Reject> {
    let id = event
        .get("id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Reject::Malformed("the event has no \"id\"".into()))?
        .to_string();
    let event_type = event
        .get("event_type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    Ok(NewEvent {
        provider: "paypal",
        event_id: id,
        event_type,
        occurred_at: parse_time(event.get("create_time")),
        headers: kept_headers(headers),
        payload: event,
    })
}

// ------------------------------------------------------------------ Wise

pub fn wise(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<NewEvent, Reject> {
    let signature = header(headers, ws::SIGNATURE_HEADER);
    ws::verify(body, signature, &state.settings.wise_key).map_err(Reject::Unauthorized)?;
    let event = json_object(body)?;
    let event_type = event
        .get("event_type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let data = event.get("data");
    let occurred_at = parse_time(data.and_then(|d| d.get("occurred_at")))
        .or_else(|| parse_time(event.get("sent_at")));
    let event_id = wise_event_id(&event, header(headers, ws::DELIVERY_ID_HEADER), body);
    let event = NewEvent {
        provider: "wise",
        event_id,
        event_type,
        occurred_at,
        headers: kept_headers(headers),
        payload: event,
    };
    vet(state, event)
}

/// See the module doc: the state-change triple, else the delivery id, else the body hash.
pub fn wise_event_id(event: &Value, delivery_id: Option<&str>, body: &[u8]) -> String {
    let data = event.get("data");
    let resource = data.and_then(|d| d.get("resource"));
    let scalar = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let kind = scalar(resource.and_then(|r| r.get("type"))).unwrap_or_else(|| "resource".into());
    let id = scalar(resource.and_then(|r| r.get("id")));
    let state = scalar(data.and_then(|d| d.get("current_state")));
    let at = scalar(data.and_then(|d| d.get("occurred_at")));
    if let (Some(id), Some(state), Some(at)) = (id, state, at) {
        return format!("{kind}:{id}:{state}:{at}");
    }
    if let Some(delivery) = delivery_id.map(str::trim).filter(|d| !d.is_empty()) {
        return format!("delivery:{delivery}");
    }
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

// ------------------------------------------------------------------ Twilio

pub fn twilio(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<NewEvent, Reject> {
    let token = &state.settings.twilio_auth_token;
    let signature = header(headers, tw::SIGNATURE_HEADER);
    if signature.is_none() {
        return Err(Reject::Unauthorized(VerifyError::MissingHeader(
            tw::SIGNATURE_HEADER,
        )));
    }
    if token.is_empty() {
        return Err(Reject::Unavailable(
            "[twilio] auth_token is not configured: cannot verify Twilio webhooks".into(),
        ));
    }
    let url = match uri.query() {
        Some(q) => format!("{}{}?{q}", state.settings.public_base_url, uri.path()),
        None => format!("{}{}", state.settings.public_base_url, uri.path()),
    };
    let is_json = header(headers, "content-type").is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    let fields: Map<String, Value> = if is_json {
        tw::verify_json_body(token.expose(), &url, body, signature)
            .map_err(Reject::Unauthorized)?;
        match json_object(body)? {
            Value::Object(map) => map,
            _ => return Err(Reject::Malformed("the body is not a JSON object".into())),
        }
    } else {
        let text = std::str::from_utf8(body)
            .map_err(|_| Reject::Malformed("the form body is not UTF-8".into()))?;
        let params = parse_form(text)?;
        tw::verify(token.expose(), &url, &params, signature).map_err(Reject::Unauthorized)?;
        form_object(&params)
    };
    let field = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let room = field("RoomSid").ok_or_else(|| Reject::Malformed("no RoomSid".into()))?;
    let event_type = field("StatusCallbackEvent")
        .ok_or_else(|| Reject::Malformed("no StatusCallbackEvent".into()))?;
    let order = field("SequenceNumber")
        .or_else(|| field("Timestamp"))
        .ok_or_else(|| Reject::Malformed("neither SequenceNumber nor Timestamp".into()))?;
    let mut event_id = format!("{room}:{event_type}:{order}");
    for extra in ["ParticipantSid", "TrackSid", "RecordingSid"] {
        if let Some(sid) = field(extra) {
            event_id.push(':');
            event_id.push_str(&sid);
        }
    }
    let occurred_at = fields.get("Timestamp").and_then(|v| parse_time(Some(v)));
    let event = NewEvent {
        provider: "twilio",
        event_id,
        event_type,
        occurred_at,
        headers: kept_headers(headers),
        payload: Value::Object(fields),
    };
    vet(state, event)
}

/// `a=1&b=2` into pairs. Refuses what no form encoder produces: a pair without
/// `=` or with an empty name, or a percent escape that is not two hex digits.
pub fn parse_form(text: &str) -> Result<Vec<(String, String)>, Reject> {
    let text = text.trim_end_matches(['\r', '\n']);
    for piece in text.split('&').filter(|p| !p.is_empty()) {
        let (name, _) = piece
            .split_once('=')
            .ok_or_else(|| Reject::Malformed(format!("form field without '=': {}", clip(piece))))?;
        if name.is_empty() {
            return Err(Reject::Malformed("form field with an empty name".into()));
        }
        let bytes = piece.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'%'
                && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return Err(Reject::Malformed(format!(
                    "bad percent escape in {}",
                    clip(piece)
                )));
            }
        }
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        return Err(Reject::Malformed("the form is empty".into()));
    }
    Ok(pairs)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Form pairs as a JSON object: one value is a string, repeated names an array.
pub fn form_object(params: &[(String, String)]) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in params {
        match map.get_mut(k) {
            None => {
                map.insert(k.clone(), Value::String(v.clone()));
            }
            Some(Value::Array(items)) => items.push(Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.clone())]);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wise_ids_prefer_the_state_change_identity() {
        let body = br#"{"data":{"resource":{"id":49983981,"type":"transfer"},"current_state":"processing","occurred_at":"2021-08-23T10:12:50Z"}}"#;
        let event: Value = serde_json::from_slice(body).unwrap_or_default();
        assert_eq!(
            wise_event_id(&event, Some("d-1"), body),
            "transfer:49983981:processing:2021-08-23T10:12:50Z"
        );
        let other = json!({"event_type": "balances#credit", "data": {"amount": 5}});
        assert_eq!(wise_event_id(&other, Some(" d-1 "), b"x"), "delivery:d-1");
        assert_eq!(
            wise_event_id(&other, None, b"x"),
            "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
    }

    #[test]
    fn forms_parse_strictly_and_become_objects() {
        let pairs = parse_form("RoomSid=RM1&Digits=1&Digits=2&Note=a+b%21").unwrap_or_default();
        assert_eq!(pairs.len(), 4);
        let obj = form_object(&pairs);
        assert_eq!(
            Value::Object(obj),
            json!({"RoomSid": "RM1", "Digits": ["1", "2"], "Note": "a b!"})
        );
        assert!(parse_form("RoomSid").is_err());
        assert!(parse_form("=x").is_err());
        assert!(parse_form("a=%zz").is_err());
        assert!(parse_form("").is_err());
    }

    #[test]
    fn credentials_are_not_kept() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "Basic abc".parse().unwrap_or_else(|_| unreachable!()),
        );
        h.insert(
            "x-auth-token",
            "t".parse().unwrap_or_else(|_| unreachable!()),
        );
        h.insert(
            "x-twilio-signature",
            "sig".parse().unwrap_or_else(|_| unreachable!()),
        );
        h.append("accept", "a".parse().unwrap_or_else(|_| unreachable!()));
        h.append("accept", "b".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(
            kept_headers(&h),
            json!({"x-twilio-signature": "sig", "accept": "a, b"})
        );
    }
}
