//! `lsn-ops operators`: list, add (or change the role of) and remove operators.
//! Changes are audited and need an admin (the store checks; the very first
//! admin of an empty table bootstraps); the acting operator is the OS account
//! running the command ([`crate::identity`]).

use crate::cli::{Failure, KeyAction, OperatorsAction};
use crate::config::Loaded;
use crate::domain::operators::{Actor, Role};
use crate::store::operators as store;

pub async fn run(loaded: &Loaded, action: OperatorsAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    match action {
        OperatorsAction::List => {
            let list = store::list(&pool).await.map_err(|e| Failure {
                code: 1,
                message: format!("operators: {e}"),
            })?;
            if list.is_empty() {
                println!(
                    "no operators yet: everyone is a viewer (add one with `lsn-ops operators add NAME --role admin`)"
                );
            }
            for op in list {
                println!(
                    "{:<20} {:<8} added {} by {}",
                    op.name,
                    op.role,
                    op.created_at.format("%Y-%m-%d"),
                    op.created_by
                );
            }
        }
        OperatorsAction::Add { name, role } => {
            let role = Role::parse(&role).ok_or(Failure {
                code: 2,
                message: format!("unknown role {role:?}"),
            })?;
            store::upsert(&pool, &actor, &name, role)
                .await
                .map_err(|e| Failure::store("operators add", e))?;
            println!("{name} is now {}", role.as_str());
        }
        OperatorsAction::Key { action } => return key(&pool, &actor, action).await,
        OperatorsAction::Remove { name } => {
            if store::remove(&pool, &actor, &name)
                .await
                .map_err(|e| Failure::store("operators remove", e))?
            {
                println!("{name} removed (now a viewer)");
            } else {
                return Err(Failure {
                    code: 1,
                    message: format!("no operator named {name:?}"),
                });
            }
        }
    }
    Ok(0)
}

/// `operators key add|remove|list`: the SSH keys `lsn-ops ssh-server` lets in.
async fn key(pool: &sqlx::PgPool, actor: &Actor, action: KeyAction) -> Result<u8, Failure> {
    use crate::ssh::keys::ParsedKey;
    use crate::store::operator_keys::{self as keys, KeyError};
    match action {
        KeyAction::Add { name, key } => {
            let parsed = ParsedKey::parse(&key).map_err(|message| Failure {
                code: 2,
                message: format!("operators key add: {message}"),
            })?;
            let added = keys::add(pool, actor, &name, &parsed)
                .await
                .map_err(|e| match e {
                    KeyError::Auth(e) => Failure::store("operators key add", e),
                    other => Failure {
                        code: 1,
                        message: format!("operators key add: {other}"),
                    },
                })?;
            if added {
                println!(
                    "{name} may now log in over SSH with {} {}",
                    parsed.algorithm, parsed.fingerprint
                );
            } else {
                println!("{name} already has {}: nothing changed", parsed.fingerprint);
            }
        }
        KeyAction::Remove { name, key } => {
            // A fingerprint as `key list` shows it, or the key itself.
            let fingerprint = if key.trim().starts_with("SHA256:") {
                key.trim().to_string()
            } else {
                ParsedKey::parse(&key)
                    .map_err(|message| Failure {
                        code: 2,
                        message: format!(
                            "operators key remove: give the SHA256:... fingerprint or the key: {message}"
                        ),
                    })?
                    .fingerprint
            };
            if keys::remove(pool, actor, &name, &fingerprint)
                .await
                .map_err(|e| Failure::store("operators key remove", e))?
            {
                println!("{name} can no longer log in with {fingerprint}");
            } else {
                return Err(Failure {
                    code: 1,
                    message: format!(
                        "{name} has no key {fingerprint} (see `lsn-ops operators key list`)"
                    ),
                });
            }
        }
        KeyAction::List { name } => {
            let list = keys::list(pool, name.as_deref())
                .await
                .map_err(|e| Failure {
                    code: 1,
                    message: format!("operators key list: {e}"),
                })?;
            if list.is_empty() {
                println!(
                    "no SSH keys yet (add one with `lsn-ops operators key add NAME \"ssh-ed25519 AAAA...\"`)"
                );
            }
            for k in list {
                let used = k.last_used_at.map_or_else(
                    || "never used".to_string(),
                    |t| format!("used {}", t.format("%Y-%m-%d %H:%M")),
                );
                println!(
                    "{:<16} {} {:<12} {} {}",
                    k.operator,
                    k.fingerprint,
                    k.algorithm.trim_start_matches("ssh-"),
                    used,
                    k.comment
                );
            }
        }
    }
    Ok(0)
}
