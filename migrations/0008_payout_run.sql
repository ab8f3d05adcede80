-- The weekly creator payout run (issue 12): generate, approve, process, retry.

-- One batch per scheduled week and currency (generating twice gives the same batch).
CREATE UNIQUE INDEX payout_batches_week_uq ON payout_batches (scheduled_for, currency);
-- Maker-checker: everyone who generated or changed the batch; none of them may approve it.
ALTER TABLE payout_batches ADD COLUMN makers text[] NOT NULL DEFAULT '{}';
ALTER TABLE payout_batches ADD COLUMN last_changed_by text;
ALTER TABLE payout_batches ADD COLUMN last_changed_at timestamptz;

-- A creator's payouts on hold (`payouts hold CREATOR --reason`): their lines are held.
ALTER TABLE creators ADD COLUMN payout_hold_reason text;
ALTER TABLE creators ADD COLUMN payout_hold_by text;
ALTER TABLE creators ADD COLUMN payout_hold_at timestamptz;

-- How many times a failed line was sent again (`payouts retry`).
ALTER TABLE payout_items ADD COLUMN retries integer NOT NULL DEFAULT 0 CHECK (retries >= 0);

-- Wise transfers a line had before a retry replaced them (bounced, cancelled,
-- refunded): the transfer history, and how late webhooks for them are recognised.
CREATE TABLE payout_transfers (
    wise_transfer_id        bigint PRIMARY KEY,
    payout_item_id          bigint NOT NULL REFERENCES payout_items (id),
    customer_transaction_id uuid NOT NULL,
    final_status            text NOT NULL,
    replaced_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payout_transfers_item_idx ON payout_transfers (payout_item_id);

-- The breakdown of a line reads its orders.
CREATE INDEX payout_item_orders_item_idx ON payout_item_orders (payout_item_id);
-- Payable orders are looked for among the paid ones not yet in any line.
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL AND creator_id IS NOT NULL;
-- Commands of one payout line (hold cancels them, retry checks them).
CREATE INDEX commands_payout_item_idx ON commands (((payload ->> 'payout_item_id')::bigint))
    WHERE kind = 'wise_transfer';

CREATE TRIGGER creators_notify AFTER UPDATE ON creators
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
