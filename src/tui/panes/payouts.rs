//! Pane 4, Payouts: this week's batch (Friday 14:00 local), one line per
//! creator: (order total - costs) x commission rate, failures and holds
//! first, with the run's actions: `n` generate this week's batch, `a`
//! approve, `p` process through Wise, `r` retry failed lines, `h` hold or
//! release the selected line's creator (with a reason), `Enter` the line's
//! breakdown (every attributed order with its computation). The store calls
//! run in the payouts task ([`crate::tui::ops_task`]), never on the draw path.

use std::cmp::Ordering;

use ratatui::style::Style;
use ratatui::text::Line;

use super::{Column, Ctx, TextCell, cell, col, field, fill, grouped, right, styled_field};
use crate::domain::money::{Money, format_bps};
use crate::store::snapshot::Snapshot;

pub const COLUMNS: &[Column] = &[
    fill("Creator", 0),
    col("Tier", 8, false, 3),
    col("Orders", 6, true, 4),
    col("Net", 12, true, 2),
    col("Rate", 4, true, 5),
    col("Amount", 12, true, 0),
    col("State", 7, false, 0),
    col("Bank", 10, false, 1),
];

pub const SORT_KEYS: &[&str] = &["attention", "amount", "creator"];

fn attention(state: &str) -> u8 {
    match state {
        "failed" => 0,
        "held" => 1,
        "processing" => 2,
        "pending" => 3,
        _ => 4,
    }
}

fn net(p: &crate::store::snapshot::PayoutItemRow) -> Money {
    Money::new(
        p.order_total.minor.saturating_sub(p.costs.minor),
        p.order_total.currency,
    )
}

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::table::{DETAIL_WIDTH, Navigated, Table, draw_detail, draw_table, empty_marks};
use super::{Cx, Pane, PaneId, Rows, View};
use crate::domain::operators::Permission;
use crate::store::payouts::BreakdownOrder;
use crate::tui::action::{Action, Nav, PaneAction};
use crate::tui::keymap::{Binding, Key, Keymap, Section};
use crate::tui::ops_task::{Outcome, Request};

const BINDINGS: &[Binding] = &[
    Binding::change(
        "payouts_generate",
        &[Key::Char('n')],
        Action::Pane(PaneAction::PayoutGenerate),
        "generate the week's batch",
        Some("n generate"),
        Permission::PreparePayouts,
    ),
    Binding::change(
        "payouts_approve",
        &[Key::Char('a')],
        Action::Pane(PaneAction::PayoutApprove),
        "approve (not its maker)",
        Some("a approve"),
        Permission::ApprovePayouts,
    ),
    Binding::change(
        "payouts_process",
        &[Key::Char('p')],
        Action::Pane(PaneAction::PayoutProcess),
        "process: pay through Wise",
        Some("p process"),
        Permission::ProcessPayouts,
    ),
    Binding::change(
        "payouts_retry",
        &[Key::Char('r')],
        Action::Pane(PaneAction::PayoutRetry),
        "retry failed lines",
        Some("r retry"),
        Permission::ProcessPayouts,
    ),
    Binding::change(
        "payouts_hold",
        &[Key::Char('h')],
        Action::Pane(PaneAction::PayoutHold),
        "hold/release a creator",
        Some("h hold"),
        Permission::PreparePayouts,
    ),
];

pub const SECTIONS: &[Section] = &[
    Section {
        title: "Payouts (pane 4)",
        bindings: BINDINGS,
    },
    Section {
        title: "Payments",
        bindings: PAYMENTS,
    },
];

/// Money going back, beside money going out: `:duplicates` (any pane) opens
/// the duplicate charges view, where `R` refunds the later charge.
const PAYMENTS: &[Binding] = &[Binding::command(
    "duplicates",
    &["duplicates", "dup"],
    Action::OpenDuplicates,
    "duplicate charges; R",
)];

/// The reason prompt of a hold or release.
#[derive(Debug, Clone, Default)]
pub struct ReasonPrompt {
    pub item: i64,
    pub creator: String,
    pub release: bool,
    pub text: String,
}

/// A step that changes the batch for everyone (approve, process, retry),
/// said in full and confirmed with `y` or Enter before it is sent.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub request: Request,
    pub question: String,
    pub doing: &'static str,
}

/// The Payouts pane's state.
#[derive(Debug, Clone, Default)]
pub struct PayoutsPane {
    pub table: Table,
    /// The last answer of the payouts task, for the footer.
    pub status: Option<String>,
    /// The breakdown of the line whose detail is open, once read.
    pub breakdown: Option<(i64, Vec<BreakdownOrder>)>,
    pub prompt: Option<ReasonPrompt>,
    pub confirm: Option<Confirm>,
}

