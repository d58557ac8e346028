//! deskbot running against the fake Slack, in either mode: `SlackBot::start("socket")` boots the
//! real daemon (`app::run`) from a `deskbot.toml`, and the helpers deliver Slack payloads the
//! way Slack would in that mode (Socket Mode envelopes or signed HTTP POSTs).
#![allow(dead_code)]

use super::fake_slack::{self, Call, FakeSlack, Sign, form};
use deskbot::app::{self, App};
use deskbot::config::{Config, Sources};
use deskbot::store::DynStore;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const AGENTS: &str = "C0AGENTS01";
pub const GENERAL: &str = "C0GENERAL1";
pub const HELP: &str = "C0ITHELP01";
pub const ERIN: &str = "U0ERIN001";
pub const BOB: &str = "U0BOB0001";
pub const KIM: &str = "U0KIM0001";

/// How to start the daemon: `SlackOpts { mode: "socket", ..SlackOpts::default() }`.
pub struct SlackOpts<'a> {
    /// `socket` or `events`.
    pub mode: &'a str,
    /// Extra `DESKBOT_*` variables.
    pub env: &'a [(&'a str, &'a str)],
    /// Extra `deskbot.toml` text (tables).
    pub extra: &'a str,
    /// The app's clock (the system clock when `None`).
    pub clock: Option<deskbot::service::Clock>,
    /// The intents directory (the starter pack when `None`).
    pub intents: Option<std::path::PathBuf>,
    /// `database_url` (SQLite in the data directory when `None`).
    pub database_url: Option<String>,
    /// Role grants recorded before the daemon starts.
    pub grants: Vec<deskbot::store::compliance::NewGrant>,
    /// The data directory, holding `deskbot.toml` (a fresh one when `None`).
    pub dir: Option<tempfile::TempDir>,
}

impl Default for SlackOpts<'_> {
    fn default() -> Self {
        SlackOpts {
            mode: "socket",
            env: &[],
            extra: "",
            clock: None,
            intents: None,
            database_url: None,
            grants: Vec::new(),
            dir: None,
        }
    }
}

pub struct SlackBot {
    pub fake: FakeSlack,
    pub mode: String,
    pub store: DynStore,
    /// The database's URL (`sqlite:…`), for tests that hold its lock.
    pub db_url: String,
    pub base: String,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), deskbot::app::AppError>>>,
    dir: tempfile::TempDir,
}

pub use super::free_port;

/// The queues, all worked in the agents' channel by Kim.
pub fn queues_toml() -> String {
    let mut c = String::new();
    for q in
        ["service-desk", "identity", "network", "hardware", "software", "access", "security", "facilities"]
    {
        c.push_str(&format!(
            "\n[[queue]]\nname = \"{q}\"\nchannel = {{ slack = \"{AGENTS}\" }}\nagents = [\"slack:{KIM}\"]\n"
        ));
    }
    c
}

impl SlackBot {
    pub async fn start(mode: &str) -> SlackBot {
        Self::start_with(mode, "").await
    }

    /// Start with extra `deskbot.toml` text (e.g. an `[intake]` table).
    pub async fn start_with(mode: &str, extra: &str) -> SlackBot {
        Self::start_env(mode, &[], extra).await
    }

    /// Start with extra `DESKBOT_*` variables and `deskbot.toml` text.
    pub async fn start_env(mode: &str, extra_env: &[(&str, &str)], extra: &str) -> SlackBot {
        Self::start_opts(SlackOpts { mode, env: extra_env, extra, ..SlackOpts::default() }).await
    }

