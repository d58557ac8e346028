//! Nothing personal left behind: an employee talks to the desk through every path their words
//! can take (DM, form answers, KB rating, thread replies, a reopen, a rating comment, a ticket
//! filed from their message by someone else, agents' replies to them, webhooks, their display
//! name), each carrying a unique canary string. After `person erase`, and separately after a
//! retention purge, not one canary is left: not in the raw SQLite file (and its -wal/-shm after
//! a checkpoint), not in any text or JSON column on PostgreSQL. The live schema of both
//! backends is checked against the personal-data catalogue too.

mod support;

#[path = "support/pgdb.rs"]
mod pgdb;

#[path = "support/canary.rs"]
mod canary;

#[path = "support/desk.rs"]
mod desk;

use desk::Desk;
use deskbot::compliance::catalogue;
use deskbot::compliance::key::AuditKey;
use deskbot::compliance::{audit, person, retention};
use deskbot::domain::InboundKind;
use deskbot::domain::{Address, Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::service::scheduler;
use sqlx::{Connection, Row, SqliteConnection};
use std::sync::atomic::Ordering;

const DAY: i64 = 86_400_000;

/// The canaries, one per path; the user id and display name are canaries too.
const VICTIM: &str = "UCANARYVICTIM7";
const NAME: &str = "Xanthippe Quorrelby";
const DM: &str = "cnry-dm-5b1e9 my laptop won't turn on since the insulin pump alarm";
const SLOT: &str = "cnry-slot-77c3 it died after the diabetic clinic visit";
const THREAD: &str = "cnry-thread-a41f the screen flickers when I check my glucose";
const AGENT: &str = "cnry-agent-0d2e we will bring a loaner to the cardiology ward";
const CSAT: &str = "cnry-csat-9e8b quick fix, my doctor was relieved";
const REOPEN: &str = "cnry-reopen-33aa broken again, and my insulin pump app is gone";
const SHORTCUT: &str = "cnry-shortcut-c0de the badge reader at oncology rejects me";

const WORDS: [&str; 7] = [DM, SLOT, THREAD, AGENT, CSAT, REOPEN, SHORTCUT];

/// The victim's DM conversation key, shaped as the router shapes every DM's
/// (`{platform}:dm:{user id}`): it carries their id.
fn victim_dm() -> String {
    deskbot::service::router::dm_conversation(Platform::Test, VICTIM)
}

/// A canary's unique first word.
fn mark(words: &'static str) -> &'static str {
    words.split(' ').next().unwrap_or(words)
}

fn marks() -> Vec<&'static str> {
    let mut m: Vec<&str> = WORDS.iter().map(|w| mark(w)).collect();
    m.extend([VICTIM, NAME, "Xanthippe", "Quorrelby"]);
    m
}

fn config() -> String {
    let mut c = String::from(
        "[retention]\ntranscripts_days = 30\nclosed_tickets_days = 30\n\n\
         [[webhook]]\nname = \"itsm\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"s3cret\"\n\n\
         [[queue]]\nname = \"service-desk\"\nchannel = { test = \"agents\" }\nagents = [\"test:kim\"]\n",
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        c.push_str(&format!(
            "\n[[queue]]\nname = \"{q}\"\nchannel = {{ test = \"agents\" }}\nagents = [\"test:kim\"]\n"
        ));
    }
    c
}

impl Desk {
    /// The victim, in their DM.
    async fn says(&self, text: &str) {
        let to = Address::new(Platform::Test, "dm-victim");
        self.send(VICTIM, NAME, to, &victim_dm(), InboundKind::Message { text: text.into() }).await;
        self.deliver().await;
    }

    async fn picks(&self, id: &str) {
        let to = Address::new(Platform::Test, "dm-victim");
        self.send(VICTIM, NAME, to, &victim_dm(), InboundKind::Choice { id: id.into() }).await;
        self.deliver().await;
    }

    /// Kim, in ticket `n`'s thread.
    async fn agent(&self, n: TicketNumber, text: &str) {
        let card = self.card(n);
        let to = Address::new(Platform::Test, "agents").in_thread(card.clone());
        let kind = InboundKind::Message { text: text.into() };
        self.send("kim", "Kim", to, &format!("test:agents:{card}"), kind).await;
    }

    /// Plant every canary. Returns the DM ticket and the shortcut ticket. The last steps stay
    /// undelivered, so queued deliveries hold canaries too.
    async fn plant(&self) -> (TicketNumber, TicketNumber) {
        self.says(DM).await;
        self.picks("not_solved").await;
        self.says("LT-01234").await;
        self.says(SLOT).await;
        let filed = self.tickets().await;
        assert_eq!(filed.len(), 1, "the form filed a ticket: {:?}", self.chan.texts("dm-victim"));
        let n = filed[0];
        self.says(THREAD).await;
        self.agent(n, &format!("!reply {AGENT}")).await;
        self.deliver().await;
        let dm = self.chan.texts("dm-victim");
        assert!(dm.iter().any(|t| t.contains(AGENT)), "the agent's reply reached them: {dm:?}");
        self.agent(n, "!resolve").await;
        self.deliver().await;
        self.says("5").await;
        self.says(CSAT).await;
        // Kim files a ticket from the victim's message in a public channel (🎫 / shortcut).
        let to = Address::new(Platform::Test, "general").in_thread("t-500");
        let kind = InboundKind::FileTicket {
            text: SHORTCUT.into(),
            author: UserRef::new(Platform::Test, VICTIM),
            author_name: Some(NAME.into()),
            note: None,
        };
        self.send("kim", "Kim", to, "test:general:t-500", kind).await;
        self.deliver().await;
        let all = self.tickets().await;
        assert_eq!(all.len(), 2, "the shortcut filed a ticket");
        // The reopen stays queued: its relay, card update and webhook are undelivered.
        let to = Address::new(Platform::Test, "dm-victim");
        self.send(VICTIM, NAME, to, &victim_dm(), InboundKind::Message { text: REOPEN.into() }).await;
        let t = self.t.app.store.ticket(n).await.unwrap().unwrap();
        assert_eq!(t.status, TicketStatus::Open, "reopened");
        (n, all[1])
    }

    /// Every canary found, with where.
    async fn leftovers(&self) -> Vec<String> {
        self.found(&marks()).await
    }
}

fn key() -> AuditKey {
    AuditKey::from_bytes(b"canary-test-key-canary-test-key-0123".to_vec()).unwrap()
}

async fn erase_leaves_no_canary(d: Desk) {
    let (n, shortcut) = d.plant().await;
    let stored = d.leftovers().await;
    for m in marks() {
        assert!(stored.iter().any(|l| l.starts_with(m)), "{m} was never stored: {stored:?}");
    }
    let depth = d.t.app.store.outbox_list(None, 1000).await.unwrap();
    assert!(depth.iter().any(|o| o.status != "done"), "some deliveries are still queued: {depth:?}");
    let user = UserRef::new(Platform::Test, VICTIM);
    let data = person::export(&d.t.app.store, &user, &[]).await.unwrap();
    let exported = serde_json::to_string(&data).unwrap();
    for w in WORDS {
        assert!(exported.contains(mark(w)), "the export holds {w}");
    }
    for table in
        ["conversations", "tickets", "messages", "ticket_events", "audit_log", "outbox", "case_events"]
    {
        assert!(data.records.contains_key(table), "the export's records lack {table}");
    }

    // A bystander's undelivered messages, in the same queue channel and about the same kind
    // of problem, must survive the erasure untouched.
    let bob = |text: &str| InboundKind::Message { text: text.into() };
    d.send(
        "bob",
        "Bob",
        Address::new(Platform::Test, "dm-bob"),
        "test:dm-bob",
        bob("my laptop won't turn on"),
    )
    .await;
    let pending = |rows: &[deskbot::store::OutboxRecord]| -> Vec<(i64, String)> {
        rows.iter()
            .filter(|o| o.key.starts_with("test:ev-") && o.status == "pending")
            .map(|o| (o.id, o.preview.clone()))
            .collect()
    };
    let before = d.t.app.store.outbox_list(None, 1000).await.unwrap();

    let r = person::erase(&d.t.app.store, &key(), &user, &[], "dpo", d.now()).await.unwrap();
    let after = d.t.app.store.outbox_list(None, 1000).await.unwrap();
    let bobs = |rows: &[deskbot::store::OutboxRecord]| -> Vec<(i64, String)> {
        let last_event = format!("test:ev-{}", d.n.load(Ordering::SeqCst) - 1);
        pending(rows)
            .into_iter()
            .filter(|(id, _)| rows.iter().any(|o| o.id == *id && o.key.starts_with(&last_event)))
            .collect()
    };
    assert!(!bobs(&before).is_empty(), "bob's answer is queued: {before:?}");
    assert_eq!(bobs(&after), bobs(&before), "the erasure left the bystander's queue alone");
    assert!(r.compacted, "freed pages were wiped");
    assert!(r.deliveries_dropped >= 1, "{r:?}");
    let left = d.leftovers().await;
    assert!(left.is_empty(), "left behind after the erasure:\n{}", left.join("\n"));

    // What must stay: the tickets' statistics, an intact chain, the erasure under a keyed hash.
    let store = &d.t.app.store;
    for t in [n, shortcut] {
        let t = store.ticket(t).await.unwrap().unwrap();
        assert!(t.requester.id.starts_with("erased-"), "{t:?}");
    }
    assert_eq!(audit::verify(store).await.unwrap().broken, None);
    let entries = store.audit_entries(0, None, 10_000).await.unwrap();
    let erased: Vec<_> = entries.iter().filter(|e| e.kind == "person_erased").collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0].subject, Some(key().person_hash(&user)));
    // The rest of the desk still works: a new message is answered.
    d.send(
        "bob",
        "Bob",
        Address::new(Platform::Test, "dm-bob"),
        "test:dm-bob",
        InboundKind::Message { text: "how do I connect to the vpn".into() },
    )
    .await;
    d.deliver().await;
    assert!(!d.chan.texts("dm-bob").is_empty());
    d.finish().await;
}

