-- deskbot schema, SQLite dialect. Timestamps are INTEGER unix milliseconds; JSON is TEXT.
-- Keep the logical schema identical to migrations/postgres/0001_initial_schema.sql.

CREATE TABLE conversations (
    key         TEXT PRIMARY KEY NOT NULL,
    platform    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    reply_to    TEXT NOT NULL,           -- JSON Address
    state       TEXT NOT NULL,           -- JSON, opaque to the store
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Ticket numbers start at 1001 and never repeat: one row, bumped inside the commit.
CREATE TABLE ticket_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    next  INTEGER NOT NULL
);
INSERT INTO ticket_seq (id, next) VALUES (1, 1001);

CREATE TABLE tickets (
    number              INTEGER PRIMARY KEY NOT NULL,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    requester_platform  TEXT NOT NULL,
    requester_id        TEXT NOT NULL,
    requester_name      TEXT,
    conversation        TEXT NOT NULL,
    reply_to            TEXT NOT NULL,   -- JSON Address
    intent              TEXT,
    queue               TEXT NOT NULL,
    priority            TEXT NOT NULL,
    status              TEXT NOT NULL,
    assignee            TEXT,
    fields              TEXT NOT NULL,   -- JSON object of form answers
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    resolved_at         INTEGER,
    first_response_at   INTEGER
);
CREATE INDEX tickets_status_idx ON tickets (status, number DESC);
CREATE INDEX tickets_queue_idx ON tickets (queue, status, number DESC);
CREATE INDEX tickets_requester_idx ON tickets (requester_platform, requester_id, number DESC);

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation   TEXT NOT NULL,
    ticket_number  INTEGER REFERENCES tickets (number),
    speaker_kind   TEXT NOT NULL,        -- employee | bot | agent | system
    speaker_name   TEXT,                 -- the agent's name
    text           TEXT NOT NULL,
    internal       BOOLEAN NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX messages_ticket_idx ON messages (ticket_number, created_at);
CREATE INDEX messages_conversation_idx ON messages (conversation, created_at);

-- Append-only audit of everything that happened to a ticket.
CREATE TABLE ticket_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_number  INTEGER NOT NULL REFERENCES tickets (number),
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    detail         TEXT
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_number, id);

-- Dedupe keys of inbound events already applied.
CREATE TABLE inbound_events (
    platform  TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (platform, event_id)
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    key              TEXT NOT NULL UNIQUE,
    platform         TEXT NOT NULL,
    payload          TEXT NOT NULL,      -- JSON Outbound
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'done', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    claimed_by       TEXT,
    claimed_until    INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);

CREATE TABLE agents (
    platform      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    display_name  TEXT,
    role          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (platform, user_id)
);

CREATE TABLE kb_feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    intent      TEXT,
    article     TEXT,
    query       TEXT NOT NULL,
    helpful     BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE csat (
    ticket_number  INTEGER NOT NULL REFERENCES tickets (number),
    score          INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment        TEXT,
    created_at     INTEGER NOT NULL
);
CREATE INDEX csat_ticket_idx ON csat (ticket_number);
