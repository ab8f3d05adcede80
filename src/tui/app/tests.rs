//! The shared state and the key router: panes, movement, filter, sort,
//! zoom, help, commands, the wall, the mouse; and the helpers the panes'
//! tests use to drive an app over the fixture snapshot.

use std::sync::Arc;

use chrono::TimeZone;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::store::snapshot::fixture;
use crate::tui::panes::Pane;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 17, 30, 0).unwrap()
}

pub fn app(wall: bool, size: (u16, u16)) -> App {
    let tz = chrono_tz::America::Los_Angeles;
    let mut app = App::new(
        Settings {
            wall,
            readonly: false,
            operator: "maria".into(),
            tz,
            threshold: 70,
            wall_cycle: Duration::seconds(15),
            mouse: false,
            keys: Default::default(),
        },
        now(),
        size,
    );
    app.set_data(DataState {
        snapshot: Some(Arc::new(fixture(now(), &tz))),
        connected: true,
        last_success: Some(now()),
        role: Some(Role::Agent),
        ..Default::default()
    });
    app
}

pub fn press(app: &mut App, code: KeyCode) {
    let ev = Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
    if let Some(a) = app.translate(&ev) {
        app.update(a);
    }
}

pub fn chars(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// New data saying the operator's role is `role`.
pub fn set_role(app: &mut App, role: Role) {
    let data = DataState {
        role: Some(role),
        ..app.data.clone()
    };
    app.set_data(data);
}

#[test]
fn number_keys_tab_and_backtab_move_between_panes() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "3");
    assert_eq!(a.focus, PaneId::Disputes);
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.focus, PaneId::Payouts);
    press(&mut a, KeyCode::BackTab);
    press(&mut a, KeyCode::BackTab);
    assert_eq!(a.focus, PaneId::Shows);
    chars(&mut a, "5");
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.focus, PaneId::Alerts);
}

#[test]
fn vim_and_arrow_keys_move_the_selection_within_bounds() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5");
    let n = a.pane(PaneId::Fraud).view.len();
    assert!(n > 3);
    chars(&mut a, "jj");
    press(&mut a, KeyCode::Down);
    assert_eq!(a.pane(PaneId::Fraud).selected, 3);
    chars(&mut a, "k");
    press(&mut a, KeyCode::Up);
    assert_eq!(a.pane(PaneId::Fraud).selected, 1);
    chars(&mut a, "G");
    assert_eq!(a.pane(PaneId::Fraud).selected, n - 1);
    chars(&mut a, "j");
    assert_eq!(a.pane(PaneId::Fraud).selected, n - 1);
    chars(&mut a, "g");
    assert_eq!(a.pane(PaneId::Fraud).selected, 0);
    press(&mut a, KeyCode::PageDown);
    assert!(a.pane(PaneId::Fraud).selected > 1);
    press(&mut a, KeyCode::PageUp);
    assert_eq!(a.pane(PaneId::Fraud).selected, 0);
}

#[test]
fn selection_scrolls_the_window_in_a_small_pane() {
    let mut a = app(false, (80, 24));
    chars(&mut a, "5G");
    let p = a.pane(PaneId::Fraud);
    let rows = a.rows_of(PaneId::Fraud);
    assert!(p.selected >= p.offset && p.selected < p.offset + rows);
}

#[test]
fn filter_is_live_case_insensitive_and_esc_clears_it() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "3");
    let all = a.pane(PaneId::Disputes).view.len();
    chars(&mut a, "/");
    assert_eq!(a.input, Input::Filter);
    chars(&mut a, "UNAUTH");
    let some = a.pane(PaneId::Disputes).view.len();
    assert!(some > 0 && some < all, "{some} of {all}");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.input, Input::None);
    assert_eq!(a.pane(PaneId::Disputes).filter, "UNAUTH");
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.pane(PaneId::Disputes).view.len(), all);
    chars(&mut a, "/zzzz");
    assert_eq!(a.pane(PaneId::Disputes).view.len(), 0);
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.input, Input::None);
    assert_eq!(a.pane(PaneId::Disputes).view.len(), all);
}

#[test]
fn typing_in_the_filter_does_not_trigger_keys() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "/q3z");
    assert!(!a.quit);
    assert_eq!(a.focus, PaneId::Alerts);
    assert!(!a.zoom);
    assert_eq!(a.pane(PaneId::Alerts).filter, "q3z");
}

