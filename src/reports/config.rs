//! `[reports]` in `deskbot.toml`: who may open `/reports` and which users are testers.
//!
//! ```toml
//! [reports]
//! token = "…"                      # or DESKBOT_REPORTS_TOKEN / DESKBOT_REPORTS_TOKEN_FILE
//! user_header = "X-Forwarded-User"  # trust this header from an authenticating reverse proxy
//! testers = ["slack:U0123QA", "console:qa"]
//! ```

use crate::domain::UserRef;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// The admin token for `/reports` (Bearer header or the login form).
    pub token: Option<String>,
    /// A header set by an authenticating reverse proxy to the signed-in user's name. Only
    /// configure it when deskbot is reachable through that proxy alone.
    pub user_header: Option<String>,
    /// `platform:id` of users whose conversations are test traffic, left out of reports.
    pub testers: Vec<String>,
}

impl std::fmt::Debug for ReportsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportsConfig")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("user_header", &self.user_header)
            .field("testers", &self.testers)
            .finish()
    }
}

impl ReportsConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.tester_refs().map(drop)?;
        if self.token.as_deref().is_some_and(|t| t.trim().len() < 16) {
            return Err("reports.token must be at least 16 characters".into());
        }
        if let Some(h) = &self.user_header
            && axum::http::HeaderName::from_bytes(h.as_bytes()).is_err()
        {
            return Err(format!("reports.user_header: `{h}` is not a valid HTTP header name"));
        }
        Ok(())
    }

    /// The testers, parsed.
    pub fn tester_refs(&self) -> Result<Vec<UserRef>, String> {
        self.testers.iter().map(|t| t.parse().map_err(|e| format!("reports.testers: {e}"))).collect()
    }

    pub fn secret_token(&self) -> Option<SecretString> {
        self.token.as_ref().filter(|t| !t.trim().is_empty()).map(|t| SecretString::from(t.trim().to_string()))
    }
}

/// `DESKBOT_REPORTS_TOKEN` names `reports.token` (the documented spelling); other keys map
/// through unchanged.
pub fn env_key(key: &str) -> String {
    match key {
        "reports_token" => "reports.token".to_string(),
        "reports_user_header" => "reports.user_header".to_string(),
        other => other.to_string(),
    }
}
