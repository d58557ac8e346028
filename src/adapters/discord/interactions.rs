//! Interactions, from the gateway or from the signed HTTP endpoint: `/helpdesk new|status|help`,
//! the "Create ticket" message command, buttons (answer choices, CSAT, card actions) and the
//! two modals (the ticket form, an agent's reply to the requester). Each becomes at most one
//! `Inbound` plus the immediate response Discord needs within 3 seconds.

use super::Adapter;
use super::places::Place;
use super::send::DM_PREFIX;
use crate::desk::cards;
use crate::domain::{Address, Platform, UserRef};
use crate::domain::{Inbound, InboundKind};
use serenity::all::{
    ActionRowComponent, CommandDataOptionValue, CommandInteraction, CommandType, ComponentInteraction,
    CreateActionRow, CreateInputText, CreateInteractionResponse, CreateInteractionResponseMessage,
    CreateModal, InputTextStyle, Interaction, ModalInteraction, User,
};

/// The slash command and its subcommands.
pub const COMMAND: &str = "helpdesk";
/// The message context-menu command.
pub const MESSAGE_COMMAND: &str = "Create ticket";
/// The ticket form modal.
const TICKET_FORM: &str = "deskbot:ticket";
/// The agent's reply modal. The card it answers is the message it was opened from.
const REPLY_FORM: &str = "desk:reply";

/// What to do with one interaction.
pub struct Plan {
    pub response: CreateInteractionResponse,
    pub inbound: Option<Inbound>,
}

/// A short private answer to the person who interacted.
pub(crate) fn say(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text)
            .ephemeral(true)
            .allowed_mentions(serenity::all::CreateAllowedMentions::new()),
    )
}

fn name_of(user: &User, nick: Option<&str>) -> String {
    nick.map(str::to_string).or_else(|| user.global_name.clone()).unwrap_or_else(|| user.name.clone())
}

impl Adapter {
    /// Plan the response and the inbound event for an interaction; `None` for kinds deskbot
    /// does not use (autocomplete) or a ping (answered by the HTTP endpoint).
    pub async fn plan(&self, interaction: &Interaction) -> Option<Plan> {
        match interaction {
            Interaction::Command(c) if c.data.kind == CommandType::Message => {
                Some(self.message_command(c).await)
            }
            Interaction::Command(c) => Some(self.slash(c)),
            Interaction::Component(c) => Some(self.component(c).await),
            Interaction::Modal(m) => Some(self.modal(m).await),
            _ => None,
        }
    }

    /// Where an employee's answer to a command goes: the DM it was typed in, else their DMs.
    fn employee_address(&self, guild: bool, channel: u64, user: u64) -> Address {
        if guild {
            Address::new(Platform::Discord, format!("{DM_PREFIX}{user}"))
        } else {
            Address::new(Platform::Discord, channel.to_string())
        }
    }

    fn slash(&self, c: &CommandInteraction) -> Plan {
        if c.data.name != COMMAND {
            return Plan { response: say("I don't know that command."), inbound: None };
        }
        let sub = c.data.options.first().filter(|o| matches!(o.value, CommandDataOptionValue::SubCommand(_)));
        let text = match sub.map(|o| o.name.as_str()) {
            Some("new") => return Plan { response: ticket_form(), inbound: None },
            Some("status") => "status",
            Some("help") | None => "help",
            Some(_) => {
                return Plan { response: say("Try `/helpdesk new`, `status` or `help`."), inbound: None };
            }
        };
        let guild = c.guild_id.is_some();
        let user = c.user.id.get();
        let nick = c.member.as_ref().and_then(|m| m.nick.as_deref());
        let inbound = self.inbound(
            c.id.to_string(),
            c.user.id.get(),
            name_of(&c.user, nick),
            format!("discord:dm:{user}"),
            self.employee_address(guild, c.channel_id.get(), user),
            InboundKind::Message { text: text.into() },
        );
        let ack = if guild { "On it: I'll answer in a direct message." } else { "On it." };
        Plan { response: say(ack), inbound: Some(inbound) }
    }

