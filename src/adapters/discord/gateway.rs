//! The gateway side: serenity's client (it resumes after a dropped socket and replays missed
//! events; the store's dedupe on the message or interaction id absorbs the replays) and the
//! event handler that turns messages, reactions and interactions into `Inbound`s.

use super::Adapter;
use super::places::Place;
use crate::domain::{Attachment, ChatEvent, FetchedMessage, Input, Platform};
use crate::service::router::{Lookup, RouteError, Taken};
use crate::service::{Handled, safe_reply};
use async_trait::async_trait;
use serenity::all::{
    Context, CreateInteractionResponse, EventHandler, GuildChannel, Interaction, Message, MessageType,
    Reaction, ReactionType, Ready, ResumedEvent,
};
use serenity::gateway::{ConnectionStage, ShardStageUpdateEvent};
use std::sync::Arc;

/// The name the readiness report uses for this channel.
pub const STATUS_NAME: &str = "discord";

/// serenity's event handler; the adapter is set right after the client is built.
pub struct Handler {
    pub adapter: Arc<std::sync::OnceLock<Arc<Adapter>>>,
}

impl Handler {
    fn adapter(&self) -> Option<&Arc<Adapter>> {
        self.adapter.get()
    }
}

pub(crate) fn attachments(m: &Message) -> Vec<Attachment> {
    m.attachments
        .iter()
        .map(|a| Attachment { name: a.filename.clone(), size: u64::from(a.size), url: Some(a.url.clone()) })
        .collect()
}

/// The text with mentions of `me` removed.
fn without_mention(text: &str, me: u64) -> String {
    text.replace(&format!("<@{me}>"), " ").replace(&format!("<@!{me}>"), " ").trim().to_string()
}

impl Adapter {
    fn mentions_me(&self, m: &Message) -> bool {
        let me = self.me();
        me != 0
            && (m.mentions.iter().any(|u| u.id.get() == me)
                || m.content.contains(&format!("<@{me}>"))
                || m.content.contains(&format!("<@!{me}>")))
    }

    pub async fn on_message(&self, m: Message) {
        if m.author.bot || m.author.id.get() == self.me() {
            return;
        }
        // People's messages only, not system notices (pins, joins, thread announcements).
        if !matches!(m.kind, MessageType::Regular | MessageType::InlineReply) {
            return;
        }
        let channel = m.channel_id.get();
        // Snowflakes grow with time: a later message of the channel waits for this one.
        let _turn = self.order.enter(&channel.to_string(), u128::from(m.id.get())).await;
        let user = m.author.id.get();
        let nick = m.member.as_ref().and_then(|mm| mm.nick.clone());
        let name = nick.or_else(|| m.author.global_name.clone()).unwrap_or_else(|| m.author.name.clone());
        let text = without_mention(&m.content, self.me());
        if text.is_empty() && m.attachments.is_empty() {
            return;
        }
        let place = self.place_of(channel, m.guild_id.is_some()).await;
        if place == Place::Dm {
            self.places.set_dm(user, channel);
        }
        let Some(place) = self.chat_place(channel, place) else { return };
        let event = ChatEvent {
            platform: Platform::Discord,
            place,
            sender: user.to_string(),
            sender_name: Some(name),
            // When it was posted, to the millisecond (the owner rule orders a thread's messages
            // by it; the gateway's events are handled side by side).
            at: i64::try_from(m.timestamp.unix_timestamp_nanos() / 1_000_000)
                .unwrap_or_else(|_| self.service.now()),
            input: Input::Message {
                id: m.id.to_string(),
                text,
                mentions_bot: self.mentions_me(&m),
                attachments: attachments(&m),
            },
        };
        self.take_gateway(event).await;
    }

    /// The router's view of a channel: a DM, a thread (with its parent and whether deskbot
    /// started it) or a channel; forums hold no messages of their own.
    pub(crate) fn chat_place(&self, channel: u64, place: Place) -> Option<crate::domain::Place> {
        use crate::domain::Place as P;
        Some(match place {
            Place::Dm => P::Direct { channel: channel.to_string(), thread: None },
            Place::Thread { parent, ours } => {
                P::Thread { channel: parent.to_string(), thread: channel.to_string(), bot_started: ours }
            }
            Place::Channel => P::Channel { channel: channel.to_string(), name: self.places.name_of(channel) },
            Place::Forum => return None,
        })
    }

