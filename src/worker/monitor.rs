//! The rules evaluator: every `[alerts] interval_s` it gathers the true
//! conditions (each probe's figures over the window, this machine's disk and
//! memory, database connection failures, the payment failure rate, the
//! webhook inbox, the domain alerts from the data) and hands them to
//! `store::alert_rules::reconcile`, which moves the alerts (pending → firing
//! → resolved) under an advisory lock; then it escalates due incidents.
//! [`Monitor::tick`] takes the clock as an argument, so tests drive it
//! through time without waiting.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use tokio::sync::watch;

use super::probes::{DISK, MEMORY};
use crate::config::{AlertsConfig, Config, EscalationConfig, ProbeConfig};
use crate::domain::alerts::{Condition, HealthFigures, Thresholds, evaluate_with};
use crate::store::alert_rules::{self, Outcome, Settings};
use crate::store::notify::Targets;
use crate::store::{data_rules, incidents, probes as samples};

/// Rule keys of the probe rules and of the machine's.
const PROBE_RULES: &[&str] = &["uptime", "error_rate", "api_latency", "cert_expiry"];
const SYSTEM_RULES: &[&str] = &["disk", "memory", "database_connection"];

/// What the evaluator needs, from the configuration.
#[derive(Debug, Clone)]
pub struct Monitor {
    pub alerts: AlertsConfig,
    pub probes: Vec<ProbeConfig>,
    pub escalation: EscalationConfig,
    pub timezone: chrono_tz::Tz,
    pub targets: Targets,
    /// Failed database connections (pings) seen by this process, newest last.
    db_failures: Arc<Mutex<VecDeque<DateTime<Utc>>>>,
}

/// What one tick did.
#[derive(Debug, Clone, Default)]
pub struct Tick {
    pub outcome: Outcome,
    /// Conditions true at this tick (dedup keys).
    pub holding: Vec<String>,
    pub escalated: usize,
}

impl Monitor {
    pub fn from_config(config: &Config, timezone: chrono_tz::Tz) -> Monitor {
        Monitor {
            alerts: config.alerts.clone(),
            probes: config.probes.clone(),
            escalation: config.escalation.clone(),
            timezone,
            targets: Targets::from_config(&config.escalation),
            db_failures: Arc::default(),
        }
    }

    fn window(&self) -> Duration {
        Duration::seconds(self.alerts.window_s.min(10_000_000) as i64)
    }

    /// Counts a failed database connection at `at` (kept for one window).
    pub fn database_failed(&self, at: DateTime<Utc>) {
        if let Ok(mut q) = self.db_failures.lock() {
            q.push_back(at);
            while q.len() > 10_000 {
                q.pop_front();
            }
        }
    }

    fn database_failures(&self, now: DateTime<Utc>) -> u32 {
        let since = now - self.window();
        match self.db_failures.lock() {
            Ok(mut q) => {
                while q.front().is_some_and(|t| *t <= since) {
                    q.pop_front();
                }
                q.iter().filter(|t| **t <= now).count() as u32
            }
            Err(_) => 0,
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            ack_timeout: (self.alerts.ack_timeout_min > 0)
                .then(|| Duration::minutes(self.alerts.ack_timeout_min.min(1_000_000) as i64)),
            targets: self.targets,
        }
    }

