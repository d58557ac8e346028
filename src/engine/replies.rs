//! What the bot says. Kept in one place so wording stays consistent.

use crate::domain::TicketStatus;
use crate::domain::TicketSummary;
use crate::store::TICKET_PLACEHOLDER;
use crate::usertext::mark;

pub fn greeting(name: Option<&str>) -> String {
    let hello = match name {
        Some(n) if !n.is_empty() => format!("Hi {}!", mark(n)),
        _ => "Hi!".to_string(),
    };
    format!(
        "{hello} I'm the IT help bot. Tell me what's wrong in your own words (\"I forgot my password\", \
         \"my VPN keeps dropping\") and I'll answer or file a ticket for the IT team. \
         Say \"status\" to see your tickets."
    )
}

pub fn help() -> String {
    "Describe your problem or question in a sentence and I'll find an answer or file a ticket.\n\
     • \"status\" shows your tickets, \"status IT-1042\" one of them\n\
     • \"talk to a person\" files a ticket right away\n\
     • \"cancel\" stops what we're doing"
        .to_string()
}

pub const EMPTY: &str = "I didn't catch that. Tell me what's wrong in a sentence, or say \"help\".";
pub const WELCOME: &str = "You're welcome! Message me any time.";
/// A reopen asked for when the ticket is not resolved, or resolved too long ago.
pub const CANNOT_REOPEN: &str =
    "That ticket can no longer be reopened here. Tell me what's wrong and I'll help.";
pub const CANCELLED: &str = "OK, cancelled. Tell me if there's anything else.";
pub const SOLVED: &str = "Glad that helped! Message me any time.";
pub const TRUNCATED_NOTICE: &str = "(Your message was very long, so I kept only the first part.)";

pub fn answer_footer() -> &'static str {
    "Did that solve it?"
}

pub fn offer_articles() -> String {
    "I'm not sure I understood, but these articles might help. Pick one, or choose the last option \
     to talk to a person:"
        .to_string()
}

pub fn clarify() -> String {
    "I'm not sure which of these you mean. Pick one, or choose the last option to talk to a person:"
        .to_string()
}

pub fn offer_ticket() -> String {
    "I couldn't find an answer to that. Shall I file a ticket so the IT team can help?".to_string()
}

pub fn filed(queue: &str) -> String {
    format!(
        "I've filed ticket {TICKET_PLACEHOLDER} for you and passed it to the {queue} team. \
         You'll hear back right here, and anything you add here goes to the ticket \
         (say \"new question\" for something else, \"status\" to check on it)."
    )
}

/// A ticket filed at someone else's request from the employee's message.
pub fn filed_for(queue: &str, by: &str) -> String {
    format!(
        "{by} asked me to file this for you: ticket {TICKET_PLACEHOLDER} is with the {queue} team. \
         You'll hear back right here, and anything you add here goes to the ticket."
    )
}

pub const DESCRIBE: &str =
    "Briefly describe the problem in a sentence or two and I'll file a ticket for the IT team.";
pub const STILL_NOT_AN_OPTION: &str = "Sorry, I still didn't get that. Pick one of the options above, \
     say \"talk to a person\", or tell me about a different problem.";

/// The same question again after a reply that was none of its options.
pub fn not_an_option(question: &str, labels: &[String]) -> String {
    format!("That isn't one of the options. {question}\n{}", labels.join("\n"))
}

/// Thanks or "ok" while a ticket is open: acknowledged, not added to the ticket.
pub fn acknowledged(number: &str) -> String {
    format!("You're welcome! {number} stays open with the IT team; I'll tell you here when they reply.")
}

pub fn slot_retry(ask: &str, hint: Option<&str>) -> String {
    match hint {
        Some(h) => format!("That doesn't look right. {h}\n{ask}"),
        None => format!("That doesn't look right. {ask}"),
    }
}

pub fn form_intro(ask: &str) -> String {
    format!("I'll file a ticket for you. A quick question first (say \"cancel\" to stop):\n{ask}")
}

pub fn status_list(tickets: &[TicketSummary]) -> String {
    let active: Vec<&TicketSummary> = tickets.iter().filter(|t| t.status.is_active()).collect();
    if tickets.is_empty() {
        return "You have no tickets with IT. Tell me what's wrong and I'll help.".to_string();
    }
    let shown: Vec<&TicketSummary> =
        if active.is_empty() { tickets.iter().take(3).collect() } else { active.clone() };
    let mut out = if active.is_empty() {
        "You have no open tickets. Your latest:".to_string()
    } else {
        format!("You have {} open ticket{}:", active.len(), if active.len() == 1 { "" } else { "s" })
    };
    for t in shown.iter().take(10) {
        out.push_str(&format!("\n• {} {} — {}", t.number, mark(&t.title), status_word(t.status)));
    }
    out
}

pub fn status_one(t: Option<&TicketSummary>, asked: &str) -> String {
    match t {
        Some(t) => format!("{} {} — {}", t.number, mark(&t.title), status_word(t.status)),
        None => format!("I can't find ticket {asked} among yours. Say \"status\" to list your tickets."),
    }
}

fn status_word(s: TicketStatus) -> &'static str {
    match s {
        TicketStatus::Open => "open, with the IT team",
        TicketStatus::Pending => "waiting for your reply",
        TicketStatus::Resolved => "resolved",
        TicketStatus::Closed => "closed",
    }
}

pub fn rated(score: u8) -> String {
    let thanks = if score >= 4 {
        "Thanks for the rating! Glad we could help."
    } else {
        "Thanks for the rating. We'll use it to do better."
    };
    format!("{thanks} Anything you'd like to add? (Reply with a comment, or \"no\".)")
}

pub const COMMENT_THANKS: &str = "Thanks for the feedback!";
pub const NEW_QUESTION: &str = "Sure. What's the new problem?";

pub fn relayed(number: &str) -> String {
    format!("Added to {number}. The IT team will answer here.")
}

/// What the employee sees when a ticket is resolved, with rating buttons.
pub fn resolved_notice(number: &str, agent: &str, message: Option<&str>) -> String {
    let note = message.map(|m| format!("\n{agent} wrote: \"{m}\"")).unwrap_or_default();
    format!(
        "Your ticket {number} has been resolved.{note}\nHow would you rate the help you got, \
         from 1 (poor) to 5 (great)? If it isn't fixed, just reply here and I'll reopen it."
    )
}

pub fn reopened(number: &str) -> String {
    format!("I've reopened ticket {number} and passed your message to the IT team.")
}

pub fn request_intro(title: &str, ask: &str) -> String {
    format!("I can request {title} for you. A few questions first (say \"cancel\" to stop):\n{ask}")
}

pub fn field_too_short(min_chars: usize, ask: &str) -> String {
    format!("Please say a bit more (at least {min_chars} characters): the approvers decide on it.\n{ask}")
}

pub fn deny_reason(request: &str) -> String {
    if request.starts_with("AR-") {
        return format!(
            "Why should the access of {request} be removed? Your reason is recorded with the review."
        );
    }
    format!("Why are you denying {request}? Your reason is passed to the requester.")
}

pub const ITEM_GONE: &str =
    "That item is no longer in the request catalog. Tell me what you need and I'll help.";
