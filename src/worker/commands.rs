//! The command executor: outbox rows (`commands`) → provider API calls, with
//! the command's idempotency key, so money moves exactly once.
//!
//! One command at a time is **claimed** in a short transaction (`FOR UPDATE
//! SKIP LOCKED`, due by `next_attempt_at`): it becomes `in_flight`, its
//! attempt is counted, and `next_attempt_at` becomes the end of its lease.
//! The provider is then called with **no transaction open**. The outcome is
//! **recorded** in a second transaction together with its domain effect
//! (`refunds.paypal_refund_id/status`, `payout_items.wise_transfer_id/state`,
//! ...) and an audit row, fenced on the attempt number, so an executor whose
//! lease was taken over cannot record twice.
//!
//! The executor acts on commands an operator already made (and was checked
//! for, `store::authz`, when the command was written): it takes no operator
//! and is not authorized again; its audit rows name the worker.
//!
//! Safe to kill at any instant: a command left `in_flight` past its lease is
//! claimed again and **re-sent with the same idempotency key**
//! (`PayPal-Request-Id` = `commands.idempotency_key`; Wise
//! `customerTransactionId` = `payout_items.customer_transaction_id`), and the
//! provider answers the refund or transfer it already made. A Wise transfer
//! already funded is not funded again (its status says so).
//!
//! Failures: [`ApiError::Retryable`] → `failed`, due again after a jittered
//! exponential backoff (or the provider's `Retry-After`);
//! [`ApiError::Permanent`] (the provider refused) → `dead`, the domain row
//! marked failed (`refunds.status`, `payout_items.state` + `failure_reason`),
//! and a P1 alert; [`ExecOptions::max_attempts`] reached on transient errors →
//! `dead` and the alert, but the domain row is left alone (the money may have
//! moved behind a lost answer). `crate::store::outbox::retry_dead` revives a
//! dead command with the same idempotency key.

use std::sync::Arc;

use chrono::Duration;
use rand::Rng as _;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::config::Config;
use crate::domain::money::{Currency, Money};
use crate::providers::api::paypal::{PaypalApiConfig, PaypalClient, Refund};
use crate::providers::api::twilio::{Room, TwilioApiConfig, TwilioClient};
use crate::providers::api::wise::{Funding, Transfer, WiseApiConfig, WiseClient};
use crate::providers::api::{ApiError, HttpPolicy};
use crate::store::alerts;
use crate::store::outbox::{COMMANDS_CHANNEL, CommandKind};
use crate::worker::apply::WORKER;

/// The provider clients the executor calls.
#[derive(Debug, Clone)]
pub struct Clients {
    pub paypal: Arc<PaypalClient>,
    pub wise: Arc<WiseClient>,
    pub twilio: Arc<TwilioClient>,
}

impl Clients {
    /// Builds the three clients from `[paypal]`, `[wise]` and `[twilio]`.
    pub fn from_config(config: &Config, policy: HttpPolicy) -> Result<Self, ApiError> {
        Ok(Self {
            paypal: Arc::new(PaypalClient::new(
                PaypalApiConfig::from_config(&config.paypal),
                policy,
            )?),
            wise: Arc::new(WiseClient::new(
                WiseApiConfig::from_config(&config.wise),
                policy,
            )?),
            twilio: Arc::new(TwilioClient::new(
                TwilioApiConfig::from_config(&config.twilio),
                policy,
            )?),
        })
    }
}

/// How the executor schedules and gives up.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// How long a claimed command may stay `in_flight` before another executor
    /// re-sends it: longer than the slowest command with the default
    /// [`HttpPolicy`] (a Wise payout is up to five requests of at most ~55 s
    /// each). Overrunning it is safe (the re-send carries the same key and the
    /// slower executor's record is fenced off), only wasteful.
    pub lease: Duration,
    /// Attempts (claims) before a command is parked as dead.
    pub max_attempts: i32,
    /// First retry delay; doubled per attempt, jittered, at most `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Test hook: after the provider answered and before the outcome is
    /// recorded, send the command id here and never return (the test then
    /// aborts the task, as a crash would).
    #[doc(hidden)]
    pub crash_after_call: Option<tokio::sync::mpsc::UnboundedSender<i64>>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            max_attempts: 8,
            base_backoff: Duration::seconds(2),
            max_backoff: Duration::minutes(10),
            crash_after_call: None,
        }
    }
}

