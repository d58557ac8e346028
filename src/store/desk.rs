//! What the agent desk needs from the store beyond one-event commits: ticket cards (the
//! message in a queue channel that anchors a ticket's thread), timers for the scheduler, and
//! outbox administration. The SQL is in `desk_sql.rs`, shared by both backends.

use crate::domain::{Millis, Platform, Priority, QueueName, TicketNumber};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Result;

/// SLA bookkeeping kept on a ticket (all times are absolute, already on business hours).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaState {
    pub first_response_due: Option<Millis>,
    pub resolution_due: Option<Millis>,
    /// When the first agent reply reached the employee.
    pub first_response_at: Option<Millis>,
    /// While pending: business milliseconds left on the resolution target.
    pub paused_remaining_ms: Option<i64>,
}

/// A change to one field of a ticket (status changes are [`super::TicketOp::SetStatus`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TicketChange {
    Assignee(Option<String>),
    Priority(Priority),
    Queue(QueueName),
    Sla(SlaState),
}

/// A timer due to fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub id: i64,
    pub ticket: TicketNumber,
    pub kind: String,
    pub due_at: Millis,
    /// Failed attempts to fire it so far.
    pub attempts: i64,
}

/// An outbox row as an operator sees it (`deskbot outbox list`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRecord {
    pub id: i64,
    pub key: String,
    pub platform: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub created_at: Millis,
    /// The start of the message text.
    pub preview: String,
}

#[async_trait]
pub trait DeskStore: Send + Sync {
    /// Remember the card posted for a ticket in a channel (after the platform answered).
    async fn set_ticket_card(
        &self,
        number: TicketNumber,
        platform: Platform,
        channel: &str,
        message_id: &str,
        now: Millis,
    ) -> Result<()>;
    /// The card's message id for a ticket in a channel, once delivered.
    async fn ticket_card(
        &self,
        number: TicketNumber,
        platform: Platform,
        channel: &str,
    ) -> Result<Option<String>>;
    /// Which ticket a thread (the card's message id) in a channel belongs to.
    async fn ticket_by_thread(
        &self,
        platform: Platform,
        channel: &str,
        message_id: &str,
    ) -> Result<Option<TicketNumber>>;
    /// Timers due at `now`, not fired or cancelled and not waiting for a retry, oldest first.
    async fn due_timers(&self, now: Millis, limit: i64) -> Result<Vec<Timer>>;
    /// A timer failed to fire: count the attempt and leave it until `retry_at`.
    async fn timer_failed(&self, id: i64, retry_at: Millis) -> Result<()>;
    /// Active tickets per assignee in a queue (for least-loaded assignment).
    async fn assignee_loads(&self, queue: &QueueName) -> Result<Vec<(String, i64)>>;
    /// Outbox rows, newest first; `status` filters (`pending`, `sending`, `done`, `dead`).
    async fn outbox_list(&self, status: Option<&str>, limit: i64) -> Result<Vec<OutboxRecord>>;
    /// Put dead rows (one, or all when `id` is `None`) back in the queue; returns how many.
    async fn outbox_retry(&self, id: Option<i64>, now: Millis) -> Result<u64>;
}
