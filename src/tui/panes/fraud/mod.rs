//! Pane 5, Fraud: the review queue and its triage. It owns everything fraud
//! on the dashboard: the queue's table and filter, the order this dashboard
//! has claimed, marks for a bulk decision, orders decided here and not yet
//! gone from the snapshot, the detail cache (read ahead by the detail task),
//! the reason dialog, and the blocklist view. Decisions, claims and blocklist
//! edits go to the triage task as requests; its answers come back through
//! [`FraudPane::on_outcome`].

pub mod blocklist;
mod decisions;
pub mod detail_view;
pub mod dialogs;
pub mod queue;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use self::blocklist::Blocklist;
use self::dialogs::{BlockDialog, BlockResult, Dialog};
pub use self::queue::{FILTER_HINT, Filter, Queue};
use super::table::{Navigated, Table, draw_detail, draw_table};
use super::{Cx, Pane, PaneId, Rows, View};
use crate::domain::operators::Permission;
use crate::store::snapshot::Snapshot;
use crate::tui::action::{Action, Kind, Nav, PaneAction};
use crate::tui::detail::{Entry, Loaded};
use crate::tui::keymap::{Binding, Key, Keymap, Section};
use crate::tui::triage::{Request, Target};

use Key::Char;

const QUEUE: &[Binding] = &[
    Binding::change(
        "approve",
        &[Char('a')],
        Action::Pane(PaneAction::Decide(Kind::Approve)),
        "approve with a reason",
        Some("a approve"),
        Permission::DecideFraud,
    ),
    Binding::change(
        "review",
        &[Char('r')],
        Action::Pane(PaneAction::Decide(Kind::Review)),
        "review: hold 24h/48h",
        Some("r review"),
        Permission::DecideFraud,
    ),
    Binding::change(
        "decline",
        &[Char('d')],
        Action::Pane(PaneAction::Decide(Kind::Decline)),
        "decline and refund",
        Some("d decline"),
        Permission::DecideFraud,
    ),
    Binding::change(
        "mark",
        &[Char(' ')],
        Action::Pane(PaneAction::Mark),
        "mark for bulk decision",
        Some("Space mark"),
        Permission::DecideFraud,
    ),
    Binding::change(
        "undo",
        &[Char('u')],
        Action::Pane(PaneAction::Undo),
        "undo my last decision",
        Some("u undo"),
        Permission::DecideFraud,
    ),
];

const BLOCKLIST: &[Binding] = &[
    Binding::read(
        "blocklist",
        &[Char('b')],
        Action::Pane(PaneAction::ToggleBlocklist),
        "blocklist view (or back)",
        None,
    ),
    Binding::change(
        "block_add",
        &[Char('n')],
        Action::Pane(PaneAction::BlockAdd),
        "add an entry (reason)",
        Some("n add"),
        Permission::EditBlocklist,
    ),
    Binding::change(
        "block_remove",
        &[Char('x')],
        Action::Pane(PaneAction::BlockRemove),
        "remove the entry (reason)",
        Some("x remove"),
        Permission::EditBlocklist,
    ),
];

/// The pane's bindings, as help shows them.
pub const SECTIONS: &[Section] = &[
    Section {
        title: "Fraud triage (pane 5)",
        bindings: QUEUE,
    },
    Section {
        title: "Blocklist (pane 5)",
        bindings: BLOCKLIST,
    },
];

/// The Fraud pane's state.
#[derive(Debug, Clone, Default)]
pub struct FraudPane {
    pub table: Table,
    /// The reason dialog of a decision, while open.
    pub dialog: Option<Dialog>,
    /// Orders marked with Space for a bulk decision.
    pub marked: BTreeSet<i64>,
    /// Orders decided here and not yet gone from the snapshot: hidden from the queue.
    pub decided: BTreeSet<i64>,
    /// The last triage answer (kept until the next one): "already decided by ...".
    pub status: Option<String>,
    /// Someone else holds the open order: (order id, "being reviewed by NAME").
    pub claimed: Option<(i64, String)>,
    /// The order this dashboard holds a claim on.
    pub open_order: Option<i64>,
    /// Order details by order id, as the detail task answered them.
    pub details: HashMap<i64, Entry>,
    pub blocklist: Blocklist,
    /// Order numbers of what was decided here (for "undone: LSN-..." after the
    /// order has left the snapshot).
    pub(super) numbers: HashMap<i64, String>,
}

/// The fraud data moved (queue rows, queue size, today's orders): the cached
/// details may be out of date.
fn fraud_changed(old: &Snapshot, new: &Snapshot) -> bool {
    old.fraud != new.fraud
        || old.fraud_queue_total != new.fraud_queue_total
        || old.facts.orders_today.orders != new.facts.orders_today.orders
}

impl FraudPane {
    /// The blocklist view is showing.
    pub fn blocklist_open(&self) -> bool {
        self.blocklist.open
    }

