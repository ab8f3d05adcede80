//! The Fraud pane's dialogs, as pure state driven by keys: the reason dialog
//! of a decision (`a`, `r`, `d`: numbered templates or free text, the review
//! hold, the decline's blocklist toggles) and the blocklist's add and remove
//! dialogs; and how each is drawn over the body.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui_textarea::TextArea;

use crate::store::fraud::{BlockToggles, Decision};
use crate::tui::action::Kind;
use crate::tui::panes::table::centered;
use crate::tui::theme::Theme;
use crate::tui::triage::Target;

/// The reason dialog of `a`, `r` or `d`.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub kind: Kind,
    pub targets: Vec<Target>,
    /// Review: 24 or 48.
    pub hold_hours: u8,
    /// Decline: what to blocklist.
    pub block: BlockToggles,
    pub reason: TextArea<'static>,
    /// Shown in red in the dialog (e.g. the reason is required).
    pub error: Option<String>,
}

/// What a key did to the dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogResult {
    Open,
    Cancelled,
    Confirmed {
        targets: Vec<Target>,
        decision: Decision,
        reason: String,
    },
}

impl Dialog {
    pub fn new(kind: Kind, targets: Vec<Target>) -> Dialog {
        let mut reason = TextArea::default();
        reason.set_placeholder_text("type a reason, or press a digit for a template");
        Dialog {
            kind,
            targets,
            hold_hours: 24,
            block: BlockToggles::default(),
            reason,
            error: None,
        }
    }

    pub fn reason_text(&self) -> String {
        self.reason.lines().join(" ").trim().to_string()
    }

    pub fn decision(&self) -> Decision {
        match self.kind {
            Kind::Approve => Decision::Approve,
            Kind::Review => Decision::Review {
                hold_hours: self.hold_hours,
            },
            Kind::Decline => Decision::Decline { block: self.block },
        }
    }

    fn set_reason(&mut self, text: &str) {
        let mut reason = TextArea::new(vec![text.to_string()]);
        reason.set_placeholder_text("type a reason, or press a digit for a template");
        reason.move_cursor(ratatui_textarea::CursorMove::End);
        self.reason = reason;
    }

    /// Applies one key.
    pub fn key(&mut self, k: KeyEvent) -> DialogResult {
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Esc => return DialogResult::Cancelled,
            KeyCode::Enter => {
                let reason = self.reason_text();
                if reason.is_empty() {
                    self.error = Some(format!(
                        "a reason is required: type one or press 1-{}",
                        self.kind.templates().len()
                    ));
                    return DialogResult::Open;
                }
                return DialogResult::Confirmed {
                    targets: self.targets.clone(),
                    decision: self.decision(),
                    reason,
                };
            }
            KeyCode::Tab | KeyCode::BackTab if self.kind == Kind::Review => {
                self.hold_hours = if self.hold_hours == 24 { 48 } else { 24 };
                return DialogResult::Open;
            }
            KeyCode::Char(c) if alt && self.kind == Kind::Decline => {
                match c.to_ascii_lowercase() {
                    'i' => self.block.ip = !self.block.ip,
                    'e' => self.block.email = !self.block.email,
                    'd' => self.block.device = !self.block.device,
                    'p' => self.block.payer = !self.block.payer,
                    _ => {}
                }
                return DialogResult::Open;
            }
            KeyCode::Char(c @ '1'..='9') if !alt && !ctrl => {
                let text = self.reason_text();
                let templates = self.kind.templates();
                let picking = text.is_empty() || templates.contains(&text.as_str());
                let n = c as usize - '1' as usize;
                if picking && let Some(t) = templates.get(n) {
                    self.set_reason(t);
                    self.error = None;
                    return DialogResult::Open;
                }
            }
            _ => {}
        }
        if self.reason.input(k) {
            self.error = None;
        }
        DialogResult::Open
    }
}

/// The kinds of blocklist entry, in the order the add dialog offers them.
pub const BLOCK_KINDS: [&str; 4] = ["ip", "email", "device", "payer"];

