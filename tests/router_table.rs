//! The intake router's decision table: place × actor × input → what deskbot does, for Slack and
//! Discord alike, from the platform-neutral events their adapters produce. Actors: the
//! employee, a bystander, an agent, a revoked agent (still listed in deskbot.toml) and a lead.
//! Places: a DM, the employee's own thread, someone else's thread, the agents' thread, a
//! channel deskbot does not watch. Inputs: text, button, reaction, form. Every row that is
//! turned away is checked to change nothing: its dedupe row is written (the positive signal)
//! and nothing was queued to send.

mod support;

use deskbot::app::App;
use deskbot::commands::compliance::roles_revoke;
use deskbot::config::{Config, Sources};
use deskbot::desk::cards;
use deskbot::domain::{Attachment, ChatEvent, FetchedMessage, Input, Place, Platform, TicketNumber, UserRef};
use deskbot::domain::{Channel, InboundKind};
use deskbot::outbox::Outbox;
use deskbot::service::Handled;
use deskbot::service::router::{
    Lookup, NOT_A_CARD, NOT_FROM_A_QUEUE, NOT_YOUR_BUTTON, NOT_YOUR_CONVERSATION, Route,
};
use deskbot::store::EventKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use support::test_channel::TestChannel;
use support::{TestClock, starter_pack};

const MONDAY_1000: i64 = 1796032800000;
const REFUSAL: &str = "Only agents of the service-desk queue can do that. Nothing was changed.";

/// One platform's ids: people, channels.
struct Ids {
    platform: Platform,
    alice: &'static str,
    bob: &'static str,
    kim: &'static str,
    rev: &'static str,
    lee: &'static str,
    max: &'static str,
    help: &'static str,
    agents: &'static str,
    random: &'static str,
    alice_dm: &'static str,
}

const SLACK: Ids = Ids {
    platform: Platform::Slack,
    alice: "UALICE",
    bob: "UBOB",
    kim: "UKIM",
    rev: "UREV",
    lee: "ULEE",
    max: "UMAX",
    help: "CHELP",
    agents: "CAGENTS",
    random: "CRANDOM",
    alice_dm: "DALICE",
};

const DISCORD: Ids = Ids {
    platform: Platform::Discord,
    alice: "101",
    bob: "102",
    kim: "103",
    rev: "104",
    lee: "105",
    max: "106",
    help: "500",
    agents: "900",
    random: "600",
    alice_dm: "700",
};

fn config_text(db: &str) -> String {
    let (s, d) = (SLACK, DISCORD);
    let mut c = format!(
        "database_url = \"{db}\"\n[intake]\nrequest_channels = [\"{}\", \"{}\"]\n\n[[queue]]\nname = \"service-desk\"\nchannel = {{ slack = \"{}\", discord = \"{}\" }}\nagents = [\"slack:{}\", \"slack:{}\", \"discord:{}\", \"discord:{}\"]\nleads = [\"slack:{}\", \"discord:{}\"]\n",
        s.help, d.help, s.agents, d.agents, s.kim, s.rev, d.kim, d.rev, s.lee, d.lee
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        c.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n"));
    }
    c
}

/// Messages the platform would return when asked.
#[derive(Default)]
struct Platformish {
    messages: Mutex<HashMap<(String, String), FetchedMessage>>,
    titles: Mutex<Vec<String>>,
}

impl Platformish {
    fn remember(&self, channel: &str, id: &str, author: &str, text: &str) {
        let m = FetchedMessage {
            text: text.into(),
            author: Some(author.into()),
            author_name: None,
            author_is_bot: false,
            thread: None,
            attachments: Vec::new(),
        };
        self.messages.lock().unwrap().insert((channel.into(), id.into()), m);
    }
}

#[async_trait::async_trait]
impl Lookup for Platformish {
    async fn message(&self, channel: &str, id: &str) -> Result<Option<FetchedMessage>, String> {
        Ok(self.messages.lock().unwrap().get(&(channel.to_string(), id.to_string())).cloned())
    }
    async fn channel_name(&self, _channel: &str) -> Option<String> {
        None
    }
    async fn display_name(&self, user: &str) -> Option<String> {
        Some(format!("name of {user}"))
    }
    fn thread_title(&self, _channel: &str, _message: &str, title: &str) {
        self.titles.lock().unwrap().push(title.to_string());
    }
}

