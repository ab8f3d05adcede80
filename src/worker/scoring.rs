//! Fraud scoring in the worker: gathers an order's signals from the database
//! and the reference lists, turns them into indicators and a 0-100 score with
//! the configured rules ([`crate::domain::fraud`]), stores both, and puts a
//! high-risk order in the review queue. Runs when a payment is captured
//! (inside the applier's transaction: a provider's doing, so no operator and
//! no authorization); [`rescore`] recomputes an order's score later (after a
//! weight change, say) on an operator's behalf, who must be allowed to decide
//! fraud (`store::authz`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::reference::ReferenceCache;
use crate::config::FraudConfig;
use crate::domain::fraud::{self, FraudState, Hit, Rules, Signals};
use crate::domain::money::{Currency, Money};
use crate::domain::operators::{Actor, Permission};
use crate::store::authz::{self, AuthError};

/// The version stored with every score (`fraud_scores.model_version`).
pub const MODEL_VERSION: &str = "rules-v1";

/// Everything scoring needs from the configuration.
#[derive(Debug)]
pub struct Scoring {
    /// Scores strictly above this go to the review queue.
    pub high_risk_threshold: u8,
    pub rules: Rules,
    pub lists: ReferenceCache,
}

impl Default for Scoring {
    fn default() -> Self {
        Self {
            high_risk_threshold: 70,
            rules: Rules::default(),
            lists: ReferenceCache::built_in(),
        }
    }
}

impl Scoring {
    /// From `[fraud]`: rules as configured (validated with the config), the
    /// reference lists loaded from `reference_dir`.
    pub fn from_config(config: &FraudConfig) -> Result<Self, String> {
        Ok(Self {
            high_risk_threshold: config.high_risk_threshold,
            rules: Rules {
                weights: config.weights,
                thresholds: config.thresholds,
            },
            lists: ReferenceCache::from_config(
                &config.reference_dir,
                Duration::from_secs(config.reload_check_s),
            )?,
        })
    }

