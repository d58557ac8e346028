//! The employee side: load the conversation, run the engine, and turn its actions into one
//! commit — including what the desk does when a ticket is filed (card, transcript, SLA
//! clocks, auto-assignment) or when the employee's message goes to a ticket's thread.

use super::router::Admission;
use super::{Handled, Service, ServiceError, keyed};
use crate::desk::queues::Assignment;
use crate::desk::workflow::{self, Outcome};
use crate::domain::{Address, Millis, QueueName, TicketNumber, TicketStatus, UserRef};
use crate::domain::{Inbound, InboundKind, Outbound, OutboundKind, TicketSummary};
use crate::engine::{self, Action, ConversationState, Origin, State};
use crate::service::intake::Status;
use crate::service::limits::Rate;
use crate::store::{
    Commit, ConversationWrite, EventKey, NewMessage, NewTicket, Speaker, StoreError, Ticket, TicketFilter,
    TicketOp, Turn,
};

impl Service {
    pub(super) async fn handle_employee(
        &self,
        inbound: &Inbound,
        notices: &[String],
    ) -> Result<Handled, ServiceError> {
        // The rate limit is consulted once, for a message the owner rule admitted.
        let rate: std::sync::OnceLock<Rate> = std::sync::OnceLock::new();
        // Set when the router turns the event away; the commit then only records it.
        let turned_away: std::sync::Mutex<Option<Handled>> = std::sync::Mutex::new(None);
        // A review item this event answers with Remove: its seat is offered on after the commit.
        let removed: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        let handled = self
            .commit_with_retry(|| async {
            let (requester, display_name) = requester(inbound);
            // The conversation and the requester's tickets in one round trip.
            let (stored, mine) =
                self.store.load_for_event(&inbound.conversation, requester, SUMMARY_LIMIT).await?;
            let tickets: Vec<TicketSummary> = mine.iter().map(summary).collect();
            let (state, version) = match &stored {
                Some(c) => match serde_json::from_value::<ConversationState>(c.state.clone()) {
                    Ok(s) => (s, c.version),
                    Err(e) => {
                        tracing::warn!(conversation = %inbound.conversation, error = ?e.classify(), line = e.line(), column = e.column(), "unreadable conversation state; starting over");
                        (ConversationState::default(), c.version)
                    }
                },
                None => (ConversationState::default(), 0),
            };
            if let Some(decision) = turned_away_by(super::router::admit(inbound, stored.as_ref(), state.since)) {
                *turned_away.lock().unwrap_or_else(|p| p.into_inner()) = Some(decision);
                return Ok(Some(record_only(inbound, self.now())));
            }
            if let InboundKind::Message { text } = &inbound.kind {
                let rate = *rate.get_or_init(|| self.limits.check(&inbound.user, self.now()));
                if let Rate::Slow { warn } = rate {
                    return Ok(Some(self.slow_commit(inbound, stored.as_ref(), warn, self.now())?));
                }
                // With a language model, a message's embedding takes milliseconds of CPU:
                // compute it where blocking is allowed; the engine's classification below then
                // finds it ready.
                if self.catalog.load().prepares() {
                    let (catalog, text) = (self.catalog.load_full(), text.clone());
                    let _ = tokio::task::spawn_blocking(move || catalog.prepare(&text)).await;
                }
            }
            let now = self.now();
            let catalog = self.catalog.load();
            let ctx = engine::Context {
                catalog: &catalog,
                now,
                tickets: &tickets,
                settings: &self.settings,
                display_name,
            };
            let mut step = engine::step(&state, inbound, &ctx);
            if version == 0 {
                step.state.since = began_at(inbound);
            }
            *removed.lock().unwrap_or_else(|p| p.into_inner()) = step.actions.iter().find_map(|a| match a {
                Action::Decide { request, approve: false, .. }
                    if request.starts_with(crate::store::requests::REVIEW_PREFIX) =>
                {
                    Some(request.clone())
                }
                _ => None,
            });
            if let Some(note) = self.refused_decision(&state, &step, inbound).await? {
                *turned_away.lock().unwrap_or_else(|p| p.into_inner()) = Some(Handled::Refused { note });
                return Ok(Some(record_only(inbound, now)));
            }
            let reactions = self.status_reactions(&state, &mut step, inbound);
            let cases = crate::reports::cases::case_events(
                &state.state,
                &step,
                inbound,
                &catalog,
                &self.settings.default_queue,
            );
            let read = EventRead { version, tickets: &mine };
            let mut commit = self.to_commit(inbound, step, read, now, notices, reactions).await?;
            commit.cases = cases;
            Ok(Some(commit))
        })
        .await?;
        let turned_away = turned_away.into_inner().unwrap_or_else(|p| p.into_inner());
        let removed = removed.into_inner().unwrap_or_else(|p| p.into_inner());
        if let (Handled::Applied { .. }, None, Some(item)) = (&handled, &turned_away, removed)
            && let Err(e) = self.after_review(&item).await
        {
            // The seat stays free until the next revocation or review offers it.
            tracing::error!(error = %e, "offering a seat freed by an access review failed");
        }
        Ok(match (handled, turned_away) {
            (Handled::Applied { .. }, Some(decision)) => decision,
            (handled, _) => handled,
        })
    }