/// Which field of the add dialog has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockField {
    Kind,
    Value,
    Reason,
}

/// The blocklist dialogs of the Fraud pane's blocklist view: add an entry
/// (kind, value, reason) or remove one (reason). A reason is always required.
#[derive(Debug, Clone)]
pub struct BlockDialog {
    /// Removing this (kind, value); `None`: adding.
    pub removing: Option<(String, String)>,
    /// Index into [`BLOCK_KINDS`] (adding).
    pub kind: usize,
    pub value: TextArea<'static>,
    pub reason: TextArea<'static>,
    pub field: BlockField,
    pub error: Option<String>,
}

/// What a key did to a blocklist dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockResult {
    Open,
    Cancelled,
    /// Add (`add` true) or remove `kind` `value` for `reason`.
    Confirmed {
        add: bool,
        kind: String,
        value: String,
        reason: String,
    },
}

fn text_area(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t
}

fn one_line(t: &TextArea<'_>) -> String {
    t.lines().join(" ").trim().to_string()
}

impl BlockDialog {
    pub fn add() -> BlockDialog {
        BlockDialog {
            removing: None,
            kind: 0,
            value: text_area("the IP, email, device fingerprint or PayPal payer id"),
            reason: text_area("why (required)"),
            field: BlockField::Kind,
            error: None,
        }
    }

    pub fn remove(kind: &str, value: &str) -> BlockDialog {
        BlockDialog {
            removing: Some((kind.to_string(), value.to_string())),
            kind: BLOCK_KINDS.iter().position(|k| *k == kind).unwrap_or(0),
            value: TextArea::new(vec![value.to_string()]),
            reason: text_area("why it comes off the blocklist (required)"),
            field: BlockField::Reason,
            error: None,
        }
    }

    pub fn kind(&self) -> &'static str {
        BLOCK_KINDS[self.kind % BLOCK_KINDS.len()]
    }

    fn next_field(&mut self, back: bool) {
        if self.removing.is_some() {
            return;
        }
        let order = [BlockField::Kind, BlockField::Value, BlockField::Reason];
        let i = order.iter().position(|f| *f == self.field).unwrap_or(0);
        let n = order.len();
        self.field = order[if back { (i + n - 1) % n } else { (i + 1) % n }];
    }

    /// The entry as typed, or why it cannot be sent.
    fn validate(&self) -> Result<(String, String, String), String> {
        let reason = one_line(&self.reason);
        if let Some((kind, value)) = &self.removing {
            if reason.is_empty() {
                return Err("a reason is required".into());
            }
            return Ok((kind.clone(), value.clone(), reason));
        }
        let kind = self.kind();
        let value = one_line(&self.value);
        if value.is_empty() {
            return Err(format!("the {kind} to block is required"));
        }
        let value = match kind {
            "ip" => match value.parse::<std::net::IpAddr>() {
                Ok(ip) => ip.to_string(),
                Err(_) => return Err(format!("{value} is not an IP address")),
            },
            "email" if !value.contains('@') => {
                return Err(format!("{value} is not an email address"));
            }
            "email" => value.to_lowercase(),
            _ => value,
        };
        if reason.is_empty() {
            return Err("a reason is required".into());
        }
        Ok((kind.to_string(), value, reason))
    }

    /// Applies one key: Tab moves between fields, Left/Right (or i/e/d/p)
    /// pick the kind, Enter confirms, Esc cancels.
    pub fn key(&mut self, k: KeyEvent) -> BlockResult {
        match k.code {
            KeyCode::Esc => return BlockResult::Cancelled,
            KeyCode::Enter => {
                return match self.validate() {
                    Ok((kind, value, reason)) => BlockResult::Confirmed {
                        add: self.removing.is_none(),
                        kind,
                        value,
                        reason,
                    },
                    Err(e) => {
                        self.error = Some(e);
                        BlockResult::Open
                    }
                };
            }
            KeyCode::Tab => {
                self.next_field(false);
                return BlockResult::Open;
            }
            KeyCode::BackTab => {
                self.next_field(true);
                return BlockResult::Open;
            }
            _ => {}
        }
        match self.field {
            BlockField::Kind => {
                let n = BLOCK_KINDS.len();
                match k.code {
                    KeyCode::Right | KeyCode::Down | KeyCode::Char(' ') => {
                        self.kind = (self.kind + 1) % n;
                    }
                    KeyCode::Left | KeyCode::Up => self.kind = (self.kind + n - 1) % n,
                    KeyCode::Char(c) => {
                        if let Some(i) = BLOCK_KINDS
                            .iter()
                            .position(|kind| kind.starts_with(c.to_ascii_lowercase()))
                        {
                            self.kind = i;
                            // Picking a kind moves on to its value.
                            self.field = BlockField::Value;
                        }
                    }
                    _ => {}
                }
                self.error = None;
            }
            BlockField::Value => {
                if self.value.input(k) {
                    self.error = None;
                }
            }
            BlockField::Reason => {
                if self.reason.input(k) {
                    self.error = None;
                }
            }
        }
        BlockResult::Open
    }
}

