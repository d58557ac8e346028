//! Delivering outbox rows to Discord through serenity's REST client: messages (split past
//! 2,000 characters, sent with an enforced nonce derived from the outbox key), ticket cards
//! with buttons and a thread started on them, card edits, thread replies and reactions. Every
//! message created or edited carries empty `allowed_mentions` (nobody is pinged), and
//! user-written spans are escaped (`text::render`).

use super::places::{Place, Places};
use super::text::{MAX_CONTENT, button_rows, nonce, render, short, split};
use crate::desk::cards::card_text;
use crate::domain::{Address, Platform};
use crate::domain::{Channel, Delivered, Outbound, OutboundKind, SendError, TicketCard};
use async_trait::async_trait;
use serenity::all::{
    AutoArchiveDuration, ChannelId, ChannelType, CreateAllowedMentions, CreateForumPost, CreateMessage,
    CreateThread, EditMessage, MessageId, Nonce, ReactionType, UserId,
};
use serenity::http::{Http, HttpError};
use std::sync::Arc;

/// Discord's "a thread has already been created for this message".
const THREAD_EXISTS: isize = 160004;
/// Wait before retrying a 429 Discord sent without a usable `retry_after` (serenity's
/// rate limiter handles the ones with it; behind a proxy the proxy does).
const DEFAULT_RETRY_AFTER_MS: u64 = 2_000;
/// Prefix of an address that means "this user's DMs", opened when first needed.
pub use crate::domain::DM_PREFIX;
/// Thread name used when nothing better is known.
const DEFAULT_THREAD_NAME: &str = "IT help";

pub struct DiscordChannel {
    http: Arc<Http>,
    places: Arc<Places>,
}

impl DiscordChannel {
    pub fn new(http: Arc<Http>, places: Arc<Places>) -> Self {
        Self { http, places }
    }

    /// The channel id an address names (`dm:USER` opens or finds that user's DM channel).
    async fn channel_of(&self, channel: &str) -> Result<ChannelId, SendError> {
        if let Some(user) = channel.strip_prefix(DM_PREFIX) {
            let user = id(user)?;
            if let Some(c) = self.places.dm_of(user) {
                return Ok(ChannelId::new(c));
            }
            let dm = UserId::new(user).create_dm_channel(&*self.http).await.map_err(classify)?;
            self.places.set_dm(user, dm.id.get());
            return Ok(dm.id);
        }
        Ok(ChannelId::new(id(channel)?))
    }

    /// Where a message to `to` goes: the thread when set (started on the message of that id
    /// first if it does not exist yet), else the channel.
    async fn target(&self, to: &Address) -> Result<ChannelId, SendError> {
        let parent = self.channel_of(&to.channel).await?;
        let Some(thread) = &to.thread else { return Ok(parent) };
        let thread = id(thread)?;
        if matches!(self.places.get(thread), Some(Place::Thread { .. })) {
            return Ok(ChannelId::new(thread));
        }
        let name = self.places.thread_name(thread).unwrap_or_else(|| DEFAULT_THREAD_NAME.into());
        self.start_thread(parent, thread, &name).await?;
        Ok(ChannelId::new(thread))
    }

