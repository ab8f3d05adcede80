//! Operators' SSH public keys (`operator_keys`): who `lsn-ops ssh-server`
//! lets in, and as whom. Adding and removing a key needs
//! [`Permission::ManageOperators`] through the one authorization point
//! ([`authz::authorize`]) in the change's transaction, with its audit row;
//! the server's logins and logouts are audit rows too.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::operators::{Actor, Permission};
use crate::ssh::keys::ParsedKey;
use crate::store::authz::{self, AuthError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperatorKey {
    pub fingerprint: String,
    pub operator: String,
    pub algorithm: String,
    pub comment: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Why a key was not added.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("no operator named {0:?}: add them first (`lsn-ops operators add NAME --role ROLE`)")]
    NoOperator(String),
    #[error("this key ({fingerprint}) is already {operator}'s: one key, one operator")]
    Taken {
        fingerprint: String,
        operator: String,
    },
}

impl From<sqlx::Error> for KeyError {
    fn from(e: sqlx::Error) -> Self {
        KeyError::Auth(AuthError::Sql(e))
    }
}

/// Adds `key` to `operator`; `false` when it was theirs already (nothing written).
pub async fn add(
    pool: &PgPool,
    actor: &Actor,
    operator: &str,
    key: &ParsedKey,
) -> Result<bool, KeyError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::ManageOperators).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM operators WHERE name = $1)")
            .bind(operator)
            .fetch_one(&mut *tx)
            .await?;
    if !exists {
        return Err(KeyError::NoOperator(operator.to_string()));
    }
    let owner: Option<String> =
        sqlx::query_scalar("SELECT operator FROM operator_keys WHERE fingerprint = $1 FOR UPDATE")
            .bind(&key.fingerprint)
            .fetch_optional(&mut *tx)
            .await?;
    match owner {
        Some(owner) if owner == operator => return Ok(false),
        Some(owner) => {
            return Err(KeyError::Taken {
                fingerprint: key.fingerprint.clone(),
                operator: owner,
            });
        }
        None => {}
    }
    sqlx::query(
        "INSERT INTO operator_keys (fingerprint, operator, algorithm, public_key, comment, created_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key.fingerprint)
    .bind(operator)
    .bind(&key.algorithm)
    .bind(&key.public_key)
    .bind(&key.comment)
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await?;
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "operator.key_add",
        "operator",
        operator,
        serde_json::json!({
            "fingerprint": key.fingerprint,
            "algorithm": key.algorithm,
            "comment": key.comment,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Removes `operator`'s key `fingerprint`; `false` when they have no such key.
pub async fn remove(
    pool: &PgPool,
    actor: &Actor,
    operator: &str,
    fingerprint: &str,
) -> Result<bool, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::ManageOperators).await?;
    let removed = sqlx::query("DELETE FROM operator_keys WHERE fingerprint = $1 AND operator = $2")
        .bind(fingerprint)
        .bind(operator)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    super::audit(
        &mut tx,
        &actor.audit_name(),
        "operator.key_remove",
        "operator",
        operator,
        serde_json::json!({ "fingerprint": fingerprint }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The keys of `operator`, or everyone's; by operator, then oldest first.
pub async fn list(pool: &PgPool, operator: Option<&str>) -> Result<Vec<OperatorKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT fingerprint, operator, algorithm, comment, created_at, created_by, last_used_at
         FROM operator_keys WHERE $1::text IS NULL OR operator = $1
         ORDER BY operator, created_at LIMIT 1000",
    )
    .bind(operator)
    .fetch_all(pool)
    .await
}

/// The operator whose key has this fingerprint, if any.
pub async fn owner_of(pool: &PgPool, fingerprint: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT operator FROM operator_keys WHERE fingerprint = $1")
        .bind(fingerprint)
        .fetch_optional(pool)
        .await
}

/// An SSH login: the key's last use, and the audit row (`ssh.login`).
pub async fn record_login(
    pool: &PgPool,
    operator: &str,
    fingerprint: &str,
    peer: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE operator_keys SET last_used_at = now() WHERE fingerprint = $1")
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?;
    super::audit(
        &mut tx,
        operator,
        "ssh.login",
        "operator",
        operator,
        serde_json::json!({ "fingerprint": fingerprint, "peer": peer }),
    )
    .await?;
    tx.commit().await
}

/// An SSH logout (`ssh.logout`): how long the connection lasted, how many dashboards it opened.
pub async fn record_logout(
    pool: &PgPool,
    operator: &str,
    fingerprint: &str,
    peer: &str,
    seconds: u64,
    dashboards: u32,
) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    super::audit(
        &mut conn,
        operator,
        "ssh.logout",
        "operator",
        operator,
        serde_json::json!({
            "fingerprint": fingerprint,
            "peer": peer,
            "seconds": seconds,
            "dashboards": dashboards,
        }),
    )
    .await
}