    /// Start with everything [`SlackOpts`] sets.
    pub async fn start_opts(opts: SlackOpts<'_>) -> SlackBot {
        let SlackOpts { mode, env: extra_env, extra, clock, intents, database_url, grants, dir } = opts;
        let fake = FakeSlack::start().await;
        for (id, name) in [(ERIN, "Erin"), (BOB, "Bob"), (KIM, "Kim")] {
            fake.add_user(id, name);
        }
        let port = free_port();
        let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        // Settings come from the environment, as an operator would set them.
        let env: Vec<(String, String)> = [
            ("DESKBOT_SLACK_MODE", mode),
            ("DESKBOT_SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN),
            ("DESKBOT_SLACK_APP_TOKEN", fake_slack::APP_TOKEN),
            ("DESKBOT_SLACK_SIGNING_SECRET", fake_slack::SIGNING_SECRET),
            ("DESKBOT_SLACK_API_URL", fake.api_url.as_str()),
            ("DESKBOT_HTTP_ADDR", &format!("127.0.0.1:{port}")),
        ]
        .into_iter()
        .chain(extra_env.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut toml =
            format!("[outbox]\npoll_ms = 20\n[slack]\nsocket_connections = 1\n{}\n{extra}", queues_toml());
        if let Some(url) = database_url {
            toml = format!("database_url = \"{url}\"\n{toml}");
        }
        let file = dir.path().join("deskbot.toml");
        std::fs::write(&file, toml).unwrap();
        let mut config =
            Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &env)
                .unwrap();
        config.intents_dir = intents.unwrap_or_else(super::starter_pack);
        config.hot_reload = false;
        let app = match clock {
            Some(clock) => App::build_with_clock(config, clock).await.unwrap(),
            None => App::build(config).await.unwrap(),
        };
        if !grants.is_empty() {
            for grant in &grants {
                app.store.grant_role(grant, (app.clock)()).await.unwrap();
            }
            app.service.forget_grants().await;
        }
        let store = app.store.clone();
        let db_url = app.config.database_url();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app::run(app, Vec::new(), shutdown.clone()));
        let base = format!("http://127.0.0.1:{port}");
        let bot =
            SlackBot { fake, mode: mode.to_string(), store, db_url, base, shutdown, task: Some(task), dir };
        if mode == "socket" {
            bot.fake.wait_sockets(1).await;
        } else {
            for _ in 0..500 {
                if tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        bot
    }

    /// The data directory, holding `deskbot.toml` (and the SQLite database).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            let done = tokio::time::timeout(Duration::from_secs(10), t).await;
            assert!(matches!(done, Ok(Ok(Ok(())))), "deskbot did not stop cleanly: {done:?}");
        }
    }

    /// Deliver an event (`event_callback` body) the way this mode does; returns the callback.
    pub async fn event(&self, event: Value) -> Value {
        let cb = self.fake.callback(event);
        self.deliver_callback(&cb, Sign::Good).await;
        cb
    }

    /// Deliver an exact `event_callback` (to repeat one).
    pub async fn deliver_callback(&self, cb: &Value, sign: Sign) -> u16 {
        if self.mode == "socket" {
            let env = self.fake.envelope("events_api", cb.clone(), false);
            self.fake.wait_ack(&env).await;
            200
        } else {
            let (status, _) = self
                .fake
                .post_signed(&format!("{}/slack/events", self.base), "application/json", cb.to_string(), sign)
                .await;
            status
        }
    }

    /// An interaction payload (`block_actions`, `message_action`, `view_submission`).
    pub async fn interaction(&self, payload: Value) -> (u16, String) {
        if self.mode == "socket" {
            let env = self.fake.envelope("interactive", payload, true);
            let ack = self.fake.wait_ack(&env).await;
            (200, ack.get("payload").map(|p| p.to_string()).unwrap_or_default())
        } else {
            let body = form(&[("payload", &payload.to_string())]);
            self.fake
                .post_signed(
                    &format!("{}/slack/interactivity", self.base),
                    "application/x-www-form-urlencoded",
                    body,
                    Sign::Good,
                )
                .await
        }
    }

