//! Soak test of the webhook receiver (issue 18): mixed valid and invalid
//! traffic at a steady rate against a real `lsn-ops worker` process on
//! loopback, sampling the worker's resident memory every minute.
//!
//! It creates a fresh database `lsn_ops_soak` on the server named by
//! `DATABASE_URL`, starts the worker binary (`LSN_OPS_BIN`, default
//! `target/release/lsn-ops`) on a free port, and sends for `SECONDS` at
//! `RATE` requests per second (bounded: at most 2 h and 5,000/s, and the
//! total is `SECONDS × RATE`), then stops the worker. The mix, per 20 requests:
//!
//! - 8 signed Wise deliveries (stored; `balances#credit`, kept as ignored),
//! - 3 Wise deliveries with a forged signature (401),
//! - 2 signed Wise deliveries with an over-long field (400),
//! - 2 Twilio callbacks with a forged signature (401),
//! - 2 PayPal deliveries with malformed signature headers (401, no call out),
//! - 1 over-size body (413), 1 `/healthz`, 1 `/metrics`;
//!
//! plus, every 10 s, 20 connections that send half a request head and go
//! silent (closed by the worker's header timeout).
//!
//! `scripts/soak-webhooks [SECONDS=1800] [RATE=500]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use color_eyre::eyre::{Result, WrapErr, eyre};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use sqlx::Connection;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, Semaphore};

const TWILIO_TOKEN: &str = "soak-twilio-token";

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

struct Signer(RsaKeyPair);

