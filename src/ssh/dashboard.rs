//! One operator's dashboard on one SSH channel: the local dashboard's own
//! loop (`tui::drive`) over the channel's input and a backend that writes to
//! it, with the client's theme, its size, the idle timeout and the server's
//! shutdown; its login and logout audited, the client's terminal restored.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::Event;
use russh::ChannelId;
use russh::server::Handle;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;

use crate::cli::TuiArgs;
use crate::domain::operators::Actor;
use crate::tui::theme::{ColorMode, Theme, locale_is_utf8};

use super::term::{ChannelWriter, PtySize, SshBackend};

use super::*;

/// One dashboard on one channel.
pub(super) struct Dashboard {
    pub(super) shared: Arc<Shared>,
    pub(super) handle: Handle,
    pub(super) channel: ChannelId,
    pub(super) who: Who,
    pub(super) mode: Mode,
    pub(super) term: String,
    pub(super) env: Vec<(String, String)>,
    pub(super) size: PtySize,
    pub(super) activity: Arc<Mutex<Instant>>,
    pub(super) stop: CancellationToken,
    pub(super) peer: SocketAddr,
}

impl Dashboard {
    pub(super) async fn run(
        self,
        events: mpsc::UnboundedReceiver<io::Result<Event>>,
        permit: OwnedSemaphorePermit,
    ) {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (handle, channel) = (self.handle.clone(), self.channel);
        let forward = tokio::spawn(async move {
            while let Some(frame) = out_rx.recv().await {
                if handle.data(channel, frame).await.is_err() {
                    break;
                }
            }
        });
        let operator = self.who.operator.clone();
        let peer = self.peer;
        tracing::info!(%operator, %peer, wall = self.mode.wall, term = %self.term, "ssh dashboard starting");
        let (handle, shared) = (self.handle.clone(), self.shared.clone());
        // Its own task: a panic in the dashboard still gets the client's
        // terminal restored and the channel closed below.
        let ended = tokio::spawn(self.dashboard(events, out_tx)).await;
        // Every frame queued before the end goes out first.
        let _ = forward.await;
        let (code, note) = match ended {
            Ok(Ok(note)) => (0, note),
            Ok(Err(e)) => {
                tracing::error!(%operator, error = %e, "ssh dashboard failed");
                (
                    1,
                    Some(format!("lsn-ops: {}", crate::cli::Failure::from(e).message)),
                )
            }
            Err(e) => {
                tracing::error!(%operator, error = %e, "ssh dashboard panicked");
                (
                    1,
                    Some("lsn-ops: internal error (see the server's log)".into()),
                )
            }
        };
        let mut tail = RESTORE.to_vec();
        if let Some(note) = note {
            tail.extend_from_slice(note.as_bytes());
            tail.extend_from_slice(b"\r\n");
        }
        let _ = handle.data(channel, tail).await;
        let _ = handle.exit_status_request(channel, code).await;
        let _ = handle.eof(channel).await;
        let _ = handle.close(channel).await;
        drop(permit);
        tracing::info!(%operator, %peer, code, open = shared.max_sessions - shared.slots.available_permits(), "ssh dashboard ended");
    }

    /// The dashboard itself; `Ok(Some(note))` when something other than the
    /// operator ended it (said on the client's terminal afterwards).
    async fn dashboard(
        self,
        events: mpsc::UnboundedReceiver<io::Result<Event>>,
        out: mpsc::UnboundedSender<Vec<u8>>,
    ) -> color_eyre::Result<Option<String>> {
        let shared = &self.shared;
        let args = TuiArgs {
            wall: self.mode.wall,
            readonly: self.mode.readonly,
            operator: None,
            ascii: self.mode.ascii,
        };
        let actor = Actor::new(self.who.operator.clone());
        let actor = if args.wall || args.readonly {
            actor.read_only()
        } else {
            actor
        };
        let theme = self.theme(&args).map_err(|m| color_eyre::eyre::eyre!(m))?;
        let mut options = crate::commands::tui::options(
            &shared.loaded,
            &args,
            actor,
            theme,
            shared.keys.clone(),
            shared.payouts.clone(),
        );
        options.poller.reads = shared.reads.clone();
        let mut writer = ChannelWriter::new(out);
        crossterm::queue!(writer, crossterm::terminal::EnterAlternateScreen)?;
        if options.settings.mouse {
            crossterm::queue!(writer, crossterm::event::EnableMouseCapture)?;
        }
        let mut terminal = ratatui::Terminal::new(SshBackend::new(writer, self.size.clone()))?;
        let mut events = events;
        let stream = futures::stream::poll_fn(move |cx| events.poll_recv(cx));
        let note = Arc::new(Mutex::new(None::<String>));
        let stop = stop_when(
            self.stop.clone(),
            shared.shutdown.clone(),
            self.activity.clone(),
            shared.idle_timeout,
            note.clone(),
        );
        // The client's terminal back as soon as the loop ends (the tasks may
        // take a moment to finish what was asked).
        let restore = |t: &mut ratatui::Terminal<SshBackend>| {
            let backend = t.backend_mut();
            let _ = io::Write::write_all(backend, RESTORE);
            let _ = io::Write::flush(backend);
        };
        crate::tui::drive(
            shared.pool.clone(),
            &options,
            &mut terminal,
            stream,
            stop,
            restore,
        )
        .await?;
        Ok(note.lock().ok().and_then(|n| n.clone()))
    }

    /// The theme for the client's terminal: `[tui] theme`, its colours from
    /// the client's `TERM`/`COLORTERM`/`NO_COLOR`, ASCII when asked or when
    /// the client said its locale is not UTF-8 (none said is taken as UTF-8).
    fn theme(&self, args: &TuiArgs) -> Result<Theme, String> {
        let env = |k: &str| -> Option<String> {
            if k == "TERM" {
                return Some(self.term.clone());
            }
            self.env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let said_locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .any(|k| env(k).is_some_and(|v| !v.is_empty()));
        let ascii = args.ascii || (said_locale && !locale_is_utf8(env));
        Theme::load(
            &self.shared.loaded.config.tui.theme,
            ColorMode::detect(env),
            ascii,
        )
    }
}

/// Completes when the dashboard must quit without the operator asking: the
/// connection ended, the server stops, or no keystroke for `idle`.
pub(super) async fn stop_when(
    connection: CancellationToken,
    shutdown: CancellationToken,
    activity: Arc<Mutex<Instant>>,
    idle: Option<Duration>,
    note: Arc<Mutex<Option<String>>>,
) {
    let idle_out = async {
        let Some(idle) = idle else {
            return std::future::pending::<()>().await;
        };
        loop {
            let last = activity.lock().map_or_else(|_| Instant::now(), |at| *at);
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    };
    let said = tokio::select! {
        () = shutdown.cancelled() => "the server is stopping: dashboard closed".to_string(),
        () = connection.cancelled() => "connection closed".to_string(),
        () = idle_out => format!(
            "no keystroke for {} minutes ([ssh] idle_timeout_s): dashboard closed",
            idle.map_or(0, |d| d.as_secs() / 60)
        ),
    };
    if let Ok(mut n) = note.lock() {
        *n = Some(said);
    }
}
