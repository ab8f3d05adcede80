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
use serde_json::Value;
use sqlx::PgPool;

use crate::config::Config;
use crate::domain::money::{Currency, Money};
use crate::providers::api::paypal::{PaypalApiConfig, PaypalClient, Refund};
use crate::providers::api::twilio::{Room, TwilioApiConfig, TwilioClient};
use crate::providers::api::wise::{Funding, Transfer, WiseApiConfig, WiseClient};
use crate::providers::api::{ApiError, HttpPolicy};
use crate::store::alerts;
use crate::store::outbox::{COMMANDS_CHANNEL, CommandKind};
use crate::worker::apply::WORKER;

mod call;
mod effects;

pub use call::TRANSFER_FAILED_STATES;
use call::call;
use effects::{effect_outcome, mark_domain_failed};

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
