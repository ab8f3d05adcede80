//! The provider API clients against the simulators over loopback HTTP: OAuth
//! token caching, errors classified retryable or permanent without secrets,
//! the disputes calls (multipart evidence, accept-claim, both idempotent),
//! Wise funding checks, Twilio room lookup; and the executor's other command
//! kinds (evidence, accept-claim, room lookup) on a real PostgreSQL.

use lsn_ops::config::{Config, Secret};
use lsn_ops::providers::api::paypal::{PaypalApiConfig, PaypalClient};
use lsn_ops::providers::api::twilio::{TwilioApiConfig, TwilioClient};
use lsn_ops::providers::api::wise::{WiseApiConfig, WiseClient};
use lsn_ops::providers::api::{ApiError, HttpPolicy};
use lsn_ops::simulators::{Fault, SimConfig, Simulators};
use lsn_ops::store::outbox::{CommandKind, enqueue};
use lsn_ops::worker::commands::{Clients, ExecOptions, Outcome, execute_next};
use serde_json::json;
use sqlx::PgPool;

async fn sims() -> (Simulators, Config) {
    let sims = Simulators::start(SimConfig::default())
        .await
        .expect("simulators");
    let mut config = Config::default();
    sims.apply_to(&mut config);
    (sims, config)
}

#[tokio::test]
async fn paypal_token_is_cached_and_renewed_after_a_401() {
    let (sims, config) = sims().await;
    let client = PaypalClient::new(
        PaypalApiConfig::from_config(&config.paypal),
        HttpPolicy::fast(),
    )
    .expect("client");
    let a = sims.paypal.create_capture("ORD-1", 1234, "USD");
    let b = sims.paypal.create_capture("ORD-2", 99, "USD");
    let first = client.get_capture(&a).await.expect("capture a");
    assert_eq!(
        (first.amount.minor, first.status.as_str()),
        (1234, "COMPLETED")
    );
    assert_eq!(first.custom_id.as_deref(), Some("ORD-1"));
    client.get_capture(&b).await.expect("capture b");
    assert_eq!(
        sims.paypal.stats().tokens_issued,
        1,
        "one token for both calls"
    );

    // PayPal forgets the token: the client fetches a new one and carries on.
    sims.paypal.inject([Fault::before(401)]);
    client.get_capture(&a).await.expect("after a 401");
    assert_eq!(sims.paypal.stats().tokens_issued, 2);
    sims.shutdown().await;
}

#[tokio::test]
async fn errors_are_classified_and_never_carry_secrets() {
    let (sims, config) = sims().await;
    let client = PaypalClient::new(
        PaypalApiConfig::from_config(&config.paypal),
        HttpPolicy::fast(),
    )
    .expect("client");
    let missing = client.get_capture("NOPE").await;
    assert!(
        matches!(&missing, Err(ApiError::Permanent { status: Some(404), message }) if message.contains("RESOURCE_NOT_FOUND")),
        "{missing:?}"
    );
    sims.paypal.inject([Fault::before(503); 4]);
    let outage = client.get_capture("NOPE").await;
    assert!(matches!(&outage, Err(e) if e.is_retryable()), "{outage:?}");
    sims.paypal.inject([Fault::rate_limited(3600)]);
    let limited = client.get_capture("NOPE").await;
    assert_eq!(
        limited.as_ref().err().and_then(ApiError::retry_after),
        Some(std::time::Duration::from_secs(3600)),
        "a long Retry-After is handed to the outbox, not slept on"
    );

    let wrong = PaypalClient::new(
        PaypalApiConfig {
            api_base: sims.paypal.base_url().to_string(),
            client_id: "someone".into(),
            client_secret: Secret::new("hunter2-secret"),
        },
        HttpPolicy::fast(),
    )
    .expect("client");
    let refused = wrong.get_capture("X").await.expect_err("bad credentials");
    assert!(!refused.is_retryable());
    assert!(!refused.to_string().contains("hunter2"), "{refused}");
    assert!(!format!("{refused:?}{wrong:?}").contains("hunter2"));

    let unreachable = PaypalClient::new(
        PaypalApiConfig {
            api_base: "http://127.0.0.1:9".into(),
            client_id: "id".into(),
            client_secret: Secret::new("hunter2-secret"),
        },
        HttpPolicy {
            max_retries: 1,
            ..HttpPolicy::fast()
        },
    )
    .expect("client");
    let down = unreachable
        .get_capture("X")
        .await
        .expect_err("nobody listens");
    assert!(down.is_retryable(), "{down:?}");
    assert!(!down.to_string().contains("hunter2"));
    sims.shutdown().await;
}

