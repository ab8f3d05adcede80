//! The webhook receiver over real HTTP on loopback and a real PostgreSQL (a
//! fresh migrated database per test): signed deliveries are stored once,
//! redeliveries are 2xx with no second row, bad signatures are 401 and store
//! nothing, oversize is 413, malformed is 400, and a database outage (a TCP
//! proxy we cut; the shared PostgreSQL keeps running) is 503 until it is back.
//!
//! PayPal offline deliveries are signed with the test-only key in
//! tests/fixtures/test-keys and its certificate is served by a local HTTP
//! server, with the worker's clock pinned inside the certificate's validity.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use lsn_ops::config::{Config, PaypalVerify, Secret};
use lsn_ops::providers::twilio;
use lsn_ops::providers::wise::WiseKey;
use lsn_ops::worker::{AppState, Settings};
use reqwest::StatusCode;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

const TWILIO_TOKEN: &str = "twilio-test-token";
const PAYPAL_WEBHOOK_ID: &str = "WH-TEST-0001";

fn fixture(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The worker's pinned clock: inside the test certificate's validity.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-15T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// RSA PKCS#1 v1.5 SHA-256 with the test-only key.
fn rsa_sign(message: &[u8]) -> String {
    let pem = fixture("test-keys/key.pem");
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).expect("test key");
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("rsa key");
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
        .expect("sign");
    b64(&sig)
}

/// A running worker (and the PayPal certificate server beside it).
struct Worker {
    base: String,
    cert_url: String,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    http: reqwest::Client,
}

impl Worker {
    async fn start(pool: PgPool) -> Worker {
        Self::start_with(pool, |_| {}).await
    }

    async fn start_with(pool: PgPool, tweak: impl FnOnce(&mut Settings)) -> Worker {
        // The certificate server PAYPAL-CERT-URL points at.
        let certs = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let cert_host = certs.local_addr().expect("addr").to_string();
        let cert_pem = fixture("test-keys/cert.pem");
        let app = axum::Router::new().route(
            "/v1/notifications/certs/CERT-TEST",
            axum::routing::get(move || {
                let pem = cert_pem.clone();
                async move { pem }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(certs, app).await;
        });

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = Config::default();
        config.worker.public_base_url = base.clone();
        config.paypal.verify = PaypalVerify::Offline;
        config.paypal.webhook_id = PAYPAL_WEBHOOK_ID.into();
        // A non-PayPal api_base (the simulator's) allows its host to serve certificates.
        config.paypal.api_base = format!("http://{cert_host}");
        config.twilio.auth_token = Secret::new(TWILIO_TOKEN);
        let pub_pem = String::from_utf8(fixture("test-keys/pub.pem")).expect("pem");
        config.wise.webhook_public_key = pub_pem;
        let mut settings = Settings::from_config(&config).expect("settings");
        assert_eq!(
            settings.paypal.extra_cert_host.as_deref(),
            Some(cert_host.as_str())
        );
        settings.paypal.policy.cn_suffix = Some(".test.invalid".into());
        tweak(&mut settings);

        let state = Arc::new(AppState::new(pool, settings, Arc::new(now)));
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
            cert_url: format!("http://{cert_host}/v1/notifications/certs/CERT-TEST"),
            state,
            stop: Some(stop),
            http: reqwest::Client::new(),
        }
    }

