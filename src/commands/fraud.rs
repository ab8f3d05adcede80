//! `lsn-ops fraud report|block|unblock|lists|rescore`: feedback for tuning the
//! fraud weights, blocklist edits from the shell (audited, reason required),
//! checking the reference lists, and recomputing scores after a change.

use chrono::Utc;

use crate::cli::{Failure, FraudAction, StatusFormat};
use crate::config::Loaded;
use crate::domain::money::format_bps;
use crate::domain::operators::Actor;
use crate::worker::reference::ReferenceCache;
use crate::worker::scoring::Scoring;

pub async fn run(loaded: &Loaded, action: FraudAction) -> Result<u8, Failure> {
    if let FraudAction::Lists { ip, email } = &action {
        return lists(loaded, *ip, email.as_deref());
    }
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
            let actor = Actor::new(crate::identity::os_account());
            let added = crate::store::fraud::block(&pool, &kind, &value, &reason, &actor)
                .await
                .map_err(|e| Failure::store("fraud block", e))?;
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
            let actor = Actor::new(crate::identity::os_account());
            if !crate::store::fraud::unblock(&pool, &kind, &value, &reason, &actor)
                .await
                .map_err(|e| Failure::store("fraud unblock", e))?
            {
                return Err(Failure {
                    code: 1,
                    message: format!("{kind} {value} is not on the blocklist"),
                });
            }
            println!("{kind} {value}: removed from the blocklist");
        }
        FraudAction::Rescore { orders, queue } => {
            let actor = Actor::new(crate::identity::os_account());
            return rescore(loaded, &pool, &actor, orders, queue).await;
        }
        FraudAction::Lists { .. } => {}
    }
    Ok(0)
}

/// `fraud lists`: loads the lists as the worker would and reports them; a bad
/// line is exit 2 with its file and line.
fn lists(
    loaded: &Loaded,
    ip: Option<std::net::IpAddr>,
    email: Option<&str>,
) -> Result<u8, Failure> {
    let dir = &loaded.config.fraud.reference_dir;
    let cache = ReferenceCache::from_config(dir, std::time::Duration::ZERO)
        .map_err(|message| Failure { code: 2, message })?;
    let lists = cache.current();
    let (domains, proxies, reputation) = lists.counts();
    println!("fraud reference lists from {}", cache.source());
    println!("  disposable email domains  {domains:>6}");
    println!("  proxy/VPN ranges          {proxies:>6}");
    println!("  IP reputation ranges      {reputation:>6}");
    if let Some(ip) = ip {
        match lists.proxy_range(ip) {
            Some(p) => println!("{ip}: in proxy/VPN range {} {}", p.net, p.label),
            None => println!("{ip}: not in a proxy/VPN range"),
        }
        match lists.reputation(ip) {
            Some(r) => println!(
                "{ip}: abuse score {} in {} ({})",
                r.abuse_score, r.net, r.source
            ),
            None => println!("{ip}: not on the reputation list"),
        }
    }
    if let Some(email) = email {
        let domain = email.rsplit_once('@').map_or(email, |(_, d)| d);
        println!(
            "{domain}: {}",
            if lists.is_disposable(domain) {
                "disposable"
            } else {
                "not on the disposable list"
            }
        );
    }
    Ok(0)
}

/// `fraud rescore`: the named orders, or the whole queue, with progress.
async fn rescore(
    loaded: &Loaded,
    pool: &sqlx::PgPool,
    actor: &Actor,
    orders: Vec<String>,
    queue: bool,
) -> Result<u8, Failure> {
    let scoring = Scoring::from_config(&loaded.config.fraud)
        .map_err(|message| Failure { code: 2, message })?;
    let sql = |e: sqlx::Error| Failure {
        code: 1,
        message: format!("fraud rescore: {e}"),
    };
    let ids: Vec<(i64, String)> = if queue {
        sqlx::query_as(
            "SELECT id, order_number FROM orders WHERE fraud_state IN ('pending', 'review')
              ORDER BY fraud_score DESC, created_at",
        )
        .fetch_all(pool)
        .await
        .map_err(sql)?
    } else {
        let found: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, order_number FROM orders WHERE order_number = ANY($1)")
                .bind(&orders)
                .fetch_all(pool)
                .await
                .map_err(sql)?;
        if let Some(missing) = orders.iter().find(|n| !found.iter().any(|(_, f)| f == *n)) {
            return Err(Failure {
                code: 1,
                message: format!("no order {missing}"),
            });
        }
        found
    };
    let progress = (ids.len() > 20).then(|| {
        let bar = indicatif::ProgressBar::new(ids.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("rescoring {pos}/{len} {wide_bar} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    use crate::domain::fraud::FraudState;
    let (mut changed, mut left_queue, mut entered_queue) = (0, 0, 0);
    for (id, _) in &ids {
        let Some(r) = crate::worker::scoring::rescore(pool, *id, &scoring, actor)
            .await
            .map_err(|e| Failure::store("fraud rescore", e))?
        else {
            continue;
        };
        if r.score_before != Some(i16::from(r.score_after)) {
            changed += 1;
        }
        match (r.state_before, r.state_after) {
            (FraudState::Pending, FraudState::Clear) => left_queue += 1,
            (before, FraudState::Pending) if before != FraudState::Pending => entered_queue += 1,
            _ => {}
        }
        match &progress {
            Some(bar) => bar.inc(1),
            None => println!(
                "{}: {} -> {} ({} -> {})",
                r.order_number,
                r.score_before.map_or("-".into(), |s| s.to_string()),
                r.score_after,
                r.state_before,
                r.state_after
            ),
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    println!(
        "rescored {} order(s): {changed} new score(s), {entered_queue} entered the queue, {left_queue} left it",
        ids.len()
    );
    if let Some(e) = scoring.lists.current_error() {
        eprintln!("warning: {e}");
    }
    Ok(0)
}
