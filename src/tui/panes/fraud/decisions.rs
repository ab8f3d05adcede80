//! The Fraud pane's decision flow: the reason dialog opened on the right
//! orders (not a running review hold, not someone else's claim), the decision
//! sent to the triage task with the next order opened at once, and the task's
//! answers (refusals with who and when in ops time, claims, undo, blocklist).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use super::FraudPane;
use super::dialogs::{Dialog, DialogResult};
use crate::domain::money::Money;
use crate::store::fraud::{Claim, DecideError, Decision};
use crate::tui::action::Kind;
use crate::tui::panes::Cx;
use crate::tui::triage::{Outcome, Request, Target};

impl FraudPane {
    pub(super) fn open_dialog(&mut self, kind: Kind, cx: &mut Cx) {
        let Some(s) = cx.snap() else { return };
        let targets: Vec<Target> = if self.marked.is_empty() {
            self.selected_order(s)
                .and_then(|id| Self::target(s, id))
                .into_iter()
                .collect()
        } else {
            self.marked
                .iter()
                .filter_map(|&id| Self::target(s, id))
                .collect()
        };
        if targets.is_empty() {
            return;
        }
        let row_of = |t: &Target| s.fraud.iter().find(|f| f.order_id == t.order_id);
        // A review hold still running is not back in the queue yet.
        let held = targets.iter().find_map(|t| {
            let f = row_of(t)?;
            let until = f
                .hold_until
                .filter(|h| f.state == "review" && *h > cx.now)?;
            Some(format!(
                "{} is held for review until {}",
                f.order_number,
                until.with_timezone(&cx.tz).format("%a %H:%M")
            ))
        });
        if let Some(first) = held {
            self.status = Some(first);
            return;
        }
        if targets.len() == 1
            && let Some((id, note)) = &self.claimed
            && *id == targets[0].order_id
        {
            self.status = Some(note.clone());
            return;
        }
        // Someone else's claim as the last snapshot saw it (the store checks
        // again): a single order is refused, a bulk goes on without it.
        let theirs = |t: &Target| {
            let f = row_of(t)?;
            let by = f.claimed_by.as_ref().filter(|by| **by != cx.operator)?;
            Some(format!("{} is being reviewed by {by}", f.order_number))
        };
        let notes: Vec<String> = targets.iter().filter_map(theirs).collect();
        let targets: Vec<Target> = targets
            .iter()
            .filter(|t| theirs(t).is_none())
            .cloned()
            .collect();
        if let Some(first) = notes.first() {
            self.status = Some(if notes.len() == 1 {
                first.clone()
            } else {
                format!("{first} (and {} more)", notes.len() - 1)
            });
        }
        if targets.is_empty() {
            return;
        }
        self.dialog = Some(Dialog::new(kind, targets));
    }