    async fn post(
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

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.text().await.unwrap_or_default())
    }

    // ---- signed deliveries

    fn wise_headers(body: &[u8]) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("x-signature-sha256", rsa_sign(body)),
            ("x-delivery-id", uuid::Uuid::new_v4().to_string()),
        ]
    }

    fn paypal_headers(&self, body: &[u8], time: &str) -> Vec<(&'static str, String)> {
        let id = uuid::Uuid::new_v4().to_string();
        let signed = lsn_ops::providers::paypal::signed_string(&id, time, PAYPAL_WEBHOOK_ID, body);
        vec![
            ("content-type", "application/json".into()),
            ("paypal-transmission-id", id),
            ("paypal-transmission-time", time.to_string()),
            ("paypal-transmission-sig", rsa_sign(signed.as_bytes())),
            ("paypal-cert-url", self.cert_url.clone()),
            ("paypal-auth-algo", "SHA256withRSA".into()),
        ]
    }

    fn twilio_signed(
        &self,
        path_and_query: &str,
        params: &[(&str, &str)],
    ) -> (Vec<(&'static str, String)>, Vec<u8>) {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = twilio::sign(
            TWILIO_TOKEN,
            &format!("{}{path_and_query}", self.base),
            &owned,
        );
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
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn rows(pool: &PgPool, provider: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM provider_events WHERE provider = $1")
        .bind(provider)
        .fetch_one(pool)
        .await
        .expect("count")
}

fn wise_body(transfer: i64, state: &str) -> Vec<u8> {
    json!({
        "data": {
            "resource": {"id": transfer, "profile_id": 16055450, "account_id": 14124090, "type": "transfer"},
            "current_state": state,
            "previous_state": "incoming_payment_waiting",
            "occurred_at": "2027-01-15T11:59:00Z"
        },
        "subscription_id": "90aa8e14-4ef1-4a56-861c-f3c9cde097ea",
        "event_type": "transfers#state-change",
        "schema_version": "2.0.0",
        "sent_at": "2027-01-15T11:59:01Z"
    })
    .to_string()
    .into_bytes()
}

fn paypal_body(id: &str) -> Vec<u8> {
    json!({
        "id": id,
        "create_time": "2027-01-15T11:58:00.000Z",
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": "Payment completed for $ 12.34 USD",
        "resource": {"id": "CAP-1", "status": "COMPLETED", "amount": {"currency_code": "USD", "value": "12.34"}},
        "event_version": "1.0",
        "resource_version": "2.0"
    })
    .to_string()
    .into_bytes()
}

const ROOM_EVENT: &[(&str, &str)] = &[
    ("AccountSid", "AC0001"),
    ("RoomName", "show-42"),
    ("RoomSid", "RM0001"),
    ("RoomStatus", "in-progress"),
    ("RoomType", "group"),
    ("StatusCallbackEvent", "participant-connected"),
    ("ParticipantSid", "PA0001"),
    ("ParticipantStatus", "connected"),
    ("ParticipantIdentity", "host"),
    ("Timestamp", "2027-01-15T11:59:30Z"),
    ("SequenceNumber", "3"),
];

// ------------------------------------------------------------------ stored once

#[sqlx::test]
async fn wise_official_vector_is_stored_once_and_redelivery_is_a_duplicate(pool: PgPool) {
    let w = Worker::start_with(pool.clone(), |s| s.wise_key = WiseKey::sandbox()).await;
    let body = fixture("provider-vectors/wise_official_body.json");
    let sig = String::from_utf8(fixture("provider-vectors/wise_official_sig.b64")).expect("sig");
    let headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-signature-sha256", sig),
        ("authorization", "Bearer should-not-be-stored".to_string()),
    ];
    let (status, text) = w.post("/webhooks/wise", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with("stored wise event"), "{text}");
    let (status, text) = w.post("/webhooks/wise", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with("duplicate wise event"), "{text}");
    assert_eq!(rows(&pool, "wise").await, 1);

    let (event_id, event_type, occurred, hdrs, payload, status): (
        String,
        String,
        Option<DateTime<Utc>>,
        Value,
        Value,
        String,
    ) = sqlx::query_as(
        "SELECT event_id, event_type, occurred_at, headers, payload, status FROM provider_events",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!(
        event_id,
        "transfer:49983981:incoming_payment_waiting:2021-08-23T10:12:50Z"
    );
    assert_eq!(event_type, "transfers#state-change");
    assert_eq!(
        occurred.map(|t| t.to_rfc3339()),
        Some("2021-08-23T10:12:50+00:00".to_string())
    );
    assert_eq!(payload["data"]["resource"]["id"], 49983981);
    assert_eq!(status, "pending");
    assert!(hdrs.get("x-signature-sha256").is_some(), "{hdrs}");
    assert!(
        hdrs.get("authorization").is_none(),
        "credentials are not stored: {hdrs}"
    );

    let m = &w.state.metrics;
    use lsn_ops::worker::metrics::*;
    assert_eq!(m.get(RECEIVED, &[("provider", "wise")]), 2);
    assert_eq!(m.get(VERIFIED, &[("provider", "wise")]), 2);
    assert_eq!(m.get(INBOX_INSERTS, &[("provider", "wise")]), 1);
    assert_eq!(m.get(INBOX_DUPLICATES, &[("provider", "wise")]), 1);
}

#[sqlx::test]
async fn twilio_signed_form_is_stored_once_as_a_json_object(pool: PgPool) {
    let w = Worker::start(pool.clone()).await;
    let path = "/webhooks/twilio?show=42";
    let (headers, body) = w.twilio_signed(path, ROOM_EVENT);
    for expected in ["stored", "duplicate"] {
        let (status, text) = w.post(path, &headers, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.starts_with(expected), "{text}");
    }
    assert_eq!(rows(&pool, "twilio").await, 1);
    let (event_id, event_type, payload): (String, String, Value) =
        sqlx::query_as("SELECT event_id, event_type, payload FROM provider_events")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(event_id, "RM0001:participant-connected:3:PA0001");
    assert_eq!(event_type, "participant-connected");
    assert_eq!(payload["RoomName"], "show-42");
    assert_eq!(payload["ParticipantIdentity"], "host");

    // Another SequenceNumber is another event: a second row.
    let mut second: Vec<(&str, &str)> = ROOM_EVENT.to_vec();
    second.retain(|(k, _)| *k != "SequenceNumber");
    second.push(("SequenceNumber", "4"));
    let (headers, body) = w.twilio_signed(path, &second);
    let (status, text) = w.post(path, &headers, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with("stored"), "{text}");
    assert_eq!(rows(&pool, "twilio").await, 2);
}

#[sqlx::test]
async fn paypal_offline_signed_is_stored_once(pool: PgPool) {
    let w = Worker::start(pool.clone()).await;
    let body = paypal_body("WH-1AB23456CD789012E-3FG45678HI901234J");
    let headers = w.paypal_headers(&body, "2027-01-15T11:59:50Z");
    for expected in ["stored", "duplicate"] {
        let (status, text) = w.post("/webhooks/paypal", &headers, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.starts_with(expected), "{text}");
    }
    // A redelivery is a new transmission (new id, time, signature) of the same event.
    let again = w.paypal_headers(&body, "2027-01-15T12:01:00Z");
    let (status, text) = w.post("/webhooks/paypal", &again, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with("duplicate"), "{text}");
    assert_eq!(rows(&pool, "paypal").await, 1);
    let (event_id, event_type, occurred): (String, String, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT event_id, event_type, occurred_at FROM provider_events")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(event_id, "WH-1AB23456CD789012E-3FG45678HI901234J");
    assert_eq!(event_type, "PAYMENT.CAPTURE.COMPLETED");
    assert_eq!(
        occurred.map(|t| t.to_rfc3339()),
        Some("2027-01-15T11:58:00+00:00".to_string())
    );
}

// ------------------------------------------------------------------ refused

#[sqlx::test]
async fn bad_or_missing_signatures_are_401_and_store_nothing(pool: PgPool) {
    let w = Worker::start(pool.clone()).await;

    // Wise: one byte of the body changed after signing; no signature; the live key's.
    let body = wise_body(1, "processing");
    let headers = Worker::wise_headers(&body);
    let mut tampered = body.clone();
    let i = tampered.len() - 3;
    tampered[i] ^= 0x01;
    assert_eq!(
        w.post("/webhooks/wise", &headers, tampered).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.post("/webhooks/wise", &[], body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let sandbox_sig =
        String::from_utf8(fixture("provider-vectors/wise_official_sig.b64")).expect("sig");
    let (status, text) = w
        .post(
            "/webhooks/wise",
            &[("x-signature-sha256", sandbox_sig)],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("signature"), "{text}");

    // Twilio: signed for another URL; another token; no signature.
    let (headers, body) = w.twilio_signed("/webhooks/twilio?show=41", ROOM_EVENT);
    assert_eq!(
        w.post("/webhooks/twilio?show=42", &headers, body.clone())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let owned: Vec<(String, String)> = ROOM_EVENT
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let wrong = twilio::sign(
        "another-token",
        &format!("{}/webhooks/twilio", w.base),
        &owned,
    );
    let (status, _) = w
        .post(
            "/webhooks/twilio",
            &[
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("x-twilio-signature", wrong),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        w.post("/webhooks/twilio", &[], body).await.0,
        StatusCode::UNAUTHORIZED
    );

    // PayPal: tampered body, outside the replay window, disallowed certificate URL, no headers.
    let body = paypal_body("WH-REFUSED");
    let headers = w.paypal_headers(&body, "2027-01-15T11:59:50Z");
    let mut tampered = body.clone();
    tampered[10] ^= 0x01;
    assert_eq!(
        w.post("/webhooks/paypal", &headers, tampered).await.0,
        StatusCode::UNAUTHORIZED
    );
    let stale = w.paypal_headers(&body, "2027-01-15T11:50:00Z");
    let (status, text) = w.post("/webhooks/paypal", &stale, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("replay window"), "{text}");
    let mut evil = w.paypal_headers(&body, "2027-01-15T11:59:50Z");
    for (k, v) in evil.iter_mut() {
        if *k == "paypal-cert-url" {
            *v = "https://evil.example/v1/notifications/certs/CERT-TEST".into();
        }
    }
    let (status, text) = w.post("/webhooks/paypal", &evil, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("not allowed"), "{text}");
    assert_eq!(
        w.post("/webhooks/paypal", &[], body).await.0,
        StatusCode::UNAUTHORIZED
    );

    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(total, 0, "nothing refused is stored");
    let (_, metrics) = w.get("/metrics").await;
    assert!(
        metrics.contains(
            "lsn_ops_webhooks_rejected_total{provider=\"wise\",reason=\"bad_signature\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "lsn_ops_webhooks_rejected_total{provider=\"paypal\",reason=\"replay_window\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("lsn_ops_inbox_inserts_total{provider=\"wise\"} 0"),
        "{metrics}"
    );
}

#[sqlx::test]
async fn a_burst_of_bad_signatures_raises_one_warning_alert(pool: PgPool) {
    let w = Worker::start(pool.clone()).await;
    let body = wise_body(2, "processing");
    let count_alerts = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM alerts WHERE dedup_key = 'webhook_signature_failures:wise'",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        n
    };
    for _ in 0..9 {
        assert_eq!(
            w.post(
                "/webhooks/wise",
                &[("x-signature-sha256", "AAAA".into())],
                body.clone()
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        count_alerts().await,
        0,
        "nine failures are below the threshold"
    );
    for _ in 0..6 {
        assert_eq!(
            w.post(
                "/webhooks/wise",
                &[("x-signature-sha256", "AAAA".into())],
                body.clone()
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(count_alerts().await, 1, "one alert, not one per failure");
    let (severity, state, title): (String, String, String) = sqlx::query_as(
        "SELECT severity, state, title FROM alerts WHERE dedup_key = 'webhook_signature_failures:wise'",
    )
    .fetch_one(&pool)
    .await
    .expect("alert");
    assert_eq!((severity.as_str(), state.as_str()), ("warning", "open"));
    assert!(
        title.contains("wise webhooks: 10 bad signatures"),
        "{title}"
    );

    // The store's flap damping: raising again refreshes; after resolution, reopens.
    let id = lsn_ops::store::alerts::raise_signature_alert(
        &pool,
        "wise",
        12,
        5,
        chrono::Duration::minutes(30),
    )
    .await
    .expect("refresh");
    sqlx::query("UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = 'ops' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("resolve");
    let again = lsn_ops::store::alerts::raise_signature_alert(
        &pool,
        "wise",
        10,
        5,
        chrono::Duration::minutes(30),
    )
    .await
    .expect("reopen");
    assert_eq!(
        again, id,
        "a recurrence soon after resolution reopens the same alert"
    );
    let (state, occurrences): (String, i32) =
        sqlx::query_as("SELECT state, occurrences FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("alert");
    assert_eq!((state.as_str(), occurrences), ("open", 3));
    assert_eq!(count_alerts().await, 1);
}

#[sqlx::test]
async fn a_body_over_one_mebibyte_is_413(pool: PgPool) {
    let w = Worker::start(pool.clone()).await;
    let big = vec![b'x'; 2 << 20];
    let headers = Worker::wise_headers(&big);
    assert_eq!(
        w.post("/webhooks/wise", &headers, big.clone()).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        w.post("/webhooks/paypal", &[], big.clone()).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        w.post("/webhooks/twilio", &[], big).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(total, 0);
}

#[sqlx::test]
async fn malformed_but_signed_deliveries_are_400(pool: PgPool) {
    let w = Worker::start(pool.clone()).await;
    // Wise: signed, not JSON.
    let junk = b"not json at all".to_vec();
    let (status, text) = w
        .post("/webhooks/wise", &Worker::wise_headers(&junk), junk)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("not JSON"), "{text}");
    // PayPal: signed JSON without an id.
    let no_id = json!({"event_type": "PAYMENT.CAPTURE.COMPLETED"})
        .to_string()
        .into_bytes();
    let headers = w.paypal_headers(&no_id, "2027-01-15T12:00:00Z");
    let (status, text) = w.post("/webhooks/paypal", &headers, no_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("\"id\""), "{text}");
    // Twilio: signed form without RoomSid; and a body that is no form at all.
    let (headers, body) = w.twilio_signed(
        "/webhooks/twilio",
        &[
            ("StatusCallbackEvent", "room-created"),
            ("SequenceNumber", "0"),
        ],
    );
    let (status, text) = w.post("/webhooks/twilio", &headers, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("RoomSid"), "{text}");
    let (headers, _) = w.twilio_signed("/webhooks/twilio", ROOM_EVENT);
    assert_eq!(
        w.post("/webhooks/twilio", &headers, b"%%%garbage".to_vec())
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(total, 0);
}

#[sqlx::test]
async fn unconfigured_verification_is_503_not_a_silent_accept(pool: PgPool) {
    let w = Worker::start_with(pool.clone(), |s| {
        s.twilio_auth_token = Secret::default();
        s.paypal.webhook_id.clear();
    })
    .await;
    let (headers, body) = w.twilio_signed("/webhooks/twilio", ROOM_EVENT);
    assert_eq!(
        w.post("/webhooks/twilio", &headers, body).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let body = paypal_body("WH-UNCONFIGURED");
    let headers = w.paypal_headers(&body, "2027-01-15T12:00:00Z");
    let (status, text) = w.post("/webhooks/paypal", &headers, body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!text.contains(TWILIO_TOKEN));
    assert_eq!(rows(&pool, "paypal").await + rows(&pool, "twilio").await, 0);
}

#[sqlx::test]
async fn healthz_and_metrics_answer(pool: PgPool) {
    let w = Worker::start(pool).await;
    assert_eq!(
        w.get("/healthz").await,
        (StatusCode::OK, "ok\n".to_string())
    );
    let (status, text) = w.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("# TYPE lsn_ops_database_up gauge\nlsn_ops_database_up 1\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE lsn_ops_webhooks_received_total counter"),
        "{text}"
    );
}

// ------------------------------------------------------------------ outage

/// A TCP proxy to PostgreSQL that can be cut (connections closed, new ones
/// refused) and restored, so the shared server keeps running.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Proxy { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[sqlx::test]
async fn a_database_outage_is_503_and_the_redelivery_is_stored(
    _pool_opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let proxy = Proxy::start(format!("{}:{}", connect.get_host(), connect.get_port())).await;
    let via_proxy = connect.clone().port(proxy.port);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy_with(via_proxy);
    let direct = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(connect)
        .await
        .expect("direct");
    let w = Worker::start_with(pool, |s| s.db_timeout = std::time::Duration::from_secs(2)).await;
    assert_eq!(w.get("/healthz").await.0, StatusCode::OK);

    proxy.cut();
    let body = wise_body(3, "outgoing_payment_sent");
    let headers = Worker::wise_headers(&body);
    let (status, text) = w.post("/webhooks/wise", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("database unavailable"), "{text}");
    assert_eq!(w.get("/healthz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        w.get("/metrics")
            .await
            .1
            .contains("lsn_ops_database_up 0\n")
    );
    assert_eq!(rows(&direct, "wise").await, 0);

    proxy.restore();
    // The provider retries; the pool reconnects on demand.
    let (status, text) = w.post("/webhooks/wise", &headers, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with("stored"), "{text}");
    assert_eq!(rows(&direct, "wise").await, 1);
    assert_eq!(w.get("/healthz").await.0, StatusCode::OK);
}

// ------------------------------------------------------------------ PayPal API mode

/// A stand-in for PayPal's OAuth and verify-webhook-signature endpoints: it
/// checks the credentials and the request shape, records each verify body, and
/// answers SUCCESS only for the transmission signature "GOOD".
async fn fake_paypal() -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::http::HeaderMap;
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let recorder = seen.clone();
    let app = axum::Router::new()
        .route(
            "/v1/oauth2/token",
            axum::routing::post(|headers: HeaderMap, body: String| async move {
                let expected = format!("Basic {}", b64(b"client-1:secret-1"));
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                if auth != Some(expected.as_str()) || body != "grant_type=client_credentials" {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"})));
                }
                (
                    StatusCode::OK,
                    axum::Json(json!({"access_token": "A21-test", "token_type": "Bearer", "expires_in": 32400})),
                )
            }),
        )
        .route(
            "/v1/notifications/verify-webhook-signature",
            axum::routing::post(move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
                let recorder = recorder.clone();
                async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some("Bearer A21-test") {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
                    }
                    let good = body["transmission_sig"] == "GOOD";
                    recorder.lock().expect("lock").push(body);
                    let status = if good { "SUCCESS" } else { "FAILURE" };
                    (StatusCode::OK, axum::Json(json!({"verification_status": status})))
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, seen)
}

fn api_headers(sig: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        (
            "paypal-transmission-id",
            "b2384410-f8d2-11e6-a5c2-c1e2b0a7e4f0".into(),
        ),
        ("paypal-transmission-time", "2027-01-15T11:59:59Z".into()),
        ("paypal-transmission-sig", sig.into()),
        (
            "paypal-cert-url",
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42".into(),
        ),
        ("paypal-auth-algo", "SHA256withRSA".into()),
    ]
}

#[sqlx::test]
async fn paypal_api_mode_asks_paypal_and_stores_only_on_success(pool: PgPool) {
    let (api, seen) = fake_paypal().await;
    let w = Worker::start_with(pool.clone(), |s| {
        s.paypal.verify = PaypalVerify::Api;
        s.paypal.api_base = api.clone();
        s.paypal.client_id = "client-1".into();
        s.paypal.client_secret = Secret::new("secret-1");
    })
    .await;
    let body = paypal_body("WH-API-1");
    let (status, text) = w
        .post("/webhooks/paypal", &api_headers("GOOD"), body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &api_headers("BAD"),
            paypal_body("WH-API-2"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    let ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM provider_events")
        .fetch_all(&pool)
        .await
        .expect("ids");
    assert_eq!(ids, ["WH-API-1"]);

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "one verify call per delivery");
    let first = &seen[0];
    let mut keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_event",
            "webhook_id"
        ]
    );
    assert_eq!(first["webhook_id"], PAYPAL_WEBHOOK_ID);
    assert_eq!(
        first["webhook_event"]["id"], "WH-API-1",
        "the parsed event, not a string"
    );
    assert_eq!(first["transmission_time"], "2027-01-15T11:59:59Z");
}

#[sqlx::test]
async fn paypal_api_mode_answers_503_when_paypal_cannot_answer(pool: PgPool) {
    // A port nobody listens on: bind, note it, close it.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let w = Worker::start_with(pool.clone(), |s| {
        s.paypal.verify = PaypalVerify::Api;
        s.paypal.api_base = dead;
        s.paypal.client_id = "client-1".into();
        s.paypal.client_secret = Secret::new("secret-1");
    })
    .await;
    let (status, text) = w
        .post(
            "/webhooks/paypal",
            &api_headers("GOOD"),
            paypal_body("WH-API-3"),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(!text.contains("secret-1"), "{text}");
    assert_eq!(rows(&pool, "paypal").await, 0);
}

// ------------------------------------------------------------------ shutdown and timeouts

/// Sends the head of a Wise delivery and half its body over a raw socket,
/// returning the socket and the rest of the body.
async fn half_sent(base: &str, body: &[u8]) -> (TcpStream, Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    let addr = base.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /webhooks/wise HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Signature-SHA256: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        rsa_sign(body),
        body.len()
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    let half = body.len() / 2;
    socket.write_all(&body[..half]).await.expect("half");
    socket.flush().await.expect("flush");
    (socket, body[half..].to_vec())
}

async fn read_all(mut socket: TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let _ = socket.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[sqlx::test]
async fn shutdown_finishes_the_request_in_flight(pool: PgPool) {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = Config::default();
    config.worker.public_base_url = base.clone();
    config.wise.webhook_public_key = String::from_utf8(fixture("test-keys/pub.pem")).expect("pem");
    let settings = Settings::from_config(&config).expect("settings");
    let state = Arc::new(AppState::new(pool.clone(), settings, Arc::new(now)));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(lsn_ops::worker::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));

    let body = wise_body(9, "funds_converted");
    let (mut socket, rest) = half_sent(&base, &body).await;
    // Wait until the server has the request (the counter moves before the body is read).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while state
        .metrics
        .get(lsn_ops::worker::metrics::RECEIVED, &[("provider", "wise")])
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never saw the request"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Shut down while the delivery is half received...
    let _ = stop.send(());
    tokio::task::yield_now().await;
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );
    // ...then the rest arrives: it is verified, stored and answered.
    socket.write_all(&rest).await.expect("rest");
    let answer = read_all(socket).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("stored wise event"), "{answer}");
    server.await.expect("join").expect("served");
    assert_eq!(rows(&pool, "wise").await, 1);
    // And nothing listens any more.
    assert!(
        TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .is_err()
    );
}

#[sqlx::test]
async fn a_delivery_that_never_finishes_times_out_with_408(pool: PgPool) {
    let w = Worker::start_with(pool.clone(), |s| {
        s.request_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let body = wise_body(10, "processing");
    let (socket, _rest) = half_sent(&w.base, &body).await;
    // The rest never comes: the server gives up and says so.
    let answer = read_all(socket).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(rows(&pool, "wise").await, 0);
    let (_, metrics) = w.get("/metrics").await;
    assert!(
        metrics.contains("lsn_ops_webhooks_rejected_total{provider=\"wise\",reason=\"timeout\"} 1"),
        "{metrics}"
    );
}

#[sqlx::test]
async fn paypal_certificate_missing_is_401_and_its_host_down_is_503(pool: PgPool) {
    let w = Worker::start(pool.clone()).await;
    let body = paypal_body("WH-CERT");
    let with_cert_url = |url: String| {
        let mut headers = w.paypal_headers(&body, "2027-01-15T12:00:00Z");
        for (k, v) in headers.iter_mut() {
            if *k == "paypal-cert-url" {
                *v = url.clone();
            }
        }
        headers
    };
    // The allowed host answers 404: the delivery names a certificate that does not exist.
    let missing = w.cert_url.replace("CERT-TEST", "CERT-NOPE");
    let (status, text) = w
        .post("/webhooks/paypal", &with_cert_url(missing), body.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    assert!(text.contains("certificate"), "{text}");

    // The allowed host does not answer at all: PayPal should retry later.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_host = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let w2 = Worker::start_with(pool.clone(), |s| {
        s.paypal.extra_cert_host = Some(dead_host.clone())
    })
    .await;
    let mut headers = w2.paypal_headers(&body, "2027-01-15T12:00:00Z");
    for (k, v) in headers.iter_mut() {
        if *k == "paypal-cert-url" {
            *v = format!("http://{dead_host}/v1/notifications/certs/CERT-TEST");
        }
    }
    let (status, text) = w2.post("/webhooks/paypal", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_eq!(rows(&pool, "paypal").await, 0);
}

#[sqlx::test]
async fn a_stored_event_notifies_dashboards_and_a_duplicate_does_not(pool: PgPool) {
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .expect("listener");
    listener.listen("lsn_ops_changes").await.expect("listen");
    let w = Worker::start(pool.clone()).await;
    let body = wise_body(11, "processing");
    let headers = Worker::wise_headers(&body);
    assert_eq!(
        w.post("/webhooks/wise", &headers, body.clone()).await.0,
        StatusCode::OK
    );
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification")
        .expect("recv");
    assert_eq!(note.payload(), "provider_events");
    // The redelivery changes nothing, so it notifies nothing: after it, the next
    // notification is a marker we send ourselves (notifications arrive in commit order).
    assert_eq!(
        w.post("/webhooks/wise", &headers, body).await.0,
        StatusCode::OK
    );
    sqlx::query("SELECT pg_notify('lsn_ops_changes', 'marker')")
        .execute(&pool)
        .await
        .expect("marker");
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification")
        .expect("recv");
    assert_eq!(
        note.payload(),
        "marker",
        "the duplicate sent no notification"
    );
}

#[sqlx::test]
async fn twilio_json_body_is_checked_with_body_sha256(pool: PgPool) {
    use sha2::Digest;
    let w = Worker::start(pool.clone()).await;
    let body = json!({
        "RoomSid": "RM0002", "StatusCallbackEvent": "room-ended", "SequenceNumber": 9,
        "Timestamp": "2027-01-15T11:00:00Z", "RoomDuration": 3600
    })
    .to_string()
    .into_bytes();
    let path = format!(
        "/webhooks/twilio?bodySHA256={}",
        hex::encode(sha2::Sha256::digest(&body))
    );
    let sig = twilio::sign(TWILIO_TOKEN, &format!("{}{path}", w.base), &[]);
    let headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-twilio-signature", sig),
    ];
    let (status, text) = w.post(&path, &headers, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("RM0002:room-ended:9"), "{text}");
    // Same URL and signature, another body: the hash no longer matches.
    let mut other = body.clone();
    let i = other.len() - 3;
    other[i] = b'7';
    assert_eq!(
        w.post(&path, &headers, other).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(rows(&pool, "twilio").await, 1);
}
