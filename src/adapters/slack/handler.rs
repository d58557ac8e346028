//! From Slack events to `Inbound`s: who wrote, where the answer goes, which conversation it
//! joins, and the event id the store dedupes on. Messages are keyed by channel + `ts`
//! (`msg:C…:1700000000.000100`), so Slack's redeliveries and the `message` + `app_mention` pair
//! for one post collapse into one. Each inbound is committed before the event is acknowledged;
//! replies leave through the outbox.

use super::Client;
use super::calls::bounded;
use super::names::Names;
use crate::domain::{Address, Millis, Platform, UserRef, Via};
use crate::domain::{Inbound, InboundKind};
use crate::service::intake::{Grouper, IntakeConfig, is_pleasantry};
use crate::service::{Handled, Service, ServiceError};
use slack_morphism::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Why an event was not taken: Slack should deliver it again.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A Web API call failed; holds the error's kind (never a body).
    #[error("slack: {0}")]
    Slack(String),
}

impl HandleError {
    /// What failed, fit for a log line: no payloads, no message text.
    pub fn kind(&self) -> String {
        match self {
            HandleError::Service(e) => crate::service::error_kind(e).into(),
            HandleError::Slack(k) => format!("slack: {k}"),
        }
    }
}

/// What the adapter needs to know about the workspace and deskbot's config.
pub struct Handler {
    pub(super) service: Arc<Service>,
    pub(super) client: Arc<Client>,
    pub(super) token: SlackApiToken,
    /// The bot's own user id (from `auth.test`): its messages and reactions are skipped.
    pub(super) bot_user: String,
    pub(super) bot_id: Option<String>,
    pub(super) names: Names,
    /// Queues' agents' channels on Slack.
    pub(super) queue_channels: HashSet<String>,
    pub(super) intake: IntakeConfig,
    /// Groups a person's messages in a request channel into one conversation.
    pub(super) grouper: Grouper,
    /// The slash command this app answers (`/helpdesk`).
    pub(super) slash_command: String,
    /// Channel id → name, for request channels configured by name.
    pub(super) channel_names: Mutex<HashMap<String, Option<String>>>,
    /// The longest one Web API call may take.
    pub(super) api_timeout: std::time::Duration,
}

/// Slack's `ts` ("1700000000.000100") as milliseconds.
pub fn ts_millis(ts: &str) -> Option<Millis> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let frac = format!("{frac:0<3}");
    let ms: i64 = frac.get(..3)?.parse().ok()?;
    secs.checked_mul(1000)?.checked_add(ms)
}

