//! The intake router: one place, for every adapter (Slack, Discord, the console and later the
//! web portal), that turns a platform-neutral [`ChatEvent`] into what deskbot does with it.
//! Adapters only translate payloads into events and outbound messages into API calls; this
//! module owns
//!
//! - the conversation key and the reply address (`answer_in_dm` included),
//! - which places concern deskbot (DMs, request channels, mentions, threads it is in, the
//!   queues' channels), pleasantries in request channels and grouping a person's messages,
//! - the event-id scheme the store dedupes on (`msg:{channel}:{id}` for a message, whichever
//!   events carry it; `file:{channel}:{id}` for a ticket filed from a message, however many
//!   people react; `action:`/`form:`/`cmd:` + the platform's delivery id),
//! - what each button, reaction and form means (a card's "Reply to requester" opens the reply
//!   form only on a ticket's card; the file-ticket emoji files the message for its author; a
//!   reply form acts on the card it was opened from, as the platform reports it),
//! - the owner rule ([`owner`]): only a conversation's employee may act on it.
//!
//! What an agent may do in a ticket's thread is decided by the desk, from the grants ledger.

pub mod owner;

pub use owner::{Admission, NOT_YOUR_BUTTON, NOT_YOUR_CONVERSATION, admit};

use super::intake::{Grouper, IntakeConfig, is_pleasantry};
use super::{Handled, Service, ServiceError, portal};
use crate::desk::cards;
use crate::domain::{Address, Inbound, InboundKind, Platform, TicketNumber, UserRef, Via};
use crate::domain::{ChatEvent, FetchedMessage, Input, Place, TicketAction, TicketStatus};
use async_trait::async_trait;

/// Longest thread title deskbot gives a thread it starts, in characters.
pub const THREAD_TITLE_CHARS: usize = 80;

/// Shown when a ticket is to be filed from a message the platform no longer returns.
pub const MESSAGE_GONE: &str = "That message cannot be found any more, so no ticket was filed.";
/// Shown when the platform did not return the message a form names.
pub const MESSAGE_UNREADABLE: &str =
    "That message could not be read just now, so no ticket was filed. Please try again.";
/// Shown when the reply form or button is used anywhere but on a ticket's card.
pub const NOT_A_CARD: &str = "That works on ticket cards only.";
/// Filing from a message in a queue's channel (its cards, its agents' threads and notes).
pub const NOT_FROM_A_QUEUE: &str =
    "Tickets are filed from people's messages, not from a queue's channel: nothing was filed.";
/// Shown when a ticket action names a ticket that is not the sender's (or does not exist).
pub const NO_SUCH_TICKET: &str = "There is no such ticket of yours.";
/// Shown when a ticket's conversation has moved on to another question or ticket.
pub const TICKET_MOVED_ON: &str =
    "That conversation has moved on since this ticket; tell the help desk in chat what you need.";

/// What the router asks the adapter: facts only the platform knows, fetched when a decision
/// needs them (never for events that concern nobody).
#[async_trait]
pub trait Lookup: Send + Sync {
    /// Message `id` in `channel` (a DM, a channel, or a Discord thread), as the platform
    /// returns it; `Ok(None)` when it does not exist (any more). `Err` holds a short kind.
    async fn message(&self, channel: &str, id: &str) -> Result<Option<FetchedMessage>, String>;
    /// A channel's name, for request channels configured by name.
    async fn channel_name(&self, channel: &str) -> Option<String>;
    /// A person's display name.
    async fn display_name(&self, user: &str) -> Option<String>;
    /// deskbot is about to answer in a new thread on message `message` in `channel`; `title` is
    /// the thread's name (redacted, on one line, bounded) where the platform names threads.
    fn thread_title(&self, _channel: &str, _message: &str, _title: &str) {}
}

