//! `lsn-ops` / `lsn-ops tui [--wall] [--readonly] [--operator NAME] [--ascii]`:
//! the dashboard.
//!
//! The dashboard starts even when the database is down (it says so in red and
//! keeps retrying), so the pool is created lazily here; only a malformed URL or
//! theme is refused up front (exit 2). The operator is the OS account running
//! it ([`crate::identity`]); `--operator NAME` is checked against the database
//! at start (only an admin may act as someone else: exit 1 otherwise), and
//! the store checks again on every change.

use std::io::IsTerminal;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::cli::{Failure, TuiArgs};
use crate::config::Loaded;
use crate::domain::money::Currency;
use crate::domain::operators::{Actor, Refusal, Role};
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

/// Who acts from this dashboard: the OS account, or, with `--operator NAME`,
/// that account acting as NAME (read-only with `--readonly` or `--wall`).
/// `--operator` is refused (exit 1, one line) unless the account is an admin;
/// this is the friendly early answer, the store checks every change anyway.
pub async fn actor(pool: &PgPool, args: &TuiArgs) -> Result<Actor, Failure> {
    let me = crate::identity::os_account();
    let actor = match args.operator.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() && name != me => {
            let role = crate::store::operators::role_of(pool, &me)
                .await
                .map_err(|e| Failure {
                    code: 1,
                    message: format!(
                        "--operator: cannot check that {me} is an admin: {}",
                        crate::store::short_reason(&e)
                    ),
                })?;
            if role != Role::Admin {
                let refusal = Refusal::NotAdmin {
                    admin: me,
                    name: name.to_string(),
                };
                return Err(Failure {
                    code: 1,
                    message: format!("--operator: {refusal}"),
                });
            }
            Actor::acting_as(me, name)
        }
        _ => Actor::new(me),
    };
    Ok(if args.readonly || args.wall {
        actor.read_only()
    } else {
        actor
    })
}

/// The theme from `[tui] theme`, reduced to what the terminal shows
/// (`NO_COLOR`, 16 colours, ASCII when the locale is not UTF-8).
pub fn theme(loaded: &Loaded, args: &TuiArgs) -> Result<Theme, Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let ascii = args.ascii || !locale_is_utf8(env);
    Theme::load(&loaded.config.tui.theme, ColorMode::detect(env), ascii)
        .map_err(|message| Failure { code: 2, message })
}

/// Builds the dashboard's options from the configuration, the flags, the
/// actor and what was checked at start (the theme, the rebound keys).
pub fn options(
    loaded: &Loaded,
    args: &TuiArgs,
    actor: Actor,
    theme: Theme,
    keys: crate::tui::keymap::Rebound,
    payouts: crate::store::payouts::Schedule,
) -> crate::tui::Options {
    let operator = actor.name.clone();
    let threshold = loaded.config.fraud.high_risk_threshold;
    let currency = Currency::parse(&loaded.config.payouts.currency).unwrap_or(Currency::USD);
    crate::tui::Options {
        settings: Settings {
            wall: args.wall,
            readonly: actor.readonly,
            operator: operator.clone(),
            tz: loaded.timezone,
            threshold,
            wall_cycle: chrono::Duration::seconds(
                loaded.config.tui.wall_cycle_s.clamp(1, 86_400) as i64
            ),
            mouse: loaded.config.tui.mouse,
            keys: std::sync::Arc::new(keys),
        },
        poller: PollerConfig {
            refresh: Duration::from_millis(loaded.config.tui.refresh_ms.clamp(100, 3_600_000)),
            tz: loaded.timezone,
            threshold,
            currency,
            operator,
            reads: Default::default(),
        },
        theme,
        agent_refund_limit_minor: loaded.config.ops.agent_refund_limit_minor,
        return_window_days: loaded.config.ops.return_window_days,
        duplicate_window_minutes: loaded.config.ops.duplicate_window_minutes,
        actor,
        payouts,
        targets: crate::store::notify::Targets::from_config(&loaded.config.escalation),
    }
}

/// `[keys]` checked against the registry: every name an action, no clash in
/// any pane. A mistake is exit 2 naming the file (or variable), key and clash.
pub fn rebound_keys(loaded: &Loaded) -> Result<crate::tui::keymap::Rebound, Failure> {
    let wanted = &loaded.config.keys;
    if wanted.is_empty() {
        return Ok(Default::default());
    }
    let panes = crate::tui::panes::Panes::default();
    let scopes: Vec<Vec<&'static crate::tui::keymap::Section>> = crate::tui::panes::PaneId::ALL
        .iter()
        .map(|&id| {
            crate::tui::keymap::GLOBAL
                .iter()
                .chain(panes.get(id).sections().iter())
                .collect()
        })
        .collect();
    crate::tui::keymap::rebind(wanted, &scopes).map_err(|e| {
        let origin = loaded
            .file
            .as_ref()
            .map_or_else(|| "configuration".to_string(), |f| f.display().to_string());
        Failure {
            code: 2,
            message: format!("{origin}: {e}"),
        }
    })
}

pub async fn run_with_pool(loaded: &Loaded, args: TuiArgs, pool: PgPool) -> Result<u8, Failure> {
    // Configuration mistakes first (exit 2, with or without a terminal), then
    // who acts (a refused --operator is exit 1, even in a script), then the
    // terminal.
    let keys = rebound_keys(loaded)?;
    let theme = theme(loaded, &args)?;
    let payouts = crate::store::payouts::Schedule::from_config(&loaded.config)
        .map_err(|message| Failure { code: 2, message })?;
    let actor = actor(&pool, &args).await?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Failure {
            code: 2,
            message:
                "the dashboard needs a terminal; for scripts use `lsn-ops status --format json`"
                    .into(),
        });
    }
    let options = options(loaded, &args, actor, theme, keys, payouts);
    tracing::info!(operator = %options.actor.audit_name(), readonly = options.actor.readonly, wall = args.wall, theme = %options.theme.name, "dashboard starting");
    crate::tui::run(pool, options).await?;
    Ok(0)
}
