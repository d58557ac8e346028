//! The Discord channel, through serenity: `gateway.rs` turns gateway events (messages,
//! reactions, threads) into `Inbound`s, `interactions.rs` slash commands, buttons and modals,
//! `endpoint.rs` the signed `/discord/interactions` HTTP endpoint, `send.rs` delivers outbox
//! rows, `commands.rs` registers the application commands, `places.rs` remembers what channel
//! ids are, `text.rs` splits long messages. `config.rs` is the `[discord]` table and
//! `connect.rs` starts it all from config for `deskbot run`.

pub mod commands;
pub mod config;
pub mod connect;
pub mod endpoint;
pub mod gateway;
pub mod interactions;
pub mod places;
pub mod send;
pub mod text;

pub use config::DiscordConfig;
pub use send::DiscordChannel;

use crate::domain::Platform;
use crate::domain::status::ChannelStatuses;
use crate::service::Service;
use places::{Place, Places};
use serenity::all::{ChannelId, ChannelType};
use serenity::http::Http;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The gateway intents deskbot needs.
pub fn intents() -> serenity::all::GatewayIntents {
    use serenity::all::GatewayIntents as I;
    I::GUILDS
        | I::GUILD_MESSAGES
        | I::DIRECT_MESSAGES
        | I::MESSAGE_CONTENT
        | I::GUILD_MESSAGE_REACTIONS
        | I::DIRECT_MESSAGE_REACTIONS
}

/// What the Discord adapter needs to turn events into `Inbound`s and hand them on.
pub struct Adapter {
    pub(crate) service: Arc<Service>,
    pub(crate) http: Arc<Http>,
    pub(crate) places: Arc<Places>,
    /// The bot's own user id, from READY (0 until then).
    me: AtomicU64,
    /// The queues' agents' channels on Discord.
    queue_channels: HashSet<u64>,
    statuses: Arc<ChannelStatuses>,
    /// Each channel's messages are handed on in the order they were posted.
    pub(crate) order: crate::adapters::order::ChannelOrder,
}

impl Adapter {
    pub fn new(
        service: Arc<Service>,
        http: Arc<Http>,
        places: Arc<Places>,
        statuses: Arc<ChannelStatuses>,
    ) -> Self {
        let queue_channels = service
            .desk()
            .queues
            .values()
            .filter_map(|q| q.cfg.channel.get(&Platform::Discord))
            .filter_map(|c| config::parse_snowflake(c))
            .collect();
        Self {
            service,
            http,
            places,
            me: AtomicU64::new(0),
            queue_channels,
            statuses,
            order: Default::default(),
        }
    }

    /// Report the gateway's state for `/readyz`.
    pub(crate) fn status(&self, up: bool, detail: &str) {
        self.statuses.set(gateway::STATUS_NAME, up, detail);
    }

    pub fn me(&self) -> u64 {
        self.me.load(Ordering::Relaxed)
    }

    pub fn set_me(&self, id: u64) {
        self.me.store(id, Ordering::Relaxed);
    }

    pub fn is_queue_channel(&self, channel: u64) -> bool {
        self.queue_channels.contains(&channel)
    }

    /// What a channel is: known, configured, or asked from Discord once and remembered.
    pub async fn place_of(&self, channel: u64, in_guild: bool) -> Place {
        if !in_guild {
            return Place::Dm;
        }
        if let Some(p) = self.places.get(channel) {
            return p;
        }
        if self.is_queue_channel(channel) {
            return Place::Channel;
        }
        let place = match self.http.get_channel(ChannelId::new(channel)).await {
            Ok(serenity::all::Channel::Guild(gc))
                if matches!(
                    gc.kind,
                    ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread
                ) =>
            {
                match gc.parent_id {
                    Some(parent) => Place::Thread {
                        parent: parent.get(),
                        ours: gc.owner_id.is_some_and(|o| o.get() == self.me()),
                    },
                    None => Place::Channel,
                }
            }
            Ok(serenity::all::Channel::Guild(gc)) if gc.kind == ChannelType::Forum => Place::Forum,
            Ok(serenity::all::Channel::Guild(gc)) => {
                self.places.set_name(channel, gc.name.clone());
                Place::Channel
            }
            Ok(serenity::all::Channel::Private(_)) => Place::Dm,
            Ok(_) => Place::Channel,
            Err(e) => {
                tracing::warn!(channel, error = %send::classify(e), "cannot look up a Discord channel");
                return Place::Channel;
            }
        };
        self.places.set(channel, place.clone());
        place
    }
}

/// Unicode for an emoji name deskbot uses (`eyes` → 👀).
pub(crate) fn emoji_unicode(name: &str) -> Option<&'static str> {
    crate::service::intake::emoji_unicode(name)
}
