//! The dashboard. Split in the manner of gitui/yazi: the [`poller`] task owns
//! the database and publishes immutable snapshots on a `watch` channel; the UI
//! loop here selects over terminal events, new snapshots and a one-second
//! tick, feeds them to [`app::App::update`] (pure state: the shared part, and
//! one component per pane in [`panes`]) and draws with [`ui::draw`] (a pure
//! function of the state) only when something changed. Operator actions go
//! to background tasks ([`triage`], [`detail`]) as requests; their answers
//! come back as events of the same loop.
//!
//! The loop ([`drive`]) is generic over the terminal backend and the event
//! source: [`run`] gives it this process's terminal (crossterm on stdout,
//! crossterm's event stream), `crate::ssh` gives each SSH session its channel.
//! The local terminal is restored on quit, on error and on panic (the panic
//! hook restores first, then the previous hook reports).

pub mod action;
pub mod alerts_task;
pub mod app;
pub mod checklist_view;
pub mod detail;
pub mod disputes_task;
pub mod duplicates_view;
pub mod keymap;
pub mod layout;
pub mod ops_task;
pub mod order_view;
pub mod orders_task;
pub mod pane_id;
pub mod panes;
pub mod poller;
pub mod theme;
pub mod triage;
pub mod ui;

use std::io::{self, BufWriter, Stdout, Write};
use std::time::Duration;

use chrono::Utc;
use color_eyre::eyre::{WrapErr, eyre};
use crossterm::event::Event;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};

use action::Action;
use app::{App, Settings};
use poller::{DataState, PollerConfig};
use theme::Theme;

/// Everything the dashboard needs besides the pool.
#[derive(Debug, Clone)]
pub struct Options {
    pub settings: Settings,
    pub poller: PollerConfig,
    pub theme: Theme,
    /// Largest refund an agent may issue (`[ops] agent_refund_limit_minor`).
    pub agent_refund_limit_minor: i64,
    /// `[ops] return_window_days`, for the order overlay's deadlines.
    pub return_window_days: i64,
    /// `[ops] duplicate_window_minutes`, for the duplicates view.
    pub duplicate_window_minutes: i64,
    /// Who acts from this dashboard (the store checks them on every change);
    /// `settings.operator` is `actor.name`.
    pub actor: crate::domain::operators::Actor,
    /// `[payouts]` for the Payouts pane's generate.
    pub payouts: crate::store::payouts::Schedule,
    /// Where pane 1's acknowledgements and resolutions are told (`[escalation]`).
    pub targets: crate::store::notify::Targets,
}

/// Frames go out in one write (a 200x60 frame is well under 256 KiB), so a
/// slow SSH link or tmux never shows half a frame.
type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Puts the terminal back: cooked mode, main screen, no mouse capture, cursor shown.
/// Safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped: the error path and early returns.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn init_terminal(mouse: bool) -> color_eyre::Result<(Term, Restore)> {
    // Restore before the previous hook (color-eyre) prints its report.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    enable_raw_mode().wrap_err("cannot switch the terminal to raw mode")?;
    let guard = Restore;
    execute!(io::stdout(), EnterAlternateScreen).wrap_err("cannot enter the alternate screen")?;
    // Opt-in: capturing the mouse takes the terminal's own selection away.
    if mouse {
        execute!(io::stdout(), EnableMouseCapture).wrap_err("cannot capture the mouse")?;
    }
    let terminal = Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
        256 * 1024,
        io::stdout(),
    )))
    .wrap_err("cannot open the terminal")?;
    Ok((terminal, guard))
}

/// Runs the dashboard on this process's terminal until the operator quits
/// (or SIGTERM/SIGHUP asks it to).
pub async fn run(pool: PgPool, options: Options) -> color_eyre::Result<()> {
    let (mut terminal, guard) = init_terminal(options.settings.mouse)?;
    let stop = async {
        let mut terminate = signal(tokio::signal::unix::SignalKind::terminate());
        let mut hangup = signal(tokio::signal::unix::SignalKind::hangup());
        tokio::select! {
            _ = recv(&mut terminate) => {}
            _ = recv(&mut hangup) => {}
        }
    };
    // The terminal is given back as soon as the loop ends, before the tasks
    // finish what was asked (the guard's second restore changes nothing).
    let restore = |_: &mut Term| restore_terminal();
    let result = drive(
        pool.clone(),
        &options,
        &mut terminal,
        EventStream::new(),
        stop,
        restore,
    )
    .await;
    drop(guard);
    // This process's pool is the dashboard's own: every connection ends with
    // a Terminate message (no "connection reset by peer" in the server's log).
    // (An SSH session's pool is the server's, shared: it stays open.)
    let _ = tokio::time::timeout(Duration::from_secs(3), pool.close()).await;
    result
}

