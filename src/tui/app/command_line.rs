//! The `:` command line's behaviour: running a command and its argument
//! (`:fraud N` finds and opens the row; `:order QUERY` opens the order
//! overlay), history (Up/Down) and completion
//! (Tab). The commands themselves are bindings of the key registry.

use super::{App, HISTORY};
use crate::tui::action::{Action, OrderAction};
use crate::tui::keymap;
use crate::tui::panes::{Cx, PaneId};

impl App {
    /// Runs a `:` command line: the command, then its argument (an id or a
    /// name to find and open in the pane the command shows).
    pub(super) fn run_command(&mut self, line: &str) {
        let action = match keymap::command(self.sections(), line) {
            Ok(b) => b.action,
            Err(msg) => {
                self.message = Some(msg);
                return;
            }
        };
        let arg = line
            .trim()
            .trim_start_matches(':')
            .split_once(char::is_whitespace)
            .map(|(_, rest)| rest.trim())
            .unwrap_or_default();
        if action == Action::Order(OrderAction::Find) {
            self.open_order(arg);
            return;
        }
        if action == Action::OpenChecklist {
            self.open_checklist(arg);
            return;
        }
        self.update(action);
        let arg = line
            .trim()
            .trim_start_matches(':')
            .split_once(char::is_whitespace)
            .map(|(_, rest)| rest.trim())
            .unwrap_or_default();
        if let (Action::Show(id), false) = (action, arg.is_empty()) {
            let mut cx = cx!(self, id);
            if !self.panes.get_mut(id).find(arg, &mut cx) {
                self.message = Some(format!(
                    "{arg}: not among the {} rows shown in {}",
                    self.pane(id).view.len(),
                    id.short()
                ));
            }
            self.clamp_all();
        }
    }

    pub(super) fn remember(&mut self, line: &str) {
        let line = line.trim().to_string();
        self.history.retain(|l| *l != line);
        self.history.push(line);
        if self.history.len() > HISTORY {
            self.history.remove(0);
        }
        self.history_pos = None;
    }

    /// Tab: completes the command name, or lists the candidates.
    pub(super) fn complete(&mut self) {
        if self.command_line.contains(char::is_whitespace) {
            return;
        }
        let found = keymap::completions(self.sections(), &self.command_line);
        match found.as_slice() {
            [] => {
                self.message = Some(format!("no command starts with :{}", self.command_line));
            }
            [one] => self.command_line = format!("{one} "),
            many => {
                // The longest common prefix, and the choices.
                let first = many[0];
                let common = (0..=first.len())
                    .rev()
                    .find(|&n| many.iter().all(|m| m.get(..n) == first.get(..n)))
                    .unwrap_or(0);
                self.command_line = first[..common].to_string();
                self.message = Some(format!(":{}", many.join("  :")));
            }
        }
    }
}