/// The reason dialog of a fraud decision.
pub fn draw_dialog(f: &mut Frame, body: Rect, d: &Dialog, theme: &Theme) {
    let templates = d.kind.templates();
    let mut lines: Vec<Line<'static>> = Vec::new();
    let orders: Vec<String> = d
        .targets
        .iter()
        .take(4)
        .map(|t| format!("{} ({})", t.order_number, t.score))
        .collect();
    let more = d.targets.len().saturating_sub(4);
    lines.push(Line::from(vec![
        Span::styled(
            if d.targets.len() == 1 {
                " Order  ".to_string()
            } else {
                format!(" {} orders  ", d.targets.len())
            },
            theme.muted,
        ),
        Span::styled(
            if more > 0 {
                format!("{} +{more}", orders.join(", "))
            } else {
                orders.join(", ")
            },
            theme.text,
        ),
    ]));
    let on = |b: bool, label: &str| {
        Span::styled(
            format!("[{}] {label}  ", if b { "x" } else { " " }),
            if b { theme.critical } else { theme.text },
        )
    };
    match d.kind {
        Kind::Review => lines.push(Line::from(vec![
            Span::styled(" Hold   ", theme.muted),
            on(d.hold_hours == 24, "24h"),
            on(d.hold_hours == 48, "48h"),
            Span::styled("(Tab switches)", theme.muted),
        ])),
        Kind::Decline => lines.push(Line::from(vec![
            Span::styled(" Block  ", theme.muted),
            on(d.block.ip, "IP Alt-i"),
            on(d.block.email, "email Alt-e"),
            on(d.block.device, "device Alt-d"),
            on(d.block.payer, "payer Alt-p"),
        ])),
        Kind::Approve => {}
    }
    lines.push(Line::styled(" Reason (required):", theme.title));
    for (i, t) in templates.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", i + 1), theme.accent),
            Span::styled(t.to_string(), theme.text),
        ]));
    }
    let height = lines.len() as u16 + 2 + 3 + 1;
    let area = centered(body, 78, height);
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(format!(" {} ", d.kind.title()), theme.title))
        .title_bottom(Line::styled(
            " Enter confirm  Esc cancel  1-9 template ",
            theme.muted,
        ));
    let inner = block.inner(area);
    f.render_widget(Clear, area);
    f.render_widget(block, area);
    let [top, input, err] = Layout::vertical([
        Constraint::Length(lines.len() as u16),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(lines), top);
    let mut ta = d.reason.clone();
    ta.set_block(Block::bordered().border_style(theme.border_focus));
    ta.set_cursor_line_style(Style::default());
    f.render_widget(&ta, input);
    if let Some(e) = &d.error {
        f.render_widget(
            Paragraph::new(Line::styled(format!(" {e}"), theme.critical)),
            err,
        );
    }
}

