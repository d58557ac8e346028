//! The agent desk end to end through the in-memory test channel: the employee and the agents
//! each see exactly what they should, in order; SLA timers fire at business-hours moments under
//! a fake clock; an undelivered outbox survives a restart and is delivered once.

mod support;

use deskbot::domain::{Address, Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::domain::{Channel, Inbound, InboundKind};
use deskbot::outbox::Outbox;
use deskbot::service::{Handled, scheduler};
use deskbot::store::TicketFilter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use support::test_channel::TestChannel;
use support::{TestApp, TestClock};

const FRIDAY_1630: i64 = 1795797000000; // 2026-11-27 16:30 UTC (= London)
const SATURDAY_1200: i64 = 1795867200000;
const MONDAY_0914: i64 = 1796030040000;
const MONDAY_0916: i64 = 1796030160000;
const MONDAY_0931: i64 = 1796031060000;
const HOUR: i64 = 3_600_000;

fn config(relay: &str) -> String {
    let mut c = format!(
        r#"
[[queue]]
name = "service-desk"
channel = {{ test = "agents" }}
agents = ["test:kim"]
leads = ["test:lee"]
relay = "{relay}"
[queue.hours]
timezone = "Europe/London"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "17:00"
[queue.sla]
normal = {{ first_response = "1h", resolution = "4h" }}
"#
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        c.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n"));
    }
    c
}

struct Desk {
    t: TestApp,
    clock: TestClock,
    chan: Arc<TestChannel>,
    n: AtomicU64,
}

impl Desk {
    async fn new(relay: &str) -> Desk {
        let clock = TestClock::at(FRIDAY_1630);
        let t = TestApp::with_config(&config(relay), clock.clock()).await;
        Desk { t, clock, chan: Arc::new(TestChannel::default()), n: AtomicU64::new(0) }
    }

    async fn send(&self, user: &str, to: Address, conversation: &str, kind: InboundKind) -> Handled {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let inbound = Inbound {
            event_id: format!("ev-{n}"),
            user: UserRef::new(Platform::Test, user),
            display_name: Some(user.to_string()),
            conversation: conversation.to_string(),
            reply_to: to,
            kind,
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        let handled = self.t.app.service.handle(inbound).await.unwrap();
        self.deliver().await;
        handled
    }

    async fn deliver(&self) {
        let chan: Arc<dyn Channel> = self.chan.clone();
        let outbox = Outbox::new(self.t.app.store.clone(), vec![chan], 8, self.clock.clock());
        outbox.deliver_due().await.unwrap();
    }

    async fn employee(&self, text: &str) {
        let kind = InboundKind::Message { text: text.into() };
        self.send("erin", Address::new(Platform::Test, "erin-dm"), "test:erin", kind).await;
    }

    async fn agent(&self, who: &str, text: &str) -> Handled {
        let card = self.chan.card_id("agents").expect("card posted");
        let to = Address::new(Platform::Test, "agents").in_thread(card.clone());
        let kind = InboundKind::Message { text: text.into() };
        self.send(who, to, &format!("test:agents:{card}"), kind).await
    }

    async fn status(&self) -> TicketStatus {
        self.t.app.store.ticket(TicketNumber(1001)).await.unwrap().unwrap().status
    }
}

/// New texts at `place` since `from`.
fn since(chan: &TestChannel, place: &str, from: usize) -> Vec<String> {
    chan.texts(place).into_iter().skip(from).collect()
}

#[tokio::test]
async fn a_whole_ticket_from_filing_to_close() {
    let d = Desk::new("reply_only").await;
    let thread = |d: &Desk| format!("agents/{}", d.chan.card_id("agents").unwrap());

    // Employee files; the card and transcript reach the agents' channel.
    d.employee("the coffee machine on floor 3 is leaking").await;
    d.employee("1").await;
    let erin = d.chan.texts("erin-dm");
    assert!(erin[0].contains("file a ticket"), "{erin:?}");
    assert!(erin[1].contains("IT-1001"), "{erin:?}");
    let cards = d.chan.at("agents");
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].kind, "card");
    assert!(
        cards[0].text.contains("IT-1001") && cards[0].text.contains("coffee machine"),
        "{}",
        cards[0].text
    );
    assert_eq!(cards[0].choices, vec!["Claim", "Resolve", "Reply to requester"]);
    let th = thread(&d);
    let t0 = d.chan.texts(&th);
    assert_eq!(t0.len(), 1);
    assert!(t0[0].starts_with("Transcript:") && t0[0].contains("coffee machine"), "{t0:?}");

    // Agent claims: a notice in the thread and the card updated in place.
    d.agent("kim", "!claim").await;
    assert_eq!(since(&d.chan, &th, 1), vec!["👀 kim claimed IT-1001"]);
    let card = d.chan.at("agents");
    assert_eq!(card.last().unwrap().kind, "card_update");
    assert!(card.last().unwrap().text.contains("Assignee: test:kim"));

    // A reply reaches the employee, attributed; the employee's answer reaches the thread.
    d.agent("kim", "!reply A plumber is on the way").await;
    assert_eq!(since(&d.chan, "erin-dm", 2), vec!["kim (IT) on IT-1001: A plumber is on the way"]);
    d.employee("thanks, it is still dripping").await;
    assert_eq!(since(&d.chan, "erin-dm", 3), vec!["Added to IT-1001. The IT team will answer here."]);
    assert!(d.chan.texts(&th).contains(&"💬 erin: thanks, it is still dripping".to_string()));

    // Internal talk never reaches the employee.
    let before = d.chan.texts("erin-dm").len();
    d.agent("kim", "checking with facilities, they are slow today").await;
    d.agent("kim", "note: also the filter looks old").await;
    assert_eq!(d.chan.texts("erin-dm").len(), before);
    let msgs = d.t.app.store.ticket_messages(TicketNumber(1001)).await.unwrap();
    let internal: Vec<&str> = msgs.iter().filter(|m| m.internal).map(|m| m.turn.text.as_str()).collect();
    assert_eq!(
        internal,
        vec!["checking with facilities, they are slow today", "note: also the filter looks old"]
    );

    // A non-agent is refused and nothing changes.
    let thread_before = d.chan.texts(&th).len();
    let refused = d.agent("mallory", "!resolve").await;
    assert_eq!(
        refused,
        Handled::Refused {
            note: "Only agents of the service-desk queue can do that. Nothing was changed.".into()
        }
    );
    assert_eq!(d.chan.texts(&th).len(), thread_before, "the refusal is private");
    assert_eq!(d.status().await, TicketStatus::Open);
    assert_eq!(d.chan.texts("erin-dm").len(), before);

    // Resolve; the employee is asked for a rating with buttons, rates 5, comments.
    d.agent("kim", "!resolve Replaced the hose").await;
    assert_eq!(d.status().await, TicketStatus::Resolved);
    let last = d.chan.at("erin-dm").pop().unwrap();
    assert!(last.text.contains("IT-1001 has been resolved") && last.text.contains("Replaced the hose"));
    assert_eq!(last.choices, vec!["1", "2", "3", "4", "5"]);
    d.employee("5").await;
    d.employee("Quick and friendly").await;
    let events = d.t.app.store.ticket_events(TicketNumber(1001)).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "csat" && e.detail.as_deref() == Some("score 5")), "{events:?}");
    assert!(
        events.iter().any(|e| e.kind == "csat_comment" && e.detail.as_deref() == Some("Quick and friendly"))
    );

    // A reply within the reopen window reopens it; the thread hears about it.
    d.employee("it is leaking again").await;
    assert_eq!(d.status().await, TicketStatus::Open);
    assert!(d.chan.texts("erin-dm").last().unwrap().contains("reopened"));
    let th_now = d.chan.texts(&th);
    assert!(th_now.iter().any(|t| t.contains("reopened by the requester")), "{th_now:?}");
    assert!(th_now.last().unwrap().contains("it is leaking again"));

    // Resolved again, then closed by the scheduler once the reopen window has passed.
    d.agent("kim", "!resolve").await;
    d.clock.advance(8 * 24 * HOUR);
    scheduler::tick(&d.t.app.service).await.unwrap();
    assert_eq!(d.status().await, TicketStatus::Closed);
    let kinds: Vec<String> =
        d.t.app.store.ticket_events(TicketNumber(1001)).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&"assignee".to_string())
            && kinds.iter().filter(|k| k.contains("resolved")).count() == 2,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn sla_reminder_and_breach_follow_business_hours() {
    let d = Desk::new("reply_only").await;
    d.employee("the coffee machine on floor 3 is leaking").await;
    d.employee("1").await;
    let th = format!("agents/{}", d.chan.card_id("agents").unwrap());
    let lead_dm = "lee";
    let notices = |d: &Desk| {
        d.chan
            .texts(&th)
            .into_iter()
            .filter(|t| t.starts_with('⏰') || t.starts_with('🚨'))
            .collect::<Vec<_>>()
    };

    for at in [SATURDAY_1200, MONDAY_0914] {
        d.clock.set(at);
        scheduler::tick(&d.t.app.service).await.unwrap();
        d.deliver().await;
        assert!(notices(&d).is_empty(), "nothing is due at {at}: {:?}", notices(&d));
    }
    d.clock.set(MONDAY_0916);
    scheduler::tick(&d.t.app.service).await.unwrap();
    d.deliver().await;
    assert_eq!(notices(&d), vec!["⏰ the queue: IT-1001 needs a first response soon."]);
    d.clock.set(MONDAY_0931);
    scheduler::tick(&d.t.app.service).await.unwrap();
    scheduler::tick(&d.t.app.service).await.unwrap();
    d.deliver().await;
    let n = notices(&d);
    assert_eq!(n.len(), 2, "{n:?}");
    assert!(n[1].starts_with("🚨 IT-1001 breached its first response SLA"), "{n:?}");
    assert_eq!(d.chan.texts(lead_dm).len(), 1, "the lead is told once");
    let breaches = d.t.app.store.ticket_events(TicketNumber(1001)).await.unwrap();
    assert_eq!(breaches.iter().filter(|e| e.kind == "sla_breach").count(), 1);
}

