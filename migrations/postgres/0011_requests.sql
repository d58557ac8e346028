-- Access and licence requests: the request catalog's requests (R-1001…), each approval
-- decision, the seats held (who holds which licence or access, why, until when) and the pools'
-- counters. Every write is also in the keyed audit chain. Keep both dialects' logical schema
-- identical.

-- Request numbers start at 1001 and never repeat: one row, bumped inside the commit.
CREATE TABLE request_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    next  BIGINT NOT NULL
);
INSERT INTO request_seq (id, next) VALUES (1, 1001);

CREATE TABLE requests (
    number              BIGINT PRIMARY KEY,
    item                TEXT NOT NULL,        -- the catalog item id
    item_title          TEXT NOT NULL,
    requester_platform  TEXT NOT NULL,
    requester_id        TEXT NOT NULL,
    requester_name      TEXT,
    conversation        TEXT NOT NULL,        -- where the employee asked
    reply_to            JSONB NOT NULL,       -- where the employee is told
    fields              JSONB NOT NULL,       -- the answers to the item's fields
    justification       TEXT NOT NULL,
    status              TEXT NOT NULL,        -- pending | waiting | approved | denied | fulfilled | revoked
    step                BIGINT NOT NULL,     -- the approval step it waits on
    steps               JSONB NOT NULL,       -- the planned steps and their approvers
    fulfil              TEXT NOT NULL,        -- webhook:NAME | queue:NAME
    duration_ms         BIGINT,
    outcome             TEXT,                 -- the denial reason or the revocation's justification
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    decided_at          BIGINT
);
CREATE INDEX requests_status_idx ON requests (status, number);
CREATE INDEX requests_requester_idx ON requests (requester_platform, requester_id);

CREATE TABLE request_decisions (
    id                 BIGSERIAL PRIMARY KEY,
    request_number     BIGINT NOT NULL REFERENCES requests (number),
    step               BIGINT NOT NULL,
    approver_platform  TEXT NOT NULL,
    approver_id        TEXT NOT NULL,
    approver_name      TEXT,
    decision           TEXT NOT NULL,         -- approve | deny
    reason             TEXT,
    at                 BIGINT NOT NULL
);
CREATE INDEX request_decisions_request_idx ON request_decisions (request_number, id);

CREATE TABLE seat_holdings (
    id               BIGSERIAL PRIMARY KEY,
    item             TEXT NOT NULL,
    holder_platform  TEXT NOT NULL,
    holder_id        TEXT NOT NULL,
    holder_name      TEXT,
    request_number   BIGINT,                    -- the request it was granted on
    granted_at       BIGINT NOT NULL,
    expires_at       BIGINT,
    reviewed_at      BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoked_by       TEXT,
    revoke_reason    TEXT
);
CREATE UNIQUE INDEX seat_holdings_active_idx ON seat_holdings (item, holder_platform, holder_id)
    WHERE revoked_at IS NULL;

-- Seats in use per item, bumped under the row's lock so a pool never goes over its size.
CREATE TABLE seat_pools (
    item  TEXT PRIMARY KEY,
    used  BIGINT NOT NULL
);