impl ExecOptions {
    /// The wait before the next attempt after `attempts` attempts.
    pub fn backoff(&self, attempts: i32, hint: Option<std::time::Duration>) -> Duration {
        let exp = attempts.clamp(1, 20) as u32 - 1;
        let base_ms = self.base_backoff.num_milliseconds().max(0);
        let cap = base_ms
            .saturating_mul(1i64 << exp.min(30))
            .min(self.max_backoff.num_milliseconds().max(0));
        let jittered = if cap > 1 {
            rand::rng().random_range(cap / 2..=cap)
        } else {
            cap
        };
        let hint_ms = hint
            .and_then(|h| i64::try_from(h.as_millis()).ok())
            .unwrap_or(0);
        Duration::milliseconds(jittered.max(hint_ms))
    }
}

/// What happened to one claimed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Will be sent again (same idempotency key) after a backoff.
    Retrying(String),
    /// Parked: a permanent refusal or too many attempts.
    Dead(String),
    /// Another executor took the command over (our lease ran out); nothing recorded.
    LostLease,
}

#[derive(Debug)]
struct Claimed {
    id: i64,
    kind: String,
    key: String,
    payload: Value,
    attempts: i32,
}

/// What a provider call produced, to be recorded with its domain effect.
#[derive(Debug)]
enum Effect {
    Refund {
        refund_id: i64,
        refund: Refund,
    },
    Transfer {
        item_id: i64,
        transfer: Transfer,
        funding: Option<Result<Funding, ApiError>>,
        /// A retry replaced this failed transfer (id, Wise status, old
        /// customerTransactionId) with `transfer`, under `new_ctid`.
        replaced: Option<(i64, String, String, String)>,
        /// A retry: the line takes the state Wise reports (paid, failed).
        retry: bool,
    },
    Evidence {
        dispute_id: i64,
        answer: Value,
    },
    AcceptClaim {
        dispute_id: i64,
        answer: Value,
    },
    Capture {
        answer: Value,
    },
    TransferStatus {
        item_id: i64,
        transfer: Transfer,
    },
    Room {
        show_id: i64,
        room: Room,
    },
}

/// A failure with what the domain row should say about it.
#[derive(Debug)]
struct Failure {
    error: ApiError,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self { error }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Self {
            error: ApiError::retryable(format!("database: {e}")),
        }
    }
}

fn bad_payload(what: &str) -> Failure {
    Failure {
        error: ApiError::permanent(format!("bad command payload: {what}")),
    }
}

fn payload_i64(payload: &Value, key: &str) -> Result<i64, Failure> {
    payload
        .get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| bad_payload(&format!("no integer \"{key}\"")))
}

/// Claims one due command (pending/failed due now, or in_flight past its lease).
async fn claim(pool: &PgPool, lease: Duration) -> Result<Option<Claimed>, sqlx::Error> {
    for due in [
        "state IN ('pending', 'failed') AND next_attempt_at <= now()",
        "state = 'in_flight' AND next_attempt_at <= now()",
    ] {
        let sql = format!(
            "WITH next AS (
                SELECT id FROM commands WHERE {due}
                 ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             UPDATE commands c
                SET state = 'in_flight', attempts = c.attempts + 1, started_at = now(),
                    next_attempt_at = now() + $1
               FROM next WHERE c.id = next.id
             RETURNING c.id, c.kind, c.idempotency_key, c.payload, c.attempts"
        );
        let row: Option<(i64, String, String, Value, i32)> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(lease)
                .fetch_optional(pool)
                .await?;
        if let Some((id, kind, key, payload, attempts)) = row {
            if due.starts_with("state = 'in_flight'") {
                tracing::warn!(
                    command = id,
                    kind,
                    attempts,
                    "command was in flight past its lease: sending again with the same idempotency key"
                );
            }
            return Ok(Some(Claimed {
                id,
                kind,
                key,
                payload,
                attempts,
            }));
        }
    }
    Ok(None)
}