/// What the router and the pipeline decided.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    /// Taken up: it changed the conversation or the ticket.
    Applied,
    /// Recorded, nothing changed, nobody told (people talking to each other).
    Ignored,
    /// Recorded, nothing changed, the sender told this privately.
    Refused(&'static str),
    /// Not for deskbot: nothing recorded.
    Skipped,
    /// Cannot be done as asked: the sender told this privately, nothing recorded.
    Problem(&'static str),
    /// The reply form opens for ticket 1001.
    ReplyForm,
    /// A portal sign-in link, shown to the sender only: nothing recorded.
    PortalLink,
}

struct Table {
    app: App,
    chans: Vec<Arc<TestChannel>>,
    clock: TestClock,
    lookup: Platformish,
    n: Mutex<u64>,
}

impl Table {
    fn next(&self) -> String {
        let mut n = self.n.lock().unwrap();
        *n += 1;
        format!("{}", 1_000 + *n)
    }

    async fn deliver(&self) {
        let chans: Vec<Arc<dyn Channel>> = self.chans.iter().map(|c| c.clone() as Arc<dyn Channel>).collect();
        Outbox::new(self.app.store.clone(), chans, 16, self.clock.clock()).deliver_due().await.unwrap();
    }

    /// Route and handle one event; check that a turned-away one changed nothing.
    async fn run(&self, ids: &Ids, sender: &str, place: Place, input: Input) -> Decision {
        self.run_at(ids, sender, place, input, MONDAY_1000).await
    }

    /// [`Table::run`] for an event the platform says was posted at `at`.
    async fn run_at(&self, ids: &Ids, sender: &str, place: Place, input: Input, at: i64) -> Decision {
        let ev =
            ChatEvent { platform: ids.platform, place, sender: sender.into(), sender_name: None, at, input };
        let before = self.app.store.ticket_events(TicketNumber(1001)).await.unwrap().len();
        let desk_key = format!("desk:{}", TicketNumber(1001));
        let desk_before = self.app.store.load_conversation(&desk_key).await.unwrap().map(|c| c.version);
        let decision = match self.app.service.route(ev, &self.lookup).await.unwrap() {
            Route::Skip(_) => Decision::Skipped,
            Route::Problem(p) => Decision::Problem(known(&p)),
            Route::Private(note) => {
                assert!(note.contains("/portal/login/"), "{note}");
                Decision::PortalLink
            }
            Route::OpenReplyForm { ticket, .. } => {
                assert_eq!(ticket, TicketNumber(1001));
                Decision::ReplyForm
            }
            Route::Event(inbound) => {
                let key = EventKey { platform: ids.platform, event_id: inbound.event_id.clone() };
                let handled = self.app.service.handle(*inbound).await.unwrap();
                assert!(self.app.store.event_seen(&key).await.unwrap(), "the event's dedupe row is written");
                let decision = match handled {
                    Handled::Applied { .. } => Decision::Applied,
                    Handled::Ignored => Decision::Ignored,
                    Handled::Refused { note } => Decision::Refused(known(&note)),
                    Handled::Duplicate => panic!("a fresh event was taken as a duplicate"),
                };
                if decision != Decision::Applied {
                    assert_eq!(self.app.store.outbox_depth().await.unwrap(), 0, "nothing was queued");
                    let desk = self.app.store.load_conversation(&desk_key).await.unwrap().map(|c| c.version);
                    assert_eq!(desk, desk_before, "the ticket's desk row did not change");
                    let after = self.app.store.ticket_events(TicketNumber(1001)).await.unwrap().len();
                    assert_eq!(after, before, "the ticket did not change");
                }
                decision
            }
        };
        self.deliver().await;
        decision
    }

    /// The thread id of ticket 1001's card in `ids`' agents' channel.
    async fn card(&self, ids: &Ids) -> String {
        let chan = self.chans.iter().find(|c| c.platform() == ids.platform).unwrap();
        chan.card_id(ids.agents).expect("the card was posted")
    }
}

/// The fixed texts the router and the desk say, by identity.
fn known(note: &str) -> &'static str {
    [
        NOT_YOUR_BUTTON,
        NOT_YOUR_CONVERSATION,
        NOT_A_CARD,
        NOT_FROM_A_QUEUE,
        REFUSAL,
        "Describe the problem first.",
    ]
    .into_iter()
    .find(|k| *k == note)
    .unwrap_or_else(|| panic!("an unexpected note: {note}"))
}

