//! Built-in provider simulators: local HTTP servers that speak the subset of
//! PayPal, Wise and Twilio Video that lsn-ops calls, keep their state in
//! memory, honour the providers' idempotency keys, and deliver correctly
//! signed webhooks to the worker. Used by `lsn-ops demo` and by the tests.
//!
//! # Public API
//!
//! ```no_run
//! # async fn demo(config: &mut lsn_ops::config::Config) -> Result<(), String> {
//! use lsn_ops::simulators::{SimConfig, Simulators, WebhookTarget};
//! let sims = Simulators::start(SimConfig {
//!     webhooks: Some(WebhookTarget::local("http://127.0.0.1:8787")),
//!     ..SimConfig::default()
//! })
//! .await?;
//! sims.apply_to(config); // api_base, credentials, webhook id/keys/token → the simulators
//! let capture = sims.paypal.create_capture("ORD-1", 2599, "USD"); // + PAYMENT.CAPTURE.COMPLETED
//! println!("{} {:?}", sims.paypal.base_url(), sims.paypal.stats());
//! sims.shutdown().await;
//! # let _ = capture; Ok(()) }
//! ```
//!
//! Each simulator ([`paypal::PaypalSim`], [`wise::WiseSim`],
//! [`twilio::TwilioSim`]) also starts alone (`PaypalSim::start(config)`), and
//! offers `base_url()`, `stats()`, `shutdown()` and control methods that make
//! traffic (captures, disputes, rooms...), each emitting the webhooks the real
//! provider would.
//!
//! # Knobs ([`Knobs`], changeable while running with `set_knobs`)
//!
//! - `latency`: added before every API answer.
//! - `error_rate`: share of API requests answered 503 or (`rate_limit_share`
//!   of those) 429 with `Retry-After: 0`, before doing anything.
//! - `lost_response_rate`: share of API requests processed, then answered 500.
//! - `duplicate_rate`: share of webhooks delivered twice.
//! - `out_of_order_rate`: share of webhooks held back and delivered after the
//!   next one.
//!
//! Deterministic faults for tests: `inject(Fault)` queues faults answered to
//! the next API requests in order; `Fault::after` processes the request first
//! and then answers the error (a lost response: the caller must retry with the
//! same idempotency key).
//!
//! # Keys
//!
//! RSA keys are generated at start (rcgen with aws-lc-rs): PayPal's webhook
//! signing key with a self-signed certificate served at
//! `{base}/v1/notifications/certs/CERT-lsn-ops-simulator` (the worker allows
//! certificates from the host of `[paypal] api_base` when it is not PayPal's),
//! and Wise's webhook key, whose public half [`wise::WiseSim::public_key_pem`]
//! goes into `[wise] webhook_public_key`. Twilio signs with HMAC-SHA1 using the
//! configured auth token and `[worker] public_base_url`.

pub mod paging;
pub mod paypal;
pub mod probe_target;
pub mod twilio;
pub mod wise;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng as _;
use serde_json::json;

use crate::config::{Config, PaypalVerify, Secret};

/// Fixed credentials the simulators accept (and [`Simulators::apply_to`] configures).
pub const PAYPAL_CLIENT_ID: &str = "sim-client-id";
pub const PAYPAL_CLIENT_SECRET: &str = "sim-client-secret";
pub const PAYPAL_WEBHOOK_ID: &str = "SIM-WEBHOOK-ID";
pub const WISE_API_TOKEN: &str = "sim-wise-token";
pub const WISE_PROFILE_ID: &str = "16055450";
/// 34 characters, like every Twilio SID (the receiver refuses longer ones).
pub const TWILIO_ACCOUNT_SID: &str = "ACsimulator00000000000000000000000";
pub const TWILIO_API_KEY_SID: &str = "SKsimulator000000000000000000000000";
pub const TWILIO_API_KEY_SECRET: &str = "sim-twilio-key-secret";
pub const TWILIO_AUTH_TOKEN: &str = "sim-twilio-auth-token";

/// Behaviour knobs (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knobs {
    pub latency: Duration,
    pub error_rate: f64,
    pub rate_limit_share: f64,
    /// Share of API requests processed and then answered 500 (the answer is
    /// "lost": the caller must retry with the same idempotency key).
    pub lost_response_rate: f64,
    pub duplicate_rate: f64,
    pub out_of_order_rate: f64,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            error_rate: 0.0,
            rate_limit_share: 0.5,
            lost_response_rate: 0.0,
            duplicate_rate: 0.0,
            out_of_order_rate: 0.0,
        }
    }
}