impl PayoutsPane {
    fn selected(&self, cx: &Cx) -> Option<crate::store::snapshot::PayoutItemRow> {
        let s = cx.snap()?;
        s.payout_items.get(self.table.selected_row()?).cloned()
    }

    /// Reads the open line's breakdown (once per line).
    fn sync_breakdown(&mut self, cx: &mut Cx) {
        if !self.table.detail {
            return;
        }
        if let Some(line) = self.selected(cx)
            && self.breakdown.as_ref().is_none_or(|(id, _)| *id != line.id)
        {
            self.breakdown = Some((line.id, Vec::new()));
            cx.requests
                .payouts
                .push(Request::Breakdown { item: line.id });
        }
    }

    /// Opens the confirmation of a batch step, saying what it will do.
    fn confirm(&mut self, step: PaneAction, cx: &mut Cx) {
        let Some(b) = cx.snap().and_then(|s| s.facts.payout_batch.clone()) else {
            self.status = Some("there is no payout batch yet: n generates one".into());
            return;
        };
        let held = if b.held_items > 0 {
            format!(", {} held", b.held_items)
        } else {
            String::new()
        };
        let (request, question, doing) = match step {
            PaneAction::PayoutApprove => (
                Request::Approve { batch: b.id },
                format!(
                    "Approve batch #{} ({} lines{held}, {})?",
                    b.id,
                    b.items,
                    b.total.display()
                ),
                "approving",
            ),
            PaneAction::PayoutProcess => (
                Request::Process { batch: b.id },
                format!(
                    "Pay {} to {} creator line(s) of batch #{} through Wise{held}?",
                    b.pending_total.display(),
                    b.pending_items,
                    b.id
                ),
                "queueing the transfers",
            ),
            _ => (
                Request::Retry { batch: b.id },
                format!(
                    "Send the {} failed line(s) of batch #{} again (Wise is asked first)?",
                    b.failed_items, b.id
                ),
                "retrying failed lines",
            ),
        };
        self.confirm = Some(Confirm {
            request,
            question,
            doing,
        });
    }

    fn ask(&mut self, req: Option<Request>, what: &str, cx: &mut Cx) {
        match req {
            Some(r) => {
                cx.requests.payouts.push(r);
                self.status = Some(format!("{what}..."));
            }
            None => self.status = Some("there is no payout batch yet: n generates one".into()),
        }
    }

    /// An answer from the payouts task.
    pub fn on_outcome(&mut self, out: Outcome, cx: &mut Cx) {
        match out {
            Outcome::Done(m) | Outcome::Failed(m) => {
                *cx.message = Some(m.clone());
                self.status = Some(m);
            }
            Outcome::Breakdown { item, orders } => self.breakdown = Some((item, orders)),
            // Pane 1's and the checklist's answers never come here (`App::on_ops` routes them).
            Outcome::Alerts(_)
            | Outcome::Checklist(_)
            | Outcome::ShowReport(..)
            | Outcome::Dispute(_) => {}
        }
    }
}

impl Pane for PayoutsPane {
    fn id(&self) -> PaneId {
        PaneId::Payouts
    }

    fn table(&self) -> &Table {
        &self.table
    }

    fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }

    fn total(&self, s: &Snapshot) -> i64 {
        Payouts::total(s).max(Payouts::len(s) as i64)
    }

    fn selected_key(&self, s: &Snapshot) -> Option<i64> {
        self.table.selected_key::<Payouts>(s)
    }

    fn rebuild(&mut self, cx: &Cx, keep: Option<i64>) {
        self.table
            .rebuild::<Payouts>(cx.snap(), cx.rows, keep, None, &|_, _| true);
    }

    fn nav(&mut self, nav: Nav, cx: &mut Cx) -> bool {
        let handled = match self.table.nav::<Payouts>(nav, cx) {
            Navigated::Done => true,
            Navigated::Rebuild(keep) => {
                self.rebuild(cx, keep);
                true
            }
            Navigated::NotHere => false,
        };
        self.sync_breakdown(cx);
        handled
    }

    fn sections(&self) -> &'static [Section] {
        SECTIONS
    }

    fn copy_id(&self, s: &Snapshot) -> Option<String> {
        Payouts::copy_id(s, self.table.selected_row()?)
    }

    fn find(&mut self, query: &str, cx: &mut Cx) -> bool {
        let found = self.table.find::<Payouts>(cx.snap(), query, cx.rows);
        self.sync_breakdown(cx);
        found
    }

    fn act(&mut self, action: PaneAction, cx: &mut Cx) {
        match action {
            PaneAction::PayoutGenerate => {
                self.ask(Some(Request::Generate), "generating this week's batch", cx)
            }
            PaneAction::PayoutApprove | PaneAction::PayoutProcess | PaneAction::PayoutRetry => {
                self.confirm(action, cx)
            }
            PaneAction::PayoutHold => {
                if let Some(line) = self.selected(cx) {
                    let release = line.state == "held"
                        && line
                            .hold_reason
                            .as_deref()
                            .is_some_and(|r| r.starts_with(crate::domain::payouts::HOLD_CREATOR));
                    self.prompt = Some(ReasonPrompt {
                        item: line.id,
                        creator: line.creator,
                        release,
                        text: String::new(),
                    });
                }
            }
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
                    self.ask(Some(c.request), c.doing, cx)
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
            KeyCode::Enter if !p.text.trim().is_empty() => {
                let req = Request::Hold {
                    item: p.item,
                    release: p.release,
                    reason: p.text.trim().to_string(),
                };
                let what = if p.release { "releasing" } else { "holding" };
                self.prompt = None;
                self.ask(Some(req), what, cx);
            }
            KeyCode::Char(c) => p.text.push(c),
            _ => {}
        }
    }

    fn status(&self, keymap: &Keymap) -> Option<&str> {
        self.status.as_deref().filter(|_| {
            keymap.may(Permission::PreparePayouts) || keymap.may(Permission::ProcessPayouts)
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, v: &View) {
        draw_table::<Payouts>(f, area, v, &self.table, &empty_marks(), Vec::new());
    }

    fn draw_overlay(&self, f: &mut Frame, body: Rect, v: &View) {
        if self.table.detail
            && let (Some(s), Some(row)) = (v.snapshot(), self.table.selected_row())
        {
            let marks = empty_marks();
            let c = v.ctx(s, &marks);
            let mut lines = <Payouts as super::Rows>::detail(&c, row);
            let id = s.payout_items.get(row).map(|p| p.id);
            lines.push(Line::from(""));
            match &self.breakdown {
                Some((item, orders)) if Some(*item) == id && !orders.is_empty() => {
                    lines.push(field(
                        "Breakdown",
                        format!("{} order(s)", orders.len()),
                        c.theme,
                    ));
                    for o in orders {
                        let cur = s
                            .payout_items
                            .get(row)
                            .map(|p| p.amount.currency)
                            .unwrap_or(crate::domain::money::Currency::USD);
                        let m = |minor: i64| Money::new(minor, cur).display();
                        lines.push(Line::styled(
                            c.text(&format!(
                                "  {:<14} ({} - {} - {} - {}) = {} × {} = {}",
                                o.order_number,
                                m(o.total_minor),
                                m(o.product_cost_minor),
                                m(o.shipping_minor),
                                m(o.platform_fee_minor),
                                m(o.net_minor),
                                format_bps(i64::from(o.commission_bps)),
                                m(o.earnings_minor)
                            )),
                            c.theme.text,
                        ));
                    }
                }
                Some((item, _)) if Some(*item) == id => lines.push(field(
                    "Breakdown",
                    "no attributed orders (or loading…)",
                    c.theme,
                )),
                _ => lines.push(field("Breakdown", "Loading…", c.theme)),
            }
            draw_detail(
                f,
                body,
                v,
                PaneId::Payouts,
                lines,
                self.table.detail_scroll,
                " Esc close  j/k next/previous  PgDn/PgUp scroll".into(),
                DETAIL_WIDTH,
            );
        }
        if let Some(c) = &self.confirm {
            let area = one_line_dialog(body, 76);
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
            let area = one_line_dialog(body, 70);
            let title = format!(
                " {} {}: reason (Enter, Esc cancels) ",
                if p.release { "Release" } else { "Hold" },
                p.creator
            );
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

/// A bordered one-line dialog (a reason, a confirmation) a third of the way
/// down the body, at most `width` wide.
pub(super) fn one_line_dialog(body: Rect, width: u16) -> Rect {
    let width = body.width.clamp(20, width);
    Rect {
        x: body.x + (body.width.saturating_sub(width)) / 2,
        y: body.y + body.height / 3,
        width,
        height: 3.min(body.height),
    }
}

/// This pane's rows of the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Payouts;

impl super::Rows for Payouts {
    const ID: super::PaneId = super::PaneId::Payouts;
    const COLUMNS: &'static [Column] = COLUMNS;
    const SORT_KEYS: &'static [&'static str] = SORT_KEYS;

    fn len(s: &Snapshot) -> usize {
        s.payout_items.len()
    }

    fn total(s: &Snapshot) -> i64 {
        s.facts.payout_batch.as_ref().map_or(0, |b| b.items)
    }

    fn key(s: &Snapshot, i: usize) -> i64 {
        s.payout_items.get(i).map_or(-1, |r| r.id)
    }

    fn haystack(s: &Snapshot, i: usize) -> String {
        s.payout_items.get(i).map_or_else(String::new, |p| {
            format!(
                "{} {} {} {} {} {}",
                p.creator,
                p.tier,
                p.kind,
                p.state,
                p.recipient_status,
                p.failure_reason.as_deref().unwrap_or("")
            )
        })
    }

    fn compare(s: &Snapshot, key: usize, a: usize, b: usize) -> Ordering {
        let (Some(x), Some(y)) = (s.payout_items.get(a), s.payout_items.get(b)) else {
            return a.cmp(&b);
        };
        match key {
            1 => y.amount.minor.cmp(&x.amount.minor),
            2 => x.creator.to_lowercase().cmp(&y.creator.to_lowercase()),
            _ => attention(&x.state)
                .cmp(&attention(&y.state))
                .then(y.amount.minor.cmp(&x.amount.minor)),
        }
        .then(x.id.cmp(&y.id))
    }

    fn row(c: &Ctx, i: usize) -> (Vec<TextCell>, Style) {
        let t = c.theme;
        let Some(p) = c.snap.payout_items.get(i) else {
            return (Vec::new(), Style::new());
        };
        let state_style = match p.state.as_str() {
            "failed" => t.critical,
            "held" => t.warning,
            "sent" => t.ok,
            _ => t.text,
        };
        let bank_style = if p.recipient_status == "verified" {
            t.muted
        } else {
            t.warning
        };
        let creator = if p.kind == "adjustment" {
            format!("{} (adj.)", p.creator)
        } else {
            p.creator.clone()
        };
        let cells = vec![
            cell(creator, t.text),
            cell(p.tier.clone(), t.muted),
            right(grouped(i64::from(p.order_count)), t.text),
            right(net(p).display(), t.text),
            right(
                format_bps(i64::from(p.commission_bps)).replace(".00", ""),
                t.muted,
            ),
            right(p.amount.display(), t.text),
            cell(
                crate::domain::payouts::line_state_label(&p.state).to_string(),
                state_style,
            ),
            cell(p.recipient_status.clone(), bank_style),
        ];
        (cells, Style::new())
    }

    /// The creator of the line.
    fn copy_id(s: &Snapshot, i: usize) -> Option<String> {
        s.payout_items.get(i).map(|r| r.creator.clone())
    }

    fn detail(c: &Ctx, i: usize) -> Vec<Line<'static>> {
        let t = c.theme;
        let Some(p) = c.snap.payout_items.get(i) else {
            return Vec::new();
        };
        let mut lines = vec![
            field(
                "Payout line",
                format!("#{} {} ({})", p.id, p.creator, p.kind),
                t,
            ),
            field(
                "Tier",
                format!("{} at {}", p.tier, format_bps(i64::from(p.commission_bps))),
                t,
            ),
            field("Orders", grouped(i64::from(p.order_count)), t),
            field("Order total", p.order_total.display(), t),
            field("Costs", format!("- {}", p.costs.display()), t),
            field("Net", net(p).display(), t),
            field(
                "Earnings",
                format!(
                    "{} = net x {}",
                    p.amount.display(),
                    format_bps(i64::from(p.commission_bps))
                ),
                t,
            ),
            styled_field(
                "State",
                p.state.clone(),
                if p.state == "failed" {
                    t.critical
                } else {
                    t.text
                },
                t,
            ),
            styled_field(
                "Bank details",
                p.recipient_status.clone(),
                if p.recipient_status == "verified" {
                    t.ok
                } else {
                    t.warning
                },
                t,
            ),
            field("Attempts", p.attempts.to_string(), t),
        ];
        if let Some(r) = &p.hold_reason {
            lines.push(styled_field("Held", r.clone(), t.warning, t));
        }
        if let Some(r) = &p.failure_reason {
            lines.push(styled_field("Failure", r.clone(), t.critical, t));
        }
        if let Some(b) = &c.snap.facts.payout_batch {
            lines.push(Line::from(""));
            lines.push(field(
                "Batch",
                format!(
                    "#{} {} for {}",
                    b.id,
                    b.state,
                    c.local(b.scheduled_for, "%a %d %b %H:%M %Z")
                ),
                t,
            ));
            lines.push(field(
                "Batch total",
                format!("{} over {} lines", b.total.display(), b.items),
                t,
            ));
        }
        lines
    }

    fn subtitle(c: &Ctx) -> String {
        match &c.snap.facts.payout_batch {
            Some(b) => {
                let mut s = format!(
                    "#{} {} · {} · {}",
                    b.id,
                    b.state,
                    c.local(b.scheduled_for, "%a %H:%M"),
                    b.total.display()
                );
                if b.failed_items > 0 {
                    s.push_str(&format!(" · {} failed", b.failed_items));
                }
                if b.held_items > 0 {
                    s.push_str(&format!(" · {} held", b.held_items));
                }
                if b.older_failed_items > 0 {
                    s.push_str(&format!(
                        " · {} failed in older batches",
                        b.older_failed_items
                    ));
                }
                c.text(&s)
            }
            None => "no batch".into(),
        }
    }
}
