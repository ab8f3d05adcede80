//! The axum server: routes, shared state, the answer for each outcome, and the
//! burst-of-bad-signatures alert.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{extract::Request, middleware};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::providers::paypal::CertCache;
use crate::store::inbox::{self, Inserted, NewEvent};

use super::ingest::{self, Reject};
use super::metrics::{self, Metrics};
use super::paypal::TokenCache;
use super::{Clock, Settings};

/// Largest webhook body accepted (larger is 413).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What every request handler shares.
pub struct AppState {
    pub pool: sqlx::PgPool,
    pub settings: Settings,
    pub clock: Clock,
    pub metrics: Metrics,
    pub http: reqwest::Client,
    pub certs: CertCache,
    /// The process's one PayPal token cache ([`AppState::with_paypal_tokens`]).
    pub paypal_tokens: Arc<TokenCache>,
    failures: Mutex<HashMap<&'static str, FailureWindow>>,
}

/// Recent refusals of one provider, and when its alert was last written.
#[derive(Debug, Default)]
struct FailureWindow {
    at: VecDeque<Instant>,
    last_raised: Option<Instant>,
}

impl AppState {
    pub fn new(pool: sqlx::PgPool, settings: Settings, clock: Clock) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("lsn-ops/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            pool,
            settings,
            clock,
            metrics: Metrics::default(),
            http,
            certs: CertCache::default(),
            paypal_tokens: Arc::new(TokenCache::default()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Shares `tokens` (the API client's cache) for PayPal verification, so
    /// the process holds one PayPal token, not two.
    pub fn with_paypal_tokens(mut self, tokens: Arc<TokenCache>) -> Self {
        self.paypal_tokens = tokens;
        self
    }

    /// Records a refused signature; returns the count in the window when the
    /// alert is due to be raised or refreshed now.
    fn note_failure(&self, provider: &'static str) -> Option<usize> {
        let cfg = self.settings.failure_alert;
        let now = Instant::now();
        let mut all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let w = all.entry(provider).or_default();
        w.at.push_back(now);
        while w
            .at
            .front()
            .is_some_and(|t| now.duration_since(*t) > cfg.window)
        {
            w.at.pop_front();
        }
        let due = w.at.len() >= cfg.threshold
            && w.last_raised
                .is_none_or(|t| now.duration_since(t) >= cfg.refresh_every);
        if due {
            w.last_raised = Some(now);
            Some(w.at.len())
        } else {
            None
        }
    }
}

/// The routes, with the body limit, request timeout and tracing layers.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.settings.request_timeout;
    Router::new()
        .route("/webhooks/paypal", post(paypal))
        .route("/webhooks/wise", post(wise))
        .route("/webhooks/twilio", post(twilio))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_webhooks,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Served with a header-read timeout and a connection cap (issue 18).
    let limits = super::listener::ConnLimits {
        max_connections: state.settings.max_connections,
        header_timeout: state.settings.header_timeout,
    };
    super::listener::serve_limited(listener, router(state), limits, shutdown).await
}

async fn paypal(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let outcome = ingest::paypal(&state, &headers, &body).await;
    finish(&state, "paypal", outcome).await
}

async fn wise(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let outcome = ingest::wise(&state, &headers, &body);
    finish(&state, "wise", outcome).await
}

async fn twilio(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = ingest::twilio(&state, &headers, &uri, &body);
    finish(&state, "twilio", outcome).await
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut body = message.into();
    body.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Stores a verified event, or answers the refusal.
async fn finish(
    state: &AppState,
    provider: &'static str,
    outcome: Result<NewEvent, Reject>,
) -> Response {
    let reject = |reason: &str| {
        state.metrics.inc(
            metrics::REJECTED,
            &[("provider", provider), ("reason", reason)],
        );
    };
    let event = match outcome {
        Ok(event) => event,
        Err(Reject::Malformed(why)) => {
            reject("malformed");
            // Refusals may quote what the sender sent: clipped (issue 18).
            let why = crate::text::clip(&why);
            tracing::info!(provider, %why, "webhook refused: malformed");
            return text(
                StatusCode::BAD_REQUEST,
                format!("malformed {provider} webhook: {why}"),
            );
        }
        Err(Reject::Unauthorized(e)) => {
            reject(e.reason());
            let e = e.to_string();
            let e = crate::text::clip(&e);
            tracing::warn!(provider, error = %e, "webhook refused: signature");
            if let Some(count) = state.note_failure(provider) {
                raise_alert(state, provider, count).await;
            }
            return text(
                StatusCode::UNAUTHORIZED,
                format!("{provider} signature check failed: {e}"),
            );
        }
        Err(Reject::Unavailable(why)) => {
            reject("unverifiable");
            let why = crate::text::clip(&why);
            tracing::error!(provider, %why, "webhook not verifiable now");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot verify {provider} webhooks right now; retry later"),
            );
        }
    };
    state
        .metrics
        .inc(metrics::VERIFIED, &[("provider", provider)]);
    let stored = tokio::time::timeout(
        state.settings.db_timeout,
        inbox::insert_event(&state.pool, &event),
    )
    .await;
    match stored {
        Ok(Ok(inserted)) => {
            state.metrics.set_db_up(true);
            let (family, what) = match inserted {
                Inserted::New(_) => (metrics::INBOX_INSERTS, "stored"),
                Inserted::Duplicate => (metrics::INBOX_DUPLICATES, "duplicate"),
            };
            state.metrics.inc(family, &[("provider", provider)]);
            tracing::info!(provider, event_id = %crate::text::clip(&event.event_id), event_type = %crate::text::clip(&event.event_type), what, "webhook accepted");
            text(
                StatusCode::OK,
                format!(
                    "{what} {provider} event {}",
                    crate::text::clip(&event.event_id)
                ),
            )
        }
        Ok(Err(e)) => {
            state.metrics.set_db_up(false);
            reject("database_unavailable");
            tracing::error!(provider, error = %crate::store::short_reason(&e), "inbox insert failed");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable; retry later",
            )
        }
        Err(_) => {
            state.metrics.set_db_up(false);
            reject("database_unavailable");
            tracing::error!(provider, "inbox insert timed out");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable; retry later",
            )
        }
    }
}