/// The mention of `bot` removed from a message's text.
pub fn strip_mention(text: &str, bot: &str) -> String {
    text.replace(&format!("<@{bot}>"), " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The dedupe key of a message: one per post, whichever events carry it.
pub fn message_event_id(channel: &str, ts: &str) -> String {
    format!("msg:{channel}:{ts}")
}

/// A person's DM conversation with deskbot.
pub fn dm_conversation(user: &str) -> String {
    format!("slack:dm:{user}")
}

/// The conversation living in a channel thread.
pub fn thread_conversation(channel: &str, thread: &str) -> String {
    format!("slack:{channel}:{thread}")
}

/// A message read back from Slack's history.
#[derive(Debug, Default)]
pub(super) struct Fetched {
    pub text: String,
    pub author: Option<String>,
    /// The thread it sits in (a parent with replies has its own ts here).
    pub thread_ts: Option<String>,
}

pub(super) struct Msg<'a> {
    pub channel: &'a str,
    pub ts: &'a str,
    pub thread_ts: Option<&'a str>,
    pub user: &'a str,
    pub text: String,
    pub is_dm: bool,
    pub files: Vec<crate::domain::Attachment>,
}

impl Handler {
    fn user_ref(&self, user: &str) -> UserRef {
        UserRef::new(Platform::Slack, user)
    }

    pub(super) fn is_self(&self, user: Option<&str>, bot_id: Option<&str>) -> bool {
        user.is_some_and(|u| u == self.bot_user) || (bot_id.is_some() && bot_id == self.bot_id.as_deref())
    }

    pub(super) async fn commit(&self, inbound: Inbound) -> Result<(), HandleError> {
        let event = inbound.event_id.clone();
        let (to, user) = (inbound.reply_to.clone(), inbound.user.id.clone());
        match self.service.handle(inbound).await? {
            Handled::Duplicate => tracing::debug!(event, "slack event seen before"),
            Handled::Applied { replies, .. } => tracing::debug!(event, replies, "slack event handled"),
            Handled::Ignored => tracing::debug!(event, "slack event not for deskbot"),
            Handled::Refused { note } => self.tell_privately(&to, &user, note).await,
        }
        Ok(())
    }

    /// Show `text` to `user` only (an ephemeral message where they acted). A courtesy note:
    /// a failure is logged, not retried.
    pub(super) async fn tell_privately(&self, to: &Address, user: &str, text: &str) {
        let content = SlackMessageContent::new().with_text(text.to_string());
        let mut req = SlackApiChatPostEphemeralRequest::new(to.channel.clone().into(), user.into(), content);
        if let Some(t) = &to.thread {
            req = req.with_thread_ts(t.clone().into());
        }
        let session = self.client.open_session(&self.token);
        if let Err(e) = bounded(self.api_timeout, session.chat_post_ephemeral(&req)).await {
            tracing::warn!(channel = %to.channel, error = %e.kind(), "chat.postEphemeral failed");
        }
    }

    pub(super) fn base(&self, event_id: String, user: &str, name: Option<String>, at: Millis) -> Inbound {
        Inbound {
            event_id,
            user: self.user_ref(user),
            display_name: name,
            conversation: dm_conversation(user),
            reply_to: Address::new(Platform::Slack, user),
            kind: InboundKind::Message { text: String::new() },
            at,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        }
    }

    /// Where an answer to something said in `channel`/`thread` goes: that thread, or the
    /// person's DM when the intake says so (then it joins their DM conversation).
    pub(super) fn answer_place(&self, channel: &str, thread: &str, user: &str) -> (String, Address) {
        if self.intake.answer_in_dm && !channel.starts_with('D') {
            (dm_conversation(user), Address::new(Platform::Slack, user))
        } else {
            (thread_conversation(channel, thread), Address::new(Platform::Slack, channel).in_thread(thread))
        }
    }

    /// Where the employee's message sits, when answers go elsewhere (status reactions need it).
    fn mark_origin(inbound: &mut Inbound, channel: &str) {
        if inbound.reply_to.channel != channel {
            inbound.message_channel = Some(channel.to_string());
        }
    }

    /// A message event (DM, channel post, thread reply).
    pub(super) async fn on_message(&self, m: Msg<'_>, at: Millis) -> Result<(), HandleError> {
        let event_id = message_event_id(m.channel, m.ts);
        let in_thread = m.thread_ts.filter(|t| *t != m.ts);
        let mut inbound = self.base(event_id, m.user, None, at);
        inbound.message_id = Some(m.ts.to_string());
        inbound.attachments = m.files;
        inbound.kind = InboundKind::Message { text: m.text.clone() };
        if m.is_dm {
            inbound.conversation = dm_conversation(m.user);
            inbound.reply_to = Address::new(Platform::Slack, m.channel);
            if let Some(t) = in_thread {
                inbound.reply_to = inbound.reply_to.in_thread(t);
            }
        } else if let Some(thread) = in_thread {
            // Agents in a ticket's thread, the employee in the thread of their conversation, or
            // people talking to each other: the router tells them apart.
            inbound.conversation = thread_conversation(m.channel, thread);
            inbound.reply_to = Address::new(Platform::Slack, m.channel).in_thread(thread);
            inbound.via = Via::Thread;
        } else if self.is_request_channel(m.channel).await {
            if inbound.attachments.is_empty() && is_pleasantry(&m.text) {
                return Ok(());
            }
            let place = self.grouper.place(Platform::Slack, m.channel, m.user, m.ts, at);
            let (conversation, reply_to) = self.answer_place(m.channel, &place.thread, m.user);
            inbound.conversation =
                if reply_to.channel == m.channel { place.conversation } else { conversation };
            inbound.reply_to = reply_to;
            inbound.via = Via::Addressed;
        } else {
            // Other channels: only @mentions (their own event) concern deskbot.
            return Ok(());
        }
        Self::mark_origin(&mut inbound, m.channel);
        inbound.display_name = self.names.get(m.user).await;
        self.commit(inbound).await
    }

    /// `app_mention`: answer in the thread (or by DM, per config).
    pub(super) async fn on_mention(&self, m: Msg<'_>, at: Millis) -> Result<(), HandleError> {
        let thread = m.thread_ts.unwrap_or(m.ts);
        let mut inbound = self.base(message_event_id(m.channel, m.ts), m.user, None, at);
        let text = strip_mention(&m.text, &self.bot_user);
        inbound.kind = InboundKind::Message { text };
        inbound.message_id = Some(m.ts.to_string());
        inbound.attachments = m.files;
        inbound.via = Via::Addressed;
        if self.queue_channels.contains(m.channel) && m.thread_ts.is_some() {
            // An agent addressing deskbot in a ticket's thread: the desk decides.
            inbound.conversation = thread_conversation(m.channel, thread);
            inbound.reply_to = Address::new(Platform::Slack, m.channel).in_thread(thread);
        } else {
            let (conversation, reply_to) = self.answer_place(m.channel, thread, m.user);
            inbound.conversation = conversation;
            inbound.reply_to = reply_to;
        }
        Self::mark_origin(&mut inbound, m.channel);
        inbound.display_name = self.names.get(m.user).await;
        self.commit(inbound).await
    }

    /// `reaction_added`: the file-ticket emoji files a ticket from the message for its author;
    /// in a queue's channel reactions are agents' shortcuts.
    pub(super) async fn on_reaction(
        &self,
        user: &str,
        emoji: &str,
        channel: &str,
        ts: &str,
        item_user: Option<&str>,
        at: Millis,
    ) -> Result<(), HandleError> {
        if self.is_self(Some(user), None) {
            return Ok(());
        }
        let emoji = emoji.split("::").next().unwrap_or(emoji);
        if self.queue_channels.contains(channel) {
            let mut inbound = self.base(format!("reaction:{channel}:{ts}:{user}:{emoji}"), user, None, at);
            inbound.conversation = thread_conversation(channel, ts);
            inbound.reply_to = Address::new(Platform::Slack, channel);
            // The event names the message only: its text (for 📖) and its thread (a reply
            // inside a ticket's thread belongs to that ticket) come from the history.
            let s = &self.service.desk().settings;
            let mut text = None;
            if [&s.claim_emoji, &s.resolve_emoji, &s.kb_draft_emoji].iter().any(|e| e.as_str() == emoji) {
                match self.fetch_message(channel, ts).await {
                    Ok(found) => {
                        if let Some(parent) = found.thread_ts.filter(|p| p != ts) {
                            inbound.conversation = thread_conversation(channel, &parent);
                            inbound.reply_to = inbound.reply_to.in_thread(parent);
                        }
                        text = (emoji == s.kb_draft_emoji && !found.text.is_empty()).then_some(found.text);
                    }
                    Err(e) => tracing::warn!(channel, ts, error = %e, "cannot read the reacted message"),
                }
            }
            inbound.kind = InboundKind::Reaction { emoji: emoji.to_string(), message: ts.to_string(), text };
            inbound.display_name = self.names.get(user).await;
            return self.commit(inbound).await;
        }
        if emoji != self.intake.file_ticket_emoji {
            return Ok(());
        }
        let Fetched { text, author, .. } = self.fetch_message(channel, ts).await?;
        let Some(author) = item_user.map(str::to_string).or(author) else {
            tracing::warn!(channel, ts, "reacted message has no author; not filing");
            return Ok(());
        };
        if self.is_self(Some(&author), None) {
            return Ok(());
        }
        self.file_ticket(format!("file:{channel}:{ts}"), user, &author, text, None, channel, ts, at).await
    }

    /// File a ticket from message `ts` in `channel` (its `text` as Slack returned it) for its
    /// `author`, asked by `user`, who may add a `note`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn file_ticket(
        &self,
        event_id: String,
        user: &str,
        author: &str,
        text: String,
        note: Option<String>,
        channel: &str,
        ts: &str,
        at: Millis,
    ) -> Result<(), HandleError> {
        let mut inbound = self.base(event_id, user, None, at);
        let (conversation, reply_to) = self.answer_place(channel, ts, author);
        inbound.conversation = conversation;
        inbound.reply_to = reply_to;
        inbound.message_id = Some(ts.to_string());
        Self::mark_origin(&mut inbound, channel);
        inbound.display_name = self.names.get(user).await;
        let author_name =
            if author == user { inbound.display_name.clone() } else { self.names.get(author).await };
        inbound.kind = InboundKind::FileTicket { text, author: self.user_ref(author), author_name, note };
        self.commit(inbound).await
    }

    /// The text, author and thread of one message (`conversations.history`, or
    /// `conversations.replies` for a message inside a thread).
    pub(super) async fn fetch_message(&self, channel: &str, ts: &str) -> Result<Fetched, HandleError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId::new(channel.to_string()))
            .with_latest(SlackTs::new(ts.to_string()))
            .with_inclusive(true)
            .with_limit(1);
        let res = bounded(self.api_timeout, session.conversations_history(&req))
            .await
            .map_err(|e| HandleError::Slack(e.kind()))?;
        let mut found = res.messages.into_iter().find(|m| m.origin.ts.0 == ts);
        if found.is_none() {
            // A reply inside a thread: history lists only top-level messages. Asked with the
            // reply's own ts, Slack answers with its thread (the parent first, then replies
            // from `oldest` on), so two messages always include it.
            let req = SlackApiConversationsRepliesRequest::new(
                SlackChannelId::new(channel.to_string()),
                SlackTs::new(ts.to_string()),
            )
            .with_oldest(SlackTs::new(ts.to_string()))
            .with_inclusive(true)
            .with_limit(2);
            match bounded(self.api_timeout, session.conversations_replies(&req)).await {
                Ok(res) => found = res.messages.into_iter().find(|m| m.origin.ts.0 == ts),
                Err(e) => tracing::warn!(channel, ts, error = %e.kind(), "conversations.replies failed"),
            }
        }
        Ok(match found {
            Some(m) => Fetched {
                text: m.content.text.unwrap_or_default(),
                author: m.sender.user.map(|u| u.to_string()),
                thread_ts: m.origin.thread_ts.map(|t| t.to_string()),
            },
            None => Fetched::default(),
        })
    }

    /// Is this one of the intake's request channels (by id, or by name via `conversations.info`)?
    async fn is_request_channel(&self, channel: &str) -> bool {
        let wanted = &self.intake.request_channels;
        if wanted.is_empty() {
            return false;
        }
        if self.intake.is_request_channel(channel, None) {
            return true;
        }
        if wanted.iter().all(|w| looks_like_id(w)) {
            return false;
        }
        let cached = self.channel_names.lock().ok().and_then(|m| m.get(channel).cloned());
        let name = match cached {
            Some(n) => n,
            None => {
                let session = self.client.open_session(&self.token);
                let req = SlackApiConversationsInfoRequest::new(SlackChannelId::new(channel.to_string()));
                let name = match bounded(self.api_timeout, session.conversations_info(&req)).await {
                    Ok(res) => res.channel.name.clone(),
                    Err(e) => {
                        tracing::warn!(channel, error = %e.kind(), "conversations.info failed");
                        return false;
                    }
                };
                if let Ok(mut m) = self.channel_names.lock() {
                    m.insert(channel.to_string(), name.clone());
                }
                name
            }
        };
        self.intake.is_request_channel(channel, name.as_deref())
    }

    /// Publish the App Home tab: the person's open tickets.
    pub(super) async fn publish_home(&self, user: &str) -> Result<(), HandleError> {
        let mut summaries =
            self.service.ticket_summaries(&self.user_ref(user)).await.map_err(ServiceError::from)?;
        summaries.retain(|t| t.status.is_active());
        let view = super::blocks::home_view(&summaries).map_err(HandleError::Slack)?;
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsPublishRequest::new(SlackUserId::new(user.to_string()), view);
        bounded(self.api_timeout, session.views_publish(&req))
            .await
            .map_err(|e| HandleError::Slack(e.kind()))?;
        Ok(())
    }
}

fn looks_like_id(s: &str) -> bool {
    s.len() > 1
        && (s.starts_with('C') || s.starts_with('G'))
        && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_and_mentions_parse() {
        assert_eq!(ts_millis("1700000000.000100"), Some(1_700_000_000_000));
        assert_eq!(ts_millis("1700000000.123456"), Some(1_700_000_000_123));
        assert_eq!(ts_millis("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(ts_millis("17x"), None);
        assert_eq!(strip_mention("<@UBOT> my vpn  is down", "UBOT"), "my vpn is down");
        assert_eq!(message_event_id("C1", "1.2"), "msg:C1:1.2");
        assert!(looks_like_id("C024BE91L") && !looks_like_id("it-help"));
    }
}
