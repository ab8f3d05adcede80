//! Fraud triage latency end to end, on a real database at the
//! `--orders 1000000` scale: keypress → next order on screen.
//!
//! It runs the dashboard's own parts as `lsn-ops tui` does — `App`, the poller
//! task (snapshot over LISTEN/NOTIFY), the triage task (claims and decisions in
//! PostgreSQL) and the detail task (items, customer history, related orders) —
//! and draws every frame into a 200x60 `TestBackend`. An analyst approves
//! orders from the queue: `a`, `1` (reason template), `Enter`. From `Enter` it
//! measures:
//! - **next order on screen**: the frame showing the next order open;
//! - **with its detail**: the frame showing that order's history and related
//!   orders (read by the detail task; usually prefetched while reading);
//! - **decision committed**: the triage task's answer (conditional update,
//!   audit row) back in the app.
//!
//! Two paces: `reading` (the detail and its prefetch are in before the next
//! key, as when an analyst reads the evidence) and `rapid` (the next decision
//! as soon as the next order is on screen, prefetch or not).
//!
//! The decisions are real (operator `bench-triage`, an agent); at the end the
//! decided orders are put back in the queue and their decision rows removed,
//! so runs repeat. Audit rows stay (the audit log is append-only).
//!
//! `scripts/bench-triage [DECISIONS_PER_PACE]` (seeds `lsn_ops_bench_1m` first if needed).

use std::time::{Duration, Instant};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, eyre};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lsn_ops::domain::Currency;
use lsn_ops::domain::operators::Role;
use lsn_ops::tui::action::{Action, Kind, Nav, PaneAction};
use lsn_ops::tui::app::{App, Settings};
use lsn_ops::tui::panes::PaneId;
use lsn_ops::tui::poller::{DataState, PollerConfig};
use lsn_ops::tui::theme::{ColorMode, Theme};
use lsn_ops::tui::triage::{self, Outcome};
use lsn_ops::tui::{detail, poller};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{mpsc, watch};

const OPERATOR: &str = "bench-triage";
const TZ: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

/// The running dashboard minus the terminal.
struct Rig {
    app: App,
    terminal: Terminal<TestBackend>,
    theme: Theme,
    data: watch::Receiver<DataState>,
    requests: mpsc::UnboundedSender<triage::Request>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    details: mpsc::UnboundedSender<i64>,
    loaded: mpsc::UnboundedReceiver<detail::Loaded>,
    decided: usize,
}

impl Rig {
    fn draw(&mut self) -> Result<()> {
        let (app, theme) = (&self.app, &self.theme);
        self.terminal
            .draw(|f| lsn_ops::tui::ui::draw(f, app, theme))
            .wrap_err("draw")?;
        Ok(())
    }

    /// What the UI loop does before waiting: hand requests to the tasks, draw.
    fn flush(&mut self) -> Result<()> {
        for req in self.app.requests.triage.drain(..) {
            self.requests
                .send(req)
                .map_err(|_| eyre!("triage task gone"))?;
        }
        for id in self.app.requests.details.drain(..) {
            self.details
                .send(id)
                .map_err(|_| eyre!("detail task gone"))?;
        }
        self.draw()
    }

    /// One turn of the UI loop: waits for the next event and applies it.
    async fn step(&mut self) -> Result<()> {
        tokio::select! {
            changed = self.data.changed() => {
                changed.map_err(|_| eyre!("poller stopped"))?;
                let data = self.data.borrow_and_update().clone();
                self.app.now = Utc::now();
                self.app.set_data(data);
            }
            Some(out) = self.outcomes.recv() => {
                if matches!(out, Outcome::Decided { .. }) {
                    self.decided += 1;
                }
                self.app.on_outcome(out);
            }
            Some(loaded) = self.loaded.recv() => self.app.on_detail(loaded),
        }
        self.flush()
    }

    fn key(&mut self, action: Action) {
        self.app.update(action);
    }

    /// The open order's detail is in the cache (and so in the frame drawn).
    fn detail_shown(&self) -> bool {
        self.app
            .panes
            .fraud
            .open_order
            .and_then(|id| self.app.panes.fraud.detail_of(id))
            .is_some_and(|e| e.detail.is_some())
    }

