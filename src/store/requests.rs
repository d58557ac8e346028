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

/// A request's number (`R-1001`), kept with the domain's types: deliveries name the request
/// they are about.
pub use crate::domain::RequestNumber;

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
    /// Those of `approvers` an escalation added (a manager's manager, the item queue's leads),
    /// not the step's own approvers: a lead stands on the step only if they are here (steps
    /// stored before this was recorded have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalated: Vec<UserRef>,
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
    /// The request whose grant this one extends (an "Extend" from the expiry warning).
    pub extends: Option<RequestNumber>,
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
    /// The request whose grant this one extends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<RequestNumber>,
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
    /// An extension (`number`) approved: the active grant made on `from` now runs on `number`
    /// until `expires_at`. The commit fails when that grant is gone.
    Extend { from: RequestNumber, number: RequestNumber, expires_at: Option<Millis>, actor: String },
    /// Replace the planned steps (an escalation adds approvers), with the audit's note.
    SetSteps { number: RequestNumber, steps: Vec<PlannedStep>, actor: String, note: String },
    /// Schedule a request timer ([`RequestTimer`]); `target` 0 names the request the commit creates.
    Schedule { kind: TimerKind, target: i64, step: Option<i64>, due_at: Millis },
    /// The request timer fired; a commit whose timer already fired changes nothing.
    TimerFired { id: i64 },
    /// An audit entry without another change (a reminder, an expiry warning).
    Audit { kind: String, actor: String, subject: String, detail: String },
    /// Start an access-review campaign over these grants; each item gets a
    /// [`TimerKind::ReviewEscalate`] timer at `due_at`.
    StartReview { scope: String, by: String, due_at: Millis, items: Vec<NewReviewItem> },
    /// A reviewer's answer on a review item (`keep` or remove), with its justification; the
    /// commit fails when the item was answered already. Keep also marks the grant reviewed.
    Review { id: i64, keep: bool, by: String, reason: String },
    /// An unanswered review item went to the leads.
    ReviewEscalated { id: i64 },
}

/// What a request timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    /// Warn the holder of a time-boxed grant, with "Extend".
    ExpiryWarn,
    /// Revoke a lapsed grant through its fulfilment.
    ExpiryLapse,
    /// Remind the approvers of a step once.
    ApprovalRemind,
    /// Hand a step nobody decided to the next approver or the leads.
    ApprovalEscalate,
    /// Hand an unanswered review item to the leads.
    ReviewEscalate,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::ExpiryWarn => "expiry.warn",
            TimerKind::ExpiryLapse => "expiry.lapse",
            TimerKind::ApprovalRemind => "approval.remind",
            TimerKind::ApprovalEscalate => "approval.escalate",
            TimerKind::ReviewEscalate => "review.escalate",
        }
    }
}

impl std::str::FromStr for TimerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "expiry.warn" => TimerKind::ExpiryWarn,
            "expiry.lapse" => TimerKind::ExpiryLapse,
            "approval.remind" => TimerKind::ApprovalRemind,
            "approval.escalate" => TimerKind::ApprovalEscalate,
            "review.escalate" => TimerKind::ReviewEscalate,
            other => return Err(format!("unknown request timer kind `{other}`")),
        })
    }
}

/// A request timer due to fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTimer {
    pub id: i64,
    pub kind: TimerKind,
    /// The request number, or the review item id for review timers.
    pub target: i64,
    pub step: Option<i64>,
    pub due_at: Millis,
    /// Failed attempts to fire it so far.
    pub attempts: i64,
}

/// A grant to review, and who reviews it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReviewItem {
    pub holding: i64,
    pub item: String,
    /// The holder's manager; `None` sends the item to the leads at once.
    pub reviewer: Option<UserRef>,
}

/// One grant in an access-review campaign. People see it as `AR-<holding id>`: the open
/// review of that grant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewItem {
    pub id: i64,
    pub review: i64,
    pub holding: i64,
    pub item: String,
    pub reviewer: Option<UserRef>,
    pub escalated_at: Option<Millis>,
    /// `keep` or `remove`, once answered.
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub decided_at: Option<Millis>,
}

/// The prefix of a review item's number (`AR-12`).
pub const REVIEW_PREFIX: &str = "AR-";

/// `AR-12` → 12.
pub fn parse_review_item(text: &str) -> Option<i64> {
    text.trim().strip_prefix(REVIEW_PREFIX)?.parse().ok().filter(|n: &i64| *n > 0)
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
    /// The active grant made on (or last extended by) request `number`.
    async fn holding_for_request(&self, number: RequestNumber) -> Result<Option<Holding>>;
    /// A seat holding by id, revoked or not.
    async fn holding(&self, id: i64) -> Result<Option<Holding>>;
    /// Request timers due at `now`, not fired and not waiting for a retry, oldest first.
    async fn due_request_timers(&self, now: Millis, limit: i64) -> Result<Vec<RequestTimer>>;
    /// A request timer failed to fire: count the attempt and leave it until `retry_at`.
    async fn request_timer_failed(&self, id: i64, retry_at: Millis) -> Result<()>;
    /// A review item by id.
    async fn review_item(&self, id: i64) -> Result<Option<ReviewItem>>;
    /// The newest unanswered review item of grant `holding` (`AR-<holding>`), if any.
    async fn open_review_item(&self, holding: i64) -> Result<Option<ReviewItem>>;
    /// The items of review campaign `review`, in order.
    async fn review_items(&self, review: i64) -> Result<Vec<ReviewItem>>;
    /// An extension of `number` not yet decided (pending or waiting), if there is one.
    async fn open_extension(&self, number: RequestNumber) -> Result<Option<RequestNumber>>;
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
    /// Move the active grant made on `from` to `number`, until `expires_at`; false when none.
    async fn extend_seat(
        &mut self,
        from: RequestNumber,
        number: RequestNumber,
        expires_at: Option<Millis>,
    ) -> Result<bool>;
    async fn set_request_steps(
        &mut self,
        number: RequestNumber,
        steps: &[PlannedStep],
        now: Millis,
    ) -> Result<bool>;
    async fn insert_request_timer(
        &mut self,
        kind: TimerKind,
        target: i64,
        step: Option<i64>,
        due_at: Millis,
        now: Millis,
    ) -> Result<()>;
    /// Mark a request timer fired; false if it fired already.
    async fn fire_request_timer(&mut self, id: i64, now: Millis) -> Result<bool>;
    /// A campaign and its items; returns the campaign's id and the items' ids.
    async fn insert_review(
        &mut self,
        scope: &str,
        by: &str,
        due_at: Millis,
        items: &[NewReviewItem],
        now: Millis,
    ) -> Result<(i64, Vec<i64>)>;
    /// Record an answer; false when the item was answered already (or does not exist).
    async fn decide_review_item(
        &mut self,
        id: i64,
        keep: bool,
        by: &str,
        reason: &str,
        now: Millis,
    ) -> Result<bool>;
    async fn escalate_review_item(&mut self, id: i64, now: Millis) -> Result<()>;
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
