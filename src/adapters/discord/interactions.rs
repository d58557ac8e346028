//! Interactions, from the gateway or from the signed HTTP endpoint: `/helpdesk new|status|help`,
//! the "Create ticket" message command, buttons (answer choices, CSAT, card actions) and the
//! two modals (the ticket form, an agent's reply to the requester). Each becomes at most one
//! `Inbound` plus the immediate response Discord needs within 3 seconds.

use super::Adapter;
use crate::domain::{ChatEvent, FetchedMessage, Input, Place, Platform, TicketNumber};
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

/// What to do with one interaction: the event for the router (if any) and the response
/// when the router has nothing of its own to say.
pub struct Plan {
    pub response: CreateInteractionResponse,
    pub event: Option<ChatEvent>,
    /// The message the interaction carried (a message command's target), by id.
    pub preloaded: Option<(String, FetchedMessage)>,
}

impl Plan {
    fn answer(response: CreateInteractionResponse) -> Self {
        Self { response, event: None, preloaded: None }
    }

    fn take(event: ChatEvent, response: CreateInteractionResponse) -> Self {
        Self { response, event: Some(event), preloaded: None }
    }
}

/// The agent's reply form for `ticket`; it is answered for the card it was opened from.
pub(crate) fn reply_form(ticket: TicketNumber) -> CreateInteractionResponse {
    let form = CreateModal::new(REPLY_FORM, format!("Reply to the requester of {ticket}")).components(vec![
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Paragraph, "Your reply", "text")
                .required(true)
                .max_length(2000),
        ),
    ]);
    CreateInteractionResponse::Modal(form)
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

    /// Where an interaction happened, for the router.
    async fn where_at(&self, channel: u64, guild: bool) -> Option<Place> {
        let place = self.place_of(channel, guild).await;
        self.chat_place(channel, place)
    }

    fn slash(&self, c: &CommandInteraction) -> Plan {
        if c.data.name != COMMAND {
            return Plan::answer(say("I don't know that command."));
        }
        let sub = c.data.options.first().filter(|o| matches!(o.value, CommandDataOptionValue::SubCommand(_)));
        let text = match sub.map(|o| o.name.as_str()) {
            Some("new") => return Plan::answer(ticket_form()),
            Some("status") => "status",
            Some("portal") => "portal",
            Some("help") | None => "help",
            Some(_) => return Plan::answer(say("Try `/helpdesk new`, `status`, `portal` or `help`.")),
        };
        let guild = c.guild_id.is_some();
        let nick = c.member.as_ref().and_then(|m| m.nick.as_deref());
        let event = ChatEvent {
            platform: Platform::Discord,
            // In a server the answer goes to the person's DMs; in a DM, there.
            place: if guild {
                Place::Nowhere
            } else {
                Place::Direct { channel: c.channel_id.to_string(), thread: None }
            },
            sender: c.user.id.to_string(),
            sender_name: Some(name_of(&c.user, nick)),
            at: self.service.now(),
            input: Input::Command { delivery: c.id.to_string(), text: text.into() },
        };
        let ack = if guild { "On it: I'll answer in a direct message." } else { "On it." };
        Plan::take(event, say(ack))
    }

    async fn message_command(&self, c: &CommandInteraction) -> Plan {
        let target = c.data.target_id.map(|t| t.get());
        let message = target.and_then(|t| c.data.resolved.messages.iter().find(|(id, _)| id.get() == t));
        let Some((_, m)) = message else {
            tracing::warn!(interaction = %c.id, "message command without its target message");
            return Plan::answer(say("I could not read that message."));
        };
        let Some(place) = self.where_at(c.channel_id.get(), c.guild_id.is_some()).await else {
            return Plan::answer(say("I can't file tickets from here."));
        };
        let nick = c.member.as_ref().and_then(|mm| mm.nick.as_deref());
        let event = ChatEvent {
            platform: Platform::Discord,
            place,
            sender: c.user.id.to_string(),
            sender_name: Some(name_of(&c.user, nick)),
            at: self.service.now(),
            input: Input::FileMessage { delivery: c.id.to_string(), message: m.id.to_string(), note: None },
        };
        let mut plan = Plan::take(event, say("Filing a ticket for that message…"));
        plan.preloaded = Some((m.id.to_string(), super::gateway::fetched(m)));
        plan
    }

    async fn component(&self, c: &ComponentInteraction) -> Plan {
        let Some(place) = self.where_at(c.channel_id.get(), c.guild_id.is_some()).await else {
            return Plan::answer(say("That button is not available here."));
        };
        let nick = c.member.as_ref().and_then(|m| m.nick.as_deref());
        let event = ChatEvent {
            platform: Platform::Discord,
            place,
            sender: c.user.id.to_string(),
            sender_name: Some(name_of(&c.user, nick)),
            at: self.service.now(),
            input: Input::Button {
                delivery: c.id.to_string(),
                message: c.message.id.to_string(),
                value: c.data.custom_id.clone(),
            },
        };
        Plan::take(event, CreateInteractionResponse::Acknowledge)
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
            // the form's own id says is client-controlled and ignored; the router then checks
            // that the message is a ticket's card and the desk that the sender may act on it.
            let Some(card) = m.message.as_ref() else {
                tracing::warn!(interaction = %m.id, "reply form without the message it was opened from");
                return Plan::answer(say("That form is broken; use the reply command in the thread."));
            };
            let Some(place) = self.where_at(m.channel_id.get(), m.guild_id.is_some()).await else {
                return Plan::answer(say(crate::service::router::NOT_A_CARD));
            };
            let event = ChatEvent {
                platform: Platform::Discord,
                place,
                sender: m.user.id.to_string(),
                sender_name: Some(name),
                at: self.service.now(),
                input: Input::ReplyForm {
                    delivery: m.id.to_string(),
                    card: card.id.to_string(),
                    ticket: None,
                    text: field("text"),
                },
            };
            return Plan::take(event, CreateInteractionResponse::Acknowledge);
        }
        if m.data.custom_id != TICKET_FORM {
            tracing::warn!(id = %m.data.custom_id, "unknown modal");
            return Plan::answer(say("I don't know that form."));
        }
        let (summary, details) = (field("summary"), field("details"));
        let text = match (summary.trim(), details.trim()) {
            (s, "") => s.to_string(),
            ("", d) => d.to_string(),
            (s, d) => format!("{s}\n\n{d}"),
        };
        let guild = m.guild_id.is_some();
        let event = ChatEvent {
            platform: Platform::Discord,
            place: if guild {
                Place::Nowhere
            } else {
                Place::Direct { channel: m.channel_id.to_string(), thread: None }
            },
            sender: m.user.id.to_string(),
            sender_name: Some(name),
            at: self.service.now(),
            input: Input::TicketForm { delivery: m.id.to_string(), text },
        };
        let ack = if guild {
            "Thanks: filing your ticket. I'll confirm in a direct message."
        } else {
            "Thanks: filing your ticket."
        };
        Plan::take(event, say(ack))
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
