//! A person's words in someone else's ticket are theirs to export and erase: the note Bob adds
//! when he files Carol's message as a ticket (🎫, the message shortcut), and an agent's reply
//! and internal note in Carol's ticket. Driven as people use the desk: Carol's message is filed
//! by Bob with a note, the agent answers in the ticket's thread; each of their words carries a
//! unique canary. Exporting Bob or the agent lists those lines; erasing Bob leaves no byte of
//! his note, id or name in the raw SQLite file (or any text column on PostgreSQL) nor in a
//! queued delivery, while Carol's words and the agent's stay; erasing the agent then leaves
//! none of theirs. Also: Bob's note kept in Carol's conversation while she answers the form's
//! questions goes with him.

mod support;

#[path = "support/pgdb.rs"]
mod pgdb;

#[path = "support/canary.rs"]
mod canary;

#[path = "support/desk.rs"]
mod desk;

use desk::Desk;
use deskbot::compliance::key::AuditKey;
use deskbot::compliance::{audit, person};
use deskbot::domain::{Address, InboundKind, Platform, TicketNumber, UserRef};
use deskbot::store::Speaker;

const CAROL: &str = "UREQCAROL5";
const CAROL_NAME: &str = "Carolina Reyesdottir";
const BOB: &str = "UFILERBOB3";
const BOB_NAME: &str = "Bartholomew Quillfeather";
const AGENT: &str = "UAGENTKIMZ9";
const AGENT_NAME: &str = "Kimberly Vantablack";

/// Carol's words: filed by Bob, they stay through both erasures.
const CAROL_WORDS: &str = "cnry-carol-7f1a the badge reader at the oncology door rejects me";
/// Bob's note, added when he files Carol's message.
const BOB_NOTE: &str = "cnry-filer-2b9c she has been locked out of the lab since Monday";
/// The agent's public reply to Carol, and their internal note in the ticket's thread.
const AGENT_REPLY: &str = "cnry-reply-5d3e we reset your badge, please try the door again";
const AGENT_NOTE: &str = "cnry-inote-8a6f the HR sync revoked her badge by mistake";
/// A message the starter pack answers with a form (the laptop's asset tag): the filing waits
/// in Carol's conversation while she answers.
const CAROL_LAPTOP: &str = "cnry-laptop-4c2d my laptop won't turn on since this morning";

/// A canary's unique first word.
fn mark(words: &'static str) -> &'static str {
    words.split(' ').next().unwrap_or(words)
}

fn config() -> String {
    let mut c = String::new();
    // The webhook's deliveries never go out (nothing listens): they stay queued.
    c.push_str("[[webhook]]\nname = \"itsm\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"s3cret\"\n");
    for q in
        ["service-desk", "identity", "network", "hardware", "software", "access", "security", "facilities"]
    {
        c.push_str(&format!(
            "\n[[queue]]\nname = \"{q}\"\nchannel = {{ test = \"agents\" }}\nagents = [\"test:{AGENT}\"]\n"
        ));
    }
    c
}

fn key() -> AuditKey {
    AuditKey::from_bytes(b"speaker-test-key-speaker-test-key-01".to_vec()).unwrap()
}

fn user(id: &str) -> UserRef {
    UserRef::new(Platform::Test, id)
}

/// Bob's and the agent's ways in; each message comes a second after the one before.
impl Desk {
    /// Bob files Carol's message, posted in thread `thread` of #general, with his note.
    async fn bob_files(&self, thread: &str, words: &str) {
        let to = Address::new(Platform::Test, "general").in_thread(thread);
        let kind = InboundKind::FileTicket {
            text: words.into(),
            author: user(CAROL),
            author_name: Some(CAROL_NAME.into()),
            note: Some(BOB_NOTE.into()),
        };
        self.clock.advance(1000);
        self.send(BOB, BOB_NAME, to, &format!("test:general:{thread}"), kind).await;
    }

    /// The agent, in ticket `n`'s thread.
    async fn agent(&self, n: TicketNumber, text: &str) {
        let card = self.card(n);
        let to = Address::new(Platform::Test, "agents").in_thread(card.clone());
        let kind = InboundKind::Message { text: text.into() };
        self.clock.advance(1000);
        self.send(AGENT, AGENT_NAME, to, &format!("test:agents:{card}"), kind).await;
    }

    async fn erase(&self, who: &str) {
        let r = person::erase(&self.t.app.store, &key(), &user(who), &[], "dpo", self.now()).await.unwrap();
        assert!(r.compacted, "freed pages were wiped: {r:?}");
        assert_eq!(audit::verify(&self.t.app.store).await.unwrap().broken, None, "the chain is re-linked");
    }
}

/// What an export of `who` says about ticket `n`'s lines: their texts, and its `messages`
/// records' texts.
async fn exported_lines(d: &Desk, who: &str, n: TicketNumber) -> (Vec<String>, Vec<String>) {
    let data = person::export(&d.t.app.store, &user(who), &[]).await.unwrap();
    let lines: Vec<String> = data
        .messages
        .iter()
        .filter(|m| m.ticket == Some(n) && m.turn.by.as_ref() == Some(&user(who)))
        .map(|m| m.turn.text.clone())
        .collect();
    let records: Vec<String> = data
        .records
        .get("messages")
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("text").and_then(|t| t.as_str()).map(str::to_string))
        .collect();
    (lines, records)
}

