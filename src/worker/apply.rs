//! The applier: inbox → domain tables, exactly once in effect.
//!
//! Verified provider events wait in `provider_events`. The applier claims a
//! batch of them with `FOR UPDATE SKIP LOCKED` (so several workers share the
//! inbox), applies each one's domain effect together with an audit row, and
//! marks them applied, all in one transaction ([`apply_batch`]): a crash
//! leaves the batch pending, never half done.
//! Events that arrive out of order never move an entity backwards (ranks for
//! payments, orders, shows and disputes; the event time for Wise transfers,
//! which may roll back). Unknown event types are kept and marked ignored. A
//! failing event is retried with exponential backoff and, after
//! [`MAX_ATTEMPTS`], parked as `dead` with its error, raising the runbook's
//! "webhook delivery failures" alert; `lsn-ops worker replay ID` revives it.
//!
//! Applying events is the providers' doing: it takes no operator and is not
//! authorized (it is audited as [`WORKER`]). [`replay`] is an operator's
//! request and needs `OperateWorker` (`store::authz`).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::domain::disputes::{DisputeState, sla_due_at};
use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission};
use crate::domain::payments;
use crate::store::authz::{self, AuthError};

mod rooms;

/// Attempts before an event is parked as dead.
pub const MAX_ATTEMPTS: i32 = 8;
/// The operator name the worker writes in the audit log.
pub const WORKER: &str = "worker";

/// Settings the effects need from the configuration. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ApplySettings {
    /// Fraud rules, threshold and reference lists for scoring captured orders.
    pub scoring: std::sync::Arc<super::scoring::Scoring>,
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Kept but not applied: an event type lsn-ops does not act on, or a stale one.
    Ignored(String),
    /// The effect failed; retried later (or parked as dead).
    Failed(String),
}

/// An effect that cannot be applied (yet): unknown order, malformed resource...
#[derive(Debug)]
pub struct ApplyError(pub String);

impl From<sqlx::Error> for ApplyError {
    fn from(e: sqlx::Error) -> Self {
        ApplyError(crate::text::clip(&format!("database: {e}")).into_owned())
    }
}

type Applied = Result<Outcome, ApplyError>;

/// Backoff before attempt `attempts + 1`: 2, 4, 8 ... seconds, at most 10 minutes.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 12) as u32;
    Duration::seconds(2i64.pow(exp).min(600))
}

/// Claims and applies at most one due event, in a transaction of its own
/// (a batch of one). `None` when nothing is due.
pub async fn apply_next(
    pool: &PgPool,
    settings: ApplySettings,
) -> Result<Option<(i64, Outcome)>, sqlx::Error> {
    Ok(apply_batch(pool, &settings, 1).await?.into_iter().next())
}

/// Events claimed and applied in one transaction by [`apply_batch`].
pub const BATCH: usize = 200;

type Claimed = (i64, String, String, Value, i32, DateTime<Utc>);

/// Claims up to `max` due events (oldest first, `FOR UPDATE SKIP LOCKED`)
/// and applies them, in order, in one transaction: one commit (one WAL
/// flush) and one NOTIFY per table for the whole batch instead of one per
/// event. Each event's effect and its status row still commit together, so a
/// crash leaves the whole batch pending and nothing half done.
///
/// The fast path applies the batch without savepoints; if an effect fails
/// (a poison event, a refund before its capture) the transaction is rolled
/// back and the batch is applied again with a savepoint around each effect,
/// so the failure is recorded and the others still apply.
pub async fn apply_batch(
    pool: &PgPool,
    settings: &ApplySettings,
    max: usize,
) -> Result<Vec<(i64, Outcome)>, sqlx::Error> {
    match apply_claimed(pool, settings, max, false).await? {
        Some(done) => Ok(done),
        None => Ok(apply_claimed(pool, settings, max, true)
            .await?
            .unwrap_or_default()),
    }
}

