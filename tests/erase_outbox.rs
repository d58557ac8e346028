//! SECURITY.md invariant 5 for the outbox: deliveries that quote an employee's words without
//! being addressed to them are found by what they are about, not by how long the words are.
//! A requester whose ticket title is nine characters (the SLA-breach DM to the queue's lead
//! quotes it) and whose request's justification is nine characters (the approval DM to their
//! manager quotes it, with her one-letter display name) is erased: neither canary is left in the raw SQLite file or in any text
//! or JSON column on PostgreSQL, while a bystander's queued delivery stays. And the retention
//! purge of a ticket past its queue's cutoff takes its words out of the outbox at once (the
//! delivered card and requester notices blanked, a dead letter about it dropped), long before
//! the transcripts period would delete those rows.

mod support;

#[path = "support/canary.rs"]
mod canary;
#[path = "support/desk.rs"]
mod desk;
#[path = "support/pgdb.rs"]
mod pgdb;

use desk::Desk;
use deskbot::compliance::key::AuditKey;
use deskbot::compliance::{person, retention};
use deskbot::domain::{Address, InboundKind, Platform, TicketStatus, UserRef};
use deskbot::service::scheduler;
use deskbot::store::requests::RequestNumber;
use sqlx::{Connection, SqliteConnection};

const DAY: i64 = 86_400_000;

/// The requester, and their two short canaries (shorter than any quote an erasure looks for
/// by its words alone).
const RITA: &str = "U0RITA";
const TITLE: &str = "zqvtitle9";
const WHY: &str = "zqvwhy9xk";
/// Rita's display name: one letter, too short to be looked for in others' words, so only what
/// a delivery is about can tie the approval DM (which names her by it) to her.
const RITA_NAME: &str = "R";

fn display_name(user: &str) -> &str {
    if user == RITA { RITA_NAME } else { user }
}

/// A ticket's words that expire with it (the purge test).
const EXPIRING: &str = "zqvexpire the plotter on floor three eats paper";
/// A bystander's words that stay (the purge test).
const STAYING: &str = "zqvstays the badge reader at the loading dock";

fn config(dir: &std::path::Path) -> String {
    let people = dir.join("people.csv");
    support::requests::people_csv(
        &people,
        &[
            ("test:U0RITA", "rita@example.com", "max@example.com", "Design"),
            ("test:max", "max@example.com", "", "Design"),
        ],
    );
    let mut c = String::from("[retention]\nclosed_tickets_days = 30\n\n");
    c.push_str(&support::requests::directory_toml(&people));
    c.push_str(
        "\n[[queue]]\nname = \"service-desk\"\nchannel = { test = \"agents\" }\nagents = [\"test:kim\"]\n\
         leads = [\"test:lena\"]\n\n[queue.sla]\nnormal = { first_response = \"30m\", resolution = \"4h\" }\n",
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        c.push_str(&format!(
            "\n[[queue]]\nname = \"{q}\"\nchannel = {{ test = \"agents\" }}\nagents = [\"test:kim\"]\n"
        ));
    }
    c
}

/// A desk on SQLite, or on a fresh PostgreSQL database (`None` when that is skipped).
async fn desk(pg: bool) -> Option<Desk> {
    Desk::new(pg.then_some("erase_outbox"), config, |cfg, dir| {
        // The starter pack, with Acrobat's justification allowed to be short.
        cfg.intents_dir = support::requests::intents(dir, 5);
        let licences = cfg.intents_dir.join("catalog").join("licences.toml");
        let text = std::fs::read_to_string(&licences).unwrap();
        assert!(text.contains("min_chars = 20"), "Acrobat's justification rule");
        std::fs::write(&licences, text.replacen("min_chars = 20", "min_chars = 5", 1)).unwrap();
    })
    .await
}

impl Desk {
    /// `user` says `text` in their DM (nothing is delivered).
    async fn says(&self, user: &str, text: &str) {
        self.clock.advance(1_000);
        let to = Address::new(Platform::Test, format!("dm-{user}"));
        let conversation = deskbot::service::router::dm_conversation(Platform::Test, user);
        let kind = InboundKind::Message { text: text.into() };
        self.send(user, display_name(user), to, &conversation, kind).await;
    }

