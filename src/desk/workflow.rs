//! What happens to a ticket, as data: filing (card, transcript, SLA timers), an agent's
//! action in its thread, the employee's messages relayed to it, and status transitions with
//! their SLA and lifecycle timers. Pure: the service commits the [`Outcome`].

use super::access::Access;
use super::cards::{self, card_update, new_card, thread_reply};
use super::commands::{self, Command, ThreadInput};
use super::runtime::{Desk, QueueRuntime};
use super::sla;
use crate::domain::Outbound;
use crate::domain::{Address, Millis, QueueName, TicketStatus, UserRef};
use crate::engine::rating_choices;
use crate::store::{NewMessage, SlaState, Speaker, Ticket, TicketChange, TicketOp, Turn};
use crate::usertext::mark;

pub const FR_REMINDER: &str = "sla_first_response_reminder";
pub const FR_BREACH: &str = "sla_first_response_breach";
pub const RES_REMINDER: &str = "sla_resolution_reminder";
pub const RES_BREACH: &str = "sla_resolution_breach";
pub const PENDING_REMINDER: &str = "pending_reminder";
pub const PENDING_AUTO_RESOLVE: &str = "pending_auto_resolve";
pub const AUTO_CLOSE: &str = "auto_close";

/// Everything one desk event changes.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ops: Vec<TicketOp>,
    pub outbox: Vec<Outbound>,
    pub messages: Vec<NewMessage>,
    /// A draft KB article to write (title, body).
    pub kb_draft: Option<(String, String)>,
    /// The actor may not do this: nothing changed, and they are told this privately.
    pub refused: Option<String>,
}

/// What someone without an active grant for a ticket's queue is told when they act on it.
pub fn refusal(queue: &QueueName) -> String {
    format!("Only agents of the {queue} queue can do that. Nothing was changed.")
}

/// Who acts, from where.
pub struct Actor<'a> {
    pub user: &'a UserRef,
    pub name: &'a str,
    pub origin: &'a Address,
}

/// What an agent did.
pub enum AgentInput<'a> {
    Text(&'a str),
    Button(&'a str),
    Reaction { emoji: &'a str, text: Option<&'a str> },
}

struct Ctx<'d> {
    desk: &'d Desk,
    t: Ticket,
    now: Millis,
    out: Outcome,
    card_changed: bool,
    /// The webhook event this outcome announces, if any.
    event: Option<&'static str>,
}

impl<'d> Ctx<'d> {
    fn new(desk: &'d Desk, t: &Ticket, now: Millis) -> Self {
        Ctx { desk, t: t.clone(), now, out: Outcome::default(), card_changed: false, event: None }
    }

