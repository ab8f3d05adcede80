//! `lsn-ops operators`: list, add (or change the role of) and remove operators.
//! Changes are audited and need an admin (the store checks; the very first
//! admin of an empty table bootstraps); the acting operator is the OS account
//! running the command ([`crate::identity`]).

use crate::cli::{Failure, OperatorsAction};
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