/// Where webhooks go and how they are signed.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// Where the simulators POST (`{worker_url}/webhooks/paypal` ...).
    pub worker_url: String,
    /// `[worker] public_base_url`: the URL Twilio signs.
    pub public_base_url: String,
    pub paypal_webhook_id: String,
    pub twilio_auth_token: Secret,
}

impl WebhookTarget {
    /// A worker on `url`, reached directly (public URL = `url`), with the
    /// simulator's own webhook id and Twilio auth token.
    pub fn local(url: &str) -> Self {
        let url = url.trim_end_matches('/').to_string();
        Self {
            worker_url: url.clone(),
            public_base_url: url,
            paypal_webhook_id: PAYPAL_WEBHOOK_ID.into(),
            twilio_auth_token: Secret::new(TWILIO_AUTH_TOKEN),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    pub knobs: Knobs,
    /// `None`: no webhooks are sent (API only).
    pub webhooks: Option<WebhookTarget>,
}

/// A queued fault for the next API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    /// `Retry-After` seconds to send, if any.
    pub retry_after: Option<u64>,
    /// Process the request, then answer the error (the response is "lost").
    pub after: bool,
}

impl Fault {
    pub fn before(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            after: false,
        }
    }
    pub fn after(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            after: true,
        }
    }
    /// No fault: lets one request through (to aim a later fault at a later request).
    pub fn pass() -> Self {
        Self {
            status: 0,
            retry_after: None,
            after: false,
        }
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            status: 429,
            retry_after: Some(retry_after),
            after: false,
        }
    }
}

/// Counters common to every simulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonStats {
    pub api_requests: u64,
    pub injected_faults: u64,
    /// Webhooks handed to the deliverer, and those it has finished with
    /// (delivered, duplicate included, or given up on).
    pub webhooks_queued: u64,
    pub webhooks_settled: u64,
    /// Successful deliveries (a duplicate counts twice).
    pub webhooks_sent: u64,
    pub webhooks_duplicated: u64,
    pub webhooks_reordered: u64,
    /// Deliveries the worker did not acknowledge with 2xx after all retries.
    pub webhooks_failed: u64,
}

/// Locks a mutex, recovering from poisoning (a panicked handler must not
/// take the simulator down).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// State shared by a simulator's server, middleware and deliverer.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub knobs: Mutex<Knobs>,
    pub faults: Mutex<VecDeque<Fault>>,
    pub stats: Mutex<CommonStats>,
}

/// Latency and fault injection in front of the API routes.
pub(crate) async fn faults(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let knobs = *lock(&shared.knobs);
    lock(&shared.stats).api_requests += 1;
    if !knobs.latency.is_zero() {
        tokio::time::sleep(knobs.latency).await;
    }
    let forced = lock(&shared.faults).pop_front();
    let fault = forced.or_else(|| {
        let mut rng = rand::rng();
        let error = knobs.error_rate > 0.0 && rng.random_bool(knobs.error_rate.clamp(0.0, 1.0));
        let lost = knobs.lost_response_rate > 0.0
            && rng.random_bool(knobs.lost_response_rate.clamp(0.0, 1.0));
        if error {
            Some(if rng.random_bool(knobs.rate_limit_share.clamp(0.0, 1.0)) {
                Fault::rate_limited(0)
            } else {
                Fault::before(503)
            })
        } else if lost {
            Some(Fault::after(500))
        } else {
            None
        }
    });
    let Some(fault) = fault.filter(|f| f.status != 0) else {
        return next.run(req).await;
    };
    lock(&shared.stats).injected_faults += 1;
    if fault.after {
        let _ = next.run(req).await;
    }
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = (
        status,
        axum::Json(json!({ "name": "SIMULATED_FAULT", "message": "injected by the simulator" })),
    )
        .into_response();
    if let Some(seconds) = fault.retry_after
        && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// One signed webhook ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub path: &'static str,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Hands a webhook to the deliverer (counted, so callers can wait for it).
pub(crate) fn queue(
    shared: &Shared,
    tx: &tokio::sync::mpsc::UnboundedSender<Delivery>,
    delivery: Delivery,
) {
    lock(&shared.stats).webhooks_queued += 1;
    if tx.send(delivery).is_err() {
        lock(&shared.stats).webhooks_settled += 1;
    }
}

/// What every simulator starts with: its shared state (knobs, faults, stats)
/// and, when `config` names a webhook target, the queue into its deliverer task.
pub(crate) type Started = (
    Arc<Shared>,
    Option<tokio::sync::mpsc::UnboundedSender<Delivery>>,
    Option<tokio::task::JoinHandle<()>>,
);

pub(crate) fn start_shared(config: &SimConfig) -> Started {
    let shared = Arc::new(Shared::default());
    *lock(&shared.knobs) = config.knobs;
    match &config.webhooks {
        Some(target) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let deliverer = spawn_deliverer(shared.clone(), target.clone(), rx);
            (shared, Some(tx), Some(deliverer))
        }
        None => (shared, None, None),
    }
}

