//! The one key registry. Every binding (the app-wide ones here, each pane's in
//! its own module) says its name, keys, help text, footer hint, `:` command
//! names and the permission it needs when it changes data. Key handling
//! ([`super::app`]), `?` help, footer hints and `:` commands all read these
//! tables, so help is never stale; [`Keymap`] is the operator's active subset,
//! built from `domain::operators::PERMISSIONS` (the table the store checks).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

mod rebind;

pub use rebind::{Rebound, SHADOWS, parse_key, rebind};

use super::action::{Action, Nav};
use super::pane_id::PaneId;
use crate::domain::operators::{self, Actor, Permission, Refusal, Role};

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

    pub fn matches(&self, k: &KeyEvent) -> bool {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match (self, k.code) {
            (Key::Char(c), KeyCode::Char(got)) => !ctrl && *c == got,
            (Key::Ctrl(c), KeyCode::Char(got)) => ctrl && c.eq_ignore_ascii_case(&got),
            (Key::Code(code), got) => *code == got,
            _ => false,
        }
    }
}

/// One entry of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The action's name, as `?` shows it (stable: config files may name it).
    pub name: &'static str,
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    /// Short label for the footer; `None` keeps it out of the footer.
    pub footer: Option<&'static str>,
    /// `:` command names (the first is the one help shows).
    pub commands: &'static [&'static str],
    /// Changes data: the permission it needs. `None`: reading only.
    pub needs: Option<Permission>,
}

impl Binding {
    /// A binding that only reads.
    pub const fn read(
        name: &'static str,
        keys: &'static [Key],
        action: Action,
        help: &'static str,
        footer: Option<&'static str>,
    ) -> Binding {
        Binding {
            name,
            keys,
            action,
            help,
            footer,
            commands: &[],
            needs: None,
        }
    }

    /// A binding that changes data and needs `permission`.
    pub const fn change(
        name: &'static str,
        keys: &'static [Key],
        action: Action,
        help: &'static str,
        footer: Option<&'static str>,
        permission: Permission,
    ) -> Binding {
        Binding {
            name,
            keys,
            action,
            help,
            footer,
            commands: &[],
            needs: Some(permission),
        }
    }

    /// A `:` command with no key of its own.
    pub const fn command(
        name: &'static str,
        commands: &'static [&'static str],
        action: Action,
        help: &'static str,
    ) -> Binding {
        Binding {
            name,
            keys: &[],
            action,
            help,
            footer: None,
            commands,
            needs: None,
        }
    }

    pub fn matches(&self, k: &KeyEvent) -> bool {
        self.keys.iter().any(|key| key.matches(k))
    }
}

/// A titled group of bindings, as `?` shows them.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub title: &'static str,
    pub bindings: &'static [Binding],
}

use Key::{Char, Code, Ctrl};

const PANES: &[Binding] = &[
    Binding::read(
        "alerts",
        &[Char('1')],
        Action::Focus(PaneId::Alerts),
        "Alerts & incidents",
        None,
    ),
    Binding::read(
        "shows",
        &[Char('2')],
        Action::Focus(PaneId::Shows),
        "Live shows (today)",
        None,
    ),
    Binding::read(
        "disputes",
        &[Char('3')],
        Action::Focus(PaneId::Disputes),
        "Disputes (SLA queue)",
        None,
    ),
    Binding::read(
        "payouts",
        &[Char('4')],
        Action::Focus(PaneId::Payouts),
        "Payouts (this week)",
        None,
    ),
    Binding::read(
        "fraud",
        &[Char('5')],
        Action::Focus(PaneId::Fraud),
        "Fraud (score list)",
        Some("1-5 panes"),
    ),
    Binding::read(
        "next_pane",
        &[Code(KeyCode::Tab)],
        Action::NextPane,
        "next pane",
        None,
    ),
    Binding::read(
        "previous_pane",
        &[Code(KeyCode::BackTab)],
        Action::PrevPane,
        "previous pane",
        None,
    ),
];

const MOVE: &[Binding] = &[
    Binding::read(
        "down",
        &[Char('j'), Code(KeyCode::Down)],
        Action::Nav(Nav::Down),
        "next row",
        None,
    ),
    Binding::read(
        "up",
        &[Char('k'), Code(KeyCode::Up)],
        Action::Nav(Nav::Up),
        "previous row",
        Some("j/k move"),
    ),
    Binding::read(
        "page_down",
        &[Code(KeyCode::PageDown), Ctrl('d')],
        Action::Nav(Nav::PageDown),
        "page down",
        None,
    ),
    Binding::read(
        "page_up",
        &[Code(KeyCode::PageUp), Ctrl('u')],
        Action::Nav(Nav::PageUp),
        "page up",
        None,
    ),
    Binding::read(
        "top",
        &[Char('g'), Code(KeyCode::Home)],
        Action::Nav(Nav::Top),
        "first row",
        None,
    ),
    Binding::read(
        "bottom",
        &[Char('G'), Code(KeyCode::End)],
        Action::Nav(Nav::Bottom),
        "last row",
        None,
    ),
];

