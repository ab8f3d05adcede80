//! Disputes in every state of the workflow, several inside 24h of their SLA,
//! each with its evidence checklist.

use chrono::Duration;
use color_eyre::eyre::Result;
use sqlx::PgConnection;

use super::{DisputeSeed, Generator};
use crate::domain::disputes::{DisputeState, EVIDENCE_ITEMS, sla_due_at};
use crate::store::seed::CopyBuf;

impl Generator {
    pub(super) async fn load_disputes(
        &mut self,
        conn: &mut PgConnection,
        seeds: Vec<DisputeSeed>,
    ) -> Result<()> {
        let mut disputes = CopyBuf::new(
            "COPY disputes (id, paypal_dispute_id, order_id, payment_id, state, outcome, reason, paypal_status,
                            life_cycle_stage, amount_minor, currency, opened_at, sla_due_at, seller_response_due_at,
                            assigned_to, submitted_at, resolved_at, closed_at, updated_at,
                            submit_requested_by, submit_requested_at, lost_minor) FROM STDIN",
        );
        let mut evidence = CopyBuf::new(
            "COPY dispute_evidence (dispute_id, item, status, content, collected_at, collected_by, source) FROM STDIN",
        );
        let reasons = [
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
            "UNAUTHORISED",
            "DUPLICATE_TRANSACTION",
            "CREDIT_NOT_PROCESSED",
        ];
        for (k, seed) in seeds.iter().enumerate() {
            let id = k as i64 + 1;
            // The first disputes cover every active state near its SLA
            // (twice each), then one of each outcome; the rest are mostly history.
            let active_roll = if k < 10 {
                0
            } else if k < 13 {
                99
            } else {
                seed.roll % 100
            };
            let pick_state = if k < 10 {
                k as u64
            } else if k < 13 {
                k as u64 - 10
            } else {
                seed.roll
            };
            // Cases still gathering start as PayPal left them (OPEN, or
            // EVIDENCE_REQUIRED); the real gathering below moves them on as
            // far as their order's data allows.
            let state = if active_roll < 18 {
                match pick_state % 5 {
                    0 => DisputeState::Open,
                    1..=3 => DisputeState::EvidenceRequired,
                    _ => DisputeState::Submitted,
                }
            } else {
                match pick_state % 4 {
                    0 => DisputeState::Won,
                    1 => DisputeState::Lost,
                    _ => DisputeState::Closed,
                }
            };
            let opened_at = if state.awaiting_evidence() {
                // Spread over the last 30 hours: some overdue, most inside 24h of the SLA.
                self.now - Duration::minutes((seed.roll % 1_800) as i64)
            } else if state == DisputeState::Submitted {
                self.now - Duration::hours(30 + (seed.roll % 100) as i64)
            } else {
                (seed.created_at + Duration::days(3 + (seed.roll % 20) as i64))
                    .min(self.now - Duration::days(1))
            };
            let hard_due = opened_at + Duration::days(if seed.roll % 7 == 0 { 2 } else { 10 });
            let outcome = match state {
                DisputeState::Won => Some("WON"),
                DisputeState::Lost => Some("LOST"),
                DisputeState::Closed => Some(if seed.roll % 3 == 0 { "LOST" } else { "WON" }),
                _ => None,
            };
            let resolved_at =
                outcome.map(|_| opened_at + Duration::days(12).min(self.now - opened_at));
            let submitted_at = matches!(
                state,
                DisputeState::Submitted
                    | DisputeState::Won
                    | DisputeState::Lost
                    | DisputeState::Closed
            )
            .then(|| opened_at + Duration::hours(20));
            let paypal_status = match state {
                DisputeState::Open => "OPEN",
                DisputeState::Submitted => "UNDER_REVIEW",
                s if s.is_active() => "WAITING_FOR_SELLER_RESPONSE",
                _ => "RESOLVED",
            };
            let amount = if seed.roll % 5 == 0 {
                seed.total / 2
            } else {
                seed.total
            };
            disputes
                .row()
                .f(id)
                .f(format!("PP-D-{:05}", 10_000 + id))
                .f(seed.order_id)
                .f(seed.order_id)
                .f(state.as_str())
                .f(outcome)
                .f(reasons[(seed.roll % reasons.len() as u64) as usize])
                .f(paypal_status)
                .f(if seed.roll % 4 == 0 {
                    "INQUIRY"
                } else {
                    "CHARGEBACK"
                })
                .f(amount)
                .f("USD")
                .f(opened_at)
                .f(sla_due_at(opened_at))
                .f(hard_due)
                .f(state
                    .is_active()
                    .then_some(if k % 2 == 0 { "alice" } else { "dana" }))
                .f(submitted_at)
                .f(resolved_at)
                .f((state == DisputeState::Closed)
                    .then_some(resolved_at.unwrap_or(opened_at) + Duration::days(1)))
                .f(resolved_at.unwrap_or(opened_at))
                .f(submitted_at.map(|_| if k % 2 == 0 { "alice" } else { "dana" }))
                .f(submitted_at)
                .f((outcome == Some("LOST")).then_some(amount));
            // Past evidence: what was sent then. Still gathering: nothing
            // yet (the gathering below collects it from the data).
            let collected = if state.awaiting_evidence() { 0 } else { 7 };
            for (n, (item, label)) in EVIDENCE_ITEMS.iter().enumerate() {
                let done = n < collected;
                let content = done.then(|| {
                    serde_json::json!({ "lines": [format!("{label}: sent with the evidence")] })
                        .to_string()
                });
                evidence
                    .row()
                    .f(id)
                    .f(*item)
                    .f(if done { "collected" } else { "missing" })
                    .f(content)
                    .f(done.then_some(opened_at + Duration::minutes(5)))
                    .f(done.then_some("lsn-ops"))
                    .f(done.then_some("the evidence submitted (seed history)"));
            }
        }
        disputes.flush(conn).await?;
        evidence.flush(conn).await?;
        customer_messages(conn).await?;
        // The real gathering, as the worker does it for a new dispute.
        let gathering: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM disputes WHERE state IN ('OPEN', 'EVIDENCE_REQUIRED') ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        for id in gathering {
            crate::store::disputes::gather(conn, id).await?;
        }
        Ok(())
    }
}

