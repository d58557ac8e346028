//! From Slack events to platform-neutral `ChatEvent`s, and the facts the intake router asks
//! for (a message's text, author and thread; a channel's name; a person's name). Where an
//! event belongs, its dedupe key and whether it concerns deskbot are the router's decisions.
//! Each event is committed before it is acknowledged; replies leave through the outbox.

use super::Client;
use super::calls::bounded;
use super::names::Names;
use crate::domain::{Attachment, ChatEvent, FetchedMessage, Input, Millis, Place, Platform};
use crate::service::router::{Lookup, RouteError, Taken};
use crate::service::{Handled, Service, ServiceError};
use async_trait::async_trait;
use slack_morphism::prelude::*;
use std::collections::HashMap;
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

impl From<RouteError> for HandleError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::Service(e) => HandleError::Service(e),
            RouteError::Platform(kind) => HandleError::Slack(kind),
        }
    }
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
    /// The slash command this app answers (`/helpdesk`).
    pub(super) slash_command: String,
    /// Channel id → name, for request channels configured by name.
    pub(super) channel_names: Mutex<HashMap<String, Option<String>>>,
    /// The longest one Web API call may take.
    pub(super) api_timeout: std::time::Duration,
    /// Each channel's messages are handed on in the order they were posted.
    pub(super) order: crate::adapters::order::ChannelOrder,
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

/// A message read back from Slack's history.
#[derive(Debug, Default)]
pub(super) struct Fetched {
    pub text: String,
    pub author: Option<String>,
    /// The thread it sits in (a parent with replies has its own ts here).
    pub thread_ts: Option<String>,
    /// Posted by a bot (deskbot or another app).
    pub bot: bool,
}

/// A message event, as Slack reported it.
pub(super) struct Msg<'a> {
    pub channel: &'a str,
    pub ts: &'a str,
    pub thread_ts: Option<&'a str>,
    pub user: &'a str,
    pub text: String,
    pub is_dm: bool,
    pub files: Vec<Attachment>,
}

impl Handler {
    pub(super) fn is_self(&self, user: Option<&str>, bot_id: Option<&str>) -> bool {
        user.is_some_and(|u| u == self.bot_user) || (bot_id.is_some() && bot_id == self.bot_id.as_deref())
    }

    /// Hand an event to the intake router.
    pub(super) async fn take(&self, event: ChatEvent) -> Result<Taken, HandleError> {
        let taken = self.service.take(event, self).await?;
        match &taken {
            Taken::Handled(Handled::Duplicate) => tracing::debug!("slack event seen before"),
            Taken::Handled(Handled::Applied { replies, .. }) => {
                tracing::debug!(replies, "slack event handled")
            }
            Taken::Handled(_)
            | Taken::Skipped
            | Taken::Problem(_)
            | Taken::OpenReplyForm { .. }
            | Taken::Private(_) => {}
        }
        Ok(taken)
    }

    /// Take an event and show any private note right away (for events with no answer of
    /// their own: messages, reactions, buttons).
    pub(super) async fn take_and_tell(&self, event: ChatEvent) -> Result<Taken, HandleError> {
        let (place, sender) = (event.place.clone(), event.sender.clone());
        let taken = self.take(event).await?;
        if let Some(note) = taken.private_note() {
            self.tell_privately(&place, &sender, note).await;
        }
        Ok(taken)
    }

    /// Show `text` to `user` only (an ephemeral message where they acted). A courtesy note:
    /// a failure is logged, not retried.
    pub(super) async fn tell_privately(&self, place: &Place, user: &str, text: &str) {
        let (channel, thread) = match place {
            Place::Direct { channel, thread } => (channel.clone(), thread.clone()),
            Place::Thread { channel, thread, .. } => (channel.clone(), Some(thread.clone())),
            Place::Channel { channel, .. } => (channel.clone(), None),
            Place::Nowhere => (user.to_string(), None),
        };
        let content = SlackMessageContent::new().with_text(text.to_string());
        let mut req = SlackApiChatPostEphemeralRequest::new(channel.clone().into(), user.into(), content);
        if let Some(t) = thread {
            req = req.with_thread_ts(t.into());
        }
        let session = self.client.open_session(&self.token);
        if let Err(e) = bounded(self.api_timeout, session.chat_post_ephemeral(&req)).await {
            tracing::warn!(channel = %channel, error = %e.kind(), "chat.postEphemeral failed");
        }
    }

