//! The whole worker as tasks of one process: the webhook server, the applier
//! (inbox → domain tables), the command executor (outbox → providers), the
//! schedules (payout batches, reconciliation), the probes, the alert rules
//! and the notification sender.
//! `lsn-ops worker` runs it until a signal; `lsn-ops demo` runs it beside the
//! dashboard against the built-in simulators.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::apply::{self, ApplySettings};
use super::commands::{self, Clients, ExecOptions};
use super::{AppState, Settings, system_clock};
use crate::config::Config;
use crate::providers::api::HttpPolicy;

/// How often the applier and the executor look for due work without a NOTIFY.
const POLL: Duration = Duration::from_secs(1);
/// How often stuck captures and transfers are looked for.
const RECONCILE_EVERY: Duration = Duration::from_secs(300);

/// A running worker; [`Running::shutdown`] stops it gracefully.
pub struct Running {
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
    /// `http://ADDR` the server listens on.
    pub base_url: String,
}

/// Starts the server on `listener` plus the applier and the executor.
pub async fn start(
    pool: PgPool,
    config: &Config,
    listener: TcpListener,
) -> Result<Running, String> {
    let settings = Settings::from_config(config)?;
    // Before anything listens: a bad reference list stops the start here.
    let scoring = super::scoring::Scoring::from_config(&config.fraud)?.shared();
    let clients = Clients::from_config(config, HttpPolicy::default())
        .map_err(|e| format!("provider clients: {e}"))?;
    let schedule = crate::store::payouts::Schedule::from_config(config)?;
    let tz: chrono_tz::Tz = config.ops.timezone.parse().map_err(|_| {
        format!(
            "[ops] timezone \"{}\" is not an IANA time zone",
            config.ops.timezone
        )
    })?;
    let weekly = super::maintenance::Weekly::from_config(config, tz);
    let monitor = super::monitor::Monitor::from_config(config, tz);
    let sender = super::notify::Sender::new(&config.escalation)?;
    let retention = chrono::Duration::hours(config.alerts.retention_h.min(1_000_000) as i64);
    let addr = listener
        .local_addr()
        .map_err(|e| format!("listener: {e}"))?;
    let (stop, stop_rx) = watch::channel(false);
    // One PayPal token for the process: the verifier uses the API client's cache.
    let state = Arc::new(
        AppState::new(pool.clone(), settings, system_clock())
            .with_paypal_tokens(clients.paypal.tokens()),
    );
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(super::serve(listener, state, async move {
        let _ = server_stop.changed().await;
    }));
    let apply_settings = ApplySettings { scoring };
    let pool_for_maintenance = pool.clone();
    let mut background = vec![
        tokio::spawn(apply::run(
            pool.clone(),
            apply_settings,
            POLL,
            stop_rx.clone(),
        )),
        tokio::spawn(super::payouts::run(
            pool.clone(),
            schedule,
            super::payouts::CHECK_EVERY,
            stop_rx.clone(),
        )),
        tokio::spawn(super::reconcile::run(
            pool.clone(),
            RECONCILE_EVERY,
            stop_rx.clone(),
        )),
        tokio::spawn(super::probes::run(
            pool.clone(),
            config.probes.clone(),
            retention,
            stop_rx.clone(),
        )),
        tokio::spawn(monitor.run(pool.clone(), stop_rx.clone())),
        tokio::spawn(sender.run(pool.clone(), POLL, stop_rx.clone())),
        tokio::spawn(commands::run(
            pool.clone(),
            clients,
            ExecOptions::default(),
            POLL,
            stop_rx.clone(),
        )),
    ];
    background.push(tokio::spawn(super::disputes::run(
        pool_for_maintenance.clone(),
        config.disputes.auto_submit,
        std::time::Duration::from_secs(config.disputes.sweep_s.max(1)),
        stop_rx.clone(),
    )));
    background.push(tokio::spawn(super::checklists::run(
        pool_for_maintenance.clone(),
        tz,
        config.fraud.high_risk_threshold,
        super::checklists::CHECK_EVERY,
        stop_rx.clone(),
    )));
    background.push(tokio::spawn(super::checkouts::run(
        pool_for_maintenance.clone(),
        chrono::Duration::minutes(config.ops.checkout_timeout_minutes),
        super::checkouts::CHECK_EVERY,
        stop_rx.clone(),
    )));
    if let Some(weekly) = weekly {
        background.push(tokio::spawn(super::maintenance::run(
            pool_for_maintenance,
            weekly,
            super::maintenance::CHECK_EVERY,
            stop_rx,
        )));
    }
    Ok(Running {
        stop,
        server,
        background,
        base_url: format!("http://{addr}"),
    })
}

impl Running {
    /// Stops accepting webhooks, lets requests in flight finish, and stops the
    /// applier and the executor between two events (work is transactional, so
    /// nothing is half done).
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        for task in self.background {
            let _ = task.await;
        }
        match self.server.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    }

    /// Waits for `signal`, then shuts down.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        signal.await;
        self.shutdown().await
    }
}