#[tokio::test]
async fn first_reply_stops_the_first_response_clock_and_pending_pauses_resolution() {
    let d = Desk::new("all").await;
    d.employee("the coffee machine on floor 3 is leaking").await;
    d.employee("1").await;
    // relay = "all": a plain thread message reaches the employee, `note:` does not.
    d.agent("kim", "On it").await;
    d.agent("kim", "note: tricky one").await;
    let erin = d.chan.texts("erin-dm");
    assert_eq!(erin.last().unwrap(), "kim (IT) on IT-1001: On it");
    assert!(!erin.iter().any(|t| t.contains("tricky")));
    let t = d.t.app.store.ticket(TicketNumber(1001)).await.unwrap().unwrap();
    assert_eq!(t.sla.as_ref().and_then(|s| s.first_response_at), Some(FRIDAY_1630));
    d.clock.advance(20 * 60_000);
    d.agent("kim", "!pending").await;
    let t = d.t.app.store.ticket(TicketNumber(1001)).await.unwrap().unwrap();
    assert_eq!(t.status, TicketStatus::Pending);
    assert_eq!(t.sla.as_ref().and_then(|s| s.paused_remaining_ms), Some(4 * HOUR - 20 * 60_000));
    // No breach while pending, even long after the target.
    d.clock.set(MONDAY_0931 + 6 * HOUR);
    scheduler::tick(&d.t.app.service).await.unwrap();
    let events = d.t.app.store.ticket_events(TicketNumber(1001)).await.unwrap();
    assert!(!events.iter().any(|e| e.kind == "sla_breach"), "{events:?}");
    // The employee answers: open again, the clock resumes with what was left.
    d.employee("here is the photo").await;
    let t = d.t.app.store.ticket(TicketNumber(1001)).await.unwrap().unwrap();
    assert_eq!(t.status, TicketStatus::Open);
    assert!(t.sla.as_ref().and_then(|s| s.resolution_due).unwrap() > MONDAY_0931 + 6 * HOUR);
}