    pub fn shared(self) -> Arc<Self> {
        Arc::new(self)
    }
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The inputs of every indicator for `order_id`, as of the order's creation
/// (so a rescore counts the same windows the first score did).
pub async fn signals(
    conn: &mut PgConnection,
    order_id: i64,
    scoring: &Scoring,
) -> Result<Signals, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Facts {
        ip: Option<String>,
        ip_country: Option<String>,
        billing_country: Option<String>,
        shipping_country: Option<String>,
        device_fingerprint: Option<String>,
        paypal_payer_id: Option<String>,
        email: String,
        total_minor: i64,
        currency: String,
        customer_id: i64,
        created_at: DateTime<Utc>,
    }
    let f: Facts = sqlx::query_as(
        "SELECT host(ip) AS ip, ip_country::text, billing_country::text, shipping_country::text, device_fingerprint,
                paypal_payer_id, email, total_minor, currency::text AS currency, customer_id, created_at
           FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?;
    let t = &scoring.rules.thresholds;
    let (from_ip, other_accounts, previous, payer_disputes, failed, blocked): (i64, i64, i64, i64, i64, Option<(String, String)>) =
        sqlx::query_as(
            "SELECT
               (SELECT count(*) FROM orders WHERE ip = $2::inet
                   AND created_at > $3 - make_interval(mins => $8) AND created_at <= $3),
               (SELECT count(DISTINCT customer_id) FROM orders WHERE device_fingerprint = $4 AND customer_id <> $5),
               (SELECT count(*) FROM orders WHERE customer_id = $5 AND id <> $1 AND paid_at IS NOT NULL),
               (SELECT count(*) FROM disputes d JOIN orders o ON o.id = d.order_id WHERE o.paypal_payer_id = $6),
               (SELECT count(*) FROM orders WHERE (paypal_payer_id = $6 OR email = $7) AND status = 'payment_failed'
                   AND created_at > $3 - make_interval(mins => $9) AND created_at <= $3),
               (SELECT ROW(kind, value) FROM blocklist WHERE removed_at IS NULL AND
                   ((kind = 'ip' AND value = $2) OR (kind = 'email' AND lower(value) = lower($7))
                    OR (kind = 'device' AND value = $4) OR (kind = 'payer' AND value = $6))
                 ORDER BY added_at LIMIT 1)",
        )
        .bind(order_id)
        .bind(f.ip.as_deref())
        .bind(f.created_at)
        .bind(f.device_fingerprint.as_deref())
        .bind(f.customer_id)
        .bind(f.paypal_payer_id.as_deref())
        .bind(&f.email)
        .bind(i32::try_from(t.velocity_window_min).unwrap_or(i32::MAX))
        .bind(i32::try_from(t.failed_payments_window_min).unwrap_or(i32::MAX))
        .fetch_one(&mut *conn)
        .await?;
    let lists = scoring.lists.current();
    let ip: Option<IpAddr> = f.ip.as_deref().and_then(|s| s.parse().ok());
    let domain = f
        .email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase());
    let total = Currency::parse(&f.currency).map(|c| Money::new(f.total_minor, c));
    Ok(Signals {
        orders_from_ip: count(from_ip),
        device: f.device_fingerprint,
        other_accounts_on_device: count(other_accounts),
        ip_abuse_score: ip
            .and_then(|ip| lists.reputation(ip))
            .map(|r| r.abuse_score),
        proxy_range: ip.and_then(|ip| lists.proxy_range(ip)).map(|p| {
            if p.label.is_empty() {
                p.net.to_string()
            } else {
                format!("{} ({})", p.net, p.label)
            }
        }),
        ip: f.ip,
        ip_country: f.ip_country,
        billing_country: f.billing_country,
        shipping_country: f.shipping_country,
        payer_disputes: count(payer_disputes),
        previous_orders: count(previous),
        total_minor: f.total_minor,
        total_display: total.map(|m| m.display()).unwrap_or_default(),
        email_domain_disposable: domain.as_deref().is_some_and(|d| lists.is_disposable(d)),
        email_domain: domain,
        failed_payments: count(failed),
        blocklisted: blocked,
    })
}

/// Stores a score with its indicators; returns the score's id.
async fn store_score(
    conn: &mut PgConnection,
    order_id: i64,
    hits: &[Hit],
    score: u8,
) -> Result<i64, sqlx::Error> {
    let score_id: i64 = sqlx::query_scalar(
        "INSERT INTO fraud_scores (order_id, score, model_version) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(order_id)
    .bind(i16::from(score))
    .bind(MODEL_VERSION)
    .fetch_one(&mut *conn)
    .await?;
    for hit in hits {
        sqlx::query(
            "INSERT INTO fraud_indicators (score_id, indicator, points, evidence) VALUES ($1, $2, $3, $4)",
        )
        .bind(score_id)
        .bind(hit.indicator.as_str())
        .bind(i16::from(hit.points))
        .bind(&hit.evidence)
        .execute(&mut *conn)
        .await?;
    }
    Ok(score_id)
}

/// A list file that failed to reload becomes an alert (once per bad version).
async fn report_list_errors(conn: &mut PgConnection, scoring: &Scoring) -> Result<(), sqlx::Error> {
    if let Some(error) = scoring.lists.take_unreported_error() {
        crate::store::alerts::raise(
            conn,
            "fraud_reference_lists",
            "fraud:reference_lists",
            "warning",
            "P2",
            "Fraud reference lists not reloaded",
            &format!("{error}; the previous lists stay in use until the file is fixed (check with `lsn-ops fraud lists`)"),
        )
        .await?;
    }
    Ok(())
}

/// Scores a just-captured order: stores the score with its indicators and
/// puts the order in the fraud queue (payment on hold) when it is high risk.
/// Runs inside the applier's transaction. Returns the score.
pub async fn score_order(
    conn: &mut PgConnection,
    order_id: i64,
    scoring: &Scoring,
) -> Result<u8, sqlx::Error> {
    let signals = signals(conn, order_id, scoring).await?;
    // After `signals`, which looked at the list files.
    report_list_errors(conn, scoring).await?;
    let hits = fraud::hits(&signals, &scoring.rules);
    let score = fraud::score(&hits);
    store_score(conn, order_id, &hits, score).await?;
    let high = fraud::is_high_risk(score, scoring.high_risk_threshold);
    sqlx::query(
        "UPDATE orders SET fraud_score = $2, fraud_state = $3,
                           status = CASE WHEN $3 = 'pending' AND status = 'paid' THEN 'on_hold' ELSE status END
          WHERE id = $1",
    )
    .bind(order_id)
    .bind(i16::from(score))
    .bind(FraudState::scored(high).as_str())
    .execute(&mut *conn)
    .await?;
    Ok(score)
}

/// What a rescore did to one order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rescored {
    pub order_id: i64,
    pub order_number: String,
    pub score_before: Option<i16>,
    pub score_after: u8,
    pub state_before: FraudState,
    pub state_after: FraudState,
    pub indicators: Vec<Hit>,
}

