//! Logging and internal-error reports: tracing to a daily file under the log
//! directory, never to the terminal (the dashboard owns the screen), and the
//! panic hook that turns a panic into one line on stderr plus a full report
//! (with backtrace) in a file.
//!
//! The log directory is `[log] dir`, or by default the XDG state directory
//! (`$XDG_STATE_HOME/lsn-ops`, else `~/.local/state/lsn-ops`), so any OS
//! account can run any command from anywhere. A directory that cannot be
//! created or written turns file logging off with one warning line; the
//! command goes on.

use std::backtrace::Backtrace;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogConfig;

/// Where panic reports go once logging has started (else the temp directory).
static REPORT_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The log directory: `[log] dir` when set, else the XDG state directory.
pub fn log_dir(config: &LogConfig) -> PathBuf {
    if !config.dir.trim().is_empty() {
        return PathBuf::from(&config.dir);
    }
    state_home()
}

/// The state directory (`[log] dir` and `[ssh] host_key` default to it).
pub fn state_home() -> PathBuf {
    state_dir(
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
        crate::identity::os_home,
    )
}

/// `$XDG_STATE_HOME/lsn-ops` (only an absolute path counts, as the XDG spec
/// says), else `$HOME/.local/state/lsn-ops`, else the same under the
/// account's home from the user database, else under the temp directory.
fn state_dir(
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
    account_home: impl FnOnce() -> Option<PathBuf>,
) -> PathBuf {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(xdg) = set(xdg_state_home).filter(|p| p.is_absolute()) {
        return xdg.join("lsn-ops");
    }
    let home = set(home).or_else(account_home);
    match home {
        Some(home) => home.join(".local/state/lsn-ops"),
        None => std::env::temp_dir().join("lsn-ops"),
    }
}

/// Starts file logging; keep the guard alive until exit so buffered lines are
/// written. If the directory cannot be created or written, logging is off
/// and the reason (one line) is returned for the caller to mention once.
pub fn init(config: &LogConfig, file_name: &str) -> Result<WorkerGuard, String> {
    let dir = log_dir(config);
    let unusable = |e: &dyn std::fmt::Display| {
        let e = e.to_string();
        let e = e.lines().next().unwrap_or_default().to_string();
        format!("log directory {}: {e}", dir.display())
    };
    std::fs::create_dir_all(&dir).map_err(|e| unusable(&e))?;
    let filter = EnvFilter::try_new(&config.level)
        .or_else(|_| EnvFilter::try_new("info"))
        .map_err(|e| format!("[log] level: {e}"))?;
    // The builder opens today's file now, so an unwritable directory is an
    // error here rather than a panic in `rolling::daily`.
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(file_name)
        .build(&dir)
        .map_err(|e| unusable(&std::io::Error::other(root_cause(&e))))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false),
        )
        .with(tracing_error::ErrorLayer::default())
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))?;
    if let Ok(mut report_dir) = REPORT_DIR.lock() {
        *report_dir = Some(dir);
    }
    Ok(guard)
}

/// The innermost error's message ("Permission denied (os error 13)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut e = e;
    while let Some(source) = e.source() {
        e = source;
    }
    e.to_string()
}

/// Replaces the default panic output: one line on stderr,
/// `lsn-ops: internal error: MESSAGE at FILE:LINE (full report: PATH)`, and
/// the full report with its backtrace in a file in the log directory (the
/// temp directory when that is not usable). With `RUST_BACKTRACE` set (not
/// `0`) the full report goes to stderr too. Hooks installed later (the
/// dashboard's terminal restore) run first and then call this one.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload());
        let location = info.location().map_or_else(
            || "an unknown place".to_string(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        let thread = std::thread::current();
        let report = format!(
            "lsn-ops {} internal error (panic)\nat: {}\nthread: {}\nmessage: {}\ncommand: {}\n\nbacktrace:\n{}\n",
            env!("CARGO_PKG_VERSION"),
            location,
            thread.name().unwrap_or("unnamed"),
            message,
            std::env::args().collect::<Vec<_>>().join(" "),
            Backtrace::force_capture(),
        );
        let saved = save_report(&report);
        tracing::error!(%message, %location, report = %saved, "internal error (panic)");
        let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("lsn-ops: internal error: {one_line} at {location} (full report: {saved})");
        let verbose = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0");
        if verbose {
            eprint!("{report}");
        }
    }));
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Writes the report to the log directory, else the temp directory; returns
/// the path, or why it could not be written.
fn save_report(report: &str) -> String {
    let name = format!(
        "lsn-ops-panic-{}-{}.txt",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    );
    let logs = REPORT_DIR.lock().ok().and_then(|d| d.clone());
    let mut last_error = String::from("no directory");
    for dir in logs.into_iter().chain([std::env::temp_dir()]) {
        let path = dir.join(&name);
        match write_private(&path, report) {
            Ok(()) => return path.display().to_string(),
            Err(e) => last_error = format!("{}: {e}", path.display()),
        }
    }
    format!("not written: {last_error}")
}

/// Creates `path` readable by its owner only (a report may name orders).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_directory_follows_xdg_then_home() {
        let none = || None;
        assert_eq!(
            state_dir(Some("/xdg".into()), Some("/home/u".into()), none),
            PathBuf::from("/xdg/lsn-ops")
        );
        // A relative XDG_STATE_HOME is ignored, as the spec says.
        assert_eq!(
            state_dir(Some("rel".into()), Some("/home/u".into()), none),
            PathBuf::from("/home/u/.local/state/lsn-ops")
        );
        assert_eq!(
            state_dir(Some("".into()), None, || Some(PathBuf::from("/home/p"))),
            PathBuf::from("/home/p/.local/state/lsn-ops")
        );
        assert_eq!(
            state_dir(None, None, none),
            std::env::temp_dir().join("lsn-ops")
        );
    }

    #[test]
    fn a_configured_directory_wins() {
        let config = LogConfig {
            dir: "/var/log/lsn-ops".into(),
            level: "info".into(),
        };
        assert_eq!(log_dir(&config), PathBuf::from("/var/log/lsn-ops"));
    }
}