#[test]
fn enter_opens_the_detail_and_esc_closes_it() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "3");
    press(&mut a, KeyCode::Enter);
    assert!(a.pane(PaneId::Disputes).detail);
    press(&mut a, KeyCode::Esc);
    assert!(!a.pane(PaneId::Disputes).detail);
}

#[test]
fn sort_keys_cycle_and_reverse() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5");
    let first = a.selected_row(PaneId::Fraud);
    let scores: Vec<i16> = a
        .pane(PaneId::Fraud)
        .view
        .iter()
        .map(|&i| a.snapshot().unwrap().fraud[i].score)
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    chars(&mut a, "S");
    let rev: Vec<i16> = a
        .pane(PaneId::Fraud)
        .view
        .iter()
        .map(|&i| a.snapshot().unwrap().fraud[i].score)
        .collect();
    assert!(rev.windows(2).all(|w| w[0] <= w[1]), "{rev:?}");
    // The selected order stays selected across the re-sort.
    assert_eq!(a.selected_row(PaneId::Fraud), first);
    chars(&mut a, "s");
    assert_eq!(a.pane(PaneId::Fraud).sort, 1);
    chars(&mut a, "ss");
    assert_eq!(a.pane(PaneId::Fraud).sort, 0);
}

#[test]
fn zoom_help_and_quit() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "z");
    assert!(a.zoom);
    press(&mut a, KeyCode::Esc);
    assert!(!a.zoom);
    chars(&mut a, "?");
    assert!(a.help);
    chars(&mut a, "j");
    assert!(!a.help, "any key closes the help");
    chars(&mut a, "q");
    assert!(a.quit);
}

#[test]
fn colon_commands_like_k9s() {
    let mut a = app(false, (120, 40));
    chars(&mut a, ":fraud");
    assert_eq!(a.input, Input::Command);
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.focus, PaneId::Fraud);
    assert!(a.zoom);
    chars(&mut a, ":nope");
    press(&mut a, KeyCode::Enter);
    assert!(
        a.message
            .as_deref()
            .is_some_and(|m| m.contains("unknown command"))
    );
    chars(&mut a, ":q");
    press(&mut a, KeyCode::Enter);
    assert!(a.quit);
}

#[test]
fn wall_mode_is_zoomed_and_cycles_panes() {
    let mut a = app(true, (200, 60));
    assert!(a.zoom);
    assert!(a.alarm());
    chars(&mut a, "z");
    assert!(a.zoom, "wall mode stays zoomed");
    a.update(Action::Tick(now() + Duration::seconds(5)));
    assert_eq!(a.focus, PaneId::Alerts);
    a.update(Action::Tick(now() + Duration::seconds(15)));
    assert_eq!(a.focus, PaneId::Shows);
    a.update(Action::Tick(now() + Duration::seconds(30)));
    assert_eq!(a.focus, PaneId::Disputes);
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut a = app(false, (200, 60));
    let fraud = a.screen().pane(PaneId::Fraud).unwrap();
    a.update(Action::Click(fraud.x + 3, fraud.y + 4));
    assert_eq!(a.focus, PaneId::Fraud);
    assert_eq!(a.pane(PaneId::Fraud).selected, 2);
    a.update(Action::ScrollAt(fraud.x + 3, fraud.y + 4, 3));
    assert_eq!(a.pane(PaneId::Fraud).selected, 5);
}

#[test]
fn clicking_a_tab_switches_pane() {
    let mut a = app(false, (80, 24));
    let tabs = a.screen().tabs.expect("tabs at 80x24");
    let x = tabs.x
        + PaneId::ALL[..3]
            .iter()
            .map(|&id| a.tab_label(id).chars().count() as u16 + 1)
            .sum::<u16>()
        + 2;
    a.update(Action::Click(x, tabs.y));
    assert_eq!(a.focus, PaneId::Payouts);
}

#[test]
fn selection_survives_a_refresh() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5jjj");
    let key = |a: &App| a.panes.fraud.selected_key(a.snapshot().unwrap());
    let before = key(&a);
    let data = a.data.clone();
    a.set_data(data);
    assert_eq!(key(&a), before);
}

