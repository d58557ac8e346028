-- The agent desk: SLA state per ticket, ticket cards (each anchors the ticket's thread in a
-- queue channel), and timers picked up by the scheduler. SQLite dialect.

ALTER TABLE tickets ADD COLUMN sla TEXT;   -- JSON SlaState, NULL when the queue has no SLA

CREATE TABLE ticket_cards (
    ticket_number  INTEGER NOT NULL REFERENCES tickets (number),
    platform       TEXT NOT NULL,
    channel        TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (ticket_number, platform, channel)
);
CREATE INDEX ticket_cards_thread_idx ON ticket_cards (platform, channel, message_id);

CREATE TABLE timers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_number  INTEGER NOT NULL REFERENCES tickets (number),
    kind           TEXT NOT NULL,
    due_at         INTEGER NOT NULL,
    fired_at       INTEGER,
    cancelled_at   INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX timers_due_idx ON timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_ticket_idx ON timers (ticket_number);
CREATE INDEX tickets_assignee_idx ON tickets (assignee, status);
