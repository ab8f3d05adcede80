//! Disputes worked from the console: the queue ([`list`], [`show`]), taking
//! and assigning ([`assign`]), an operator's evidence ([`attach`]), and, in
//! submodules, the evidence gathered from the data ([`gather`]), the pack and
//! the one submission per stage and accept-claim ([`submit`]), and the win
//! and recovery rates ([`rates`]). Every operator action is authorized
//! (`store::authz`) and audited in its own transaction.

pub mod gather;
pub mod rates;
pub mod submit;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::authz::{AuthError, authorize};
use crate::domain::disputes::{DisputeState, EVIDENCE_ITEMS, effective_deadline};
use crate::domain::evidence::{self, ItemStatus};
use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission, Role};

pub use gather::gather;
pub use submit::{Submitter, accept, export_pack, submit};

#[derive(Debug, thiserror::Error)]
pub enum DisputeError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// Refused by a dispute rule, phrased for the operator.
    #[error("{0}")]
    Refused(String),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

pub(crate) fn refused<T>(message: impl Into<String>) -> Result<T, DisputeError> {
    Err(DisputeError::Refused(message.into()))
}

/// "2026-12-02 05:10 UTC": times in refusals and in the pack (storage is UTC;
/// the screen shows the ops time zone).
pub fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Finds a dispute by its number (`42`, `#42`) or PayPal id (`PP-D-…`).
pub async fn resolve(conn: &mut PgConnection, id: &str) -> Result<Option<i64>, sqlx::Error> {
    let id = id.trim().trim_start_matches('#');
    if let Ok(n) = id.parse::<i64>() {
        return sqlx::query_scalar("SELECT id FROM disputes WHERE id = $1")
            .bind(n)
            .fetch_optional(conn)
            .await;
    }
    sqlx::query_scalar("SELECT id FROM disputes WHERE paypal_dispute_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

async fn must_resolve(conn: &mut PgConnection, id: &str) -> Result<i64, DisputeError> {
    match resolve(conn, id).await? {
        Some(n) => Ok(n),
        None => refused(format!("no dispute {id}")),
    }
}

/// A row of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub id: i64,
    pub paypal_dispute_id: String,
    pub order_number: Option<String>,
    pub creator: Option<String>,
    pub state: String,
    pub reason: String,
    pub amount: Money,
    pub opened_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub assigned_to: Option<String>,
    /// Items collected or not applicable, of seven.
    pub evidence_done: i64,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub auto_submitted: bool,
    pub outcome: Option<String>,
}

/// Which disputes [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<String>,
    pub owner: Option<String>,
    pub reason: Option<String>,
    /// Decided and closed ones too (otherwise only active ones).
    pub all: bool,
    pub limit: i64,
}

const SUMMARY_SQL: &str = "SELECT d.id, d.paypal_dispute_id, o.order_number, c.handle AS creator, d.state, d.reason,
        d.amount_minor, d.currency::text AS currency, d.opened_at, d.sla_due_at, d.seller_response_due_at, d.assigned_to,
        (SELECT count(*) FROM dispute_evidence e WHERE e.dispute_id = d.id AND e.status <> 'missing') AS evidence_done,
        d.submit_requested_by AS submitted_by, COALESCE(d.submit_requested_at, d.submitted_at) AS submitted_at,
        d.auto_submitted, d.outcome
   FROM disputes d
   LEFT JOIN orders o ON o.id = d.order_id
   LEFT JOIN creators c ON c.id = o.creator_id";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    paypal_dispute_id: String,
    order_number: Option<String>,
    creator: Option<String>,
    state: String,
    reason: String,
    amount_minor: i64,
    currency: String,
    opened_at: DateTime<Utc>,
    sla_due_at: DateTime<Utc>,
    seller_response_due_at: Option<DateTime<Utc>>,
    assigned_to: Option<String>,
    evidence_done: i64,
    submitted_by: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
    auto_submitted: bool,
    outcome: Option<String>,
}

fn summary(r: SummaryRow) -> Summary {
    let currency = Currency::parse(r.currency.trim()).unwrap_or(Currency::USD);
    Summary {
        id: r.id,
        paypal_dispute_id: r.paypal_dispute_id,
        order_number: r.order_number,
        creator: r.creator,
        state: r.state,
        reason: r.reason,
        amount: Money::new(r.amount_minor, currency),
        opened_at: r.opened_at,
        deadline: effective_deadline(r.sla_due_at, r.seller_response_due_at),
        assigned_to: r.assigned_to,
        evidence_done: r.evidence_done,
        submitted_by: r.submitted_by,
        submitted_at: r.submitted_at,
        auto_submitted: r.auto_submitted,
        outcome: r.outcome,
    }
}

