//! The commit algorithm, written once for every backend. [`apply`] decides what one
//! [`Commit`] writes and in which order; a backend supplies the SQL for each step by
//! implementing [`CommitTx`] on its open transaction, then commits or rolls back depending on
//! the outcome (any error drops the transaction, so nothing is half-written).

use super::TicketChange;
use super::compliance::NewAuditEntry;
use super::requests::{REQUEST_PLACEHOLDER, RequestNumber, RequestOp, TimerKind, fill_request_placeholder};
use super::rows::{resolved_at_after, status_event_kind};
use super::{
    Commit, CommitOutcome, ConversationWrite, EventKey, KbFeedback, NewMessage, NewOutbox, NewTicket, Result,
    StoreError, TicketOp, Turn, fill_ticket_placeholder,
};
use crate::domain::Outbound;
use crate::domain::{Millis, TicketNumber, TicketStatus};
use crate::store::key::AuditKey;
use async_trait::async_trait;

/// The steps of a commit, each one statement inside the backend's open transaction.
#[async_trait]
pub(crate) trait CommitTx:
    super::desk_sql::DeskTx + super::compliance_sql::AuditTx + super::requests::RequestTx + Send
{
    /// Record an inbound event's dedupe key; `false` if it was recorded before.
    async fn record_event(&mut self, event: &EventKey, now: Millis) -> Result<bool>;
    /// Insert a new conversation at version 1; `false` if the key exists.
    async fn insert_conversation(&mut self, conversation: &ConversationWrite, now: Millis) -> Result<bool>;
    /// Bump the conversation from its expected version; `false` if the version moved on.
    async fn update_conversation(&mut self, conversation: &ConversationWrite, now: Millis) -> Result<bool>;
    /// Insert an open ticket under the next number and return it. The requester, conversation
    /// and reply address come from `conversation`.
    async fn insert_ticket(
        &mut self,
        ticket: &NewTicket,
        conversation: &ConversationWrite,
        now: Millis,
    ) -> Result<TicketNumber>;
    /// The ticket's status and `resolved_at` (locking the row where the backend can).
    async fn ticket_status(&mut self, number: TicketNumber) -> Result<Option<(String, Option<Millis>)>>;
    async fn set_ticket_status(
        &mut self,
        number: TicketNumber,
        status: TicketStatus,
        resolved_at: Option<Millis>,
        now: Millis,
    ) -> Result<()>;
    async fn insert_csat(
        &mut self,
        number: TicketNumber,
        score: u8,
        comment: Option<&str>,
        now: Millis,
    ) -> Result<()>;
    /// Append a commit's [`Tail`]: its turns, KB ratings, case events, and messages queued for
    /// delivery (an outbox row whose key is already queued is left alone).
    async fn insert_tail(&mut self, tail: &Tail<'_>) -> Result<()>;
}

/// Write everything `commit` describes through `tx`, its audit entries linked under `key`.
/// Returns `Duplicate` or `Conflict` without writing anything further; the caller must then roll
/// back (and commit only on `Applied`).
pub(crate) async fn apply<T: CommitTx + ?Sized>(
    tx: &mut T,
    key: &AuditKey,
    commit: Commit,
) -> Result<CommitOutcome> {
    let Commit { event, conversation: conv, messages, tickets, feedback, outbox, now, cases, requests } =
        commit;
    if let Some(event) = &event
        && !tx.record_event(event, now).await?
    {
        return Ok(CommitOutcome::Duplicate);
    }

    let written = if conv.is_none() {
        true
    } else if conv.expected_version == 0 {
        tx.insert_conversation(&conv, now).await?
    } else {
        tx.update_conversation(&conv, now).await?
    };
    if !written {
        return Ok(CommitOutcome::Conflict);
    }

    let requester = conv.user.to_string();
    // Every ticket event also goes to the hash-chained audit log, appended last so the chain
    // head is locked only after the ticket rows are.
    let mut audit: Vec<NewAuditEntry> = Vec::new();
    let mut created: Vec<TicketNumber> = Vec::new();
    let mut transcript: Vec<(Option<TicketNumber>, Turn, bool)> = Vec::new();
    for op in &tickets {
        match op {
            TicketOp::Create(ticket) => {
                let number = tx.insert_ticket(ticket, &conv, now).await?;
                created.push(number);
                // Written with the tail, ahead of the commit's own messages.
                for turn in &ticket.transcript {
                    transcript.push((Some(number), with_number(turn, created.first().copied()), false));
                }
                let placed = format!("queue {}, priority {}", ticket.queue, ticket.priority);
                let requester =
                    ticket.on_behalf.as_ref().map_or_else(|| requester.clone(), |o| o.user.to_string());
                // Filed from someone else's message: the filer acted, for the requester.
                match ticket.filed_by.as_ref().map(ToString::to_string).filter(|f| *f != requester) {
                    Some(filer) => {
                        let detail = format!("filed by {filer} for {requester}; {placed}");
                        audited(&mut audit, number, now, "created", &filer, Some(&detail));
                    }
                    None => audited(&mut audit, number, now, "created", &requester, Some(&placed)),
                }
            }
            TicketOp::SetStatus { number, status, actor, note } => {
                let number = resolve(*number, &created);
                let (old, resolved_before) = existing(tx, number).await?;
                let resolved_at = resolved_at_after(*status, resolved_before, now);
                tx.set_ticket_status(number, *status, resolved_at, now).await?;
                let kind = status_event_kind(old, *status);
                audited(&mut audit, number, now, &kind, actor, note.as_deref());
            }
            TicketOp::Change { number, actor, change } => {
                let number = resolve(*number, &created);
                let (old, new) = tx
                    .change_ticket(number, change, now)
                    .await?
                    .ok_or_else(|| StoreError::Database(format!("ticket {number} does not exist")))?;
                let kind = match change {
                    TicketChange::Assignee(_) => "assignee",
                    TicketChange::Priority(_) => "priority",
                    TicketChange::Queue(_) => "queue",
                    TicketChange::Sla(_) => continue,
                };
                if old != new {
                    audited(&mut audit, number, now, kind, actor, Some(&format!("{old} → {new}")));
                }
            }
            TicketOp::Schedule { number, kind, due_at } => {
                tx.insert_timer(resolve(*number, &created), kind, *due_at, now).await?;
            }
            TicketOp::CancelTimers { number, kinds } => {
                tx.cancel_timers(resolve(*number, &created), kinds, now).await?;
            }
            TicketOp::TimerFired { id } => {
                if !tx.fire_timer(*id, now).await? {
                    return Ok(CommitOutcome::Duplicate);
                }
            }
            TicketOp::Audit { number, kind, actor, detail } => {
                audited(&mut audit, resolve(*number, &created), now, kind, actor, detail.as_deref());
            }
            TicketOp::Csat { number, score, comment } => {
                let number = resolve(*number, &created);
                existing(tx, number).await?;
                tx.insert_csat(number, *score, comment.as_deref(), now).await?;
                let detail = match comment {
                    Some(c) => format!("score {score}: {c}"),
                    None => format!("score {score}"),
                };
                audited(&mut audit, number, now, "csat", &requester, Some(&detail));
            }
        }
    }

    // So far only ticket events: each is written to `ticket_events` with the tail.
    let ticket_events = audit.len();
    let request = match apply_requests(tx, &mut audit, &requests, now).await? {
        Requests::Done(created) => created,
        Requests::PoolFull => return Ok(CommitOutcome::Conflict),
        Requests::TimerFiredBefore => return Ok(CommitOutcome::Duplicate),
    };

    let parts = TailParts {
        conv: &conv,
        now,
        messages: &messages,
        feedback: &feedback,
        cases: &cases,
        outbox: &outbox,
        events: &audit[..ticket_events],
    };
    let mut tail = parts.tail(&created, request);
    if !transcript.is_empty() {
        transcript.append(&mut tail.messages);
        tail.messages = transcript;
    }
    tx.insert_tail(&tail).await?;
    tx.append_audit_tx(key, &audit).await?;
    Ok(CommitOutcome::Applied { created })
}

/// A commit that writes no tickets and no requests and whose appended rows fit one statement
/// each: its dedupe key, conversation and appended rows can go to the database in one call
/// (see `sql.rs`). `None` for any other commit.
pub(crate) fn plain(commit: &Commit) -> Option<TailParts<'_>> {
    let fits = commit.messages.len() <= Tail::CHUNK
        && commit.feedback.len() <= Tail::CHUNK
        && commit.cases.len() <= Tail::CHUNK
        && commit.outbox.len() <= Tail::CHUNK;
    (commit.tickets.is_empty() && commit.requests.is_empty() && fits).then_some(TailParts {
        conv: &commit.conversation,
        now: commit.now,
        messages: &commit.messages,
        feedback: &commit.feedback,
        cases: &commit.cases,
        outbox: &commit.outbox,
        events: &[],
    })
}