    /// An approval decision (or a Deny press) by someone the request does not wait on: the
    /// owner rule for approval buttons. Checked against the store, never the button's claims.
    async fn refused_decision(
        &self,
        prev: &ConversationState,
        step: &engine::Step,
        inbound: &Inbound,
    ) -> Result<Option<String>, ServiceError> {
        let asked_reason = match (&prev.state, &step.state.state) {
            (State::DenyReason { request: a }, State::DenyReason { request: b }) if a == b => None,
            (_, State::DenyReason { request }) => Some((request.clone(), false)),
            _ => None,
        };
        let decisions = step.actions.iter().filter_map(|a| match a {
            Action::Decide { request, approve, .. } => Some((request.clone(), *approve)),
            _ => None,
        });
        for (request, approve) in asked_reason.into_iter().chain(decisions) {
            let refused = if request.starts_with(crate::store::requests::REVIEW_PREFIX) {
                self.review_refused(&inbound.user, &request).await?
            } else {
                self.decision_refused(&inbound.user, &request, approve).await?
            };
            if let Some(note) = refused {
                return Ok(Some(note));
            }
        }
        for a in &step.actions {
            if let Action::Extend { request } = a
                && let Some(note) = self.extend_refused(&inbound.user, request).await?
            {
                return Ok(Some(note));
            }
        }
        Ok(None)
    }

    /// Status reactions for this step (👀 when a question is taken up, ✅ when the answer
    /// solved it, 🎫 when a ticket was filed), on the message the case started from. Records
    /// that message in the new state so later steps (a button press) can react on it.
    fn status_reactions(
        &self,
        prev: &ConversationState,
        step: &mut engine::Step,
        inbound: &Inbound,
    ) -> Vec<Outbound> {
        if !self.intake.status_reactions {
            return Vec::new();
        }
        let here = inbound.message_id.as_ref().map(|m| Origin {
            channel: inbound.message_channel.clone().unwrap_or_else(|| inbound.reply_to.channel.clone()),
            message: m.clone(),
        });
        let asked = matches!(inbound.kind, InboundKind::Message { .. } | InboundKind::FileTicket { .. });
        let taken_up = asked
            && here.is_some()
            && matches!(
                step.state.state,
                State::Answered { .. }
                    | State::Offered { .. }
                    | State::OfferTicket { .. }
                    | State::Form { .. }
                    | State::Describe
            )
            && !matches!(
                (&prev.state, &step.state.state),
                (State::Form { .. }, State::Form { .. }) | (State::Describe, _)
            );
        let mut marks = Vec::new();
        step.state.origin = if taken_up { here.clone() } else { prev.origin.clone() };
        if taken_up {
            marks.push(Status::Working);
        }
        for a in &step.actions {
            match a {
                Action::Feedback(f) if f.helpful => marks.push(Status::Solved),
                Action::FileTicket(_) => marks.push(Status::Ticket),
                _ => {}
            }
        }
        // A ticket filed straight from a message marks that message.
        let target = match (&inbound.kind, &here) {
            (InboundKind::FileTicket { .. }, Some(h)) => Some(h.clone()),
            _ => step.state.origin.clone(),
        };
        let Some(origin) = target else { return Vec::new() };
        marks
            .into_iter()
            .map(|s| {
                let to = Address::new(inbound.reply_to.platform, origin.channel.clone());
                let kind = OutboundKind::Reaction {
                    emoji: self.intake.emoji(s).to_string(),
                    message: origin.message.clone(),
                };
                Outbound { to, text: String::new(), choices: Vec::new(), kind, about: Default::default() }
            })
            .collect()
    }

