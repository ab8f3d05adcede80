//! The Fraud pane's behaviour through the app: claims, decisions, marks,
//! refusals, the detail cache.

use std::sync::Arc;

use crossterm::event::KeyCode;

use crate::domain::operators::Role;
use crate::store::fraud::{Claim, DecideError, Decision};
use crate::tui::action::{Action, Kind};
use crate::tui::app::App;
use crate::tui::app::tests::{app, chars, now, press, set_role};
use crate::tui::detail::Loaded;
use crate::tui::panes::PaneId;
use crate::tui::poller::DataState;
use crate::tui::triage::{Outcome, Request};

/// The order under the Fraud pane's selection.
fn order(a: &App) -> Option<i64> {
    a.panes.fraud.selected_order(a.snapshot()?)
}

fn decide_requests(a: &App) -> Vec<&Request> {
    a.requests
        .triage
        .iter()
        .filter(|r| matches!(r, Request::Decide { .. }))
        .collect()
}

#[test]
fn enter_claims_a_decision_sends_and_the_next_order_opens() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5");
    let first = order(&a).unwrap();
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.requests.triage, vec![Request::Claim { order_id: first }]);
    chars(&mut a, "a");
    assert!(a.panes.fraud.dialog.is_some());
    // No reason: nothing is sent, the dialog says why.
    press(&mut a, KeyCode::Enter);
    assert!(a.panes.fraud.dialog.as_ref().unwrap().error.is_some());
    assert!(decide_requests(&a).is_empty());
    chars(&mut a, "1");
    press(&mut a, KeyCode::Enter);
    assert!(a.panes.fraud.dialog.is_none());
    let sent = decide_requests(&a);
    assert_eq!(sent.len(), 1);
    match sent[0] {
        Request::Decide {
            targets,
            decision,
            reason,
        } => {
            assert_eq!(targets[0].order_id, first);
            assert_eq!(*decision, Decision::Approve);
            assert_eq!(reason, Kind::Approve.templates()[0]);
        }
        other => panic!("{other:?}"),
    }
    // The decided order left the list; the next one is open and claimed.
    let next = order(&a).unwrap();
    assert_ne!(next, first);
    assert!(a.pane(PaneId::Fraud).detail);
    assert_eq!(
        a.requests.triage.last(),
        Some(&Request::Claim { order_id: next })
    );
    assert!(
        !a.pane(PaneId::Fraud)
            .view
            .iter()
            .any(|&i| a.snapshot().unwrap().fraud[i].order_id == first)
    );
}

#[test]
fn esc_cancels_the_dialog_without_sending() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5d1");
    press(&mut a, KeyCode::Esc);
    assert!(a.panes.fraud.dialog.is_none());
    assert!(decide_requests(&a).is_empty());
    // Typing in the dialog does not trigger the keymap.
    chars(&mut a, "rq5");
    assert!(!a.quit);
    assert!(a.panes.fraud.dialog.is_some());
}

#[test]
fn space_marks_and_one_reason_decides_them_all() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5   ");
    assert_eq!(a.panes.fraud.marked.len(), 3);
    chars(&mut a, "r2");
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Enter);
    let sent = decide_requests(&a);
    assert_eq!(sent.len(), 1);
    match sent[0] {
        Request::Decide {
            targets, decision, ..
        } => {
            // The fixture's third order is being reviewed by dana: left out.
            assert_eq!(targets.len(), 2);
            assert_eq!(*decision, Decision::Review { hold_hours: 48 });
        }
        other => panic!("{other:?}"),
    }
    assert!(a.panes.fraud.marked.is_empty());
}

#[test]
fn viewers_and_the_wall_cannot_decide() {
    let mut a = app(false, (120, 40));
    set_role(&mut a, Role::Viewer);
    chars(&mut a, "5 adru");
    // Each refused key says why in the footer.
    let why = a.message.clone().unwrap_or_default();
    assert!(
        why.contains("maria is a viewer") && why.contains("decide fraud orders"),
        "{why}"
    );
    assert!(a.panes.fraud.dialog.is_none());
    assert!(a.panes.fraud.marked.is_empty());
    assert!(a.requests.triage.is_empty());
    let mut w = app(true, (200, 60));
    w.update(Action::Focus(PaneId::Fraud));
    chars(&mut w, "adu");
    assert!(w.panes.fraud.dialog.is_none() && w.requests.triage.is_empty());
    assert!(
        w.message
            .as_deref()
            .is_some_and(|m| m.contains("read-only")),
        "{:?}",
        w.message
    );
}

