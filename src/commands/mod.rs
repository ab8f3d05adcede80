//! What each CLI command does, one module per command. Commands own their
//! output (text, JSON) and exit codes; the work itself is in the store,
//! the domain and the long-running parts (worker, dashboard).

pub mod alerts;
pub mod checklist;
pub mod demo;
pub mod disputes;
pub mod fraud;
pub mod incidents;
pub mod inventory;
pub mod maintenance;
pub mod operators;
pub mod orders;
pub mod payouts;
pub mod report;
pub mod seed;
pub mod ssh_server;
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
        Command::SshServer => ssh_server::run(loaded).await,
        Command::Worker { action: None } => worker::run(&loaded).await,
        Command::Worker {
            action: Some(WorkerAction::Replay { id }),
        } => worker::replay(&loaded, id).await,
        Command::Worker {
            action: Some(WorkerAction::Sync),
        } => worker::sync(&loaded).await,
        Command::Payouts { action } => payouts::run(&loaded, action).await,
        Command::Creators { action } => payouts::creators(&loaded, action).await,
        Command::Disputes { action } => disputes::run(&loaded, action).await,
        Command::Orders { action } => orders::run(&loaded, action).await,
        Command::Refund(args) => orders::refund(&loaded, args).await,
        Command::Returns { action } => inventory::returns(&loaded, action).await,
        Command::Inventory { action } => inventory::run(&loaded, action).await,
        Command::Report { period } => report::run(&loaded, period).await,
        Command::Checklist { action } => checklist::run(&loaded, action).await,
        Command::Maintenance { task } => maintenance::run(&loaded, task).await,
    }
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