/// One dashboard on any terminal: the local one ([`run`]) or an SSH
/// channel's (`crate::ssh`). Starts this dashboard's poller and tasks, runs
/// the UI loop over `terminal` and `events` until the operator quits, the
/// events end or `stop` completes (each of these quits the app, so the claims
/// it holds are given back), calls `restore` on the terminal, then lets the
/// tasks finish what was asked. Setting the terminal up is the caller's.
pub async fn drive<B, E>(
    pool: PgPool,
    options: &Options,
    terminal: &mut Terminal<B>,
    events: E,
    stop: impl Future<Output = ()>,
    restore: impl FnOnce(&mut Terminal<B>),
) -> color_eyre::Result<()>
where
    B: Backend<Error = io::Error> + Write,
    E: Stream<Item = io::Result<Event>> + Unpin,
{
    let (tx, rx) = watch::channel(DataState::default());
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let triage = tokio::spawn(triage::run(
        pool.clone(),
        options.actor.clone(),
        options.agent_refund_limit_minor,
        req_rx,
        out_tx,
    ));
    // Payout operations run in a task of their own, one at a time.
    let (ops_tx, ops_rx) = mpsc::unbounded_channel();
    let (ops_out_tx, ops_out_rx) = mpsc::unbounded_channel();
    // The same actor as the triage task (an admin acting as NAME stays "ADMIN as NAME").
    let ops = tokio::spawn(ops_task::run(
        pool.clone(),
        options.actor.clone(),
        ops_task::Settings {
            schedule: options.payouts.clone(),
            targets: options.targets,
            checklist: checklist_view::Settings {
                tz: options.poller.tz,
                threshold: options.poller.threshold,
            },
            agent_refund_limit_minor: options.agent_refund_limit_minor,
        },
        ops_rx,
        ops_out_tx,
    ));
    // Details are read by a task of their own: a slow decision never delays one.
    let (detail_tx, detail_rx) = mpsc::unbounded_channel();
    let (loaded_tx, loaded_rx) = mpsc::unbounded_channel();
    let details = tokio::spawn(detail::run(pool.clone(), detail_rx, loaded_tx));
    // The order overlay's lookups and refunds: a task of their own.
    let (orders_tx, orders_rx) = mpsc::unbounded_channel();
    let (orders_out_tx, orders_out_rx) = mpsc::unbounded_channel();
    let orders = tokio::spawn(orders_task::run(
        pool.clone(),
        orders_task::Settings {
            actor: options.actor.clone(),
            agent_refund_limit_minor: options.agent_refund_limit_minor,
            return_window_days: options.return_window_days,
            duplicate_window_minutes: options.duplicate_window_minutes,
            duplicate_days: duplicates_view::DAYS,
        },
        orders_rx,
        orders_out_tx,
    ));
    let poller = tokio::spawn(poller::run(pool, options.poller.clone(), tx));
    let channels = Channels {
        requests: req_tx,
        outcomes: out_rx,
        details: detail_tx,
        loaded: loaded_rx,
        ops: ops_tx,
        ops_outcomes: ops_out_rx,
        orders: orders_tx,
        orders_outcomes: orders_out_rx,
    };
    let result = ui_loop(terminal, options, rx, &poller, channels, events, stop).await;
    restore(terminal);
    details.abort();
    // The poller ends once the UI's receiver is gone, closing its own
    // connections; requests already sent finish (each task ends once its
    // channel is drained).
    let _ = tokio::time::timeout(Duration::from_secs(3), poller).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), triage).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), ops).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), orders).await;
    result
}

/// The UI loop's channels to the triage and detail tasks.
struct Channels {
    requests: mpsc::UnboundedSender<triage::Request>,
    outcomes: mpsc::UnboundedReceiver<triage::Outcome>,
    details: mpsc::UnboundedSender<i64>,
    loaded: mpsc::UnboundedReceiver<detail::Loaded>,
    ops: mpsc::UnboundedSender<ops_task::Request>,
    ops_outcomes: mpsc::UnboundedReceiver<ops_task::Outcome>,
    orders: mpsc::UnboundedSender<orders_task::Request>,
    orders_outcomes: mpsc::UnboundedReceiver<orders_task::Outcome>,
}

