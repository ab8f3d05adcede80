//! The probes: each `[[probes]]` entry checked every `interval_s` (http GET
//! with the expected status range, tcp connect, tls handshake reading the
//! certificate's expiry), plus the built-in disk and memory of this machine
//! (sysinfo). Samples are written in batches by one writer task (so 50
//! probes cost one insert a second, not fifty); old ones are pruned.
//! Nothing here decides an alert: the evaluator (`worker::monitor`) reads the
//! samples' figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::PgPool;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::config::ProbeConfig;
use crate::domain::probes::ProbeKind;
use crate::store::probes::{self as store, Sample};

/// Built-in probe names (one machine's figures; the host name is the detail).
pub const DISK: &str = "system:disk";
pub const MEMORY: &str = "system:memory";

/// How often the built-in disk and memory probes sample.
const SYSTEM_EVERY: Duration = Duration::from_secs(15);

/// Checks one probe now.
pub async fn check(probe: &ProbeConfig, http: &reqwest::Client) -> Sample {
    let timeout = Duration::from_millis(probe.timeout_ms.max(1));
    let started = Instant::now();
    let at = Utc::now();
    let mut s = Sample {
        probe: probe.name.clone(),
        at,
        ok: false,
        reached: false,
        latency_ms: None,
        status: None,
        cert_days: None,
        value: None,
        detail: None,
    };
    let elapsed =
        |started: Instant| i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    match probe.kind {
        ProbeKind::Http => match http.get(&probe.target).timeout(timeout).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                s.reached = true;
                s.status = Some(i32::from(status));
                s.ok = probe.status_range().contains(status);
                // The answer is complete once its body is read (bounded by the timeout).
                let _ =
                    tokio::time::timeout(timeout.saturating_sub(started.elapsed()), resp.bytes())
                        .await;
                s.latency_ms = Some(elapsed(started));
                if !s.ok {
                    s.detail = Some(format!("HTTP {status}"));
                }
            }
            Err(e) => s.detail = Some(e.without_url().to_string()),
        },
        ProbeKind::Tcp => {
            match tokio::time::timeout(timeout, TcpStream::connect(&probe.target)).await {
                Ok(Ok(_)) => {
                    s.reached = true;
                    s.ok = true;
                    s.latency_ms = Some(elapsed(started));
                }
                Ok(Err(e)) => s.detail = Some(e.to_string()),
                Err(_) => s.detail = Some(format!("no connection within {} ms", probe.timeout_ms)),
            }
        }
        ProbeKind::Tls => match tokio::time::timeout(timeout, tls_expiry(&probe.target)).await {
            Ok(Ok(not_after)) => {
                s.reached = true;
                s.ok = true;
                s.latency_ms = Some(elapsed(started));
                s.cert_days = Some(i32::try_from((not_after - at).num_days()).unwrap_or(i32::MAX));
            }
            Ok(Err(e)) => s.detail = Some(e),
            Err(_) => s.detail = Some(format!("no handshake within {} ms", probe.timeout_ms)),
        },
    }
    s
}

/// Connects, shakes hands (SNI = the host) and returns the leaf
/// certificate's notAfter. The chain is not judged here: the probe is about
/// reachability and expiry, and must read an expired certificate too.
async fn tls_expiry(target: &str) -> Result<DateTime<Utc>, String> {
    let (host, _) = target
        .rsplit_once(':')
        .ok_or_else(|| "target is not host:port".to_string())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let name = rustls::pki_types::ServerName::try_from(host)
        .map_err(|e| format!("bad server name: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadOnly(provider)))
        .with_no_client_auth();
    let tcp = TcpStream::connect(target)
        .await
        .map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let (_, conn) = tls.get_ref();
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| "no certificate".to_string())?;
    not_after(leaf.as_ref()).ok_or_else(|| "unreadable certificate validity".to_string())
}

/// Accepts any certificate (signatures of the handshake are still checked).
#[derive(Debug)]
struct ReadOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for ReadOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One DER element: (tag, contents, the rest).
fn der(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*buf.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, buf.get(header..end)?, buf.get(end..)?))
}

