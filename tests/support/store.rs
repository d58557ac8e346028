//! Helpers for the store conformance suite: a fresh database per test (a SQLite file in a
//! temporary directory, or a new PostgreSQL database on the server `DESKBOT_TEST_POSTGRES_URL`
//! names; see `pgdb.rs` for when that is missing), and builders for the commits the stories
//! write.

#[path = "pgdb.rs"]
mod pgdb;

use deskbot::compliance::key::AuditKey;
use deskbot::domain::Outbound;
use deskbot::domain::{Address, Millis, Platform, Priority, QueueName, TicketNumber, TicketStatus, UserRef};
use deskbot::store::{
    Commit, CommitOutcome, ConversationWrite, DynStore, EventKey, NewOutbox, NewTicket, Speaker, SqliteStore,
    Store, TicketOp, Turn,
};
use std::sync::Arc;
use std::time::Duration;

/// The audit key every test store links its audit chain under.
pub fn test_key() -> AuditKey {
    AuditKey::from_bytes(vec![0x5a; 32]).expect("a 32-byte key")
}

/// The time every story starts at.
pub const T0: Millis = 1_700_000_000_000;

/// A migrated store on a database nobody else uses.
pub struct TestDb {
    pub store: DynStore,
    /// The database's URL, for tests that reach around the store.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<pgdb::PgDb>,
}

impl TestDb {
    /// Drop the PostgreSQL database (a failed test leaves it behind for inspection).
    pub async fn finish(self) {
        let Some(pg) = self.pg else { return };
        drop(self.store);
        pg.drop_now().await;
    }
}

/// A fresh SQLite file in its own temporary directory.
pub async fn sqlite() -> TestDb {
    sqlite_with(deskbot::store::sqlite::DEFAULT_BUSY_TIMEOUT).await
}

pub async fn sqlite_with(busy_timeout: Duration) -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("deskbot.db").display());
    let store = SqliteStore::open_with(&url, busy_timeout, test_key()).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestDb { store: Arc::new(store), url, _dir: Some(dir), pg: None }
}

/// A fresh PostgreSQL database, or `None` when PostgreSQL is skipped explicitly.
pub async fn postgres() -> Option<TestDb> {
    let db = pgdb::PgDb::create("t").await?;
    let store = deskbot::store::open(&db.url, test_key()).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    Some(TestDb { store, url: db.url.clone(), _dir: None, pg: Some(db) })
}

pub fn user(id: &str) -> UserRef {
    UserRef::new(Platform::Slack, id)
}

pub fn address(channel: &str) -> Address {
    Address::new(Platform::Slack, channel).in_thread("1700000000.0001")
}

/// A commit to conversation `key` (owned by `slack:U-<key>`) read at `version`.
pub fn commit(key: &str, version: i64, event: Option<&str>, now: Millis) -> Commit {
    Commit {
        event: event.map(|id| EventKey { platform: Platform::Slack, event_id: id.to_string() }),
        conversation: ConversationWrite {
            key: key.to_string(),
            user: user(&format!("U-{key}")),
            reply_to: address(&format!("D-{key}")),
            state: serde_json::json!({ "step": "idle", "version_read": version }),
            expected_version: version,
        },
        messages: Vec::new(),
        tickets: Vec::new(),
        feedback: Vec::new(),
        outbox: Vec::new(),
        now,
        cases: Vec::new(),
        requests: Vec::new(),
    }
}

pub fn new_ticket(title: &str) -> NewTicket {
    NewTicket {
        title: title.to_string(),
        description: format!("{title}, described"),
        intent: Some("vpn_down".to_string()),
        queue: QueueName::parse("network").expect("queue name"),
        priority: Priority::High,
        fields: [("device".to_string(), "LT-0042".to_string())].into_iter().collect(),
        transcript: vec![
            Turn { from: Speaker::Employee, text: "vpn is down".to_string(), at: T0 - 2000, by: None },
            Turn { from: Speaker::Bot, text: "Did restarting help?".to_string(), at: T0 - 1000, by: None },
        ],
        requester_name: Some("Ana".to_string()),
        filed_by: None,
        filed_by_name: None,
        note: None,
        on_behalf: None,
    }
}

pub fn outbox(key: &str, platform: Platform, text: &str) -> NewOutbox {
    NewOutbox {
        key: key.to_string(),
        message: Outbound::message(Address::new(platform, "C-out"), text, Vec::new()),
    }
}

/// The tickets an applied commit created; panics on any other outcome.
pub fn applied(outcome: CommitOutcome) -> Vec<TicketNumber> {
    match outcome {
        CommitOutcome::Applied { created } => created,
        other => panic!("expected the commit to apply, got {other:?}"),
    }
}

/// Queue `n` messages for `platform` in one commit (no event id).
pub async fn queue(store: &DynStore, n: usize, platform: Platform) {
    let mut c = commit(&format!("q-{platform}"), 0, None, T0);
    c.outbox = (0..n).map(|i| outbox(&format!("{platform}-{i}"), platform, &format!("m{i}"))).collect();
    applied(store.commit(c).await.unwrap());
}

/// A status change by `slack:UAGENT`.
pub fn set_status(number: TicketNumber, status: TicketStatus, note: Option<&str>) -> TicketOp {
    TicketOp::SetStatus { number, status, actor: "slack:UAGENT".into(), note: note.map(str::to_string) }
}
