//! The employee portal's policy: one-time sign-in links bound to a chat identity (minted when
//! someone types "portal" in a DM, runs `/helpdesk portal`, or an operator runs `deskbot
//! portal link`), the portal's session lifetimes, and the `[portal]` settings.

use super::{Service, ServiceError};
use crate::domain::{Millis, UserRef};
use crate::store::sessions::{random_token, token_hash};
use serde::{Deserialize, Serialize};

/// How long a sign-in link can be used, once.
pub const LINK_VALID_MS: Millis = 10 * 60_000;
/// Where people reach deskbot when `http.public_url` is not set.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// What a person types (in a DM, or after `/helpdesk`) to get a sign-in link.
pub const PORTAL_WORD: &str = "portal";

/// `[portal]`: the employee self-service pages under `/portal`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    /// Serve `/portal` from `deskbot run`'s HTTP listener.
    pub enabled: bool,
    /// Serve the knowledge base pages (`/portal/kb`) without a sign-in.
    pub public_kb: bool,
    /// The header an authenticating reverse proxy sets to the signed-in person, as
    /// `PLATFORM:ID` (e.g. `slack:U0123`); believed only from `http.trusted_proxies`.
    pub user_header: Option<String>,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, however active.
    pub session_hours: u32,
    /// `[portal.oidc]`: sign in with the company's identity provider (OpenID Connect).
    pub oidc: Option<super::oidc::OidcConfig>,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            public_kb: false,
            user_header: None,
            session_idle_minutes: 30,
            session_hours: 12,
            oidc: None,
        }
    }
}

impl PortalConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.session_idle_minutes == 0 || self.session_hours == 0 {
            return Err("portal.session_idle_minutes and portal.session_hours must be at least 1".into());
        }
        if let Some(oidc) = &self.oidc {
            oidc.validate()?;
        }
        Ok(())
    }

    pub fn idle_ms(&self) -> i64 {
        i64::from(self.session_idle_minutes) * 60_000
    }

    pub fn session_ms(&self) -> i64 {
        i64::from(self.session_hours) * 3_600_000
    }
}

/// The base URL links point at: `http.public_url` without a trailing slash, or the default.
pub fn base_url(public_url: Option<&str>) -> String {
    public_url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(DEFAULT_PUBLIC_URL)
        .trim_end_matches('/')
        .to_string()
}

/// The text a person gets with their link (shown to them only, never stored).
pub fn link_note(url: &str) -> String {
    format!(
        "Your portal sign-in link (valid 10 minutes, works once, do not share it):\n{url}\n\
         There you can follow your tickets, read the knowledge base and chat with the help desk."
    )
}

impl Service {
    /// Mint a one-time sign-in link for `user`, valid [`LINK_VALID_MS`]. The store keeps the
    /// token's hash only; the link itself is shown to its owner and never stored.
    pub async fn portal_link(&self, user: &UserRef) -> Result<String, ServiceError> {
        let token = random_token().ok_or_else(|| {
            ServiceError::Store(crate::store::StoreError::Unwritable("no randomness available".into()))
        })?;
        let now = self.now();
        if let Err(e) = self.store.purge_portal(now, self.portal.idle_ms()).await {
            tracing::warn!(error = %e, "portal: cannot purge expired links and sessions");
        }
        self.store.create_portal_link(&token_hash(&token), user, now, now + LINK_VALID_MS).await?;
        tracing::info!(platform = user.platform.as_str(), "portal: sign-in link issued");
        Ok(format!("{}/portal/login/{token}", self.portal_base))
    }
}

impl Service {
    /// "Did this help?" on a KB article page, recorded like the chat's answer feedback (the
    /// article and the verdict; no conversation, no words). `delivery` is the page form's
    /// one-time id: posting the same form twice records it once.
    pub async fn portal_kb_feedback(
        &self,
        user: &UserRef,
        delivery: &str,
        article: &str,
        helpful: bool,
    ) -> Result<super::Handled, ServiceError> {
        if self.catalog.load().article(article).is_none() {
            return Err(ServiceError::NoSuchArticle(article.to_string()));
        }
        let commit = crate::store::Commit {
            event: Some(crate::store::EventKey {
                platform: user.platform,
                event_id: format!("portal:kb:{delivery}"),
            }),
            conversation: crate::store::ConversationWrite::none(),
            messages: Vec::new(),
            tickets: Vec::new(),
            feedback: vec![crate::store::KbFeedback {
                intent: None,
                article: Some(article.to_string()),
                query: String::new(),
                helpful,
            }],
            outbox: Vec::new(),
            now: self.now(),
            cases: Vec::new(),
            requests: Vec::new(),
        };
        Ok(match self.store.commit(commit).await? {
            crate::store::CommitOutcome::Applied { .. } => {
                super::Handled::Applied { created: Vec::new(), replies: 0 }
            }
            _ => super::Handled::Duplicate,
        })
    }
}
