//! The desk side of the pipeline: events in a ticket's thread (agents' messages, card
//! buttons, reactions), resolutions from outside the thread, and fired timers. Each commits
//! against the ticket's own `desk:IT-n` conversation row, so concurrent actions on one ticket
//! are applied one after the other.

use super::{Handled, Service, ServiceError, keyed};
use crate::desk::workflow::{self, Actor, AgentInput, Outcome};
use crate::domain::{Address, Millis, Platform, TicketNumber, UserRef};
use crate::domain::{Inbound, InboundKind};
use crate::store::{Commit, ConversationWrite, EventKey, TicketOp, Timer};
use serde_json::json;

impl Service {
    /// Which ticket's thread (or card) an event belongs to, if any.
    pub(super) async fn desk_ticket(&self, inbound: &Inbound) -> Result<Option<TicketNumber>, ServiceError> {
        let to = &inbound.reply_to;
        let anchor = match &inbound.kind {
            InboundKind::AgentReply { number, .. } => return Ok(Some(*number)),
            InboundKind::Reaction { message, .. } => Some(to.thread.as_deref().unwrap_or(message)),
            InboundKind::Message { .. } | InboundKind::Choice { .. } => to.thread.as_deref(),
            // Always the employee's side, even when asked for inside a ticket's thread.
            InboundKind::FileTicket { .. } | InboundKind::Reopen { .. } => None,
        };
        let Some(anchor) = anchor else { return Ok(None) };
        Ok(self.store.ticket_by_thread(to.platform, &to.channel, anchor).await?)
    }

    pub(super) async fn handle_desk(
        &self,
        number: TicketNumber,
        inbound: &Inbound,
    ) -> Result<Handled, ServiceError> {
        let name = inbound.display_name.clone().unwrap_or_else(|| inbound.user.id.clone());
        let event = EventKey { platform: inbound.user.platform, event_id: inbound.event_id.clone() };
        self.desk_commit(number, Some(event), |access, t, now| {
            let actor = Actor { user: &inbound.user, name: &name, origin: &inbound.reply_to };
            match &inbound.kind {
                InboundKind::Message { text } => {
                    workflow::act(access, t, &actor, AgentInput::Text(text), None, now)
                }
                InboundKind::Choice { id } => {
                    workflow::act(access, t, &actor, AgentInput::Button(id), None, now)
                }
                InboundKind::Reaction { emoji, text, .. } => {
                    let input = AgentInput::Reaction { emoji, text: text.as_deref() };
                    workflow::act(access, t, &actor, input, None, now)
                }
                // `desk_ticket` never sends these here: they are the employee's side.
                InboundKind::FileTicket { .. } | InboundKind::Reopen { .. } => Outcome::default(),
                InboundKind::AgentReply { agent, text, .. } => {
                    let actor = Actor { user: &inbound.user, name: agent, origin: &inbound.reply_to };
                    let cmd = crate::desk::commands::Command::Reply(text.clone());
                    workflow::act(access, t, &actor, AgentInput::Text(""), Some(cmd), now)
                }
            }
        })
        .await
    }

    /// Resolve a ticket from outside its thread (the CLI, an integration): the requester is told
    /// and asked for a rating, in the same transaction as the status change.
    pub async fn resolve_ticket(
        &self,
        number: TicketNumber,
        by: &str,
        message: Option<String>,
    ) -> Result<Handled, ServiceError> {
        let actor = UserRef::new(Platform::System, by);
        let event =
            EventKey { platform: Platform::System, event_id: format!("resolve:{number}:{}", self.now()) };
        self.desk_commit(number, Some(event), |access, t, now| {
            workflow::resolve(access, t, &actor, by, message.clone(), now)
        })
        .await
    }

    /// Fire one due timer, exactly once (its id is the dedupe key).
    pub async fn fire_timer(&self, timer: &Timer) -> Result<Handled, ServiceError> {
        let event = EventKey { platform: Platform::System, event_id: format!("timer:{}", timer.id) };
        let id = timer.id;
        let kind = timer.kind.clone();
        self.desk_commit(timer.ticket, Some(event), move |access, t, now| {
            let mut out = workflow::fire(access, t, &kind, now);
            out.ops.insert(0, TicketOp::TimerFired { id });
            out
        })
        .await
    }