    fn queue(&self) -> Option<&'d QueueRuntime> {
        self.desk.queue(&self.t.queue)
    }

    fn thread(&mut self, text: impl Into<String>) {
        let text = text.into();
        for to in self.queue().map(QueueRuntime::channels).unwrap_or_default() {
            self.out.outbox.push(thread_reply(to, self.t.number, text.clone()));
        }
    }

    fn tell_requester(&mut self, text: impl Into<String>, choices: Vec<crate::domain::Choice>) {
        self.out
            .outbox
            .push(Outbound::message(self.t.reply_to.clone(), text, choices).about_ticket(self.t.number));
    }

    /// An agent's words in the ticket's transcript, attributed to them.
    fn record(&mut self, actor: &Actor<'_>, text: &str, internal: bool) {
        let from = Speaker::Agent(actor.name.to_string());
        let turn = Turn { from, text: text.to_string(), at: self.now, by: Some(actor.user.clone()) };
        self.out.messages.push(NewMessage { turn, ticket: Some(self.t.number), internal });
    }

    fn change(&mut self, actor: &str, change: TicketChange) {
        match &change {
            TicketChange::Assignee(a) => self.t.assignee = a.clone(),
            TicketChange::Priority(p) => self.t.priority = *p,
            TicketChange::Queue(q) => self.t.queue = q.clone(),
            TicketChange::Sla(s) => self.t.sla = Some(s.clone()),
        }
        self.out.ops.push(TicketOp::Change { number: self.t.number, actor: actor.to_string(), change });
        self.card_changed = true;
    }

    fn schedule(&mut self, kind: &str, due_at: Option<Millis>) {
        if let Some(due_at) = due_at {
            self.out.ops.push(TicketOp::Schedule { number: self.t.number, kind: kind.to_string(), due_at });
        }
    }

    fn cancel(&mut self, kinds: &[&str]) {
        let kinds = kinds.iter().map(|k| k.to_string()).collect();
        self.out.ops.push(TicketOp::CancelTimers { number: self.t.number, kinds });
    }

    /// Start SLA clocks from `from` for the ticket's priority in its queue.
    fn start_sla(&mut self, from: Millis, keep_first_response: bool) {
        let Some(q) = self.queue() else { return };
        let due = q.sla.due(self.t.priority, from, &q.hours);
        if due.first_response.is_none() && due.resolution.is_none() {
            return;
        }
        let old = self.t.sla.clone().unwrap_or_default();
        let fr_done = keep_first_response && old.first_response_at.is_some();
        let state = SlaState {
            first_response_due: if fr_done { old.first_response_due } else { due.first_response },
            resolution_due: due.resolution,
            first_response_at: if keep_first_response { old.first_response_at } else { None },
            paused_remaining_ms: None,
        };
        self.change("deskbot", TicketChange::Sla(state));
        if !fr_done {
            self.schedule(FR_REMINDER, due.first_response_reminder);
            self.schedule(FR_BREACH, due.first_response);
        }
        self.schedule(RES_REMINDER, due.resolution_reminder);
        self.schedule(RES_BREACH, due.resolution);
    }

    /// Move to `status`, with everything the lifecycle attaches to it.
    fn transition(&mut self, status: TicketStatus, actor: &str, note: Option<String>) {
        let old = self.t.status;
        if old == status {
            return;
        }
        self.out.ops.push(TicketOp::SetStatus {
            number: self.t.number,
            status,
            actor: actor.to_string(),
            note,
        });
        self.t.status = status;
        self.card_changed = true;
        if status == TicketStatus::Resolved {
            self.event = Some("ticket.resolved");
        }
        let s = self.desk.settings.clone();
        match status {
            TicketStatus::Pending => {
                self.cancel(&[RES_REMINDER, RES_BREACH]);
                if let (Some(q), Some(mut state)) = (self.queue(), self.t.sla.clone())
                    && let Some(due) = state.resolution_due
                {
                    state.paused_remaining_ms = Some(sla::remaining(due, self.now, &q.hours));
                    self.change("deskbot", TicketChange::Sla(state));
                }
                self.schedule(PENDING_REMINDER, Some(self.now + hours_ms(s.pending_reminder_hours)));
                self.schedule(
                    PENDING_AUTO_RESOLVE,
                    Some(self.now + hours_ms(s.pending_auto_resolve_days * 24.0)),
                );
            }
            TicketStatus::Open => {
                self.cancel(&[PENDING_REMINDER, PENDING_AUTO_RESOLVE, AUTO_CLOSE]);
                let paused = self.t.sla.as_ref().and_then(|s| s.paused_remaining_ms);
                match (old, paused, self.queue()) {
                    (TicketStatus::Pending, Some(left), Some(q)) => {
                        let due = sla::resume(left, self.now, &q.hours);
                        let mut state = self.t.sla.clone().unwrap_or_default();
                        state.resolution_due = Some(due);
                        state.paused_remaining_ms = None;
                        self.change("deskbot", TicketChange::Sla(state));
                        self.schedule(RES_BREACH, Some(due));
                    }
                    (TicketStatus::Resolved | TicketStatus::Closed, _, _) => self.start_sla(self.now, true),
                    _ => {}
                }
            }
            TicketStatus::Resolved => {
                self.cancel(&[]);
                self.schedule(AUTO_CLOSE, Some(self.now + self.desk.reopen_window_ms));
            }
            TicketStatus::Closed => self.cancel(&[]),
        }
    }

    /// Queue the webhook event for every webhook that wants it.
    fn announce(&mut self) {
        let event = match self.event {
            Some(e) => e,
            None if self.card_changed => "ticket.updated",
            None => return,
        };
        let body = serde_json::json!({ "event": event, "at": self.now, "ticket": self.t });
        for w in self.desk.webhooks.iter().filter(|w| w.wants(event)) {
            let to = Address::new(crate::domain::Platform::Webhook, w.name.clone());
            let kind = crate::domain::OutboundKind::Webhook { event: event.to_string(), body: body.clone() };
            self.out.outbox.push(Outbound {
                to,
                text: format!("{event} {}", self.t.number),
                choices: Vec::new(),
                kind,
                about: Default::default(),
            });
        }
    }

    fn finish(mut self) -> Outcome {
        self.announce();
        if self.card_changed {
            let t = self.t.clone();
            for to in self.queue().map(QueueRuntime::channels).unwrap_or_default() {
                self.out.outbox.push(card_update(to, &t));
            }
        }
        self.out
    }
}

