-- Who said each transcript line, where that is someone other than the conversation's owner:
-- the person who filed a ticket from someone else's message (their note), the agent (their
-- reply or internal note). `person erase` and `person export` find a person's words in other
-- people's tickets by these columns. Lines stored before are NULL (their speaker is not known).
-- The index serves those look-ups; only attributed lines are in it.
-- SQLite dialect; keep it identical to migrations/postgres/0017_message_speakers.sql.

ALTER TABLE messages ADD COLUMN speaker_platform TEXT;
ALTER TABLE messages ADD COLUMN speaker_id TEXT;
CREATE INDEX messages_speaker_idx ON messages (speaker_platform, speaker_id) WHERE speaker_id IS NOT NULL;
