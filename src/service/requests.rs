//! Access and licence requests through the pipeline: recording a request the engine collected
//! (its approval steps planned from the directory and the grants ledger), an approver's
//! decision (checked against the request's current step: only its addressed approvers who
//! still hold their grant in the ledger now, never the requester), taking a seat or joining the waiting line, fulfilment (a signed
//! `access.grant` / `access.revoke` webhook through the outbox, or a ticket in the item's
//! queue), revocation from the CLI and offering a freed seat to the next in line. Each event
//! is one commit; the employee is told at every step. The pure rules are `desk::requests`.

use super::{Handled, Service, ServiceError, keyed};
use crate::desk::requests::{self as rules, Next};
use crate::desk::workflow;
use crate::domain::{
    About, Address, Choice, Millis, Outbound, OutboundKind, Platform, Priority, TicketNumber, TicketStatus,
};
use crate::domain::{QueueName, UserRef};
use crate::engine::{APPROVE_PREFIX, DENY_PREFIX};
use crate::intents::requests::{Fulfil, Item, JUSTIFICATION};
use crate::store::requests::{
    Decision, NewDecision, NewRequest, PlannedStep, REQUEST_PLACEHOLDER, Request, RequestNumber, RequestOp,
    RequestStatus, TimerKind,
};
use crate::store::{Commit, ConversationWrite, EventKey, NewMessage, NewTicket, OnBehalf, Ticket, TicketOp};
use crate::usertext::mark;
use std::collections::BTreeMap;

/// The webhook events of fulfilment.
pub const GRANT_EVENT: &str = "access.grant";
pub const REVOKE_EVENT: &str = "access.revoke";
/// How many waiting requests one offer of free seats grants at most.
const MAX_OFFERS: usize = 100;
/// How many pending requests "approvals" looks through.
const MAX_LISTED: i64 = 500;

/// What a request action adds to a commit.
#[derive(Debug, Default)]
pub(super) struct Parts {
    pub ops: Vec<RequestOp>,
    pub tickets: Vec<TicketOp>,
    pub messages: Vec<NewMessage>,
    pub outbox: Vec<Outbound>,
    /// Said to whoever acted, where they acted.
    pub replies: Vec<String>,
}

impl Parts {
    pub(super) fn reply(text: impl Into<String>) -> Parts {
        Parts { replies: vec![text.into()], ..Parts::default() }
    }
    pub(super) fn extend(&mut self, other: Parts) {
        self.ops.extend(other.ops);
        self.tickets.extend(other.tickets);
        self.messages.extend(other.messages);
        self.outbox.extend(other.outbox);
        self.replies.extend(other.replies);
    }
}

/// A request the engine collected: who asked, where, for what, with which answers.
pub(super) struct Asked<'a> {
    pub requester: &'a UserRef,
    pub requester_name: Option<&'a str>,
    pub conversation: &'a str,
    pub reply_to: &'a Address,
    pub item: &'a str,
    pub fields: BTreeMap<String, String>,
    /// The request whose grant this one extends ("Extend" on an expiry warning).
    pub extends: Option<RequestNumber>,
}

/// Why a CLI revocation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("{holder} holds no seat of `{item}`")]
    NotHeld { item: String, holder: UserRef },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// How a request is named in texts: its number, or the placeholder the commit fills.
fn shown(r: &Request) -> String {
    if r.number.0 == 0 { REQUEST_PLACEHOLDER.to_string() } else { r.number.to_string() }
}

fn who(r: &Request) -> String {
    mark(r.requester_name.as_deref().unwrap_or(&r.requester.id))
}

/// A step as people read it: "your manager", "the software-approvers group".
pub(super) fn step_name(step: &PlannedStep) -> String {
    match step.rule.strip_prefix("group:") {
        Some(g) if step.needed > 1 => format!("two approvers of the {g} group"),
        Some(g) => format!("the {g} group"),
        None => "your manager".to_string(),
    }
}

pub(super) fn tell(r: &Request, text: String) -> Outbound {
    Outbound::message(r.reply_to.clone(), text, Vec::new()).about_request(r.number)
}