/// What a commit appends, before the numbers of the tickets and request it creates are known.
pub(crate) struct TailParts<'a> {
    pub conv: &'a ConversationWrite,
    pub now: Millis,
    pub messages: &'a [NewMessage],
    pub feedback: &'a [KbFeedback],
    pub cases: &'a [crate::store::reports::CaseEvent],
    pub outbox: &'a [NewOutbox],
    /// Ticket events (each entry names its ticket), in order.
    pub events: &'a [NewAuditEntry],
}

impl<'a> TailParts<'a> {
    /// The rows to append, with the created ticket and request numbers filled in.
    pub(crate) fn tail(&self, created: &[TicketNumber], request: Option<RequestNumber>) -> Tail<'a> {
        let first = created.first().copied();
        let mut tail = Tail {
            conversation: &self.conv.key,
            user: &self.conv.user,
            now: self.now,
            messages: Vec::with_capacity(self.messages.len()),
            feedback: self.feedback,
            cases: self.cases,
            outbox: Vec::with_capacity(self.outbox.len()),
            events: self.events,
        };
        for message in self.messages {
            let ticket = message.ticket.map(|n| resolve(n, created));
            let ticket = ticket.filter(|n| n.0 != 0);
            let mut turn = with_number(&message.turn, first);
            turn.text = fill_request_placeholder(&turn.text, request);
            tail.messages.push((ticket, turn, message.internal));
        }
        for item in self.outbox {
            let mut message = item.message.clone();
            message.text = fill_ticket_placeholder(&message.text, first);
            message.fill_new_ticket(first);
            fill_request(&mut message, request);
            tail.outbox.push((&item.key, message));
        }
        tail
    }
}

