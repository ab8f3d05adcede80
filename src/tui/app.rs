//! The dashboard's shared state and its one key router. [`App`] holds what
//! every pane shares (the latest data, the size, focus and zoom, help, the
//! filter and command line, the footer message, the operator's active
//! [`Keymap`]) and routes by focus: each key becomes an [`Action`] through
//! [`App::translate`], and [`App::update`] applies app-wide actions itself and
//! hands the rest to the focused pane ([`super::panes`]), which owns its own
//! state. Pure: no I/O, no terminal; unit-tested.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use ratatui::layout::Rect;

use super::action::{Action, Nav};
use super::detail::Loaded;
use super::keymap::{self, Binding, Keymap, Rebound, Section};
use super::layout::{self, Screen};
use super::panes::{Cx, PaneId, Panes, Requests, Table, View};
use super::poller::DataState;
use super::theme::Theme;
use super::triage::Outcome;
use crate::domain::operators::{Actor, Role};
use crate::store::snapshot::Snapshot;

/// The context pane `$id` acts in: its rows at the current size, the shared
/// state, where its requests and messages go. A macro so that it borrows the
/// app's fields one by one, leaving `panes` free for the pane itself.
macro_rules! cx {
    ($app:ident, $id:expr) => {{
        let id: PaneId = $id;
        Cx {
            rows: $app.rows_of(id),
            page: $app.size.1.saturating_sub(8).max(1),
            focused: id == $app.focus,
            data: &$app.data,
            now: $app.now,
            tz: $app.tz,
            threshold: $app.threshold,
            operator: &$app.operator,
            keymap: &$app.keymap,
            wall: $app.wall,
            zoom: &mut $app.zoom,
            requests: &mut $app.requests,
            message: &mut $app.message,
        }
    }};
}

/// What the keyboard is typing into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    None,
    Filter,
    Command,
}

/// How the dashboard was started.
#[derive(Debug, Clone)]
pub struct Settings {
    pub wall: bool,
    /// Nothing can be changed from this dashboard (`--readonly`; `--wall` implies it).
    pub readonly: bool,
    pub operator: String,
    pub tz: chrono_tz::Tz,
    pub threshold: u8,
    pub wall_cycle: Duration,
    /// Mouse clicks and wheel (`[tui] mouse`); off keeps terminal selection working.
    pub mouse: bool,
    /// Keys rebound by the operator (`[keys]`, checked at start).
    pub keys: Arc<Rebound>,
}

/// Commands remembered for Up/Down in the command line.
const HISTORY: usize = 100;

#[derive(Debug, Clone)]
pub struct App {
    pub wall: bool,
    pub readonly: bool,
    pub operator: String,
    pub tz: chrono_tz::Tz,
    pub threshold: u8,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub focus: PaneId,
    pub zoom: bool,
    pub help: bool,
    pub input: Input,
    pub command_line: String,
    /// A one-line message in the footer (unknown command, a refused key, ...).
    pub message: Option<String>,
    pub panes: Panes,
    pub data: DataState,
    /// The operator's keys: what their role allows on this dashboard.
    pub keymap: Keymap,
    pub quit: bool,
    /// Requests for the background tasks; the UI loop drains them after each update.
    pub requests: Requests,
    /// `f`: the screen is frozen since then; new data waits in `pending`.
    pub frozen: Option<DateTime<Utc>>,
    /// The order overlay (`:order QUERY`), over whichever pane has the focus.
    pub order: Option<Box<super::order_view::OrderOverlay>>,
    /// The checklist overlay (`:checklist`), over any pane.
    pub checklist: Option<Box<super::checklist_view::ChecklistOverlay>>,
    /// The duplicate charges view (`:duplicates`), over any pane.
    pub duplicates: Option<Box<super::duplicates_view::DuplicatesOverlay>>,
    /// Pane 2's detail on an ended show: its performance report (show id,
    /// the rendered report once the operations task answers).
    pub show_report: Option<(i64, Option<Result<String, String>>)>,
    pending: Option<Box<DataState>>,
    /// Commands run, oldest first, and the one Up/Down is showing.
    history: Vec<String>,
    history_pos: Option<usize>,
    mouse: bool,
    rebound: Arc<Rebound>,
    wall_cycle: Duration,
    wall_next: DateTime<Utc>,
}

