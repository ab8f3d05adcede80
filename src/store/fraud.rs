//! Fraud triage in the store: claims (one analyst per order), decisions that
//! hold only while the order is still undecided, the refund a decline sends
//! through the outbox, blocklist entries, undo before any provider call, and
//! the feedback report. Every change is one transaction with its audit row,
//! made on an operator's behalf: it takes the [`Actor`] and checks them with
//! [`authz::authorize`] in that transaction before writing anything (claims,
//! releases, decisions and undo need `DecideFraud`, blocklist edits
//! `EditBlocklist`, a decline's refund [`authz::authorize_refund`]). Claims,
//! decisions and blocklist rows name `actor.name`; audit rows name
//! `actor.audit_name()` ("root as maria").

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission, Refusal};
use crate::store::authz::{self, AuthError};
use crate::store::outbox::{self, CommandKind};

/// How long opening an order keeps it for one analyst.
pub const CLAIM_TTL: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockToggles {
    pub ip: bool,
    pub email: bool,
    pub device: bool,
    pub payer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The order proceeds; the score was a false positive.
    Approve,
    /// Held 24 or 48 hours while the customer is contacted; back in the queue after.
    Review { hold_hours: u8 },
    /// Refunded now through the outbox, optionally blocklisting what it used.
    Decline { block: BlockToggles },
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Review { .. } => "review",
            Decision::Decline { .. } => "decline",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DecisionRequest {
    pub order_id: i64,
    /// Who decides: their role applies, their name goes on the decision.
    pub actor: Actor,
    pub decision: Decision,
    pub reason: String,
    /// The score the analyst saw when deciding.
    pub score_seen: u8,
    /// Largest refund an `agent` may issue (minor units); finance/admin have none.
    pub agent_refund_limit_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("a reason is required")]
    EmptyReason,
    /// The operator may not decide (a viewer, finance, a read-only session, a
    /// non-admin acting as someone): nothing was written.
    #[error("{0}")]
    Refused(Refusal),
    /// A decline whose refund is over the agent limit (`Refusal::OverRefundLimit`
    /// with the amounts in minor units, for the dashboard to format): nothing was written.
    #[error(
        "a refund of {amount_minor} (minor units) is over the agent limit of {limit_minor}: finance or an admin must issue it"
    )]
    OverRefundLimit { amount_minor: i64, limit_minor: i64 },
    #[error("already decided by {by} at {at}")]
    AlreadyDecided { by: String, at: DateTime<Utc> },
    #[error("being reviewed by {by} until {until}")]
    ClaimedBy { by: String, until: DateTime<Utc> },
    #[error("order #{0} is not in the fraud queue")]
    NotInQueue(i64),
    #[error("database: {0}")]
    Sql(String),
}

impl From<sqlx::Error> for DecideError {
    fn from(e: sqlx::Error) -> Self {
        DecideError::Sql(e.to_string())
    }
}

impl From<AuthError> for DecideError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(r) => DecideError::Refused(r),
            AuthError::Sql(e) => e.into(),
        }
    }
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub decision_id: i64,
    pub refund_command: Option<i64>,
    pub blocklisted: usize,
}

/// Who holds a claim on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Mine { until: DateTime<Utc> },
    Theirs { by: String, until: DateTime<Utc> },
}

/// Claims `order_id` for `actor` (or extends their claim); someone else's
/// live claim is reported, not taken.
pub async fn claim(
    pool: &PgPool,
    order_id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Claim, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::DecideFraud).await?;
    let until = now + CLAIM_TTL;
    // Taken when free, expired, or already ours; otherwise nothing is returned.
    let taken: Option<DateTime<Utc>> = sqlx::query_scalar(
        "INSERT INTO fraud_claims (order_id, operator, claimed_at, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (order_id) DO UPDATE
            SET operator = EXCLUDED.operator, claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
          WHERE fraud_claims.operator = EXCLUDED.operator OR fraud_claims.expires_at <= $3
         RETURNING expires_at",
    )
    .bind(order_id)
    .bind(&actor.name)
    .bind(now)
    .bind(until)
    .fetch_optional(&mut *tx)
    .await?;
    let claim = match taken {
        Some(until) => Claim::Mine { until },
        None => {
            let (by, until): (String, DateTime<Utc>) =
                sqlx::query_as("SELECT operator, expires_at FROM fraud_claims WHERE order_id = $1")
                    .bind(order_id)
                    .fetch_one(&mut *tx)
                    .await?;
            Claim::Theirs { by, until }
        }
    };
    tx.commit().await?;
    Ok(claim)
}

