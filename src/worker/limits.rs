//! Limits on what a sender may put in a delivery (issue 18), applied by the
//! receiver after the signature is verified and before the event is stored:
//!
//! - **field lengths** from the providers' documented formats (ids, names,
//!   URLs, amounts): a longer value is a 400 naming the field, so a signed but
//!   absurd value (a 600 KB Twilio `RoomName`) is never stored, retried or
//!   logged. Fields not named here get a generous default per provider.
//! - **time**: an event dated more than [`MAX_FUTURE_SKEW`] after its receipt
//!   does not get to be "newest": its ordering time is the receipt time
//!   ([`ordering_time`]). The receiver logs and counts the skew
//!   (`lsn_ops_webhooks_future_dated_total`); the applier orders by
//!   [`ordering_time`] of the event time and the row's `received_at`, so one
//!   event cannot freeze an entity.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::metrics::{FUTURE_DATED, Metrics};
use crate::store::inbox::NewEvent;

/// How far past its receipt an event's own time may be and still count.
pub const MAX_FUTURE_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// The time an event is ordered by: its own time, unless that is more than
/// [`MAX_FUTURE_SKEW`] after `received`, then `received`.
pub fn ordering_time(claimed: DateTime<Utc>, received: DateTime<Utc>) -> DateTime<Utc> {
    if claimed > received + MAX_FUTURE_SKEW {
        received
    } else {
        claimed
    }
}

/// The receiver's last step before storing a verified event: the field
/// limits ([`check_fields`]; `Err` is a 400 naming the field), then the
/// future-date clamp: an `occurred_at` more than [`MAX_FUTURE_SKEW`] after
/// `received` becomes `received`, logged and counted in
/// `lsn_ops_webhooks_future_dated_total{provider}`.
pub fn vet(
    mut event: NewEvent,
    received: DateTime<Utc>,
    metrics: &Metrics,
) -> Result<NewEvent, String> {
    check_fields(event.provider, &event.event_id, &event.payload)?;
    if let Some(claimed) = event.occurred_at {
        let ordered = ordering_time(claimed, received);
        if ordered != claimed {
            let skew = (claimed - received).num_seconds();
            tracing::warn!(
                provider = event.provider,
                event_id = %crate::text::clip(&event.event_id),
                claimed = %claimed.to_rfc3339(),
                skew_s = skew,
                "future-dated event: ordered at its receipt time"
            );
            metrics.inc(FUTURE_DATED, &[("provider", event.provider)]);
            event.occurred_at = Some(ordered);
        }
    }
    Ok(event)
}

/// Longest event id stored (ours or the provider's).
pub const MAX_EVENT_ID: usize = 255;

