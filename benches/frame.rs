//! `cargo bench --bench frame`: one full dashboard frame at 200x60 into a
//! TestBackend, and the snapshot build.
//!
//! The frame's data is the fixture snapshot, or, with
//! `LSN_OPS_BENCH_DATABASE_URL` set, a snapshot built from that database (for
//! the `--orders 1000000` seed). `build_snapshot` is measured only with that
//! variable set (it needs a database); otherwise it prints a note and skips.

use std::hint::black_box;
use std::sync::Arc;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use lsn_ops::domain::money::Currency;
use lsn_ops::store::snapshot::{Snapshot, build_snapshot, build_snapshot_after, fixture};
use lsn_ops::tui::app::{App, Settings};
use lsn_ops::tui::poller::DataState;
use lsn_ops::tui::theme::{ColorMode, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const DB_VAR: &str = "LSN_OPS_BENCH_DATABASE_URL";

fn tz() -> chrono_tz::Tz {
    chrono_tz::America::Los_Angeles
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn pool(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{DB_VAR}: cannot connect: {e}"))
}

fn snapshot() -> (Snapshot, &'static str) {
    match std::env::var(DB_VAR) {
        Ok(url) => {
            let rt = runtime();
            let snap = rt.block_on(async {
                let pool = pool(&url).await;
                build_snapshot(&pool, Utc::now(), &tz(), 70, Currency::USD)
                    .await
                    .expect("build_snapshot")
            });
            (snap, "database")
        }
        Err(_) => (fixture(Utc::now(), &tz()), "fixture"),
    }
}

fn app(snap: Snapshot, wall: bool) -> App {
    let now = snap.taken_at;
    let mut app = App::new(
        Settings {
            wall,
            readonly: false,
            operator: "bench".into(),
            tz: tz(),
            threshold: 70,
            wall_cycle: Duration::seconds(15),
            mouse: false,
            keys: Default::default(),
        },
        now,
        (200, 60),
    );
    app.set_data(DataState {
        snapshot: Some(Arc::new(snap)),
        connected: true,
        last_success: Some(now),
        listening: true,
        ..Default::default()
    });
    app
}

fn frame(c: &mut Criterion) {
    let (snap, source) = snapshot();
    eprintln!(
        "frame data from the {source}: {} alerts, {} incidents, {} shows, {} disputes, {} payout lines, {} fraud rows (queue {})",
        snap.alerts.len(),
        snap.incidents.len(),
        snap.shows.len(),
        snap.disputes.len(),
        snap.payout_items.len(),
        snap.fraud.len(),
        snap.fraud_queue_total
    );
    let theme = Theme::load("default", ColorMode::Full, false).expect("theme");
    for (name, wall) in [("frame_200x60", false), ("frame_200x60_wall", true)] {
        let app = app(snap.clone(), wall);
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
        c.bench_function(name, |b| {
            b.iter(|| {
                terminal
                    .draw(|f| lsn_ops::tui::ui::draw(f, black_box(&app), &theme))
                    .expect("draw");
            })
        });
    }
}

/// Fraud triage: the decision's last key (Enter in the reason dialog) to the
/// next order open on screen: `App::update` (the decision queued for the
/// triage task, the queue rebuilt, the next order opened and claimed) plus one
/// full frame at 200x60, zoomed on the Fraud pane with the detail open.
fn fraud_keypress(c: &mut Criterion) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use lsn_ops::tui::action::{Action, Kind, Nav, PaneAction};
    use lsn_ops::tui::panes::PaneId;
    let (snap, _) = snapshot();
    let theme = Theme::load("default", ColorMode::Full, false).expect("theme");
    let mut ready = app(snap, false);
    let data = DataState {
        role: Some(lsn_ops::domain::operators::Role::Agent),
        ..ready.data.clone()
    };
    ready.set_data(data);
    ready.update(Action::Show(PaneId::Fraud));
    ready.update(Action::Nav(Nav::Open));
    ready.update(Action::Pane(PaneAction::Decide(Kind::Approve)));
    ready.update(Action::Modal(KeyEvent::new(
        KeyCode::Char('1'),
        KeyModifiers::NONE,
    )));
    ready.requests.triage.clear();
    let enter = Action::Modal(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let mut check = ready.clone();
    let order = |a: &App| a.panes.fraud.selected_order(a.snapshot()?);
    let first = order(&check);
    check.update(enter);
    assert!(check.pane(PaneId::Fraud).detail && order(&check) != first);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    c.bench_function("fraud_enter_to_next_order_200x60", |b| {
        b.iter_batched(
            || ready.clone(),
            |mut app| {
                app.update(black_box(enter));
                terminal
                    .draw(|f| lsn_ops::tui::ui::draw(f, &app, &theme))
                    .expect("draw");
                app
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

fn snapshot_build(c: &mut Criterion) {
    let Ok(url) = std::env::var(DB_VAR) else {
        eprintln!(
            "build_snapshot: skipped (set {DB_VAR}=postgres://... to measure it, e.g. on the --orders 1000000 seed)"
        );
        return;
    };
    let rt = runtime();
    let pool = rt.block_on(pool(&url));
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(30);
    group.bench_function("build_snapshot", |b| {
        b.iter(|| {
            rt.block_on(build_snapshot(&pool, Utc::now(), &tz(), 70, Currency::USD))
                .expect("build_snapshot")
        })
    });
    // The poller's steady state: finished shows' sales reused from the last snapshot.
    let first = rt
        .block_on(build_snapshot(&pool, Utc::now(), &tz(), 70, Currency::USD))
        .expect("build_snapshot");
    // What a busy live show announces: its orders, payments and viewers.
    let live_show_burst: std::collections::BTreeSet<String> = ["orders", "payments", "shows"]
        .into_iter()
        .map(String::from)
        .collect();
    group.bench_function("build_snapshot_after", |b| {
        b.iter(|| {
            rt.block_on(build_snapshot_after(
                &pool,
                Utc::now(),
                &tz(),
                70,
                Currency::USD,
                Some(&first),
                Some(&live_show_burst),
            ))
            .expect("build_snapshot_after")
        })
    });
    group.finish();
}

criterion_group!(benches, frame, fraud_keypress, snapshot_build);
criterion_main!(benches);