/// The notAfter of an X.509 certificate (DER): Certificate → TBSCertificate
/// → [version] serial signature issuer validity(notBefore, notAfter).
pub fn not_after(cert: &[u8]) -> Option<DateTime<Utc>> {
    let (0x30, cert, _) = der(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = der(cert)? else {
        return None;
    };
    let (tag, _, mut rest) = der(tbs)?;
    if tag == 0xa0 {
        rest = der(rest)?.2; // the version was there: skip the serial too
    }
    let rest = der(rest)?.2; // signature algorithm
    let rest = der(rest)?.2; // issuer
    let (0x30, validity, _) = der(rest)? else {
        return None;
    };
    let (_, _, after) = der(validity)?; // notBefore
    let (tag, time, _) = der(after)?;
    let text = std::str::from_utf8(time).ok()?.strip_suffix('Z')?;
    let full = match tag {
        // UTCTime: YYMMDDHHMMSS, years 50-99 are 19xx.
        0x17 if text.len() == 12 => {
            let yy: i32 = text.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        0x18 if text.len() == 14 => text.to_string(),
        _ => return None,
    };
    let date = NaiveDate::parse_from_str(full.get(..8)?, "%Y%m%d").ok()?;
    let time = NaiveTime::parse_from_str(full.get(8..)?, "%H%M%S").ok()?;
    Some(NaiveDateTime::new(date, time).and_utc())
}

/// The fullest disk (percent used, its mount point) and memory used (percent).
pub fn system_usage() -> (Option<(f64, String)>, Option<f64>) {
    let disk = sysinfo::Disks::new_with_refreshed_list()
        .ok()
        .and_then(|disks| {
            disks
                .iter()
                .filter(|d| d.total_space() > 0)
                .map(|d| {
                    let used = d.total_space().saturating_sub(d.available_space());
                    (
                        used as f64 * 100.0 / d.total_space() as f64,
                        d.mount_point().display().to_string(),
                    )
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))
        });
    let memory = sysinfo::System::new().ok().and_then(|mut s| {
        s.refresh_memory();
        (s.total_memory() > 0).then(|| s.used_memory() as f64 * 100.0 / s.total_memory() as f64)
    });
    (disk, memory)
}

fn system_samples(host: &str) -> Vec<Sample> {
    let (disk, memory) = system_usage();
    let at = Utc::now();
    let sample = |probe: &str, value: f64, detail: String| Sample {
        probe: probe.into(),
        at,
        ok: true,
        reached: true,
        latency_ms: None,
        status: None,
        cert_days: None,
        value: Some(value),
        detail: Some(detail),
    };
    let mut out = Vec::new();
    if let Some((pct, mount)) = disk {
        out.push(sample(DISK, pct, format!("{host} {mount}")));
    }
    if let Some(pct) = memory {
        out.push(sample(MEMORY, pct, host.to_string()));
    }
    out
}

/// Runs every probe and the built-in system probes until `stop`, writing
/// samples; prunes samples older than `retention` once a minute.
pub async fn run(
    pool: PgPool,
    probes: Vec<ProbeConfig>,
    retention: chrono::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let (tx, mut rx) = mpsc::channel::<Sample>(4096);
    let http = match reqwest::Client::builder()
        .user_agent(concat!("lsn-ops-probe/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("probes: no HTTP client: {e}");
            return;
        }
    };
    let mut tasks = Vec::new();
    for probe in probes {
        let (tx, http, mut stop) = (tx.clone(), http.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(probe.interval_s.max(1)));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.changed() => return,
                }
                let sample = check(&probe, &http).await;
                if tx.send(sample).await.is_err() {
                    return;
                }
            }
        }));
    }
    {
        let (tx, mut stop) = (tx.clone(), stop.clone());
        let host = sysinfo::System::host_name().unwrap_or_else(|_| "this host".into());
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(SYSTEM_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.changed() => return,
                }
                let host = host.clone();
                let samples = tokio::task::spawn_blocking(move || system_samples(&host))
                    .await
                    .unwrap_or_default();
                for s in samples {
                    if tx.send(s).await.is_err() {
                        return;
                    }
                }
            }
        }));
    }
    drop(tx);
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let mut prune = tokio::time::interval(Duration::from_secs(60));
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            s = rx.recv() => match s {
                Some(s) => batch.push(s),
                None => break,
            },
            _ = flush.tick() => {
                if let Err(e) = store::insert(&pool, &batch).await {
                    tracing::warn!("probes: {} samples not written: {e}", batch.len());
                }
                batch.clear();
            }
            _ = prune.tick() => {
                if let Err(e) = store::prune(&pool, Utc::now() - retention, 10_000).await {
                    tracing::warn!("probes: pruning: {e}");
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = store::insert(&pool, &batch).await;
    for t in tasks {
        t.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_not_after_from_a_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params.not_after = rcgen::date_time_ymd(2031, 3, 4);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let after = not_after(cert.der()).expect("notAfter");
        assert_eq!(after.format("%Y-%m-%d").to_string(), "2031-03-04");
        assert_eq!(not_after(b"\x30\x03\x02\x01\x00"), None);
        assert_eq!(not_after(b""), None);
    }
}
