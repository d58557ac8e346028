//! The Slack channel, through slack-morphism: `config.rs` (the `[slack]` settings),
//! `socket.rs` (Socket Mode) and `events.rs` (the signed Events API endpoints) receive;
//! `dispatch.rs` and `handler.rs` turn payloads into `Inbound`s and commit them; `send.rs`
//! delivers the outbox; `blocks.rs` builds Block Kit; `names.rs` caches display names;
//! `people.rs` finds people by email for the portal.

pub mod blocks;
pub mod calls;
pub mod config;
mod dispatch;
mod events;
pub mod handler;
mod names;
pub mod people;
pub mod send;
mod socket;

pub use config::{SlackConfig, SlackMode, SlackSettings};
pub use send::SlackChannel;

use crate::domain::Channel;
use crate::domain::status::ChannelStatuses;
use crate::service::Service;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use secrecy::ExposeSecret;
use slack_morphism::prelude::*;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub type HttpsConn = HttpsConnector<HttpConnector>;
pub type Connector = SlackClientHyperConnector<HttpsConn>;
pub type Client = SlackClient<Connector>;

/// The bot scopes deskbot uses (`deploy/slack-app-manifest.yaml` asks for exactly these).
pub const BOT_SCOPES: &[&str] = &[
    "app_mentions:read", // app_mention
    "channels:history",  // message.channels, conversations.history / replies
    "channels:read",     // conversations.info (request channels by name)
    "chat:write",        // chat.postMessage, chat.update
    "commands",          // the slash command and the message shortcut
    "groups:history",    // message.groups, conversations.history in private channels
    "groups:read",       // conversations.info for private channels
    "im:history",        // message.im
    "im:write",          // conversations.open
    "reactions:read",    // reaction_added
    "reactions:write",   // reactions.add
    "users:read",        // users.info
    "users:read.email",  // users.lookupByEmail (portal sign-in with the company's identity provider)
];

/// The events deskbot subscribes to.
pub const BOT_EVENTS: &[&str] =
    &["app_home_opened", "app_mention", "message.channels", "message.groups", "message.im", "reaction_added"];

/// Reports the connection's state to `/readyz` (as channel `slack`).
#[derive(Clone)]
pub struct StatusHandle(Arc<ChannelStatuses>);

impl StatusHandle {
    pub fn new(statuses: Arc<ChannelStatuses>) -> Self {
        Self(statuses)
    }
    pub fn up(&self, detail: &str) {
        self.0.set("slack", true, detail)
    }
    pub fn down(&self, detail: &str) {
        self.0.set("slack", false, detail)
    }
}

/// How long opening a connection to Slack may take (each call is bounded as a whole too).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A Web API client for `api_url` (`https://slack.com/api`, or a proxy / fake, http allowed).
pub fn client(api_url: &str) -> Result<Arc<Client>, String> {
    // Both rustls providers may be linked; pick one before building any TLS config.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot load the system's CA certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url);
    Ok(Arc::new(SlackClient::new(connector)))
}

/// A running Slack channel: the outbox delivers through `channel`; in Events API mode
/// `routes` go on deskbot's HTTP server.
pub struct Started {
    pub channel: Arc<dyn Channel>,
    pub routes: Option<axum::Router>,
    /// The workspace's people by email, for the portal's identity-provider sign-in.
    pub people: Arc<dyn crate::service::oidc::PeopleByEmail>,
}

/// Log in (`auth.test`), then start receiving in the configured mode until `cancel`.
pub async fn start(
    service: &Arc<Service>,
    settings: &SlackSettings,
    status: StatusHandle,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> Result<Started, String> {
    let client = client(&settings.api_url)?;
    let token = SlackApiToken::new(SlackApiTokenValue::new(settings.bot_token.expose_secret().to_string()));
    let session = client.open_session(&token);
    let me = match calls::bounded(settings.api_timeout, session.auth_test()).await {
        Ok(me) => me,
        Err(e) => {
            let why = e.kind();
            status.down(&format!("auth.test failed: {why}"));
            return Err(format!("Slack login (auth.test) failed: {why}"));
        }
    };
    tracing::info!(team = %me.team, bot_user = %me.user_id, mode = config::mode_name(settings.mode), "logged in to Slack");
    let handler = Arc::new(handler::Handler {
        service: service.clone(),
        client: client.clone(),
        token: token.clone(),
        bot_user: me.user_id.to_string(),
        bot_id: me.bot_id.as_ref().map(|b| b.to_string()),
        names: names::Names::new(client.clone(), token.clone(), settings.api_timeout),
        channel_names: Default::default(),
        slash_command: settings.slash_command.clone(),
        api_timeout: settings.api_timeout,
        order: Default::default(),
    });
    let channel: Arc<dyn Channel> =
        Arc::new(SlackChannel::new(client.clone(), token.clone(), settings.api_timeout));
    let people = Arc::new(people::SlackPeople::new(client.clone(), token, settings.api_timeout));
    let routes = match settings.mode {
        SlackMode::Socket => {
            let app_token =
                settings.app_token.as_ref().ok_or("slack.app_token is not set (DESKBOT_SLACK_APP_TOKEN)")?;
            let app_token =
                SlackApiToken::new(SlackApiTokenValue::new(app_token.expose_secret().to_string()));
            socket::start(client, handler, status, app_token, settings.socket_connections, tracker, cancel)
                .await?;
            None
        }
        SlackMode::Events => {
            let secret = settings
                .signing_secret
                .as_ref()
                .ok_or("slack.signing_secret is not set (DESKBOT_SLACK_SIGNING_SECRET)")?;
            let secret = SlackSigningSecret::new(secret.expose_secret().to_string());
            status.up("events API ready");
            Some(events::routes(client, handler, &secret))
        }
    };
    Ok(Started { channel, routes, people })
}
