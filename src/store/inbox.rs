//! The inbox: verified provider events in `provider_events`, one row per
//! (provider, event id), and the receiver's database check ([`ping`]). The
//! signature-failure alert is in [`super::alerts`].
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