/// (dotted path, most characters). `[]` in a path matches any array element.
type Limit = (&'static str, usize);

/// PayPal: ids and times are short; `custom_id`/`invoice_id` ≤ 127 and an
/// amount's `value` ≤ 32 and `currency_code` 3 (Orders/Payments v2); dispute
/// `notes`/messages ≤ 2000.
const PAYPAL: &[Limit] = &[
    ("id", 64),
    ("event_type", 64),
    ("create_time", 64),
    ("resource.id", 64),
    ("resource.dispute_id", 64),
    ("resource.custom_id", 127),
    ("resource.invoice_id", 127),
    ("resource.status", 64),
    ("resource.amount.value", 32),
    ("resource.amount.currency_code", 3),
    ("resource.dispute_amount.value", 32),
    ("resource.dispute_amount.currency_code", 3),
    ("resource.create_time", 64),
    ("resource.update_time", 64),
    ("resource.seller_response_due_date", 64),
    ("resource.links[].href", 2048),
];
const PAYPAL_DEFAULT: usize = 4096;

/// Wise: transfer ids are numbers, states and times short words.
const WISE: &[Limit] = &[
    ("event_type", 64),
    ("schema_version", 16),
    ("sent_at", 64),
    ("subscription_id", 64),
    ("data.resource.id", 32),
    ("data.resource.type", 32),
    ("data.current_state", 64),
    ("data.previous_state", 64),
    ("data.occurred_at", 64),
];
const WISE_DEFAULT: usize = 1024;

/// Twilio: SIDs are 34 characters (two letters and 32 hex digits); room
/// unique names and participant identities are short (we allow 256);
/// URLs at most 2048.
const TWILIO: &[Limit] = &[
    ("AccountSid", 34),
    ("RoomSid", 34),
    ("ParticipantSid", 34),
    ("TrackSid", 34),
    ("RecordingSid", 34),
    ("SourceSid", 34),
    ("RoomName", 256),
    ("ParticipantIdentity", 256),
    ("StatusCallbackEvent", 64),
    ("RoomStatus", 32),
    ("RoomType", 32),
    ("ParticipantStatus", 32),
    ("Timestamp", 64),
    ("SequenceNumber", 20),
    ("RecordingUri", 2048),
    ("MediaUri", 2048),
    ("StatusCallback", 2048),
];
const TWILIO_DEFAULT: usize = 1024;

fn limits_for(provider: &str) -> (&'static [Limit], usize) {
    match provider {
        "paypal" => (PAYPAL, PAYPAL_DEFAULT),
        "wise" => (WISE, WISE_DEFAULT),
        _ => (TWILIO, TWILIO_DEFAULT),
    }
}

/// `Err(message naming the field)` when a string (or a key) in `payload` is
/// longer than its limit, or `event_id` is longer than [`MAX_EVENT_ID`].
pub fn check_fields(provider: &str, event_id: &str, payload: &Value) -> Result<(), String> {
    let (named, default) = limits_for(provider);
    let mut path = String::new();
    walk(payload, &mut path, named, default)?;
    if event_id.len() > MAX_EVENT_ID {
        return Err(format!(
            "the event id is {} characters; at most {MAX_EVENT_ID} allowed",
            event_id.len()
        ));
    }
    Ok(())
}

fn too_long(path: &str, len: usize, max: usize) -> String {
    let field = if path.is_empty() { "(body)" } else { path };
    format!(
        "field {} is {len} characters; at most {max} allowed",
        crate::text::clip_to(field, 200)
    )
}

fn walk(value: &Value, path: &mut String, named: &[Limit], default: usize) -> Result<(), String> {
    match value {
        Value::String(s) => {
            let max = named
                .iter()
                .find(|(p, _)| *p == path.as_str())
                .map_or(default, |(_, m)| *m);
            let len = s.chars().count();
            if len > max {
                return Err(too_long(path, len, max));
            }
        }
        Value::Number(n) => {
            // Ids sent as numbers: their text is bounded like a string's.
            let len = n.to_string().len();
            if let Some((_, max)) = named.iter().find(|(p, _)| *p == path.as_str())
                && len > *max
            {
                return Err(too_long(path, len, *max));
            }
        }
        Value::Array(items) => {
            let base = path.len();
            path.push_str("[]");
            for item in items {
                walk(item, path, named, default)?;
            }
            path.truncate(base);
        }
        Value::Object(map) => {
            let base = path.len();
            for (key, item) in map {
                if key.len() > 256 {
                    return Err(format!(
                        "a field name is {} characters; at most 256 allowed",
                        key.len()
                    ));
                }
                if base > 0 {
                    path.push('.');
                }
                path.push_str(key);
                walk(item, path, named, default)?;
                path.truncate(base);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_fields_are_named() {
        let room = json!({"RoomSid": "RM0001", "RoomName": "x".repeat(600_000)});
        assert_eq!(
            check_fields("twilio", "RM0001:room-created:1", &room),
            Err("field RoomName is 600000 characters; at most 256 allowed".into())
        );
        let sid = json!({"RoomSid": "R".repeat(10_000)});
        assert!(
            check_fields("twilio", "x", &sid)
                .unwrap_err()
                .contains("RoomSid")
        );
        let pp = json!({"id": "WH-1", "resource": {"custom_id": "c".repeat(128),
            "amount": {"value": "1.00", "currency_code": "USD"}}});
        assert!(
            check_fields("paypal", "WH-1", &pp)
                .unwrap_err()
                .contains("resource.custom_id")
        );
        let links = json!({"id": "WH-1", "resource": {"links": [{"href": "h".repeat(3000)}]}});
        assert!(
            check_fields("paypal", "WH-1", &links)
                .unwrap_err()
                .contains("resource.links[].href")
        );
        let wise = json!({"data": {"resource": {"id": 123456789012345678_i64}, "current_state": "processing"}});
        assert_eq!(check_fields("wise", "w", &wise), Ok(()));
        assert!(check_fields("wise", &"i".repeat(300), &wise).is_err());
    }

    #[test]
    fn future_times_order_at_their_receipt() {
        let received = Utc::now();
        let far = received + chrono::Duration::days(1000);
        assert_eq!(ordering_time(far, received), received);
        let near = received + chrono::Duration::minutes(2);
        assert_eq!(ordering_time(near, received), near);
        let past = received - chrono::Duration::hours(1);
        assert_eq!(ordering_time(past, received), past);
    }
}
