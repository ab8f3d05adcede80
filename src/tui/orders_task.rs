//! The orders task: owns a pool and runs the order overlay's work for the
//! dashboard (find, load an order, request a refund with the dashboard's
//! `Actor`), one request at a time, in order. The UI loop never waits on it:
//! requests go out on one channel, outcomes come back on another and enter
//! the overlay through [`super::app::App::on_orders`].

use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::domain::operators::Actor;
use crate::store::orders::{self, OrderHit, OrderView};
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
}

/// What the task needs besides the pool.
#[derive(Debug, Clone)]
pub struct Settings {
    pub actor: Actor,
    pub agent_refund_limit_minor: i64,
    pub return_window_days: i64,
}

pub async fn run(
    pool: PgPool,
    settings: Settings,
    mut rx: mpsc::UnboundedReceiver<Request>,
    tx: mpsc::UnboundedSender<Outcome>,
) {
    while let Some(mut req) = rx.recv().await {
        // Reloads pile up while a refund lands: only the newest one is read.
        if let Request::Load(_) = req {
            while let Ok(next) = rx.try_recv() {
                match next {
                    Request::Load(_) => req = next,
                    other => {
                        let _ = tx.send(handle(&pool, &settings, req).await);
                        req = other;
                    }
                }
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
    }
}
