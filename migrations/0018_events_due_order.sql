-- The applier claims due events oldest first (ORDER BY next_attempt_at, id):
-- with id in the index the claim reads its batch in order instead of sorting
-- every due event that shares a timestamp (a requeued backlog of 20,000 rows
-- made each claim of 200 sort them all: 50 ms).
DROP INDEX provider_events_due_idx;
CREATE INDEX provider_events_due_idx ON provider_events (next_attempt_at, id)
    WHERE status IN ('pending', 'failed');
