//! The store: the only place with SQL. One trait, [`Store`], implemented for SQLite
//! (`sqlite.rs`) and PostgreSQL (`postgres.rs`); both pass the same conformance suite
//! (`tests/store_conformance.rs`). Everything one inbound event changes is written by one
//! [`Store::commit`] call, in one transaction, together with the event's dedupe key.

pub mod catalogue;
mod commit;
pub mod compliance;
pub(crate) mod compliance_sql;
pub mod copy;
mod copy_sql;
pub mod desk;
pub(crate) mod desk_sql;
pub mod grants;
pub(crate) mod group;
mod json;
pub mod key;
pub mod person;
pub(crate) mod person_sql;
mod pool;
pub mod postgres;
pub mod reports;
pub mod requests;
pub(crate) mod requests_sql;
mod rows;
pub mod sessions;
mod sql;
pub mod sqlite;

use crate::domain::Outbound;
use crate::domain::{Address, Millis, Platform, Priority, QueueName, TicketNumber, TicketStatus, UserRef};
use async_trait::async_trait;
use key::AuditKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use compliance::ComplianceStore;
pub use desk::{DeskStore, OutboxRecord, SlaState, TicketChange, Timer};
pub use person::PersonStore;
pub use postgres::PostgresStore;
pub use reports::{
    CaseDayCount, CaseEvent, CaseItemCount, CaseKind, CaseRecord, CaseRollup, CsatRecord, ReportStore,
    TicketDayCount, TicketFacts, TicketRollup, UnansweredGroup,
};
pub use requests::{RequestOp, RequestStore};
pub use sessions::{OidcLogin, PortalSession, PortalStore, ProviderIdentity, SessionStore};
pub use sqlite::SqliteStore;

/// Stands in outbound text and transcript lines for the number of the ticket the same commit
/// creates; the store replaces it once the number is allocated. Control characters never
/// survive input sanitising, so user text cannot forge it.
pub const TICKET_PLACEHOLDER: &str = "\u{1}ticket\u{1}";

/// Why a store call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database is locked or busy for longer than the configured timeout.
    #[error("the database is busy (locked by another process); try again")]
    Busy,
    /// The disk is full or the database file is read-only.
    #[error("the database cannot be written: {0}")]
    Unwritable(String),
    /// Could not reach or open the database.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// Stored data that cannot be read back (e.g. a state written by a newer version).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Identifies one inbound event across retries and replays.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventKey {
    pub platform: Platform,
    pub event_id: String,
}

/// A conversation as stored: the engine's state (opaque JSON to the store) and a version for
/// optimistic concurrency.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    pub key: String,
    pub user: UserRef,
    pub reply_to: Address,
    pub state: serde_json::Value,
    pub version: i64,
    pub updated_at: Millis,
}

/// The conversation row a commit writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationWrite {
    pub key: String,
    pub user: UserRef,
    pub reply_to: Address,
    pub state: serde_json::Value,
    /// The version read before the engine ran (0 when there was no row). The commit fails with
    /// [`CommitOutcome::Conflict`] if another writer got there first.
    pub expected_version: i64,
}

impl ConversationWrite {
    /// No conversation write: a commit that only records its event (and queues its outbox
    /// rows), for events the router turned away.
    pub fn none() -> Self {
        Self {
            key: String::new(),
            user: UserRef::new(Platform::System, ""),
            reply_to: Address::new(Platform::System, ""),
            state: serde_json::Value::Null,
            expected_version: 0,
        }
    }

    /// Whether this is [`ConversationWrite::none`].
    pub fn is_none(&self) -> bool {
        self.key.is_empty()
    }
}

/// Who said a transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Speaker {
    Employee,
    Bot,
    Agent(String),
    /// The person who filed the ticket from someone else's message, by name: their note.
    Filer(String),
    System,
}

/// One transcript line (already redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub from: Speaker,
    pub text: String,
    pub at: Millis,
    /// Who said it, where that is someone other than the conversation's owner: the person who
    /// filed the ticket (their note), the agent (their reply or note). Erase and export find
    /// their words in others' tickets by it (`messages.speaker_platform`, `speaker_id`).
    /// Absent in lines stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserRef>,
}

/// A message row to append to the conversation's transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub turn: Turn,
    /// The ticket it belongs to, if any (the placeholder's ticket counts as
    /// `Some(TicketNumber(0))` = "the ticket this commit creates").
    pub ticket: Option<TicketNumber>,
    /// Internal notes never reach the employee.
    pub internal: bool,
}