/// The rows a commit appends once its tickets and requests are written (transcript turns,
/// KB feedback, case events, outgoing messages): nothing later in the commit reads them back,
/// so a backend writes them together, in as few statements as it can (one per 500 rows).
pub(crate) struct Tail<'a> {
    pub conversation: &'a str,
    pub user: &'a crate::domain::UserRef,
    pub now: Millis,
    /// Each turn with the ticket it belongs to and whether it is internal, in order.
    pub messages: Vec<(Option<TicketNumber>, Turn, bool)>,
    pub feedback: &'a [KbFeedback],
    pub cases: &'a [crate::store::reports::CaseEvent],
    /// Outbox key and message, in order.
    pub outbox: Vec<(&'a str, Outbound)>,
    /// Ticket events, in order (each entry's ticket is set).
    pub events: &'a [NewAuditEntry],
}

impl Tail<'_> {
    /// Rows per statement: far below either backend's limit on bound parameters.
    pub const CHUNK: usize = 500;
}

/// What the request ops did.
enum Requests {
    /// Written; the number of the request the commit creates, if any.
    Done(Option<RequestNumber>),
    /// A seat pool is full: the whole commit is a conflict, retried from fresh reads.
    PoolFull,
    /// The commit's request timer fired before: nothing is written.
    TimerFiredBefore,
}

