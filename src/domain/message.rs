//! The platform-neutral messages: what an adapter turns a platform payload into
//! ([`Inbound`]), what the engine and the desk ask to send ([`Outbound`]), and the
//! [`Channel`] trait the outbox delivers through. No platform type appears here.

use super::{Address, Millis, Platform, TicketNumber, TicketStatus, UserRef};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Longest message text deskbot keeps from one inbound message, in bytes. Longer input is cut
/// at a character boundary and marked, so a pasted log cannot blow up a transcript.
pub const MAX_INBOUND_TEXT: usize = 8 * 1024;

/// One event from a channel, already translated out of the platform's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    /// The platform's id for this event; together with the platform it is the dedupe key.
    pub event_id: String,
    /// Who sent it.
    pub user: UserRef,
    /// A human name for the sender, when the platform gives one.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Which conversation it belongs to (e.g. `console:alice`, `slack:D123:1700000000.1234`).
    pub conversation: String,
    /// Where replies go.
    pub reply_to: Address,
    pub kind: InboundKind,
    /// When the platform says it happened.
    pub at: Millis,
    /// The platform's id of the employee's message this event carries (Slack `ts`, Discord
    /// message id). Status reactions (👀 ✅ 🎫) go on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The channel `message_id` is in, when it is not `reply_to.channel` (answers sent by DM
    /// for a question asked in a public channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_channel: Option<String>,
    /// Files attached to the message (names and sizes only; deskbot does not download them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// How the sender reached deskbot; the intake router decides what that allows.
    #[serde(default)]
    pub via: Via,
}

/// How the sender reached deskbot, as the adapter saw it. Adapters only report it; the intake
/// router (`service::router`) decides what it allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Their own direct messages, a slash command, a form or a button: the conversation named
    /// by the event is acted on only if it is the sender's own.
    #[default]
    Direct,
    /// They addressed deskbot in a channel (an @mention, a top-level post in a request channel):
    /// it may start a conversation there.
    Addressed,
    /// A reply in a channel thread that did not address deskbot: it continues the sender's own
    /// conversation there, if there is one; anything else is people talking to each other.
    Thread,
}

/// A file attached to an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    /// Size in bytes, as the platform reports it.
    pub size: u64,
    /// Where the platform serves it (needs the platform's credentials to fetch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundKind {
    /// A text message from the employee.
    Message { text: String },
    /// The employee reopens their conversation's resolved ticket (within the reopen window),
    /// saying what is still wrong: from a page about the ticket, where the chat would need a
    /// reply in the right state.
    Reopen { text: String },
    /// The employee pressed a button or picked an offered choice by its id.
    Choice { id: String },
    /// An agent's reply to the requester of a ticket, from an integration (the same as
    /// `!reply TEXT` in the ticket's thread).
    AgentReply { number: TicketNumber, agent: String, text: String },
    /// A reaction (emoji name without colons, e.g. `eyes`) added to a message; `text` is the
    /// reacted message's text when the platform gives it.
    Reaction { emoji: String, message: String, text: Option<String> },
    /// File a ticket from a message for its author (the 🎫 reaction, the "Create ticket" message
    /// shortcut). `Inbound::user` is who asked for it (the filer); `author` becomes the
    /// requester and the conversation is theirs; `text` is the message as the platform returns
    /// it; `note` is what the filer typed, kept apart and attributed to them;
    /// `Inbound::message_id` is the message it came from.
    FileTicket {
        text: String,
        author: UserRef,
        author_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// A button or numbered option offered with a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    pub label: String,
}

impl Choice {
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self { id: id.into(), label: label.into() }
    }
}

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    pub to: Address,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "OutboundKind::is_message")]
    pub kind: OutboundKind,
    /// The ticket or request whose words it quotes, if any (see [`About`]).
    #[serde(default, skip_serializing_if = "About::is_empty")]
    pub about: About,
}

/// What a delivery is about: the ticket or the request whose words (a title, a justification,
/// form answers) it quotes. Never sent anywhere; an erasure drops (or, once delivered, blanks)
/// the deliveries about the person's tickets and requests, and the retention purge those about
/// the tickets it expires, however short the words quoted (`store::catalogue::delivery_ticket`).
/// Cards, card updates, thread replies and webhooks name their ticket in their kind already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<super::RequestNumber>,
}

impl About {
    pub fn is_empty(&self) -> bool {
        self.ticket.is_none() && self.request.is_none()
    }
}

impl Outbound {
    /// A plain message, optionally with choices.
    pub fn message(to: Address, text: impl Into<String>, choices: Vec<Choice>) -> Self {
        Self { to, text: text.into(), choices, kind: OutboundKind::Message, about: About::default() }
    }

    /// The same, about ticket `n` (it quotes the ticket's words).
    pub fn about_ticket(mut self, n: TicketNumber) -> Self {
        self.about.ticket = Some(n);
        self
    }

    /// The same, about request `n` (it quotes the request's words).
    pub fn about_request(mut self, n: super::RequestNumber) -> Self {
        self.about.request = Some(n);
        self
    }

    /// Replace `TicketNumber(0)` ("the ticket this commit creates") with its number, in the
    /// kind and in [`About`].
    pub fn fill_new_ticket(&mut self, created: Option<TicketNumber>) {
        self.kind.fill_new_ticket(created);
        if let (Some(n), Some(t)) = (created, self.about.ticket.as_mut())
            && t.0 == 0
        {
            *t = n;
        }
    }