async fn purge_past_retention_leaves_no_canary(d: Desk) {
    let (n, shortcut) = d.plant().await;
    let stored = d.leftovers().await;
    for w in WORDS {
        assert!(stored.iter().any(|l| l.starts_with(mark(w))), "{w} was never stored: {stored:?}");
    }
    // Both tickets are resolved and closed, then time passes beyond every retention period.
    d.deliver().await;
    for t in [n, shortcut] {
        d.agent(t, "!resolve").await;
        d.deliver().await;
    }
    d.clock.advance(8 * DAY);
    scheduler::tick(&d.t.app.service).await.unwrap();
    d.deliver().await;
    for t in [n, shortcut] {
        assert_eq!(d.t.app.store.ticket(t).await.unwrap().unwrap().status, TicketStatus::Closed);
    }
    d.clock.advance(31 * DAY);
    let now = d.now();
    let cfg = &d.t.app.config;
    let plan = retention::plan(&cfg.retention, &cfg.queue_names(), now, "retention");
    let r = d.t.app.store.purge(&plan, now, true).await.unwrap();
    assert!(r.tickets_anonymised == 2 && r.records_anonymised > 0, "{r:?}");
    let left = d.leftovers().await;
    assert!(left.is_empty(), "left behind after the purge:\n{}", left.join("\n"));
    assert_eq!(audit::verify(&d.t.app.store).await.unwrap().broken, None, "the purge re-linked the chain");
    d.finish().await;
}

