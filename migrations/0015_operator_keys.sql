-- Operators' SSH public keys (issue 17): `lsn-ops ssh-server` lets in only a
-- key listed here, as its operator, whose role then applies as everywhere
-- else. Keys are added and removed by admins (`operators key add|remove`,
-- audited); an operator removed from `operators` loses their keys with them.
CREATE TABLE operator_keys (
    -- SHA256:... as `ssh-keygen -l` prints it: what the server looks up.
    fingerprint  text PRIMARY KEY,
    operator     text NOT NULL REFERENCES operators (name) ON DELETE CASCADE,
    -- ssh-ed25519, ecdsa-sha2-nistp256, ...
    algorithm    text NOT NULL,
    -- The key as authorized_keys has it, without the comment.
    public_key   text NOT NULL,
    comment      text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    last_used_at timestamptz
);
CREATE INDEX operator_keys_operator_idx ON operator_keys (operator);