#[tokio::test]
async fn undelivered_messages_survive_a_restart_and_are_sent_once() {
    let clock = TestClock::at(FRIDAY_1630);
    let t = TestApp::with_config(&config("reply_only"), clock.clock()).await;
    let db = t.app.config.clone();
    for (i, text) in ["the coffee machine on floor 3 is leaking", "1"].iter().enumerate() {
        let inbound = Inbound {
            event_id: format!("r-{i}"),
            user: UserRef::new(Platform::Test, "erin"),
            display_name: None,
            conversation: "test:erin".into(),
            reply_to: Address::new(Platform::Test, "erin-dm"),
            kind: InboundKind::Message { text: text.to_string() },
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        t.app.service.handle(inbound).await.unwrap();
    }
    // A worker claims the rows and dies before sending (its lease runs out).
    let claimed =
        t.app.store.claim_outbox(&[Platform::Test], "dead-worker", FRIDAY_1630, 60_000, 100).await.unwrap();
    assert_eq!(claimed.len(), 4);
    drop(t.app);
    // "Restart": a new application on the same database.
    clock.advance(61_000);
    let app = deskbot::app::App::build_with_clock(db, clock.clock()).await.unwrap();
    let chan = Arc::new(TestChannel::default());
    let dyn_chan: Arc<dyn Channel> = chan.clone();
    let outbox = Outbox::new(app.store.clone(), vec![dyn_chan], 8, clock.clock());
    outbox.deliver_due().await.unwrap();
    outbox.deliver_due().await.unwrap();
    assert_eq!(chan.all().len(), 4, "{:?}", chan.all());
    assert_eq!(chan.texts("erin-dm").len(), 2);
    assert_eq!(app.store.outbox_depth().await.unwrap(), 0);
    assert_eq!(app.store.tickets(&TicketFilter::default()).await.unwrap().len(), 1);
}

struct Refusing;

#[async_trait::async_trait]
impl Channel for Refusing {
    fn platform(&self) -> Platform {
        Platform::Test
    }
    async fn send(
        &self,
        _: &str,
        _: &deskbot::domain::Outbound,
    ) -> Result<deskbot::domain::Delivered, deskbot::domain::SendError> {
        Err(deskbot::domain::SendError::Permanent("channel_not_found".into()))
    }
}

#[tokio::test]
async fn dead_letters_are_listed_and_can_be_retried() {
    let d = Desk::new("reply_only").await;
    let refusing: Arc<dyn Channel> = Arc::new(Refusing);
    let outbox = Outbox::new(d.t.app.store.clone(), vec![refusing], 8, d.clock.clock());
    let inbound = Inbound {
        event_id: "dl-1".into(),
        user: UserRef::new(Platform::Test, "erin"),
        display_name: None,
        conversation: "test:erin".into(),
        reply_to: Address::new(Platform::Test, "erin-dm"),
        kind: InboundKind::Message { text: "hi".into() },
        at: 0,
        message_id: None,
        message_channel: None,
        attachments: Vec::new(),
        via: Default::default(),
    };
    d.t.app.service.handle(inbound).await.unwrap();
    let round = outbox.deliver_due().await.unwrap();
    assert_eq!(round.dead, 1);
    let dead = d.t.app.store.outbox_list(Some("dead"), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("permanent failure: channel_not_found"));
    assert_eq!(d.t.app.store.outbox_retry(None, d.clock.clock()()).await.unwrap(), 1);
    d.deliver().await;
    assert_eq!(d.chan.texts("erin-dm").len(), 1);
    assert!(d.t.app.store.outbox_list(Some("dead"), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn book_reaction_on_an_answer_writes_a_draft_article() {
    let drafts = tempfile::tempdir().unwrap();
    let toml = format!("{}\n[desk]\nkb_drafts_dir = \"{}\"\n", config("reply_only"), drafts.path().display());
    let clock = TestClock::at(FRIDAY_1630);
    let t = TestApp::with_config(&toml, clock.clock()).await;
    let d = Desk { t, clock, chan: Arc::new(TestChannel::default()), n: AtomicU64::new(0) };
    d.employee("the coffee machine on floor 3 is leaking").await;
    d.employee("1").await;
    let card = d.chan.card_id("agents").unwrap();
    let to = Address::new(Platform::Test, "agents").in_thread(card.clone());
    let kind = InboundKind::Reaction {
        emoji: "book".into(),
        message: "m9".into(),
        text: Some("Turn the valve under the sink clockwise, then call facilities.".into()),
    };
    d.send("kim", to, &format!("test:agents:{card}"), kind).await;
    let files: Vec<_> = std::fs::read_dir(drafts.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.starts_with("+++\nid = \"draft-1001-"), "{text}");
    assert!(text.contains("Turn the valve under the sink"), "{text}");
    let article = deskbot::kb::parse_article(&files[0], &text);
    assert!(article.is_ok(), "the draft is a valid article: {article:?}");
    // Someone outside the queue cannot write drafts.
    let to = Address::new(Platform::Test, "agents").in_thread(card.clone());
    let kind =
        InboundKind::Reaction { emoji: "book".into(), message: "m9".into(), text: Some("spam".into()) };
    d.send("mallory", to, &format!("test:agents:{card}"), kind).await;
    assert_eq!(std::fs::read_dir(drafts.path()).unwrap().count(), 1);
}
