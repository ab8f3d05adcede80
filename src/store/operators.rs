//! Operators and their roles; every change is audited in the same transaction.
//!
//! Changes need an admin ([`Permission::ManageOperators`], checked by
//! `store::authz` in the change's transaction), with one exception: while the
//! operators table is empty, the first admin may be added by anyone (the
//! bootstrap). The table is locked for the check, so two bootstraps cannot
//! both succeed. Who runs the process is `crate::identity`'s business.
//!
//! The one other way in is [`register_demo_admin`]: `lsn-ops demo` makes the
//! OS account running it an admin (DESIGN.md), audited as `demo`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::operators::{Actor, Permission, Role};
use crate::store::authz::{self, AuthError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Operator {
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
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

/// Adds `name` with `role`, or changes their role: `actor` must be an admin,
/// unless the table is empty and `role` is admin (the first admin bootstraps).
pub async fn upsert(pool: &PgPool, actor: &Actor, name: &str, role: Role) -> Result<(), AuthError> {
    let mut tx = pool.begin().await?;
    upsert_in(&mut tx, actor, name, role).await?;
    tx.commit().await?;
    Ok(())
}

/// [`upsert`] inside the caller's transaction (the seeder's, say): the check,
/// the change and its audit row commit or roll back with it.
pub async fn upsert_in(
    conn: &mut PgConnection,
    actor: &Actor,
    name: &str,
    role: Role,
) -> Result<(), AuthError> {
    authorize_change(conn, actor, Some(role)).await?;
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(actor.audit_name())
    .execute(&mut *conn)
    .await?;
    super::audit(
        conn,
        &actor.audit_name(),
        "operator.set_role",
        "operator",
        name,
        serde_json::json!({ "role": role.as_str() }),
    )
    .await?;
    Ok(())
}

/// Removes `name` (they become a viewer, and lose their SSH keys); `actor`
/// must be an admin. `false` when there was no such operator (nothing written).
pub async fn remove(pool: &PgPool, actor: &Actor, name: &str) -> Result<bool, AuthError> {
    let mut tx = pool.begin().await?;
    let removed = remove_in(&mut tx, actor, name).await?;
    tx.commit().await?;
    Ok(removed)
}

/// [`remove`] inside the caller's transaction.
pub async fn remove_in(
    conn: &mut PgConnection,
    actor: &Actor,
    name: &str,
) -> Result<bool, AuthError> {
    authorize_change(conn, actor, None).await?;
    // Their SSH keys go with them (ON DELETE CASCADE): the audit row says how many.
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM operator_keys WHERE operator = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    let removed = sqlx::query("DELETE FROM operators WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    super::audit(
        conn,
        &actor.audit_name(),
        "operator.remove",
        "operator",
        name,
        serde_json::json!({ "ssh_keys_removed": keys }),
    )
    .await?;
    Ok(true)
}

/// `lsn-ops demo` only: makes `os_account` (the account running the demo,
/// from `crate::identity`, never a name from the command line) an admin,
/// with no check, audited as `demo`; nothing is written when it is one
/// already. The demo is a development tool on its own database; anyone who
/// can point it at a database can write that database directly anyway.
pub async fn register_demo_admin(pool: &PgPool, os_account: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let changed = sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ($1, 'admin', 'demo')
         ON CONFLICT (name) DO UPDATE SET role = 'admin' WHERE operators.role <> 'admin'",
    )
    .bind(os_account)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() > 0 {
        super::audit(
            &mut tx,
            "demo",
            "operator.set_role",
            "operator",
            os_account,
            serde_json::json!({ "role": "admin" }),
        )
        .await?;
    }
    tx.commit().await
}

/// `ManageOperators`, or the bootstrap: adding an admin (`adding`) to an empty
/// table, by an actor who is not read-only and not acting as someone else.
/// The table lock (self-conflicting, readers unaffected) makes the emptiness
/// check hold until the transaction ends: a concurrent bootstrap waits, then
/// finds an admin and needs to be one.
async fn authorize_change(
    conn: &mut PgConnection,
    actor: &Actor,
    adding: Option<Role>,
) -> Result<(), AuthError> {
    sqlx::query("LOCK TABLE operators IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await?;
    let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM operators)")
        .fetch_one(&mut *conn)
        .await?;
    let bootstrap =
        empty && adding == Some(Role::Admin) && !actor.readonly && actor.admin.is_none();
    if !bootstrap {
        authz::authorize(conn, actor, Permission::ManageOperators).await?;
    }
    Ok(())
}
