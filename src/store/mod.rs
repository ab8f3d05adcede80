//! The store: PostgreSQL, the one source of truth, over one pool.
//!
//! Connection, database creation, migrations and the audit log ([`audit`])
//! live here; each submodule owns the queries of one concern: [`status`] (the
//! morning facts), [`snapshot`] (everything the dashboard shows),
//! [`fraud_detail`] (one fraud order in full), [`fraud`] (claims, decisions,
//! undo, the blocklist, the feedback report), [`operators`], [`authz`] (the
//! one authorization point), [`alerts`] (the alerts lsn-ops raises itself),
//! [`inbox`] (verified provider events in) and [`outbox`] (commands to
//! providers out), [`seed`] (the synthetic data set and its COPY loader),
//! [`orders`] (finding an order, the order view, duplicate charges),
//! [`refunds`] (refunds operators ask for), [`returns`] (RMAs) and [`stock`]
//! (the stock ledger, oversell, low stock, reorder).
//!
//! Not every statement is here: the worker's effects (`worker::apply`,
//! `worker::scoring`, `worker::commands`, `worker::reconcile`) write the
//! domain tables with their own SQL inside the transactions they own, and the
//! demo's traffic generator places its orders directly. Queries are checked at
//! run time against the migrated schema by the test suite, which runs on a
//! real PostgreSQL.

pub mod alert_actions;
pub mod alert_rules;
pub mod alerts;
pub mod authz;
pub mod cancel;
pub mod checklists;
pub mod data_rules;
pub mod disputes;
pub mod fraud;
pub mod fraud_detail;
pub mod inbox;
pub mod incidents;
pub mod maintenance;
pub mod notify;
pub mod operator_keys;
pub mod operators;
pub mod orders;
pub mod outbox;
pub mod payouts;
pub mod probes;
pub mod refunds;
pub mod reports;
pub mod returns;
pub mod seed;
pub mod show_report;
pub mod snapshot;
pub mod status;
pub mod stock;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::config::DatabaseConfig;

/// Migrations from `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The notification channel dashboards LISTEN on (see the schema's triggers).
pub const CHANGE_CHANNEL: &str = "lsn_ops_changes";

/// A store failure phrased for the operator; never contains a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach PostgreSQL at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    NotMigrated(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// `[database] url` as connection options, statements logged at debug level;
/// nothing connects yet. The error never echoes the URL.
pub fn connect_options(config: &DatabaseConfig) -> Result<PgConnectOptions, String> {
    config
        .parse_url()
        .map(|o| o.log_statements(tracing::log::LevelFilter::Debug))
}

/// "host:port/database" for messages: no user, no password.
pub fn describe_target(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    )
}

/// Opens a pool; an unreachable server is one clear [`StoreError::Unreachable`].
pub async fn connect(config: &DatabaseConfig) -> Result<PgPool, StoreError> {
    let options = connect_options(config).map_err(|reason| StoreError::Unreachable {
        target: "[database] url".into(),
        reason,
    })?;
    connect_with(config, options).await
}

pub async fn connect_with(
    config: &DatabaseConfig,
    options: PgConnectOptions,
) -> Result<PgPool, StoreError> {
    let target = describe_target(&options);
    // One direct connection first: the pool would retry until its timeout and
    // report only "timed out", hiding "connection refused" or a bad password.
    let probe = tokio::time::timeout(
        Duration::from_secs(config.connect_timeout_s),
        options.connect(),
    )
    .await;
    match probe {
        Err(_) => {
            return Err(StoreError::Unreachable {
                target,
                reason: "timed out".into(),
            });
        }
        Ok(Err(e)) => {
            return Err(StoreError::Unreachable {
                target,
                reason: short_reason(&e),
            });
        }
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.connect_timeout_s))
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Unreachable {
            target,
            reason: short_reason(&e),
        })?;
    let _ = OPENED.try_with(|opened| opened.borrow_mut().push(pool.clone()));
    Ok(pool)
}

tokio::task_local! {
    /// The pools a command opened ([`closing_pools`]).
    static OPENED: std::cell::RefCell<Vec<PgPool>>;
}

/// Runs `command`, then closes every pool it opened with [`connect`]: a
/// connection dropped at exit is "connection reset by peer" in the server's
/// log, a closed one ends cleanly (Terminate). A pool still in use gets 3 s.
pub async fn closing_pools<T>(command: impl std::future::Future<Output = T>) -> T {
    let (out, opened) = OPENED
        .scope(std::cell::RefCell::new(Vec::new()), async {
            let out = command.await;
            (out, OPENED.with(|opened| opened.take()))
        })
        .await;
    for pool in opened {
        let _ = tokio::time::timeout(Duration::from_secs(3), pool.close()).await;
    }
    out
}

/// The root cause of a connection failure, in a few words.
pub fn short_reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "timed out".into(),
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Tls(e) => format!("TLS: {e}"),
        other => other.to_string(),
    }
}

/// Creates the configured database if it does not exist (used by `demo`),
/// connecting to the server's `postgres` maintenance database to do so.
pub async fn ensure_database(config: &DatabaseConfig) -> Result<bool, StoreError> {
    let options = connect_options(config).map_err(|reason| StoreError::Unreachable {
        target: "[database] url".into(),
        reason,
    })?;
    let Some(name) = options.get_database().map(str::to_string) else {
        return Ok(false);
    };
    let admin = options.clone().database("postgres");
    let target = describe_target(&admin);
    let mut conn = admin.connect().await.map_err(|e| StoreError::Unreachable {
        target,
        reason: short_reason(&e),
    })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if exists {
        return Ok(false);
    }
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
        .execute(&mut conn)
        .await?;
    Ok(true)
}

pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Appends one row to the audit log inside the caller's transaction.
pub async fn audit(
    conn: &mut sqlx::PgConnection,
    operator: &str,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (operator, action, entity_type, entity_id, details) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(operator)
    .bind(action)
    .bind(entity_type)
    .bind(entity_id)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails with a clear hint when the schema is missing or older than this binary.
pub async fn check_migrated(pool: &PgPool) -> Result<(), StoreError> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied: Option<Vec<i64>> = if has_table {
        Some(
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await?,
        )
    } else {
        None
    };
    // Every migration of this binary, not only the newest: branches merged
    // in another order can leave a gap below the newest one applied.
    let missing = |applied: &[i64]| -> Vec<String> {
        MIGRATOR
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .map(|v| v.to_string())
            .collect()
    };
    match applied {
        Some(v) if missing(&v).is_empty() => Ok(()),
        Some(v) if v.iter().max().copied().unwrap_or(0) < latest => {
            Err(StoreError::NotMigrated(format!(
                "the database schema is at migration {}, this binary needs {latest}: run `lsn-ops migrate`",
                v.iter().max().copied().unwrap_or(0)
            )))
        }
        Some(v) => Err(StoreError::NotMigrated(format!(
            "the database schema lacks migration {}: run `lsn-ops migrate`",
            missing(&v).join(", ")
        ))),
        None => Err(StoreError::NotMigrated(
            "the database has no lsn-ops schema yet: run `lsn-ops migrate`".into(),
        )),
    }
}

/// Connects and checks the schema: what every command that reads or writes data needs.
pub async fn connect_migrated(config: &DatabaseConfig) -> Result<PgPool, StoreError> {
    let pool = connect(config).await?;
    check_migrated(&pool).await?;
    Ok(pool)
}