/// Claims, sends and records at most one due command. `None` when nothing is due.
pub async fn execute_next(
    pool: &PgPool,
    clients: &Clients,
    options: &ExecOptions,
) -> Result<Option<(i64, Outcome)>, sqlx::Error> {
    let Some(command) = claim(pool, options.lease).await? else {
        return Ok(None);
    };
    let result = if command.attempts > options.max_attempts {
        Err(Failure {
            error: ApiError::permanent(format!("gave up after {} attempts", options.max_attempts)),
        })
    } else {
        call(pool, clients, &command).await
    };
    if let Some(hook) = &options.crash_after_call {
        let _ = hook.send(command.id);
        std::future::pending::<()>().await;
    }
    let outcome = record(pool, options, &command, result).await?;
    Ok(Some((command.id, outcome)))
}

/// Executes due commands until none is due or `max` were handled, with the
/// default [`ExecOptions`].
pub async fn execute_due(
    pool: &PgPool,
    clients: &Clients,
    max: usize,
) -> Result<usize, sqlx::Error> {
    execute_due_with(pool, clients, &ExecOptions::default(), max).await
}

/// [`execute_due`] with explicit options.
pub async fn execute_due_with(
    pool: &PgPool,
    clients: &Clients,
    options: &ExecOptions,
    max: usize,
) -> Result<usize, sqlx::Error> {
    let mut handled = 0;
    while handled < max {
        match execute_next(pool, clients, options).await? {
            Some(_) => handled += 1,
            None => break,
        }
    }
    Ok(handled)
}

/// The provider call for one command; reads what it needs first.
async fn call(pool: &PgPool, clients: &Clients, command: &Claimed) -> Result<Effect, Failure> {
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

/// Records the outcome and its domain effect in one transaction.
async fn record(
    pool: &PgPool,
    options: &ExecOptions,
    command: &Claimed,
    result: Result<Effect, Failure>,
) -> Result<Outcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Fence: still ours (same attempt, still in flight)?
    let ours: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM commands WHERE id = $1 AND state = 'in_flight' AND attempts = $2 FOR UPDATE",
    )
    .bind(command.id)
    .bind(command.attempts)
    .fetch_optional(&mut *tx)
    .await?;
    if ours.is_none() {
        tracing::warn!(
            command = command.id,
            "lease lost before recording: another executor owns this command"
        );
        return Ok(Outcome::LostLease);
    }
    let error = match result {
        Ok(effect) => match effect_outcome(&mut tx, command, effect).await? {
            None => {
                tx.commit().await?;
                return Ok(Outcome::Succeeded);
            }
            Some(error) => error,
        },
        Err(Failure { error }) => error,
    };
    // A provider's answer may be long: stored, logged and alerted clipped (issue 18).
    let message = crate::text::clip(error.message()).into_owned();
    let dead = !error.is_retryable() || command.attempts >= options.max_attempts;
    if dead {
        sqlx::query(
            "UPDATE commands SET state = 'dead', last_error = $2, completed_at = now() WHERE id = $1",
        )
        .bind(command.id)
        .bind(&message)
        .execute(&mut *tx)
        .await?;
        // A provider's refusal is definitive: the refund or payout failed. Giving
        // up on transient errors is not: the money may have moved behind a lost
        // answer, so the domain row is left as it is and the alert says so.
        let definitive = !error.is_retryable() && command.attempts <= options.max_attempts;
        if definitive {
            mark_domain_failed(&mut tx, command, &message).await?;
        }
        let details = if definitive {
            format!(
                "command #{} refused after {} attempt(s): {message}",
                command.id, command.attempts
            )
        } else {
            format!(
                "command #{} gave up after {} attempt(s): {message}; the outcome at the provider is unknown: check it, then revive the command (same idempotency key, so it is not repeated)",
                command.id, command.attempts
            )
        };
        alerts::raise(
            &mut tx,
            "command_failures",
            &format!("command:dead:{}", command.kind),
            "warning",
            "P1",
            &format!("{} commands parked as dead", command.kind),
            &details,
        )
        .await?;
        tracing::warn!(
            command = command.id,
            kind = command.kind,
            "command dead: {message}"
        );
        tx.commit().await?;
        Ok(Outcome::Dead(message))
    } else {
        let wait = options.backoff(command.attempts, error.retry_after());
        sqlx::query(
            "UPDATE commands SET state = 'failed', last_error = $2, next_attempt_at = now() + $3 WHERE id = $1",
        )
        .bind(command.id)
        .bind(&message)
        .bind(wait)
        .execute(&mut *tx)
        .await?;
        tracing::info!(
            command = command.id,
            kind = command.kind,
            "command will retry: {message}"
        );
        tx.commit().await?;
        Ok(Outcome::Retrying(message))
    }
}

