-- The SLA scheduler's due-timer scan reads pending timers in the order they are next due and
-- stops at its batch size. Its index, timers_next_idx, is built CONCURRENTLY after the
-- migrations (LIVE_INDEXES in src/store/postgres.rs), so a live desk's timers table is never
-- locked for the build; SQLite builds it in its migration 0015.
SELECT 1;
