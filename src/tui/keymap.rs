//! The one keymap: [`KEYMAP`] and [`COMMANDS`] drive both the key handling
//! ([`translate`]) and what `?` and the footer show, so help is never stale.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};

use super::app::{Action, App, Input};
use super::panes::PaneId;
use super::triage::Kind;

/// A key as written in the keymap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    pub fn label(&self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{c}"),
            Key::Code(code) => match code {
                KeyCode::Up => "↑".into(),
                KeyCode::Down => "↓".into(),
                KeyCode::PageUp => "PgUp".into(),
                KeyCode::PageDown => "PgDn".into(),
                KeyCode::Home => "Home".into(),
                KeyCode::End => "End".into(),
                KeyCode::Enter => "Enter".into(),
                KeyCode::Esc => "Esc".into(),
                KeyCode::Tab => "Tab".into(),
                KeyCode::BackTab => "Shift-Tab".into(),
                other => format!("{other:?}"),
            },
        }
    }

    fn matches(&self, k: &KeyEvent) -> bool {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match (self, k.code) {
            (Key::Char(c), KeyCode::Char(got)) => !ctrl && *c == got,
            (Key::Ctrl(c), KeyCode::Char(got)) => ctrl && c.eq_ignore_ascii_case(&got),
            (Key::Code(code), got) => *code == got,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Panes,
    Move,
    View,
    Fraud,
    Blocklist,
    App,
}

impl Group {
    pub fn title(&self) -> &'static str {
        match self {
            Group::Panes => "Panes",
            Group::Move => "Move",
            Group::View => "View",
            Group::Fraud => "Fraud triage (pane 5)",
            Group::Blocklist => "Blocklist (pane 5)",
            Group::App => "General",
        }
    }
}

/// One entry of the keymap.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    pub group: Group,
    /// Short label for the footer; `None` keeps it out of the footer.
    pub footer: Option<&'static str>,
    /// Changes data: neither works nor shows in wall mode.
    pub changes_data: bool,
}

const fn b(
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    group: Group,
    footer: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        action,
        help,
        group,
        footer,
        changes_data: false,
    }
}

/// A binding that changes data: hidden and inert on the wall and for viewers.
const fn w(
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    footer: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        action,
        help,
        group: Group::Fraud,
        footer,
        changes_data: true,
    }
}

/// A blocklist binding (`changes`: adds or removes an entry).
const fn bl(
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    footer: Option<&'static str>,
    changes: bool,
) -> Binding {
    Binding {
        keys,
        action,
        help,
        group: Group::Blocklist,
        footer,
        changes_data: changes,
    }
}

use Key::{Char, Code, Ctrl};

pub const KEYMAP: &[Binding] = &[
    b(
        &[Char('1')],
        Action::Focus(PaneId::Alerts),
        "Alerts & incidents",
        Group::Panes,
        None,
    ),
    b(
        &[Char('2')],
        Action::Focus(PaneId::Shows),
        "Live shows (today)",
        Group::Panes,
        None,
    ),
    b(
        &[Char('3')],
        Action::Focus(PaneId::Disputes),
        "Disputes (SLA queue)",
        Group::Panes,
        None,
    ),
    b(
        &[Char('4')],
        Action::Focus(PaneId::Payouts),
        "Payouts (this week)",
        Group::Panes,
        None,
    ),
    b(
        &[Char('5')],
        Action::Focus(PaneId::Fraud),
        "Fraud (score list)",
        Group::Panes,
        Some("1-5 panes"),
    ),
    b(
        &[Code(KeyCode::Tab)],
        Action::NextPane,
        "next pane",
        Group::Panes,
        None,
    ),
    b(
        &[Code(KeyCode::BackTab)],
        Action::PrevPane,
        "previous pane",
        Group::Panes,
        None,
    ),
    b(
        &[Char('j'), Code(KeyCode::Down)],
        Action::Down,
        "next row",
        Group::Move,
        None,
    ),
    b(
        &[Char('k'), Code(KeyCode::Up)],
        Action::Up,
        "previous row",
        Group::Move,
        Some("j/k move"),
    ),
    b(
        &[Code(KeyCode::PageDown), Ctrl('d')],
        Action::PageDown,
        "page down",
        Group::Move,
        None,
    ),
    b(
        &[Code(KeyCode::PageUp), Ctrl('u')],
        Action::PageUp,
        "page up",
        Group::Move,
        None,
    ),
    b(
        &[Char('g'), Code(KeyCode::Home)],
        Action::Top,
        "first row",
        Group::Move,
        None,
    ),
    b(
        &[Char('G'), Code(KeyCode::End)],
        Action::Bottom,
        "last row",
        Group::Move,
        None,
    ),
    b(
        &[Code(KeyCode::Enter)],
        Action::Open,
        "detail view of the row",
        Group::View,
        Some("Enter detail"),
    ),
    b(
        &[Code(KeyCode::Esc)],
        Action::Back,
        "close detail / filter / zoom",
        Group::View,
        None,
    ),
    b(
        &[Char('/')],
        Action::StartFilter,
        "filter rows (live, any case)",
        Group::View,
        Some("/ filter"),
    ),
    b(
        &[Char('s')],
        Action::NextSort,
        "next sort key",
        Group::View,
        Some("s sort"),
    ),
    b(
        &[Char('S')],
        Action::ReverseSort,
        "reverse the sort",
        Group::View,
        None,
    ),
    b(
        &[Char('z')],
        Action::ToggleZoom,
        "zoom the pane (full screen)",
        Group::View,
        Some("z zoom"),
    ),
    w(
        &[Char('a')],
        Action::Decide(Kind::Approve),
        "approve with a reason",
        Some("a approve"),
    ),
    w(
        &[Char('r')],
        Action::Decide(Kind::Review),
        "review: hold 24h/48h",
        Some("r review"),
    ),
    w(
        &[Char('d')],
        Action::Decide(Kind::Decline),
        "decline and refund",
        Some("d decline"),
    ),
    w(
        &[Char(' ')],
        Action::Mark,
        "mark for bulk decision",
        Some("Space mark"),
    ),
    w(
        &[Char('u')],
        Action::Undo,
        "undo my last decision",
        Some("u undo"),
    ),
    bl(
        &[Char('b')],
        Action::ToggleBlocklist,
        "blocklist view (or back)",
        None,
        false,
    ),
    bl(
        &[Char('n')],
        Action::BlockAdd,
        "add an entry, with a reason",
        Some("n add"),
        true,
    ),
    bl(
        &[Char('x')],
        Action::BlockRemove,
        "remove the entry (reason)",
        Some("x remove"),
        true,
    ),
    b(
        &[Char(':')],
        Action::StartCommand,
        "command line (:fraud, :q)",
        Group::App,
        Some(": cmd"),
    ),
    b(
        &[Char('?')],
        Action::ToggleHelp,
        "this help",
        Group::App,
        Some("? help"),
    ),
    b(
        &[Char('q'), Ctrl('c')],
        Action::Quit,
        "quit",
        Group::App,
        Some("q quit"),
    ),
];

