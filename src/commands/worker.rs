//! `lsn-ops worker`: the webhook receiver ([`crate::worker`]) until SIGTERM or
//! Ctrl-C, which stop accepting and let in-flight requests finish.
//!
//! The worker starts even when the database is down (webhooks answer 503 and
//! `/healthz` says so until it is back, and providers retry), but not against
//! a database whose schema is missing or older than this binary.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions, Connection};

use crate::cli::Failure;
use crate::config::Loaded;
use crate::domain::operators::Actor;
use crate::store::StoreError;
use crate::worker::Settings;

/// `lsn-ops worker replay ID`: puts a dead or failed inbox event back in the queue.
pub async fn replay(loaded: &Loaded, id: i64) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    let replayed = crate::worker::apply::replay(&pool, id, &actor)
        .await
        .map_err(|e| Failure::store("replay", e))?;
    if replayed {
        println!("event #{id} is pending again; a running worker applies it within a second");
        Ok(0)
    } else {
        Err(Failure {
            code: 1,
            message: format!("event #{id} does not exist or is not failed/dead"),
        })
    }
}

/// `lsn-ops worker sync`: "Sync PayPal Status" and stuck Wise transfers, now.
pub async fn sync(loaded: &Loaded) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let actor = Actor::new(crate::identity::os_account());
    let queued = crate::worker::reconcile::enqueue_due_for(&pool, chrono::Utc::now(), &actor)
        .await
        .map_err(|e| Failure::store("sync", e))?;
    println!(
        "{queued} sync command(s) queued; a running worker asks the providers and applies the answers"
    );
    Ok(0)
}

pub async fn run(loaded: &Loaded) -> Result<u8, Failure> {
    let config = &loaded.config;
    let settings = Settings::from_config(config).map_err(|message| Failure { code: 2, message })?;
    let options = crate::store::connect_options(&config.database).map_err(|e| Failure {
        code: 2,
        message: format!("[database] url: {e}"),
    })?;
    let target = crate::store::describe_target(&options);
    let pool = PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        .acquire_timeout(settings.db_timeout)
        .connect_lazy_with(options.clone());

    let startup = Duration::from_secs(config.database.connect_timeout_s.max(1));
    // One direct connection first: the pool would only say "timed out", hiding
    // "connection refused" or a bad password.
    let probe = tokio::time::timeout(startup, async {
        let conn = options.connect().await?;
        let _ = conn.close().await;
        crate::store::check_migrated(&pool).await
    })
    .await;
    match probe {
        Ok(Ok(())) => {}
        Ok(Err(e @ StoreError::NotMigrated(_))) => return Err(e.into()),
        Ok(Err(StoreError::Sql(e))) => eprintln!(
            "lsn-ops worker: database {target} unavailable ({}); webhooks answer 503 until it is back",
            crate::store::short_reason(&e)
        ),
        Ok(Err(e)) => eprintln!(
            "lsn-ops worker: database {target} unavailable ({e}); webhooks answer 503 until it is back"
        ),
        Err(_) => eprintln!(
            "lsn-ops worker: database {target} did not answer in {}s; webhooks answer 503 until it does",
            startup.as_secs()
        ),
    }
    warn_unverifiable(&settings);

    let listen = &config.worker.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure {
            code: 1,
            message: format!("cannot listen on {listen} ([worker] listen): {e}"),
        })?;
    let local = listener.local_addr().map_err(|e| Failure {
        code: 1,
        message: format!("cannot listen on {listen}: {e}"),
    })?;
    eprintln!(
        "lsn-ops worker: listening on http://{local} (public URL {}); POST /webhooks/{{paypal,wise,twilio}}, GET /healthz, GET /metrics",
        settings.public_base_url
    );
    tracing::info!(%local, "worker listening");
    let running = crate::worker::process::start(pool.clone(), config, listener)
        .await
        .map_err(|message| Failure { code: 2, message })?;
    running
        .run_until(shutdown_signal())
        .await
        .map_err(|e| Failure {
            code: 1,
            message: format!("the webhook server failed: {e}"),
        })?;
    pool.close().await;
    eprintln!("lsn-ops worker: stopped");
    Ok(0)
}

/// Says once, at startup, which providers' webhooks cannot be verified as configured.
fn warn_unverifiable(settings: &Settings) {
    if settings.paypal.webhook_id.is_empty() {
        eprintln!("lsn-ops worker: [paypal] webhook_id is empty: PayPal webhooks will answer 503");
    }
    if settings.twilio_auth_token.is_empty() {
        eprintln!("lsn-ops worker: [twilio] auth_token is empty: Twilio webhooks will answer 503");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    eprintln!("lsn-ops worker: shutting down, finishing requests in flight");
    tracing::info!("shutdown requested");
}