async fn ui_loop<B, E>(
    terminal: &mut Terminal<B>,
    options: &Options,
    mut rx: watch::Receiver<DataState>,
    poller: &tokio::task::JoinHandle<()>,
    channels: Channels,
    mut events: E,
    stop: impl Future<Output = ()>,
) -> color_eyre::Result<()>
where
    B: Backend<Error = io::Error> + Write,
    E: Stream<Item = io::Result<Event>> + Unpin,
{
    let Channels {
        requests,
        mut outcomes,
        details,
        mut loaded,
        ops,
        mut ops_outcomes,
        orders,
        mut orders_outcomes,
    } = channels;
    let size = terminal.size().wrap_err("cannot read the terminal size")?;
    let mut app = App::new(
        options.settings.clone(),
        Utc::now(),
        (size.width, size.height),
    );
    let theme = &options.theme;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let stop = std::pin::pin!(stop);
    let mut stop = stop.fuse();
    // No more events (the SSH channel closed): quit, which gives claims back.
    let mut events_ended = false;
    let mut dirty = true;
    loop {
        // Requests go to the triage task; the loop never waits for them.
        for req in app.requests.triage.drain(..) {
            if requests.send(req).is_err() {
                app.message = Some("the decision task stopped (see the log)".into());
            }
        }
        let alerts = app.requests.alerts.drain(..).map(ops_task::Request::Alerts);
        let checklist = app
            .requests
            .checklist
            .drain(..)
            .map(ops_task::Request::Checklist);
        let disputes = app
            .requests
            .disputes
            .drain(..)
            .map(ops_task::Request::Dispute);
        let payouts: Vec<_> = app
            .requests
            .payouts
            .drain(..)
            .chain(alerts)
            .chain(checklist)
            .chain(disputes)
            .collect();
        for req in payouts {
            if ops.send(req).is_err() {
                app.message = Some("the payouts task stopped (see the log)".into());
            }
        }
        for req in app.requests.orders.drain(..) {
            if orders.send(req).is_err() {
                app.message = Some("the orders task stopped (see the log)".into());
            }
        }
        for order_id in app.requests.details.drain(..) {
            if details.send(order_id).is_err() {
                app.message = Some("the detail task stopped (see the log)".into());
            }
        }
        if let Some(text) = app.requests.clipboard.take() {
            // OSC 52: the terminal (through SSH, and tmux with set-clipboard)
            // puts it on the clipboard of the operator's own machine.
            let _ = crossterm::queue!(
                terminal.backend_mut(),
                crossterm::clipboard::CopyToClipboard::to_clipboard_from(text)
            );
            dirty = true;
        }
        if dirty {
            // Synchronized output where the terminal knows it (ignored elsewhere).
            let _ = crossterm::queue!(
                terminal.backend_mut(),
                crossterm::terminal::BeginSynchronizedUpdate
            );
            terminal
                .draw(|f| ui::draw(f, &app, theme))
                .wrap_err("cannot draw")?;
            let _ = crossterm::queue!(
                terminal.backend_mut(),
                crossterm::terminal::EndSynchronizedUpdate
            );
            Backend::flush(terminal.backend_mut()).wrap_err("cannot draw")?;
            dirty = false;
        }
        if app.quit {
            return Ok(());
        }
        tokio::select! {
            ev = events.next(), if !events_ended => match ev {
                Some(Ok(ev)) => {
                    if let Some(action) = app.translate(&ev) {
                        app.update(action);
                        dirty = true;
                    }
                }
                Some(Err(e)) => return Err(e).wrap_err("cannot read the terminal"),
                None => {
                    events_ended = true;
                    app.update(Action::Quit);
                }
            },
            changed = rx.changed() => {
                if changed.is_err() || poller.is_finished() {
                    return Err(eyre!("the database poller stopped unexpectedly (see the log)"));
                }
                let data = rx.borrow_and_update().clone();
                app.now = Utc::now();
                if app.changes_screen(&data) {
                    dirty = true;
                }
                app.set_data(data);
            }
            Some(out) = outcomes.recv() => {
                app.on_outcome(out);
                dirty = true;
            }
            Some(out) = ops_outcomes.recv() => {
                app.on_ops(out);
                dirty = true;
            }
            Some(out) = orders_outcomes.recv() => {
                app.on_orders(out);
                dirty = true;
            }
            Some(got) = loaded.recv() => {
                app.on_detail(got);
                dirty = true;
            }
            _ = tick.tick() => {
                if app.tick(Utc::now()) {
                    dirty = true;
                }
            }
            () = &mut stop => app.update(Action::Quit),
        }
    }
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).ok()
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
