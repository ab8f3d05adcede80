//! What Twilio's room callbacks do to a show: the room, the creator's
//! arrival, viewers joining and leaving, the end of the room and its
//! recording. A pure fold over the show's fields, so the applier can apply a
//! whole batch of one show's callbacks in memory and write the show once
//! (`worker::apply::rooms`), with exactly the result of applying them one at
//! a time. Callbacks that arrive late never move a show backwards.

use chrono::{DateTime, Utc};

/// The show's fields the room callbacks read and move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomShow {
    pub id: i64,
    pub status: String,
    /// The creator's handle: their participant identity is `handle` or `creator:handle`.
    pub creator_handle: String,
    pub room_sid: Option<String>,
    pub room_name: Option<String>,
    pub creator_connected_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub current_viewers: i32,
    pub peak_viewers: i32,
    pub recording_status: String,
    pub recording_sid: Option<String>,
}

/// One room callback, as the applier reads it from the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEvent {
    /// `StatusCallbackEvent`: room-created, participant-connected, ...
    pub event: String,
    pub room_sid: String,
    /// `RoomName`, empty when absent.
    pub room_name: String,
    /// `ParticipantIdentity`, empty when absent.
    pub identity: String,
    /// `Timestamp`, or when the applier read it.
    pub at: DateTime<Utc>,
    pub recording_sid: Option<String>,
}

/// What one callback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomOutcome {
    /// Applied (possibly with no visible change, such as a late connect); audited.
    Applied,
    /// A callback lsn-ops does not act on; kept with the reason.
    Ignored(String),
}

/// Order of show statuses: a callback never moves a show to a lower rank.
pub fn show_rank(status: &str) -> u8 {
    match status {
        "scheduled" => 0,
        "preshow" => 1,
        "live" => 2,
        "ended" | "failed" | "cancelled" => 3,
        _ => 0,
    }
}

/// The show a callback belongs to among `shows`: the one with its room SID,
/// else one not yet bound to a room whose room name matches (the lowest id).
pub fn find<'a>(shows: &'a mut [RoomShow], event: &RoomEvent) -> Option<&'a mut RoomShow> {
    let index = shows
        .iter()
        .position(|s| s.room_sid.as_deref() == Some(event.room_sid.as_str()))
        .or_else(|| {
            shows
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.room_sid.is_none() && s.room_name.as_deref() == Some(event.room_name.as_str())
                })
                .min_by_key(|(_, s)| s.id)
                .map(|(i, _)| i)
        })?;
    shows.get_mut(index)
}

