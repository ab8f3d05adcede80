//! The orders task: owns a pool and runs the order overlay's and the
//! duplicates view's work for the dashboard (find, load an order, request a
//! refund with the dashboard's `Actor`, list duplicate charges, refund the
//! later one), one request at a time, in order. The UI loop never waits on it:
//! requests go out on one channel, outcomes come back on another and enter
//! the overlay through [`super::app::App::on_orders`].

use chrono::{Duration, Utc};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::domain::operators::Actor;
use crate::store::orders::{self, Duplicate, OrderHit, OrderView};
use crate::store::refunds::{self, RefundRequest};

/// Orders listed for one query at most.
pub const FIND_LIMIT: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Find(String),
    Load(i64),
    Refund {
        order: String,
        amount: String,
        items: Vec<(String, i32)>,
        reason: String,
    },
    /// The duplicate charges of the last `duplicate_days` days.
    Duplicates,
    /// The later capture of a duplicate charge, refunded in full: the amount
    /// the operator confirmed goes with it, and the store checks it again.
    RefundDuplicate {
        capture_id: String,
        later_order: String,
        expected_minor: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Found {
        query: String,
        hits: Vec<OrderHit>,
    },
    Loaded(Option<Box<OrderView>>),
    /// The refund queued (what to say), or why not.
    Refunded(Result<String, String>),
    Failed(String),
    /// The duplicates view's list, or why it could not be read.
    Duplicates(Result<Vec<Duplicate>, String>),
    /// The duplicate's refund queued (what to say), or why not.
    DuplicateRefunded(Result<String, String>),
}

/// What the task needs besides the pool.
#[derive(Debug, Clone)]
pub struct Settings {
    pub actor: Actor,
    pub agent_refund_limit_minor: i64,
    pub return_window_days: i64,
    /// `[ops] duplicate_window_minutes`.
    pub duplicate_window_minutes: i64,
    /// How far back the duplicates view looks.
    pub duplicate_days: i64,
}

/// Duplicate charges listed at most.
pub const DUPLICATES_LIMIT: i64 = 200;

/// Requests where only the newest counts (a reload): consecutive ones merge.
fn merges(a: &Request, b: &Request) -> bool {
    matches!(
        (a, b),
        (Request::Load(_), Request::Load(_)) | (Request::Duplicates, Request::Duplicates)
    )
}

pub async fn run(
    pool: PgPool,
    settings: Settings,
    mut rx: mpsc::UnboundedReceiver<Request>,
    tx: mpsc::UnboundedSender<Outcome>,
) {
    while let Some(mut req) = rx.recv().await {
        // Reloads pile up while a refund lands: of consecutive ones only the
        // newest is read; everything else runs in order.
        while let Ok(next) = rx.try_recv() {
            if merges(&req, &next) {
                req = next;
            } else {
                if tx.send(handle(&pool, &settings, req).await).is_err() {
                    return;
                }
                req = next;
            }
        }
        let out = handle(&pool, &settings, req).await;
        if tx.send(out).is_err() {
            return;
        }
    }
}

async fn handle(pool: &PgPool, s: &Settings, req: Request) -> Outcome {
    match req {
        Request::Find(query) => match orders::find(pool, &query, FIND_LIMIT).await {
            Ok(hits) => Outcome::Found { query, hits },
            Err(e) => Outcome::Failed(format!("find {query}: {e}")),
        },
        Request::Load(id) => match orders::view(pool, id, s.return_window_days).await {
            Ok(v) => Outcome::Loaded(v.map(Box::new)),
            Err(e) => Outcome::Failed(format!("order #{id}: {e}")),
        },
        Request::Refund {
            order,
            amount,
            items,
            reason,
        } => {
            let request = RefundRequest {
                order: order.clone(),
                amount: Some(amount),
                items,
                capture_id: None,
                reason,
                agent_limit_minor: s.agent_refund_limit_minor,
            };
            match refunds::request(pool, &s.actor, &request).await {
                Ok(r) => Outcome::Refunded(Ok(format!(
                    "refund #{} of {} queued for PayPal; {} left to refund",
                    r.refund_id,
                    r.amount.display(),
                    r.left_after.display()
                ))),
                Err(e) => Outcome::Refunded(Err(format!("refund refused: {e}"))),
            }
        }
        Request::Duplicates => {
            let window = Duration::minutes(s.duplicate_window_minutes);
            match orders::duplicates(pool, Utc::now(), s.duplicate_days, window, DUPLICATES_LIMIT)
                .await
            {
                Ok(found) => Outcome::Duplicates(Ok(found)),
                Err(e) => Outcome::Duplicates(Err(format!("duplicate charges: {e}"))),
            }
        }
        Request::RefundDuplicate {
            capture_id,
            later_order,
            expected_minor,
        } => {
            let window = Duration::minutes(s.duplicate_window_minutes);
            match refunds::refund_duplicate(
                pool,
                &s.actor,
                &capture_id,
                expected_minor,
                window,
                s.agent_refund_limit_minor,
            )
            .await
            {
                Ok(r) => Outcome::DuplicateRefunded(Ok(format!(
                    "refund #{} of {} for {later_order} ({capture_id}) queued for PayPal",
                    r.refund_id,
                    r.amount.display()
                ))),
                Err(e) => {
                    Outcome::DuplicateRefunded(Err(format!("refund of {later_order} refused: {e}")))
                }
            }
        }
    }
}