    /// Outbox rows (status, payload, last error) holding `mark`, on either backend.
    async fn outbox_with(&self, mark: &str) -> Vec<String> {
        let sql = "SELECT status, CAST(payload AS TEXT), COALESCE(last_error, '') FROM outbox ORDER BY id";
        let rows: Vec<(String, String, String)> = match &self.pg {
            Some(pg) => sqlx::query_as(sql).fetch_all(&mut pg.connect().await).await.unwrap(),
            None => {
                let db = self.sqlite_file();
                let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display())).await.unwrap();
                sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
            }
        };
        rows.into_iter()
            .filter(|(_, p, e)| p.contains(mark) || e.contains(mark))
            .map(|(s, p, _)| format!("{s}: {p}"))
            .collect()
    }
}

fn key() -> AuditKey {
    AuditKey::from_bytes(b"erase-outbox-key-erase-outbox-key-01".to_vec()).unwrap()
}

async fn erasing_a_requester_leaves_no_short_quote_in_any_delivery(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    // Rita's ticket has a nine-character title; it is filed and its card delivered.
    d.says(RITA, "talk to a person").await;
    d.says(RITA, TITLE).await;
    d.deliver().await;
    let tickets = d.tickets().await;
    assert_eq!(tickets.len(), 1, "a ticket was filed: {:?}", d.chan.all());
    // Her request's justification is nine characters; the approval DM to max is delivered.
    d.says(RITA, "new question").await;
    d.says(RITA, "I need acrobat").await;
    d.says(RITA, WHY).await;
    d.deliver().await;
    let Some(r) = d.t.app.store.request(RequestNumber(1001)).await.unwrap() else {
        panic!("the request was not recorded: {:?}", d.chan.texts("dm-U0RITA"))
    };
    assert_eq!(r.justification, WHY);
    let max = d.chan.texts("max");
    assert!(max.iter().any(|t| t.contains("Approval needed") && t.contains(WHY)), "{max:?}");
    // Nobody answers the ticket: its SLA breaches and the DM to the lead, quoting the title,
    // stays queued.
    for _ in 0..4 {
        d.clock.advance(DAY);
        scheduler::tick(&d.t.app.service).await.unwrap();
    }
    let queued = d.outbox_with(TITLE).await;
    assert!(
        queued.iter().any(|p| p.starts_with("pending") && p.contains("breached") && p.contains("lena")),
        "the SLA-breach DM to the lead is queued: {queued:?}"
    );
    assert!(d.outbox_with(WHY).await.iter().any(|p| p.starts_with("done")), "the approval DM was delivered");
    // A bystander's queued answer must stay.
    let ids = |rows: Vec<deskbot::store::OutboxRecord>| rows.into_iter().map(|o| o.id).collect::<Vec<_>>();
    let earlier = ids(d.t.app.store.outbox_list(None, 1000).await.unwrap());
    d.says("bob", "how do I connect to the vpn").await;
    let bobs: Vec<i64> = ids(d.t.app.store.outbox_list(None, 1000).await.unwrap())
        .into_iter()
        .filter(|i| !earlier.contains(i))
        .collect();
    assert!(!bobs.is_empty(), "bob was answered");

    let before = d.found(&[TITLE, WHY]).await;
    assert!(
        before.iter().any(|f| f.starts_with(TITLE)) && before.iter().any(|f| f.starts_with(WHY)),
        "{before:?}"
    );
    let user = UserRef::new(Platform::Test, RITA);
    let now = d.now();
    let report = person::erase(&d.t.app.store, &key(), &user, &[], "dpo", now).await.unwrap();
    assert!(report.deliveries_dropped >= 1 && report.deliveries_blanked >= 1, "{report:?}");
    let left = d.found(&[TITLE, WHY, RITA]).await;
    assert!(left.is_empty(), "left behind after the erasure:\n{}", left.join("\n"));
    let after = d.t.app.store.outbox_list(None, 1000).await.unwrap();
    for id in &bobs {
        assert!(
            after.iter().any(|o| o.id == *id && o.status == "pending"),
            "bob's delivery {id} stays: {after:?}"
        );
    }
    d.finish().await;
}