/// Sends deliveries in order, applying the duplicate/out-of-order knobs and
/// retrying non-2xx answers a few times (as providers do, much faster).
pub(crate) fn spawn_deliverer(
    shared: Arc<Shared>,
    target: WebhookTarget,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Delivery>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("simulator: cannot build the webhook client: {e}");
                return;
            }
        };
        // A held-back delivery (and whether to send it twice) goes out after
        // the next one, or when nothing else comes within 200 ms.
        let mut held: Option<(Delivery, bool)> = None;
        loop {
            let next = match &held {
                Some(_) => tokio::time::timeout(Duration::from_millis(200), rx.recv())
                    .await
                    .unwrap_or(None),
                None => rx.recv().await,
            };
            let Some(delivery) = next else {
                if let Some((h, dup)) = held.take() {
                    deliver_settled(&client, &shared, &target, &h, dup).await;
                    continue;
                }
                return;
            };
            let knobs = *lock(&shared.knobs);
            let (reorder, duplicate) = {
                let mut rng = rand::rng();
                (
                    knobs.out_of_order_rate > 0.0
                        && rng.random_bool(knobs.out_of_order_rate.clamp(0.0, 1.0)),
                    knobs.duplicate_rate > 0.0
                        && rng.random_bool(knobs.duplicate_rate.clamp(0.0, 1.0)),
                )
            };
            if reorder && held.is_none() {
                lock(&shared.stats).webhooks_reordered += 1;
                held = Some((delivery, duplicate));
                continue;
            }
            deliver_settled(&client, &shared, &target, &delivery, duplicate).await;
            if let Some((h, dup)) = held.take() {
                deliver_settled(&client, &shared, &target, &h, dup).await;
            }
        }
    })
}

/// Delivers once (twice when `duplicate`) and counts the webhook as settled.
async fn deliver_settled(
    client: &reqwest::Client,
    shared: &Shared,
    target: &WebhookTarget,
    d: &Delivery,
    duplicate: bool,
) {
    deliver(client, shared, target, d).await;
    if duplicate {
        lock(&shared.stats).webhooks_duplicated += 1;
        deliver(client, shared, target, d).await;
    }
    lock(&shared.stats).webhooks_settled += 1;
}

async fn deliver(client: &reqwest::Client, shared: &Shared, target: &WebhookTarget, d: &Delivery) {
    let url = format!("{}{}", target.worker_url, d.path);
    for attempt in 0..6u32 {
        let mut request = client
            .post(&url)
            .header("content-type", d.content_type)
            .body(d.body.clone());
        for (name, value) in &d.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                lock(&shared.stats).webhooks_sent += 1;
                return;
            }
            Ok(r)
                if r.status() == StatusCode::UNAUTHORIZED
                    || r.status() == StatusCode::BAD_REQUEST =>
            {
                tracing::warn!("simulator webhook {url}: HTTP {} (not retried)", r.status());
                break;
            }
            Ok(r) => tracing::debug!("simulator webhook {url}: HTTP {}", r.status()),
            Err(e) => tracing::debug!("simulator webhook {url}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
    }
    lock(&shared.stats).webhooks_failed += 1;
}

/// A running HTTP server on 127.0.0.1 and its background tasks.
#[derive(Debug)]
pub(crate) struct Server {
    pub base_url: String,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Server {
    pub async fn bind() -> Result<(tokio::net::TcpListener, String), String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("simulator: cannot bind 127.0.0.1:0: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("simulator: no local address: {e}"))?;
        Ok((listener, format!("http://{addr}")))
    }

    pub fn serve(
        listener: tokio::net::TcpListener,
        base_url: String,
        router: axum::Router,
    ) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!("simulator server: {e}");
            }
        });
        Self {
            base_url,
            stop,
            tasks: Mutex::new(vec![task]),
        }
    }

    pub fn add_task(&self, task: tokio::task::JoinHandle<()>) {
        lock(&self.tasks).push(task);
    }

    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        for (i, t) in tasks.into_iter().enumerate() {
            if i > 0 {
                // Deliverers end when their queue closes; do not wait for retries.
                t.abort();
            }
            let _ = t.await;
        }
    }
}

