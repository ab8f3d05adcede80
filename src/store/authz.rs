//! The one authorization point. Every store function that changes data on an
//! operator's behalf calls [`authorize`] (or [`authorize_refund`]) first,
//! inside its own transaction and before any write: the role is read in that
//! transaction (`FOR SHARE`, so a concurrent role change waits for it) and
//! checked against `domain::operators::PERMISSIONS`. A refusal writes nothing.
//!
//! Writes that providers cause (webhooks applied by the worker, outbox
//! results) have no operator and do not come through here.

use sqlx::PgConnection;

use crate::domain::money::Money;
use crate::domain::operators::{self, Actor, Permission, Refusal, Role};

/// A refusal, or the database failing while checking.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// The role of `name` as the operators table says, locked against a change
/// until the caller's transaction ends; an unknown operator is a viewer.
pub async fn role_for_update(conn: &mut PgConnection, name: &str) -> Result<Role, sqlx::Error> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM operators WHERE name = $1 FOR SHARE")
            .bind(name)
            .fetch_optional(conn)
            .await?;
    Ok(role
        .as_deref()
        .and_then(Role::parse)
        .unwrap_or(Role::Viewer))
}

/// Checks that `actor` may do `permission`, in the caller's transaction.
/// Returns the actor's role (some actions depend on it, e.g. refund limits).
pub async fn authorize(
    conn: &mut PgConnection,
    actor: &Actor,
    permission: Permission,
) -> Result<Role, AuthError> {
    if actor.readonly && permission != Permission::Read {
        return Err(Refusal::ReadOnly.into());
    }
    if let Some(admin) = actor.admin.as_deref().filter(|a| *a != actor.name)
        && role_for_update(conn, admin).await? != Role::Admin
    {
        return Err(Refusal::NotAdmin {
            admin: admin.to_string(),
            name: actor.name.clone(),
        }
        .into());
    }
    let role = role_for_update(conn, &actor.name).await?;
    operators::check(actor, role, permission)?;
    Ok(role)
}

/// [`authorize`] for a refund of `amount`: agents only up to the limit
/// (`[ops] agent_refund_limit_minor`), finance and admins above it.
pub async fn authorize_refund(
    conn: &mut PgConnection,
    actor: &Actor,
    amount: Money,
    agent_limit_minor: i64,
) -> Result<Role, AuthError> {
    let role = authorize(conn, actor, Permission::IssueRefunds).await?;
    if let Some(limit) = role.refund_limit(agent_limit_minor)
        && amount.minor > limit
    {
        return Err(Refusal::OverRefundLimit {
            amount: amount.display(),
            limit: Money::new(limit, amount.currency).display(),
        }
        .into());
    }
    Ok(role)
}
