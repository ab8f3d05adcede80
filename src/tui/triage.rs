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
    Failed(String),
}

/// The triage task: one request at a time, in order, until either channel closes.
pub async fn run(
    pool: PgPool,
    operator: String,
    agent_refund_limit_minor: i64,
    mut rx: mpsc::UnboundedReceiver<Request>,
    tx: mpsc::UnboundedSender<Outcome>,
) {
    // Every request sent is carried out, even after the dashboard quit (the
    // answer then has nowhere to go): a decision confirmed on screen is made.
    while let Some(req) = rx.recv().await {
        let out = handle(&pool, &operator, agent_refund_limit_minor, req, Utc::now()).await;
        if let Some(out) = out {
            let _ = tx.send(out);
        }
    }
}

async fn handle(
    pool: &PgPool,
    operator: &str,
    limit: i64,
    req: Request,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    match req {
        Request::Claim { order_id } => {
            Some(match fraud::claim(pool, order_id, operator, now).await {
                Ok(claim) => Outcome::Claimed { order_id, claim },
                Err(e) => {
                    Outcome::Failed(format!("cannot claim: {}", crate::store::short_reason(&e)))
                }
            })
        }
        Request::Release { order_id } => {
            if let Err(e) = fraud::release(pool, order_id, operator).await {
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
                    operator: operator.to_string(),
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
        Request::Undo => Some(Outcome::Undone(
            fraud::undo_last(pool, operator)
                .await
                .map_err(|e| e.to_string()),
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
}
