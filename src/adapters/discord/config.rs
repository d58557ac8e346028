//! `[discord]` in deskbot.toml (or `DESKBOT_DISCORD_TOKEN`, `DESKBOT_DISCORD_APPLICATION_ID`,
//! `DESKBOT_DISCORD_PUBLIC_KEY`, `DESKBOT_DISCORD_API_URL`, each also as `*_FILE`): the bot's
//! credentials, where its REST calls go and where its slash commands are registered.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

/// Discord's own REST base.
pub const DEFAULT_API_URL: &str = "https://discord.com";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The bot token (Developer Portal → Bot → Token).
    pub token: Option<String>,
    /// The application id (General Information → Application ID).
    #[serde(deserialize_with = "snowflake_opt")]
    pub application_id: Option<String>,
    /// The application's Ed25519 public key, hex (General Information → Public Key): checks
    /// requests to `/discord/interactions`.
    pub public_key: Option<String>,
    /// Where REST calls go. Unset: Discord itself, through serenity's rate limiter. Set (e.g. a
    /// rate-limit-sharing proxy in front of several deskbot processes): requests go there and
    /// the proxy does the rate limiting.
    pub api_url: Option<String>,
    /// Register `/helpdesk` and "Create ticket" in these guilds only (instant, for testing);
    /// empty means globally (every guild the bot is in).
    #[serde(deserialize_with = "snowflakes")]
    pub guilds: Vec<String>,
    /// Register the application commands at start (turn off when another process does it).
    pub register_commands: bool,
}

impl std::fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("application_id", &self.application_id)
            .field("api_url", &self.api_url)
            .field("guilds", &self.guilds)
            .finish_non_exhaustive()
    }
}

/// A checked `[discord]` table, ready to connect.
pub struct DiscordSettings {
    pub token: SecretString,
    pub application_id: u64,
    pub public_key: [u8; 32],
    pub api_url: Option<String>,
    pub guilds: Vec<u64>,
    pub register_commands: bool,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            token: None,
            application_id: None,
            public_key: None,
            api_url: None,
            guilds: Vec::new(),
            register_commands: true,
        }
    }
}

impl DiscordConfig {
    /// Check every setting; errors name the environment variable and the key to set.
    pub fn settings(&self) -> Result<DiscordSettings, String> {
        let missing = |var: &str, key: &str| {
            format!("discord: {var} is not set (or `{key}` in the [discord] table of deskbot.toml)")
        };
        let token = self
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| missing("DESKBOT_DISCORD_TOKEN", "token"))?;
        let app = self
            .application_id
            .as_deref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| missing("DESKBOT_DISCORD_APPLICATION_ID", "application_id"))?;
        let application_id = parse_snowflake(app)
            .ok_or_else(|| format!("discord: application_id `{app}` is not a Discord id (digits)"))?;
        let key = self
            .public_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| missing("DESKBOT_DISCORD_PUBLIC_KEY", "public_key"))?;
        let public_key =
            hex::decode(key).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| {
                "discord: public_key must be 64 hex characters (the application's Ed25519 key)".to_string()
            })?;
        serenity::interactions_endpoint::Verifier::try_new(public_key)
            .map_err(|e| format!("discord: public_key is not a valid Ed25519 key: {e}"))?;
        let api_url = match self.api_url.as_deref().map(|u| u.trim().trim_end_matches('/')) {
            None | Some("") => None,
            Some(u) if u == DEFAULT_API_URL => None,
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => Some(u.to_string()),
            Some(u) => return Err(format!("discord: api_url `{u}` must start with https:// or http://")),
        };
        let mut guilds = Vec::new();
        for g in &self.guilds {
            guilds
                .push(parse_snowflake(g).ok_or_else(|| format!("discord: guild `{g}` is not a Discord id"))?);
        }
        Ok(DiscordSettings {
            token: SecretString::from(token.to_string()),
            application_id,
            public_key,
            api_url,
            guilds,
            register_commands: self.register_commands,
        })
    }
}

/// A Discord id (snowflake): digits, not zero.
pub fn parse_snowflake(s: &str) -> Option<u64> {
    s.trim().parse::<u64>().ok().filter(|n| *n != 0)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Num(u64),
    Str(String),
}

impl IdValue {
    fn text(self) -> String {
        match self {
            IdValue::Num(n) => n.to_string(),
            IdValue::Str(s) => s,
        }
    }
}

/// Ids are written as numbers or strings (TOML integers hold them; JSON tools quote them).
fn snowflake_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<IdValue>::deserialize(d)?.map(IdValue::text))
}

fn snowflakes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<IdValue>::deserialize(d)?.into_iter().map(IdValue::text).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> DiscordConfig {
        DiscordConfig {
            token: Some("abc".into()),
            application_id: Some("1234".into()),
            public_key: Some("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".into()),
            ..DiscordConfig::default()
        }
    }

    #[test]
    fn missing_and_malformed_settings_name_what_to_set() {
        assert!(full().settings().is_ok());
        let e = DiscordConfig { token: None, ..full() }.settings().err().unwrap();
        assert!(e.contains("DESKBOT_DISCORD_TOKEN"), "{e}");
        let e = DiscordConfig { application_id: None, ..full() }.settings().err().unwrap();
        assert!(e.contains("DESKBOT_DISCORD_APPLICATION_ID"), "{e}");
        let e = DiscordConfig { public_key: None, ..full() }.settings().err().unwrap();
        assert!(e.contains("DESKBOT_DISCORD_PUBLIC_KEY"), "{e}");
        let e = DiscordConfig { public_key: Some("zz".into()), ..full() }.settings().err().unwrap();
        assert!(e.contains("64 hex"), "{e}");
        let e = DiscordConfig { application_id: Some("bot".into()), ..full() }.settings().err().unwrap();
        assert!(e.contains("not a Discord id"), "{e}");
        let e = DiscordConfig { api_url: Some("ftp://x".into()), ..full() }.settings().err().unwrap();
        assert!(e.contains("api_url"), "{e}");
        let s = DiscordConfig { api_url: Some("http://127.0.0.1:9/".into()), ..full() }.settings().unwrap();
        assert_eq!(s.api_url.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let text = format!("{:?}", full());
        assert!(!text.contains("abc") && text.contains("1234"), "{text}");
    }
}
