//! What a key (or the clock, or the mouse) asks the dashboard to do. App-wide
//! actions are handled by [`super::app::App`]; [`Nav`] and [`PaneAction`] go to
//! the focused pane, which owns the state they change. A leaf module: actions
//! name panes by [`PaneId`] and nothing else of the dashboard.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use super::pane_id::PaneId;
use crate::domain::operators::Permission;

/// What the user (or the clock) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Focus(PaneId),
    /// Focus and zoom (the `:` commands).
    Show(PaneId),
    NextPane,
    PrevPane,
    StartFilter,
    StartCommand,
    ToggleZoom,
    ToggleHelp,
    Type(char),
    Backspace,
    Submit,
    Cancel,
    Resize(u16, u16),
    /// Mouse wheel at a position, by rows (negative: up).
    ScrollAt(u16, u16, i8),
    Click(u16, u16),
    Tick(DateTime<Utc>),
    /// `y`: copy the selected row's main id to the clipboard (OSC 52).
    Copy,
    /// `f`: freeze the screen while reading (data keeps arriving underneath);
    /// again: jump to now.
    ToggleFreeze,
    /// Up / Down in the command line: the previous / next command run.
    HistoryPrev,
    HistoryNext,
    /// Tab in the command line: complete the command name.
    Complete,
    /// Moving in, opening and sorting the focused pane's rows.
    Nav(Nav),
    /// Something only the focused pane knows how to do (its own bindings).
    Pane(PaneAction),
    /// A key while the focused pane has a dialog open: the dialog takes it.
    Modal(KeyEvent),
    /// The order overlay (`:order QUERY`): one of its bindings.
    Order(OrderAction),
    /// A key while the order overlay's refund dialog is open: the dialog takes it.
    OrderKey(KeyEvent),
    /// `:checklist [LIST]`: open the checklist overlay (the command's argument says which).
    OpenChecklist,
    /// `:duplicates`: open the duplicate charges view.
    OpenDuplicates,
    /// A key of the open duplicates view.
    DuplicatesKey(super::duplicates_view::Key),
    /// A key of the open checklist overlay.
    ChecklistKey(super::checklist_view::Key),
    /// A bound key this operator may not use here: the footer says why.
    Refused {
        binding: &'static str,
        permission: Permission,
    },
}

/// Moving through a pane's table and its detail view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter: the detail view of the row (or close it).
    Open,
    /// Esc: close the detail, else clear the filter, else unzoom.
    Back,
    NextSort,
    ReverseSort,
}

/// The actions panes declare in their own bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneAction {
    /// Fraud: `a`, `r`, `d` open the reason dialog of a decision.
    Decide(Kind),
    /// Fraud: `u` undoes my last decision.
    Undo,
    /// Fraud: Space marks the order for a bulk decision (or unmarks it).
    Mark,
    /// Fraud: `b` shows the blocklist instead of the queue (or back).
    ToggleBlocklist,
    /// Fraud blocklist view: `n` opens the add-entry dialog.
    BlockAdd,
    /// Fraud blocklist view: `x` removes the selected entry, with a reason.
    BlockRemove,
    /// Payouts: `g` generates this week's batch.
    PayoutGenerate,
    /// Payouts: `a` approves the batch.
    PayoutApprove,
    /// Payouts: `p` processes the approved batch.
    PayoutProcess,
    /// Payouts: `r` retries the failed lines.
    PayoutRetry,
    /// Payouts: `h` holds or releases the selected line's creator.
    PayoutHold,
    /// Alerts: `a` acknowledges the selected alert.
    AlertAck,
    /// Alerts: `m` mutes (silences) the selected alert's key, for a while, with a reason.
    AlertSilence,
    /// Alerts: `x` resolves the selected alert or incident, with a note.
    AlertResolve,
    /// Alerts: `i` declares an incident from the selected alert.
    IncidentDeclare,
    /// Alerts: `o` takes the selected incident (assigns it to me).
    IncidentTake,
    /// Alerts: `n` adds a note to the selected incident's timeline.
    IncidentNote,
    /// Alerts: `t` moves the selected incident to its next state.
    IncidentNext,
    /// Disputes: `t` takes the selected dispute (assigns it to me).
    DisputeTake,
    /// Disputes: `s` submits the evidence to PayPal (confirmed first).
    DisputeSubmit,
    /// Disputes: `e` adds a note to an evidence item.
    DisputeNote,
    /// Disputes: `x` marks an evidence item not applicable, with why.
    DisputeNotApplicable,
    /// Disputes: `A` accepts the buyer's claim (a reason, then confirmed).
    DisputeAccept,
}

/// What the order overlay's keys ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    /// `:order QUERY` (the command line opens the overlay with its argument).
    Find,
    Up,
    Down,
    /// Enter: open the order picked from a list.
    Open,
    /// `R`: the refund dialog for the selected item.
    Refund,
    /// Esc: close the overlay.
    Close,
}

/// Which fraud decision a key asked for.
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