    /// Conditions from the probes' samples and the machine's figures.
    async fn probe_conditions(
        &self,
        pool: &PgPool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Condition>, sqlx::Error> {
        let names: Vec<String> = self.probes.iter().map(|p| p.name.clone()).collect();
        let figures = samples::figures(pool, &names, now, self.window()).await?;
        let (for_s, recover_s) = (self.alerts.for_s as i64, self.alerts.recover_s as i64);
        let mut out = Vec::new();
        for p in &self.probes {
            if let Some(f) = figures.get(&p.name) {
                let t = p.thresholds.over(&self.alerts.thresholds);
                out.extend(crate::domain::probes::conditions(
                    &p.name,
                    f,
                    &t,
                    p.for_s.map_or(for_s, |v| v as i64),
                    p.recover_s.map_or(recover_s, |v| v as i64),
                ));
            }
        }
        let system = [DISK.to_string(), MEMORY.to_string()];
        let values = samples::latest_values(pool, &system, now, self.window()).await?;
        let bps = |v: f64| Thresholds::bps(v);
        let health = HealthFigures {
            disk_used_bps: values.get(DISK).map(|(v, _)| bps(*v)),
            memory_used_bps: values.get(MEMORY).map(|(v, _)| bps(*v)),
            database_connection_failures: self.database_failures(now),
            ..Default::default()
        };
        for f in evaluate_with(&health, &self.alerts.thresholds) {
            let (dedup_key, source, details) = match f.rule_key {
                "disk" => (
                    "system:disk",
                    "system",
                    values
                        .get(DISK)
                        .and_then(|(_, d)| d.clone())
                        .unwrap_or_default(),
                ),
                "memory" => (
                    "system:memory",
                    "system",
                    values
                        .get(MEMORY)
                        .and_then(|(_, d)| d.clone())
                        .unwrap_or_default(),
                ),
                _ => (
                    "database:connection",
                    "database",
                    format!("failed connections in the last {} s", self.alerts.window_s),
                ),
            };
            out.push(Condition {
                rule_key: f.rule_key.into(),
                dedup_key: dedup_key.into(),
                source: source.into(),
                severity: f.severity,
                priority: f.priority,
                title: f.title,
                details,
                for_s,
                recover_s,
                opens_incident: false,
            });
        }
        Ok(out)
    }

    /// One evaluation at `now`: the conditions, the alerts moved, incidents escalated.
    pub async fn tick(&self, pool: &PgPool, now: DateTime<Utc>) -> Result<Tick, sqlx::Error> {
        let mut conditions = Vec::new();
        let mut owned: HashSet<String> = HashSet::new();
        let mut own = |keys: &[&str]| owned.extend(keys.iter().map(|k| k.to_string()));
        // A group whose query failed owns nothing this tick: its alerts stay as they are.
        match self.probe_conditions(pool, now).await {
            Ok(c) => {
                conditions.extend(c);
                own(PROBE_RULES);
                own(SYSTEM_RULES);
            }
            Err(e) => tracing::warn!("alert rules: probes: {e}"),
        }
        match data_rules::builtin(pool, &self.alerts, now).await {
            Ok(c) => {
                conditions.extend(c);
                own(data_rules::BUILTIN_RULES);
            }
            Err(e) => tracing::warn!("alert rules: payments and inbox: {e}"),
        }
        match data_rules::domain(pool, &self.alerts, &self.timezone, now).await {
            Ok(c) => {
                conditions.extend(c);
                own(data_rules::DOMAIN_RULES);
            }
            Err(e) => tracing::warn!("alert rules: domain: {e}"),
        }
        let outcome =
            alert_rules::reconcile(pool, &conditions, &owned, now, &self.settings()).await?;
        for id in &outcome.fired {
            tracing::info!(alert = id, "alert firing");
        }
        for id in &outcome.resolved {
            tracing::info!(alert = id, "alert resolved (recovered)");
        }
        let escalated = incidents::escalate_due(pool, &self.escalation, now, self.targets).await?;
        for (id, step) in &escalated {
            tracing::info!(incident = id, step = step.label(), "incident escalated");
        }
        Ok(Tick {
            outcome,
            holding: conditions.into_iter().map(|c| c.dedup_key).collect(),
            escalated: escalated.len(),
        })
    }

    /// Evaluates every `interval_s` until `stop`; pings the database first
    /// and counts a failure (the alert is raised once it answers again).
    pub async fn run(self, pool: PgPool, mut stop: watch::Receiver<bool>) {
        let every = StdDuration::from_secs(self.alerts.interval_s.max(1));
        loop {
            if *stop.borrow() {
                return;
            }
            let now = Utc::now();
            let ping = tokio::time::timeout(
                StdDuration::from_secs(5),
                sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&pool),
            )
            .await;
            if !matches!(ping, Ok(Ok(_))) {
                self.database_failed(now);
                tracing::warn!("alert rules: the database did not answer");
            } else if let Err(e) = self.tick(&pool, now).await {
                if lost_connection(&e) {
                    self.database_failed(now);
                }
                tracing::warn!("alert rules: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// A failure to reach the database (as opposed to a query's own error).
fn lost_connection(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
    )
}
