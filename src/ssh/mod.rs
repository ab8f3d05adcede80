//! `lsn-ops ssh-server`: the dashboard served over SSH (russh), the way
//! Charm's Wish serves terminal apps. The database credentials stay on this
//! server; operators need only an SSH client and a key an admin registered.
//!
//! - **Who**: public-key authentication only. The key's SHA256 fingerprint is
//!   looked up in `operator_keys` (`store::operator_keys`); an unknown key is
//!   refused during authentication, before any channel can be opened. The
//!   key's owner is the operator, whose role applies through
//!   `store::authz::authorize` like everywhere else. Every login and logout is
//!   an audit row (`ssh.login`, `ssh.logout`); a login that cannot be audited
//!   is refused.
//! - **What**: each session channel with a PTY (`ssh -t`) gets its own
//!   dashboard: the same [`crate::tui::drive`] loop, `App`, poller and tasks as
//!   the local one, drawn through [`term::SshBackend`] at the client's size
//!   (window-change redraws) and theme (its `TERM`, `LANG`, `NO_COLOR`), fed by
//!   [`input::InputParser`]. The command picks the mode: none is the
//!   dashboard, `wall` the read-only wall monitor, `readonly` a read-only
//!   dashboard, `ascii` ASCII borders (words may be combined).
//! - **Limits**: `[ssh] max_sessions` dashboards at once (one more is told so
//!   and closed), `[ssh] idle_timeout_s` without a keystroke ends a dashboard.
//!   However a dashboard ends (quit, idle, channel or connection gone,
//!   SIGTERM), the app quits, which gives back the fraud claims it holds
//!   (and claims expire anyway); the client's terminal is put back (main
//!   screen, cursor, no mouse capture) whenever the connection still stands.

pub mod input;
pub mod keys;
pub mod term;

mod dashboard;
use dashboard::Dashboard;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::Event;
use russh::keys::PublicKey;
use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet, Pty};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::cli::Failure;
use crate::config::Loaded;
use crate::store::operator_keys;

use input::InputParser;
use term::PtySize;

/// What the client's terminal is given back when a dashboard ends, whatever
/// the way: mouse reports off, main screen, cursor shown, attributes reset.
const RESTORE: &[u8] =
    b"\x1b[?1006l\x1b[?1015l\x1b[?1003l\x1b[?1002l\x1b[?1000l\x1b[?1049l\x1b[?25h\x1b[0m";

/// Client environment variables a dashboard reads (its theme); others are refused.
const ENV_ACCEPTED: [&str; 5] = ["LANG", "LC_ALL", "LC_CTYPE", "NO_COLOR", "COLORTERM"];

/// `[ssh]`, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    pub host_key: PathBuf,
    pub max_sessions: usize,
    pub idle_timeout: Option<Duration>,
}

/// What every connection shares.
struct Shared {
    loaded: Loaded,
    pool: PgPool,
    keys: crate::tui::keymap::Rebound,
    payouts: crate::store::payouts::Schedule,
    /// One permit per open dashboard (`max_sessions`).
    slots: Arc<Semaphore>,
    max_sessions: usize,
    idle_timeout: Option<Duration>,
    /// Cancelled on SIGTERM/SIGINT: every dashboard quits.
    shutdown: CancellationToken,
    /// Connections still open (their logout not yet audited).
    open: AtomicUsize,
    closed: Notify,
    /// The sessions' dashboards read each snapshot version once, together.
    reads: crate::store::snapshot::shared::Reads,
}

/// Who a connection authenticated as; read again after it ends, for the logout row.
#[derive(Debug, Default)]
struct ConnState {
    who: Option<Who>,
    dashboards: u32,
}

#[derive(Debug, Clone)]
struct Who {
    operator: String,
    fingerprint: String,
}