const VIEW: &[Binding] = &[
    Binding::read(
        "open",
        &[Code(KeyCode::Enter)],
        Action::Nav(Nav::Open),
        "detail view of the row",
        Some("Enter detail"),
    ),
    Binding::read(
        "back",
        &[Code(KeyCode::Esc)],
        Action::Nav(Nav::Back),
        "close detail/filter/zoom",
        None,
    ),
    Binding::read(
        "filter",
        &[Char('/')],
        Action::StartFilter,
        "filter rows (any case)",
        Some("/ filter"),
    ),
    Binding::read(
        "sort",
        &[Char('s')],
        Action::Nav(Nav::NextSort),
        "next sort key",
        Some("s sort"),
    ),
    Binding::read(
        "reverse_sort",
        &[Char('S')],
        Action::Nav(Nav::ReverseSort),
        "reverse the sort",
        None,
    ),
    Binding::read(
        "zoom",
        &[Char('z')],
        Action::ToggleZoom,
        "zoom the pane",
        Some("z zoom"),
    ),
];

const GENERAL: &[Binding] = &[
    Binding::read(
        "copy",
        &[Char('y')],
        Action::Copy,
        "copy the row's id",
        None,
    ),
    Binding::read(
        "freeze",
        &[Char('f')],
        Action::ToggleFreeze,
        "freeze / back to now",
        None,
    ),
    Binding::read(
        "command",
        &[Char(':')],
        Action::StartCommand,
        "command line (:fraud, :q)",
        Some(": cmd"),
    ),
    // `:help` too: one line of help for both (the whole keymap fits 80x24).
    Binding {
        commands: &["help", "h"],
        ..Binding::read(
            "help",
            &[Char('?')],
            Action::ToggleHelp,
            "this help (:help)",
            Some("? help"),
        )
    },
    Binding::read(
        "quit",
        &[Char('q'), Ctrl('c')],
        Action::Quit,
        "quit",
        Some("q quit"),
    ),
];

/// The `:` commands, in the manner of k9s.
const COMMANDS: &[Binding] = &[
    Binding::command(
        "show_alerts",
        &["alerts", "incidents", "a", "alert"],
        Action::Show(PaneId::Alerts),
        "alerts & incidents",
    ),
    Binding::command(
        "show_shows",
        &["shows", "s", "show"],
        Action::Show(PaneId::Shows),
        "today's live shows",
    ),
    Binding::command(
        "show_disputes",
        &["disputes", "d", "dispute"],
        Action::Show(PaneId::Disputes),
        "disputes; :dispute ID",
    ),
    Binding::command(
        "show_payouts",
        &["payouts", "p", "creator"],
        Action::Show(PaneId::Payouts),
        "payouts; :creator NAME",
    ),
    Binding::command(
        "show_fraud",
        &["fraud", "f"],
        Action::Show(PaneId::Fraud),
        "fraud queue; :fraud N",
    ),
    Binding::command(
        "find_order",
        &["order", "o"],
        Action::Order(super::action::OrderAction::Find),
        "find order: no/email/payer",
    ),
    Binding::command("quit_command", &["q", "quit", "q!"], Action::Quit, "quit"),
];

/// The app-wide sections: they work in every pane.
pub const GLOBAL: &[Section] = &[
    Section {
        title: "Panes",
        bindings: PANES,
    },
    Section {
        title: "Move",
        bindings: MOVE,
    },
    Section {
        title: "View",
        bindings: VIEW,
    },
    Section {
        title: "General",
        bindings: GENERAL,
    },
    Section {
        title: "Commands (Enter runs)",
        bindings: COMMANDS,
    },
];

/// The sections before a pane's own in help and in the footer hints.
pub const LEADING: &[Section] = GLOBAL.split_at(3).0;
/// The sections after a pane's own.
pub const TRAILING: &[Section] = GLOBAL.split_at(3).1;

/// The operator's active keymap: who they are, their role and whether this
/// dashboard is read-only. Built once from the permission table (again only
/// if the role changes); a binding it does not allow is absent from help and
/// hints, and pressing its key says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    actor: Actor,
    role: Role,
    rebound: Arc<Rebound>,
}