    /// Start a thread on a message (a thread started on a message has the message's id).
    async fn start_thread(&self, parent: ChannelId, message: u64, name: &str) -> Result<(), SendError> {
        let builder = CreateThread::new(short(name, 100)).auto_archive_duration(AutoArchiveDuration::OneWeek);
        match parent.create_thread_from_message(&*self.http, MessageId::new(message), builder).await {
            Ok(_) => {}
            Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(r)))
                if r.error.code == THREAD_EXISTS => {}
            Err(e) => return Err(classify(e)),
        }
        self.places.set(message, Place::Thread { parent: parent.get(), ours: true });
        Ok(())
    }

    /// Post text (in as many parts as needed; buttons go on the last) and return the id of
    /// the first part.
    async fn post(&self, key: &str, channel: ChannelId, m: &Outbound) -> Result<u64, SendError> {
        let parts = split(&render(&m.text), MAX_CONTENT);
        let last = parts.len().saturating_sub(1);
        let mut first = None;
        for (i, part) in parts.into_iter().enumerate() {
            let mut b = CreateMessage::new()
                .content(part)
                .nonce(Nonce::String(nonce(key, i)))
                .enforce_nonce(true)
                .allowed_mentions(CreateAllowedMentions::new());
            if i == last && !m.choices.is_empty() {
                b = b.components(button_rows(&m.choices));
            }
            let sent = channel.send_message(&*self.http, b).await.map_err(classify)?;
            first.get_or_insert(sent.id.get());
        }
        first.ok_or_else(|| SendError::Permanent("nothing to send".into()))
    }

    /// Whether a queue's channel is a forum (asked once, then remembered).
    async fn is_forum(&self, channel: ChannelId) -> Result<bool, SendError> {
        match self.places.get(channel.get()) {
            Some(Place::Forum) => return Ok(true),
            Some(_) => return Ok(false),
            None => {}
        }
        let forum = match self.http.get_channel(channel).await.map_err(classify)? {
            serenity::all::Channel::Guild(gc) => gc.kind == ChannelType::Forum,
            _ => false,
        };
        self.places.set(channel.get(), if forum { Place::Forum } else { Place::Channel });
        Ok(forum)
    }

    /// A card: a message with buttons and a thread started on it, or in a forum channel a
    /// post (a thread whose first message is the card; it has the thread's id).
    async fn card(&self, key: &str, m: &Outbound, card: &TicketCard) -> Result<u64, SendError> {
        let channel = self.channel_of(&m.to.channel).await?;
        let body = card_body(m, card);
        let b = CreateMessage::new()
            .content(body)
            .nonce(Nonce::String(nonce(key, 0)))
            .enforce_nonce(true)
            .allowed_mentions(CreateAllowedMentions::new())
            .components(button_rows(&m.choices));
        let name = short(&format!("{} {}", card.number, crate::usertext::plain(&card.title)), 100);
        if self.is_forum(channel).await? {
            let post = CreateForumPost::new(name, b).auto_archive_duration(AutoArchiveDuration::OneWeek);
            let thread = channel.create_forum_post(&*self.http, post).await.map_err(classify)?;
            self.places.set(thread.id.get(), Place::Thread { parent: channel.get(), ours: true });
            return Ok(thread.id.get());
        }
        let sent = channel.send_message(&*self.http, b).await.map_err(classify)?;
        self.start_thread(channel, sent.id.get(), &name).await?;
        Ok(sent.id.get())
    }

    async fn edit_card(&self, m: &Outbound, card: &TicketCard) -> Result<u64, SendError> {
        let channel = self.channel_of(&m.to.channel).await?;
        let message =
            m.to.thread
                .as_deref()
                .ok_or_else(|| SendError::Permanent("card update without the card's id".into()))?;
        let b = EditMessage::new()
            .content(card_body(m, card))
            .allowed_mentions(CreateAllowedMentions::new())
            .components(button_rows(&m.choices));
        // A forum post's first message lives in the post's own thread.
        let channel = if self.is_forum(channel).await? { ChannelId::new(id(message)?) } else { channel };
        let edited =
            channel.edit_message(&*self.http, MessageId::new(id(message)?), b).await.map_err(classify)?;
        Ok(edited.id.get())
    }

    /// React to a message. A message inside a thread lives in the thread's channel; the
    /// message a thread was started on (same id as the thread) lives in the parent.
    async fn react(&self, to: &Address, emoji: &str, message: &str) -> Result<(), SendError> {
        let channel = match &to.thread {
            Some(t) if t != message => ChannelId::new(id(t)?),
            _ => self.channel_of(&to.channel).await?,
        };
        let unicode = super::emoji_unicode(emoji)
            .ok_or_else(|| SendError::Permanent(format!("no emoji named `{emoji}`")))?;
        channel
            .create_reaction(&*self.http, MessageId::new(id(message)?), ReactionType::Unicode(unicode.into()))
            .await
            .map_err(classify)
    }
}

