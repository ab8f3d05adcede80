-- Disputes worked from the console (issue 11): evidence gathered from the
-- data with its source, operator notes and files, the evidence pack, one
-- submission per stage, accept-claim with the refund it implies, outcomes.

-- What the evidence is gathered from --------------------------------------

-- Product description and images (the "product description and images" item).
ALTER TABLE products ADD COLUMN description text;
ALTER TABLE products ADD COLUMN image_urls text[] NOT NULL DEFAULT '{}';

-- Messages with the customer: the order confirmation email, shipping notices
-- and support conversations (the "order confirmation" and "customer
-- communication history" items).
CREATE TABLE customer_messages (
    id          bigserial PRIMARY KEY,
    order_id    bigint REFERENCES orders (id) ON DELETE CASCADE,
    customer_id bigint NOT NULL REFERENCES customers (id),
    kind        text NOT NULL CHECK (kind IN ('order_confirmation', 'shipping_notice', 'support')),
    direction   text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    subject     text NOT NULL,
    body        text NOT NULL,
    sent_at     timestamptz NOT NULL
);
CREATE INDEX customer_messages_order_idx ON customer_messages (order_id, sent_at);

-- Evidence items -------------------------------------------------------------

-- Where an item came from ("orders LSN-1042: UPS 1Z…", "assets/policies/…"),
-- an operator's note or file, and whether an operator set it (the worker
-- then leaves it alone).
ALTER TABLE dispute_evidence ADD COLUMN source text;
ALTER TABLE dispute_evidence ADD COLUMN note text;
ALTER TABLE dispute_evidence ADD COLUMN file_name text;
ALTER TABLE dispute_evidence ADD COLUMN file_bytes bytea;
ALTER TABLE dispute_evidence ADD COLUMN manual boolean NOT NULL DEFAULT false;

-- The evidence pack: one PDF per build, with its checksum and its text.
CREATE TABLE dispute_packs (
    id          bigserial PRIMARY KEY,
    dispute_id  bigint NOT NULL REFERENCES disputes (id) ON DELETE CASCADE,
    pdf         bytea NOT NULL,
    sha256      text NOT NULL,
    text        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL
);
CREATE INDEX dispute_packs_dispute_idx ON dispute_packs (dispute_id, id DESC);

-- Submission, accept, outcome ---------------------------------------------

-- A submission is asked for once per life-cycle stage: who asked (or the
-- worker, auto_submitted), when, with which pack and outbox command.
ALTER TABLE disputes ADD COLUMN submit_requested_by text;
ALTER TABLE disputes ADD COLUMN submit_requested_at timestamptz;
ALTER TABLE disputes ADD COLUMN submit_stage text;
ALTER TABLE disputes ADD COLUMN submit_pack_id bigint REFERENCES dispute_packs (id);
ALTER TABLE disputes ADD COLUMN submit_command_id bigint REFERENCES commands (id);
ALTER TABLE disputes ADD COLUMN auto_submitted boolean NOT NULL DEFAULT false;
-- Why the worker left an EVIDENCE_READY dispute to a person.
ALTER TABLE disputes ADD COLUMN manual_reason text;
ALTER TABLE disputes ADD COLUMN gathered_at timestamptz;
-- Accept-claim: who, when, why, and the refund it implies.
ALTER TABLE disputes ADD COLUMN accepted_by text;
ALTER TABLE disputes ADD COLUMN accepted_at timestamptz;
ALTER TABLE disputes ADD COLUMN accept_reason text;
ALTER TABLE disputes ADD COLUMN accept_command_id bigint REFERENCES commands (id);
ALTER TABLE disputes ADD COLUMN refund_id bigint REFERENCES refunds (id);
-- What a LOST dispute cost (minor units of the dispute's currency).
ALTER TABLE disputes ADD COLUMN lost_minor bigint CHECK (lost_minor >= 0);

CREATE INDEX disputes_assigned_idx ON disputes (assigned_to) WHERE assigned_to IS NOT NULL;
-- The worker's sweep: disputes still gathering or ready to go.
CREATE INDEX disputes_sweep_idx ON disputes (id)
    WHERE state IN ('OPEN', 'EVIDENCE_REQUIRED', 'EVIDENCE_BUILDING', 'EVIDENCE_READY');
