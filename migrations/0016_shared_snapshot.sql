-- Ops-room scale (issue 15): one dashboard snapshot for every dashboard.
-- Whichever dashboard holds the snapshot's advisory lock builds it once per
-- burst of changes, stores it here with a new version and announces it with
-- NOTIFY lsn_ops_snapshot; the others read the row when its version is newer.
-- One row per kind of snapshot (time zone, high-risk threshold, currency).
CREATE TABLE dashboard_snapshots (
    key       text PRIMARY KEY,
    version   bigint NOT NULL,
    built_at  timestamptz NOT NULL,
    built_by  text NOT NULL,
    -- serde_json of store::snapshot::Snapshot; uncompressed (read far more
    -- often than written: no decompression on each read).
    body      bytea NOT NULL
);
ALTER TABLE dashboard_snapshots ALTER COLUMN body SET STORAGE EXTERNAL;
