-- Compliance: the hash-chained audit log, justified role grants and store-kept jobs (the daily
-- purge). SQLite dialect; keep the logical schema identical to the PostgreSQL one.

-- Append-only, hash-chained: `hash` = SHA-256 over the previous entry's hash and this entry's
-- fields (see src/store/compliance.rs). `seq` is assigned by the writer holding the chain head.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY NOT NULL,
    at             INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    ticket_number  INTEGER,              -- no foreign key: purged tickets keep their audit
    subject        TEXT,                 -- the person or thing the entry concerns
    detail         TEXT,
    prev_hash      TEXT,
    hash           TEXT
);
CREATE INDEX audit_log_at_idx ON audit_log (at, seq);
CREATE INDEX audit_log_ticket_idx ON audit_log (ticket_number, seq);

-- The chain head: one row, created (and the rows copied below chained) by the first append or
-- `deskbot audit verify`. Writers lock it, so appends never fork the chain.
CREATE TABLE audit_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq   INTEGER NOT NULL,
    last_hash  TEXT NOT NULL
);

-- The ticket history written before this migration becomes the start of the chain.
INSERT INTO audit_log (seq, at, actor, kind, ticket_number, detail)
SELECT id, at, actor, kind, ticket_number, detail FROM ticket_events ORDER BY id;

CREATE TABLE role_grants (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    platform       TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    role           TEXT NOT NULL,        -- agent | lead | admin
    scope          TEXT NOT NULL,        -- a queue name, or '*' for every queue
    granted_by     TEXT NOT NULL,        -- who, or 'config' for grants from deskbot.toml
    justification  TEXT NOT NULL,
    granted_at     INTEGER NOT NULL,
    reviewed_at    INTEGER NOT NULL,     -- last (re-)justification
    revoked_at     INTEGER,
    revoked_by     TEXT,
    revoke_reason  TEXT
);
CREATE UNIQUE INDEX role_grants_active_idx ON role_grants (platform, user_id, role, scope)
    WHERE revoked_at IS NULL;

-- Recurring jobs kept in the store (like ticket timers): claimed by moving `due_at` forward.
CREATE TABLE jobs (
    name         TEXT PRIMARY KEY NOT NULL,
    due_at       INTEGER NOT NULL,
    last_run_at  INTEGER
);