/// The add / remove dialog of the blocklist view.
pub fn draw_block_dialog(f: &mut Frame, body: Rect, d: &BlockDialog, theme: &Theme) {
    let adding = d.removing.is_none();
    let focus = |on: bool| if on { theme.border_focus } else { theme.border };
    let height = if adding {
        1 + 3 + 3 + 1 + 2
    } else {
        2 + 3 + 1 + 2
    };
    let area = centered(body, 72, height);
    let title = if adding {
        " Block: add an entry "
    } else {
        " Block: remove the entry "
    };
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(title, theme.title))
        .title_bottom(Line::styled(
            if adding {
                " Tab field  Left/Right or i/e/d/p kind  Enter confirm  Esc cancel "
            } else {
                " Enter confirm  Esc cancel "
            },
            theme.muted,
        ));
    let inner = block.inner(area);
    f.render_widget(Clear, area);
    f.render_widget(block, area);
    let ta_style = |ta: &ratatui_textarea::TextArea<'static>, label: &str, on: bool| {
        let mut ta = ta.clone();
        ta.set_block(
            Block::bordered()
                .border_style(focus(on))
                .title(Line::styled(format!(" {label} "), theme.muted)),
        );
        ta.set_cursor_line_style(Style::default());
        if !on {
            ta.set_cursor_style(Style::default());
        }
        ta
    };
    if adding {
        let [kind, value, reason, err] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Length(3),
            Constraint::Length(1),
        ])
        .areas(inner);
        let mut spans = vec![Span::styled(" Kind  ", theme.muted)];
        for (i, k) in BLOCK_KINDS.iter().enumerate() {
            let on = i == d.kind;
            spans.push(Span::styled(
                format!("[{}] {k}  ", if on { "x" } else { " " }),
                if on { theme.critical } else { theme.text },
            ));
        }
        if d.field == BlockField::Kind {
            spans.push(Span::styled("<", theme.accent));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), kind);
        let v = ta_style(&d.value, "Value", d.field == BlockField::Value);
        f.render_widget(&v, value);
        let r = ta_style(
            &d.reason,
            "Reason (required)",
            d.field == BlockField::Reason,
        );
        f.render_widget(&r, reason);
        if let Some(e) = &d.error {
            f.render_widget(
                Paragraph::new(Line::styled(format!(" {e}"), theme.critical)),
                err,
            );
        }
    } else {
        let [what, reason, err] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(3),
            Constraint::Length(1),
        ])
        .areas(inner);
        let (kind, value) = d.removing.clone().unwrap_or_default();
        f.render_widget(
            Paragraph::new(vec![
                Line::from(vec![
                    Span::styled(" Entry  ", theme.muted),
                    Span::styled(format!("{kind} {value}"), theme.text),
                ]),
                Line::styled(
                    " Orders with it are no longer flagged as blocklisted.",
                    theme.muted,
                ),
            ]),
            what,
        );
        let r = ta_style(&d.reason, "Reason (required)", true);
        f.render_widget(&r, reason);
        if let Some(e) = &d.error {
            f.render_widget(
                Paragraph::new(Line::styled(format!(" {e}"), theme.critical)),
                err,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn target() -> Vec<Target> {
        vec![Target {
            order_id: 7,
            order_number: "LS-7".into(),
            score: 88,
        }]
    }

    #[test]
    fn enter_without_a_reason_says_it_is_required() {
        let mut d = Dialog::new(Kind::Approve, target());
        assert_eq!(d.key(key(KeyCode::Enter)), DialogResult::Open);
        assert!(d.error.as_deref().is_some_and(|e| e.contains("required")));
        d.key(key(KeyCode::Char('o')));
        assert_eq!(d.error, None);
    }

    #[test]
    fn digits_pick_a_template_and_free_text_follows() {
        let mut d = Dialog::new(Kind::Decline, target());
        d.key(key(KeyCode::Char('2')));
        assert_eq!(d.reason_text(), Kind::Decline.templates()[1]);
        // Another digit replaces a template untouched.
        d.key(key(KeyCode::Char('1')));
        assert_eq!(d.reason_text(), Kind::Decline.templates()[0]);
        for c in " x9".chars() {
            d.key(key(KeyCode::Char(c)));
        }
        assert_eq!(
            d.reason_text(),
            format!("{} x9", Kind::Decline.templates()[0])
        );
    }

    #[test]
    fn review_hold_toggles_and_decline_blocklist_toggles() {
        let mut d = Dialog::new(Kind::Review, target());
        d.key(key(KeyCode::Tab));
        assert_eq!(d.decision(), Decision::Review { hold_hours: 48 });
        d.key(key(KeyCode::Tab));
        assert_eq!(d.decision(), Decision::Review { hold_hours: 24 });
        let mut d = Dialog::new(Kind::Decline, target());
        d.key(KeyEvent::new(KeyCode::Char('i'), KeyModifiers::ALT));
        d.key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::ALT));
        d.key(key(KeyCode::Char('3')));
        match d.key(key(KeyCode::Enter)) {
            DialogResult::Confirmed {
                decision, reason, ..
            } => {
                assert_eq!(
                    decision,
                    Decision::Decline {
                        block: BlockToggles {
                            ip: true,
                            payer: true,
                            ..Default::default()
                        }
                    }
                );
                assert_eq!(reason, Kind::Decline.templates()[2]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn esc_cancels() {
        let mut d = Dialog::new(Kind::Approve, target());
        d.key(key(KeyCode::Char('1')));
        assert_eq!(d.key(key(KeyCode::Esc)), DialogResult::Cancelled);
    }

    fn typed(d: &mut BlockDialog, text: &str) {
        for c in text.chars() {
            d.key(key(KeyCode::Char(c)));
        }
    }

    #[test]
    fn block_dialog_needs_a_valid_value_and_a_reason() {
        let mut d = BlockDialog::add();
        // A letter picks the kind and moves to the value.
        typed(&mut d, "e");
        assert_eq!((d.kind(), d.field), ("email", BlockField::Value));
        typed(&mut d, "not-an-email");
        assert_eq!(d.key(key(KeyCode::Enter)), BlockResult::Open);
        assert!(d.error.as_deref().unwrap().contains("not an email"));
        let mut d = BlockDialog::add();
        typed(&mut d, "i");
        typed(&mut d, "203.0.113.300");
        d.key(key(KeyCode::Enter));
        assert!(d.error.as_deref().unwrap().contains("not an IP"));
        let mut d = BlockDialog::add();
        typed(&mut d, "i203.0.113.7");
        d.key(key(KeyCode::Enter));
        assert!(d.error.as_deref().unwrap().contains("reason is required"));
        d.key(key(KeyCode::Tab));
        assert_eq!(d.field, BlockField::Reason);
        typed(&mut d, "ring");
        assert_eq!(
            d.key(key(KeyCode::Enter)),
            BlockResult::Confirmed {
                add: true,
                kind: "ip".into(),
                value: "203.0.113.7".into(),
                reason: "ring".into()
            }
        );
        // Arrows cycle the kind.
        let mut d = BlockDialog::add();
        d.key(key(KeyCode::Right));
        d.key(key(KeyCode::Right));
        assert_eq!(d.kind(), "device");
        d.key(key(KeyCode::Left));
        assert_eq!(d.kind(), "email");
        assert_eq!(d.key(key(KeyCode::Esc)), BlockResult::Cancelled);
    }

    #[test]
    fn removing_needs_only_a_reason() {
        let mut d = BlockDialog::remove("payer", "PAYER1");
        assert_eq!(d.field, BlockField::Reason);
        d.key(key(KeyCode::Enter));
        assert!(d.error.is_some());
        typed(&mut d, "false positive");
        assert_eq!(
            d.key(key(KeyCode::Enter)),
            BlockResult::Confirmed {
                add: false,
                kind: "payer".into(),
                value: "PAYER1".into(),
                reason: "false positive".into()
            }
        );
    }
}
