//! Reviewing a batch (`payouts show`, pane 4): the batch with its lines,
//! progress and holds, in the shapes the JSON contract names, and a line's
//! breakdown (every attributed order with its computation).

use super::*;

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
