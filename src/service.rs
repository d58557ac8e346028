//! The inbound pipeline: sanitise and redact the text, load the conversation, run the pure
//! engine against the live catalog, and commit everything the event changed in one store
//! transaction (dedupe key, state, transcript, tickets, feedback, outbox rows).

use crate::channel::{Inbound, InboundKind, Outbound, TicketSummary, sanitize_text};
use crate::domain::{Millis, TicketNumber};
use crate::engine::{self, Action, ConversationState, Settings};
use crate::redact::Redactor;
use crate::store::{
    Commit, CommitOutcome, ConversationWrite, DynStore, EventKey, NewMessage, NewOutbox, Speaker, StoreError,
    TicketFilter, TicketOp, Turn,
};
use std::sync::Arc;

pub use crate::intents::reload::LiveCatalog;

/// Where "now" comes from; tests inject a fixed or stepping clock.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

/// How many times a commit is retried when another writer changed the conversation first.
const MAX_CONFLICT_RETRIES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the conversation kept changing under concurrent events; gave up after {0} tries")]
    Contention(usize),
    #[error("ticket {0} does not exist")]
    NoSuchTicket(TicketNumber),
}

/// What handling an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Applied {
        created: Vec<TicketNumber>,
        replies: usize,
    },
    /// Seen before: nothing changed, nothing sent.
    Duplicate,
}

/// The text an employee sees when something failed on our side. Raw database or network
/// errors are logged, never shown in chat.
pub fn safe_reply(err: &ServiceError) -> &'static str {
    match err {
        ServiceError::Store(StoreError::Busy) | ServiceError::Contention(_) => {
            "Sorry, I'm very busy right now. Please send that again in a minute."
        }
        _ => "Sorry, something went wrong on my side and your message was not saved. Please try again later.",
    }
}

pub struct Service {
    store: DynStore,
    catalog: LiveCatalog,
    settings: Settings,
    redactor: Redactor,
    clock: Clock,
}

impl Service {
    pub fn new(
        store: DynStore,
        catalog: LiveCatalog,
        settings: Settings,
        redactor: Redactor,
        clock: Clock,
    ) -> Self {
        Self { store, catalog, settings, redactor, clock }
    }

    pub fn store(&self) -> &DynStore {
        &self.store
    }

    pub fn catalog(&self) -> &LiveCatalog {
        &self.catalog
    }

    pub fn now(&self) -> Millis {
        (self.clock)()
    }

    /// Handle one inbound event end to end (up to the outbox).
    pub async fn handle(&self, mut inbound: Inbound) -> Result<Handled, ServiceError> {
        let mut truncated = false;
        if let InboundKind::Message { text } = &mut inbound.kind {
            let (clean, cut) = sanitize_text(text);
            truncated = cut;
            *text = self.redactor.redact(&clean);
        }
        for _ in 0..MAX_CONFLICT_RETRIES {
            let stored = self.store.load_conversation(&inbound.conversation).await?;
            let (state, version) = match &stored {
                Some(c) => match serde_json::from_value::<ConversationState>(c.state.clone()) {
                    Ok(s) => (s, c.version),
                    Err(e) => {
                        tracing::warn!(conversation = %inbound.conversation, error = %e, "unreadable conversation state; starting over");
                        (ConversationState::default(), c.version)
                    }
                },
                None => (ConversationState::default(), 0),
            };
            let tickets = self.ticket_summaries(&inbound).await?;
            let now = self.now();
            let catalog = self.catalog.load();
            let ctx = engine::Context {
                catalog: &catalog,
                now,
                tickets: &tickets,
                settings: &self.settings,
                display_name: inbound.display_name.as_deref(),
            };
            let step = engine::step(&state, &inbound, &ctx);
            let commit = to_commit(&inbound, step, version, now, truncated)?;
            let replies = commit.outbox.len();
            match self.store.commit(commit).await? {
                CommitOutcome::Applied { created } => {
                    for n in &created {
                        tracing::info!(ticket = %n, conversation = %inbound.conversation, "ticket filed");
                    }
                    return Ok(Handled::Applied { created, replies });
                }
                CommitOutcome::Duplicate => {
                    tracing::debug!(event = %inbound.event_id, "duplicate event ignored");
                    return Ok(Handled::Duplicate);
                }
                CommitOutcome::Conflict => continue,
            }
        }
        Err(ServiceError::Contention(MAX_CONFLICT_RETRIES))
    }