/// An RSA signing key generated at run time, for simulator webhooks only.
pub struct SimKey {
    key_pair: rcgen::KeyPair,
    rsa: aws_lc_rs::signature::RsaKeyPair,
}

impl std::fmt::Debug for SimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimKey(RSA-2048, simulator only)")
    }
}

impl SimKey {
    pub fn generate() -> Result<Self, String> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| format!("simulator: RSA key generation failed: {e}"))?;
        let rsa = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(key_pair.serialized_der())
            .map_err(|e| format!("simulator: RSA key unusable: {e}"))?;
        Ok(Self { key_pair, rsa })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0u8; self.rsa.public_modulus_len()];
        self.rsa
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| "simulator: RSA signing failed".to_string())?;
        Ok(signature)
    }

    /// "BEGIN PUBLIC KEY" (SPKI) PEM.
    pub fn public_key_pem(&self) -> String {
        self.key_pair.public_key_pem()
    }

    /// A self-signed certificate for this key with subject CN `cn`, valid
    /// from yesterday for a year.
    pub fn self_signed_cert_pem(&self, cn: &str) -> Result<String, String> {
        use chrono::Datelike as _;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .map_err(|e| format!("simulator certificate: {e}"))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let from = chrono::Utc::now() - chrono::Duration::days(1);
        let to = from + chrono::Duration::days(366);
        let ymd = |d: chrono::DateTime<chrono::Utc>| {
            rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
        };
        params.not_before = ymd(from);
        params.not_after = ymd(to);
        let cert = params
            .self_signed(&self.key_pair)
            .map_err(|e| format!("simulator certificate: {e}"))?;
        Ok(cert.pem())
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Counters of the three simulators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    pub paypal: paypal::PaypalStats,
    pub wise: wise::WiseStats,
    pub twilio: twilio::TwilioStats,
}

/// The three simulators together.
#[derive(Debug)]
pub struct Simulators {
    pub paypal: paypal::PaypalSim,
    pub wise: wise::WiseSim,
    pub twilio: twilio::TwilioSim,
}

impl Simulators {
    pub async fn start(config: SimConfig) -> Result<Self, String> {
        Ok(Self {
            paypal: paypal::PaypalSim::start(config.clone()).await?,
            wise: wise::WiseSim::start(config.clone()).await?,
            twilio: twilio::TwilioSim::start(config).await?,
        })
    }

    /// Points `config` at the simulators: `api_base`s, the credentials they
    /// accept, PayPal offline verification with the simulator's webhook id,
    /// Wise's webhook public key, Twilio's auth token.
    pub fn apply_to(&self, config: &mut Config) {
        config.paypal.api_base = self.paypal.base_url().to_string();
        config.paypal.client_id = PAYPAL_CLIENT_ID.into();
        config.paypal.client_secret = Secret::new(PAYPAL_CLIENT_SECRET);
        config.paypal.webhook_id = PAYPAL_WEBHOOK_ID.into();
        config.paypal.verify = PaypalVerify::Offline;
        config.wise.api_base = self.wise.base_url().to_string();
        config.wise.api_token = Secret::new(WISE_API_TOKEN);
        config.wise.profile_id = WISE_PROFILE_ID.into();
        config.wise.webhook_public_key = self.wise.public_key_pem();
        config.twilio.api_base = self.twilio.base_url().to_string();
        config.twilio.account_sid = TWILIO_ACCOUNT_SID.into();
        config.twilio.api_key_sid = TWILIO_API_KEY_SID.into();
        config.twilio.api_key_secret = Secret::new(TWILIO_API_KEY_SECRET);
        config.twilio.auth_token = Secret::new(TWILIO_AUTH_TOKEN);
    }

    /// All three simulators' counters.
    pub fn stats(&self) -> SimStats {
        SimStats {
            paypal: self.paypal.stats(),
            wise: self.wise.stats(),
            twilio: self.twilio.stats(),
        }
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        self.paypal.set_knobs(knobs);
        self.wise.set_knobs(knobs);
        self.twilio.set_knobs(knobs);
    }

    pub async fn shutdown(&self) {
        self.paypal.shutdown().await;
        self.wise.shutdown().await;
        self.twilio.shutdown().await;
    }
}

/// A JSON error body in PayPal's shape.
pub(crate) fn paypal_error(status: StatusCode, name: &str, issue: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "name": name,
            "message": "The requested action could not be performed.",
            "details": [{ "issue": issue }],
        })),
    )
        .into_response()
}