/// Serves until SIGTERM or SIGINT; then every dashboard quits (giving its
/// claims back), logouts are audited, and the process exits 0.
pub async fn serve(loaded: Loaded, settings: Settings) -> Result<u8, Failure> {
    let keys = crate::commands::tui::rebound_keys(&loaded)?;
    let payouts = crate::store::payouts::Schedule::from_config(&loaded.config)
        .map_err(|message| Failure { code: 2, message })?;
    let (host_key, created) =
        keys::load_or_create_host_key(&settings.host_key).map_err(|message| Failure {
            code: 1,
            message: format!("[ssh] host_key: {message}"),
        })?;
    let host_fingerprint = keys::fingerprint(host_key.public_key());
    // A LISTEN holds a connection: the builder's (one session's) and the
    // readers' one (`shared::Reads`); one per session is room to spare. The
    // rest is shared by the snapshots and the operators' actions.
    let mut database = loaded.config.database.clone();
    database.max_connections = database
        .max_connections
        .saturating_add(u32::try_from(settings.max_sessions).unwrap_or(u32::MAX));
    let pool = crate::store::connect(&database).await?;
    crate::store::check_migrated(&pool).await?;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| Failure {
            code: 1,
            message: format!("[ssh] listen {}: cannot listen: {e}", settings.listen),
        })?;
    let local = listener
        .local_addr()
        .map_or_else(|_| settings.listen.clone(), |a| a.to_string());
    let config = Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard(
            concat!("SSH-2.0-lsn-ops_", env!("CARGO_PKG_VERSION")).into(),
        ),
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        max_auth_attempts: 6,
        keys: vec![host_key],
        // Idle dashboards end themselves (with a word to the operator); this
        // only collects connections that never open one. Keepalives find
        // clients that vanished without closing.
        inactivity_timeout: Some(
            settings
                .idle_timeout
                .unwrap_or(Duration::from_secs(3600))
                .saturating_add(Duration::from_secs(60)),
        ),
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    });
    let shared = Arc::new(Shared {
        loaded,
        pool,
        keys,
        payouts,
        slots: Arc::new(Semaphore::new(settings.max_sessions)),
        max_sessions: settings.max_sessions,
        idle_timeout: settings.idle_timeout,
        shutdown: CancellationToken::new(),
        open: AtomicUsize::new(0),
        closed: Notify::new(),
        reads: Default::default(),
    });
    println!(
        "lsn-ops ssh-server: listening on {local}; host key {host_fingerprint} ({}{}); at most {} dashboards",
        settings.host_key.display(),
        if created { ", new" } else { "" },
        settings.max_sessions
    );
    tracing::info!(listen = %local, host_key = %host_fingerprint, created, max_sessions = settings.max_sessions, "ssh server listening");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure {
        code: 1,
        message: format!("cannot watch for SIGTERM: {e}"),
    })?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    shared.open.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(connection(shared.clone(), config.clone(), socket, peer));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(error = %e, "ssh accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(listener);
    tracing::info!("ssh server stopping: every dashboard quits");
    shared.shutdown.cancel();
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let closed = shared.closed.notified();
            if shared.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = shared.open.load(Ordering::SeqCst),
            "ssh server stopped with connections still open"
        );
    }
    Ok(0)
}

/// One TCP connection: the SSH session, then its logout row.
async fn connection(
    shared: Arc<Shared>,
    config: Arc<russh::server::Config>,
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let state = Arc::new(Mutex::new(ConnState::default()));
    let started = Instant::now();
    let handler = Conn {
        shared: shared.clone(),
        peer,
        state: state.clone(),
        channels: HashMap::new(),
        stop: shared.shutdown.child_token(),
    };
    let stop = handler.stop.clone();
    // The version exchange is bounded: a client that never sends one goes.
    let started_session = tokio::time::timeout(
        Duration::from_secs(30),
        russh::server::run_stream(config, socket, handler),
    )
    .await;
    match started_session {
        Ok(Ok(mut session)) => {
            let handle = session.handle();
            tokio::select! {
                result = &mut session => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "ssh connection ended with an error");
                    }
                }
                () = shared.shutdown.cancelled() => {
                    // The dashboards are quitting and closing their channels;
                    // a client then leaves by itself. Give it a moment.
                    if tokio::time::timeout(Duration::from_secs(10), &mut session).await.is_err() {
                        let _ = handle
                            .disconnect(russh::Disconnect::ByApplication, "the server is stopping".into(), String::new())
                            .await;
                        let _ = tokio::time::timeout(Duration::from_secs(2), &mut session).await;
                    }
                }
            }
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "ssh handshake failed"),
        Err(_) => tracing::debug!(%peer, "ssh handshake timed out"),
    }
    // Dashboards of this connection that are still up quit now.
    stop.cancel();
    let (who, dashboards) = match state.lock() {
        Ok(s) => (s.who.clone(), s.dashboards),
        Err(_) => (None, 0),
    };
    if let Some(who) = who {
        let seconds = started.elapsed().as_secs();
        if let Err(e) = operator_keys::record_logout(
            &shared.pool,
            &who.operator,
            &who.fingerprint,
            &peer.to_string(),
            seconds,
            dashboards,
        )
        .await
        {
            tracing::error!(operator = %who.operator, error = %e, "cannot audit an ssh logout");
        }
        tracing::info!(operator = %who.operator, %peer, seconds, dashboards, "ssh logout");
    }
    shared.open.fetch_sub(1, Ordering::SeqCst);
    shared.closed.notify_waiters();
}