/// The `:` commands, in the manner of k9s.
pub const COMMANDS: &[(&[&str], Action, &str)] = &[
    (
        &["alerts", "incidents", "a"],
        Action::Show(PaneId::Alerts),
        "alerts & incidents",
    ),
    (
        &["shows", "s"],
        Action::Show(PaneId::Shows),
        "today's live shows",
    ),
    (
        &["disputes", "d"],
        Action::Show(PaneId::Disputes),
        "the dispute SLA queue",
    ),
    (
        &["payouts", "p"],
        Action::Show(PaneId::Payouts),
        "this week's payouts",
    ),
    (
        &["fraud", "f"],
        Action::Show(PaneId::Fraud),
        "the fraud queue",
    ),
    (&["help", "h"], Action::ToggleHelp, "this help"),
    (&["q", "quit", "q!"], Action::Quit, "quit"),
];

/// The bindings that work (and show) in this mode.
pub fn active(wall: bool) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| !(wall && b.changes_data))
}

/// The keys of a binding as "j/↓".
pub fn keys_label(b: &Binding, ascii: bool) -> String {
    b.keys
        .iter()
        .map(|k| {
            let l = k.label();
            if ascii {
                l.replace('↑', "Up").replace('↓', "Down")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a binding means something in the current view: the decision keys
/// act on the queue, the blocklist keys on the blocklist view.
pub fn in_context(app: &App, b: &Binding) -> bool {
    let blocklist = app.blocklist_open();
    match b.action {
        Action::Decide(_) | Action::Mark | Action::Undo => !blocklist,
        Action::Open | Action::NextSort | Action::ReverseSort => !blocklist,
        Action::BlockAdd | Action::BlockRemove => blocklist,
        _ => true,
    }
}

/// Looks a `:` command up; unknown commands get a hint.
pub fn command(line: &str) -> Result<Action, String> {
    let word = line.trim().trim_start_matches(':').to_lowercase();
    COMMANDS
        .iter()
        .find(|(names, _, _)| names.contains(&word.as_str()))
        .map(|(_, action, _)| *action)
        .ok_or_else(|| {
            let known: Vec<&str> = COMMANDS.iter().map(|(n, _, _)| n[0]).collect();
            format!("unknown command :{word} (try :{})", known.join(", :"))
        })
}

/// A terminal event in the app's current state → the action it asks for.
pub fn translate(app: &App, event: &Event) -> Option<Action> {
    match event {
        Event::Key(k) if k.kind == KeyEventKind::Press || k.kind == KeyEventKind::Repeat => {
            translate_key(app, k)
        }
        Event::Resize(w, h) => Some(Action::Resize(*w, *h)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(Action::ScrollAt(m.column, m.row, 3)),
            MouseEventKind::ScrollUp => Some(Action::ScrollAt(m.column, m.row, -3)),
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click(m.column, m.row)),
            _ => None,
        },
        _ => None,
    }
}

fn translate_key(app: &App, k: &KeyEvent) -> Option<Action> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && k.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if app.dialog.is_some() || app.block_dialog.is_some() {
        return Some(Action::DialogKey(*k));
    }
    if app.input != Input::None {
        return match k.code {
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Enter => Some(Action::Submit),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Char(c) if !ctrl => Some(Action::Type(c)),
            _ => None,
        };
    }
    if app.help {
        // Any key closes the help; q still quits.
        return match k.code {
            KeyCode::Char('q') => Some(Action::Quit),
            _ => Some(Action::ToggleHelp),
        };
    }
    let may_decide = app.may_decide();
    active(app.wall)
        .filter(|b| may_decide || !b.changes_data)
        .filter(|b| in_context(app, b))
        .find(|b| b.keys.iter().any(|key| key.matches(k)))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in KEYMAP {
            for k in b.keys {
                assert!(!seen.contains(k), "{k:?} bound twice");
                seen.push(*k);
            }
        }
    }

    #[test]
    fn every_command_resolves_and_unknown_ones_explain() {
        assert_eq!(command(":fraud"), Ok(Action::Show(PaneId::Fraud)));
        assert_eq!(command("disputes"), Ok(Action::Show(PaneId::Disputes)));
        assert_eq!(command(" Q "), Ok(Action::Quit));
        let err = command("frod").unwrap_err();
        assert!(err.contains(":fraud"), "{err}");
    }
}
