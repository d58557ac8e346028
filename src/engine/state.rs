//! Per-conversation state, stored as JSON between events. Each variant knows which choices
//! it offered, so a typed "2" and a pressed button resolve the same way.

use crate::domain::Choice;
use crate::domain::{Millis, TicketNumber, UserRef};
use crate::intents::Catalog;
use crate::store::Turn;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The transcript kept for the case in progress is cut to this many turns (oldest dropped).
pub const MAX_TRANSCRIPT_TURNS: usize = 40;

/// Where the conversation stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Nothing in progress.
    #[default]
    Idle,
    /// An answer was given; waiting for [That solved it] [Not solved] [Talk to a person].
    Answered {
        query: String,
        intent: Option<String>,
        article: Option<String>,
        #[serde(default)]
        captures: BTreeMap<String, String>,
    },
    /// Two intents fit about equally well: asked which one the employee meant.
    Clarify { query: String, intents: Vec<String> },
    /// KB articles were offered (no intent matched).
    Offered { query: String, articles: Vec<String> },
    /// Nothing matched: offered to file a ticket.
    OfferTicket { query: String },
    /// Asking the intent's form questions before filing.
    Form {
        query: String,
        intent: Option<String>,
        /// Index of the slot being asked.
        next: usize,
        values: BTreeMap<String, String>,
        retries: u8,
    },
    /// Asked for a person with nothing described yet: the next message is the description.
    Describe,
    /// A ticket was filed from this conversation: further messages go to its thread, and once
    /// it is resolved a rating or a reply (which reopens it) may follow.
    /// The ticket is the newest one filed from this conversation (its number is allocated
    /// when the filing commits, so it is looked up rather than stored).
    Ticket,
    /// The employee rated a ticket; an optional comment may follow.
    Comment { number: TicketNumber },
    /// Asking a request-catalog item's fields (the justification among them) before the
    /// request is recorded.
    Request { item: String, next: usize, values: BTreeMap<String, String> },
    /// An approver pressed Deny: their next message is the reason the requester is told.
    DenyReason { request: String },
}

/// What is stored per conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConversationState {
    #[serde(default)]
    pub state: State,
    /// The redacted transcript of the case in progress; becomes the ticket's transcript.
    #[serde(default)]
    pub transcript: Vec<Turn>,
    /// The employee's message the case started from, for status reactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The current question was already asked again after a reply that was not one of its
    /// options: it is not repeated a second time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reasked: bool,
    /// Who asked for a ticket to be filed from the employee's message (🎫, the message
    /// shortcut), with what they added; kept until the ticket is filed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filing: Option<Filing>,
    /// When the message that began this conversation was posted (the platform's time). A
    /// thread's plain messages posted before it were not said to deskbot, even when the
    /// platform delivers them after it (see the router's owner rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Millis>,
}

/// A ticket asked for from a message: who asked, and the note they typed, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filing {
    pub by: UserRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A platform message: the channel it is in and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub channel: String,
    pub message: String,
}

impl ConversationState {
    /// Append a turn. Past the bound the oldest turns after the first go: a transcript always
    /// starts at the message the case started from.
    pub fn push_turn(&mut self, turn: Turn) {
        self.transcript.push(turn);
        if self.transcript.len() > MAX_TRANSCRIPT_TURNS {
            let extra = self.transcript.len() - MAX_TRANSCRIPT_TURNS;
            self.transcript.drain(1..=extra);
        }
    }

    /// Start a new case from the latest turn (the message being handled): earlier turns go.
    pub fn restart_transcript(&mut self) {
        let keep = self.transcript.len().saturating_sub(1);
        self.transcript.drain(..keep);
    }
}

pub const SOLVED: &str = "solved";
pub const NOT_SOLVED: &str = "not_solved";
pub const PERSON: &str = "person";
pub const NONE_OF_THESE: &str = "none";
pub const FILE_TICKET: &str = "file_ticket";
pub const CANCEL: &str = "cancel";
pub const ARTICLE_PREFIX: &str = "article:";
pub const INTENT_PREFIX: &str = "intent:";
pub const RATE_PREFIX: &str = "rate:";
/// An approval DM's buttons: `approve:R-1001`, `deny:R-1001`.
pub const APPROVE_PREFIX: &str = "approve:";
pub const DENY_PREFIX: &str = "deny:";
/// An expiry warning's button: `extend:R-1001`.
pub const EXTEND_PREFIX: &str = "extend:";

/// The choices a state offers, in the order shown.
pub fn choices_for(state: &State, catalog: &Catalog) -> Vec<Choice> {
    match state {
        State::Answered { .. } => vec![
            Choice::new(SOLVED, "That solved it"),
            Choice::new(NOT_SOLVED, "Not solved"),
            Choice::new(PERSON, "Talk to a person"),
        ],
        State::Offered { articles, .. } => {
            let mut c: Vec<Choice> = articles
                .iter()
                .map(|id| {
                    let title = catalog.article(id).map(|a| a.title.clone()).unwrap_or_else(|| id.clone());
                    Choice::new(format!("{ARTICLE_PREFIX}{id}"), title)
                })
                .collect();
            c.push(Choice::new(NONE_OF_THESE, "None of these: talk to a person"));
            c
        }
        State::Clarify { intents, .. } => {
            let mut c: Vec<Choice> = intents
                .iter()
                .map(|id| {
                    let label = catalog
                        .intent(id)
                        .map(|i| i.description.trim())
                        .filter(|d| !d.is_empty())
                        .unwrap_or(id);
                    Choice::new(format!("{INTENT_PREFIX}{id}"), label)
                })
                .collect();
            c.push(Choice::new(NONE_OF_THESE, "None of these: talk to a person"));
            c
        }
        State::OfferTicket { .. } => {
            vec![Choice::new(FILE_TICKET, "File a ticket"), Choice::new(CANCEL, "Cancel")]
        }
        State::Idle
        | State::Form { .. }
        | State::Describe
        | State::Ticket
        | State::Comment { .. }
        | State::Request { .. }
        | State::DenyReason { .. } => Vec::new(),
    }
}

/// The question a state asks with its choices (asked again after a reply that is none of them).
pub fn question_for(state: &State) -> Option<String> {
    match state {
        State::Answered { .. } => Some(super::replies::answer_footer().to_string()),
        State::Offered { .. } => Some(super::replies::offer_articles()),
        State::Clarify { .. } => Some(super::replies::clarify()),
        State::OfferTicket { .. } => Some(super::replies::offer_ticket()),
        State::Idle
        | State::Form { .. }
        | State::Describe
        | State::Ticket
        | State::Comment { .. }
        | State::Request { .. }
        | State::DenyReason { .. } => None,
    }
}

/// The 1–5 rating buttons sent with a resolution notice.
pub fn rating_choices() -> Vec<Choice> {
    (1..=5).map(|n| Choice::new(format!("{RATE_PREFIX}{n}"), n.to_string())).collect()
}

/// Which offered choice a typed message picks: its number ("2"), its id, or its label
/// ("not solved"), case-insensitively.
pub fn pick_choice<'a>(choices: &'a [Choice], text: &str) -> Option<&'a Choice> {
    let t = text.trim().trim_end_matches(['.', '!']).trim();
    if let Ok(n) = t.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| choices.get(i));
    }
    choices.iter().find(|c| c.id.eq_ignore_ascii_case(t) || c.label.eq_ignore_ascii_case(t))
}