/// A ticket to create. The requester and reply address come from the commit's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    pub title: String,
    pub description: String,
    pub intent: Option<String>,
    pub queue: QueueName,
    pub priority: Priority,
    /// Answers to the intent's form.
    pub fields: BTreeMap<String, String>,
    /// The redacted conversation so far.
    pub transcript: Vec<Turn>,
    pub requester_name: Option<String>,
    /// Who filed it, when not the requester (a 🎫 or "Create ticket" on their message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_by: Option<UserRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_by_name: Option<String>,
    /// What the person who filed it added (already in `transcript`, attributed to them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Filed for someone other than the commit's conversation (an approved request's
    /// fulfilment ticket, filed when its approver decides): their id, conversation and reply
    /// address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf: Option<Box<OnBehalf>>,
}

/// Whose ticket a [`NewTicket`] filed outside their own conversation is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnBehalf {
    pub user: UserRef,
    pub conversation: String,
    pub reply_to: Address,
}

/// A change to tickets within a commit.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketOp {
    Create(NewTicket),
    SetStatus {
        number: TicketNumber,
        status: TicketStatus,
        actor: String,
        note: Option<String>,
    },
    Csat {
        number: TicketNumber,
        score: u8,
        comment: Option<String>,
    },
    /// Change assignee, priority, queue or SLA state; audited with old and new value.
    Change {
        number: TicketNumber,
        actor: String,
        change: TicketChange,
    },
    /// Schedule a timer for the scheduler (`kind` names what it does).
    Schedule {
        number: TicketNumber,
        kind: String,
        due_at: Millis,
    },
    /// Cancel a ticket's pending timers of these kinds (all when empty).
    CancelTimers {
        number: TicketNumber,
        kinds: Vec<String>,
    },
    /// The timer fired; a commit whose timer already fired changes nothing.
    TimerFired {
        id: i64,
    },
    /// Add an audit entry without changing the ticket (e.g. an SLA breach).
    Audit {
        number: TicketNumber,
        kind: String,
        actor: String,
        detail: Option<String>,
    },
}

/// Whether a KB answer or article helped.
#[derive(Debug, Clone, PartialEq)]
pub struct KbFeedback {
    pub intent: Option<String>,
    pub article: Option<String>,
    pub query: String,
    pub helpful: bool,
}

/// A message to queue for delivery. `key` is the idempotency key: unique, stable.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub key: String,
    pub message: Outbound,
}

/// Everything one inbound event changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// `None` for events with no platform id (e.g. timers); those are never deduped.
    pub event: Option<EventKey>,
    pub conversation: ConversationWrite,
    pub messages: Vec<NewMessage>,
    pub tickets: Vec<TicketOp>,
    pub feedback: Vec<KbFeedback>,
    pub outbox: Vec<NewOutbox>,
    pub now: Millis,
    /// What happened to the employee's questions, for the reports.
    pub cases: Vec<CaseEvent>,
    /// Access and licence request writes (each also audited).
    pub requests: Vec<RequestOp>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written. The numbers of tickets it created, in order.
    Applied { created: Vec<TicketNumber> },
    /// The event was seen before: nothing changed, nothing queued.
    Duplicate,
    /// The conversation changed since it was read: reload and run the engine again.
    Conflict,
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub number: TicketNumber,
    pub title: String,
    pub description: String,
    pub requester: UserRef,
    pub requester_name: Option<String>,
    /// Who filed it: the requester, or whoever filed it from the requester's message.
    pub filed_by: UserRef,
    pub conversation: String,
    pub reply_to: Address,
    pub intent: Option<String>,
    pub queue: QueueName,
    pub priority: Priority,
    pub status: TicketStatus,
    pub assignee: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub resolved_at: Option<Millis>,
    /// SLA bookkeeping, when the ticket's queue has targets.
    pub sla: Option<SlaState>,
}

/// One audit entry about a ticket (append-only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketEvent {
    pub at: Millis,
    pub kind: String,
    pub actor: String,
    pub detail: Option<String>,
}

/// A transcript line as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMessage {
    /// The line's row id: later lines have larger ids (0 where a read did not ask for it).
    #[serde(skip)]
    pub id: i64,
    pub conversation: String,
    pub ticket: Option<TicketNumber>,
    pub turn: Turn,
    pub internal: bool,
}

/// Which tickets to list. Empty `statuses` means any status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    pub statuses: Vec<TicketStatus>,
    pub queue: Option<QueueName>,
    pub requester: Option<UserRef>,
    /// `Some(None)` = unassigned only.
    pub assignee: Option<Option<String>>,
    /// Only tickets created before this time (i.e. older than an age).
    pub created_before: Option<Millis>,
    pub limit: i64,
}

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub key: String,
    pub message: Outbound,
    pub attempts: i32,
}

