//! What the applier can tell before applying an event: is its payload of a
//! shape the provider sends? A verified event whose fields have the wrong JSON
//! types (a number where PayPal sends a string, an amount that is not a
//! decimal in a known currency) will be just as wrong on every retry, so it
//! is a **permanent** failure: parked `dead` at once with the reason and an
//! alert (issue 18), instead of being retried eight times.
//!
//! Everything else that fails while applying (the database, an order or a
//! payout line not recorded yet) is temporary and retried with backoff.
//!
//! Only event types the applier acts on are checked, and only the fields it
//! reads; the required ones must be present, the optional ones, when present,
//! must have the right type.

use serde_json::Value;

use crate::domain::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Obj,
    Arr,
    /// `{currency_code, value}`: a known currency and an exact decimal.
    Amount,
    /// A string or an integer (ids some providers send either way).
    StrOrInt,
}

use Kind::{Amount, Arr, Int, Obj, Str, StrOrInt};

/// (dotted path, kind, required)
type Field = (&'static str, Kind, bool);

const PAYPAL_CAPTURE: &[Field] = &[
    ("resource", Obj, true),
    ("resource.id", Str, true),
    ("resource.amount", Amount, true),
    ("resource.custom_id", Str, false),
    ("resource.invoice_id", Str, false),
    ("resource.create_time", Str, false),
    ("resource.update_time", Str, false),
];

const PAYPAL_REFUND: &[Field] = &[
    ("resource", Obj, true),
    ("resource.id", Str, true),
    ("resource.amount", Amount, false),
    ("resource.capture_id", Str, false),
    ("resource.links", Arr, false),
    ("resource.create_time", Str, false),
    ("resource.update_time", Str, false),
];

const PAYPAL_DISPUTE: &[Field] = &[
    ("resource", Obj, true),
    ("resource.dispute_id", Str, true),
    ("resource.status", Str, false),
    ("resource.reason", Str, false),
    ("resource.dispute_amount", Amount, false),
    ("resource.dispute_outcome", Obj, false),
    ("resource.dispute_outcome.outcome_code", Str, false),
    ("resource.dispute_life_cycle_stage", Str, false),
    ("resource.disputed_transactions", Arr, false),
    ("resource.create_time", Str, false),
    ("resource.update_time", Str, false),
    ("resource.seller_response_due_date", Str, false),
];

const WISE_STATE_CHANGE: &[Field] = &[
    ("data", Obj, true),
    ("data.resource", Obj, true),
    ("data.resource.id", Int, true),
    ("data.current_state", Str, true),
    ("data.occurred_at", Str, false),
];

const TWILIO: &[Field] = &[
    ("StatusCallbackEvent", Str, true),
    ("RoomSid", Str, true),
    ("RoomName", Str, false),
    ("ParticipantIdentity", Str, false),
    ("RecordingSid", Str, false),
    ("Timestamp", Str, false),
    ("SequenceNumber", StrOrInt, false),
];

fn fields_for(provider: &str, event_type: &str) -> &'static [Field] {
    match (provider, event_type) {
        (
            "paypal",
            "PAYMENT.CAPTURE.COMPLETED" | "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED",
        ) => PAYPAL_CAPTURE,
        ("paypal", "PAYMENT.CAPTURE.REFUNDED" | "PAYMENT.CAPTURE.REVERSED") => PAYPAL_REFUND,
        (
            "paypal",
            "CUSTOMER.DISPUTE.CREATED" | "CUSTOMER.DISPUTE.UPDATED" | "CUSTOMER.DISPUTE.RESOLVED",
        ) => PAYPAL_DISPUTE,
        ("wise", "transfers#state-change") => WISE_STATE_CHANGE,
        ("twilio", _) => TWILIO,
        _ => &[],
    }
}

fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Str => "a string",
        Int => "an integer",
        Obj => "an object",
        Arr => "an array",
        Amount => "an amount {currency_code, value}",
        StrOrInt => "a string or an integer",
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn amount_ok(v: &Value) -> Result<(), String> {
    let code = v
        .get("currency_code")
        .and_then(Value::as_str)
        .ok_or("currency_code is not a string")?;
    let currency = Currency::parse(code).ok_or("currency_code is not a known currency")?;
    let value = v
        .get("value")
        .and_then(Value::as_str)
        .ok_or("value is not a string")?;
    Money::from_major_str(value, currency)
        .map(|_| ())
        .map_err(|e| format!("value: {e}"))
}

/// `Err(reason)` when the payload of an event the applier acts on is not of
/// the provider's shape: a permanent failure.
pub fn check(provider: &str, event_type: &str, payload: &Value) -> Result<(), String> {
    for &(path, kind, required) in fields_for(provider, event_type) {
        let Some(v) = at(payload, path) else {
            if required {
                return Err(format!("malformed payload: {path} is missing"));
            }
            continue;
        };
        if v.is_null() && !required {
            continue;
        }
        let fits = match kind {
            Str => v.is_string(),
            Int => v.is_i64(),
            Obj => v.is_object(),
            Arr => v.is_array(),
            StrOrInt => v.is_string() || v.is_i64(),
            Amount => {
                if !v.is_object() {
                    false
                } else {
                    amount_ok(v).map_err(|e| {
                        format!(
                            "malformed payload: {path}: {}",
                            crate::text::clip_to(&e, 200)
                        )
                    })?;
                    true
                }
            }
        };
        if !fits {
            return Err(format!(
                "malformed payload: {path} is {}, expected {}",
                type_name(v),
                kind_name(kind)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_are_named_and_genuine_shapes_pass() {
        let good = json!({"resource": {"id": "CAP-1", "custom_id": "LSN-1",
            "amount": {"currency_code": "USD", "value": "12.34"}}});
        assert_eq!(check("paypal", "PAYMENT.CAPTURE.COMPLETED", &good), Ok(()));
        let bad =
            json!({"resource": {"id": 12345, "amount": {"currency_code": "USD", "value": "1.00"}}});
        assert_eq!(
            check("paypal", "PAYMENT.CAPTURE.COMPLETED", &bad),
            Err("malformed payload: resource.id is a number, expected a string".into())
        );
        let bad_amount =
            json!({"resource": {"id": "C", "amount": {"currency_code": "USD", "value": 12.34}}});
        assert!(check("paypal", "PAYMENT.CAPTURE.COMPLETED", &bad_amount).is_err());
        let wise = json!({"data": {"resource": {"id": "49983981"}, "current_state": "processing"}});
        assert!(check("wise", "transfers#state-change", &wise).is_err());
        // Types the applier does not act on are not checked.
        assert_eq!(check("paypal", "BILLING.PLAN.CREATED", &json!(5)), Ok(()));
    }
}