impl Keymap {
    pub fn new(actor: Actor, role: Role, rebound: Arc<Rebound>) -> Keymap {
        Keymap {
            actor,
            role,
            rebound,
        }
    }

    /// The keys of a binding, as rebound by the operator or by default.
    pub fn keys<'a>(&'a self, b: &'a Binding) -> &'a [Key] {
        self.rebound.get(b.name).map_or(b.keys, Vec::as_slice)
    }

    /// The key event presses this binding.
    pub fn matches(&self, b: &Binding, k: &KeyEvent) -> bool {
        self.keys(b).iter().any(|key| key.matches(k))
    }

    /// The keys as help shows them: "j/↓" (a `:` command as ":fraud").
    pub fn label(&self, b: &Binding, ascii: bool) -> String {
        if b.keys.is_empty() {
            return b
                .commands
                .first()
                .map_or_else(String::new, |c| format!(":{c}"));
        }
        self.keys(b)
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

    /// The footer hint of a binding, "a approve", with its key as rebound.
    pub fn footer(&self, b: &Binding) -> Option<String> {
        let text = b.footer?;
        if !self.rebound.contains_key(b.name) {
            return Some(text.to_string());
        }
        let word = text.split_once(' ').map_or(text, |(_, w)| w);
        let key = self.keys(b).first().map_or_else(String::new, Key::label);
        Some(format!("{key} {word}"))
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn readonly(&self) -> bool {
        self.actor.readonly
    }

    /// May this operator do what `permission` covers, here?
    pub fn may(&self, permission: Permission) -> bool {
        self.check(permission).is_ok()
    }

    /// Why not, phrased for the footer.
    pub fn check(&self, permission: Permission) -> Result<(), Refusal> {
        operators::check(&self.actor, self.role, permission)
    }

    /// The binding works (and shows) for this operator.
    pub fn allows(&self, b: &Binding) -> bool {
        b.needs.is_none_or(|p| self.may(p))
    }
}

/// The `:` command names that start with `prefix`, each once, in registry order.
pub fn completions<'a>(
    sections: impl Iterator<Item = &'a Section>,
    prefix: &str,
) -> Vec<&'static str> {
    let prefix = prefix.trim().trim_start_matches(':').to_lowercase();
    let mut out: Vec<&'static str> = Vec::new();
    for b in sections.flat_map(|s| s.bindings.iter()) {
        for name in b.commands {
            if name.len() > 1 && name.starts_with(&prefix) && !out.contains(name) {
                out.push(name);
            }
        }
    }
    out
}

/// Looks a `:` command up in `sections` by its first word (the rest is its
/// argument); unknown commands say what exists.
pub fn command<'a>(
    sections: impl Iterator<Item = &'a Section> + Clone,
    line: &str,
) -> Result<&'a Binding, String> {
    let line = line.trim().trim_start_matches(':');
    let word = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let mut all = sections.flat_map(|s| s.bindings.iter());
    all.clone()
        .find(|b| b.commands.contains(&word.as_str()))
        .ok_or_else(|| {
            let known: Vec<&str> = all
                .by_ref()
                .filter_map(|b| b.commands.first().copied())
                .collect();
            format!("unknown command :{word} (try :{})", known.join(", :"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_among_the_app_wide_bindings() {
        let mut seen = Vec::new();
        for s in GLOBAL {
            for b in s.bindings {
                for k in b.keys {
                    assert!(!seen.contains(k), "{k:?} bound twice");
                    seen.push(*k);
                }
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = GLOBAL
            .iter()
            .flat_map(|s| s.bindings.iter().map(|b| b.name))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn every_command_resolves_and_unknown_ones_explain() {
        let find = |l: &str| command(GLOBAL.iter(), l).map(|b| b.action);
        assert_eq!(find(":fraud"), Ok(Action::Show(PaneId::Fraud)));
        assert_eq!(find("disputes"), Ok(Action::Show(PaneId::Disputes)));
        assert_eq!(find(" Q "), Ok(Action::Quit));
        let err = find("frod").unwrap_err();
        assert!(err.contains(":fraud"), "{err}");
    }

    #[test]
    fn the_keymap_follows_the_permission_table() {
        let agent = Keymap::new(Actor::new("ann"), Role::Agent, Arc::default());
        assert!(agent.may(Permission::DecideFraud));
        assert!(!agent.may(Permission::ApprovePayouts));
        let ro = Keymap::new(Actor::new("root").read_only(), Role::Admin, Arc::default());
        assert!(!ro.may(Permission::DecideFraud));
        assert!(ro.may(Permission::Read));
        let viewer = Keymap::new(Actor::new("v"), Role::Viewer, Arc::default());
        assert!(!viewer.may(Permission::EditBlocklist));
    }
}
