//! What access and licence requests need from the store: requests (`R-1001`…), their approval
//! decisions, the seats held and the pools' counters. Writes happen inside a [`super::Commit`]
//! as [`RequestOp`]s (one transaction with the conversation and outbox rows, each op also an
//! entry in the keyed audit chain); reads are [`RequestStore`]. The SQL is in
//! `requests_sql.rs`, shared by both backends.

use crate::domain::{Address, Millis, UserRef};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::Result;

/// Stands for the number of the request a commit creates, in outbox texts and choice ids.
pub const REQUEST_PLACEHOLDER: &str = "\u{1}request\u{1}";

/// A request's number, shown as `R-1001`. `RequestNumber(0)` in a [`RequestOp`] names the
/// request the same commit creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestNumber(pub i64);

impl std::fmt::Display for RequestNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "R-{}", self.0)
    }
}

impl std::str::FromStr for RequestNumber {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t.strip_prefix("R-").or_else(|| t.strip_prefix("r-")).unwrap_or(t);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 => Ok(RequestNumber(n)),
            _ => Err(format!("`{t}` is not a request number (like R-1001)")),
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    /// Waiting on an approval step.
    Pending,
    /// Approved, waiting in line for a seat.
    Waiting,
    /// Approved; a person fulfils it from the queue's ticket.
    Approved,
    Denied,
    /// Granted: a seat is held (webhook sent, or the queue's ticket filed).
    Fulfilled,
    /// The grant was revoked.
    Revoked,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Waiting => "waiting",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Fulfilled => "fulfilled",
            RequestStatus::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RequestStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s.trim() {
            "pending" => RequestStatus::Pending,
            "waiting" => RequestStatus::Waiting,
            "approved" => RequestStatus::Approved,
            "denied" => RequestStatus::Denied,
            "fulfilled" => RequestStatus::Fulfilled,
            "revoked" => RequestStatus::Revoked,
            other => {
                return Err(format!(
                    "unknown request status `{other}` (pending, waiting, approved, denied, fulfilled, revoked)"
                ));
            }
        })
    }
}

/// One planned approval step: who may decide it and how many of them must approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// `manager` or `group:NAME`.
    pub rule: String,
    pub approvers: Vec<UserRef>,
    /// How many different approvers must approve (2 for a two-person step).
    pub needed: u8,
    /// Why the step is skipped (the requester is one of its approvers), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A request to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    pub item: String,
    pub item_title: String,
    pub requester: UserRef,
    pub requester_name: Option<String>,
    pub conversation: String,
    pub reply_to: Address,
    pub fields: BTreeMap<String, String>,
    pub justification: String,
    pub status: RequestStatus,
    pub step: i64,
    pub steps: Vec<PlannedStep>,
    pub fulfil: String,
    pub duration_ms: Option<i64>,
}

/// An approver's decision on `step` of a request, to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    pub number: RequestNumber,
    pub step: i64,
    pub approver: UserRef,
    pub approver_name: Option<String>,
    pub approve: bool,
    pub reason: Option<String>,
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub number: RequestNumber,
    pub item: String,
    pub item_title: String,
    pub requester: UserRef,
    pub requester_name: Option<String>,
    pub conversation: String,
    pub reply_to: Address,
    pub fields: BTreeMap<String, String>,
    pub justification: String,
    pub status: RequestStatus,
    pub step: i64,
    pub steps: Vec<PlannedStep>,
    pub fulfil: String,
    pub duration_ms: Option<i64>,
    pub outcome: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub decided_at: Option<Millis>,
}

/// One approver's decision on one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub request: RequestNumber,
    pub step: i64,
    pub approver: UserRef,
    pub approver_name: Option<String>,
    pub approve: bool,
    pub reason: Option<String>,
    pub at: Millis,
}

/// A seat held: a licence or an access someone has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holding {
    pub id: i64,
    pub item: String,
    pub holder: UserRef,
    pub holder_name: Option<String>,
    pub request: Option<RequestNumber>,
    pub granted_at: Millis,
    pub expires_at: Option<Millis>,
    pub reviewed_at: Millis,
    pub revoked_at: Option<Millis>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

/// A request write inside a commit; each is also an audit-chain entry.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestOp {
    /// Record a new request under the next number.
    Create(Box<NewRequest>),
    /// An approver's decision.
    Decide(NewDecision),
    /// Move the request to `status` at `step` (`outcome`: a denial reason, a revocation note).
    Advance {
        number: RequestNumber,
        status: RequestStatus,
        step: i64,
        outcome: Option<String>,
        actor: String,
    },
    /// Take a seat of `item` for the requester. With `seats`, the commit is a conflict (and
    /// retried from fresh reads) when the pool is already full, so a pool never goes over.
    Grant {
        number: RequestNumber,
        item: String,
        seats: Option<u32>,
        expires_at: Option<Millis>,
        actor: String,
    },
    /// Give back `holder`'s seat of `item`; the commit fails when there is none.
    Revoke { item: String, holder: UserRef, actor: String, reason: String },
}

/// Replace [`REQUEST_PLACEHOLDER`] with the created request's number.
pub fn fill_request_placeholder(text: &str, created: Option<RequestNumber>) -> String {
    if !text.contains(REQUEST_PLACEHOLDER) {
        return text.to_string();
    }
    let shown = created.map(|n| n.to_string()).unwrap_or_else(|| "your request".to_string());
    text.replace(REQUEST_PLACEHOLDER, &shown)
}

/// Reads of requests and seats.
#[async_trait]
pub trait RequestStore: Send + Sync {
    async fn request(&self, number: RequestNumber) -> Result<Option<Request>>;
    /// Newest first; all statuses when `status` is `None`.
    async fn requests(&self, status: Option<RequestStatus>, limit: i64) -> Result<Vec<Request>>;
    /// The requests of `item` waiting for a seat, first in line first.
    async fn waiting_line(&self, item: &str) -> Result<Vec<Request>>;
    /// The decisions on a request, oldest first.
    async fn request_decisions(&self, number: RequestNumber) -> Result<Vec<Decision>>;
    /// Seats held (of `item`, or of every item), oldest first; revoked ones too when asked.
    async fn holdings(&self, item: Option<&str>, include_revoked: bool) -> Result<Vec<Holding>>;
    /// Seats of `item` in use now.
    async fn seats_used(&self, item: &str) -> Result<i64>;
}

/// The request steps inside one commit transaction.
#[async_trait]
pub(crate) trait RequestTx: Send {
    async fn insert_request(&mut self, r: &NewRequest, now: Millis) -> Result<RequestNumber>;
    /// Record a decision on request `number` (resolved from the op's, which may be 0).
    async fn insert_decision(&mut self, number: RequestNumber, d: &NewDecision, now: Millis) -> Result<()>;
    /// False when the request does not exist.
    async fn advance_request(
        &mut self,
        number: RequestNumber,
        status: RequestStatus,
        step: i64,
        outcome: Option<&str>,
        now: Millis,
    ) -> Result<bool>;
    /// Take a seat; `Ok(None)` when the pool is full. Returns the holder's id (for the audit).
    async fn take_seat(
        &mut self,
        number: RequestNumber,
        item: &str,
        seats: Option<u32>,
        expires_at: Option<Millis>,
        now: Millis,
    ) -> Result<Option<UserRef>>;
    /// False when `holder` holds no seat of `item`.
    async fn free_seat(
        &mut self,
        item: &str,
        holder: &UserRef,
        actor: &str,
        reason: &str,
        now: Millis,
    ) -> Result<bool>;
}