/// The queue, most urgent first (the earlier of the internal SLA and
/// PayPal's due date), filtered by state, owner and reason.
pub async fn list(pool: &PgPool, filter: &Filter) -> Result<Vec<Summary>, sqlx::Error> {
    let sql = format!(
        "{SUMMARY_SQL}
          WHERE ($1 OR d.state NOT IN ('WON', 'LOST', 'CLOSED'))
            AND ($2::text IS NULL OR d.state = upper($2))
            AND ($3::text IS NULL OR d.assigned_to = $3 OR ($3 = '-' AND d.assigned_to IS NULL))
            AND ($4::text IS NULL OR d.reason ILIKE '%' || $4 || '%')
          ORDER BY LEAST(d.sla_due_at, COALESCE(d.seller_response_due_at, d.sla_due_at)), d.id
          LIMIT $5"
    );
    let rows: Vec<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(filter.all)
        .bind(filter.state.as_deref())
        .bind(filter.owner.as_deref())
        .bind(filter.reason.as_deref().map(|r| r.replace(' ', "_")))
        .bind(if filter.limit > 0 { filter.limit } else { 200 })
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(summary).collect())
}

/// One evidence item as `disputes show` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceItem {
    pub item: String,
    pub label: &'static str,
    pub status: ItemStatus,
    pub source: Option<String>,
    pub required: bool,
    pub lines: Vec<String>,
    pub note: Option<String>,
    pub file_name: Option<String>,
    pub file_bytes: Option<i64>,
    pub collected_by: Option<String>,
    pub collected_at: Option<DateTime<Utc>>,
}

impl EvidenceItem {
    pub fn as_domain(&self) -> evidence::Item {
        evidence::Item {
            key: self.item.clone(),
            status: self.status,
            source: self.source.clone(),
            lines: self.lines.clone(),
            note: self.note.clone(),
            file_name: self.file_name.clone(),
        }
    }
}

/// Everything about one dispute: the queue row, its seven items, where its
/// submission and acceptance stand, and its latest pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub stage: Option<String>,
    pub paypal_status: Option<String>,
    pub sla_due_at: DateTime<Utc>,
    pub seller_response_due_at: Option<DateTime<Utc>>,
    pub customer: Option<String>,
    pub evidence: Vec<EvidenceItem>,
    /// Required items still missing, by label.
    pub missing_required: Vec<&'static str>,
    /// Why the worker left it to a person (deadline too near, ...).
    pub manual_reason: Option<String>,
    pub submit_requested_at: Option<DateTime<Utc>>,
    /// The submission's outbox command: pending, succeeded, dead...
    pub submit_command_state: Option<String>,
    pub submit_error: Option<String>,
    pub accepted_by: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accept_reason: Option<String>,
    pub lost: Option<Money>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub pack: Option<PackInfo>,
}

/// The latest evidence pack of a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackInfo {
    pub id: i64,
    pub sha256: String,
    pub bytes: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(skip)]
    pub text: String,
}