async fn table(ids: &Ids) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("deskbot.db").display());
    let file = dir.path().join("deskbot.toml");
    std::fs::write(&file, config_text(&db)).unwrap();
    let mut config =
        Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &[]).unwrap();
    config.intents_dir = starter_pack();
    config.hot_reload = false;
    let clock = TestClock::at(MONDAY_1000);
    // The first start seeds the ledger from the file; then `rev` is revoked, and the desk
    // starts again with the file unchanged.
    drop(App::build_with_clock(config.clone(), clock.clock()).await.unwrap());
    let rev = format!("{}:{}", ids.platform, ids.rev);
    roles_revoke(config.clone(), &rev, "agent", Some("service-desk"), "left the team", Some("ann".into()))
        .await
        .unwrap();
    let app = App::build_with_clock(config, clock.clock()).await.unwrap();
    let t = Table {
        app,
        chans: vec![Arc::new(TestChannel::on(Platform::Slack)), Arc::new(TestChannel::on(Platform::Discord))],
        clock,
        lookup: Platformish::default(),
        n: Mutex::new(0),
    };
    use Decision::*;
    let p = ids.platform;
    let msg = |id: &str, t: &str, mention: bool| Input::Message {
        id: id.into(),
        text: t.into(),
        mentions_bot: mention,
        attachments: Vec::<Attachment>::new(),
    };
    let help = Place::Channel { channel: ids.help.into(), name: None };
    let random = Place::Channel { channel: ids.random.into(), name: None };
    let dm = Place::Direct { channel: ids.alice_dm.into(), thread: None };

    // Alice asks in the request channel; the conversation lives in the thread on her message.
    let first = t.next();
    t.lookup.remember(ids.help, &first, ids.alice, "the coffee machine on floor 3 is leaking");
    let asked = t
        .run(ids, ids.alice, help.clone(), msg(&first, "the coffee machine on floor 3 is leaking", false))
        .await;
    assert_eq!(asked, Applied);
    let hers = Place::Thread {
        channel: ids.help.into(),
        thread: first.clone(),
        bot_started: p == Platform::Discord,
    };
    let answer = t.next();
    let bobs = t.next();
    // On Slack a thread's messages sit in its channel; on Discord the thread is a channel.
    let bobs_channel = if p == Platform::Discord { first.as_str() } else { ids.help };
    t.lookup.remember(bobs_channel, &bobs, ids.bob, "my monitor flickers all day");

    // Rows before the ticket exists: place × actor × input → decision.
    let rows: Vec<(&str, &str, Place, Input, Decision)> = vec![
        ("bystander answers alice's question", ids.bob, hers.clone(), msg(&t.next(), "2", false), Ignored),
        (
            "bystander mentions deskbot in alice's thread",
            ids.bob,
            hers.clone(),
            msg(&t.next(), "me too", true),
            Refused(NOT_YOUR_CONVERSATION),
        ),
        (
            "bystander presses alice's button",
            ids.bob,
            hers.clone(),
            Input::Button { delivery: t.next(), message: answer.clone(), value: "talk_to_person".into() },
            Refused(NOT_YOUR_BUTTON),
        ),
        (
            "agent chats in alice's thread",
            ids.kim,
            hers.clone(),
            msg(&t.next(), "have you tried descaling it", false),
            Ignored,
        ),
        (
            "revoked agent presses alice's button",
            ids.rev,
            hers.clone(),
            Input::Button { delivery: t.next(), message: answer.clone(), value: "talk_to_person".into() },
            Refused(NOT_YOUR_BUTTON),
        ),
        (
            "lead presses alice's button",
            ids.lee,
            hers.clone(),
            Input::Button { delivery: t.next(), message: answer.clone(), value: "talk_to_person".into() },
            Refused(NOT_YOUR_BUTTON),
        ),
        (
            "chatter in a channel deskbot does not watch",
            ids.bob,
            random.clone(),
            msg(&t.next(), "lunch anyone?", false),
            Skipped,
        ),
        ("thanks in the request channel", ids.bob, help.clone(), msg(&t.next(), "thanks!", false), Skipped),
        (
            "a reaction deskbot does not use",
            ids.bob,
            help.clone(),
            Input::Reaction { message: first.clone(), emoji: "tada".into(), author: None },
            Skipped,
        ),
        (
            "employee asks in their DM",
            ids.alice,
            dm.clone(),
            msg(&t.next(), "how do I reset my password", false),
            Applied,
        ),
        (
            "employee types portal in their DM",
            ids.alice,
            dm.clone(),
            msg(&t.next(), "portal", false),
            PortalLink,
        ),
        (
            "someone runs the slash command portal (a link for themselves)",
            ids.bob,
            Place::Nowhere,
            Input::Command { delivery: t.next(), text: " portal ".into() },
            PortalLink,
        ),
        (
            "an empty new-ticket form",
            ids.bob,
            Place::Nowhere,
            Input::TicketForm { delivery: t.next(), text: "  ".into() },
            Problem("Describe the problem first."),
        ),
        (
            "reply button on a message that is no card",
            ids.kim,
            help.clone(),
            Input::Button { delivery: t.next(), message: first.clone(), value: cards::REPLY.into() },
            Problem(NOT_A_CARD),
        ),
        (
            "bystander files his own message in alice's thread with the ticket emoji",
            ids.bob,
            hers.clone(),
            Input::Reaction { message: bobs.clone(), emoji: "ticket".into(), author: None },
            Refused(NOT_YOUR_CONVERSATION),
        ),
        ("employee answers her own question", ids.alice, hers.clone(), msg(&t.next(), "1", false), Applied),
    ];
    for (name, who, place, input, want) in rows {
        assert_eq!(t.run(ids, who, place, input).await, want, "{p}: {name}");
    }
    let tickets = t
        .app
        .store
        .tickets(&deskbot::store::TicketFilter { limit: 100, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(tickets.len(), 1, "{p}: alice's own answer filed her ticket, nothing else did");
    assert_eq!(tickets[0].requester, UserRef::new(p, ids.alice));

    // The agents' thread on the ticket's card.
    let card = t.card(ids).await;
    let desk = Place::Thread { channel: ids.agents.into(), thread: card.clone(), bot_started: false };
    let card_place = Place::Channel { channel: ids.agents.into(), name: None };
    let claim = |d: String| Input::Button { delivery: d, message: card.clone(), value: cards::CLAIM.into() };
    let react = |e: &str| Input::Reaction { message: card.clone(), emoji: e.into(), author: None };
    let plain = t.next();
    let note = t.next();
    let note_channel = if p == Platform::Discord { card.as_str() } else { ids.agents };
    t.lookup.remember(note_channel, &note, ids.kim, "internal: the requester sounds upset");
    let form = |d: String, text: &str| Input::ReplyForm {
        delivery: d,
        card: card.clone(),
        ticket: None,
        text: text.into(),
    };
    let rows: Vec<(&str, &str, Place, Input, Decision)> = vec![
        (
            "bystander writes in the agents' thread",
            ids.bob,
            desk.clone(),
            msg(&t.next(), "!resolve", false),
            Refused(REFUSAL),
        ),
        (
            "bystander presses claim on the card",
            ids.bob,
            card_place.clone(),
            claim(t.next()),
            Refused(REFUSAL),
        ),
        (
            "bystander submits a reply form",
            ids.bob,
            card_place.clone(),
            form(t.next(), "send me your password"),
            Refused(REFUSAL),
        ),
        (
            "revoked agent writes a command",
            ids.rev,
            desk.clone(),
            msg(&t.next(), "!claim", false),
            Refused(REFUSAL),
        ),
        (
            "revoked agent writes a note",
            ids.rev,
            desk.clone(),
            msg(&t.next(), "checking the logs", false),
            Refused(REFUSAL),
        ),
        ("revoked agent presses claim", ids.rev, card_place.clone(), claim(t.next()), Refused(REFUSAL)),
        ("revoked agent reacts ✅", ids.rev, card_place.clone(), react("white_check_mark"), Refused(REFUSAL)),
        (
            "revoked agent submits a reply form",
            ids.rev,
            card_place.clone(),
            form(t.next(), "hello from a former agent"),
            Refused(REFUSAL),
        ),
        (
            "employee writes in the agents' thread",
            ids.alice,
            desk.clone(),
            msg(&t.next(), "!resolve", false),
            Refused(REFUSAL),
        ),
        (
            "bystander opens the reply form from the card",
            ids.bob,
            card_place.clone(),
            Input::Button { delivery: t.next(), message: card.clone(), value: cards::REPLY.into() },
            Problem(REFUSAL),
        ),
        (
            "revoked agent opens the reply form from the card",
            ids.rev,
            card_place.clone(),
            Input::Button { delivery: t.next(), message: card.clone(), value: cards::REPLY.into() },
            Problem(REFUSAL),
        ),
        (
            "bystander reacts to a message in the agents' channel that is no card",
            ids.bob,
            card_place.clone(),
            Input::Reaction { message: plain.clone(), emoji: "tada".into(), author: None },
            Ignored,
        ),
        (
            "revoked agent files an internal note in the card's thread as a ticket",
            ids.rev,
            desk.clone(),
            Input::FileMessage { delivery: t.next(), message: note.clone(), note: None },
            Problem(NOT_FROM_A_QUEUE),
        ),
        (
            "agent files the card itself as a ticket",
            ids.kim,
            card_place.clone(),
            Input::FileMessage { delivery: t.next(), message: card.clone(), note: None },
            Problem(NOT_FROM_A_QUEUE),
        ),
        (
            "agent opens the reply form from the card",
            ids.kim,
            card_place.clone(),
            Input::Button { delivery: t.next(), message: card.clone(), value: cards::REPLY.into() },
            ReplyForm,
        ),
        (
            "agent notes in the thread",
            ids.kim,
            desk.clone(),
            msg(&t.next(), "checking with facilities", false),
            Applied,
        ),
        ("agent presses claim", ids.kim, card_place.clone(), claim(t.next()), Applied),
        (
            "agent replies by form",
            ids.kim,
            card_place.clone(),
            form(t.next(), "a plumber is on the way"),
            Applied,
        ),
        ("lead reacts 🙋 to take it", ids.lee, card_place.clone(), react("raising_hand"), Applied),
        ("lead writes a command", ids.lee, desk.clone(), msg(&t.next(), "!priority high", false), Applied),
        (
            "a reply form from a message that is no card",
            ids.kim,
            help.clone(),
            Input::ReplyForm { delivery: t.next(), card: first.clone(), ticket: None, text: "x".into() },
            Problem(NOT_A_CARD),
        ),
        (
            "a reply form naming another ticket",
            ids.kim,
            card_place.clone(),
            Input::ReplyForm {
                delivery: t.next(),
                card: card.clone(),
                ticket: Some(TicketNumber(1002)),
                text: "x".into(),
            },
            Problem(NOT_A_CARD),
        ),
    ];
    for (name, who, place, input, want) in rows {
        assert_eq!(t.run(ids, who, place, input).await, want, "{p}: {name}");
    }
    let plain_key = deskbot::service::router::thread_conversation(p, ids.agents, &plain);
    assert!(
        t.app.store.load_conversation(&plain_key).await.unwrap().is_none(),
        "{p}: a reaction on no card made no conversation"
    );
    // The agent's form reply reached alice in her thread, as the agent; nothing the refused
    // actors wrote reached anyone.
    let chan = t.chans.iter().find(|c| c.platform() == p).unwrap();
    let all: Vec<String> = chan.all().into_iter().map(|s| s.text).collect();
    assert!(all.iter().any(|x| x.contains("a plumber is on the way")), "{all:?}");
    for never in ["send me your password", "hello from a former agent", "checking the logs"] {
        assert!(!all.iter().any(|x| x.contains(never)), "{p}: {never} reached someone: {all:?}");
    }

    // A bystander files alice's message with the ticket emoji: alice is the requester, bob the
    // filer; reacting again (anyone) files nothing more.
    let other = t.next();
    t.lookup.remember(ids.random, &other, ids.alice, "the printer on floor 2 prints blank pages");
    let file = || Input::Reaction { message: other.clone(), emoji: "ticket".into(), author: None };
    assert_eq!(t.run(ids, ids.bob, random.clone(), file()).await, Applied, "{p}: 🎫 by a bystander");
    let filed = t.app.store.ticket(TicketNumber(1002)).await.unwrap().expect("ticket 1002");
    assert_eq!(filed.requester, UserRef::new(p, ids.alice));
    let ev = ChatEvent {
        platform: p,
        place: random.clone(),
        sender: ids.kim.into(),
        sender_name: None,
        at: MONDAY_1000,
        input: file(),
    };
    let Route::Event(again) = t.app.service.route(ev, &t.lookup).await.unwrap() else { panic!("routed") };
    assert!(matches!(again.kind, InboundKind::FileTicket { .. }));
    assert_eq!(
        t.app.service.handle(*again).await.unwrap(),
        Handled::Duplicate,
        "{p}: one ticket per message"
    );
    // Thread titles are made from redacted text.
    assert!(t.lookup.titles.lock().unwrap().iter().all(|x| x.chars().count() <= 80));

    // Delivered out of order: in a thread bob started himself, his chatter posted a second
    // before the mention that brought deskbot in arrives after it. It was said to people.
    let his = Place::Thread { channel: ids.random.into(), thread: t.next(), bot_started: false };
    let later = |s: i64| MONDAY_1000 + s * 1_000;
    let rows: Vec<(&str, Input, i64, Decision)> = vec![
        (
            "bob mentions deskbot in his thread",
            msg(&t.next(), "I forgot my password", true),
            later(2),
            Applied,
        ),
        (
            "his chatter from a second before arrives after it",
            msg(&t.next(), "does anyone know the wifi password?", false),
            later(1),
            Ignored,
        ),
        ("his answer after the mention", msg(&t.next(), "that did not help", false), later(3), Applied),
    ];
    for (name, input, at, want) in rows {
        assert_eq!(t.run_at(ids, ids.bob, his.clone(), input, at).await, want, "{p}: {name}");
    }

    // The rate limit (20 a minute; the clock stands still) counts what deskbot takes, and the
    // owner rule holds over it as under it.
    let hers_key = deskbot::service::router::thread_conversation(p, ids.help, &first);
    let before = t.app.store.conversation_messages(&hers_key, 1_000).await.unwrap().len();
    let nobodys = Place::Thread { channel: ids.random.into(), thread: t.next(), bot_started: false };
    for i in 0..25 {
        let said = format!("max's chatter {i}");
        assert_eq!(
            t.run(ids, ids.max, nobodys.clone(), msg(&t.next(), &said, false)).await,
            Ignored,
            "{p}: chatter in a thread deskbot is not in ({i})"
        );
    }
    let nobodys_key = match &nobodys {
        Place::Thread { channel, thread, .. } => {
            deskbot::service::router::thread_conversation(p, channel, thread)
        }
        _ => unreachable!(),
    };
    assert!(
        t.app.store.load_conversation(&nobodys_key).await.unwrap().is_none(),
        "{p}: no conversation was made of people's chatter"
    );
    let his_dm = Place::Direct { channel: format!("{}9", ids.alice_dm), thread: None };
    for i in 0..20 {
        let said = format!("max's question {i}");
        assert_eq!(
            t.run(ids, ids.max, his_dm.clone(), msg(&t.next(), &said, false)).await,
            Applied,
            "{p}: {i}"
        );
    }
    let slow = |all: Vec<String>| all.iter().filter(|x| x.contains("faster than I can keep up")).count();
    assert_eq!(slow(chan.all().into_iter().map(|s| s.text).collect()), 0, "{p}: the chatter did not count");
    let over: Vec<(&str, Input, Decision)> = vec![
        ("over the limit, max answers alice's question", msg(&t.next(), "max's answer", false), Ignored),
        (
            "over the limit, max mentions deskbot in alice's thread",
            msg(&t.next(), "max's mention", true),
            Refused(NOT_YOUR_CONVERSATION),
        ),
    ];
    for (name, input, want) in over {
        assert_eq!(t.run(ids, ids.max, hers.clone(), input).await, want, "{p}: {name}");
    }
    let kept = t.app.store.conversation_messages(&hers_key, 1_000).await.unwrap();
    assert_eq!(kept.len(), before, "{p}: nothing max said was kept in alice's conversation");
    assert!(!kept.iter().any(|m| m.turn.text.contains("max's")), "{p}");
    // His own DM over the limit is kept, and he is asked to slow down.
    assert_eq!(t.run(ids, ids.max, his_dm, msg(&t.next(), "max's one too many", false)).await, Applied);
    assert_eq!(slow(chan.all().into_iter().map(|s| s.text).collect()), 1, "{p}: asked to slow down");
    let his = deskbot::service::router::dm_conversation(p, ids.max);
    let kept = t.app.store.conversation_messages(&his, 1_000).await.unwrap();
    assert!(kept.iter().any(|m| m.turn.text == "max's one too many"), "{p}: kept in his conversation");
}

#[tokio::test]
async fn slack_router_table() {
    table(&SLACK).await;
}

#[tokio::test]
async fn discord_router_table() {
    table(&DISCORD).await;
}
