//! `[disputes]`: the worker's dispute sweep (evidence gathered again, the
//! runbook's auto-submission).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisputesConfig {
    /// Submit complete evidence by itself once the internal 24 h deadline has
    /// come, when PayPal's deadline is more than 48 h away (the runbook).
    pub auto_submit: bool,
    /// How often the worker gathers evidence again and checks for
    /// auto-submission, in seconds.
    pub sweep_s: u64,
}

impl Default for DisputesConfig {
    fn default() -> Self {
        Self {
            auto_submit: true,
            sweep_s: 30,
        }
    }
}
