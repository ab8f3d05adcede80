//! Logging: tracing to a daily file under `[log] dir`, never to the terminal
//! (the dashboard owns the screen). Errors and panics are reported by color-eyre.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogConfig;

/// Starts file logging; keep the guard alive until exit so buffered lines are
/// written. If the directory cannot be used, logging is off and the reason is
/// returned for the caller to mention once.
pub fn init(config: &LogConfig, file_name: &str) -> Result<WorkerGuard, String> {
    let dir = Path::new(&config.dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("log directory {}: {e}", dir.display()))?;
    let filter = EnvFilter::try_new(&config.level)
        .or_else(|_| EnvFilter::try_new("info"))
        .map_err(|e| format!("[log] level: {e}"))?;
    let appender = tracing_appender::rolling::daily(dir, file_name);
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
    Ok(guard)
}