    /// A short note only `user` sees, beside `to` (where they acted).
    pub fn private(to: Address, user: &crate::domain::UserRef, text: impl Into<String>) -> Self {
        Self {
            to,
            text: text.into(),
            choices: Vec::new(),
            kind: OutboundKind::Private { user: user.id.clone() },
            about: About::default(),
        }
    }
}

/// What kind of delivery an outbound row is. Cards anchor a ticket's thread in its queue's
/// channel; thread replies and card updates find that anchor when they are sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundKind {
    /// A plain message to a person or a channel.
    #[default]
    Message,
    /// A new ticket card in a queue's channel; its message id becomes the ticket's thread.
    Card { card: TicketCard },
    /// Edit the ticket's card in place (`to.thread` is set to the card's id at send time).
    CardUpdate { card: TicketCard },
    /// A reply in the ticket's thread (`to.thread` is set to the card's id at send time).
    ThreadReply { ticket: TicketNumber },
    /// A JSON event for an outgoing webhook (`to.channel` names the webhook).
    Webhook { event: String, body: serde_json::Value },
    /// Add the reaction `emoji` (a name without colons: `eyes`, `white_check_mark`, `ticket`)
    /// to the message `message` in `to.channel`. Adding one that is already there succeeds.
    Reaction { emoji: String, message: String },
    /// A note only `user` (the platform's user id) sees, in `to`'s channel and thread when the
    /// platform can show it there (a Slack ephemeral message), else in their DMs.
    Private { user: String },
}

impl OutboundKind {
    pub fn is_message(&self) -> bool {
        matches!(self, OutboundKind::Message)
    }
    /// Replace `TicketNumber(0)` ("the ticket this commit creates") with its number.
    pub fn fill_new_ticket(&mut self, created: Option<TicketNumber>) {
        let Some(n) = created else { return };
        match self {
            OutboundKind::Card { card } | OutboundKind::CardUpdate { card } if card.number.0 == 0 => {
                card.number = n
            }
            OutboundKind::ThreadReply { ticket } if ticket.0 == 0 => *ticket = n,
            OutboundKind::Webhook { body, .. } => {
                if let Some(num) = body.pointer_mut("/ticket/number")
                    && num.as_i64() == Some(0)
                {
                    *num = serde_json::Value::from(n.0);
                }
            }
            _ => {}
        }
    }

    /// The ticket whose card this delivery needs, if any.
    pub fn anchored_to(&self) -> Option<TicketNumber> {
        match self {
            OutboundKind::CardUpdate { card } => Some(card.number),
            OutboundKind::ThreadReply { ticket } => Some(*ticket),
            _ => None,
        }
    }
}

/// What a ticket card shows agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketCard {
    pub number: TicketNumber,
    pub title: String,
    pub requester: String,
    pub priority: super::Priority,
    pub intent: Option<String>,
    pub queue: String,
    pub status: TicketStatus,
    pub assignee: Option<String>,
    /// When the next SLA target is due, if the queue has one.
    pub sla_due: Option<Millis>,
}

/// What a platform reports after a delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The platform's id of the message posted (needed for cards: it anchors the thread).
    pub message_id: Option<String>,
}

/// A ticket as shown to its requester ("status of my tickets").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSummary {
    pub number: TicketNumber,
    pub queue: super::QueueName,
    /// The conversation it was filed from.
    pub conversation: String,
    pub title: String,
    pub status: TicketStatus,
    pub updated_at: Millis,
    pub resolved_at: Option<Millis>,
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The platform asked us to slow down.
    #[error("rate limited; retry after {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// A network blip or a 5xx: try again later.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// The platform refused the message (bad channel, no permission): never retry.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// What the outbox worker delivers through.
#[async_trait]
pub trait Channel: Send + Sync {
    fn platform(&self) -> Platform;
    /// Deliver one message. `idempotency_key` is stable across retries of the same message.
    async fn send(&self, idempotency_key: &str, message: &Outbound) -> Result<Delivered, SendError>;
    /// Deliver a message again after an earlier attempt whose outcome is not known (it may have
    /// been posted). Channels that can look for their earlier post do so first.
    async fn resend(&self, idempotency_key: &str, message: &Outbound) -> Result<Delivered, SendError> {
        self.send(idempotency_key, message).await
    }
}

/// Clean text that came from outside: drop control characters (keeping newlines and tabs),
/// trim, and bound its length. Returns the text and whether it was cut.
pub fn sanitize_text(raw: &str) -> (String, bool) {
    let mut out = String::with_capacity(raw.len().min(MAX_INBOUND_TEXT));
    let mut truncated = false;
    for c in raw.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            continue;
        }
        if out.len() + c.len_utf8() > MAX_INBOUND_TEXT {
            truncated = true;
            break;
        }
        out.push(c);
    }
    (out.trim().to_string(), truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_drops_control_characters_and_bounds_length() {
        assert_eq!(sanitize_text("  hi\u{7}\u{1b}[31m there\r\n").0, "hi[31m there");
        let huge = "é".repeat(1_000_000);
        let (t, cut) = sanitize_text(&huge);
        assert!(cut);
        assert!(t.len() <= MAX_INBOUND_TEXT);
        assert!(t.chars().all(|c| c == 'é'));
        assert_eq!(sanitize_text("").0, "");
    }
}
