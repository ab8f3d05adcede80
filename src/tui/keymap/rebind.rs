//! `[keys]`: reading keys as a config file writes them, and rebinding actions
//! by name, with unknown names and clashes refused (exit 2 at start).

use std::collections::{BTreeMap, HashMap};

use crossterm::event::KeyCode;

use super::{Binding, Key, Section};

/// Reads a key as a config file writes it: `Q`, `space`, `ctrl-d`, `Enter`,
/// `Esc`, `Tab`, `shift-tab`, `Up`, `PgDn`, `Home`, `F5`, ... (any case for names).
pub fn parse_key(text: &str) -> Result<Key, String> {
    let t = text.trim();
    let mut chars = t.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Ok(Key::Char(c));
    }
    let lower = t.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("ctrl-")
        .or_else(|| lower.strip_prefix("ctrl+"))
        .or_else(|| lower.strip_prefix("c-"))
    {
        let mut c = rest.chars();
        if let (Some(ch), None) = (c.next(), c.next()) {
            return Ok(Key::Ctrl(ch));
        }
    }
    let code = match lower.as_str() {
        "space" => return Ok(Key::Char(' ')),
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "shift-tab" | "backtab" => KeyCode::BackTab,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pgup" | "pageup" => KeyCode::PageUp,
        "pgdn" | "pagedown" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "backspace" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" => KeyCode::Insert,
        f if f.starts_with('f') && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) => {
            KeyCode::F(f[1..].parse().unwrap_or(1))
        }
        _ => {
            return Err(format!(
                "{t:?} is not a key (write a character, space, ctrl-x, Enter, Esc, Tab, shift-tab, Up, Down, Left, Right, PgUp, PgDn, Home, End, F1-F12)"
            ));
        }
    };
    Ok(Key::Code(code))
}

/// Keys rebound by the operator (`[keys]`): action name → its keys.
pub type Rebound = HashMap<&'static str, Vec<Key>>;

/// A pane's own binding that takes an app-wide binding's key in that pane
/// (the pane leaves the app-wide one out): pane 3's `s` submits, its sort
/// is `o` there.
pub const SHADOWS: &[(&str, &str)] = &[("disputes_submit", "sort")];

fn shadows(a: &str, b: &str) -> bool {
    SHADOWS
        .iter()
        .any(|&(pane, app)| (pane, app) == (a, b) || (pane, app) == (b, a))
}

/// Checks and applies `[keys]`: every name must be an action of the registry
/// (`sections`, grouped by where they are live together: the app-wide
/// sections with each pane's), and no key may then mean two things in one
/// scope. The error names the key and the clash.
pub fn rebind(
    wanted: &BTreeMap<String, String>,
    scopes: &[Vec<&'static Section>],
) -> Result<Rebound, String> {
    let all: Vec<&'static Binding> = scopes
        .iter()
        .flatten()
        .flat_map(|s| s.bindings.iter())
        .filter(|b| !b.keys.is_empty())
        .collect();
    let mut rebound = Rebound::new();
    for (name, value) in wanted {
        let Some(b) = all.iter().find(|b| b.name == name.as_str()) else {
            let mut names: Vec<&str> = all.iter().map(|b| b.name).collect();
            names.sort_unstable();
            names.dedup();
            let near = names
                .iter()
                .map(|n| (strsim::jaro_winkler(n, name), *n))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| format!(" (did you mean \"{n}\"?)"))
                .unwrap_or_default();
            return Err(format!(
                "[keys] {name}: unknown action{near}; expected one of: {}",
                names.join(", ")
            ));
        };
        let keys = value
            .split(',')
            .map(|k| parse_key(k).map_err(|e| format!("[keys] {name} = {value:?}: {e}")))
            .collect::<Result<Vec<Key>, String>>()?;
        rebound.insert(b.name, keys);
    }
    for scope in scopes {
        let mut seen: Vec<(Key, &str)> = Vec::new();
        for b in scope.iter().flat_map(|s| s.bindings.iter()) {
            let keys = rebound.get(b.name).map_or(b.keys, Vec::as_slice);
            for k in keys {
                if let Some((_, other)) = seen
                    .iter()
                    .find(|(seen, n)| seen == k && *n != b.name && !shadows(b.name, n))
                {
                    let (changed, kept) = if rebound.contains_key(b.name) {
                        (b.name, *other)
                    } else {
                        (*other, b.name)
                    };
                    return Err(format!(
                        "[keys] {changed}: {} is already the key of {kept} (rebind {kept} too, or pick another key)",
                        k.label()
                    ));
                }
                seen.push((*k, b.name));
            }
        }
    }
    Ok(rebound)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::operators::{Actor, Role};
    use crate::tui::keymap::{GLOBAL, Keymap};

    #[test]
    fn keys_parse_as_config_files_write_them() {
        assert_eq!(parse_key("Q"), Ok(Key::Char('Q')));
        assert_eq!(parse_key("space"), Ok(Key::Char(' ')));
        assert_eq!(parse_key("ctrl-d"), Ok(Key::Ctrl('d')));
        assert_eq!(parse_key("PgDn"), Ok(Key::Code(KeyCode::PageDown)));
        assert_eq!(parse_key("f5"), Ok(Key::Code(KeyCode::F(5))));
        assert!(parse_key("hyper-x").unwrap_err().contains("not a key"));
    }

    #[test]
    fn rebinding_moves_an_action_and_refuses_clashes_and_unknown_names() {
        let scopes = vec![GLOBAL.iter().collect::<Vec<_>>()];
        let want = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<String, String>>()
        };
        let r = rebind(&want(&[("quit", "Q")]), &scopes).expect("rebind");
        let km = Keymap::new(Actor::new("a"), Role::Agent, Arc::new(r));
        let quit = GLOBAL
            .iter()
            .flat_map(|s| s.bindings.iter())
            .find(|b| b.name == "quit")
            .unwrap();
        assert_eq!(km.keys(quit), &[Key::Char('Q')]);
        assert_eq!(km.footer(quit).as_deref(), Some("Q quit"));
        let err = rebind(&want(&[("quit", "j")]), &scopes).unwrap_err();
        assert_eq!(
            err,
            "[keys] quit: j is already the key of down (rebind down too, or pick another key)"
        );
        // Swapping two keys is fine.
        assert!(rebind(&want(&[("quit", "j"), ("down", "q")]), &scopes).is_ok());
        let err = rebind(&want(&[("quitt", "Q")]), &scopes).unwrap_err();
        assert!(
            err.starts_with("[keys] quitt: unknown action (did you mean \"quit\"?)"),
            "{err}"
        );
        let err = rebind(&want(&[("quit", "meta-q")]), &scopes).unwrap_err();
        assert!(err.contains("is not a key"), "{err}");
    }
}
