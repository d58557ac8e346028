//! Compliance end to end on a real SQLite file: a card number typed by an employee never
//! reaches the disk or the agents' channel; export then erase leaves only the erasure record;
//! tampering with the audit log makes `deskbot audit verify` fail naming the row; config
//! grants are recorded; input limits reply politely and lose nothing.

mod support;

use deskbot::app::App;
use deskbot::compliance::person;
use deskbot::config::{Config, Sources};
use deskbot::domain::{Address, Platform, UserRef};
use deskbot::domain::{Attachment, Channel, Inbound, InboundKind};
use deskbot::outbox::Outbox;
use deskbot::store::compliance::Role;
use deskbot::store::{Speaker, TicketFilter};
use sqlx::{Connection, SqliteConnection};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use support::test_channel::TestChannel;
use support::{TestApp, TestClock};

const T0: i64 = 1_795_797_000_000;

fn desk_config(extra: &str) -> String {
    let mut c = String::from(
        "[[queue]]\nname = \"service-desk\"\nchannel = { test = \"agents\" }\nagents = [\"test:kim\"]\nleads = [\"test:lee\"]\n",
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        c.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n"));
    }
    c.push_str(extra);
    c
}

struct Desk {
    t: TestApp,
    chan: Arc<TestChannel>,
    clock: TestClock,
    n: std::sync::atomic::AtomicU64,
}

impl Desk {
    async fn new(extra: &str) -> Desk {
        let clock = TestClock::at(T0);
        let t = TestApp::with_config(&desk_config(extra), clock.clock()).await;
        Desk { t, chan: Arc::new(TestChannel::default()), clock, n: Default::default() }
    }

    /// `user` (shown as `name`) says `text` in their DM.
    async fn say(&self, user: &str, name: &str, text: &str) {
        self.say_with(user, name, text, Vec::new()).await
    }

    /// `user` says `text` in conversation `conversation` (their own).
    async fn say_in(&self, conversation: &str, user: &str, name: &str, text: &str) {
        self.send(conversation, conversation, user, name, text, Vec::new()).await
    }

    async fn say_with(&self, user: &str, name: &str, text: &str, attachments: Vec<Attachment>) {
        self.send("test:DM-7", "DM-7", user, name, text, attachments).await
    }

    /// Hand one message to the service, then deliver what it queued.
    async fn send(
        &self,
        conversation: &str,
        reply_channel: &str,
        user: &str,
        name: &str,
        text: &str,
        attachments: Vec<Attachment>,
    ) {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let inbound = Inbound {
            event_id: format!("ev-{n}"),
            user: UserRef::new(Platform::Test, user),
            display_name: Some(name.to_string()),
            conversation: conversation.to_string(),
            reply_to: Address::new(Platform::Test, reply_channel),
            kind: InboundKind::Message { text: text.to_string() },
            at: 0,
            message_id: None,
            message_channel: None,
            attachments,
            via: Default::default(),
        };
        self.t.app.service.handle(inbound).await.unwrap();
        let chan: Arc<dyn Channel> = self.chan.clone();
        Outbox::new(self.t.app.store.clone(), vec![chan], 8, self.clock.clock()).deliver_due().await.unwrap();
    }

    /// The database file and its WAL, as bytes, after a checkpoint.
    async fn disk_bytes(&self) -> Vec<u8> {
        let db = self.t.dir.path().join("deskbot.db");
        let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display())).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let mut bytes = std::fs::read(&db).unwrap();
        for ext in ["-wal", "-shm"] {
            bytes.extend(
                std::fs::read(self.t.dir.path().join(format!("deskbot.db{ext}"))).unwrap_or_default(),
            );
        }
        bytes
    }
}

fn count(hay: &[u8], needle: &str) -> usize {
    hay.windows(needle.len()).filter(|w| w.eq_ignore_ascii_case(needle.as_bytes())).count()
}