/// `--readonly`: an admin's dashboard that changes nothing. The keys that
/// change data are gone from help and hints, and pressing one says why.
#[test]
fn a_readonly_dashboard_hides_and_refuses_every_change() {
    let tz = chrono_tz::America::Los_Angeles;
    let mut a = App::new(
        Settings {
            wall: false,
            readonly: true,
            operator: "root".into(),
            tz,
            threshold: 70,
            wall_cycle: Duration::seconds(15),
            mouse: false,
            keys: Default::default(),
        },
        now(),
        (120, 40),
    );
    a.set_data(DataState {
        snapshot: Some(Arc::new(fixture(now(), &tz))),
        connected: true,
        last_success: Some(now()),
        role: Some(Role::Admin),
        ..Default::default()
    });
    assert!(a.live_bindings().all(|b| b.needs.is_none()));
    chars(&mut a, "5a");
    assert!(a.panes.fraud.dialog.is_none());
    assert_eq!(
        a.message.as_deref(),
        Some("approve: read-only session: nothing can be changed from here")
    );
    chars(&mut a, "bn");
    assert!(a.panes.fraud.blocklist.dialog.is_none());
    assert!(a.requests.triage.is_empty());
    // Opening an order claims nothing either.
    press(&mut a, KeyCode::Esc);
    press(&mut a, KeyCode::Enter);
    assert!(a.panes.fraud.table.detail);
    assert!(a.requests.triage.is_empty());
}

/// The registry drives the keys: the focused pane's own bindings work only
/// there, the same letter can mean something else elsewhere, and `:`
/// commands come from the same tables.
#[test]
fn pane_bindings_work_only_in_their_pane() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "3a");
    assert!(
        a.panes.fraud.dialog.is_none(),
        "a means nothing in Disputes"
    );
    assert!(a.message.is_none());
    chars(&mut a, "5a");
    assert!(a.panes.fraud.dialog.is_some());
    // Every binding a viewer could press is in the registry with its name.
    let names: Vec<&str> = a
        .sections()
        .flat_map(|s| s.bindings.iter().map(|b| b.name))
        .collect();
    for n in ["approve", "decline", "block_add", "quit", "show_fraud"] {
        assert!(names.contains(&n), "{n}");
    }
}

/// `f` freezes what is on screen: new data waits (the header says FROZEN and
/// that newer data is there); `f` again shows it.
#[test]
fn freeze_holds_the_screen_and_f_again_jumps_to_now() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "f");
    assert!(a.frozen.is_some());
    let before = a.snapshot().unwrap().fraud_queue_total;
    let mut snap = (**a.data.snapshot.as_ref().unwrap()).clone();
    snap.fraud_queue_total += 7;
    a.set_data(DataState {
        snapshot: Some(Arc::new(snap)),
        ..a.data.clone()
    });
    assert_eq!(a.snapshot().unwrap().fraud_queue_total, before);
    assert!(a.has_pending());
    chars(&mut a, "f");
    assert!(a.frozen.is_none() && !a.has_pending());
    assert_eq!(a.snapshot().unwrap().fraud_queue_total, before + 7);
}

/// `y` copies the selected row's main id: the order number in the Fraud
/// pane, PayPal's dispute id in Disputes; the footer says what was copied.
#[test]
fn y_copies_the_selected_rows_id() {
    let mut a = app(false, (120, 40));
    chars(&mut a, "5y");
    let number = {
        let s = a.snapshot().unwrap();
        s.fraud[a.selected_row(PaneId::Fraud).unwrap()]
            .order_number
            .clone()
    };
    assert_eq!(a.requests.clipboard.as_deref(), Some(number.as_str()));
    assert_eq!(
        a.message.as_deref(),
        Some(format!("copied {number}").as_str())
    );
    chars(&mut a, "3y");
    let dispute = {
        let s = a.snapshot().unwrap();
        s.disputes[a.selected_row(PaneId::Disputes).unwrap()]
            .paypal_dispute_id
            .clone()
    };
    assert_eq!(a.requests.clipboard.as_deref(), Some(dispute.as_str()));
}