fn card_body(m: &Outbound, card: &TicketCard) -> String {
    let text = if m.text.trim().is_empty() { card_text(card) } else { m.text.clone() };
    let text = render(&text);
    split(&text, MAX_CONTENT).into_iter().next().unwrap_or_default()
}

/// A snowflake from an address part; anything else is a configuration mistake.
fn id(s: &str) -> Result<u64, SendError> {
    super::config::parse_snowflake(s)
        .ok_or_else(|| SendError::Permanent(format!("`{s}` is not a Discord channel, user or message id")))
}

/// What a failed REST call means for the outbox.
pub fn classify(e: serenity::Error) -> SendError {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            let what =
                format!("discord answered {status} to {} {}: {}", r.method, path_of(&r.url), r.error.message);
            match status {
                429 => SendError::RateLimited { retry_after_ms: DEFAULT_RETRY_AFTER_MS },
                408 | 500..=599 => SendError::Temporary(what),
                _ => SendError::Permanent(what),
            }
        }
        serenity::Error::Http(HttpError::Request(e)) => {
            // The URL can carry an interaction token: leave it out.
            SendError::Temporary(format!("discord unreachable: {}", e.without_url()))
        }
        serenity::Error::Http(e) => SendError::Permanent(format!("discord request failed: {e}")),
        serenity::Error::Model(e) => SendError::Permanent(format!("discord refused the message: {e}")),
        serenity::Error::Json(e) => {
            SendError::Temporary(format!("discord: unreadable JSON ({:?})", e.classify()))
        }
        _ => SendError::Temporary("discord: client error".into()),
    }
}

/// The path of a REST URL for logs: no query, and long segments (interaction and webhook
/// tokens) replaced by `…`.
fn path_of(url: &str) -> String {
    let no_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = no_scheme.find('/').map(|i| &no_scheme[i..]).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    path.split('/').map(|s| if s.len() > 40 { "…" } else { s }).collect::<Vec<_>>().join("/")
}

#[async_trait]
impl Channel for DiscordChannel {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn send(&self, key: &str, m: &Outbound) -> Result<Delivered, SendError> {
        let message_id = match &m.kind {
            OutboundKind::Message | OutboundKind::ThreadReply { .. } => {
                let channel = self.target(&m.to).await?;
                Some(self.post(key, channel, m).await?)
            }
            // A bot's ephemeral message exists only as an interaction's answer: a DM otherwise.
            OutboundKind::Private { user } => {
                let dm = Address::new(Platform::Discord, format!("{DM_PREFIX}{user}"));
                let channel = self.target(&dm).await?;
                Some(self.post(key, channel, m).await?)
            }
            OutboundKind::Card { card } => Some(self.card(key, m, card).await?),
            OutboundKind::CardUpdate { card } => Some(self.edit_card(m, card).await?),
            OutboundKind::Reaction { emoji, message } => {
                self.react(&m.to, emoji, message).await?;
                None
            }
            OutboundKind::Webhook { .. } => {
                return Err(SendError::Permanent("webhook events are not sent to Discord".into()));
            }
        };
        Ok(Delivered { message_id: message_id.map(|i| i.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_paths_drop_the_host_and_query() {
        assert_eq!(
            super::path_of("https://discord.com/api/v10/channels/1/messages?x=y"),
            "/api/v10/channels/1/messages"
        );
        assert_eq!(super::path_of("nonsense"), "/");
        let token = "a".repeat(150);
        assert_eq!(
            super::path_of(&format!("https://discord.com/api/v10/interactions/12/{token}/callback")),
            "/api/v10/interactions/12/…/callback"
        );
    }
}
