//! Pane 3 as a component: the SLA queue with the runbook's dispute work.
//! `t` takes the selected dispute, `e` adds a note to an evidence item, `x`
//! marks one not applicable (with why), `s` submits the evidence to PayPal
//! (confirmed, once per stage), `A` accepts the buyer's claim (a reason, then
//! confirmed with the amount), `o` sorts. Enter opens the dispute: its seven
//! items with status and source, where its submission stands, and its
//! evidence pack as text, read by the operations task off the draw path.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::super::payouts::one_line_dialog;
use super::super::table::{DETAIL_WIDTH, Navigated, Table, draw_detail, draw_table, empty_marks};
use super::super::{Cx, Pane, PaneId, Rows, View, field};
use super::Disputes;
use crate::domain::evidence::ItemStatus;
use crate::domain::operators::Permission;
use crate::store::disputes::Detail;
use crate::store::snapshot::{DisputeRow, Snapshot};
use crate::tui::action::{Action, Nav, PaneAction};
use crate::tui::disputes_task::{Answer, Request};
use crate::tui::keymap::{Binding, Key, Keymap, Section};

const BINDINGS: &[Binding] = &[
    Binding::change(
        "disputes_take",
        &[Key::Char('t')],
        Action::Pane(PaneAction::DisputeTake),
        "take (assign to me)",
        Some("t take"),
        Permission::HandleDisputes,
    ),
    Binding::change(
        "disputes_submit",
        &[Key::Char('s')],
        Action::Pane(PaneAction::DisputeSubmit),
        "submit evidence to PayPal",
        Some("s submit"),
        Permission::HandleDisputes,
    ),
    Binding::change(
        "disputes_note",
        &[Key::Char('e')],
        Action::Pane(PaneAction::DisputeNote),
        "note on an evidence item",
        Some("e evidence"),
        Permission::HandleDisputes,
    ),
    Binding::change(
        "disputes_not_applicable",
        &[Key::Char('x')],
        Action::Pane(PaneAction::DisputeNotApplicable),
        "item not applicable",
        None,
        Permission::HandleDisputes,
    ),
    Binding::change(
        "disputes_accept",
        &[Key::Char('A')],
        Action::Pane(PaneAction::DisputeAccept),
        "accept the claim (refund)",
        Some("A accept"),
        Permission::IssueRefunds,
    ),
    Binding::read(
        "disputes_sort",
        &[Key::Char('o')],
        Action::Nav(Nav::NextSort),
        "next sort key (s submits)",
        Some("o sort"),
    ),
];

pub const SECTIONS: &[Section] = &[Section {
    title: "Disputes (pane 3)",
    bindings: BINDINGS,
}];

/// What the one-line prompt is asking for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// "ITEM NOTE" for `e`, "ITEM WHY" for `x`.
    Evidence { na: bool },
    /// The reason of an acceptance.
    AcceptReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub dispute: i64,
    pub paypal_id: String,
    pub ask: Ask,
    pub text: String,
}

/// A step said in full and confirmed with `y` or Enter before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub request: Request,
    pub question: String,
    pub doing: &'static str,
}

/// The Disputes pane's state.
#[derive(Debug, Clone, Default)]
pub struct DisputesPane {
    pub table: Table,
    /// The open dispute's detail, once read (`Err`: why not).
    pub detail: Option<(i64, Result<Box<Detail>, String>)>,
    pub prompt: Option<Prompt>,
    pub confirm: Option<Confirm>,
    /// The last action's answer, for the footer.
    pub status: Option<String>,
}

impl DisputesPane {
    fn selected(&self, cx: &Cx) -> Option<DisputeRow> {
        cx.snap()?.disputes.get(self.table.selected_row()?).cloned()
    }

    /// Reads the open dispute's detail (again when it changed).
    fn sync_detail(&mut self, cx: &mut Cx, force: bool) {
        if !self.table.detail {
            return;
        }
        if let Some(d) = self.selected(cx)
            && (force || self.detail.as_ref().is_none_or(|(id, _)| *id != d.id))
        {
            if self.detail.as_ref().is_none_or(|(id, _)| *id != d.id) {
                self.detail = None;
            }
            cx.requests.disputes.push(Request::Load(d.id));
        }
    }

    fn ask(&mut self, req: Request, what: &str, cx: &mut Cx) {
        cx.requests.disputes.push(req);
        self.status = Some(format!("{what}..."));
    }

