-- A timer that failed to fire is retried later (`retry_at`, backing off with `attempts`)
-- instead of being picked first again every round; and the reports page keeps its sign-ins
-- as server-side sessions, so a logout or an expiry ends them in every process.
-- SQLite dialect; keep it identical to migrations/postgres/0009_timer_retries_and_report_sessions.sql.

ALTER TABLE timers ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE timers ADD COLUMN retry_at INTEGER;

-- One row per signed-in browser. `id_hash` is the SHA-256 of the random cookie value (a
-- reader of the database cannot sign in with it); `csrf_token` must come back in every form
-- the session posts. No person's id or words are stored here.
CREATE TABLE report_sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX report_sessions_expiry_idx ON report_sessions (expires_at);
