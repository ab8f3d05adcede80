-- The dashboard's blocklist view: active entries newest first, and every
-- change reaching dashboards at once (as orders and claims do).
CREATE INDEX blocklist_active_added_idx ON blocklist (added_at DESC, id DESC) WHERE removed_at IS NULL;
CREATE TRIGGER blocklist_notify AFTER INSERT OR UPDATE OR DELETE ON blocklist
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
-- An entry's value as an address, or NULL when it is not one: matching an
-- IP entry against orders never fails on a malformed value.
CREATE FUNCTION lsn_try_inet(value text) RETURNS inet LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