/// Write the request ops, queueing an audit entry for each.
async fn apply_requests<T: CommitTx + ?Sized>(
    tx: &mut T,
    audit: &mut Vec<NewAuditEntry>,
    ops: &[RequestOp],
    now: Millis,
) -> Result<Requests> {
    let mut created: Option<RequestNumber> = None;
    let resolve = |n: RequestNumber, created: Option<RequestNumber>| match (n, created) {
        (RequestNumber(0), Some(c)) => c,
        _ => n,
    };
    let mut entry = |actor: &str, kind: &str, subject: String, detail: String| {
        audit.push(NewAuditEntry {
            at: now,
            actor: actor.to_string(),
            kind: kind.to_string(),
            ticket: None,
            subject: Some(subject),
            detail: Some(detail),
        })
    };
    for op in ops {
        match op {
            RequestOp::Create(r) => {
                let number = tx.insert_request(r, now).await?;
                created = Some(number);
                let steps: Vec<&str> = r.steps.iter().map(|s| s.rule.as_str()).collect();
                let detail = format!(
                    "{number} for {} ({}); approvers: {}; justification: {}",
                    r.item,
                    r.status,
                    steps.join(" then "),
                    r.justification
                );
                entry(&r.requester.to_string(), "request.created", r.requester.to_string(), detail);
            }
            RequestOp::Decide(d) => {
                let number = resolve(d.number, created);
                tx.insert_decision(number, d, now).await?;
                let (kind, verb) =
                    if d.approve { ("request.approved", "approved") } else { ("request.denied", "denied") };
                let mut detail = format!("{number} step {} {verb}", d.step + 1);
                if let Some(r) = &d.reason {
                    detail.push_str(&format!(": {r}"));
                }
                entry(&d.approver.to_string(), kind, number.to_string(), detail);
            }
            RequestOp::Advance { number, status, step, outcome, actor } => {
                let number = resolve(*number, created);
                if !tx.advance_request(number, *status, *step, outcome.as_deref(), now).await? {
                    return Err(StoreError::Database(format!("request {number} does not exist")));
                }
                let mut detail = format!("{number} is {status} (step {})", step + 1);
                if let Some(o) = outcome {
                    detail.push_str(&format!(": {o}"));
                }
                entry(actor, "request.status", number.to_string(), detail);
            }
            RequestOp::Grant { number, item, seats, expires_at, actor } => {
                let number = resolve(*number, created);
                let Some(holder) = tx.take_seat(number, item, *seats, *expires_at, now).await? else {
                    return Ok(Requests::PoolFull);
                };
                let until = expires_at.map_or_else(|| "until revoked".to_string(), |e| format!("until {e}"));
                entry(actor, "access.granted", holder.to_string(), format!("{item} on {number}, {until}"));
            }
            RequestOp::Revoke { item, holder, actor, reason } => {
                if !tx.free_seat(item, holder, actor, reason, now).await? {
                    return Err(StoreError::Database(format!("{holder} holds no seat of {item}")));
                }
                entry(actor, "access.revoked", holder.to_string(), format!("{item}: {reason}"));
            }
            RequestOp::Extend { from, number, expires_at, actor } => {
                let number = resolve(*number, created);
                if !tx.extend_seat(*from, number, *expires_at).await? {
                    return Err(StoreError::Database(format!("the grant of {from} is no longer held")));
                }
                let until = expires_at.map_or_else(|| "until revoked".to_string(), |e| format!("until {e}"));
                entry(
                    actor,
                    "access.extended",
                    from.to_string(),
                    format!("{from} extended by {number}, {until}"),
                );
            }
            RequestOp::SetSteps { number, steps, actor, note } => {
                let number = resolve(*number, created);
                if !tx.set_request_steps(number, steps, now).await? {
                    return Err(StoreError::Database(format!("request {number} does not exist")));
                }
                entry(actor, "request.escalated", number.to_string(), format!("{number}: {note}"));
            }
            RequestOp::Schedule { kind, target, step, due_at } => {
                let target = match (*target, created) {
                    (0, Some(c)) => c.0,
                    (t, _) => t,
                };
                tx.insert_request_timer(*kind, target, *step, *due_at, now).await?;
            }
            RequestOp::TimerFired { id } => {
                if !tx.fire_request_timer(*id, now).await? {
                    return Ok(Requests::TimerFiredBefore);
                }
            }
            RequestOp::Audit { kind, actor, subject, detail } => {
                entry(actor, kind, subject.clone(), detail.clone());
            }
            RequestOp::StartReview { scope, by, due_at, items } => {
                let (review, ids) = tx.insert_review(scope, by, *due_at, items, now).await?;
                for (id, it) in ids.iter().zip(items) {
                    tx.insert_request_timer(TimerKind::ReviewEscalate, *id, None, *due_at, now).await?;
                    let reviewer =
                        it.reviewer.as_ref().map_or_else(|| "the leads".to_string(), ToString::to_string);
                    let detail = format!(
                        "review {review} item {id}: {} grant AR-{}, reviewed by {reviewer}",
                        it.item, it.holding
                    );
                    entry(by, "review.started", format!("AR-{}", it.holding), detail);
                }
            }
            RequestOp::Review { id, keep, by, reason } => {
                if !tx.decide_review_item(*id, *keep, by, reason, now).await? {
                    return Err(StoreError::Database(format!("AR-{id} was answered already")));
                }
                let (kind, verb) = if *keep { ("review.kept", "keep") } else { ("review.removed", "remove") };
                entry(by, kind, format!("review item {id}"), format!("review item {id}: {verb}: {reason}"));
            }
            RequestOp::ReviewEscalated { id } => {
                tx.escalate_review_item(*id, now).await?;
                let detail = format!("review item {id} unanswered: sent to the leads");
                entry("deskbot", "review.escalated", format!("review item {id}"), detail);
            }
        }
    }
    Ok(Requests::Done(created))
}

