//! Requests over time, fired by the scheduler from `request_timers` rows (leader only, each
//! through one commit keyed by the timer's id, so a restart loses none and none fires twice):
//! approvers reminded once after `approval_timeout` of business time and the step escalated
//! after as long again (to the manager's manager, or the item queue's leads); time-boxed
//! grants warned `expiry_warning_days` ahead with "Extend" (a new request with its own
//! approval, linked to the grant) and revoked through their fulfilment when they lapse. Also
//! here: the "Extend" press itself, and a queue-fulfilled request becoming `fulfilled` when its
//! ticket is resolved. Neighbours: `requests.rs` (the flow), `reviews.rs` (access reviews).

use super::requests::{Asked, Parts, advance, approval_dms, step_name, tell};
use super::{Handled, Service, ServiceError};
use crate::desk::hours::BusinessHours;
use crate::desk::requests::approval_due;
use crate::domain::TicketStatus;
use crate::domain::{Address, Choice, Millis, Outbound, UserRef};
use crate::engine::EXTEND_PREFIX;
use crate::intents::requests::{Item, JUSTIFICATION};
use crate::store::Ticket;
use crate::store::requests::{Request, RequestNumber, RequestOp, RequestStatus, RequestTimer, TimerKind};

/// A date as people read it.
pub(super) fn day(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

impl Service {
    /// The business hours a request for `item` is counted on: its queue's, or the default
    /// queue's for webhook-fulfilled items.
    fn item_hours(&self, item: &Item) -> BusinessHours {
        let queue = item.queue().unwrap_or(&self.desk.default_queue);
        self.desk.queue(queue).map(|q| q.hours.clone()).unwrap_or_else(BusinessHours::always)
    }

    /// The queue whose leads hear of `item`'s escalations.
    pub(super) fn item_queue(&self, item: &str) -> crate::domain::QueueName {
        let catalog = self.catalog.load();
        catalog.item(item).and_then(|i| i.queue().cloned()).unwrap_or_else(|| self.desk.default_queue.clone())
    }

    /// When a step of `item` entered at `now` reminds its approvers (and, as long again
    /// after, escalates).
    pub(super) fn approval_due(&self, item: &Item, now: Millis) -> Millis {
        let timeout = item.approval_timeout.as_deref().unwrap_or(&self.requests.approval_timeout);
        approval_due(timeout, &self.item_hours(item), now)
    }

    /// Fire one request timer: what it does when its subject still needs it, and in any case
    /// the timer marked fired, in one commit keyed by the timer.
    pub async fn fire_request_timer(&self, t: &RequestTimer) -> Result<Handled, ServiceError> {
        let now = self.now();
        let mut parts = Parts { ops: vec![RequestOp::TimerFired { id: t.id }], ..Parts::default() };
        let mut offer = None;
        match t.kind {
            TimerKind::ApprovalRemind | TimerKind::ApprovalEscalate => {
                if let Some(r) = self.store.request(RequestNumber(t.target)).await?
                    && r.status == RequestStatus::Pending
                    && Some(r.step) == t.step
                {
                    let more = if t.kind == TimerKind::ApprovalRemind {
                        self.remind(&r, now).await?
                    } else {
                        self.escalate(&r).await?
                    };
                    parts.extend(more);
                }
            }
            TimerKind::ExpiryWarn => {
                if let Some(h) = self.store.holding_for_request(RequestNumber(t.target)).await?
                    && let Some(expires) = h.expires_at.filter(|e| *e > now)
                    && let Some(r) = self.store.request(RequestNumber(t.target)).await?
                {
                    parts.extend(warn_expiry(&r, expires));
                }
            }
            TimerKind::ExpiryLapse => {
                if let Some(h) = self.store.holding_for_request(RequestNumber(t.target)).await?
                    && h.expires_at.is_some_and(|e| e <= now)
                {
                    let why = format!("expired on {}", day(h.expires_at.unwrap_or(now)));
                    parts.extend(self.revocation(&h, "deskbot", &why, now).await?);
                    offer = Some(h.item.clone());
                }
            }
            TimerKind::ReviewEscalate => parts.extend(self.escalate_review(t.target).await?),
        }
        let handled = self.commit_parts(format!("request-timer:{}", t.id), parts, now).await?;
        if let (Handled::Applied { .. }, Some(item)) = (&handled, offer) {
            self.offer_free_seats(&item).await?;
        }
        Ok(handled)
    }

    /// Remind the step's approvers once (those who still hold the grant: a revoked approver is
    /// not sent the justification again); escalate after as long again.
    async fn remind(&self, r: &Request, now: Millis) -> Result<Parts, ServiceError> {
        let at = usize::try_from(r.step).unwrap_or(usize::MAX);
        if r.steps.get(at).is_none() {
            return Ok(Parts::default());
        }
        let standing = self.standing(r, at).await?;
        let mut parts = Parts::default();
        parts.outbox.extend(approval_dms(r, at, &standing, "⏰ Reminder: approval still needed"));
        let catalog = self.catalog.load();
        let due = match catalog.item(&r.item) {
            Some(item) => self.approval_due(item, now),
            None => now.saturating_add(crate::intents::requests::DAY_MS),
        };
        parts.ops.push(RequestOp::Schedule {
            kind: TimerKind::ApprovalEscalate,
            target: r.number.0,
            step: Some(r.step),
            due_at: due,
        });
        let to: Vec<String> = standing.iter().map(ToString::to_string).collect();
        parts.ops.push(RequestOp::Audit {
            kind: "request.reminded".into(),
            actor: "deskbot".into(),
            subject: r.number.to_string(),
            detail: format!("{} step {} undecided: reminded {}", r.number, r.step + 1, to.join(", ")),
        });
        Ok(parts)
    }

    /// Add the next approver (the manager's manager for a manager step) or else the item
    /// queue's leads to the undecided step, and ask them.
    async fn escalate(&self, r: &Request) -> Result<Parts, ServiceError> {
        let at = usize::try_from(r.step).unwrap_or(usize::MAX);
        let Some(step) = r.steps.get(at) else { return Ok(Parts::default()) };
        let fresh = |u: &UserRef| *u != r.requester && !step.approvers.contains(u);
        let mut added: Vec<UserRef> = Vec::new();
        if step.rule == "manager" {
            let directory = self.directory().await;
            added.extend(step.approvers.iter().filter_map(|m| directory.manager_of(m)).filter(|u| fresh(u)));
        }
        if added.is_empty() {
            let access = self.access().await?;
            added.extend(access.leads(&self.item_queue(&r.item)).into_iter().filter(|u| fresh(u)));
        }
        added.dedup();
        let mut parts = Parts::default();
        if added.is_empty() {
            parts.ops.push(RequestOp::Audit {
                kind: "request.escalated".into(),
                actor: "deskbot".into(),
                subject: r.number.to_string(),
                detail: format!("{} step {} undecided: nobody to escalate to", r.number, r.step + 1),
            });
            return Ok(parts);
        }
        let mut steps = r.steps.clone();
        if let Some(s) = steps.get_mut(at) {
            s.approvers.extend(added.iter().cloned());
            s.escalated.extend(added.iter().cloned());
        }
        let names: Vec<String> = added.iter().map(ToString::to_string).collect();
        parts.ops.push(RequestOp::SetSteps {
            number: r.number,
            steps,
            actor: "deskbot".into(),
            note: format!("step {} undecided after reminding; escalated to {}", r.step + 1, names.join(", ")),
        });
        parts.outbox.extend(approval_dms(r, at, &added, "⏫ Escalated to you: approval needed"));
        parts.outbox.push(tell(
            r,
            format!(
                "⏫ {} waited too long for {}; it was passed on to someone else who may approve it.",
                r.number,
                step_name(step)
            ),
        ));
        Ok(parts)
    }

    /// Why `actor` may not extend the grant of `request`, if they may not.
    pub(super) async fn extend_refused(
        &self,
        actor: &UserRef,
        request: &str,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self.extendable(actor, request).await?.err())
    }

    async fn extendable(
        &self,
        actor: &UserRef,
        request: &str,
    ) -> Result<Result<(Request, Item), String>, ServiceError> {
        let Ok(number) = request.parse::<RequestNumber>() else {
            return Ok(Err(format!("`{request}` is not a request number.")));
        };
        let Some(r) = self.store.request(number).await? else {
            return Ok(Err(format!("There is no request {number}.")));
        };
        if r.requester != *actor {
            return Ok(Err(format!("Only the holder of {number} may extend it.")));
        }
        if self.store.holding_for_request(number).await?.is_none() {
            return Ok(Err(format!("The grant of {number} is no longer held: ask for it again instead.")));
        }
        if let Some(open) = self.store.open_extension(number).await? {
            return Ok(Err(format!("{open} already asks to extend {number}.")));
        }
        let catalog = self.catalog.load();
        match catalog.item(&r.item) {
            Some(item) if item.duration_ms.is_some() => {
                let item = item.clone();
                Ok(Ok((r, item)))
            }
            Some(_) => Ok(Err(format!("{number} does not expire: there is nothing to extend."))),
            None => Ok(Err(format!("{} is no longer in the request catalog.", r.item_title))),
        }
    }

    /// "Extend" on an expiry warning: a new request for the same item, with the same answers
    /// and its own approval, that extends the grant once approved.
    pub(super) async fn extend_request(
        &self,
        actor: &UserRef,
        actor_name: Option<&str>,
        request: &str,
        reply_to: &Address,
        now: Millis,
    ) -> Result<Parts, ServiceError> {
        let (r, item) = match self.extendable(actor, request).await? {
            Ok(found) => found,
            Err(note) => return Ok(Parts::reply(note)),
        };
        let mut fields = r.fields.clone();
        let why = fields.get(JUSTIFICATION).cloned().unwrap_or_else(|| r.justification.clone());
        fields.insert(JUSTIFICATION.to_string(), format!("Extension of {}: {why}", r.number));
        let asked = Asked {
            requester: actor,
            requester_name: actor_name.or(r.requester_name.as_deref()),
            conversation: &r.conversation,
            reply_to,
            item: &item.id,
            fields,
            extends: Some(r.number),
        };
        self.submit_request(asked, now).await
    }

    /// A fulfilment ticket was resolved: its approved request is now fulfilled and the
    /// employee told. Nothing happens for other tickets or requests in other states.
    pub(super) async fn ticket_fulfilled(&self, t: &Ticket) -> Result<(), ServiceError> {
        if t.status != TicketStatus::Resolved {
            return Ok(());
        }
        let Some(number) = t.fields.get("request").and_then(|n| n.parse::<RequestNumber>().ok()) else {
            return Ok(());
        };
        let Some(r) = self.store.request(number).await? else { return Ok(()) };
        if r.status != RequestStatus::Approved {
            return Ok(());
        }
        let now = self.now();
        let mut parts = Parts::default();
        let by = t.assignee.clone().unwrap_or_else(|| "deskbot".into());
        parts.ops.push(advance(
            r.number,
            RequestStatus::Fulfilled,
            r.step,
            Some(format!("{} resolved", t.number)),
            &by,
        ));
        parts
            .outbox
            .push(tell(&r, format!("✅ {}: {} is set up ({} resolved).", r.number, r.item_title, t.number)));
        self.commit_parts(format!("fulfilled:{}:{}", r.number, t.number), parts, now).await?;
        Ok(())
    }
}

/// The holder's warning, with "Extend".
fn warn_expiry(r: &Request, expires: Millis) -> Parts {
    let mut parts = Parts::default();
    let text = format!(
        "⏳ Your {} ({}) expires on {}. To keep it, press Extend: that asks for approval again. \
         (Without buttons: type \"extend {}\".)",
        r.item_title,
        r.number,
        day(expires),
        r.number
    );
    let choices = vec![Choice::new(format!("{EXTEND_PREFIX}{}", r.number), "Extend")];
    parts.outbox.push(Outbound::message(r.reply_to.clone(), text, choices).about_request(r.number));
    parts.ops.push(RequestOp::Audit {
        kind: "access.expiry_warned".into(),
        actor: "deskbot".into(),
        subject: r.requester.to_string(),
        detail: format!("{} ({}) expires on {}", r.number, r.item, day(expires)),
    });
    parts
}
