//! `lsn-ops demo`: one command to see it all. Creates the database if it is
//! missing, migrates, registers the current user as admin, seeds demo data if
//! the database is empty, and opens the dashboard.
//! (The provider simulators' live traffic joins with the worker, issue 4.)

use crate::cli::{Failure, TuiArgs};
use crate::config::Loaded;
use crate::domain::operators::Role;

/// Demo data size: big enough to look real, quick to load.
pub const DEMO_ORDERS: u64 = 20_000;
pub const DEMO_SEED: u64 = 7;

pub async fn run(loaded: &Loaded, args: TuiArgs) -> Result<u8, Failure> {
    let db = &loaded.config.database;
    if crate::store::ensure_database(db).await? {
        eprintln!("lsn-ops demo: created the database");
    }
    let pool = crate::store::connect(db).await?;
    crate::store::migrate(&pool).await?;
    let me = crate::store::operators::current_user();
    let operator = args.operator.clone().unwrap_or_else(|| me.clone());
    crate::store::operators::upsert(&pool, &operator, Role::Admin, "demo")
        .await
        .map_err(crate::store::StoreError::from)?;
    eprintln!(
        "lsn-ops demo: {operator} is an admin; seeding demo data if the database is empty..."
    );
    let seeded = crate::seed::seed_if_empty(&pool, DEMO_ORDERS, DEMO_SEED, &loaded.timezone, true)
        .await
        .map_err(Failure::from)?;
    if seeded {
        eprintln!("lsn-ops demo: seeded {DEMO_ORDERS} orders");
    }
    super::tui::run_with_pool(loaded, args, pool).await
}
