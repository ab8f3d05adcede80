//! The ops side: open alerts of every severity, incidents with their
//! deadlines, storefront sessions per day (for the conversion rate), and the
//! audit rows of the seeded decisions and of the load itself.

use chrono::Duration;
use color_eyre::eyre::Result;
use sqlx::PgConnection;

use super::Generator;
use crate::domain::incidents::{Priority, due_at};
use crate::store::seed::CopyBuf;

impl Generator {
    pub(super) async fn load_ops(&mut self, conn: &mut PgConnection) -> Result<()> {
        let now = self.now;
        let mut alerts = CopyBuf::new(
            "COPY alerts (id, rule_key, dedup_key, severity, priority, title, details, state, opened_at, last_seen_at,
                          occurrences, acked_by, acked_at, resolved_by, resolved_at, source, evaluated, fired_at) FROM STDIN",
        );
        type AlertSeed<'a> = (
            &'a str,
            String,
            &'a str,
            &'a str,
            String,
            String,
            &'a str,
            i64,
            Option<&'a str>,
        );
        let no_room = self.no_room_show;
        let list: Vec<AlertSeed> = vec![
            (
                "show_cannot_start",
                format!("show:{no_room}:cannot_start"),
                "critical",
                "P0",
                format!("Live show #{no_room} cannot start: no Twilio room"),
                "Scheduled 7 minutes ago; creator not connected, room creation failed".into(),
                "open",
                7,
                None,
            ),
            (
                "payout_failures",
                "payout:failed".into(),
                "critical",
                "P1",
                "Creator payout failed: transfer bounced back".into(),
                "1 transfer in last week's batch bounced back (account closed)".into(),
                "acknowledged",
                600,
                Some("bob"),
            ),
            (
                "api_latency",
                "api_latency".into(),
                "warning",
                "P2",
                "API p95 612 ms (> 500 ms)".into(),
                "checkout-api p95 over the last 15 minutes".into(),
                "open",
                18,
                None,
            ),
            (
                "webhook_failures",
                "webhook:paypal".into(),
                "warning",
                "P1",
                "3 PayPal webhook deliveries failed".into(),
                "signature verification failed for 3 requests from 198.51.100.20".into(),
                "open",
                42,
                None,
            ),
            (
                "low_stock",
                "low_stock:today".into(),
                "warning",
                "P2",
                "Low stock on a product pinned in today's live show".into(),
                "8 units free, reorder point 15".into(),
                "open",
                35,
                None,
            ),
            (
                "fraud_backlog",
                "fraud:backlog".into(),
                "info",
                "P3",
                "High-risk queue above 10 orders".into(),
                "Oldest pending order waiting 3h".into(),
                "open",
                180,
                None,
            ),
            (
                "disk",
                "disk:/var/lib/postgresql".into(),
                "warning",
                "P2",
                "Disk 83.10% used (> 80%)".into(),
                "db-primary /var/lib/postgresql".into(),
                "resolved",
                2_000,
                Some("carol"),
            ),
        ];
        for (n, (rule, dedup, severity, priority, title, details, state, minutes_ago, who)) in
            list.into_iter().enumerate()
        {
            let opened = now - Duration::minutes(minutes_ago);
            let acked = (state != "open").then(|| opened + Duration::minutes(4));
            let resolved = (state == "resolved").then(|| opened + Duration::minutes(50));
            alerts
                .row()
                .f(n as i64 + 1)
                .f(rule)
                .f(dedup)
                .f(severity)
                .f(priority)
                .f(title)
                .f(details)
                .f(state)
                .f(opened)
                .f(now - Duration::minutes(1))
                .f(1 + (minutes_ago % 5) as i32)
                .f(acked.and(who))
                .f(acked)
                .f(resolved.and(who))
                .f(resolved)
                // The domain rules' alerts (same keys as `store::data_rules`) are
                // the evaluator's: it resolves them when the data no longer shows them.
                .f(match rule {
                    "show_cannot_start" => "shows",
                    "fraud_backlog" => "fraud",
                    "payout_failures" => "payouts",
                    "low_stock" => "inventory",
                    "webhook_failures" => "inbox",
                    "disk" => "system",
                    _ => "probe:checkout-api",
                })
                .f(matches!(rule, "show_cannot_start" | "fraud_backlog"))
                .f(opened);
        }
        alerts.flush(conn).await?;

        let mut incidents = CopyBuf::new(
            "COPY incidents (priority, title, state, alert_id, commander, opened_at, due_at, resolved_at, resolved_by,
                             summary) FROM STDIN",
        );
        let list: [(Priority, &str, &str, Option<i64>, i64); 4] = [
            (
                Priority::P0,
                "Live show cannot start (no room)",
                "investigating",
                Some(1),
                6,
            ),
            (
                Priority::P1,
                "Creator payout failure: bounced transfer",
                "identified",
                Some(2),
                170,
            ),
            (
                Priority::P2,
                "Checkout API latency degraded",
                "monitoring",
                Some(3),
                15,
            ),
            (
                Priority::P3,
                "Payout breakdown CSV misaligned columns",
                "resolved",
                None,
                3 * 24 * 60,
            ),
        ];
        for (priority, title, state, alert, minutes_ago) in list {
            let opened = now - Duration::minutes(minutes_ago);
            let resolved = (state == "resolved").then(|| opened + Duration::hours(20));
            incidents
                .row()
                .f(priority.as_str())
                .f(title)
                .f(state)
                .f(alert)
                .f(Some("carol"))
                .f(opened)
                .f(due_at(priority, opened))
                .f(resolved)
                .f(resolved.map(|_| "carol"))
                .f(if state == "resolved" {
                    "Fixed column order in export"
                } else {
                    ""
                });
        }
        incidents.flush(conn).await?;

        // Storefront sessions per ops day: about 3.5% of sessions convert.
        let tz = self.tz.to_string();
        sqlx::query(
            "INSERT INTO daily_traffic (day, sessions)
             SELECT (created_at AT TIME ZONE $1)::date AS day, count(*) * 28 + 500
               FROM orders GROUP BY 1",
        )
        .bind(&tz)
        .execute(&mut *conn)
        .await?;

        sqlx::query(
            "INSERT INTO audit_log (operator, action, entity_type, entity_id, details)
             SELECT operator, 'fraud.' || decision, 'order', order_id::text,
                    jsonb_build_object('reason', reason, 'score_seen', score_seen)
               FROM fraud_decisions",
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO audit_log (operator, action, entity_type, entity_id, details)
             VALUES ('seed', 'seed.load', 'database', current_database(), $1)",
        )
        .bind(serde_json::json!({ "orders": self.orders }))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