/// The messages with the customers of disputed orders: the order
/// confirmation email, the shipping notice, and for every other dispute a
/// support conversation before it was opened. (Only disputed orders carry
/// messages in the seed: a million confirmation emails would add nothing.)
async fn customer_messages(conn: &mut PgConnection) -> Result<()> {
    sqlx::query(
        "INSERT INTO customer_messages (order_id, customer_id, kind, direction, subject, body, sent_at)
         SELECT o.id, o.customer_id, 'order_confirmation', 'outbound',
                'Your order ' || o.order_number || ' is confirmed',
                'Thank you for your order ' || o.order_number || '. We will email you when it ships.',
                o.paid_at + interval '1 minute'
           FROM disputes d JOIN orders o ON o.id = d.order_id WHERE o.paid_at IS NOT NULL
         UNION ALL
         SELECT o.id, o.customer_id, 'shipping_notice', 'outbound',
                'Your order ' || o.order_number || ' has shipped',
                'Carrier ' || COALESCE(o.carrier, '?') || ', tracking number ' || o.tracking_number || '.',
                o.shipped_at
           FROM disputes d JOIN orders o ON o.id = d.order_id
          WHERE o.tracking_number IS NOT NULL AND o.shipped_at IS NOT NULL
         UNION ALL
         SELECT o.id, o.customer_id, 'support', 'inbound',
                'Question about ' || o.order_number,
                'Hello, I have a question about my order ' || o.order_number || '.',
                d.opened_at - interval '2 days'
           FROM disputes d JOIN orders o ON o.id = d.order_id WHERE d.id % 2 = 0
         UNION ALL
         SELECT o.id, o.customer_id, 'support', 'outbound',
                'Re: Question about ' || o.order_number,
                'Thanks for writing. Here is what we know about ' || o.order_number || '.',
                d.opened_at - interval '1 day'
           FROM disputes d JOIN orders o ON o.id = d.order_id WHERE d.id % 2 = 0",
    )
    .execute(conn)
    .await?;
    Ok(())
}
