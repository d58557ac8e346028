-- Daily rollups of the case events for the reports: closed UTC days are aggregated once (by
-- the first report that needs them) and read from here; the open day and the edges of a period
-- are read live. Test traffic (flagged conversations and the configured testers, whose list
-- is fingerprinted per day) is left out when a day is built. A day's rows are rebuilt when its
-- row in report_days is gone: flagging a conversation, erasing a person and purging remove
-- the days they touch. Nothing here identifies a person (unanswered groups point at one of
-- their case events for the wording). SQLite dialect; keep it identical to the PostgreSQL one.

CREATE TABLE report_days (
    day       INTEGER PRIMARY KEY NOT NULL,   -- UTC midnight, ms
    testers   TEXT NOT NULL,                  -- fingerprint of the testers list it was built with
    excluded  INTEGER NOT NULL,               -- test-traffic case events left out
    built_at  INTEGER NOT NULL
);

-- Case events per day, queue, kind, intent and article.
CREATE TABLE report_case_days (
    day       INTEGER NOT NULL,
    queue     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    intent    TEXT,
    article   TEXT,
    n         INTEGER NOT NULL
);
CREATE INDEX report_case_days_day_idx ON report_case_days (day);

-- Unanswered questions (no match, not solved) per day grouped by their exact wording: the
-- first of them (by time, then id) and how many.
CREATE TABLE report_unanswered_days (
    day       INTEGER NOT NULL,
    queue     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    intent    TEXT,
    article   TEXT,
    first_id  INTEGER NOT NULL,
    first_at  INTEGER NOT NULL,
    n         INTEGER NOT NULL
);
CREATE INDEX report_unanswered_days_day_idx ON report_unanswered_days (day);

-- Period reads of tickets and ratings, flagging a conversation, and a person's case events;
-- a ticket's first public agent reply and its SLA breaches (small partial indexes).
CREATE INDEX tickets_created_idx ON tickets (created_at);
CREATE INDEX csat_created_idx ON csat (created_at);
CREATE INDEX case_events_conversation_idx ON case_events (conversation);
CREATE INDEX case_events_user_idx ON case_events (platform, user_id);
CREATE INDEX messages_agent_reply_idx ON messages (ticket_number, created_at)
    WHERE speaker_kind = 'agent' AND internal = FALSE;
CREATE INDEX ticket_events_breach_idx ON ticket_events (ticket_number) WHERE kind = 'sla_breach';
-- A person's export and erasure: what they did and what names them.
CREATE INDEX conversations_user_idx ON conversations (platform, user_id);
CREATE INDEX ticket_events_actor_idx ON ticket_events (actor);
CREATE INDEX audit_log_actor_idx ON audit_log (actor);
CREATE INDEX audit_log_subject_idx ON audit_log (subject);
-- The nightly purge: old transcript lines, and resolved tickets not purged yet by age.
CREATE INDEX messages_created_idx ON messages (created_at);
CREATE INDEX tickets_expiry_idx ON tickets (queue, (COALESCE(resolved_at, updated_at)))
    WHERE status IN ('resolved', 'closed') AND requester_id <> 'purged';
