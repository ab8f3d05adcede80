//! The triage task: a small task that owns a pool and runs the store's
//! claims, decisions, undo and blocklist edits for the dashboard's Fraud pane,
//! one request at a time, in order. The UI loop never waits on it: requests go
//! out on one channel, outcomes come back on another and enter the pane
//! through [`super::app::App::on_outcome`].

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::domain::operators::Actor;
use crate::store::authz::AuthError;
use crate::store::fraud::{self, Claim, DecideError, Decision, DecisionRequest};

/// One order a dialog decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub order_id: i64,
    pub order_number: String,
    pub score: u8,
}

/// What the dashboard asks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Claim {
        order_id: i64,
    },
    Release {
        order_id: i64,
    },
    Decide {
        targets: Vec<Target>,
        decision: Decision,
        reason: String,
    },
    Undo,
    /// Add a blocklist entry by hand.
    Block {
        kind: String,
        value: String,
        reason: String,
    },
    /// Remove an active blocklist entry.
    Unblock {
        kind: String,
        value: String,
        reason: String,
    },
}

/// What the store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Claimed {
        order_id: i64,
        claim: Claim,
    },
    Decided {
        decision: Decision,
        done: Vec<i64>,
        refused: Vec<(i64, DecideError)>,
    },
    Undone(Result<i64, String>),
    /// A blocklist change: `changed` false when there was nothing to do
    /// (already blocked, or no longer on the list).
    Blocklist {
        add: bool,
        kind: String,
        value: String,
        changed: bool,
    },
    Failed(String),
}

/// The triage task: one request at a time, in order, until either channel
/// closes. Every request acts as `actor`; the store checks them each time.
pub async fn run(
    pool: PgPool,
    actor: Actor,
    agent_refund_limit_minor: i64,
    mut rx: mpsc::UnboundedReceiver<Request>,
    tx: mpsc::UnboundedSender<Outcome>,
) {
    // Every request sent is carried out, even after the dashboard quit (the
    // answer then has nowhere to go): a decision confirmed on screen is made.
    while let Some(req) = rx.recv().await {
        let out = handle(&pool, &actor, agent_refund_limit_minor, req, Utc::now()).await;
        if let Some(out) = out {
            let _ = tx.send(out);
        }
    }
}

async fn handle(
    pool: &PgPool,
    actor: &Actor,
    limit: i64,
    req: Request,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    match req {
        Request::Claim { order_id } => {
            match fraud::claim(pool, order_id, actor, now).await {
                Ok(claim) => Some(Outcome::Claimed { order_id, claim }),
                // Reading an order needs no claim: one that may not be taken
                // (a read-only session) is simply not taken.
                Err(AuthError::Refused(refusal)) => {
                    tracing::debug!(order_id, %refusal, "no claim");
                    None
                }
                Err(AuthError::Sql(e)) => Some(Outcome::Failed(format!(
                    "cannot claim: {}",
                    crate::store::short_reason(&e)
                ))),
            }
        }
        Request::Release { order_id } => {
            if let Err(e) = fraud::release(pool, order_id, actor).await {
                tracing::warn!(order_id, error = %e, "release of a fraud claim failed");
            }
            None
        }
        Request::Decide {
            targets,
            decision,
            reason,
        } => {
            let mut done = Vec::new();
            let mut refused = Vec::new();
            for t in targets {
                let request = DecisionRequest {
                    order_id: t.order_id,
                    actor: actor.clone(),
                    decision,
                    reason: reason.clone(),
                    score_seen: t.score,
                    agent_refund_limit_minor: limit,
                };
                match fraud::decide(pool, &request, Utc::now()).await {
                    Ok(_) => done.push(t.order_id),
                    Err(e) => refused.push((t.order_id, e)),
                }
            }
            Some(Outcome::Decided {
                decision,
                done,
                refused,
            })
        }
        Request::Block {
            kind,
            value,
            reason,
        } => Some(blocklist(pool, actor, true, kind, value, reason).await),
        Request::Unblock {
            kind,
            value,
            reason,
        } => Some(blocklist(pool, actor, false, kind, value, reason).await),
        Request::Undo => Some(Outcome::Undone(
            fraud::undo_last(pool, actor)
                .await
                .map_err(|e| e.to_string()),
        )),
    }
}

/// Adds or removes a blocklist entry; the store says whether `actor` may.
async fn blocklist(
    pool: &PgPool,
    actor: &Actor,
    add: bool,
    kind: String,
    value: String,
    reason: String,
) -> Outcome {
    let verb = if add { "block" } else { "unblock" };
    let done = if add {
        fraud::block(pool, &kind, &value, &reason, actor).await
    } else {
        fraud::unblock(pool, &kind, &value, &reason, actor).await
    };
    match done {
        Ok(changed) => Outcome::Blocklist {
            add,
            kind,
            value,
            changed,
        },
        Err(AuthError::Refused(refusal)) => Outcome::Failed(format!("cannot {verb}: {refusal}")),
        Err(AuthError::Sql(e)) => Outcome::Failed(format!(
            "cannot {verb} {kind} {value}: {}",
            crate::store::short_reason(&e)
        )),
    }
}