/// The command line remembers what ran (Up/Down), completes names (Tab),
/// and commands with an argument open that row.
#[test]
fn command_line_history_completion_and_ids() {
    let mut a = app(false, (120, 40));
    let dispute = a.snapshot().unwrap().disputes[3].paypal_dispute_id.clone();
    chars(&mut a, &format!(":dispute {dispute}"));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.focus, PaneId::Disputes);
    let row = a.selected_row(PaneId::Disputes).unwrap();
    assert_eq!(
        a.snapshot().unwrap().disputes[row].paypal_dispute_id,
        dispute
    );
    assert!(a.pane(PaneId::Disputes).detail);
    chars(&mut a, ":nosuch 1");
    press(&mut a, KeyCode::Enter);
    assert!(
        a.message
            .as_deref()
            .unwrap()
            .contains("unknown command :nosuch")
    );
    // Up brings the last command back, then the one before.
    chars(&mut a, ":");
    press(&mut a, KeyCode::Up);
    assert_eq!(a.command_line, "nosuch 1");
    press(&mut a, KeyCode::Up);
    assert_eq!(a.command_line, format!("dispute {dispute}"));
    press(&mut a, KeyCode::Down);
    assert_eq!(a.command_line, "nosuch 1");
    press(&mut a, KeyCode::Esc);
    // Tab completes a unique prefix and lists several.
    chars(&mut a, ":fr");
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.command_line, "fraud ");
    press(&mut a, KeyCode::Esc);
    chars(&mut a, ":sh");
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.command_line, "show");
    assert!(a.message.as_deref().unwrap().contains(":shows"));
    press(&mut a, KeyCode::Esc);
    // :fraud N opens a queued order, claimed as Enter would.
    let number = a.snapshot().unwrap().fraud[2].order_number.clone();
    chars(&mut a, &format!(":fraud {}", number.to_lowercase()));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.focus, PaneId::Fraud);
    let order = a.panes.fraud.selected_order(a.snapshot().unwrap());
    assert_eq!(order, Some(a.snapshot().unwrap().fraud[2].order_id));
    assert!(
        a.requests
            .triage
            .iter()
            .any(|r| matches!(r, crate::tui::triage::Request::Claim { .. }))
    );
}

/// `[keys]`: a rebound action answers to its new key only, and help and the
/// footer show the new key.
#[test]
fn a_rebound_key_moves_the_action() {
    let tz = chrono_tz::America::Los_Angeles;
    let wanted: std::collections::BTreeMap<String, String> =
        [("quit".to_string(), "Q".to_string())].into();
    let scopes = vec![keymap::GLOBAL.iter().collect::<Vec<_>>()];
    let rebound = keymap::rebind(&wanted, &scopes).expect("rebind");
    let mut a = App::new(
        Settings {
            wall: false,
            readonly: false,
            operator: "maria".into(),
            tz,
            threshold: 70,
            wall_cycle: Duration::seconds(15),
            mouse: false,
            keys: Arc::new(rebound),
        },
        now(),
        (120, 40),
    );
    a.set_data(DataState {
        snapshot: Some(Arc::new(fixture(now(), &tz))),
        role: Some(Role::Agent),
        ..Default::default()
    });
    chars(&mut a, "q");
    assert!(!a.quit, "q no longer quits");
    let quit = a
        .live_bindings()
        .find(|b| b.name == "quit")
        .expect("quit binding");
    assert_eq!(a.keymap.footer(quit).as_deref(), Some("Q quit"));
    assert_eq!(a.keymap.label(quit, false), "Q");
    chars(&mut a, "Q");
    assert!(a.quit);
}

/// Mouse events are ignored unless `[tui] mouse` turned them on.
#[test]
fn the_mouse_is_opt_in() {
    use crossterm::event::{MouseEvent, MouseEventKind};
    let a = app(false, (200, 60));
    let click = Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(crossterm::event::MouseButton::Left),
        column: 3,
        row: 4,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(a.translate(&click), None);
}

/// At rest the screen is not redrawn each second: a tick within the minute
/// changes nothing, the next minute does; a poll that found nothing new is
/// not drawn, a changed row is.
#[test]
fn at_rest_only_the_minute_and_real_changes_redraw() {
    let mut a = app(false, (120, 40));
    let mut data = a.data.clone();
    data.listening = true;
    a.set_data(data.clone());
    let t0 = a.now;
    assert!(!a.tick(t0 + Duration::seconds(1)), "same minute");
    assert!(a.tick(t0 + Duration::seconds(61)), "the minute turned");
    // The same rows read again later: nothing to draw.
    let mut again = (**data.snapshot.as_ref().unwrap()).clone();
    again.taken_at += Duration::seconds(2);
    again.facts.generated_at += Duration::seconds(2);
    let same = DataState {
        snapshot: Some(Arc::new(again.clone())),
        last_success: Some(again.taken_at),
        ..data.clone()
    };
    assert!(!a.changes_screen(&same));
    again.fraud_queue_total += 1;
    let moved = DataState {
        snapshot: Some(Arc::new(again)),
        ..same
    };
    assert!(a.changes_screen(&moved));
    // Frozen, or the database down: the seconds on screen count.
    chars(&mut a, "f");
    assert!(a.tick(a.now + Duration::seconds(1)));
}
