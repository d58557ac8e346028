-- The audit chain is now linked with HMAC-SHA256 under a key kept outside the database (see
-- src/store/compliance.rs). A chain written before this migration carries plain SHA-256 links:
-- this row marks it for the one-time re-chaining under the key, done on the first open with the
-- key (and only if it still verifies). Databases with no chain yet get no row, so nothing that
-- happens to their chain later is ever re-chained.
CREATE TABLE audit_keying (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    state        TEXT NOT NULL,        -- pending | keyed | refused
    legacy_seq   INTEGER NOT NULL,        -- the plain chain's head when this migration ran
    legacy_hash  TEXT NOT NULL,
    decided_at   INTEGER
);

INSERT INTO audit_keying (id, state, legacy_seq, legacy_hash)
SELECT 1, 'pending', last_seq, last_hash FROM audit_head WHERE id = 1 AND last_seq > 0;