    /// Hand a gateway event to the router. The gateway never delivers an event again, so a
    /// failure here loses it: an ERROR and `deskbot_events_lost_total`. A refusal is sent to
    /// the person by DM (Discord shows a bot's ephemeral messages only as interaction answers).
    pub(crate) async fn take_gateway(&self, event: ChatEvent) {
        let sender = event.sender.clone();
        let what = event_name(&event);
        match self.service.take(event, self).await {
            Ok(taken) => {
                if taken == Taken::Handled(Handled::Duplicate) {
                    tracing::debug!(event = %what, "discord event seen before; ignored");
                }
                if let Some(note) = taken.private_note() {
                    self.tell_by_dm(&sender, note).await;
                }
            }
            Err(RouteError::Service(e)) => {
                tracing::error!(event = %what, error = crate::service::error_kind(&e), "discord event not handled");
                crate::observe::event_lost("discord", &what, crate::service::error_kind(&e));
            }
            Err(RouteError::Platform(kind)) => crate::observe::event_lost("discord", &what, &kind),
        }
    }

    /// A short private note by DM (a courtesy: a failure is logged, not retried).
    async fn tell_by_dm(&self, user: &str, note: &str) {
        let Some(user) = super::config::parse_snowflake(user) else { return };
        let result = async {
            let dm = serenity::all::UserId::new(user).create_dm_channel(&*self.http).await?;
            let message = serenity::all::CreateMessage::new()
                .content(note)
                .allowed_mentions(serenity::all::CreateAllowedMentions::new());
            dm.id.send_message(&*self.http, message).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %super::send::classify(e), "cannot send a private note by DM");
        }
    }

    pub async fn on_reaction(&self, r: Reaction) {
        let Some(user) = r.user_id else { return };
        if user.get() == self.me() {
            return;
        }
        let emoji = match &r.emoji {
            ReactionType::Unicode(u) => {
                crate::service::intake::emoji_name(u).map(str::to_string).unwrap_or_else(|| u.clone())
            }
            ReactionType::Custom { name: Some(n), .. } => n.clone(),
            _ => return,
        };
        let channel = r.channel_id.get();
        let place = self.place_of(channel, r.guild_id.is_some()).await;
        let Some(place) = self.chat_place(channel, place) else { return };
        let name = r.member.as_ref().map(|m| {
            m.nick.clone().or_else(|| m.user.global_name.clone()).unwrap_or_else(|| m.user.name.clone())
        });
        let event = ChatEvent {
            platform: Platform::Discord,
            place,
            sender: user.to_string(),
            sender_name: name,
            at: self.service.now(),
            input: Input::Reaction { message: r.message_id.to_string(), emoji, author: None },
        };
        self.take_gateway(event).await;
    }

    /// Plan, commit, then answer an interaction from the gateway. A replayed interaction
    /// (same id) is neither committed nor answered twice.
    pub async fn on_interaction(&self, interaction: Interaction) {
        let id = interaction.id();
        let token = interaction.token().to_string();
        if !self.places.first_sight(&format!("interaction:{id}")) {
            tracing::debug!(interaction = %id, "interaction seen before; ignored");
            return;
        }
        let Some(plan) = self.plan(&interaction).await else { return };
        let response = self.commit_plan(plan).await;
        if let Err(e) = self.http.create_interaction_response(id, &token, &response, Vec::new()).await {
            let error = super::send::classify(e);
            tracing::warn!(interaction = %id, %error, "cannot answer the interaction");
        }
    }

    /// Take a plan's event; the response to send (the router's private note, the reply form,
    /// or an apology if the commit failed).
    pub async fn commit_plan(&self, plan: super::interactions::Plan) -> CreateInteractionResponse {
        let Some(event) = plan.event else { return plan.response };
        let lookup = Preloaded { adapter: self, message: plan.preloaded };
        match self.service.take(event, &lookup).await {
            Ok(Taken::OpenReplyForm { ticket, .. }) => super::interactions::reply_form(ticket),
            Ok(taken) => match taken.private_note() {
                Some(note) => super::interactions::say(note),
                None => plan.response,
            },
            Err(RouteError::Service(e)) => {
                tracing::error!(error = crate::service::error_kind(&e), "discord interaction not handled");
                super::interactions::say(safe_reply(&e))
            }
            Err(RouteError::Platform(kind)) => {
                tracing::warn!(error = %kind, "discord interaction needs a message Discord did not return");
                super::interactions::say("Discord did not return that message just now; please try again.")
            }
        }
    }
}

