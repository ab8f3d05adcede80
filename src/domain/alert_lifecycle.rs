//! How an evaluated alert moves, pure: pending → firing after its condition
//! held for `for_s`; back to nothing if it clears before; resolved after the
//! condition has been clear for `recover_s` (a recurrence while recovering
//! counts an occurrence and keeps the one alert: no flapping); an
//! acknowledged alert still firing after the ack timeout fires again
//! (PagerDuty's ack timeout). The store applies the [`Step`].

use chrono::{DateTime, Duration, Utc};

use super::alerts::AlertState;

/// What the store knows of an unresolved alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub state: AlertState,
    /// When the condition was first seen (pending since).
    pub opened_at: DateTime<Utc>,
    /// The condition has been clear since then (recovering).
    pub clear_since: Option<DateTime<Utc>>,
    pub acked_at: Option<DateTime<Utc>>,
}

/// The timings of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub for_s: i64,
    pub recover_s: i64,
    /// `None`: acknowledged alerts never fire again by themselves.
    pub ack_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing changes but `last_seen_at` (the condition still holds, or is
    /// still recovering).
    Hold,
    /// Pending → firing.
    Fire,
    /// The condition came back while recovering: one more occurrence.
    Recur,
    /// The condition cleared: recovering from now.
    StartClearing,
    /// Clear for `recover_s`: resolved by itself.
    Resolve,
    /// A pending alert whose condition cleared before `for_s`: forgotten.
    Drop,
    /// Acknowledged but still firing after the ack timeout: firing again.
    Refire,
}

/// A new condition (no alert yet): pending, or firing at once when `for_s` is 0.
pub fn first(timing: &Timing) -> AlertState {
    if timing.for_s <= 0 {
        AlertState::Open
    } else {
        AlertState::Pending
    }
}

/// The next step of `t` when its condition `holds` (or not) at `now`.
pub fn step(t: &Tracked, holds: bool, now: DateTime<Utc>, timing: &Timing) -> Step {
    match (t.state, holds) {
        (AlertState::Resolved, _) => Step::Hold,
        (AlertState::Pending, true) => {
            if now - t.opened_at >= Duration::seconds(timing.for_s) {
                Step::Fire
            } else {
                Step::Hold
            }
        }
        (AlertState::Pending, false) => Step::Drop,
        (_, true) if t.clear_since.is_some() => Step::Recur,
        (AlertState::Acknowledged, true) => match (timing.ack_timeout, t.acked_at) {
            (Some(timeout), Some(acked)) if now - acked >= timeout => Step::Refire,
            _ => Step::Hold,
        },
        (_, true) => Step::Hold,
        (_, false) => match t.clear_since {
            None if timing.recover_s <= 0 => Step::Resolve,
            None => Step::StartClearing,
            Some(since) if now - since >= Duration::seconds(timing.recover_s) => Step::Resolve,
            Some(_) => Step::Hold,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
    }
    const TIMING: Timing = Timing {
        for_s: 60,
        recover_s: 120,
        ack_timeout: None,
    };
    fn tracked(state: AlertState) -> Tracked {
        Tracked {
            state,
            opened_at: t0(),
            clear_since: None,
            acked_at: None,
        }
    }
    fn at(s: i64) -> DateTime<Utc> {
        t0() + Duration::seconds(s)
    }

    #[test]
    fn pending_fires_only_after_for_s() {
        assert_eq!(first(&TIMING), AlertState::Pending);
        let p = tracked(AlertState::Pending);
        assert_eq!(step(&p, true, at(59), &TIMING), Step::Hold);
        assert_eq!(step(&p, true, at(60), &TIMING), Step::Fire);
        assert_eq!(step(&p, false, at(30), &TIMING), Step::Drop);
        let now = Timing { for_s: 0, ..TIMING };
        assert_eq!(first(&now), AlertState::Open);
    }

    #[test]
    fn firing_resolves_only_after_recover_s_and_a_recurrence_keeps_it() {
        let f = tracked(AlertState::Open);
        assert_eq!(step(&f, true, at(500), &TIMING), Step::Hold);
        assert_eq!(step(&f, false, at(500), &TIMING), Step::StartClearing);
        let clearing = Tracked {
            clear_since: Some(at(500)),
            ..f
        };
        assert_eq!(step(&clearing, false, at(619), &TIMING), Step::Hold);
        assert_eq!(step(&clearing, false, at(620), &TIMING), Step::Resolve);
        assert_eq!(step(&clearing, true, at(560), &TIMING), Step::Recur);
        let at_once = Timing {
            recover_s: 0,
            ..TIMING
        };
        assert_eq!(step(&f, false, at(500), &at_once), Step::Resolve);
    }

    #[test]
    fn an_ack_times_out_while_still_firing() {
        let timing = Timing {
            ack_timeout: Some(Duration::minutes(30)),
            ..TIMING
        };
        let acked = Tracked {
            acked_at: Some(at(100)),
            ..tracked(AlertState::Acknowledged)
        };
        assert_eq!(step(&acked, true, at(100 + 1799), &timing), Step::Hold);
        assert_eq!(step(&acked, true, at(100 + 1800), &timing), Step::Refire);
        assert_eq!(step(&acked, true, at(100 + 1800), &TIMING), Step::Hold);
        let recovering = Tracked {
            clear_since: Some(at(1850)),
            ..acked
        };
        assert_eq!(
            step(&recovering, false, at(100 + 1800), &timing),
            Step::Hold,
            "no longer firing: no ack timeout"
        );
    }
}
