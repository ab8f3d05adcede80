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

// --- Review ------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct MoneyJson {
    pub minor: i64,
    pub currency: String,
}

impl From<Money> for MoneyJson {
    fn from(m: Money) -> Self {
        MoneyJson {
            minor: m.minor,
            currency: m.currency.code().to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    pub id: i64,
    pub week: String,
    pub state: String,
    pub scheduled_for: DateTime<Utc>,
    pub period_start: DateTime<Utc>,
    pub generated_by: Option<String>,
    pub generated_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub processed_by: Option<String>,
    pub last_changed_by: Option<String>,
    pub total: MoneyJson,
    pub progress: Progress,
    pub lines: Vec<LineView>,
}

/// How far the batch's lines have got.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Progress {
    pub pending: i64,
    pub held: i64,
    pub processing: i64,
    pub paid: i64,
    pub failed: i64,
    pub cancelled: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineView {
    pub id: i64,
    pub creator: String,
    pub creator_name: String,
    pub kind: String,
    pub tier: String,
    pub orders: i32,
    pub gross: MoneyJson,
    pub costs: MoneyJson,
    pub commission_bps: i32,
    pub net: MoneyJson,
    /// `pending`, `held`, `processing`, `paid`, `failed` (or `cancelled`).
    pub state: String,
    pub bank: String,
    pub hold_reason: Option<String>,
    pub failure_reason: Option<String>,
    pub note: Option<String>,
    pub wise_transfer_id: Option<i64>,
    pub wise_status: Option<String>,
    pub retries: i32,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    id: i64,
    handle: String,
    display_name: String,
    kind: String,
    tier: String,
    order_count: i32,
    order_total_minor: i64,
    costs_minor: i64,
    commission_bps: i32,
    amount_minor: i64,
    state: String,
    recipient_status: String,
    hold_reason: Option<String>,
    failure_reason: Option<String>,
    note: Option<String>,
    wise_transfer_id: Option<i64>,
    wise_status: Option<String>,
    retries: i32,
}

/// The batch `id`, or the current one (the newest generated, else the newest draft).
pub async fn show(
    pool: &PgPool,
    id: Option<i64>,
    tz: &chrono_tz::Tz,
) -> Result<Option<BatchView>, sqlx::Error> {
    type Row = (
        i64,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        String,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<String>,
    );
    let sql =
        "SELECT id, state, scheduled_for, period_start, currency::text, generated_by, generated_at,
                      approved_by, approved_at, processed_by, last_changed_by
                 FROM payout_batches";
    let row: Option<Row> = match id {
        Some(id) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{sql} WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{sql} ORDER BY (state = 'draft'), scheduled_for DESC LIMIT 1"
            )))
            .fetch_optional(pool)
            .await?
        }
    };
    let Some(b) = row else {
        return Ok(None);
    };
    let currency = Currency::parse(&b.4).unwrap_or(Currency::USD);
    let m = |minor: i64| MoneyJson::from(Money::new(minor, currency));
    let rows: Vec<LineRow> = sqlx::query_as(
        "SELECT pi.id, c.handle, c.display_name, pi.kind, c.tier, pi.order_count, pi.order_total_minor,
                pi.costs_minor, pi.commission_bps, pi.amount_minor, pi.state, c.recipient_status,
                pi.hold_reason, pi.failure_reason, pi.note, pi.wise_transfer_id, pi.wise_status, pi.retries
           FROM payout_items pi JOIN creators c ON c.id = pi.creator_id
          WHERE pi.batch_id = $1
          ORDER BY c.handle, pi.kind DESC, pi.id",
    )
    .bind(b.0)
    .fetch_all(pool)
    .await?;
    let mut progress = Progress::default();
    let mut total = 0i64;
    let lines = rows
        .into_iter()
        .map(|r| {
            match r.state.as_str() {
                "pending" => progress.pending += 1,
                "held" => progress.held += 1,
                "processing" => progress.processing += 1,
                "sent" => progress.paid += 1,
                "failed" => progress.failed += 1,
                _ => progress.cancelled += 1,
            }
            if r.state != "cancelled" {
                total += r.amount_minor;
            }
            LineView {
                id: r.id,
                creator: r.handle,
                creator_name: r.display_name,
                kind: r.kind,
                tier: r.tier,
                orders: r.order_count,
                gross: m(r.order_total_minor),
                costs: m(r.costs_minor),
                commission_bps: r.commission_bps,
                net: m(r.amount_minor),
                state: line_state_label(&r.state).to_string(),
                bank: r.recipient_status,
                hold_reason: r.hold_reason,
                failure_reason: r.failure_reason,
                note: r.note,
                wise_transfer_id: r.wise_transfer_id,
                wise_status: r.wise_status,
                retries: r.retries,
            }
        })
        .collect();
    Ok(Some(BatchView {
        id: b.0,
        week: week_of(b.2, tz).to_string(),
        state: b.1,
        scheduled_for: b.2,
        period_start: b.3,
        generated_by: b.5,
        generated_at: b.6,
        approved_by: b.7,
        approved_at: b.8,
        processed_by: b.9,
        last_changed_by: b.10,
        total: m(total),
        progress,
        lines,
    }))
}