    /// The tickets `user` filed, newest first (at most [`SUMMARY_LIMIT`]).
    pub async fn ticket_summaries(&self, user: &UserRef) -> Result<Vec<TicketSummary>, StoreError> {
        let filter =
            TicketFilter { requester: Some(user.clone()), limit: SUMMARY_LIMIT, ..TicketFilter::default() };
        Ok(self.store.tickets(&filter).await?.iter().map(summary).collect())
    }

    /// Ticket `number`: from `known` (read with the event's conversation) when it is there,
    /// else from the store.
    async fn ticket_or_err(&self, number: TicketNumber, known: &[Ticket]) -> Result<Ticket, ServiceError> {
        if let Some(t) = known.iter().find(|t| t.number == number) {
            return Ok(t.clone());
        }
        self.store.ticket(number).await?.ok_or(ServiceError::NoSuchTicket(number))
    }

    /// Who gets a new ticket in `queue`, when the queue assigns automatically: one of the
    /// queue's agents as the grants ledger has them now.
    pub(super) async fn auto_assignee(&self, queue: &QueueName) -> Result<Option<UserRef>, ServiceError> {
        let Some(q) = self.desk.queue(queue) else { return Ok(None) };
        if q.cfg.assignment == Assignment::None {
            return Ok(None);
        }
        let agents = self.access().await?.agents(queue);
        if agents.is_empty() {
            return Ok(None);
        }
        match q.cfg.assignment {
            Assignment::None => Ok(None),
            Assignment::LeastLoaded => {
                let loads = self.store.assignee_loads(queue).await?;
                let load = |a: &UserRef| {
                    let key = a.to_string();
                    loads.iter().find(|(k, _)| *k == key).map(|(_, n)| *n).unwrap_or(0)
                };
                Ok(agents.iter().min_by_key(|a| load(a)).cloned())
            }
            Assignment::RoundRobin => {
                let filter =
                    TicketFilter { queue: Some(queue.clone()), limit: 50, ..TicketFilter::default() };
                let recent = self.store.tickets(&filter).await?;
                let last = recent.iter().find_map(|t| t.assignee.clone());
                let next = match last.and_then(|l| agents.iter().position(|a| a.to_string() == l)) {
                    Some(i) => (i + 1) % agents.len(),
                    None => 0,
                };
                Ok(agents.get(next).cloned())
            }
        }
    }

