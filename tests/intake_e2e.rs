//! How chat platforms feed employees' requests in, end to end through the in-memory test
//! channel: status reactions on the employee's message, and a ticket filed from someone
//! else's message (the 🎫 reaction) for its author.

mod support;

use deskbot::domain::{Address, Platform, UserRef};
use deskbot::domain::{Channel, Inbound, InboundKind};
use deskbot::outbox::Outbox;
use deskbot::store::TicketFilter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use support::test_channel::TestChannel;
use support::{TestApp, TestClock};

const CONFIG: &str = r#"
[[queue]]
name = "service-desk"
channel = { test = "agents" }
[[queue]]
name = "hardware"
channel = { test = "agents" }
[[queue]]
name = "network"
channel = { test = "agents" }
[[queue]]
name = "identity"
channel = { test = "agents" }
[[queue]]
name = "software"
channel = { test = "agents" }
[[queue]]
name = "access"
channel = { test = "agents" }
[[queue]]
name = "security"
channel = { test = "agents" }
[[queue]]
name = "facilities"
channel = { test = "agents" }
"#;

struct Harness {
    t: TestApp,
    clock: TestClock,
    chan: Arc<TestChannel>,
    n: AtomicU64,
}

impl Harness {
    async fn new(extra: &str) -> Harness {
        let clock = TestClock::at(1_795_797_000_000);
        let t = TestApp::with_config(&format!("{extra}\n{CONFIG}"), clock.clock()).await;
        Harness { t, clock, chan: Arc::new(TestChannel::default()), n: AtomicU64::new(0) }
    }

    /// `user` sends `kind` in the thread of `thread` in channel `help`.
    async fn send(&self, user: &str, thread: &str, message_id: Option<&str>, kind: InboundKind) {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let inbound = Inbound {
            event_id: format!("ev-{n}"),
            user: UserRef::new(Platform::Test, user),
            display_name: Some(user.to_string()),
            conversation: format!("test:help:{thread}"),
            reply_to: Address::new(Platform::Test, "help").in_thread(thread),
            kind,
            at: 0,
            message_id: message_id.map(str::to_string),
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        self.t.app.service.handle(inbound).await.unwrap();
        let chan: Arc<dyn Channel> = self.chan.clone();
        Outbox::new(self.t.app.store.clone(), vec![chan], 8, self.clock.clock()).deliver_due().await.unwrap();
    }

    fn reactions(&self) -> Vec<String> {
        self.chan
            .all()
            .into_iter()
            .filter(|s| s.kind == "reaction")
            .map(|s| format!("{} {}", s.place, s.text))
            .collect()
    }
}

#[tokio::test]
async fn a_question_is_marked_working_then_solved() {
    let h = Harness::new("").await;
    let ask = InboundKind::Message { text: "how do I connect to the vpn from home".into() };
    h.send("erin", "100.1", Some("100.1"), ask).await;
    assert_eq!(h.reactions(), vec!["help :eyes: on 100.1"]);
    let answer = h.chan.texts("help/100.1");
    assert_eq!(answer.len(), 1, "one answer in the thread: {answer:?}");

    // The button press carries no message of its own: the mark goes on the question.
    h.send("erin", "100.1", None, InboundKind::Choice { id: "solved".into() }).await;
    assert_eq!(h.reactions(), vec!["help :eyes: on 100.1", "help :white_check_mark: on 100.1"]);
}

#[tokio::test]
async fn status_reactions_can_be_turned_off_and_renamed() {
    let h = Harness::new("[intake]\nstatus_reactions = false").await;
    let ask = InboundKind::Message { text: "how do I connect to the vpn from home".into() };
    h.send("erin", "100.1", Some("100.1"), ask).await;
    assert!(h.reactions().is_empty());

    let h = Harness::new("[intake]\nworking_emoji = \"hourglass\"").await;
    let ask = InboundKind::Message { text: "how do I connect to the vpn from home".into() };
    h.send("erin", "100.1", Some("100.1"), ask).await;
    assert_eq!(h.reactions(), vec!["help :hourglass: on 100.1"]);
}

#[tokio::test]
async fn a_reaction_files_a_ticket_for_the_messages_author() {
    let h = Harness::new("").await;
    let text = "the projector in meeting room 12 shows only a blue screen, card 4111 1111 1111 1111";
    let kind = InboundKind::FileTicket {
        text: text.into(),
        author: UserRef::new(Platform::Test, "erin"),
        author_name: Some("Erin Example".into()),
        note: Some("she asked me to raise it, the 3pm meeting needs it, my card 4111 1111 1111 1111".into()),
    };
    // Kim reacts with 🎫 on Erin's message 200.5 (and adds a note, as the shortcut allows).
    h.send("kim", "200.5", Some("200.5"), kind).await;
    // The intent's form question still comes first, in the message's thread, for the author.
    let asked = h.chan.texts("help/200.5");
    assert!(asked.last().is_some_and(|m| m.contains("Which meeting room")), "{asked:?}");
    h.send("erin", "200.5", Some("200.6"), InboundKind::Message { text: "room 12, building A".into() }).await;

    let tickets =
        h.t.app.store.tickets(&TicketFilter { limit: 10, ..TicketFilter::default() }).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(t.requester, UserRef::new(Platform::Test, "erin"), "credited to the author, not the reactor");
    assert_eq!(t.requester_name.as_deref(), Some("erin"), "the author's name, from their own answer");
    assert!(t.description.contains("projector"), "{}", t.description);
    assert!(!t.description.contains("4111"), "card number redacted: {}", t.description);
    assert!(t.description.starts_with("the projector in meeting room 12"), "{}", t.description);
    assert!(!t.description.contains("3pm"), "the filer's note is not the description: {}", t.description);
    assert_eq!(t.filed_by, UserRef::new(Platform::Test, "kim"), "the reactor filed it, after Erin's answer");
    let created = h.t.app.store.ticket_events(t.number).await.unwrap();
    assert_eq!(created[0].kind, "created");
    assert_eq!(created[0].actor, "test:kim");
    assert!(created[0].detail.as_deref().unwrap_or("").starts_with("filed by test:kim for test:erin"));
    let lines = h.t.app.store.ticket_messages(t.number).await.unwrap();
    assert!(lines[0].turn.text.starts_with("the projector"), "the transcript starts at the message");
    let note = lines.iter().find(|m| matches!(m.turn.from, deskbot::store::Speaker::Filer(_))).unwrap();
    assert_eq!(note.turn.from, deskbot::store::Speaker::Filer("kim".into()));
    assert!(note.turn.text.contains("3pm meeting"));
    assert!(!note.turn.text.contains("4111"), "the note is redacted too: {}", note.turn.text);

    let thread = h.chan.texts("help/200.5");
    assert!(
        thread.iter().any(|m| m.contains(&t.number.to_string())),
        "confirmation names the ticket: {thread:?}"
    );
    let cards: Vec<_> = h.chan.at("agents").into_iter().filter(|s| s.kind == "card").collect();
    assert_eq!(cards.len(), 1, "the card reaches the agents");
    assert!(!cards[0].text.contains("4111"));
    assert_eq!(h.reactions(), vec!["help :eyes: on 200.5", "help :ticket: on 200.5"]);

    // Erin's follow-up in that thread goes to the ticket.
    let follow = InboundKind::Message { text: "it started after the update".into() };
    h.send("erin", "200.5", Some("200.7"), follow).await;
    let card = h.chan.card_id("agents").unwrap();
    let relayed = h.chan.texts(&format!("agents/{card}"));
    assert!(relayed.iter().any(|m| m.contains("it started after the update")), "{relayed:?}");
}