/// The approval DM for each approver of step `at`.
pub(super) fn ask_approvers(r: &Request, at: usize) -> Vec<Outbound> {
    let Some(step) = r.steps.get(at) else { return Vec::new() };
    approval_dms(r, at, &step.approvers, "🔑 Approval needed")
}

/// The approval DM (`heading`: a first ask, a reminder, an escalation) to `to`.
pub(super) fn approval_dms(r: &Request, at: usize, to: &[UserRef], heading: &str) -> Vec<Outbound> {
    let Some(step) = r.steps.get(at) else { return Vec::new() };
    let n = shown(r);
    let mut text = format!(
        "{heading} (step {} of {}, {}): {} asks for {} — {n}.\nJustification: {}",
        at + 1,
        r.steps.len(),
        step.rule,
        who(r),
        r.item_title,
        mark(&r.justification)
    );
    for (k, v) in r.fields.iter().filter(|(k, _)| k.as_str() != JUSTIFICATION) {
        text.push_str(&format!("\n{k}: {}", mark(v)));
    }
    text.push_str(&format!("\n(Without buttons: type \"approve {n}\" or \"deny {n} REASON\".)"));
    let choices = vec![
        Choice::new(format!("{APPROVE_PREFIX}{n}"), "Approve"),
        Choice::new(format!("{DENY_PREFIX}{n}"), "Deny"),
    ];
    to.iter()
        .map(|a| {
            // It quotes the justification and the answers: about the request, for an erasure.
            Outbound::message(Address::person(a.platform, &a.id), text.clone(), choices.clone())
                .about_request(r.number)
        })
        .collect()
}

/// Send the request to step `at` (its approvers reminded at `remind_at` if nobody decided),
/// or say why nobody can decide it.
pub(super) fn route_to_step(r: &Request, at: usize, remind_at: Millis, parts: &mut Parts) -> String {
    match r.steps.get(at) {
        Some(step) if rules::decidable(step) => {
            parts.outbox.extend(ask_approvers(r, at));
            parts.ops.push(RequestOp::Schedule {
                kind: TimerKind::ApprovalRemind,
                target: r.number.0,
                step: Some(at as i64),
                due_at: remind_at,
            });
            format!("It now waits for approval from {}.", step_name(step))
        }
        Some(step) => format!(
            "Nobody can approve its step {} ({}) yet: no manager in the directory or too few approvers in the group. \
             The IT team sees it in `deskbot requests list`.",
            at + 1,
            step.rule
        ),
        None => String::new(),
    }
}

impl Service {
    /// Record a request for `item_id` that the engine collected in `conversation`.
    pub(super) async fn submit_request(&self, asked: Asked<'_>, now: Millis) -> Result<Parts, ServiceError> {
        let Asked { requester, requester_name, conversation, reply_to, item: item_id, fields, extends } =
            asked;
        let catalog = self.catalog.load();
        let Some(item) = catalog.item(item_id) else {
            return Ok(Parts::reply(
                "That item is no longer in the request catalog, so nothing was recorded.",
            ));
        };
        let manager = self.directory().await.manager_of(requester);
        let access = self.access().await?;
        let steps = rules::plan(item, requester, manager, |g| access.approvers(g));
        let first = rules::open_step(&steps, 0);
        let justification = fields.get(JUSTIFICATION).cloned().unwrap_or_default();
        let new = NewRequest {
            item: item.id.clone(),
            item_title: item.title.clone(),
            requester: requester.clone(),
            requester_name: requester_name.map(str::to_string),
            conversation: conversation.to_string(),
            reply_to: reply_to.clone(),
            fields: fields.clone(),
            justification: justification.clone(),
            status: RequestStatus::Pending,
            step: first.map_or(0, |i| i as i64),
            steps: steps.clone(),
            fulfil: item.fulfil.to_string(),
            duration_ms: item.duration_ms,
            extends,
        };
        let r = Request {
            number: RequestNumber(0),
            item: new.item.clone(),
            item_title: new.item_title.clone(),
            requester: requester.clone(),
            requester_name: new.requester_name.clone(),
            conversation: new.conversation.clone(),
            reply_to: reply_to.clone(),
            fields,
            justification,
            status: RequestStatus::Pending,
            step: new.step,
            steps,
            fulfil: new.fulfil.clone(),
            duration_ms: new.duration_ms,
            outcome: None,
            created_at: now,
            updated_at: now,
            decided_at: None,
            extends,
        };
        let mut parts = Parts { ops: vec![RequestOp::Create(Box::new(new))], ..Parts::default() };
        let remind_at = self.approval_due(item, now);
        let next = first.map(|at| route_to_step(&r, at, remind_at, &mut parts)).unwrap_or_default();
        let what = match extends {
            Some(old) => format!("extend {} (granted on {old})", item.title),
            None => item.title.clone(),
        };
        parts.replies.push(format!("📝 Request {REQUEST_PLACEHOLDER} recorded: {what}. {next}"));
        Ok(parts)
    }