async fn export_and_erase_find_the_filer_and_the_agent_in_the_requesters_ticket(d: Desk) {
    d.bob_files("t-500", CAROL_WORDS).await;
    d.deliver().await;
    let filed = d.tickets().await;
    assert_eq!(filed.len(), 1, "Bob's 🎫 filed Carol's message: {:?}", d.chan.all());
    let n = filed[0];
    let t = d.t.app.store.ticket(n).await.unwrap().unwrap();
    assert_eq!(
        (t.requester.id.as_str(), t.filed_by.id.as_str()),
        (CAROL, BOB),
        "Carol's ticket, filed by Bob"
    );
    d.agent(n, &format!("!reply {AGENT_REPLY}")).await;
    d.agent(n, AGENT_NOTE).await;
    // The agent's reply to Carol (and the webhooks) stay queued.
    let queued = d.t.app.store.outbox_list(None, 1000).await.unwrap();
    let pending: Vec<_> = queued.iter().filter(|o| o.status != "done").collect();
    assert!(pending.iter().any(|o| o.preview.contains(mark(AGENT_REPLY))), "the reply is queued: {queued:?}");

    let lines = d.t.app.store.ticket_messages(n).await.unwrap();
    let said_by = |who: &str| -> Vec<String> {
        lines.iter().filter(|m| m.turn.by == Some(user(who))).map(|m| m.turn.text.clone()).collect()
    };
    assert_eq!(said_by(BOB), vec![BOB_NOTE.to_string()], "the note is Bob's: {lines:?}");
    assert_eq!(said_by(AGENT), vec![AGENT_REPLY.to_string(), AGENT_NOTE.to_string()], "{lines:?}");

    // Export: Bob's and the agent's lines in Carol's ticket are listed as theirs.
    let (bob_lines, bob_records) = exported_lines(&d, BOB, n).await;
    assert_eq!(bob_lines, vec![BOB_NOTE.to_string()]);
    assert!(bob_records.iter().any(|t| t == BOB_NOTE), "{bob_records:?}");
    assert!(!bob_records.iter().any(|t| t == CAROL_WORDS), "Carol's words are not Bob's: {bob_records:?}");
    let (agent_lines, agent_records) = exported_lines(&d, AGENT, n).await;
    assert_eq!(agent_lines, vec![AGENT_REPLY.to_string(), AGENT_NOTE.to_string()]);
    for w in [AGENT_REPLY, AGENT_NOTE] {
        assert!(agent_records.iter().any(|t| t == w), "{w} in {agent_records:?}");
    }

    let bob_marks = [mark(BOB_NOTE), BOB, "Bartholomew", "Quillfeather"];
    let agent_marks = [mark(AGENT_REPLY), mark(AGENT_NOTE), AGENT, "Vantablack"];
    let stays = [mark(CAROL_WORDS), CAROL];
    let all: Vec<&str> = bob_marks.iter().chain(&agent_marks).chain(&stays).copied().collect();
    let stored = d.found(&all).await;
    for m in &all {
        assert!(stored.iter().any(|l| l.starts_with(m)), "{m} was never stored: {stored:?}");
    }

    // Erase Bob: his note, id and name go; Carol's words and the agent's stay.
    d.erase(BOB).await;
    let left = d.found(&bob_marks).await;
    assert!(left.is_empty(), "left behind of Bob after his erasure:\n{}", left.join("\n"));
    let kept = d.found(&stays.iter().chain(&agent_marks).copied().collect::<Vec<_>>()).await;
    for m in stays.iter().chain(&agent_marks) {
        assert!(kept.iter().any(|l| l.starts_with(m)), "{m} should stay after Bob's erasure: {kept:?}");
    }
    let lines = d.t.app.store.ticket_messages(n).await.unwrap();
    let note =
        lines.iter().find(|m| matches!(m.turn.from, Speaker::Filer(_))).expect("the note's line stays");
    assert_eq!(note.turn.text, "[erased]");
    let by = note.turn.by.as_ref().expect("still attributed");
    assert!(by.id.starts_with("erased-"), "the pseudonym: {by:?}");
    assert!(lines.iter().any(|m| m.turn.text == CAROL_WORDS), "Carol's line is untouched: {lines:?}");
    assert!(lines.iter().any(|m| m.turn.text == AGENT_REPLY), "the agent's line is untouched: {lines:?}");

    // Erase the agent: their reply and note go (the queued reply to Carol too); Carol's stay.
    d.erase(AGENT).await;
    let left = d.found(&agent_marks).await;
    assert!(left.is_empty(), "left behind of the agent after their erasure:\n{}", left.join("\n"));
    let queued = d.t.app.store.outbox_list(None, 1000).await.unwrap();
    assert!(!queued.iter().any(|o| o.preview.contains(mark(AGENT_REPLY))), "{queued:?}");
    let kept = d.found(&stays).await;
    for m in stays {
        assert!(kept.iter().any(|l| l.starts_with(m)), "{m} should stay after both erasures: {kept:?}");
    }
    let lines = d.t.app.store.ticket_messages(n).await.unwrap();
    assert_eq!(lines.iter().filter(|m| matches!(m.turn.from, Speaker::Agent(_))).count(), 2, "{lines:?}");
    for m in lines.iter().filter(|m| matches!(m.turn.from, Speaker::Agent(_))) {
        assert_eq!(m.turn.text, "[erased]", "{m:?}");
        assert!(m.turn.by.as_ref().is_some_and(|b| b.id.starts_with("erased-")), "{m:?}");
    }
    assert!(lines.iter().any(|m| m.turn.text == CAROL_WORDS), "{lines:?}");
    d.finish().await;
}

