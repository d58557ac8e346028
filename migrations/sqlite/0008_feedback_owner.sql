-- KB feedback remembers the conversation it came from, so `deskbot person erase` finds a
-- person's rated questions (src/store/catalogue.rs). Rows from before stay NULL and are matched
-- by the person's id and names only. SQLite dialect; keep it identical to the PostgreSQL one.

ALTER TABLE kb_feedback ADD COLUMN conversation TEXT;
CREATE INDEX kb_feedback_conversation_idx ON kb_feedback (conversation);
