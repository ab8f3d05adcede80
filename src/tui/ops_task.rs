//! The operations task: owns a pool and runs the store's payout operations
//! for the dashboard's Payouts pane (generate, approve, process, retry, hold,
//! release, a line's breakdown), the alert and incident actions of pane 1
//! ([`super::alerts_task`]) and the dispute actions of pane 3
//! ([`super::disputes_task`]), one request at a time, in order. The UI loop
//! never waits on it: requests go out on one channel, outcomes come back on
//! another and enter the pane through [`super::app::App::on_ops`].

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::domain::operators::Actor;
use crate::store::payouts::{self, BreakdownOrder, Maker, Schedule};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Generate,
    Approve {
        batch: i64,
    },
    Process {
        batch: i64,
    },
    Retry {
        batch: i64,
    },
    /// Hold (or, with `release`, release) the creator of line `item`.
    Hold {
        item: i64,
        release: bool,
        reason: String,
    },
    Breakdown {
        item: i64,
    },
    /// Pane 1's alert and incident actions.
    Alerts(super::alerts_task::Request),
    /// The checklist overlay's loads and ticks.
    Checklist(super::checklist_view::Request),
    /// An ended show's performance report (pane 2's detail).
    ShowReport(i64),
    /// Pane 3's actions and detail.
    Dispute(super::disputes_task::Request),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: what to say in the footer.
    Done(String),
    /// Refused or failed: why.
    Failed(String),
    Breakdown {
        item: i64,
        orders: Vec<BreakdownOrder>,
    },
    /// An alert or incident action's answer (for pane 1): done or why not.
    Alerts(Result<String, String>),
    /// For the checklist overlay.
    Checklist(super::checklist_view::Answer),
    /// A show's report as text, or why not.
    ShowReport(i64, Result<String, String>),
    /// For pane 3.
    Dispute(super::disputes_task::Answer),
}

/// What the operations task's requests need besides the pool and actor.
#[derive(Debug, Clone)]
pub struct Settings {
    pub schedule: Schedule,
    pub targets: crate::store::notify::Targets,
    pub checklist: super::checklist_view::Settings,
    /// Agents accept dispute claims up to this amount (`[ops]`).
    pub agent_refund_limit_minor: i64,
}

pub async fn run(
    pool: PgPool,
    actor: Actor,
    settings: Settings,
    mut rx: mpsc::UnboundedReceiver<Request>,
    tx: mpsc::UnboundedSender<Outcome>,
) {
    let Settings {
        schedule,
        targets,
        checklist,
        agent_refund_limit_minor,
    } = settings;
    while let Some(req) = rx.recv().await {
        let out = match req {
            Request::Alerts(req) => {
                Outcome::Alerts(super::alerts_task::handle(&pool, &actor, targets, req).await)
            }
            Request::Checklist(req) => Outcome::Checklist(
                super::checklist_view::handle(&pool, &actor, checklist, req).await,
            ),
            Request::Dispute(req) => Outcome::Dispute(
                super::disputes_task::handle(&pool, &actor, agent_refund_limit_minor, req).await,
            ),
            Request::ShowReport(id) => {
                let report = crate::store::show_report::build(&pool, id, schedule.currency).await;
                Outcome::ShowReport(
                    id,
                    match report {
                        Ok(Some(r)) => {
                            Ok(crate::housekeeping::render::render_show(&r, &checklist.tz))
                        }
                        Ok(None) => Err(format!("show #{id} does not exist")),
                        Err(e) => Err(format!("show report: {}", crate::store::short_reason(&e))),
                    },
                )
            }
            req => handle(&pool, &actor, &schedule, req).await,
        };
        let _ = tx.send(out);
    }
}

async fn handle(pool: &PgPool, actor: &Actor, schedule: &Schedule, req: Request) -> Outcome {
    let fail = |e: payouts::PayoutError| Outcome::Failed(e.to_string());
    match req {
        Request::Generate => {
            let week = schedule.this_week(Utc::now());
            match payouts::generate(pool, Maker::Operator(actor), schedule, week).await {
                Ok(g) if g.created => Outcome::Done(format!(
                    "batch #{} for {} generated: {} lines, {}",
                    g.batch_id,
                    g.week,
                    g.lines,
                    g.total.display()
                )),
                Ok(g) => Outcome::Done(format!(
                    "batch #{} for {} already exists (unchanged)",
                    g.batch_id, g.week
                )),
                Err(e) => fail(e),
            }
        }
        Request::Approve { batch } => match payouts::approve(pool, actor, batch).await {
            Ok(()) => Outcome::Done(format!("batch #{batch} approved; p processes it")),
            Err(e) => fail(e),
        },
        Request::Process { batch } => match payouts::process(pool, actor, batch).await {
            Ok(q) => Outcome::Done(format!(
                "batch #{batch}: {} transfer(s) queued, {} already on their way",
                q.queued.len(),
                q.already
            )),
            Err(e) => fail(e),
        },
        Request::Retry { batch } => match payouts::retry(pool, actor, batch, None).await {
            Ok(q) => Outcome::Done(format!(
                "batch #{batch}: {} failed line(s) sent again, {} skipped",
                q.queued.len(),
                q.skipped.len()
            )),
            Err(e) => fail(e),
        },
        Request::Hold {
            item,
            release,
            reason,
        } => {
            let creator: Result<String, sqlx::Error> = sqlx::query_scalar(
                "SELECT c.handle FROM payout_items pi JOIN creators c ON c.id = pi.creator_id WHERE pi.id = $1",
            )
            .bind(item)
            .fetch_one(pool)
            .await;
            let creator = match creator {
                Ok(c) => c,
                Err(e) => return Outcome::Failed(format!("line #{item}: {e}")),
            };
            let done = if release {
                payouts::release(pool, actor, &creator, &reason).await
            } else {
                payouts::hold(pool, actor, &creator, &reason).await
            };
            match done {
                Ok(t) => Outcome::Done(format!(
                    "{creator} {}: {} line(s)",
                    if release { "released" } else { "on hold" },
                    t.lines.len()
                )),
                Err(e) => fail(e),
            }
        }
        Request::Breakdown { item } => match payouts::breakdown(pool, item).await {
            Ok(orders) => Outcome::Breakdown { item, orders },
            Err(e) => Outcome::Failed(format!("breakdown: {e}")),
        },
        Request::Alerts(_)
        | Request::Checklist(_)
        | Request::ShowReport(_)
        | Request::Dispute(_) => Outcome::Failed("not a payouts request".into()),
    }
}
