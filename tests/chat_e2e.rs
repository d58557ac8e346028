//! End to end through the console channel: a message in, the reply and the stored ticket out,
//! on a real SQLite database with the shipped starter pack.

mod support;

use deskbot::domain::{Address, Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::domain::{Inbound, InboundKind};
use deskbot::service::Handled;
use deskbot::store::{Speaker, TicketFilter};
use support::TestApp;

#[tokio::test]
async fn password_question_is_answered_from_the_starter_pack() {
    let t = TestApp::new().await;
    let out = t.chat("alice", &["I forgot my password"]).await;
    assert!(out.to_lowercase().contains("password"), "{out}");
    assert!(out.contains("1. That solved it") && out.contains("3. Talk to a person"), "{out}");
    let out = t.chat("alice", &["1"]).await;
    assert!(out.contains("Glad that helped"), "{out}");
    assert!(t.app.store.tickets(&TicketFilter::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_problem_offers_a_ticket_and_files_it_with_the_transcript() {
    let t = TestApp::new().await;
    let out = t.chat("bob", &["the coffee machine on floor 3 is leaking"]).await;
    assert!(out.contains("File a ticket"), "{out}");
    let out = t.chat("bob", &["1"]).await;
    assert!(out.contains("IT-1001"), "{out}");
    let tickets = t.app.store.tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(ticket.number, TicketNumber(1001));
    assert_eq!(ticket.title, "the coffee machine on floor 3 is leaking");
    assert_eq!(ticket.queue.as_str(), "service-desk");
    assert_eq!(ticket.status, TicketStatus::Open);
    assert_eq!(ticket.requester, UserRef::new(Platform::Console, "bob"));
    let transcript = t.app.store.ticket_messages(ticket.number).await.unwrap();
    assert!(
        transcript.iter().any(|m| m.turn.from == Speaker::Employee && m.turn.text.contains("coffee machine"))
    );
    let out = t.chat("bob", &["status"]).await;
    assert!(out.contains("IT-1001") && out.contains("coffee machine"), "{out}");
}

#[tokio::test]
async fn scripted_vpn_conversation_files_a_network_ticket() {
    let t = TestApp::new().await;
    let out = t.chat("carol", &["hi", "my vpn keeps dropping", "2"]).await;
    assert!(out.contains("IT help bot"), "{out}");
    assert!(out.to_lowercase().contains("vpn"), "{out}");
    // The VPN intent may ask a question before filing; answer it if so.
    let mut tickets = t.app.store.tickets(&TicketFilter::default()).await.unwrap();
    if tickets.is_empty() {
        let out = t.chat("carol", &["Windows laptop LT-01234, at home"]).await;
        assert!(out.contains("IT-1001"), "{out}");
        tickets = t.app.store.tickets(&TicketFilter::default()).await.unwrap();
    }
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].intent.as_deref(), Some("vpn_problem"));
    assert_eq!(tickets[0].queue.as_str(), "network");
}

#[tokio::test]
async fn pii_is_redacted_before_it_is_stored() {
    let t = TestApp::new().await;
    t.chat("dave", &["talk to a person", "my card 4111 1111 1111 1111 was charged, mail dave@example.com"])
        .await;
    let tickets = t.app.store.tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let stored = format!("{}{}", tickets[0].title, tickets[0].description);
    assert!(stored.contains("[card]") && stored.contains("[email]"), "{stored}");
    assert!(!stored.contains("4111") && !stored.contains("dave@example.com"), "{stored}");
    let transcript = t.app.store.ticket_messages(tickets[0].number).await.unwrap();
    assert!(transcript.iter().all(|m| !m.turn.text.contains("4111")));
}

fn inbound(event_id: &str, text: &str) -> Inbound {
    Inbound {
        event_id: event_id.into(),
        user: UserRef::new(Platform::Test, "erin"),
        display_name: None,
        conversation: "test:erin".into(),
        reply_to: Address::new(Platform::Test, "erin"),
        kind: InboundKind::Message { text: text.into() },
        at: 0,
        message_id: None,
        message_channel: None,
        attachments: Vec::new(),
        via: Default::default(),
    }
}

#[tokio::test]
async fn replayed_event_changes_nothing_and_sends_nothing() {
    let t = TestApp::new().await;
    let first =
        t.app.service.handle(inbound("ev-1", "the coffee machine on floor 3 is leaking")).await.unwrap();
    assert!(matches!(first, Handled::Applied { replies: 1, .. }));
    let depth = t.app.store.outbox_depth().await.unwrap();
    let again =
        t.app.service.handle(inbound("ev-1", "the coffee machine on floor 3 is leaking")).await.unwrap();
    assert_eq!(again, Handled::Duplicate);
    assert_eq!(t.app.store.outbox_depth().await.unwrap(), depth);
    t.app.service.handle(inbound("ev-2", "1")).await.unwrap();
    t.app.service.handle(inbound("ev-2", "1")).await.unwrap();
    assert_eq!(t.app.store.tickets(&TicketFilter::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn resolved_ticket_asks_for_rating_and_a_reply_reopens_it() {
    let t = TestApp::new().await;
    t.chat("frank", &["the coffee machine on floor 3 is leaking", "1"]).await;
    let n = TicketNumber(1001);
    t.app.service.resolve_ticket(n, "agent-kim", Some("Called the plumber".into())).await.unwrap();
    let out = t.chat("frank", &[]).await;
    assert!(out.contains("IT-1001 has been resolved") && out.contains("Called the plumber"), "{out}");
    let ticket = t.app.store.ticket(n).await.unwrap().unwrap();
    assert_eq!(ticket.status, TicketStatus::Resolved);
    let out = t.chat("frank", &["it is leaking again"]).await;
    assert!(out.contains("reopened"), "{out}");
    assert_eq!(t.app.store.ticket(n).await.unwrap().unwrap().status, TicketStatus::Open);
    let kinds: Vec<String> =
        t.app.store.ticket_events(n).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.iter().any(|k| k.contains("resolved")) && kinds.iter().any(|k| k.contains("reopen")),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn rating_after_resolution_is_stored() {
    let t = TestApp::new().await;
    t.chat("gina", &["the coffee machine on floor 3 is leaking", "1"]).await;
    t.app.service.resolve_ticket(TicketNumber(1001), "agent-kim", None).await.unwrap();
    let out = t.chat("gina", &["5"]).await;
    assert!(out.contains("Thanks for the rating"), "{out}");
    let kinds: Vec<String> =
        t.app.store.ticket_events(TicketNumber(1001)).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.iter().any(|k| k.contains("csat") || k.contains("rat")), "{kinds:?}");
}

#[tokio::test]
async fn an_answer_that_is_not_an_option_is_asked_again_and_never_becomes_the_problem() {
    let t = TestApp::new().await;
    let out = t.chat("dave", &["the coffee machine on floor 3 is leaking"]).await;
    assert!(out.contains("1. File a ticket") && out.contains("2. Cancel"), "{out}");
    // Two options; "3" is neither: the same question again, with its options.
    let out = t.chat("dave", &["3"]).await;
    assert!(out.contains("isn't one of the options") && out.contains("1. File a ticket"), "{out}");
    assert!(t.app.store.tickets(&TicketFilter::default()).await.unwrap().is_empty(), "{out}");
    let out = t.chat("dave", &["1"]).await;
    assert!(out.contains("IT-1001"), "{out}");
    let tickets = t.app.store.tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].title, "the coffee machine on floor 3 is leaking");
    assert_eq!(tickets[0].description, "the coffee machine on floor 3 is leaking");
    let transcript = t.app.store.ticket_messages(tickets[0].number).await.unwrap();
    assert_eq!(
        transcript[0].turn.text, "the coffee machine on floor 3 is leaking",
        "starts at the first message"
    );
}

#[tokio::test]
async fn a_stolen_laptop_is_filed_at_once_and_thanks_stay_out_of_the_ticket() {
    let t = TestApp::new().await;
    let out = t.chat("erin", &["my laptop was stolen from my car last night"]).await;
    // The answer, as first steps, and the ticket's number, without pressing anything.
    assert!(out.contains("4357") && out.contains("IT-1001"), "{out}");
    assert!(!out.contains("That solved it"), "{out}");
    let tickets = t.app.store.tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!((ticket.intent.as_deref(), ticket.queue.as_str()), (Some("lost_device"), "security"));
    assert_eq!(ticket.priority, deskbot::domain::Priority::Urgent);
    assert_eq!(
        (&ticket.requester, &ticket.filed_by),
        (&UserRef::new(Platform::Console, "erin"), &ticket.requester)
    );
    let before = t.app.store.ticket_messages(ticket.number).await.unwrap().len();
    let out = t.chat("erin", &["thanks!"]).await;
    assert!(out.contains("You're welcome") && out.contains("IT-1001"), "{out}");
    let after = t.app.store.ticket_messages(ticket.number).await.unwrap();
    assert_eq!(after.len(), before, "thanks are not added to the ticket: {after:?}");
    // A real follow-up still is.
    t.chat("erin", &["it was a silver MacBook, asset LT-0042"]).await;
    let after = t.app.store.ticket_messages(ticket.number).await.unwrap();
    assert!(after.iter().any(|m| m.turn.text.contains("LT-0042")), "{after:?}");
}