/// One batch; `None` when the fast path met a failure (nothing committed).
async fn apply_claimed(
    pool: &PgPool,
    settings: &ApplySettings,
    max: usize,
    careful: bool,
) -> Result<Option<Vec<(i64, Outcome)>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<Claimed> = sqlx::query_as(
        "SELECT id, provider, event_type, payload, attempts, received_at FROM provider_events
          WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id
          LIMIT $1
          FOR UPDATE SKIP LOCKED",
    )
    .bind(i64::try_from(max.max(1)).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    let mut done: Vec<(i64, Outcome)> = Vec::with_capacity(rows.len());
    let mut rooms_batch = Vec::new();
    let mut malformed = std::collections::HashSet::new();
    for (id, provider, event_type, payload, _, received_at) in &rows {
        if let Err(why) = super::shapes::check(provider, event_type, payload) {
            malformed.insert(*id);
            done.push((*id, Outcome::Failed(why)));
            continue;
        }
        // Room callbacks are folded together (see `rooms`); they touch only
        // shows, which no other event type writes.
        if provider == "twilio" {
            rooms_batch.push((*id, payload));
            continue;
        }
        if careful {
            sqlx::query("SAVEPOINT effect").execute(&mut *tx).await?;
        }
        let result = apply_event(
            &mut tx,
            provider,
            event_type,
            payload,
            *received_at,
            settings,
        )
        .await;
        match result {
            Ok(outcome @ (Outcome::Applied | Outcome::Ignored(_))) => done.push((*id, outcome)),
            Ok(Outcome::Failed(message)) | Err(ApplyError(message)) => {
                if !careful {
                    tx.rollback().await?;
                    return Ok(None);
                }
                sqlx::query("ROLLBACK TO SAVEPOINT effect")
                    .execute(&mut *tx)
                    .await?;
                done.push((*id, Outcome::Failed(message)));
            }
        }
    }
    if !rooms_batch.is_empty() {
        match rooms::apply(&mut tx, &rooms_batch, careful).await {
            Ok(outcomes) => done.extend(outcomes),
            Err(_) if !careful => {
                tx.rollback().await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
    // Back in claim order, then each outcome recorded: applied and ignored
    // events in one statement each, failures one by one (they are rare).
    let order: std::collections::HashMap<i64, usize> =
        rows.iter().enumerate().map(|(n, row)| (row.0, n)).collect();
    done.sort_by_key(|(id, _)| order.get(id).copied().unwrap_or(usize::MAX));
    let mut applied = Vec::new();
    let (mut ignored, mut reasons) = (Vec::new(), Vec::new());
    for (id, outcome) in &done {
        match outcome {
            Outcome::Applied => applied.push(*id),
            Outcome::Ignored(reason) => {
                ignored.push(*id);
                reasons.push(reason.clone());
            }
            Outcome::Failed(message) => {
                let Some((_, provider, event_type, _, attempts, _)) =
                    order.get(id).and_then(|n| rows.get(*n))
                else {
                    continue;
                };
                record_failure(
                    &mut tx,
                    *id,
                    provider,
                    event_type,
                    attempts + 1,
                    message,
                    malformed.contains(id),
                )
                .await?;
            }
        }
    }
    if !applied.is_empty() {
        sqlx::query(
            "UPDATE provider_events SET status = 'applied', applied_at = now(), attempts = attempts + 1, last_error = NULL
              WHERE id = ANY($1)",
        )
        .bind(&applied)
        .execute(&mut *tx)
        .await?;
    }
    if !ignored.is_empty() {
        sqlx::query(
            "UPDATE provider_events e SET status = 'ignored', applied_at = now(), attempts = attempts + 1, last_error = t.reason
               FROM unnest($1::bigint[], $2::text[]) AS t(id, reason)
              WHERE e.id = t.id",
        )
        .bind(&ignored)
        .bind(&reasons)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(done))
}

/// Applies due events until none is due or `max` were handled, in batches
/// of at most [`BATCH`].
pub async fn apply_due(
    pool: &PgPool,
    settings: ApplySettings,
    max: usize,
) -> Result<usize, sqlx::Error> {
    let mut handled = 0;
    while handled < max {
        let done = apply_batch(pool, &settings, (max - handled).min(BATCH)).await?;
        if done.is_empty() {
            break;
        }
        handled += done.len();
    }
    Ok(handled)
}

/// Applies due events one transaction each until none is due or `max`
/// were handled (the slow path, kept for comparison in benchmarks).
pub async fn apply_due_one_by_one(
    pool: &PgPool,
    settings: ApplySettings,
    max: usize,
) -> Result<usize, sqlx::Error> {
    let mut handled = 0;
    while handled < max {
        match apply_next(pool, settings.clone()).await? {
            Some(_) => handled += 1,
            None => break,
        }
    }
    Ok(handled)
}

async fn record_failure(
    conn: &mut PgConnection,
    id: i64,
    provider: &str,
    event_type: &str,
    attempts: i32,
    message: &str,
    permanent: bool,
) -> Result<(), sqlx::Error> {
    // Permanent failures (a malformed payload) are parked at once; temporary
    // ones after MAX_ATTEMPTS. The message may quote the payload: clipped.
    let dead = permanent || attempts >= MAX_ATTEMPTS;
    let message = &*crate::text::clip(message);
    let message = &if permanent {
        format!("permanent: {message}")
    } else {
        message.to_string()
    };
    sqlx::query(
        "UPDATE provider_events SET status = $2, attempts = $3, last_error = $4, next_attempt_at = now() + $5
          WHERE id = $1",
    )
    .bind(id)
    .bind(if dead { "dead" } else { "failed" })
    .bind(attempts)
    .bind(message)
    .bind(backoff(attempts))
    .execute(&mut *conn)
    .await?;
    tracing::warn!(
        event = id,
        provider,
        event_type,
        attempts,
        dead,
        "event failed: {message}"
    );
    if dead {
        crate::store::alerts::raise(
            conn,
            "webhook_failures",
            &format!("webhook:dead:{provider}"),
            "warning",
            "P1",
            &format!("{provider} webhook events parked as dead"),
            &if permanent {
                format!("event #{id} ({}) cannot be applied: {message}; after a fix, replay with `lsn-ops worker replay {id}`", crate::text::clip(event_type))
            } else {
                format!("event #{id} ({}) failed {attempts} times: {message}; replay with `lsn-ops worker replay {id}`", crate::text::clip(event_type))
            },
        )
        .await?;
    }
    Ok(())
}

/// Puts a dead (or failed) event back in the queue, due now; audited.
/// `actor` needs `OperateWorker`, checked before anything is written.
pub async fn replay(pool: &PgPool, id: i64, actor: &Actor) -> Result<bool, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::OperateWorker).await?;
    let updated = sqlx::query(
        "UPDATE provider_events SET status = 'pending', attempts = 0, next_attempt_at = now()
          WHERE id = $1 AND status IN ('dead', 'failed')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    crate::store::audit(
        &mut tx,
        &actor.audit_name(),
        "event.replay",
        "provider_event",
        &id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn apply_event(
    conn: &mut PgConnection,
    provider: &str,
    event_type: &str,
    payload: &Value,
    received_at: DateTime<Utc>,
    settings: &ApplySettings,
) -> Applied {
    match (provider, event_type) {
        ("paypal", "PAYMENT.CAPTURE.COMPLETED") => capture_completed(conn, payload, settings).await,
        ("paypal", "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED") => {
            capture_denied(conn, payload).await
        }
        ("paypal", "PAYMENT.CAPTURE.REFUNDED") => capture_refunded(conn, payload, "REFUNDED").await,
        ("paypal", "PAYMENT.CAPTURE.REVERSED") => capture_refunded(conn, payload, "REVERSED").await,
        (
            "paypal",
            "CUSTOMER.DISPUTE.CREATED" | "CUSTOMER.DISPUTE.UPDATED" | "CUSTOMER.DISPUTE.RESOLVED",
        ) => dispute_event(conn, event_type, payload, received_at).await,
        ("wise", "transfers#state-change") => wise_state_change(conn, payload, received_at).await,
        _ => Ok(Outcome::Ignored(format!(
            "{provider} event type {event_type} is not acted on"
        ))),
    }
}

// --- Payload helpers ----------------------------------------------------

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

fn required<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str, ApplyError> {
    text(value, path).ok_or_else(|| ApplyError(format!("payload has no {}", path.join("."))))
}

fn time(value: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    text(value, path)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A PayPal `{currency_code, value}` amount, parsed exactly.
fn amount(value: &Value, path: &[&str]) -> Result<Money, ApplyError> {
    let mut prefix = path.to_vec();
    prefix.push("currency_code");
    let code = required(value, &prefix)?;
    let currency =
        Currency::parse(code).ok_or_else(|| ApplyError(format!("unknown currency {code:?}")))?;
    prefix.pop();
    prefix.push("value");
    Money::from_major_str(required(value, &prefix)?, currency)
        .map_err(|e| ApplyError(e.to_string()))
}

// --- PayPal payments ----------------------------------------------------

/// Rank of a payment status: a lower rank never overwrites a higher one.
pub fn payment_rank(status: &str) -> u8 {
    match status {
        "PENDING" => 0,
        "DENIED" | "DECLINED" | "FAILED" => 1,
        "COMPLETED" => 2,
        "PARTIALLY_REFUNDED" => 3,
        "REFUNDED" | "REVERSED" => 4,
        _ => 0,
    }
}

async fn order_by_reference(
    conn: &mut PgConnection,
    resource: &Value,
) -> Result<(i64, String), ApplyError> {
    let reference = text(resource, &["custom_id"])
        .or_else(|| text(resource, &["invoice_id"]))
        .ok_or_else(|| {
            ApplyError("capture has no custom_id or invoice_id naming the order".into())
        })?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, status FROM orders WHERE order_number = $1 FOR UPDATE")
            .bind(reference)
            .fetch_optional(&mut *conn)
            .await?;
    row.ok_or_else(|| ApplyError(format!("no order {reference}")))
}

/// Inserts or raises a payment's status; returns the status it had before.
async fn upsert_payment(
    conn: &mut PgConnection,
    order_id: i64,
    capture_id: &str,
    status: &str,
    money: Money,
    at: DateTime<Utc>,
) -> Result<Option<String>, ApplyError> {
    let previous: Option<String> =
        sqlx::query_scalar("SELECT status FROM payments WHERE capture_id = $1 FOR UPDATE")
            .bind(capture_id)
            .fetch_optional(&mut *conn)
            .await?;
    match &previous {
        None => {
            sqlx::query(
                "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(order_id)
            .bind(capture_id)
            .bind(status)
            .bind(money.minor)
            .bind(money.currency.code())
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        Some(old) if payment_rank(status) > payment_rank(old) => {
            sqlx::query("UPDATE payments SET status = $2, updated_at = $3 WHERE capture_id = $1")
                .bind(capture_id)
                .bind(status)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
        Some(_) => {}
    }
    Ok(previous)
}

async fn capture_completed(
    conn: &mut PgConnection,
    payload: &Value,
    settings: &ApplySettings,
) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let capture_id = required(resource, &["id"])?;
    let money = amount(resource, &["amount"])?;
    let at = time(resource, &["create_time"]).unwrap_or_else(Utc::now);
    let (order_id, status) = order_by_reference(conn, resource).await?;
    let previous = upsert_payment(conn, order_id, capture_id, "COMPLETED", money, at).await?;
    if previous
        .as_deref()
        .is_some_and(|p| payment_rank(p) >= payment_rank("COMPLETED"))
    {
        return Ok(Outcome::Ignored(format!(
            "capture {capture_id} already {}",
            previous.unwrap_or_default()
        )));
    }
    // A capture after the checkout expired (the worker cancelled the unpaid
    // order): the buyer paid, so the order stands again.
    let expired = status == "cancelled" && checkout_expired(conn, order_id).await?;
    if matches!(status.as_str(), "pending_payment" | "payment_failed") || expired {
        // First capture of this order: paid, stock reserved, fraud score computed.
        sqlx::query(
            "UPDATE orders SET status = 'paid', paid_at = $2, cancelled_at = NULL, cancel_reason = NULL
              WHERE id = $1",
        )
            .bind(order_id)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        // Each line's units reserved, with its stock movement (an oversell
        // raises its alert here, trigger products_oversold).
        crate::store::stock::reserve_order(conn, order_id, WORKER).await?;
        let score = super::scoring::score_order(conn, order_id, &settings.scoring).await?;
        crate::store::audit(
            conn,
            WORKER,
            "paypal.capture.completed",
            "order",
            &order_id.to_string(),
            serde_json::json!({ "capture_id": capture_id, "amount": money.to_major_string(), "currency": money.currency.code(), "fraud_score": score, "after_checkout_expired": expired }),
        )
        .await?;
    }
    Ok(Outcome::Applied)
}

/// The order was cancelled by the expiry of its checkout, never paid.
async fn checkout_expired(conn: &mut PgConnection, order_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT cancel_reason = 'checkout expired' AND paid_at IS NULL FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await
    .map(|v: Option<Option<bool>>| v.flatten().unwrap_or(false))
}

async fn capture_denied(conn: &mut PgConnection, payload: &Value) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let capture_id = required(resource, &["id"])?;
    let money = amount(resource, &["amount"])?;
    let at = time(resource, &["update_time"])
        .or_else(|| time(resource, &["create_time"]))
        .unwrap_or_else(Utc::now);
    let (order_id, status) = order_by_reference(conn, resource).await?;
    let previous = upsert_payment(conn, order_id, capture_id, "DENIED", money, at).await?;
    if previous
        .as_deref()
        .is_some_and(|p| payment_rank(p) >= payment_rank("DENIED"))
    {
        return Ok(Outcome::Ignored(format!(
            "capture {capture_id} already {}",
            previous.unwrap_or_default()
        )));
    }
    if status == "pending_payment" {
        sqlx::query("UPDATE orders SET status = 'payment_failed' WHERE id = $1")
            .bind(order_id)
            .execute(&mut *conn)
            .await?;
    }
    crate::store::audit(
        conn,
        WORKER,
        "paypal.capture.denied",
        "order",
        &order_id.to_string(),
        serde_json::json!({ "capture_id": capture_id }),
    )
    .await?;
    Ok(Outcome::Applied)
}

/// The capture a refund belongs to: an explicit field, or the `up` link.
fn refund_capture_id(resource: &Value) -> Option<String> {
    if let Some(id) = text(resource, &["capture_id"]) {
        return Some(id.to_string());
    }
    let links = resource.get("links")?.as_array()?;
    links
        .iter()
        .filter(|l| l.get("rel").and_then(Value::as_str) == Some("up"))
        .filter_map(|l| l.get("href").and_then(Value::as_str))
        .find_map(|href| {
            href.split("/captures/")
                .nth(1)
                .map(|rest| rest.trim_end_matches('/').to_string())
        })
}

async fn capture_refunded(conn: &mut PgConnection, payload: &Value, kind: &str) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let resource_id = required(resource, &["id"])?;
    // REVERSED carries the capture itself; REFUNDED carries the refund (lenient: either).
    let (capture_id, refund_id) = match refund_capture_id(resource) {
        Some(capture) => (capture, resource_id.to_string()),
        None => (resource_id.to_string(), format!("{kind}-{resource_id}")),
    };
    let money = amount(resource, &["amount"])?;
    let payment: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, order_id, amount_minor, refunded_minor FROM payments WHERE capture_id = $1 FOR UPDATE",
    )
    .bind(&capture_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (payment_id, order_id, captured, refunded) =
        payment.ok_or_else(|| ApplyError(format!("no payment with capture {capture_id}")))?;
    // A refund lsn-ops asked for carries our idempotency key as custom_id:
    // our own row completes (counted and its stock released once).
    if kind == "REFUNDED"
        && let Some(custom) = text(resource, &["custom_id"])
    {
        match super::refunds::complete_ours(conn, custom, &refund_id).await? {
            Some(true) => {
                crate::store::audit(
                    conn,
                    WORKER,
                    "paypal.capture.refunded",
                    "order",
                    &order_id.to_string(),
                    serde_json::json!({ "capture_id": capture_id, "refund_id": refund_id,
                                        "amount": money.to_major_string(), "ours": custom }),
                )
                .await?;
                return Ok(Outcome::Applied);
            }
            Some(false) => {
                return Ok(Outcome::Ignored(format!(
                    "refund {refund_id} already recorded"
                )));
            }
            None => {}
        }
    }
    // An accepted claim's refund is made by PayPal itself: its webhook carries
    // no custom_id of ours, and our row (recorded at accept, completed by the
    // executor's answer) does not know PayPal's refund id. The first refund of
    // this payment and amount that no row names is that one, not another.
    if kind == "REFUNDED" {
        let accepted: Option<String> = sqlx::query_scalar(
            "SELECT idempotency_key FROM refunds
              WHERE payment_id = $1 AND amount_minor = $2 AND paypal_refund_id IS NULL
                AND idempotency_key LIKE 'dispute-accept:%' AND status IN ('pending', 'completed')
              ORDER BY id LIMIT 1",
        )
        .bind(payment_id)
        .bind(money.minor)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(key) = accepted
            && let Some(counted) = super::refunds::complete_ours(conn, &key, &refund_id).await?
        {
            crate::store::audit(
                conn,
                WORKER,
                "paypal.capture.refunded",
                "order",
                &order_id.to_string(),
                serde_json::json!({ "capture_id": capture_id, "refund_id": refund_id,
                                    "amount": money.to_major_string(), "ours": key,
                                    "counted_now": counted }),
            )
            .await?;
            return Ok(Outcome::Applied);
        }
    }
    // A refund already completed here (by the executor's answer or an earlier
    // webhook) was counted then. One still pending (PayPal answered PENDING)
    // completes now and is counted now.
    let existing: Option<String> =
        sqlx::query_scalar("SELECT status FROM refunds WHERE paypal_refund_id = $1 FOR UPDATE")
            .bind(&refund_id)
            .fetch_optional(&mut *conn)
            .await?;
    if existing.as_deref() == Some("completed") {
        return Ok(Outcome::Ignored(format!(
            "refund {refund_id} already recorded"
        )));
    }
    sqlx::query(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, status, reason, requested_by,
                              idempotency_key, paypal_refund_id, completed_at)
         VALUES ($1, $2, $3, $4, 'completed', $5, 'paypal', $6, $7, now())
         ON CONFLICT (paypal_refund_id) DO UPDATE SET status = 'completed', completed_at = COALESCE(refunds.completed_at, now())",
    )
    .bind(order_id)
    .bind(payment_id)
    .bind(money.minor)
    .bind(money.currency.code())
    .bind(if kind == "REVERSED" { "payment reversed at PayPal" } else { "refund completed at PayPal" })
    .bind(format!("paypal-{refund_id}"))
    .bind(&refund_id)
    .execute(&mut *conn)
    .await?;
    let after = payments::after_refund(captured, refunded, money.minor, kind == "REVERSED");
    sqlx::query(
        "UPDATE payments SET refunded_minor = $2, status = $3, updated_at = now() WHERE id = $1",
    )
    .bind(payment_id)
    .bind(after.refunded_minor)
    .bind(after.status)
    .execute(&mut *conn)
    .await?;
    if after.in_full {
        sqlx::query(
            "UPDATE orders SET status = 'refunded'
              WHERE id = $1 AND status <> 'cancelled'
                AND NOT EXISTS (SELECT 1 FROM payments WHERE order_id = $1
                                   AND status IN ('COMPLETED', 'PARTIALLY_REFUNDED'))",
        )
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    }
    crate::store::audit(
        conn,
        WORKER,
        &format!("paypal.capture.{}", kind.to_lowercase()),
        "order",
        &order_id.to_string(),
        serde_json::json!({ "capture_id": capture_id, "refund_id": refund_id, "amount": money.to_major_string() }),
    )
    .await?;
    Ok(Outcome::Applied)
}

// --- PayPal disputes ------------------------------------------------------

/// The state a dispute should reach for PayPal's status and outcome.
fn dispute_target(status: Option<&str>, outcome: Option<&str>) -> DisputeState {
    match (status, outcome) {
        (_, Some("RESOLVED_SELLER_FAVOUR" | "CANCELED_BY_BUYER" | "DENIED")) => DisputeState::Won,
        (_, Some("RESOLVED_BUYER_FAVOUR" | "RESOLVED_WITH_PAYOUT" | "ACCEPTED")) => {
            DisputeState::Lost
        }
        (Some("WAITING_FOR_SELLER_RESPONSE"), _) => DisputeState::EvidenceRequired,
        _ => DisputeState::Open,
    }
}

async fn dispute_event(
    conn: &mut PgConnection,
    event_type: &str,
    payload: &Value,
    received_at: DateTime<Utc>,
) -> Applied {
    let resource = payload
        .get("resource")
        .ok_or_else(|| ApplyError("no resource".into()))?;
    let dispute_id = required(resource, &["dispute_id"])?;
    let status = text(resource, &["status"]);
    let outcome = text(resource, &["dispute_outcome", "outcome_code"]);
    let updated = time(resource, &["update_time"])
        .or_else(|| time(resource, &["create_time"]))
        .unwrap_or_else(Utc::now);
    // A future-dated update orders at its receipt (issue 18: never frozen).
    let updated = super::limits::ordering_time(updated, received_at);
    let due = time(resource, &["seller_response_due_date"]);
    let stage = text(resource, &["dispute_life_cycle_stage"]);
    let existing: Option<(i64, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT id, state, paypal_updated_at FROM disputes WHERE paypal_dispute_id = $1 FOR UPDATE",
    )
    .bind(dispute_id)
    .fetch_optional(&mut *conn)
    .await?;
    let target = dispute_target(status, outcome);
    let (id, from) = match existing {
        Some((id, state, last)) => {
            if last.is_some_and(|last| updated < last) {
                return Ok(Outcome::Ignored(format!(
                    "dispute {dispute_id}: update from {updated} is older than the one applied"
                )));
            }
            (
                id,
                DisputeState::parse(&state).unwrap_or(DisputeState::Open),
            )
        }
        None => {
            let money = amount(resource, &["dispute_amount"])?;
            let opened = time(resource, &["create_time"]).unwrap_or(updated);
            let capture = resource
                .get("disputed_transactions")
                .and_then(Value::as_array)
                .and_then(|txs| txs.first())
                .and_then(|t| text(t, &["seller_transaction_id"]));
            let payment: Option<(i64, i64)> = match capture {
                Some(c) => {
                    sqlx::query_as("SELECT id, order_id FROM payments WHERE capture_id = $1")
                        .bind(c)
                        .fetch_optional(&mut *conn)
                        .await?
                }
                None => None,
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO disputes (paypal_dispute_id, order_id, payment_id, state, reason, paypal_status, life_cycle_stage,
                                       amount_minor, currency, opened_at, sla_due_at, seller_response_due_at, paypal_updated_at)
                 VALUES ($1, $2, $3, 'OPEN', $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(dispute_id)
            .bind(payment.map(|p| p.1))
            .bind(payment.map(|p| p.0))
            .bind(text(resource, &["reason"]).unwrap_or("OTHER"))
            .bind(status)
            .bind(stage)
            .bind(money.minor)
            .bind(money.currency.code())
            .bind(opened)
            .bind(sla_due_at(opened))
            .bind(due)
            .bind(updated)
            .fetch_one(&mut *conn)
            .await?;
            crate::store::disputes::gather::create_items(conn, id).await?;
            (id, DisputeState::Open)
        }
    };
    // Forward only: move when the target is a legal next state; never back.
    let next = if from == target || !from.can_move_to(target) {
        from
    } else {
        target
    };
    let decided = matches!(next, DisputeState::Won | DisputeState::Lost) && next != from;
    // What a lost case cost: PayPal's refunded amount, else the amount disputed.
    let lost_minor = (decided && next == DisputeState::Lost).then(|| {
        amount(resource, &["dispute_outcome", "amount_refunded"])
            .ok()
            .map(|m| m.minor)
    });
    sqlx::query(
        "UPDATE disputes SET state = $2, outcome = COALESCE($3, outcome), paypal_status = COALESCE($4, paypal_status),
                life_cycle_stage = COALESCE($5, life_cycle_stage), seller_response_due_at = COALESCE($6, seller_response_due_at),
                resolved_at = CASE WHEN $3 IS NOT NULL THEN COALESCE(resolved_at, $7) ELSE resolved_at END,
                lost_minor = CASE WHEN $8 THEN COALESCE($9, amount_minor) ELSE lost_minor END,
                paypal_updated_at = $7, updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(next.as_str())
    .bind(matches!(next, DisputeState::Won | DisputeState::Lost).then(|| next.as_str()))
    .bind(status)
    .bind(stage)
    .bind(due)
    .bind(updated)
    .bind(lost_minor.is_some())
    .bind(lost_minor.flatten())
    .execute(&mut *conn)
    .await?;
    crate::store::audit(
        conn,
        WORKER,
        &format!("paypal.{}", event_type.to_lowercase()),
        "dispute",
        &id.to_string(),
        serde_json::json!({ "paypal_dispute_id": dispute_id, "from": from.as_str(), "to": next.as_str() }),
    )
    .await?;
    // A final outcome closes the case (PayPal's status RESOLVED): one more
    // audited step, WON/LOST → CLOSED.
    if matches!(next, DisputeState::Won | DisputeState::Lost) && status == Some("RESOLVED") {
        sqlx::query(
            "UPDATE disputes SET state = 'CLOSED', closed_at = COALESCE(closed_at, $2), updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(updated)
        .execute(&mut *conn)
        .await?;
        crate::store::audit(
            conn,
            WORKER,
            "dispute.state",
            "dispute",
            &id.to_string(),
            serde_json::json!({ "paypal_dispute_id": dispute_id, "from": next.as_str(), "to": "CLOSED", "why": "outcome final" }),
        )
        .await?;
    }
    // Evidence from the data, as soon as the dispute exists (and again on
    // each update: PayPal asking for evidence moves it on).
    if next.awaiting_evidence() {
        crate::store::disputes::gather(conn, id).await?;
    }
    Ok(Outcome::Applied)
}

// --- Wise -------------------------------------------------------------------

/// Payout line state for a Wise transfer state.
pub fn payout_state_for(wise_state: &str) -> Option<&'static str> {
    match wise_state {
        "incoming_payment_waiting"
        | "incoming_payment_initiated"
        | "processing"
        | "funds_converted" => Some("processing"),
        "outgoing_payment_sent" => Some("sent"),
        "bounced_back" | "cancelled" | "funds_refunded" | "charged_back" => Some("failed"),
        _ => None,
    }
}

async fn wise_state_change(
    conn: &mut PgConnection,
    payload: &Value,
    received_at: DateTime<Utc>,
) -> Applied {
    let data = payload
        .get("data")
        .ok_or_else(|| ApplyError("no data".into()))?;
    let transfer_id = data
        .get("resource")
        .and_then(|r| r.get("id"))
        .and_then(Value::as_i64)
        .ok_or_else(|| ApplyError("payload has no data.resource.id".into()))?;
    let current = required(data, &["current_state"])?;
    // Issue 18: a webhook dated past its receipt orders at its receipt, so
    // one event cannot freeze the line; Wise's own API answer (a sync, filed
    // by `reconcile::record_answer`) is the truth and wins over any webhook.
    let from_sync = payload.get("source").and_then(Value::as_str) == Some("sync");
    let occurred = super::limits::ordering_time(
        time(data, &["occurred_at"]).unwrap_or_else(Utc::now),
        received_at,
    );
    let Some(state) = payout_state_for(current) else {
        return Ok(Outcome::Ignored(format!(
            "transfer state {current} is not acted on"
        )));
    };
    let row: Option<(i64, i64, Option<DateTime<Utc>>, String)> = sqlx::query_as(
        "SELECT id, batch_id, wise_status_at, state FROM payout_items WHERE wise_transfer_id = $1 FOR UPDATE",
    )
    .bind(transfer_id)
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_none() {
        // A transfer a retry replaced: its late events change nothing.
        let replaced: Option<i64> = sqlx::query_scalar(
            "SELECT payout_item_id FROM payout_transfers WHERE wise_transfer_id = $1",
        )
        .bind(transfer_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(item) = replaced {
            return Ok(Outcome::Ignored(format!(
                "transfer {transfer_id} of payout line #{item} was replaced by a retry"
            )));
        }
    }
    // The transfer may not be recorded yet (the executor records it after Wise answers): retry.
    let (item_id, batch_id, last, line_state) =
        row.ok_or_else(|| ApplyError(format!("no payout line for Wise transfer {transfer_id}")))?;
    if !from_sync && last.is_some_and(|last| occurred <= last) {
        return Ok(Outcome::Ignored(format!(
            "transfer {transfer_id}: {current} at {occurred} is older than the state held"
        )));
    }
    sqlx::query(
        "UPDATE payout_items SET wise_status = $2, wise_status_at = $3, state = $4, updated_at = now(),
                failure_reason = CASE WHEN $4 = 'failed' THEN 'Wise transfer ' || $2 ELSE failure_reason END
          WHERE id = $1",
    )
    .bind(item_id)
    .bind(current)
    .bind(occurred)
    .bind(state)
    .execute(&mut *conn)
    .await?;
    if state == "failed" && line_state != "failed" {
        payout_failed_alert(
            conn,
            item_id,
            &format!("Wise transfer {transfer_id} {current}"),
        )
        .await?;
    }
    // The batch follows its lines once it is being processed.
    sqlx::query(
        "UPDATE payout_batches b SET
            state = CASE WHEN s.processing > 0 OR s.pending > 0 THEN 'processing'
                         WHEN s.failed > 0 THEN 'partially_failed' ELSE 'completed' END,
            completed_at = CASE WHEN s.processing = 0 AND s.pending = 0 AND s.failed = 0 THEN now() ELSE NULL END
           FROM (SELECT count(*) FILTER (WHERE state = 'processing') AS processing,
                        count(*) FILTER (WHERE state = 'pending') AS pending,
                        count(*) FILTER (WHERE state = 'failed') AS failed
                   FROM payout_items WHERE batch_id = $1) s
          WHERE b.id = $1 AND b.state IN ('processing', 'completed', 'partially_failed')",
    )
    .bind(batch_id)
    .execute(&mut *conn)
    .await?;
    crate::store::audit(
        conn,
        WORKER,
        "wise.transfer.state_change",
        "payout_item",
        &item_id.to_string(),
        serde_json::json!({ "transfer_id": transfer_id, "state": current, "occurred_at": occurred }),
    )
    .await?;
    Ok(Outcome::Applied)
}

/// The P1 "creator payout failures" alert for a line that failed (one open
/// alert per batch; each failure bumps it).
pub async fn payout_failed_alert(
    conn: &mut PgConnection,
    item_id: i64,
    why: &str,
) -> Result<(), sqlx::Error> {
    let line: Option<(i64, String)> = sqlx::query_as(
        "SELECT pi.batch_id, c.handle FROM payout_items pi JOIN creators c ON c.id = pi.creator_id WHERE pi.id = $1",
    )
    .bind(item_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((batch_id, creator)) = line else {
        return Ok(());
    };
    crate::store::alerts::raise(
        conn,
        "payout_failures",
        &format!("payout:failed:batch:{batch_id}"),
        "warning",
        "P1",
        &format!("Creator payout failed in batch #{batch_id}"),
        &format!(
            "line #{item_id} ({creator}): {why}; check the bank details, then `lsn-ops payouts retry {batch_id} --line {item_id}`"
        ),
    )
    .await
    .map(|_| ())
}

// --- Twilio: see `rooms` ------------------------------------------------------

/// The applier task: applies due events until `shutdown` fires, waking on the
/// inbox's NOTIFY and at least every `poll`. Database outages are logged and
/// retried; an event is never lost (it stays in the inbox).
pub async fn run(
    pool: PgPool,
    settings: ApplySettings,
    poll: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut wake = super::wake::Wake::new(pool.clone(), crate::store::CHANGE_CHANNEL, "applier");
    loop {
        if *shutdown.borrow() {
            return;
        }
        match apply_due(&pool, settings.clone(), 500).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!("applier: {e}"),
        }
        wake.wait(poll, &mut shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_never_let_an_old_event_win() {
        assert!(payment_rank("COMPLETED") > payment_rank("PENDING"));
        assert!(payment_rank("REFUNDED") > payment_rank("COMPLETED"));
        assert!(payment_rank("DENIED") < payment_rank("COMPLETED"));
        assert_eq!(payout_state_for("outgoing_payment_sent"), Some("sent"));
        assert_eq!(payout_state_for("bounced_back"), Some("failed"));
        assert_eq!(payout_state_for("unknown"), None);
    }

    #[test]
    fn dispute_targets_follow_paypal_status_and_outcome() {
        assert_eq!(
            dispute_target(Some("WAITING_FOR_SELLER_RESPONSE"), None),
            DisputeState::EvidenceRequired
        );
        assert_eq!(
            dispute_target(Some("RESOLVED"), Some("RESOLVED_SELLER_FAVOUR")),
            DisputeState::Won
        );
        assert_eq!(
            dispute_target(Some("RESOLVED"), Some("RESOLVED_BUYER_FAVOUR")),
            DisputeState::Lost
        );
        assert_eq!(dispute_target(Some("OPEN"), None), DisputeState::Open);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(3), Duration::seconds(8));
        assert_eq!(backoff(20), Duration::seconds(600));
    }

    #[test]
    fn refund_capture_comes_from_the_up_link() {
        let refund = serde_json::json!({ "id": "R1", "links": [
            { "rel": "self", "href": "https://api-m.paypal.com/v2/payments/refunds/R1" },
            { "rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/CAP9" } ] });
        assert_eq!(refund_capture_id(&refund).as_deref(), Some("CAP9"));
        assert_eq!(
            refund_capture_id(&serde_json::json!({ "id": "CAP9" })),
            None
        );
    }
}
