//! Configuration: built-in defaults, then an optional `deskbot.toml`, then `DESKBOT_*`
//! environment variables (env wins), then command-line flags. Secrets may come from files:
//! `DESKBOT_X_FILE=/run/secrets/x` sets `x` to the file's contents. Unknown keys are errors
//! naming the key and the file.

use crate::desk::{DeskSettings, QueueConfig, default_queues};
use crate::domain::QueueName;
use crate::engine::Settings;
pub use crate::redact::{RedactConfig, RedactRule};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The default config file, read from the working directory when present.
pub const DEFAULT_CONFIG_FILE: &str = "deskbot.toml";

/// Top-level keys; environment variables outside this list (e.g. test settings) are ignored.
const KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "intents_dir",
    "log_format",
    "log_level",
    "default_queue",
    "hot_reload",
    "http",
    "engine",
    "matcher",
    "kb",
    "redact",
    "outbox",
    "queue",
    "desk",
    "webhook",
    "slack",
    "retention",
    "roles",
    "limits",
    "intake",
    "reports",
    "discord",
    "portal",
    "directory",
    "requests",
];

/// Flat environment names for nested keys: `DESKBOT_DISCORD_TOKEN` sets `discord.token`.
const ALIASES: &[(&str, &str)] = &[
    ("discord_token", "discord.token"),
    ("discord_application_id", "discord.application_id"),
    ("discord_public_key", "discord.public_key"),
    ("discord_api_url", "discord.api_url"),
];

/// Flat environment names for nested keys: `DESKBOT_SLACK_BOT_TOKEN` → `slack.bot_token`,
/// `DESKBOT_HTTP_ADDR` → `http.listen`.
fn env_alias(key: &str) -> Option<String> {
    if key == "http_addr" {
        return Some("http.listen".into());
    }
    key.strip_prefix("slack_").map(|rest| format!("slack.{rest}"))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where `deskbot.db` lives when `database_url` is not set.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`. Default: `sqlite:<data_dir>/deskbot.db`.
    pub database_url: Option<String>,
    /// Intents, `kb/` articles and `tests/` cases.
    pub intents_dir: PathBuf,
    /// `auto` (human on a terminal, JSON otherwise), `human` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `deskbot=debug`.
    pub log_level: String,
    /// Where tickets without an intent go.
    pub default_queue: QueueName,
    /// Watch `intents_dir` and reload on change.
    pub hot_reload: bool,
    pub http: HttpConfig,
    pub engine: EngineConfig,
    pub matcher: MatcherConfig,
    pub kb: KbConfig,
    pub redact: RedactConfig,
    pub outbox: OutboxConfig,
    /// `[[queue]]` tables. Empty means the built-in starter queues.
    pub queue: Vec<QueueConfig>,
    /// Desk-wide settings for agents' threads and ticket lifecycle.
    pub desk: DeskSettings,
    /// `[[webhook]]` tables: ticket events POSTed to other systems.
    pub webhook: Vec<crate::adapters::webhook::WebhookConfig>,
    /// `[slack]`: the Slack app's mode, tokens and endpoints.
    pub slack: crate::adapters::slack::SlackConfig,
    /// `[retention]`: how long transcripts and closed tickets are kept.
    pub retention: crate::compliance::RetentionConfig,
    /// `[roles]`: admins and the grant review period.
    pub roles: crate::compliance::RolesConfig,
    /// `[limits]`: message length, rate and attachment bounds.
    pub limits: crate::compliance::LimitsConfig,
    /// How chat platforms take requests: request channels, grouping, status reactions.
    pub intake: crate::service::intake::IntakeConfig,
    /// `[directory]`: who manages whom, for access requests' `manager` approval step.
    pub directory: crate::desk::directory::DirectoryConfig,
    /// `[requests]`: approval timeouts, expiry warnings and access-review periods.
    pub requests: crate::desk::requests::RequestsConfig,
    /// `[reports]`: who may see `/reports`, and which users are testers.
    pub reports: crate::reports::ReportsConfig,
    /// `[discord]`: connect to Discord when present.
    pub discord: Option<crate::adapters::discord::DiscordConfig>,
    /// `[portal]`: the employee self-service pages under `/portal`.
    pub portal: crate::service::portal::PortalConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Auto,
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Serve `/healthz` and platform endpoints from `deskbot run`.
    pub enabled: bool,
    pub listen: String,
    /// When set, `/metrics` and `/reports` are served on this second address only (e.g.
    /// `127.0.0.1:9090`, a private network); the public listener answers 404 for them.
    pub admin_listen: Option<String>,
    /// Addresses of reverse proxies (CIDRs, e.g. `10.0.0.0/8`, `::1/128`) whose identity
    /// headers (`reports.user_header`) are believed. Default: none, so the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// The URL people reach deskbot at (e.g. `https://deskbot.example.com`). When it is
    /// https, session cookies are marked `Secure`.
    pub public_url: Option<String>,
}

