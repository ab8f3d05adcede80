//! Fraud triage from the dashboard: the reason dialog (pure state, driven by
//! keys in [`super::app::App::update`]) and the small task that owns a pool and
//! runs the store's claims, decisions and undo. The UI loop never waits on it:
//! requests go out on one channel, outcomes come back on another and enter
//! the app through [`super::app::App::on_outcome`].

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::domain::operators::Actor;
use crate::store::authz::AuthError;
use crate::store::fraud::{self, BlockToggles, Claim, DecideError, Decision, DecisionRequest};

/// Which decision a key asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Approve,
    Review,
    Decline,
}

impl Kind {
    pub fn title(&self) -> &'static str {
        match self {
            Kind::Approve => "Approve",
            Kind::Review => "Review (hold)",
            Kind::Decline => "Decline (refund now)",
        }
    }

    /// The numbered reason templates (digits 1-9 pick one).
    pub fn templates(&self) -> &'static [&'static str] {
        match self {
            Kind::Approve => &[
                "Known customer, history checks out",
                "Billing and shipping verified with the customer",
                "Signals explained (travel / shared network)",
                "Low value, risk accepted",
            ],
            Kind::Review => &[
                "Contacting the customer to verify identity",
                "Waiting for payer verification at PayPal",
                "Address mismatch: asking for proof of address",
            ],
            Kind::Decline => &[
                "Stolen payment method suspected",
                "Velocity from one IP / device across accounts",
                "Disposable email and VPN on a high-value first order",
                "Customer could not be verified",
            ],
        }
    }
}

/// One order a dialog decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub order_id: i64,
    pub order_number: String,
    pub score: u8,
}

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

/// What the dashboard asks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Claim {
        order_id: i64,
    },
    Release {
        order_id: i64,
    },
    Decide {
        targets: Vec<Target>,
        decision: Decision,
        reason: String,
    },
    Undo,
    /// Add a blocklist entry by hand.
    Block {
        kind: String,
        value: String,
        reason: String,
    },
    /// Remove an active blocklist entry.
    Unblock {
        kind: String,
        value: String,
        reason: String,
    },
}

/// What the store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Claimed {
        order_id: i64,
        claim: Claim,
    },
    Decided {
        decision: Decision,
        done: Vec<i64>,
        refused: Vec<(i64, DecideError)>,
    },
    Undone(Result<i64, String>),
    /// A blocklist change: `changed` false when there was nothing to do
    /// (already blocked, or no longer on the list).
    Blocklist {
        add: bool,
        kind: String,
        value: String,
        changed: bool,
    },
    Failed(String),
}

/// The triage task: one request at a time, in order, until either channel
/// closes. Every request acts as `actor`; the store checks them each time.
pub async fn run(
    pool: PgPool,
    actor: Actor,
    agent_refund_limit_minor: i64,
    mut rx: mpsc::UnboundedReceiver<Request>,
    tx: mpsc::UnboundedSender<Outcome>,
) {
    // Every request sent is carried out, even after the dashboard quit (the
    // answer then has nowhere to go): a decision confirmed on screen is made.
    while let Some(req) = rx.recv().await {
        let out = handle(&pool, &actor, agent_refund_limit_minor, req, Utc::now()).await;
        if let Some(out) = out {
            let _ = tx.send(out);
        }
    }
}

async fn handle(
    pool: &PgPool,
    actor: &Actor,
    limit: i64,
    req: Request,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    match req {
        Request::Claim { order_id } => {
            match fraud::claim(pool, order_id, actor, now).await {
                Ok(claim) => Some(Outcome::Claimed { order_id, claim }),
                // Reading an order needs no claim: one that may not be taken
                // (a read-only session) is simply not taken.
                Err(AuthError::Refused(refusal)) => {
                    tracing::debug!(order_id, %refusal, "no claim");
                    None
                }
                Err(AuthError::Sql(e)) => Some(Outcome::Failed(format!(
                    "cannot claim: {}",
                    crate::store::short_reason(&e)
                ))),
            }
        }
        Request::Release { order_id } => {
            if let Err(e) = fraud::release(pool, order_id, actor).await {
                tracing::warn!(order_id, error = %e, "release of a fraud claim failed");
            }
            None
        }
        Request::Decide {
            targets,
            decision,
            reason,
        } => {
            let mut done = Vec::new();
            let mut refused = Vec::new();
            for t in targets {
                let request = DecisionRequest {
                    order_id: t.order_id,
                    actor: actor.clone(),
                    decision,
                    reason: reason.clone(),
                    score_seen: t.score,
                    agent_refund_limit_minor: limit,
                };
                match fraud::decide(pool, &request, Utc::now()).await {
                    Ok(_) => done.push(t.order_id),
                    Err(e) => refused.push((t.order_id, e)),
                }
            }
            Some(Outcome::Decided {
                decision,
                done,
                refused,
            })
        }
        Request::Block {
            kind,
            value,
            reason,
        } => Some(blocklist(pool, actor, true, kind, value, reason).await),
        Request::Unblock {
            kind,
            value,
            reason,
        } => Some(blocklist(pool, actor, false, kind, value, reason).await),
        Request::Undo => Some(Outcome::Undone(
            fraud::undo_last(pool, actor)
                .await
                .map_err(|e| e.to_string()),
        )),
    }
}

/// Adds or removes a blocklist entry; the store says whether `actor` may.
async fn blocklist(
    pool: &PgPool,
    actor: &Actor,
    add: bool,
    kind: String,
    value: String,
    reason: String,
) -> Outcome {
    let verb = if add { "block" } else { "unblock" };
    let done = if add {
        fraud::block(pool, &kind, &value, &reason, actor).await
    } else {
        fraud::unblock(pool, &kind, &value, &reason, actor).await
    };
    match done {
        Ok(changed) => Outcome::Blocklist {
            add,
            kind,
            value,
            changed,
        },
        Err(AuthError::Refused(refusal)) => Outcome::Failed(format!("cannot {verb}: {refusal}")),
        Err(AuthError::Sql(e)) => Outcome::Failed(format!(
            "cannot {verb} {kind} {value}: {}",
            crate::store::short_reason(&e)
        )),
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