#[tokio::test]
async fn card_number_typed_by_an_employee_is_nowhere_on_disk_or_in_the_agents_channel() {
    let d = Desk::new("").await;
    d.say("U0ANA", "Ana", "talk to a person").await;
    d.say("U0ANA", "Ana", "my card 4539 1488 0343 6467 was charged twice, also 5555555555554444").await;
    let tickets = d.t.app.store.tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1, "a ticket was filed");
    let agents: Vec<String> =
        d.chan.all().into_iter().filter(|s| s.place.starts_with("agents")).map(|s| s.text).collect();
    assert!(!agents.is_empty(), "the agents saw the ticket");
    assert!(agents.iter().any(|t| t.contains("[card]")), "{agents:?}");
    let everything: String = d.chan.all().into_iter().map(|s| s.text).collect::<Vec<_>>().join("\n");
    let bytes = d.disk_bytes().await;
    for card in ["4539 1488 0343 6467", "4539148803436467", "5555555555554444", "0343 6467"] {
        assert!(!everything.contains(card), "{card} reached a channel: {everything}");
        assert_eq!(count(&bytes, card), 0, "{card} is in the database file");
    }
    assert!(count(&bytes, "[card]") >= 1, "the placeholder is stored instead");
}

#[tokio::test]
async fn export_then_erase_leaves_only_the_erasure_record_in_the_database_file() {
    let d = Desk::new("").await;
    d.say("U0ZELDA", "Zelda Quintero", "talk to a person").await;
    d.say("U0ZELDA", "Zelda Quintero", "my monitor flickers, I am Zelda Quintero").await;
    let before = d.t.app.store.tickets(&TicketFilter::default()).await.unwrap()[0].clone();
    let n = before.number;
    d.t.app
        .service
        .resolve_ticket(n, "test:kim", Some("swapped the cable for U0ZELDA".into()))
        .await
        .unwrap();
    d.say("U0ZELDA", "Zelda Quintero", "5").await;
    let store = &d.t.app.store;
    let user = UserRef::new(Platform::Test, "U0ZELDA");

    let data = person::export(store, &user, &[]).await.unwrap();
    let json = serde_json::to_string(&data).unwrap();
    assert_eq!(data.tickets.len(), 1);
    assert!(!data.conversations.is_empty() && !data.ratings.is_empty() && !data.audit.is_empty());
    assert!(
        data.messages.iter().any(|m| m.turn.from == Speaker::Employee && m.turn.text.contains("flickers"))
    );
    assert!(json.contains("Zelda Quintero") && json.contains("U0ZELDA"));
    assert!(count(&d.disk_bytes().await, "U0ZELDA") > 1);

    let key = deskbot::compliance::key::AuditKey::from_bytes(vec![7u8; 32]).unwrap();
    person::erase(store, &key, &user, &[], "dpo", T0 + 1000).await.unwrap();
    let bytes = d.disk_bytes().await;
    assert_eq!(count(&bytes, "Zelda"), 0, "the name is still on disk");
    assert_eq!(count(&bytes, "Quintero"), 0, "the name is still on disk");
    assert_eq!(count(&bytes, "U0ZELDA"), 0, "not even the erasure record names the user id");
    let audit = store.audit_entries(0, None, 1000).await.unwrap();
    let erased: Vec<_> = audit.iter().filter(|e| e.kind == "person_erased").collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0].subject, Some(key.person_hash(&user)));
    let t = store.ticket(n).await.unwrap().unwrap();
    assert_eq!(
        (&t.queue, t.status.as_str(), t.created_at),
        (&before.queue, "resolved", before.created_at),
        "statistics stay"
    );
}

#[tokio::test]
async fn erasing_an_approver_finds_the_name_their_decisions_were_recorded_under() {
    let d = Desk::new("").await;
    // Jane Quist decided a request; she filed no ticket and never talked to deskbot.
    sql(
        d.t.dir.path(),
        "INSERT INTO requests (number, item, item_title, requester_platform, requester_id, requester_name, \
         conversation, reply_to, fields, justification, status, step, steps, fulfil, created_at, updated_at) \
         VALUES (1001, 'db', 'DB', 'test', 'U0REQ', 'Rex Requester', 'test:dm:U0REQ', '{}', '{}', 'for work', \
         'approved', 0, '[]', 'queue:access', 0, 0)",
    )
    .await;
    sql(
        d.t.dir.path(),
        "INSERT INTO request_decisions (request_number, step, approver_platform, approver_id, approver_name, \
         decision, at) VALUES (1001, 0, 'test', 'U0JANE', 'Jane Quist', 'approve', 0)",
    )
    .await;
    // A colleague's ticket names her.
    d.say_in("test:DM-bob", "U0BOB", "Bob Rank", "talk to a person").await;
    d.say_in("test:DM-bob", "U0BOB", "Bob Rank", "the database access Jane Quist approved does not work")
        .await;
    assert!(count(&d.disk_bytes().await, "Quist") > 1, "the words are stored");
    let store = &d.t.app.store;
    let key = deskbot::compliance::key::AuditKey::from_bytes(vec![7u8; 32]).unwrap();
    let user = UserRef::new(Platform::Test, "U0JANE");
    person::erase(store, &key, &user, &[], "dpo", T0 + 1000).await.unwrap();
    assert_eq!(count(&d.disk_bytes().await, "Quist"), 0, "her name is still on disk");
}