/// Releases `actor`'s claim (closing the order without deciding).
pub async fn release(pool: &PgPool, order_id: i64, actor: &Actor) -> Result<(), AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::DecideFraud).await?;
    sqlx::query("DELETE FROM fraud_claims WHERE order_id = $1 AND operator = $2")
        .bind(order_id)
        .bind(&actor.name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a decision if, and only if, the order is still undecided (pending,
/// or back from an expired review hold) and not claimed by someone else.
pub async fn decide(
    pool: &PgPool,
    request: &DecisionRequest,
    now: DateTime<Utc>,
) -> Result<Decided, DecideError> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(DecideError::EmptyReason);
    }
    let actor = &request.actor;
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::DecideFraud).await?;
    if let Decision::Decline { block } = request.decision
        && block != BlockToggles::default()
    {
        authz::authorize(&mut tx, actor, Permission::EditBlocklist).await?;
    }
    // The row lock serialises deciders: the second one sees the first one's decision.
    #[derive(sqlx::FromRow)]
    struct OrderRow {
        fraud_state: String,
        fraud_hold_until: Option<DateTime<Utc>>,
        ip: Option<String>,
        email: String,
        device_fingerprint: Option<String>,
        paypal_payer_id: Option<String>,
    }
    let order: Option<OrderRow> = sqlx::query_as(
        "SELECT fraud_state, fraud_hold_until, host(ip) AS ip, email, device_fingerprint, paypal_payer_id
           FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(request.order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(OrderRow {
        fraud_state: state,
        fraud_hold_until: hold_until,
        ip,
        email,
        device_fingerprint: device,
        paypal_payer_id: payer,
    }) = order
    else {
        return Err(DecideError::NotInQueue(request.order_id));
    };
    let in_queue = crate::domain::fraud::FraudState::parse(&state)
        .is_some_and(|s| s.is_decidable(hold_until, now));
    if !in_queue {
        let last: Option<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT operator, decided_at FROM fraud_decisions WHERE order_id = $1 AND undone_at IS NULL
              ORDER BY decided_at DESC, id DESC LIMIT 1",
        )
        .bind(request.order_id)
        .fetch_optional(&mut *tx)
        .await?;
        return Err(match last {
            Some((by, at)) => DecideError::AlreadyDecided { by, at },
            None => DecideError::NotInQueue(request.order_id),
        });
    }
    let claim: Option<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT operator, expires_at FROM fraud_claims WHERE order_id = $1 AND expires_at > $2",
    )
    .bind(request.order_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((by, until)) = claim.filter(|(by, _)| *by != actor.name) {
        return Err(DecideError::ClaimedBy { by, until });
    }
    // A decline refunds what is still captured: checked against the refund
    // limit here, before anything is written.
    let refund = match request.decision {
        Decision::Decline { .. } => {
            let payment: Option<(i64, i64, String)> = sqlx::query_as(
                "SELECT p.id, p.amount_minor - p.refunded_minor
                            - coalesce((SELECT sum(r.amount_minor) FROM refunds r
                                         WHERE r.payment_id = p.id AND r.status IN ('requested', 'pending')), 0)::bigint,
                        p.currency::text
                   FROM payments p
                  WHERE p.order_id = $1 AND p.status IN ('COMPLETED', 'PARTIALLY_REFUNDED')
                  ORDER BY p.id LIMIT 1 FOR UPDATE OF p",
            )
            .bind(request.order_id)
            .fetch_optional(&mut *tx)
            .await?;
            payment.filter(|p| p.1 > 0)
        }
        _ => None,
    };
    if let Some((_, amount, currency)) = &refund {
        let currency = Currency::parse(currency.trim()).unwrap_or(Currency::USD);
        let limit = request.agent_refund_limit_minor;
        match authz::authorize_refund(&mut tx, actor, Money::new(*amount, currency), limit).await {
            Ok(_) => {}
            Err(AuthError::Refused(Refusal::OverRefundLimit { .. })) => {
                return Err(DecideError::OverRefundLimit {
                    amount_minor: *amount,
                    limit_minor: limit,
                });
            }
            Err(e) => return Err(e.into()),
        }
    }

    let hold = match request.decision {
        Decision::Review { hold_hours } => {
            Some(now + Duration::hours(i64::from(hold_hours.clamp(24, 48))))
        }
        _ => None,
    };
    let decision_id: i64 = sqlx::query_scalar(
        "INSERT INTO fraud_decisions (order_id, decision, reason, operator, score_seen, hold_until, decided_at, previous_state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(request.order_id)
    .bind(request.decision.as_str())
    .bind(reason)
    .bind(&actor.name)
    .bind(i16::from(request.score_seen))
    .bind(hold)
    .bind(now)
    .bind(&state)
    .fetch_one(&mut *tx)
    .await?;
    let (new_state, new_status) = match request.decision {
        Decision::Approve => (crate::domain::fraud::FraudState::Approved, Some("paid")),
        Decision::Review { .. } => (crate::domain::fraud::FraudState::Review, None),
        Decision::Decline { .. } => (crate::domain::fraud::FraudState::Declined, None),
    };
    sqlx::query(
        "UPDATE orders SET fraud_state = $2, fraud_hold_until = $3,
                           status = CASE WHEN $4::text IS NOT NULL AND status = 'on_hold' THEN $4 ELSE status END
          WHERE id = $1",
    )
    .bind(request.order_id)
    .bind(new_state.as_str())
    .bind(hold)
    .bind(new_status)
    .execute(&mut *tx)
    .await?;

    let mut refund_command = None;
    let mut blocklisted = 0;
    if let Decision::Decline { block } = request.decision {
        // Refund what is still captured, through the outbox: the worker calls
        // PayPal with this command's key, so it happens once whatever crashes.
        if let Some((payment_id, amount, currency)) = refund {
            let key = format!("fraud-decline-{}-{decision_id}", request.order_id);
            let refund_id: i64 = sqlx::query_scalar(
                "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, status, reason, requested_by, idempotency_key)
                 VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7) RETURNING id",
            )
            .bind(request.order_id)
            .bind(payment_id)
            .bind(amount)
            .bind(currency.trim())
            .bind(format!("Declined as fraud: {reason}"))
            .bind(&actor.name)
            .bind(&key)
            .fetch_one(&mut *tx)
            .await?;
            // Every unit not yet given back returns to stock once PayPal
            // confirms the refund (a decline undone before that keeps them).
            sqlx::query(
                "INSERT INTO refund_items (refund_id, order_item_id, quantity)
                 SELECT $1, id, quantity - released_qty FROM order_items
                  WHERE order_id = $2 AND quantity > released_qty",
            )
            .bind(refund_id)
            .bind(request.order_id)
            .execute(&mut *tx)
            .await?;
            refund_command = outbox::enqueue(
                &mut tx,
                CommandKind::PaypalRefund,
                &key,
                &json!({ "refund_id": refund_id }),
                &actor.name,
            )
            .await?;
            sqlx::query("UPDATE fraud_decisions SET refund_id = $2, command_id = $3 WHERE id = $1")
                .bind(decision_id)
                .bind(refund_id)
                .bind(refund_command)
                .execute(&mut *tx)
                .await?;
        }
        let entries = [
            (block.ip, "ip", ip),
            (block.email, "email", Some(email)),
            (block.device, "device", device),
            (block.payer, "payer", payer),
        ];
        for (wanted, kind, value) in entries {
            let Some(value) = value.filter(|v| wanted && !v.is_empty()) else {
                continue;
            };
            let added = sqlx::query(
                "INSERT INTO blocklist (kind, value, reason, added_by, decision_id) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (kind, value) WHERE removed_at IS NULL DO NOTHING",
            )
            .bind(kind)
            .bind(&value)
            .bind(reason)
            .bind(&actor.name)
            .bind(decision_id)
            .execute(&mut *tx)
            .await?;
            blocklisted += added.rows_affected() as usize;
        }
    }
    sqlx::query("DELETE FROM fraud_claims WHERE order_id = $1")
        .bind(request.order_id)
        .execute(&mut *tx)
        .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        &format!("fraud.{}", request.decision.as_str()),
        "order",
        &request.order_id.to_string(),
        json!({ "reason": reason, "score_seen": request.score_seen, "decision_id": decision_id,
                "hold_until": hold, "refund_command": refund_command, "blocklisted": blocklisted }),
    )
    .await?;
    tx.commit().await?;
    Ok(Decided {
        decision_id,
        refund_command,
        blocklisted,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    #[error("nothing to undo")]
    Nothing,
    #[error("too late to undo: the refund has already been sent to PayPal")]
    ProviderCalled,
    /// The operator may not undo (see [`Refusal`]): nothing was written.
    #[error("{0}")]
    Refused(Refusal),
    #[error("database: {0}")]
    Sql(String),
}

impl From<sqlx::Error> for UndoError {
    fn from(e: sqlx::Error) -> Self {
        UndoError::Sql(e.to_string())
    }
}

impl From<AuthError> for UndoError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(r) => UndoError::Refused(r),
            AuthError::Sql(e) => e.into(),
        }
    }
}