fn hours_ms(h: f64) -> i64 {
    (h * 3_600_000.0) as i64
}

/// A ticket was just filed (`t.number` is `TicketNumber(0)`, filled in by the commit): post
/// its card and the transcript, start SLA clocks, and assign it if the queue auto-assigns.
/// A ticket was filed. `filer_name` names whoever filed it from the requester's message, when
/// that was someone else (`t.filed_by`).
pub fn on_filed(
    desk: &Desk,
    t: &Ticket,
    turns: &[Turn],
    filer_name: Option<&str>,
    assignee: Option<UserRef>,
    now: Millis,
) -> Outcome {
    let mut c = Ctx::new(desk, t, now);
    if let Some(a) = assignee {
        c.change("deskbot", TicketChange::Assignee(Some(a.to_string())));
    }
    c.start_sla(now, false);
    let t = c.t.clone();
    for to in c.queue().map(QueueRuntime::channels).unwrap_or_default() {
        c.out.outbox.push(new_card(to, &t));
    }
    let mut transcript = cards::transcript_text(turns, &t.description);
    if t.filed_by != t.requester {
        let filer = filer_name.map(str::to_string).unwrap_or_else(|| t.filed_by.to_string());
        let requester = t.requester_name.clone().unwrap_or_else(|| t.requester.to_string());
        transcript = format!("Filed by {filer} for {requester}.\n{transcript}");
    }
    c.thread(transcript);
    c.card_changed = false;
    c.event = Some("ticket.created");
    c.announce();
    c.out
}

/// The employee wrote while their ticket is active: the message goes to the thread.
pub fn relay_from_requester(desk: &Desk, t: &Ticket, text: &str, now: Millis) -> Outcome {
    let mut c = Ctx::new(desk, t, now);
    let who = t.requester_name.clone().unwrap_or_else(|| t.requester.to_string());
    c.thread(format!("💬 {}: {}", mark(&who), mark(text)));
    c.out
}

/// The employee's own status change (reopen by reply, reply to a pending ticket): the same
/// lifecycle as an agent's, so SLA clocks and timers follow.
pub fn requester_status(
    desk: &Desk,
    t: &Ticket,
    status: TicketStatus,
    note: Option<String>,
    now: Millis,
) -> Outcome {
    let mut c = Ctx::new(desk, t, now);
    c.transition(status, "requester", note);
    if status == TicketStatus::Open && t.status == TicketStatus::Resolved {
        c.thread(format!("🔁 {} reopened by the requester", t.number));
    }
    c.finish()
}

/// A ticket resolved from outside its thread (CLI, integrations).
pub fn resolve(
    access: &Access,
    t: &Ticket,
    actor: &UserRef,
    name: &str,
    message: Option<String>,
    now: Millis,
) -> Outcome {
    let origin = t.reply_to.clone();
    act(
        access,
        t,
        &Actor { user: actor, name, origin: &origin },
        AgentInput::Text(""),
        Some(Command::Resolve(message)),
        now,
    )
}

