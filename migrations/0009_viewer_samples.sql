-- Viewers over time, per show: a sample whenever a show's viewer count
-- changes (the applier moves it on Twilio participant callbacks), written by a
-- trigger so every writer is covered. Feeds the dashboard's viewer trend for
-- live shows (the last 30 minutes) and, later, the post-show report.
CREATE TABLE show_viewer_samples (
    show_id bigint NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL,
    viewers integer NOT NULL CHECK (viewers >= 0),
    PRIMARY KEY (show_id, at)
);

CREATE FUNCTION record_viewer_sample() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO show_viewer_samples (show_id, at, viewers)
    VALUES (NEW.id, clock_timestamp(), NEW.current_viewers)
    ON CONFLICT (show_id, at) DO UPDATE SET viewers = EXCLUDED.viewers;
    RETURN NULL;
END $$;

CREATE TRIGGER shows_viewer_samples AFTER UPDATE OF current_viewers ON shows
    FOR EACH ROW WHEN (NEW.current_viewers IS DISTINCT FROM OLD.current_viewers)
    EXECUTE FUNCTION record_viewer_sample();
