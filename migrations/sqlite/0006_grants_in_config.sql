-- The grants ledger decides who may act; deskbot.toml only seeds it. `in_config` says, on the
-- newest row of a (platform, user_id, role, scope) key, that deskbot.toml listed that grant at
-- the last start. A start compares the file with these flags: a newly listed grant is recorded
-- (unless a person revoked it: a revocation wins over the file until someone grants again), and
-- every change to the file's list is written to the audit log.
ALTER TABLE role_grants ADD COLUMN in_config BOOLEAN NOT NULL DEFAULT 0;
UPDATE role_grants SET in_config = 1 WHERE granted_by = 'config' AND revoked_at IS NULL;
