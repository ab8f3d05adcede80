//! Ops-room scale (issue 15): N dashboards on one database while changes
//! arrive. Each dashboard is the real `App` fed by its own poller (its own
//! connections, as N operators' dashboards would be), drawing into a 200x60
//! test backend on every new snapshot. The dashboards share their snapshot
//! reads as the SSH server's sessions do (one process); `--own-reads` gives
//! each its own, as N separate `lsn-ops dashboard` processes would have. A
//! writer changes one alert RATE times a second (its title carries a
//! sequence number); each dashboard notes when each change first reaches its
//! screen (a screen showing change 12 after 9 shows 10, 11 and 12: each
//! counts from when it was written).
//!
//! Prints the CPU the database spent on the dashboards' connections (their
//! backends' utime + stime from /proc, so run it on the database's machine)
//! and, per dashboard, change → screen p50/p95.
//!
//! `scripts/bench-dashboards N RATE SECONDS` (database: `LSN_OPS_BENCH_DATABASE_URL`,
//! by default the `--orders 1000000` seed in `lsn_tui_bench_1m`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, eyre};
use lsn_ops::domain::Currency;
use lsn_ops::tui::app::{App, Settings};
use lsn_ops::tui::poller::{self, DataState, PollerConfig};
use lsn_ops::tui::theme::{ColorMode, Theme};
use lsn_ops::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use tokio::sync::watch;

const TZ: chrono_tz::Tz = chrono_tz::America::Los_Angeles;
const APP_NAME: &str = "lsn-ops-bench-dash";
const MARKER: &str = "bench-dashboards";

#[tokio::main]
async fn main() -> Result<()> {
    // The pollers' own reports (builder elected, failures) with RUST_LOG=info.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1).clamp(1, 200) as usize;
    let rate = args.get(1).copied().unwrap_or(50).clamp(1, 1000);
    let seconds = args.get(2).copied().unwrap_or(20).clamp(1, 600);
    let own_reads = std::env::args().any(|a| a == "--own-reads");
    let reads = lsn_ops::store::snapshot::shared::Reads::default();
    let url = std::env::var("LSN_OPS_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/lsn_tui_bench_1m".to_string());
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .wrap_err_with(|| format!("connect to {url} (seed it: lsn-ops seed --orders 1000000)"))?;
    sqlx::query(
        "INSERT INTO alerts (rule_key, dedup_key, severity, priority, title)
         SELECT 'bench', $1, 'info', 'P3', 'bench 0'
          WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE dedup_key = $1 AND state <> 'resolved')",
    )
    .bind(MARKER)
    .execute(&admin)
    .await?;
    // Each run counts from 1 again: a title left by the last run ("bench
    // 1000") would hide every change of this one from the dashboards.
    sqlx::query("UPDATE alerts SET title = 'bench 0' WHERE dedup_key = $1 AND state <> 'resolved'")
        .bind(MARKER)
        .execute(&admin)
        .await?;
    let clock_ticks = clock_ticks();

    // The dashboards.
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Vec<Duration>>>> = Arc::new(Mutex::new(vec![Vec::new(); n]));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()?
        .application_name(APP_NAME)
        .disable_statement_logging();
    for i in 0..n {
        let pool = PgPoolOptions::new()
            .max_connections(3)
            .connect_with(options.clone())
            .await?;
        let (tx, rx) = watch::channel(DataState::default());
        let poller = tokio::spawn(poller::run(
            pool.clone(),
            PollerConfig {
                refresh: Duration::from_secs(2),
                tz: TZ,
                threshold: 70,
                currency: Currency::USD,
                operator: format!("bench-{i}"),
                reads: match own_reads {
                    true => Default::default(),
                    false => reads.clone(),
                },
            },
            tx,
        ));
        let dashboard = tokio::spawn(dashboard(
            i,
            rx,
            sent.clone(),
            latencies.clone(),
            stop_rx.clone(),
        ));
        tasks.push((pool, poller, dashboard));
    }
    println!(
        "{n} dashboards started ({}); warming up for 3 s",
        match own_reads {
            true => "each reads on its own",
            false => "sharing their reads, as one SSH server's sessions",
        }
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    let before = backend_cpu(&admin, clock_ticks).await?;
    // The writer: RATE changes a second to the marker alert, for SECONDS.
    let started = Instant::now();
    let total = rate * seconds;
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for seq in 1..=total {
        every.tick().await;
        if let Ok(mut s) = sent.lock() {
            s.insert(seq, Instant::now());
        }
        sqlx::query(
            "UPDATE alerts SET title = $2, last_seen_at = now() WHERE dedup_key = $1 AND state <> 'resolved'",
        )
        .bind(MARKER)
        .bind(format!("bench {seq}"))
        .execute(&admin)
        .await?;
    }
    let wrote = started.elapsed().as_secs_f64();
    // Let the last change reach the screens.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = backend_cpu(&admin, clock_ticks).await?;
    let used = |listening: bool| -> f64 {
        after
            .iter()
            .filter(|(_, (_, l))| *l == listening)
            .map(|(pid, (t, _))| t - before.get(pid).map_or(0.0, |(t, _)| *t))
            .sum()
    };
    let (listen_cpu, other_cpu) = (used(true), used(false));
    let cpu = listen_cpu + other_cpu;
    let _ = stop_tx.send(true);

    println!(
        "{total} changes in {wrote:.1} s ({:.0}/s); database CPU on the dashboards' {} connections: {cpu:.2} s ({:.0}% of a core; LISTEN connections {listen_cpu:.2} s, the rest {other_cpu:.2} s)",
        total as f64 / wrote,
        after.len(),
        100.0 * cpu / wrote
    );
    let lat = latencies.lock().map_err(|_| eyre!("poisoned"))?.clone();
    let mut p95s = Vec::new();
    let mut seen_total = 0;
    for (i, l) in lat.iter().enumerate() {
        let mut l = l.clone();
        l.sort();
        seen_total += l.len();
        if l.is_empty() {
            println!("  dashboard {i}: saw no change");
            continue;
        }
        let pct = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize];
        p95s.push(pct(0.95));
        if n <= 10 || i < 3 || i + 1 == n {
            println!(
                "  dashboard {i}: {}/{total} changes on screen, change → screen p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
                l.len(),
                pct(0.5).as_secs_f64() * 1e3,
                pct(0.95).as_secs_f64() * 1e3,
                pct(1.0).as_secs_f64() * 1e3
            );
        }
    }
    p95s.sort();
    if let (Some(best), Some(worst)) = (p95s.first(), p95s.last()) {
        println!(
            "p95 over the {} dashboards: best {:.0} ms, median {:.0} ms, worst {:.0} ms ({seen_total} of {} changes reached a screen)",
            p95s.len(),
            best.as_secs_f64() * 1e3,
            p95s[p95s.len() / 2].as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3,
            total as usize * n
        );
    }
    for (pool, poller, dashboard) in tasks {
        match dashboard.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("a dashboard stopped: {e}"),
            Err(e) => eprintln!("a dashboard's task failed: {e}"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), poller).await;
        pool.close().await;
    }
    Ok(())
}

