//! Outgoing webhooks: ticket events POSTed as JSON to other systems of record (Jira,
//! ServiceNow, …), delivered and retried through the outbox like any chat message. Each
//! delivery carries `X-Deskbot-Timestamp` (Unix seconds) and `X-Deskbot-Signature:
//! v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, so a receiver that checks the signature and
//! rejects old timestamps cannot be fed a replayed delivery. Delivery errors name the
//! receiver by `scheme://host/…` only: a secret in the URL's path or query never reaches the
//! log or the outbox.

use crate::domain::Platform;
use crate::domain::{Channel, Delivered, Outbound, OutboundKind, SendError};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::Duration;

/// The header carrying `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-deskbot-signature";
/// When the delivery was signed, in Unix seconds (part of the signed string).
pub const TIMESTAMP_HEADER: &str = "x-deskbot-timestamp";
/// How old a timestamp [`verify`] accepts by default: five minutes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
pub const EVENT_HEADER: &str = "x-deskbot-event";
/// The outbox key: the same for every retry of one event, so receivers can dedupe.
pub const DELIVERY_HEADER: &str = "x-deskbot-delivery";

pub const EVENTS: &[&str] =
    &["ticket.created", "ticket.updated", "ticket.resolved", "audit.anchor", "access.grant", "access.revoke"];

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
    /// Which events to send (default: all of ticket.created, ticket.updated, ticket.resolved,
    /// audit.anchor). `access.grant` and `access.revoke` go only to the webhook a request-catalog
    /// item names in `fulfil = { webhook = … }`; list just those to receive nothing else.
    #[serde(default)]
    pub events: Vec<String>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &masked_url(&self.url))
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

/// `v1=<hex>`: HMAC-SHA256 under `secret` of `"<timestamp>.<body>"`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why [`verify`] refused a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp header is missing or not a number")]
    BadTimestamp,
    #[error("the timestamp is {0} s away from now (a replay, or a clock far off)")]
    Stale(i64),
    #[error("the signature does not match")]
    BadSignature,
}

/// What a receiver does: check `signature` (the `X-Deskbot-Signature` value) over `timestamp`
/// (the `X-Deskbot-Timestamp` value) and `body`, and refuse timestamps more than
/// `tolerance_secs` away from `now_secs`. Compares in constant time.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    let sig = signature.trim().strip_prefix("v1=").ok_or(VerifyError::BadSignature)?;
    let sig = hex::decode(sig).map_err(|_| VerifyError::BadSignature)?;
    mac(secret, ts, body).verify_slice(&sig).map_err(|_| VerifyError::BadSignature)?;
    let skew = now_secs.saturating_sub(ts);
    if skew.abs() > tolerance_secs {
        return Err(VerifyError::Stale(skew));
    }
    Ok(())
}

/// `scheme://host[:port]/…`: what of a URL may be logged or stored. Paths and queries often
/// carry a token (`https://hooks.example.com/T0/B0/XXXX`, `?key=…`); user info never shows.
pub fn masked_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "[url]".to_string() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let more = rest.len() > authority.len();
    format!("{scheme}://{host}{}", if more { "/…" } else { "" })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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
        // Every attempt is signed afresh: a retry carries the time it was sent.
        let ts = unix_now();
        let resp = self
            .http
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, signature(hook.secret.expose_secret(), ts, &bytes))
            .header(EVENT_HEADER, event.as_str())
            .header(DELIVERY_HEADER, key)
            .body(bytes)
            .send()
            .await
            .map_err(|e| {
                // reqwest's message names the full URL; keep only its kind and the host.
                let e = e.without_url();
                SendError::Temporary(format!(
                    "webhook `{}` ({}): {}",
                    m.to.channel,
                    masked_url(&hook.url),
                    kind(&e)
                ))
            })?;
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

/// What went wrong with a request, in words that carry no URL or body.
fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read"
    } else {
        "the request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        // The signed string is "<timestamp>.<body>".
        let mut m = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        m.update(b"1700000000.{\"a\":1}");
        let want = format!("v1={}", hex::encode(m.finalize().into_bytes()));
        assert_eq!(signature("Jefe", 1_700_000_000, br#"{"a":1}"#), want);
    }

    #[test]
    fn verify_accepts_the_delivery_and_refuses_replays_forgeries_and_stale_timestamps() {
        let body = br#"{"event":"ticket.created"}"#;
        let ts = 1_700_000_000;
        let sig = signature("s3cret", ts, body);
        assert_eq!(verify("s3cret", &ts.to_string(), &sig, body, ts + 10, 300), Ok(()));
        // The same signature under a fresh timestamp (a replay dressed up as new).
        let later = ts + 3600;
        assert_eq!(
            verify("s3cret", &later.to_string(), &sig, body, later, 300),
            Err(VerifyError::BadSignature)
        );
        // The original pair, replayed an hour later.
        assert_eq!(verify("s3cret", &ts.to_string(), &sig, body, later, 300), Err(VerifyError::Stale(3600)));
        assert_eq!(verify("other", &ts.to_string(), &sig, body, ts, 300), Err(VerifyError::BadSignature));
        assert_eq!(verify("s3cret", &ts.to_string(), &sig, b"{}", ts, 300), Err(VerifyError::BadSignature));
        assert_eq!(verify("s3cret", "soon", &sig, body, ts, 300), Err(VerifyError::BadTimestamp));
        let body_only = sig.replacen("v1=", "sha256=", 1);
        assert_eq!(
            verify("s3cret", &ts.to_string(), &body_only, body, ts, 300),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn masked_urls_keep_scheme_and_host_only() {
        assert_eq!(
            masked_url("https://hooks.example.com/T0/B0/XXXX?token=abc"),
            "https://hooks.example.com/…"
        );
        assert_eq!(masked_url("http://user:pw@10.0.0.5:8443"), "http://10.0.0.5:8443");
        assert_eq!(masked_url("https://h.example?key=sekrit"), "https://h.example/…");
        assert_eq!(masked_url("not a url"), "[url]");
    }
}
