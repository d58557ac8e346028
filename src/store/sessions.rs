//! Sign-ins to the reports page, kept in the database so every process of a deployment sees
//! the same sessions, and a logout or an expiry ends one everywhere. The store holds the
//! SHA-256 of each session id (the cookie value), never the id itself, plus the session's
//! CSRF token and expiry. The SQL is shared; `sqlite.rs` and `postgres.rs` run it.

use super::Result;
use crate::domain::Millis;
use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// 32 random bytes, hex: a session id, a CSRF token or a sign-in link's token. `None` if the
/// OS has no randomness.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// What the store keeps for a session id or link token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) const CREATE: &str =
    "INSERT INTO report_sessions (id_hash, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4)";
pub(crate) const FIND: &str = "SELECT csrf_token FROM report_sessions WHERE id_hash = $1 AND expires_at > $2";
pub(crate) const DELETE: &str = "DELETE FROM report_sessions WHERE id_hash = $1";
pub(crate) const PURGE: &str = "DELETE FROM report_sessions WHERE expires_at <= $1";

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Record a new session (by the hash of its id) valid until `expires_at`.
    async fn create_report_session(
        &self,
        id_hash: &str,
        csrf_token: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// The session's CSRF token while it is live at `now`; `None` when unknown or expired.
    async fn report_session(&self, id_hash: &str, now: Millis) -> Result<Option<String>>;
    /// End a session; true when it existed.
    async fn delete_report_session(&self, id_hash: &str) -> Result<bool>;
    /// Delete sessions expired at `now`; returns how many.
    async fn purge_report_sessions(&self, now: Millis) -> Result<u64>;
}

pub(crate) const LINK_CREATE: &str = "INSERT INTO portal_links (token_hash, platform, user_id, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";
/// Marks the link used, once: a second use, or a use after expiry, changes no row.
pub(crate) const LINK_USE: &str = "UPDATE portal_links SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING platform, user_id";
pub(crate) const PORTAL_CREATE: &str = "INSERT INTO portal_sessions \
     (id_hash, csrf_token, platform, user_id, created_at, last_seen_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $5, $6)";
/// A live session (neither past its absolute expiry nor idle for `$3` ms), touched.
pub(crate) const PORTAL_FIND: &str = "UPDATE portal_sessions SET last_seen_at = $2 \
     WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $2 - $3 \
     RETURNING csrf_token, platform, user_id";
pub(crate) const PORTAL_DELETE: &str = "DELETE FROM portal_sessions WHERE id_hash = $1";
pub(crate) const PORTAL_PURGE_SESSIONS: &str =
    "DELETE FROM portal_sessions WHERE expires_at <= $1 OR last_seen_at <= $1 - $2";
pub(crate) const PORTAL_PURGE_LINKS: &str = "DELETE FROM portal_links WHERE expires_at <= $1";
pub(crate) const OIDC_LOGIN_CREATE: &str = "INSERT INTO portal_oidc_logins \
     (state_hash, browser_hash, nonce, pkce_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
/// Takes the sign-in out (used once, whatever happens next), when it has not expired.
pub(crate) const OIDC_LOGIN_TAKE: &str = "DELETE FROM portal_oidc_logins WHERE state_hash = $1 \
     RETURNING browser_hash, nonce, pkce_verifier, expires_at";
pub(crate) const OIDC_PURGE_LOGINS: &str = "DELETE FROM portal_oidc_logins WHERE expires_at <= $1";
pub(crate) const IDENTITY_FIND: &str =
    "SELECT platform, user_id FROM portal_identities WHERE issuer = $1 AND subject = $2";
pub(crate) const IDENTITY_LINK: &str = "INSERT INTO portal_identities \
     (issuer, subject, email, platform, user_id, linked_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email, platform = excluded.platform, \
     user_id = excluded.user_id, linked_at = excluded.linked_at";
pub(crate) const CLAIM_CREATE: &str = "INSERT INTO portal_identity_claims \
     (token_hash, issuer, subject, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const CLAIM_TAKE: &str = "DELETE FROM portal_identity_claims WHERE token_hash = $1 \
     RETURNING issuer, subject, email, expires_at";
pub(crate) const CLAIM_PURGE: &str = "DELETE FROM portal_identity_claims WHERE expires_at <= $1";

/// A sign-in sent to the identity provider, as its callback finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogin {
    /// The SHA-256 of the binding cookie of the browser that started it.
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the identity provider vouched for: its issuer, the subject and their verified email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: String,
}

/// A signed-in portal browser: who it acts as and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    pub user: crate::domain::UserRef,
    pub csrf: String,
}

/// The stored row of a portal session or link, as `(platform, user_id)`, made a person.
pub(crate) fn portal_user(platform: &str, user_id: &str) -> Result<crate::domain::UserRef> {
    format!("{platform}:{user_id}")
        .parse()
        .map_err(|e: String| super::StoreError::Corrupt(format!("portal identity: {e}")))
}

/// The portal's one-time sign-in links and its sessions. Like the reports' sessions, the
/// store holds the SHA-256 of each link token and session id, never the value itself.
#[async_trait]
pub trait PortalStore: Send + Sync {
    /// Record a one-time sign-in link for `user`, valid until `expires_at`.
    async fn create_portal_link(
        &self,
        token_hash: &str,
        user: &crate::domain::UserRef,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// Use a link: the person it is bound to, the first time it is used before it expires;
    /// `None` when it is unknown, used or expired.
    async fn use_portal_link(&self, token_hash: &str, now: Millis) -> Result<Option<crate::domain::UserRef>>;
    /// Record a portal session for `user` valid until `expires_at` (absolute).
    async fn create_portal_session(
        &self,
        id_hash: &str,
        csrf_token: &str,
        user: &crate::domain::UserRef,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// The session, when it is live at `now` and was used within the last `idle_ms`; marks
    /// it used.
    async fn portal_session(&self, id_hash: &str, now: Millis, idle_ms: i64)
    -> Result<Option<PortalSession>>;
    /// End a session; true when it existed.
    async fn delete_portal_session(&self, id_hash: &str) -> Result<bool>;
    /// Delete expired links, provider sign-ins and claims, and expired or idle sessions;
    /// returns how many rows.
    async fn purge_portal(&self, now: Millis, idle_ms: i64) -> Result<u64>;
    /// Record a sign-in sent to the identity provider (by the hash of its `state`).
    async fn create_oidc_login(
        &self,
        state_hash: &str,
        login: &OidcLogin,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// Take a sign-in out by its state's hash: it is deleted whatever happens next, and
    /// returned when it had not expired at `now`.
    async fn take_oidc_login(&self, state_hash: &str, now: Millis) -> Result<Option<OidcLogin>>;
    /// The chat identity a provider's subject signs in as, if linked.
    async fn portal_identity(&self, issuer: &str, subject: &str) -> Result<Option<crate::domain::UserRef>>;
    /// Link a provider's subject to a chat identity (replacing an earlier link).
    async fn link_portal_identity(
        &self,
        who: &ProviderIdentity,
        user: &crate::domain::UserRef,
        now: Millis,
    ) -> Result<()>;
    /// Keep a provider sign-in no chat identity matched, until a magic link names the person.
    async fn create_identity_claim(
        &self,
        token_hash: &str,
        who: &ProviderIdentity,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// Take a claim out (deleted whatever happens next); returned when not expired at `now`.
    async fn take_identity_claim(&self, token_hash: &str, now: Millis) -> Result<Option<ProviderIdentity>>;
}
