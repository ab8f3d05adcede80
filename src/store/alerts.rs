//! Alerts lsn-ops raises on its own, in `alerts`: the applier's "webhook
//! delivery failures", the executor's "commands parked as dead", the scorer's
//! "reference lists not reloaded", and the receiver's "webhook signature
//! failures".
//!
//! One row per condition (`dedup_key`) while it is unresolved (the schema's
//! `alerts_active_uq`): a recurrence bumps `occurrences` and `last_seen_at`
//! instead of opening a second alert, so a flapping condition pages once.
//! Reading alerts for the screens is in [`super::snapshot`] and
//! [`super::status`].

use sqlx::{PgConnection, PgPool};

/// Opens an alert, or bumps the unresolved one for the same condition (flap
/// damping), inside the caller's transaction. Returns the alert's id.
pub async fn raise(
    conn: &mut PgConnection,
    rule_key: &str,
    dedup_key: &str,
    severity: &str,
    priority: &str,
    title: &str,
    details: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title, details)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (dedup_key) WHERE state <> 'resolved'
         DO UPDATE SET occurrences = alerts.occurrences + 1, last_seen_at = now(), details = EXCLUDED.details
         RETURNING id",
    )
    .bind(rule_key)
    .bind(dedup_key)
    .bind(severity)
    .bind(priority)
    .bind(title)
    // Details may quote outside values: clipped (issue 18).
    .bind(crate::text::clip(details).as_ref())
    .fetch_one(conn)
    .await
}

/// Raises the "webhook signature failures" warning for `provider`, or refreshes
/// the unresolved one (its title and details carry the latest count). An alert
/// of the same key resolved less than `reopen_within` ago is reopened rather
/// than duplicated, so a flapping condition stays one alert. One transaction;
/// returns the alert's id.
pub async fn raise_signature_alert(
    pool: &PgPool,
    provider: &str,
    failures: usize,
    window_minutes: i64,
    reopen_within: chrono::Duration,
) -> Result<i64, sqlx::Error> {
    let dedup_key = format!("webhook_signature_failures:{provider}");
    let title = format!("{provider} webhooks: {failures} bad signatures in {window_minutes} min");
    let details = format!(
        "{failures} {provider} webhook deliveries were refused (401) for a bad or missing signature \
         in the last {window_minutes} minutes. Check the {provider} webhook secret/key in the \
         configuration, and whether someone is probing the endpoint."
    );
    let mut tx = pool.begin().await?;
    // Refresh the open one, if any.
    let refreshed: Option<i64> = sqlx::query_scalar(
        "UPDATE alerts SET last_seen_at = now(), occurrences = occurrences + 1, title = $2, details = $3
         WHERE dedup_key = $1 AND state <> 'resolved'
         RETURNING id",
    )
    .bind(&dedup_key)
    .bind(&title)
    .bind(&details)
    .fetch_optional(&mut *tx)
    .await?;
    let id = match refreshed {
        Some(id) => id,
        None => {
            // Flap damping: reopen a recently resolved one instead of a new alert.
            let reopened: Option<i64> = sqlx::query_scalar(
                "UPDATE alerts SET state = 'open', resolved_at = NULL, resolved_by = NULL,
                        acked_at = NULL, acked_by = NULL, last_seen_at = now(),
                        occurrences = occurrences + 1, title = $2, details = $3
                 WHERE id = (SELECT id FROM alerts
                             WHERE dedup_key = $1 AND state = 'resolved'
                               AND resolved_at > now() - make_interval(secs => $4)
                             ORDER BY resolved_at DESC LIMIT 1)
                 RETURNING id",
            )
            .bind(&dedup_key)
            .bind(&title)
            .bind(&details)
            .bind(reopen_within.num_seconds() as f64)
            .fetch_optional(&mut *tx)
            .await?;
            match reopened {
                Some(id) => id,
                None => {
                    raise(
                        &mut tx,
                        "webhook_signature_failures",
                        &dedup_key,
                        "warning",
                        "P2",
                        &title,
                        &details,
                    )
                    .await?
                }
            }
        }
    };
    tx.commit().await?;
    Ok(id)
}
