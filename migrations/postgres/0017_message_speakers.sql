-- Who said each transcript line, where that is someone other than the conversation's owner:
-- the person who filed a ticket from someone else's message (their note), the agent (their
-- reply or internal note). `person erase` and `person export` find a person's words in other
-- people's tickets by these columns. Lines stored before are NULL (their speaker is not known).
-- Adding a nullable column without a default rewrites nothing; the lock it needs is brief, and
-- is not waited for behind a long query (which would stall every writer queued after it): the
-- migration fails instead and the next start tries again. The index on the speaker columns,
-- messages_speaker_idx, is built CONCURRENTLY after the migrations (LIVE_INDEXES in
-- src/store/postgres.rs).
-- PostgreSQL dialect; keep it identical to migrations/sqlite/0017_message_speakers.sql.

SET LOCAL lock_timeout = '5s';
ALTER TABLE messages ADD COLUMN speaker_platform TEXT;
ALTER TABLE messages ADD COLUMN speaker_id TEXT;
