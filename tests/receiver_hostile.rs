//! Hostile input at the receiver (issue 18), over real HTTP on loopback and a
//! real PostgreSQL (a fresh database per test): one test (or more) for each
//! row of the table in docs/RECEIVER.md.
//!
//! - malformed PayPal signature headers are 401 without a call to PayPal, and
//!   count toward the burst alert; PayPal's 4xx is 401, its 5xx is 503;
//! - one PayPal token per process (verifier and API client share it);
//! - slow clients: half-sent request heads are closed after the header
//!   timeout, and /healthz and a valid webhook answer during a flood of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use lsn_ops::config::{Config, PaypalVerify, Secret};
use lsn_ops::worker::{AppState, Settings};
use reqwest::StatusCode;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub const TWILIO_TOKEN: &str = "twilio-test-token";
pub const PAYPAL_WEBHOOK_ID: &str = "WH-TEST-0001";

pub fn fixture(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The worker's pinned clock.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-15T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// RSA PKCS#1 v1.5 SHA-256 with the test-only key (Wise's key in these tests).
pub fn rsa_sign(message: &[u8]) -> String {
    let pem = fixture("test-keys/key.pem");
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).expect("test key");
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("rsa key");
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
        .expect("sign");
    b64(&sig)
}

/// A running worker (HTTP server only; the applier is not running).
pub struct Worker {
    pub base: String,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    http: reqwest::Client,
}

impl Worker {
    pub async fn start_with(pool: PgPool, tweak: impl FnOnce(&mut Settings)) -> Worker {
        Self::start_at(pool, Arc::new(now), tweak).await
    }

    pub async fn start_at(
        pool: PgPool,
        clock: lsn_ops::worker::Clock,
        tweak: impl FnOnce(&mut Settings),
    ) -> Worker {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = Config::default();
        config.worker.public_base_url = base.clone();
        config.paypal.verify = PaypalVerify::Api;
        config.paypal.webhook_id = PAYPAL_WEBHOOK_ID.into();
        config.paypal.client_id = "client-1".into();
        config.paypal.client_secret = Secret::new("secret-1");
        config.twilio.auth_token = Secret::new(TWILIO_TOKEN);
        config.wise.webhook_public_key =
            String::from_utf8(fixture("test-keys/pub.pem")).expect("pem");
        let mut settings = Settings::from_config(&config).expect("settings");
        tweak(&mut settings);
        let state = Arc::new(AppState::new(pool, settings, clock));
        let (stop, stopped) = oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            let _ = lsn_ops::worker::serve(listener, served, async {
                let _ = stopped.await;
            })
            .await;
        });
        Worker {
            base,
            state,
            stop: Some(stop),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
        }
    }

    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.text().await.unwrap_or_default())
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.text().await.unwrap_or_default())
    }

    pub fn wise_headers(body: &[u8]) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("x-signature-sha256", rsa_sign(body)),
        ]
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn rows(pool: &PgPool, provider: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM provider_events WHERE provider = $1")
        .bind(provider)
        .fetch_one(pool)
        .await
        .expect("count")
}

pub fn wise_body(transfer: i64, state: &str, at: &str) -> Vec<u8> {
    json!({
        "data": {
            "resource": {"id": transfer, "profile_id": 16055450, "account_id": 14124090, "type": "transfer"},
            "current_state": state,
            "previous_state": "incoming_payment_waiting",
            "occurred_at": at
        },
        "subscription_id": "90aa8e14-4ef1-4a56-861c-f3c9cde097ea",
        "event_type": "transfers#state-change",
        "schema_version": "2.0.0",
        "sent_at": at
    })
    .to_string()
    .into_bytes()
}

pub fn paypal_body(id: &str) -> Vec<u8> {
    json!({
        "id": id,
        "create_time": "2027-01-15T11:58:00.000Z",
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {"id": "CAP-1", "status": "COMPLETED", "amount": {"currency_code": "USD", "value": "12.34"}}
    })
    .to_string()
    .into_bytes()
}