    /// The order under the selection.
    pub fn selected_order(&self, s: &Snapshot) -> Option<i64> {
        let row = self.table.selected_row()?;
        s.fraud.get(row).map(|f| f.order_id)
    }

    /// The cached detail of an order, if any.
    pub fn detail_of(&self, order_id: i64) -> Option<&Entry> {
        self.details.get(&order_id)
    }

    pub(super) fn target(s: &Snapshot, order_id: i64) -> Option<Target> {
        let f = s.fraud.iter().find(|f| f.order_id == order_id)?;
        Some(Target {
            order_id,
            order_number: f.order_number.clone(),
            score: u8::try_from(f.score.clamp(0, 100)).unwrap_or(0),
        })
    }

    /// The orders whose detail should be in the cache now: the open one and
    /// the next in the queue (so that it opens at once after a decision).
    pub fn wanted_details(&self, s: Option<&Snapshot>, focused: bool) -> Vec<i64> {
        let p = &self.table;
        let Some(s) = s.filter(|_| focused && p.detail) else {
            return Vec::new();
        };
        let order = |pos: usize| {
            p.view
                .get(pos)
                .and_then(|&row| s.fraud.get(row))
                .map(|f| f.order_id)
        };
        let mut want: Vec<i64> = order(p.selected).into_iter().collect();
        let next = order(p.selected + 1).or_else(|| order(p.selected.checked_sub(1)?));
        want.extend(next);
        want
    }

    /// Asks the detail task for what is wanted and missing (or stale).
    pub fn sync_details(&mut self, cx: &mut Cx) {
        for order_id in self.wanted_details(cx.snap(), cx.focused) {
            let e = self.details.entry(order_id).or_default();
            let missing = e.detail.is_none() && e.error.is_none();
            if !e.loading && (missing || e.stale) {
                e.loading = true;
                e.stale = false;
                cx.requests.details.push(order_id);
            }
        }
    }

    /// An answer from the detail task.
    pub fn on_detail(&mut self, loaded: Loaded, cx: &mut Cx) {
        let e = self.details.entry(loaded.order_id).or_default();
        e.loading = false;
        match loaded.result {
            Ok(d) => {
                e.detail = Some(d);
                e.error = None;
            }
            Err(msg) => e.error = Some(msg),
        }
        self.sync_details(cx);
    }

    pub(super) fn release_open(&mut self, cx: &mut Cx) {
        if let Some(order_id) = self.open_order.take() {
            cx.requests.triage.push(Request::Release { order_id });
        }
        self.claimed = None;
    }

    /// Claims the selected order (releasing the previous one).
    pub(super) fn claim_selected(&mut self, cx: &mut Cx) {
        let selected = cx.snap().and_then(|s| self.selected_order(s));
        if selected == self.open_order {
            return;
        }
        self.release_open(cx);
        if let Some(order_id) = selected
            && cx.keymap.may(Permission::DecideFraud)
        {
            self.open_order = Some(order_id);
            cx.requests.triage.push(Request::Claim { order_id });
        }
    }

    pub(super) fn queue_rebuild(&mut self, cx: &Cx, keep: Option<i64>) {
        let filter = Filter::parse(&self.table.filter);
        let threshold = cx.threshold;
        let decided = &self.decided;
        self.table.rebuild::<Queue>(
            cx.snap(),
            cx.rows,
            keep,
            Some(&|s: &Snapshot, i| filter.matches(s, i, threshold)),
            &|s: &Snapshot, i| {
                s.fraud
                    .get(i)
                    .is_none_or(|f| !decided.contains(&f.order_id))
            },
        );
    }

    pub(super) fn keep_key(&self, cx: &Cx) -> Option<i64> {
        cx.snap().and_then(|s| self.table.selected_key::<Queue>(s))
    }

    fn toggle_blocklist(&mut self, cx: &mut Cx) {
        self.blocklist.open = !self.blocklist.open;
        self.zoom_for_blocklist(cx);
        if self.blocklist.open {
            // The queue's open order goes back to the others meanwhile.
            if self.table.detail {
                self.table.detail = false;
                self.release_open(cx);
            }
            let n = cx.snap().map_or(0, |s| s.blocklist.len());
            self.blocklist.move_by(0, n, cx.rows);
        }
    }

    /// The blocklist view takes the whole body (its columns need the width);
    /// leaving it restores the zoom as it was.
    fn zoom_for_blocklist(&mut self, cx: &mut Cx) {
        if self.blocklist.open {
            if self.blocklist.zoom_before.is_none() {
                self.blocklist.zoom_before = Some(*cx.zoom);
            }
            *cx.zoom = true;
        } else if let Some(z) = self.blocklist.zoom_before.take() {
            *cx.zoom = z || cx.wall;
        }
    }