    /// A slash command invocation.
    pub async fn command(&self, user: &str, channel: &str, text: &str) -> (u16, String) {
        let trigger = format!("{}.{}.trigger", self.fake.ts().replace('.', ""), user);
        let fields: Vec<(&str, String)> = vec![
            ("token", "verification-token".into()),
            ("team_id", fake_slack::TEAM.into()),
            ("team_domain", "fake".into()),
            ("channel_id", channel.into()),
            ("channel_name", "general".into()),
            ("user_id", user.into()),
            ("user_name", user.to_lowercase()),
            ("command", "/helpdesk".into()),
            ("text", text.into()),
            ("api_app_id", fake_slack::APP_ID.into()),
            ("response_url", "https://hooks.slack.com/commands/T0FAKETEAM/1/abc".into()),
            ("trigger_id", trigger),
        ];
        if self.mode == "socket" {
            let payload: serde_json::Map<String, Value> =
                fields.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            let env = self.fake.envelope("slash_commands", Value::Object(payload), true);
            let ack = self.fake.wait_ack(&env).await;
            (200, ack.get("payload").map(|p| p.to_string()).unwrap_or_default())
        } else {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.fake
                .post_signed(
                    &format!("{}/slack/commands", self.base),
                    "application/x-www-form-urlencoded",
                    form(&pairs),
                    Sign::Good,
                )
                .await
        }
    }

    /// Wait until everything deskbot queued has been sent (the outbox is empty). Events are
    /// acknowledged only once committed, so after `event`/`interaction` returns this is the
    /// positive signal that nothing more will be posted for them.
    pub async fn settled(&self) {
        for _ in 0..500 {
            if self.store.outbox_depth().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the outbox did not empty: {} rows left", self.store.outbox_depth().await.unwrap());
    }

    /// Wait until `f` finds something in the fake's calls.
    pub async fn wait_for<T>(&self, what: &str, f: impl Fn(&[Call]) -> Option<T>) -> T {
        for _ in 0..500 {
            if let Some(t) = f(&self.fake.calls()) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}; calls: {:#?}", self.fake.calls());
    }

    /// Wait for a successful `chat.postMessage` to `channel` whose text contains `needle`.
    pub async fn wait_post(&self, channel: &str, needle: &str) -> Call {
        self.wait_for(&format!("a post in {channel} containing {needle:?}"), |calls| {
            calls
                .iter()
                .find(|c| {
                    c.method == "chat.postMessage"
                        && c.status == 200
                        && c.params["channel"] == channel
                        && c.params["text"]
                            .as_str()
                            .is_some_and(|t| t.to_lowercase().contains(&needle.to_lowercase()))
                })
                .cloned()
        })
        .await
    }

    /// Successful posts in `channel` (and thread, when given).
    pub fn posts_in(&self, channel: &str, thread: Option<&str>) -> Vec<Call> {
        self.fake
            .posts()
            .into_iter()
            .filter(|c| c.params["channel"] == channel && thread.is_none_or(|t| c.params["thread_ts"] == t))
            .collect()
    }
}

/// A message event as Slack sends it.
pub fn message(channel: &str, user: &str, text: &str, ts: &str, thread_ts: Option<&str>) -> Value {
    let mut m = json!({
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "client_msg_id": format!("{ts}-{user}"),
        "team": fake_slack::TEAM,
        "channel_type": if channel.starts_with('D') { "im" } else { "channel" },
    });
    if let Some(t) = thread_ts {
        m["thread_ts"] = json!(t);
        m["parent_user_id"] = json!(fake_slack::BOT_USER);
    }
    m
}

/// A `block_actions` payload: `user` pressed the button `id` on message `ts` in `channel`.
pub fn button(user: &str, channel: &str, ts: &str, thread_ts: Option<&str>, id: &str) -> Value {
    let mut message = json!({ "type": "message", "user": fake_slack::BOT_USER, "bot_id": fake_slack::BOT_ID, "text": "…", "ts": ts });
    if let Some(t) = thread_ts {
        message["thread_ts"] = json!(t);
    }
    json!({
        "type": "block_actions",
        "team": { "id": fake_slack::TEAM, "domain": "fake" },
        "user": { "id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": fake_slack::TEAM },
        "api_app_id": fake_slack::APP_ID,
        "token": "verification-token",
        "container": { "type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false },
        "trigger_id": format!("{ts}.{user}.trigger"),
        "channel": { "id": channel, "name": "somewhere" },
        "message": message,
        "response_url": "https://hooks.slack.com/actions/T0FAKETEAM/1/abc",
        "actions": [{
            "type": "button", "action_id": id, "block_id": "choices", "value": id,
            "text": { "type": "plain_text", "text": id, "emoji": true },
            "action_ts": format!("{}.000200", &ts[..10]),
        }],
    })
}
