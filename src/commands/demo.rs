//! `lsn-ops demo`: one command to see it all. Creates the database if it is
//! missing, migrates, registers the OS account running it as admin, seeds
//! demo data if the database is empty, and opens the dashboard (`--operator
//! NAME` is then that admin acting as NAME).
//! The worker runs in-process against the built-in provider simulators, with a
//! traffic generator ([`crate::traffic`]) keeping the screen alive, an http
//! probe on a local target that degrades for a while (slow, then 500s) and
//! recovers, so alerts fire and resolve on their own, and the Slack and
//! PagerDuty simulators receiving the notifications.

use crate::cli::{Failure, TuiArgs};
use crate::config::Loaded;

/// Demo data size: big enough to look real, quick to load.
pub const DEMO_ORDERS: u64 = 20_000;
pub const DEMO_SEED: u64 = 7;

pub async fn run(loaded: &Loaded, args: TuiArgs) -> Result<u8, Failure> {
    let db = &loaded.config.database;
    if crate::store::ensure_database(db).await? {
        eprintln!("lsn-ops demo: created the database");
    }
    let pool = crate::store::connect(db).await?;
    crate::store::migrate(&pool).await?;
    let me = crate::identity::os_account();
    crate::store::operators::register_demo_admin(&pool, &me)
        .await
        .map_err(crate::store::StoreError::from)?;
    eprintln!("lsn-ops demo: {me} is an admin; seeding demo data if the database is empty...");
    let seeded =
        crate::store::seed::seed_if_empty(&pool, DEMO_ORDERS, DEMO_SEED, &loaded.timezone, true)
            .await
            .map_err(Failure::from)?;
    if seeded {
        eprintln!("lsn-ops demo: seeded {DEMO_ORDERS} orders");
    }
    // The worker runs in-process against the built-in simulators, and demo
    // traffic flows through them: signed webhooks, verified, stored, applied.
    let live = start_live_traffic(loaded, &pool)
        .await
        .map_err(|message| Failure { code: 1, message })?;
    eprintln!(
        "lsn-ops demo: worker on {} with simulated PayPal, Wise and Twilio",
        live.worker.base_url
    );
    // The dashboard tells the same simulated Slack and PagerDuty as the worker.
    let shown = Loaded {
        config: live.config.clone(),
        ..loaded.clone()
    };
    let result = super::tui::run_with_pool(&shown, args, pool).await;
    live.stop().await;
    result
}

/// The in-process worker, the simulators and the traffic generator.
struct LiveTraffic {
    worker: crate::worker::process::Running,
    sims: std::sync::Arc<crate::simulators::Simulators>,
    target: crate::simulators::probe_target::ProbeTarget,
    paging: crate::simulators::paging::PagingSim,
    /// The configuration pointed at the simulators.
    config: crate::config::Config,
    stop: tokio::sync::watch::Sender<bool>,
    traffic: tokio::task::JoinHandle<()>,
}

impl LiveTraffic {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.traffic.await;
        if let Err(e) = self.worker.shutdown().await {
            tracing::warn!("demo worker: {e}");
        }
        self.sims.shutdown().await;
        self.target.shutdown().await;
        self.paging.shutdown().await;
    }
}

async fn start_live_traffic(loaded: &Loaded, pool: &sqlx::PgPool) -> Result<LiveTraffic, String> {
    use crate::simulators::{SimConfig, Simulators, WebhookTarget};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("demo worker: cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("demo worker: {e}"))?;
    let base = format!("http://{addr}");
    let sims = Simulators::start(SimConfig {
        webhooks: Some(WebhookTarget::local(&base)),
        ..SimConfig::default()
    })
    .await
    .map_err(|e| format!("simulators: {e}"))?;
    // The seed's captures exist at "PayPal" too, so seeded orders can be
    // refunded in the demo (what is left of each; bounded).
    let seeded: Vec<(String, String, i64, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT p.capture_id, o.order_number, p.amount_minor - p.refunded_minor, p.currency::text, p.created_at
           FROM payments p JOIN orders o ON o.id = p.order_id
          WHERE p.status IN ('COMPLETED', 'PARTIALLY_REFUNDED')
          ORDER BY p.created_at DESC LIMIT 200000",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| format!("demo: seeded captures: {e}"))?;
    for (capture, order, left, currency, at) in &seeded {
        sims.paypal
            .register_capture_at(capture, order, *left, currency, *at);
    }
    // The seed's open disputes exist at "PayPal" too, so their evidence can
    // be submitted (and claims accepted) in the demo.
    let open: Vec<(
        String,
        String,
        String,
        i64,
        String,
        chrono::DateTime<chrono::Utc>,
    )> = sqlx::query_as(
        "SELECT d.paypal_dispute_id, p.capture_id, d.reason, d.amount_minor, d.currency::text,
                COALESCE(d.seller_response_due_at, d.sla_due_at)
           FROM disputes d JOIN payments p ON p.id = d.payment_id
          WHERE d.state IN ('OPEN', 'EVIDENCE_REQUIRED', 'EVIDENCE_BUILDING', 'EVIDENCE_READY')
            AND p.capture_id IS NOT NULL
          LIMIT 10000",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| format!("demo: seeded disputes: {e}"))?;
    for (id, capture, reason, amount, currency, due) in &open {
        sims.paypal
            .register_dispute(id, capture, reason, *amount, currency, *due);
    }
    let sims = std::sync::Arc::new(sims);
    let mut config = loaded.config.clone();
    sims.apply_to(&mut config);
    config.worker.public_base_url = base;
    let (target, paging) = demo_monitoring(&mut config).await?;
    let worker = crate::worker::process::start(pool.clone(), &config, listener).await?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let traffic = tokio::spawn(crate::traffic::run(pool.clone(), sims.clone(), stop_rx));
    Ok(LiveTraffic {
        worker,
        sims,
        target,
        paging,
        config,
        stop,
        traffic,
    })
}

/// The demo's monitoring: a "storefront" http probe every 5 s on a local
/// target that answers well for 2 minutes, slowly (800 ms) for 1, with 500s
/// for 1, and again; alerts fire after 30 s and resolve 30 s after recovery;
/// notifications go to the local Slack and PagerDuty simulators.
async fn demo_monitoring(
    config: &mut crate::config::Config,
) -> Result<
    (
        crate::simulators::probe_target::ProbeTarget,
        crate::simulators::paging::PagingSim,
    ),
    String,
> {
    use crate::simulators::probe_target::{Health, ProbeTarget};
    use std::time::Duration;
    let target = ProbeTarget::start().await?;
    target.cycle(vec![
        (Health::Ok, Duration::from_secs(120)),
        (
            Health::Slow(Duration::from_millis(800)),
            Duration::from_secs(60),
        ),
        (Health::Failing(500), Duration::from_secs(60)),
    ]);
    let paging = crate::simulators::paging::PagingSim::start().await?;
    paging.apply_to(config);
    if config.probes.is_empty() {
        config.probes.push(crate::config::ProbeConfig {
            name: "storefront".into(),
            kind: crate::domain::probes::ProbeKind::Http,
            target: target.url(),
            interval_s: 5,
            timeout_ms: 2000,
            expect_status: "200-399".into(),
            for_s: Some(30),
            recover_s: Some(30),
            thresholds: Default::default(),
        });
        config.alerts.interval_s = config.alerts.interval_s.min(5);
        config.alerts.window_s = config.alerts.window_s.min(60);
    }
    Ok((target, paging))
}