/// One dashboard: the real App drawing each new snapshot at 200x60.
async fn dashboard(
    i: usize,
    mut rx: watch::Receiver<DataState>,
    sent: Arc<Mutex<HashMap<u64, Instant>>>,
    latencies: Arc<Mutex<Vec<Vec<Duration>>>>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut app = App::new(
        Settings {
            wall: false,
            readonly: true,
            operator: format!("bench-{i}"),
            tz: TZ,
            threshold: 70,
            wall_cycle: chrono::Duration::seconds(15),
            mouse: false,
            keys: Default::default(),
        },
        Utc::now(),
        (200, 60),
    );
    let theme = Theme::load("default", ColorMode::Full, false).map_err(|e| eyre!("{e}"))?;
    let mut terminal = Terminal::new(TestBackend::new(200, 60))?;
    let mut last_seq = 0u64;
    loop {
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return Ok(()); },
            _ = stop.changed() => return Ok(()),
        }
        let data = rx.borrow_and_update().clone();
        let seq = data.snapshot.as_ref().and_then(|s| {
            s.alerts
                .iter()
                .find(|a| a.dedup_key == MARKER)
                .and_then(|a| a.title.strip_prefix("bench ")?.parse::<u64>().ok())
        });
        app.set_data(data);
        terminal.draw(|f| ui::draw(f, &app, &theme))?;
        // Every change up to the one on screen is on screen now; each counts
        // from when it was written (not only the newest, which waited least).
        if let Some(seq) = seq.filter(|s| *s > last_seq) {
            let now = Instant::now();
            // A title left by an earlier run is not in `sent`: not counted.
            if let (Ok(sent), Ok(mut l)) = (sent.lock(), latencies.lock())
                && sent.contains_key(&seq)
            {
                for k in last_seq + 1..=seq {
                    if let Some(at) = sent.get(&k) {
                        l[i].push(now - *at);
                    }
                }
                last_seq = seq;
            }
        }
    }
}

/// CPU seconds (user + system) of every backend serving the dashboards, and
/// whether it is a LISTEN connection (its last statement a LISTEN).
async fn backend_cpu(admin: &PgPool, ticks: f64) -> Result<HashMap<i32, (f64, bool)>> {
    let pids: Vec<(i32, bool)> = sqlx::query_as(
        "SELECT pid, query LIKE 'LISTEN%' FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(APP_NAME)
    .fetch_all(admin)
    .await?;
    let mut out = HashMap::new();
    for (pid, listening) in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) start after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (Some(u), Some(s)) = (f.get(11), f.get(12)) else {
            continue;
        };
        let (Ok(u), Ok(s)) = (u.parse::<f64>(), s.parse::<f64>()) else {
            continue;
        };
        out.insert(pid, ((u + s) / ticks, listening));
    }
    Ok(out)
}

/// The kernel's clock ticks per second (USER_HZ), 100 on Linux.
fn clock_ticks() -> f64 {
    100.0
}
