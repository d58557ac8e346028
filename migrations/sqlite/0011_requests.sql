-- Access and licence requests: the request catalog's requests (R-1001…), each approval
-- decision, the seats held (who holds which licence or access, why, until when) and the pools'
-- counters. Every write is also in the keyed audit chain. Keep both dialects' logical schema
-- identical.

-- Request numbers start at 1001 and never repeat: one row, bumped inside the commit.
CREATE TABLE request_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    next  INTEGER NOT NULL
);
INSERT INTO request_seq (id, next) VALUES (1, 1001);

CREATE TABLE requests (
    number              INTEGER PRIMARY KEY,
    item                TEXT NOT NULL,        -- the catalog item id
    item_title          TEXT NOT NULL,
    requester_platform  TEXT NOT NULL,
    requester_id        TEXT NOT NULL,
    requester_name      TEXT,
    conversation        TEXT NOT NULL,        -- where the employee asked
    reply_to            TEXT NOT NULL,       -- where the employee is told
    fields              TEXT NOT NULL,       -- the answers to the item's fields
    justification       TEXT NOT NULL,
    status              TEXT NOT NULL,        -- pending | waiting | approved | denied | fulfilled | revoked
    step                INTEGER NOT NULL,     -- the approval step it waits on
    steps               TEXT NOT NULL,       -- the planned steps and their approvers
    fulfil              TEXT NOT NULL,        -- webhook:NAME | queue:NAME
    duration_ms         INTEGER,
    outcome             TEXT,                 -- the denial reason or the revocation's justification
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    decided_at          INTEGER
);
CREATE INDEX requests_status_idx ON requests (status, number);
CREATE INDEX requests_requester_idx ON requests (requester_platform, requester_id);

CREATE TABLE request_decisions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    request_number     INTEGER NOT NULL REFERENCES requests (number),
    step               INTEGER NOT NULL,
    approver_platform  TEXT NOT NULL,
    approver_id        TEXT NOT NULL,
    approver_name      TEXT,
    decision           TEXT NOT NULL,         -- approve | deny
    reason             TEXT,
    at                 INTEGER NOT NULL
);
CREATE INDEX request_decisions_request_idx ON request_decisions (request_number, id);

CREATE TABLE seat_holdings (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    item             TEXT NOT NULL,
    holder_platform  TEXT NOT NULL,
    holder_id        TEXT NOT NULL,
    holder_name      TEXT,
    request_number   INTEGER,                    -- the request it was granted on
    granted_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    reviewed_at      INTEGER NOT NULL,
    revoked_at       INTEGER,
    revoked_by       TEXT,
    revoke_reason    TEXT
);
CREATE UNIQUE INDEX seat_holdings_active_idx ON seat_holdings (item, holder_platform, holder_id)
    WHERE revoked_at IS NULL;

-- Seats in use per item, bumped under the row's lock so a pool never goes over its size.
CREATE TABLE seat_pools (
    item  TEXT PRIMARY KEY,
    used  INTEGER NOT NULL
);