/// The russh handler of one connection.
struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    state: Arc<Mutex<ConnState>>,
    channels: HashMap<ChannelId, Chan>,
    /// Cancelled when the connection ends (or the server stops).
    stop: CancellationToken,
}

/// A session channel until its dashboard starts, then its input side.
struct Chan {
    term: String,
    size: PtySize,
    pty: bool,
    env: Vec<(String, String)>,
    parser: InputParser,
    /// Events to the dashboard; dropped when the channel ends (the dashboard quits).
    events: Option<mpsc::UnboundedSender<io::Result<Event>>>,
    activity: Arc<Mutex<Instant>>,
    started: bool,
}

/// How a dashboard was asked for: the words of `ssh -t ops@host [WORDS]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    pub wall: bool,
    pub readonly: bool,
    pub ascii: bool,
}

impl Mode {
    /// `wall`, `readonly`, `ascii`, in any combination; nothing is the dashboard.
    pub fn parse(command: &str) -> Result<Mode, String> {
        let mut mode = Mode::default();
        for word in command.split_whitespace() {
            match word {
                "wall" => mode.wall = true,
                "readonly" | "--readonly" => mode.readonly = true,
                "ascii" | "--ascii" => mode.ascii = true,
                "tui" | "dashboard" => {}
                other => {
                    return Err(format!(
                        "unknown command {other:?}: ssh -t HOST [wall] [readonly] [ascii]"
                    ));
                }
            }
        }
        Ok(mode)
    }
}

fn reject() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])),
        partial_success: false,
    }
}

