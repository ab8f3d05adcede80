-- Checklist ticks (issue 14): an operator's note with a tick, and every
-- dashboard hears about a tick at once (the header's "morning 5/7").
ALTER TABLE checklist_items ADD COLUMN note text;

CREATE TRIGGER checklist_items_notify AFTER INSERT OR UPDATE OR DELETE ON checklist_items
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();
