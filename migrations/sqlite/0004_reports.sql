-- Reports: what happened to each question an employee asked (answered by an intent, KB
-- articles offered, nothing matched, solved, not solved), and which conversations are test
-- traffic. SQLite dialect; keep it identical to migrations/postgres/0004_reports.sql.

CREATE TABLE case_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation  TEXT NOT NULL,
    platform      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL,   -- answered | offered | no_match | direct | picked | solved | not_solved
    intent        TEXT,
    article       TEXT,
    queue         TEXT NOT NULL,
    query         TEXT NOT NULL,   -- redacted, as the engine saw it
    created_at    INTEGER NOT NULL
);
CREATE INDEX case_events_time_idx ON case_events (created_at);

-- Conversations flagged as test traffic (`deskbot chat --test`): left out of every report.
CREATE TABLE test_conversations (
    key         TEXT PRIMARY KEY NOT NULL,
    created_at  INTEGER NOT NULL
);
