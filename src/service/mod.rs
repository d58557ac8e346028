//! The inbound pipeline: sanitise and redact the text, then either run the employee's
//! conversation through the pure engine (`employee.rs`) or, for messages in a ticket's
//! thread, the desk workflow (`desk.rs`); everything one event changes is committed in one
//! store transaction (dedupe key, state, transcript, tickets, timers, outbox rows).

mod access;
mod desk;
pub mod directory;
mod employee;
pub mod intake;
pub mod limits;
mod observe;
pub mod oidc;
pub mod portal;
mod request_timers;
pub mod requests;
pub mod reviews;
pub mod router;
pub mod scheduler;

use crate::desk::Desk;
use crate::domain::{Inbound, InboundKind, sanitize_text};
use crate::domain::{Millis, TicketNumber};
use crate::engine::Settings;
use crate::redact::Redactor;
use crate::service::intake::IntakeConfig;
use crate::store::{Commit, CommitOutcome, DynStore, NewOutbox, StoreError};
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::intents::reload::LiveCatalog;
pub use access::GRANTS_MAX_AGE;

pub use crate::domain::{Clock, system_clock};

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
    #[error("no article `{0}`")]
    NoSuchArticle(String),
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
    /// Not for deskbot (people talking to each other in a thread): recorded, nothing changed.
    Ignored,
    /// Someone acted on another person's conversation: recorded, nothing changed; the adapter
    /// shows `note` to them privately (Slack ephemeral message, Discord ephemeral response).
    Refused {
        note: String,
    },
}

/// What failed, in a few fixed words fit for a log line (no database text, no payloads).
pub fn error_kind(err: &ServiceError) -> &'static str {
    match err {
        ServiceError::Store(StoreError::Busy) => "store busy",
        ServiceError::Store(StoreError::Unwritable(_)) => "store unwritable",
        ServiceError::Store(StoreError::Connect(_)) => "store unreachable",
        ServiceError::Store(StoreError::Migrate(_)) => "store migration",
        ServiceError::Store(StoreError::Corrupt(_)) => "stored data invalid",
        ServiceError::Store(StoreError::Database(_)) => "store error",
        ServiceError::Contention(_) => "conversation contention",
        ServiceError::NoSuchTicket(_) => "no such ticket",
        ServiceError::NoSuchArticle(_) => "no such article",
    }
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
    desk: Arc<Desk>,
    redactor: Redactor,
    clock: Clock,
    /// Where draft KB articles from agents' 📖 reactions are written.
    drafts_dir: Option<PathBuf>,
    /// Message length, rate and attachment bounds.
    limits: limits::Limits,
    /// Status reactions and their emoji.
    intake: IntakeConfig,
    /// The grants ledger's active grants, as every permission check reads them.
    grants: access::GrantsCache,
    /// Request channels, answers by DM and grouping: how chat events become inbound events.
    router: router::Router,
    /// The portal's settings, and the base URL its sign-in links point at.
    portal: portal::PortalConfig,
    portal_base: String,
    /// Who manages whom (`[directory]`), for requests' `manager` approval steps.
    directory: Option<Arc<directory::LiveDirectory>>,
    /// `[requests]`: approval timeouts, expiry warnings, review periods.
    requests: crate::desk::requests::RequestsConfig,
}

