//! Seeding: the deterministic synthetic data set ([`generate`]: what
//! `lsn-ops seed` and `lsn-ops demo` load) and, here, the bulk loading it
//! writes with: rows buffered in PostgreSQL's COPY text format and streamed
//! with `COPY ... FROM STDIN`, plus the bookkeeping around it (emptiness
//! check, foreign keys and indexes set aside and restored, sequence reset,
//! row counts).

pub mod generate;

pub use generate::{SeedSummary, seed_database, seed_if_empty};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// One COPY target: a buffer of rows in text format, flushed in large chunks.
pub struct CopyBuf {
    statement: &'static str,
    buf: String,
    rows: u64,
}

/// Flush when a buffer grows past this many bytes.
const FLUSH_BYTES: usize = 4 << 20;

impl CopyBuf {
    /// `statement` is `COPY table (columns) FROM STDIN`.
    pub fn new(statement: &'static str) -> Self {
        Self {
            statement,
            buf: String::with_capacity(FLUSH_BYTES + 4096),
            rows: 0,
        }
    }

    /// Starts a row; fields follow with [`Row::f`], and the row ends on drop.
    pub fn row(&mut self) -> Row<'_> {
        self.rows += 1;
        Row {
            buf: &mut self.buf,
            first: true,
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= FLUSH_BYTES
    }

    pub async fn flush_if_full(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.buf.len() >= FLUSH_BYTES {
            self.flush(conn).await?;
        }
        Ok(())
    }

    pub async fn flush(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut copy = conn.copy_in_raw(self.statement).await?;
        copy.send(self.buf.as_bytes()).await?;
        copy.finish().await?;
        self.buf.clear();
        Ok(())
    }
}

/// A row being written; each field is escaped for COPY's text format.
pub struct Row<'a> {
    buf: &'a mut String,
    first: bool,
}

impl Row<'_> {
    pub fn f(&mut self, value: impl CopyField) -> &mut Self {
        if !self.first {
            self.buf.push('\t');
        }
        self.first = false;
        value.write(self.buf);
        self
    }
}

impl Drop for Row<'_> {
    fn drop(&mut self) {
        self.buf.push('\n');
    }
}

/// A value that can be written as one COPY text field.
pub trait CopyField {
    fn write(&self, buf: &mut String);
}

macro_rules! display_field {
    ($($t:ty),*) => {$(
        impl CopyField for $t {
            fn write(&self, buf: &mut String) {
                use std::fmt::Write;
                let _ = write!(buf, "{}", self);
            }
        }
    )*};
}
display_field!(i16, i32, i64, u8, u32, u64, bool, uuid::Uuid);

impl CopyField for &str {
    fn write(&self, buf: &mut String) {
        for ch in self.chars() {
            match ch {
                '\\' => buf.push_str("\\\\"),
                '\t' => buf.push_str("\\t"),
                '\n' => buf.push_str("\\n"),
                '\r' => buf.push_str("\\r"),
                c => buf.push(c),
            }
        }
    }
}

impl CopyField for String {
    fn write(&self, buf: &mut String) {
        self.as_str().write(buf);
    }
}

impl CopyField for &String {
    fn write(&self, buf: &mut String) {
        self.as_str().write(buf);
    }
}

impl CopyField for DateTime<Utc> {
    fn write(&self, buf: &mut String) {
        use std::fmt::Write;
        let _ = write!(buf, "{}", self.format("%Y-%m-%d %H:%M:%S%.6f+00"));
    }
}

impl<T: CopyField> CopyField for Option<T> {
    fn write(&self, buf: &mut String) {
        match self {
            Some(v) => v.write(buf),
            None => buf.push_str("\\N"),
        }
    }
}

/// True when nothing has been loaded yet (no creators, customers or orders).
pub async fn is_empty(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT NOT (EXISTS (SELECT 1 FROM creators) OR EXISTS (SELECT 1 FROM customers)
                     OR EXISTS (SELECT 1 FROM orders))",
    )
    .fetch_one(conn)
    .await
}

/// Tables the seeder fills, in load order; used for sequence resets and counts.
pub const SEEDED_TABLES: &[&str] = &[
    "operators",
    "creators",
    "customers",
    "products",
    "shows",
    "show_products",
    "checklist_items",
    "orders",
    "order_items",
    "payments",
    "refunds",
    "fraud_scores",
    "fraud_indicators",
    "fraud_decisions",
    "blocklist",
    "disputes",
    "dispute_evidence",
    "payout_batches",
    "payout_items",
    "payout_item_orders",
    "alerts",
    "incidents",
    "daily_traffic",
    "audit_log",
];

/// After loading explicit ids, moves each `bigserial` past the largest id.
pub async fn reset_sequences(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "DO $$
         DECLARE r record;
         BEGIN
           FOR r IN SELECT table_name AS tbl, pg_get_serial_sequence(quote_ident(table_name), 'id') AS seq
                      FROM information_schema.columns
                     WHERE table_schema = current_schema() AND column_name = 'id'
                       AND column_default LIKE 'nextval(%'
           LOOP
             EXECUTE format('SELECT setval(%L, COALESCE((SELECT max(id) FROM %I), 0) + 1, false)', r.seq, r.tbl);
           END LOOP;
         END $$",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Row counts of the seeded tables, in load order.
pub async fn table_counts(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut out = Vec::with_capacity(SEEDED_TABLES.len());
    for table in SEEDED_TABLES {
        let sql = format!("SELECT count(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await?;
        out.push((table.to_string(), n));
    }
    Ok(out)
}

/// Foreign keys and secondary indexes set aside during a bulk load, restored
/// afterwards in one pass each, as pg_restore does: building an index once and
/// validating a foreign key with one join is far faster than doing both row by
/// row for millions of rows. Primary keys and unique constraints stay in place,
/// so duplicates are still refused while loading.
pub struct SetAside {
    foreign_keys: Vec<(String, String, String)>,
    indexes: Vec<String>,
}

pub async fn set_aside_constraints(conn: &mut PgConnection) -> Result<SetAside, sqlx::Error> {
    let tables: Vec<String> = SEEDED_TABLES.iter().map(|t| t.to_string()).collect();
    let foreign_keys: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
           FROM pg_constraint c
          WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
            AND c.conrelid::regclass::text = ANY($1)
          ORDER BY 1, 2",
    )
    .bind(&tables)
    .fetch_all(&mut *conn)
    .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
          WHERE NOT i.indisunique AND NOT i.indisprimary
            AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1)
          ORDER BY 1",
    )
    .bind(&tables)
    .fetch_all(&mut *conn)
    .await?;
    for (table, name, _) in &foreign_keys {
        let sql = format!("ALTER TABLE {table} DROP CONSTRAINT {name}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    for (name, _) in &indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut *conn)
            .await?;
    }
    Ok(SetAside {
        foreign_keys,
        indexes: indexes.into_iter().map(|(_, def)| def).collect(),
    })
}

/// Rebuilds the indexes and re-adds (and so validates) the foreign keys.
pub async fn restore_constraints(
    conn: &mut PgConnection,
    set_aside: SetAside,
) -> Result<(), sqlx::Error> {
    sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut *conn)
        .await?;
    for def in set_aside.indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(def))
            .execute(&mut *conn)
            .await?;
    }
    for (table, name, def) in set_aside.foreign_keys {
        let sql = format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