#[tokio::test]
async fn disputes_list_show_evidence_and_accept_claim() {
    let (sims, config) = sims().await;
    let client = PaypalClient::new(
        PaypalApiConfig::from_config(&config.paypal),
        HttpPolicy::fast(),
    )
    .expect("client");
    let capture = sims.paypal.create_capture("ORD-9", 4000, "USD");
    let d1 = sims
        .paypal
        .open_dispute(&capture, "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", 10)
        .expect("dispute 1");
    let d2 = sims
        .paypal
        .open_dispute(&capture, "UNAUTHORISED", 10)
        .expect("dispute 2");
    let list = client
        .list_disputes(&[("dispute_state", "REQUIRED_ACTION"), ("page_size", "10")])
        .await
        .expect("list");
    let items = list["items"].as_array().map(Vec::len);
    assert_eq!(items, Some(2));
    let shown = client.get_dispute(&d1).await.expect("show");
    assert_eq!(shown["status"], "WAITING_FOR_SELLER_RESPONSE");
    assert_eq!(shown["dispute_amount"]["value"], "40.00");

    let input = json!({ "evidences": [{ "evidence_type": "PROOF_OF_FULFILLMENT",
        "evidence_info": { "tracking_info": [{ "carrier_name": "FEDEX", "tracking_number": "122533485" }] },
        "notes": "Delivered, signed for." }] });
    let files = vec![(
        "pod.pdf".to_string(),
        "application/pdf".to_string(),
        b"%PDF-1.4 proof".to_vec(),
    )];
    client
        .provide_evidence(&d1, &input, &files, "evidence:1")
        .await
        .expect("evidence");
    // Same request id again: answered, not submitted twice.
    client
        .provide_evidence(&d1, &input, &files, "evidence:1")
        .await
        .expect("evidence replay");
    let after = client.get_dispute(&d1).await.expect("show");
    assert_eq!(after["status"], "UNDER_REVIEW");
    assert_eq!(after["evidences"].as_array().map(Vec::len), Some(1));
    assert_eq!(after["evidences"][0]["source"], "SUBMITTED_BY_SELLER");
    // Not allowed twice under a new id either.
    let again = client
        .provide_evidence(&d1, &input, &[], "evidence:2")
        .await
        .expect_err("not in WAITING_FOR_SELLER_RESPONSE any more");
    assert!(!again.is_retryable());
    assert!(
        again
            .to_string()
            .contains("ACTION_NOT_ALLOWED_IN_CURRENT_STATE")
    );

    let body = json!({ "note": "Refunding.", "accept_claim_type": "REFUND" });
    client
        .accept_claim(&d2, &body, "accept:1")
        .await
        .expect("accept");
    client
        .accept_claim(&d2, &body, "accept:1")
        .await
        .expect("accept replay");
    let resolved = client.get_dispute(&d2).await.expect("show");
    assert_eq!(resolved["status"], "RESOLVED");
    assert_eq!(resolved["dispute_outcome"]["outcome_code"], "ACCEPTED");
    let stats = sims.paypal.stats();
    assert_eq!((stats.evidence_submissions, stats.claims_accepted), (1, 1));
    sims.shutdown().await;
}

#[tokio::test]
async fn wise_transfers_are_idempotent_and_funding_is_checked() {
    let (sims, config) = sims().await;
    let client = WiseClient::new(WiseApiConfig::from_config(&config.wise), HttpPolicy::fast())
        .expect("client");
    let usd = lsn_ops::domain::money::Currency::parse("USD").expect("USD");
    let recipient = sims.wise.add_recipient("USD", "Ava");
    let account = client.get_recipient(recipient).await.expect("recipient");
    assert_eq!(account["id"], recipient);
    let quote = client
        .create_quote(
            usd,
            lsn_ops::domain::money::Money::new(10_001, usd),
            Some(recipient),
        )
        .await
        .expect("quote");
    let ctid = uuid::Uuid::new_v4().to_string();
    let t1 = client
        .create_transfer(recipient, &quote.id, &ctid, "LSN payout")
        .await
        .expect("transfer");
    let t2 = client
        .create_transfer(recipient, &quote.id, &ctid, "LSN payout")
        .await
        .expect("same transfer");
    assert_eq!(t1.id, t2.id);
    assert_eq!(t1.status, "incoming_payment_waiting");
    let sim = sims.wise.transfers_for(&ctid);
    assert_eq!(sim.len(), 1);
    assert_eq!(sim[0].target_value, "100.01");
    client.fund_transfer(t1.id).await.expect("funded");
    // A second funding comes back 200 REJECTED: an error, not a success.
    let twice = client
        .fund_transfer(t1.id)
        .await
        .expect_err("already funded");
    assert!(
        matches!(&twice, ApiError::Permanent { status: Some(200), message } if message.contains("REJECTED"))
    );
    assert_eq!(sims.wise.stats().fundings, 1);
    let status = client.get_transfer(t1.id).await.expect("status");
    assert_eq!(status.status, "outgoing_payment_sent");
    sims.shutdown().await;
}

