//! The intake router's owner rule: who may act on an employee's conversation. Decided here
//! once, for every adapter (Slack, Discord, console, the web portal): only the conversation's
//! employee may answer its questions, press its buttons or submit its forms. Anyone else gets a
//! short private note (or, for plain chatter in someone's thread, nothing), and nothing
//! changes; the event's dedupe row is still written, so a redelivery is a duplicate and tests
//! can wait for it.
//!
//! Agents in a ticket's thread never reach this rule: the desk decides what they may do, from
//! the grants ledger.

use crate::domain::{Inbound, InboundKind, Millis, UserRef, Via};
use crate::store::StoredConversation;

/// Shown privately to someone who pressed a button in another person's conversation.
pub const NOT_YOUR_BUTTON: &str = "Those buttons belong to someone else's request, so I left it as it was. Message me directly if you need help.";
/// Shown privately to someone who addressed deskbot inside another person's conversation.
pub const NOT_YOUR_CONVERSATION: &str = "That thread is someone else's request, so I left it as it was. Message me directly (or start a new thread) and I'll help.";

/// What the router decided about an event for an employee's conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The sender may act: run the conversation.
    Admit,
    /// Not for deskbot (people talking to each other in a thread): record the event, do nothing.
    Ignore,
    /// Someone acting on another person's conversation: record the event, tell them privately.
    Refuse(&'static str),
}

