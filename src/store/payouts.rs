//! The weekly creator payout run: generate a week's batch, review it, approve
//! it (maker-checker), process it through the outbox (one Wise transfer per
//! line, `customerTransactionId` derived from the line), retry failed lines,
//! adjust, hold and release creators, verify bank details.
//!
//! Every change takes the operator's [`Actor`] and calls
//! [`authz::authorize`] inside its transaction before any write, with an
//! audit row; a refusal writes nothing. The scheduled generation (the worker,
//! Friday 14:00 in `[ops] timezone`) is the one maker without an operator:
//! [`Maker::Schedule`].
//!
//! **Payable orders** (see the README): an order attributed to a creator, in
//! the batch currency, paid (`paid_at` set; status paid, fulfilling, shipped
//! or delivered), fraud-cleared (clear, approved or unscored), with no refund
//! requested or made, no dispute open or lost, paid at least `[payouts]
//! return_window_days` before the batch's cut-off, and in no payout line yet.
//! The last rule is enforced by the database (`payout_item_orders.order_id`
//! is unique): an order is paid out at most once, ever. An order that becomes
//! payable late (a dispute won, a fraud review approved) is paid in the next
//! batch.

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::authz::{self, AuthError};
use super::outbox::{self, CommandKind};
use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission};
use crate::domain::payouts::{
    HOLD_BANK, HOLD_CREATOR, IsoWeek, OrderFigures, hold_reason, line_for, line_state_label,
    week_of,
};

/// Advisory lock: one generation at a time (schedule and operators, all replicas).
const GENERATE_LOCK: i64 = 0x6c73_6e5f_7061_796f;

/// Batch states an adjustment may still join (not yet approved).
const OPEN: &[&str] = &["draft", "generated"];

/// When and in what currency batches are made (`[payouts]`, `[ops] timezone`).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub tz: chrono_tz::Tz,
    pub weekday: Weekday,
    pub time: NaiveTime,
    pub currency: Currency,
    /// Orders paid less than this long before the cut-off wait for a later batch.
    pub return_window: chrono::Duration,
}

impl Schedule {
    pub fn from_config(config: &crate::config::Config) -> Result<Schedule, String> {
        let p = &config.payouts;
        Ok(Schedule {
            tz: config.ops.timezone.parse().map_err(|_| {
                format!(
                    "[ops] timezone {:?} is not an IANA zone",
                    config.ops.timezone
                )
            })?,
            weekday: crate::domain::payouts::parse_weekday(&p.weekday)
                .ok_or_else(|| format!("[payouts] weekday {:?}", p.weekday))?,
            time: NaiveTime::parse_from_str(&p.time, "%H:%M")
                .map_err(|_| format!("[payouts] time {:?}", p.time))?,
            currency: Currency::parse(&p.currency)
                .ok_or_else(|| format!("[payouts] currency {:?}", p.currency))?,
            return_window: chrono::Duration::days(i64::from(p.return_window_days)),
        })
    }

    /// The batch instant of `week`.
    pub fn batch_at(&self, week: IsoWeek) -> DateTime<Utc> {
        week.batch_at(&self.tz, self.weekday, self.time)
    }

    /// The week whose batch is due: this week's if its time has come, else last week's.
    pub fn due_week(&self, now: DateTime<Utc>) -> IsoWeek {
        let this = week_of(now, &self.tz);
        if self.batch_at(this) <= now {
            this
        } else {
            this.previous()
        }
    }

    /// The current ISO week in the ops time zone (`payouts generate` without `--week`).
    pub fn this_week(&self, now: DateTime<Utc>) -> IsoWeek {
        week_of(now, &self.tz)
    }
}

/// Why a payout operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// Refused by a payout rule (maker-checker, state, ...), phrased for the operator.
    #[error("{0}")]
    Refused(String),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

fn refused<T>(message: impl Into<String>) -> Result<T, PayoutError> {
    Err(PayoutError::Refused(message.into()))
}

/// Who makes a batch: an operator, or the worker's Friday schedule.
#[derive(Debug, Clone, Copy)]
pub enum Maker<'a> {
    Operator(&'a Actor),
    Schedule,
}

