//! The runbook's weekly and monthly database maintenance, as SQL: VACUUM
//! (ANALYZE) with a bloat report and REINDEX CONCURRENTLY of bloated indexes
//! (`optimize`), retention of data that is only kept for a while (`cleanup`),
//! and the facts a backup manifest records (row counts in one snapshot, the
//! migration version). Running `pg_dump`/`pg_restore` is the command's job
//! (`commands::maintenance`).
//!
//! Each operation is authorized for the operator first (`Permission::OperateWorker`: admins)
//! and leaves an audit row with what it did.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::authz::{self, AuthError};
use crate::domain::operators::{Actor, Permission};

/// Tables whose old rows `cleanup` deletes, with the time column that ages
/// them and the condition that makes a row deletable. Everything else (the
/// audit log, money: orders, payments, refunds, payouts, disputes) is kept
/// for ever.
pub const RETAINED: &[Retained] = &[
    Retained {
        table: "provider_events",
        age_column: "received_at",
        // Only events that are done with: a pending, failed or dead event is
        // work (or evidence of a problem) and stays.
        condition: "status IN ('applied', 'ignored')",
    },
    Retained {
        table: "probe_samples",
        age_column: "at",
        condition: "true",
    },
];

/// A table `cleanup` may delete old rows from.
#[derive(Debug, Clone, Copy)]
pub struct Retained {
    pub table: &'static str,
    pub age_column: &'static str,
    pub condition: &'static str,
}

/// Rows deleted per statement: each batch is its own short transaction, so
/// no lock is held for long and the worker keeps writing meanwhile.
pub const CLEANUP_BATCH: i64 = 5_000;

/// Row counts of every table of the schema, taken in the caller's
/// transaction (a `REPEATABLE READ` one gives one consistent snapshot).
pub async fn table_counts(conn: &mut PgConnection) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = BTreeMap::new();
    for table in tables {
        // The name comes from the catalog; quote_ident keeps it exact.
        let sql = format!("SELECT count(*) FROM public.{}", quote_ident(&table));
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await?;
        counts.insert(table, n);
    }
    Ok(counts)
}

/// The newest migration applied to the database (0 when none).
pub async fn migration_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(max(version), 0)::bigint FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(conn)
    .await
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks the operator may run maintenance; writes nothing.
pub async fn authorize(pool: &PgPool, actor: &Actor) -> Result<(), AuthError> {
    let mut conn = pool.acquire().await?;
    authz::authorize(&mut conn, actor, Permission::OperateWorker).await?;
    Ok(())
}

/// Who runs maintenance: an operator (authorized as an admin), or the
/// worker's weekly schedule (`[maintenance] weekly`), audited as "worker".
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Operator(&'a Actor),
    Schedule,
}

impl Who<'_> {
    pub fn audit_name(&self) -> String {
        match self {
            Who::Operator(actor) => actor.audit_name(),
            Who::Schedule => "worker".into(),
        }
    }
}