/// What the router made of an event, before anything is committed.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Hand this to the pipeline (it may still be ignored or refused by the owner rule or the
    /// desk; either way its dedupe row is written).
    Event(Box<Inbound>),
    /// Nothing for deskbot (chatter in a channel it does not watch, its own messages, a
    /// pleasantry in a request channel): nothing recorded.
    Skip(&'static str),
    /// The request cannot be carried out as asked (an empty form, a message that is gone):
    /// the sender is told this privately; nothing recorded.
    Problem(String),
    /// An agent asked to reply to the requester of `ticket` from its card at
    /// `channel`/`card`: the adapter opens its reply form there.
    OpenReplyForm { ticket: TicketNumber, channel: String, card: String },
    /// Something for the sender's eyes only that must not be stored (a portal sign-in link):
    /// the adapter shows it privately; nothing recorded.
    Private(String),
}

/// What taking an event did, for the adapter to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    Handled(Handled),
    Skipped,
    Problem(String),
    OpenReplyForm {
        ticket: TicketNumber,
        channel: String,
        card: String,
    },
    /// For the sender's eyes only, never stored (a portal sign-in link).
    Private(String),
}

impl Taken {
    /// The note to show the sender privately (a refusal, a problem, a sign-in link), if any.
    pub fn private_note(&self) -> Option<&str> {
        match self {
            Taken::Handled(Handled::Refused { note }) => Some(note),
            Taken::Problem(p) | Taken::Private(p) => Some(p),
            _ => None,
        }
    }
}

/// Why an event could not be taken: the platform or the store failed; a platform that
/// redelivers should deliver it again.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A platform read failed; holds its kind (never a body).
    #[error("platform: {0}")]
    Platform(String),
}

/// The router's own state: the grouping of people's messages in request channels.
pub struct Router {
    intake: IntakeConfig,
    grouper: Grouper,
}

impl Router {
    pub fn new(intake: IntakeConfig) -> Self {
        // The window was checked when the config was loaded.
        let grouper = Grouper::new(intake.grouping_window_ms().unwrap_or(10 * 60_000));
        Self { intake, grouper }
    }
}

/// A person's DM conversation with deskbot. The console's conversations keep their original
/// `console:{user}` form.
pub fn dm_conversation(platform: Platform, user: &str) -> String {
    match platform {
        Platform::Console => format!("console:{user}"),
        p => format!("{p}:dm:{user}"),
    }
}

/// The conversation living in thread `thread` of `channel`.
pub fn thread_conversation(platform: Platform, channel: &str, thread: &str) -> String {
    format!("{platform}:{channel}:{thread}")
}