    /// An answer from the operations task.
    pub fn on_answer(&mut self, answer: Answer, cx: &mut Cx) {
        match answer {
            Answer::Loaded(id, detail) => {
                if self.table.detail {
                    self.detail = Some((id, detail));
                }
            }
            Answer::Done(id, result) => {
                let m = match result {
                    Ok(m) => m,
                    Err(m) => format!("refused: {m}"),
                };
                *cx.message = Some(m.clone());
                self.status = Some(m);
                if self.detail.as_ref().is_some_and(|(open, _)| *open == id) {
                    cx.requests.disputes.push(Request::Load(id));
                }
            }
        }
    }

    fn open_prompt(&mut self, ask: Ask, cx: &mut Cx) {
        if let Some(d) = self.selected(cx) {
            self.prompt = Some(Prompt {
                dispute: d.id,
                paypal_id: d.paypal_dispute_id,
                ask,
                text: String::new(),
            });
        }
    }

    fn confirm_submit(&mut self, cx: &mut Cx) {
        let Some(d) = self.selected(cx) else {
            return;
        };
        if let (Some(by), Some(at)) = (&d.submitted_by, d.submitted_at) {
            self.status = Some(format!(
                "refused: already submitted by {by} at {} (PayPal takes evidence once per stage)",
                at.with_timezone(&cx.tz).format("%a %H:%M %Z")
            ));
            *cx.message = self.status.clone();
            return;
        }
        self.confirm = Some(Confirm {
            request: Request::Submit(d.id),
            question: format!(
                "Submit the evidence of {} ({}/7 items, {}) to PayPal? It goes once.",
                d.paypal_dispute_id,
                d.evidence_done,
                d.amount.display()
            ),
            doing: "submitting",
        });
    }

    fn submit_prompt(&mut self, cx: &mut Cx) {
        let Some(p) = self.prompt.take() else {
            return;
        };
        let text = p.text.trim().to_string();
        match p.ask {
            Ask::Evidence { na } => {
                let (item, rest) = text.split_once(' ').unwrap_or((&text, ""));
                if crate::domain::evidence::parse_item(item).is_none() || rest.trim().is_empty() {
                    self.status = Some(
                        "type the item's number (1-7), a space, then the text: e.g. 3 signed by J. Doe"
                            .into(),
                    );
                    self.prompt = Some(Prompt { text, ..p });
                    return;
                }
                let req = Request::Evidence {
                    id: p.dispute,
                    item: item.to_string(),
                    text: rest.trim().to_string(),
                    na,
                };
                self.ask(req, "recording the evidence", cx);
            }
            Ask::AcceptReason => {
                let Some(d) = self.selected(cx).filter(|d| d.id == p.dispute) else {
                    return;
                };
                self.confirm = Some(Confirm {
                    request: Request::Accept {
                        id: d.id,
                        reason: text,
                    },
                    question: format!(
                        "Accept the claim of {}: PayPal refunds {} to the buyer?",
                        d.paypal_dispute_id,
                        d.amount.display()
                    ),
                    doing: "accepting the claim",
                });
            }
        }
    }
}

impl Pane for DisputesPane {
    fn id(&self) -> PaneId {
        PaneId::Disputes
    }

    fn table(&self) -> &Table {
        &self.table
    }

    fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }

    fn total(&self, s: &Snapshot) -> i64 {
        Disputes::total(s).max(Disputes::len(s) as i64)
    }

    fn selected_key(&self, s: &Snapshot) -> Option<i64> {
        self.table.selected_key::<Disputes>(s)
    }

    fn rebuild(&mut self, cx: &Cx, keep: Option<i64>) {
        self.table
            .rebuild::<Disputes>(cx.snap(), cx.rows, keep, None, &|_, _| true);
    }

    fn on_data(&mut self, old: Option<&Snapshot>, cx: &mut Cx) {
        let keep = old.and_then(|s| self.selected_key(s));
        let before = old.and_then(|s| s.disputes.iter().find(|d| Some(d.id) == keep).cloned());
        self.rebuild(cx, keep);
        // The open dispute changed (evidence, state): read it again.
        let now = self.selected(cx);
        if now.is_some() && now != before {
            self.sync_detail(cx, true);
        }
    }

    fn nav(&mut self, nav: Nav, cx: &mut Cx) -> bool {
        let handled = match self.table.nav::<Disputes>(nav, cx) {
            Navigated::Done => true,
            Navigated::Rebuild(keep) => {
                self.rebuild(cx, keep);
                true
            }
            Navigated::NotHere => false,
        };
        self.sync_detail(cx, false);
        handled
    }

    fn sections(&self) -> &'static [Section] {
        SECTIONS
    }

    /// `s` submits here: the app-wide sort moves to `o` in this pane.
    fn applies(&self, b: &Binding) -> bool {
        b.name != "sort"
    }

    fn copy_id(&self, s: &Snapshot) -> Option<String> {
        Disputes::copy_id(s, self.table.selected_row()?)
    }

    fn find(&mut self, query: &str, cx: &mut Cx) -> bool {
        let found = self.table.find::<Disputes>(cx.snap(), query, cx.rows);
        self.sync_detail(cx, false);
        found
    }

    fn act(&mut self, action: PaneAction, cx: &mut Cx) {
        match action {
            PaneAction::DisputeTake => {
                if let Some(d) = self.selected(cx) {
                    self.ask(Request::Take(d.id), "taking", cx);
                }
            }
            PaneAction::DisputeSubmit => self.confirm_submit(cx),
            PaneAction::DisputeNote => self.open_prompt(Ask::Evidence { na: false }, cx),
            PaneAction::DisputeNotApplicable => self.open_prompt(Ask::Evidence { na: true }, cx),
            PaneAction::DisputeAccept => self.open_prompt(Ask::AcceptReason, cx),
            _ => {}
        }
    }

    fn modal(&self) -> bool {
        self.prompt.is_some() || self.confirm.is_some()
    }

    fn modal_key(&mut self, key: KeyEvent, cx: &mut Cx) {
        if let Some(c) = self.confirm.take() {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    self.ask(c.request, c.doing, cx)
                }
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') => {
                    self.status = Some("cancelled".into())
                }
                _ => self.confirm = Some(c),
            }
            return;
        }
        let Some(p) = self.prompt.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.prompt = None,
            KeyCode::Backspace => {
                p.text.pop();
            }
            KeyCode::Enter if !p.text.trim().is_empty() => self.submit_prompt(cx),
            KeyCode::Char(c) => p.text.push(c),
            _ => {}
        }
    }

    fn status(&self, keymap: &Keymap) -> Option<&str> {
        self.status.as_deref().filter(|_| {
            keymap.may(Permission::HandleDisputes) || keymap.may(Permission::IssueRefunds)
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, v: &View) {
        let extra = v
            .snapshot()
            .and_then(|s| {
                let d = s.disputes.get(self.table.selected_row()?)?;
                Some(super::rates_spans(s, d, v))
            })
            .unwrap_or_default();
        draw_table::<Disputes>(f, area, v, &self.table, &empty_marks(), extra);
    }

    fn draw_overlay(&self, f: &mut Frame, body: Rect, v: &View) {
        if self.table.detail
            && let (Some(s), Some(row)) = (v.snapshot(), self.table.selected_row())
        {
            let marks = empty_marks();
            let c = v.ctx(s, &marks);
            let mut lines = <Disputes as Rows>::detail(&c, row);
            let id = s.disputes.get(row).map(|d| d.id);
            lines.push(Line::from(""));
            match &self.detail {
                Some((open, Ok(d))) if Some(*open) == id => {
                    super::detail_lines(&c, d, &mut lines);
                }
                Some((open, Err(why))) if Some(*open) == id => {
                    lines.push(field("Evidence", why.clone(), c.theme))
                }
                _ => lines.push(field("Evidence", "Loading…", c.theme)),
            }
            draw_detail(
                f,
                body,
                v,
                PaneId::Disputes,
                lines,
                self.table.detail_scroll,
                " Esc close  j/k next/previous  PgDn/PgUp scroll  s submit  e/x evidence".into(),
                DETAIL_WIDTH,
            );
        }
        if let Some(c) = &self.confirm {
            let area = one_line_dialog(body, 86);
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(Line::from(Span::styled(c.question.clone(), v.theme.text))).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" Confirm: y or Enter, n or Esc cancels "),
                ),
                area,
            );
        }
        if let Some(p) = &self.prompt {
            let area = one_line_dialog(body, 76);
            let title = match p.ask {
                Ask::Evidence { na: false } => {
                    format!(" {}: item 1-7 and a note (Enter, Esc) ", p.paypal_id)
                }
                Ask::Evidence { na: true } => format!(
                    " {}: item 1-7 not applicable, and why (Enter, Esc) ",
                    p.paypal_id
                ),
                Ask::AcceptReason => {
                    format!(" Accept {}: reason (Enter, Esc cancels) ", p.paypal_id)
                }
            };
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(Line::from(vec![Span::styled(
                    format!("{}▏", p.text),
                    v.theme.text,
                )]))
                .block(Block::default().borders(Borders::ALL).title(title)),
                area,
            );
        }
    }
}

/// Marks for the evidence statuses in the detail.
pub fn status_mark(s: ItemStatus) -> &'static str {
    match s {
        ItemStatus::Collected => "[x]",
        ItemStatus::NotApplicable => "[-]",
        ItemStatus::Missing => "[ ]",
    }
}
