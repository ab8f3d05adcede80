//! lsn-ops: the operations center of a live-shopping marketplace.
//!
//! Layout, from the inside out (`docs/ARCHITECTURE.md` has the map and the
//! path of a webhook to the screen):
//! - [`domain`]: the runbook's rules, states and formulas; pure, no I/O.
//! - [`providers`]: PayPal, Wise and Twilio webhook signature checks (pure)
//!   and their API clients ([`providers::api`]).
//! - [`config`]: layered configuration (defaults < file < environment).
//! - [`identity`]: the operator is the OS account of the process's user id.
//! - [`store`]: PostgreSQL (the one source of truth): connection, migrations,
//!   the audit log, and the queries of the dashboard, the status, fraud triage,
//!   operators, alerts, the inbox and outbox, and the seed data set.
//! - [`worker`]: webhooks verified into the inbox, the applier (inbox →
//!   domain tables), fraud scoring, the command executor (outbox → providers),
//!   reconciliation, health and metrics.
//! - [`housekeeping`]: maintenance steps (optimize, cleanup, backup and its
//!   verification) and the report's renderings, for the CLI and the worker.
//! - [`tui`]: the dashboard (poller task → snapshot → UI loop → draw).
//! - [`ssh`]: `lsn-ops ssh-server`, the same dashboard per SSH session
//!   (identity from the operator's key).
//! - [`commands`]: what each CLI command does; [`cli`] parses and dispatches.
//! - [`simulators`]: local PayPal, Wise and Twilio servers for the demo and tests.
//! - [`traffic`]: the demo's traffic generator (buyers, viewers, disputes
//!   through the simulators).
//! - [`telemetry`]: logs to a file (the dashboard owns the screen).

pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod housekeeping;
pub mod identity;
pub mod providers;
pub mod simulators;
pub mod ssh;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod traffic;
pub mod tui;
pub mod worker;
