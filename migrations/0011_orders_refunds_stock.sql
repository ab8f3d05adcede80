-- Orders and customers (issue 13): finding an order, refunds full and
-- partial, returns (RMA), and a stock ledger that never oversells silently.

-- Find an order --------------------------------------------------------------
-- `orders find QUERY`: an order number (orders.order_number UNIQUE), a capture
-- id (payments.capture_id UNIQUE), a payer id (orders_payer_created_idx) or an
-- email, matched case-insensitively: the newest orders of that address first.
CREATE INDEX orders_email_lower_created_idx ON orders (lower(email), created_at DESC);
CREATE INDEX customers_email_lower_idx ON customers (lower(email));

-- Refunds ------------------------------------------------------------------
-- PayPal's refusal of a refund, as one line for the operator (422 issue names).
ALTER TABLE refunds ADD COLUMN failure text;
-- When the refund's items went back to stock (once).
ALTER TABLE refunds ADD COLUMN stock_released_at timestamptz;
CREATE INDEX refunds_payment_idx ON refunds (payment_id);

-- The whole items a refund gives back (their reservation is released once the
-- refund has completed at PayPal).
CREATE TABLE refund_items (
    refund_id     bigint NOT NULL REFERENCES refunds (id) ON DELETE CASCADE,
    order_item_id bigint NOT NULL REFERENCES order_items (id),
    quantity      integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (refund_id, order_item_id)
);
CREATE INDEX refund_items_item_idx ON refund_items (order_item_id);

-- Never more than was captured, whoever writes the refund: a refund asked for
-- (requested or pending) must fit in what is left of its capture after what
-- has been refunded and what other open refunds already ask for. The payment
-- row is locked, so two concurrent requests are checked one after the other.
-- Refunds PayPal reports (webhooks, status completed on insert) are facts and
-- are recorded whatever they say.
CREATE FUNCTION refunds_within_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    captured bigint;
    refunded bigint;
    asked    bigint;
BEGIN
    IF NEW.payment_id IS NULL OR NEW.status NOT IN ('requested', 'pending') THEN
        RETURN NEW;
    END IF;
    SELECT amount_minor, refunded_minor INTO captured, refunded
      FROM payments WHERE id = NEW.payment_id FOR UPDATE;
    SELECT coalesce(sum(amount_minor), 0) INTO asked
      FROM refunds
     WHERE payment_id = NEW.payment_id AND status IN ('requested', 'pending') AND id <> NEW.id;
    IF refunded + asked + NEW.amount_minor > captured THEN
        RAISE EXCEPTION 'refund of % exceeds what is left of the capture (% captured, % refunded, % asked)',
            NEW.amount_minor, captured, refunded, asked
            USING ERRCODE = 'check_violation', CONSTRAINT = 'refunds_within_capture';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refunds_within_capture BEFORE INSERT ON refunds
    FOR EACH ROW EXECUTE FUNCTION refunds_within_capture();

-- Stock ledger ---------------------------------------------------------------
-- Per order line: units whose reservation was released (refund, decline,
-- cancel) and units that came back (returns received).
ALTER TABLE order_items ADD COLUMN released_qty integer NOT NULL DEFAULT 0 CHECK (released_qty >= 0);
ALTER TABLE order_items ADD COLUMN returned_qty integer NOT NULL DEFAULT 0 CHECK (returned_qty >= 0);
ALTER TABLE order_items ADD CONSTRAINT order_items_released_le_quantity CHECK (released_qty <= quantity);
ALTER TABLE order_items ADD CONSTRAINT order_items_returned_le_quantity CHECK (returned_qty <= quantity);

-- Every stock change, with who and why (the stock audit trail).
CREATE TABLE stock_movements (
    id            bigserial PRIMARY KEY,
    product_id    bigint NOT NULL REFERENCES products (id),
    order_id      bigint REFERENCES orders (id),
    order_item_id bigint REFERENCES order_items (id),
    kind          text NOT NULL CHECK (kind IN ('reserve', 'release', 'return', 'return_defective', 'adjust')),
    on_hand_delta  integer NOT NULL DEFAULT 0,
    reserved_delta integer NOT NULL DEFAULT 0,
    on_hand_after  integer NOT NULL,
    reserved_after integer NOT NULL,
    reason        text NOT NULL,
    operator      text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, at DESC);