/// Recomputes an order's score with the current rules and lists, in one
/// transaction with its audit row. A decided order (approved, review,
/// declined) keeps its decision and only gets the new score; an undecided one
/// moves into or out of the queue (`pending` / `clear`, payment hold with it).
/// `None` when the order does not exist. `actor` needs `DecideFraud`,
/// checked in the same transaction before anything is written; the audit row
/// names `actor.audit_name()`.
pub async fn rescore(
    pool: &PgPool,
    order_id: i64,
    scoring: &Scoring,
    actor: &Actor,
) -> Result<Option<Rescored>, AuthError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::DecideFraud).await?;
    let row: Option<(String, Option<i16>, String)> = sqlx::query_as(
        "SELECT order_number, fraud_score, fraud_state FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((order_number, score_before, state_before)) = row else {
        return Ok(None);
    };
    let state_before = FraudState::parse(&state_before).ok_or_else(|| {
        sqlx::Error::Decode(
            format!("order {order_id}: unknown fraud_state {state_before:?}").into(),
        )
    })?;
    let signals = signals(&mut tx, order_id, scoring).await?;
    report_list_errors(&mut tx, scoring).await?;
    let hits = fraud::hits(&signals, &scoring.rules);
    let score = fraud::score(&hits);
    store_score(&mut tx, order_id, &hits, score).await?;
    let state_after = if state_before.is_undecided() {
        FraudState::scored(fraud::is_high_risk(score, scoring.high_risk_threshold))
    } else {
        state_before
    };
    sqlx::query(
        "UPDATE orders SET fraud_score = $2, fraud_state = $3,
                status = CASE WHEN $3 = 'pending' AND status = 'paid' THEN 'on_hold'
                              WHEN $3 = 'clear' AND $4 = 'pending' AND status = 'on_hold' THEN 'paid'
                              ELSE status END
          WHERE id = $1",
    )
    .bind(order_id)
    .bind(i16::from(score))
    .bind(state_after.as_str())
    .bind(state_before.as_str())
    .execute(&mut *tx)
    .await?;
    crate::store::audit(
        &mut tx,
        &actor.audit_name(),
        "fraud.rescore",
        "order",
        &order_id.to_string(),
        serde_json::json!({
            "score_before": score_before, "score_after": score,
            "state_before": state_before, "state_after": state_after,
            "indicators": hits.iter().map(|h| serde_json::json!({"indicator": h.indicator.as_str(), "points": h.points})).collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Rescored {
        order_id,
        order_number,
        score_before,
        score_after: score,
        state_before,
        state_after,
        indicators: hits,
    }))
}
