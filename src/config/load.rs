//! Loading the configuration: finding the file, layering defaults < file <
//! environment, and turning every problem into one [`ConfigError`] line that
//! names the source, the key and what was expected (with a "did you mean"
//! for a typo); then checking what types cannot (`validate`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::error::Kind;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Metadata, Profile, Provider};

use super::*;

/// A configuration problem, already phrased for the operator (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Where the configuration came from, for messages and `--help`.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    /// Parsed `[ops] timezone`.
    pub timezone: chrono_tz::Tz,
}

/// Which file to read: the explicit one, or the first that exists in the search order.
/// An explicit path (flag or `$LSN_OPS_CONFIG`) that does not exist is an error.
pub fn find_file(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(Some(path.to_path_buf()))
        } else {
            Err(ConfigError(format!(
                "{}: no such configuration file",
                path.display()
            )))
        };
    }
    if let Some(path) = std::env::var_os("LSN_OPS_CONFIG").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(Some(path))
        } else {
            Err(ConfigError(format!(
                "LSN_OPS_CONFIG={}: no such configuration file",
                path.display()
            )))
        };
    }
    let local = PathBuf::from("config.toml");
    if local.is_file() {
        return Ok(Some(local));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let user = PathBuf::from(home).join(".config/lsn-ops/config.toml");
        if user.is_file() {
            return Ok(Some(user));
        }
    }
    Ok(None)
}

/// Loads the configuration from the process environment.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let file = find_file(explicit)?;
    load_from(file.as_deref(), |name| std::env::var(name).ok())
}

/// Loads from `file` (if any) with `env` standing in for the environment: tests
/// pass a map, the binary passes `std::env::var`.
pub fn load_from(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        // Toml::file silently skips a missing file; read it ourselves so a syntax
        // error names the file, line and column.
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        figment = figment.merge(Named::new(path.display().to_string(), Toml::string(&text)));
    }
    figment = figment.merge(env_overrides(&env));

    let config: Config = figment
        .extract_lossy()
        .map_err(|e| describe_figment_error(&e))?;
    let timezone = validate(&config, &figment)?;
    Ok(Loaded {
        config,
        file: file.map(Path::to_path_buf),
        timezone,
    })
}

/// The environment as a TOML document of overrides, each value a string, with
/// every value's variable name remembered for error messages.
fn env_overrides(env: &impl Fn(&str) -> Option<String>) -> Figment {
    let mut figment = Figment::new();
    for (var, key) in RUNBOOK_ENV {
        if let Some(value) = env(var) {
            figment = figment.merge(Named::new(var.to_string(), Serialized::default(key, value)));
        }
    }
    // The generic form: every LSN_OPS_<SECTION>__<KEY> variable. The environment
    // is scanned by name, so the closure-based `env` also serves tests.
    for (section, keys) in known_keys() {
        for key in keys {
            let var = format!(
                "{ENV_PREFIX}{}__{}",
                section.to_uppercase(),
                key.replace('.', "__").to_uppercase()
            );
            if let Some(value) = env(&var) {
                let path = format!("{section}.{key}");
                figment = figment.merge(Named::new(var, Serialized::default(&path, value)));
            }
        }
    }
    figment
}

/// A provider under a name of our choosing (the file path or the variable),
/// so errors say where a bad value came from.
struct Named<P> {
    name: String,
    inner: P,
}

impl<P> Named<P> {
    fn new(name: impl Into<String>, inner: P) -> Self {
        Self {
            name: name.into(),
            inner,
        }
    }
}

impl<P: Provider> Provider for Named<P> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.inner.data()
    }
}

/// Sections and keys, from the default configuration itself (so never stale).
fn known_keys() -> Vec<(String, Vec<String>)> {
    let value = serde_json::to_value(Config::default()).unwrap_or_default();
    let mut out = Vec::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, keys) in sections {
            if let serde_json::Value::Object(keys) = keys {
                // A nested table ([fraud.weights]) contributes "weights.ip_velocity".
                let mut names = Vec::new();
                for (key, value) in keys {
                    match value {
                        serde_json::Value::Object(sub) => {
                            names.extend(sub.keys().map(|k| format!("{key}.{k}")));
                        }
                        _ => names.push(key),
                    }
                }
                out.push((section, names));
            }
        }
    }
    out
}

/// Human name of where a value came from: the file path or the variable name.
fn source_name(metadata: Option<&figment::Metadata>) -> String {
    match metadata {
        Some(m) if m.name.contains("Serialized") || m.name.is_empty() => "defaults".into(),
        Some(m) => m.name.to_string(),
        None => "configuration".into(),
    }
}

