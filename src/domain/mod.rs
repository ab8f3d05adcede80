//! Pure domain logic: the runbook's rules, states and formulas, with no I/O.
//!
//! Everything here is plain data and functions of it, so it is tested without a
//! database or a network. The store persists these types; the worker and the
//! TUI decide with them.

pub mod alert_lifecycle;
pub mod alerts;
pub mod checklists;
pub mod disputes;
pub mod evidence;
pub mod fraud;
pub mod fraud_lists;
pub mod incidents;
pub mod inventory;
pub mod money;
pub mod operators;
pub mod payments;
pub mod payouts;
pub mod policies;
pub mod probes;
pub mod returns;
pub mod rooms;
pub mod shows;

pub use money::{Currency, Money, MoneyError, Rounding};