/// Applies one callback to its show.
pub fn apply(show: &mut RoomShow, event: &RoomEvent) -> RoomOutcome {
    let is_creator = event.identity == show.creator_handle
        || event.identity == format!("creator:{}", show.creator_handle);
    let advances = |status: &str, to: &str| show_rank(to) > show_rank(status);
    match event.event.as_str() {
        "room-created" => {
            if show.room_sid.is_none() {
                show.room_sid = Some(event.room_sid.clone());
            }
            if advances(&show.status, "preshow") {
                show.status = "preshow".into();
            }
        }
        "participant-connected" if is_creator => {
            show.creator_connected_at.get_or_insert(event.at);
            if advances(&show.status, "live") {
                show.status = "live".into();
                show.started_at.get_or_insert(event.at);
            }
        }
        "participant-connected" => {
            if matches!(show.status.as_str(), "preshow" | "live") {
                show.current_viewers = show.current_viewers.saturating_add(1);
                show.peak_viewers = show.peak_viewers.max(show.current_viewers);
            }
        }
        "participant-disconnected" if !is_creator => {
            show.current_viewers = (show.current_viewers - 1).max(0);
        }
        "room-ended" => {
            if advances(&show.status, "ended") {
                show.status = "ended".into();
            }
            show.ended_at.get_or_insert(event.at);
            show.current_viewers = 0;
        }
        "recording-started" => {
            if show.recording_status == "none" {
                show.recording_status = "recording".into();
            }
        }
        "recording-completed" => {
            show.recording_status = "saved".into();
            if let Some(sid) = &event.recording_sid {
                show.recording_sid = Some(sid.clone());
            }
        }
        "recording-failed" => {
            if show.recording_status != "saved" {
                show.recording_status = "failed".into();
            }
        }
        other => return RoomOutcome::Ignored(format!("Twilio event {other} is not acted on")),
    }
    RoomOutcome::Applied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show() -> RoomShow {
        RoomShow {
            id: 1,
            status: "scheduled".into(),
            creator_handle: "hana".into(),
            room_sid: None,
            room_name: Some("show-1".into()),
            creator_connected_at: None,
            started_at: None,
            ended_at: None,
            current_viewers: 0,
            peak_viewers: 0,
            recording_status: "none".into(),
            recording_sid: None,
        }
    }

    fn ev(event: &str, identity: &str, minute: u32) -> RoomEvent {
        RoomEvent {
            event: event.into(),
            room_sid: "RM1".into(),
            room_name: "show-1".into(),
            identity: identity.into(),
            at: DateTime::parse_from_rfc3339(&format!("2026-11-24T18:{minute:02}:00Z"))
                .expect("time")
                .with_timezone(&Utc),
            recording_sid: None,
        }
    }

    #[test]
    fn a_show_goes_live_counts_viewers_and_ends() {
        let mut s = show();
        assert_eq!(
            apply(&mut s, &ev("room-created", "", 0)),
            RoomOutcome::Applied
        );
        assert_eq!(
            (s.status.as_str(), s.room_sid.as_deref()),
            ("preshow", Some("RM1"))
        );
        apply(&mut s, &ev("participant-connected", "creator:hana", 1));
        assert_eq!(s.status, "live");
        assert_eq!(s.started_at, Some(ev("", "", 1).at));
        for n in 0..3 {
            apply(&mut s, &ev("participant-connected", &format!("v{n}"), 2));
        }
        apply(&mut s, &ev("participant-disconnected", "v0", 3));
        assert_eq!((s.current_viewers, s.peak_viewers), (2, 3));
        apply(&mut s, &ev("room-ended", "", 4));
        assert_eq!((s.status.as_str(), s.current_viewers), ("ended", 0));
        // Late callbacks do not reopen it or move its times.
        apply(&mut s, &ev("participant-connected", "hana", 5));
        apply(&mut s, &ev("participant-connected", "v9", 5));
        apply(&mut s, &ev("room-ended", "", 6));
        assert_eq!((s.status.as_str(), s.current_viewers), ("ended", 0));
        assert_eq!(s.ended_at, Some(ev("", "", 4).at));
    }

    #[test]
    fn viewers_never_go_below_zero_and_do_not_count_before_the_room() {
        let mut s = show();
        apply(&mut s, &ev("participant-disconnected", "v1", 0));
        apply(&mut s, &ev("participant-connected", "v1", 0));
        assert_eq!((s.current_viewers, s.peak_viewers), (0, 0));
    }

    #[test]
    fn a_saved_recording_stays_saved_and_unknown_events_are_ignored() {
        let mut s = show();
        apply(&mut s, &ev("recording-started", "", 0));
        assert_eq!(s.recording_status, "recording");
        let mut done = ev("recording-completed", "", 1);
        done.recording_sid = Some("RT1".into());
        apply(&mut s, &done);
        apply(&mut s, &ev("recording-failed", "", 2));
        apply(&mut s, &ev("recording-started", "", 3));
        assert_eq!(
            (s.recording_status.as_str(), s.recording_sid.as_deref()),
            ("saved", Some("RT1"))
        );
        assert!(matches!(
            apply(&mut s, &ev("track-added", "", 4)),
            RoomOutcome::Ignored(_)
        ));
        assert!(matches!(
            apply(&mut s, &ev("participant-disconnected", "hana", 4)),
            RoomOutcome::Ignored(_)
        ));
    }

    #[test]
    fn a_callback_finds_its_room_by_sid_before_name() {
        let mut shows = vec![show(), {
            let mut bound = show();
            bound.id = 2;
            bound.room_sid = Some("RM1".into());
            bound
        }];
        assert_eq!(
            find(&mut shows, &ev("room-created", "", 0)).map(|s| s.id),
            Some(2)
        );
        let mut unbound = vec![show()];
        let mut other = ev("room-created", "", 0);
        other.room_sid = "RM2".into();
        assert_eq!(find(&mut unbound, &other).map(|s| s.id), Some(1));
        other.room_name = "show-2".into();
        assert!(find(&mut unbound, &other).is_none());
    }

    #[test]
    fn ranks_never_let_an_old_event_win() {
        assert!(show_rank("ended") > show_rank("live"));
        assert!(show_rank("live") > show_rank("preshow"));
    }
}
