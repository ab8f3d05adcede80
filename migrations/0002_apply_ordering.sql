-- Out-of-order provider events must never move an entity backwards. Wise
-- transfers support rollback transitions, so their order is the event time:
-- remember the occurred_at of the state each payout line holds.
ALTER TABLE payout_items ADD COLUMN wise_status_at timestamptz;
-- PayPal dispute updates carry update_time; keep the newest one applied.
ALTER TABLE disputes ADD COLUMN paypal_updated_at timestamptz;
