//! `lsn-ops` / `lsn-ops tui [--wall] [--operator NAME] [--ascii]`: the dashboard.
//!
//! The dashboard starts even when the database is down (it says so in red and
//! keeps retrying), so the pool is created lazily here; only a malformed URL or
//! theme is refused up front (exit 2).

use std::io::IsTerminal;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::cli::{Failure, TuiArgs};
use crate::config::Loaded;
use crate::domain::money::Currency;
use crate::tui::app::Settings;
use crate::tui::poller::PollerConfig;
use crate::tui::theme::{ColorMode, Theme, locale_is_utf8};

pub async fn run(loaded: &Loaded, args: TuiArgs) -> Result<u8, Failure> {
    let options =
        crate::store::connect_options(&loaded.config.database).map_err(|reason| Failure {
            code: 2,
            message: format!("[database] url: {reason}"),
        })?;
    let pool = PgPoolOptions::new()
        // The LISTEN connection, plus three for the snapshot's parallel queries.
        .max_connections(5)
        // Short: an unreachable database should show on screen within seconds.
        .acquire_timeout(Duration::from_secs(
            loaded.config.database.connect_timeout_s.clamp(1, 3),
        ))
        .connect_lazy_with(options);
    run_with_pool(loaded, args, pool).await
}

/// The operator: `--operator`, else `$USER`.
pub fn operator_name(args: &TuiArgs) -> String {
    args.operator
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(crate::store::operators::current_user)
}

/// Builds the dashboard's options from the configuration and the flags.
pub fn options(loaded: &Loaded, args: &TuiArgs) -> Result<crate::tui::Options, Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let ascii = args.ascii || !locale_is_utf8(env);
    let theme = Theme::load(&loaded.config.tui.theme, ColorMode::detect(env), ascii)
        .map_err(|message| Failure { code: 2, message })?;
    let operator = operator_name(args);
    let threshold = loaded.config.fraud.high_risk_threshold;
    let currency = Currency::parse(&loaded.config.payouts.currency).unwrap_or(Currency::USD);
    Ok(crate::tui::Options {
        settings: Settings {
            wall: args.wall,
            readonly: args.wall,
            operator: operator.clone(),
            tz: loaded.timezone,
            threshold,
            wall_cycle: chrono::Duration::seconds(
                loaded.config.tui.wall_cycle_s.clamp(1, 86_400) as i64
            ),
        },
        poller: PollerConfig {
            refresh: Duration::from_millis(loaded.config.tui.refresh_ms.clamp(100, 3_600_000)),
            tz: loaded.timezone,
            threshold,
            currency,
            operator,
        },
        theme,
        agent_refund_limit_minor: loaded.config.ops.agent_refund_limit_minor,
        payouts: crate::store::payouts::Schedule::from_config(&loaded.config)
            .map_err(|message| Failure { code: 2, message })?,
    })
}

pub async fn run_with_pool(loaded: &Loaded, args: TuiArgs, pool: PgPool) -> Result<u8, Failure> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Failure {
            code: 2,
            message:
                "the dashboard needs a terminal; for scripts use `lsn-ops status --format json`"
                    .into(),
        });
    }
    let options = options(loaded, &args)?;
    tracing::info!(operator = %options.settings.operator, wall = args.wall, theme = %options.theme.name, "dashboard starting");
    crate::tui::run(pool, options).await?;
    Ok(0)
}