async fn succeed(
    conn: &mut PgConnection,
    command: &Claimed,
    result: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE commands SET state = 'succeeded', result = $2, last_error = NULL, completed_at = now() WHERE id = $1",
    )
    .bind(command.id)
    .bind(result)
    .execute(&mut *conn)
    .await?;
    crate::store::audit(
        conn,
        WORKER,
        &format!("command.{}", command.kind),
        "command",
        &command.id.to_string(),
        json!({ "idempotency_key": command.key }),
    )
    .await
}

/// Applies a successful call's domain effect. `Some(error)` when the call
/// "succeeded" but its answer is a permanent failure (a rejected funding).
async fn effect_outcome(
    conn: &mut PgConnection,
    command: &Claimed,
    effect: Effect,
) -> Result<Option<ApiError>, sqlx::Error> {
    match effect {
        Effect::Refund { refund_id, refund } => {
            super::refunds::record_answer(conn, refund_id, &refund).await?;
            succeed(conn, command, &refund.raw).await?;
        }
        Effect::Transfer {
            item_id,
            transfer,
            funding,
            replaced,
            retry,
        } => {
            if let Some((old_id, old_status, old_ctid, new_ctid)) = &replaced {
                // The failed transfer goes to the history; the line now
                // follows the new one (its events, its idempotency key).
                sqlx::query(
                    "INSERT INTO payout_transfers (wise_transfer_id, payout_item_id, customer_transaction_id, final_status)
                     VALUES ($1, $2, $3::uuid, $4) ON CONFLICT (wise_transfer_id) DO NOTHING",
                )
                .bind(old_id)
                .bind(item_id)
                .bind(old_ctid)
                .bind(old_status)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "UPDATE payout_items SET customer_transaction_id = $2::uuid, wise_transfer_id = NULL,
                            wise_status = NULL, wise_status_at = NULL, failure_reason = NULL
                      WHERE id = $1",
                )
                .bind(item_id)
                .bind(new_ctid)
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query(
                "UPDATE payout_items
                    SET wise_transfer_id = $2,
                        wise_status = CASE WHEN wise_status_at IS NULL THEN $3 ELSE wise_status END,
                        state = CASE WHEN state <> 'pending' THEN state
                                     WHEN $5 AND $3 = 'outgoing_payment_sent' THEN 'sent'
                                     WHEN $5 AND $3 = ANY($4) THEN 'failed' ELSE 'processing' END,
                        attempts = attempts + 1, updated_at = now()
                  WHERE id = $1",
            )
            .bind(item_id)
            .bind(transfer.id)
            .bind(&transfer.status)
            .bind(TRANSFER_FAILED_STATES)
            .bind(retry)
            .execute(&mut *conn)
            .await?;
            if let Some(Err(e)) = funding {
                // The transfer exists but was not funded: the command fails
                // permanently (recorded by the caller) with the id kept.
                return Ok(Some(e));
            }
            let result = json!({
                "transfer": transfer.raw,
                "funding": funding.and_then(Result::ok).map(|f| f.raw),
            });
            succeed(conn, command, &result).await?;
        }
        Effect::Evidence { dispute_id, answer } => {
            let moved = sqlx::query(
                "UPDATE disputes SET state = 'SUBMITTED', submitted_at = COALESCE(submitted_at, now()),
                        updated_at = now()
                  WHERE id = $1 AND state = 'EVIDENCE_READY'",
            )
            .bind(dispute_id)
            .execute(&mut *conn)
            .await?;
            if moved.rows_affected() == 1 {
                let by = command.payload.get("requested_by").and_then(Value::as_str);
                let auto = command.payload.get("auto").and_then(Value::as_bool) == Some(true);
                crate::store::audit(
                    conn,
                    WORKER,
                    "dispute.state",
                    "dispute",
                    &dispute_id.to_string(),
                    json!({
                        "from": "EVIDENCE_READY", "to": "SUBMITTED", "why": "PayPal took the evidence",
                        "requested_by": by, "note": if auto { "auto-submitted" } else { "submitted" },
                        "command_id": command.id,
                    }),
                )
                .await?;
            }
            succeed(conn, command, &answer).await?;
        }
        Effect::AcceptClaim { dispute_id, answer } => {
            // PayPal refunds the buyer itself: the refund row recorded at
            // accept completes and counts into its payment, once.
            if let Some(refund_id) = command.payload.get("refund_id").and_then(Value::as_i64) {
                let done: Option<(i64, Option<i64>)> = sqlx::query_as(
                    "UPDATE refunds SET status = 'completed', completed_at = COALESCE(completed_at, now())
                      WHERE id = $1 AND status <> 'completed' RETURNING amount_minor, payment_id",
                )
                .bind(refund_id)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some((amount, Some(payment_id))) = done {
                    super::refunds::count_into_payment(conn, payment_id, amount).await?;
                }
            }
            succeed(
                conn,
                command,
                &json!({ "dispute_id": dispute_id, "answer": answer }),
            )
            .await?;
        }
        Effect::Capture { answer } => {
            let synced = super::reconcile::SyncAnswer::Capture {
                raw: answer.clone(),
            };
            super::reconcile::record_answer(conn, "paypal", &synced).await?;
            succeed(conn, command, &answer).await?;
        }
        Effect::TransferStatus { item_id, transfer } => {
            let synced = super::reconcile::SyncAnswer::Transfer {
                id: transfer.id,
                status: transfer.status.clone(),
                at: chrono::Utc::now(),
            };
            super::reconcile::record_answer(conn, "wise", &synced).await?;
            sqlx::query(
                "UPDATE payout_items SET wise_status = $2, updated_at = now()
                  WHERE id = $1 AND wise_status_at IS NULL",
            )
            .bind(item_id)
            .bind(&transfer.status)
            .execute(&mut *conn)
            .await?;
            succeed(conn, command, &transfer.raw).await?;
        }
        Effect::Room { show_id, room } => {
            sqlx::query(
                "UPDATE shows SET twilio_room_sid = COALESCE(twilio_room_sid, $2) WHERE id = $1",
            )
            .bind(show_id)
            .bind(&room.sid)
            .execute(&mut *conn)
            .await?;
            succeed(conn, command, &room.raw).await?;
        }
    }
    Ok(None)
}

