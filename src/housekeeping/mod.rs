//! The runbook's housekeeping, shared by the CLI (`lsn-ops maintenance`,
//! `lsn-ops report`) and the worker's weekly run (`worker::maintenance`):
//! the maintenance steps and the report's renderings.

pub mod maintenance;
pub mod pdf;
pub mod render;