#[tokio::test]
async fn erasing_a_person_finds_their_name_in_others_words_in_any_letter_case() {
    let d = Desk::new("").await;
    d.say("U0EMILE", "Émile Øster", "talk to a person").await;
    d.say("U0EMILE", "Émile Øster", "my docking station is dead").await;
    // Colleagues' own tickets name him as written, and in capitals.
    d.say_in("test:DM-bob", "U0BOB", "Bob Rank", "talk to a person").await;
    d.say_in("test:DM-bob", "U0BOB", "Bob Rank", "the plotter jams; ask Émile Øster").await;
    d.say_in("test:DM-ann", "U0ANN", "Ann Lind", "talk to a person").await;
    d.say_in("test:DM-ann", "U0ANN", "Ann Lind", "the plotter jams again, ÉMILE ØSTER saw it").await;
    let store = &d.t.app.store;
    let bytes = d.disk_bytes().await;
    assert!(
        count(&bytes, "ask Émile Øster") > 0 && count(&bytes, "ÉMILE ØSTER saw") > 0,
        "the words are stored"
    );
    let key = deskbot::compliance::key::AuditKey::from_bytes(vec![7u8; 32]).unwrap();
    let user = UserRef::new(Platform::Test, "U0EMILE");
    person::erase(store, &key, &user, &[], "dpo", T0 + 1000).await.unwrap();
    let bytes = d.disk_bytes().await;
    for form in ["Émile Øster", "ÉMILE ØSTER", "émile øster", "Øster", "ØSTER", "øster"] {
        assert_eq!(count(&bytes, form), 0, "{form} is still on disk");
    }
    assert!(count(&bytes, "plotter jams") > 0, "the colleague's own words stay");
}

