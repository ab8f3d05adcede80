//! One command's provider call, made with no transaction open: what the
//! payload asks of PayPal, Wise or Twilio, sent with the command's
//! idempotency key, and the [`Effect`] its answer has on the domain.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::*;

/// The provider call for one command; reads what it needs first.
pub(super) async fn call(
    pool: &PgPool,
    clients: &Clients,
    command: &Claimed,
) -> Result<Effect, Failure> {
    let p = &command.payload;
    let kind = CommandKind::parse(&command.kind)
        .ok_or_else(|| bad_payload(&format!("unknown kind {}", command.kind)))?;
    match kind {
        CommandKind::PaypalRefund => {
            let refund_id = payload_i64(p, "refund_id")?;
            let row: Option<(i64, String, String, Option<String>)> = sqlx::query_as(
                "SELECT r.amount_minor, r.currency, r.status, p.capture_id
                   FROM refunds r LEFT JOIN payments p ON p.id = r.payment_id
                  WHERE r.id = $1",
            )
            .bind(refund_id)
            .fetch_optional(pool)
            .await?;
            let (minor, currency, status, capture) =
                row.ok_or_else(|| bad_payload(&format!("no refund #{refund_id}")))?;
            if status == "cancelled" {
                return Err(
                    ApiError::permanent(format!("refund #{refund_id} was cancelled")).into(),
                );
            }
            let capture = capture.ok_or_else(|| {
                ApiError::permanent(format!("refund #{refund_id} has no PayPal payment"))
            })?;
            let currency = Currency::parse(currency.trim()).ok_or_else(|| {
                ApiError::permanent(format!("refund #{refund_id}: unknown currency {currency}"))
            })?;
            let note = p.get("note_to_payer").and_then(Value::as_str);
            // custom_id: our key again, so the refund's webhook finds our row.
            let refund = clients
                .paypal
                .refund(
                    &capture,
                    Some(Money::new(minor, currency)),
                    &command.key,
                    note,
                    Some(&command.key),
                )
                .await?;
            Ok(Effect::Refund { refund_id, refund })
        }
        CommandKind::WiseTransfer => {
            let item_id = payload_i64(p, "payout_item_id")?;
            let retry = p.get("retry").and_then(Value::as_i64).is_some();
            wise_transfer(pool, clients, item_id, retry).await
        }
        CommandKind::PaypalProvideEvidence => {
            let dispute_id = payload_i64(p, "dispute_id")?;
            let input = p
                .get("input")
                .filter(|v| v.is_object())
                .ok_or_else(|| bad_payload("no \"input\" object"))?;
            let paypal_id = paypal_dispute_id(pool, dispute_id).await?;
            // The evidence pack goes as the file part (its bytes stay in
            // the database, not in the command's payload).
            let mut files = Vec::new();
            if let Some(pack_id) = p.get("pack_id").and_then(Value::as_i64) {
                let pdf: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT pdf FROM dispute_packs WHERE id = $1")
                        .bind(pack_id)
                        .fetch_optional(pool)
                        .await?;
                let pdf =
                    pdf.ok_or_else(|| bad_payload(&format!("no evidence pack #{pack_id}")))?;
                let name = p
                    .get("file_name")
                    .and_then(Value::as_str)
                    .unwrap_or("evidence.pdf")
                    .to_string();
                files.push((name, "application/pdf".to_string(), pdf));
            }
            let answer = clients
                .paypal
                .provide_evidence(&paypal_id, input, &files, &command.key)
                .await?;
            Ok(Effect::Evidence { dispute_id, answer })
        }
        CommandKind::PaypalAcceptClaim => {
            let dispute_id = payload_i64(p, "dispute_id")?;
            let paypal_id = paypal_dispute_id(pool, dispute_id).await?;
            let body = json!({
                "note": p.get("note").and_then(Value::as_str).unwrap_or("Claim accepted."),
                "accept_claim_type": p.get("accept_claim_type").and_then(Value::as_str).unwrap_or("REFUND"),
            });
            let answer = clients
                .paypal
                .accept_claim(&paypal_id, &body, &command.key)
                .await?;
            Ok(Effect::AcceptClaim { dispute_id, answer })
        }
        CommandKind::PaypalSyncCapture => {
            let capture_id = p
                .get("capture_id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_payload("no \"capture_id\""))?;
            let capture = clients.paypal.get_capture(capture_id).await?;
            Ok(Effect::Capture {
                answer: capture.raw,
            })
        }
        CommandKind::WiseSyncTransfer => {
            let item_id = payload_i64(p, "payout_item_id")?;
            let transfer_id: Option<Option<i64>> =
                sqlx::query_scalar("SELECT wise_transfer_id FROM payout_items WHERE id = $1")
                    .bind(item_id)
                    .fetch_optional(pool)
                    .await?;
            let transfer_id = transfer_id.flatten().ok_or_else(|| {
                ApiError::permanent(format!("payout line #{item_id} has no Wise transfer"))
            })?;
            let transfer = clients.wise.get_transfer(transfer_id).await?;
            Ok(Effect::TransferStatus { item_id, transfer })
        }
        CommandKind::TwilioRoomLookup => {
            let show_id = payload_i64(p, "show_id")?;
            let row: Option<(Option<String>, Option<String>)> =
                sqlx::query_as("SELECT twilio_room_sid, twilio_room_name FROM shows WHERE id = $1")
                    .bind(show_id)
                    .fetch_optional(pool)
                    .await?;
            let (sid, name) = row.ok_or_else(|| bad_payload(&format!("no show #{show_id}")))?;
            let key = sid
                .or(name)
                .ok_or_else(|| ApiError::permanent(format!("show #{show_id} has no room")))?;
            let room = clients.twilio.get_room(&key).await?.ok_or_else(|| {
                ApiError::permanent(format!("Twilio has no room {key} (show #{show_id})"))
            })?;
            Ok(Effect::Room { show_id, room })
        }
    }
}