/// An agent's message, button, reaction or form in a ticket's thread. `command` overrides
/// parsing. Whoever holds no active grant for the ticket's queue (see `access.rs`) gets a short
/// private note and nothing changes: no command, no note in the transcript, no draft.
pub fn act(
    access: &Access,
    t: &Ticket,
    actor: &Actor<'_>,
    input: AgentInput<'_>,
    command: Option<Command>,
    now: Millis,
) -> Outcome {
    let desk = access.desk();
    let mut c = Ctx::new(desk, t, now);
    let meaningful = match &input {
        AgentInput::Reaction { emoji, .. } => {
            let s = &desk.settings;
            let e: &str = emoji;
            command.is_some() || e == s.claim_emoji || e == s.resolve_emoji || e == s.kb_draft_emoji
        }
        AgentInput::Text(_) | AgentInput::Button(_) => true,
    };
    if !meaningful {
        // Any other emoji is just a reaction.
        return c.finish();
    }
    if !access.may_act(&t.queue, actor.user, actor.origin) {
        c.out.refused = Some(refusal(&t.queue));
        return c.finish();
    }
    let s = &desk.settings;
    let relay = c.queue().map(|q| q.cfg.relay).unwrap_or_default();
    let parsed: Result<ThreadInput, String> = match (command, input) {
        (Some(cmd), _) => Ok(ThreadInput::Command(cmd)),
        (None, AgentInput::Text(text)) => commands::parse(text, actor.user.platform, relay, s),
        (None, AgentInput::Button(id)) => match id {
            cards::CLAIM => Ok(ThreadInput::Command(Command::Claim)),
            cards::RESOLVE => Ok(ThreadInput::Command(Command::Resolve(None))),
            _ => Err("That button is not available here.".into()),
        },
        (None, AgentInput::Reaction { emoji, text }) => {
            if emoji == s.claim_emoji {
                Ok(ThreadInput::Command(Command::Claim))
            } else if emoji == s.resolve_emoji {
                Ok(ThreadInput::Command(Command::Resolve(None)))
            } else if emoji == s.kb_draft_emoji {
                let body = text.unwrap_or("").trim().to_string();
                if !body.is_empty() {
                    c.out.kb_draft = Some((t.title.clone(), body));
                    c.thread(format!(
                        "📖 {} saved that answer as a draft KB article for review.",
                        mark(actor.name)
                    ));
                }
                return c.finish();
            } else {
                return c.finish();
            }
        }
    };
    let input = match parsed {
        Ok(i) => i,
        Err(help) => {
            c.thread(help);
            return c.finish();
        }
    };
    if let ThreadInput::Note(text) = &input {
        if !text.is_empty() {
            c.record(actor, text, true);
        }
        return c.finish();
    }
    let ThreadInput::Command(cmd) = input else { return c.finish() };
    command_effects(&mut c, access, actor, cmd);
    c.finish()
}

fn command_effects(c: &mut Ctx<'_>, access: &Access, actor: &Actor<'_>, cmd: Command) {
    let who = actor.user.to_string();
    let n = c.t.number;
    match cmd {
        Command::Help => c.thread(commands::HELP),
        Command::Claim => {
            c.change(&who, TicketChange::Assignee(Some(who.clone())));
            c.thread(format!("👀 {} claimed {n}", mark(actor.name)));
        }
        Command::Assign(agent) => {
            if !access.assignable(&c.t.queue, &agent) {
                return c.thread(format!("{agent} is not an agent of the {} queue.", c.t.queue));
            }
            c.change(&who, TicketChange::Assignee(Some(agent.to_string())));
            c.thread(format!("{} assigned {n} to {}", mark(actor.name), mark(&agent.to_string())));
        }
        Command::Unassign => {
            c.change(&who, TicketChange::Assignee(None));
            c.thread(format!("{} unassigned {n}", mark(actor.name)));
        }
        Command::Priority(p) => {
            c.change(&who, TicketChange::Priority(p));
            if c.t.status == TicketStatus::Open {
                c.cancel(&[FR_REMINDER, FR_BREACH, RES_REMINDER, RES_BREACH]);
                let created = c.t.created_at;
                c.start_sla(created, true);
            }
            c.thread(format!("{} set the priority of {n} to {p}", mark(actor.name)));
        }
        Command::Transfer(q) => {
            if !c.desk.queues.contains_key(&q) {
                let known: Vec<String> = c.desk.queues.keys().map(|k| k.to_string()).collect();
                return c.thread(format!("There is no queue `{q}` (known: {}).", known.join(", ")));
            }
            c.thread(format!("➡️ {} transferred {n} to {q}", mark(actor.name)));
            c.change(&who, TicketChange::Queue(q));
            c.change(&who, TicketChange::Assignee(None));
            c.cancel(&[FR_REMINDER, FR_BREACH, RES_REMINDER, RES_BREACH]);
            let created = c.t.created_at;
            c.start_sla(created, true);
            let t = c.t.clone();
            for to in c.queue().map(QueueRuntime::channels).unwrap_or_default() {
                c.out.outbox.push(new_card(to, &t));
            }
            c.card_changed = false;
            c.thread(format!(
                "Transferred from another queue by {}: {}",
                mark(actor.name),
                mark(&t.description)
            ));
        }
        Command::Pending(msg) => {
            c.transition(TicketStatus::Pending, &who, msg.clone());
            let text = match &msg {
                Some(m) => format!("{} (IT) on {n}: {m}\nThe IT team is waiting for your reply.", actor.name),
                None => format!("The IT team is waiting for your reply on {n}. Just answer here."),
            };
            c.record(actor, &text, false);
            c.tell_requester(text, Vec::new());
            c.thread(format!("⏸ {} set {n} to pending", mark(actor.name)));
        }
        Command::Resolve(msg) => {
            if c.t.status == TicketStatus::Resolved {
                return c.thread(format!("{n} is already resolved."));
            }
            c.transition(TicketStatus::Resolved, &who, msg.clone());
            let text = crate::engine::resolved_notice(&n.to_string(), actor.name, msg.as_deref());
            c.record(actor, &text, false);
            c.tell_requester(text, rating_choices());
            c.thread(format!("✅ {} resolved {n}", mark(actor.name)));
        }
        Command::Reopen => {
            c.transition(TicketStatus::Open, &who, None);
            c.thread(format!("🔁 {} reopened {n}", mark(actor.name)));
        }
        Command::Close => {
            c.transition(TicketStatus::Closed, &who, None);
            c.thread(format!("{} closed {n}", mark(actor.name)));
        }
        Command::Reply(text) => {
            let msg = format!("{} (IT) on {n}: {text}", actor.name);
            c.record(actor, &text, false);
            c.tell_requester(msg, Vec::new());
            let mut state = c.t.sla.clone().unwrap_or_default();
            if state.first_response_at.is_none() && c.t.sla.is_some() {
                state.first_response_at = Some(c.now);
                c.change(&who, TicketChange::Sla(state));
                c.cancel(&[FR_REMINDER, FR_BREACH]);
            }
            if c.t.assignee.is_none() {
                c.change(&who, TicketChange::Assignee(Some(who.clone())));
            }
            c.thread(format!("↩️ {} replied to the requester", mark(actor.name)));
        }
    }
}

