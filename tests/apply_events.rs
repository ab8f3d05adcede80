//! The applier (inbox → domain tables) on a real PostgreSQL: each effect once,
//! out-of-order events never moving an entity backwards, failures retried and
//! parked, and two appliers sharing one inbox.

use chrono::{DateTime, Duration, Utc};
use lsn_ops::domain::operators::Actor;
use lsn_ops::worker::apply::{
    ApplySettings, MAX_ATTEMPTS, Outcome, apply_due, apply_due_one_by_one, apply_next, replay,
};
use serde_json::{Value, json};
use sqlx::PgPool;

async fn event(
    pool: &PgPool,
    provider: &str,
    event_id: &str,
    event_type: &str,
    payload: Value,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO provider_events (provider, event_id, event_type, payload) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(payload)
    .fetch_one(pool)
    .await
    .expect("insert event")
}

async fn status_of(pool: &PgPool, id: i64) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM provider_events WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("event status")
}

/// A creator, a customer, a product with stock, and an order awaiting payment.
async fn order_awaiting_payment(pool: &PgPool, number: &str, email: &str) -> (i64, i64) {
    let creator: i64 = sqlx::query_scalar(
        "INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ($1, 'C', 'gold', 2000)
         ON CONFLICT (handle) DO UPDATE SET display_name = 'C' RETURNING id",
    )
    .bind("ava")
    .fetch_one(pool)
    .await
    .expect("creator");
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ($1, 'B', 'US') RETURNING id",
    )
    .bind(email)
    .fetch_one(pool)
    .await
    .expect("customer");
    let product: i64 = sqlx::query_scalar(
        "INSERT INTO products (sku, name, creator_id, currency, price_minor, cost_minor, stock_on_hand)
         VALUES ($1, 'Mug', $2, 'USD', 2500, 1000, 40) RETURNING id",
    )
    .bind(format!("SKU-{number}"))
    .bind(creator)
    .fetch_one(pool)
    .await
    .expect("product");
    let order: i64 = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, creator_id, status, currency, subtotal_minor, total_minor, email,
                             ip, ip_country, billing_country, shipping_country)
         VALUES ($1, $2, $3, 'pending_payment', 'USD', 5000, 5000, $4, '203.0.113.7', 'US', 'US', 'US') RETURNING id",
    )
    .bind(number)
    .bind(customer)
    .bind(creator)
    .bind(email)
    .fetch_one(pool)
    .await
    .expect("order");
    sqlx::query("INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, unit_cost_minor) VALUES ($1, $2, 2, 2500, 1000)")
        .bind(order)
        .bind(product)
        .execute(pool)
        .await
        .expect("item");
    (order, product)
}

fn capture(event_type: &str, capture_id: &str, order: &str, value: &str) -> Value {
    json!({ "id": format!("WH-{capture_id}-{event_type}"), "event_type": event_type, "resource_type": "capture",
            "resource": { "id": capture_id, "status": "COMPLETED", "custom_id": order,
                          "amount": { "currency_code": "USD", "value": value },
                          "create_time": "2026-11-24T10:00:00Z", "update_time": "2026-11-24T10:00:05Z" } })
}