/// Undoes `actor`'s latest decision while no provider call has been made
/// for it: the order goes back to the queue, its refund and blocklist entries
/// are withdrawn. Returns the order id.
pub async fn undo_last(pool: &PgPool, actor: &Actor) -> Result<i64, UndoError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::DecideFraud).await?;
    let operator = actor.name.as_str();
    type LastDecision = (i64, i64, Option<String>, Option<i64>, Option<i64>);
    let last: Option<LastDecision> = sqlx::query_as(
        "SELECT id, order_id, previous_state, refund_id, command_id FROM fraud_decisions
          WHERE operator = $1 AND undone_at IS NULL ORDER BY decided_at DESC, id DESC LIMIT 1 FOR UPDATE",
    )
    .bind(operator)
    .fetch_optional(&mut *tx)
    .await?;
    let (decision_id, order_id, previous, refund_id, command_id) =
        last.ok_or(UndoError::Nothing)?;
    if let Some(command) = command_id {
        // Only a command never attempted is certainly not at PayPal.
        let cancelled = sqlx::query(
            "UPDATE commands SET state = 'cancelled', completed_at = now() WHERE id = $1 AND state = 'pending' AND attempts = 0",
        )
        .bind(command)
        .execute(&mut *tx)
        .await?;
        if cancelled.rows_affected() == 0 {
            return Err(UndoError::ProviderCalled);
        }
    }
    if let Some(refund) = refund_id {
        sqlx::query("UPDATE refunds SET status = 'cancelled' WHERE id = $1")
            .bind(refund)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE blocklist SET removed_at = now(), removed_by = $2, removed_reason = 'decision undone' WHERE decision_id = $1 AND removed_at IS NULL")
        .bind(decision_id)
        .bind(operator)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE fraud_decisions SET undone_at = now(), undone_by = $2 WHERE id = $1")
        .bind(decision_id)
        .bind(operator)
        .execute(&mut *tx)
        .await?;
    // Back to the queue as it was (an expired review comes back as pending).
    let _ = previous;
    sqlx::query(
        "UPDATE orders SET fraud_state = 'pending', fraud_hold_until = NULL,
                           status = CASE WHEN status IN ('paid') THEN 'on_hold' ELSE status END
          WHERE id = $1",
    )
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "fraud.undo",
        "order",
        &order_id.to_string(),
        json!({ "decision_id": decision_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(order_id)
}

/// Adds a blocklist entry by hand (with its reason); audited.
pub async fn block(
    pool: &PgPool,
    kind: &str,
    value: &str,
    reason: &str,
    actor: &Actor,
) -> Result<bool, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::EditBlocklist).await?;
    let added = sqlx::query(
        "INSERT INTO blocklist (kind, value, reason, added_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, value) WHERE removed_at IS NULL DO NOTHING",
    )
    .bind(kind)
    .bind(value)
    .bind(reason)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "blocklist.add",
        kind,
        value,
        json!({ "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    Ok(added.rows_affected() == 1)
}

/// Removes an active entry, with a reason; audited.
pub async fn unblock(
    pool: &PgPool,
    kind: &str,
    value: &str,
    reason: &str,
    actor: &Actor,
) -> Result<bool, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::EditBlocklist).await?;
    let removed = sqlx::query(
        "UPDATE blocklist SET removed_at = now(), removed_by = $3, removed_reason = $4
          WHERE kind = $1 AND value = $2 AND removed_at IS NULL",
    )
    .bind(kind)
    .bind(value)
    .bind(&actor.name)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "blocklist.remove",
        kind,
        value,
        json!({ "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    Ok(removed.rows_affected() == 1)
}

/// Feedback for tuning the model (`lsn-ops fraud report`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FraudReport {
    pub days: i64,
    pub approved: i64,
    pub reviewed: i64,
    pub declined: i64,
    /// Approved ÷ (approved + declined), in basis points: high-risk flags that were not fraud.
    pub false_positive_bps: Option<i64>,
    pub indicators: Vec<IndicatorPrecision>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorPrecision {
    pub indicator: String,
    /// Final decisions on orders where the indicator fired.
    pub decided: i64,
    pub declined: i64,
    /// Declined ÷ decided, in basis points.
    pub precision_bps: Option<i64>,
}

pub async fn report(
    pool: &PgPool,
    days: i64,
    now: DateTime<Utc>,
) -> Result<FraudReport, sqlx::Error> {
    let since = now - Duration::days(days);
    let (approved, reviewed, declined): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE decision = 'approve'), count(*) FILTER (WHERE decision = 'review'),
                count(*) FILTER (WHERE decision = 'decline')
           FROM fraud_decisions WHERE undone_at IS NULL AND decided_at >= $1",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "WITH final AS (
           SELECT DISTINCT ON (order_id) order_id, decision FROM fraud_decisions
            WHERE undone_at IS NULL AND decided_at >= $1 AND decision <> 'review'
            ORDER BY order_id, decided_at DESC, id DESC),
         latest AS (
           SELECT DISTINCT ON (s.order_id) s.order_id, s.id FROM fraud_scores s JOIN final f ON f.order_id = s.order_id
            ORDER BY s.order_id, s.computed_at DESC, s.id DESC)
         SELECT i.indicator, count(*), count(*) FILTER (WHERE f.decision = 'decline')
           FROM final f JOIN latest l ON l.order_id = f.order_id JOIN fraud_indicators i ON i.score_id = l.id
          GROUP BY i.indicator ORDER BY i.indicator",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let ratio = crate::domain::money::ratio_bps;
    Ok(FraudReport {
        days,
        approved,
        reviewed,
        declined,
        false_positive_bps: ratio(approved, approved + declined),
        indicators: rows
            .into_iter()
            .map(|(indicator, decided, declined)| IndicatorPrecision {
                indicator,
                decided,
                declined,
                precision_bps: ratio(declined, decided),
            })
            .collect(),
    })
}
