//! Deterministic synthetic data (`lsn-ops seed`). (being written)
