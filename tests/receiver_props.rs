//! Property test of the receiver (issue 18): arbitrary bodies and headers fed
//! to each webhook endpoint in-process (the router as a tower service, on a
//! real PostgreSQL). Whatever arrives: no panic; the answer is one of 2xx,
//! 400, 401, 408, 413, 431, 503; and nothing is stored unless the signature
//! is valid (unsigned cases never add a row; signed Wise cases may).
//!
//! PayPal runs in `verify = "api"` mode against a closed loopback port, so
//! whatever passes the local header checks gets 503 and nothing leaves the
//! machine.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use lsn_ops::config::{Config, PaypalVerify, Secret};
use lsn_ops::worker::{AppState, Settings};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use tower::ServiceExt;

const ENDPOINTS: [&str; 3] = ["/webhooks/paypal", "/webhooks/wise", "/webhooks/twilio"];

const HEADER_NAMES: &[&str] = &[
    "content-type",
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
    "x-signature-sha256",
    "x-delivery-id",
    "x-twilio-signature",
    "authorization",
];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-15T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap_or_default()
}

fn sign(body: &[u8]) -> String {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use base64::Engine as _;
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    let pem = fixture("test-keys/key.pem");
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).expect("test key");
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("rsa key");
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), body, &mut sig)
        .expect("sign");
    base64::engine::general_purpose::STANDARD.encode(sig)
}

/// One delivery: endpoint, headers, body, and whether to sign it for Wise.
#[derive(Debug, Clone)]
struct Case {
    endpoint: usize,
    headers: Vec<(usize, String)>,
    body: Vec<u8>,
    sign_wise: bool,
    oversize: bool,
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        // JSON-ish: objects with provider-like keys and odd values.
        (
            proptest::sample::select(vec![
                "id",
                "event_type",
                "resource",
                "data",
                "RoomSid",
                "current_state",
                "occurred_at",
                "create_time"
            ]),
            prop_oneof![
                "[ -~]{0,300}".prop_map(serde_json::Value::String),
                any::<i64>().prop_map(serde_json::Value::from),
                Just(serde_json::json!({"id": 1, "amount": {"value": 12.5}})),
                Just(serde_json::Value::Null),
            ],
            proptest::sample::select(vec![
                "transfers#state-change",
                "PAYMENT.CAPTURE.COMPLETED",
                "2030-01-01T00:00:00Z"
            ]),
        )
            .prop_map(|(k, v, t)| {
                serde_json::json!({ k: v, "event_type": t, "data": {"resource": {"id": 5}, "current_state": t, "occurred_at": t} })
                    .to_string()
                    .into_bytes()
            }),
        // Form-ish (Twilio).
        "[A-Za-z=&%0-9+]{0,400}".prop_map(String::into_bytes),
    ]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        0..ENDPOINTS.len(),
        proptest::collection::vec((0..HEADER_NAMES.len(), "[ -~]{0,700}"), 0..8),
        body_strategy(),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.02),
    )
        .prop_map(|(endpoint, headers, body, sign_wise, oversize)| Case {
            endpoint,
            headers,
            body,
            sign_wise,
            oversize,
        })
}

async fn rows(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM provider_events")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[test]
fn arbitrary_deliveries_get_a_listed_answer_and_store_nothing_unsigned() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = rt.block_on(common::TestDb::create("props"));
    let pool = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db.url()).await.expect("connect");
        lsn_ops::store::migrate(&pool).await.expect("migrate");
        pool
    });
    // A closed loopback port for PayPal's API.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let mut config = Config::default();
    config.worker.public_base_url = "http://127.0.0.1:8787".into();
    config.paypal.verify = PaypalVerify::Api;
    config.paypal.webhook_id = "WH-PROP".into();
    config.paypal.api_base = dead;
    config.paypal.client_id = "c".into();
    config.paypal.client_secret = Secret::new("s");
    config.twilio.auth_token = Secret::new("prop-token");
    config.wise.webhook_public_key = String::from_utf8(fixture("test-keys/pub.pem")).expect("pem");
    let settings = Settings::from_config(&config).expect("settings");
    let state = Arc::new(AppState::new(pool.clone(), settings, Arc::new(now)));
    let app = lsn_ops::worker::router(state);

    let allowed = [400u16, 401, 408, 413, 431, 503];
    let mut runner = TestRunner::new(PropConfig {
        cases: 300,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let result = runner.run(&case_strategy(), |case| {
        rt.block_on(async {
            let before = rows(&pool).await;
            let path = ENDPOINTS[case.endpoint];
            let body = if case.oversize {
                vec![b' '; (1 << 20) + 1]
            } else {
                case.body.clone()
            };
            let mut request = Request::builder().method("POST").uri(path);
            for (name, value) in &case.headers {
                request = request.header(HEADER_NAMES[*name], value.as_str());
            }
            let signed = case.sign_wise && path == "/webhooks/wise";
            if signed {
                request = request.header("x-signature-sha256", sign(&body));
            }
            let request = request
                .body(Body::from(body))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let response = app
                .clone()
                .oneshot(request)
                .await
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let status = response.status();
            prop_assert!(
                status.is_success() || allowed.contains(&status.as_u16()),
                "{path}: answered {status}"
            );
            let after = rows(&pool).await;
            if !signed {
                prop_assert_eq!(
                    after,
                    before,
                    "an unsigned delivery was stored ({})",
                    status
                );
                prop_assert!(status != StatusCode::OK, "an unsigned delivery got 200");
            }
            Ok(())
        })
    });
    rt.block_on(pool.close());
    drop(db);
    if let Err(e) = result {
        panic!("{e}");
    }
}