    /// Turn the engine's actions into one commit.
    async fn to_commit(
        &self,
        inbound: &Inbound,
        step: engine::Step,
        read: EventRead<'_>,
        now: Millis,
        notices: &[String],
        reactions: Vec<Outbound>,
    ) -> Result<Commit, ServiceError> {
        let EventRead { version, tickets: known } = read;
        let state = serde_json::to_value(&step.state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let line = |from: Speaker, text: &str, ticket: Option<TicketNumber>| NewMessage {
            turn: Turn { from, text: text.to_string(), at: now, by: None },
            ticket,
            internal: false,
        };
        let mut messages = Vec::new();
        match &inbound.kind {
            InboundKind::Message { text } | InboundKind::Reopen { text } => {
                messages.push(line(Speaker::Employee, text, None))
            }
            InboundKind::Choice { id } => messages.push(line(Speaker::Employee, &format!("[{id}]"), None)),
            InboundKind::FileTicket { text, .. } => messages.push(line(Speaker::Employee, text, None)),
            InboundKind::AgentReply { .. } | InboundKind::Reaction { .. } => {}
        }
        let mut tickets = Vec::new();
        let mut requests = Vec::new();
        let mut feedback = Vec::new();
        let mut outbound: Vec<Outbound> = Vec::new();
        let mut desk = Outcome::default();
        outbound.extend(reactions);
        for notice in notices {
            outbound.push(Outbound::message(inbound.reply_to.clone(), notice.clone(), Vec::new()));
        }
        for action in step.actions {
            match action {
                Action::Reply { text, choices } => {
                    messages.push(line(Speaker::Bot, &text, None));
                    outbound.push(Outbound::message(inbound.reply_to.clone(), text, choices));
                }
                Action::FileTicket(t) => {
                    let assignee = self.auto_assignee(&t.queue).await?;
                    let provisional = provisional_ticket(&t, inbound, now);
                    merge(
                        &mut desk,
                        workflow::on_filed(
                            &self.desk,
                            &provisional,
                            &t.transcript,
                            t.filed_by_name.as_deref(),
                            assignee,
                            now,
                        ),
                    );
                    tickets.push(TicketOp::Create(t));
                }
                Action::SetTicketStatus { number, status, actor: _, note } => {
                    let t = self.ticket_or_err(number, known).await?;
                    merge(&mut desk, workflow::requester_status(&self.desk, &t, status, note, now));
                }
                Action::Relay { number, text } => {
                    let t = self.ticket_or_err(number, known).await?;
                    messages.push(line(Speaker::Employee, &text, Some(number)));
                    merge(&mut desk, workflow::relay_from_requester(&self.desk, &t, &text, now));
                }
                Action::Rate { number, score } => {
                    tickets.push(TicketOp::Csat { number, score, comment: None })
                }
                Action::RateComment { number, comment } => tickets.push(TicketOp::Audit {
                    number,
                    kind: "csat_comment".into(),
                    actor: inbound.user.to_string(),
                    detail: Some(comment),
                }),
                Action::Feedback(f) => feedback.push(f),
                a @ (Action::SubmitRequest { .. }
                | Action::Decide { .. }
                | Action::Extend { .. }
                | Action::ListApprovals) => {
                    let parts = self.request_action(a, inbound, now).await?;
                    take_parts(
                        parts,
                        inbound,
                        &mut requests,
                        &mut tickets,
                        &mut messages,
                        &mut outbound,
                        &line,
                    );
                }
            }
        }
        // The ticket's own rows come after its creation; the desk's after the engine's.
        tickets.extend(desk.ops);
        messages.extend(desk.messages);
        outbound.extend(desk.outbox);
        Ok(Commit {
            event: Some(EventKey { platform: inbound.user.platform, event_id: inbound.event_id.clone() }),
            conversation: ConversationWrite {
                key: inbound.conversation.clone(),
                user: requester(inbound).0.clone(),
                reply_to: inbound.reply_to.clone(),
                state,
                expected_version: version,
            },
            messages,
            tickets,
            feedback,
            outbox: keyed(&format!("{}:{}", inbound.user.platform, inbound.event_id), outbound),
            now,
            cases: Vec::new(),
            requests,
        })
    }
}

impl Service {
    /// What a request action (asking, deciding, extending, listing approvals) adds to the commit.
    async fn request_action(
        &self,
        action: Action,
        inbound: &Inbound,
        now: Millis,
    ) -> Result<super::requests::Parts, ServiceError> {
        let name = inbound.display_name.as_deref();
        match action {
            Action::SubmitRequest { item, fields } => {
                let (who, requester_name) = requester(inbound);
                let asked = super::requests::Asked {
                    requester: who,
                    requester_name,
                    conversation: &inbound.conversation,
                    reply_to: &inbound.reply_to,
                    item: &item,
                    fields,
                    extends: None,
                };
                self.submit_request(asked, now).await
            }
            Action::Decide { request, approve, reason }
                if request.starts_with(crate::store::requests::REVIEW_PREFIX) =>
            {
                self.decide_review(&inbound.user, &request, approve, reason, now).await
            }
            Action::Decide { request, approve, reason } => {
                self.decide_request(&inbound.user, name, &request, approve, reason, now).await
            }
            Action::Extend { request } => {
                self.extend_request(&inbound.user, name, &request, &inbound.reply_to, now).await
            }
            Action::ListApprovals => self.awaiting_approval(&inbound.user).await,
            _ => Ok(super::requests::Parts::default()),
        }
    }
}

/// Add a request action's parts to the commit being built; its replies go to whoever acted.
fn take_parts(
    parts: super::requests::Parts,
    inbound: &Inbound,
    requests: &mut Vec<crate::store::RequestOp>,
    tickets: &mut Vec<TicketOp>,
    messages: &mut Vec<NewMessage>,
    outbound: &mut Vec<Outbound>,
    line: &dyn Fn(Speaker, &str, Option<TicketNumber>) -> NewMessage,
) {
    requests.extend(parts.ops);
    tickets.extend(parts.tickets);
    for text in parts.replies {
        messages.push(line(Speaker::Bot, &text, None));
        outbound.push(Outbound::message(inbound.reply_to.clone(), text, Vec::new()));
    }
    messages.extend(parts.messages);
    outbound.extend(parts.outbox);
}

/// What an event turned away by the owner rule comes to (`None`: admitted).
pub(super) fn turned_away_by(admission: Admission) -> Option<Handled> {
    match admission {
        Admission::Admit => None,
        Admission::Ignore => Some(Handled::Ignored),
        Admission::Refuse(note) => Some(Handled::Refused { note: note.to_string() }),
    }
}

/// A commit that only records the event (its dedupe key): nothing else changes.
pub(super) fn record_only(inbound: &Inbound, now: Millis) -> Commit {
    Commit {
        event: Some(EventKey { platform: inbound.user.platform, event_id: inbound.event_id.clone() }),
        conversation: ConversationWrite::none(),
        messages: Vec::new(),
        tickets: Vec::new(),
        feedback: Vec::new(),
        outbox: Vec::new(),
        now,
        cases: Vec::new(),
        requests: Vec::new(),
    }
}

/// When a conversation that `inbound` begins began, for the owner rule: a message's posting
/// time as the platform gave it. Other events carry the time they were received, which is not
/// comparable with posting times.
pub(super) fn began_at(inbound: &Inbound) -> Option<Millis> {
    matches!(inbound.kind, InboundKind::Message { .. }).then_some(inbound.at)
}

/// Whose conversation an event belongs to, and their name: the sender's, except for a ticket
/// filed from someone else's message, which is its author's.
fn requester(inbound: &Inbound) -> (&UserRef, Option<&str>) {
    match &inbound.kind {
        InboundKind::FileTicket { author, author_name, .. } => (author, author_name.as_deref()),
        _ => (&inbound.user, inbound.display_name.as_deref()),
    }
}

/// What an event's commit was worked out from: the conversation's version and the
/// requester's tickets as read with it.
struct EventRead<'a> {
    version: i64,
    tickets: &'a [Ticket],
}