impl Conn {
    async fn owner(&self, key: &PublicKey) -> Option<String> {
        let fingerprint = keys::fingerprint(key);
        match operator_keys::owner_of(&self.shared.pool, &fingerprint).await {
            Ok(owner) => owner,
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "cannot look an ssh key up: refused");
                None
            }
        }
    }

    /// Starts the channel's dashboard, or says why not and closes it.
    async fn start(&mut self, channel: ChannelId, command: &str, session: &mut Session) {
        let handle = session.handle();
        let who = self.state.lock().ok().and_then(|s| s.who.clone());
        let Some(chan) = self.channels.get_mut(&channel) else {
            let _ = session.channel_failure(channel);
            return;
        };
        let refuse = |message: String, code: u32| {
            let handle = handle.clone();
            async move {
                let _ = handle
                    .data(channel, format!("lsn-ops: {message}\r\n"))
                    .await;
                let _ = handle.exit_status_request(channel, code).await;
                let _ = handle.eof(channel).await;
                let _ = handle.close(channel).await;
            }
        };
        let _ = session.channel_success(channel);
        if chan.started {
            return;
        }
        chan.started = true;
        let (Some(who), true) = (who, chan.pty) else {
            tokio::spawn(refuse(
                "the dashboard needs a terminal: ssh -t (scripts: lsn-ops status on the server)"
                    .into(),
                2,
            ));
            return;
        };
        let mode = match Mode::parse(command) {
            Ok(mode) => mode,
            Err(message) => {
                tokio::spawn(refuse(message, 2));
                return;
            }
        };
        let Ok(permit) = self.shared.slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(
                format!(
                    "{} dashboards are open, the most this server serves ([ssh] max_sessions); try again later",
                    self.shared.max_sessions
                ),
                1,
            ));
            return;
        };
        if let Ok(mut s) = self.state.lock() {
            s.dashboards += 1;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        chan.events = Some(tx);
        let dashboard = Dashboard {
            shared: self.shared.clone(),
            handle,
            channel,
            who,
            mode,
            term: chan.term.clone(),
            env: chan.env.clone(),
            size: chan.size.clone(),
            activity: chan.activity.clone(),
            stop: self.stop.clone(),
            peer: self.peer,
        };
        tokio::spawn(dashboard.run(rx, permit));
    }
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Spares the client a signature for a key that would be refused.
        Ok(match self.owner(offer.public_key).await {
            Some(_) => Auth::Accept,
            None => reject(),
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let fingerprint = keys::fingerprint(key.public_key);
        let Some(operator) = self.owner(key.public_key).await else {
            tracing::info!(peer = %self.peer, user, %fingerprint, "ssh key refused: not an operator's");
            return Ok(reject());
        };
        let peer = self.peer.to_string();
        if let Err(e) =
            operator_keys::record_login(&self.shared.pool, &operator, &fingerprint, &peer).await
        {
            tracing::warn!(%operator, error = %e, "cannot audit an ssh login: refused");
            return Ok(reject());
        }
        tracing::info!(%operator, peer = %self.peer, user, %fingerprint, "ssh login");
        if let Ok(mut s) = self.state.lock() {
            s.who = Some(Who {
                operator,
                fingerprint,
            });
        }
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(
            channel.id(),
            Chan {
                term: String::new(),
                size: PtySize::new(80, 24),
                pty: false,
                env: Vec::new(),
                parser: InputParser::new(),
                events: None,
                activity: Arc::new(Mutex::new(Instant::now())),
                started: false,
            },
        );
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(chan) if !chan.started => {
                chan.term = term.chars().take(64).collect();
                chan.size.set(clamp_size(col_width), clamp_size(row_height));
                chan.pty = true;
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        variable_name: &str,
        variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(chan)
                if ENV_ACCEPTED.contains(&variable_name)
                    && variable_value.len() <= 64
                    && chan.env.len() < ENV_ACCEPTED.len() =>
            {
                chan.env
                    .push((variable_name.to_string(), variable_value.to_string()));
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.start(channel, "", session).await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).into_owned();
        self.start(channel, &command, session).await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // No sftp, no anything else.
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(chan) = self.channels.get_mut(&channel)
            && let Some(events) = &chan.events
        {
            if let Ok(mut at) = chan.activity.lock() {
                *at = Instant::now();
            }
            for event in chan.parser.feed(data) {
                let _ = events.send(Ok(event));
            }
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(chan) = self.channels.get_mut(&channel) {
            let (w, h) = (clamp_size(col_width), clamp_size(row_height));
            // The size first: the redraw the event causes reads it.
            chan.size.set(w, h);
            if let Some(events) = &chan.events {
                let _ = events.send(Ok(Event::Resize(w, h)));
            }
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // No more input: the dashboard quits (and closes the channel).
        if let Some(chan) = self.channels.get_mut(&channel) {
            chan.events = None;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}

/// A terminal dimension from the client, within what a screen can be.
fn clamp_size(n: u32) -> u16 {
    u16::try_from(n.clamp(1, 1000)).unwrap_or(1000)
}

#[cfg(test)]
mod tests {
    use super::dashboard::stop_when;
    use super::*;

    #[test]
    fn the_command_picks_the_mode() {
        assert_eq!(Mode::parse(""), Ok(Mode::default()));
        assert_eq!(
            Mode::parse(" wall "),
            Ok(Mode {
                wall: true,
                ..Mode::default()
            })
        );
        assert_eq!(
            Mode::parse("readonly ascii"),
            Ok(Mode {
                readonly: true,
                ascii: true,
                ..Mode::default()
            })
        );
        assert!(
            Mode::parse("bash -i")
                .unwrap_err()
                .contains("unknown command")
        );
    }

    #[tokio::test]
    async fn an_idle_dashboard_is_stopped_and_told_why_keystrokes_put_it_off() {
        let activity = Arc::new(Mutex::new(Instant::now()));
        let note = Arc::new(Mutex::new(None));
        let idle = Duration::from_millis(300);
        let started = Instant::now();
        let stop = stop_when(
            CancellationToken::new(),
            CancellationToken::new(),
            activity.clone(),
            Some(idle),
            note.clone(),
        );
        // A keystroke at 200 ms moves the deadline to 500 ms.
        let typing = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Ok(mut at) = activity.lock() {
                *at = Instant::now();
            }
        };
        tokio::join!(stop, typing);
        assert!(started.elapsed() >= Duration::from_millis(480));
        let said = note.lock().expect("note").clone().unwrap_or_default();
        assert!(said.contains("idle_timeout_s"), "{said}");

        // The server stopping ends it at once, whatever the idle timeout.
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let note = Arc::new(Mutex::new(None));
        stop_when(
            CancellationToken::new(),
            shutdown,
            Arc::new(Mutex::new(Instant::now())),
            None,
            note.clone(),
        )
        .await;
        let said = note.lock().expect("note").clone().unwrap_or_default();
        assert!(said.contains("server is stopping"), "{said}");
    }

    #[test]
    fn client_sizes_are_kept_within_a_screen() {
        assert_eq!(clamp_size(0), 1);
        assert_eq!(clamp_size(120), 120);
        assert_eq!(clamp_size(u32::MAX), 1000);
    }
}