impl HttpConfig {
    /// The trusted proxies, parsed (a bare address is one host).
    pub fn proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("http.trusted_proxies: `{p}` is not an address or CIDR (e.g. 10.0.0.0/8)")
                    })
            })
            .collect()
    }

    /// Whether browsers reach deskbot over https.
    pub fn is_https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// A reply this many hours after resolution reopens the ticket.
    pub reopen_window_hours: f64,
    pub max_kb_offers: usize,
    pub excerpt_chars: usize,
    /// When set, answers link to `{kb_base_url}/{article-id}`.
    pub kb_base_url: Option<String>,
    pub max_slot_retries: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherConfig {
    /// Confidence (0–1) below which a message has no intent. Unset: the matcher's default.
    pub threshold: Option<f32>,
    /// When the two best intents are closer than this (0–1), ask which one is meant.
    pub ambiguity_margin: Option<f32>,
    /// A sentence-embedding model directory written by `deskbot model import`: its embeddings
    /// join the matcher's features and KB search. Unset: words only.
    pub model: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct KbConfig {
    /// Relevance an article needs to be offered. Unset: the index's default.
    pub min_score: Option<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Give up on a message after this many failed attempts.
    pub max_attempts: i32,
    /// How often the worker looks for due messages, in milliseconds.
    pub poll_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("."),
            database_url: None,
            intents_dir: PathBuf::from("intents"),
            log_format: LogFormat::Auto,
            log_level: "info".into(),
            default_queue: QueueName::parse("service-desk").unwrap_or_else(|_| unreachable!()),
            hot_reload: true,
            http: HttpConfig::default(),
            engine: EngineConfig::default(),
            matcher: MatcherConfig::default(),
            kb: KbConfig::default(),
            redact: RedactConfig::default(),
            outbox: OutboxConfig::default(),
            queue: Vec::new(),
            desk: DeskSettings::default(),
            webhook: Vec::new(),
            slack: Default::default(),
            retention: Default::default(),
            roles: Default::default(),
            limits: Default::default(),
            intake: crate::service::intake::IntakeConfig::default(),
            directory: Default::default(),
            requests: Default::default(),
            reports: Default::default(),
            discord: None,
            portal: Default::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:8080".into(),
            admin_listen: None,
            trusted_proxies: Vec::new(),
            public_url: None,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            reopen_window_hours: 168.0,
            max_kb_offers: 3,
            excerpt_chars: 600,
            kb_base_url: None,
            max_slot_retries: 2,
        }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self { max_attempts: 8, poll_ms: 200 }
    }
}

/// A configuration problem a person can fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read secret file {path} (from {var}): {source}")]
    SecretFile { var: String, path: String, source: std::io::Error },
}

