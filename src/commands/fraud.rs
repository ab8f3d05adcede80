//! `lsn-ops fraud report|block|unblock`: feedback for tuning the fraud weights,
//! and blocklist edits from the shell (audited, reason required).

use chrono::Utc;

use crate::cli::{Failure, FraudAction, StatusFormat};
use crate::config::Loaded;
use crate::domain::money::format_bps;
use crate::domain::operators::Permission;

pub async fn run(loaded: &Loaded, action: FraudAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let sql = |e: sqlx::Error| Failure {
        code: 1,
        message: format!("fraud: {e}"),
    };
    match action {
        FraudAction::Report { days, format } => {
            let report = crate::store::fraud::report(&pool, days, Utc::now())
                .await
                .map_err(sql)?;
            match format {
                StatusFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                }
                StatusFormat::Text => {
                    let pct = |v: Option<i64>| v.map_or("-".to_string(), format_bps);
                    println!("fraud decisions, last {days} days");
                    println!(
                        "  approved {}  review {}  declined {}",
                        report.approved, report.reviewed, report.declined
                    );
                    println!(
                        "  false-positive rate (approved of approved+declined): {}",
                        pct(report.false_positive_bps)
                    );
                    println!(
                        "  {:<28} {:>8} {:>9} {:>10}",
                        "indicator", "decided", "declined", "precision"
                    );
                    for i in &report.indicators {
                        println!(
                            "  {:<28} {:>8} {:>9} {:>10}",
                            i.indicator,
                            i.decided,
                            i.declined,
                            pct(i.precision_bps)
                        );
                    }
                }
            }
        }
        FraudAction::Block {
            kind,
            value,
            reason,
        }
        | FraudAction::Unblock {
            kind,
            value,
            reason,
        } if reason.trim().is_empty() => {
            let _ = (kind, value);
            return Err(Failure {
                code: 2,
                message: "--reason must not be empty".into(),
            });
        }
        FraudAction::Block {
            kind,
            value,
            reason,
        } => {
            let operator = allowed(&pool).await?;
            let added = crate::store::fraud::block(&pool, &kind, &value, &reason, &operator)
                .await
                .map_err(sql)?;
            println!(
                "{kind} {value}: {}",
                if added {
                    "blocklisted"
                } else {
                    "already on the blocklist"
                }
            );
        }
        FraudAction::Unblock {
            kind,
            value,
            reason,
        } => {
            let operator = allowed(&pool).await?;
            if !crate::store::fraud::unblock(&pool, &kind, &value, &reason, &operator)
                .await
                .map_err(sql)?
            {
                return Err(Failure {
                    code: 1,
                    message: format!("{kind} {value} is not on the blocklist"),
                });
            }
            println!("{kind} {value}: removed from the blocklist");
        }
    }
    Ok(0)
}

/// The acting operator, if their role may edit the blocklist.
async fn allowed(pool: &sqlx::PgPool) -> Result<String, Failure> {
    let operator = crate::store::operators::current_user();
    let role = crate::store::operators::role_of(pool, &operator)
        .await
        .map_err(|e| Failure {
            code: 1,
            message: format!("fraud: {e}"),
        })?;
    if role.allows(Permission::DecideFraud) {
        Ok(operator)
    } else {
        Err(Failure {
            code: 1,
            message: format!(
                "{operator} is a {}: only agents and admins edit the blocklist",
                role.as_str()
            ),
        })
    }
}