async fn a_filers_note_waiting_in_the_requesters_conversation_goes_with_the_filer(d: Desk) {
    d.bob_files("t-600", CAROL_LAPTOP).await;
    d.deliver().await;
    assert!(d.tickets().await.is_empty(), "the form's questions come first: {:?}", d.chan.all());
    let stored = d.found(&[mark(BOB_NOTE), mark(CAROL_LAPTOP)]).await;
    assert!(stored.iter().any(|l| l.starts_with(mark(BOB_NOTE))), "the note waits in the state: {stored:?}");
    // Bob's export holds his note, and nothing of Carol's conversation besides.
    let data = person::export(&d.t.app.store, &user(BOB), &[]).await.unwrap();
    let said = serde_json::to_string(&data.records.get("words_in_others_conversations")).unwrap();
    assert!(said.contains(BOB_NOTE), "{said}");
    assert!(!said.contains(mark(CAROL_LAPTOP)) && !said.contains(CAROL), "{said}");

    d.erase(BOB).await;
    let left = d.found(&[mark(BOB_NOTE), BOB, "Bartholomew", "Quillfeather"]).await;
    assert!(left.is_empty(), "left behind of Bob after his erasure:\n{}", left.join("\n"));
    let kept = d.found(&[mark(CAROL_LAPTOP)]).await;
    assert!(!kept.is_empty(), "Carol's words stay in her conversation");
    d.finish().await;
}

#[tokio::test]
async fn filer_and_agent_lines_are_exported_and_erased_on_sqlite() {
    export_and_erase_find_the_filer_and_the_agent_in_the_requesters_ticket(Desk::sqlite(&config()).await)
        .await;
}

#[tokio::test]
async fn filer_and_agent_lines_are_exported_and_erased_on_postgres() {
    let Some(d) = Desk::postgres("speakers", &config()).await else { return };
    export_and_erase_find_the_filer_and_the_agent_in_the_requesters_ticket(d).await;
}

#[tokio::test]
async fn a_waiting_filers_note_is_erased_with_the_filer_on_sqlite() {
    a_filers_note_waiting_in_the_requesters_conversation_goes_with_the_filer(Desk::sqlite(&config()).await)
        .await;
}

#[tokio::test]
async fn a_waiting_filers_note_is_erased_with_the_filer_on_postgres() {
    let Some(d) = Desk::postgres("speakers", &config()).await else { return };
    a_filers_note_waiting_in_the_requesters_conversation_goes_with_the_filer(d).await;
}