async fn paypal_dispute_id(pool: &PgPool, dispute_id: i64) -> Result<String, Failure> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT paypal_dispute_id FROM disputes WHERE id = $1")
            .bind(dispute_id)
            .fetch_optional(pool)
            .await?;
    id.ok_or_else(|| bad_payload(&format!("no dispute #{dispute_id}")))
}

/// Wise states after which a transfer's money cannot reach the creator: a
/// retry may pay the line again with a new transfer.
pub const TRANSFER_FAILED_STATES: &[&str] = &[
    "bounced_back",
    "cancelled",
    "funds_refunded",
    "charged_back",
];

/// Quote → transfer (customerTransactionId) → fund, skipping what is done.
///
/// A retry (`retry`) of a line whose transfer failed asks Wise about that
/// transfer first: only when Wise says it bounced, was cancelled or refunded
/// is a new transfer made, under a new `customerTransactionId` derived from
/// the old one (so a crash and a re-send find the same new transfer). In any
/// other state the money may have moved: nothing new is paid, and what Wise
/// says is recorded.
async fn wise_transfer(
    pool: &PgPool,
    clients: &Clients,
    item_id: i64,
    retry: bool,
) -> Result<Effect, Failure> {
    type Row = (
        i64,
        String,
        String,
        String,
        Option<i64>,
        Option<i64>,
        String,
        i64,
        String,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT pi.amount_minor, pi.currency, pi.state, pi.customer_transaction_id::text,
                pi.wise_transfer_id, c.wise_recipient_id, c.recipient_status, pi.batch_id,
                md5(pi.customer_transaction_id::text || ' retry')::uuid::text
           FROM payout_items pi JOIN creators c ON c.id = pi.creator_id
          WHERE pi.id = $1",
    )
    .bind(item_id)
    .fetch_optional(pool)
    .await?;
    let (
        minor,
        currency,
        state,
        ctid,
        transfer_id,
        recipient,
        recipient_status,
        batch_id,
        next_ctid,
    ) = row.ok_or_else(|| bad_payload(&format!("no payout line #{item_id}")))?;
    let mut ctid = ctid;
    let mut replaced = None;
    let existing = match transfer_id {
        Some(id) => {
            let old = clients.wise.get_transfer(id).await?;
            if retry && TRANSFER_FAILED_STATES.contains(&old.status.as_str()) {
                replaced = Some((old.id, old.status.clone(), ctid.clone(), next_ctid.clone()));
                ctid = next_ctid;
                None
            } else {
                Some(old)
            }
        }
        None => None,
    };
    let transfer = match existing {
        Some(t) => t,
        None => {
            if matches!(state.as_str(), "held" | "cancelled") {
                return Err(
                    ApiError::permanent(format!("payout line #{item_id} is {state}")).into(),
                );
            }
            if recipient_status != "verified" {
                return Err(ApiError::permanent(format!(
                    "payout line #{item_id}: the creator's bank details are {recipient_status}, not verified"
                ))
                .into());
            }
            let recipient = recipient.ok_or_else(|| {
                ApiError::permanent(format!("payout line #{item_id}: no Wise recipient"))
            })?;
            if minor <= 0 {
                return Err(ApiError::permanent(format!(
                    "payout line #{item_id}: nothing to pay ({minor})"
                ))
                .into());
            }
            let currency = Currency::parse(currency.trim()).ok_or_else(|| {
                ApiError::permanent(format!(
                    "payout line #{item_id}: unknown currency {currency}"
                ))
            })?;
            let target = Money::new(minor, currency);
            let quote = clients
                .wise
                .create_quote(currency, target, Some(recipient))
                .await?;
            clients
                .wise
                .create_transfer(
                    recipient,
                    &quote.id,
                    &ctid,
                    &format!("LSN B{batch_id} L{item_id}"),
                )
                .await?
        }
    };
    if let Some(echoed) = &transfer.customer_transaction_id
        && !echoed.eq_ignore_ascii_case(&ctid)
    {
        return Err(ApiError::permanent(format!(
            "Wise transfer {} belongs to another customerTransactionId",
            transfer.id
        ))
        .into());
    }
    // Only a transfer still waiting for its money is funded: a repeat after a
    // crash finds it already processing and does not fund it twice.
    let mut transfer = transfer;
    let funding = if transfer.status == "incoming_payment_waiting" {
        match clients.wise.fund_transfer(transfer.id).await {
            Ok(f) => Some(Ok(f)),
            Err(e) => {
                // The answer may have been lost after Wise took the money (a
                // retry then sees "already funded"): look before concluding.
                match clients.wise.get_transfer(transfer.id).await {
                    Ok(now) if now.status != "incoming_payment_waiting" => {
                        transfer = now;
                        None
                    }
                    // The look failed too: whether the money moved is unknown,
                    // so nothing is concluded; the next attempt looks again.
                    Err(lookup) if lookup.is_retryable() => return Err(lookup.into()),
                    _ => Some(Err(e)),
                }
            }
        }
    } else {
        None
    };
    if let Some(Err(e)) = &funding
        && e.is_retryable()
    {
        // Nothing moved for sure: record nothing yet, send again later.
        return Err(e.clone().into());
    }
    Ok(Effect::Transfer {
        item_id,
        transfer,
        funding,
        replaced,
        retry,
    })
}
