//! The runbook's checklists: morning (9:00, due 9:30) and evening (18:00,
//! due 18:30) per ops day, pre-show (30 minutes before, due at the start)
//! and post-show per show. Each item is either settled by the data
//! ([`Check::Data`], evaluated from [`DayFacts`] or [`ShowFacts`]) or ticked
//! by an operator ([`Check::Tick`]). Pure: the store gathers the facts.

use chrono::NaiveTime;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    Morning,
    Evening,
    Preshow,
    Postshow,
}

impl List {
    pub const ALL: [List; 4] = [List::Morning, List::Evening, List::Preshow, List::Postshow];

    /// The name in the database and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            List::Morning => "morning",
            List::Evening => "evening",
            List::Preshow => "preshow",
            List::Postshow => "postshow",
        }
    }

    pub fn parse(s: &str) -> Option<List> {
        let s = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        List::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn per_show(self) -> bool {
        matches!(self, List::Preshow | List::Postshow)
    }

    /// When a day's list is due (ops time): 9:30 and 18:30.
    pub fn due_time(self) -> Option<NaiveTime> {
        match self {
            List::Morning => NaiveTime::from_hms_opt(9, 30, 0),
            List::Evening => NaiveTime::from_hms_opt(18, 30, 0),
            _ => None,
        }
    }

    pub fn items(self) -> &'static [Item] {
        match self {
            List::Morning => MORNING,
            List::Evening => EVENING,
            List::Preshow => PRESHOW,
            List::Postshow => POSTSHOW,
        }
    }
}

/// How an item gets done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Settled by the data, re-evaluated every time.
    Data,
    /// Ticked by an operator (per day or per show), with an optional note.
    Tick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub key: &'static str,
    pub label: &'static str,
    pub check: Check,
}

const fn data(key: &'static str, label: &'static str) -> Item {
    Item {
        key,
        label,
        check: Check::Data,
    }
}

const fn tick(key: &'static str, label: &'static str) -> Item {
    Item {
        key,
        label,
        check: Check::Tick,
    }
}

pub const MORNING: &[Item] = &[
    data("alerts", "Check Operations Center dashboard for alerts"),
    tick(
        "overnight_orders",
        "Review overnight order volume and status",
    ),
    data("show_schedule", "Check live show schedule for today"),
    data("disputes", "Review pending disputes (SLA < 24h)"),
    data("payout_queue", "Check creator payout queue"),
    data("inventory", "Verify inventory levels for today's shows"),
    data("fraud", "Review fraud detection alerts"),
];

pub const EVENING: &[Item] = &[
    tick("gmv_review", "Review day's GMV and conversion rates"),
    data(
        "shows_completed",
        "Check all live shows completed successfully",
    ),
    data("payouts_processed", "Process pending creator payouts"),
    tick("support_tickets", "Review customer support tickets"),
    data("fulfilment", "Check warehouse fulfillment status"),
    data("webhooks", "Verify all webhooks processed successfully"),
];

pub const PRESHOW: &[Item] = &[
    data("creator_online", "Verify creator is online and ready"),
    tick("av_test", "Test video and audio quality"),
    data("products_pinned", "Verify products are pinned correctly"),
    data("inventory", "Check inventory levels for featured products"),
    tick("chat_test", "Test chat functionality"),
    tick("price_drops", "Verify price drops are scheduled"),
    tick("reminders", "Send reminder notifications to followers"),
];

pub const POSTSHOW: &[Item] = &[
    data("recording", "Verify recording saved successfully"),
    data("report", "Generate show performance report"),
    data("pending_orders", "Process any pending orders"),
    tick("creator_metrics", "Update creator performance metrics"),
    tick("highlights", "Create highlight clips for social media"),
    tick("replay", "Schedule replay availability"),
];

