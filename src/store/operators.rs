//! Operators and their roles; every change is audited in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::operators::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Operator {
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// The OS user running this process, for audit rows of CLI actions.
/// `$USER`, else `$LOGNAME`, else the account name of this process's uid
/// (cron jobs and some SSH setups run without either variable).
pub fn current_user() -> String {
    let from_env = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    from_env("USER")
        .or_else(|| from_env("LOGNAME"))
        .or_else(account_of_this_process)
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(unix)]
fn account_of_this_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let entry_uid: u32 = fields.nth(1)?.parse().ok()?;
        (entry_uid == uid).then(|| name.to_string())
    })
}

#[cfg(not(unix))]
fn account_of_this_process() -> Option<String> {
    None
}

pub async fn list(pool: &PgPool) -> Result<Vec<Operator>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, role, created_at, created_by FROM operators ORDER BY name LIMIT 1000",
    )
    .fetch_all(pool)
    .await
}

/// The role of `name`; an unknown operator is a viewer.
pub async fn role_of(pool: &PgPool, name: &str) -> Result<Role, sqlx::Error> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM operators WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(role
        .as_deref()
        .and_then(Role::parse)
        .unwrap_or(Role::Viewer))
}

pub async fn upsert(pool: &PgPool, name: &str, role: Role, actor: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    upsert_in(&mut tx, name, role, actor).await?;
    tx.commit().await
}

/// [`upsert`] inside the caller's transaction (the seeder's, say): the
/// operator row and its audit row.
pub async fn upsert_in(
    conn: &mut PgConnection,
    name: &str,
    role: Role,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    super::audit(
        conn,
        actor,
        "operator.set_role",
        "operator",
        name,
        serde_json::json!({ "role": role.as_str() }),
    )
    .await
}

pub async fn remove(pool: &PgPool, name: &str, actor: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let removed = sqlx::query("DELETE FROM operators WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    super::audit(
        &mut tx,
        actor,
        "operator.remove",
        "operator",
        name,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
