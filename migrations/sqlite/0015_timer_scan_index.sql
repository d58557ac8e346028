-- The SLA scheduler's due-timer scan reads pending timers in the order they are next due
-- (a failed timer's retry time, else its due time) and stops at its batch size: this index
-- serves it as a range scan whatever the number of pending timers. PostgreSQL builds the same
-- index CONCURRENTLY after its migrations (LIVE_INDEXES in src/store/postgres.rs).
CREATE INDEX timers_next_idx ON timers ((COALESCE(retry_at, due_at)), id)
    WHERE fired_at IS NULL AND cancelled_at IS NULL;