/// Where configuration comes from besides the environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// An explicit config file (must exist). Otherwise `deskbot.toml` if present.
    pub file: Option<PathBuf>,
    /// `--data-dir`, applied last.
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// The desk as configured: queues with their parsed business hours and SLA policies.
    pub fn desk(&self) -> Result<crate::desk::Desk, String> {
        let webhooks = self
            .webhook
            .iter()
            .map(|w| crate::desk::WebhookRoute { name: w.name.clone(), events: w.events.clone() })
            .collect();
        crate::desk::Desk::new(
            self.queues(),
            self.desk.clone(),
            self.engine_settings().reopen_window_ms,
            self.default_queue.clone(),
            webhooks,
        )
    }
    /// Load from the default file (if any), the process environment and `sources`.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(sources, &env)
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_from(sources: &Sources, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match &sources.file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
            }
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                fig = fig.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        for (var, raw) in env {
            let Some(name) = var.strip_prefix("DESKBOT_") else { continue };
            let (name, from_file) = match name.strip_suffix("_FILE") {
                Some(n) => (n, true),
                None => (name, false),
            };
            let key = crate::reports::env_key(&name.to_lowercase().replace("__", "."));
            let key = env_alias(&key).unwrap_or(key);
            let key = ALIASES.iter().find(|(flat, _)| *flat == key).map_or(key, |(_, k)| k.to_string());
            if !KEYS.contains(&top_key(&key)) {
                continue;
            }
            if from_file {
                let text = std::fs::read_to_string(raw).map_err(|source| ConfigError::SecretFile {
                    var: var.clone(),
                    path: raw.clone(),
                    source,
                })?;
                fig = fig.merge(Serialized::global(&key, text.trim_end_matches(['\n', '\r'])));
            } else {
                let value: figment::value::Value = raw.parse().unwrap_or_else(|_| raw.clone().into());
                fig = fig.merge(Serialized::global(&key, value));
            }
        }
        if let Some(dir) = &sources.data_dir {
            fig = fig.merge(Serialized::global("data_dir", dir));
        }
        let cfg: Config = fig.extract().map_err(|e| ConfigError::Invalid(describe(e)))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let queues = self.queues();
        if !queues.iter().any(|q| q.name == self.default_queue) {
            return Err(ConfigError::Invalid(format!(
                "default_queue `{}` is not a configured queue (known: {})",
                self.default_queue,
                queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for q in &queues {
            if !seen.insert(q.name.clone()) {
                return Err(ConfigError::Invalid(format!("queue `{}` is defined twice", q.name)));
            }
            q.validate().map_err(ConfigError::Invalid)?;
        }
        if !(0.0..1.0).contains(&self.desk.sla_reminder_ratio) || self.desk.sla_reminder_ratio == 0.0 {
            return Err(ConfigError::Invalid("desk.sla_reminder_ratio must be between 0 and 1".into()));
        }
        self.slack.settings().map_err(ConfigError::Invalid)?;
        self.reports.validate().map_err(ConfigError::Invalid)?;
        self.portal.validate().map_err(ConfigError::Invalid)?;
        self.http.proxy_networks().map_err(ConfigError::Invalid)?;
        if self.http.admin_listen.as_deref().is_some_and(|a| a.trim() == self.http.listen.trim()) {
            return Err(ConfigError::Invalid("http.admin_listen must differ from http.listen".into()));
        }
        if let Some(d) = &self.discord {
            d.settings().map_err(ConfigError::Invalid)?;
        }
        for w in &self.webhook {
            w.validate().map_err(ConfigError::Invalid)?;
        }
        self.directory.csv_path().map_err(ConfigError::Invalid)?;
        self.requests.validate().map_err(ConfigError::Invalid)?;
        if let Some(t) = self.matcher.threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(ConfigError::Invalid(format!("matcher.threshold must be between 0 and 1, not {t}")));
        }
        if let Some(m) = self.matcher.ambiguity_margin
            && !(0.0..=1.0).contains(&m)
        {
            return Err(ConfigError::Invalid(format!(
                "matcher.ambiguity_margin must be between 0 and 1, not {m}"
            )));
        }
        if self.engine.reopen_window_hours < 0.0 {
            return Err(ConfigError::Invalid("engine.reopen_window_hours must not be negative".into()));
        }
        crate::compliance::validate(&self.retention, &self.roles, &self.limits, &self.queue_names())
            .map_err(ConfigError::Invalid)?;
        self.intake.grouping_window_ms().map_err(ConfigError::Invalid)?;
        for r in &self.redact.rules {
            regex::Regex::new(&r.pattern)
                .map_err(|e| ConfigError::Invalid(format!("redact rule `{}`: bad pattern: {e}", r.name)))?;
        }
        Ok(())
    }

    /// The database to use.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite:{}", self.data_dir.join("deskbot.db").display()),
        }
    }

    /// Configured queues, or the starter set.
    pub fn queues(&self) -> Vec<QueueConfig> {
        if self.queue.is_empty() { default_queues() } else { self.queue.clone() }
    }

    pub fn queue_names(&self) -> Vec<QueueName> {
        self.queues().into_iter().map(|q| q.name).collect()
    }

    /// Where answers link their articles: `engine.kb_base_url`, else the portal's KB pages
    /// when `http.public_url` is set and the portal is on.
    pub fn kb_base_url(&self) -> Option<String> {
        self.engine.kb_base_url.clone().or_else(|| {
            let public = self.http.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty())?;
            self.portal
                .enabled
                .then(|| format!("{}/portal/kb", crate::service::portal::base_url(Some(public))))
        })
    }

    /// The engine's settings.
    pub fn engine_settings(&self) -> Settings {
        Settings {
            reopen_window_ms: (self.engine.reopen_window_hours * 3_600_000.0) as i64,
            max_kb_offers: self.engine.max_kb_offers,
            excerpt_chars: self.engine.excerpt_chars,
            kb_base_url: self.kb_base_url(),
            default_queue: self.default_queue.clone(),
            max_slot_retries: self.engine.max_slot_retries,
        }
    }
}

fn top_key(k: &str) -> &str {
    k.split('.').next().unwrap_or(k)
}

/// Figment's error with every problem on its own line.
fn describe(e: figment::Error) -> String {
    e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}