// ------------------------------------------------------------------ PayPal headers

/// What the fake PayPal saw.
#[derive(Default)]
struct Calls {
    oauth: AtomicUsize,
    verify: AtomicUsize,
    captures: AtomicUsize,
}

/// A stand-in for PayPal: OAuth, verify-webhook-signature (SUCCESS for the
/// signature "R09PRA==", HTTP 400 for "NDAw", HTTP 500 for "NTAw", else
/// FAILURE) and a capture lookup.
async fn fake_paypal() -> (String, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let (c1, c2, c3) = (calls.clone(), calls.clone(), calls.clone());
    let app = axum::Router::new()
        .route(
            "/v1/oauth2/token",
            axum::routing::post(move || {
                c1.oauth.fetch_add(1, Ordering::SeqCst);
                async move {
                    axum::Json(json!({"access_token": "A21-test", "token_type": "Bearer", "expires_in": 32400}))
                }
            }),
        )
        .route(
            "/v1/notifications/verify-webhook-signature",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                c2.verify.fetch_add(1, Ordering::SeqCst);
                async move {
                    match body["transmission_sig"].as_str() {
                        Some("R09PRA==") => (StatusCode::OK, axum::Json(json!({"verification_status": "SUCCESS"}))),
                        Some("NDAw") => (StatusCode::BAD_REQUEST, axum::Json(json!({"name": "VALIDATION_ERROR"}))),
                        Some("NTAw") => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"name": "INTERNAL_SERVICE_ERROR"}))),
                        _ => (StatusCode::OK, axum::Json(json!({"verification_status": "FAILURE"}))),
                    }
                }
            }),
        )
        .route(
            "/v2/payments/captures/{id}",
            axum::routing::get(move || {
                c3.captures.fetch_add(1, Ordering::SeqCst);
                async move {
                    axum::Json(json!({"id": "CAP-1", "status": "COMPLETED", "amount": {"currency_code": "USD", "value": "12.34"}}))
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, calls)
}

fn good_paypal_headers() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        (
            "paypal-transmission-id",
            "b2384410-f8d2-11e6-a5c2-c1e2b0a7e4f0".into(),
        ),
        ("paypal-transmission-time", "2027-01-15T11:59:59Z".into()),
        ("paypal-transmission-sig", "R09PRA==".into()),
        (
            "paypal-cert-url",
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42".into(),
        ),
        ("paypal-auth-algo", "SHA256withRSA".into()),
    ]
}

fn with(header: &'static str, value: String) -> Vec<(&'static str, String)> {
    let mut h = good_paypal_headers();
    for pair in &mut h {
        if pair.0 == header {
            pair.1 = value.clone();
        }
    }
    h
}

#[sqlx::test]
async fn malformed_paypal_headers_are_401_without_asking_paypal_and_count_toward_the_alert(
    pool: PgPool,
) {
    let (api, calls) = fake_paypal().await;
    let w = Worker::start_with(pool.clone(), |s| s.paypal.api_base = api.clone()).await;
    let cases = [
        with("paypal-transmission-sig", "A".repeat(100_000)),
        with("paypal-transmission-sig", "A".repeat(600)),
        with("paypal-transmission-id", "a".repeat(200)),
        with(
            "paypal-cert-url",
            format!("https://api.paypal.com/{}", "c".repeat(2_000)),
        ),
        with("paypal-cert-url", "https://evil.example/cert.pem".into()),
        with(
            "paypal-cert-url",
            "http://api.paypal.com/v1/notifications/certs/X".into(),
        ),
        with("paypal-transmission-time", "yesterday".into()),
        with("paypal-transmission-time", "2030-01-01T00:00:00Z".into()),
        with("paypal-auth-algo", "SHA1withRSA".into()),
        with("paypal-transmission-sig", "not base64 at all!".into()),
    ];
    for (i, headers) in cases.iter().enumerate() {
        let (status, text) = w
            .post(
                "/webhooks/paypal",
                headers,
                paypal_body(&format!("WH-BAD-{i}")),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "case {i}: {text}");
        assert!(
            text.len() < 2_000,
            "case {i}: the answer quotes a huge value"
        );
    }
    assert_eq!(
        calls.verify.load(Ordering::SeqCst),
        0,
        "PayPal was never asked"
    );
    assert_eq!(calls.oauth.load(Ordering::SeqCst), 0);
    assert_eq!(rows(&pool, "paypal").await, 0);
    // Ten refusals in the window: the bad-signature burst alert is up.
    let alerts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alerts WHERE dedup_key = 'webhook_signature_failures:paypal' AND state <> 'resolved'",
    )
    .fetch_one(&pool)
    .await
    .expect("alerts");
    assert_eq!(alerts, 1);
    let (_, metrics) = w.get("/metrics").await;
    assert!(
        metrics.contains(
            "lsn_ops_webhooks_rejected_total{provider=\"paypal\",reason=\"bad_header\"} 6"
        ),
        "{metrics}"
    );
}

