-- The employee portal: one-time sign-in links (a magic link from chat or the CLI) and the
-- portal's server-side sessions, both bound to the chat identity (platform + user id) the
-- portal acts as.
-- SQLite dialect; keep it identical to migrations/postgres/0010_portal.sql.

-- `token_hash` is the SHA-256 of the random link token (a reader of the database cannot use
-- it); `used_at` is set the first time the link signs someone in, after which it is refused.
CREATE TABLE portal_links (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    platform    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX portal_links_expiry_idx ON portal_links (expires_at);

-- One row per signed-in browser: the SHA-256 of the cookie value, the session's CSRF token,
-- who it acts as, and its idle (`last_seen_at`) and absolute (`expires_at`) expiry.
CREATE TABLE portal_sessions (
    id_hash       TEXT PRIMARY KEY NOT NULL,
    csrf_token    TEXT NOT NULL,
    platform      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX portal_sessions_expiry_idx ON portal_sessions (expires_at);
CREATE INDEX portal_sessions_user_idx ON portal_sessions (platform, user_id);