/// How many of a requester's tickets the engine sees (newest first).
const SUMMARY_LIMIT: i64 = 20;

fn summary(t: &Ticket) -> TicketSummary {
    TicketSummary {
        number: t.number,
        queue: t.queue.clone(),
        conversation: t.conversation.clone(),
        title: t.title.clone(),
        status: t.status,
        updated_at: t.updated_at,
        resolved_at: t.resolved_at,
    }
}

fn merge(into: &mut Outcome, from: Outcome) {
    into.ops.extend(from.ops);
    into.outbox.extend(from.outbox);
    into.messages.extend(from.messages);
    if from.kb_draft.is_some() {
        into.kb_draft = from.kb_draft;
    }
}

/// The ticket a `NewTicket` becomes, before the commit gives it a number.
fn provisional_ticket(t: &NewTicket, inbound: &Inbound, now: Millis) -> Ticket {
    Ticket {
        number: TicketNumber(0),
        title: t.title.clone(),
        description: t.description.clone(),
        requester: requester(inbound).0.clone(),
        requester_name: t.requester_name.clone(),
        filed_by: t.filed_by.clone().unwrap_or_else(|| requester(inbound).0.clone()),
        conversation: inbound.conversation.clone(),
        reply_to: inbound.reply_to.clone(),
        intent: t.intent.clone(),
        queue: t.queue.clone(),
        priority: t.priority,
        status: TicketStatus::Open,
        assignee: None,
        fields: t.fields.clone(),
        created_at: now,
        updated_at: now,
        resolved_at: None,
        sla: None,
    }
}
