//! The probes against real local servers: http (200 passes, 500 fails but
//! answered, too slow is not reached), tcp (open and closed ports), tls (a
//! handshake with a certificate expiring in 10 days reads its days left, and
//! the rule warns under 14).

use std::sync::Arc;
use std::time::Duration;

use lsn_ops::config::ProbeConfig;
use lsn_ops::domain::alerts::Thresholds;
use lsn_ops::domain::probes::{Figures, ProbeKind, conditions};
use lsn_ops::simulators::probe_target::{Health, ProbeTarget};
use lsn_ops::worker::probes::check;

fn probe(kind: ProbeKind, target: String, timeout_ms: u64) -> ProbeConfig {
    ProbeConfig {
        name: "t".into(),
        kind,
        target,
        interval_s: 10,
        timeout_ms,
        expect_status: "200-299".into(),
        for_s: None,
        recover_s: None,
        thresholds: Default::default(),
    }
}

#[tokio::test]
async fn http_probes_tell_passing_failing_and_unreachable_apart() {
    let target = ProbeTarget::start().await.expect("target");
    let http = reqwest::Client::new();
    let p = probe(ProbeKind::Http, target.url(), 2000);

    let ok = check(&p, &http).await;
    assert!(ok.ok && ok.reached, "{ok:?}");
    assert_eq!(ok.status, Some(200));
    assert!(ok.latency_ms.is_some());

    target.set(Health::Failing(500));
    let failing = check(&p, &http).await;
    assert!(!failing.ok && failing.reached, "{failing:?}");
    assert_eq!(failing.status, Some(500));
    assert_eq!(failing.detail.as_deref(), Some("HTTP 500"));

    target.set(Health::Slow(Duration::from_secs(3)));
    let slow = check(&probe(ProbeKind::Http, target.url(), 200), &http).await;
    assert!(
        !slow.ok && !slow.reached,
        "a timeout is not an answer: {slow:?}"
    );
    target.shutdown().await;
}

#[tokio::test]
async fn tcp_probes_connect_or_not() {
    let open = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = open.local_addr().expect("addr");
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    };
    let http = reqwest::Client::new();
    let up = check(&probe(ProbeKind::Tcp, addr.to_string(), 1000), &http).await;
    assert!(up.ok && up.reached, "{up:?}");
    let down = check(&probe(ProbeKind::Tcp, closed.to_string(), 1000), &http).await;
    assert!(!down.ok && !down.reached, "{down:?}");
    assert!(down.detail.is_some());
}

#[tokio::test]
async fn a_tls_probe_reads_the_days_left_and_the_rule_warns_under_14() {
    let expires = chrono::Utc::now() + chrono::Duration::days(10);
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    use chrono::Datelike;
    params.not_after =
        rcgen::date_time_ymd(expires.year(), expires.month() as u8, expires.day() as u8);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            )),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    let s = check(
        &probe(ProbeKind::Tls, format!("localhost:{port}"), 3000),
        &reqwest::Client::new(),
    )
    .await;
    assert!(s.ok && s.reached, "{s:?}");
    let days = s.cert_days.expect("days read");
    assert!((9..=10).contains(&days), "{days}");
    let figures = Figures {
        samples: 1,
        reached: 1,
        ok: 1,
        p95_ms: s.latency_ms,
        cert_days: s.cert_days,
    };
    let keys: Vec<String> = conditions("shop-cert", &figures, &Thresholds::default(), 0, 0)
        .into_iter()
        .map(|c| c.dedup_key)
        .collect();
    assert!(
        keys.contains(&"probe:shop-cert:cert_expiry".to_string()),
        "{keys:?}"
    );
    server.abort();
}
