//! `lsn-ops seed --orders N --seed S`: deterministic synthetic data into an
//! empty database (the generator is [`crate::store::seed`]), then one summary
//! line and the row count of every seeded table.

use crate::cli::Failure;
use crate::config::Loaded;
use crate::store::seed::seed_database;

/// Connects, migrates, seeds; refuses a database that already has data.
pub async fn run(loaded: &Loaded, orders: u64, seed: u64) -> Result<u8, Failure> {
    let pool = crate::store::connect(&loaded.config.database).await?;
    crate::store::migrate(&pool).await?;
    let summary = seed_database(&pool, orders, seed, &loaded.timezone, true)
        .await
        .map_err(Failure::from)?;
    println!(
        "seeded {} orders (seed {}) in {:.1}s; GMV {}",
        summary.orders,
        summary.seed,
        summary.elapsed.as_secs_f64(),
        summary.gmv.display()
    );
    for (table, n) in &summary.counts {
        println!("  {table:<20} {n:>10}");
    }
    Ok(0)
}
