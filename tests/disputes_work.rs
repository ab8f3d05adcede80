//! Disputes worked end to end against the PayPal simulator over real HTTP
//! and a real PostgreSQL: a dispute webhook gathers the evidence from the
//! data (READY), the worker auto-submits it once with two sweeps racing and
//! an executor killed between the call and its record; a manual submit run
//! twice sends one call; items that arrive later are picked up; accept sends
//! one accept-claim and records one refund; outcome webhooks close the case;
//! refusals at the store write nothing; and over random sequences of events
//! and operator actions the state never leaves the runbook's graph nor goes
//! back.

use chrono::{Duration, Utc};
use lsn_ops::config::Config;
use lsn_ops::domain::disputes::DisputeState;
use lsn_ops::domain::operators::Actor;
use lsn_ops::providers::api::HttpPolicy;
use lsn_ops::simulators::{SimConfig, Simulators};
use lsn_ops::store::disputes::{self, Attachment, DisputeError, Submitter};
use lsn_ops::worker::apply::{ApplySettings, apply_due};
use lsn_ops::worker::commands::{Clients, ExecOptions, Outcome, execute_due_with, execute_next};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sqlx::PgPool;

const NOT_RECEIVED: &str = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED";

struct Fixture {
    sims: Simulators,
    clients: Clients,
    capture_id: String,
}

/// Operators alice and dan (agents), fiona (finance), vic (viewer). Order
/// LSN-1 of 50.00 (2 mugs at 25.00), paid, shipped by UPS (1Z999) and
/// delivered, with its confirmation email; the mug has a description.
async fn fixture(pool: &PgPool, delivered: bool) -> Fixture {
    let sims = Simulators::start(SimConfig::default())
        .await
        .expect("simulators start");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    let capture_id = sims.paypal.create_capture("LSN-1", 5000, "USD");
    sqlx::raw_sql(
        "INSERT INTO operators (name, role, created_by) VALUES
             ('alice', 'agent', 't'), ('dan', 'agent', 't'), ('fiona', 'finance', 't'), ('vic', 'viewer', 't');
         INSERT INTO creators (id, handle, display_name, tier, commission_bps) VALUES (1, 'kit', 'Kit', 'gold', 2500);
         INSERT INTO customers (id, email, name, country) VALUES (1, 'ana@example.com', 'Ana', 'US');
         INSERT INTO products (id, sku, name, creator_id, currency, price_minor, cost_minor, stock_on_hand, description, image_urls)
              VALUES (1, 'MUG-1', 'Blue Mug', 1, 'USD', 2500, 900, 10, 'A blue stoneware mug, 350 ml.', '{https://cdn.example/mug.jpg}');
         INSERT INTO orders (id, order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor, email,
                             created_at, paid_at, tracking_number, carrier, shipped_at)
              VALUES (1, 'LSN-1', 1, 1, 'shipped', 'USD', 5000, 5000, 'ana@example.com',
                      now() - interval '9 days', now() - interval '9 days', '1Z999', 'UPS', now() - interval '8 days');
         INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor) VALUES (1, 1, 2, 2500, 900);
         INSERT INTO customer_messages (order_id, customer_id, kind, direction, subject, body, sent_at)
              VALUES (1, 1, 'order_confirmation', 'outbound', 'Your order LSN-1 is confirmed', 'Thanks', now() - interval '9 days'),
                     (1, 1, 'support', 'inbound', 'Where is my mug?', 'Hello', now() - interval '3 days');",
    )
    .execute(pool)
    .await
    .expect("fixture rows");
    if delivered {
        sqlx::query("UPDATE orders SET delivered_at = now() - interval '5 days', status = 'delivered' WHERE id = 1")
            .execute(pool)
            .await
            .expect("delivered");
    }
    sqlx::query(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency) VALUES (1, $1, 'COMPLETED', 5000, 'USD')",
    )
    .bind(&capture_id)
    .execute(pool)
    .await
    .expect("payment");
    Fixture {
        sims,
        clients,
        capture_id,
    }
}