    pub(super) fn dialog_key(&mut self, k: KeyEvent, cx: &mut Cx) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        match dialog.key(k) {
            DialogResult::Open => {}
            DialogResult::Cancelled => self.dialog = None,
            DialogResult::Confirmed {
                targets,
                decision,
                reason,
            } => {
                self.dialog = None;
                let bulk = !self.marked.is_empty();
                self.marked.clear();
                let n = targets.len();
                self.status = Some(format!(
                    "{} {n} order{}...",
                    match decision {
                        Decision::Approve => "approving",
                        Decision::Review { .. } => "holding for review",
                        Decision::Decline { .. } => "declining",
                    },
                    if n == 1 { "" } else { "s" }
                ));
                // The order after the decided one opens at once.
                let next = {
                    let p = &self.table;
                    let s = cx.snap();
                    let ids: BTreeSet<i64> = targets.iter().map(|t| t.order_id).collect();
                    let at = p.selected.min(p.view.len());
                    p.view[at..]
                        .iter()
                        .chain(p.view[..at].iter().rev())
                        .filter_map(|&row| s.and_then(|s| s.fraud.get(row)))
                        .map(|f| f.order_id)
                        .find(|o| !ids.contains(o))
                };
                for t in &targets {
                    self.decided.insert(t.order_id);
                    self.numbers.insert(t.order_id, t.order_number.clone());
                }
                if self.open_order.is_some_and(|o| self.decided.contains(&o)) {
                    // The decision ends the claim in the store.
                    self.open_order = None;
                    self.claimed = None;
                }
                cx.requests.triage.push(Request::Decide {
                    targets,
                    decision,
                    reason,
                });
                self.queue_rebuild(cx, next);
                self.table.detail_scroll = 0;
                if !bulk && next.is_some() {
                    self.table.detail = true;
                    self.claim_selected(cx);
                } else if self.table.view.is_empty() {
                    self.table.detail = false;
                }
            }
        }
    }

    /// An answer from the triage task.
    pub fn on_outcome(&mut self, out: Outcome, cx: &mut Cx) {
        self.outcome(out, cx);
        self.sync_details(cx);
    }

    fn outcome(&mut self, out: Outcome, cx: &mut Cx) {
        let tz = cx.tz;
        let hhmm = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
        match out {
            Outcome::Claimed { order_id, claim } => match claim {
                Claim::Mine { .. } => {
                    if self.claimed.as_ref().is_some_and(|(o, _)| *o == order_id) {
                        self.claimed = None;
                    }
                }
                Claim::Theirs { by, until } => {
                    if self.open_order == Some(order_id) {
                        self.open_order = None;
                    }
                    let note = format!("being reviewed by {by} (until {})", hhmm(until));
                    self.status = Some(note.clone());
                    self.claimed = Some((order_id, note));
                }
            },
            Outcome::Decided {
                decision,
                done,
                refused,
            } => {
                let verb = match decision {
                    Decision::Approve => "approved",
                    Decision::Review { .. } => "held for review",
                    Decision::Decline { .. } => "declined",
                };
                let mut text = if done.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{verb} {} order{}",
                        done.len(),
                        if done.len() == 1 { "" } else { "s" }
                    )
                };
                for (order_id, _) in &refused {
                    self.decided.remove(order_id);
                    // A refused order is not left claimed by us while we move on.
                    if self.open_order != Some(*order_id) {
                        cx.requests.triage.push(Request::Release {
                            order_id: *order_id,
                        });
                    }
                }
                if let Some((order_id, e)) = refused.first() {
                    let row = cx
                        .snap()
                        .and_then(|s| s.fraud.iter().find(|f| f.order_id == *order_id));
                    let number =
                        row.map_or_else(|| format!("#{order_id}"), |f| f.order_number.clone());
                    let why = match e {
                        DecideError::AlreadyDecided { by, at } => {
                            format!("already decided by {by} at {}", hhmm(*at))
                        }
                        DecideError::ClaimedBy { by, until } => {
                            format!("being reviewed by {by} (until {})", hhmm(*until))
                        }
                        DecideError::OverRefundLimit {
                            amount_minor,
                            limit_minor,
                        } => match row.map(|f| f.total.currency) {
                            Some(c) => format!(
                                "refund of {} is over your agent limit of {}: ask finance",
                                Money::new(*amount_minor, c).display(),
                                Money::new(*limit_minor, c).display()
                            ),
                            None => e.to_string(),
                        },
                        other => other.to_string(),
                    };
                    if !text.is_empty() {
                        text.push_str("; ");
                    }
                    text.push_str(&format!("{number}: {why}"));
                    if refused.len() > 1 {
                        text.push_str(&format!(" (and {} more refused)", refused.len() - 1));
                    }
                }
                let keep = self.keep_key(cx);
                self.queue_rebuild(cx, keep);
                self.status = Some(text);
            }
            Outcome::Undone(Ok(order_id)) => {
                self.decided.remove(&order_id);
                let number = cx
                    .snap()
                    .and_then(|s| Self::target(s, order_id))
                    .map(|t| t.order_number)
                    .or_else(|| self.numbers.get(&order_id).cloned())
                    .unwrap_or_else(|| format!("#{order_id}"));
                self.status = Some(format!("undone: {number} is back in the queue"));
                let keep = self.keep_key(cx);
                self.queue_rebuild(cx, keep);
            }
            Outcome::Blocklist {
                add,
                kind,
                value,
                changed,
            } => {
                self.status = Some(match (add, changed) {
                    (true, true) => format!("blocked {kind} {value}"),
                    (true, false) => format!("{kind} {value} is already on the blocklist"),
                    (false, true) => format!("removed {kind} {value} from the blocklist"),
                    (false, false) => format!("{kind} {value} is no longer on the blocklist"),
                });
            }
            Outcome::Undone(Err(msg)) | Outcome::Failed(msg) => self.status = Some(msg),
        }
    }
}
