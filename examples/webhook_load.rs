//! Load test of the webhook path, on loopback: how many verified webhooks per
//! second reach the inbox, and how long a webhook takes to show up in a
//! dashboard snapshot (webhook → inbox → applier → NOTIFY → snapshot).
//!
//! It runs the real worker (HTTP server + applier) in-process against a fresh
//! database `lsn_ops_load` on the server named by `DATABASE_URL`, seeds it with
//! 2,000 orders, then sends correctly signed Twilio status callbacks for the
//! live show. Bounded in count and time; traffic goes only to 127.0.0.1.
//!
//! It prints, from the same run: the inbox's rate (ingest alone), pgbench's
//! rate for the same INSERT with its NOTIFY, the applier draining the backlog
//! in batches and one event per transaction, and a sustained phase where the
//! applier runs while the webhooks arrive.
//!
//! `scripts/load-webhooks [EVENTS] [CONCURRENCY] [LATENCY_SAMPLES]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, eyre};
use futures::StreamExt;
use lsn_ops::config::{Config, Secret};
use lsn_ops::domain::Currency;
use lsn_ops::store::snapshot::build_snapshot;
use lsn_ops::worker::apply::{self, ApplySettings};
use lsn_ops::worker::{AppState, Settings, system_clock};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

const TOKEN: &str = "load-test-twilio-token";
const TZ: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(20_000).min(200_000);
    let concurrency = args.get(1).copied().unwrap_or(32).clamp(1, 256) as usize;
    let samples = args.get(2).copied().unwrap_or(50).min(1_000);

    let pg_server =
        std::env::var("DATABASE_URL").wrap_err("DATABASE_URL must name the PostgreSQL server")?;
    let pool = fresh_database(&pg_server, "lsn_ops_load").await?;
    lsn_ops::store::seed::seed_database(&pool, 2_000, 7, &TZ, false).await?;
    let (show_id, room): (i64, String) = sqlx::query_as(
        "SELECT id, twilio_room_sid FROM shows WHERE status = 'live' AND twilio_room_sid IS NOT NULL LIMIT 1",
    )
    .fetch_one(&pool)
    .await?;

    // The worker, in-process: HTTP server and applier on their own pools.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let mut config = Config::default();
    config.worker.public_base_url = base.clone();
    config.twilio.auth_token = Secret::new(TOKEN);
    let settings = Settings::from_config(&config).map_err(|e| eyre!(e))?;
    let state = Arc::new(AppState::new(pool.clone(), settings, system_clock()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(lsn_ops::worker::serve(listener, state, async move {
        let _ = server_stop.changed().await;
    }));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let url = format!("{base}/webhooks/twilio");

    // 1. Throughput: signed callbacks into the inbox (the applier is not running yet).
    println!("sending {events} signed Twilio callbacks with {concurrency} in flight to {url}");
    let started = Instant::now();
    let results: Vec<u16> = futures::stream::iter(0..events)
        .map(|n| {
            let client = client.clone();
            let url = url.clone();
            let room = room.clone();
            async move {
                send(&client, &url, &room, &format!("load-viewer-{n}"), n)
                    .await
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let ok = results.iter().filter(|s| **s == 200).count();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM provider_events WHERE provider = 'twilio'")
            .fetch_one(&pool)
            .await?;
    println!(
        "ingest: {ok}/{events} answered 200, {stored} rows in the inbox, {:.2}s, {:.0} verified webhooks/s",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64()
    );

    let inbox_rate = ok as f64 / elapsed.as_secs_f64();

    // The database's own rate for the same INSERT with its NOTIFY (pgbench,
    // same clients, into a copy of the table so the inbox is untouched).
    let pgbench = pgbench_rate(&pg_server, &pool, concurrency).await;

    // The applier drains the backlog, in batches (one transaction each).
    let drain = Instant::now();
    let applied = apply::apply_due(&pool, ApplySettings::default(), usize::MAX).await?;
    let drain_s = drain.elapsed().as_secs_f64();
    let applier_rate = applied as f64 / drain_s;
    println!("applier: drained {applied} events in {drain_s:.2}s, {applier_rate:.0} events/s");

    // The same backlog again, one event per transaction (before issue 15).
    let again = requeue(&pool, events.min(5_000)).await?;
    let drain = Instant::now();
    let one_by_one =
        apply::apply_due_one_by_one(&pool, ApplySettings::default(), usize::MAX).await?;
    let single_rate = one_by_one as f64 / drain.elapsed().as_secs_f64();
    println!(
        "applier, one event per transaction: {one_by_one} of {again} requeued events, {single_rate:.0} events/s"
    );

    // Sustained: the applier runs while the webhooks arrive.
    let sustained_n = events;
    let (applier_stop, applier_stop_rx) = tokio::sync::watch::channel(false);
    let applier_task = tokio::spawn(apply::run(
        pool.clone(),
        ApplySettings::default(),
        Duration::from_millis(200),
        applier_stop_rx,
    ));
    let started = Instant::now();
    let results: Vec<u16> = futures::stream::iter(0..sustained_n)
        .map(|n| {
            let client = client.clone();
            let url = url.clone();
            let room = room.clone();
            async move {
                send(
                    &client,
                    &url,
                    &room,
                    &format!("sustained-viewer-{n}"),
                    1_000_000 + n,
                )
                .await
                .unwrap_or(0)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let sent_s = started.elapsed().as_secs_f64();
    let sent_ok = results.iter().filter(|s| **s == 200).count();
    loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM provider_events WHERE status IN ('pending', 'failed')",
        )
        .fetch_one(&pool)
        .await?;
        if left == 0 || started.elapsed() > Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_s = started.elapsed().as_secs_f64();
    let sustained_in = sent_ok as f64 / sent_s;
    let sustained_applied = sent_ok as f64 / all_s;
    println!(
        "sustained: {sent_ok} webhooks in {sent_s:.2}s ({sustained_in:.0}/s into the inbox), all applied after {all_s:.2}s ({sustained_applied:.0} events/s)"
    );
    println!();
    println!(
        "| inbox (ingest alone) | pgbench, same INSERT | applier (batches) | applier ÷ inbox | applier, one per transaction | sustained in / applied |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {inbox_rate:.0}/s | {} | {applier_rate:.0}/s | {:.0}% | {single_rate:.0}/s | {sustained_in:.0}/s / {sustained_applied:.0}/s |",
        pgbench.map_or_else(|e| format!("n/a ({e})"), |r| format!("{r:.0}/s")),
        100.0 * applier_rate / inbox_rate.max(1.0)
    );
    let _ = applier_stop.send(true);
    let _ = applier_task.await;
    let applier = tokio::spawn(apply::run(
        pool.clone(),
        ApplySettings::default(),
        Duration::from_secs(1),
        stop_rx.clone(),
    ));

    // 2. Latency: one webhook at a time until the snapshot shows its effect.
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
    listener.listen(lsn_ops::store::CHANGE_CHANNEL).await?;
    let mut latencies = Vec::new();
    for n in 0..samples {
        let before = viewers(&pool, show_id).await?;
        let sent = Instant::now();
        let status = send(
            &client,
            &url,
            &room,
            &format!("latency-viewer-{n}"),
            events + n,
        )
        .await?;
        if status != 200 {
            return Err(eyre!("latency sample {n}: webhook answered {status}"));
        }
        let deadline = sent + Duration::from_secs(5);
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Err(eyre!("latency sample {n}: not on the snapshot within 5 s"));
            }
            let _ = tokio::time::timeout(wait, listener.recv()).await;
            if viewers(&pool, show_id).await? > before {
                break;
            }
        }
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    if !latencies.is_empty() {
        println!(
            "webhook → snapshot over {} samples: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            latencies.len(),
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.95).as_secs_f64() * 1e3,
            pct(1.0).as_secs_f64() * 1e3
        );
    }
    let _ = stop_tx.send(true);
    let _ = applier.await;
    let _ = server.await;
    Ok(())
}

/// Puts `n` applied events back in the inbox as new events (new ids), to
/// drain them again another way.
async fn requeue(pool: &PgPool, n: u64) -> Result<u64> {
    let done = sqlx::query(
        "INSERT INTO provider_events (provider, event_id, event_type, occurred_at, headers, payload)
         SELECT provider, event_id || '-again', event_type, occurred_at, headers, payload
           FROM provider_events WHERE status = 'applied' ORDER BY id LIMIT $1",
    )
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// pgbench's transactions per second for the inbox's INSERT (with its
/// NOTIFY) into a copy of `provider_events`, `clients` at once for 5 s.
async fn pgbench_rate(server: &str, pool: &PgPool, clients: usize) -> Result<f64, String> {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS pgbench_events;
         CREATE TABLE pgbench_events (LIKE provider_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
    )
    .execute(pool)
    .await
    .map_err(|e| e.to_string())?;
    let payload: String = sqlx::query_scalar("SELECT payload::text FROM provider_events LIMIT 1")
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
    let script = std::env::temp_dir().join(format!("lsn-ops-pgbench-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "WITH stored AS (INSERT INTO pgbench_events (provider, event_id, event_type, occurred_at, headers, payload) \
             VALUES ('twilio', 'pgb-' || :client_id || '-' || random()::text, 'participant-connected', now(), '{{}}', '{}') \
             ON CONFLICT (provider, event_id) DO NOTHING RETURNING id) \
             SELECT id FROM stored, LATERAL (SELECT pg_notify('lsn_ops_pgbench', 'provider_events')) notified;\n",
            payload.replace('\'', "''")
        ),
    )
    .map_err(|e| e.to_string())?;
    let (base, _) = server
        .rsplit_once('/')
        .ok_or("DATABASE_URL has no database part")?;
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-T", "5", "-j", "2", "-c", &clients.to_string(), "-f"])
        .arg(&script)
        .arg(format!("{base}/lsn_ops_load"))
        .output()
        .map_err(|e| format!("pgbench: {e}"))?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "pgbench said: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    println!("pgbench: the inbox's INSERT with NOTIFY, {clients} clients, 5 s: {tps:.0}/s");
    Ok(tps)
}

/// The live show's viewer count as the dashboard sees it: from a full snapshot.
async fn viewers(pool: &PgPool, show_id: i64) -> Result<i32> {
    let snapshot = build_snapshot(pool, Utc::now(), &TZ, 70, Currency::USD).await?;
    Ok(snapshot
        .shows
        .iter()
        .find(|s| s.id == show_id)
        .map_or(0, |s| s.current_viewers))
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    room: &str,
    identity: &str,
    n: u64,
) -> Result<u16> {
    let params = vec![
        ("AccountSid".to_string(), "ACload".to_string()),
        ("ParticipantIdentity".to_string(), identity.to_string()),
        ("ParticipantSid".to_string(), format!("PA{n:032}")),
        ("ParticipantStatus".to_string(), "connected".to_string()),
        ("RoomName".to_string(), "live".to_string()),
        ("RoomSid".to_string(), room.to_string()),
        ("RoomStatus".to_string(), "in-progress".to_string()),
        ("RoomType".to_string(), "group".to_string()),
        ("SequenceNumber".to_string(), n.to_string()),
        (
            "StatusCallbackEvent".to_string(),
            "participant-connected".to_string(),
        ),
        ("Timestamp".to_string(), Utc::now().to_rfc3339()),
    ];
    let signature = lsn_ops::providers::twilio::sign(TOKEN, url, &params);
    let response = client
        .post(url)
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn fresh_database(server: &str, name: &str) -> Result<PgPool> {
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .wrap_err("connect to the PostgreSQL server")?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let (base, _) = server
        .rsplit_once('/')
        .ok_or_else(|| eyre!("DATABASE_URL has no database part"))?;
    let pool = PgPoolOptions::new()
        .max_connections(40)
        .connect(&format!("{base}/{name}"))
        .await?;
    lsn_ops::store::migrate(&pool).await?;
    Ok(pool)
}
