//! Deterministic synthetic data (`lsn-ops seed`).
use crate::cli::Failure;
use crate::config::Loaded;
pub async fn run(_loaded: &Loaded, _orders: u64, _seed: u64) -> Result<u8, Failure> {
    Err(Failure {
        code: 1,
        message: "seed: being written".into(),
    })
}