#[tokio::test]
async fn erase_leaves_no_canary_in_the_sqlite_file() {
    erase_leaves_no_canary(Desk::sqlite(&config()).await).await;
}

#[tokio::test]
async fn erase_leaves_no_canary_in_any_postgres_column() {
    let Some(d) = Desk::postgres("canary", &config()).await else { return };
    erase_leaves_no_canary(d).await;
}

#[tokio::test]
async fn purge_past_retention_leaves_no_canary_in_the_sqlite_file() {
    purge_past_retention_leaves_no_canary(Desk::sqlite(&config()).await).await;
}

#[tokio::test]
async fn purge_past_retention_leaves_no_canary_in_any_postgres_column() {
    let Some(d) = Desk::postgres("canary", &config()).await else { return };
    purge_past_retention_leaves_no_canary(d).await;
}

/// Text and JSON columns of the live schema (after every migration) the catalogue does not
/// classify.
async fn unclassified_sqlite(path: &std::path::Path) -> Vec<String> {
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", path.display())).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let rows = sqlx::query("SELECT name, type FROM pragma_table_info($1)")
            .bind(&t)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in rows {
            let (c, ty): (String, String) = (row.get(0), row.get(1));
            let ty = ty.to_ascii_uppercase();
            if ty.is_empty() || ty.contains("TEXT") || ty.contains("CHAR") || ty.contains("JSON") {
                out.extend(catalogue::unclassified(&t, &c));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_live_schema_has_no_unclassified_text_column_on_either_backend() {
    let d = Desk::sqlite(&config()).await;
    let db = d.sqlite_file();
    let missing = unclassified_sqlite(&db).await;
    assert!(missing.is_empty(), "SQLite:\n{}", missing.join("\n"));
    // The check bites: a column added behind the catalogue's back is reported.
    d.sql("ALTER TABLE tickets ADD COLUMN diagnosis TEXT").await;
    let missing = unclassified_sqlite(&db).await;
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains("tickets.diagnosis"));

    let Some(d) = Desk::postgres("canary", &config()).await else { return };
    let mut conn = d.pg.as_ref().unwrap().connect().await;
    let cols = canary::postgres_text_columns(&mut conn).await;
    let missing: Vec<String> = cols.iter().filter_map(|(t, c)| catalogue::unclassified(t, c)).collect();
    assert!(missing.is_empty(), "PostgreSQL:\n{}", missing.join("\n"));
    conn.close().await.unwrap();
    d.finish().await;
}

#[tokio::test]
async fn export_is_written_private_and_audited_and_the_database_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
            .args(args)
            .current_dir(dir.path())
            .env("DESKBOT_DATA_DIR", &data)
            .env("DESKBOT_INTENTS_DIR", support::starter_pack())
            .env("DESKBOT_HOT_RELOAD", "false")
            .env_remove("DESKBOT_DATABASE_URL")
            .env_remove("DESKBOT_CONFIG")
            .env_remove("DESKBOT_AUDIT_KEY")
            .env_remove("DESKBOT_AUDIT_KEY_FILE")
            .output()
            .unwrap()
    };
    let o = run(&["roles", "grant", "test:kim", "agent", "--justification", "on call", "--by", "boss"]);
    assert!(o.status.success(), "{o:?}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory deskbot created");
    assert_eq!(mode(&data.join("deskbot.db")), 0o600, "the database file deskbot created");

    let out = dir.path().join("kim.json");
    let o = run(&["person", "export", "test:kim", "--out", out.to_str().unwrap(), "--by", "dpo"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(mode(&out), 0o600, "the export file");
    assert!(std::fs::read_to_string(&out).unwrap().contains("on call"));
    let o = run(&["audit", "export"]);
    let log = String::from_utf8_lossy(&o.stdout);
    let exported: Vec<&str> = log.lines().filter(|l| l.contains("\"kind\":\"person_exported\"")).collect();
    assert_eq!(exported.len(), 1, "{log}");
    assert!(exported[0].contains("\"actor\":\"dpo\"") && exported[0].contains("test:kim"), "{log}");

    // Erasing through the CLI names the person by the key in the data directory, not the id.
    let o = run(&["person", "erase", "test:kim", "--by", "dpo"]);
    assert!(o.status.success(), "{o:?}");
    let o = run(&["audit", "export"]);
    let log = String::from_utf8_lossy(&o.stdout);
    assert!(!log.contains("test:kim") && !log.contains("\"kim\""), "the id survives in the audit log: {log}");
    let key = AuditKey::load(&data).unwrap().0;
    assert!(log.contains(&key.person_hash(&UserRef::new(Platform::Test, "kim"))), "{log}");
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(0));
}
