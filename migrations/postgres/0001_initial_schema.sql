-- deskbot schema, PostgreSQL dialect. Timestamps are BIGINT unix milliseconds; JSON is JSONB.
-- Keep the logical schema identical to migrations/sqlite/0001_initial_schema.sql.

CREATE TABLE conversations (
    key         TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    reply_to    JSONB NOT NULL,
    state       JSONB NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Ticket numbers start at 1001 and never repeat (a rolled-back commit leaves a gap).
CREATE SEQUENCE ticket_seq START WITH 1001;

CREATE TABLE tickets (
    number              BIGINT PRIMARY KEY DEFAULT nextval('ticket_seq'),
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    requester_platform  TEXT NOT NULL,
    requester_id        TEXT NOT NULL,
    requester_name      TEXT,
    conversation        TEXT NOT NULL,
    reply_to            JSONB NOT NULL,
    intent              TEXT,
    queue               TEXT NOT NULL,
    priority            TEXT NOT NULL,
    status              TEXT NOT NULL,
    assignee            TEXT,
    fields              JSONB NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    resolved_at         BIGINT,
    first_response_at   BIGINT
);
ALTER SEQUENCE ticket_seq OWNED BY tickets.number;
CREATE INDEX tickets_status_idx ON tickets (status, number DESC);
CREATE INDEX tickets_queue_idx ON tickets (queue, status, number DESC);
CREATE INDEX tickets_requester_idx ON tickets (requester_platform, requester_id, number DESC);

CREATE TABLE messages (
    id             BIGSERIAL PRIMARY KEY,
    conversation   TEXT NOT NULL,
    ticket_number  BIGINT REFERENCES tickets (number),
    speaker_kind   TEXT NOT NULL,
    speaker_name   TEXT,
    text           TEXT NOT NULL,
    internal       BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX messages_ticket_idx ON messages (ticket_number, created_at);
CREATE INDEX messages_conversation_idx ON messages (conversation, created_at);

CREATE TABLE ticket_events (
    id             BIGSERIAL PRIMARY KEY,
    ticket_number  BIGINT NOT NULL REFERENCES tickets (number),
    at             BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    detail         TEXT
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_number, id);

CREATE TABLE inbound_events (
    platform  TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    seen_at   BIGINT NOT NULL,
    PRIMARY KEY (platform, event_id)
);

CREATE TABLE outbox (
    id               BIGSERIAL PRIMARY KEY,
    key              TEXT NOT NULL UNIQUE,
    platform         TEXT NOT NULL,
    payload          JSONB NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'done', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    claimed_by       TEXT,
    claimed_until    BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);

CREATE TABLE agents (
    platform      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    display_name  TEXT,
    role          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (platform, user_id)
);

CREATE TABLE kb_feedback (
    id          BIGSERIAL PRIMARY KEY,
    intent      TEXT,
    article     TEXT,
    query       TEXT NOT NULL,
    helpful     BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE csat (
    ticket_number  BIGINT NOT NULL REFERENCES tickets (number),
    score          INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment        TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX csat_ticket_idx ON csat (ticket_number);
