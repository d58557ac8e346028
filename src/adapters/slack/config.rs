//! `[slack]` in deskbot.toml and `DESKBOT_SLACK_*` in the environment: which connection mode,
//! the tokens and signing secret (also as `*_FILE`), the Web API base URL and the slash
//! command. Secrets never show in `Debug` output.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Slack's own Web API base URL.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// How deskbot receives events from Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// A websocket deskbot opens to Slack (app-level token, no public URL needed).
    #[default]
    Socket,
    /// Slack POSTs events to deskbot's HTTP server (`/slack/events`, …), signed.
    Events,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// `socket` or `events`. Unset with no token: Slack is off.
    pub mode: Option<SlackMode>,
    /// The bot token (`xoxb-…`), for the Web API.
    pub bot_token: Option<String>,
    /// The app-level token (`xapp-…`, scope `connections:write`), for Socket Mode.
    pub app_token: Option<String>,
    /// The signing secret, to verify Events API requests.
    pub signing_secret: Option<String>,
    /// The Web API base URL (GovSlack and egress proxies use another).
    pub api_url: String,
    /// The slash command employees type.
    pub slash_command: String,
    /// Socket Mode connections kept open (Slack spreads events over them).
    pub socket_connections: u32,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            mode: None,
            bot_token: None,
            app_token: None,
            signing_secret: None,
            api_url: DEFAULT_API_URL.into(),
            slash_command: "/helpdesk".into(),
            socket_connections: 2,
        }
    }
}

impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &Option<String>| if s.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("SlackConfig")
            .field("mode", &self.mode)
            .field("bot_token", &set(&self.bot_token))
            .field("app_token", &set(&self.app_token))
            .field("signing_secret", &set(&self.signing_secret))
            .field("api_url", &self.api_url)
            .field("slash_command", &self.slash_command)
            .field("socket_connections", &self.socket_connections)
            .finish()
    }
}

/// Validated settings the adapter runs with.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    pub mode: SlackMode,
    pub bot_token: SecretString,
    pub app_token: Option<SecretString>,
    pub signing_secret: Option<SecretString>,
    pub api_url: String,
    pub slash_command: String,
    pub socket_connections: u32,
}

fn missing(key: &str, env: &str, why: &str) -> String {
    format!("{why}, but slack.{key} is not set (set {env}, {env}_FILE or `{key}` in [slack])")
}

fn present(s: &Option<String>) -> Option<&String> {
    s.as_ref().filter(|s| !s.trim().is_empty())
}

impl SlackConfig {
    /// Is Slack switched on at all?
    pub fn enabled(&self) -> bool {
        self.mode.is_some() || present(&self.bot_token).is_some()
    }

    /// The settings to run with, `Ok(None)` when Slack is off, or an error naming the
    /// missing or bad setting.
    pub fn settings(&self) -> Result<Option<SlackSettings>, String> {
        if !self.enabled() {
            return Ok(None);
        }
        let mode = self.mode.unwrap_or_default();
        let why = format!("Slack is on (mode {})", mode_name(mode));
        let bot =
            present(&self.bot_token).ok_or_else(|| missing("bot_token", "DESKBOT_SLACK_BOT_TOKEN", &why))?;
        let app = present(&self.app_token);
        let secret = present(&self.signing_secret);
        match mode {
            SlackMode::Socket if app.is_none() => {
                return Err(missing("app_token", "DESKBOT_SLACK_APP_TOKEN", &why));
            }
            SlackMode::Events if secret.is_none() => {
                return Err(missing("signing_secret", "DESKBOT_SLACK_SIGNING_SECRET", &why));
            }
            _ => {}
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://")) {
            return Err(format!("slack.api_url must start with https:// or http://, not `{}`", self.api_url));
        }
        if !self.slash_command.starts_with('/') || self.slash_command.len() < 2 {
            return Err(format!("slack.slash_command must start with /, not `{}`", self.slash_command));
        }
        let api_url = self.api_url.trim_end_matches('/').to_string();
        Ok(Some(SlackSettings {
            mode,
            bot_token: SecretString::from(bot.trim().to_string()),
            app_token: app.map(|s| SecretString::from(s.trim().to_string())),
            signing_secret: secret.map(|s| SecretString::from(s.trim().to_string())),
            api_url,
            slash_command: self.slash_command.clone(),
            socket_connections: self.socket_connections.clamp(1, 10),
        }))
    }
}

pub fn mode_name(mode: SlackMode) -> &'static str {
    match mode {
        SlackMode::Socket => "socket",
        SlackMode::Events => "events",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_settings_are_named() {
        assert!(SlackConfig::default().settings().unwrap().is_none());
        let c = SlackConfig { mode: Some(SlackMode::Socket), ..Default::default() };
        let e = c.settings().unwrap_err();
        assert!(e.contains("slack.bot_token") && e.contains("DESKBOT_SLACK_BOT_TOKEN"), "{e}");
        let c = SlackConfig { bot_token: Some("xoxb-1".into()), ..Default::default() };
        let e = c.settings().unwrap_err();
        assert!(e.contains("DESKBOT_SLACK_APP_TOKEN"), "{e}");
        let c = SlackConfig {
            mode: Some(SlackMode::Events),
            bot_token: Some("xoxb-1".into()),
            ..Default::default()
        };
        assert!(c.settings().unwrap_err().contains("DESKBOT_SLACK_SIGNING_SECRET"));
        let c = SlackConfig {
            bot_token: Some("xoxb-hidden-value".into()),
            app_token: Some("xapp-hidden-value".into()),
            ..Default::default()
        };
        let s = c.settings().unwrap().unwrap();
        assert_eq!(s.mode, SlackMode::Socket);
        assert!(!format!("{c:?} {s:?}").contains("hidden-value"));
    }
}
