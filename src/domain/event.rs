//! What an adapter makes of a platform payload before anything is decided: a [`ChatEvent`]
//! says where something happened, who did it (as the platform attests), and what it was. The
//! intake router (`service::router`) turns it into an [`Inbound`](super::Inbound): the
//! conversation key, the reply address, the event id the store dedupes on, and whether it is
//! for deskbot at all. Adapters decide none of that.

use super::{Attachment, Millis, Platform, TicketNumber};

/// One thing a person did on a chat platform, as the platform reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEvent {
    pub platform: Platform,
    /// Where it happened.
    pub place: Place,
    /// Who did it: the platform's user id of the authenticated sender (never a payload field
    /// the client controls).
    pub sender: String,
    /// Their display name, when the payload carries it (else the router asks the adapter).
    pub sender_name: Option<String>,
    /// When the platform says it happened.
    pub at: Millis,
    pub input: Input,
}

/// Where an event happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The sender's direct messages with deskbot: the DM channel, and the thread inside it when
    /// there is one.
    Direct { channel: String, thread: Option<String> },
    /// Inside a channel thread: the channel it hangs off, the thread's id (Slack: the parent
    /// message's `ts`; Discord: the thread channel's id), and whether deskbot started it.
    Thread { channel: String, thread: String, bot_started: bool },
    /// A channel's top level; its name when the adapter knows it without asking.
    Channel { channel: String, name: Option<String> },
    /// Nowhere in particular (a global shortcut, a command answered privately): answers go to
    /// the sender's direct messages.
    Nowhere,
}

impl Place {
    /// The channel (or the thread, where the platform makes threads channels) a message at
    /// this place sits in: where reactions on it are added.
    pub fn message_channel(&self, platform: Platform) -> Option<&str> {
        match self {
            Place::Direct { channel, .. } | Place::Channel { channel, .. } => Some(channel),
            Place::Thread { thread, .. } if platform.threads_are_channels() => Some(thread),
            Place::Thread { channel, .. } => Some(channel),
            Place::Nowhere => None,
        }
    }
}

/// What the person did.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Posted a message (`id`: Slack `ts`, Discord message id), with any mention of deskbot
    /// already removed from `text`.
    Message { id: String, text: String, mentions_bot: bool, attachments: Vec<Attachment> },
    /// Pressed a button on message `message` (at `place`); `value` is the button's raw value and
    /// `delivery` the platform's id for this press.
    Button { delivery: String, message: String, value: String },
    /// Added a reaction (a name without colons: `ticket`, `eyes`) to message `message` at
    /// `place`; `author` is the message's author when the event says so.
    Reaction { message: String, emoji: String, author: Option<String> },
    /// Asked to file a ticket from message `message` at `place` (a message shortcut or its
    /// form), adding `note`. Its text and author are read from the platform, never from the
    /// payload.
    FileMessage { delivery: String, message: String, note: Option<String> },
    /// Submitted the new-ticket form.
    TicketForm { delivery: String, text: String },
    /// Submitted an agent's reply form, opened from message `card` at `place`; `ticket` is the
    /// ticket the form was shown for, when it says (it must be the card's).
    ReplyForm { delivery: String, card: String, ticket: Option<TicketNumber>, text: String },
    /// Ran deskbot's slash command with `text` after it (`help`, `status`, `new …`, a question).
    Command { delivery: String, text: String },
    /// Acted on their ticket `ticket` from a page about it (the portal's ticket page);
    /// `delivery` is the page form's one-time id.
    TicketAction { delivery: String, ticket: TicketNumber, action: TicketAction },
}

/// What a requester does to their ticket from its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketAction {
    /// Add a comment to an open or pending ticket.
    Comment(String),
    /// Reopen a resolved ticket (within the reopen window), saying what still is wrong.
    Reopen(String),
    /// Rate a resolved ticket, 1 to 5.
    Rate(u8),
}

/// A message read back from the platform (for reactions, shortcuts and forms that name a
/// message without carrying it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedMessage {
    pub text: String,
    /// The author's user id.
    pub author: Option<String>,
    /// The author's display name, when the platform gave it with the message.
    pub author_name: Option<String>,
    /// Whether the author is a bot (deskbot or another): such messages are not filed.
    pub author_is_bot: bool,
    /// The thread it sits in, when that is not itself (Slack: the parent's `ts`).
    pub thread: Option<String>,
    pub attachments: Vec<Attachment>,
}
