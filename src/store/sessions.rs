//! Sign-ins to the reports page, kept in the database so every process of a deployment sees
//! the same sessions, and a logout or an expiry ends one everywhere. The store holds the
//! SHA-256 of each session id (the cookie value), never the id itself, plus the session's
//! CSRF token and expiry. The SQL is shared; `sqlite.rs` and `postgres.rs` run it.

use super::Result;
use crate::domain::Millis;
use async_trait::async_trait;

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
