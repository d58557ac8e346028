//! The gateway side: serenity's client (it resumes after a dropped socket and replays missed
//! events; the store's dedupe on the message or interaction id absorbs the replays) and the
//! event handler that turns messages, reactions and interactions into `Inbound`s.

use super::Adapter;
use super::places::Place;
use super::send::DM_PREFIX;
use super::text::short;
use crate::domain::{Address, Platform, UserRef, Via};
use crate::domain::{Attachment, InboundKind};
use crate::service::intake::is_pleasantry;
use crate::service::safe_reply;
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
        let user = m.author.id.get();
        let nick = m.member.as_ref().and_then(|mm| mm.nick.clone());
        let name = nick.or_else(|| m.author.global_name.clone()).unwrap_or_else(|| m.author.name.clone());
        let text = without_mention(&m.content, self.me());
        if text.is_empty() && m.attachments.is_empty() {
            return;
        }
        // Where the conversation lives, where answers go, and whether the message sits in a
        // channel other than the one answers go to (for status reactions).
        let place = self.place_of(channel, m.guild_id.is_some()).await;
        let via = match place {
            Place::Dm => Via::Direct,
            _ if self.mentions_me(&m) => Via::Addressed,
            Place::Thread { .. } => Via::Thread,
            _ => Via::Addressed,
        };
        let (conversation, reply_to, elsewhere) = match place {
            Place::Dm => {
                self.places.set_dm(user, channel);
                (format!("discord:dm:{user}"), Address::new(Platform::Discord, channel.to_string()), false)
            }
            Place::Thread { parent, ours } => {
                if !(ours || self.is_queue_channel(parent) || self.mentions_me(&m)) {
                    return;
                }
                let to = Address::new(Platform::Discord, parent.to_string()).in_thread(channel.to_string());
                (format!("discord:{parent}:{channel}"), to, true)
            }
            Place::Channel if self.is_queue_channel(channel) => return,
            Place::Channel if self.is_request_channel(channel) => {
                if is_pleasantry(&text) && m.attachments.is_empty() {
                    return;
                }
                let at = m.timestamp.unix_timestamp().saturating_mul(1000);
                let p = self.grouper.place(
                    Platform::Discord,
                    &channel.to_string(),
                    &user.to_string(),
                    &m.id.to_string(),
                    at,
                );
                if p.new {
                    self.places.name_thread(m.id.get(), self.thread_name(&text));
                }
                let to = Address::new(Platform::Discord, channel.to_string()).in_thread(p.thread);
                (p.conversation, to, false)
            }
            Place::Channel if self.mentions_me(&m) => {
                self.places.name_thread(m.id.get(), self.thread_name(&text));
                let to = Address::new(Platform::Discord, channel.to_string()).in_thread(m.id.to_string());
                (format!("discord:{channel}:{}", m.id), to, false)
            }
            Place::Channel | Place::Forum => return,
        };
        let mut inbound =
            self.inbound(m.id.to_string(), user, name, conversation, reply_to, InboundKind::Message { text });
        inbound.via = via;
        if elsewhere {
            inbound.message_channel = Some(channel.to_string());
        }
        if self.intake.answer_in_dm && m.guild_id.is_some() && !self.in_desk(&inbound.reply_to) {
            // Keep the details private: answer by DM, mark the public message.
            inbound.conversation = format!("discord:dm:{user}");
            inbound.message_channel = Some(channel.to_string());
            inbound.reply_to = Address::new(Platform::Discord, format!("{DM_PREFIX}{user}"));
        }
        inbound.message_id = Some(m.id.to_string());
        inbound.attachments = attachments(&m);
        self.handle_gateway(inbound).await;
    }

    /// A thread's name from the message it starts on: redacted first (a thread name is seen by
    /// everyone in the channel and outlives the message), on one line, at most 80 characters.
    pub(crate) fn thread_name(&self, text: &str) -> String {
        short(&self.service.redacted(text), 80)
    }

    /// Whether an address is in a queue's channel (agents at work, never redirected).
    fn in_desk(&self, to: &Address) -> bool {
        super::config::parse_snowflake(&to.channel).is_some_and(|c| self.is_queue_channel(c))
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
        let message = r.message_id.get();
        let place = self.place_of(channel, r.guild_id.is_some()).await;
        let desk_place = match &place {
            Place::Thread { parent, .. } if self.is_queue_channel(*parent) => {
                Some(Address::new(Platform::Discord, parent.to_string()).in_thread(channel.to_string()))
            }
            Place::Channel | Place::Forum if self.is_queue_channel(channel) => {
                Some(Address::new(Platform::Discord, channel.to_string()))
            }
            _ => None,
        };
        let event_id = format!("reaction:{message}:{user}:{emoji}");
        let name = r
            .member
            .as_ref()
            .map(|m| {
                m.nick.clone().or_else(|| m.user.global_name.clone()).unwrap_or_else(|| m.user.name.clone())
            })
            .unwrap_or_else(|| user.to_string());
        let reactor = user.get();
        if let Some(reply_to) = desk_place {
            let wants_text = emoji == self.service.desk().settings.kb_draft_emoji;
            let text = if wants_text {
                r.channel_id.message(&*self.http, r.message_id).await.ok().map(|m| m.content)
            } else {
                None
            };
            let conversation = match &reply_to.thread {
                Some(t) => format!("discord:{}:{t}", reply_to.channel),
                None => format!("discord:{channel}:{message}"),
            };
            let kind = InboundKind::Reaction { emoji, message: message.to_string(), text };
            let mut inbound = self.inbound(event_id, reactor, name, conversation, reply_to, kind);
            inbound.message_id = Some(message.to_string());
            self.handle_gateway(inbound).await;
            return;
        }
        if emoji != self.file_ticket_emoji() {
            return;
        }
        let m = match r.channel_id.message(&*self.http, r.message_id).await {
            Ok(m) => m,
            Err(e) => {
                let kind = super::send::classify(e).to_string();
                crate::observe::event_lost("discord", &format!("reaction:{channel}:{message}"), &kind);
                return;
            }
        };
        if m.author.bot {
            return;
        }
        let in_thread = matches!(place, Place::Thread { .. });
        let reply_to = match place {
            Place::Thread { parent, .. } => {
                Address::new(Platform::Discord, parent.to_string()).in_thread(channel.to_string())
            }
            Place::Dm => Address::new(Platform::Discord, channel.to_string()),
            Place::Forum => return,
            Place::Channel => {
                self.places.name_thread(message, self.thread_name(&m.content));
                Address::new(Platform::Discord, channel.to_string()).in_thread(message.to_string())
            }
        };
        let conversation = match &reply_to.thread {
            Some(t) => format!("discord:{}:{t}", reply_to.channel),
            None => format!("discord:dm:{user}"),
        };
        let kind = InboundKind::FileTicket {
            text: m.content.clone(),
            author: UserRef::new(Platform::Discord, m.author.id.to_string()),
            author_name: Some(m.author.global_name.clone().unwrap_or_else(|| m.author.name.clone())),
            note: None,
        };
        // One ticket per message, however many people react (and however often it is replayed).
        let event_id = format!("ticket-from:{message}");
        let mut inbound = self.inbound(event_id, reactor, name, conversation, reply_to, kind);
        inbound.message_id = Some(message.to_string());
        if in_thread {
            inbound.message_channel = Some(channel.to_string());
        }
        inbound.attachments = attachments(&m);
        self.handle_gateway(inbound).await;
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

    /// Commit a plan's inbound event; the response to send (an apology if the commit failed).
    pub async fn commit_plan(&self, plan: super::interactions::Plan) -> CreateInteractionResponse {
        let Some(inbound) = plan.inbound else { return plan.response };
        match self.handle(inbound).await {
            Ok(crate::service::Handled::Refused { note }) => super::interactions::say(note),
            Ok(_) => plan.response,
            Err(e) => super::interactions::say(safe_reply(&e)),
        }
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