async fn a_purge_takes_an_expired_tickets_words_out_of_the_outbox(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.says("ann", "talk to a person").await;
    d.says("ann", EXPIRING).await;
    d.deliver().await;
    d.says("bob", "talk to a person").await;
    d.says("bob", STAYING).await;
    d.deliver().await;
    let tickets = d.tickets().await;
    assert_eq!(tickets.len(), 2, "{:?}", d.chan.all());
    let (expiring, staying) = (tickets[0], tickets[1]);
    let service = &d.t.app.service;
    service.resolve_ticket(expiring, "test:kim", Some("fed it new paper".into())).await.unwrap();
    d.deliver().await;
    let delivered = d.outbox_with(mark(EXPIRING)).await;
    assert!(
        delivered.iter().filter(|p| p.starts_with("done")).count() >= 2,
        "the card and the requester's notice were delivered: {delivered:?}"
    );
    // One delivery about it never went out: a dead letter still holding its words.
    let dead = "UPDATE outbox SET status = 'dead', last_error = 'zqvexpire gone' WHERE id = (SELECT MAX(id) FROM outbox \
                WHERE status = 'done' AND CAST(payload AS TEXT) LIKE '%zqvexpire%')";
    d.sql(dead).await;
    assert!(d.outbox_with(mark(EXPIRING)).await.iter().any(|p| p.starts_with("dead")));
    let rows_before = d.t.app.store.outbox_list(None, 1000).await.unwrap().len();

    // Past the queue's cutoff for closed tickets (no transcripts period is configured: only
    // the ticket's expiry can take the outbox rows' words).
    d.clock.advance(40 * DAY);
    let now = d.now();
    let cfg = &d.t.app.config;
    let plan = retention::plan(&cfg.retention, &cfg.queue_names(), now, "retention");
    let r = d.t.app.store.purge(&plan, now, true).await.unwrap();
    assert_eq!(r.tickets_anonymised, 1, "{r:?}");
    assert!(r.outbox_blanked >= 2 && r.outbox_deleted == 1, "{r:?}");
    // What is left of its words is only the bot's own replies in ann's conversation, which go
    // with the transcripts like the conversation's other lines; nothing about the ticket.
    let left = d.outbox_with(mark(EXPIRING)).await;
    for row in &left {
        let (_, payload) = row.split_once(": ").unwrap();
        let v: serde_json::Value = serde_json::from_str(payload).unwrap();
        let reply = v["to"]["channel"] == "dm-ann" && v.get("kind").is_none() && v.get("about").is_none();
        assert!(reply, "the expired ticket's words are still in a delivery about it:\n{}", left.join("\n"));
    }
    let channel = d.chan.all().into_iter().filter(|s| s.place.starts_with("agents")).count();
    assert!(channel >= 2, "the agents saw cards and replies");
    let rows = d.t.app.store.outbox_list(None, 1000).await.unwrap();
    assert_eq!(rows.len(), rows_before - 1, "delivered rows stay (blanked), the dead letter goes");
    // The open ticket's deliveries are untouched.
    assert!(!d.outbox_with(mark(STAYING)).await.is_empty(), "the bystander's card stays");
    let t = d.t.app.store.ticket(staying).await.unwrap().unwrap();
    assert_eq!(t.status, TicketStatus::Open);
    // A second purge finds nothing more to do.
    let again = d.t.app.store.purge(&plan, now, true).await.unwrap();
    assert_eq!((again.outbox_blanked, again.outbox_deleted), (0, 0), "{again:?}");
    d.finish().await;
}

/// A canary's unique first word.
fn mark(words: &'static str) -> &'static str {
    words.split(' ').next().unwrap_or(words)
}

#[tokio::test]
async fn sqlite_erasing_a_requester_leaves_no_short_quote_in_any_delivery() {
    erasing_a_requester_leaves_no_short_quote_in_any_delivery(false).await;
}

#[tokio::test]
async fn postgres_erasing_a_requester_leaves_no_short_quote_in_any_delivery() {
    erasing_a_requester_leaves_no_short_quote_in_any_delivery(true).await;
}

#[tokio::test]
async fn sqlite_a_purge_takes_an_expired_tickets_words_out_of_the_outbox() {
    a_purge_takes_an_expired_tickets_words_out_of_the_outbox(false).await;
}

#[tokio::test]
async fn postgres_a_purge_takes_an_expired_tickets_words_out_of_the_outbox() {
    a_purge_takes_an_expired_tickets_words_out_of_the_outbox(true).await;
}
