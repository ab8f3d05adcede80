-- Fraud triage: what a decision changed, so it can be undone exactly.
ALTER TABLE fraud_decisions ADD COLUMN previous_state text
    CHECK (previous_state IN ('pending', 'review'));
ALTER TABLE fraud_decisions ADD COLUMN refund_id bigint REFERENCES refunds (id);
ALTER TABLE fraud_decisions ADD COLUMN command_id bigint REFERENCES commands (id);
-- Blocklist entries added by a decline point at it (removed again on undo).
ALTER TABLE blocklist ADD COLUMN decision_id bigint REFERENCES fraud_decisions (id);
CREATE INDEX fraud_decisions_operator_idx ON fraud_decisions (operator, decided_at DESC);
