-- lsn-ops schema: the whole operations domain.
-- Money: bigint minor units + ISO 4217 currency. Time: timestamptz (UTC).
-- Every state column is CHECK-constrained; every dashboard query has its index.

-- Operators and the append-only audit log ---------------------------------

CREATE TABLE operators (
    name        text PRIMARY KEY,
    role        text NOT NULL CHECK (role IN ('viewer', 'agent', 'finance', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL
);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    operator    text NOT NULL,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, at);
CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Creators, customers, products -------------------------------------------

CREATE TABLE creators (
    id                      bigserial PRIMARY KEY,
    handle                  text NOT NULL UNIQUE,
    display_name            text NOT NULL,
    tier                    text NOT NULL CHECK (tier IN ('bronze', 'silver', 'gold', 'platinum')),
    commission_bps          integer NOT NULL CHECK (commission_bps BETWEEN 1000 AND 3000),
    payout_currency         char(3) NOT NULL DEFAULT 'USD',
    wise_recipient_id       bigint,
    bank_account_summary    text,
    bank_details_updated_at timestamptz,
    recipient_verified_at   timestamptz,
    recipient_status        text NOT NULL DEFAULT 'missing'
                            CHECK (recipient_status IN ('missing', 'unverified', 'verified', 'invalid')),
    created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customers (
    id              bigserial PRIMARY KEY,
    email           text NOT NULL UNIQUE,
    name            text NOT NULL,
    country         char(2) NOT NULL,
    paypal_payer_id text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_payer_idx ON customers (paypal_payer_id);

CREATE TABLE products (
    id             bigserial PRIMARY KEY,
    sku            text NOT NULL UNIQUE,
    name           text NOT NULL,
    creator_id     bigint REFERENCES creators (id),
    currency       char(3) NOT NULL,
    price_minor    bigint NOT NULL CHECK (price_minor >= 0),
    cost_minor     bigint NOT NULL CHECK (cost_minor >= 0),
    stock_on_hand  integer NOT NULL CHECK (stock_on_hand >= 0),
    stock_reserved integer NOT NULL DEFAULT 0 CHECK (stock_reserved >= 0),
    reorder_point  integer NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Live shows ----------------------------------------------------------------

CREATE TABLE shows (
    id                   bigserial PRIMARY KEY,
    creator_id           bigint NOT NULL REFERENCES creators (id),
    title                text NOT NULL,
    scheduled_start      timestamptz NOT NULL,
    scheduled_end        timestamptz NOT NULL,
    status               text NOT NULL DEFAULT 'scheduled'
                         CHECK (status IN ('scheduled', 'preshow', 'live', 'ended', 'cancelled', 'failed')),
    twilio_room_sid      text UNIQUE,
    twilio_room_name     text,
    creator_connected_at timestamptz,
    started_at           timestamptz,
    ended_at             timestamptz,
    current_viewers      integer NOT NULL DEFAULT 0 CHECK (current_viewers >= 0),
    peak_viewers         integer NOT NULL DEFAULT 0 CHECK (peak_viewers >= 0),
    recording_status     text NOT NULL DEFAULT 'none'
                         CHECK (recording_status IN ('none', 'recording', 'saved', 'failed')),
    recording_sid        text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (scheduled_end > scheduled_start)
);
CREATE INDEX shows_schedule_idx ON shows (scheduled_start);

CREATE TABLE show_products (
    show_id          bigint NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    product_id       bigint NOT NULL REFERENCES products (id),
    position         integer NOT NULL DEFAULT 0,
    pinned           boolean NOT NULL DEFAULT true,
    price_drop_minor bigint CHECK (price_drop_minor >= 0),
    price_drop_at    timestamptz,
    PRIMARY KEY (show_id, product_id)
);
CREATE INDEX show_products_product_idx ON show_products (product_id);

-- Checklists: pre-show / post-show per show, morning / evening per ops day.
CREATE TABLE checklist_items (
    id         bigserial PRIMARY KEY,
    checklist  text NOT NULL CHECK (checklist IN ('preshow', 'during_show', 'postshow', 'morning', 'evening')),
    show_id    bigint REFERENCES shows (id) ON DELETE CASCADE,
    ops_day    date,
    item_key   text NOT NULL,
    label      text NOT NULL,
    done_at    timestamptz,
    done_by    text,
    CHECK ((show_id IS NOT NULL) <> (ops_day IS NOT NULL))
);
CREATE UNIQUE INDEX checklist_items_show_uq ON checklist_items (show_id, checklist, item_key) WHERE show_id IS NOT NULL;
CREATE UNIQUE INDEX checklist_items_day_uq ON checklist_items (ops_day, checklist, item_key) WHERE ops_day IS NOT NULL;

-- Orders, payments, refunds -----------------------------------------------

CREATE TABLE orders (
    id                  bigserial PRIMARY KEY,
    order_number        text NOT NULL UNIQUE,
    customer_id         bigint NOT NULL REFERENCES customers (id),
    creator_id          bigint REFERENCES creators (id),
    show_id             bigint REFERENCES shows (id),
    status              text NOT NULL
                        CHECK (status IN ('pending_payment', 'paid', 'on_hold', 'fulfilling', 'shipped',
                                          'delivered', 'cancelled', 'refunded', 'payment_failed')),
    currency            char(3) NOT NULL,
    subtotal_minor      bigint NOT NULL CHECK (subtotal_minor >= 0),
    shipping_minor      bigint NOT NULL DEFAULT 0 CHECK (shipping_minor >= 0),
    total_minor         bigint NOT NULL CHECK (total_minor >= 0),
    product_cost_minor  bigint NOT NULL DEFAULT 0 CHECK (product_cost_minor >= 0),
    shipping_cost_minor bigint NOT NULL DEFAULT 0 CHECK (shipping_cost_minor >= 0),
    platform_fee_minor  bigint NOT NULL DEFAULT 0 CHECK (platform_fee_minor >= 0),
    email               text NOT NULL,
    ip                  inet,
    ip_country          char(2),
    billing_country     char(2),
    shipping_country    char(2),
    device_fingerprint  text,
    paypal_payer_id     text,
    fraud_score         smallint CHECK (fraud_score BETWEEN 0 AND 100),
    fraud_state         text NOT NULL DEFAULT 'unscored'
                        CHECK (fraud_state IN ('unscored', 'clear', 'pending', 'approved', 'review', 'declined')),
    fraud_hold_until    timestamptz,
    tracking_number     text,
    carrier             text,
    shipped_at          timestamptz,
    delivered_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    paid_at             timestamptz
);
-- Header figures (today's GMV, orders, AOV) read a day's range of this index only.
CREATE INDEX orders_created_idx ON orders (created_at) INCLUDE (status, total_minor, currency);
-- The fraud queue: undecided high-risk orders and expired review holds, highest first.
CREATE INDEX orders_fraud_queue_idx ON orders (fraud_score DESC, created_at)
    WHERE fraud_state IN ('pending', 'review');
CREATE INDEX orders_creator_paid_idx ON orders (creator_id, paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX orders_show_idx ON orders (show_id) WHERE show_id IS NOT NULL;
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE INDEX orders_ip_idx ON orders (ip, created_at);
CREATE INDEX orders_device_idx ON orders (device_fingerprint);
CREATE INDEX orders_payer_idx ON orders (paypal_payer_id);
CREATE INDEX orders_email_idx ON orders (email);

CREATE TABLE order_items (
    id               bigserial PRIMARY KEY,
    order_id         bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       bigint NOT NULL REFERENCES products (id),
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    unit_cost_minor  bigint NOT NULL CHECK (unit_cost_minor >= 0)
);
CREATE INDEX order_items_order_idx ON order_items (order_id);
CREATE INDEX order_items_product_idx ON order_items (product_id);

CREATE TABLE payments (
    id                bigserial PRIMARY KEY,
    order_id          bigint NOT NULL REFERENCES orders (id),
    provider          text NOT NULL DEFAULT 'paypal' CHECK (provider IN ('paypal')),
    capture_id        text NOT NULL UNIQUE,
    status            text NOT NULL
                      CHECK (status IN ('PENDING', 'COMPLETED', 'DECLINED', 'DENIED', 'PARTIALLY_REFUNDED',
                                        'REFUNDED', 'REVERSED', 'FAILED')),
    amount_minor      bigint NOT NULL CHECK (amount_minor >= 0),
    currency          char(3) NOT NULL,
    refunded_minor    bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (refunded_minor <= amount_minor)
);
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE INDEX payments_created_idx ON payments (created_at) INCLUDE (status);

CREATE TABLE refunds (
    id                 bigserial PRIMARY KEY,
    order_id           bigint NOT NULL REFERENCES orders (id),
    payment_id         bigint REFERENCES payments (id),
    amount_minor       bigint NOT NULL CHECK (amount_minor > 0),
    currency           char(3) NOT NULL,
    status             text NOT NULL DEFAULT 'requested'
                       CHECK (status IN ('requested', 'pending', 'completed', 'failed', 'cancelled')),
    reason             text NOT NULL,
    requested_by       text NOT NULL,
    idempotency_key    text NOT NULL UNIQUE,
    paypal_refund_id   text UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz
);
CREATE INDEX refunds_order_idx ON refunds (order_id);

-- Disputes ------------------------------------------------------------------

CREATE TABLE disputes (
    id                      bigserial PRIMARY KEY,
    paypal_dispute_id       text NOT NULL UNIQUE,
    order_id                bigint REFERENCES orders (id),
    payment_id              bigint REFERENCES payments (id),
    state                   text NOT NULL DEFAULT 'OPEN'
                            CHECK (state IN ('OPEN', 'EVIDENCE_REQUIRED', 'EVIDENCE_BUILDING', 'EVIDENCE_READY',
                                             'SUBMITTED', 'WON', 'LOST', 'CLOSED')),
    outcome                 text CHECK (outcome IN ('WON', 'LOST')),
    reason                  text NOT NULL,
    paypal_status           text,
    life_cycle_stage        text CHECK (life_cycle_stage IN ('INQUIRY', 'CHARGEBACK', 'PRE_ARBITRATION', 'ARBITRATION')),
    amount_minor            bigint NOT NULL CHECK (amount_minor >= 0),
    currency                char(3) NOT NULL,
    opened_at               timestamptz NOT NULL,
    -- Internal SLA: evidence within 24h of creation.
    sla_due_at              timestamptz NOT NULL,
    -- Hard deadline: PayPal's seller_response_due_date.
    seller_response_due_at  timestamptz,
    assigned_to             text,
    submitted_at            timestamptz,
    resolved_at             timestamptz,
    closed_at               timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
-- The SLA queue: open disputes by whichever deadline comes first.
CREATE INDEX disputes_sla_queue_idx ON disputes (LEAST(sla_due_at, COALESCE(seller_response_due_at, sla_due_at)))
    WHERE state NOT IN ('WON', 'LOST', 'CLOSED');
CREATE INDEX disputes_state_idx ON disputes (state);
CREATE INDEX disputes_order_idx ON disputes (order_id);
CREATE INDEX disputes_resolved_idx ON disputes (resolved_at) WHERE resolved_at IS NOT NULL;

-- The runbook's 7-item evidence checklist, one row per item per dispute.
CREATE TABLE dispute_evidence (
    id            bigserial PRIMARY KEY,
    dispute_id    bigint NOT NULL REFERENCES disputes (id) ON DELETE CASCADE,
    item          text NOT NULL
                  CHECK (item IN ('order_confirmation', 'shipping_tracking', 'delivery_confirmation',
                                  'product_description', 'customer_communication', 'refund_policy',
                                  'terms_of_service')),
    status        text NOT NULL DEFAULT 'missing' CHECK (status IN ('missing', 'collected', 'not_applicable')),
    content       jsonb,
    collected_at  timestamptz,
    collected_by  text,
    UNIQUE (dispute_id, item)
);

-- Fraud -------------------------------------------------------------------

CREATE TABLE fraud_scores (
    id            bigserial PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES orders (id),
    score         smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
    model_version text NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fraud_scores_order_idx ON fraud_scores (order_id, computed_at DESC);

CREATE TABLE fraud_indicators (
    score_id   bigint NOT NULL REFERENCES fraud_scores (id) ON DELETE CASCADE,
    indicator  text NOT NULL
               CHECK (indicator IN ('ip_velocity', 'shared_device', 'ip_reputation', 'geo_mismatch',
                                    'payment_history', 'shipping_billing_mismatch', 'high_value_first_order',
                                    'vpn_proxy', 'suspicious_email_domain', 'failed_payment_attempts',
                                    'blocklisted')),
    points     smallint NOT NULL CHECK (points BETWEEN 0 AND 100),
    evidence   text NOT NULL,
    PRIMARY KEY (score_id, indicator)
);

CREATE TABLE fraud_decisions (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id),
    decision    text NOT NULL CHECK (decision IN ('approve', 'review', 'decline')),
    reason      text NOT NULL CHECK (length(btrim(reason)) > 0),
    operator    text NOT NULL,
    score_seen  smallint NOT NULL CHECK (score_seen BETWEEN 0 AND 100),
    hold_until  timestamptz,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    undone_at   timestamptz,
    undone_by   text,
    CHECK ((decision = 'review') = (hold_until IS NOT NULL))
);
CREATE INDEX fraud_decisions_order_idx ON fraud_decisions (order_id, decided_at DESC);
CREATE INDEX fraud_decisions_decided_idx ON fraud_decisions (decided_at);

-- One analyst at a time per order: a short-lived claim.
CREATE TABLE fraud_claims (
    order_id      bigint PRIMARY KEY REFERENCES orders (id),
    operator      text NOT NULL,
    claimed_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

CREATE TABLE blocklist (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('ip', 'email', 'device', 'payer')),
    value       text NOT NULL,
    reason      text NOT NULL CHECK (length(btrim(reason)) > 0),
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz,
    removed_by  text,
    removed_reason text
);
CREATE UNIQUE INDEX blocklist_active_uq ON blocklist (kind, value) WHERE removed_at IS NULL;

-- Creator payouts ---------------------------------------------------------

CREATE TABLE payout_batches (
    id            bigserial PRIMARY KEY,
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    scheduled_for timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'draft'
                  CHECK (state IN ('draft', 'generated', 'approved', 'processing', 'completed',
                                   'partially_failed', 'cancelled')),
    currency      char(3) NOT NULL,
    generated_at  timestamptz,
    generated_by  text,
    approved_at   timestamptz,
    approved_by   text,
    processed_at  timestamptz,
    processed_by  text,
    completed_at  timestamptz,
    UNIQUE (period_start, currency),
    CHECK (period_end > period_start)
);
CREATE INDEX payout_batches_scheduled_idx ON payout_batches (scheduled_for DESC);

CREATE TABLE payout_items (
    id                      bigserial PRIMARY KEY,
    batch_id                bigint NOT NULL REFERENCES payout_batches (id),
    creator_id              bigint NOT NULL REFERENCES creators (id),
    kind                    text NOT NULL CHECK (kind IN ('earnings', 'adjustment')),
    currency                char(3) NOT NULL,
    order_count             integer NOT NULL DEFAULT 0 CHECK (order_count >= 0),
    order_total_minor       bigint NOT NULL DEFAULT 0,
    costs_minor             bigint NOT NULL DEFAULT 0,
    commission_bps          integer NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    amount_minor            bigint NOT NULL,
    state                   text NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'held', 'processing', 'sent', 'failed', 'cancelled')),
    hold_reason             text,
    adjusts_item_id         bigint REFERENCES payout_items (id),
    note                    text,
    -- Wise idempotency key: one transfer per payout line, ever.
    customer_transaction_id uuid NOT NULL UNIQUE,
    wise_transfer_id        bigint UNIQUE,
    wise_status             text,
    failure_reason          text,
    attempts                integer NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'adjustment') OR adjusts_item_id IS NULL)
);
CREATE INDEX payout_items_batch_idx ON payout_items (batch_id, state);
CREATE INDEX payout_items_creator_idx ON payout_items (creator_id);

-- Which orders an earnings line pays for. UNIQUE(order_id): never paid twice.
CREATE TABLE payout_item_orders (
    payout_item_id bigint NOT NULL REFERENCES payout_items (id) ON DELETE CASCADE,
    order_id       bigint NOT NULL UNIQUE REFERENCES orders (id),
    earnings_minor bigint NOT NULL,
    PRIMARY KEY (payout_item_id, order_id)
);

-- Alerts and incidents --------------------------------------------------

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    rule_key         text NOT NULL,
    dedup_key        text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    priority         text CHECK (priority IN ('P0', 'P1', 'P2', 'P3')),
    title            text NOT NULL,
    details          text NOT NULL DEFAULT '',
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    opened_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    occurrences      integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    acked_by         text,
    acked_at         timestamptz,
    resolved_by      text,
    resolved_at      timestamptz,
    CHECK ((state = 'open') OR acked_at IS NOT NULL OR resolved_at IS NOT NULL)
);
-- At most one unresolved alert per condition: a recurrence bumps it (flap damping).
CREATE UNIQUE INDEX alerts_active_uq ON alerts (dedup_key) WHERE state <> 'resolved';
CREATE INDEX alerts_active_idx ON alerts (severity, opened_at DESC) WHERE state <> 'resolved';

CREATE TABLE incidents (
    id           bigserial PRIMARY KEY,
    priority     text NOT NULL CHECK (priority IN ('P0', 'P1', 'P2', 'P3')),
    title        text NOT NULL,
    state        text NOT NULL DEFAULT 'open'
                 CHECK (state IN ('open', 'investigating', 'mitigated', 'resolved')),
    alert_id     bigint REFERENCES alerts (id),
    commander    text,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    -- Resolution target from the priority: P0 1h, P1 4h, P2 24h, P3 1 week.
    due_at       timestamptz NOT NULL,
    resolved_at  timestamptz,
    resolved_by  text,
    summary      text NOT NULL DEFAULT ''
);
CREATE INDEX incidents_active_idx ON incidents (due_at) WHERE state <> 'resolved';

-- Probe results feeding the alert rules (uptime, error rate, latency, disk, memory).
CREATE TABLE probe_samples (
    id         bigserial PRIMARY KEY,
    probe      text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    ok         boolean NOT NULL,
    value      double precision,
    detail     text
);
CREATE INDEX probe_samples_idx ON probe_samples (probe, at DESC);

-- Storefront sessions per ops day, for the conversion rate.
CREATE TABLE daily_traffic (
    day      date PRIMARY KEY,
    sessions bigint NOT NULL CHECK (sessions >= 0)
);

-- Provider integration: inbox and outbox ------------------------------------

CREATE TABLE provider_events (
    id               bigserial PRIMARY KEY,
    provider         text NOT NULL CHECK (provider IN ('paypal', 'wise', 'twilio')),
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    occurred_at      timestamptz,
    received_at      timestamptz NOT NULL DEFAULT now(),
    headers          jsonb NOT NULL DEFAULT '{}'::jsonb,
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'applied', 'ignored', 'failed', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    applied_at       timestamptz,
    UNIQUE (provider, event_id)
);
CREATE INDEX provider_events_due_idx ON provider_events (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX provider_events_received_idx ON provider_events (received_at);

CREATE TABLE commands (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL
                     CHECK (kind IN ('paypal_refund', 'paypal_provide_evidence', 'paypal_accept_claim',
                                     'paypal_sync_capture', 'wise_transfer', 'wise_sync_transfer',
                                     'twilio_room_lookup')),
    idempotency_key  text NOT NULL UNIQUE,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'in_flight', 'succeeded', 'failed', 'dead', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    result           jsonb,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    completed_at     timestamptz
);
CREATE INDEX commands_due_idx ON commands (next_attempt_at) WHERE state IN ('pending', 'failed');

-- Change notification for dashboards: one NOTIFY per statement on the tables they show.
CREATE FUNCTION notify_ops_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lsn_ops_changes', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER alerts_notify AFTER INSERT OR UPDATE OR DELETE ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER incidents_notify AFTER INSERT OR UPDATE OR DELETE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER shows_notify AFTER INSERT OR UPDATE OR DELETE ON shows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER disputes_notify AFTER INSERT OR UPDATE OR DELETE ON disputes
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER payout_batches_notify AFTER INSERT OR UPDATE OR DELETE ON payout_batches
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER payout_items_notify AFTER INSERT OR UPDATE OR DELETE ON payout_items
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER orders_notify AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER fraud_decisions_notify AFTER INSERT OR UPDATE ON fraud_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
