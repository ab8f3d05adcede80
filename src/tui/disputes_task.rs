//! The store calls behind pane 3's actions (take, evidence notes, not
//! applicable, submit, accept) and its detail (the dispute with its seven
//! items and its pack's text), run off the UI loop with the dashboard's
//! actor. The requests travel on the operations task's channel
//! ([`super::ops_task`]).

use sqlx::PgPool;

use crate::domain::operators::Actor;
use crate::store::disputes::{self, Attachment, Detail, Submitter};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Reads a dispute's detail (its items, its pack's text).
    Load(i64),
    Take(i64),
    /// A note (`na` false) or "not applicable" with why (`na` true) on item `item` (1-7).
    Evidence {
        id: i64,
        item: String,
        text: String,
        na: bool,
    },
    /// Builds the pack as the evidence stands (the detail shows its text).
    Pack(i64),
    Submit(i64),
    Accept {
        id: i64,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Loaded(i64, Result<Box<Detail>, String>),
    /// An action's footer line (done, or why not), and the dispute to read again.
    Done(i64, Result<String, String>),
}

pub async fn handle(
    pool: &PgPool,
    actor: &Actor,
    agent_refund_limit_minor: i64,
    req: Request,
) -> Answer {
    let e = |e: disputes::DisputeError| e.to_string();
    match req {
        Request::Load(id) => Answer::Loaded(
            id,
            match disputes::show(pool, &id.to_string()).await {
                Ok(Some(d)) => Ok(Box::new(d)),
                Ok(None) => Err(format!("dispute #{id} is gone")),
                Err(err) => Err(format!(
                    "dispute #{id}: {}",
                    crate::store::short_reason(&err)
                )),
            },
        ),
        Request::Take(id) => Answer::Done(
            id,
            disputes::assign(pool, actor, &id.to_string(), None)
                .await
                .map_err(e),
        ),
        Request::Evidence { id, item, text, na } => {
            let what = if na {
                Attachment::NotApplicable(text)
            } else {
                Attachment::Note(text)
            };
            Answer::Done(
                id,
                disputes::attach(pool, actor, &id.to_string(), &item, what)
                    .await
                    .map_err(e),
            )
        }
        Request::Pack(id) => Answer::Done(
            id,
            disputes::export_pack(pool, actor, &id.to_string())
                .await
                .map(|p| {
                    format!(
                        "pack of {} built: {} bytes, sha256 {}…",
                        p.paypal_dispute_id,
                        p.pdf.len(),
                        &p.sha256[..12]
                    )
                })
                .map_err(e),
        ),
        Request::Submit(id) => Answer::Done(
            id,
            disputes::submit(pool, Submitter::Operator(actor), &id.to_string())
                .await
                .map(|s| {
                    format!(
                        "evidence of {} queued for PayPal by {} (sent once)",
                        s.paypal_dispute_id, actor.name
                    )
                })
                .map_err(e),
        ),
        Request::Accept { id, reason } => Answer::Done(
            id,
            disputes::accept(
                pool,
                actor,
                &id.to_string(),
                &reason,
                agent_refund_limit_minor,
            )
            .await
            .map(|a| {
                format!(
                    "claim of {} accepted: PayPal refunds {} to the buyer",
                    a.paypal_dispute_id,
                    a.amount.display()
                )
            })
            .map_err(e),
        ),
    }
}
