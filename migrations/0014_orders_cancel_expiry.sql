-- Orders (issue 13, continued): an order cancelled by an operator or by an
-- expired checkout says when and why; its reserved units are released at once
-- (stock_movements). The worker's sweep of expired checkouts reads only the
-- unpaid orders, oldest first.
ALTER TABLE orders ADD COLUMN cancelled_at timestamptz;
ALTER TABLE orders ADD COLUMN cancel_reason text;
CREATE INDEX orders_pending_payment_idx ON orders (created_at) WHERE status = 'pending_payment';
