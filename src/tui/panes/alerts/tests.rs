//! Pane 1's lifecycle actions through the app: which keys apply to an alert
//! and to an incident, the requests they send, the prompts, refusals for a
//! viewer.

use crossterm::event::KeyCode;

use super::{Ask, Prompt};
use crate::domain::incidents::IncidentState;
use crate::domain::operators::Role;
use crate::tui::alerts_task::Request;
use crate::tui::app::App;
use crate::tui::app::tests::{app, chars, press, set_role};

fn pane1(size: (u16, u16)) -> App {
    let mut a = app(false, size);
    chars(&mut a, "1");
    a
}

/// Moves the selection down until the selected row is an incident.
fn to_incident(a: &mut App) {
    for _ in 0..20 {
        if a.panes.alerts.selected_is_incident() {
            return;
        }
        chars(a, "j");
    }
    panic!("no incident row");
}

#[test]
fn ack_sends_a_request_for_the_selected_alert() {
    let mut a = pane1((120, 40));
    // The first row is the P0 show alert (#1), firing.
    chars(&mut a, "a");
    assert_eq!(a.requests.alerts, vec![Request::Ack { id: 1 }]);
    assert_eq!(
        a.panes.alerts.status.as_deref(),
        Some("acknowledging #1...")
    );
}

#[test]
fn mute_asks_for_a_duration_and_a_reason() {
    let mut a = pane1((120, 40));
    chars(&mut a, "m");
    assert_eq!(
        a.panes.alerts.prompt,
        Some(Prompt {
            ask: Ask::Silence {
                key: "show_cannot_start:1".into()
            },
            text: String::new()
        })
    );
    // Keys go to the prompt, not to the bindings ("a" would ack).
    chars(&mut a, "soon");
    press(&mut a, KeyCode::Enter);
    assert!(a.requests.alerts.is_empty(), "no duration: nothing sent");
    assert!(a.message.as_deref().is_some_and(|m| m.contains("duration")));
    chars(&mut a, "m");
    chars(&mut a, "2h deploy window");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.requests.alerts,
        vec![Request::Silence {
            key: "show_cannot_start:1".into(),
            minutes: 120,
            reason: "deploy window".into()
        }]
    );
    assert!(a.panes.alerts.prompt.is_none());
}

#[test]
fn resolve_needs_a_note_and_esc_cancels() {
    let mut a = pane1((120, 40));
    chars(&mut a, "x");
    press(&mut a, KeyCode::Enter);
    assert!(a.panes.alerts.prompt.is_some(), "an empty note is not sent");
    press(&mut a, KeyCode::Esc);
    assert!(a.panes.alerts.prompt.is_none());
    chars(&mut a, "xrestarted the room service");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.requests.alerts,
        vec![Request::Resolve {
            id: 1,
            note: "restarted the room service".into()
        }]
    );
}

#[test]
fn incident_keys_apply_to_incidents_and_alert_keys_to_alerts() {
    let mut a = pane1((120, 40));
    // On an alert, the incident keys do nothing.
    chars(&mut a, "otn");
    assert!(a.requests.alerts.is_empty());
    chars(&mut a, "i");
    assert_eq!(a.requests.alerts, vec![Request::Declare { alert: 1 }]);
    a.requests.alerts.clear();
    to_incident(&mut a);
    // On an incident, the alert keys do nothing.
    chars(&mut a, "ai");
    assert!(a.requests.alerts.is_empty());
    chars(&mut a, "o");
    chars(&mut a, "t");
    let incident = match a.requests.alerts.first() {
        Some(Request::Take { incident }) => *incident,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        a.requests.alerts[1],
        Request::Status {
            incident,
            state: IncidentState::Identified
        },
        "the fixture's first incident is investigating"
    );
    chars(&mut a, "nchecking the CDN");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.requests.alerts[2],
        Request::Note {
            incident,
            text: "checking the CDN".into()
        }
    );
}

#[test]
fn a_viewer_is_refused_with_a_reason_and_sends_nothing() {
    let mut a = pane1((120, 40));
    set_role(&mut a, Role::Viewer);
    chars(&mut a, "a");
    assert!(a.requests.alerts.is_empty());
    assert!(a.panes.alerts.prompt.is_none());
    let m = a.message.clone().unwrap_or_default();
    assert!(m.contains("work alerts and incidents"), "{m}");
}

#[test]
fn an_answer_goes_to_the_footer() {
    let mut a = pane1((120, 40));
    a.on_ops(crate::tui::ops_task::Outcome::Alerts(Err(
        "alert #1 is acknowledged: already acknowledged".into(),
    )));
    assert_eq!(
        a.message.as_deref(),
        Some("alert #1 is acknowledged: already acknowledged")
    );
}
