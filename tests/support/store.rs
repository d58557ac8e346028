//! Helpers for the store conformance suite: a fresh database per test (a SQLite file in a
//! temporary directory, or a new PostgreSQL database when `DESKBOT_TEST_POSTGRES_URL` names a
//! server), and builders for the commits the stories write.

use deskbot::domain::Outbound;
use deskbot::domain::{Address, Millis, Platform, Priority, QueueName, TicketNumber, TicketStatus, UserRef};
use deskbot::store::{
    Commit, CommitOutcome, ConversationWrite, DynStore, EventKey, NewOutbox, NewTicket, Speaker, SqliteStore,
    Store, TicketOp, Turn,
};
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time every story starts at.
pub const T0: Millis = 1_700_000_000_000;

/// A migrated store on a database nobody else uses.
pub struct TestDb {
    pub store: DynStore,
    /// The database's URL, for tests that reach around the store.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// Drop the PostgreSQL database (a failed test leaves it behind for inspection).
    pub async fn finish(self) {
        let Some((admin, name)) = &self.pg else { return };
        drop(self.store);
        if let Ok(mut conn) = PgConnection::connect(admin).await {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
        }
    }
}

/// A fresh SQLite file in its own temporary directory.
pub async fn sqlite() -> TestDb {
    sqlite_with(deskbot::store::sqlite::DEFAULT_BUSY_TIMEOUT).await
}

pub async fn sqlite_with(busy_timeout: Duration) -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("deskbot.db").display());
    let store = SqliteStore::open_with(&url, busy_timeout).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestDb { store: Arc::new(store), url, _dir: Some(dir), pg: None }
}

/// A fresh PostgreSQL database, or `None` (with a note) when no server is configured.
pub async fn postgres() -> Option<TestDb> {
    let Ok(admin) = std::env::var("DESKBOT_TEST_POSTGRES_URL") else {
        eprintln!("note: DESKBOT_TEST_POSTGRES_URL is not set; skipping the PostgreSQL variant");
        return None;
    };
    let name = unique_name();
    let mut conn = PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at DESKBOT_TEST_POSTGRES_URL: {e}"));
    let sql = format!("CREATE DATABASE \"{name}\"");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("create test database");
    let url = with_database(&admin, &name);
    let store = deskbot::store::open(&url).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    Some(TestDb { store, url, _dir: None, pg: Some((admin, name)) })
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("deskbot_t_{}_{nanos}_{n}", std::process::id())
}

/// The same server URL naming another database.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{db}{query}")
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
            Turn { from: Speaker::Employee, text: "vpn is down".to_string(), at: T0 - 2000 },
            Turn { from: Speaker::Bot, text: "Did restarting help?".to_string(), at: T0 - 1000 },
        ],
        requester_name: Some("Ana".to_string()),
        filed_by: None,
        filed_by_name: None,
        note: None,
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