#[async_trait]
pub trait Store:
    DeskStore
    + ComplianceStore
    + PersonStore
    + ReportStore
    + SessionStore
    + PortalStore
    + RequestStore
    + Send
    + Sync
{
    /// Bring the schema up to date.
    async fn migrate(&self) -> Result<()>;
    /// Is the database reachable?
    async fn ping(&self) -> Result<()>;

    async fn load_conversation(&self, key: &str) -> Result<Option<StoredConversation>>;
    /// What handling an employee's event reads first, in one statement: the conversation
    /// `key` and the tickets `requester` filed, newest first (at most `limit`; the same
    /// tickets as [`Store::tickets`] with that requester filter).
    async fn load_for_event(
        &self,
        key: &str,
        requester: &UserRef,
        limit: i64,
    ) -> Result<(Option<StoredConversation>, Vec<Ticket>)>;
    /// Write everything one event changed, atomically (see [`Commit`]).
    async fn commit(&self, commit: Commit) -> Result<CommitOutcome>;
    /// Whether an event's dedupe key is recorded: it was handled (or turned away) once.
    async fn event_seen(&self, event: &EventKey) -> Result<bool>;

    async fn ticket(&self, number: TicketNumber) -> Result<Option<Ticket>>;
    /// Newest first.
    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>>;
    async fn ticket_events(&self, number: TicketNumber) -> Result<Vec<TicketEvent>>;
    /// The ticket's transcript, oldest first.
    async fn ticket_messages(&self, number: TicketNumber) -> Result<Vec<StoredMessage>>;
    /// What the employee of conversation `key` may read of it, oldest first: the newest
    /// `limit` lines of the conversation itself (not the copies it files into its tickets)
    /// and the desk's lines on its tickets that are not internal notes.
    async fn conversation_messages(&self, key: &str, limit: i64) -> Result<Vec<StoredMessage>>;
    /// The id of the newest line `conversation_messages` would return (0 when none).
    async fn conversation_last_message(&self, key: &str) -> Result<i64>;

    /// Claim up to `limit` due, unclaimed (or lease-expired) rows for these platforms, oldest
    /// first. A claim lasts `lease_ms`; an unfinished claim is retried after it expires.
    async fn claim_outbox(
        &self,
        platforms: &[Platform],
        worker: &str,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxItem>>;
    /// Delivered: never send again.
    async fn outbox_done(&self, id: i64, now: Millis) -> Result<()>;
    /// Several delivered, recorded in one transaction (one disk flush instead of one per row).
    async fn outbox_done_many(&self, ids: &[i64], now: Millis) -> Result<()> {
        for id in ids {
            self.outbox_done(*id, now).await?;
        }
        Ok(())
    }
    /// Failed: try again at `next_attempt_at`, or give up for good when it is `None`.
    async fn outbox_failed(&self, id: i64, error: &str, next_attempt_at: Option<Millis>) -> Result<()>;
    /// Rows waiting to be delivered.
    async fn outbox_depth(&self) -> Result<i64>;
}

pub type DynStore = Arc<dyn Store>;

/// Open the store a URL names: `sqlite:PATH` (created if missing) or `postgres://…`, with the
/// audit key every audit entry is linked under.
pub async fn open(url: &str, key: AuditKey) -> Result<DynStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, key).await?))
    } else if is_postgres(url) {
        Ok(Arc::new(PostgresStore::open(url, key).await?))
    } else {
        Err(unsupported(url))
    }
}

/// Bring the schema of the database a URL names up to date, without the audit key (nothing is
/// written to the audit log).
pub async fn migrate_url(url: &str) -> Result<()> {
    if url.starts_with("sqlite:") {
        SqliteStore::open_unkeyed(url).await?.migrate().await
    } else if is_postgres(url) {
        PostgresStore::open_unkeyed(url).await?.migrate().await
    } else {
        Err(unsupported(url))
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

fn unsupported(url: &str) -> StoreError {
    StoreError::Connect(format!(
        "unsupported database URL `{}` (expected sqlite:PATH or postgres://…)",
        redact_url(url)
    ))
}

/// A database URL with any password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Replace [`TICKET_PLACEHOLDER`] with the created ticket's number, shared by every backend.
pub fn fill_ticket_placeholder(text: &str, created: Option<TicketNumber>) -> String {
    if !text.contains(TICKET_PLACEHOLDER) {
        return text.to_string();
    }
    let shown = created.map(|n| n.to_string()).unwrap_or_else(|| "your ticket".to_string());
    text.replace(TICKET_PLACEHOLDER, &shown)
}
