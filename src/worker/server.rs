//! The axum server: routes, the answer for each outcome, and raising the
//! burst-of-bad-signatures alert (counted in [`super::state`]).

use std::future::Future;
use std::sync::Arc;

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

use crate::store::alerts;
use crate::store::inbox::{self, Inserted, NewEvent};

use super::ingest::{self, Reject};
use super::metrics;
use super::state::AppState;

/// Largest webhook body accepted (larger is 413).
pub const MAX_BODY_BYTES: usize = 1 << 20;

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
                raise_signature_alert(state, provider, count).await;
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

/// Raises (or refreshes) the signature-failure alert, within the database timeout.
async fn raise_signature_alert(state: &AppState, provider: &'static str, count: usize) {
    let cfg = state.settings.failure_alert;
    let minutes = i64::try_from(cfg.window.as_secs() / 60).unwrap_or(5);
    let reopen =
        chrono::Duration::from_std(cfg.reopen_within).unwrap_or(chrono::Duration::minutes(30));
    let raised = tokio::time::timeout(
        state.settings.db_timeout,
        alerts::raise_signature_alert(&state.pool, provider, count, minutes, reopen),
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
