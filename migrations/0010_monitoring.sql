-- Real monitoring (issue 10): alerts the worker raises and resolves from its
-- rules (pending -> open (firing) -> acknowledged -> resolved), silences,
-- incidents with a timeline and escalation, probe samples with their figures,
-- and the notification outbox (Slack-compatible webhook, PagerDuty Events v2).

-- Alerts ---------------------------------------------------------------------

-- 'pending': the condition holds but not yet for `for_s`; 'open' is firing.
ALTER TABLE alerts DROP CONSTRAINT alerts_state_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_state_check
    CHECK (state IN ('pending', 'open', 'acknowledged', 'resolved'));
ALTER TABLE alerts DROP CONSTRAINT alerts_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_check
    CHECK (state IN ('pending', 'open') OR acked_at IS NOT NULL OR resolved_at IS NOT NULL);

-- What raised it: a probe's name ("probe:checkout-api"), "system", "database",
-- "payments", "inbox", or the data ("shows", "disputes", ...).
ALTER TABLE alerts ADD COLUMN source text NOT NULL DEFAULT 'lsn-ops';
-- When it went firing (NULL while pending); "since" on screen and in JSON.
ALTER TABLE alerts ADD COLUMN fired_at timestamptz;
UPDATE alerts SET fired_at = opened_at WHERE state <> 'pending';
-- The condition has been clear since then (recovering); NULL while it holds.
ALTER TABLE alerts ADD COLUMN clear_since timestamptz;
-- Firing episodes (pending -> open, ack timeout, back from recovering) and
-- the last one notified: a silence defers the page, its expiry sends it.
ALTER TABLE alerts ADD COLUMN fire_seq integer NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN notified_seq integer NOT NULL DEFAULT 0;
-- Why it was resolved: "recovered" (by itself) or an operator's note.
ALTER TABLE alerts ADD COLUMN resolve_note text;
-- Owned by the rules evaluator: resolved by it when the condition is clear,
-- after its rule's recover_s (remembered from the last evaluation that saw it).
ALTER TABLE alerts ADD COLUMN evaluated boolean NOT NULL DEFAULT false;
ALTER TABLE alerts ADD COLUMN recover_s integer NOT NULL DEFAULT 0 CHECK (recover_s >= 0);
CREATE INDEX alerts_resolved_idx ON alerts (resolved_at DESC) WHERE state = 'resolved';

-- A silence holds notifications (and shows "silenced") for the alerts of one
-- dedup key, or of every key starting with a prefix written "prefix*", until
-- it expires or is lifted.
CREATE TABLE alert_silences (
    id          bigserial PRIMARY KEY,
    matcher     text NOT NULL CHECK (length(matcher) BETWEEN 1 AND 200),
    starts_at   timestamptz NOT NULL DEFAULT now(),
    ends_at     timestamptz NOT NULL,
    reason      text NOT NULL CHECK (length(btrim(reason)) > 0),
    created_by  text NOT NULL,
    lifted_at   timestamptz,
    lifted_by   text,
    CHECK (ends_at > starts_at)
);
CREATE INDEX alert_silences_active_idx ON alert_silences (ends_at) WHERE lifted_at IS NULL;

CREATE TRIGGER alert_silences_notify AFTER INSERT OR UPDATE OR DELETE ON alert_silences
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();

-- Incidents ------------------------------------------------------------------

-- The status page's states: investigating -> identified -> monitoring -> resolved.
ALTER TABLE incidents DROP CONSTRAINT incidents_state_check;
UPDATE incidents SET state = 'investigating' WHERE state = 'open';
UPDATE incidents SET state = 'monitoring' WHERE state = 'mitigated';
ALTER TABLE incidents ALTER COLUMN state SET DEFAULT 'investigating';
ALTER TABLE incidents ADD CONSTRAINT incidents_state_check
    CHECK (state IN ('investigating', 'identified', 'monitoring', 'resolved'));
ALTER TABLE incidents ADD COLUMN declared_by text NOT NULL DEFAULT 'lsn-ops';
-- Escalation steps already notified: 0 the on-call engineer, 1 the technical
-- lead, 2 the CTO, 3 the CEO (see domain::incidents::Escalation).
ALTER TABLE incidents ADD COLUMN escalation_level integer NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN escalated_at timestamptz;
-- One open incident per alert.
CREATE UNIQUE INDEX incidents_alert_open_uq ON incidents (alert_id)
    WHERE alert_id IS NOT NULL AND state <> 'resolved';

-- The timeline: notes and state changes, append-only like the audit log.
CREATE TABLE incident_events (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    at           timestamptz NOT NULL DEFAULT now(),
    operator     text NOT NULL,
    kind         text NOT NULL
                 CHECK (kind IN ('opened', 'note', 'status', 'assigned', 'escalated', 'resolved', 'alert')),
    body         text NOT NULL
);
CREATE INDEX incident_events_idx ON incident_events (incident_id, at, id);
CREATE TRIGGER incident_events_no_update BEFORE UPDATE OR DELETE ON incident_events
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER incident_events_notify AFTER INSERT ON incident_events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_ops_change();

-- Probe samples --------------------------------------------------------------

-- `ok`: the check passed; `reached`: the target answered at all (a TCP
-- connect, a TLS handshake, an HTTP response, whatever its status).
ALTER TABLE probe_samples ADD COLUMN reached boolean NOT NULL DEFAULT true;
ALTER TABLE probe_samples ADD COLUMN latency_ms integer;
ALTER TABLE probe_samples ADD COLUMN status integer;
-- TLS: whole days until the leaf certificate expires.
ALTER TABLE probe_samples ADD COLUMN cert_days integer;
CREATE INDEX probe_samples_at_idx ON probe_samples (at);

-- Notifications: the outbox of messages to Slack and PagerDuty ----------------

-- One row per transition and target (unique key), claimed by one worker
-- (FOR UPDATE SKIP LOCKED), so each transition is sent once.
CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    target           text NOT NULL CHECK (target IN ('slack', 'pagerduty')),
    idempotency_key  text NOT NULL UNIQUE,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'in_flight', 'sent', 'failed', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    sent_at          timestamptz
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE state IN ('pending', 'failed', 'in_flight');