impl Signer {
    fn sign(&self, body: &[u8]) -> String {
        let mut sig = vec![0; self.0.public_modulus_len()];
        let _ = self
            .0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), body, &mut sig);
        base64::engine::general_purpose::STANDARD.encode(sig)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seconds = args.first().copied().unwrap_or(1800).clamp(10, 7200);
    let rate = args.get(1).copied().unwrap_or(500).clamp(1, 5000);
    let total = seconds * rate;

    let server =
        std::env::var("DATABASE_URL").wrap_err("DATABASE_URL must name the PostgreSQL server")?;
    let (base_url, _) = server
        .rsplit_once('/')
        .ok_or_else(|| eyre!("DATABASE_URL has no database part"))?;
    let mut admin = sqlx::PgConnection::connect(&server).await?;
    sqlx::raw_sql("DROP DATABASE IF EXISTS lsn_ops_soak WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    sqlx::raw_sql("CREATE DATABASE lsn_ops_soak")
        .execute(&mut admin)
        .await?;
    let db_url = format!("{base_url}/lsn_ops_soak");
    {
        let pool = sqlx::PgPool::connect(&db_url).await?;
        lsn_ops::store::migrate(&pool).await?;
        pool.close().await;
    }

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let key_pem = std::fs::read(root.join("tests/fixtures/test-keys/key.pem"))?;
    let der = PrivatePkcs8KeyDer::from_pem_slice(&key_pem).map_err(|e| eyre!("{e}"))?;
    let signer = Arc::new(Signer(
        RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(|e| eyre!("{e}"))?,
    ));

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let bin = std::env::var("LSN_OPS_BIN")
        .unwrap_or_else(|_| root.join("target/release/lsn-ops").display().to_string());
    let logs = std::env::temp_dir().join(format!("lsn-ops-soak-{}", std::process::id()));
    let mut worker = tokio::process::Command::new(&bin)
        .arg("worker")
        .current_dir(root)
        .env("DATABASE_URL", &db_url)
        .env("LSN_OPS_WORKER__LISTEN", format!("127.0.0.1:{port}"))
        .env("LSN_OPS_WORKER__PUBLIC_BASE_URL", &base)
        .env(
            "LSN_OPS_WISE__WEBHOOK_PUBLIC_KEY",
            root.join("tests/fixtures/test-keys/pub.pem"),
        )
        .env("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
        .env("PAYPAL_WEBHOOK_ID", "WH-SOAK")
        .env("LSN_OPS_PAYPAL__VERIFY", "offline")
        .env("LSN_OPS_LOG__DIR", &logs)
        .kill_on_drop(true)
        .spawn()
        .wrap_err_with(|| format!("starting {bin}"))?;
    let pid = worker
        .id()
        .ok_or_else(|| eyre!("the worker exited at once"))?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .build()?;
    let ready = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        if ready.elapsed() > Duration::from_secs(30) {
            return Err(eyre!("the worker did not become healthy in 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "soak: worker pid {pid} on {base}; {seconds} s at {rate}/s ({total} requests); RSS at start {} KiB",
        rss_kib(pid).unwrap_or(0)
    );

    let statuses: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let errors = Arc::new(AtomicU64::new(0));
    let slow_ms = Arc::new(AtomicU64::new(0));
    let permits = Arc::new(Semaphore::new(128));
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut samples: Vec<(u64, u64, usize)> = Vec::new();
    let mut next_sample = 0u64;
    let mut next_slow = 0u64;
    let giant = "x".repeat(5_000);
    let oversize = vec![b'{'; (1 << 20) + 10];
    for n in 0..total {
        tick.tick().await;
        let elapsed = started.elapsed();
        if elapsed >= Duration::from_secs(seconds + 60) {
            println!("soak: time bound reached after {n} requests");
            break;
        }
        if elapsed.as_secs() >= next_sample {
            let rss = rss_kib(pid).unwrap_or(0);
            let fds = open_fds(pid);
            samples.push((elapsed.as_secs() / 60, rss, fds));
            let counts = statuses.lock().await.clone();
            println!(
                "soak: minute {:>3}  RSS {:>7} KiB  open fds {:>4}  sent {n:>8}  answers {counts:?}  client errors {}  slowest {} ms",
                elapsed.as_secs() / 60,
                rss,
                fds,
                errors.load(Ordering::Relaxed),
                slow_ms.swap(0, Ordering::Relaxed)
            );
            next_sample += 60;
        }
        if elapsed.as_secs() >= next_slow {
            next_slow += 10;
            let addr = format!("127.0.0.1:{port}");
            tokio::spawn(async move {
                let mut held = Vec::new();
                for _ in 0..20 {
                    if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
                        let _ = s
                            .write_all(b"POST /webhooks/wise HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                            .await;
                        held.push(s);
                    }
                }
                tokio::time::sleep(Duration::from_secs(8)).await;
                drop(held);
            });
        }
        let permit = permits.clone().acquire_owned().await?;
        let (http, base, signer) = (http.clone(), base.clone(), signer.clone());
        let (statuses, errors, slow_ms) = (statuses.clone(), errors.clone(), slow_ms.clone());
        let request = match n % 20 {
            0..=7 => {
                let body = serde_json::json!({"event_type": "balances#credit", "schema_version": "2.0.0",
                    "data": {"resource": {"id": n, "type": "balance-account"}, "amount": 1, "occurred_at": chrono::Utc::now().to_rfc3339()},
                    "sent_at": chrono::Utc::now().to_rfc3339()}).to_string();
                http.post(format!("{base}/webhooks/wise"))
                    .header("content-type", "application/json")
                    .header("x-delivery-id", format!("soak-{n}"))
                    .header("x-signature-sha256", signer.sign(body.as_bytes()))
                    .body(body)
            }
            8..=10 => http
                .post(format!("{base}/webhooks/wise"))
                .header("content-type", "application/json")
                .header("x-signature-sha256", "Zm9yZ2Vk")
                .body(format!(
                    "{{\"event_type\":\"transfers#state-change\",\"n\":{n}}}"
                )),
            11..=12 => {
                let body = serde_json::json!({"event_type": "transfers#state-change",
                    "data": {"resource": {"id": n, "type": "transfer"}, "current_state": giant,
                             "occurred_at": chrono::Utc::now().to_rfc3339()}})
                .to_string();
                http.post(format!("{base}/webhooks/wise"))
                    .header("content-type", "application/json")
                    .header("x-signature-sha256", signer.sign(body.as_bytes()))
                    .body(body)
            }
            13..=14 => http
                .post(format!("{base}/webhooks/twilio"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", "Zm9yZ2Vk")
                .body(format!(
                    "RoomSid=RM{n:032}&StatusCallbackEvent=room-created&SequenceNumber=1"
                )),
            15..=16 => http
                .post(format!("{base}/webhooks/paypal"))
                .header("content-type", "application/json")
                .header("paypal-transmission-id", "x".repeat(200))
                .header("paypal-transmission-time", "yesterday")
                .header("paypal-transmission-sig", "A".repeat(600))
                .header("paypal-cert-url", "https://evil.example/cert.pem")
                .header("paypal-auth-algo", "SHA256withRSA")
                .body(format!("{{\"id\":\"WH-{n}\"}}")),
            17 => http
                .post(format!("{base}/webhooks/wise"))
                .header("content-type", "application/json")
                .body(oversize.clone()),
            18 => http.get(format!("{base}/healthz")),
            _ => http.get(format!("{base}/metrics")),
        };
        tokio::spawn(async move {
            let sent = Instant::now();
            match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    *statuses.lock().await.entry(status).or_insert(0) += 1;
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            slow_ms.fetch_max(sent.elapsed().as_millis() as u64, Ordering::Relaxed);
            drop(permit);
        });
    }
    // Let the last requests finish, then one last sample.
    let _ = permits.acquire_many(128).await;
    let rss = rss_kib(pid).unwrap_or(0);
    samples.push((started.elapsed().as_secs() / 60, rss, open_fds(pid)));
    let counts = statuses.lock().await.clone();
    println!(
        "soak: done after {} s: answers {counts:?}, client errors {}",
        started.elapsed().as_secs(),
        errors.load(Ordering::Relaxed)
    );
    let _ = worker.start_kill();
    let _ = worker.wait().await;

    println!("soak: RSS curve (minute: KiB, open fds)");
    for (minute, rss, fds) in &samples {
        println!("  {minute:>3}: {rss:>7} KiB  {fds:>4} fds");
    }
    let start = samples.first().map_or(0, |s| s.1);
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let end = samples.last().map_or(0, |s| s.1);
    // After warm-up: from minute 5 on.
    let warm: Vec<u64> = samples.iter().filter(|s| s.0 >= 5).map(|s| s.1).collect();
    let (wmin, wmax) = (
        warm.iter().min().copied().unwrap_or(0),
        warm.iter().max().copied().unwrap_or(0),
    );
    println!(
        "soak: RSS start {start} KiB, peak {peak} KiB, end {end} KiB; after warm-up (minute 5+) between {wmin} and {wmax} KiB"
    );
    let stored: i64 = {
        let mut conn = sqlx::PgConnection::connect(&db_url).await?;
        sqlx::query_scalar("SELECT count(*) FROM provider_events")
            .fetch_one(&mut conn)
            .await?
    };
    println!("soak: {stored} events stored");
    Ok(())
}
