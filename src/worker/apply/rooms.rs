//! Twilio room callbacks, applied a batch at a time: the shows the batch
//! names are read (and locked) once, the callbacks folded over them in
//! arrival order (`domain::rooms`), each changed show written once and the
//! batch's audit rows inserted in one statement. A busy show sends a
//! callback per viewer joining; one event per round trip was the applier's
//! bottleneck (issue 15). The result is the same as applying the callbacks
//! one at a time: the fold is the only implementation of their effect.
//!
//! A viewer sample (`show_viewer_samples`, written by a trigger when the
//! count changes) is recorded per write, so per batch: the intermediate
//! counts of one transaction were never visible to anyone anyway.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::{Outcome, WORKER, text, time};
use crate::domain::rooms::{self, RoomEvent, RoomOutcome, RoomShow};

/// A claimed Twilio event: inbox id and payload.
pub(super) type Claimed<'a> = (i64, &'a Value);

/// Applies `events` (in arrival order) and returns each one's outcome, in
/// the same order. Writes nothing for an event whose show is unknown (it
/// fails and is retried). With `careful`, a show whose write fails fails its
/// events instead of the batch (the batch was already retried once).
/// `Err` is a database error the caller rolls back.
pub(super) async fn apply(
    conn: &mut PgConnection,
    events: &[Claimed<'_>],
    careful: bool,
) -> Result<Vec<(i64, Outcome)>, sqlx::Error> {
    let parsed: Vec<Result<RoomEvent, String>> = events.iter().map(|(_, p)| parse(p)).collect();
    let sids: Vec<&str> = parsed
        .iter()
        .flatten()
        .map(|e| e.room_sid.as_str())
        .collect();
    let names: Vec<&str> = parsed
        .iter()
        .flatten()
        .map(|e| e.room_name.as_str())
        .collect();
    let mut shows = load(conn, &sids, &names).await?;
    let before = shows.clone();

    let mut outcomes: Vec<(i64, Outcome, Option<i64>)> = Vec::with_capacity(events.len());
    let mut audits: Vec<(String, i64, Value)> = Vec::new();
    for ((id, _), event) in events.iter().zip(parsed) {
        let event = match event {
            Ok(event) => event,
            Err(why) => {
                outcomes.push((*id, Outcome::Failed(why), None));
                continue;
            }
        };
        let Some(show) = rooms::find(&mut shows, &event) else {
            let why = format!("no show for room {} ({})", event.room_sid, event.room_name);
            outcomes.push((*id, Outcome::Failed(why), None));
            continue;
        };
        match rooms::apply(show, &event) {
            RoomOutcome::Applied => {
                audits.push((
                    format!("twilio.{}", event.event),
                    show.id,
                    serde_json::json!({ "room_sid": event.room_sid, "identity": event.identity }),
                ));
                outcomes.push((*id, Outcome::Applied, Some(show.id)));
            }
            RoomOutcome::Ignored(why) => outcomes.push((*id, Outcome::Ignored(why), None)),
        }
    }

    let mut failed_shows = Vec::new();
    for (show, old) in shows.iter().zip(&before) {
        if show == old {
            continue;
        }
        if careful {
            sqlx::query("SAVEPOINT room_show")
                .execute(&mut *conn)
                .await?;
        }
        match write(conn, show).await {
            Ok(()) => {}
            Err(e) if careful => {
                sqlx::query("ROLLBACK TO SAVEPOINT room_show")
                    .execute(&mut *conn)
                    .await?;
                failed_shows.push((show.id, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    // A show that could not be written fails its events and loses their audit rows.
    if !failed_shows.is_empty() {
        audits.retain(|(_, show, _)| !failed_shows.iter().any(|(f, _)| f == show));
        for (_, outcome, show) in &mut outcomes {
            if let Some((_, why)) = failed_shows.iter().find(|(f, _)| Some(*f) == *show) {
                *outcome = Outcome::Failed(why.clone());
            }
        }
    }
    audit(conn, audits).await?;
    Ok(outcomes
        .into_iter()
        .map(|(id, outcome, _)| (id, outcome))
        .collect())
}

fn parse(payload: &Value) -> Result<RoomEvent, String> {
    let field = |name: &str| {
        text(payload, &[name])
            .map(str::to_string)
            .ok_or_else(|| format!("payload has no {name}"))
    };
    Ok(RoomEvent {
        event: field("StatusCallbackEvent")?,
        room_sid: field("RoomSid")?,
        room_name: text(payload, &["RoomName"]).unwrap_or("").to_string(),
        identity: text(payload, &["ParticipantIdentity"])
            .unwrap_or("")
            .to_string(),
        at: time(payload, &["Timestamp"]).unwrap_or_else(Utc::now),
        recording_sid: text(payload, &["RecordingSid"]).map(str::to_string),
    })
}

type ShowRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i32,
    i32,
    String,
    Option<String>,
);

/// The shows bound to one of `sids`, or not yet bound and named one of
/// `names`; locked, in id order (two appliers lock in the same order).
async fn load(
    conn: &mut PgConnection,
    sids: &[&str],
    names: &[&str],
) -> Result<Vec<RoomShow>, sqlx::Error> {
    if sids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ShowRow> = sqlx::query_as(
        "SELECT s.id, s.status, c.handle, s.twilio_room_sid, s.twilio_room_name,
                s.creator_connected_at, s.started_at, s.ended_at,
                s.current_viewers, s.peak_viewers, s.recording_status, s.recording_sid
           FROM shows s JOIN creators c ON c.id = s.creator_id
          WHERE s.twilio_room_sid = ANY($1)
             OR (s.twilio_room_sid IS NULL AND s.twilio_room_name = ANY($2))
          ORDER BY s.id
          FOR UPDATE OF s",
    )
    .bind(sids)
    .bind(names)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                status,
                creator_handle,
                room_sid,
                room_name,
                creator_connected_at,
                started_at,
                ended_at,
                current_viewers,
                peak_viewers,
                recording_status,
                recording_sid,
            )| RoomShow {
                id,
                status,
                creator_handle,
                room_sid,
                room_name,
                creator_connected_at,
                started_at,
                ended_at,
                current_viewers,
                peak_viewers,
                recording_status,
                recording_sid,
            },
        )
        .collect())
}

async fn write(conn: &mut PgConnection, show: &RoomShow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shows SET status = $2, twilio_room_sid = $3, creator_connected_at = $4,
                started_at = $5, ended_at = $6, current_viewers = $7, peak_viewers = $8,
                recording_status = $9, recording_sid = $10
          WHERE id = $1",
    )
    .bind(show.id)
    .bind(&show.status)
    .bind(&show.room_sid)
    .bind(show.creator_connected_at)
    .bind(show.started_at)
    .bind(show.ended_at)
    .bind(show.current_viewers)
    .bind(show.peak_viewers)
    .bind(&show.recording_status)
    .bind(&show.recording_sid)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One audit row per applied callback, in one statement.
async fn audit(
    conn: &mut PgConnection,
    rows: Vec<(String, i64, Value)>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut actions = Vec::with_capacity(rows.len());
    let mut shows = Vec::with_capacity(rows.len());
    let mut details = Vec::with_capacity(rows.len());
    for (action, show, detail) in rows {
        actions.push(action);
        shows.push(show.to_string());
        details.push(detail);
    }
    sqlx::query(
        "INSERT INTO audit_log (operator, action, entity_type, entity_id, details)
         SELECT $1, a, 'show', e, d FROM unnest($2::text[], $3::text[], $4::jsonb[]) WITH ORDINALITY AS t(a, e, d, n)
          ORDER BY n",
    )
    .bind(WORKER)
    .bind(&actions)
    .bind(&shows)
    .bind(&details)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