    /// The place a message sits at, as Slack reports it.
    pub(super) fn place(&self, channel: &str, ts: &str, thread_ts: Option<&str>, is_dm: bool) -> Place {
        let in_thread = thread_ts.filter(|t| *t != ts).map(str::to_string);
        if is_dm {
            Place::Direct { channel: channel.to_string(), thread: in_thread }
        } else if let Some(thread) = in_thread {
            // Slack threads hang off people's messages; deskbot starts none of its own.
            Place::Thread { channel: channel.to_string(), thread, bot_started: false }
        } else {
            Place::Channel { channel: channel.to_string(), name: None }
        }
    }

    /// A message event (DM, channel post, thread reply) or an `app_mention`: the same post
    /// arrives as both when deskbot is mentioned, and the router's key makes them one.
    pub(super) async fn on_message(&self, m: Msg<'_>, at: Millis) -> Result<(), HandleError> {
        // A later message of the channel (or of its threads) waits for this one.
        let _turn = match crate::adapters::order::slack_key(m.ts) {
            Some(key) => Some(self.order.enter(m.channel, key).await),
            None => None,
        };
        let mention = format!("<@{}>", self.bot_user);
        let mentions_bot = m.text.contains(&mention);
        let event = ChatEvent {
            platform: Platform::Slack,
            place: self.place(m.channel, m.ts, m.thread_ts, m.is_dm),
            sender: m.user.to_string(),
            sender_name: None,
            at,
            input: Input::Message {
                id: m.ts.to_string(),
                text: strip_mention(&m.text, &self.bot_user),
                mentions_bot,
                attachments: m.files,
            },
        };
        self.take_and_tell(event).await.map(|_| ())
    }

    /// `reaction_added`. The event names the message only (channel and `ts`); the router reads
    /// its text, author and thread when it needs them.
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
        // Skin tones (`+1::skin-tone-2`) are the same reaction.
        let emoji = emoji.split("::").next().unwrap_or(emoji);
        let event = ChatEvent {
            platform: Platform::Slack,
            place: self.place(channel, ts, None, channel.starts_with('D')),
            sender: user.to_string(),
            sender_name: None,
            at,
            input: Input::Reaction {
                message: ts.to_string(),
                emoji: emoji.to_string(),
                author: item_user.map(str::to_string),
            },
        };
        self.take_and_tell(event).await.map(|_| ())
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
                bot: m.sender.bot_id.is_some(),
                author: m.sender.user.map(|u| u.to_string()),
                thread_ts: m.origin.thread_ts.map(|t| t.to_string()),
            },
            None => Fetched::default(),
        })
    }

    /// A channel's name (`conversations.info`), remembered.
    async fn lookup_channel_name(&self, channel: &str) -> Option<String> {
        let cached = self.channel_names.lock().ok().and_then(|m| m.get(channel).cloned());
        if let Some(n) = cached {
            return n;
        }
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsInfoRequest::new(SlackChannelId::new(channel.to_string()));
        let name = match bounded(self.api_timeout, session.conversations_info(&req)).await {
            Ok(res) => res.channel.name.clone(),
            Err(e) => {
                tracing::warn!(channel, error = %e.kind(), "conversations.info failed");
                return None;
            }
        };
        if let Ok(mut m) = self.channel_names.lock() {
            m.insert(channel.to_string(), name.clone());
        }
        name
    }

    /// Publish the App Home tab: the person's open tickets.
    pub(super) async fn publish_home(&self, user: &str) -> Result<(), HandleError> {
        let me = crate::domain::UserRef::new(Platform::Slack, user);
        let mut summaries = self.service.ticket_summaries(&me).await.map_err(ServiceError::from)?;
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

#[async_trait]
impl Lookup for Handler {
    async fn message(&self, channel: &str, id: &str) -> Result<Option<FetchedMessage>, String> {
        let found = self.fetch_message(channel, id).await.map_err(|e| e.kind())?;
        if found.author.is_none() && !found.bot {
            return Ok(None);
        }
        Ok(Some(FetchedMessage {
            author_is_bot: found.bot || self.is_self(found.author.as_deref(), None),
            text: found.text,
            author: found.author,
            author_name: None,
            thread: found.thread_ts,
            attachments: Vec::new(),
        }))
    }

    async fn channel_name(&self, channel: &str) -> Option<String> {
        self.lookup_channel_name(channel).await
    }

    async fn display_name(&self, user: &str) -> Option<String> {
        self.names.get(user).await
    }
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
    }
}
