//! What each CLI command does, one module per command. Commands own their
//! output (text, JSON) and exit codes; the work itself is in the store,
//! the domain and the long-running parts (worker, dashboard).

pub mod alerts;
pub mod demo;
pub mod fraud;
pub mod incidents;
pub mod operators;
pub mod payouts;
pub mod seed;
pub mod status;
pub mod tui;
pub mod worker;

use crate::cli::{Command, Failure, WorkerAction};
use crate::config::Loaded;

pub async fn dispatch(command: Command, loaded: Loaded) -> Result<u8, Failure> {
    match command {
        Command::Migrate => migrate(&loaded).await,
        Command::Seed(args) => seed::run(&loaded, args.orders, args.seed).await,
        Command::Status(args) => status::run(&loaded, args.format).await,
        Command::Fraud { action } => fraud::run(&loaded, action).await,
        Command::Operators { action } => operators::run(&loaded, action).await,
        Command::Alerts { action } => alerts::run(&loaded, action).await,
        Command::Incidents { action } => incidents::run(&loaded, action).await,
        Command::Tui(args) => tui::run(&loaded, args).await,
        Command::Demo(args) => demo::run(&loaded, args).await,
        Command::Worker { action: None } => worker::run(&loaded).await,
        Command::Worker {
            action: Some(WorkerAction::Replay { id }),
        } => worker::replay(&loaded, id).await,
        Command::Worker {
            action: Some(WorkerAction::Sync),
        } => worker::sync(&loaded).await,
        Command::Payouts { action } => payouts::run(&loaded, action).await,
        Command::Creators { action } => payouts::creators(&loaded, action).await,
        Command::Report { .. } => not_yet("reports", 0),
        Command::Maintenance { .. } => not_yet("maintenance", 0),
    }
}

fn not_yet(what: &str, issue: u32) -> Result<u8, Failure> {
    let which = if issue > 0 {
        format!(" (issue {issue})")
    } else {
        String::new()
    };
    Err(Failure {
        code: 1,
        message: format!("{what} is not yet available in this build{which}"),
    })
}

async fn migrate(loaded: &Loaded) -> Result<u8, Failure> {
    let pool = crate::store::connect(&loaded.config.database).await?;
    crate::store::migrate(&pool).await?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .map_err(crate::store::StoreError::from)?;
    println!(
        "database is at migration {applied} of {}",
        crate::store::MIGRATOR.iter().count()
    );
    Ok(0)
}
