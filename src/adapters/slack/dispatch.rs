//! One entry per kind of Slack payload, shared by Socket Mode and the Events API: push events
//! (messages, mentions, reactions, App Home), interactions (buttons, the "Create ticket"
//! shortcut and its modal, a card's "Reply to requester" and its modal) and the slash
//! command. Payloads deskbot does not use are logged and acknowledged; nothing here panics on
//! odd input.

use super::blocks::{
    CREATE_TICKET_SHORTCUT, REPLY_BLOCK, REPLY_INPUT, REPLY_MODAL, TICKET_BLOCK, TICKET_INPUT, TICKET_MODAL,
    reply_modal, ticket_modal,
};
use super::calls::bounded;
use super::handler::{HandleError, Handler, Msg, dm_conversation, thread_conversation, ts_millis};
use crate::desk::cards;
use crate::domain::{Address, Platform, TicketNumber};
use crate::domain::{Attachment, InboundKind};
use crate::service::ServiceError;
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::*;
use std::sync::Arc;

/// Which message a ticket filed from the modal comes from; travels as the modal's
/// `private_metadata`. It names the message only: its author and text are fetched from Slack
/// again on submission, and anything else the metadata claims is ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ModalOrigin {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

/// Which card a "Reply to requester" modal answers; travels as its `private_metadata`. It
/// names *what* the reply is for and is checked against the store on submission; who replies
/// is always the submitting user.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReplyOrigin {
    channel: String,
    /// The card's `ts` (the ticket's thread).
    ts: String,
    ticket: i64,
}

