//! Row types and the conversions between stored columns and domain types, shared by the SQLite
//! and PostgreSQL stores. JSON columns (TEXT in SQLite, JSONB in PostgreSQL) decode through
//! `sqlx::types::Json`, so one `FromRow` type per table serves both; bad stored data becomes
//! [`StoreError::Corrupt`], never a panic.

use super::json::JsonText;
use super::{
    OutboxItem, Result, Speaker, StoreError, StoredConversation, StoredMessage, Ticket, TicketEvent,
    TicketFilter, Turn,
};
use crate::domain::Outbound;
use crate::domain::{Address, Millis, Platform, Priority, QueueName, TicketNumber, TicketStatus, UserRef};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// Rows a ticket listing returns when the caller gives no (or a non-positive) limit.
pub(crate) const DEFAULT_TICKET_LIMIT: i64 = 100;
/// The most rows one ticket listing returns.
pub(crate) const MAX_TICKET_LIMIT: i64 = 1000;

/// The limit a listing uses: the default for 0 or less, capped at [`MAX_TICKET_LIMIT`].
pub(crate) fn ticket_limit(requested: i64) -> i64 {
    if requested <= 0 { DEFAULT_TICKET_LIMIT } else { requested.min(MAX_TICKET_LIMIT) }
}

fn parse<T: std::str::FromStr<Err = String>>(text: &str, what: &str) -> Result<T> {
    text.parse().map_err(|e: String| StoreError::Corrupt(format!("{what}: {e}")))
}

/// How a transcript speaker is stored: `(speaker_kind, speaker_name)`.
pub(crate) fn speaker_columns(speaker: &Speaker) -> (&'static str, Option<&str>) {
    match speaker {
        Speaker::Employee => ("employee", None),
        Speaker::Bot => ("bot", None),
        Speaker::Agent(name) => ("agent", Some(name.as_str())),
        Speaker::Filer(name) => ("filer", Some(name.as_str())),
        Speaker::System => ("system", None),
    }
}

/// Who said a transcript line, as stored: `(speaker_platform, speaker_id)`, both NULL where
/// the line does not say (and in lines stored before it was recorded).
pub(crate) fn speaker_id_columns(turn: &Turn) -> (Option<&'static str>, Option<&str>) {
    match &turn.by {
        Some(u) => (Some(u.platform.as_str()), Some(u.id.as_str())),
        None => (None, None),
    }
}

fn speaker_id_from_columns(platform: Option<String>, id: Option<String>) -> Result<Option<UserRef>> {
    match (platform, id) {
        (Some(p), Some(id)) => Ok(Some(UserRef::new(parse(&p, "message speaker platform")?, id))),
        _ => Ok(None),
    }
}

