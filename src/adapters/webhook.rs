//! Outgoing webhooks: ticket events POSTed as JSON to other systems of record (Jira,
//! ServiceNow, …), signed with HMAC-SHA256 over the body, delivered and retried through the
//! outbox like any chat message.

use crate::domain::Platform;
use crate::domain::{Channel, Delivered, Outbound, OutboundKind, SendError};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::Duration;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-deskbot-signature";
pub const EVENT_HEADER: &str = "x-deskbot-event";
/// The outbox key: the same for every retry of one event, so receivers can dedupe.
pub const DELIVERY_HEADER: &str = "x-deskbot-delivery";

pub const EVENTS: &[&str] = &["ticket.created", "ticket.updated", "ticket.resolved"];

/// `[[webhook]]` in deskbot.toml.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    pub url: String,
    /// The signing secret (or `secret_file`).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Which events to send (default: all of ticket.created, ticket.updated, ticket.resolved).
    #[serde(default)]
    pub events: Vec<String>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    pub fn validate(&self) -> Result<(), String> {
        let at = format!("webhook `{}`", self.name);
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(format!("{at}: url must start with https:// or http://"));
        }
        if self.secret.is_none() && self.secret_file.is_none() {
            return Err(format!("{at}: set `secret` or `secret_file` (deliveries are always signed)"));
        }
        if let Some(e) = self.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(format!("{at}: unknown event `{e}` (known: {})", EVENTS.join(", ")));
        }
        Ok(())
    }

    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }

    fn load_secret(&self) -> Result<SecretString, String> {
        match (&self.secret, &self.secret_file) {
            (Some(s), _) => Ok(SecretString::from(s.clone())),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| SecretString::from(s.trim_end().to_string()))
                .map_err(|e| format!("webhook `{}`: cannot read secret_file {path}: {e}", self.name)),
            (None, None) => Err(format!("webhook `{}` has no secret", self.name)),
        }
    }
}

/// `sha256=<hex>` for a body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

struct Hook {
    url: String,
    secret: SecretString,
}

pub struct WebhookChannel {
    hooks: HashMap<String, Hook>,
    http: reqwest::Client,
}

impl WebhookChannel {
    pub fn new(configs: &[WebhookConfig]) -> Result<Self, String> {
        let mut hooks = HashMap::new();
        for c in configs {
            hooks.insert(c.name.clone(), Hook { url: c.url.clone(), secret: c.load_secret()? });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("deskbot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        Ok(Self { hooks, http })
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn platform(&self) -> Platform {
        Platform::Webhook
    }

    async fn send(&self, key: &str, m: &Outbound) -> Result<Delivered, SendError> {
        let OutboundKind::Webhook { event, body } = &m.kind else {
            return Err(SendError::Permanent("not a webhook event".into()));
        };
        let hook = self.hooks.get(&m.to.channel).ok_or_else(|| {
            SendError::Permanent(format!("no webhook named `{}` is configured", m.to.channel))
        })?;
        let bytes = serde_json::to_vec(body).map_err(|e| SendError::Permanent(e.to_string()))?;
        let resp = self
            .http
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(hook.secret.expose_secret(), &bytes))
            .header(EVENT_HEADER, event.as_str())
            .header(DELIVERY_HEADER, key)
            .body(bytes)
            .send()
            .await
            .map_err(|e| SendError::Temporary(format!("webhook `{}`: {e}", m.to.channel)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(Delivered::default());
        }
        if status.as_u16() == 429 {
            let secs = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(30);
            return Err(SendError::RateLimited { retry_after_ms: secs.saturating_mul(1000) });
        }
        if status.is_server_error() || status.as_u16() == 408 {
            return Err(SendError::Temporary(format!("webhook `{}` answered {status}", m.to.channel)));
        }
        Err(SendError::Permanent(format!("webhook `{}` answered {status}", m.to.channel)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        let sig = super::signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