#[sqlx::test]
async fn paypal_4xx_is_a_bad_signature_and_only_5xx_or_no_answer_is_503(pool: PgPool) {
    let (api, calls) = fake_paypal().await;
    let w = Worker::start_with(pool.clone(), |s| s.paypal.api_base = api.clone()).await;
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &with("paypal-transmission-sig", "NDAw".into()),
            paypal_body("WH-400"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &with("paypal-transmission-sig", "NTAw".into()),
            paypal_body("WH-500"),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &good_paypal_headers(),
            paypal_body("WH-OK"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(calls.verify.load(Ordering::SeqCst), 3);
    let (_, metrics) = w.get("/metrics").await;
    assert!(
        metrics.contains(
            "lsn_ops_webhooks_rejected_total{provider=\"paypal\",reason=\"refused_by_paypal\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "lsn_ops_webhooks_rejected_total{provider=\"paypal\",reason=\"unverifiable\"} 1"
        ),
        "{metrics}"
    );
    let ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM provider_events")
        .fetch_all(&pool)
        .await
        .expect("ids");
    assert_eq!(ids, ["WH-OK"]);
}

#[sqlx::test]
async fn one_paypal_token_serves_the_verifier_and_the_api_client(pool: PgPool) {
    use lsn_ops::providers::api::HttpPolicy;
    use lsn_ops::providers::api::paypal::{PaypalApiConfig, PaypalClient};
    let (api, calls) = fake_paypal().await;
    let client = PaypalClient::new(
        PaypalApiConfig {
            api_base: api.clone(),
            client_id: "client-1".into(),
            client_secret: Secret::new("secret-1"),
        },
        HttpPolicy::default(),
    )
    .expect("client");
    // As `worker::process::start` wires them: the verifier uses the client's cache.
    let tokens = client.tokens();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = Config::default();
    config.paypal.verify = PaypalVerify::Api;
    config.paypal.webhook_id = PAYPAL_WEBHOOK_ID.into();
    config.paypal.api_base = api.clone();
    config.paypal.client_id = "client-1".into();
    config.paypal.client_secret = Secret::new("secret-1");
    let settings = Settings::from_config(&config).expect("settings");
    let state =
        Arc::new(AppState::new(pool.clone(), settings, Arc::new(now)).with_paypal_tokens(tokens));
    tokio::spawn(lsn_ops::worker::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let mut req = reqwest::Client::new()
        .post(format!("{base}/webhooks/paypal"))
        .body(paypal_body("WH-TOKEN"));
    for (k, v) in good_paypal_headers() {
        req = req.header(k, v);
    }
    let resp = req.send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    client.get_capture("CAP-1").await.expect("capture");
    assert_eq!(calls.captures.load(Ordering::SeqCst), 1);
    assert_eq!(
        calls.oauth.load(Ordering::SeqCst),
        1,
        "one token for the verifier and the API client"
    );
}

// ------------------------------------------------------------------ slow clients

/// Opens a connection and sends the start of a request head, never the end.
async fn half_head(base: &str) -> TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = base.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    socket
        .write_all(format!("POST /webhooks/wise HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").as_bytes())
        .await
        .expect("head");
    socket.flush().await.expect("flush");
    socket
}

/// Whether the server closed `socket` (EOF or reset) within `within`.
async fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[sqlx::test]
async fn half_sent_heads_are_closed_after_the_header_timeout(pool: PgPool) {
    let w = Worker::start_with(pool.clone(), |s| {
        s.header_timeout = Duration::from_secs(1);
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..5 {
        slow.push(half_head(&w.base).await);
    }
    let started = Instant::now();
    for socket in &mut slow {
        assert!(
            closed_within(socket, Duration::from_secs(5)).await,
            "a half-sent head was still open after 5 s"
        );
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    assert_eq!(rows(&pool, "wise").await, 0);
}

#[sqlx::test]
async fn healthz_and_a_valid_webhook_answer_during_a_slow_header_flood(pool: PgPool) {
    let w = Worker::start_with(pool.clone(), |s| {
        s.header_timeout = Duration::from_secs(2);
        s.max_connections = 64;
    })
    .await;
    // 40 half-sent heads: below the connection cap, the server keeps serving.
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(half_head(&w.base).await);
    }
    let started = Instant::now();
    let (status, _) = w.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let body = wise_body(77, "processing", "2027-01-15T11:59:00Z");
    let (status, text) = w
        .post("/webhooks/wise", &Worker::wise_headers(&body), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answers took {:?} during the flood",
        started.elapsed()
    );
    // 100 more: over the cap. New connections wait in the backlog, but the
    // header timeout frees slots, so /healthz still answers within a few timeouts.
    for _ in 0..100 {
        flood.push(half_head(&w.base).await);
    }
    // A new connection (not one kept alive from before) must get through.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let started = Instant::now();
    let status = fresh
        .get(format!("{}/healthz", w.base))
        .send()
        .await
        .map(|r| r.status());
    assert!(
        matches!(status, Ok(StatusCode::OK)),
        "/healthz over the connection cap: {status:?} after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "/healthz took {:?} over the connection cap",
        started.elapsed()
    );
    assert_eq!(rows(&pool, "wise").await, 1);
}

// ------------------------------------------------------------------ future-dated events

/// A payout line in a processing batch, paid by Wise transfer `transfer`.
async fn payout_line(pool: &PgPool, transfer: i64) {
    let creator: i64 = sqlx::query_scalar("INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('w', 'W', 'gold', 2000) RETURNING id")
        .fetch_one(pool).await.expect("creator");
    let now = Utc::now();
    let batch: i64 = sqlx::query_scalar(
        "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency) VALUES ($1, $2, $2, 'processing', 'USD') RETURNING id",
    )
    .bind(now - chrono::Duration::days(7))
    .bind(now)
    .fetch_one(pool)
    .await
    .expect("batch");
    sqlx::query(
        "INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, state, customer_transaction_id, wise_transfer_id)
         VALUES ($1, $2, 'earnings', 'USD', 2000, 12345, 'processing', gen_random_uuid(), $3)",
    )
    .bind(batch)
    .bind(creator)
    .bind(transfer)
    .execute(pool)
    .await
    .expect("item");
}

async fn line_state(pool: &PgPool) -> (String, String) {
    sqlx::query_as("SELECT state, wise_status FROM payout_items")
        .fetch_one(pool)
        .await
        .expect("line")
}

async fn apply_all(pool: &PgPool) {
    lsn_ops::worker::apply::apply_due(pool, Default::default(), 50)
        .await
        .expect("apply");
}

#[sqlx::test]
async fn a_future_dated_event_cannot_freeze_a_transfer_for_later_events(pool: PgPool) {
    payout_line(&pool, 555).await;
    let w = Worker::start_at(pool.clone(), lsn_ops::worker::system_clock(), |_| {}).await;
    // Validly signed, dated 2030: applied, but ordered at its receipt.
    let body = wise_body(555, "bounced_back", "2030-01-01T00:00:00Z");
    let (status, text) = w
        .post("/webhooks/wise", &Worker::wise_headers(&body), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    apply_all(&pool).await;
    assert_eq!(line_state(&pool).await.0, "failed");
    let stored: DateTime<Utc> = sqlx::query_scalar("SELECT occurred_at FROM provider_events")
        .fetch_one(&pool)
        .await
        .expect("occurred_at");
    assert!(
        stored < Utc::now() + chrono::Duration::minutes(1),
        "{stored}"
    );
    let (_, metrics) = w.get("/metrics").await;
    assert!(
        metrics.contains("lsn_ops_webhooks_future_dated_total{provider=\"wise\"} 1"),
        "{metrics}"
    );
    // A genuine later event still moves the line.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let at = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let body = wise_body(555, "outgoing_payment_sent", &at);
    let (status, text) = w
        .post("/webhooks/wise", &Worker::wise_headers(&body), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    apply_all(&pool).await;
    assert_eq!(
        line_state(&pool).await,
        ("sent".into(), "outgoing_payment_sent".into())
    );
}

#[sqlx::test]
async fn the_providers_own_answer_wins_over_a_future_dated_event(pool: PgPool) {
    use lsn_ops::worker::reconcile::{SyncAnswer, record_answer};
    payout_line(&pool, 556).await;
    let w = Worker::start_at(pool.clone(), lsn_ops::worker::system_clock(), |_| {}).await;
    let body = wise_body(556, "bounced_back", "2030-01-01T00:00:00Z");
    let (status, text) = w
        .post("/webhooks/wise", &Worker::wise_headers(&body), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    apply_all(&pool).await;
    assert_eq!(line_state(&pool).await.0, "failed");
    // `worker sync` asked Wise a minute ago (before the webhook's receipt):
    // the API's answer is the truth and wins all the same.
    let mut conn = pool.acquire().await.expect("conn");
    let answer = SyncAnswer::Transfer {
        id: 556,
        status: "outgoing_payment_sent".into(),
        at: Utc::now() - chrono::Duration::minutes(1),
    };
    record_answer(&mut conn, "wise", &answer)
        .await
        .expect("sync");
    drop(conn);
    apply_all(&pool).await;
    assert_eq!(
        line_state(&pool).await,
        ("sent".into(), "outgoing_payment_sent".into())
    );
}

// ------------------------------------------------------------------ giant fields

fn twilio_signed(base: &str, params: &[(&str, &str)]) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sig =
        lsn_ops::providers::twilio::sign(TWILIO_TOKEN, &format!("{base}/webhooks/twilio"), &owned);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
        .into_bytes();
    (
        vec![
            ("content-type", "application/x-www-form-urlencoded".into()),
            ("x-twilio-signature", sig),
        ],
        body,
    )
}

#[sqlx::test]
async fn signed_fields_over_their_documented_length_are_400_naming_the_field(pool: PgPool) {
    let (api, _calls) = fake_paypal().await;
    let w = Worker::start_with(pool.clone(), |s| s.paypal.api_base = api.clone()).await;
    let giant_name = "n".repeat(600_000);
    let giant_sid = format!("RM{}", "0".repeat(10_000));
    for (field, params) in [
        (
            "RoomName",
            vec![
                ("RoomSid", "RM00000000000000000000000000000001"),
                ("RoomName", giant_name.as_str()),
                ("StatusCallbackEvent", "room-created"),
                ("SequenceNumber", "1"),
            ],
        ),
        (
            "RoomSid",
            vec![
                ("RoomSid", giant_sid.as_str()),
                ("StatusCallbackEvent", "room-created"),
                ("SequenceNumber", "1"),
            ],
        ),
    ] {
        let (headers, body) = twilio_signed(&w.base, &params);
        let (status, text) = w.post("/webhooks/twilio", &headers, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {text}");
        assert!(text.contains(&format!("field {field} is")), "{text}");
        assert!(text.len() < 1_000, "the answer quotes the value");
    }
    let mut event: Value = serde_json::from_slice(&paypal_body("WH-LONG")).expect("json");
    event["resource"]["custom_id"] = json!("c".repeat(128));
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &good_paypal_headers(),
            event.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("field resource.custom_id is 128 characters"),
        "{text}"
    );
    assert_eq!(rows(&pool, "twilio").await + rows(&pool, "paypal").await, 0);
}

#[sqlx::test]
async fn stored_errors_and_alert_details_are_clipped(pool: PgPool) {
    // As an older version stored it: a 600 KB room name for an unknown room.
    let giant = "n".repeat(600_000);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO provider_events (provider, event_id, event_type, payload) VALUES ('twilio', 'RM1:room-created:1', 'room-created', $1) RETURNING id",
    )
    .bind(json!({"RoomSid": "RM1", "RoomName": giant, "StatusCallbackEvent": "room-created"}))
    .fetch_one(&pool)
    .await
    .expect("insert");
    apply_all(&pool).await;
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, last_error FROM provider_events WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(status, "failed", "no show yet is temporary: retried");
    assert!(error.len() < 1_200, "stored error of {} bytes", error.len());
    assert!(error.contains("truncated"), "{}", &error[..100]);
    // The last attempt parks it: the alert's details are clipped too.
    sqlx::query("UPDATE provider_events SET attempts = 7, next_attempt_at = now() WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("due");
    apply_all(&pool).await;
    let details: String =
        sqlx::query_scalar("SELECT details FROM alerts WHERE rule_key = 'webhook_failures'")
            .fetch_one(&pool)
            .await
            .expect("alert");
    assert!(
        details.len() < 1_200,
        "alert details of {} bytes",
        details.len()
    );
}

// ------------------------------------------------------------------ permanent failures

#[sqlx::test]
async fn a_verified_event_of_the_wrong_types_is_parked_dead_at_once(pool: PgPool) {
    let (api, _calls) = fake_paypal().await;
    let w = Worker::start_with(pool.clone(), |s| s.paypal.api_base = api.clone()).await;
    let mut event: Value = serde_json::from_slice(&paypal_body("WH-TYPES")).expect("json");
    event["resource"]["id"] = json!(12345);
    event["resource"]["amount"] = json!({"currency_code": "USD", "value": 12.34});
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &good_paypal_headers(),
            event.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // A well-formed capture for an order we do not know (yet): temporary.
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &good_paypal_headers(),
            paypal_body("WH-LATER"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    apply_all(&pool).await;
    let parked: (String, i32, String) = sqlx::query_as(
        "SELECT status, attempts, last_error FROM provider_events WHERE event_id = 'WH-TYPES'",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!((parked.0.as_str(), parked.1), ("dead", 1), "{}", parked.2);
    assert!(
        parked
            .2
            .starts_with("permanent: malformed payload: resource.id is a number"),
        "{}",
        parked.2
    );
    let retried: (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM provider_events WHERE event_id = 'WH-LATER'")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(retried, ("failed".into(), 1));
    let details: String = sqlx::query_scalar(
        "SELECT details FROM alerts WHERE rule_key = 'webhook_failures' AND state = 'open'",
    )
    .fetch_one(&pool)
    .await
    .expect("alert");
    assert!(details.contains("resource.id is a number"), "{details}");
}

#[sqlx::test]
async fn connections_over_the_cap_wait_for_a_free_slot(pool: PgPool) {
    let w = Worker::start_with(pool.clone(), |s| {
        s.header_timeout = Duration::from_secs(1);
        s.max_connections = 2;
    })
    .await;
    let _slow = [half_head(&w.base).await, half_head(&w.base).await];
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let started = Instant::now();
    let status = fresh
        .get(format!("{}/healthz", w.base))
        .send()
        .await
        .map(|r| r.status());
    let took = started.elapsed();
    assert!(matches!(status, Ok(StatusCode::OK)), "{status:?}");
    // Both slots were held by the half-sent heads until the header timeout.
    assert!(
        took >= Duration::from_millis(700),
        "answered after {took:?}: the cap of 2 was not applied"
    );
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
}