impl Fixture {
    /// Opens a dispute at PayPal and delivers its CREATED webhook.
    async fn open(&self, pool: &PgPool, reason: &str, due_days: i64) -> (String, i64) {
        let id = self
            .sims
            .paypal
            .open_dispute(&self.capture_id, reason, due_days)
            .expect("open dispute");
        self.deliver(pool, "CUSTOMER.DISPUTE.CREATED", &id).await;
        let ours: i64 = sqlx::query_scalar("SELECT id FROM disputes WHERE paypal_dispute_id = $1")
            .bind(&id)
            .fetch_one(pool)
            .await
            .expect("dispute row");
        (id, ours)
    }

    /// Delivers PayPal's current view of a dispute as a webhook and applies it.
    async fn deliver(&self, pool: &PgPool, event_type: &str, paypal_id: &str) {
        let resource = self
            .clients
            .paypal
            .get_dispute(paypal_id)
            .await
            .expect("dispute at PayPal");
        deliver_resource(pool, event_type, resource).await;
    }
}

async fn deliver_resource(pool: &PgPool, event_type: &str, resource: Value) {
    let event_id = format!("WH-{}", uuid::Uuid::new_v4());
    sqlx::query(
        "INSERT INTO provider_events (provider, event_id, event_type, payload) VALUES ('paypal', $1, $2, $3)",
    )
    .bind(&event_id)
    .bind(event_type)
    .bind(json!({ "id": event_id, "event_type": event_type, "resource": resource }))
    .execute(pool)
    .await
    .expect("event");
    apply_due(pool, ApplySettings::default(), 100)
        .await
        .expect("apply");
}

fn fast() -> ExecOptions {
    ExecOptions {
        base_backoff: chrono::Duration::zero(),
        ..ExecOptions::default()
    }
}