type EvidenceRow = (
    String,
    String,
    Option<String>,
    Option<serde_json::Value>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// The seven items of a dispute, in the runbook's order.
pub async fn evidence_items(
    conn: &mut PgConnection,
    dispute_id: i64,
    reason: &str,
) -> Result<Vec<EvidenceItem>, sqlx::Error> {
    let rows: Vec<EvidenceRow> = sqlx::query_as(
        "SELECT item, status, source, content, note, file_name, length(file_bytes)::bigint, collected_by, collected_at
           FROM dispute_evidence WHERE dispute_id = $1",
    )
    .bind(dispute_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(EVIDENCE_ITEMS
        .iter()
        .map(|(key, label)| {
            let row = rows.iter().find(|r| r.0 == *key);
            let lines = row
                .and_then(|r| r.3.as_ref())
                .and_then(|c| c.get("lines"))
                .and_then(|l| l.as_array())
                .map(|l| {
                    l.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            EvidenceItem {
                item: key.to_string(),
                label,
                status: row
                    .and_then(|r| ItemStatus::parse(&r.1))
                    .unwrap_or(ItemStatus::Missing),
                source: row.and_then(|r| r.2.clone()),
                required: evidence::is_required(reason, key),
                lines,
                note: row.and_then(|r| r.4.clone()),
                file_name: row.and_then(|r| r.5.clone()),
                file_bytes: row.and_then(|r| r.6),
                collected_by: row.and_then(|r| r.7.clone()),
                collected_at: row.and_then(|r| r.8),
            }
        })
        .collect())
}

pub(crate) fn statuses(items: &[EvidenceItem]) -> Vec<(&str, ItemStatus)> {
    items.iter().map(|i| (i.item.as_str(), i.status)).collect()
}

type DetailRow = (
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<i64>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// One dispute by number or PayPal id; `None` when there is no such dispute.
pub async fn show(pool: &PgPool, id: &str) -> Result<Option<Detail>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let Some(id) = resolve(&mut conn, id).await? else {
        return Ok(None);
    };
    let row: Option<SummaryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUMMARY_SQL} WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let summary = summary(row);
    let d: DetailRow = sqlx::query_as(
        "SELECT d.life_cycle_stage, d.paypal_status, d.sla_due_at, d.seller_response_due_at,
                o.email, d.manual_reason, d.submit_requested_at, cmd.state, cmd.last_error,
                d.accepted_by, d.accepted_at, d.accept_reason, d.lost_minor, d.resolved_at, d.closed_at
           FROM disputes d
           LEFT JOIN orders o ON o.id = d.order_id
           LEFT JOIN commands cmd ON cmd.id = d.submit_command_id
          WHERE d.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let evidence = evidence_items(&mut conn, id, &summary.reason).await?;
    let missing_required = evidence::missing_required(&summary.reason, &statuses(&evidence));
    let pack = latest_pack(&mut conn, id).await?;
    let currency = summary.amount.currency;
    Ok(Some(Detail {
        stage: d.0,
        paypal_status: d.1,
        sla_due_at: d.2,
        seller_response_due_at: d.3,
        customer: d.4,
        manual_reason: d.5,
        submit_requested_at: d.6,
        submit_command_state: d.7,
        submit_error: d.8,
        accepted_by: d.9,
        accepted_at: d.10,
        accept_reason: d.11,
        lost: d.12.map(|m| Money::new(m, currency)),
        resolved_at: d.13,
        closed_at: d.14,
        evidence,
        missing_required,
        pack,
        summary,
    }))
}

/// The newest pack of a dispute, without its PDF bytes.
pub async fn latest_pack(
    conn: &mut PgConnection,
    dispute_id: i64,
) -> Result<Option<PackInfo>, sqlx::Error> {
    let row: Option<(i64, String, i64, DateTime<Utc>, String, String)> = sqlx::query_as(
        "SELECT id, sha256, length(pdf)::bigint, created_at, created_by, text FROM dispute_packs
          WHERE dispute_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(dispute_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| PackInfo {
        id: r.0,
        sha256: r.1,
        bytes: r.2,
        created_at: r.3,
        created_by: r.4,
        text: r.5,
    }))
}

/// Takes a dispute (`to` = `None`: the actor) or assigns it to another
/// operator who may work disputes.
pub async fn assign(
    pool: &PgPool,
    actor: &Actor,
    id: &str,
    to: Option<&str>,
) -> Result<String, DisputeError> {
    let mut tx = pool.begin().await?;
    authorize(&mut tx, actor, Permission::HandleDisputes).await?;
    let id = must_resolve(&mut tx, id).await?;
    let owner = to.map_or_else(|| actor.name.clone(), |t| t.trim().to_string());
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM operators WHERE name = $1")
        .bind(&owner)
        .fetch_optional(&mut *tx)
        .await?;
    match role.as_deref().and_then(Role::parse) {
        None => {
            return refused(format!(
                "{owner} is not an operator (lsn-ops operators list)"
            ));
        }
        Some(r) if !r.allows(Permission::HandleDisputes) => {
            return refused(format!(
                "{owner} is {} and cannot work disputes",
                r.as_str()
            ));
        }
        Some(_) => {}
    }
    let (paypal, state, before): (String, String, Option<String>) = sqlx::query_as(
        "SELECT paypal_dispute_id, state, assigned_to FROM disputes WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if !DisputeState::parse(&state).is_some_and(|s| s.is_active()) {
        return refused(format!("dispute #{id} is {state}: nothing left to work"));
    }
    if before.as_deref() == Some(owner.as_str()) {
        return Ok(format!("dispute #{id} is already {owner}'s"));
    }
    sqlx::query("UPDATE disputes SET assigned_to = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(&owner)
        .execute(&mut *tx)
        .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "dispute.assign",
        "dispute",
        &id.to_string(),
        serde_json::json!({ "paypal_dispute_id": paypal, "previous_owner": before, "owner": owner }),
    )
    .await?;
    tx.commit().await?;
    Ok(format!("dispute #{id} ({paypal}) is now {owner}'s"))
}

/// What an operator adds to an evidence item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// A note: the item counts as collected, with the note as its content.
    Note(String),
    /// A file (at most 10 MB, PayPal's limit per file).
    File { name: String, bytes: Vec<u8> },
    /// The item does not apply to this case, and why.
    NotApplicable(String),
}

/// PayPal's limit per evidence file.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Adds an operator's note or file to an item, or marks it not applicable;
/// the worker leaves such an item alone afterwards. The state follows
/// (EVIDENCE_BUILDING, EVIDENCE_READY) in the same transaction.
pub async fn attach(
    pool: &PgPool,
    actor: &Actor,
    id: &str,
    item: &str,
    what: Attachment,
) -> Result<String, DisputeError> {
    let Some(item) = evidence::parse_item(item) else {
        return refused(format!(
            "no evidence item {item:?}: use 1-7 or one of {}",
            EVIDENCE_ITEMS
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let text = match &what {
        Attachment::Note(t) | Attachment::NotApplicable(t) => t.trim().to_string(),
        Attachment::File { .. } => String::new(),
    };
    if !matches!(what, Attachment::File { .. }) && text.is_empty() {
        return refused("say what the note is (or why the item does not apply)");
    }
    if let Attachment::File { bytes, .. } = &what
        && bytes.len() > MAX_FILE_BYTES
    {
        return refused(format!(
            "the file is {} bytes; PayPal takes at most {MAX_FILE_BYTES} per file",
            bytes.len()
        ));
    }
    let mut tx = pool.begin().await?;
    authorize(&mut tx, actor, Permission::HandleDisputes).await?;
    let id = must_resolve(&mut tx, id).await?;
    let (paypal, state, submitted_by): (String, String, Option<String>) = sqlx::query_as(
        "SELECT paypal_dispute_id, state, submit_requested_by FROM disputes WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let st = DisputeState::parse(&state).unwrap_or(DisputeState::Open);
    if !st.awaiting_evidence() || submitted_by.is_some() {
        return refused(format!(
            "dispute #{id} is {state}{}: its evidence can no longer change",
            submitted_by.map_or_else(String::new, |b| format!(", submitted by {b}"))
        ));
    }
    let who = actor.audit_name();
    type Marked = (
        ItemStatus,
        String,
        Option<String>,
        Option<(String, Vec<u8>)>,
    );
    let (status, source, note, file): Marked = match what {
        Attachment::Note(_) => (
            ItemStatus::Collected,
            format!("note by {who}"),
            Some(text.clone()),
            None,
        ),
        Attachment::File { name, bytes } => (
            ItemStatus::Collected,
            format!("file from {who}"),
            None,
            Some((name, bytes)),
        ),
        Attachment::NotApplicable(_) => (
            ItemStatus::NotApplicable,
            format!("marked not applicable by {who}"),
            Some(text.clone()),
            None,
        ),
    };
    let file_sha = file.as_ref().map(|(_, b)| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    });
    sqlx::query(
        "UPDATE dispute_evidence
            SET status = $3, source = CASE WHEN source IS NULL OR NOT manual THEN
                    COALESCE(source || '; ', '') || $4 ELSE $4 END,
                note = COALESCE($5, note),
                file_name = COALESCE($6, file_name), file_bytes = COALESCE($7, file_bytes),
                manual = true, collected_at = now(), collected_by = $8
          WHERE dispute_id = $1 AND item = $2",
    )
    .bind(id)
    .bind(item)
    .bind(status.as_str())
    .bind(&source)
    .bind(note.as_deref())
    .bind(file.as_ref().map(|f| f.0.as_str()))
    .bind(file.as_ref().map(|f| f.1.as_slice()))
    .bind(&who)
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &who,
        "dispute.evidence",
        "dispute",
        &id.to_string(),
        serde_json::json!({
            "paypal_dispute_id": paypal, "item": item, "status": status.as_str(),
            "note": note, "file": file.as_ref().map(|f| &f.0), "file_sha256": file_sha,
        }),
    )
    .await?;
    // The pane's evidence count changed: the update wakes the dashboards.
    sqlx::query("UPDATE disputes SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let steps = gather::advance_state(&mut tx, id, &who).await?;
    tx.commit().await?;
    let label = evidence::label(item);
    let moved = steps
        .last()
        .map_or_else(String::new, |s| format!("; now {}", s.as_str()));
    Ok(format!(
        "dispute #{id}: {label} {}{moved}",
        match status {
            ItemStatus::NotApplicable => "marked not applicable",
            _ => "collected",
        }
    ))
}