impl Maker<'_> {
    fn audit_name(&self) -> String {
        match self {
            Maker::Operator(a) => a.audit_name(),
            Maker::Schedule => "worker (schedule)".into(),
        }
    }

    /// The people who may not approve what this maker made.
    fn people(&self) -> Vec<String> {
        match self {
            Maker::Operator(a) => people(a),
            Maker::Schedule => Vec::new(),
        }
    }
}

fn people(actor: &Actor) -> Vec<String> {
    let mut v = vec![actor.name.clone()];
    if let Some(admin) = &actor.admin
        && *admin != actor.name
    {
        v.push(admin.clone());
    }
    v
}

/// What `generate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub batch_id: i64,
    pub week: IsoWeek,
    /// False: the week's batch already existed and is unchanged.
    pub created: bool,
    pub lines: i64,
    pub orders: i64,
    pub total: Money,
}

/// Builds `week`'s batch (idempotent: a week has one batch; a second call
/// returns it unchanged). A draft batch (adjustments made ahead) is filled.
pub async fn generate(
    pool: &PgPool,
    maker: Maker<'_>,
    schedule: &Schedule,
    week: IsoWeek,
) -> Result<Generated, PayoutError> {
    let mut tx = pool.begin().await?;
    if let Maker::Operator(actor) = maker {
        authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(GENERATE_LOCK)
        .execute(&mut *tx)
        .await?;
    let currency = schedule.currency;
    let cutoff = schedule.batch_at(week);
    let existing: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, state FROM payout_batches WHERE scheduled_for = $1 AND currency = $2 FOR UPDATE",
    )
    .bind(cutoff)
    .bind(currency.code())
    .fetch_optional(&mut *tx)
    .await?;
    let maker_name = maker.audit_name();
    let batch_id = match existing {
        Some((id, state)) if state != "draft" => {
            tx.rollback().await?;
            let s = summary(pool, id).await?;
            return Ok(Generated {
                batch_id: id,
                week,
                created: false,
                lines: s.0,
                orders: s.1,
                total: Money::new(s.2, currency),
            });
        }
        Some((id, _)) => {
            sqlx::query(
                "UPDATE payout_batches SET state = 'generated', generated_at = now(), generated_by = $2,
                        makers = makers || $3::text[] WHERE id = $1",
            )
            .bind(id)
            .bind(&maker_name)
            .bind(maker.people())
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let start = schedule.batch_at(week.previous());
            sqlx::query_scalar(
                "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency,
                                             generated_at, generated_by, makers)
                 VALUES ($1, $2, $2, 'generated', $3, now(), $4, $5) RETURNING id",
            )
            .bind(start)
            .bind(cutoff)
            .bind(currency.code())
            .bind(&maker_name)
            .bind(maker.people())
            .fetch_one(&mut *tx)
            .await?
        }
    };

    // The payable orders, oldest creator first; the formula runs in Rust
    // (domain::payouts), the one place it is written.
    type OrderRow = (i64, i64, i64, i64, i64, i64);
    let rows: Vec<OrderRow> = sqlx::query_as(
        "SELECT o.id, o.creator_id, o.total_minor, o.product_cost_minor, o.shipping_cost_minor, o.platform_fee_minor
           FROM orders o
          WHERE o.paid_at IS NOT NULL AND o.creator_id IS NOT NULL
            AND o.paid_at <= $1
            AND o.currency = $2
            AND o.status IN ('paid', 'fulfilling', 'shipped', 'delivered')
            AND o.fraud_state IN ('clear', 'approved', 'unscored')
            AND NOT EXISTS (SELECT 1 FROM payout_item_orders pio WHERE pio.order_id = o.id)
            AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id
                             AND r.status NOT IN ('failed', 'cancelled'))
            AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.order_id = o.id
                             AND (d.state NOT IN ('WON', 'CLOSED') OR d.outcome = 'LOST'))
          ORDER BY o.creator_id, o.id",
    )
    .bind(cutoff - schedule.return_window)
    .bind(currency.code())
    .fetch_all(&mut *tx)
    .await?;
    type CreatorRow = (i64, i32, String, Option<String>);
    let creators: Vec<CreatorRow> = sqlx::query_as(
        "SELECT id, commission_bps, recipient_status, payout_hold_reason FROM creators
          WHERE id = ANY($1) ORDER BY id",
    )
    .bind(
        rows.iter()
            .map(|r| r.1)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let money = |m: i64| Money::new(m, currency);
    let (mut order_ids, mut item_ids, mut earnings) = (Vec::new(), Vec::new(), Vec::new());
    let mut lines = 0i64;
    let mut total = 0i64;
    for (creator_id, bps, recipient_status, hold) in &creators {
        let mine: Vec<&OrderRow> = rows.iter().filter(|r| r.1 == *creator_id).collect();
        let figures: Vec<OrderFigures> = mine
            .iter()
            .map(|r| OrderFigures {
                total: money(r.2),
                product_cost: money(r.3),
                shipping: money(r.4),
                platform_fee: money(r.5),
            })
            .collect();
        let bps_u = u32::try_from(*bps).unwrap_or(0);
        let (line, each) = line_for(&figures, bps_u, currency)
            .map_err(|e| PayoutError::Refused(format!("creator #{creator_id}: {e}")))?;
        let held = hold_reason(hold.as_deref(), recipient_status);
        let item_id: i64 = sqlx::query_scalar(
            "INSERT INTO payout_items (id, batch_id, creator_id, kind, currency, order_count, order_total_minor,
                                       costs_minor, commission_bps, amount_minor, state, hold_reason,
                                       customer_transaction_id)
             SELECT n, $1, $2, 'earnings', $3, $4, $5, $6, $7, $8, $9, $10,
                    md5('lsn-ops payout line ' || n)::uuid
               FROM (SELECT nextval('payout_items_id_seq') AS n) s
             RETURNING id",
        )
        .bind(batch_id)
        .bind(creator_id)
        .bind(currency.code())
        .bind(line.orders)
        .bind(line.gross.minor)
        .bind(line.costs.minor)
        .bind(bps)
        .bind(line.amount.minor)
        .bind(if held.is_some() { "held" } else { "pending" })
        .bind(&held)
        .fetch_one(&mut *tx)
        .await?;
        for (r, e) in mine.iter().zip(each) {
            order_ids.push(r.0);
            item_ids.push(item_id);
            earnings.push(e.minor);
        }
        lines += 1;
        total += line.amount.minor;
    }
    // UNIQUE (order_id): an order already in a line fails the whole generation.
    sqlx::query(
        "INSERT INTO payout_item_orders (payout_item_id, order_id, earnings_minor)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[])",
    )
    .bind(&item_ids)
    .bind(&order_ids)
    .bind(&earnings)
    .execute(&mut *tx)
    .await?;
    // A draft's adjustments made ahead are lines of the batch too: the
    // figures said and audited are the whole batch's.
    let (adjustments, adjusted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(amount_minor), 0)::bigint FROM payout_items
          WHERE batch_id = $1 AND kind = 'adjustment'",
    )
    .bind(batch_id)
    .fetch_one(&mut *tx)
    .await?;
    lines += adjustments;
    total += adjusted;
    super::audit(
        &mut tx,
        &maker_name,
        "payouts.generate",
        "payout_batch",
        &batch_id.to_string(),
        json!({ "week": week.to_string(), "lines": lines, "orders": order_ids.len(), "total_minor": total,
                "currency": currency.code(), "cutoff": cutoff }),
    )
    .await?;
    tx.commit().await?;
    Ok(Generated {
        batch_id,
        week,
        created: true,
        lines,
        orders: order_ids.len() as i64,
        total: money(total),
    })
}