async fn state(pool: &PgPool, id: i64) -> String {
    sqlx::query_scalar("SELECT state FROM disputes WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("state")
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// The state moves the audit log recorded for a dispute, in order.
async fn moves(pool: &PgPool, id: i64) -> Vec<(String, String)> {
    let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT details->>'from', details->>'to' FROM audit_log
          WHERE entity_type = 'dispute' AND entity_id = $1 AND details ? 'to' ORDER BY id",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .expect("audit");
    rows.into_iter()
        .filter_map(|(f, t)| Some((f?, t?)))
        .filter(|(f, t)| f != t)
        .collect()
}

/// Runs one executor that dies right after its PayPal call.
async fn crash_after_call(pool: &PgPool, clients: &Clients) -> i64 {
    let (hook, mut called) = tokio::sync::mpsc::unbounded_channel();
    let options = ExecOptions {
        crash_after_call: Some(hook),
        ..fast()
    };
    let task = {
        let pool = pool.clone();
        let clients = clients.clone();
        tokio::spawn(async move { execute_next(&pool, &clients, &options).await })
    };
    let id = called.recv().await.expect("the executor reached PayPal");
    task.abort();
    assert!(task.await.is_err_and(|e| e.is_cancelled()));
    id
}

#[sqlx::test]
async fn a_dispute_webhook_gathers_evidence_and_is_auto_submitted_once(pool: PgPool) {
    let f = fixture(&pool, true).await;
    let (paypal_id, id) = f.open(&pool, NOT_RECEIVED, 10).await;

    // Gathered from the data on arrival: every item, READY.
    assert_eq!(state(&pool, id).await, "EVIDENCE_READY");
    assert_eq!(
        moves(&pool, id).await,
        [
            ("OPEN", "EVIDENCE_REQUIRED"),
            ("EVIDENCE_REQUIRED", "EVIDENCE_BUILDING"),
            ("EVIDENCE_BUILDING", "EVIDENCE_READY"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let detail = disputes::show(&pool, &paypal_id)
        .await
        .expect("show")
        .expect("found");
    let shown = serde_json::to_value(&detail).expect("json");
    let items = shown["evidence"].as_array().expect("evidence");
    assert_eq!(items.len(), 7);
    for item in items {
        assert_eq!(item["status"], "collected", "{item}");
        assert!(item["source"].as_str().is_some_and(|s| !s.is_empty()));
    }
    assert!(
        items[1]["source"]
            .as_str()
            .is_some_and(|s| s.contains("LSN-1"))
    );
    assert!(
        items[5]["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("assets/policies/refund-policy-"))
    );

    // Before the internal deadline the worker waits, and says why.
    let swept = lsn_ops::worker::disputes::sweep(&pool, true)
        .await
        .expect("sweep");
    assert!(swept.auto_submitted.is_empty());
    let why: Option<String> =
        sqlx::query_scalar("SELECT manual_reason FROM disputes WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("reason");
    assert!(why.is_some_and(|w| w.contains("auto-submits at the internal deadline")));

    // The internal deadline comes (PayPal's is 10 days away): two workers
    // sweep at once; one submission is queued.
    sqlx::query("UPDATE disputes SET sla_due_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("deadline");
    let (a, b) = tokio::join!(
        lsn_ops::worker::disputes::sweep(&pool, true),
        lsn_ops::worker::disputes::sweep(&pool, true)
    );
    let submitted = a.expect("a").auto_submitted.len() + b.expect("b").auto_submitted.len();
    assert_eq!(submitted, 1);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM commands WHERE kind = 'paypal_provide_evidence'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'dispute.auto_submit' AND details->>'note' = 'auto-submitted'").await,
        1
    );

    // The executor dies between PayPal's answer and its record; after the
    // lease two executors race: PayPal took the evidence once.
    crash_after_call(&pool, &f.clients).await;
    sqlx::query("UPDATE commands SET next_attempt_at = now() - interval '1 second' WHERE state = 'in_flight'")
        .execute(&pool)
        .await
        .expect("expire lease");
    let options = fast();
    let (x, y) = tokio::join!(
        execute_next(&pool, &f.clients, &options),
        execute_next(&pool, &f.clients, &options)
    );
    let outcomes: Vec<_> = [x.expect("x"), y.expect("y")]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].1, Outcome::Succeeded);
    assert_eq!(f.sims.paypal.stats().evidence_submissions, 1);
    let files = f.sims.paypal.evidence_files(&paypal_id);
    assert_eq!(files.len(), 1, "the pack went once");
    assert!(
        files[0].starts_with(b"%PDF-"),
        "the file part is the PDF pack"
    );
    let evidences = f.sims.paypal.evidences(&paypal_id);
    let fulfilment = evidences
        .iter()
        .find(|e| e["evidence_type"] == "PROOF_OF_FULFILLMENT")
        .expect("proof of fulfilment");
    assert_eq!(
        fulfilment["evidence_info"]["tracking_info"][0],
        json!({ "carrier_name": "UPS", "tracking_number": "1Z999" })
    );
    assert!(
        evidences
            .iter()
            .any(|e| e["evidence_type"] == "RETURN_POLICY")
    );
    assert_eq!(state(&pool, id).await, "SUBMITTED");
    let by: (Option<String>, bool) =
        sqlx::query_as("SELECT submit_requested_by, auto_submitted FROM disputes WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("who");
    assert_eq!(by, (Some("worker (auto-submit)".into()), true));

    // A person trying afterwards is told who did it and when.
    let again = disputes::submit(
        &pool,
        Submitter::Operator(&Actor::new("alice")),
        &id.to_string(),
    )
    .await;
    assert!(
        matches!(&again, Err(DisputeError::Refused(m)) if m.contains("already submitted by worker (auto-submit) at")),
        "{again:?}"
    );

    // The outcome: PayPal decides for the seller; the case closes.
    assert!(f.sims.paypal.resolve_dispute(&paypal_id, true));
    f.deliver(&pool, "CUSTOMER.DISPUTE.RESOLVED", &paypal_id)
        .await;
    let (st, outcome): (String, Option<String>) =
        sqlx::query_as("SELECT state, outcome FROM disputes WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("outcome");
    assert_eq!((st.as_str(), outcome.as_deref()), ("CLOSED", Some("WON")));
    let tail: Vec<(String, String)> = moves(&pool, id).await.into_iter().skip(3).collect();
    assert_eq!(
        tail,
        [
            ("EVIDENCE_READY", "SUBMITTED"),
            ("SUBMITTED", "WON"),
            ("WON", "CLOSED")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[sqlx::test]
async fn a_manual_submit_run_twice_sends_one_call_and_refusals_write_nothing(pool: PgPool) {
    let f = fixture(&pool, true).await;
    // PayPal's deadline a day away: under 48 h, so a person submits.
    let (paypal_id, id) = f.open(&pool, NOT_RECEIVED, 1).await;
    assert_eq!(state(&pool, id).await, "EVIDENCE_READY");
    sqlx::query("UPDATE disputes SET sla_due_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("deadline");
    let swept = lsn_ops::worker::disputes::sweep(&pool, true)
        .await
        .expect("sweep");
    assert!(swept.auto_submitted.is_empty(), "under 48 h: manual");
    let why: Option<String> =
        sqlx::query_scalar("SELECT manual_reason FROM disputes WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("reason");
    assert!(why.is_some_and(|w| w.contains("under 48 h")));

    // A viewer, a read-only session and an unknown account are refused at
    // the store; nothing is queued or audited.
    let audit_before = count(&pool, "SELECT count(*) FROM audit_log").await;
    for actor in [
        Actor::new("vic"),
        Actor::new("alice").read_only(),
        Actor::new("nobody"),
    ] {
        let r = disputes::submit(&pool, Submitter::Operator(&actor), &paypal_id).await;
        assert!(matches!(r, Err(DisputeError::Auth(_))), "{r:?}");
        let r = disputes::assign(&pool, &actor, &paypal_id, None).await;
        assert!(matches!(r, Err(DisputeError::Auth(_))), "{r:?}");
        let r =
            disputes::attach(&pool, &actor, &paypal_id, "5", Attachment::Note("x".into())).await;
        assert!(matches!(r, Err(DisputeError::Auth(_))), "{r:?}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM commands").await, 0);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM audit_log").await,
        audit_before
    );

    // alice takes it and submits; her second submit is refused with who and when.
    let alice = Actor::new("alice");
    disputes::assign(&pool, &alice, &paypal_id, None)
        .await
        .expect("take");
    disputes::submit(&pool, Submitter::Operator(&alice), &paypal_id)
        .await
        .expect("submit");
    let again = disputes::submit(&pool, Submitter::Operator(&alice), &paypal_id).await;
    assert!(
        matches!(&again, Err(DisputeError::Refused(m)) if m.contains("already submitted by alice at")),
        "{again:?}"
    );
    // dan (another agent) is refused the same way.
    let dan = disputes::submit(&pool, Submitter::Operator(&Actor::new("dan")), &paypal_id).await;
    assert!(matches!(dan, Err(DisputeError::Refused(_))), "{dan:?}");
    execute_due_with(&pool, &f.clients, &fast(), 10)
        .await
        .expect("execute");
    execute_due_with(&pool, &f.clients, &fast(), 10)
        .await
        .expect("execute again");
    assert_eq!(f.sims.paypal.stats().evidence_submissions, 1);
    assert_eq!(state(&pool, id).await, "SUBMITTED");
    let who: (Option<String>, Option<String>, bool) = sqlx::query_as(
        "SELECT assigned_to, submit_requested_by, auto_submitted FROM disputes WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("who");
    assert_eq!(who, (Some("alice".into()), Some("alice".into()), false));
}

#[sqlx::test]
async fn items_that_arrive_later_and_operator_evidence_move_the_state(pool: PgPool) {
    let f = fixture(&pool, false).await;
    let (paypal_id, id) = f.open(&pool, NOT_RECEIVED, 10).await;
    // Not delivered yet: the delivery confirmation is missing.
    assert_eq!(state(&pool, id).await, "EVIDENCE_BUILDING");
    let d = disputes::show(&pool, &paypal_id)
        .await
        .expect("show")
        .expect("found");
    assert_eq!(d.missing_required, vec!["Delivery confirmation"]);
    let early =
        disputes::submit(&pool, Submitter::Operator(&Actor::new("alice")), &paypal_id).await;
    assert!(
        matches!(&early, Err(DisputeError::Refused(m)) if m.contains("evidence missing: Delivery confirmation")),
        "{early:?}"
    );
    // The carrier's scan arrives; the worker's sweep picks it up.
    sqlx::query("UPDATE orders SET delivered_at = now(), status = 'delivered' WHERE id = 1")
        .execute(&pool)
        .await
        .expect("delivered");
    lsn_ops::worker::disputes::sweep(&pool, true)
        .await
        .expect("sweep");
    assert_eq!(state(&pool, id).await, "EVIDENCE_READY");

    // An operator's note and a not-applicable mark stay as they set them.
    let alice = Actor::new("alice");
    disputes::attach(
        &pool,
        &alice,
        &paypal_id,
        "customer_communication",
        Attachment::Note("Buyer called on Nov 28; told them the parcel was delivered.".into()),
    )
    .await
    .expect("note");
    disputes::attach(
        &pool,
        &alice,
        &paypal_id,
        "4",
        Attachment::NotApplicable("the buyer does not dispute the product".into()),
    )
    .await
    .expect("not applicable");
    let bad = disputes::attach(&pool, &alice, &paypal_id, "9", Attachment::Note("x".into())).await;
    assert!(matches!(bad, Err(DisputeError::Refused(_))), "{bad:?}");
    lsn_ops::worker::disputes::sweep(&pool, true)
        .await
        .expect("sweep again");
    let d = disputes::show(&pool, &paypal_id)
        .await
        .expect("show")
        .expect("found");
    let comm = &d.evidence[4];
    assert_eq!(comm.status.as_str(), "collected");
    assert_eq!(
        comm.note.as_deref(),
        Some("Buyer called on Nov 28; told them the parcel was delivered.")
    );
    assert_eq!(d.evidence[3].status.as_str(), "not_applicable");
    assert!(
        d.evidence[3]
            .source
            .as_deref()
            .is_some_and(|s| s.contains("marked not applicable by alice"))
    );
    // The pack has the order number and every item, in order.
    let pack = disputes::export_pack(&pool, &alice, &paypal_id)
        .await
        .expect("pack");
    assert!(pack.pdf.starts_with(b"%PDF-"));
    assert_eq!(pack.sha256.len(), 64);
    assert!(pack.text.contains("Order: LSN-1"));
    assert!(pack.text.contains("Note: Buyer called on Nov 28"));
    // The same evidence gives the same pack (reused, not stored twice).
    let again = disputes::export_pack(&pool, &alice, &paypal_id)
        .await
        .expect("pack again");
    assert_eq!(again.id, pack.id);
}

#[sqlx::test]
async fn accept_sends_one_accept_claim_and_records_one_refund(pool: PgPool) {
    let f = fixture(&pool, true).await;
    let (paypal_id, id) = f.open(&pool, NOT_RECEIVED, 10).await;
    // 50.00 is above the agents' limit (20.00): alice is refused, fiona may.
    let refused = disputes::accept(
        &pool,
        &Actor::new("alice"),
        &paypal_id,
        "lost parcel",
        2_000,
    )
    .await;
    assert!(
        matches!(&refused, Err(DisputeError::Auth(e)) if e.to_string().contains("20.00")),
        "{refused:?}"
    );
    let viewer = disputes::accept(&pool, &Actor::new("vic"), &paypal_id, "x", 2_000).await;
    assert!(matches!(viewer, Err(DisputeError::Auth(_))), "{viewer:?}");
    assert_eq!(count(&pool, "SELECT count(*) FROM refunds").await, 0);
    let fiona = Actor::new("fiona");
    let a = disputes::accept(
        &pool,
        &fiona,
        &paypal_id,
        "parcel lost by the carrier",
        2_000,
    )
    .await
    .expect("accept");
    assert_eq!(a.amount.minor, 5000);
    let twice = disputes::accept(&pool, &fiona, &paypal_id, "again", 2_000).await;
    assert!(
        matches!(&twice, Err(DisputeError::Refused(m)) if m.contains("already accepted by fiona at")),
        "{twice:?}"
    );
    // A crash between PayPal's answer and the record; then two executors.
    crash_after_call(&pool, &f.clients).await;
    sqlx::query("UPDATE commands SET next_attempt_at = now() - interval '1 second' WHERE state = 'in_flight'")
        .execute(&pool)
        .await
        .expect("expire lease");
    let options = fast();
    let (x, y) = tokio::join!(
        execute_next(&pool, &f.clients, &options),
        execute_next(&pool, &f.clients, &options)
    );
    assert_eq!([x.expect("x"), y.expect("y")].iter().flatten().count(), 1);
    assert_eq!(f.sims.paypal.stats().claims_accepted, 1);
    let refund: (i64, String, i64) =
        sqlx::query_as("SELECT count(*), min(status), sum(amount_minor)::bigint FROM refunds")
            .fetch_one(&pool)
            .await
            .expect("refunds");
    assert_eq!(refund, (1, "completed".into(), 5000));
    let paid: (String, i64) =
        sqlx::query_as("SELECT status, refunded_minor FROM payments WHERE order_id = 1")
            .fetch_one(&pool)
            .await
            .expect("payment");
    assert_eq!(paid, ("REFUNDED".into(), 5000));
    // PayPal refunds the buyer itself and says so (PAYMENT.CAPTURE.REFUNDED,
    // no custom_id of ours), twice: the accepted claim's refund, not another.
    let refund_webhook = json!({
        "id": "ACCEPTREF1",
        "status": "COMPLETED",
        "amount": { "currency_code": "USD", "value": "50.00" },
        "links": [{ "rel": "up", "href": format!("https://api-m.sandbox.paypal.com/v2/payments/captures/{}", f.capture_id) }],
    });
    for _ in 0..2 {
        deliver_resource(&pool, "PAYMENT.CAPTURE.REFUNDED", refund_webhook.clone()).await;
    }
    let refund: (i64, String, i64, Option<String>) = sqlx::query_as(
        "SELECT count(*), min(status), sum(amount_minor)::bigint, min(paypal_refund_id) FROM refunds",
    )
    .fetch_one(&pool)
    .await
    .expect("refunds");
    assert_eq!(
        refund,
        (1, "completed".into(), 5000, Some("ACCEPTREF1".into()))
    );
    let paid: (String, i64) =
        sqlx::query_as("SELECT status, refunded_minor FROM payments WHERE order_id = 1")
            .fetch_one(&pool)
            .await
            .expect("payment");
    assert_eq!(paid, ("REFUNDED".into(), 5000), "counted once");
    // PayPal's outcome webhook: LOST (the amount recorded), then CLOSED.
    f.deliver(&pool, "CUSTOMER.DISPUTE.RESOLVED", &paypal_id)
        .await;
    let (st, outcome, lost): (String, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT state, outcome, lost_minor FROM disputes WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("outcome");
    assert_eq!(
        (st.as_str(), outcome.as_deref(), lost),
        ("CLOSED", Some("LOST"), Some(5000))
    );
    // The rates count it.
    let r = disputes::rates::rates(&pool, None, "USD", 10)
        .await
        .expect("rates");
    assert_eq!((r.overall.decided, r.overall.won), (1, 0));
    assert_eq!(r.creator("kit").map(|x| x.decided), Some(1));
}

/// What the property test does next.
#[derive(Debug, Clone, Copy)]
enum Step {
    Webhook(&'static str),
    Resolve(bool),
    Stale,
    Note,
    NotApplicable,
    Submit,
    Accept,
    Sweep,
    Execute,
    Deliver,
}

const STEPS: [Step; 12] = [
    Step::Webhook("WAITING_FOR_SELLER_RESPONSE"),
    Step::Webhook("UNDER_REVIEW"),
    Step::Webhook("OPEN"),
    Step::Resolve(true),
    Step::Resolve(false),
    Step::Stale,
    Step::Note,
    Step::NotApplicable,
    Step::Submit,
    Step::Accept,
    Step::Sweep,
    Step::Execute,
];

fn rank(s: &str) -> usize {
    DisputeState::ALL
        .iter()
        .position(|x| x.as_str() == s)
        .unwrap_or(usize::MAX)
}

#[sqlx::test]
async fn random_events_and_actions_never_leave_the_graph_nor_go_back(pool: PgPool) {
    let f = fixture(&pool, false).await;
    let alice = Actor::new("alice");
    let fiona = Actor::new("fiona");
    let mut reached = std::collections::BTreeSet::new();
    for seed in 0..10u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let reason = *[
            NOT_RECEIVED,
            "UNAUTHORISED",
            "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
        ]
        .choose(&mut rng)
        .unwrap_or(&NOT_RECEIVED);
        sqlx::query("UPDATE orders SET delivered_at = NULL WHERE id = 1")
            .execute(&pool)
            .await
            .expect("undeliver");
        let (paypal_id, id) = f.open(&pool, reason, rng.random_range(1..10)).await;
        let mut clock = Utc::now();
        let mut trail = Vec::new();
        for _ in 0..14 {
            let step = if rng.random_bool(0.08) {
                Step::Deliver
            } else {
                STEPS[rng.random_range(0..STEPS.len())]
            };
            trail.push(step);
            match step {
                Step::Webhook(_) | Step::Stale => {
                    let mut resource = f
                        .clients
                        .paypal
                        .get_dispute(&paypal_id)
                        .await
                        .expect("dispute");
                    let at = if matches!(step, Step::Stale) {
                        clock - Duration::days(3)
                    } else {
                        clock += Duration::minutes(5);
                        clock
                    };
                    if let Step::Webhook(status) = step {
                        resource["status"] = json!(status);
                    }
                    resource["update_time"] = json!(at.to_rfc3339());
                    deliver_resource(&pool, "CUSTOMER.DISPUTE.UPDATED", resource).await;
                }
                Step::Resolve(seller) => {
                    f.sims.paypal.resolve_dispute(&paypal_id, seller);
                    let mut resource = f
                        .clients
                        .paypal
                        .get_dispute(&paypal_id)
                        .await
                        .expect("dispute");
                    clock += Duration::minutes(5);
                    resource["update_time"] = json!(clock.to_rfc3339());
                    deliver_resource(&pool, "CUSTOMER.DISPUTE.RESOLVED", resource).await;
                }
                Step::Note => {
                    let item = rng.random_range(1..=7).to_string();
                    let _ = disputes::attach(
                        &pool,
                        &alice,
                        &paypal_id,
                        &item,
                        Attachment::Note("n".into()),
                    )
                    .await;
                }
                Step::NotApplicable => {
                    let item = rng.random_range(1..=7).to_string();
                    let _ = disputes::attach(
                        &pool,
                        &alice,
                        &paypal_id,
                        &item,
                        Attachment::NotApplicable("na".into()),
                    )
                    .await;
                }
                Step::Submit => {
                    let _ = disputes::submit(&pool, Submitter::Operator(&alice), &paypal_id).await;
                }
                Step::Accept => {
                    let _ = disputes::accept(&pool, &fiona, &paypal_id, "accepted", 2_000).await;
                }
                Step::Sweep => {
                    sqlx::query("UPDATE disputes SET sla_due_at = now() - interval '1 minute' WHERE id = $1")
                        .bind(id)
                        .execute(&pool)
                        .await
                        .expect("deadline");
                    lsn_ops::worker::disputes::sweep(&pool, true)
                        .await
                        .expect("sweep");
                }
                Step::Execute => {
                    execute_due_with(&pool, &f.clients, &fast(), 10)
                        .await
                        .expect("execute");
                }
                Step::Deliver => {
                    sqlx::query("UPDATE orders SET delivered_at = now() WHERE id = 1")
                        .execute(&pool)
                        .await
                        .expect("deliver");
                }
            }
            // After every step: a chain of legal forward moves.
            let moved = moves(&pool, id).await;
            let mut at = "OPEN".to_string();
            for (from, to) in &moved {
                assert_eq!(from, &at, "seed {seed}: {trail:?}: {moved:?}");
                let (Some(a), Some(b)) = (DisputeState::parse(from), DisputeState::parse(to))
                else {
                    panic!("seed {seed}: a state outside the graph: {from} -> {to}");
                };
                assert!(
                    a.can_move_to(b),
                    "seed {seed}: {from} -> {to} after {trail:?}"
                );
                assert!(
                    rank(to) > rank(from),
                    "seed {seed}: backwards {from} -> {to}"
                );
                at = to.clone();
            }
            assert_eq!(
                state(&pool, id).await,
                at,
                "seed {seed}: the row agrees with its audit"
            );
            reached.insert(at);
        }
    }
    // The sequences went through the whole graph, not just its start.
    for s in ["EVIDENCE_BUILDING", "EVIDENCE_READY", "SUBMITTED", "CLOSED"] {
        assert!(reached.contains(s), "{s} never reached: {reached:?}");
    }
}

/// Reading a pack is for every role; storing one (what a submission refers
/// to) only for those who work disputes: a viewer's or a read-only session's
/// export writes nothing.
#[sqlx::test]
async fn a_reader_exports_a_pack_without_storing_it(pool: PgPool) {
    let f = fixture(&pool, true).await;
    let (paypal_id, id) = f.open(&pool, NOT_RECEIVED, 10).await;
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM dispute_packs WHERE dispute_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("count packs")
    };
    for reader in [Actor::new("vic"), Actor::new("alice").read_only()] {
        let pack = disputes::export_pack(&pool, &reader, &paypal_id)
            .await
            .expect("a reader's pack");
        assert!(pack.pdf.starts_with(b"%PDF-"));
        assert_eq!(pack.id, None, "{reader:?}: not stored");
        assert_eq!(stored().await, 0, "{reader:?}: nothing written");
    }
    let pack = disputes::export_pack(&pool, &Actor::new("alice"), &paypal_id)
        .await
        .expect("the agent's pack");
    assert!(pack.id.is_some());
    assert_eq!(stored().await, 1);
    // The same content for the reader now: the stored pack, reused.
    let again = disputes::export_pack(&pool, &Actor::new("vic"), &paypal_id)
        .await
        .expect("a reader's pack");
    assert_eq!((again.id, again.sha256), (pack.id, pack.sha256));
    assert_eq!(stored().await, 1);
}

/// PayPal refusing to accept the claim leaves the dispute as it was before
/// the acceptance (its refund failed, the refusal in its detail, audited), so
/// an operator may accept again: under a new key, paid once.
#[sqlx::test]
async fn an_acceptance_paypal_refuses_can_be_made_again(pool: PgPool) {
    let f = fixture(&pool, true).await;
    let (paypal_id, id) = f.open(&pool, NOT_RECEIVED, 10).await;
    let fiona = Actor::new("fiona");
    let first = disputes::accept(&pool, &fiona, &paypal_id, "parcel lost", 2_000)
        .await
        .expect("accept");
    f.sims
        .paypal
        .refuse_next_accept_claim("ACTION_NOT_ALLOWED_IN_CURRENT_STATE");
    execute_next(&pool, &f.clients, &fast())
        .await
        .expect("execute");
    let after: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT accepted_by, manual_reason FROM disputes WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("dispute");
    assert_eq!(after.0, None, "no longer accepted");
    assert!(
        after
            .1
            .as_deref()
            .is_some_and(|m| m.contains("PayPal refused the acceptance")
                && m.contains("ACTION_NOT_ALLOWED_IN_CURRENT_STATE")),
        "{after:?}"
    );
    let failed: String = sqlx::query_scalar("SELECT status FROM refunds WHERE id = $1")
        .bind(first.refund_id)
        .fetch_one(&pool)
        .await
        .expect("refund");
    assert_eq!(failed, "failed");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM audit_log WHERE action = 'dispute.accept_refused'"
        )
        .await,
        1
    );
    assert_eq!(f.sims.paypal.stats().claims_accepted, 0);

    // Accepted again: a new key, PayPal takes it, one refund completes.
    let second = disputes::accept(&pool, &fiona, &paypal_id, "parcel lost, again", 2_000)
        .await
        .expect("accept again");
    assert_ne!(second.command_id, first.command_id);
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT idempotency_key FROM commands WHERE kind = 'paypal_accept_claim' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("keys");
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "a new request, a new key");
    execute_next(&pool, &f.clients, &fast())
        .await
        .expect("execute");
    assert_eq!(f.sims.paypal.stats().claims_accepted, 1);
    let refunds: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, amount_minor FROM refunds ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("refunds");
    assert_eq!(
        refunds,
        vec![
            ("failed".to_string(), 5000),
            ("completed".to_string(), 5000)
        ]
    );
    let twice = disputes::accept(&pool, &fiona, &paypal_id, "third", 2_000).await;
    assert!(
        matches!(&twice, Err(DisputeError::Refused(m)) if m.contains("already accepted by fiona")),
        "{twice:?}"
    );
}
