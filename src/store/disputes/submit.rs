//! The evidence pack and what goes to PayPal: [`build_pack`] (one PDF per
//! dispute, checksummed, its text kept), [`submit`] (provide-evidence through
//! the outbox, once per life-cycle stage, by an operator or by the worker's
//! auto-submission) and [`accept`] (accept-claim and the refund it implies).
//! The outbox's idempotency key is PayPal's `PayPal-Request-Id`, so a retry,
//! a second worker or a crash between the call and its record never sends
//! twice; the row lock and the recorded request make a second *request*
//! a clear refusal.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::Digest;
use sqlx::{PgConnection, PgPool};

use super::{DisputeError, evidence_items, must_resolve, refused, statuses, utc};
use crate::domain::disputes::{DisputeState, effective_deadline};
use crate::domain::evidence::{self, Case};
use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission};
use crate::store::authz::{authorize, authorize_refund};
use crate::store::outbox::{self, CommandKind};

/// A built pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    /// The stored pack (`dispute_packs`); `None`: built for an operator who
    /// may only read disputes, not stored.
    pub id: Option<i64>,
    pub dispute_id: i64,
    pub paypal_dispute_id: String,
    pub sha256: String,
    pub pdf: Vec<u8>,
    pub text: String,
    /// The case and the items it was built from (for PayPal's `input`).
    pub case: Case,
    pub items: Vec<evidence::Item>,
}

impl Pack {
    /// The file name PayPal gets.
    pub fn file_name(&self) -> String {
        format!("evidence-{}.pdf", self.paypal_dispute_id)
    }
}

type CaseRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Builds the pack of dispute `dispute_id` from its evidence as it stands,
/// and reuses the newest stored one when nothing changed; otherwise stores it
/// with its checksum, as made `by` that operator, in the caller's transaction
/// (`by` `None`: a reader's pack, not stored).
pub async fn build_pack(
    conn: &mut PgConnection,
    dispute_id: i64,
    by: Option<&str>,
) -> Result<Pack, sqlx::Error> {
    let r: CaseRow = sqlx::query_as(
        "SELECT d.paypal_dispute_id, o.order_number, d.reason, d.life_cycle_stage, d.amount_minor, d.currency,
                d.opened_at, d.sla_due_at, d.seller_response_due_at, o.email, c.handle, o.carrier, o.tracking_number
           FROM disputes d
           LEFT JOIN orders o ON o.id = d.order_id
           LEFT JOIN creators c ON c.id = o.creator_id
          WHERE d.id = $1",
    )
    .bind(dispute_id)
    .fetch_one(&mut *conn)
    .await?;
    let currency = Currency::parse(r.5.trim()).unwrap_or(Currency::USD);
    let case = Case {
        paypal_dispute_id: r.0.clone(),
        order_number: r.1,
        reason: r.2.clone(),
        stage: r.3,
        amount: Money::new(r.4, currency).display(),
        opened: utc(r.6),
        deadline: utc(effective_deadline(r.7, r.8)),
        customer: r.9,
        creator: r.10.map(|h| format!("@{h}")),
        tracking: r.11.zip(r.12),
    };
    let items: Vec<evidence::Item> = evidence_items(conn, dispute_id, &r.2)
        .await?
        .iter()
        .map(super::EvidenceItem::as_domain)
        .collect();
    let text = evidence::pack_text(&case, &items).join("\n");
    let newest: Option<(i64, String, Vec<u8>, String)> = sqlx::query_as(
        "SELECT id, sha256, pdf, text FROM dispute_packs WHERE dispute_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(dispute_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id, sha256, pdf, old)) = newest
        && old == text
    {
        return Ok(Pack {
            id: Some(id),
            dispute_id,
            paypal_dispute_id: r.0,
            sha256,
            pdf,
            text,
            case,
            items,
        });
    }
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let pdf = crate::housekeeping::pdf::render(&format!("Evidence pack {}", r.0), &lines);
    let sha256 = hex::encode(sha2::Sha256::digest(&pdf));
    let id = match by {
        Some(by) => Some(
            sqlx::query_scalar(
                "INSERT INTO dispute_packs (dispute_id, pdf, sha256, text, created_by)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(dispute_id)
            .bind(&pdf)
            .bind(&sha256)
            .bind(&text)
            .bind(by)
            .fetch_one(&mut *conn)
            .await?,
        ),
        None => None,
    };
    Ok(Pack {
        id,
        dispute_id,
        paypal_dispute_id: r.0,
        sha256,
        pdf,
        text,
        case,
        items,
    })
}

/// `disputes pack ID --out FILE`: the pack as the evidence stands now.
pub async fn export_pack(pool: &PgPool, actor: &Actor, id: &str) -> Result<Pack, DisputeError> {
    let mut tx = pool.begin().await?;
    let role = authorize(&mut tx, actor, Permission::Read).await?;
    let id = must_resolve(&mut tx, id).await?;
    // Anyone who may read gets the pack; only those who work disputes store
    // it (the stored pack is what a submission refers to).
    let works_disputes = !actor.readonly && role.allows(Permission::HandleDisputes);
    let name = actor.audit_name();
    let pack = build_pack(&mut tx, id, works_disputes.then_some(name.as_str())).await?;
    tx.commit().await?;
    Ok(pack)
}

/// Who submits: an operator, or the worker when the runbook's conditions
/// hold (evidence ready, the internal deadline come, PayPal's more than 48 h
/// away).
#[derive(Debug, Clone, Copy)]
pub enum Submitter<'a> {
    Operator(&'a Actor),
    Auto,
}

/// The audit name of the worker's auto-submission.
pub const AUTO: &str = "worker (auto-submit)";

/// A submission queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub dispute_id: i64,
    pub paypal_dispute_id: String,
    pub command_id: i64,
    pub pack_sha256: String,
}

/// Queues PayPal's provide-evidence for a dispute whose evidence is ready:
/// the pack as the file part and the typed evidences as `input`, with an
/// idempotency key per dispute and stage. A second request for the same
/// stage is refused with who asked and when.
pub async fn submit(
    pool: &PgPool,
    who: Submitter<'_>,
    id: &str,
) -> Result<Submission, DisputeError> {
    let mut tx = pool.begin().await?;
    let name = match who {
        Submitter::Operator(actor) => {
            authorize(&mut tx, actor, Permission::HandleDisputes).await?;
            actor.audit_name()
        }
        Submitter::Auto => AUTO.to_string(),
    };
    let id = must_resolve(&mut tx, id).await?;
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<i64>,
        Option<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let r: Row = sqlx::query_as(
        "SELECT d.paypal_dispute_id, d.state, d.reason, d.life_cycle_stage, d.submit_requested_by,
                d.submit_requested_at, d.submit_stage, d.submit_command_id, cmd.state,
                d.sla_due_at, d.seller_response_due_at
           FROM disputes d LEFT JOIN commands cmd ON cmd.id = d.submit_command_id
          WHERE d.id = $1 FOR UPDATE OF d",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let (paypal, state, reason, stage) = (r.0, r.1, r.2, r.3);
    let previous_failed = matches!(r.8.as_deref(), Some("dead" | "cancelled"));
    if let (Some(by), Some(at)) = (&r.4, r.5)
        && r.6 == stage
        && !previous_failed
    {
        return refused(format!(
            "dispute #{id} already submitted by {by} at {} (PayPal takes evidence once per stage)",
            utc(at)
        ));
    }
    let st = DisputeState::parse(&state).unwrap_or(DisputeState::Open);
    if st != DisputeState::EvidenceReady {
        let items = evidence_items(&mut tx, id, &reason).await?;
        let missing = evidence::missing_required(&reason, &statuses(&items));
        return refused(if st.awaiting_evidence() && !missing.is_empty() {
            format!(
                "dispute #{id} is {state}: evidence missing: {} (add a note or mark not applicable)",
                missing.join(", ")
            )
        } else if st.awaiting_evidence() {
            format!("dispute #{id} is {state}: PayPal has not asked for evidence yet")
        } else {
            format!("dispute #{id} is {state}: nothing to submit")
        });
    }
    if matches!(who, Submitter::Auto) {
        let now = Utc::now();
        if now < r.9 || !crate::domain::disputes::may_auto_submit(true, r.10, now) {
            return refused(format!("dispute #{id} is not due for auto-submission"));
        }
    }
    let pack = build_pack(&mut tx, id, Some(&name)).await?;
    let Some(pack_id) = pack.id else {
        return Err(sqlx::Error::Protocol("the evidence pack was not stored".into()).into());
    };
    let input = evidence::paypal_input(&pack.case, &pack.items, &pack.file_name());
    let stage_key = stage.clone().unwrap_or_else(|| "NONE".into());
    let key = match (previous_failed, r.7) {
        (true, Some(prev)) => format!("dispute-evidence:{paypal}:{stage_key}:after-{prev}"),
        _ => format!("dispute-evidence:{paypal}:{stage_key}"),
    };
    let payload = json!({
        "dispute_id": id,
        "pack_id": pack_id,
        "file_name": pack.file_name(),
        "input": input,
        "requested_by": name,
        "auto": matches!(who, Submitter::Auto),
    });
    let Some(command_id) = outbox::enqueue(
        &mut tx,
        CommandKind::PaypalProvideEvidence,
        &key,
        &payload,
        &name,
    )
    .await?
    else {
        return refused(format!(
            "dispute #{id}: a submission for this stage is already in the outbox"
        ));
    };
    sqlx::query(
        "UPDATE disputes SET submit_requested_by = $2, submit_requested_at = now(), submit_stage = $3,
                submit_pack_id = $4, submit_command_id = $5, auto_submitted = $6, manual_reason = NULL,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&name)
    .bind(stage.as_deref())
    .bind(pack_id)
    .bind(command_id)
    .bind(matches!(who, Submitter::Auto))
    .execute(&mut *tx)
    .await?;
    crate::store::audit(
        &mut tx,
        &name,
        if matches!(who, Submitter::Auto) {
            "dispute.auto_submit"
        } else {
            "dispute.submit"
        },
        "dispute",
        &id.to_string(),
        json!({
            "paypal_dispute_id": paypal,
            "stage": stage,
            "pack_id": pack_id,
            "pack_sha256": pack.sha256,
            "command_id": command_id,
            "note": if matches!(who, Submitter::Auto) { "auto-submitted" } else { "submitted" },
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Submission {
        dispute_id: id,
        paypal_dispute_id: paypal,
        command_id,
        pack_sha256: pack.sha256,
    })
}

/// An acceptance queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub dispute_id: i64,
    pub paypal_dispute_id: String,
    pub refund_id: i64,
    pub amount: Money,
    pub command_id: i64,
}

/// Accepts the buyer's claim: PayPal's accept-claim through the outbox and
/// the refund it implies recorded, once. Above the agents' refund limit it
/// needs finance or an admin.
pub async fn accept(
    pool: &PgPool,
    actor: &Actor,
    id: &str,
    reason: &str,
    agent_limit_minor: i64,
) -> Result<Accepted, DisputeError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return refused("say why the claim is accepted (--reason)");
    }
    let mut tx = pool.begin().await?;
    let id = must_resolve(&mut tx, id).await?;
    type Row = (
        String,
        String,
        i64,
        String,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<i64>,
    );
    let r: Row = sqlx::query_as(
        "SELECT paypal_dispute_id, state, amount_minor, currency, order_id, payment_id, accepted_by, accepted_at,
                accept_command_id
           FROM disputes WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let currency = Currency::parse(r.3.trim()).unwrap_or(Currency::USD);
    let amount = Money::new(r.2, currency);
    authorize_refund(&mut tx, actor, amount, agent_limit_minor).await?;
    let name = actor.audit_name();
    if let (Some(by), Some(at)) = (&r.6, r.7) {
        return refused(format!(
            "dispute #{id} already accepted by {by} at {}",
            utc(at)
        ));
    }
    if !DisputeState::parse(&r.1).is_some_and(|s| s.is_active()) {
        return refused(format!("dispute #{id} is {}: nothing to accept", r.1));
    }
    let (Some(order_id), Some(payment_id)) = (r.4, r.5) else {
        return refused(format!(
            "dispute #{id} has no PayPal payment on record: accept it in PayPal"
        ));
    };
    // An acceptance PayPal refused left its command (and key) behind: a new
    // request needs a key of its own, or PayPal would replay the refusal.
    let key = match r.8 {
        Some(refused) => format!("dispute-accept:{}:after-{refused}", r.0),
        None => format!("dispute-accept:{}", r.0),
    };
    let refund_id: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, status, reason, requested_by, idempotency_key)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) RETURNING id",
    )
    .bind(order_id)
    .bind(payment_id)
    .bind(amount.minor)
    .bind(currency.code())
    .bind(format!("dispute {} accepted: {reason}", r.0))
    .bind(&name)
    .bind(&key)
    .fetch_one(&mut *tx)
    .await;
    let refund_id = match refund_id {
        Ok(x) => x,
        Err(e) if crate::store::refunds::is_over_capture(&e) => {
            return refused(format!(
                "dispute #{id}: {} is more than is left to refund of the payment",
                amount.display()
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let payload = json!({
        "dispute_id": id,
        "refund_id": refund_id,
        "note": reason,
        "accept_claim_type": "REFUND",
    });
    let Some(command_id) = outbox::enqueue(
        &mut tx,
        CommandKind::PaypalAcceptClaim,
        &key,
        &payload,
        &name,
    )
    .await?
    else {
        return refused(format!(
            "dispute #{id}: an acceptance is already in the outbox"
        ));
    };
    sqlx::query(
        "UPDATE disputes SET accepted_by = $2, accepted_at = now(), accept_reason = $3,
                accept_command_id = $4, refund_id = $5, updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(&name)
    .bind(reason)
    .bind(command_id)
    .bind(refund_id)
    .execute(&mut *tx)
    .await?;
    crate::store::audit(
        &mut tx,
        &name,
        "dispute.accept",
        "dispute",
        &id.to_string(),
        json!({
            "paypal_dispute_id": r.0, "reason": reason, "refund_id": refund_id,
            "amount_minor": amount.minor, "currency": currency.code(), "command_id": command_id,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        dispute_id: id,
        paypal_dispute_id: r.0,
        refund_id,
        amount,
        command_id,
    })
}
