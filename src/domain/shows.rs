//! Live shows: status, the runbook's pre-/post-show checklists, and what the
//! schedule shows for each show right now (countdown, live, late without a room).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::incidents::format_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShowStatus {
    Scheduled,
    Preshow,
    Live,
    Ended,
    Cancelled,
    Failed,
}

impl ShowStatus {
    pub const ALL: [ShowStatus; 6] = [
        Self::Scheduled,
        Self::Preshow,
        Self::Live,
        Self::Ended,
        Self::Cancelled,
        Self::Failed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Preshow => "preshow",
            Self::Live => "live",
            Self::Ended => "ended",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Pre-show checklist (30 minutes before), in the runbook's order.
pub const PRESHOW_CHECKLIST: [(&str, &str); 7] = [
    ("creator_ready", "Creator online and ready"),
    ("av_quality", "Video and audio quality tested"),
    ("products_pinned", "Products pinned correctly"),
    (
        "inventory_checked",
        "Inventory of featured products checked",
    ),
    ("chat_tested", "Chat functionality tested"),
    ("price_drops_scheduled", "Price drops scheduled"),
    ("followers_notified", "Reminder sent to followers"),
];

/// Post-show checklist, in the runbook's order.
pub const POSTSHOW_CHECKLIST: [(&str, &str); 6] = [
    ("recording_saved", "Recording saved"),
    ("report_generated", "Show performance report generated"),
    ("pending_orders", "Pending orders processed"),
    ("creator_metrics", "Creator performance metrics updated"),
    ("highlight_clips", "Highlight clips created"),
    ("replay_scheduled", "Replay availability scheduled"),
];

/// The pre-show window opens this long before the scheduled start.
pub const PRESHOW_WINDOW: Duration = Duration::minutes(30);

/// What the schedule says about a show at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum Phase {
    Upcoming {
        starts_in_s: i64,
    },
    /// Inside the 30-minute pre-show window.
    PreShow {
        starts_in_s: i64,
    },
    Live {
        for_s: i64,
    },
    /// Past its start with no room: the runbook's P0 "live show cannot start".
    LateNoRoom {
        late_by_s: i64,
    },
    /// Past its start, room exists, not live yet.
    Late {
        late_by_s: i64,
    },
    Done,
}

pub fn phase(
    status: ShowStatus,
    scheduled_start: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    has_room: bool,
    now: DateTime<Utc>,
) -> Phase {
    match status {
        ShowStatus::Live => Phase::Live {
            for_s: (now - started_at.unwrap_or(scheduled_start))
                .num_seconds()
                .max(0),
        },
        ShowStatus::Ended | ShowStatus::Cancelled | ShowStatus::Failed => Phase::Done,
        ShowStatus::Scheduled | ShowStatus::Preshow => {
            let until = (scheduled_start - now).num_seconds();
            if until > PRESHOW_WINDOW.num_seconds() {
                Phase::Upcoming { starts_in_s: until }
            } else if until > 0 {
                Phase::PreShow { starts_in_s: until }
            } else if has_room {
                Phase::Late { late_by_s: -until }
            } else {
                Phase::LateNoRoom { late_by_s: -until }
            }
        }
    }
}

impl Phase {
    /// Short text for the schedule: "in 2h 05m", "pre-show 12m", "LIVE 34m",
    /// "NO ROOM +5m", "late 3m", "done".
    pub fn label(&self) -> String {
        let d = |s: i64| format_duration(Duration::seconds(s));
        match self {
            Phase::Upcoming { starts_in_s } => format!("in {}", d(*starts_in_s)),
            Phase::PreShow { starts_in_s } => format!("pre-show {}", d(*starts_in_s)),
            Phase::Live { for_s } => format!("LIVE {}", d(*for_s)),
            Phase::LateNoRoom { late_by_s } => format!("NO ROOM +{}", d(*late_by_s)),
            Phase::Late { late_by_s } => format!("late {}", d(*late_by_s)),
            Phase::Done => "done".into(),
        }
    }

    pub fn cannot_start(&self) -> bool {
        matches!(self, Phase::LateNoRoom { .. })
    }
}

/// Minutes of viewers a live show's trend covers (pane 2).
pub const VIEWER_TREND_MINUTES: i64 = 30;

/// Viewers per minute over the `minutes` before `now`, oldest first, from the
/// samples taken whenever the count changed (`(when, viewers)`, oldest first,
/// the last one before the window included if there is one). A minute holds
/// the most viewers seen in it; a minute with no change carries the count
/// before it (0 before the first sample).
pub fn viewer_trend(
    samples: &[(DateTime<Utc>, i32)],
    now: DateTime<Utc>,
    minutes: i64,
) -> Vec<u32> {
    let start = now - Duration::minutes(minutes);
    let mut out = Vec::with_capacity(usize::try_from(minutes).unwrap_or(0));
    let mut last = 0u32;
    let mut i = 0;
    // Samples before the window only set the starting count.
    while i < samples.len() && samples[i].0 <= start {
        last = u32::try_from(samples[i].1.max(0)).unwrap_or(0);
        i += 1;
    }
    for m in 0..minutes {
        let end = start + Duration::minutes(m + 1);
        let mut peak = last;
        while i < samples.len() && samples[i].0 <= end {
            last = u32::try_from(samples[i].1.max(0)).unwrap_or(0);
            peak = peak.max(last);
            i += 1;
        }
        out.push(peak);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn phases_over_a_show_day() {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 0).unwrap();
        let at = |m: i64| start + Duration::minutes(m);
        assert_eq!(
            phase(ShowStatus::Scheduled, start, None, false, at(-120)).label(),
            "in 2h 00m"
        );
        assert_eq!(
            phase(ShowStatus::Scheduled, start, None, true, at(-12)).label(),
            "pre-show 12m"
        );
        let late = phase(ShowStatus::Scheduled, start, None, false, at(5));
        assert_eq!(late.label(), "NO ROOM +5m");
        assert!(late.cannot_start());
        assert_eq!(
            phase(ShowStatus::Preshow, start, None, true, at(3)).label(),
            "late 3m"
        );
        assert_eq!(
            phase(ShowStatus::Live, start, Some(at(1)), true, at(35)).label(),
            "LIVE 34m"
        );
        assert_eq!(
            phase(ShowStatus::Ended, start, Some(at(1)), true, at(90)),
            Phase::Done
        );
    }

    #[test]
    fn viewer_trend_carries_counts_and_keeps_each_minutes_peak() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap();
        let at = |m: i64, s: i64| now - Duration::minutes(m) + Duration::seconds(s);
        let samples = [
            (at(40, 0), 3),  // before the window: the starting count
            (at(29, 10), 5), // minute 1: from 29 to 28 min before now
            (at(29, 20), 9),
            (at(29, 40), 4),
            (at(10, 0), 12),
            (at(1, 30), 0),
        ];
        let t = viewer_trend(&samples, now, 30);
        assert_eq!(t.len(), 30);
        assert_eq!(t[0], 3, "the count from before the window");
        assert_eq!(t[1], 9, "the minute's peak");
        assert_eq!(t[2], 4, "carried");
        assert_eq!(t[18], 4);
        assert_eq!(t[19], 12, "a sample at a minute's end belongs to it");
        assert_eq!(t[28], 12);
        assert_eq!(t[29], 12, "the minute began at 12 before the drop to 0");
        assert_eq!(viewer_trend(&[], now, 5), vec![0; 5]);
    }
}