CREATE INDEX stock_movements_order_idx ON stock_movements (order_id) WHERE order_id IS NOT NULL;

-- Products flagged by defective returns.
ALTER TABLE products ADD COLUMN quality_review_at timestamptz;
ALTER TABLE products ADD COLUMN quality_review_reason text;

-- Oversell, the moment it happens: whichever writer makes a product's
-- reservations exceed what is on hand (a capture, a stock correction) raises
-- (or refreshes) the product's oversell alert in the same transaction.
CREATE FUNCTION products_oversold_alert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    affected text;
BEGIN
    SELECT string_agg(order_number, ', ') INTO affected FROM (
        SELECT o.order_number FROM order_items i JOIN orders o ON o.id = i.order_id
         WHERE i.product_id = NEW.id AND i.quantity > i.released_qty
           AND o.status IN ('paid', 'on_hold', 'fulfilling')
         ORDER BY o.created_at DESC, o.id DESC LIMIT 10) newest;
    INSERT INTO alerts (rule_key, dedup_key, severity, priority, title, details)
    VALUES ('inventory_oversold', 'inventory:oversold:' || NEW.id, 'warning', 'P1',
            'oversold: ' || NEW.sku || ' (' || NEW.stock_reserved || ' reserved, ' || NEW.stock_on_hand || ' on hand)',
            'Orders reserving ' || NEW.sku || ', newest first: ' || coalesce(affected, 'none open')
            || '. lsn-ops inventory oversold lists them all.')
    ON CONFLICT (dedup_key) WHERE state <> 'resolved'
    DO UPDATE SET occurrences = alerts.occurrences + 1, last_seen_at = now(),
                  title = EXCLUDED.title, details = EXCLUDED.details;
    RETURN NULL;
END $$;
CREATE TRIGGER products_oversold AFTER UPDATE OF stock_on_hand, stock_reserved ON products
    FOR EACH ROW WHEN (NEW.stock_reserved > NEW.stock_on_hand
                       AND (OLD.stock_reserved IS DISTINCT FROM NEW.stock_reserved
                            OR OLD.stock_on_hand IS DISTINCT FROM NEW.stock_on_hand))
    EXECUTE FUNCTION products_oversold_alert();
CREATE INDEX products_oversold_idx ON products (id) WHERE stock_reserved > stock_on_hand;
CREATE INDEX products_low_idx ON products (id) WHERE stock_on_hand - stock_reserved <= reorder_point;

-- Returns (RMA) ---------------------------------------------------------------
CREATE TABLE returns (
    id             bigserial PRIMARY KEY,
    rma_number     text NOT NULL UNIQUE,
    order_id       bigint NOT NULL REFERENCES orders (id),
    state          text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'received', 'cancelled')),
    reason         text NOT NULL CHECK (length(btrim(reason)) > 0),
    defective      boolean NOT NULL DEFAULT false,
    window_ends_at timestamptz NOT NULL,
    opened_by      text NOT NULL,
    opened_at      timestamptz NOT NULL DEFAULT now(),
    received_by    text,
    received_at    timestamptz,
    refund_id      bigint REFERENCES refunds (id)
);
CREATE INDEX returns_order_idx ON returns (order_id);

CREATE TABLE return_items (
    return_id     bigint NOT NULL REFERENCES returns (id) ON DELETE CASCADE,
    order_item_id bigint NOT NULL REFERENCES order_items (id),
    quantity      integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (return_id, order_item_id)
);

-- Duplicate charges: captures of one payer for one amount close together.
CREATE INDEX payments_created_amount_idx ON payments (created_at, amount_minor, currency)
    WHERE status IN ('COMPLETED', 'PARTIALLY_REFUNDED');

-- An open order view follows refunds, payments and stock as they land.
CREATE TRIGGER refunds_notify AFTER INSERT OR UPDATE OR DELETE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER payments_notify AFTER INSERT OR UPDATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER products_notify AFTER UPDATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
CREATE TRIGGER returns_notify AFTER INSERT OR UPDATE ON returns
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