/// A timer fired for `t`.
pub fn fire(access: &Access, t: &Ticket, kind: &str, now: Millis) -> Outcome {
    let mut c = Ctx::new(access.desk(), t, now);
    let n = t.number;
    let assignee = t.assignee.clone().unwrap_or_else(|| "the queue".to_string());
    match kind {
        FR_REMINDER if t.status.is_active() => {
            c.thread(format!("⏰ {assignee}: {n} needs a first response soon."))
        }
        RES_REMINDER if t.status == TicketStatus::Open => {
            c.thread(format!("⏰ {assignee}: {n} is due for resolution soon."))
        }
        FR_BREACH | RES_BREACH if t.status.is_active() => {
            let what = if kind == FR_BREACH { "first response" } else { "resolution" };
            c.out.ops.push(TicketOp::Audit {
                number: n,
                kind: "sla_breach".into(),
                actor: "deskbot".into(),
                detail: Some(what.into()),
            });
            let leads: Vec<UserRef> = access.leads(&t.queue);
            let mention: Vec<String> = leads.iter().map(|l| l.to_string()).collect();
            c.thread(format!(
                "🚨 {n} breached its {what} SLA. Leads: {}",
                if mention.is_empty() { "none configured".to_string() } else { mention.join(", ") }
            ));
            for lead in leads {
                let to = Address::person(lead.platform, &lead.id);
                // It quotes the title: about the ticket, for an erasure and the purge.
                c.out.outbox.push(
                    Outbound::message(
                        to,
                        format!("🚨 {n} ({}) in {} breached its {what} SLA.", mark(&t.title), t.queue),
                        Vec::new(),
                    )
                    .about_ticket(n),
                );
            }
        }
        PENDING_REMINDER if t.status == TicketStatus::Pending => {
            c.tell_requester(
                format!("Reminder: the IT team is waiting for your reply on {n} ({}).", mark(&t.title)),
                Vec::new(),
            );
        }
        PENDING_AUTO_RESOLVE if t.status == TicketStatus::Pending => {
            c.transition(TicketStatus::Resolved, "deskbot", Some("no reply from the requester".into()));
            let text = crate::engine::resolved_notice(
                &n.to_string(),
                "deskbot",
                Some("We didn't hear back, so we've resolved this. Reply to reopen it."),
            );
            c.tell_requester(text, rating_choices());
            c.thread(format!("✅ {n} resolved automatically: no reply from the requester"));
        }
        AUTO_CLOSE if t.status == TicketStatus::Resolved => {
            c.transition(TicketStatus::Closed, "deskbot", Some("reopen window passed".into()))
        }
        _ => {}
    }
    c.finish()
}