/// Whether a configured request channel names an id (Slack `C…`/`G…`, Discord digits) rather
/// than a channel name.
fn looks_like_id(s: &str) -> bool {
    let s = s.trim_start_matches('#');
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        || (s.len() > 1
            && (s.starts_with('C') || s.starts_with('G'))
            && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
}

/// A thread title from redacted text: one line, at most [`THREAD_TITLE_CHARS`] characters.
fn title_of(redacted: &str) -> String {
    let line = redacted.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= THREAD_TITLE_CHARS {
        return if line.is_empty() { "Request".into() } else { line };
    }
    let cut: String = line.chars().take(THREAD_TITLE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Where an answer goes and which conversation it joins.
struct Answer {
    conversation: String,
    reply_to: Address,
    /// The answer opens a new thread on this message (the adapter may name it).
    opens_thread: bool,
}

impl Service {
    /// Route one event and, when it is for deskbot, handle it (up to the outbox).
    pub async fn take(&self, event: ChatEvent, lookup: &dyn Lookup) -> Result<Taken, RouteError> {
        Ok(match self.route(event, lookup).await? {
            Route::Event(inbound) => Taken::Handled(self.handle(*inbound).await?),
            Route::Skip(why) => {
                tracing::debug!(why, "event not for deskbot");
                Taken::Skipped
            }
            Route::Problem(p) => Taken::Problem(p),
            Route::OpenReplyForm { ticket, channel, card } => Taken::OpenReplyForm { ticket, channel, card },
            Route::Private(note) => Taken::Private(note),
        })
    }

    /// Decide what an event is, without committing anything.
    pub async fn route(&self, ev: ChatEvent, lookup: &dyn Lookup) -> Result<Route, RouteError> {
        let p = ev.platform;
        let Some(sits_in) = ev.place.message_channel(p).map(str::to_string) else {
            return Ok(match ev.input.clone() {
                Input::TicketForm { .. } | Input::Command { .. } => self.personal(ev, lookup).await?,
                Input::TicketAction { delivery, ticket, action } => {
                    self.ticket_action(&ev, &delivery, ticket, action, lookup).await?
                }
                _ => Route::Skip("an event with no place"),
            });
        };
        match ev.input.clone() {
            Input::Message { .. } if self.asks_for_portal(&ev) => self.portal_link_note(&ev).await,
            Input::Message { id, text, mentions_bot, attachments } => {
                let Some(answer) =
                    self.message_answer(&ev, &id, &text, mentions_bot, &attachments, lookup).await?
                else {
                    return Ok(Route::Skip("a message deskbot does not watch"));
                };
                let via = match &ev.place {
                    Place::Direct { .. } => Via::Direct,
                    Place::Thread { .. } if !mentions_bot => Via::Thread,
                    _ => Via::Addressed,
                };
                if answer.opens_thread {
                    lookup.thread_title(&sits_in, &id, &title_of(&self.redacted(&text)));
                }
                let mut inbound = self
                    .base(&ev, format!("msg:{sits_in}:{id}"), answer, InboundKind::Message { text }, lookup)
                    .await;
                inbound.via = via;
                inbound.attachments = attachments;
                set_origin(&mut inbound, &sits_in, &id);
                Ok(Route::Event(Box::new(inbound)))
            }
            Input::Reaction { message, emoji, author } => {
                self.reaction(&ev, &sits_in, &message, &emoji, author, lookup).await
            }
            Input::FileMessage { delivery, message, note } => {
                let event_id = format!("form:{delivery}");
                match self.file_from(&ev, &sits_in, &message, None, note, event_id, lookup).await {
                    // The form is still open: say so there rather than fail the submission.
                    Err(RouteError::Platform(kind)) => {
                        tracing::warn!(error = %kind, "cannot read the message to file");
                        Ok(Route::Problem(MESSAGE_UNREADABLE.into()))
                    }
                    other => other,
                }
            }
            Input::Button { delivery, message, value } => {
                self.button(&ev, &delivery, &message, &value, lookup).await
            }
            Input::ReplyForm { delivery, card, ticket, text } => {
                self.reply_form(&ev, &delivery, &card, ticket, &text, lookup).await
            }
            Input::TicketForm { .. } | Input::Command { .. } => self.personal(ev, lookup).await,
            Input::TicketAction { delivery, ticket, action } => {
                self.ticket_action(&ev, &delivery, ticket, action, lookup).await
            }
        }
    }

    /// "portal" typed in a DM: the sender asks for a sign-in link (`/helpdesk portal` is
    /// the command's word, see `personal`).
    fn asks_for_portal(&self, ev: &ChatEvent) -> bool {
        match (&ev.place, &ev.input) {
            (Place::Direct { .. }, Input::Message { text, attachments, .. }) => {
                attachments.is_empty() && text.trim().eq_ignore_ascii_case(portal::PORTAL_WORD)
            }
            _ => false,
        }
    }

    /// A one-time portal sign-in link for the sender, as the platform attests them; shown to
    /// them only and never stored (the store keeps its hash).
    async fn portal_link_note(&self, ev: &ChatEvent) -> Result<Route, RouteError> {
        let url = self.portal_link(&UserRef::new(ev.platform, ev.sender.clone())).await?;
        Ok(Route::Private(portal::link_note(&url)))
    }

    /// A requester acting on their own ticket from its page: the same as writing in the
    /// ticket's conversation (a comment is relayed, a reply within the window reopens, a
    /// rating is the rating button), so the engine, the owner rule and the desk decide as
    /// they do in chat. Another person's ticket is answered as if it did not exist.
    async fn ticket_action(
        &self,
        ev: &ChatEvent,
        delivery: &str,
        number: TicketNumber,
        action: TicketAction,
        lookup: &dyn Lookup,
    ) -> Result<Route, RouteError> {
        let me = UserRef::new(ev.platform, ev.sender.clone());
        let ticket = match self.store.ticket(number).await.map_err(ServiceError::from)? {
            Some(t) if t.requester == me => t,
            Some(_) => {
                tracing::warn!(ticket = %number, "an action on another person's ticket; refused");
                return Ok(Route::Problem(NO_SUCH_TICKET.into()));
            }
            None => return Ok(Route::Problem(NO_SUCH_TICKET.into())),
        };
        // The engine acts on the newest ticket of a conversation that is still about it.
        let newest = self
            .ticket_summaries(&me)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .filter(|t| t.conversation == ticket.conversation)
            .map(|t| t.number)
            .max();
        let on_ticket =
            match self.store.load_conversation(&ticket.conversation).await.map_err(ServiceError::from)? {
                Some(c) => {
                    serde_json::from_value::<crate::engine::ConversationState>(c.state).is_ok_and(|s| {
                        matches!(s.state, crate::engine::State::Ticket | crate::engine::State::Comment { .. })
                    })
                }
                None => false,
            };
        if newest != Some(number) || !on_ticket {
            return Ok(Route::Problem(TICKET_MOVED_ON.into()));
        }
        let within = ticket.resolved_at.is_some_and(|at| ev.at - at <= self.settings.reopen_window_ms);
        let kind = match action {
            TicketAction::Comment(text) => {
                if !matches!(ticket.status, TicketStatus::Open | TicketStatus::Pending) {
                    return Ok(Route::Problem("Only an open ticket takes comments; reopen it first.".into()));
                }
                if text.trim().is_empty() {
                    return Ok(Route::Problem("The comment was empty; nothing was sent.".into()));
                }
                InboundKind::Message { text: text.trim().to_string() }
            }
            TicketAction::Reopen(text) => {
                if ticket.status != TicketStatus::Resolved || !within {
                    return Ok(Route::Problem(
                        "Only a ticket resolved within the reopen window can be reopened.".into(),
                    ));
                }
                if text.trim().is_empty() {
                    return Ok(Route::Problem("Say what is still wrong to reopen the ticket.".into()));
                }
                InboundKind::Reopen { text: text.trim().to_string() }
            }
            TicketAction::Rate(score) => {
                if ticket.status != TicketStatus::Resolved || !(1..=5).contains(&score) {
                    return Ok(Route::Problem("Only a resolved ticket can be rated, from 1 to 5.".into()));
                }
                InboundKind::Choice { id: format!("{}{score}", crate::engine::RATE_PREFIX) }
            }
        };
        let answer = Answer {
            conversation: ticket.conversation.clone(),
            reply_to: ticket.reply_to.clone(),
            opens_thread: false,
        };
        let inbound = self.base(ev, format!("portal:{delivery}"), answer, kind, lookup).await;
        Ok(Route::Event(Box::new(inbound)))
    }

    fn is_queue_channel(&self, platform: Platform, channel: &str) -> bool {
        self.desk.queues.values().any(|q| {
            q.cfg.channel.get(&platform).is_some_and(|c| c.trim().trim_start_matches('#') == channel)
        })
    }

    async fn is_request_channel(&self, channel: &str, name: Option<&str>, lookup: &dyn Lookup) -> bool {
        let intake = &self.router.intake;
        if intake.request_channels.is_empty() {
            return false;
        }
        if intake.is_request_channel(channel, name) {
            return true;
        }
        if name.is_some() || intake.request_channels.iter().all(|w| looks_like_id(w)) {
            return false;
        }
        let name = lookup.channel_name(channel).await;
        intake.is_request_channel(channel, name.as_deref())
    }

    /// Where an answer to something said at `channel`/`thread` goes: that thread, or the
    /// `owner`'s DMs when the intake says so (then it joins their DM conversation).
    fn answered(&self, p: Platform, channel: &str, thread: &str, owner: &str, new_thread: bool) -> Answer {
        if self.router.intake.answer_in_dm && !self.is_queue_channel(p, channel) {
            Answer {
                conversation: dm_conversation(p, owner),
                reply_to: Address::person(p, owner),
                opens_thread: false,
            }
        } else {
            Answer {
                conversation: thread_conversation(p, channel, thread),
                reply_to: Address::new(p, channel).in_thread(thread),
                opens_thread: new_thread,
            }
        }
    }

    async fn message_answer(
        &self,
        ev: &ChatEvent,
        id: &str,
        text: &str,
        mentions_bot: bool,
        attachments: &[crate::domain::Attachment],
        lookup: &dyn Lookup,
    ) -> Result<Option<Answer>, RouteError> {
        let p = ev.platform;
        Ok(Some(match &ev.place {
            Place::Direct { channel, thread } => {
                let mut reply_to = Address::new(p, channel.clone());
                reply_to.thread = thread.clone();
                Answer { conversation: dm_conversation(p, &ev.sender), reply_to, opens_thread: false }
            }
            // Agents in a ticket's thread, the employee in the thread of their conversation, or
            // people talking to each other: the desk and the owner rule tell them apart.
            Place::Thread { channel, thread, .. } if !mentions_bot || self.is_queue_channel(p, channel) => {
                Answer {
                    conversation: thread_conversation(p, channel, thread),
                    reply_to: Address::new(p, channel.clone()).in_thread(thread.clone()),
                    opens_thread: false,
                }
            }
            Place::Thread { channel, thread, .. } => self.answered(p, channel, thread, &ev.sender, false),
            Place::Channel { channel, .. } if self.is_queue_channel(p, channel) && !mentions_bot => {
                return Ok(None);
            }
            Place::Channel { channel, name } => {
                let request = !self.is_queue_channel(p, channel)
                    && self.is_request_channel(channel, name.as_deref(), lookup).await;
                if request {
                    if attachments.is_empty() && is_pleasantry(text) {
                        return Ok(None);
                    }
                    let placed = self.router.grouper.place(p, channel, &ev.sender, id, ev.at);
                    self.answered(p, channel, &placed.thread, &ev.sender, placed.new)
                } else if mentions_bot {
                    self.answered(p, channel, id, &ev.sender, true)
                } else {
                    return Ok(None);
                }
            }
            Place::Nowhere => return Ok(None),
        }))
    }

    async fn base(
        &self,
        ev: &ChatEvent,
        event_id: String,
        answer: Answer,
        kind: InboundKind,
        lookup: &dyn Lookup,
    ) -> Inbound {
        let display_name = match &ev.sender_name {
            Some(n) => Some(n.clone()),
            None => lookup.display_name(&ev.sender).await,
        };
        Inbound {
            event_id,
            user: UserRef::new(ev.platform, ev.sender.clone()),
            display_name,
            conversation: answer.conversation,
            reply_to: answer.reply_to,
            kind,
            at: ev.at,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Via::Direct,
        }
    }

    async fn reaction(
        &self,
        ev: &ChatEvent,
        sits_in: &str,
        message: &str,
        emoji: &str,
        author: Option<String>,
        lookup: &dyn Lookup,
    ) -> Result<Route, RouteError> {
        let p = ev.platform;
        let desk_channel = match &ev.place {
            Place::Thread { channel, .. } | Place::Channel { channel, .. }
                if self.is_queue_channel(p, channel) =>
            {
                Some(channel.clone())
            }
            _ => None,
        };
        let Some(channel) = desk_channel else {
            if emoji != self.router.intake.file_ticket_emoji {
                return Ok(Route::Skip("a reaction deskbot does not use"));
            }
            let event_id = format!("file:{sits_in}:{message}");
            return self.file_from(ev, sits_in, message, author, None, event_id, lookup).await;
        };
        // Agents' shortcuts in a queue's channel. The event names the message only: its text
        // (for 📖) and its thread (a reply inside a ticket's thread belongs to that ticket) come
        // from the platform.
        let s = &self.desk.settings;
        let meaningful =
            [&s.claim_emoji, &s.resolve_emoji, &s.kb_draft_emoji].iter().any(|e| e.as_str() == emoji);
        let mut thread = match &ev.place {
            Place::Thread { thread, .. } => thread.clone(),
            _ => message.to_string(),
        };
        let mut text = None;
        if meaningful {
            match lookup.message(sits_in, message).await {
                Ok(Some(found)) => {
                    if matches!(ev.place, Place::Channel { .. })
                        && let Some(parent) = found.thread.filter(|t| t != message)
                    {
                        thread = parent;
                    }
                    text = (emoji == s.kb_draft_emoji && !found.text.is_empty()).then_some(found.text);
                }
                Ok(None) => {}
                Err(kind) => {
                    tracing::warn!(channel = sits_in, error = %kind, "cannot read the reacted message")
                }
            }
        }
        let answer = Answer {
            conversation: thread_conversation(p, &channel, &thread),
            reply_to: Address::new(p, channel.clone()).in_thread(thread),
            opens_thread: false,
        };
        let event_id = format!("reaction:{sits_in}:{message}:{}:{emoji}", ev.sender);
        let kind = InboundKind::Reaction { emoji: emoji.to_string(), message: message.to_string(), text };
        let mut inbound = self.base(ev, event_id, answer, kind, lookup).await;
        inbound.message_id = Some(message.to_string());
        Ok(Route::Event(Box::new(inbound)))
    }

    /// File a ticket from message `message` (sitting in `sits_in`) for its author, asked by the
    /// event's sender, who may add a `note`. The text and author are the platform's.
    #[allow(clippy::too_many_arguments)]
    async fn file_from(
        &self,
        ev: &ChatEvent,
        sits_in: &str,
        message: &str,
        author_hint: Option<String>,
        note: Option<String>,
        event_id: String,
        lookup: &dyn Lookup,
    ) -> Result<Route, RouteError> {
        let p = ev.platform;
        // A queue's channel holds cards and the agents' work on them (internal notes among it):
        // none of it becomes a new ticket, by any of the ways of filing.
        if let Place::Thread { channel, .. } | Place::Channel { channel, .. } = &ev.place
            && self.is_queue_channel(p, channel)
        {
            return Ok(Route::Problem(NOT_FROM_A_QUEUE.into()));
        }
        let found = match lookup.message(sits_in, message).await {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(Route::Problem(MESSAGE_GONE.into())),
            Err(kind) => return Err(RouteError::Platform(kind)),
        };
        if found.author_is_bot {
            return Ok(Route::Skip("deskbot does not file bots' messages"));
        }
        let Some(author) = author_hint.or(found.author.clone()) else {
            return Ok(Route::Problem(MESSAGE_GONE.into()));
        };
        let answer = match &ev.place {
            Place::Direct { channel, thread } => {
                let mut reply_to = Address::new(p, channel.clone());
                reply_to.thread = thread.clone();
                Answer { conversation: dm_conversation(p, &author), reply_to, opens_thread: false }
            }
            Place::Thread { channel, thread, .. } => self.answered(p, channel, thread, &author, false),
            Place::Channel { channel, .. } => match found.thread.as_deref().filter(|t| *t != message) {
                Some(parent) => self.answered(p, channel, parent, &author, false),
                None => self.answered(p, channel, message, &author, true),
            },
            Place::Nowhere => return Ok(Route::Skip("a message with no place")),
        };
        if answer.opens_thread {
            lookup.thread_title(sits_in, message, &title_of(&self.redacted(&found.text)));
        }
        let note = note.filter(|n| !n.trim().is_empty());
        let filer_name = match &ev.sender_name {
            Some(n) => Some(n.clone()),
            None => lookup.display_name(&ev.sender).await,
        };
        let author_name = match found.author_name.clone() {
            Some(n) => Some(n),
            None if author == ev.sender => filer_name.clone(),
            None => lookup.display_name(&author).await,
        };
        let kind =
            InboundKind::FileTicket { text: found.text, author: UserRef::new(p, author), author_name, note };
        let mut inbound = self.base(ev, event_id, answer, kind, lookup).await;
        inbound.display_name = filer_name;
        inbound.attachments = found.attachments;
        set_origin(&mut inbound, sits_in, message);
        Ok(Route::Event(Box::new(inbound)))
    }

    async fn button(
        &self,
        ev: &ChatEvent,
        delivery: &str,
        message: &str,
        value: &str,
        lookup: &dyn Lookup,
    ) -> Result<Route, RouteError> {
        let p = ev.platform;
        if value == cards::REPLY {
            // Only on a ticket's card, as the platform says the button sits.
            let (channel, card) = match &ev.place {
                Place::Channel { channel, .. } => (channel, message),
                Place::Thread { channel, thread, .. } => (channel, thread.as_str()),
                _ => return Ok(Route::Problem(NOT_A_CARD.into())),
            };
            let Some(ticket) = self.card_ticket(p, channel, card).await? else {
                return Ok(Route::Problem(NOT_A_CARD.into()));
            };
            // The form opens only for someone who may send what it sends (the submission is
            // checked again, as the agent writing in the ticket's thread).
            let Some(t) = self.store.ticket(ticket).await.map_err(ServiceError::from)? else {
                return Ok(Route::Problem(NOT_A_CARD.into()));
            };
            let actor = UserRef::new(p, ev.sender.clone());
            let origin = Address::new(p, channel.clone()).in_thread(card.to_string());
            if !self.access().await?.may_act(&t.queue, &actor, &origin) {
                return Ok(Route::Problem(crate::desk::workflow::refusal(&t.queue)));
            }
            return Ok(Route::OpenReplyForm { ticket, channel: channel.clone(), card: card.to_string() });
        }
        let answer = match &ev.place {
            Place::Direct { channel, thread } => {
                let mut reply_to = Address::new(p, channel.clone());
                reply_to.thread = thread.clone();
                Answer { conversation: dm_conversation(p, &ev.sender), reply_to, opens_thread: false }
            }
            Place::Thread { channel, thread, .. } => Answer {
                conversation: thread_conversation(p, channel, thread),
                reply_to: Address::new(p, channel.clone()).in_thread(thread.clone()),
                opens_thread: false,
            },
            // A card (its own id anchors the ticket's thread) or an answer at a channel's top
            // level.
            Place::Channel { channel, .. } => Answer {
                conversation: thread_conversation(p, channel, message),
                reply_to: Address::new(p, channel.clone()).in_thread(message),
                opens_thread: false,
            },
            Place::Nowhere => return Ok(Route::Skip("a button with no place")),
        };
        let kind = InboundKind::Choice { id: value.to_string() };
        let inbound = self.base(ev, format!("action:{delivery}"), answer, kind, lookup).await;
        Ok(Route::Event(Box::new(inbound)))
    }

    /// The ticket whose card is message `card` in a queue's channel `channel`, if any.
    async fn card_ticket(
        &self,
        p: Platform,
        channel: &str,
        card: &str,
    ) -> Result<Option<TicketNumber>, ServiceError> {
        if !self.is_queue_channel(p, channel) {
            return Ok(None);
        }
        Ok(self.store.ticket_by_thread(p, channel, card).await?)
    }

    /// The reply form: the same as the submitting agent writing the reply prefix and the text
    /// in the ticket's thread, so the desk's permission check applies. Which card is the
    /// message the platform says the form was opened from, checked to be a ticket's card.
    async fn reply_form(
        &self,
        ev: &ChatEvent,
        delivery: &str,
        card: &str,
        expected: Option<TicketNumber>,
        text: &str,
        lookup: &dyn Lookup,
    ) -> Result<Route, RouteError> {
        let p = ev.platform;
        let channel = match &ev.place {
            Place::Channel { channel, .. } | Place::Thread { channel, .. } => channel,
            _ => return Ok(Route::Problem(NOT_A_CARD.into())),
        };
        match self.card_ticket(p, channel, card).await? {
            None => return Ok(Route::Problem(NOT_A_CARD.into())),
            Some(found) if expected.is_some_and(|e| e != found) => {
                tracing::warn!(ticket = %found, "a reply form names another ticket than its card's; refused");
                return Ok(Route::Problem(NOT_A_CARD.into()));
            }
            Some(_) => {}
        }
        if text.trim().is_empty() {
            return Ok(Route::Problem("The reply was empty; nothing was sent.".into()));
        }
        let answer = Answer {
            conversation: thread_conversation(p, channel, card),
            reply_to: Address::new(p, channel.clone()).in_thread(card),
            opens_thread: false,
        };
        let text = format!("{}{}", self.desk.settings.reply_prefix, text.trim());
        let inbound =
            self.base(ev, format!("form:{delivery}"), answer, InboundKind::Message { text }, lookup).await;
        Ok(Route::Event(Box::new(inbound)))
    }

    /// The new-ticket form and the slash command: the sender's own conversation, answered in
    /// the DM they used, else in their DMs.
    async fn personal(&self, ev: ChatEvent, lookup: &dyn Lookup) -> Result<Route, RouteError> {
        let p = ev.platform;
        let reply_to = match &ev.place {
            Place::Direct { channel, thread } => {
                let mut a = Address::new(p, channel.clone());
                a.thread = thread.clone();
                a
            }
            _ => Address::person(p, &ev.sender),
        };
        let answer = Answer { conversation: dm_conversation(p, &ev.sender), reply_to, opens_thread: false };
        let (event_id, kind) = match &ev.input {
            Input::TicketForm { delivery, text } => {
                if text.trim().is_empty() {
                    return Ok(Route::Problem("Describe the problem first.".into()));
                }
                let kind = InboundKind::FileTicket {
                    text: text.trim().to_string(),
                    author: UserRef::new(p, ev.sender.clone()),
                    author_name: None,
                    note: None,
                };
                (format!("form:{delivery}"), kind)
            }
            Input::Command { delivery, text } => {
                let text = text.trim();
                let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
                let kind = match word.to_lowercase().as_str() {
                    portal::PORTAL_WORD if rest.trim().is_empty() => return self.portal_link_note(&ev).await,
                    "" | "help" => InboundKind::Message { text: "help".into() },
                    "status" => InboundKind::Message { text: "status".into() },
                    "new" if rest.trim().is_empty() => {
                        return Ok(Route::Problem(
                            "Describe the problem after `new`, e.g. `new my laptop will not boot`.".into(),
                        ));
                    }
                    "new" => InboundKind::FileTicket {
                        text: rest.trim().to_string(),
                        author: UserRef::new(p, ev.sender.clone()),
                        author_name: None,
                        note: None,
                    },
                    _ => InboundKind::Message { text: text.to_string() },
                };
                (format!("cmd:{delivery}"), kind)
            }
            _ => return Ok(Route::Skip("not a form or command")),
        };
        let mut inbound = self.base(&ev, event_id, answer, kind, lookup).await;
        if let InboundKind::FileTicket { author_name, .. } = &mut inbound.kind {
            *author_name = inbound.display_name.clone();
        }
        Ok(Route::Event(Box::new(inbound)))
    }
}

/// The employee's message: status reactions go on it, in the channel it sits in when answers
/// go elsewhere.
fn set_origin(inbound: &mut Inbound, sits_in: &str, message: &str) {
    inbound.message_id = Some(message.to_string());
    if inbound.reply_to.channel != sits_in {
        inbound.message_channel = Some(sits_in.to_string());
    }
}

#[cfg(test)]
mod tests;