async fn summary(pool: &PgPool, batch_id: i64) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), COALESCE(sum(order_count), 0)::bigint, COALESCE(sum(amount_minor), 0)::bigint
           FROM payout_items WHERE batch_id = $1",
    )
    .bind(batch_id)
    .fetch_one(pool)
    .await
}

// --- Review: `review` (show, breakdown) ------------------------------------

mod review;
pub use review::*;

// --- Approve and process ----------------------------------------------------

async fn lock_batch(
    conn: &mut PgConnection,
    batch_id: i64,
) -> Result<(String, Vec<String>, String), PayoutError> {
    let row: Option<(String, Vec<String>, Option<String>)> = sqlx::query_as(
        "SELECT state, makers, generated_by FROM payout_batches WHERE id = $1 FOR UPDATE",
    )
    .bind(batch_id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some((state, makers, by)) => Ok((state, makers, by.unwrap_or_default())),
        None => refused(format!("there is no payout batch #{batch_id}")),
    }
}

/// Approves a generated batch. Maker-checker: nobody who generated or
/// changed it (nor an admin acting for them) may approve it.
pub async fn approve(pool: &PgPool, actor: &Actor, batch_id: i64) -> Result<(), PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::ApprovePayouts).await?;
    let (state, makers, generated_by) = lock_batch(&mut tx, batch_id).await?;
    if state != "generated" {
        return refused(format!(
            "batch #{batch_id} is {state}: only a generated batch can be approved"
        ));
    }
    if let Some(who) = people(actor).into_iter().find(|p| makers.contains(p)) {
        let what = if generated_by == who || generated_by.ends_with(&format!(" as {who}")) {
            "generated"
        } else {
            "changed"
        };
        return refused(format!(
            "{who} {what} batch #{batch_id}: another finance operator must approve it (maker-checker)"
        ));
    }
    let (lines, total): (i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(amount_minor) FILTER (WHERE state <> 'held'), 0)::bigint
           FROM payout_items WHERE batch_id = $1",
    )
    .bind(batch_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE payout_batches SET state = 'approved', approved_at = now(), approved_by = $2 WHERE id = $1",
    )
    .bind(batch_id)
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "payouts.approve",
        "payout_batch",
        &batch_id.to_string(),
        json!({ "lines": lines, "payable_minor": total }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What `process` or `retry` queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queued {
    /// Lines whose Wise transfer was queued now.
    pub queued: Vec<i64>,
    /// Lines already queued or on their way (nothing new).
    pub already: i64,
    /// Lines with nothing to transfer (0.00), marked paid.
    pub nothing_to_pay: i64,
    /// Lines skipped, with why.
    pub skipped: Vec<(i64, String)>,
}

/// The idempotency key of a line's first transfer command.
pub fn transfer_key(item_id: i64) -> String {
    format!("payout-item:{item_id}")
}

/// Queues one Wise transfer per pending line of an approved batch, through the
/// outbox. Running it again queues nothing new: the command key is the line's.
pub async fn process(pool: &PgPool, actor: &Actor, batch_id: i64) -> Result<Queued, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::ProcessPayouts).await?;
    let (state, _, _) = lock_batch(&mut tx, batch_id).await?;
    if !matches!(
        state.as_str(),
        "approved" | "processing" | "partially_failed" | "completed"
    ) {
        return refused(format!(
            "batch #{batch_id} is {state}: it must be approved before it is processed"
        ));
    }
    let lines: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, amount_minor FROM payout_items WHERE batch_id = $1 AND state = 'pending' ORDER BY id FOR UPDATE",
    )
    .bind(batch_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Queued::default();
    let by = actor.audit_name();
    for (id, amount) in lines {
        if amount <= 0 {
            sqlx::query(
                "UPDATE payout_items SET state = 'sent', note = COALESCE(note, 'nothing to transfer'),
                        updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            out.nothing_to_pay += 1;
            continue;
        }
        let key = transfer_key(id);
        let payload = json!({ "payout_item_id": id });
        if outbox::enqueue(&mut tx, CommandKind::WiseTransfer, &key, &payload, &by)
            .await?
            .is_some()
        {
            out.queued.push(id);
            continue;
        }
        // A command cancelled by a hold is revived (same key: Wise deduplicates).
        let revived = sqlx::query(
            "UPDATE commands SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
              WHERE idempotency_key = $1 AND state = 'cancelled'",
        )
        .bind(&key)
        .execute(&mut *tx)
        .await?;
        if revived.rows_affected() == 1 {
            out.queued.push(id);
        } else {
            out.already += 1;
        }
    }
    sqlx::query(
        "UPDATE payout_batches SET state = CASE WHEN state = 'approved' THEN 'processing' ELSE state END,
                processed_at = COALESCE(processed_at, now()), processed_by = COALESCE(processed_by, $2)
          WHERE id = $1",
    )
    .bind(batch_id)
    .bind(&by)
    .execute(&mut *tx)
    .await?;
    if !out.queued.is_empty() {
        sqlx::query(
            "UPDATE payout_batches SET state = 'processing', completed_at = NULL WHERE id = $1",
        )
        .bind(batch_id)
        .execute(&mut *tx)
        .await?;
    }
    super::audit(
        &mut tx,
        &by,
        "payouts.process",
        "payout_batch",
        &batch_id.to_string(),
        json!({ "queued": out.queued, "already": out.already, "nothing_to_pay": out.nothing_to_pay }),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Sends failed lines again (all of the batch's, or `line`). Only `failed`
/// lines, and only when no command for the line is still pending or in
/// flight. The executor asks Wise about the old transfer first and pays again
/// only when Wise says it bounced, was cancelled or refunded; otherwise it
/// records what Wise says and pays nothing.
pub async fn retry(
    pool: &PgPool,
    actor: &Actor,
    batch_id: i64,
    line: Option<i64>,
) -> Result<Queued, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::ProcessPayouts).await?;
    let (state, _, _) = lock_batch(&mut tx, batch_id).await?;
    if !matches!(
        state.as_str(),
        "processing" | "partially_failed" | "completed"
    ) {
        return refused(format!(
            "batch #{batch_id} is {state}: only a processed batch has lines to retry"
        ));
    }
    type Row = (i64, String, i32, String, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT pi.id, pi.state, pi.retries, c.recipient_status, c.payout_hold_reason
           FROM payout_items pi JOIN creators c ON c.id = pi.creator_id
          WHERE pi.batch_id = $1 AND ($2::bigint IS NULL OR pi.id = $2)
          ORDER BY pi.id FOR UPDATE OF pi",
    )
    .bind(batch_id)
    .bind(line)
    .fetch_all(&mut *tx)
    .await?;
    if let Some(line) = line {
        match rows.first() {
            None => return refused(format!("line #{line} is not in batch #{batch_id}")),
            Some((_, s, ..)) if s != "failed" => {
                return refused(format!(
                    "line #{line} is {}: only failed lines are retried",
                    line_state_label(s)
                ));
            }
            _ => {}
        }
    }
    let by = actor.audit_name();
    let mut out = Queued::default();
    for (id, s, retries, bank, hold) in rows {
        if s != "failed" {
            continue;
        }
        let active: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM commands
              WHERE kind = 'wise_transfer' AND (payload ->> 'payout_item_id')::bigint = $1
                AND state IN ('pending', 'in_flight', 'failed')",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let why = if active > 0 {
            Some("a transfer command for it is still pending or in flight".to_string())
        } else {
            hold_reason(hold.as_deref(), &bank).map(|h| format!("held: {h}"))
        };
        if let Some(why) = why {
            if line.is_some() {
                return refused(format!("line #{id} cannot be retried: {why}"));
            }
            out.skipped.push((id, why));
            continue;
        }
        let n = retries + 1;
        sqlx::query(
            "UPDATE payout_items SET state = 'pending', retries = $2, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(n)
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(
            &mut tx,
            CommandKind::WiseTransfer,
            &format!("payout-item:{id}:retry:{n}"),
            &json!({ "payout_item_id": id, "retry": n }),
            &by,
        )
        .await?;
        super::audit(
            &mut tx,
            &by,
            "payouts.retry",
            "payout_item",
            &id.to_string(),
            json!({ "batch_id": batch_id, "retry": n }),
        )
        .await?;
        out.queued.push(id);
    }
    if !out.queued.is_empty() {
        sqlx::query(
            "UPDATE payout_batches SET state = 'processing', completed_at = NULL WHERE id = $1",
        )
        .bind(batch_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

// --- Adjust, hold, release, bank details: `adjust` ----------------------------

mod adjust;
pub use adjust::*;