#[sqlx::test]
async fn a_capture_pays_reserves_and_scores_once(pool: PgPool) {
    let (order, product) = order_awaiting_payment(&pool, "LSN-1", "buyer@mailinator.com").await;
    let first = event(
        &pool,
        "paypal",
        "WH-1",
        "PAYMENT.CAPTURE.COMPLETED",
        capture("PAYMENT.CAPTURE.COMPLETED", "CAP1", "LSN-1", "50.00"),
    )
    .await;
    // PayPal redelivers with a new transmission but the same capture: no second effect.
    let again = event(
        &pool,
        "paypal",
        "WH-1-resent",
        "PAYMENT.CAPTURE.COMPLETED",
        capture("PAYMENT.CAPTURE.COMPLETED", "CAP1", "LSN-1", "50.00"),
    )
    .await;
    assert_eq!(
        apply_due(&pool, ApplySettings::default(), 10)
            .await
            .expect("apply"),
        2
    );
    assert_eq!(status_of(&pool, first).await.0, "applied");
    assert_eq!(status_of(&pool, again).await.0, "ignored");

    let (status, score): (String, Option<i16>) =
        sqlx::query_as("SELECT status, fraud_score FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(&pool)
            .await
            .expect("order");
    assert_eq!(status, "paid");
    assert_eq!(score, Some(15), "disposable email domain fired");
    let reserved: i32 = sqlx::query_scalar("SELECT stock_reserved FROM products WHERE id = $1")
        .bind(product)
        .fetch_one(&pool)
        .await
        .expect("stock");
    assert_eq!(reserved, 2, "stock reserved once");
    let (payments, amount): (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), max(amount_minor) FROM payments")
            .fetch_one(&pool)
            .await
            .expect("payments");
    assert_eq!((payments, amount), (1, Some(5000)));
    let evidence: String = sqlx::query_scalar("SELECT evidence FROM fraud_indicators")
        .fetch_one(&pool)
        .await
        .expect("indicator");
    assert_eq!(evidence, "disposable domain mailinator.com");
    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'paypal.capture.completed'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audits, 1);
}

#[sqlx::test]
async fn a_refund_before_its_capture_waits_and_the_order_ends_refunded(pool: PgPool) {
    let (order, _) = order_awaiting_payment(&pool, "LSN-2", "b2@example.com").await;
    let refund = json!({ "id": "WH-R", "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource": { "id": "REF1", "status": "COMPLETED", "amount": { "currency_code": "USD", "value": "50.00" },
                      "links": [{ "rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/CAP2" }] } });
    let refund_id = event(&pool, "paypal", "WH-R", "PAYMENT.CAPTURE.REFUNDED", refund).await;
    let (id, outcome) = apply_next(&pool, ApplySettings::default())
        .await
        .expect("apply")
        .expect("one due");
    assert_eq!(id, refund_id);
    assert!(
        matches!(outcome, Outcome::Failed(ref m) if m.contains("no payment with capture CAP2")),
        "{outcome:?}"
    );
    assert_eq!(status_of(&pool, refund_id).await, ("failed".into(), 1));

    event(
        &pool,
        "paypal",
        "WH-C",
        "PAYMENT.CAPTURE.COMPLETED",
        capture("PAYMENT.CAPTURE.COMPLETED", "CAP2", "LSN-2", "50.00"),
    )
    .await;
    assert_eq!(
        apply_due(&pool, ApplySettings::default(), 10)
            .await
            .expect("apply"),
        1,
        "the refund waits for its backoff"
    );
    sqlx::query("UPDATE provider_events SET next_attempt_at = now() WHERE id = $1")
        .bind(refund_id)
        .execute(&pool)
        .await
        .expect("due now");
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    assert_eq!(status_of(&pool, refund_id).await.0, "applied");

    // A late copy of the capture must not move the order back to paid.
    event(
        &pool,
        "paypal",
        "WH-C-late",
        "PAYMENT.CAPTURE.COMPLETED",
        capture("PAYMENT.CAPTURE.COMPLETED", "CAP2", "LSN-2", "50.00"),
    )
    .await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&pool)
        .await
        .expect("order");
    assert_eq!(status, "refunded");
    let (pay_status, refunded): (String, i64) =
        sqlx::query_as("SELECT status, refunded_minor FROM payments WHERE capture_id = 'CAP2'")
            .fetch_one(&pool)
            .await
            .expect("payment");
    assert_eq!((pay_status.as_str(), refunded), ("REFUNDED", 5000));
    let refunds: i64 = sqlx::query_scalar("SELECT count(*) FROM refunds")
        .fetch_one(&pool)
        .await
        .expect("refunds");
    assert_eq!(refunds, 1);
}