/// One attributed order of a line, with its computation ("View Breakdown").
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BreakdownOrder {
    pub order_number: String,
    pub paid_at: Option<DateTime<Utc>>,
    pub total_minor: i64,
    pub product_cost_minor: i64,
    pub shipping_minor: i64,
    pub platform_fee_minor: i64,
    pub net_minor: i64,
    pub commission_bps: i32,
    pub earnings_minor: i64,
}

/// Every order a line pays for, oldest first.
pub async fn breakdown(pool: &PgPool, item_id: i64) -> Result<Vec<BreakdownOrder>, sqlx::Error> {
    type Row = (String, Option<DateTime<Utc>>, i64, i64, i64, i64, i32, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT o.order_number, o.paid_at, o.total_minor, o.product_cost_minor, o.shipping_cost_minor,
                o.platform_fee_minor, pi.commission_bps, pio.earnings_minor
           FROM payout_item_orders pio
           JOIN orders o ON o.id = pio.order_id
           JOIN payout_items pi ON pi.id = pio.payout_item_id
          WHERE pio.payout_item_id = $1
          ORDER BY o.paid_at, o.id",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| BreakdownOrder {
            order_number: r.0,
            paid_at: r.1,
            total_minor: r.2,
            product_cost_minor: r.3,
            shipping_minor: r.4,
            platform_fee_minor: r.5,
            net_minor: (r.2 - r.3 - r.4 - r.5).max(0),
            commission_bps: r.6,
            earnings_minor: r.7,
        })
        .collect())
}

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

// --- Adjust, hold, release, bank details ----------------------------------------

async fn creator_id(conn: &mut PgConnection, creator: &str) -> Result<i64, PayoutError> {
    let handle = creator.trim().trim_start_matches('@');
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM creators WHERE handle = $1 OR id::text = $1 FOR UPDATE")
            .bind(handle)
            .fetch_optional(&mut *conn)
            .await?;
    match id {
        Some(id) => Ok(id),
        None => refused(format!("there is no creator {creator:?}")),
    }
}

fn require_reason(reason: &str) -> Result<(), PayoutError> {
    if reason.trim().is_empty() {
        return refused("a reason is required");
    }
    Ok(())
}

/// Records that `actor` changed an open batch: they may not approve it.
async fn changed(conn: &mut PgConnection, batch_id: i64, actor: &Actor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payout_batches SET last_changed_by = $2, last_changed_at = now(), makers = makers || $3::text[]
          WHERE id = $1 AND state IN ('draft', 'generated')",
    )
    .bind(batch_id)
    .bind(actor.audit_name())
    .bind(people(actor))
    .execute(conn)
    .await?;
    Ok(())
}

/// Where an adjustment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjusted {
    pub item_id: i64,
    pub batch_id: i64,
    pub week: IsoWeek,
    pub held: Option<String>,
}