fn key_label(path: &[String]) -> String {
    match path {
        [] => "(top level)".into(),
        [key] => key.clone(),
        // A nested table is named as it is written: [fraud.weights] vpn_proxy.
        [tables @ .., key] => format!("[{}] {key}", tables.join(".")),
    }
}

fn quote_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    match quoted.len() {
        0 => "nothing".into(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

fn describe_figment_error(error: &figment::Error) -> ConfigError {
    let source = source_name(error.metadata.as_ref());
    let message = match &error.kind {
        Kind::UnknownVariant(actual, expected) => {
            format!(
                "{source}: {} = \"{actual}\": expected {}",
                key_label(&error.path),
                quote_list(expected)
            )
        }
        Kind::UnknownField(field, expected) => {
            let mut path = error.path.clone();
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            let hint = closest(field, expected)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            let what = if path.len() == 1 {
                format!("section [{field}]")
            } else {
                format!("key {}", key_label(&path))
            };
            format!(
                "{source}: unknown {what}{hint}; expected one of: {}",
                expected.join(", ")
            )
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!(
                "{source}: {} = {actual}: expected {}",
                key_label(&error.path),
                plain_type(expected)
            )
        }
        Kind::Message(msg) if error.path.is_empty() => format!("{source}: {}", one_line(msg)),
        Kind::Message(msg) if error.path.is_empty() => format!("{source}: {msg}"),
        other => format!("{source}: {}: {other}", key_label(&error.path)),
    };
    ConfigError(message)
}

/// serde's type names in words an operator knows.
fn plain_type(expected: &str) -> String {
    match expected {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "a string" | "string" => "a string in quotes".into(),
        "bool" | "a boolean" => "true or false".into(),
        other => other.into(),
    }
}

/// A multi-line parser message (TOML's, with a source excerpt) as one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('|')
                && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Checks the values serde cannot: time zone, URLs, addresses, ranges.
fn validate(config: &Config, figment: &Figment) -> Result<chrono_tz::Tz, ConfigError> {
    let bad = |key: &str, shown: &str, expected: &str| {
        let source = source_name(figment.find_metadata(key));
        let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
        ConfigError(format!(
            "{source}: [{section}] {name} = {shown}: expected {expected}"
        ))
    };

    let timezone = chrono_tz::Tz::from_str(&config.ops.timezone).map_err(|_| {
        bad(
            "ops.timezone",
            &format!("\"{}\"", config.ops.timezone),
            "an IANA time zone name such as \"America/Los_Angeles\"",
        )
    })?;

    if let Err(e) = config.database.parse_url() {
        return Err(bad(
            "database.url",
            "[redacted]",
            &format!("a postgres:// URL ({e})"),
        ));
    }
    if config.database.max_connections == 0 {
        return Err(bad("database.max_connections", "0", "at least 1"));
    }
    if config.worker.listen.parse::<SocketAddr>().is_err() {
        return Err(bad(
            "worker.listen",
            &format!("\"{}\"", config.worker.listen),
            "an address and port such as \"127.0.0.1:8787\"",
        ));
    }
    if config.ssh.listen.parse::<SocketAddr>().is_err() {
        return Err(bad(
            "ssh.listen",
            &format!("\"{}\"", config.ssh.listen),
            "an address and port such as \"127.0.0.1:2222\"",
        ));
    }
    if config.ssh.max_sessions == 0 || config.ssh.max_sessions > 1000 {
        return Err(bad(
            "ssh.max_sessions",
            &config.ssh.max_sessions.to_string(),
            "1 to 1000",
        ));
    }
    if !(config.worker.public_base_url.starts_with("http://")
        || config.worker.public_base_url.starts_with("https://"))
    {
        return Err(bad(
            "worker.public_base_url",
            &format!("\"{}\"", config.worker.public_base_url),
            "an http:// or https:// URL",
        ));
    }
    if config.worker.max_connections == 0 {
        return Err(bad("worker.max_connections", "0", "at least 1"));
    }
    if config.worker.header_timeout_s == 0 {
        return Err(bad("worker.header_timeout_s", "0", "at least 1 (seconds)"));
    }
    if config.tui.refresh_ms < 100 {
        return Err(bad(
            "tui.refresh_ms",
            &config.tui.refresh_ms.to_string(),
            "at least 100 (milliseconds)",
        ));
    }
    if config.tui.wall_cycle_s == 0 {
        return Err(bad("tui.wall_cycle_s", "0", "at least 1 (seconds)"));
    }
    if config.fraud.high_risk_threshold > 100 {
        return Err(bad(
            "fraud.high_risk_threshold",
            &config.fraud.high_risk_threshold.to_string(),
            "a score from 0 to 100",
        ));
    }
    let rules = crate::domain::fraud::Rules {
        weights: config.fraud.weights,
        thresholds: config.fraud.thresholds,
    };
    if let Err(e) = rules.validate() {
        return Err(bad(&format!("fraud.{}", e.key), &e.value, e.expected));
    }
    if !(0..=3650).contains(&config.ops.return_window_days) {
        return Err(bad(
            "ops.return_window_days",
            &config.ops.return_window_days.to_string(),
            "a number of days from 0 to 3650",
        ));
    }
    if !(1..=10_080).contains(&config.ops.duplicate_window_minutes) {
        return Err(bad(
            "ops.duplicate_window_minutes",
            &config.ops.duplicate_window_minutes.to_string(),
            "minutes from 1 to 10080 (a week)",
        ));
    }
    if !(1..=10_080).contains(&config.ops.checkout_timeout_minutes) {
        return Err(bad(
            "ops.checkout_timeout_minutes",
            &config.ops.checkout_timeout_minutes.to_string(),
            "minutes from 1 to 10080 (a week)",
        ));
    }
    if config.ops.agent_refund_limit_minor < 0 {
        return Err(bad(
            "ops.agent_refund_limit_minor",
            &config.ops.agent_refund_limit_minor.to_string(),
            "zero or more minor units",
        ));
    }
    if config.disputes.sweep_s == 0 {
        return Err(bad("disputes.sweep_s", "0", "at least 1 (seconds)"));
    }
    if config.maintenance.retention_days == 0 {
        return Err(bad("maintenance.retention_days", "0", "at least 1 (days)"));
    }
    if crate::worker::maintenance::parse_when(&config.maintenance.weekly_at).is_none() {
        return Err(bad(
            "maintenance.weekly_at",
            &format!("\"{}\"", config.maintenance.weekly_at),
            "a weekday and a local time such as \"sunday 02:00\"",
        ));
    }
    if !(1..=99).contains(&config.maintenance.reindex_above_pct) {
        return Err(bad(
            "maintenance.reindex_above_pct",
            &config.maintenance.reindex_above_pct.to_string(),
            "a percentage from 1 to 99",
        ));
    }
    if crate::domain::payouts::parse_weekday(&config.payouts.weekday).is_none() {
        return Err(bad(
            "payouts.weekday",
            &format!("\"{}\"", config.payouts.weekday),
            "a day of the week such as \"friday\"",
        ));
    }
    if chrono::NaiveTime::parse_from_str(&config.payouts.time, "%H:%M").is_err() {
        return Err(bad(
            "payouts.time",
            &format!("\"{}\"", config.payouts.time),
            "a local time \"HH:MM\" such as \"14:00\"",
        ));
    }
    if let Err((key, shown, expected)) =
        monitoring::validate(&config.alerts, &config.probes, &config.escalation)
    {
        return Err(bad(&key, &shown, &expected));
    }
    if crate::domain::money::Currency::parse(&config.payouts.currency).is_none() {
        return Err(bad(
            "payouts.currency",
            &format!("\"{}\"", config.payouts.currency),
            "an ISO 4217 code lsn-ops knows, such as \"USD\"",
        ));
    }
    Ok(timezone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Writes `text` to a fresh file named `name` in a private temp directory.
    fn config_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lsn-ops-config-test-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn error(file: Option<&Path>, pairs: &[(&str, &str)]) -> String {
        match load_from(file, env(pairs)) {
            Ok(_) => panic!("expected a configuration error"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn defaults_need_no_file_and_no_environment() {
        let loaded = load_from(None, env(&[])).expect("defaults load");
        assert_eq!(loaded.config.tui.refresh_ms, 2000);
        assert_eq!(loaded.config.worker.listen, "127.0.0.1:8787");
        assert_eq!(loaded.config.fraud.high_risk_threshold, 70);
        assert_eq!(loaded.config.paypal.mode, PaypalMode::Sandbox);
        assert_eq!(loaded.config.paypal.verify, PaypalVerify::Api);
        assert_eq!(loaded.timezone, chrono_tz::America::Los_Angeles);
    }

    #[test]
    fn file_overrides_defaults_and_environment_overrides_file() {
        let path = config_file(
            "config.toml",
            "[tui]\nrefresh_ms = 500\n[paypal]\nmode = \"live\"\nclient_id = \"from-file\"\n[ops]\ntimezone = \"Europe/Berlin\"\n",
        );
        let loaded = load_from(Some(&path), env(&[])).expect("file loads");
        assert_eq!(loaded.config.tui.refresh_ms, 500);
        assert_eq!(loaded.config.paypal.client_id, "from-file");
        assert_eq!(loaded.timezone, chrono_tz::Europe::Berlin);
        assert_eq!(
            loaded.config.tui.wall_cycle_s, 30,
            "untouched keys keep their defaults"
        );

        let loaded = load_from(
            Some(&path),
            env(&[
                ("PAYPAL_CLIENT_ID", "from-env"),
                ("PAYPAL_MODE", "sandbox"),
                ("LSN_OPS_TUI__REFRESH_MS", "750"),
                ("LSN_OPS_WORKER__LISTEN", "0.0.0.0:9000"),
                ("DATABASE_URL", "postgres://u:pw@db.internal:6543/ops"),
                ("TWILIO_AUTH_TOKEN", "12345"),
            ]),
        )
        .expect("environment loads");
        assert_eq!(loaded.config.paypal.client_id, "from-env");
        assert_eq!(loaded.config.paypal.mode, PaypalMode::Sandbox);
        assert_eq!(loaded.config.tui.refresh_ms, 750);
        assert_eq!(loaded.config.worker.listen, "0.0.0.0:9000");
        assert_eq!(
            loaded.config.database.url.expose(),
            "postgres://u:pw@db.internal:6543/ops"
        );
        assert_eq!(
            loaded.config.twilio.auth_token.expose(),
            "12345",
            "numeric-looking secrets stay strings"
        );
    }

    #[test]
    fn a_bad_enum_value_names_file_section_key_and_choices() {
        let path = config_file("config.toml", "[paypal]\nmode = \"prod\"\n");
        assert_eq!(
            error(Some(&path), &[]),
            format!(
                "{}: [paypal] mode = \"prod\": expected \"sandbox\" or \"live\"",
                path.display()
            )
        );
        assert_eq!(
            error(None, &[("PAYPAL_MODE", "prod")]),
            "PAYPAL_MODE: [paypal] mode = \"prod\": expected \"sandbox\" or \"live\""
        );
    }

    #[test]
    fn a_typo_in_a_key_or_section_is_refused_with_a_suggestion() {
        let path = config_file("config.toml", "[paypal]\nmoed = \"live\"\n");
        let message = error(Some(&path), &[]);
        assert!(
            message.starts_with(&format!(
                "{}: unknown key [paypal] moed (did you mean \"mode\"?)",
                path.display()
            )),
            "{message}"
        );
        let path = config_file("config.toml", "[paypl]\nmode = \"live\"\n");
        let message = error(Some(&path), &[]);
        assert!(
            message.contains("unknown section [paypl] (did you mean \"paypal\"?)"),
            "{message}"
        );
    }

    #[test]
    fn wrong_types_syntax_errors_and_bad_values_are_one_line_each() {
        let path = config_file("config.toml", "[tui]\nrefresh_ms = \"fast\"\n");
        assert!(
            error(Some(&path), &[]).ends_with(
                "[tui] refresh_ms = string \"fast\": expected a whole number (0 or more)"
            )
        );
        let path = config_file("config.toml", "[tui\nrefresh_ms = 5\n");
        let message = error(Some(&path), &[]);
        assert!(message.contains("TOML parse error at line 1"), "{message}");
        assert!(!message.contains('\n'), "one line: {message:?}");
        let path = config_file("config.toml", "[ops]\ntimezone = \"Mars/Base\"\n");
        assert!(
            error(Some(&path), &[])
                .contains("[ops] timezone = \"Mars/Base\": expected an IANA time zone name")
        );
        assert_eq!(
            error(None, &[("LSN_OPS_WORKER__LISTEN", "localhost")]),
            "LSN_OPS_WORKER__LISTEN: [worker] listen = \"localhost\": expected an address and port such as \"127.0.0.1:8787\""
        );
        assert!(
            error(None, &[("LSN_OPS_FRAUD__HIGH_RISK_THRESHOLD", "170")])
                .contains("[fraud] high_risk_threshold = 170")
        );
    }

    #[test]
    fn fraud_weights_and_thresholds_come_from_file_and_environment() {
        let path = config_file(
            "config.toml",
            "[fraud.weights]\nvpn_proxy = 30\nfailed_payment_attempts = 0\n[fraud.thresholds]\nvelocity_min_orders = 5\n",
        );
        let loaded = load_from(Some(&path), env(&[])).expect("file loads");
        assert_eq!(loaded.config.fraud.weights.vpn_proxy, 30);
        assert_eq!(loaded.config.fraud.weights.failed_payment_attempts, 0);
        assert_eq!(
            loaded.config.fraud.weights.ip_velocity, 25,
            "others keep defaults"
        );
        assert_eq!(loaded.config.fraud.thresholds.velocity_min_orders, 5);
        let loaded = load_from(
            Some(&path),
            env(&[
                ("LSN_OPS_FRAUD__WEIGHTS__VPN_PROXY", "40"),
                ("LSN_OPS_FRAUD__THRESHOLDS__VELOCITY_WINDOW_MIN", "15"),
                ("LSN_OPS_FRAUD__REFERENCE_DIR", "/etc/lsn-ops/fraud"),
            ]),
        )
        .expect("environment loads");
        assert_eq!(loaded.config.fraud.weights.vpn_proxy, 40);
        assert_eq!(loaded.config.fraud.thresholds.velocity_window_min, 15);
        assert_eq!(loaded.config.fraud.reference_dir, "/etc/lsn-ops/fraud");
    }

    #[test]
    fn bad_fraud_rules_are_named_where_they_are_written() {
        let path = config_file("config.toml", "[fraud.weights]\nvpn_proxy = 120\n");
        assert_eq!(
            error(Some(&path), &[]),
            format!(
                "{}: [fraud.weights] vpn_proxy = 120: expected points from 0 (off) to 100",
                path.display()
            )
        );
        assert_eq!(
            error(
                None,
                &[("LSN_OPS_FRAUD__THRESHOLDS__FAILED_PAYMENTS_MIN", "0")]
            ),
            "LSN_OPS_FRAUD__THRESHOLDS__FAILED_PAYMENTS_MIN: [fraud.thresholds] failed_payments_min = 0: expected at least 1"
        );
        assert_eq!(
            error(None, &[("LSN_OPS_FRAUD__WEIGHTS__VPN_PROXY", "300")]),
            "LSN_OPS_FRAUD__WEIGHTS__VPN_PROXY: [fraud.weights] vpn_proxy = unsigned int `300`: expected a whole number from 0 to 255"
        );
        let path = config_file("config.toml", "[fraud.weights]\nvpn_proxi = 20\n");
        let message = error(Some(&path), &[]);
        assert!(
            message.contains("unknown key [fraud.weights] vpn_proxi (did you mean \"vpn_proxy\"?)"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_database_url_is_named_without_echoing_it() {
        let message = error(None, &[("DATABASE_URL", "mysql://root:hunter2@db/x")]);
        assert!(
            message.starts_with(
                "DATABASE_URL: [database] url = [redacted]: expected a postgres:// URL"
            ),
            "{message}"
        );
        assert!(!message.contains("hunter2"));
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        let loaded = load_from(
            None,
            env(&[
                ("PAYPAL_CLIENT_SECRET", "hunter2"),
                ("WISE_API_TOKEN", "tok-9"),
            ]),
        )
        .expect("loads");
        let debug = format!("{:?}", loaded.config);
        assert!(
            !debug.contains("hunter2") && !debug.contains("tok-9"),
            "{debug}"
        );
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let missing = std::env::temp_dir().join("lsn-ops-definitely-missing.toml");
        let err = find_file(Some(&missing)).expect_err("missing file refused");
        assert!(err.0.ends_with("no such configuration file"));
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// config.example.toml documents every key, with the default value, and loads.
    #[test]
    fn the_example_lists_every_key_with_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let loaded = load_from(Some(&path), |_| None).expect("config.example.toml loads");
        let text = std::fs::read_to_string(&path).expect("read example");
        let parsed = Figment::from(Toml::string(&text));
        for (section, keys) in known_keys() {
            for key in keys {
                assert!(
                    parsed.contains(&format!("{section}.{key}")),
                    "config.example.toml lacks [{section}] {key}"
                );
            }
        }
        let defaults = serde_json::to_value(Config::default()).expect("defaults");
        let example = serde_json::to_value(&loaded.config).expect("example");
        assert_eq!(example, defaults, "the example's values are the defaults");
    }
}
