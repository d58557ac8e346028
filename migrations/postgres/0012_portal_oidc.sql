-- Portal sign-in with the company's identity provider (OIDC authorization code + PKCE): the
-- pending sign-ins, the people the provider vouched for and the chat identity each one acts
-- as, and the claims waiting for a magic link to say who they are.
-- PostgreSQL dialect; keep it in step with migrations/sqlite/0012_portal_oidc.sql.

-- One row per sign-in sent to the provider, used once by its callback: the SHA-256 of the
-- `state`, the SHA-256 of the browser's binding cookie, the nonce the ID token must carry and
-- the PKCE verifier the token request proves the code with. Ten minutes, then purged.
CREATE TABLE portal_oidc_logins (
    state_hash     TEXT PRIMARY KEY NOT NULL,
    browser_hash   TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX portal_oidc_logins_expiry_idx ON portal_oidc_logins (expires_at);

-- The provider's subject (per issuer), its verified email, and the chat identity it signs in as.
CREATE TABLE portal_identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    email      TEXT NOT NULL,
    platform   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    linked_at  BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX portal_identities_user_idx ON portal_identities (platform, user_id);

-- A provider sign-in no chat identity matched yet: kept (by the SHA-256 of a cookie the browser
-- holds) until the person signs in with a magic link from chat in the same browser, which links
-- the two; ten minutes, then purged.
CREATE TABLE portal_identity_claims (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    email       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX portal_identity_claims_expiry_idx ON portal_identity_claims (expires_at);
