//! The fraud detail loader: a small task of its own (not the triage task, so a
//! slow decision never delays a detail) that reads
//! [`crate::store::fraud_detail::order_detail`] for the order ids the app asks
//! for and sends each answer back. The app caches the answers by order id
//! ([`super::app::App::on_detail`]); the draw path only reads that cache.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::store::fraud_detail::{OrderDetail, order_detail};

/// One loaded (or failed) detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub order_id: i64,
    pub result: Result<Arc<OrderDetail>, String>,
}

/// What the app knows of one order's detail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub detail: Option<Arc<OrderDetail>>,
    pub error: Option<String>,
    /// A request is out (a stale detail stays on screen meanwhile).
    pub loading: bool,
    /// The data changed since it was read: read again when next wanted.
    pub stale: bool,
}

/// Answers requests until either channel closes. Requests queued meanwhile are
/// merged (an order asked twice is read once).
pub async fn run(
    pool: sqlx::PgPool,
    mut rx: mpsc::UnboundedReceiver<i64>,
    tx: mpsc::UnboundedSender<Loaded>,
) {
    while let Some(first) = rx.recv().await {
        let mut ids = vec![first];
        while let Ok(more) = rx.try_recv() {
            if !ids.contains(&more) {
                ids.push(more);
            }
        }
        for order_id in ids {
            let result = match order_detail(&pool, order_id).await {
                Ok(d) => Ok(Arc::new(d)),
                Err(e) => {
                    tracing::warn!(order_id, error = %e, "fraud detail failed");
                    Err(crate::store::short_reason(&e))
                }
            };
            if tx.send(Loaded { order_id, result }).is_err() {
                return;
            }
        }
    }
}