fn speaker_from_columns(kind: &str, name: Option<String>) -> Result<Speaker> {
    match (kind, name) {
        ("employee", _) => Ok(Speaker::Employee),
        ("bot", _) => Ok(Speaker::Bot),
        ("agent", Some(name)) => Ok(Speaker::Agent(name)),
        ("filer", Some(name)) => Ok(Speaker::Filer(name)),
        ("system", _) => Ok(Speaker::System),
        (other, _) => Err(StoreError::Corrupt(format!("message speaker `{other}` is not known"))),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConversationRow {
    key: String,
    platform: String,
    user_id: String,
    reply_to: JsonText,
    state: JsonText,
    version: i64,
    updated_at: i64,
}

/// A conversation's columns under a `c_` prefix, as a statement that also returns ticket
/// columns (which share some names) has them.
#[derive(sqlx::FromRow)]
pub(crate) struct PrefixedConversationRow {
    c_key: String,
    c_platform: String,
    c_user_id: String,
    c_reply_to: JsonText,
    c_state: JsonText,
    c_version: i64,
    c_updated_at: i64,
}

impl From<PrefixedConversationRow> for ConversationRow {
    fn from(r: PrefixedConversationRow) -> Self {
        ConversationRow {
            key: r.c_key,
            platform: r.c_platform,
            user_id: r.c_user_id,
            reply_to: r.c_reply_to,
            state: r.c_state,
            version: r.c_version,
            updated_at: r.c_updated_at,
        }
    }
}

impl ConversationRow {
    pub(crate) fn into_conversation(self) -> Result<StoredConversation> {
        let what = format!("conversation `{}`", self.key);
        Ok(StoredConversation {
            user: UserRef::new(parse::<Platform>(&self.platform, &what)?, self.user_id),
            reply_to: self.reply_to.parse(&format!("{what} reply address"))?,
            state: self.state.parse(&format!("{what} state"))?,
            version: self.version,
            updated_at: self.updated_at,
            key: self.key,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TicketRow {
    number: i64,
    title: String,
    description: String,
    requester_platform: String,
    requester_id: String,
    requester_name: Option<String>,
    filed_by_platform: String,
    filed_by_id: String,
    conversation: String,
    reply_to: JsonText,
    intent: Option<String>,
    queue: String,
    priority: String,
    status: String,
    assignee: Option<String>,
    fields: JsonText,
    created_at: i64,
    updated_at: i64,
    resolved_at: Option<i64>,
    sla: Option<JsonText>,
}

impl TicketRow {
    pub(crate) fn into_ticket(self) -> Result<Ticket> {
        let number = TicketNumber(self.number);
        let what = format!("ticket {number}");
        Ok(Ticket {
            number,
            title: self.title,
            description: self.description,
            filed_by: if self.filed_by_id.is_empty() {
                UserRef::new(parse::<Platform>(&self.requester_platform, &what)?, self.requester_id.clone())
            } else {
                UserRef::new(parse::<Platform>(&self.filed_by_platform, &what)?, self.filed_by_id)
            },
            requester: UserRef::new(parse::<Platform>(&self.requester_platform, &what)?, self.requester_id),
            requester_name: self.requester_name,
            conversation: self.conversation,
            reply_to: self.reply_to.parse::<Address>(&format!("{what} reply address"))?,
            intent: self.intent,
            queue: QueueName::parse(&self.queue).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?,
            priority: parse::<Priority>(&self.priority, &what)?,
            status: parse::<TicketStatus>(&self.status, &what)?,
            assignee: self.assignee,
            fields: self.fields.parse(&format!("{what} fields"))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            resolved_at: self.resolved_at,
            sla: self.sla.map(|s| s.parse(&format!("{what} SLA"))).transpose()?,
        })
    }
}

/// [`ConversationRow`] and [`TicketRow`] as the SQLite store's reads on the calling thread
/// (`sqlite::InlineReads`) take them from a row of the per-message read: the conversation's
/// columns from `at` on, the ticket's from `at` on, in the order the sqlx rows name them.
impl ConversationRow {
    pub(crate) fn from_rusqlite(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(ConversationRow {
            key: r.get(at)?,
            platform: r.get(at + 1)?,
            user_id: r.get(at + 2)?,
            reply_to: JsonText(r.get(at + 3)?),
            state: JsonText(r.get(at + 4)?),
            version: r.get(at + 5)?,
            updated_at: r.get(at + 6)?,
        })
    }
}

impl TicketRow {
    pub(crate) fn number(&self) -> i64 {
        self.number
    }

    pub(crate) fn from_rusqlite(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(TicketRow {
            number: r.get(at)?,
            title: r.get(at + 1)?,
            description: r.get(at + 2)?,
            requester_platform: r.get(at + 3)?,
            requester_id: r.get(at + 4)?,
            requester_name: r.get(at + 5)?,
            filed_by_platform: r.get(at + 6)?,
            filed_by_id: r.get(at + 7)?,
            conversation: r.get(at + 8)?,
            reply_to: JsonText(r.get(at + 9)?),
            intent: r.get(at + 10)?,
            queue: r.get(at + 11)?,
            priority: r.get(at + 12)?,
            status: r.get(at + 13)?,
            assignee: r.get(at + 14)?,
            fields: JsonText(r.get(at + 15)?),
            created_at: r.get(at + 16)?,
            updated_at: r.get(at + 17)?,
            resolved_at: r.get(at + 18)?,
            sla: r.get::<_, Option<String>>(at + 19)?.map(JsonText),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TicketEventRow {
    at: i64,
    kind: String,
    actor: String,
    detail: Option<String>,
}

impl From<TicketEventRow> for TicketEvent {
    fn from(r: TicketEventRow) -> Self {
        TicketEvent { at: r.at, kind: r.kind, actor: r.actor, detail: r.detail }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    #[sqlx(default)]
    id: i64,
    conversation: String,
    ticket_number: Option<i64>,
    speaker_kind: String,
    speaker_name: Option<String>,
    speaker_platform: Option<String>,
    speaker_id: Option<String>,
    text: String,
    internal: bool,
    created_at: i64,
}

impl MessageRow {
    pub(crate) fn into_message(self) -> Result<StoredMessage> {
        Ok(StoredMessage {
            id: self.id,
            conversation: self.conversation,
            ticket: self.ticket_number.map(TicketNumber),
            turn: Turn {
                from: speaker_from_columns(&self.speaker_kind, self.speaker_name)?,
                text: self.text,
                at: self.created_at,
                by: speaker_id_from_columns(self.speaker_platform, self.speaker_id)?,
            },
            internal: self.internal,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OutboxRow {
    pub(crate) id: i64,
    key: String,
    payload: JsonText,
    attempts: i64,
}

impl OutboxRow {
    pub(crate) fn into_item(self) -> Result<OutboxItem> {
        let message: Outbound = self.payload.parse(&format!("outbox row {} message", self.id))?;
        let attempts = i32::try_from(self.attempts).unwrap_or(i32::MAX);
        Ok(OutboxItem { id: self.id, key: self.key, message, attempts })
    }
}

/// Turn claimed rows into items, oldest first. Rows whose payload cannot be read are returned
/// separately (id, reason) so the caller can mark them dead instead of retrying them forever.
pub(crate) fn claimed_items(mut rows: Vec<OutboxRow>) -> (Vec<OutboxItem>, Vec<(i64, String)>) {
    rows.sort_by_key(|r| r.id);
    let mut items = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let id = row.id;
        match row.into_item() {
            Ok(item) => items.push(item),
            Err(e) => unreadable.push((id, e.to_string())),
        }
    }
    (items, unreadable)
}

/// Append ` WHERE …` for a ticket filter plus ordering and limit to a `SELECT … FROM tickets`,
/// with bound parameters in the backend's own placeholder syntax.
pub(crate) fn push_ticket_filter<DB>(qb: &mut QueryBuilder<DB>, filter: &TicketFilter)
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    qb.push(" WHERE 1 = 1");
    if !filter.statuses.is_empty() {
        qb.push(" AND status IN (");
        let mut list = qb.separated(", ");
        for status in &filter.statuses {
            list.push_bind(status.as_str().to_string());
        }
        qb.push(")");
    }
    if let Some(queue) = &filter.queue {
        qb.push(" AND queue = ").push_bind(queue.as_str().to_string());
    }
    if let Some(user) = &filter.requester {
        qb.push(" AND requester_platform = ").push_bind(user.platform.as_str().to_string());
        qb.push(" AND requester_id = ").push_bind(user.id.clone());
    }
    match &filter.assignee {
        Some(Some(a)) => {
            qb.push(" AND assignee = ").push_bind(a.clone());
        }
        Some(None) => {
            qb.push(" AND assignee IS NULL");
        }
        None => {}
    }
    if let Some(before) = filter.created_before {
        qb.push(" AND created_at < ").push_bind(before);
    }
    qb.push(" ORDER BY number DESC LIMIT ").push_bind(ticket_limit(filter.limit));
}

/// When a status change leaves `resolved_at`: set on resolve, kept (or set) on close, cleared
/// when the ticket becomes active again.
pub(crate) fn resolved_at_after(new: TicketStatus, before: Option<Millis>, now: Millis) -> Option<Millis> {
    match new {
        TicketStatus::Resolved => Some(now),
        TicketStatus::Closed => before.or(Some(now)),
        TicketStatus::Open | TicketStatus::Pending => None,
    }
}

/// The audit event kind for a status change: `reopened` when a finished ticket becomes open
/// again, otherwise `status:<new>`.
pub(crate) fn status_event_kind(old: TicketStatus, new: TicketStatus) -> String {
    if new == TicketStatus::Open && !old.is_active() {
        "reopened".to_string()
    } else {
        format!("status:{new}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(ticket_limit(0), DEFAULT_TICKET_LIMIT);
        assert_eq!(ticket_limit(-5), DEFAULT_TICKET_LIMIT);
        assert_eq!(ticket_limit(7), 7);
        assert_eq!(ticket_limit(50_000), MAX_TICKET_LIMIT);
    }

    #[test]
    fn status_changes_name_their_audit_kind_and_resolved_time() {
        use TicketStatus::*;
        assert_eq!(status_event_kind(Resolved, Open), "reopened");
        assert_eq!(status_event_kind(Closed, Open), "reopened");
        assert_eq!(status_event_kind(Open, Resolved), "status:resolved");
        assert_eq!(status_event_kind(Pending, Open), "status:open");
        assert_eq!(resolved_at_after(Resolved, None, 5), Some(5));
        assert_eq!(resolved_at_after(Closed, Some(3), 5), Some(3));
        assert_eq!(resolved_at_after(Open, Some(3), 5), None);
    }

    #[test]
    fn speakers_round_trip_through_columns() {
        for s in [Speaker::Employee, Speaker::Bot, Speaker::Agent("ana".into()), Speaker::System] {
            let (kind, name) = speaker_columns(&s);
            assert_eq!(speaker_from_columns(kind, name.map(str::to_string)).ok(), Some(s));
        }
        assert!(matches!(speaker_from_columns("robot", None), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_speakers_id_round_trips_through_columns() {
        let by = UserRef::new(Platform::Slack, "U0BOB");
        let turn =
            Turn { from: Speaker::Filer("Bob".into()), text: "see".into(), at: 0, by: Some(by.clone()) };
        let (p, id) = speaker_id_columns(&turn);
        assert_eq!((p, id), (Some("slack"), Some("U0BOB")));
        let back = speaker_id_from_columns(p.map(str::to_string), id.map(str::to_string));
        assert_eq!(back.ok(), Some(Some(by)));
        assert_eq!(speaker_id_from_columns(None, None).ok(), Some(None));
        let bad = speaker_id_from_columns(Some("carrier-pigeon".into()), Some("U1".into()));
        assert!(matches!(bad, Err(StoreError::Corrupt(_))));
    }
}