/// The owner rule. `stored` is the conversation the event names, if it exists, and `since`
/// when the message that began it was posted (the platform's time, when known).
pub fn admit(inbound: &Inbound, stored: Option<&StoredConversation>, since: Option<Millis>) -> Admission {
    let owner: Option<&UserRef> = stored.map(|c| &c.user);
    match &inbound.kind {
        // A ticket filed from someone's message belongs to its author; anyone may ask for it
        // (the filer is recorded beside the requester). It joins the conversation the message
        // sits in, so not a conversation of someone else's: that stays as it was.
        InboundKind::FileTicket { author, .. } => {
            return match owner {
                Some(o) if o != author => Admission::Refuse(NOT_YOUR_CONVERSATION),
                _ => Admission::Admit,
            };
        }
        // Reactions act on tickets only, and the desk takes those before this rule: on a
        // conversation, or on a message that is neither, a reaction is nothing.
        InboundKind::Reaction { .. } => return Admission::Ignore,
        _ => {}
    }
    // Platforms deliver a channel's events side by side, not always in the order they were
    // posted: a plain message in a thread, posted before the mention that brought deskbot in,
    // can arrive after it. It was said to people, not to deskbot.
    let before_deskbot = inbound.via == Via::Thread
        && matches!(inbound.kind, InboundKind::Message { .. })
        && since.is_some_and(|s| inbound.at < s);
    if owner.is_some() && before_deskbot {
        return Admission::Ignore;
    }
    match (owner, inbound.via) {
        (Some(o), _) if *o == inbound.user => Admission::Admit,
        // A thread deskbot has no conversation in: people talking to each other.
        (None, Via::Thread) => Admission::Ignore,
        (None, _) => Admission::Admit,
        (Some(_), via) => match &inbound.kind {
            InboundKind::Choice { .. } => Admission::Refuse(NOT_YOUR_BUTTON),
            InboundKind::Message { .. } if via == Via::Thread => Admission::Ignore,
            InboundKind::Message { .. } => Admission::Refuse(NOT_YOUR_CONVERSATION),
            InboundKind::Reaction { .. } => Admission::Ignore,
            InboundKind::AgentReply { .. } | InboundKind::FileTicket { .. } | InboundKind::Reopen { .. } => {
                Admission::Refuse(NOT_YOUR_CONVERSATION)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, Platform};

    fn conversation(owner: &str) -> StoredConversation {
        StoredConversation {
            key: "slack:C1:100.1".into(),
            user: UserRef::new(Platform::Slack, owner),
            reply_to: Address::new(Platform::Slack, "C1").in_thread("100.1"),
            state: serde_json::Value::Null,
            version: 1,
            updated_at: 0,
        }
    }

    fn event(sender: &str, via: Via, kind: InboundKind) -> Inbound {
        Inbound {
            event_id: "e1".into(),
            user: UserRef::new(Platform::Slack, sender),
            display_name: None,
            conversation: "slack:C1:100.1".into(),
            reply_to: Address::new(Platform::Slack, "C1").in_thread("100.1"),
            kind,
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via,
        }
    }

    fn text(t: &str) -> InboundKind {
        InboundKind::Message { text: t.into() }
    }

    fn filed(author: &str, t: &str) -> InboundKind {
        InboundKind::FileTicket {
            text: t.into(),
            author: UserRef::new(Platform::Slack, author),
            author_name: None,
            note: None,
        }
    }

    fn button() -> InboundKind {
        InboundKind::Choice { id: "talk_to_person".into() }
    }

    /// One row of the table: what happened, who sent it, how, what, the stored conversation,
    /// and the decision.
    type Case<'a> = (&'a str, &'a str, Via, InboundKind, Option<&'a StoredConversation>, Admission);

    /// Place × actor × input → decision, for an employee conversation (`alice` owns it).
    #[test]
    fn the_owner_rule_table() {
        let alice = conversation("alice");
        let file = InboundKind::FileTicket {
            text: "printer is on fire".into(),
            author: UserRef::new(Platform::Slack, "alice"),
            author_name: None,
            note: None,
        };
        let cases: Vec<Case> = vec![
            (
                "employee answers in own thread",
                "alice",
                Via::Thread,
                text("2"),
                Some(&alice),
                Admission::Admit,
            ),
            ("employee presses own button", "alice", Via::Direct, button(), Some(&alice), Admission::Admit),
            (
                "employee addresses bot in own thread",
                "alice",
                Via::Addressed,
                text("vpn"),
                Some(&alice),
                Admission::Admit,
            ),
            (
                "bystander answers the question",
                "bob",
                Via::Thread,
                text("2"),
                Some(&alice),
                Admission::Ignore,
            ),
            (
                "bystander presses the button",
                "bob",
                Via::Direct,
                button(),
                Some(&alice),
                Admission::Refuse(NOT_YOUR_BUTTON),
            ),
            (
                "bystander mentions the bot there",
                "bob",
                Via::Addressed,
                text("me too"),
                Some(&alice),
                Admission::Refuse(NOT_YOUR_CONVERSATION),
            ),
            (
                "bystander reacts",
                "bob",
                Via::Direct,
                InboundKind::Reaction { emoji: "x".into(), message: "1".into(), text: None },
                Some(&alice),
                Admission::Ignore,
            ),
            (
                "bystander files alice's message for her",
                "bob",
                Via::Direct,
                file,
                Some(&alice),
                Admission::Admit,
            ),
            (
                "reply in a thread deskbot is not in",
                "bob",
                Via::Thread,
                text("lunch?"),
                None,
                Admission::Ignore,
            ),
            (
                "new question in a request channel",
                "bob",
                Via::Addressed,
                text("vpn down"),
                None,
                Admission::Admit,
            ),
            ("first DM", "bob", Via::Direct, text("hi"), None, Admission::Admit),
            (
                "bystander files his own message in alice's thread",
                "bob",
                Via::Direct,
                filed("bob", "my monitor flickers"),
                Some(&alice),
                Admission::Refuse(NOT_YOUR_CONVERSATION),
            ),
            (
                "bystander files carol's message in alice's thread",
                "bob",
                Via::Direct,
                filed("carol", "my monitor flickers"),
                Some(&alice),
                Admission::Refuse(NOT_YOUR_CONVERSATION),
            ),
            (
                "someone files a message where nobody talks to deskbot yet",
                "bob",
                Via::Direct,
                filed("carol", "my monitor flickers"),
                None,
                Admission::Admit,
            ),
            (
                "a reaction on a message that is no ticket's",
                "bob",
                Via::Direct,
                InboundKind::Reaction { emoji: "tada".into(), message: "1".into(), text: None },
                None,
                Admission::Ignore,
            ),
            (
                "alice reacts in her own conversation",
                "alice",
                Via::Direct,
                InboundKind::Reaction { emoji: "tada".into(), message: "1".into(), text: None },
                Some(&alice),
                Admission::Ignore,
            ),
        ];
        for (name, sender, via, kind, stored, want) in cases {
            assert_eq!(admit(&event(sender, via, kind), stored, None), want, "{name}");
        }
    }

    /// The order of posting decides, not the order of delivery: alice's conversation began
    /// with a message posted at 2,000.
    #[test]
    fn a_thread_message_posted_before_the_conversation_began_is_not_for_deskbot() {
        let alice = conversation("alice");
        let at = |sender: &str, via: Via, t: Millis| Inbound { at: t, ..event(sender, via, text("x")) };
        let cases: Vec<(&str, Inbound, Option<Millis>, Admission)> = vec![
            (
                "her chatter from before the mention",
                at("alice", Via::Thread, 1_999),
                Some(2_000),
                Admission::Ignore,
            ),
            ("her answer after it", at("alice", Via::Thread, 2_001), Some(2_000), Admission::Admit),
            (
                "posted in the same millisecond",
                at("alice", Via::Thread, 2_000),
                Some(2_000),
                Admission::Admit,
            ),
            (
                "an earlier mention is still for deskbot",
                at("alice", Via::Addressed, 1_000),
                Some(2_000),
                Admission::Admit,
            ),
            (
                "a conversation from before start times were kept",
                at("alice", Via::Thread, 1),
                None,
                Admission::Admit,
            ),
            ("a bystander's earlier chatter", at("bob", Via::Thread, 1_000), Some(2_000), Admission::Ignore),
        ];
        for (name, inbound, since, want) in cases {
            assert_eq!(admit(&inbound, Some(&alice), since), want, "{name}");
        }
        // Her pressing a button is not a message: when it was pressed does not matter.
        let pressed = Inbound { at: 1_000, ..event("alice", Via::Thread, button()) };
        assert_eq!(admit(&pressed, Some(&alice), Some(2_000)), Admission::Admit);
    }
}