/// Adds an adjustment line (its own transfer) for `creator` to the open batch
/// (generated, not yet approved), or to the next week's batch (a draft that
/// the next generation fills). Amounts are positive: Wise cannot take money back.
pub async fn adjust(
    pool: &PgPool,
    actor: &Actor,
    schedule: &Schedule,
    creator: &str,
    amount: Money,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Adjusted, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    if amount.currency != schedule.currency {
        return refused(format!(
            "payouts are in {}, not {}",
            schedule.currency.code(),
            amount.currency.code()
        ));
    }
    if amount.minor <= 0 {
        return refused(
            "an adjustment pays the creator a positive amount (a transfer cannot take money back); to pay less, hold the creator's line and adjust after",
        );
    }
    let creator_id = creator_id(&mut tx, creator).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(GENERATE_LOCK)
        .execute(&mut *tx)
        .await?;
    let open: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, scheduled_for FROM payout_batches WHERE state = ANY($1) AND currency = $2
          ORDER BY scheduled_for LIMIT 1 FOR UPDATE",
    )
    .bind(OPEN)
    .bind(schedule.currency.code())
    .fetch_optional(&mut *tx)
    .await?;
    let (batch_id, at) = match open {
        Some(b) => b,
        None => {
            // The first week after the latest batch (and not in the past).
            let latest: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT max(scheduled_for) FROM payout_batches WHERE currency = $1",
            )
            .bind(schedule.currency.code())
            .fetch_one(&mut *tx)
            .await?;
            let mut week = schedule.this_week(now);
            while latest.is_some_and(|l| schedule.batch_at(week) <= l)
                || schedule.batch_at(week) < now
            {
                week = week.next();
            }
            let at = schedule.batch_at(week);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency)
                 VALUES ($1, $2, $2, 'draft', $3) RETURNING id",
            )
            .bind(schedule.batch_at(week.previous()))
            .bind(at)
            .bind(schedule.currency.code())
            .fetch_one(&mut *tx)
            .await?;
            (id, at)
        }
    };
    let (bank, hold): (String, Option<String>) =
        sqlx::query_as("SELECT recipient_status, payout_hold_reason FROM creators WHERE id = $1")
            .bind(creator_id)
            .fetch_one(&mut *tx)
            .await?;
    let held = hold_reason(hold.as_deref(), &bank);
    let item_id: i64 = sqlx::query_scalar(
        "INSERT INTO payout_items (id, batch_id, creator_id, kind, currency, commission_bps, amount_minor, state,
                                   hold_reason, note, customer_transaction_id)
         SELECT n, $1, $2, 'adjustment', $3, 0, $4, $5, $6, $7, md5('lsn-ops payout line ' || n)::uuid
           FROM (SELECT nextval('payout_items_id_seq') AS n) s
         RETURNING id",
    )
    .bind(batch_id)
    .bind(creator_id)
    .bind(amount.currency.code())
    .bind(amount.minor)
    .bind(if held.is_some() { "held" } else { "pending" })
    .bind(&held)
    .bind(reason.trim())
    .fetch_one(&mut *tx)
    .await?;
    changed(&mut tx, batch_id, actor).await?;
    sqlx::query(
        "UPDATE payout_batches SET makers = makers || $2::text[], last_changed_by = $3, last_changed_at = now()
          WHERE id = $1 AND state = 'draft'",
    )
    .bind(batch_id)
    .bind(people(actor))
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "payouts.adjust",
        "payout_item",
        &item_id.to_string(),
        json!({ "batch_id": batch_id, "creator_id": creator_id, "amount_minor": amount.minor,
                "currency": amount.currency.code(), "reason": reason.trim() }),
    )
    .await?;
    tx.commit().await?;
    Ok(Adjusted {
        item_id,
        batch_id,
        week: week_of(at, &schedule.tz),
        held,
    })
}

/// What a hold or a release touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub lines: Vec<i64>,
    /// Lines left alone, with why (a transfer already on its way).
    pub skipped: Vec<(i64, String)>,
}

/// Holds the creator's unsent lines (pending, in any batch not yet paid) with
/// `reason`; a transfer not yet sent is cancelled, one in flight is left alone.
async fn hold_lines(
    conn: &mut PgConnection,
    creator_id: i64,
    reason: &str,
    actor: &Actor,
) -> Result<Touched, PayoutError> {
    let lines: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, batch_id FROM payout_items WHERE creator_id = $1 AND state = 'pending' FOR UPDATE",
    )
    .bind(creator_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Touched::default();
    for (id, batch_id) in lines {
        let commands: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, state FROM commands
              WHERE kind = 'wise_transfer' AND (payload ->> 'payout_item_id')::bigint = $1
                AND state IN ('pending', 'in_flight', 'failed') FOR UPDATE",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        if commands.iter().any(|(_, s)| s == "in_flight") {
            out.skipped
                .push((id, "its transfer is being sent right now".into()));
            continue;
        }
        for (cmd, _) in commands {
            outbox::cancel(conn, cmd).await?;
        }
        sqlx::query(
            "UPDATE payout_items SET state = 'held', hold_reason = $2, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
        changed(conn, batch_id, actor).await?;
        out.lines.push(id);
    }
    Ok(out)
}