async fn raise_alert(state: &AppState, provider: &'static str, count: usize) {
    let cfg = state.settings.failure_alert;
    let minutes = i64::try_from(cfg.window.as_secs() / 60).unwrap_or(5);
    let reopen =
        chrono::Duration::from_std(cfg.reopen_within).unwrap_or(chrono::Duration::minutes(30));
    let raised = tokio::time::timeout(
        state.settings.db_timeout,
        inbox::raise_signature_alert(&state.pool, provider, count, minutes, reopen),
    )
    .await;
    match raised {
        Ok(Ok(id)) => tracing::warn!(
            provider,
            count,
            alert_id = id,
            "signature-failure alert raised"
        ),
        Ok(Err(e)) => {
            tracing::error!(provider, error = %crate::store::short_reason(&e), "cannot raise the signature-failure alert")
        }
        Err(_) => tracing::error!(provider, "raising the signature-failure alert timed out"),
    }
}

/// Counts every webhook request, and the refusals answered outside the handlers
/// (413 over the body limit, 408 on timeout), so the metrics see every delivery.
async fn count_webhooks(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: middleware::Next,
) -> Response {
    let provider = match request.uri().path() {
        "/webhooks/paypal" => Some("paypal"),
        "/webhooks/wise" => Some("wise"),
        "/webhooks/twilio" => Some("twilio"),
        _ => None,
    };
    if let Some(provider) = provider {
        state
            .metrics
            .inc(metrics::RECEIVED, &[("provider", provider)]);
    }
    let response = next.run(request).await;
    let reason = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Some("too_large"),
        StatusCode::REQUEST_TIMEOUT => Some("timeout"),
        _ => None,
    };
    if let (Some(provider), Some(reason)) = (provider, reason) {
        state.metrics.inc(
            metrics::REJECTED,
            &[("provider", provider), ("reason", reason)],
        );
    }
    response
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let up = matches!(
        tokio::time::timeout(state.settings.db_timeout, inbox::ping(&state.pool)).await,
        Ok(Ok(()))
    );
    state.metrics.set_db_up(up);
    if up {
        text(StatusCode::OK, "ok")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let up = matches!(
        tokio::time::timeout(state.settings.db_timeout, inbox::ping(&state.pool)).await,
        Ok(Ok(()))
    );
    state.metrics.set_db_up(up);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