/// A short name for an event in log lines (ids only, never text).
fn event_name(ev: &ChatEvent) -> String {
    match &ev.input {
        Input::Message { id, .. } => format!("message:{id}"),
        Input::Reaction { message, emoji, .. } => format!("reaction:{message}:{}:{emoji}", ev.sender),
        Input::Button { delivery, .. }
        | Input::FileMessage { delivery, .. }
        | Input::TicketForm { delivery, .. }
        | Input::ReplyForm { delivery, .. }
        | Input::Command { delivery, .. }
        | Input::TicketAction { delivery, .. } => format!("interaction:{delivery}"),
    }
}

/// A Discord message as the router reads it.
pub(crate) fn fetched(m: &Message) -> FetchedMessage {
    FetchedMessage {
        text: m.content.clone(),
        author: Some(m.author.id.to_string()),
        author_name: Some(m.author.global_name.clone().unwrap_or_else(|| m.author.name.clone())),
        author_is_bot: m.author.bot,
        thread: None,
        attachments: attachments(m),
    }
}

#[async_trait]
impl Lookup for Adapter {
    async fn message(&self, channel: &str, id: &str) -> Result<Option<FetchedMessage>, String> {
        let (Some(channel), Some(id)) =
            (super::config::parse_snowflake(channel), super::config::parse_snowflake(id))
        else {
            return Ok(None);
        };
        let channel = serenity::all::ChannelId::new(channel);
        match channel.message(&*self.http, serenity::all::MessageId::new(id)).await {
            Ok(m) => Ok(Some(fetched(&m))),
            Err(serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(r)))
                if r.status_code.as_u16() == 404 =>
            {
                Ok(None)
            }
            Err(e) => Err(super::send::classify(e).to_string()),
        }
    }

    async fn channel_name(&self, channel: &str) -> Option<String> {
        self.places.name_of(super::config::parse_snowflake(channel)?)
    }

    async fn display_name(&self, _user: &str) -> Option<String> {
        None
    }

    fn thread_title(&self, _channel: &str, message: &str, title: &str) {
        if let Some(m) = super::config::parse_snowflake(message) {
            self.places.name_thread(m, title.to_string());
        }
    }
}

/// The adapter, with the message an interaction carried (Discord resolves a message command's
/// target into its payload): read from there instead of asking again.
struct Preloaded<'a> {
    adapter: &'a Adapter,
    message: Option<(String, FetchedMessage)>,
}

#[async_trait]
impl Lookup for Preloaded<'_> {
    async fn message(&self, channel: &str, id: &str) -> Result<Option<FetchedMessage>, String> {
        match &self.message {
            Some((known, m)) if known == id => Ok(Some(m.clone())),
            _ => self.adapter.message(channel, id).await,
        }
    }

    async fn channel_name(&self, channel: &str) -> Option<String> {
        self.adapter.channel_name(channel).await
    }

    async fn display_name(&self, user: &str) -> Option<String> {
        self.adapter.display_name(user).await
    }

    fn thread_title(&self, channel: &str, message: &str, title: &str) {
        self.adapter.thread_title(channel, message, title);
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        let Some(a) = self.adapter() else { return };
        a.set_me(ready.user.id.get());
        tracing::info!(user = %ready.user.id, guilds = ready.guilds.len(), "discord gateway ready");
        a.status(true, "connected");
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        let Some(a) = self.adapter() else { return };
        tracing::info!("discord gateway session resumed");
        a.status(true, "resumed");
    }

    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        let Some(a) = self.adapter() else { return };
        match event.new {
            ConnectionStage::Connected => {}
            ConnectionStage::Disconnected => {
                tracing::warn!("discord gateway disconnected");
                a.status(false, "gateway disconnected");
            }
            stage => a.status(false, &format!("gateway {stage}")),
        }
    }

    async fn message(&self, _ctx: Context, m: Message) {
        let Some(a) = self.adapter() else { return };
        a.on_message(m).await;
    }

    async fn reaction_add(&self, _ctx: Context, r: Reaction) {
        let Some(a) = self.adapter() else { return };
        a.on_reaction(r).await;
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let Some(a) = self.adapter() else { return };
        a.on_interaction(interaction).await;
    }

    async fn thread_create(&self, _ctx: Context, thread: GuildChannel) {
        let Some(a) = self.adapter() else { return };
        if let Some(parent) = thread.parent_id {
            let ours = thread.owner_id.is_some_and(|o| o.get() == a.me());
            a.places.set(thread.id.get(), Place::Thread { parent: parent.get(), ours });
        }
    }
}
