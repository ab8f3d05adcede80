//! lsn-ops: the operations center of a live-shopping marketplace.
//!
//! Layout, from the inside out:
//! - [`domain`]: the runbook's rules, states and formulas; pure, no I/O.
//! - [`store`]: every SQL statement, over PostgreSQL (the one source of truth).
//! - [`seed`]: deterministic synthetic data for demos, tests and benchmarks.
//! - [`config`]: layered configuration (defaults < file < environment).
//! - [`commands`]: what each CLI command does; [`cli`] parses and dispatches.
//! - [`telemetry`]: logs to a file (the dashboard owns the screen).
//! - [`tui`]: the dashboard (poller task → snapshot → UI loop → draw).
//! - [`providers`]: PayPal, Wise and Twilio webhook signature checks; pure, no I/O.
//! - [`worker`]: the worker's HTTP side: webhooks verified into the inbox, health, metrics.
//! - [`simulators`]: local PayPal, Wise and Twilio servers for the demo and tests.

pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod providers;
pub mod seed;
pub mod simulators;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod traffic;
pub mod tui;
pub mod worker;