fn dispute(event_type: &str, status: &str, outcome: Option<&str>, update_time: &str) -> Value {
    let mut resource = json!({ "dispute_id": "PP-D-1", "create_time": "2026-11-24T08:00:00Z", "update_time": update_time,
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "status": status,
        "dispute_amount": { "currency_code": "USD", "value": "19.99" },
        "seller_response_due_date": "2026-12-04T08:00:00Z", "dispute_life_cycle_stage": "CHARGEBACK" });
    if let Some(code) = outcome {
        resource["dispute_outcome"] = json!({ "outcome_code": code });
    }
    json!({ "id": format!("WH-{event_type}-{update_time}"), "event_type": event_type, "resource": resource })
}

#[sqlx::test]
async fn disputes_move_forward_only(pool: PgPool) {
    event(
        &pool,
        "paypal",
        "D1",
        "CUSTOMER.DISPUTE.CREATED",
        dispute(
            "CUSTOMER.DISPUTE.CREATED",
            "WAITING_FOR_SELLER_RESPONSE",
            None,
            "2026-11-24T08:00:00Z",
        ),
    )
    .await;
    event(
        &pool,
        "paypal",
        "D2",
        "CUSTOMER.DISPUTE.RESOLVED",
        dispute(
            "CUSTOMER.DISPUTE.RESOLVED",
            "RESOLVED",
            Some("RESOLVED_SELLER_FAVOUR"),
            "2026-11-30T08:00:00Z",
        ),
    )
    .await;
    let stale = event(
        &pool,
        "paypal",
        "D3",
        "CUSTOMER.DISPUTE.UPDATED",
        dispute(
            "CUSTOMER.DISPUTE.UPDATED",
            "WAITING_FOR_SELLER_RESPONSE",
            None,
            "2026-11-25T08:00:00Z",
        ),
    )
    .await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    let (state, outcome, amount, sla): (String, Option<String>, i64, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT state, outcome, amount_minor, sla_due_at FROM disputes WHERE paypal_dispute_id = 'PP-D-1'")
            .fetch_one(&pool)
            .await
            .expect("dispute");
    assert_eq!(
        (state.as_str(), outcome.as_deref(), amount),
        ("CLOSED", Some("WON"), 1999),
        "a final outcome closes the case (WON, then CLOSED)"
    );
    assert_eq!(
        sla.to_rfc3339(),
        "2026-11-25T08:00:00+00:00",
        "24h after creation"
    );
    assert_eq!(status_of(&pool, stale).await.0, "ignored");
    let evidence: i64 = sqlx::query_scalar("SELECT count(*) FROM dispute_evidence")
        .fetch_one(&pool)
        .await
        .expect("evidence");
    assert_eq!(evidence, 7);
}

#[sqlx::test]
async fn wise_events_out_of_order_keep_the_newest_state(pool: PgPool) {
    let creator: i64 = sqlx::query_scalar("INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('w', 'W', 'gold', 2000) RETURNING id")
        .fetch_one(&pool).await.expect("creator");
    let now = Utc::now();
    let batch: i64 = sqlx::query_scalar(
        "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency) VALUES ($1, $2, $2, 'processing', 'USD') RETURNING id",
    )
    .bind(now - Duration::days(7))
    .bind(now)
    .fetch_one(&pool)
    .await
    .expect("batch");
    sqlx::query(
        "INSERT INTO payout_items (batch_id, creator_id, kind, currency, commission_bps, amount_minor, state, customer_transaction_id, wise_transfer_id)
         VALUES ($1, $2, 'earnings', 'USD', 2000, 12345, 'processing', gen_random_uuid(), 49983981)",
    )
    .bind(batch)
    .bind(creator)
    .execute(&pool)
    .await
    .expect("item");
    let wise = |state: &str, at: &str| {
        json!({ "data": { "resource": { "type": "transfer", "id": 49983981, "profile_id": 1, "account_id": 2 },
        "current_state": state, "previous_state": null, "occurred_at": at }, "event_type": "transfers#state-change", "schema_version": "2.0.0" })
    };
    event(
        &pool,
        "wise",
        "W2",
        "transfers#state-change",
        wise("outgoing_payment_sent", "2026-11-24T12:00:00Z"),
    )
    .await;
    let late = event(
        &pool,
        "wise",
        "W1",
        "transfers#state-change",
        wise("processing", "2026-11-24T11:00:00Z"),
    )
    .await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    let (state, wise_status): (String, String) =
        sqlx::query_as("SELECT state, wise_status FROM payout_items")
            .fetch_one(&pool)
            .await
            .expect("item");
    assert_eq!(
        (state.as_str(), wise_status.as_str()),
        ("sent", "outgoing_payment_sent")
    );
    assert_eq!(status_of(&pool, late).await.0, "ignored");
    let batch_state: String = sqlx::query_scalar("SELECT state FROM payout_batches")
        .fetch_one(&pool)
        .await
        .expect("batch");
    assert_eq!(batch_state, "completed");
}

#[sqlx::test]
async fn failing_events_are_parked_alerted_and_replayable(pool: PgPool) {
    let id = event(
        &pool,
        "paypal",
        "WH-X",
        "PAYMENT.CAPTURE.COMPLETED",
        capture("PAYMENT.CAPTURE.COMPLETED", "CAPX", "LSN-NOPE", "1.00"),
    )
    .await;
    let unknown = event(
        &pool,
        "paypal",
        "WH-U",
        "BILLING.PLAN.CREATED",
        json!({ "id": "WH-U" }),
    )
    .await;
    for _ in 0..MAX_ATTEMPTS {
        sqlx::query("UPDATE provider_events SET next_attempt_at = now() WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .expect("due");
        apply_due(&pool, ApplySettings::default(), 10)
            .await
            .expect("apply");
    }
    assert_eq!(status_of(&pool, id).await, ("dead".into(), MAX_ATTEMPTS));
    assert_eq!(
        status_of(&pool, unknown).await.0,
        "ignored",
        "unknown types are kept, not applied"
    );
    let (alerts, severity): (i64, String) = sqlx::query_as("SELECT count(*), max(severity) FROM alerts WHERE rule_key = 'webhook_failures' AND state = 'open'")
        .fetch_one(&pool).await.expect("alert");
    assert_eq!((alerts, severity.as_str()), (1, "warning"));
    // Replaying is an admin's call (operating the worker).
    sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ('carol', 'admin', 't')")
        .execute(&pool)
        .await
        .expect("operator");
    let carol = Actor::new("carol");
    assert!(replay(&pool, id, &carol).await.expect("replay"));
    assert_eq!(status_of(&pool, id).await, ("pending".into(), 0));
    assert!(
        !replay(&pool, unknown, &carol)
            .await
            .expect("replay ignored"),
        "only failed or dead events replay"
    );
}

#[sqlx::test]
async fn twilio_callbacks_drive_the_show_and_two_appliers_share_the_inbox(pool: PgPool) {
    let creator: i64 = sqlx::query_scalar("INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('hana', 'Hana', 'gold', 2000) RETURNING id")
        .fetch_one(&pool).await.expect("creator");
    let show: i64 = sqlx::query_scalar(
        "INSERT INTO shows (creator_id, title, scheduled_start, scheduled_end, twilio_room_name) VALUES ($1, 'S', now(), now() + interval '1 hour', 'show-1') RETURNING id",
    )
    .bind(creator)
    .fetch_one(&pool)
    .await
    .expect("show");
    let cb = |event: &str, identity: &str, n: u32| {
        json!({ "StatusCallbackEvent": event, "RoomSid": "RM1", "RoomName": "show-1",
        "RoomStatus": "in-progress", "ParticipantIdentity": identity, "Timestamp": "2026-11-24T18:00:00Z", "SequenceNumber": n.to_string() })
    };
    event(
        &pool,
        "twilio",
        "t-created",
        "room-created",
        cb("room-created", "", 0),
    )
    .await;
    event(
        &pool,
        "twilio",
        "t-creator",
        "participant-connected",
        cb("participant-connected", "hana", 1),
    )
    .await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    for n in 0..150u32 {
        event(
            &pool,
            "twilio",
            &format!("t-viewer-{n}"),
            "participant-connected",
            cb("participant-connected", &format!("viewer-{n}"), n + 2),
        )
        .await;
    }
    // Two appliers at once: SKIP LOCKED hands each event to exactly one of them.
    let (a, b) = tokio::join!(
        apply_due(&pool, ApplySettings::default(), 1_000),
        apply_due(&pool, ApplySettings::default(), 1_000)
    );
    assert_eq!(a.expect("a") + b.expect("b"), 150);
    let (status, viewers, peak, room): (String, i32, i32, Option<String>) = sqlx::query_as(
        "SELECT status, current_viewers, peak_viewers, twilio_room_sid FROM shows WHERE id = $1",
    )
    .bind(show)
    .fetch_one(&pool)
    .await
    .expect("show");
    assert_eq!(
        (status.as_str(), viewers, peak, room.as_deref()),
        ("live", 150, 150, Some("RM1"))
    );

    event(
        &pool,
        "twilio",
        "t-ended",
        "room-ended",
        cb("room-ended", "", 999),
    )
    .await;
    event(
        &pool,
        "twilio",
        "t-late",
        "participant-connected",
        cb("participant-connected", "hana", 3),
    )
    .await;
    event(&pool, "twilio", "t-rec", "recording-completed", json!({ "StatusCallbackEvent": "recording-completed", "RoomSid": "RM1", "RecordingSid": "RT1" })).await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    let (status, recording): (String, String) =
        sqlx::query_as("SELECT status, recording_status FROM shows WHERE id = $1")
            .bind(show)
            .fetch_one(&pool)
            .await
            .expect("show");
    assert_eq!(
        (status.as_str(), recording.as_str()),
        ("ended", "saved"),
        "a late connect does not reopen an ended show"
    );
}

#[sqlx::test]
async fn a_refund_paypal_answered_pending_is_counted_when_its_webhook_completes_it(pool: PgPool) {
    let (order, _) = order_awaiting_payment(&pool, "LSN-9", "b9@example.com").await;
    event(
        &pool,
        "paypal",
        "WH-C9",
        "PAYMENT.CAPTURE.COMPLETED",
        capture("PAYMENT.CAPTURE.COMPLETED", "CAP9", "LSN-9", "50.00"),
    )
    .await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    // The executor recorded PayPal's answer: refund REF9, still PENDING.
    sqlx::query(
        "INSERT INTO refunds (order_id, payment_id, amount_minor, currency, status, reason, requested_by, idempotency_key, paypal_refund_id)
         SELECT $1, id, 2000, 'USD', 'pending', 'partial', 'alice', 'k-9', 'REF9' FROM payments WHERE capture_id = 'CAP9'",
    )
    .bind(order)
    .execute(&pool)
    .await
    .expect("pending refund");
    let refund = json!({ "id": "WH-R9", "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource": { "id": "REF9", "status": "COMPLETED", "amount": { "currency_code": "USD", "value": "20.00" },
                      "links": [{ "rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/CAP9" }] } });
    let id = event(
        &pool,
        "paypal",
        "WH-R9",
        "PAYMENT.CAPTURE.REFUNDED",
        refund.clone(),
    )
    .await;
    event(
        &pool,
        "paypal",
        "WH-R9-again",
        "PAYMENT.CAPTURE.REFUNDED",
        refund,
    )
    .await;
    apply_due(&pool, ApplySettings::default(), 10)
        .await
        .expect("apply");
    assert_eq!(status_of(&pool, id).await.0, "applied");
    let (refunded, status): (i64, String) =
        sqlx::query_as("SELECT refunded_minor, status FROM payments WHERE capture_id = 'CAP9'")
            .fetch_one(&pool)
            .await
            .expect("payment");
    assert_eq!(
        (refunded, status.as_str()),
        (2000, "PARTIALLY_REFUNDED"),
        "counted once, when completed"
    );
    let (rows, state): (i64, String) = sqlx::query_as("SELECT count(*), max(status) FROM refunds")
        .fetch_one(&pool)
        .await
        .expect("refunds");
    assert_eq!((rows, state.as_str()), (1, "completed"));
}

/// Issue 15: one batch holds a poison event between two good ones; the fast
/// path rolls back, the careful path parks the poison and applies the rest,
/// all in one call, and nothing is applied twice.
#[sqlx::test]
async fn a_poison_event_in_a_batch_is_parked_and_the_rest_apply_once(pool: PgPool) {
    let (order, _) = order_awaiting_payment(&pool, "LSN-3", "b3@example.com").await;
    let first = event(
        &pool,
        "paypal",
        "WH-C3",
        "PAYMENT.CAPTURE.COMPLETED",
        capture("PAYMENT.CAPTURE.COMPLETED", "CAP3", "LSN-3", "50.00"),
    )
    .await;
    let poison = json!({ "id": "WH-RX", "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource": { "id": "REFX", "status": "COMPLETED", "amount": { "currency_code": "USD", "value": "5.00" },
                      "links": [{ "rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/CAP-NONE" }] } });
    let poison = event(&pool, "paypal", "WH-RX", "PAYMENT.CAPTURE.REFUNDED", poison).await;
    let refund = json!({ "id": "WH-R3", "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource": { "id": "REF3", "status": "COMPLETED", "amount": { "currency_code": "USD", "value": "50.00" },
                      "links": [{ "rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/CAP3" }] } });
    let last = event(&pool, "paypal", "WH-R3", "PAYMENT.CAPTURE.REFUNDED", refund).await;
    let done = lsn_ops::worker::apply::apply_batch(&pool, &ApplySettings::default(), 10)
        .await
        .expect("batch");
    assert_eq!(done.len(), 3, "{done:?}");
    assert_eq!(status_of(&pool, first).await, ("applied".into(), 1));
    assert_eq!(status_of(&pool, poison).await, ("failed".into(), 1));
    assert_eq!(status_of(&pool, last).await, ("applied".into(), 1));
    let (status, refunded): (String, i64) = sqlx::query_as(
        "SELECT o.status, p.refunded_minor FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .expect("order");
    assert_eq!(
        (status.as_str(), refunded),
        ("refunded", 5000),
        "the refund counted once"
    );
    let audits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'paypal.capture.%'")
            .fetch_one(&pool)
            .await
            .expect("audit");
    assert_eq!(
        audits, 2,
        "one audit row per applied event, none for the rolled-back try"
    );
}

/// The batch path folds a show's callbacks in memory and writes the show
/// once: it must end exactly where applying them one per transaction ends.
/// The same random sequence (creator and viewers joining and leaving, the
/// room starting and ending, recordings, late and unknown callbacks, one
/// callback for a room no show has) goes to two shows, one applied in
/// batches and one event per transaction; rows, audit trails and event
/// outcomes must match.
#[sqlx::test]
async fn room_callbacks_in_batches_end_where_one_at_a_time_ends(pool: PgPool) {
    let creator: i64 = sqlx::query_scalar("INSERT INTO creators (handle, display_name, tier, commission_bps) VALUES ('hana', 'Hana', 'gold', 2000) RETURNING id")
        .fetch_one(&pool).await.expect("creator");
    let mut shows = Vec::new();
    for name in ["batched", "single"] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO shows (creator_id, title, scheduled_start, scheduled_end, twilio_room_name) VALUES ($1, $2, now(), now() + interval '1 hour', $2) RETURNING id",
        )
        .bind(creator)
        .bind(name)
        .fetch_one(&pool)
        .await
        .expect("show");
        shows.push(id);
    }
    let kinds = [
        ("participant-connected", 30),
        ("participant-disconnected", 18),
        ("room-created", 3),
        ("room-ended", 2),
        ("recording-started", 2),
        ("recording-completed", 1),
        ("recording-failed", 1),
        ("track-added", 2),
    ];
    let weights: u64 = kinds.iter().map(|(_, w)| w).sum();
    for seed in 1..=4u64 {
        // A small LCG: the same sequence for both shows, different per seed.
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        let mut script = Vec::new();
        for n in 0..260u32 {
            let mut pick = next(weights);
            let kind = kinds
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map_or("participant-connected", |(k, _)| k);
            let identity = match next(10) {
                0 => "hana".to_string(),
                1 => "creator:hana".to_string(),
                _ => format!("viewer-{}", next(40)),
            };
            let minute = next(60);
            script.push((n, kind, identity, minute, next(50) == 0));
        }
        for (show, name) in shows.iter().zip(["batched", "single"]) {
            sqlx::query("UPDATE shows SET status = 'scheduled', twilio_room_sid = NULL, creator_connected_at = NULL, started_at = NULL, ended_at = NULL, current_viewers = 0, peak_viewers = 0, recording_status = 'none', recording_sid = NULL WHERE id = $1")
                .bind(show).execute(&pool).await.expect("reset");
            let sid = format!("RM-{name}-{seed}");
            for (n, kind, identity, minute, lost) in &script {
                let room = if *lost {
                    format!("RM-nowhere-{n}")
                } else {
                    sid.clone()
                };
                let room_name = if *lost { "nowhere" } else { name };
                event(
                    &pool,
                    "twilio",
                    &format!("{name}-{seed}-{n}"),
                    kind,
                    json!({ "StatusCallbackEvent": kind, "RoomSid": room, "RoomName": room_name,
                            "ParticipantIdentity": identity, "RecordingSid": format!("RT{n}"),
                            "Timestamp": format!("2026-11-24T18:{minute:02}:00Z") }),
                )
                .await;
            }
            let handled = if name == "batched" {
                apply_due(&pool, ApplySettings::default(), 10_000).await
            } else {
                apply_due_one_by_one(&pool, ApplySettings::default(), 10_000).await
            }
            .expect("apply");
            assert_eq!(handled, script.len(), "seed {seed}: every event handled");
            // The callbacks for no show wait for their retry; not during this test.
            sqlx::query("UPDATE provider_events SET next_attempt_at = now() + interval '1 day' WHERE status = 'failed'")
                .execute(&pool)
                .await
                .expect("park retries");
        }
        type ShowState = (
            String,
            Option<String>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            i32,
            i32,
            String,
            Option<String>,
        );
        let mut states: Vec<ShowState> = Vec::new();
        let mut trails = Vec::new();
        let mut outcomes = Vec::new();
        for (show, name) in shows.iter().zip(["batched", "single"]) {
            let s: ShowState = sqlx::query_as("SELECT status, replace(twilio_room_sid, $2, ''), creator_connected_at, started_at, ended_at, current_viewers, peak_viewers, recording_status, recording_sid FROM shows WHERE id = $1")
                .bind(show).bind(name).fetch_one(&pool).await.expect("show");
            states.push(s);
            let trail: Vec<(String, String)> = sqlx::query_as(
                "SELECT action, details->>'identity' FROM audit_log WHERE entity_type = 'show' AND entity_id = $1 AND details->>'room_sid' = $2 ORDER BY id",
            )
            .bind(show.to_string())
            .bind(format!("RM-{name}-{seed}"))
            .fetch_all(&pool)
            .await
            .expect("trail");
            trails.push(trail);
            let done: Vec<(String, String)> = sqlx::query_as(
                "SELECT split_part(event_id, '-', 3), status FROM provider_events WHERE event_id LIKE $1 ORDER BY id",
            )
            .bind(format!("{name}-{seed}-%"))
            .fetch_all(&pool)
            .await
            .expect("outcomes");
            outcomes.push(done);
        }
        assert_eq!(states[0], states[1], "seed {seed}: the shows end alike");
        assert_eq!(trails[0], trails[1], "seed {seed}: the same audit trail");
        assert_eq!(outcomes[0], outcomes[1], "seed {seed}: the same outcomes");
        assert!(!trails[0].is_empty());
        assert!(
            outcomes[0].iter().any(|(_, s)| s == "ignored")
                && outcomes[0].iter().any(|(_, s)| s == "failed"),
            "seed {seed}: the script has ignored and failed callbacks"
        );
    }
}
