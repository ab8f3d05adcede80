//! Pane 1's component: the alerts and incidents table with the lifecycle
//! actions. On an alert: `a` acknowledge, `m` mute (silence its key for a
//! while, with a reason), `x` resolve (with a note), `i` declare an incident.
//! On an incident: `o` take it, `n` add a note, `t` move it on
//! (investigating → identified → monitoring), `x` resolve (with a summary).
//! Requests go to the operations task ([`crate::tui::alerts_task`]); the
//! answer comes back as a footer line.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{Alerts, Item, item};
use crate::domain::incidents::IncidentState;
use crate::domain::operators::Permission;
use crate::store::snapshot::Snapshot;
use crate::tui::action::{Action, Nav, PaneAction};
use crate::tui::alerts_task::Request;
use crate::tui::keymap::{Binding, Key, Keymap, Section};
use crate::tui::panes::table::{
    DETAIL_WIDTH, Navigated, Table, draw_detail, draw_table, empty_marks,
};
use crate::tui::panes::{Cx, Pane, PaneId, Rows, View};

const P: Permission = Permission::AcknowledgeAlerts;

const ALERT_BINDINGS: &[Binding] = &[
    Binding::change(
        "alert_ack",
        &[Key::Char('a')],
        Action::Pane(PaneAction::AlertAck),
        "acknowledge the alert",
        Some("a ack"),
        P,
    ),
    Binding::change(
        "alert_silence",
        &[Key::Char('m')],
        Action::Pane(PaneAction::AlertSilence),
        "mute (silence) its key",
        Some("m mute"),
        P,
    ),
    Binding::change(
        "alert_resolve",
        &[Key::Char('x')],
        Action::Pane(PaneAction::AlertResolve),
        "resolve, with a note",
        Some("x resolve"),
        P,
    ),
    Binding::change(
        "incident_declare",
        &[Key::Char('i')],
        Action::Pane(PaneAction::IncidentDeclare),
        "declare an incident",
        Some("i incident"),
        P,
    ),
];

const INCIDENT_BINDINGS: &[Binding] = &[
    Binding::change(
        "incident_take",
        &[Key::Char('o')],
        Action::Pane(PaneAction::IncidentTake),
        "take the incident",
        Some("o take"),
        P,
    ),
    Binding::change(
        "incident_note",
        &[Key::Char('n')],
        Action::Pane(PaneAction::IncidentNote),
        "add a timeline note",
        Some("n note"),
        P,
    ),
    Binding::change(
        "incident_next",
        &[Key::Char('t')],
        Action::Pane(PaneAction::IncidentNext),
        "next state",
        Some("t next state"),
        P,
    ),
];

pub const SECTIONS: &[Section] = &[
    Section {
        title: "Alerts (pane 1)",
        bindings: ALERT_BINDINGS,
    },
    Section {
        title: "Incidents (pane 1)",
        bindings: INCIDENT_BINDINGS,
    },
];

/// What the open prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// "DURATION REASON" for a silence of `key`.
    Silence { key: String },
    /// A note to resolve alert `id`.
    Resolve { id: i64 },
    /// A summary to resolve incident `id`.
    ResolveIncident { id: i64 },
    /// A timeline note on incident `id`.
    Note { id: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub ask: Ask,
    pub text: String,
}

/// Pane 1's state.
#[derive(Debug, Clone, Default)]
pub struct AlertsPane {
    pub table: Table,
    pub prompt: Option<Prompt>,
    /// The last answer of the alerts task, for the footer.
    pub status: Option<String>,
    /// The selected row is an incident (which bindings apply).
    on_incident: bool,
}

/// The state after `state` along the incident lifecycle (resolving is `x`).
fn next_state(state: &str) -> Option<IncidentState> {
    match IncidentState::parse(state)? {
        IncidentState::Investigating => Some(IncidentState::Identified),
        IncidentState::Identified => Some(IncidentState::Monitoring),
        _ => None,
    }
}

impl AlertsPane {
    /// The selected row is an incident (not an alert).
    pub fn selected_is_incident(&self) -> bool {
        self.on_incident
    }