    /// Why `actor` may not decide `request` as asked, if they may not (nothing is recorded
    /// then; they are told privately).
    pub(super) async fn decision_refused(
        &self,
        actor: &UserRef,
        request: &str,
        approve: bool,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self.load_decision(actor, request, approve).await?.err())
    }

    async fn load_decision(
        &self,
        actor: &UserRef,
        request: &str,
        approve: bool,
    ) -> Result<Result<(Request, Vec<Decision>, Next), String>, ServiceError> {
        let Ok(number) = request.parse::<RequestNumber>() else {
            return Ok(Err(format!("`{request}` is not a request number.")));
        };
        let Some(r) = self.store.request(number).await? else {
            return Ok(Err(format!("There is no request {number}.")));
        };
        let decisions = self.store.request_decisions(number).await?;
        let at = usize::try_from(r.step).unwrap_or(usize::MAX);
        let standing = self.standing(&r, at).await?;
        Ok(rules::decide_now(&r, &standing, &decisions, actor, approve).map(|next| (r, decisions, next)))
    }

    /// Who of step `at` of `r` still may decide it now: its stored approvers checked against
    /// the grants ledger and the directory as they are now ([`rules::standing`]).
    pub(super) async fn standing(&self, r: &Request, at: usize) -> Result<Vec<UserRef>, ServiceError> {
        let access = self.access().await?;
        let directory = self.directory().await;
        Ok(self.standing_in(r, at, &access, &directory))
    }

    /// [`Service::standing`] with the ledger's grants and the directory already read.
    fn standing_in(
        &self,
        r: &Request,
        at: usize,
        access: &crate::desk::access::Access,
        directory: &crate::desk::directory::Directory,
    ) -> Vec<UserRef> {
        let Some(step) = r.steps.get(at) else { return Vec::new() };
        let leads = access.leads(&self.item_queue(&r.item));
        rules::standing(&r.requester, step, |g| access.approvers(g), |u| directory.manager_of(u), &leads)
    }

    /// An approver's decision, checked again against the store.
    pub(super) async fn decide_request(
        &self,
        actor: &UserRef,
        actor_name: Option<&str>,
        request: &str,
        approve: bool,
        reason: Option<String>,
        now: Millis,
    ) -> Result<Parts, ServiceError> {
        let (r, decisions, next) = match self.load_decision(actor, request, approve).await? {
            Ok(d) => d,
            Err(note) => return Ok(Parts::reply(note)),
        };
        let n = r.number;
        let name = mark(actor_name.unwrap_or(&actor.id));
        let mut parts = Parts::default();
        parts.ops.push(RequestOp::Decide(NewDecision {
            number: n,
            step: r.step,
            approver: actor.clone(),
            approver_name: actor_name.map(str::to_string),
            approve,
            reason: reason.clone(),
        }));
        let step_now = r.steps.get(usize::try_from(r.step).unwrap_or(usize::MAX));
        match next {
            Next::SecondApprover => {
                parts.replies.push(format!("Approved {n}. It needs a second, different approver."));
                parts.outbox.push(tell(&r, format!("👍 {name} approved {n}; one more approver is needed.")));
            }
            Next::Step(at) => {
                parts.ops.push(advance(n, RequestStatus::Pending, at as i64, None, actor));
                let mut routed = Parts::default();
                let remind_at = match self.catalog.load().item(&r.item) {
                    Some(item) => self.approval_due(item, now),
                    None => now.saturating_add(crate::intents::requests::DAY_MS),
                };
                // The next step is sent only to those of its approvers who still hold the grant.
                let mut ahead = r.clone();
                let standing = self.standing(&r, at).await?;
                if let Some(step) = ahead.steps.get_mut(at) {
                    step.approvers = standing;
                }
                let next_text = route_to_step(&ahead, at, remind_at, &mut routed);
                parts.extend(routed);
                let whose = step_now.map(step_name).unwrap_or_default();
                parts.replies.push(format!("Approved {n}. It goes on to the next step."));
                parts.outbox.push(tell(&r, format!("👍 {name} approved {n} ({whose}). {next_text}")));
            }
            Next::Denied => {
                let because = reason.clone().unwrap_or_default();
                parts.ops.push(advance(n, RequestStatus::Denied, r.step, Some(because.clone()), actor));
                parts.replies.push(format!("Denied {n}. The requester is told your reason."));
                parts.outbox.push(tell(
                    &r,
                    format!("❌ {n} ({}) was denied by {name}: {}", r.item_title, mark(&because)),
                ));
            }
            Next::Approved => {
                let mut by: Vec<String> =
                    decisions.iter().filter(|d| d.approve).map(|d| d.approver.to_string()).collect();
                by.push(actor.to_string());
                parts.replies.push(format!("Approved {n}."));
                parts.extend(self.grant_or_wait(&r, &by, &actor.to_string(), now).await?);
            }
        }
        Ok(parts)
    }

    /// A fully approved request: a seat and fulfilment, or a place in line when the pool is
    /// full.
    async fn grant_or_wait(
        &self,
        r: &Request,
        approved_by: &[String],
        actor: &str,
        now: Millis,
    ) -> Result<Parts, ServiceError> {
        let catalog = self.catalog.load();
        let item = catalog.item(&r.item);
        if let Some(total) = item.and_then(|i| i.seats)
            && r.extends.is_none()
            && self.store.seats_used(&r.item).await? >= i64::from(total)
        {
            let place =
                self.store.waiting_line(&r.item).await?.iter().filter(|w| w.number != r.number).count() + 1;
            let mut parts = Parts::default();
            parts.ops.push(RequestOp::Advance {
                number: r.number,
                status: RequestStatus::Waiting,
                step: r.step,
                outcome: None,
                actor: actor.to_string(),
            });
            parts.outbox.push(tell(
                r,
                format!(
                    "✅ {} is approved, but all {total} seats of {} are taken. You are number {place} in line \
                     and get the next free seat.",
                    r.number, r.item_title
                ),
            ));
            return Ok(parts);
        }
        self.fulfil(r, item, approved_by, actor, now).await
    }

    /// Take the seat and carry the grant out.
    async fn fulfil(
        &self,
        r: &Request,
        item: Option<&Item>,
        approved_by: &[String],
        actor: &str,
        now: Millis,
    ) -> Result<Parts, ServiceError> {
        let mut parts = Parts::default();
        let expires_at = match r.extends {
            // An extension runs on from the grant's current expiry (or from now, if later).
            Some(from) => {
                let Some(held) = self.store.holding_for_request(from).await? else {
                    parts.ops.push(advance(
                        r.number,
                        RequestStatus::Denied,
                        r.step,
                        Some(format!("the grant of {from} is no longer held")),
                        actor,
                    ));
                    parts.outbox.push(tell(
                        r,
                        format!("{} cannot extend {}: that grant is no longer held.", r.number, r.item_title),
                    ));
                    return Ok(parts);
                };
                let base = held.expires_at.unwrap_or(now).max(now);
                parts.ops.push(RequestOp::Extend {
                    from,
                    number: r.number,
                    expires_at: r.duration_ms.map(|d| base.saturating_add(d)),
                    actor: actor.to_string(),
                });
                r.duration_ms.map(|d| base.saturating_add(d))
            }
            None => {
                let expires_at = r.duration_ms.map(|d| now.saturating_add(d));
                parts.ops.push(RequestOp::Grant {
                    number: r.number,
                    item: r.item.clone(),
                    seats: item.and_then(|i| i.seats),
                    expires_at,
                    actor: actor.to_string(),
                });
                expires_at
            }
        };
        if let Some(expires) = expires_at {
            let warn = i64::from(self.requests.expiry_warning_days) * crate::intents::requests::DAY_MS;
            if warn > 0 {
                parts.ops.push(RequestOp::Schedule {
                    kind: TimerKind::ExpiryWarn,
                    target: r.number.0,
                    step: None,
                    due_at: expires.saturating_sub(warn).max(now),
                });
            }
            parts.ops.push(RequestOp::Schedule {
                kind: TimerKind::ExpiryLapse,
                target: r.number.0,
                step: None,
                due_at: expires,
            });
        }
        let until = expires_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| format!(" until {}", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        match fulfilment(&r.fulfil) {
            Some(Fulfil::Webhook(name)) => {
                // Approved, not yet granted: the request is fulfilled (and the employee told)
                // when the identity provider acknowledges the webhook; see `webhook_delivered`.
                parts.ops.push(advance(r.number, RequestStatus::Approved, r.step, None, actor));
                parts.outbox.push(access_webhook(&name, GRANT_EVENT, r, approved_by, expires_at, None));
                parts.outbox.push(tell(
                    r,
                    format!("👍 {} is approved{until}. Setting up {} now.", r.number, r.item_title),
                ));
            }
            Some(Fulfil::Queue(queue)) => {
                parts.ops.push(advance(r.number, RequestStatus::Approved, r.step, None, actor));
                let verb = if r.extends.is_some() { "Extend" } else { "Grant" };
                let title = format!("{verb} {} to {} ({})", r.item_title, r.requester, r.number);
                let body = format!(
                    "Approved by {}. Expires{}.\nJustification: {}",
                    approved_by.join(", "),
                    if until.is_empty() { " never".to_string() } else { until.clone() },
                    r.justification
                );
                parts.extend(self.fulfilment_ticket(r, &queue, title, body, now).await?);
                parts.outbox.push(tell(
                    r,
                    format!(
                        "✅ {} is approved{until}. The {queue} team sets up {} and tells you when it is done.",
                        r.number, r.item_title
                    ),
                ));
            }
            None => {
                parts.ops.push(advance(r.number, RequestStatus::Approved, r.step, None, actor));
                tracing::warn!(request = %r.number, "request has no fulfilment; approved without one");
            }
        }
        Ok(parts)
    }

    /// "approvals": the pending requests whose current step waits for `user`'s decision (only
    /// while they still hold the grant that made them its approver), each sent again to their
    /// DM with its buttons (a justification is never shown where others read), and a reply
    /// that says how many.
    pub(super) async fn awaiting_approval(&self, user: &UserRef) -> Result<Parts, ServiceError> {
        let mut parts = Parts::default();
        let mut numbers = Vec::new();
        let access = self.access().await?;
        let directory = self.directory().await;
        for r in self.store.requests(Some(RequestStatus::Pending), MAX_LISTED).await? {
            let Ok(at) = usize::try_from(r.step) else { continue };
            let decisions = self.store.request_decisions(r.number).await?;
            let standing = self.standing_in(&r, at, &access, &directory);
            if rules::decide_now(&r, &standing, &decisions, user, true).is_err() {
                continue;
            }
            parts.outbox.extend(approval_dms(
                &r,
                at,
                std::slice::from_ref(user),
                "🔑 Waiting for your approval",
            ));
            numbers.push(r.number.to_string());
        }
        parts.replies.push(match numbers.len() {
            0 => "No request waits for your approval.".to_string(),
            1 => format!("{} waits for your approval; I sent it to you in a direct message.", numbers[0]),
            n => format!(
                "{n} requests wait for your approval ({}); I sent them to you in a direct message.",
                numbers.join(", ")
            ),
        });
        Ok(parts)
    }

    /// The outbox delivered a fulfilment webhook (the receiver answered 2xx). An `access.grant`
    /// fulfils its approved request and tells the employee; anything else needs nothing. Safe
    /// to repeat: a resend after a crash finds the request fulfilled (and the event seen).
    pub async fn webhook_delivered(&self, message: &Outbound) -> Result<(), ServiceError> {
        let Some((event, number)) = access_event(message) else { return Ok(()) };
        if event != GRANT_EVENT {
            return Ok(());
        }
        let Some(r) = self.store.request(number).await? else { return Ok(()) };
        if r.status != RequestStatus::Approved || !matches!(fulfilment(&r.fulfil), Some(Fulfil::Webhook(_))) {
            return Ok(());
        }
        let now = self.now();
        let until = match self.store.holding_for_request(r.number).await? {
            Some(h) => {
                h.expires_at.map(|e| format!(" until {}", super::request_timers::day(e))).unwrap_or_default()
            }
            // Revoked before the acknowledgement: nothing is granted any more.
            None => return Ok(()),
        };
        let mut parts = Parts::default();
        let via = message.to.channel.clone();
        parts.ops.push(advance(
            r.number,
            RequestStatus::Fulfilled,
            r.step,
            Some(format!("{via} acknowledged")),
            via,
        ));
        parts.outbox.push(tell(&r, format!("✅ {}: {} is granted{until}.", r.number, r.item_title)));
        self.commit_parts(format!("granted:{}", r.number), parts, now).await?;
        Ok(())
    }

    /// The outbox gave up on a fulfilment webhook after its last attempt. The change did not
    /// reach the identity provider, so a person makes it: a ticket in the item's queue (the
    /// default queue for webhook items) says what to grant or remove. A grant stays approved
    /// until that ticket is resolved; the employee is told.
    pub async fn webhook_gave_up(&self, message: &Outbound, error: &str) -> Result<(), ServiceError> {
        let Some((event, number)) = access_event(message) else { return Ok(()) };
        let Some(r) = self.store.request(number).await? else { return Ok(()) };
        let hook = message.to.channel.clone();
        let now = self.now();
        let queue = self.item_queue(&r.item);
        let failed = format!("The `{hook}` webhook failed after its last attempt: {error}");
        let mut parts = Parts::default();
        if event == GRANT_EVENT {
            if r.status != RequestStatus::Approved {
                return Ok(());
            }
            let title = format!("Grant {} to {} by hand ({})", r.item_title, r.requester, r.number);
            let body = format!(
                "{failed}\nResolve this ticket once it is granted.\nJustification: {}",
                r.justification
            );
            parts.ops.push(advance(r.number, RequestStatus::Approved, r.step, Some(failed.clone()), &hook));
            parts.extend(self.fulfilment_ticket(&r, &queue, title, body, now).await?);
            parts.outbox.push(tell(
                &r,
                format!(
                    "⚠️ {} is approved, but setting up {} automatically failed. The {queue} team has been \
                     asked to do it and tells you when it is done.",
                    r.number, r.item_title
                ),
            ));
        } else {
            let title = format!("Remove {} from {} by hand ({})", r.item_title, r.requester, r.number);
            let body = format!("{failed}\nThe seat is already freed in deskbot; remove the access itself.");
            parts.extend(self.fulfilment_ticket(&r, &queue, title, body, now).await?);
        }
        tracing::error!(request = %r.number, %event, %hook, %error, "fulfilment webhook gave up; a ticket asks a person to do it");
        self.commit_parts(format!("webhook-failed:{event}:{}", r.number), parts, now).await?;
        Ok(())
    }

    /// A ticket in `queue` for a person to carry out a grant or a removal, filed for the
    /// request's requester.
    async fn fulfilment_ticket(
        &self,
        r: &Request,
        queue: &QueueName,
        title: String,
        description: String,
        now: Millis,
    ) -> Result<Parts, ServiceError> {
        let fields: BTreeMap<String, String> =
            [("request".to_string(), r.number.to_string()), ("item".to_string(), r.item.clone())].into();
        let t = NewTicket {
            title,
            description,
            intent: None,
            queue: queue.clone(),
            priority: Priority::default(),
            fields,
            transcript: Vec::new(),
            requester_name: r.requester_name.clone(),
            filed_by: None,
            filed_by_name: None,
            note: None,
            on_behalf: Some(Box::new(OnBehalf {
                user: r.requester.clone(),
                conversation: r.conversation.clone(),
                reply_to: r.reply_to.clone(),
            })),
        };
        let provisional = Ticket {
            number: TicketNumber(0),
            title: t.title.clone(),
            description: t.description.clone(),
            requester: r.requester.clone(),
            requester_name: r.requester_name.clone(),
            filed_by: r.requester.clone(),
            conversation: r.conversation.clone(),
            reply_to: r.reply_to.clone(),
            intent: None,
            queue: queue.clone(),
            priority: t.priority,
            status: TicketStatus::Open,
            assignee: None,
            fields: t.fields.clone(),
            created_at: now,
            updated_at: now,
            resolved_at: None,
            sla: None,
        };
        let assignee = self.auto_assignee(queue).await?;
        let desk = workflow::on_filed(&self.desk, &provisional, &[], None, assignee, now);
        let mut parts = Parts { tickets: vec![TicketOp::Create(t)], ..Parts::default() };
        parts.tickets.extend(desk.ops);
        parts.messages.extend(desk.messages);
        parts.outbox.extend(desk.outbox);
        Ok(parts)
    }

    /// `deskbot licences revoke ITEM PLATFORM:ID --justification TEXT`: free the seat (through
    /// the item's fulfilment), tell the holder, and offer the seat to the next in line.
    pub async fn revoke_seat(
        &self,
        item: &str,
        holder: &UserRef,
        by: &str,
        justification: &str,
    ) -> Result<Vec<RequestNumber>, RevokeError> {
        let now = self.now();
        let held = self.store.holdings(Some(item), false).await.map_err(ServiceError::from)?;
        let Some(h) = held.into_iter().find(|h| h.holder == *holder) else {
            return Err(RevokeError::NotHeld { item: item.to_string(), holder: holder.clone() });
        };
        let parts = self.revocation(&h, by, justification, now).await?;
        let event = format!("revoke:{item}:{holder}:{}", h.id);
        self.commit_parts(event, parts, now).await?;
        Ok(self.offer_free_seats(item).await?)
    }

    /// Revoking the grant `h` (by `by`, for `justification`) through the request's
    /// fulfilment: the seat freed, the request revoked, the holder told, an `access.revoke`
    /// webhook or a removal ticket. The caller commits, then offers the seat on.
    pub(super) async fn revocation(
        &self,
        h: &crate::store::requests::Holding,
        by: &str,
        justification: &str,
        now: Millis,
    ) -> Result<Parts, ServiceError> {
        let request = match h.request {
            Some(n) => self.store.request(n).await?,
            None => None,
        };
        let mut parts = Parts::default();
        parts.ops.push(RequestOp::Revoke {
            item: h.item.clone(),
            holder: h.holder.clone(),
            actor: by.to_string(),
            reason: justification.to_string(),
        });
        if let Some(r) = &request {
            parts.ops.push(advance(
                r.number,
                RequestStatus::Revoked,
                r.step,
                Some(justification.to_string()),
                by,
            ));
            parts.outbox.push(tell(
                r,
                format!("🔒 Your {} ({}) was revoked: {}", r.item_title, r.number, mark(justification)),
            ));
            match fulfilment(&r.fulfil) {
                Some(Fulfil::Webhook(name)) => {
                    parts.outbox.push(access_webhook(&name, REVOKE_EVENT, r, &[], None, Some(justification)))
                }
                Some(Fulfil::Queue(queue)) => {
                    let title = format!("Remove {} from {} ({})", r.item_title, r.requester, r.number);
                    let body = format!("Revoked by {by}: {justification}");
                    parts.extend(self.fulfilment_ticket(r, &queue, title, body, now).await?);
                }
                None => {}
            }
        }
        Ok(parts)
    }

    /// Grant free seats of `item` to the waiting line, first in line first, one commit each
    /// (its dedupe key is the request, so a request is never granted twice).
    pub async fn offer_free_seats(&self, item: &str) -> Result<Vec<RequestNumber>, ServiceError> {
        let mut granted = Vec::new();
        for _ in 0..MAX_OFFERS {
            let catalog = self.catalog.load();
            let def = catalog.item(item);
            if let Some(total) = def.and_then(|i| i.seats)
                && self.store.seats_used(item).await? >= i64::from(total)
            {
                break;
            }
            let Some(next) = self.store.waiting_line(item).await?.into_iter().next() else { break };
            let decisions = self.store.request_decisions(next.number).await?;
            let by: Vec<String> =
                decisions.iter().filter(|d| d.approve).map(|d| d.approver.to_string()).collect();
            let now = self.now();
            let mut parts = self.fulfil(&next, def, &by, "deskbot", now).await?;
            parts
                .outbox
                .insert(0, tell(&next, format!("🎟️ A seat of {} is free: it is yours.", next.item_title)));
            match self.commit_parts(format!("seat:{}", next.number), parts, now).await? {
                Handled::Applied { .. } => granted.push(next.number),
                _ => break,
            }
        }
        Ok(granted)
    }

    /// Commit request parts outside any conversation (the CLI, the waiting line, timers).
    pub(super) async fn commit_parts(
        &self,
        event: String,
        parts: Parts,
        now: Millis,
    ) -> Result<Handled, ServiceError> {
        // Replies are for a person acting in chat; the CLI prints its own.
        let key = format!("system:{event}");
        let outbox = parts.outbox;
        let commit = Commit {
            event: Some(EventKey { platform: Platform::System, event_id: event }),
            conversation: ConversationWrite::none(),
            messages: parts.messages,
            tickets: parts.tickets,
            feedback: Vec::new(),
            outbox: keyed(&key, outbox),
            now,
            cases: Vec::new(),
            requests: parts.ops,
        };
        Ok(match self.store.commit(commit).await? {
            crate::store::CommitOutcome::Applied { created } => Handled::Applied { created, replies: 0 },
            crate::store::CommitOutcome::Duplicate => Handled::Duplicate,
            crate::store::CommitOutcome::Conflict => Handled::Ignored,
        })
    }
}