/// What the day's data-settled items look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DayFacts {
    /// Critical or P0 alerts nobody acknowledged yet.
    pub unacked_critical_alerts: i64,
    /// Today's shows past their start without a video room, or failed.
    pub shows_in_trouble: i64,
    /// Disputes due within 24 h that nobody is assigned to.
    pub disputes_due_unassigned: i64,
    /// Payout lines that failed and wait for a retry.
    pub failed_payout_lines: i64,
    /// Batches approved but not yet processed.
    pub approved_unprocessed_batches: i64,
    /// Pinned products of today's shows at or below their reorder point.
    pub low_stock_for_today: i64,
    /// High-risk orders waiting for a decision for more than 4 hours, and
    /// review holds past their time.
    pub fraud_waiting_long: i64,
    /// Today's shows whose scheduled end passed that did not end normally.
    pub shows_not_completed: i64,
    /// Paid orders older than 48 h not shipped (fraud holds aside).
    pub unshipped_over_48h: i64,
    /// Inbox events failed or dead.
    pub webhooks_failed: i64,
}

/// What a show's data-settled items look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShowFacts {
    pub creator_connected: bool,
    pub pinned_products: i64,
    /// Pinned products at or below their reorder point.
    pub pinned_low_stock: i64,
    pub recording_saved: bool,
    pub ended: bool,
    /// The show's orders still waiting for payment or a fraud decision.
    pub pending_orders: i64,
}

/// An item's state: done (and why, or by whom), or open (and what is left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluated {
    pub key: &'static str,
    pub label: &'static str,
    pub check: Check,
    pub done: bool,
    /// What the data says, or who ticked it and their note.
    pub detail: String,
}

fn settled(item: &Item, done: bool, open_detail: String, done_detail: &str) -> Evaluated {
    Evaluated {
        key: item.key,
        label: item.label,
        check: item.check,
        done,
        detail: if done {
            done_detail.to_string()
        } else {
            open_detail
        },
    }
}

/// A data item of a day's list.
pub fn evaluate_day(item: &Item, f: &DayFacts) -> Evaluated {
    let n = |count: i64, what: &str| format!("{count} {what}");
    match item.key {
        "alerts" => settled(
            item,
            f.unacked_critical_alerts == 0,
            n(
                f.unacked_critical_alerts,
                "critical alert(s) not acknowledged",
            ),
            "no critical alert waiting",
        ),
        "show_schedule" => settled(
            item,
            f.shows_in_trouble == 0,
            n(
                f.shows_in_trouble,
                "show(s) past start without a room or failed",
            ),
            "every show today on track",
        ),
        "disputes" => settled(
            item,
            f.disputes_due_unassigned == 0,
            n(
                f.disputes_due_unassigned,
                "dispute(s) due within 24 h unassigned",
            ),
            "every dispute due within 24 h has an owner",
        ),
        "payout_queue" => settled(
            item,
            f.failed_payout_lines == 0,
            n(f.failed_payout_lines, "failed payout line(s) to retry"),
            "no failed payout line",
        ),
        "inventory" => settled(
            item,
            f.low_stock_for_today == 0,
            n(
                f.low_stock_for_today,
                "pinned product(s) at or below reorder point",
            ),
            "stock above reorder point for today's shows",
        ),
        "fraud" => settled(
            item,
            f.fraud_waiting_long == 0,
            n(f.fraud_waiting_long, "high-risk order(s) waiting over 4 h"),
            "no high-risk order waiting over 4 h",
        ),
        "shows_completed" => settled(
            item,
            f.shows_not_completed == 0,
            n(
                f.shows_not_completed,
                "show(s) past their end not ended normally",
            ),
            "every show so far ended normally",
        ),
        "payouts_processed" => settled(
            item,
            f.approved_unprocessed_batches == 0 && f.failed_payout_lines == 0,
            format!(
                "{} approved batch(es) not processed, {} failed line(s)",
                f.approved_unprocessed_batches, f.failed_payout_lines
            ),
            "nothing approved waits; no failed line",
        ),
        "fulfilment" => settled(
            item,
            f.unshipped_over_48h == 0,
            n(f.unshipped_over_48h, "paid order(s) unshipped after 48 h"),
            "every order paid 48 h ago has shipped",
        ),
        "webhooks" => settled(
            item,
            f.webhooks_failed == 0,
            n(f.webhooks_failed, "webhook event(s) failed or dead"),
            "every webhook processed",
        ),
        _ => settled(item, false, "not evaluated".into(), ""),
    }
}