    async fn message_command(&self, c: &CommandInteraction) -> Plan {
        let target = c.data.target_id.map(|t| t.get());
        let message = target.and_then(|t| c.data.resolved.messages.iter().find(|(id, _)| id.get() == t));
        let Some((_, m)) = message else {
            tracing::warn!(interaction = %c.id, "message command without its target message");
            return Plan { response: say("I could not read that message."), inbound: None };
        };
        let channel = c.channel_id.get();
        let reply_to = match self.place_of(channel, c.guild_id.is_some()).await {
            Place::Thread { parent, .. } => {
                Address::new(Platform::Discord, parent.to_string()).in_thread(channel.to_string())
            }
            Place::Channel | Place::Forum => {
                Address::new(Platform::Discord, channel.to_string()).in_thread(m.id.to_string())
            }
            Place::Dm => Address::new(Platform::Discord, channel.to_string()),
        };
        let conversation = match &reply_to.thread {
            Some(t) => format!("discord:{}:{t}", reply_to.channel),
            None => format!("discord:dm:{}", c.user.id),
        };
        if c.guild_id.is_some() {
            self.places.name_thread(m.id.get(), self.thread_name(&m.content));
        }
        let nick = c.member.as_ref().and_then(|mm| mm.nick.as_deref());
        let mut inbound = self.inbound(
            c.id.to_string(),
            c.user.id.get(),
            name_of(&c.user, nick),
            conversation,
            reply_to,
            InboundKind::FileTicket {
                text: m.content.clone(),
                author: UserRef::new(Platform::Discord, m.author.id.to_string()),
                author_name: Some(name_of(&m.author, None)),
                note: None,
            },
        );
        inbound.message_id = Some(m.id.to_string());
        if inbound.reply_to.thread.as_deref().is_some_and(|t| t == channel.to_string()) {
            inbound.message_channel = Some(channel.to_string());
        }
        inbound.attachments = super::gateway::attachments(m);
        Plan { response: say("Filing a ticket for that message…"), inbound: Some(inbound) }
    }

    async fn component(&self, c: &ComponentInteraction) -> Plan {
        let id = c.data.custom_id.as_str();
        let channel = c.channel_id.get();
        let message = c.message.id.get();
        let nick = c.member.as_ref().and_then(|m| m.nick.as_deref());
        let (reply_to, conversation) =
            self.where_pressed(channel, message, c.guild_id.is_some(), c.user.id.get()).await;
        if id == cards::REPLY {
            // The form carries the card's address (queue channel and thread), where the
            // reply is then handled like `!reply` in the ticket's thread.
            if reply_to.thread.is_none() {
                return Plan { response: say("That button works on ticket cards only."), inbound: None };
            }
            let form = CreateModal::new(REPLY_FORM, "Reply to the requester").components(vec![
                CreateActionRow::InputText(
                    CreateInputText::new(InputTextStyle::Paragraph, "Your reply", "text")
                        .required(true)
                        .max_length(2000),
                ),
            ]);
            return Plan { response: CreateInteractionResponse::Modal(form), inbound: None };
        }
        let inbound = self.inbound(
            c.id.to_string(),
            c.user.id.get(),
            name_of(&c.user, nick),
            conversation,
            reply_to,
            InboundKind::Choice { id: id.to_string() },
        );
        Plan { response: CreateInteractionResponse::Acknowledge, inbound: Some(inbound) }
    }

    /// Where a button press or a form opened from a message happened, from the channel and
    /// message Discord reports: the address replies go to and the conversation it names.
    async fn where_pressed(&self, channel: u64, message: u64, guild: bool, user: u64) -> (Address, String) {
        match self.place_of(channel, guild).await {
            _ if self.is_queue_channel(channel) => {
                let a = Address::new(Platform::Discord, channel.to_string()).in_thread(message.to_string());
                (a, format!("discord:{channel}:{message}"))
            }
            Place::Thread { parent, .. } => {
                let a = Address::new(Platform::Discord, parent.to_string()).in_thread(channel.to_string());
                (a, format!("discord:{parent}:{channel}"))
            }
            Place::Dm => (Address::new(Platform::Discord, channel.to_string()), format!("discord:dm:{user}")),
            Place::Channel | Place::Forum => {
                (Address::new(Platform::Discord, channel.to_string()), format!("discord:{channel}:{user}"))
            }
        }
    }

