-- Another analyst's claim reaches every dashboard at once, not at the next poll.
CREATE TRIGGER fraud_claims_notify AFTER INSERT OR UPDATE OR DELETE ON fraud_claims
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