    fn selected<'a>(&self, s: &'a Snapshot) -> Option<Item<'a>> {
        item(s, self.table.selected_row()?)
    }

    fn sync(&mut self, cx: &Cx) {
        self.on_incident = cx
            .snap()
            .and_then(|s| self.selected(s))
            .is_some_and(|i| matches!(i, Item::Incident(_)));
    }

    fn ask(&mut self, req: Request, what: String, cx: &mut Cx) {
        cx.requests.alerts.push(req);
        self.status = Some(format!("{what}..."));
    }

    /// An answer from the alerts task.
    pub fn on_outcome(&mut self, answer: Result<String, String>, cx: &mut Cx) {
        let m = match answer {
            Ok(m) | Err(m) => m,
        };
        *cx.message = Some(m.clone());
        self.status = Some(m);
    }

    fn submit(&mut self, p: Prompt, cx: &mut Cx) {
        let text = p.text.trim().to_string();
        match p.ask {
            Ask::Silence { key } => {
                let (duration, reason) = text.split_once(' ').unwrap_or((&text, ""));
                let minutes = crate::store::alert_actions::parse_duration(duration)
                    .map(|d| d.num_minutes())
                    .filter(|m| *m > 0);
                match (minutes, reason.trim()) {
                    (Some(minutes), reason) if !reason.is_empty() => self.ask(
                        Request::Silence {
                            key: key.clone(),
                            minutes,
                            reason: reason.to_string(),
                        },
                        format!("silencing {key}"),
                        cx,
                    ),
                    _ => {
                        *cx.message = Some("type a duration then a reason: 2h deploy window".into())
                    }
                }
            }
            Ask::Resolve { id } => self.ask(
                Request::Resolve { id, note: text },
                format!("resolving alert #{id}"),
                cx,
            ),
            Ask::ResolveIncident { id } => self.ask(
                Request::ResolveIncident {
                    incident: id,
                    summary: text,
                },
                format!("resolving INC-{id}"),
                cx,
            ),
            Ask::Note { id } => self.ask(
                Request::Note { incident: id, text },
                format!("noting on INC-{id}"),
                cx,
            ),
        }
    }
}

impl Pane for AlertsPane {
    fn id(&self) -> PaneId {
        PaneId::Alerts
    }

    fn table(&self) -> &Table {
        &self.table
    }

    fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }

    fn total(&self, s: &Snapshot) -> i64 {
        Alerts::total(s).max(Alerts::len(s) as i64)
    }

    fn selected_key(&self, s: &Snapshot) -> Option<i64> {
        self.table.selected_key::<Alerts>(s)
    }

    fn rebuild(&mut self, cx: &Cx, keep: Option<i64>) {
        self.table
            .rebuild::<Alerts>(cx.snap(), cx.rows, keep, None, &|_, _| true);
        self.sync(cx);
    }

    fn nav(&mut self, nav: Nav, cx: &mut Cx) -> bool {
        let handled = match self.table.nav::<Alerts>(nav, cx) {
            Navigated::Done => true,
            Navigated::Rebuild(keep) => {
                self.rebuild(cx, keep);
                true
            }
            Navigated::NotHere => false,
        };
        self.sync(cx);
        handled
    }

    fn sections(&self) -> &'static [Section] {
        SECTIONS
    }

    fn applies(&self, binding: &Binding) -> bool {
        let incident_only = INCIDENT_BINDINGS.iter().any(|b| b.name == binding.name);
        let alert_only = ALERT_BINDINGS
            .iter()
            .any(|b| b.name == binding.name && b.name != "alert_resolve");
        !(incident_only && !self.on_incident || alert_only && self.on_incident)
    }

    fn copy_id(&self, s: &Snapshot) -> Option<String> {
        Alerts::copy_id(s, self.table.selected_row()?)
    }

    fn find(&mut self, query: &str, cx: &mut Cx) -> bool {
        let found = self.table.find::<Alerts>(cx.snap(), query, cx.rows);
        self.sync(cx);
        found
    }

    fn act(&mut self, action: PaneAction, cx: &mut Cx) {
        let Some(s) = cx.snap() else {
            return;
        };
        let Some(selected) = self.selected(s) else {
            *cx.message = Some("nothing selected".into());
            return;
        };
        match (action, selected) {
            (PaneAction::AlertAck, Item::Alert(a)) => {
                if a.state == "acknowledged" {
                    *cx.message = Some(format!(
                        "already acknowledged by {}",
                        a.acked_by.as_deref().unwrap_or("someone")
                    ));
                } else {
                    let id = a.id;
                    self.ask(Request::Ack { id }, format!("acknowledging #{id}"), cx);
                }
            }
            (PaneAction::AlertSilence, Item::Alert(a)) => {
                self.prompt = Some(Prompt {
                    ask: Ask::Silence {
                        key: a.dedup_key.clone(),
                    },
                    text: String::new(),
                })
            }
            (PaneAction::AlertResolve, Item::Alert(a)) => {
                self.prompt = Some(Prompt {
                    ask: Ask::Resolve { id: a.id },
                    text: String::new(),
                })
            }
            (PaneAction::AlertResolve, Item::Incident(i)) => {
                self.prompt = Some(Prompt {
                    ask: Ask::ResolveIncident { id: i.id },
                    text: String::new(),
                })
            }
            (PaneAction::IncidentDeclare, Item::Alert(a)) => {
                let alert = a.id;
                self.ask(
                    Request::Declare { alert },
                    format!("declaring from #{alert}"),
                    cx,
                );
            }
            (PaneAction::IncidentTake, Item::Incident(i)) => {
                let incident = i.id;
                self.ask(
                    Request::Take { incident },
                    format!("taking INC-{incident}"),
                    cx,
                );
            }
            (PaneAction::IncidentNote, Item::Incident(i)) => {
                self.prompt = Some(Prompt {
                    ask: Ask::Note { id: i.id },
                    text: String::new(),
                })
            }
            (PaneAction::IncidentNext, Item::Incident(i)) => match next_state(&i.state) {
                Some(state) => {
                    let incident = i.id;
                    self.ask(
                        Request::Status { incident, state },
                        format!("INC-{incident} → {}", state.as_str()),
                        cx,
                    )
                }
                None => *cx.message = Some("monitoring: x resolves it".into()),
            },
            (_, Item::Alert(_)) => *cx.message = Some("select an incident for this".into()),
            (_, Item::Incident(_)) => *cx.message = Some("select an alert for this".into()),
        }
    }

    fn modal(&self) -> bool {
        self.prompt.is_some()
    }

    fn modal_key(&mut self, key: KeyEvent, cx: &mut Cx) {
        let Some(p) = self.prompt.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.prompt = None,
            KeyCode::Backspace => {
                p.text.pop();
            }
            KeyCode::Enter if !p.text.trim().is_empty() => {
                if let Some(p) = self.prompt.take() {
                    self.submit(p, cx);
                }
            }
            KeyCode::Char(c) if p.text.len() < 500 => p.text.push(c),
            _ => {}
        }
    }

    fn status(&self, keymap: &Keymap) -> Option<&str> {
        self.status.as_deref().filter(|_| keymap.may(P))
    }

    fn draw(&self, f: &mut Frame, area: Rect, v: &View) {
        draw_table::<Alerts>(f, area, v, &self.table, &empty_marks(), Vec::new());
    }

    fn draw_overlay(&self, f: &mut Frame, body: Rect, v: &View) {
        if self.table.detail
            && let (Some(s), Some(row)) = (v.snapshot(), self.table.selected_row())
        {
            let marks = empty_marks();
            let lines: Vec<Line> = <Alerts as Rows>::detail(&v.ctx(s, &marks), row);
            draw_detail(
                f,
                body,
                v,
                PaneId::Alerts,
                lines,
                self.table.detail_scroll,
                " Esc close  j/k next/previous".into(),
                DETAIL_WIDTH,
            );
        }
        if let Some(p) = &self.prompt {
            let width = body.width.clamp(20, 72);
            let area = Rect {
                x: body.x + (body.width.saturating_sub(width)) / 2,
                y: body.y + body.height / 3,
                width,
                height: 3.min(body.height),
            };
            let title = match &p.ask {
                Ask::Silence { key } => format!(" Mute {key} for: DURATION REASON (2h deploy) "),
                Ask::Resolve { id } => format!(" Resolve alert #{id}: note "),
                Ask::ResolveIncident { id } => format!(" Resolve INC-{id}: summary "),
                Ask::Note { id } => format!(" Note on INC-{id} "),
            };
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(Line::from(vec![Span::styled(
                    format!("{}▏", p.text),
                    v.theme.text,
                )]))
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(
                            crate::text::clip_to(&title, usize::from(width.saturating_sub(4)))
                                .into_owned(),
                        )
                        .title_bottom(" Enter ok  Esc cancel "),
                ),
                area,
            );
        }
    }
}