/// A data item of a show's list.
pub fn evaluate_show(item: &Item, f: &ShowFacts) -> Evaluated {
    match item.key {
        "creator_online" => settled(
            item,
            f.creator_connected,
            "the creator has not joined the room".into(),
            "the creator is in the room",
        ),
        "products_pinned" => settled(
            item,
            f.pinned_products > 0,
            "no product pinned".into(),
            "products pinned",
        ),
        "inventory" => settled(
            item,
            f.pinned_products > 0 && f.pinned_low_stock == 0,
            format!(
                "{} pinned product(s) at or below reorder point",
                f.pinned_low_stock
            ),
            "stock above reorder point",
        ),
        "recording" => settled(
            item,
            f.recording_saved,
            "recording not saved".into(),
            "recording saved",
        ),
        "report" => settled(
            item,
            f.ended,
            "the show has not ended".into(),
            "lsn-ops report show ID",
        ),
        "pending_orders" => settled(
            item,
            f.pending_orders == 0,
            format!("{} order(s) pending payment or review", f.pending_orders),
            "no order pending",
        ),
        _ => settled(item, false, "not evaluated".into(), ""),
    }
}

/// A ticked item: done when ticked, with who and the note.
pub fn ticked(item: &Item, by: Option<(&str, Option<&str>)>) -> Evaluated {
    match by {
        Some((who, note)) => Evaluated {
            key: item.key,
            label: item.label,
            check: Check::Tick,
            done: true,
            detail: match note {
                Some(n) if !n.trim().is_empty() => format!("ticked by {who}: {n}"),
                _ => format!("ticked by {who}"),
            },
        },
        None => Evaluated {
            key: item.key,
            label: item.label,
            check: Check::Tick,
            done: false,
            detail: "to tick".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_item_is_evaluated_both_ways() {
        for list in [List::Morning, List::Evening] {
            for item in list.items().iter().filter(|i| i.check == Check::Data) {
                let clear = evaluate_day(item, &DayFacts::default());
                assert!(clear.done, "{} clear", item.key);
                let busy = DayFacts {
                    unacked_critical_alerts: 1,
                    shows_in_trouble: 1,
                    disputes_due_unassigned: 1,
                    failed_payout_lines: 1,
                    approved_unprocessed_batches: 1,
                    low_stock_for_today: 1,
                    fraud_waiting_long: 1,
                    shows_not_completed: 1,
                    unshipped_over_48h: 1,
                    webhooks_failed: 1,
                };
                assert!(!evaluate_day(item, &busy).done, "{} open", item.key);
            }
        }
        let ready = ShowFacts {
            creator_connected: true,
            pinned_products: 3,
            pinned_low_stock: 0,
            recording_saved: true,
            ended: true,
            pending_orders: 0,
        };
        for list in [List::Preshow, List::Postshow] {
            for item in list.items().iter().filter(|i| i.check == Check::Data) {
                assert!(evaluate_show(item, &ready).done, "{} ready", item.key);
                assert!(
                    !evaluate_show(item, &ShowFacts::default()).done
                        || item.key == "pending_orders"
                );
            }
        }
    }

    #[test]
    fn lists_parse_and_keys_are_unique() {
        assert_eq!(List::parse("Pre-show"), Some(List::Preshow));
        assert_eq!(List::parse("morning"), Some(List::Morning));
        assert_eq!(List::parse("noon"), None);
        for list in List::ALL {
            let mut keys: Vec<_> = list.items().iter().map(|i| i.key).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), list.items().len());
        }
        assert_eq!(MORNING.len(), 7);
        assert_eq!(EVENING.len(), 6);
    }

    #[test]
    fn a_tick_says_who_and_why() {
        let item = &MORNING[1];
        assert!(!ticked(item, None).done);
        let t = ticked(item, Some(("ann", Some("volume normal"))));
        assert!(t.done);
        assert_eq!(t.detail, "ticked by ann: volume normal");
    }
}