    #[tracing::instrument(name = "ticket", skip_all, fields(ticket = %number))]
    async fn desk_commit<F>(
        &self,
        number: TicketNumber,
        event: Option<EventKey>,
        f: F,
    ) -> Result<Handled, ServiceError>
    where
        F: Fn(&crate::desk::Access, &crate::store::Ticket, Millis) -> Outcome,
    {
        let key = format!("desk:{number}");
        let draft = std::sync::Mutex::new(None);
        let refused = std::sync::Mutex::new(None);
        // A request's fulfilment ticket: once resolved, the request is fulfilled.
        let fulfils = std::sync::atomic::AtomicBool::new(false);
        let result = self
            .commit_with_retry(|| async {
                let t = self.store.ticket(number).await?.ok_or(ServiceError::NoSuchTicket(number))?;
                fulfils.store(t.fields.contains_key("request"), std::sync::atomic::Ordering::Relaxed);
                let version = self.store.load_conversation(&key).await?.map(|c| c.version).unwrap_or(0);
                let now = self.now();
                // Every attempt decides from the ledger as it is now.
                let access = self.access().await?;
                let out = f(&access, &t, now);
                if let Ok(mut d) = draft.lock() {
                    *d = out.kb_draft.clone();
                }
                if let Ok(mut r) = refused.lock() {
                    *r = out.refused.clone();
                }
                let prefix = match &event {
                    Some(e) => format!("{}:{}", e.platform, e.event_id),
                    None => format!("desk:{number}:{now}"),
                };
                // A refusal records the event and changes nothing, not even the desk's row.
                let conversation = match out.refused {
                    Some(_) => ConversationWrite::none(),
                    None => ConversationWrite {
                        key: key.clone(),
                        user: UserRef::new(Platform::System, "desk"),
                        reply_to: Address::new(Platform::System, key.clone()),
                        state: json!({ "ticket": number.0 }),
                        expected_version: version,
                    },
                };
                Ok(Some(Commit {
                    event: event.clone(),
                    conversation,
                    messages: out.messages,
                    tickets: out.ops,
                    feedback: Vec::new(),
                    outbox: keyed(&prefix, out.outbox),
                    now,
                    cases: Vec::new(),
                    requests: Vec::new(),
                }))
            })
            .await?;
        if matches!(result, Handled::Applied { .. })
            && fulfils.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(t) = self.store.ticket(number).await?
        {
            self.ticket_fulfilled(&t).await?;
        }
        let draft = draft.into_inner().ok().flatten();
        if let (Handled::Applied { .. }, Some((title, body))) = (&result, draft) {
            self.write_draft(number, &title, &body).await;
        }
        // Refused by the desk: recorded (the event's dedupe row), nothing changed; the adapter
        // tells the actor privately, the same way as the owner rule's refusals.
        if let (Handled::Applied { .. }, Some(note)) = (&result, refused.into_inner().ok().flatten()) {
            return Ok(Handled::Refused { note });
        }
        Ok(result)
    }

    /// Write a draft KB article for an admin to review; failures are logged, not fatal.
    /// The file is named by the ticket and a counter only (`draft-1001-1.md`: no words of the
    /// title in a file name), readable by its owner only, and recorded in the audit log under
    /// the ticket (`catalogue::KB_DRAFT_WRITTEN`, the path as the detail), which is how
    /// `person export|erase` and the retention purge find it. The log names ticket and path.
    async fn write_draft(&self, number: TicketNumber, title: &str, body: &str) {
        use crate::store::catalogue::{KB_DRAFT_WRITTEN, draft_file_name};
        let Some(dir) = &self.drafts_dir else { return };
        let result = async {
            tokio::fs::create_dir_all(dir).await?;
            // Absolute, so an erasure or a purge run from another directory finds it.
            let dir = std::path::absolute(dir)?;
            // The first free counter (created exclusively: two drafts never share a file).
            for n in 1..=10_000u32 {
                let name = draft_file_name(number, n);
                let id = name.trim_end_matches(".md");
                let text = format!(
                    "+++\nid = \"{id}\"\ntitle = {}\ntags = [\"draft\"]\n+++\n{body}\n\n(Drafted from {number}; review before moving it into the knowledge base.)\n",
                    toml_string(title)
                );
                let path = dir.join(&name);
                let mut open = tokio::fs::OpenOptions::new();
                open.write(true).create_new(true);
                #[cfg(unix)]
                open.mode(0o600);
                match open.open(&path).await {
                    Ok(mut file) => {
                        use tokio::io::AsyncWriteExt;
                        file.write_all(text.as_bytes()).await?;
                        file.flush().await?;
                        return Ok(path);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(std::io::Error::other("no free draft file name"))
        }
        .await;
        let path = match result {
            Ok(path) => path,
            Err(e) => {
                tracing::warn!(ticket = %number, error = %e.kind(), "cannot write draft KB article");
                return;
            }
        };
        tracing::info!(ticket = %number, path = %path.display(), "draft KB article written");
        let entry = crate::store::compliance::NewAuditEntry {
            at: self.now(),
            actor: "desk".into(),
            kind: KB_DRAFT_WRITTEN.into(),
            ticket: Some(number),
            subject: None,
            detail: Some(path.display().to_string()),
        };
        if let Err(e) = self.store.append_audit(&[entry]).await {
            tracing::error!(ticket = %number, path = %path.display(), error = %e, "draft KB article written but not recorded in the audit log");
        }
    }
}

fn toml_string(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => vec![' '],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}
