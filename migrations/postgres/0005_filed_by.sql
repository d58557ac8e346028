-- Who filed each ticket, beside its requester: the same person, or whoever filed it from the
-- requester's message (🎫, "Create ticket"). Existing tickets were filed by their requester.
-- PostgreSQL dialect; keep it identical to migrations/sqlite/0005_filed_by.sql.

ALTER TABLE tickets ADD COLUMN filed_by_platform TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN filed_by_id TEXT NOT NULL DEFAULT '';
UPDATE tickets SET filed_by_platform = requester_platform, filed_by_id = requester_id;
CREATE INDEX tickets_filed_by_idx ON tickets (filed_by_platform, filed_by_id);