pub(super) fn advance(
    number: RequestNumber,
    status: RequestStatus,
    step: i64,
    outcome: Option<String>,
    actor: impl std::fmt::Display,
) -> RequestOp {
    RequestOp::Advance { number, status, step, outcome, actor: actor.to_string() }
}

/// The stored `webhook:NAME` / `queue:NAME`.
pub(super) fn fulfilment(stored: &str) -> Option<Fulfil> {
    match stored.split_once(':')? {
        ("webhook", w) => Some(Fulfil::Webhook(w.to_string())),
        ("queue", q) => QueueName::parse(q).ok().map(Fulfil::Queue),
        _ => None,
    }
}

/// A fulfilment webhook's event and request, from the outbound message the outbox holds.
fn access_event(message: &Outbound) -> Option<(&'static str, RequestNumber)> {
    let OutboundKind::Webhook { event, body } = &message.kind else { return None };
    let event = [GRANT_EVENT, REVOKE_EVENT].into_iter().find(|e| e == event)?;
    let number = body.get("request")?.as_str()?.parse().ok()?;
    Some((event, number))
}

/// The signed fulfilment webhook: `{"action":"grant"|"revoke", …}`.
fn access_webhook(
    name: &str,
    event: &str,
    r: &Request,
    approved_by: &[String],
    expires_at: Option<Millis>,
    reason: Option<&str>,
) -> Outbound {
    let action = if event == GRANT_EVENT { "grant" } else { "revoke" };
    let body = serde_json::json!({
        "action": action,
        "event": event,
        "request": shown(r),
        "item": r.item,
        "title": r.item_title,
        "user": { "platform": r.requester.platform.as_str(), "id": r.requester.id },
        "approved_by": approved_by,
        "expires_at": expires_at,
        "reason": reason,
    });
    Outbound {
        to: Address::new(Platform::Webhook, name),
        text: format!("{event} {}", shown(r)),
        choices: Vec::new(),
        kind: OutboundKind::Webhook { event: event.to_string(), body },
        about: About { request: Some(r.number), ..About::default() },
    }
}

/// Fulfilment webhooks the outbox delivered or gave up on move their requests on.
#[async_trait::async_trait]
impl crate::outbox::DeliveryObserver for Service {
    async fn delivered(&self, message: &Outbound) -> Result<(), crate::store::StoreError> {
        self.webhook_delivered(message).await.map_err(into_store_error)
    }

    async fn gave_up(&self, message: &Outbound, error: &str) -> Result<(), crate::store::StoreError> {
        self.webhook_gave_up(message, error).await.map_err(into_store_error)
    }
}

fn into_store_error(e: ServiceError) -> crate::store::StoreError {
    match e {
        ServiceError::Store(e) => e,
        other => crate::store::StoreError::Database(other.to_string()),
    }
}