impl Service {
    pub fn new(
        store: DynStore,
        catalog: LiveCatalog,
        settings: Settings,
        desk: Arc<Desk>,
        redactor: Redactor,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            catalog,
            settings,
            desk,
            redactor,
            clock,
            drafts_dir: None,
            limits: limits::Limits::new(Default::default()),
            intake: IntakeConfig::default(),
            grants: access::GrantsCache::default(),
            router: router::Router::new(IntakeConfig::default()),
            portal: portal::PortalConfig::default(),
            portal_base: portal::base_url(None),
            directory: None,
            requests: Default::default(),
        }
    }

    /// Approval timeouts, expiry warnings and review periods (`[requests]`).
    pub fn with_requests(mut self, cfg: crate::desk::requests::RequestsConfig) -> Self {
        self.requests = cfg;
        self
    }

    /// Read managers from this directory (`[directory] source = "csv:PATH"`).
    pub fn with_directory(mut self, directory: Arc<directory::LiveDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The directory as it is now (empty without `[directory]`).
    pub async fn directory(&self) -> Arc<crate::desk::directory::Directory> {
        match &self.directory {
            Some(d) => d.get().await,
            None => Arc::new(crate::desk::directory::Directory::default()),
        }
    }

    /// The portal's settings and `http.public_url`, where sign-in links point.
    pub fn with_portal(mut self, cfg: portal::PortalConfig, public_url: Option<&str>) -> Self {
        self.portal = cfg;
        self.portal_base = portal::base_url(public_url);
        self
    }

    /// How long after a resolution a reply still reopens the ticket.
    pub fn reopen_window_ms(&self) -> i64 {
        self.settings.reopen_window_ms
    }

    /// The portal's settings.
    pub fn portal(&self) -> &portal::PortalConfig {
        &self.portal
    }

    /// Write draft KB articles under this directory (e.g. `intents/kb/drafts`).
    pub fn with_drafts_dir(mut self, dir: PathBuf) -> Self {
        self.drafts_dir = Some(dir);
        self
    }

    /// Bound message length, rate and attachments (`[limits]`).
    pub fn with_limits(mut self, cfg: crate::compliance::LimitsConfig) -> Self {
        self.limits = limits::Limits::new(cfg);
        self
    }

    /// Status reactions (on by default, for events that carry a `message_id`) and their emoji.
    pub fn with_intake(mut self, intake: IntakeConfig) -> Self {
        self.router = router::Router::new(intake.clone());
        self.intake = intake;
        self
    }

    pub fn store(&self) -> &DynStore {
        &self.store
    }

    pub fn catalog(&self) -> &LiveCatalog {
        &self.catalog
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// `text` as deskbot would store it: sanitised and redacted.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(&sanitize_text(text).0)
    }

    pub fn now(&self) -> Millis {
        (self.clock)()
    }

    /// Text from outside as deskbot may show or keep it anywhere: control characters dropped,
    /// length bounded, personal data redacted (for thread names and the like, made before the
    /// event itself reaches the pipeline).
    pub fn redacted(&self, raw: &str) -> String {
        self.redactor.redact(&sanitize_text(raw).0)
    }

    /// Handle one inbound event end to end (up to the outbox), in a span naming the event's
    /// conversation (and, once known, its ticket).
    pub async fn handle(&self, inbound: Inbound) -> Result<Handled, ServiceError> {
        use tracing::Instrument;
        let span = observe::event_span(&inbound);
        self.handle_event(inbound).instrument(span).await
    }

    async fn handle_event(&self, mut inbound: Inbound) -> Result<Handled, ServiceError> {
        let mut truncated = false;
        // Every text that came from outside is redacted before anything stores or forwards it.
        match &mut inbound.kind {
            InboundKind::Message { text }
            | InboundKind::Reopen { text }
            | InboundKind::FileTicket { text, note: None, .. } => {
                truncated = self.clean(text);
            }
            InboundKind::FileTicket { text, note: Some(note), .. } => {
                truncated = self.clean(text);
                truncated |= self.clean(note);
            }
            InboundKind::Reaction { text: Some(text), .. } | InboundKind::AgentReply { text, .. } => {
                *text = self.redactor.redact(&sanitize_text(text).0);
            }
            InboundKind::Reaction { text: None, .. } | InboundKind::Choice { .. } => {}
        }
        if let Some(number) = self.desk_ticket(&inbound).await? {
            return self.handle_desk(number, &inbound).await;
        }
        let mut notices = Vec::new();
        if truncated {
            notices.push(crate::engine::TRUNCATED_NOTICE.to_string());
        }
        if let Some(kept) = self.limits.bound_attachments(&mut inbound.attachments) {
            notices.push(limits::attachments_notice(kept));
        }
        for a in &mut inbound.attachments {
            a.name = self.redactor.redact(&sanitize_text(&a.name).0);
        }
        self.handle_employee(&inbound, &notices).await
    }

    /// Sanitise, redact and bound text that came from outside, in that order: a number the
    /// length cut would split is redacted whole. Returns whether the text was cut.
    fn clean(&self, text: &mut String) -> bool {
        let (clean, cut) = sanitize_text(text);
        let mut redacted = self.redactor.redact(&clean);
        if cut {
            limits::drop_cut_number(&mut redacted);
        }
        let cut = cut | self.limits.cut(&mut redacted);
        *text = redacted;
        cut
    }

    /// Commit, retrying with a fresh read when another writer changed the conversation.
    async fn commit_with_retry<F, Fut>(&self, mut build: F) -> Result<Handled, ServiceError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Commit>, ServiceError>>,
    {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(commit) = build().await? else { return Ok(Handled::Duplicate) };
            let replies = commit.outbox.len();
            let summary = observe::CommitSummary::of(&commit);
            let started = std::time::Instant::now();
            let outcome = self.store.commit(commit).await?;
            metrics::histogram!("deskbot_store_commit_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            match outcome {
                CommitOutcome::Applied { created } => {
                    for n in &created {
                        tracing::Span::current().record("ticket", tracing::field::display(n));
                        tracing::info!(ticket = %n, "ticket filed");
                    }
                    self.observe(summary).await;
                    return Ok(Handled::Applied { created, replies });
                }
                CommitOutcome::Duplicate => return Ok(Handled::Duplicate),
                CommitOutcome::Conflict => continue,
            }
        }
        Err(ServiceError::Contention(MAX_CONFLICT_RETRIES))
    }
}

/// Outbox rows keyed by the event that produced them: stable across retries of that event.
fn keyed(prefix: &str, messages: Vec<crate::domain::Outbound>) -> Vec<NewOutbox> {
    messages
        .into_iter()
        .enumerate()
        .map(|(i, message)| NewOutbox { key: format!("{prefix}:{i}"), message })
        .collect()
}