    /// Nothing asked of the detail task is still out (the prefetch is in).
    fn details_settled(&self) -> bool {
        let fraud = &self.app.panes.fraud;
        let wanted = fraud.wanted_details(self.app.snapshot(), self.app.focus == PaneId::Fraud);
        wanted.iter().all(|id| {
            fraud
                .detail_of(*id)
                .is_some_and(|e| !e.loading && (e.detail.is_some() || e.error.is_some()))
        })
    }

    /// The open order is on a running review hold (waiting on the customer):
    /// nothing to decide yet, an analyst moves on to the next one.
    fn open_is_held(&self) -> bool {
        let (Some(id), Some(snap)) = (self.app.panes.fraud.open_order, self.app.snapshot()) else {
            return false;
        };
        snap.fraud.iter().any(|f| {
            f.order_id == id
                && f.state == "review"
                && f.hold_until.is_some_and(|h| h > self.app.now)
        })
    }

    async fn until(&mut self, what: &str, cond: impl Fn(&Rig) -> bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond(self) {
            if Instant::now() > deadline {
                return Err(eyre!("timed out waiting for {what}"));
            }
            tokio::time::timeout(Duration::from_secs(30), self.step())
                .await
                .map_err(|_| eyre!("timed out waiting for {what}"))??;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Samples {
    shown: Vec<Duration>,
    with_detail: Vec<Duration>,
    committed: Vec<Duration>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(name: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        return;
    }
    v.sort();
    let pick = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {name:<26} median {:>8.2} ms   p95 {:>8.2} ms   max {:>8.2} ms   (n = {})",
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(v[v.len() - 1]),
        v.len()
    );
}

/// `decisions` approvals at one pace; returns the samples.
async fn run_pace(rig: &mut Rig, decisions: usize, reading: bool) -> Result<Samples> {
    let mut s = Samples::default();
    for n in 0..decisions {
        let mut skipped = 0;
        while rig.open_is_held() && skipped < 50 {
            rig.key(Action::Nav(Nav::Down));
            rig.flush()?;
            skipped += 1;
        }
        if reading {
            rig.until("the detail and its prefetch", |r| {
                r.detail_shown() && r.details_settled()
            })
            .await?;
        }
        let before = rig
            .app
            .panes
            .fraud
            .open_order
            .ok_or_else(|| eyre!("no order open"))?;
        rig.key(Action::Pane(PaneAction::Decide(Kind::Approve)));
        rig.key(Action::Modal(KeyEvent::new(
            KeyCode::Char('1'),
            KeyModifiers::NONE,
        )));
        rig.flush()?;
        let decided_before = rig.decided;
        // The measured key.
        let t0 = Instant::now();
        rig.key(Action::Modal(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
        rig.flush()?;
        if rig.app.panes.fraud.open_order.is_none_or(|id| id == before) {
            return Err(eyre!(
                "decision {n} ({} pace): Enter did not open the next order (open {:?}, queue rows {}, message {:?}, status {:?})",
                if reading { "reading" } else { "rapid" },
                rig.app.panes.fraud.open_order,
                rig.app.pane(PaneId::Fraud).view.len(),
                rig.app.message,
                rig.app.panes.fraud.status
            ));
        }
        s.shown.push(t0.elapsed());
        rig.until("the next order's detail", Rig::detail_shown)
            .await?;
        s.with_detail.push(t0.elapsed());
        if !reading {
            // Rapid: the next key comes now; the commit is measured at reading pace.
            continue;
        }
        rig.until("the decision", |r| r.decided > decided_before)
            .await?;
        s.committed.push(t0.elapsed());
    }
    Ok(s)
}

#[tokio::main]
async fn main() -> Result<()> {
    color_eyre::install()?;
    let decisions: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().wrap_err("DECISIONS_PER_PACE: a number"))
        .transpose()?
        .unwrap_or(100);
    let url = std::env::var("LSN_OPS_BENCH_DATABASE_URL")
        .wrap_err("set LSN_OPS_BENCH_DATABASE_URL to the --orders 1000000 database (scripts/bench-triage does)")?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .wrap_err("connect")?;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await?;
    let queue: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE fraud_state IN ('pending', 'review')",
    )
    .fetch_one(&pool)
    .await?;
    if queue < (2 * decisions + 5) as i64 {
        return Err(eyre!(
            "the queue holds {queue} orders; {} decisions need more",
            2 * decisions
        ));
    }
    // The seeded admin adds the benchmark's agent (the store checks who adds operators).
    let admin = lsn_ops::domain::operators::Actor::new("carol");
    lsn_ops::store::operators::upsert(&pool, &admin, OPERATOR, Role::Agent).await?;
    println!(
        "database: {orders} orders, fraud queue {queue}; {decisions} approvals per pace, frames 200x60"
    );

    let (data_tx, data_rx) = watch::channel(DataState::default());
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (detail_tx, detail_rx) = mpsc::unbounded_channel();
    let (loaded_tx, loaded_rx) = mpsc::unbounded_channel();
    let triage_task = tokio::spawn(triage::run(
        pool.clone(),
        lsn_ops::domain::operators::Actor::new(OPERATOR),
        50_000,
        req_rx,
        out_tx,
    ));
    let detail_task = tokio::spawn(detail::run(pool.clone(), detail_rx, loaded_tx));
    let poller_task = tokio::spawn(poller::run(
        pool.clone(),
        PollerConfig {
            refresh: Duration::from_secs(2),
            tz: TZ,
            threshold: 70,
            currency: Currency::USD,
            operator: OPERATOR.into(),
            reads: Default::default(),
        },
        data_tx,
    ));
    let mut rig = Rig {
        app: App::new(
            Settings {
                wall: false,
                readonly: false,
                operator: OPERATOR.into(),
                tz: TZ,
                threshold: 70,
                wall_cycle: chrono::Duration::seconds(15),
                mouse: false,
                keys: Default::default(),
            },
            Utc::now(),
            (200, 60),
        ),
        terminal: Terminal::new(TestBackend::new(200, 60))?,
        theme: Theme::load("default", ColorMode::Full, false).map_err(|e| eyre!("{e}"))?,
        data: data_rx,
        requests: req_tx,
        outcomes: out_rx,
        details: detail_tx,
        loaded: loaded_rx,
        decided: 0,
    };
    let started = Utc::now();
    rig.until("the first snapshot with the agent role", |r| {
        r.app.data.snapshot.is_some() && r.app.data.role == Some(Role::Agent)
    })
    .await?;
    rig.key(Action::Show(PaneId::Fraud));
    rig.key(Action::Nav(Nav::Open));
    rig.flush()?;
    rig.until("the first detail", Rig::detail_shown).await?;

    let reading = run_pace(&mut rig, decisions, true).await;
    let rapid = match &reading {
        Ok(_) => run_pace(&mut rig, decisions, false).await,
        Err(_) => Ok(Samples::default()),
    };
    // Let the last decisions land, then put the queue back as it was.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        rig.until("the last decisions", |r| r.decided >= 2 * decisions),
    )
    .await;
    drop(rig);
    poller_task.abort();
    detail_task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(10), triage_task).await;
    let restored = restore(&pool, started).await?;

    let (reading, rapid) = (reading?, rapid?);
    println!("reading pace (detail and prefetch in before the next key):");
    summary("next order on screen", reading.shown);
    summary("  with its detail", reading.with_detail);
    summary("decision committed", reading.committed);
    println!("rapid pace (next key as soon as the next order shows):");
    summary("next order on screen", rapid.shown);
    summary("  with its detail", rapid.with_detail);
    println!("restored {restored} orders to the queue");
    Ok(())
}

/// Puts the orders this run decided back in the queue.
async fn restore(pool: &sqlx::PgPool, since: chrono::DateTime<Utc>) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT order_id FROM fraud_decisions WHERE operator = $1 AND decided_at >= $2",
    )
    .bind(OPERATOR)
    .bind(since)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM fraud_decisions WHERE operator = $1 AND decided_at >= $2")
        .bind(OPERATOR)
        .bind(since)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM fraud_claims WHERE operator = $1")
        .bind(OPERATOR)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query(
        "UPDATE orders SET fraud_state = 'pending', fraud_hold_until = NULL,
                status = CASE WHEN status = 'paid' THEN 'on_hold' ELSE status END
          WHERE id = ANY($1)",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}
