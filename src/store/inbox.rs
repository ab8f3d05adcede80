//! The inbox: verified provider events in `provider_events`, one row per
//! (provider, event id), plus the worker's own health writes (the webhook
//! signature-failure alert).
//!
//! Storing is the whole of the webhook's durability promise: the worker answers
//! 2xx only after [`insert_event`] has committed. A redelivery of a stored event
//! is a no-op that reports [`Inserted::Duplicate`]. Applying events to the
//! domain tables is the applier's job (it claims `pending` rows with
//! `FOR UPDATE SKIP LOCKED`), not this module's.
//!
//! These writes are the providers' doing, not an operator's: they take no
//! `Actor` and do not go through `store::authz`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use super::CHANGE_CHANNEL;

/// A verified event, ready for the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `paypal`, `wise` or `twilio` (the table's CHECK).
    pub provider: &'static str,
    /// The provider's event id, or a stable id derived from the payload.
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: Option<DateTime<Utc>>,
    /// Request headers worth keeping, without credentials.
    pub headers: Value,
    /// The event as JSON (Twilio's form fields become an object).
    pub payload: Value,
}

/// What [`insert_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A new row, with its id.
    New(i64),
    /// The (provider, event id) was already stored; nothing changed.
    Duplicate,
}

/// Stores `event` unless it is already there, and on a new row notifies
/// dashboards (`NOTIFY lsn_ops_changes, 'provider_events'`), in one transaction.
pub async fn insert_event(pool: &PgPool, event: &NewEvent) -> Result<Inserted, sqlx::Error> {
    // One statement, one round trip: the insert and its NOTIFY commit together
    // (a statement is its own transaction), and a duplicate notifies nobody.
    let id: Option<i64> = sqlx::query_scalar(
        "WITH stored AS (
           INSERT INTO provider_events (provider, event_id, event_type, occurred_at, headers, payload)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (provider, event_id) DO NOTHING
           RETURNING id)
         SELECT id FROM stored, LATERAL (SELECT pg_notify($7, 'provider_events')) notified",
    )
    .bind(event.provider)
    .bind(&event.event_id)
    .bind(&event.event_type)
    .bind(event.occurred_at)
    .bind(&event.headers)
    .bind(&event.payload)
    .bind(CHANGE_CHANNEL)
    .fetch_optional(pool)
    .await?;
    Ok(id.map_or(Inserted::Duplicate, Inserted::New))
}

/// `SELECT 1`: does the database answer?
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(pool)
        .await
        .map(|_| ())
}

/// Raises the "webhook signature failures" warning for `provider`, or refreshes
/// the unresolved one (one row per `dedup_key` while unresolved: a recurrence
/// bumps `occurrences` and `last_seen_at` instead of paging again). An alert of
/// the same key resolved less than `reopen_within` ago is reopened rather than
/// duplicated, so a flapping condition stays one alert.
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
                None => sqlx::query_scalar(
                    "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title, details)
                         VALUES ('webhook_signature_failures', $1, 'warning', 'P2', $2, $3)
                         ON CONFLICT (dedup_key) WHERE state <> 'resolved'
                         DO UPDATE SET last_seen_at = now(), occurrences = alerts.occurrences + 1
                         RETURNING id",
                )
                .bind(&dedup_key)
                .bind(&title)
                .bind(&details)
                .fetch_one(&mut *tx)
                .await?,
            }
        }
    };
    tx.commit().await?;
    Ok(id)
}