/// Put the created request's number where an outbound message names it: its text, its choices
/// (approval buttons), a webhook body and what it is about.
fn fill_request(message: &mut Outbound, created: Option<RequestNumber>) {
    if let (Some(n), Some(r)) = (created, message.about.request.as_mut())
        && r.0 == 0
    {
        *r = n;
    }
    message.text = fill_request_placeholder(&message.text, created);
    for c in &mut message.choices {
        c.id = fill_request_placeholder(&c.id, created);
        c.label = fill_request_placeholder(&c.label, created);
    }
    if let crate::domain::OutboundKind::Webhook { body, .. } = &mut message.kind {
        let text = body.to_string();
        if text.contains(REQUEST_PLACEHOLDER)
            && let Ok(filled) = serde_json::from_str(&fill_request_placeholder(&text, created))
        {
            *body = filled;
        }
    }
}

/// Queue a ticket event: for the ticket's history (written with the tail) and the audit chain.
fn audited(
    audit: &mut Vec<NewAuditEntry>,
    number: TicketNumber,
    at: Millis,
    kind: &str,
    actor: &str,
    detail: Option<&str>,
) {
    audit.push(NewAuditEntry {
        at,
        actor: actor.to_string(),
        kind: kind.to_string(),
        ticket: Some(number),
        subject: None,
        detail: detail.map(str::to_string),
    });
}

/// `TicketNumber(0)` names the first ticket this commit creates.
fn resolve(number: TicketNumber, created: &[TicketNumber]) -> TicketNumber {
    match (number, created.first()) {
        (TicketNumber(0), Some(first)) => *first,
        _ => number,
    }
}

fn with_number(turn: &Turn, created: Option<TicketNumber>) -> Turn {
    Turn {
        from: turn.from.clone(),
        text: fill_ticket_placeholder(&turn.text, created),
        at: turn.at,
        by: turn.by.clone(),
    }
}

/// The current status of a ticket the commit changes; an unknown number fails the commit.
async fn existing<T: CommitTx + ?Sized>(
    tx: &mut T,
    number: TicketNumber,
) -> Result<(TicketStatus, Option<Millis>)> {
    let (status, resolved_at) = tx
        .ticket_status(number)
        .await?
        .ok_or_else(|| StoreError::Database(format!("ticket {number} does not exist")))?;
    let status =
        status.parse::<TicketStatus>().map_err(|e| StoreError::Corrupt(format!("ticket {number}: {e}")))?;
    Ok((status, resolved_at))
}