impl App {
    pub fn new(settings: Settings, now: DateTime<Utc>, size: (u16, u16)) -> App {
        let readonly = settings.readonly || settings.wall;
        let cycle = settings.wall_cycle.max(Duration::seconds(1));
        App {
            wall: settings.wall,
            readonly,
            keymap: Keymap::new(
                actor(&settings.operator, readonly),
                Role::Viewer,
                settings.keys.clone(),
            ),
            operator: settings.operator,
            tz: settings.tz,
            threshold: settings.threshold,
            now,
            size,
            focus: PaneId::Alerts,
            zoom: settings.wall,
            help: false,
            input: Input::None,
            command_line: String::new(),
            message: None,
            panes: Panes::default(),
            data: DataState::default(),
            quit: false,
            requests: Requests::default(),
            frozen: None,
            order: None,
            checklist: None,
            duplicates: None,
            show_report: None,
            pending: None,
            history: Vec::new(),
            history_pos: None,
            mouse: settings.mouse,
            rebound: settings.keys,
            wall_cycle: cycle,
            wall_next: now + cycle,
        }
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.data.snapshot.as_deref()
    }

    /// Mouse clicks and wheel are on (`[tui] mouse`).
    pub fn mouse(&self) -> bool {
        self.mouse
    }

    /// Frozen, with newer data waiting underneath.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    pub fn role(&self) -> Role {
        self.keymap.role()
    }

    pub fn pane(&self, id: PaneId) -> &Table {
        self.panes.get(id).table()
    }

    /// The snapshot row under the selection of a pane.
    pub fn selected_row(&self, id: PaneId) -> Option<usize> {
        self.pane(id).selected_row()
    }

    /// A P0 or a critical alert is open: the wall banner shows.
    pub fn alarm(&self) -> bool {
        self.snapshot().is_some_and(|s| {
            s.facts.alerts.critical > 0
                || s.facts.incidents.p0 > 0
                || s.alerts.iter().any(|a| a.priority.as_deref() == Some("P0"))
                || s.incidents.iter().any(|i| i.priority == "P0")
        })
    }

    /// The screen geometry at the current size (the same the drawing uses).
    pub fn screen(&self) -> Screen {
        layout::compute(
            Rect::new(0, 0, self.size.0, self.size.1),
            self.focus,
            self.zoom,
            self.wall && self.alarm(),
        )
    }

    fn rows_of(&self, id: PaneId) -> usize {
        self.screen().pane(id).map_or(1, layout::rows_in).max(1)
    }

    /// A pane's tab in the tab strip: " 3 Disputes 25 ".
    pub fn tab_label(&self, id: PaneId) -> String {
        let n = self.snapshot().map_or(0, |s| self.panes.get(id).total(s));
        format!(" {} {} {} ", id.index() + 1, id.short(), n)
    }

    /// Every section of the registry, in help order: the leading app-wide
    /// ones, each pane's own, then the trailing app-wide ones.
    pub fn sections(&self) -> impl Iterator<Item = &'static Section> + Clone + '_ {
        keymap::LEADING
            .iter()
            .chain(
                PaneId::ALL
                    .into_iter()
                    .flat_map(|id| self.panes.get(id).sections().iter()),
            )
            .chain(keymap::TRAILING.iter())
    }

    /// The sections `?` shows: the app-wide ones and the focused pane's own
    /// (in the manner of k9s: each view's help has its keys).
    pub fn help_sections(&self) -> impl Iterator<Item = &'static Section> + '_ {
        keymap::LEADING
            .iter()
            .chain(self.panes.get(self.focus).sections().iter())
            .chain(keymap::TRAILING.iter())
    }

    /// The bindings that work now, in the focused pane's current view, for
    /// this operator, in footer order.
    pub fn live_bindings(&self) -> impl Iterator<Item = &'static Binding> + '_ {
        let pane = self.panes.get(self.focus);
        keymap::LEADING
            .iter()
            .chain(pane.sections().iter())
            .chain(keymap::TRAILING.iter())
            .flat_map(|s| s.bindings.iter())
            .filter(move |b| !b.keys.is_empty() && pane.applies(b))
            .filter(|b| self.keymap.allows(b))
    }

    /// The drawing context of pane `id`.
    pub fn view<'a>(&'a self, theme: &'a Theme, id: PaneId) -> View<'a> {
        View {
            data: &self.data,
            now: self.now,
            tz: &self.tz,
            theme,
            threshold: self.threshold,
            operator: &self.operator,
            keymap: &self.keymap,
            wall: self.wall,
            focused: id == self.focus,
        }
    }

    /// Whether `data` would change the screen: the connection state or the
    /// rows and figures (a poll that found nothing new is not drawn again).
    pub fn changes_screen(&self, data: &DataState) -> bool {
        let d = &self.data;
        let same_rows = match (&d.snapshot, &data.snapshot) {
            (Some(a), Some(b)) => a.same_content(b),
            (None, None) => true,
            _ => false,
        };
        !(same_rows
            && d.connected == data.connected
            && d.listening == data.listening
            && d.down_since == data.down_since
            && d.error == data.error
            && d.role == data.role
            && d.query_failed == data.query_failed
            && (data.listening || d.last_success == data.last_success))
    }

    /// The clock moved to `now`: true when that changes what is on screen
    /// (the minute turned, the wall moved on, a countdown of seconds is shown:
    /// frozen, or the database down); at rest the screen is not redrawn each
    /// second.
    pub fn tick(&mut self, now: DateTime<Utc>) -> bool {
        let before = (self.now.timestamp() / 60, self.focus);
        self.update(Action::Tick(now));
        before != (self.now.timestamp() / 60, self.focus)
            || self.frozen.is_some()
            || !self.data.connected
            || !self.data.listening
    }

    /// New data from the poller: every pane rebuilds its view, keeping its
    /// selection; the keymap follows a changed role.
    pub fn set_data(&mut self, data: DataState) {
        if self.frozen.is_some() {
            // Frozen: the newest data waits until `f` again.
            self.pending = Some(Box::new(data));
            return;
        }
        // The checklist overlay follows the data (another operator's tick).
        if let Some(c) = &self.checklist {
            self.requests.checklist.push(c.load());
        }
        let role = data.role.unwrap_or(Role::Viewer);
        if role != self.keymap.role() {
            self.keymap = Keymap::new(
                actor(&self.operator, self.readonly),
                role,
                self.rebound.clone(),
            );
        }
        if let Some(order) = &self.order {
            order.refresh(&mut self.requests.orders);
        }
        if let Some(d) = self.duplicates.as_mut() {
            d.refresh(self.now, &mut self.requests.orders);
        }
        let old = std::mem::replace(&mut self.data, data);
        for id in PaneId::ALL {
            let mut cx = cx!(self, id);
            self.panes
                .get_mut(id)
                .on_data(old.snapshot.as_deref(), &mut cx);
        }
    }

    /// An answer from the triage task (for the Fraud pane).
    pub fn on_outcome(&mut self, out: Outcome) {
        let mut cx = cx!(self, PaneId::Fraud);
        self.panes.fraud.on_outcome(out, &mut cx);
    }

    /// An answer from the operations task (for the Payouts pane, or pane 1's alerts).
    pub fn on_ops(&mut self, out: super::ops_task::Outcome) {
        if let super::ops_task::Outcome::Checklist(answer) = out {
            self.on_checklist(answer);
            return;
        }
        if let super::ops_task::Outcome::ShowReport(id, report) = out {
            if let Some((open, slot)) = self.show_report.as_mut()
                && *open == id
            {
                *slot = Some(report);
            }
            return;
        }
        if let super::ops_task::Outcome::Dispute(answer) = out {
            let mut cx = cx!(self, PaneId::Disputes);
            self.panes.disputes.on_answer(answer, &mut cx);
            return;
        }
        if let super::ops_task::Outcome::Alerts(answer) = out {
            let mut cx = cx!(self, PaneId::Alerts);
            self.panes.alerts.on_outcome(answer, &mut cx);
            return;
        }
        let mut cx = cx!(self, PaneId::Payouts);
        self.panes.payouts.on_outcome(out, &mut cx);
    }

    /// An answer from the detail task (for the Fraud pane).
    pub fn on_detail(&mut self, loaded: Loaded) {
        let mut cx = cx!(self, PaneId::Fraud);
        self.panes.fraud.on_detail(loaded, &mut cx);
    }

    fn set_focus(&mut self, id: PaneId) {
        self.focus = id;
        self.clamp_all();
    }

    /// Keeps every pane's selection on screen at the current geometry.
    fn clamp_all(&mut self) {
        for id in PaneId::ALL {
            let rows = self.rows_of(id);
            let snap = self.data.snapshot.clone();
            self.panes.get_mut(id).clamp(rows, snap.as_deref());
        }
    }

    /// A terminal event in the app's current state → the action it asks for.
    /// The one key router: a dialog takes every key, then the filter or
    /// command line, then help; otherwise the focused pane's bindings and the
    /// app-wide ones, as far as this operator may use them.
    pub fn translate(&self, event: &Event) -> Option<Action> {
        match event {
            Event::Key(k) if k.kind == KeyEventKind::Press || k.kind == KeyEventKind::Repeat => {
                self.translate_key(k)
            }
            Event::Resize(w, h) => Some(Action::Resize(*w, *h)),
            Event::Mouse(m) if self.mouse => match m.kind {
                MouseEventKind::ScrollDown => Some(Action::ScrollAt(m.column, m.row, 3)),
                MouseEventKind::ScrollUp => Some(Action::ScrollAt(m.column, m.row, -3)),
                MouseEventKind::Down(MouseButton::Left) => Some(Action::Click(m.column, m.row)),
                _ => None,
            },
            _ => None,
        }
    }

    fn translate_key(&self, k: &KeyEvent) -> Option<Action> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        if self.order.is_some() {
            return self.translate_order_key(k);
        }
        if self.checklist.is_some() {
            return Self::translate_checklist_key(k);
        }
        if let Some(d) = &self.duplicates {
            return Self::translate_duplicates_key(k, d.confirm.is_some());
        }
        if self.panes.get(self.focus).modal() {
            return Some(Action::Modal(*k));
        }
        if self.input != Input::None {
            let command = self.input == Input::Command;
            return match k.code {
                KeyCode::Up if command => Some(Action::HistoryPrev),
                KeyCode::Down if command => Some(Action::HistoryNext),
                KeyCode::Tab if command => Some(Action::Complete),
                KeyCode::Esc => Some(Action::Cancel),
                KeyCode::Enter => Some(Action::Submit),
                KeyCode::Backspace => Some(Action::Backspace),
                KeyCode::Char(c) if !ctrl => Some(Action::Type(c)),
                _ => None,
            };
        }
        if self.help {
            // Any key closes the help; q still quits.
            return match k.code {
                KeyCode::Char('q') => Some(Action::Quit),
                _ => Some(Action::ToggleHelp),
            };
        }
        let pane = self.panes.get(self.focus);
        let bound = pane
            .sections()
            .iter()
            .chain(keymap::GLOBAL.iter())
            .flat_map(|s| s.bindings.iter())
            .filter(|b| pane.applies(b))
            .find(|b| self.keymap.matches(b, k))?;
        match bound.needs {
            Some(permission) if !self.keymap.may(permission) => Some(Action::Refused {
                binding: bound.name,
                permission,
            }),
            _ => Some(bound.action),
        }
    }

    pub fn update(&mut self, action: Action) {
        let focus = self.focus;
        if !matches!(action, Action::Tick(_)) {
            self.message = None;
        }
        match action {
            Action::Quit => {
                // Each pane gives back what this dashboard holds (claims).
                for id in PaneId::ALL {
                    let mut cx = cx!(self, id);
                    self.panes.get_mut(id).quit(&mut cx);
                }
                self.quit = true;
            }
            Action::Focus(id) => self.set_focus(id),
            Action::Show(id) => {
                self.focus = id;
                self.zoom = true;
                self.clamp_all();
            }
            Action::NextPane => self.set_focus(focus.next()),
            Action::PrevPane => self.set_focus(focus.prev()),
            Action::Nav(nav) => {
                let mut cx = cx!(self, focus);
                let handled = self.panes.get_mut(focus).nav(nav, &mut cx);
                if !handled && nav == Nav::Back && self.zoom && !self.wall {
                    self.zoom = false;
                }
                self.clamp_all();
            }
            Action::Pane(a) => {
                let mut cx = cx!(self, focus);
                self.panes.get_mut(focus).act(a, &mut cx);
                self.clamp_all();
            }
            Action::Modal(k) => {
                let mut cx = cx!(self, focus);
                self.panes.get_mut(focus).modal_key(k, &mut cx);
            }
            Action::Order(a) => self.order_action(a),
            Action::OpenChecklist => self.open_checklist(""),
            Action::ChecklistKey(k) => self.checklist_key(k),
            Action::OpenDuplicates => self.open_duplicates(),
            Action::DuplicatesKey(k) => self.duplicates_key(k),
            Action::OrderKey(k) => {
                if let Some(order) = self.order.as_mut() {
                    order.dialog_key(k, &mut self.requests.orders);
                }
            }
            Action::Refused {
                binding,
                permission,
            } => {
                // Before the first answer from the database the role is not
                // known yet (the keymap is a viewer's until then): say so
                // rather than call an admin a viewer.
                self.message = Some(if self.data.role.is_none() {
                    format!("{binding}: still loading who you are; try again in a moment")
                } else {
                    let why = self
                        .keymap
                        .check(permission)
                        .err()
                        .map_or_else(String::new, |r| r.to_string());
                    format!("{binding}: {why}")
                });
            }
            Action::StartFilter => {
                self.input = Input::Filter;
                let mut cx = cx!(self, focus);
                self.panes.get_mut(focus).start_filter(&mut cx);
                self.clamp_all();
            }
            Action::StartCommand => {
                self.input = Input::Command;
                self.command_line.clear();
                self.history_pos = None;
            }
            Action::HistoryPrev => {
                let pos = match self.history_pos {
                    Some(p) => p.saturating_sub(1),
                    None => self.history.len().saturating_sub(1),
                };
                if let Some(line) = self.history.get(pos) {
                    self.command_line = line.clone();
                    self.history_pos = Some(pos);
                }
            }
            Action::HistoryNext => match self.history_pos {
                Some(p) if p + 1 < self.history.len() => {
                    self.command_line = self.history[p + 1].clone();
                    self.history_pos = Some(p + 1);
                }
                _ => {
                    self.command_line.clear();
                    self.history_pos = None;
                }
            },
            Action::Complete => self.complete(),
            Action::Copy => self.copy(),
            Action::ToggleFreeze => match self.frozen.take() {
                Some(_) => {
                    if let Some(data) = self.pending.take() {
                        self.set_data(*data);
                    }
                    self.message = Some("live again".into());
                }
                None => self.frozen = Some(self.now),
            },
            Action::ToggleZoom => {
                if !self.wall {
                    self.zoom = !self.zoom;
                    self.clamp_all();
                }
            }
            Action::ToggleHelp => self.help = !self.help,
            Action::Type(c) => match self.input {
                Input::Filter => self.edit_filter(|f| f.push(c), false),
                Input::Command => self.command_line.push(c),
                Input::None => {}
            },
            Action::Backspace => match self.input {
                Input::Filter => self.edit_filter(
                    |f| {
                        f.pop();
                    },
                    true,
                ),
                Input::Command => {
                    if self.command_line.pop().is_none() {
                        self.input = Input::None;
                    }
                }
                Input::None => {}
            },
            Action::Submit => {
                let input = self.input;
                self.input = Input::None;
                if input == Input::Command {
                    let line = std::mem::take(&mut self.command_line);
                    if !line.trim().is_empty() {
                        self.remember(&line);
                        self.run_command(&line);
                    }
                }
            }
            Action::Cancel => {
                if self.input == Input::Filter {
                    self.edit_filter(String::clear, true);
                }
                self.input = Input::None;
                self.command_line.clear();
            }
            Action::Resize(w, h) => {
                self.size = (w, h);
                self.clamp_all();
            }
            Action::ScrollAt(x, y, delta) => {
                if let Some((id, _)) = self.screen().pane_at(x, y) {
                    self.set_focus(id);
                    let rows = self.rows_of(id);
                    self.panes
                        .get_mut(id)
                        .table_mut()
                        .move_by(isize::from(delta), rows);
                }
            }
            Action::Click(x, y) => self.click(x, y),
            Action::Tick(now) => {
                self.now = now;
                if self.wall && now >= self.wall_next {
                    self.wall_next = now + self.wall_cycle;
                    self.set_focus(focus.next());
                }
            }
        }
        self.sync_show_report();
    }

    /// `y`: the selected row's main id goes to the clipboard (the UI loop
    /// writes it as OSC 52, which works through SSH and tmux).
    fn copy(&mut self) {
        let pane = self.panes.get(self.focus);
        match self.snapshot().and_then(|s| pane.copy_id(s)) {
            Some(id) => {
                self.message = Some(format!("copied {id}"));
                self.requests.clipboard = Some(id);
            }
            None => self.message = Some("nothing selected to copy".into()),
        }
    }

    /// Changes the focused pane's filter text and rebuilds its view (from the
    /// first row while typing; keeping the selection when deleting).
    fn edit_filter(&mut self, edit: impl FnOnce(&mut String), keep_selection: bool) {
        let focus = self.focus;
        let keep = if keep_selection {
            self.snapshot()
                .and_then(|s| self.panes.get(focus).selected_key(s))
        } else {
            None
        };
        let cx = cx!(self, focus);
        let pane = self.panes.get_mut(focus);
        edit(&mut pane.table_mut().filter);
        if !keep_selection {
            pane.table_mut().selected = 0;
        }
        pane.rebuild(&cx, keep);
    }

    fn click(&mut self, x: u16, y: u16) {
        let screen = self.screen();
        if let Some(tabs) = screen.tabs
            && y == tabs.y
        {
            // The tab strip: " 1 Alerts 9 " then a space, left to right.
            let mut left = tabs.x;
            for id in PaneId::ALL {
                let width = self.tab_label(id).chars().count() as u16 + 1;
                if x >= left && x < left + width {
                    self.set_focus(id);
                    break;
                }
                left += width;
            }
        } else if let Some((id, rect)) = screen.pane_at(x, y) {
            self.set_focus(id);
            // Border and column header above the first row.
            let first = rect.y + 2;
            if y >= first && y < rect.bottom().saturating_sub(1) {
                self.panes
                    .get_mut(id)
                    .table_mut()
                    .click(usize::from(y - first));
            }
        }
    }
}

/// The dashboard's operator as the keymap sees them.
fn actor(operator: &str, readonly: bool) -> Actor {
    let actor = Actor::new(operator);
    if readonly { actor.read_only() } else { actor }
}

mod checklist;
mod command_line;
mod duplicates;
mod order;

#[cfg(test)]
pub(crate) mod tests;