/// A dead command's domain row says it failed, where there is one.
async fn mark_domain_failed(
    conn: &mut PgConnection,
    command: &Claimed,
    message: &str,
) -> Result<(), sqlx::Error> {
    match CommandKind::parse(&command.kind) {
        Some(CommandKind::PaypalRefund | CommandKind::PaypalAcceptClaim) => {
            if let Some(id) = command.payload.get("refund_id").and_then(Value::as_i64) {
                sqlx::query(
                    "UPDATE refunds SET status = 'failed', failure = $2
                      WHERE id = $1 AND status IN ('requested', 'pending')",
                )
                .bind(id)
                .bind(message)
                .execute(&mut *conn)
                .await?;
            }
            if command.kind == CommandKind::PaypalAcceptClaim.as_str() {
                undo_acceptance(conn, command, message).await?;
            }
        }
        Some(CommandKind::WiseTransfer) => {
            if let Some(id) = command
                .payload
                .get("payout_item_id")
                .and_then(Value::as_i64)
            {
                let failed = sqlx::query(
                    "UPDATE payout_items SET state = 'failed', failure_reason = $2, updated_at = now()
                      WHERE id = $1 AND state IN ('pending', 'processing')",
                )
                .bind(id)
                .bind(message)
                .execute(&mut *conn)
                .await?;
                if failed.rows_affected() == 1 {
                    crate::worker::apply::payout_failed_alert(conn, id, message).await?;
                }
            }
        }
        Some(CommandKind::PaypalProvideEvidence) => {
            // The dispute stays EVIDENCE_READY; its detail shows the refusal
            // and `s` may submit again (under a new key).
            if let Some(id) = command.payload.get("dispute_id").and_then(Value::as_i64) {
                sqlx::query(
                    "UPDATE disputes SET manual_reason = $2, updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind(format!("PayPal refused the evidence: {message}"))
                .execute(&mut *conn)
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// PayPal refused to accept the claim: the dispute is no longer "accepted"
/// (its detail says why), so an operator may accept again (under a new key)
/// or fight it.
async fn undo_acceptance(
    conn: &mut PgConnection,
    command: &Claimed,
    message: &str,
) -> Result<(), sqlx::Error> {
    let Some(id) = command.payload.get("dispute_id").and_then(Value::as_i64) else {
        return Ok(());
    };
    let undone = sqlx::query(
        "UPDATE disputes SET accepted_by = NULL, accepted_at = NULL, manual_reason = $3, updated_at = now()
          WHERE id = $1 AND accept_command_id = $2 AND accepted_by IS NOT NULL",
    )
    .bind(id)
    .bind(command.id)
    .bind(format!("PayPal refused the acceptance: {message}"))
    .execute(&mut *conn)
    .await?;
    if undone.rows_affected() == 1 {
        crate::store::audit(
            conn,
            WORKER,
            "dispute.accept_refused",
            "dispute",
            &id.to_string(),
            json!({ "command_id": command.id, "refusal": message }),
        )
        .await?;
    }
    Ok(())
}

/// Runs the executor until `shutdown` turns true: executes due commands, then
/// waits for a NOTIFY on [`COMMANDS_CHANNEL`] or `poll`, whichever is first.
pub async fn run(
    pool: PgPool,
    clients: Clients,
    options: ExecOptions,
    poll: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut wake = super::wake::Wake::new(pool.clone(), COMMANDS_CHANNEL, "command executor");
    loop {
        if *shutdown.borrow() {
            return;
        }
        // One command at a time, checking for shutdown between two, so a stop
        // never waits for a long backlog (and never cuts a call in half).
        let mut handled = 0;
        let mut failed = false;
        while handled < 100 && !*shutdown.borrow() {
            match execute_next(&pool, &clients, &options).await {
                Ok(Some(_)) => handled += 1,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("command executor: {e}");
                    failed = true;
                    break;
                }
            }
        }
        if handled > 0 && !failed {
            continue;
        }
        wake.wait(poll, &mut shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let o = ExecOptions::default();
        let first = o.backoff(1, None);
        assert!(first >= Duration::seconds(1) && first <= Duration::seconds(2));
        let late = o.backoff(30, None);
        assert!(late >= Duration::minutes(5) && late <= Duration::minutes(10));
        let hinted = o.backoff(1, Some(std::time::Duration::from_secs(30)));
        assert_eq!(hinted, Duration::seconds(30));
    }
}