    async fn modal(&self, m: &ModalInteraction) -> Plan {
        let field = |name: &str| {
            m.data
                .components
                .iter()
                .flat_map(|row| row.components.iter())
                .find_map(|c| match c {
                    ActionRowComponent::InputText(t) if t.custom_id == name => t.value.clone(),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let nick = m.member.as_ref().and_then(|mm| mm.nick.as_deref());
        let name = name_of(&m.user, nick);
        if m.data.custom_id.starts_with(REPLY_FORM) {
            // Which card: the message the form was opened from, as Discord reports it. Whatever
            // the form's own id says is client-controlled and ignored; the desk then checks that
            // the message is a ticket's card and that the sender may act on its queue.
            let Some(card) = m.message.as_ref() else {
                tracing::warn!(interaction = %m.id, "reply form without the message it was opened from");
                return Plan {
                    response: say("That form is broken; use `!reply` in the thread."),
                    inbound: None,
                };
            };
            let (reply_to, conversation) = self
                .where_pressed(m.channel_id.get(), card.id.get(), m.guild_id.is_some(), m.user.id.get())
                .await;
            let on_a_card = reply_to.thread.is_some()
                && super::config::parse_snowflake(&reply_to.channel)
                    .is_some_and(|c| self.is_queue_channel(c));
            if !on_a_card {
                return Plan { response: say("That form works on ticket cards only."), inbound: None };
            }
            let text = field("text");
            if text.trim().is_empty() {
                return Plan { response: say("The reply was empty; nothing was sent."), inbound: None };
            }
            let inbound = self.inbound(
                m.id.to_string(),
                m.user.id.get(),
                name,
                conversation,
                reply_to,
                InboundKind::Message {
                    text: format!("{}{}", self.service.desk().settings.reply_prefix, text.trim()),
                },
            );
            return Plan { response: CreateInteractionResponse::Acknowledge, inbound: Some(inbound) };
        }
        if m.data.custom_id != TICKET_FORM {
            tracing::warn!(id = %m.data.custom_id, "unknown modal");
            return Plan { response: say("I don't know that form."), inbound: None };
        }
        let (summary, details) = (field("summary"), field("details"));
        let text = match (summary.trim(), details.trim()) {
            ("", "") => {
                return Plan { response: say("The form was empty; nothing was filed."), inbound: None };
            }
            (s, "") => s.to_string(),
            ("", d) => d.to_string(),
            (s, d) => format!("{s}\n\n{d}"),
        };
        let guild = m.guild_id.is_some();
        let user = m.user.id.get();
        let inbound = self.inbound(
            m.id.to_string(),
            m.user.id.get(),
            name.clone(),
            format!("discord:dm:{user}"),
            self.employee_address(guild, m.channel_id.get(), user),
            InboundKind::FileTicket {
                text,
                author: UserRef::new(Platform::Discord, user.to_string()),
                author_name: Some(name),
                note: None,
            },
        );
        let ack = if guild {
            "Thanks: filing your ticket. I'll confirm in a direct message."
        } else {
            "Thanks: filing your ticket."
        };
        Plan { response: say(ack), inbound: Some(inbound) }
    }
}

/// The ticket form behind `/helpdesk new`.
fn ticket_form() -> CreateInteractionResponse {
    CreateInteractionResponse::Modal(CreateModal::new(TICKET_FORM, "New IT ticket").components(vec![
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Short, "What is the problem?", "summary")
                .required(true)
                .max_length(200),
        ),
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Paragraph, "Details (optional)", "details")
                .required(false)
                .max_length(2000),
        ),
    ]))
}