    async fn ticket_summaries(&self, inbound: &Inbound) -> Result<Vec<TicketSummary>, StoreError> {
        let filter =
            TicketFilter { requester: Some(inbound.user.clone()), limit: 20, ..TicketFilter::default() };
        Ok(self
            .store
            .tickets(&filter)
            .await?
            .into_iter()
            .map(|t| TicketSummary {
                number: t.number,
                title: t.title,
                status: t.status,
                updated_at: t.updated_at,
                resolved_at: t.resolved_at,
            })
            .collect())
    }

    /// Resolve a ticket on behalf of the desk: the requester is told and asked for a rating,
    /// in the same transaction as the status change.
    pub async fn resolve_ticket(
        &self,
        number: TicketNumber,
        by: &str,
        message: Option<String>,
    ) -> Result<Handled, ServiceError> {
        let ticket = self.store.ticket(number).await?.ok_or(ServiceError::NoSuchTicket(number))?;
        let now = self.now();
        self.handle(Inbound {
            event_id: format!("resolve:{number}:{now}"),
            user: ticket.requester,
            display_name: ticket.requester_name,
            conversation: ticket.conversation,
            reply_to: ticket.reply_to,
            kind: InboundKind::TicketResolved { number, by: by.to_string(), message },
            at: now,
        })
        .await
    }
}

/// Turn the engine's actions into one store commit.
fn to_commit(
    inbound: &Inbound,
    step: engine::Step,
    version: i64,
    now: Millis,
    truncated: bool,
) -> Result<Commit, StoreError> {
    let state = serde_json::to_value(&step.state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut messages = Vec::new();
    let line = |from: Speaker, text: &str| NewMessage {
        turn: Turn { from, text: text.to_string(), at: now },
        ticket: None,
        internal: false,
    };
    match &inbound.kind {
        InboundKind::Message { text } => messages.push(line(Speaker::Employee, text)),
        InboundKind::Choice { id } => messages.push(line(Speaker::Employee, &format!("[{id}]"))),
        InboundKind::AgentReply { agent, text, .. } => {
            messages.push(line(Speaker::Agent(agent.clone()), text))
        }
        InboundKind::TicketResolved { .. } => {}
    }
    let mut tickets = Vec::new();
    let mut feedback = Vec::new();
    let mut outbox = Vec::new();
    let mut reply = |text: String, choices| {
        messages.push(line(Speaker::Bot, &text));
        let key = format!("{}:{}:{}", inbound.user.platform, inbound.event_id, outbox.len());
        outbox.push(NewOutbox { key, message: Outbound::message(inbound.reply_to.clone(), text, choices) });
    };
    if truncated {
        reply(crate::engine::TRUNCATED_NOTICE.to_string(), Vec::new());
    }
    for action in step.actions {
        match action {
            Action::Reply { text, choices } => reply(text, choices),
            Action::FileTicket(t) => tickets.push(TicketOp::Create(t)),
            Action::SetTicketStatus { number, status, actor, note } => {
                tickets.push(TicketOp::SetStatus { number, status, actor, note })
            }
            Action::Rate { number, score } => tickets.push(TicketOp::Csat { number, score, comment: None }),
            Action::Feedback(f) => feedback.push(f),
        }
    }
    Ok(Commit {
        event: Some(EventKey { platform: inbound.user.platform, event_id: inbound.event_id.clone() }),
        conversation: ConversationWrite {
            key: inbound.conversation.clone(),
            user: inbound.user.clone(),
            reply_to: inbound.reply_to.clone(),
            state,
            expected_version: version,
        },
        messages,
        tickets,
        feedback,
        outbox,
        now,
    })
}
