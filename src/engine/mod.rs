//! The conversation engine: a pure state machine.
//! `step(state, inbound, ctx) -> Step { state', actions }` does no I/O and reads no clock;
//! everything it needs (catalog, time, the employee's tickets, settings) is passed in.
//! `state.rs` holds the per-conversation state, `step.rs` the transitions, `words.rs` the
//! small recognisers ("cancel", "thanks", a rating), `replies.rs` what the bot says.

mod replies;
mod state;
mod step;
mod words;

#[cfg(test)]
mod tests;

use crate::domain::{Choice, TicketSummary};
use crate::domain::{Millis, QueueName, TicketNumber, TicketStatus};
use crate::intents::Catalog;
use crate::store::{KbFeedback, NewTicket};

pub use replies::{TRUNCATED_NOTICE, resolved_notice};
pub use state::{
    APPROVE_PREFIX, ConversationState, DENY_PREFIX, EXTEND_PREFIX, MAX_TRANSCRIPT_TURNS, Origin, RATE_PREFIX,
    State, choices_for, rating_choices,
};
pub use step::step;

/// Greetings and thanks: small talk that is not a request (request channels ignore it).
pub fn is_pleasantry(text: &str) -> bool {
    words::is_greeting(text) || words::is_thanks(text)
}

/// Tunables from config that shape the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// A reply this soon after a ticket was resolved reopens it.
    pub reopen_window_ms: i64,
    /// How many KB articles to offer when no intent matched.
    pub max_kb_offers: usize,
    /// How long a KB excerpt may be.
    pub excerpt_chars: usize,
    /// When set, article answers end with `{kb_base_url}/{article-id}`.
    pub kb_base_url: Option<String>,
    /// Where tickets without an intent go.
    pub default_queue: QueueName,
    /// How often a form question is re-asked before the answer is taken as given.
    pub max_slot_retries: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reopen_window_ms: 7 * 24 * 3600 * 1000,
            max_kb_offers: 3,
            excerpt_chars: 600,
            kb_base_url: None,
            default_queue: QueueName::parse("service-desk").unwrap_or_else(|_| unreachable!()),
            max_slot_retries: 2,
        }
    }
}

/// Everything the engine may look at besides the conversation itself.
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub now: Millis,
    /// The employee's tickets, newest first (for "status of my tickets").
    pub tickets: &'a [TicketSummary],
    pub settings: &'a Settings,
    /// The employee's display name, when the platform gave one.
    pub display_name: Option<&'a str>,
}

/// What the engine wants done. The service turns these into store writes and outbox rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Say something to the employee, optionally with choices (buttons / numbered options).
    Reply { text: String, choices: Vec<Choice> },
    /// File a ticket. Replies in the same step may mention it through
    /// [`crate::store::TICKET_PLACEHOLDER`].
    FileTicket(NewTicket),
    /// Change a ticket's status (reopen, resolve).
    SetTicketStatus { number: TicketNumber, status: TicketStatus, actor: String, note: Option<String> },
    /// The employee rated how a ticket was handled (1–5).
    Rate { number: TicketNumber, score: u8 },
    /// The employee's comment on their rating.
    RateComment { number: TicketNumber, comment: String },
    /// Pass the employee's message to the ticket's thread.
    Relay { number: TicketNumber, text: String },
    /// The employee said whether an answer helped.
    Feedback(KbFeedback),
    /// Record a request for a catalog item with the answers to its fields (the justification
    /// among them); the service tells the employee its number and who approves it.
    SubmitRequest { item: String, fields: std::collections::BTreeMap<String, String> },
    /// The sender decides request `request` (`R-1001`): the service checks that the request
    /// waits on them before anything is recorded.
    Decide { request: String, approve: bool, reason: Option<String> },
    /// The sender asks to extend the grant made on `request` (the expiry warning's "Extend"):
    /// the service checks that they hold it and records a new request with its own approval.
    Extend { request: String },
    /// The sender asks which requests wait for their approval or review: the service lists
    /// them to the sender, each with its buttons, in a DM.
    ListApprovals,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: ConversationState,
    pub actions: Vec<Action>,
}

impl Step {
    /// The texts of the replies, in order (handy for tests and the console).
    pub fn replies(&self) -> Vec<&str> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}
