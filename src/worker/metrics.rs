//! The worker's counters and gauges, rendered in the Prometheus text exposition
//! format (version 0.0.4) for `GET /metrics`. A handful of series do not need a
//! metrics library: counters live in one map behind a mutex.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// Every series we export: name, type, help.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        RECEIVED,
        "counter",
        "Webhook requests received, by provider.",
    ),
    (
        VERIFIED,
        "counter",
        "Webhook requests whose signature verified, by provider.",
    ),
    (
        REJECTED,
        "counter",
        "Webhook requests refused, by provider and reason.",
    ),
    (
        INBOX_INSERTS,
        "counter",
        "Verified events stored as new inbox rows, by provider.",
    ),
    (
        INBOX_DUPLICATES,
        "counter",
        "Verified events already in the inbox (redeliveries), by provider.",
    ),
    (
        FUTURE_DATED,
        "counter",
        "Verified events dated more than 5 minutes after their receipt (ordered at the receipt time instead), by provider.",
    ),
    (
        DB_UP,
        "gauge",
        "1 when the database answered the last check or write, else 0.",
    ),
];

pub const RECEIVED: &str = "lsn_ops_webhooks_received_total";
pub const VERIFIED: &str = "lsn_ops_webhooks_verified_total";
pub const REJECTED: &str = "lsn_ops_webhooks_rejected_total";
pub const INBOX_INSERTS: &str = "lsn_ops_inbox_inserts_total";
pub const INBOX_DUPLICATES: &str = "lsn_ops_inbox_duplicates_total";
pub const DB_UP: &str = "lsn_ops_database_up";
pub const FUTURE_DATED: &str = "lsn_ops_webhooks_future_dated_total";

pub const PROVIDERS: [&str; 3] = ["paypal", "wise", "twilio"];

#[derive(Debug)]
pub struct Metrics {
    /// (family, rendered label set) → value.
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    db_up: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut counters = BTreeMap::new();
        for provider in PROVIDERS {
            for family in [
                RECEIVED,
                VERIFIED,
                INBOX_INSERTS,
                INBOX_DUPLICATES,
                FUTURE_DATED,
            ] {
                counters.insert((family, labels(&[("provider", provider)])), 0);
            }
        }
        Self {
            counters: Mutex::new(counters),
            db_up: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    pub fn inc(&self, family: &'static str, label_pairs: &[(&str, &str)]) {
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *counters.entry((family, labels(label_pairs))).or_insert(0) += 1;
    }

    pub fn get(&self, family: &'static str, label_pairs: &[(&str, &str)]) -> u64 {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        counters
            .get(&(family, labels(label_pairs)))
            .copied()
            .unwrap_or(0)
    }

    pub fn set_db_up(&self, up: bool) {
        self.db_up.store(i64::from(up), Ordering::Relaxed);
    }

    /// The text exposition: `# HELP`, `# TYPE`, then one line per series.
    pub fn render(&self) -> String {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            if *name == DB_UP {
                let _ = writeln!(out, "{name} {}", self.db_up.load(Ordering::Relaxed));
                continue;
            }
            for ((family, labels), value) in counters.iter() {
                if family == name {
                    let _ = writeln!(out, "{name}{labels} {value}");
                }
            }
        }
        out
    }
}

/// `{a="1",b="2"}` with values escaped as the format requires.
fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_labelled_series() {
        let m = Metrics::default();
        m.inc(
            REJECTED,
            &[("provider", "wise"), ("reason", "bad_signature")],
        );
        m.inc(
            REJECTED,
            &[("provider", "wise"), ("reason", "bad_signature")],
        );
        m.inc(RECEIVED, &[("provider", "wise")]);
        m.set_db_up(true);
        let text = m.render();
        assert!(text.contains("# TYPE lsn_ops_webhooks_rejected_total counter\n"));
        assert!(text.contains(
            "lsn_ops_webhooks_rejected_total{provider=\"wise\",reason=\"bad_signature\"} 2\n"
        ));
        assert!(text.contains("lsn_ops_webhooks_received_total{provider=\"wise\"} 1\n"));
        assert!(text.contains("lsn_ops_webhooks_received_total{provider=\"paypal\"} 0\n"));
        assert!(text.contains("lsn_ops_database_up 1\n"));
        assert_eq!(labels(&[("a", "x\"y\\z\n")]), "{a=\"x\\\"y\\\\z\\n\"}");
    }
}