/// One audit row for a maintenance run; an operator is authorized in the
/// same transaction.
pub async fn audit(
    pool: &PgPool,
    who: Who<'_>,
    action: &str,
    details: serde_json::Value,
) -> Result<(), AuthError> {
    let mut tx = pool.begin().await?;
    if let Who::Operator(actor) = who {
        authz::authorize(&mut tx, actor, Permission::OperateWorker).await?;
    }
    super::audit(
        &mut tx,
        &who.audit_name(),
        action,
        "maintenance",
        action,
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A table or index with its size and how much of it is dead space.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bloat {
    pub kind: &'static str,
    pub name: String,
    pub table: String,
    pub bytes: i64,
    /// Estimated share of the relation that is dead or free space, in
    /// percent (tables: dead tuples over all tuples; indexes: 100 − the
    /// average leaf density from `pgstatindex` when pgstattuple is
    /// available, else unknown).
    pub bloat_pct: Option<i32>,
}

/// The user tables, largest first.
pub async fn tables_by_size(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT relname::text FROM pg_stat_user_tables WHERE schemaname = 'public'
          ORDER BY pg_total_relation_size(relid) DESC, relname",
    )
    .fetch_all(pool)
    .await
}

/// `VACUUM (ANALYZE)` of one table (outside any transaction, as VACUUM must be).
pub async fn vacuum_analyze(pool: &PgPool, table: &str) -> Result<(), sqlx::Error> {
    let sql = format!("VACUUM (ANALYZE) public.{}", quote_ident(table));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await?;
    Ok(())
}

/// The `limit` largest tables and indexes with their estimated bloat.
pub async fn bloat_report(pool: &PgPool, limit: i64) -> Result<Vec<Bloat>, sqlx::Error> {
    let tables: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT relname::text, pg_total_relation_size(relid), n_live_tup, n_dead_tup
           FROM pg_stat_user_tables WHERE schemaname = 'public'
          ORDER BY pg_total_relation_size(relid) DESC, relname LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<Bloat> = tables
        .into_iter()
        .map(|(name, bytes, live, dead)| Bloat {
            kind: "table",
            table: name.clone(),
            name,
            bytes,
            bloat_pct: (live + dead > 0).then(|| (dead * 100 / (live + dead)) as i32),
        })
        .collect();
    let indexes: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT indexrelname::text, relname::text, pg_relation_size(indexrelid)
           FROM pg_stat_user_indexes WHERE schemaname = 'public'
          ORDER BY pg_relation_size(indexrelid) DESC, indexrelname LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let pgstattuple = has_pgstattuple(pool).await;
    for (name, table, bytes) in indexes {
        let bloat_pct = if pgstattuple {
            index_bloat(pool, &name).await
        } else {
            None
        };
        out.push(Bloat {
            kind: "index",
            name,
            table,
            bytes,
            bloat_pct,
        });
    }
    Ok(out)
}

/// Whether the pgstattuple extension is there (or could be created: a
/// superuser or a database owner on PostgreSQL 13+ may, as it is trusted).
async fn has_pgstattuple(pool: &PgPool) -> bool {
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        .execute(pool)
        .await
        .is_ok()
}

/// 100 − average leaf density of a B-tree index (None for other kinds or
/// empty indexes).
async fn index_bloat(pool: &PgPool, index: &str) -> Option<i32> {
    let density: Option<f64> = sqlx::query_scalar(
        "SELECT CASE WHEN am.amname = 'btree' THEN (pgstatindex(c.oid)).avg_leaf_density END
           FROM pg_class c JOIN pg_am am ON am.oid = c.relam
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relname = $1",
    )
    .bind(index)
    .fetch_optional(pool)
    .await
    .ok()
    .flatten()
    .flatten();
    // NaN for an empty index: nothing to say.
    density
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| (100.0 - d).round().clamp(0.0, 100.0) as i32)
}

/// `REINDEX INDEX CONCURRENTLY` (readers and writers go on meanwhile).
pub async fn reindex_concurrently(pool: &PgPool, index: &str) -> Result<(), sqlx::Error> {
    let sql = format!("REINDEX INDEX CONCURRENTLY public.{}", quote_ident(index));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await?;
    Ok(())
}

/// How many rows of `table` are past retention.
pub async fn expired_count(
    pool: &PgPool,
    r: &Retained,
    before: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT count(*) FROM {} WHERE {} < $1 AND {}",
        r.table, r.age_column, r.condition
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .fetch_one(pool)
        .await
}

/// Deletes one batch of expired rows of `table` in its own short transaction;
/// the number deleted (0: done).
pub async fn delete_expired_batch(
    pool: &PgPool,
    r: &Retained,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE {c} < $1 AND {cond} LIMIT $2)",
        t = r.table,
        c = r.age_column,
        cond = r.condition
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .bind(CLEANUP_BATCH)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
