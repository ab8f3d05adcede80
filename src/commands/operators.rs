//! `lsn-ops operators`: list, add (or change the role of) and remove operators.
//! Changes are audited; the acting operator is `$USER`.

use crate::cli::{Failure, OperatorsAction};
use crate::config::Loaded;
use crate::domain::operators::Role;
use crate::store::operators as store;

pub async fn run(loaded: &Loaded, action: OperatorsAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = crate::store::operators::current_user();
    let sql = |e: sqlx::Error| Failure {
        code: 1,
        message: format!("operators: {e}"),
    };
    match action {
        OperatorsAction::List => {
            let list = store::list(&pool).await.map_err(sql)?;
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
            store::upsert(&pool, &name, role, &actor)
                .await
                .map_err(sql)?;
            println!("{name} is now {}", role.as_str());
        }
        OperatorsAction::Remove { name } => {
            if store::remove(&pool, &name, &actor).await.map_err(sql)? {
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
