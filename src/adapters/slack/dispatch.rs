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
use super::handler::{HandleError, Handler, Msg, ts_millis};
use crate::domain::{Attachment, ChatEvent, Input, Place, Platform, TicketNumber};
use crate::service::router::Taken;
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
                self.on_message(msg, ts_millis(&ts).unwrap_or(at)).await
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
                Some((block, problem)) => {
                    let errors = std::collections::HashMap::from([(block.to_string(), problem)]);
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
    ) -> Result<Option<(&'static str, String)>, HandleError> {
        let (callback, meta) = match &v.view.view {
            SlackView::Modal(m) => (m.callback_id.as_ref().map(|c| c.0.clone()), m.private_metadata.clone()),
            SlackView::Home(_) => (None, None),
        };
        if callback.as_deref() == Some(REPLY_MODAL) {
            return Ok(self.on_reply_submission(&v, meta.as_deref()).await?.map(|p| (REPLY_BLOCK, p)));
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
        let delivery = v.view.state_params.id.to_string();
        let (place, input) = match (origin.channel, origin.ts) {
            (Some(channel), Some(ts)) => {
                let note = Some(text).filter(|t| !t.trim().is_empty());
                let place = self.place(&channel, &ts, None, channel.starts_with('D'));
                (place, Input::FileMessage { delivery, message: ts, note })
            }
            _ => (Place::Nowhere, Input::TicketForm { delivery, text }),
        };
        let event = ChatEvent {
            platform: Platform::Slack,
            place,
            sender: user,
            sender_name: None,
            at: self.service.now(),
            input,
        };
        Ok(match self.take(event).await? {
            Taken::Problem(p) => Some((TICKET_BLOCK, p)),
            _ => None,
        })
    }

    /// "Reply to requester" on a card: open the reply modal for the ticket of the card the
    /// button sits on (as Slack reports the container), nothing else.
    async fn open_reply(
        &self,
        trigger: &SlackTriggerId,
        number: TicketNumber,
        channel: &str,
        card: &str,
    ) -> Result<(), HandleError> {
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
    ) -> Result<Option<String>, HandleError> {
        let Some(origin) = meta.and_then(|m| serde_json::from_str::<ReplyOrigin>(m).ok()) else {
            tracing::warn!("reply modal without readable metadata; ignored");
            return Ok(Some("That form is broken; use the reply command in the thread.".into()));
        };
        let text = v
            .view
            .state_params
            .state
            .as_ref()
            .and_then(|s| s.values.get(&SlackBlockId::new(REPLY_BLOCK.into())))
            .and_then(|b| b.get(&SlackActionId::new(REPLY_INPUT.into())))
            .and_then(|val| val.value.clone())
            .unwrap_or_default();
        // The metadata names the card; the router checks it is a ticket's card in a queue's
        // channel, and the desk checks the submitting user may act on that queue.
        let event = ChatEvent {
            platform: Platform::Slack,
            place: Place::Channel { channel: origin.channel, name: None },
            sender: v.user.id.to_string(),
            sender_name: None,
            at: self.service.now(),
            input: Input::ReplyForm {
                delivery: v.view.state_params.id.to_string(),
                card: origin.ts,
                ticket: Some(TicketNumber(origin.ticket)),
                text,
            },
        };
        Ok(match self.take(event).await? {
            Taken::Problem(p) => Some(p),
            Taken::Handled(crate::service::Handled::Refused { note }) => Some(note),
            _ => None,
        })
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
        let place = self.place(&channel, &message_ts, thread.as_deref(), channel.starts_with('D'));
        for action in b.actions.unwrap_or_default() {
            let value = action.value.clone().unwrap_or_else(|| action.action_id.to_string());
            let stamp =
                action.action_ts.as_ref().map(|t| t.to_string()).unwrap_or_else(|| b.trigger_id.to_string());
            let event = ChatEvent {
                platform: Platform::Slack,
                place: place.clone(),
                sender: user.clone(),
                sender_name: None,
                at: ts_millis(&stamp).unwrap_or_else(|| self.service.now()),
                input: Input::Button {
                    delivery: format!("{channel}:{message_ts}:{}:{user}:{stamp}", action.action_id),
                    message: message_ts.clone(),
                    value,
                },
            };
            if let Taken::OpenReplyForm { ticket, channel, card } = self.take_and_tell(event).await? {
                self.open_reply(&b.trigger_id, ticket, &channel, &card).await?;
            }
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
        let event = ChatEvent {
            platform: Platform::Slack,
            place: Place::Nowhere,
            sender: ev.user_id.to_string(),
            sender_name: None,
            at: self.service.now(),
            input: Input::Command {
                delivery: ev.trigger_id.to_string(),
                text: ev.text.clone().unwrap_or_default(),
            },
        };
        if let Some(note) = self.take(event).await?.private_note() {
            return Ok(note.replace("`new", &format!("`{} new", ev.command)));
        }
        Ok("Got it: I will answer in our direct messages.".into())
    }
}