/// Releases the creator's held lines whose hold starts with `prefix`, when
/// nothing else holds them (their creator hold, their bank details).
async fn release_lines(
    conn: &mut PgConnection,
    creator_id: i64,
    prefix: &str,
    actor: &Actor,
) -> Result<Touched, PayoutError> {
    let (bank, hold): (String, Option<String>) =
        sqlx::query_as("SELECT recipient_status, payout_hold_reason FROM creators WHERE id = $1")
            .bind(creator_id)
            .fetch_one(&mut *conn)
            .await?;
    let still = hold_reason(hold.as_deref(), &bank);
    let lines: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, batch_id FROM payout_items
          WHERE creator_id = $1 AND state = 'held' AND hold_reason LIKE $2 || '%' FOR UPDATE",
    )
    .bind(creator_id)
    .bind(prefix)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Touched::default();
    for (id, batch_id) in lines {
        match &still {
            Some(h) => {
                sqlx::query(
                    "UPDATE payout_items SET hold_reason = $2, updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind(h)
                .execute(&mut *conn)
                .await?;
                out.skipped.push((id, format!("still held: {h}")));
            }
            None => {
                sqlx::query(
                    "UPDATE payout_items SET state = 'pending', hold_reason = NULL, updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *conn)
                .await?;
                changed(conn, batch_id, actor).await?;
                out.lines.push(id);
            }
        }
    }
    Ok(out)
}

/// `payouts hold CREATOR --reason`: the creator's unsent lines and future ones are held.
pub async fn hold(
    pool: &PgPool,
    actor: &Actor,
    creator: &str,
    reason: &str,
) -> Result<Touched, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    let id = creator_id(&mut tx, creator).await?;
    sqlx::query(
        "UPDATE creators SET payout_hold_reason = $2, payout_hold_by = $3, payout_hold_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(reason.trim())
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await?;
    let out = hold_lines(
        &mut tx,
        id,
        &format!("{HOLD_CREATOR}{}", reason.trim()),
        actor,
    )
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "payouts.hold",
        "creator",
        &id.to_string(),
        json!({ "reason": reason.trim(), "lines": out.lines, "skipped": out.skipped.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// `payouts release CREATOR --reason`: lifts the creator's hold.
pub async fn release(
    pool: &PgPool,
    actor: &Actor,
    creator: &str,
    reason: &str,
) -> Result<Touched, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    let id = creator_id(&mut tx, creator).await?;
    sqlx::query(
        "UPDATE creators SET payout_hold_reason = NULL, payout_hold_by = NULL, payout_hold_at = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let out = release_lines(&mut tx, id, HOLD_CREATOR, actor).await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "payouts.release",
        "creator",
        &id.to_string(),
        json!({ "reason": reason.trim(), "lines": out.lines }),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// `creators bank CREATOR verify|invalidate --reason`.
pub async fn bank(
    pool: &PgPool,
    actor: &Actor,
    creator: &str,
    verify: bool,
    reason: &str,
) -> Result<Touched, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    let id = creator_id(&mut tx, creator).await?;
    let (recipient, before): (Option<i64>, String) =
        sqlx::query_as("SELECT wise_recipient_id, recipient_status FROM creators WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let out = if verify {
        if recipient.is_none() {
            return refused(format!(
                "creator {creator} has no Wise recipient account on file: nothing to verify"
            ));
        }
        sqlx::query(
            "UPDATE creators SET recipient_status = 'verified', recipient_verified_at = now() WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        release_lines(&mut tx, id, HOLD_BANK, actor).await?
    } else {
        sqlx::query(
            "UPDATE creators SET recipient_status = 'invalid', recipient_verified_at = NULL WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        hold_lines(&mut tx, id, &format!("{HOLD_BANK}invalid"), actor).await?
    };
    super::audit(
        &mut tx,
        &actor.audit_name(),
        if verify {
            "creators.bank.verify"
        } else {
            "creators.bank.invalidate"
        },
        "creator",
        &id.to_string(),
        json!({ "reason": reason.trim(), "before": before, "lines": out.lines }),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}
