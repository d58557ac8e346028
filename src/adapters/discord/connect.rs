//! Starting the Discord channel from config: serenity's REST client (through
//! `DESKBOT_DISCORD_API_URL` when set), the gateway client in a tracked task that stops on
//! shutdown, command registration, the outbox channel and the interactions route.

use super::commands;
use super::config::DiscordConfig;
use super::endpoint;
use super::gateway::Handler;
use super::places::Places;
use super::send::DiscordChannel;
use super::{Adapter, intents};
use crate::domain::Channel;
use crate::domain::status::ChannelStatuses;
use crate::service::Service;
use secrecy::ExposeSecret;
use serenity::all::ApplicationId;
use serenity::http::HttpBuilder;
use serenity::interactions_endpoint::Verifier;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A started Discord channel.
pub struct Discord {
    pub channel: Arc<dyn Channel>,
    /// `/discord/interactions`, to mount on deskbot's HTTP server.
    pub router: axum::Router,
    /// The gateway URL serenity got from the REST API.
    pub ws_url: String,
    pub adapter: Arc<Adapter>,
}

/// The longest one Discord REST call may take, and its connection setup.
const REST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const REST_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn start(
    service: Arc<Service>,
    cfg: &DiscordConfig,
    statuses: Arc<ChannelStatuses>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<Discord, String> {
    let s = cfg.settings()?;
    // Every REST call is bounded (serenity's own client has no timeout).
    let rest = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(REST_CONNECT_TIMEOUT)
        .timeout(REST_TIMEOUT)
        .build()
        .map_err(|e| format!("discord: cannot build the HTTP client: {e}"))?;
    let mut http = HttpBuilder::new(s.token.expose_secret())
        .client(rest)
        .application_id(ApplicationId::new(s.application_id))
        // Nobody is pinged by anything deskbot sends, whichever builder forgets to say so.
        .default_allowed_mentions(serenity::all::CreateAllowedMentions::new());
    if let Some(url) = &s.api_url {
        // A proxy does the rate limiting for every process behind it.
        http = http.proxy(url.clone()).ratelimiter_disabled(true);
    }
    let places = Arc::new(Places::default());
    // REST and gateway share one `Http` (and so one rate limiter).
    let client = serenity::all::ClientBuilder::new_with_http(http.build(), intents());
    let verifier = Verifier::try_new(s.public_key).map_err(|e| format!("discord: bad public_key: {e}"))?;
    // The adapter needs the client's `Http`, which exists once the client is built; the
    // handler reaches the adapter through this cell.
    let cell: Arc<std::sync::OnceLock<Arc<Adapter>>> = Arc::new(std::sync::OnceLock::new());
    let mut client = client
        .event_handler(Handler { adapter: cell.clone() })
        .await
        .map_err(|e| format!("discord: cannot build the client: {e}"))?;
    let adapter = Arc::new(Adapter::new(service, client.http.clone(), places.clone(), statuses));
    let _ = cell.set(adapter.clone());
    let ws_url = client.ws_url.lock().await.clone();
    tracing::info!(gateway = %ws_url, "discord gateway url");
    adapter.status(false, "connecting");
    let http = client.http.clone();
    let (register, guilds) = (s.register_commands, s.guilds.clone());
    let manager = client.shard_manager.clone();
    tracker.spawn(async move {
        if register && let Err(e) = commands::register(&http, &guilds).await {
            tracing::error!(error = %e, "cannot register the discord commands");
        }
        tokio::select! {
            r = client.start() => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "discord gateway stopped");
                }
            }
            _ = shutdown.cancelled() => manager.shutdown_all().await,
        }
    });
    let router = endpoint::router(adapter.clone(), verifier);
    let channel: Arc<dyn Channel> = Arc::new(DiscordChannel::new(adapter.http.clone(), places));
    Ok(Discord { channel, router, ws_url, adapter })
}