#[test]
fn refusals_show_who_decided_and_when_in_ops_time() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5");
    let first = order(&a).unwrap();
    chars(&mut a, "a1");
    press(&mut a, KeyCode::Enter);
    a.on_outcome(Outcome::Decided {
        decision: Decision::Approve,
        done: vec![],
        refused: vec![(
            first,
            DecideError::AlreadyDecided {
                by: "dana".into(),
                at: now(),
            },
        )],
    });
    let st = a.panes.fraud.status.clone().unwrap();
    // 17:30 UTC is 09:30 in Los Angeles.
    assert!(st.contains("already decided by dana at 09:30"), "{st}");
    // The refused order is back in the list.
    assert!(
        a.pane(PaneId::Fraud)
            .view
            .iter()
            .any(|&i| a.snapshot().unwrap().fraud[i].order_id == first)
    );
    a.on_outcome(Outcome::Claimed {
        order_id: first,
        claim: Claim::Theirs {
            by: "dana".into(),
            until: now(),
        },
    });
    assert!(
        a.panes
            .fraud
            .status
            .as_deref()
            .unwrap()
            .contains("being reviewed by dana")
    );
    a.on_outcome(Outcome::Undone(Err(
        "too late to undo: the refund has already been sent to PayPal".into(),
    )));
    assert!(
        a.panes
            .fraud
            .status
            .as_deref()
            .unwrap()
            .starts_with("too late to undo")
    );
}

fn loaded(order_id: i64) -> Loaded {
    Loaded {
        order_id,
        result: Ok(Arc::new(crate::store::fraud_detail::fixture(
            order_id,
            "LSN-X",
            now(),
        ))),
    }
}

#[test]
fn details_load_once_prefetch_the_next_order_and_refresh_on_new_data() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5");
    assert!(
        a.requests.details.is_empty(),
        "nothing asked with the detail closed"
    );
    press(&mut a, KeyCode::Enter);
    let first = order(&a).unwrap();
    let asked: Vec<i64> = std::mem::take(&mut a.requests.details);
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0], first);
    let next = asked[1];
    // Asked once, whatever happens meanwhile.
    a.update(Action::Tick(now()));
    assert!(a.requests.details.is_empty());
    a.on_detail(loaded(first));
    a.on_detail(loaded(next));
    assert!(a.panes.fraud.detail_of(first).unwrap().detail.is_some());
    // Approve: the next order opens with its detail already there, and the
    // one after it is asked for.
    chars(&mut a, "a1");
    press(&mut a, KeyCode::Enter);
    assert_eq!(order(&a), Some(next));
    assert!(
        a.panes
            .fraud
            .detail_of(next)
            .is_some_and(|e| e.detail.is_some() && !e.loading)
    );
    let asked: Vec<i64> = std::mem::take(&mut a.requests.details);
    assert_eq!(asked.len(), 1);
    assert_ne!(asked[0], next);
    a.on_detail(loaded(asked[0]));
    // The same data again: nothing re-read.
    let data = a.data.clone();
    a.set_data(data.clone());
    assert!(a.requests.details.is_empty());
    // The fraud data moved: the open order and the next are read again,
    // the old detail staying on screen meanwhile.
    let mut snap = (**data.snapshot.as_ref().unwrap()).clone();
    snap.fraud_queue_total += 1;
    a.set_data(DataState {
        snapshot: Some(Arc::new(snap)),
        ..data
    });
    assert_eq!(a.requests.details.len(), 2);
    assert!(
        a.panes
            .fraud
            .detail_of(next)
            .is_some_and(|e| e.detail.is_some() && e.loading)
    );
    // An error is shown, not retried in a loop.
    a.requests.details.clear();
    a.on_detail(Loaded {
        order_id: next,
        result: Err("timed out".into()),
    });
    assert!(a.requests.details.is_empty());
    assert_eq!(
        a.panes.fraud.detail_of(next).unwrap().error.as_deref(),
        Some("timed out")
    );
}