fn deskbot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .args(args)
        .current_dir(dir)
        .env("DESKBOT_INTENTS_DIR", support::starter_pack())
        .env("DESKBOT_HOT_RELOAD", "false")
        .env_remove("DESKBOT_DATABASE_URL")
        .env_remove("DESKBOT_CONFIG")
        .env_remove("DESKBOT_AUDIT_KEY")
        .env_remove("DESKBOT_AUDIT_KEY_FILE")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn sql(dir: &Path, statement: &str) {
    let mut conn =
        SqliteConnection::connect(&format!("sqlite:{}", dir.join("deskbot.db").display())).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn tampering_with_one_audit_row_makes_audit_verify_fail_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for (who, why) in [("test:kim", "on call"), ("test:lee", "team lead"), ("test:max", "new hire")] {
        let o = deskbot(p, &["roles", "grant", who, "agent", "--justification", why, "--by", "boss"]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
    }
    let o = deskbot(p, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("intact: 3 entries"), "{}", stdout(&o));
    let o = deskbot(p, &["audit", "export", "--since", "2000-01-01"]);
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
    assert!(stdout(&o).contains("\"kind\":\"role_granted\""));
    assert_eq!(deskbot(p, &["audit", "export", "--since", "someday"]).status.code(), Some(2));

    sql(p, "UPDATE audit_log SET detail = 'agent on *: nothing to see' WHERE seq = 2").await;
    let o = deskbot(p, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stdout(&o).contains("BROKEN at entry #2") && stdout(&o).contains("changed"), "{}", stdout(&o));
    // Erasure refuses to re-link (and so hide) a broken chain.
    let o = deskbot(p, &["person", "erase", "test:max"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");

    sql(p, "UPDATE audit_log SET detail = 'agent on *: on call' WHERE seq = 2").await;
    sql(p, "UPDATE audit_log SET detail = 'agent on *: team lead' WHERE seq = 2").await;
    assert_eq!(deskbot(p, &["audit", "verify"]).status.code(), Some(0));
    sql(p, "DELETE FROM audit_log WHERE seq = 2").await;
    let o = deskbot(p, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("BROKEN at entry #3") && stdout(&o).contains("#1"), "{}", stdout(&o));
}

#[tokio::test]
async fn rows_from_before_the_chain_are_linked_on_first_verify() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(
        deskbot(p, &["roles", "grant", "test:kim", "agent", "--justification", "on call"]).status.code(),
        Some(0)
    );
    assert_eq!(
        deskbot(p, &["roles", "grant", "test:lee", "lead", "--justification", "team lead"]).status.code(),
        Some(0)
    );
    // What migration 0003 leaves on a database with history: rows without hashes, no head.
    sql(p, "UPDATE audit_log SET prev_hash = NULL, hash = NULL").await;
    sql(p, "DELETE FROM audit_head").await;
    let o = deskbot(p, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("intact: 2 entries"), "{}", stdout(&o));
}

/// Every audit row as an attacker with SQL access reads it.
async fn audit_rows(
    dir: &Path,
) -> Vec<(i64, i64, String, String, Option<i64>, Option<String>, Option<String>)> {
    let mut conn =
        SqliteConnection::connect(&format!("sqlite:{}", dir.join("deskbot.db").display())).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT seq, at, actor, kind, ticket_number, subject, detail FROM audit_log ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    rows
}

#[tokio::test]
async fn rewrite_with_the_chain_recomputed_without_the_key_fails_audit_verify() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for (who, why) in [("test:kim", "on call"), ("test:lee", "team lead"), ("test:max", "new hire")] {
        let o = deskbot(p, &["roles", "grant", who, "agent", "--justification", why, "--by", "boss"]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
    }
    assert!(p.join("audit.key").exists(), "the key is generated beside the database");
    assert_eq!(deskbot(p, &["audit", "verify"]).status.code(), Some(0));

    // Rewrite who granted entry #2 and why, then recompute every link the way the chain was
    // linked before it had a key: SHA-256 over the canonical JSON of the previous link and the
    // fields. The head moves along.
    let mut prev = "0".repeat(64);
    for (seq, at, actor, kind, ticket, subject, detail) in audit_rows(p).await {
        let (actor, detail) = if seq == 2 {
            ("mallory".to_string(), Some("agent on *: nothing to see".to_string()))
        } else {
            (actor, detail)
        };
        let canonical = serde_json::json!([prev, seq, at, actor, kind, ticket, subject, detail]).to_string();
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()));
        let detail = detail.map(|d| format!("'{d}'")).unwrap_or_else(|| "NULL".into());
        sql(
            p,
            &format!(
                "UPDATE audit_log SET actor = '{actor}', detail = {detail}, prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq}"
            ),
        )
        .await;
        sql(p, &format!("UPDATE audit_head SET last_seq = {seq}, last_hash = '{hash}'")).await;
        prev = hash;
    }
    for _ in 0..2 {
        // Twice: the first run's open must not have re-chained (laundered) it.
        let o = deskbot(p, &["audit", "verify"]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        assert!(
            stdout(&o).contains("BROKEN at entry #1") && stdout(&o).contains("not keyed"),
            "{}",
            stdout(&o)
        );
    }
}

#[tokio::test]
async fn audit_anchor_kept_outside_catches_truncation_that_verify_alone_misses() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for (who, why) in [("test:kim", "on call"), ("test:lee", "team lead"), ("test:max", "new hire")] {
        let o = deskbot(p, &["roles", "grant", who, "agent", "--justification", why, "--by", "boss"]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
    }
    let o = deskbot(p, &["audit", "anchor"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let line = stdout(&o);
    assert_eq!(line.lines().count(), 1, "{line}");
    let anchor: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(anchor["seq"], 3);
    assert_eq!(anchor["hmac"].as_str().map(str::len), Some(64));
    assert!(anchor["at"].as_str().is_some(), "{anchor}");
    let outside = tempfile::tempdir().unwrap();
    let file = outside.path().join("anchors.jsonl");
    std::fs::write(&file, &line).unwrap();
    let file_arg = file.display().to_string();

    let o = deskbot(p, &["audit", "verify", "--anchor", &file_arg]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("all 1 anchors hold"), "{}", stdout(&o));
    // More entries later: the old anchor still holds.
    deskbot(p, &["roles", "revoke", "test:max", "agent", "--reason", "left the team", "--by", "boss"]);
    assert_eq!(deskbot(p, &["audit", "verify", "--anchor", &file_arg]).status.code(), Some(0));

    // Drop the last two entries and move the head back: the chain alone still verifies.
    let rows = audit_rows(p).await;
    assert_eq!(rows.len(), 4);
    sql(p, "DELETE FROM audit_log WHERE seq >= 3").await;
    sql(p, "UPDATE audit_head SET last_seq = 2, last_hash = (SELECT hash FROM audit_log WHERE seq = 2)")
        .await;
    assert_eq!(deskbot(p, &["audit", "verify"]).status.code(), Some(0));
    let o = deskbot(p, &["audit", "verify", "--anchor", &file_arg]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stdout(&o).contains("anchor #3") && stdout(&o).contains("truncated"), "{}", stdout(&o));

    std::fs::write(&file, "not an anchor\n").unwrap();
    assert_eq!(deskbot(p, &["audit", "verify", "--anchor", &file_arg]).status.code(), Some(2));
}

#[tokio::test]
async fn cli_rejects_bad_compliance_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for args in [
        &["purge"][..],
        &["purge", "--dry-run", "--apply"],
        &["purge", "--dry-run"],
        &["roles", "grant", "test:kim", "wizard", "--justification", "because"],
        &["roles", "grant", "nobody", "agent", "--justification", "because"],
        &["roles", "grant", "test:kim", "agent", "--justification", "x"],
        &["roles", "grant", "test:kim", "agent", "--queue", "nope", "--justification", "on call"],
        &["roles", "revoke", "test:kim", "agent", "--reason", "left"],
        &["roles", "review"],
        &["person", "export", "kim"],
        &["person", "erase", "test:ghost"],
    ] {
        let o = deskbot(p, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"), "{args:?}");
    }
    std::fs::write(p.join("deskbot.toml"), "[retention]\ntranscripts_days = 30\n[roles]\nreview_days = 0\n")
        .unwrap();
    let o = deskbot(p, &["purge", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("would purge"), "{}", stdout(&o));
    let o = deskbot(p, &["purge", "--apply"]);
    assert!(stdout(&o).contains("purged") && o.status.success(), "{o:?}");
    assert_eq!(
        deskbot(p, &["roles", "grant", "test:kim", "agent", "--justification", "on call"]).status.code(),
        Some(0)
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    let o = deskbot(p, &["roles", "review"]);
    assert_eq!(o.status.code(), Some(1), "a zero-day period flags every grant: {o:?}");
    assert!(stdout(&o).contains("test:kim"));
    let o = deskbot(p, &["roles", "list"]);
    assert!(stdout(&o).contains("test:kim") && stdout(&o).contains("on call"), "{}", stdout(&o));
    let o = deskbot(p, &["audit", "export"]);
    assert!(stdout(&o).contains("\"kind\":\"purge\""), "{}", stdout(&o));
}

#[tokio::test]
async fn config_grants_are_recorded_on_start_and_revoked_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    let load = |toml: &str| {
        let file = dir.path().join("deskbot.toml");
        std::fs::write(&file, toml).unwrap();
        let mut c =
            Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &[]).unwrap();
        c.intents_dir = support::starter_pack();
        c.hot_reload = false;
        c
    };
    let app = App::build(load(&desk_config("[roles]\nadmins = [\"test:root\"]\n"))).await.unwrap();
    let grants = app.store.role_grants(false).await.unwrap();
    let got: Vec<_> = grants
        .iter()
        .map(|g| (g.user.id.as_str(), g.role, g.scope.as_str(), g.granted_by.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("kim", Role::Agent, "service-desk", "config"),
            ("lee", Role::Lead, "service-desk", "config"),
            ("root", Role::Admin, "*", "config")
        ]
    );
    drop(app);
    let app = App::build(load(&desk_config(""))).await.unwrap();
    assert_eq!(app.store.role_grants(false).await.unwrap().len(), 2, "root is no longer listed");
    let all = app.store.role_grants(true).await.unwrap();
    assert_eq!(all.len(), 3, "nothing recorded twice");
    let kinds: Vec<String> =
        app.store.audit_entries(0, None, 100).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["role_granted", "role_granted", "role_granted", "role_revoked"]);
}

#[tokio::test]
async fn messages_over_the_rate_get_a_polite_reply_and_are_still_stored() {
    let d = Desk::new("[limits]\nmessages_per_minute = 2\n").await;
    for text in ["hello", "my vpn keeps dropping", "still dropping", "really, still dropping"] {
        d.say("U0BEN", "Ben", text).await;
    }
    let to_ben: Vec<String> =
        d.chan.all().into_iter().filter(|s| s.place == "DM-7").map(|s| s.text).collect();
    let slow = to_ben.iter().filter(|t| t.contains("faster than I can keep up")).count();
    assert_eq!(slow, 1, "one polite reply per minute: {to_ben:?}");
    let data = person::export(&d.t.app.store, &UserRef::new(Platform::Test, "U0BEN"), &[]).await.unwrap();
    let said: Vec<&str> = data
        .messages
        .iter()
        .filter(|m| m.turn.from == Speaker::Employee)
        .map(|m| m.turn.text.as_str())
        .collect();
    for text in ["hello", "my vpn keeps dropping", "still dropping", "really, still dropping"] {
        assert!(said.contains(&text), "{text} was lost: {said:?}");
    }
    d.clock.advance(61_000);
    d.say("U0BEN", "Ben", "thanks").await;
    let last = d.chan.all().into_iter().rfind(|s| s.place == "DM-7").unwrap().text;
    assert!(!last.contains("faster than"), "the window slid: {last}");
}

#[tokio::test]
async fn long_messages_are_cut_to_the_configured_length_and_the_employee_told() {
    let d = Desk::new("[limits]\nmax_message_chars = 40\n").await;
    d.say("U0CAT", "Cat", &format!("printer broken {}", "and more detail ".repeat(20))).await;
    let to_cat: Vec<String> =
        d.chan.all().into_iter().filter(|s| s.place == "DM-7").map(|s| s.text).collect();
    assert!(to_cat.iter().any(|t| t.contains("very long")), "{to_cat:?}");
    let data = person::export(&d.t.app.store, &UserRef::new(Platform::Test, "U0CAT"), &[]).await.unwrap();
    let first = data.messages.iter().find(|m| m.turn.from == Speaker::Employee).unwrap();
    assert!(
        first.turn.text.chars().count() <= 40 && first.turn.text.starts_with("printer broken"),
        "{first:?}"
    );
}

#[tokio::test]
async fn card_numbers_split_by_the_length_cut_or_typed_full_width_are_not_stored() {
    let d = Desk::new("[limits]\nmax_message_chars = 40\n").await;
    // The cut at 40 characters falls inside the card number: cut first, the first digits
    // would survive as a fragment no rule can recognise.
    d.say("U0FAY", "Fay", &format!("{} card 4012 8888 8888 1881 thanks", "x".repeat(30))).await;
    d.say("U0FAY", "Fay", "talk to a person").await;
    d.say("U0FAY", "Fay", "card ５５５５ ５５５５ ５５５５ ４４４４ was charged").await;
    let data = person::export(&d.t.app.store, &UserRef::new(Platform::Test, "U0FAY"), &[]).await.unwrap();
    let said: Vec<&str> = data
        .messages
        .iter()
        .filter(|m| m.turn.from == Speaker::Employee)
        .map(|m| m.turn.text.as_str())
        .collect();
    assert!(said[0].chars().count() <= 40 && said[0].ends_with("card [car"), "{said:?}");
    assert!(said.iter().any(|t| t.contains("card [card] was charged")), "{said:?}");
    let everything: String = d.chan.all().into_iter().map(|s| s.text).collect::<Vec<_>>().join("\n");
    let bytes = d.disk_bytes().await;
    for fragment in ["4012", "８８８８", "５５５５", "4444", "5555"] {
        assert!(!everything.contains(fragment), "{fragment} reached a channel: {everything}");
    }
    // In the file, each fragment with what was typed next to it: four bare digits also turn up
    // in random ids and hashes.
    let typed = ["card 4012", "4012 8", "8888 1881", "card 5555", "5555 5555", "5555 4444", "4444 was"];
    for fragment in typed.into_iter().chain(["８８８８", "５５５５"]) {
        assert_eq!(count(&bytes, fragment), 0, "{fragment} is in the database file");
    }
}

#[tokio::test]
async fn attachments_beyond_the_limit_are_dropped_and_the_employee_told() {
    let d = Desk::new("[limits]\nmax_attachments = 2\n").await;
    let files: Vec<Attachment> =
        (0..5).map(|i| Attachment { name: format!("screenshot-{i}.png"), size: 1000, url: None }).collect();
    d.say_with("U0DAN", "Dan", "my screen flickers, screenshots attached", files.clone()).await;
    let to_dan: Vec<String> =
        d.chan.all().into_iter().filter(|s| s.place == "DM-7").map(|s| s.text).collect();
    assert!(to_dan.iter().any(|t| t.contains("kept only the first 2")), "{to_dan:?}");
    d.say_with("U0DAN", "Dan", "one more", files[..2].to_vec()).await;
    let again =
        d.chan.all().into_iter().filter(|s| s.place == "DM-7" && s.text.contains("kept only")).count();
    assert_eq!(again, 1, "two attachments are within the limit");
}

#[tokio::test]
async fn the_daily_purge_runs_once_a_day_on_the_leader_only_and_is_audited() {
    use deskbot::compliance::retention::run_daily;
    use std::time::Duration;
    let d = Desk::new("[retention]\ntranscripts_days = 1\n").await;
    d.say("U0EVE", "Eve", "hello there").await;
    d.clock.advance(3 * 86_400_000);
    let store = d.t.app.store.clone();
    let purges = || async {
        store.audit_entries(0, None, 1000).await.unwrap().into_iter().filter(|e| e.kind == "purge").count()
    };
    let spawn = |leader: bool| {
        let cancel = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(run_daily(
            store.clone(),
            d.t.app.config.retention.clone(),
            d.t.app.config.queue_names(),
            d.clock.clock(),
            Duration::from_millis(10),
            cancel.clone(),
            move || leader,
        ));
        (cancel, task)
    };
    let (cancel, task) = spawn(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(purges().await, 0, "a follower does not purge");

    let (cancel, task) = spawn(true);
    for _ in 0..200 {
        if purges().await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(purges().await, 1, "once a day, not once per poll");
    d.clock.advance(86_400_000);
    for _ in 0..200 {
        if purges().await > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(purges().await, 2, "the next day it runs again");
    let data = person::export(&store, &UserRef::new(Platform::Test, "U0EVE"), &[]).await.unwrap();
    assert!(data.messages.is_empty(), "expired chat is gone: {:?}", data.messages);
}

/// Erasing someone deskbot.toml still lists is refused (they would be granted again, by their
/// id, at the next start) and changes nothing; once the file no longer lists them it works.
#[tokio::test]
async fn erasing_a_person_the_config_still_lists_is_refused_until_the_file_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let queues = |agents: &str| {
        let mut c = format!("[[queue]]\nname = \"service-desk\"\nagents = [{agents}]\n");
        for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
            c.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n"));
        }
        c
    };
    std::fs::write(p.join("deskbot.toml"), queues("\"test:kim\", \"test:max\"")).unwrap();
    let o = deskbot(p, &["roles", "grant", "test:max", "lead", "--justification", "covers on Fridays"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = deskbot(p, &["person", "erase", "test:max"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("still listed") && err.contains("agent of service-desk"), "{err}");
    let o = deskbot(p, &["audit", "export", "--since", "2000-01-01"]);
    assert!(!stdout(&o).contains("person_erased"), "nothing was erased: {}", stdout(&o));

    std::fs::write(p.join("deskbot.toml"), queues("\"test:kim\"")).unwrap();
    let o = deskbot(p, &["person", "erase", "test:max"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = deskbot(p, &["audit", "export", "--since", "2000-01-01"]);
    assert!(stdout(&o).contains("person_erased"), "{}", stdout(&o));
}