fn files(content: Option<&SlackMessageContent>) -> Vec<Attachment> {
    content
        .and_then(|c| c.files.as_ref())
        .map(|fs| {
            fs.iter()
                .map(|f| Attachment {
                    name: f.name.clone().or_else(|| f.title.clone()).unwrap_or_else(|| f.id.to_string()),
                    // slack-morphism's file model drops Slack's `size`; 0 means unknown.
                    size: 0,
                    url: f.url_private.as_ref().or(f.permalink.as_ref()).map(|u| u.to_string()),
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Handler {
    /// An `event_callback`, from either transport.
    pub async fn push(self: &Arc<Self>, ev: SlackPushEventCallback) -> Result<(), HandleError> {
        let at = ev.event_time.0.as_millisecond();
        match ev.event {
            SlackEventCallbackBody::Message(m) => {
                use SlackMessageEventType as T;
                if !matches!(
                    m.subtype,
                    None | Some(T::FileShare) | Some(T::ThreadBroadcast) | Some(T::MeMessage)
                ) {
                    return Ok(());
                }
                let Some(user) = m.sender.user.as_ref().map(|u| u.to_string()) else { return Ok(()) };
                let bot_id = m.sender.bot_id.as_ref().map(|b| b.to_string());
                if m.sender.bot_id.is_some() || self.is_self(Some(&user), bot_id.as_deref()) {
                    return Ok(());
                }
                let Some(channel) = m.origin.channel.as_ref().map(|c| c.to_string()) else { return Ok(()) };
                let ts = m.origin.ts.to_string();
                let thread = m.origin.thread_ts.as_ref().map(|t| t.to_string());
                let is_dm =
                    m.origin.channel_type.as_ref().is_some_and(|t| t.0 == "im") || channel.starts_with('D');
                let msg = Msg {
                    channel: &channel,
                    ts: &ts,
                    thread_ts: thread.as_deref(),
                    user: &user,
                    text: m.content.as_ref().and_then(|c| c.text.clone()).unwrap_or_default(),
                    is_dm,
                    files: files(m.content.as_ref()),
                };
                self.on_message(msg, ts_millis(&ts).unwrap_or(at)).await
            }
            SlackEventCallbackBody::AppMention(m) => {
                let user = m.user.to_string();
                if self.is_self(Some(&user), None) {
                    return Ok(());
                }
                let channel = m.channel.to_string();
                let ts = m.origin.ts.to_string();
                let thread = m.origin.thread_ts.as_ref().map(|t| t.to_string());
                let msg = Msg {
                    channel: &channel,
                    ts: &ts,
                    thread_ts: thread.as_deref(),
                    user: &user,
                    text: m.content.text.clone().unwrap_or_default(),
                    is_dm: false,
                    files: files(Some(&m.content)),
                };
                self.on_mention(msg, ts_millis(&ts).unwrap_or(at)).await
            }
            SlackEventCallbackBody::ReactionAdded(r) => {
                let SlackReactionsItem::Message(item) = &r.item else { return Ok(()) };
                let Some(channel) = item.origin.channel.as_ref().map(|c| c.to_string()) else {
                    return Ok(());
                };
                let ts = item.origin.ts.to_string();
                let item_user = r.item_user.as_ref().map(|u| u.to_string());
                self.on_reaction(r.user.as_ref(), &r.reaction.0, &channel, &ts, item_user.as_deref(), at)
                    .await
            }
            SlackEventCallbackBody::AppHomeOpened(h) => {
                // Published before the event is acknowledged: a failure means Slack sends it again.
                if h.tab.as_deref().is_none_or(|t| t == "home") {
                    self.publish_home(h.user.as_ref()).await?;
                }
                Ok(())
            }
            SlackEventCallbackBody::Unknown(v) => {
                tracing::debug!(kind = %v.get("type").and_then(|t| t.as_str()).unwrap_or("?"), "slack event not used");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Buttons, the message shortcut and the ticket modal.
    pub async fn interaction(
        &self,
        ev: SlackInteractionEvent,
    ) -> Result<SlackInteractionResponse, HandleError> {
        match ev {
            SlackInteractionEvent::BlockActions(b) => {
                self.on_block_actions(b).await?;
                Ok(SlackInteractionResponse::Empty)
            }
            SlackInteractionEvent::MessageAction(a) if a.callback_id.0 == CREATE_TICKET_SHORTCUT => {
                let origin = ModalOrigin {
                    channel: a.channel.as_ref().map(|c| c.id.to_string()),
                    ts: a.message.as_ref().map(|m| m.origin.ts.to_string()),
                };
                let text = a.message.as_ref().and_then(|m| m.content.text.clone()).unwrap_or_default();
                self.open_modal(&a.trigger_id, Some(&text), &origin).await?;
                Ok(SlackInteractionResponse::Empty)
            }
            SlackInteractionEvent::Shortcut(s) if s.callback_id.0 == CREATE_TICKET_SHORTCUT => {
                self.open_modal(&s.trigger_id, None, &ModalOrigin::default()).await?;
                Ok(SlackInteractionResponse::Empty)
            }
            SlackInteractionEvent::ViewSubmission(v) => match self.on_view_submission(v).await? {
                None => Ok(SlackInteractionResponse::Empty),
                Some(problem) => {
                    let errors = std::collections::HashMap::from([(TICKET_BLOCK.to_string(), problem)]);
                    Ok(SlackInteractionResponse::ViewSubmission(SlackViewSubmissionResponse::Errors(
                        SlackViewSubmissionErrorsResponse::new(errors),
                    )))
                }
            },
            other => {
                tracing::debug!(kind = ?std::mem::discriminant(&other), "slack interaction not used");
                Ok(SlackInteractionResponse::Empty)
            }
        }
    }

    /// The "Create ticket" modal: for a message (`quoted`), shown as it is with room for a
    /// note; without one, a form for the person's own problem.
    async fn open_modal(
        &self,
        trigger: &SlackTriggerId,
        quoted: Option<&str>,
        origin: &ModalOrigin,
    ) -> Result<(), HandleError> {
        let meta = serde_json::to_string(origin)
            .map_err(|_| HandleError::Slack("modal origin not encodable".into()))?;
        let quoted = quoted.map(|t| self.service.redact(t));
        let view = ticket_modal(quoted.as_deref(), &meta).map_err(HandleError::Slack)?;
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsOpenRequest::new(trigger.clone(), view);
        // The trigger expires in 3 s: a failed open cannot be retried later, so it is logged.
        if let Err(e) = bounded(self.api_timeout, session.views_open(&req)).await {
            tracing::warn!(error = %e.kind(), "views.open failed");
        }
        Ok(())
    }

    /// The modal was submitted. The filer is the interaction's user; for a message, its author
    /// (the requester) and its text (the description) are fetched from Slack by channel and
    /// ts, and what the filer typed becomes their note. Returns a problem to show in the modal
    /// when nothing was filed.
    async fn on_view_submission(
        &self,
        v: SlackInteractionViewSubmissionEvent,
    ) -> Result<Option<String>, HandleError> {
        let (callback, meta) = match &v.view.view {
            SlackView::Modal(m) => (m.callback_id.as_ref().map(|c| c.0.clone()), m.private_metadata.clone()),
            SlackView::Home(_) => (None, None),
        };
        if callback.as_deref() == Some(REPLY_MODAL) {
            self.on_reply_submission(&v, meta.as_deref()).await?;
            return Ok(None);
        }
        if callback.as_deref() != Some(TICKET_MODAL) {
            return Ok(None);
        }
        let text = v
            .view
            .state_params
            .state
            .as_ref()
            .and_then(|s| s.values.get(&SlackBlockId::new(TICKET_BLOCK.into())))
            .and_then(|b| b.get(&SlackActionId::new(TICKET_INPUT.into())))
            .and_then(|val| val.value.clone())
            .unwrap_or_default();
        let origin: ModalOrigin =
            meta.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or_default();
        let user = v.user.id.to_string();
        let event_id = format!("view:{}", v.view.state_params.id);
        let now = self.service.now();
        match (&origin.channel, &origin.ts) {
            (Some(c), Some(ts)) => {
                let (message, author) = match self.fetch_message(c, ts).await {
                    Ok(found) => (found.text, found.author),
                    Err(e) => {
                        tracing::warn!(channel = %c, ts = %ts, error = %e.kind(), "cannot fetch the modal's message; not filing");
                        return Ok(Some("Slack did not return that message, so no ticket was filed.".into()));
                    }
                };
                let Some(author) = author.filter(|a| !self.is_self(Some(a), None)) else {
                    tracing::warn!(channel = %c, ts = %ts, "the modal's message cannot be found; not filing");
                    return Ok(Some("That message cannot be found any more, so no ticket was filed.".into()));
                };
                let note = Some(text).filter(|t| !t.trim().is_empty());
                self.file_ticket(event_id, &user, &author, message, note, c, ts, now).await?;
                Ok(None)
            }
            _ if text.trim().is_empty() => Ok(Some("Describe the problem first.".into())),
            _ => {
                let mut inbound = self.base(event_id, &user, self.names.get(&user).await, now);
                inbound.kind = InboundKind::FileTicket {
                    text,
                    author: crate::domain::UserRef::new(Platform::Slack, &user),
                    author_name: inbound.display_name.clone(),
                    note: None,
                };
                self.commit(inbound).await?;
                Ok(None)
            }
        }
    }

    /// The ticket whose card sits at `channel`/`ts` in a queue's agents' channel, if any.
    async fn card_ticket(&self, channel: &str, ts: &str) -> Result<Option<TicketNumber>, HandleError> {
        if !self.queue_channels.contains(channel) {
            return Ok(None);
        }
        let store = self.service.store();
        Ok(store.ticket_by_thread(Platform::Slack, channel, ts).await.map_err(ServiceError::from)?)
    }

    /// "Reply to requester" on a card: open the reply modal for the ticket of the card the
    /// button sits on (as Slack reports the container), nothing else.
    async fn open_reply(
        &self,
        trigger: &SlackTriggerId,
        channel: &str,
        card: &str,
    ) -> Result<(), HandleError> {
        let Some(number) = self.card_ticket(channel, card).await? else {
            tracing::debug!(channel, "reply button outside a ticket card; ignored");
            return Ok(());
        };
        let origin = ReplyOrigin { channel: channel.to_string(), ts: card.to_string(), ticket: number.0 };
        let meta = serde_json::to_string(&origin).map_err(|e| HandleError::Slack(e.to_string()))?;
        let view = reply_modal(&number.to_string(), &meta).map_err(HandleError::Slack)?;
        let session = self.client.open_session(&self.token);
        // The trigger expires in 3 s: a failed open cannot be retried later, so it is logged.
        let req = SlackApiViewsOpenRequest::new(trigger.clone(), view);
        if let Err(e) = bounded(self.api_timeout, session.views_open(&req)).await {
            tracing::warn!(error = %e.kind(), "views.open failed");
        }
        Ok(())
    }

    /// The reply modal's submission: the same as the submitting agent writing the reply
    /// prefix and the text in the ticket's thread, so the desk's permission check applies.
    async fn on_reply_submission(
        &self,
        v: &SlackInteractionViewSubmissionEvent,
        meta: Option<&str>,
    ) -> Result<(), HandleError> {
        let Some(origin) = meta.and_then(|m| serde_json::from_str::<ReplyOrigin>(m).ok()) else {
            tracing::warn!("reply modal without readable metadata; ignored");
            return Ok(());
        };
        // The metadata says which card; the store says whether that card is this ticket's.
        if self.card_ticket(&origin.channel, &origin.ts).await? != Some(TicketNumber(origin.ticket)) {
            tracing::warn!(
                ticket = origin.ticket,
                "reply modal names a card that is not the ticket's; ignored"
            );
            return Ok(());
        }
        let text = v
            .view
            .state_params
            .state
            .as_ref()
            .and_then(|s| s.values.get(&SlackBlockId::new(REPLY_BLOCK.into())))
            .and_then(|b| b.get(&SlackActionId::new(REPLY_INPUT.into())))
            .and_then(|val| val.value.clone())
            .unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(());
        }
        let user = v.user.id.to_string();
        let event_id = format!("view:{}", v.view.state_params.id);
        let mut inbound = self.base(event_id, &user, self.names.get(&user).await, self.service.now());
        inbound.conversation = thread_conversation(&origin.channel, &origin.ts);
        inbound.reply_to = Address::new(Platform::Slack, &origin.channel).in_thread(origin.ts.clone());
        let prefix = &self.service.desk().settings.reply_prefix;
        inbound.kind = InboundKind::Message { text: format!("{prefix}{}", text.trim()) };
        self.commit(inbound).await
    }

    async fn on_block_actions(&self, b: SlackInteractionBlockActionsEvent) -> Result<(), HandleError> {
        let Some(user) = b.user.as_ref().map(|u| u.id.to_string()) else { return Ok(()) };
        let SlackInteractionActionContainer::Message(container) = &b.container else { return Ok(()) };
        let Some(channel) = container
            .channel_id
            .as_ref()
            .map(|c| c.to_string())
            .or_else(|| b.channel.as_ref().map(|c| c.id.to_string()))
        else {
            return Ok(());
        };
        let message_ts = container.message_ts.to_string();
        let thread = b.message.as_ref().and_then(|m| m.origin.thread_ts.as_ref().map(|t| t.to_string()));
        let name = self.names.get(&user).await;
        for action in b.actions.unwrap_or_default() {
            let id = action.value.clone().unwrap_or_else(|| action.action_id.to_string());
            if id == cards::REPLY && !channel.starts_with('D') {
                let card = thread.clone().unwrap_or_else(|| message_ts.clone());
                self.open_reply(&b.trigger_id, &channel, &card).await?;
                continue;
            }
            let stamp =
                action.action_ts.as_ref().map(|t| t.to_string()).unwrap_or_else(|| b.trigger_id.to_string());
            let event_id = format!("action:{channel}:{message_ts}:{}:{user}:{stamp}", action.action_id);
            let at = ts_millis(&stamp).unwrap_or_else(|| self.service.now());
            let mut inbound = self.base(event_id, &user, name.clone(), at);
            inbound.kind = InboundKind::Choice { id };
            if channel.starts_with('D') {
                inbound.conversation = dm_conversation(&user);
                inbound.reply_to = Address::new(Platform::Slack, &channel);
                if let Some(t) = &thread {
                    inbound.reply_to = inbound.reply_to.in_thread(t.clone());
                }
            } else {
                // A card (its own ts anchors the ticket's thread) or an answer in a thread.
                let anchor = thread.clone().unwrap_or_else(|| message_ts.clone());
                inbound.conversation = thread_conversation(&channel, &anchor);
                inbound.reply_to = Address::new(Platform::Slack, &channel).in_thread(anchor);
            }
            self.commit(inbound).await?;
        }
        Ok(())
    }

    /// `/helpdesk help | new <text> | status | <question>`: answered in the person's DM.
    /// Returns the short note shown only to them right away.
    pub async fn command(&self, ev: SlackCommandEvent) -> Result<String, HandleError> {
        if !ev.command.0.eq_ignore_ascii_case(&self.slash_command) {
            tracing::warn!("unknown slash command");
            return Ok(format!("This app answers {} only.", self.slash_command));
        }
        let user = ev.user_id.to_string();
        let text = ev.text.clone().unwrap_or_default();
        let text = text.trim();
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let now = self.service.now();
        let mut inbound =
            self.base(format!("cmd:{}", ev.trigger_id), &user, self.names.get(&user).await, now);
        inbound.kind = match word.to_lowercase().as_str() {
            "" | "help" => InboundKind::Message { text: "help".into() },
            "status" => InboundKind::Message { text: "status".into() },
            "new" if rest.trim().is_empty() => {
                return Ok(format!(
                    "Describe the problem after `new`, e.g. `{} new my laptop will not boot`",
                    ev.command
                ));
            }
            "new" => InboundKind::FileTicket {
                text: rest.trim().to_string(),
                author: crate::domain::UserRef::new(Platform::Slack, &user),
                author_name: inbound.display_name.clone(),
                note: None,
            },
            _ => InboundKind::Message { text: text.to_string() },
        };
        self.commit(inbound).await?;
        Ok("Got it: I will answer in our direct messages.".into())
    }
}