    fn close_blocklist(&mut self, cx: &mut Cx) {
        self.blocklist.open = false;
        self.zoom_for_blocklist(cx);
    }

    fn open_block_dialog(&mut self, add: bool, cx: &mut Cx) {
        if !self.blocklist.open {
            return;
        }
        if add {
            self.blocklist.dialog = Some(BlockDialog::add());
        } else if let Some(b) = cx.snap().and_then(|s| self.blocklist.selected_entry(s)) {
            self.blocklist.dialog = Some(BlockDialog::remove(&b.kind, &b.value));
        }
    }

    fn block_dialog_key(&mut self, k: KeyEvent, cx: &mut Cx) {
        let Some(d) = self.blocklist.dialog.as_mut() else {
            return;
        };
        match d.key(k) {
            BlockResult::Open => {}
            BlockResult::Cancelled => self.blocklist.dialog = None,
            BlockResult::Confirmed {
                add,
                kind,
                value,
                reason,
            } => {
                self.blocklist.dialog = None;
                self.status = Some(if add {
                    format!("blocking {kind} {value}...")
                } else {
                    format!("removing {kind} {value} from the blocklist...")
                });
                cx.requests.triage.push(if add {
                    Request::Block {
                        kind,
                        value,
                        reason,
                    }
                } else {
                    Request::Unblock {
                        kind,
                        value,
                        reason,
                    }
                });
            }
        }
    }
}

impl Pane for FraudPane {
    fn id(&self) -> PaneId {
        PaneId::Fraud
    }

    fn table(&self) -> &Table {
        &self.table
    }

    fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }

    fn total(&self, s: &Snapshot) -> i64 {
        Queue::total(s).max(Queue::len(s) as i64)
    }

    fn selected_key(&self, s: &Snapshot) -> Option<i64> {
        self.table.selected_key::<Queue>(s)
    }

    fn rebuild(&mut self, cx: &Cx, keep: Option<i64>) {
        self.queue_rebuild(cx, keep);
    }

    fn on_data(&mut self, old: Option<&Snapshot>, cx: &mut Cx) {
        let keep = old.and_then(|s| self.selected_key(s));
        let changed = match (old, cx.snap()) {
            (Some(old), Some(new)) => fraud_changed(old, new),
            _ => true,
        };
        if let Some(s) = cx.snap() {
            // A decided order gone from the queue no longer needs hiding.
            let listed: BTreeSet<i64> = s.fraud.iter().map(|f| f.order_id).collect();
            self.decided.retain(|id| listed.contains(id));
            self.marked.retain(|id| listed.contains(id));
            // Details of orders gone from the queue are dropped; the others are
            // read again when next on screen if the fraud data moved.
            let open = self.open_order;
            self.details
                .retain(|id, _| listed.contains(id) || Some(*id) == open);
            if changed {
                for e in self.details.values_mut() {
                    e.stale = true;
                }
            }
        }
        self.queue_rebuild(cx, keep);
        self.blocklist.follow(old, cx.snap(), cx.rows);
        self.sync_details(cx);
    }

    fn nav(&mut self, nav: Nav, cx: &mut Cx) -> bool {
        if self.blocklist.open {
            if nav == Nav::Back {
                // Esc goes back to the queue.
                self.close_blocklist(cx);
                return true;
            }
            let n = cx.snap().map_or(0, |s| s.blocklist.len());
            self.blocklist.nav(nav, n, cx.rows);
            return true;
        }
        let was_open = self.table.detail;
        let handled = match self.table.nav::<Queue>(nav, cx) {
            Navigated::Done => true,
            Navigated::Rebuild(keep) => {
                self.queue_rebuild(cx, keep);
                true
            }
            Navigated::NotHere => false,
        };
        match nav {
            // In the detail, the claim follows the selection.
            Nav::Up | Nav::Down if self.table.detail => self.claim_selected(cx),
            Nav::Open | Nav::Back if was_open != self.table.detail => {
                if self.table.detail {
                    self.claim_selected(cx);
                } else {
                    self.release_open(cx);
                }
            }
            _ => {}
        }
        self.sync_details(cx);
        handled
    }

    fn sections(&self) -> &'static [Section] {
        SECTIONS
    }

    fn applies(&self, b: &Binding) -> bool {
        match b.action {
            Action::Pane(PaneAction::BlockAdd | PaneAction::BlockRemove) => self.blocklist.open,
            Action::Pane(PaneAction::ToggleBlocklist) => true,
            Action::Pane(_) => !self.blocklist.open,
            Action::Nav(Nav::Open | Nav::NextSort | Nav::ReverseSort) => !self.blocklist.open,
            _ => true,
        }
    }

    fn act(&mut self, action: PaneAction, cx: &mut Cx) {
        match action {
            PaneAction::Decide(kind) => self.open_dialog(kind, cx),
            PaneAction::Undo => {
                cx.requests.triage.push(Request::Undo);
                self.status = Some("undoing your last decision...".into());
            }
            PaneAction::Mark => {
                if let Some(id) = cx.snap().and_then(|s| self.selected_order(s)) {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.table.move_by(1, cx.rows);
                }
            }
            PaneAction::ToggleBlocklist => self.toggle_blocklist(cx),
            PaneAction::BlockAdd => self.open_block_dialog(true, cx),
            PaneAction::BlockRemove => self.open_block_dialog(false, cx),
            _ => {}
        }
        self.sync_details(cx);
    }

    fn modal(&self) -> bool {
        self.dialog.is_some() || self.blocklist.dialog.is_some()
    }

    fn modal_key(&mut self, key: KeyEvent, cx: &mut Cx) {
        if self.blocklist.dialog.is_some() {
            self.block_dialog_key(key, cx);
        } else {
            self.dialog_key(key, cx);
        }
        self.sync_details(cx);
    }

    fn start_filter(&mut self, cx: &mut Cx) {
        if self.blocklist.open {
            self.close_blocklist(cx);
        }
        self.table.detail = false;
    }

    fn filter_hint(&self) -> Option<&'static str> {
        Some(FILTER_HINT)
    }

    fn copy_id(&self, s: &Snapshot) -> Option<String> {
        if self.blocklist.open {
            return self.blocklist.selected_entry(s).map(|b| b.value.clone());
        }
        Queue::copy_id(s, self.table.selected_row()?)
    }

    fn find(&mut self, query: &str, cx: &mut Cx) -> bool {
        if self.blocklist.open {
            self.close_blocklist(cx);
        }
        let found = self.table.find::<Queue>(cx.snap(), query, cx.rows);
        if found {
            // Opening an order claims it, as Enter does.
            self.claim_selected(cx);
            self.sync_details(cx);
        }
        found
    }

    fn clamp(&mut self, rows: usize, s: Option<&Snapshot>) {
        self.table.clamp(rows);
        let n = s.map_or(0, |s| s.blocklist.len());
        self.blocklist.clamp(n, rows);
    }

    fn quit(&mut self, cx: &mut Cx) {
        // The open order goes back to the others at once.
        self.release_open(cx);
    }

    fn status(&self, keymap: &Keymap) -> Option<&str> {
        self.status
            .as_deref()
            .filter(|_| keymap.may(Permission::DecideFraud))
    }

    fn draw(&self, f: &mut Frame, area: Rect, v: &View) {
        if self.blocklist.open {
            let may_edit = v.keymap.may(Permission::EditBlocklist);
            blocklist::draw(f, area, v, &self.blocklist, may_edit);
            return;
        }
        let mut extra = Vec::new();
        if v.focused && !v.wall {
            extra.push(Span::styled(" b blocklist ", v.theme.muted));
        }
        draw_table::<Queue>(f, area, v, &self.table, &self.marked, extra);
    }

    fn draw_overlay(&self, f: &mut Frame, body: Rect, v: &View) {
        if self.table.detail && !self.blocklist.open {
            self.draw_detail(f, body, v);
        }
        if let Some(d) = &self.dialog {
            dialogs::draw_dialog(f, body, d, v.theme);
        }
        if let Some(d) = &self.blocklist.dialog {
            dialogs::draw_block_dialog(f, body, d, v.theme);
        }
    }
}

/// Widest the Fraud detail gets (the other details: 96).
const DETAIL_WIDTH: u16 = 110;

impl FraudPane {
    fn draw_detail(&self, f: &mut Frame, body: Rect, v: &View) {
        let (Some(s), Some(row)) = (v.snapshot(), self.table.selected_row()) else {
            return;
        };
        let c = v.ctx(s, &self.marked);
        let entry = s.fraud.get(row).and_then(|f| self.detail_of(f.order_id));
        let width = body.width.min(DETAIL_WIDTH).saturating_sub(2);
        let mut lines = detail_view::detail_with(&c, row, entry, width);
        if let Some((order, note)) = &self.claimed
            && s.fraud.get(row).is_some_and(|f| f.order_id == *order)
        {
            lines.insert(0, Line::styled(format!("  {note}"), v.theme.critical));
        }
        // The decision keys this operator may use, from the pane's bindings.
        let mut keys = String::from(" Esc close  j/k next/previous");
        for b in QUEUE {
            if matches!(b.action, Action::Pane(PaneAction::Decide(_)))
                && v.keymap.allows(b)
                && let Some(hint) = v.keymap.footer(b)
            {
                keys.push_str("  ");
                keys.push_str(&hint);
            }
        }
        draw_detail(
            f,
            body,
            v,
            PaneId::Fraud,
            lines,
            self.table.detail_scroll,
            keys,
            DETAIL_WIDTH,
        );
    }
}
