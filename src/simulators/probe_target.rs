//! A probe target that can degrade: `GET /health` answers 200 at once, or
//! slowly, or with a 500, as set ([`ProbeTarget::set`]) or along a cycle
//! ([`ProbeTarget::cycle`]: healthy, then slow, then 500s, then healthy
//! again), so the demo's alerts fire and resolve on their own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::{Server, lock};

/// How the target answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// 200 after this long.
    Slow(Duration),
    /// This status at once.
    Failing(u16),
}

#[derive(Debug, Clone)]
pub struct ProbeTarget {
    health: Arc<Mutex<Health>>,
    server: Arc<Server>,
}

impl ProbeTarget {
    pub async fn start() -> Result<ProbeTarget, String> {
        let (listener, base_url) = Server::bind().await?;
        let health = Arc::new(Mutex::new(Health::Ok));
        let router = Router::new()
            .route("/health", get(answer))
            .with_state(health.clone());
        Ok(ProbeTarget {
            health,
            server: Arc::new(Server::serve(listener, base_url, router)),
        })
    }

    pub fn url(&self) -> String {
        format!("{}/health", self.server.base_url)
    }

    pub fn set(&self, health: Health) {
        *lock(&self.health) = health;
    }

    /// Repeats `phases` (each a health for a while) until shutdown.
    pub fn cycle(&self, phases: Vec<(Health, Duration)>) {
        let health = self.health.clone();
        self.server.add_task(tokio::spawn(async move {
            if phases.is_empty() {
                return;
            }
            loop {
                for (h, d) in &phases {
                    *lock(&health) = *h;
                    tokio::time::sleep(*d).await;
                }
            }
        }));
    }

    pub async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}

async fn answer(State(health): State<Arc<Mutex<Health>>>) -> (StatusCode, &'static str) {
    let h = *lock(&health);
    match h {
        Health::Ok => (StatusCode::OK, "ok"),
        Health::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "ok (slow)")
        }
        Health::Failing(status) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "failing",
        ),
    }
}
