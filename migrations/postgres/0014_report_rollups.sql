-- Daily rollups of the case events for the reports: closed UTC days are aggregated once (by
-- the first report that needs them) and read from here; the open day and the edges of a period
-- are read live. Test traffic (flagged conversations and the configured testers, whose list
-- is fingerprinted per day) is left out when a day is built. A day's rows are rebuilt when its
-- row in report_days is gone: flagging a conversation, erasing a person and purging remove
-- the days they touch. Nothing here identifies a person (unanswered groups point at one of
-- their case events for the wording). PostgreSQL dialect; keep it identical to the SQLite
-- one. The indexes on the big tables are not here: migrations run in a transaction, so they
-- are built right after it with CREATE INDEX CONCURRENTLY (LIVE_INDEXES in
-- src/store/postgres.rs), which does not block the desk's writes.

CREATE TABLE report_days (
    day       BIGINT PRIMARY KEY NOT NULL,   -- UTC midnight, ms
    testers   TEXT NOT NULL,                  -- fingerprint of the testers list it was built with
    excluded  BIGINT NOT NULL,               -- test-traffic case events left out
    built_at  BIGINT NOT NULL
);

-- Case events per day, queue, kind, intent and article.
CREATE TABLE report_case_days (
    day       BIGINT NOT NULL,
    queue     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    intent    TEXT,
    article   TEXT,
    n         BIGINT NOT NULL
);
CREATE INDEX report_case_days_day_idx ON report_case_days (day);

-- Unanswered questions (no match, not solved) per day grouped by their exact wording: the
-- first of them (by time, then id) and how many.
CREATE TABLE report_unanswered_days (
    day       BIGINT NOT NULL,
    queue     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    intent    TEXT,
    article   TEXT,
    first_id  BIGINT NOT NULL,
    first_at  BIGINT NOT NULL,
    n         BIGINT NOT NULL
);
CREATE INDEX report_unanswered_days_day_idx ON report_unanswered_days (day);

