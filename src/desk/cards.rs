//! What the desk posts: the ticket card, the transcript as the card's first thread reply, and
//! the outbound rows that carry them to every channel of the ticket's queue.

use crate::domain::{Address, Millis, TicketNumber};
use crate::domain::{Choice, Outbound, OutboundKind, TicketCard};
use crate::store::{Speaker, TICKET_PLACEHOLDER, Ticket, Turn};
use crate::usertext::mark;

/// Buttons on a card (ids are handled by the desk workflow).
pub const CLAIM: &str = "desk:claim";
pub const RESOLVE: &str = "desk:resolve";
pub const REPLY: &str = "desk:reply";

pub fn card_of(t: &Ticket) -> TicketCard {
    let requester = match &t.requester_name {
        Some(n) => format!("{n} ({})", t.requester),
        None => t.requester.to_string(),
    };
    let sla_due = t.sla.as_ref().and_then(|s| {
        if s.first_response_at.is_none() {
            s.first_response_due.or(s.resolution_due)
        } else {
            s.resolution_due
        }
    });
    TicketCard {
        number: t.number,
        title: t.title.clone(),
        requester,
        priority: t.priority,
        intent: t.intent.clone(),
        queue: t.queue.to_string(),
        status: t.status,
        assignee: t.assignee.clone(),
        sla_due: if t.status.is_active() { sla_due } else { None },
    }
}

/// The card as text (platforms with rich layouts render `TicketCard` themselves). The title
/// and the requester's name are the employee's words: marked, so they stay text.
pub fn card_text(c: &TicketCard) -> String {
    let due = c.sla_due.map(|d| format!(" · due {}", when(d))).unwrap_or_default();
    let number = if c.number.0 == 0 { TICKET_PLACEHOLDER.to_string() } else { c.number.to_string() };
    format!(
        "🎫 {} {}\nRequester: {} · Priority: {} · Queue: {} · Intent: {}\nStatus: {} · Assignee: {}{due}",
        number,
        mark(&c.title),
        mark(&c.requester),
        c.priority,
        c.queue,
        c.intent.as_deref().unwrap_or("-"),
        c.status,
        c.assignee.as_deref().unwrap_or("nobody"),
    )
}

fn card_choices() -> Vec<Choice> {
    vec![
        Choice::new(CLAIM, "Claim"),
        Choice::new(RESOLVE, "Resolve"),
        Choice::new(REPLY, "Reply to requester"),
    ]
}

/// A new card in one channel.
pub fn new_card(to: Address, t: &Ticket) -> Outbound {
    let card = card_of(t);
    Outbound {
        to,
        text: card_text(&card),
        choices: card_choices(),
        kind: OutboundKind::Card { card },
        about: Default::default(),
    }
}

/// The card edited in place.
pub fn card_update(to: Address, t: &Ticket) -> Outbound {
    let card = card_of(t);
    Outbound {
        to,
        text: card_text(&card),
        choices: card_choices(),
        kind: OutboundKind::CardUpdate { card },
        about: Default::default(),
    }
}

/// A message in the ticket's thread.
pub fn thread_reply(to: Address, number: TicketNumber, text: impl Into<String>) -> Outbound {
    Outbound {
        to,
        text: text.into(),
        choices: Vec::new(),
        kind: OutboundKind::ThreadReply { ticket: number },
        about: Default::default(),
    }
}

/// The transcript, as the card's first thread reply. Every line's words are marked as
/// user-written (a bot line quoted here is shown as text too).
pub fn transcript_text(turns: &[Turn], description: &str) -> String {
    let mut out = String::from("Transcript:\n");
    for t in turns {
        let who = match &t.from {
            Speaker::Employee => "employee".to_string(),
            Speaker::Bot => "deskbot".to_string(),
            Speaker::Agent(n) => mark(n),
            Speaker::Filer(n) => format!("{} (filed it)", mark(n)),
            Speaker::System => "system".to_string(),
        };
        let first_line = t.text.lines().next().unwrap_or("");
        let more = if t.text.lines().nth(1).is_some() { " …" } else { "" };
        out.push_str(&format!("> {who}: {}{more}\n", mark(first_line)));
    }
    if turns.is_empty() {
        out.push_str(&format!("> {}\n", mark(description)));
    }
    out
}

fn when(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usertext::{Span, spans};

    #[test]
    fn the_employees_words_on_a_card_and_in_the_transcript_are_marked_as_theirs() {
        let card = TicketCard {
            number: TicketNumber(7),
            title: "[login](https://evil.example)".into(),
            requester: "<!channel> (slack:U1)".into(),
            priority: crate::domain::Priority::Normal,
            intent: None,
            queue: "access".into(),
            status: crate::domain::TicketStatus::Open,
            assignee: None,
            sla_due: None,
        };
        let text = card_text(&card);
        let user: Vec<&str> = spans(&text)
            .into_iter()
            .filter_map(|s| if let Span::User(u) = s { Some(u) } else { None })
            .collect();
        assert_eq!(user, ["[login](https://evil.example)", "<!channel> (slack:U1)"]);
        let turns = vec![
            Turn { from: Speaker::Employee, text: "*urgent* @everyone\nmore".into(), at: 0, by: None },
            Turn { from: Speaker::Agent("<@U9>".into()), text: "on it".into(), at: 1, by: None },
        ];
        let t = transcript_text(&turns, "unused");
        let user: Vec<&str> = spans(&t)
            .into_iter()
            .filter_map(|s| if let Span::User(u) = s { Some(u) } else { None })
            .collect();
        assert_eq!(user, ["*urgent* @everyone", "<@U9>", "on it"]);
        assert!(spans(&transcript_text(&[], "<b>desc</b>")).contains(&Span::User("<b>desc</b>")));
    }
}
