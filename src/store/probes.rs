//! Probe samples (`probe_samples`): the worker's probes write one row per
//! check; the rules read each probe's figures over the rolling window
//! ([`figures`], one grouped query over the window's index range); old
//! samples go after `[alerts] retention_h` ([`prune`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::probes::Figures;

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub probe: String,
    pub at: DateTime<Utc>,
    /// The check passed.
    pub ok: bool,
    /// The target answered at all.
    pub reached: bool,
    pub latency_ms: Option<i32>,
    /// http: the status.
    pub status: Option<i32>,
    /// tls: whole days until the certificate expires.
    pub cert_days: Option<i32>,
    /// A measurement of a built-in probe (disk or memory used, percent).
    pub value: Option<f64>,
    pub detail: Option<String>,
}

/// Writes samples (one statement).
pub async fn insert(pool: &PgPool, samples: &[Sample]) -> Result<(), sqlx::Error> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO probe_samples (probe, at, ok, reached, latency_ms, status, cert_days, value, detail) ",
    );
    q.push_values(samples, |mut b, s| {
        b.push_bind(&s.probe)
            .push_bind(s.at)
            .push_bind(s.ok)
            .push_bind(s.reached)
            .push_bind(s.latency_ms)
            .push_bind(s.status)
            .push_bind(s.cert_days)
            .push_bind(s.value)
            .push_bind(
                s.detail
                    .as_deref()
                    .map(|d| crate::text::clip(d).into_owned()),
            );
    });
    q.build().execute(pool).await?;
    Ok(())
}

/// Each probe's figures over `(now - window, now]`, for the probes named.
pub async fn figures(
    pool: &PgPool,
    probes: &[String],
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<HashMap<String, Figures>, sqlx::Error> {
    type Row = (String, i64, i64, i64, Option<i32>, Option<i32>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT probe, count(*), count(*) FILTER (WHERE reached), count(*) FILTER (WHERE ok),
                (percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms)
                    FILTER (WHERE reached AND latency_ms IS NOT NULL))::int,
                (array_agg(cert_days ORDER BY at DESC) FILTER (WHERE cert_days IS NOT NULL))[1]
           FROM probe_samples
          WHERE probe = ANY($1) AND at > $2 AND at <= $3
          GROUP BY probe",
    )
    .bind(probes)
    .bind(now - window)
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(probe, samples, reached, ok, p95_ms, cert_days)| {
            (
                probe,
                Figures {
                    samples,
                    reached,
                    ok,
                    p95_ms,
                    cert_days,
                },
            )
        })
        .collect())
}

/// The latest measurement of each built-in probe named, within the window.
pub async fn latest_values(
    pool: &PgPool,
    probes: &[String],
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<HashMap<String, (f64, Option<String>)>, sqlx::Error> {
    let rows: Vec<(String, f64, Option<String>)> = sqlx::query_as(
        "SELECT DISTINCT ON (probe) probe, value, detail FROM probe_samples
          WHERE probe = ANY($1) AND at > $2 AND at <= $3 AND value IS NOT NULL
          ORDER BY probe, at DESC",
    )
    .bind(probes)
    .bind(now - window)
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(p, v, d)| (p, (v, d))).collect())
}

/// Deletes samples older than `before`, at most `batch` rows a call (so a
/// long backlog never holds a lock for long). Returns how many went.
pub async fn prune(pool: &PgPool, before: DateTime<Utc>, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM probe_samples WHERE id IN
            (SELECT id FROM probe_samples WHERE at < $1 ORDER BY at LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
