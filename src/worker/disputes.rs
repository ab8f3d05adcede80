//! The dispute sweep: every `[disputes] sweep_s` the worker gathers the
//! evidence of every dispute still gathering again (items that arrive later,
//! a delivery scan, are picked up) and applies the runbook's automated
//! process to each EVIDENCE_READY one: auto-submit when the internal 24 h
//! deadline has come and PayPal's is more than 48 h away; otherwise it stays
//! in the manual queue with the reason recorded for the screen. Several
//! workers may sweep: a dispute is submitted once (row lock, one request per
//! stage, the outbox's idempotency key).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::disputes::{AUTO_SUBMIT_MIN_LEAD, may_auto_submit};
use crate::store::disputes::{self, DisputeError, Submitter};

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub gathered: usize,
    pub moved: usize,
    pub auto_submitted: Vec<i64>,
    pub left_manual: usize,
}

/// Why an EVIDENCE_READY dispute waits for a person, or `None` when the
/// worker may submit it now.
pub fn manual_reason(
    now: DateTime<Utc>,
    sla_due_at: DateTime<Utc>,
    paypal_due: Option<DateTime<Utc>>,
    auto_submit: bool,
) -> Option<String> {
    if !auto_submit {
        return Some("auto-submission is off ([disputes] auto_submit): submit with s".into());
    }
    if !may_auto_submit(true, paypal_due, now) {
        return Some(match paypal_due {
            Some(_) => format!(
                "PayPal's deadline is under {} h away: a person submits",
                AUTO_SUBMIT_MIN_LEAD.num_hours()
            ),
            None => "PayPal gave no deadline: a person submits".into(),
        });
    }
    if now < sla_due_at {
        return Some(format!(
            "auto-submits at the internal deadline, {} (until then evidence may be added)",
            disputes::utc(sla_due_at)
        ));
    }
    None
}

/// One sweep over the disputes still before submission.
pub async fn sweep(pool: &PgPool, auto_submit: bool) -> Result<Swept, sqlx::Error> {
    let mut out = Swept::default();
    let gathering: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM disputes
          WHERE state IN ('OPEN', 'EVIDENCE_REQUIRED', 'EVIDENCE_BUILDING', 'EVIDENCE_READY')
            AND submit_requested_at IS NULL
          ORDER BY id LIMIT 5000",
    )
    .fetch_all(pool)
    .await?;
    for id in gathering {
        let mut tx = pool.begin().await?;
        let g = disputes::gather(&mut tx, id).await?;
        tx.commit().await?;
        out.gathered += 1;
        out.moved += usize::from(!g.steps.is_empty());
    }
    type Ready = (i64, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>);
    let ready: Vec<Ready> = sqlx::query_as(
        "SELECT id, sla_due_at, seller_response_due_at, manual_reason FROM disputes
          WHERE state = 'EVIDENCE_READY' AND submit_requested_at IS NULL ORDER BY id LIMIT 5000",
    )
    .fetch_all(pool)
    .await?;
    for (id, sla, due, recorded) in ready {
        match manual_reason(Utc::now(), sla, due, auto_submit) {
            Some(reason) => {
                out.left_manual += 1;
                if recorded.as_deref() != Some(reason.as_str()) {
                    sqlx::query(
                        "UPDATE disputes SET manual_reason = $2 WHERE id = $1 AND submit_requested_at IS NULL",
                    )
                    .bind(id)
                    .bind(&reason)
                    .execute(pool)
                    .await?;
                }
            }
            None => match disputes::submit(pool, Submitter::Auto, &id.to_string()).await {
                Ok(s) => {
                    tracing::info!(
                        dispute = id,
                        command = s.command_id,
                        "dispute auto-submitted"
                    );
                    out.auto_submitted.push(id);
                }
                // Another worker got there first, or the case moved on.
                Err(DisputeError::Refused(why)) => tracing::debug!(dispute = id, "{why}"),
                Err(DisputeError::Sql(e)) => return Err(e),
                Err(e) => tracing::warn!(dispute = id, "auto-submit: {e}"),
            },
        }
    }
    Ok(out)
}

/// Runs until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    auto_submit: bool,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match sweep(&pool, auto_submit).await {
            Ok(s) if !s.auto_submitted.is_empty() || s.moved > 0 => tracing::info!(
                "disputes: {} moved on, {} auto-submitted",
                s.moved,
                s.auto_submitted.len()
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("disputes sweep: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration as D;

    #[test]
    fn the_runbook_conditions_for_auto_submission() {
        let now = Utc::now();
        let past_sla = now - D::minutes(1);
        let far = Some(now + D::hours(72));
        assert_eq!(manual_reason(now, past_sla, far, true), None);
        let near = manual_reason(now, past_sla, Some(now + D::hours(47)), true);
        assert!(near.is_some_and(|r| r.contains("under 48 h")));
        let early = manual_reason(now, now + D::hours(3), far, true);
        assert!(early.is_some_and(|r| r.contains("auto-submits at the internal deadline")));
        assert!(manual_reason(now, past_sla, far, false).is_some());
        assert!(manual_reason(now, past_sla, None, true).is_some());
    }
}