#[tokio::test]
async fn twilio_rooms_by_sid_or_name() {
    let (sims, config) = sims().await;
    let client = TwilioClient::new(
        TwilioApiConfig::from_config(&config.twilio),
        HttpPolicy::fast(),
    )
    .expect("client");
    let sid = sims.twilio.create_room("show-42");
    let by_sid = client.get_room(&sid).await.expect("lookup").expect("room");
    let by_name = client
        .get_room("show-42")
        .await
        .expect("lookup")
        .expect("room");
    assert_eq!(by_sid, by_name);
    assert_eq!(by_sid.status, "in-progress");
    assert_eq!(client.get_room("nope").await.expect("lookup"), None);
    let mut wrong = config.twilio.clone();
    wrong.api_key_secret = Secret::new("bad");
    let refused = TwilioClient::new(TwilioApiConfig::from_config(&wrong), HttpPolicy::fast())
        .expect("client")
        .get_room(&sid)
        .await
        .expect_err("bad key");
    assert!(!refused.is_retryable());
    sims.shutdown().await;
}

#[sqlx::test]
async fn evidence_accept_claim_and_room_commands(pool: PgPool) {
    let (sims, config) = sims().await;
    let clients = Clients::from_config(&config, HttpPolicy::fast()).expect("clients");
    let capture = sims.paypal.create_capture("ORD-5", 3000, "USD");
    let pp1 = sims
        .paypal
        .open_dispute(&capture, "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", 10)
        .expect("dispute");
    let pp2 = sims
        .paypal
        .open_dispute(&capture, "UNAUTHORISED", 10)
        .expect("dispute");
    let mut ids = Vec::new();
    for (pp, state) in [(&pp1, "EVIDENCE_READY"), (&pp2, "EVIDENCE_REQUIRED")] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO disputes (paypal_dispute_id, state, reason, amount_minor, currency, opened_at, sla_due_at)
             VALUES ($1, $2, 'OTHER', 3000, 'USD', now(), now() + interval '1 day') RETURNING id",
        )
        .bind(pp)
        .bind(state)
        .fetch_one(&pool)
        .await
        .expect("dispute row");
        ids.push(id);
    }
    let creator: i64 = sqlx::query_scalar(
        "INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('ava', 'Ava', 'gold', 2000) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("creator");
    let show: i64 = sqlx::query_scalar(
        "INSERT INTO shows (creator_id, title, scheduled_start, scheduled_end, twilio_room_name)
         VALUES ($1, 'Live', now(), now() + interval '1 hour', 'show-7') RETURNING id",
    )
    .bind(creator)
    .fetch_one(&pool)
    .await
    .expect("show");
    let room = sims.twilio.create_room("show-7");

    let mut tx = pool.begin().await.expect("begin");
    let input =
        json!({ "evidences": [{ "evidence_type": "PROOF_OF_FULFILLMENT", "notes": "Shipped." }] });
    enqueue(
        &mut tx,
        CommandKind::PaypalProvideEvidence,
        "evidence:d1",
        &json!({ "dispute_id": ids[0], "input": input }),
        "agent",
    )
    .await
    .expect("enqueue");
    enqueue(
        &mut tx,
        CommandKind::PaypalAcceptClaim,
        "accept:d2",
        &json!({ "dispute_id": ids[1], "note": "Sorry.", "accept_claim_type": "REFUND" }),
        "agent",
    )
    .await
    .expect("enqueue");
    enqueue(
        &mut tx,
        CommandKind::TwilioRoomLookup,
        "room:show",
        &json!({ "show_id": show }),
        "worker",
    )
    .await
    .expect("enqueue");
    enqueue(
        &mut tx,
        CommandKind::PaypalSyncCapture,
        "sync:capture",
        &json!({ "capture_id": capture }),
        "worker",
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");

    let options = ExecOptions::default();
    for _ in 0..4 {
        let (_, outcome) = execute_next(&pool, &clients, &options)
            .await
            .expect("execute")
            .expect("a command");
        assert_eq!(outcome, Outcome::Succeeded);
    }
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM commands ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("states");
    assert_eq!(states, vec!["succeeded"; 4]);
    let (state, submitted): (String, bool) =
        sqlx::query_as("SELECT state, submitted_at IS NOT NULL FROM disputes WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&pool)
            .await
            .expect("dispute");
    assert_eq!((state.as_str(), submitted), ("SUBMITTED", true));
    let stats = sims.paypal.stats();
    assert_eq!((stats.evidence_submissions, stats.claims_accepted), (1, 1));
    let sid: Option<String> = sqlx::query_scalar("SELECT twilio_room_sid FROM shows WHERE id = $1")
        .bind(show)
        .fetch_one(&pool)
        .await
        .expect("show");
    assert_eq!(sid, Some(room));
    let result: serde_json::Value =
        sqlx::query_scalar("SELECT result FROM commands WHERE idempotency_key = 'sync:capture'")
            .fetch_one(&pool)
            .await
            .expect("result");
    assert_eq!(result["amount"]["value"], "30.00");
    sims.shutdown().await;
}
