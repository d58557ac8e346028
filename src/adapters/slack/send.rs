//! Deliveries to Slack: messages and thread replies with `chat.postMessage`, ticket cards (their
//! `ts` anchors the ticket's thread), card edits with `chat.update`, status reactions with
//! `reactions.add`. A user id as the destination is turned into a DM with `conversations.open`.
//! Slack's errors map onto the outbox's retry rules; 429 carries Retry-After. Every call is
//! bounded by `slack.api_timeout_ms`.
//!
//! Posts carry the outbox key in the message's `metadata` (`deskbot_outbox`, `{key}`). After
//! an attempt whose outcome is unknown (a timeout, a dropped connection), the next attempt
//! first looks for that key in the recent history of the channel or thread, so a message
//! Slack did post is not posted twice. A 2xx answer that cannot be read means Slack took the
//! message: it counts as delivered (logged by kind).

use super::Client;
use super::blocks::{fallback_text, message_blocks};
use super::calls::{CallError, bounded};
use crate::domain::Platform;
use crate::domain::{Channel, Delivered, Outbound, OutboundKind, SendError};
use async_trait::async_trait;
use slack_morphism::errors::*;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `metadata.event_type` of every message the outbox posts.
pub const OUTBOX_EVENT: &str = "deskbot_outbox";
/// How many recent messages are searched for an outbox key before posting again.
const HISTORY_WINDOW: u16 = 100;

pub struct SlackChannel {
    client: Arc<Client>,
    token: SlackApiToken,
    timeout: Duration,
    /// User id → their DM channel with the bot.
    dms: Mutex<HashMap<String, String>>,
}

impl SlackChannel {
    pub fn new(client: Arc<Client>, token: SlackApiToken, timeout: Duration) -> Self {
        Self { client, token, timeout, dms: Mutex::new(HashMap::new()) }
    }

    /// A channel id, or a user id (`U…`/`W…`) whose DM is opened first.
    async fn channel_for(&self, to: &str) -> Result<SlackChannelId, SendError> {
        if !is_user_id(to) {
            return Ok(SlackChannelId::new(to.to_string()));
        }
        if let Some(c) = self.dms.lock().ok().and_then(|m| m.get(to).cloned()) {
            return Ok(SlackChannelId::new(c));
        }
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId::new(to.to_string())]);
        let res = bounded(self.timeout, session.conversations_open(&req)).await.map_err(map_call)?;
        let id = res.channel.id.to_string();
        if let Ok(mut m) = self.dms.lock() {
            m.insert(to.to_string(), id.clone());
        }
        Ok(SlackChannelId::new(id))
    }

    /// Post `m` under outbox `key`; with `check_first`, only if the key is not in the recent
    /// history already (an earlier attempt may have posted it).
    async fn post(
        &self,
        key: &str,
        m: &Outbound,
        thread: Option<&String>,
        check_first: bool,
    ) -> Result<Delivered, SendError> {
        let channel = self.channel_for(&m.to.channel).await?;
        if check_first && let Some(ts) = self.find_posted(&channel, thread, key).await? {
            tracing::info!(key, "message found already posted; not posting again");
            return Ok(Delivered { message_id: Some(ts) });
        }
        let content = content(m)?.with_metadata(outbox_metadata(key));
        let mut req = SlackApiChatPostMessageRequest::new(channel.clone(), content);
        if crate::usertext::has_user(&m.text) {
            // No previews of links someone else wrote.
            req = req.with_unfurl_links(false).with_unfurl_media(false);
        }
        if let Some(t) = thread {
            req = req.with_thread_ts(SlackTs::new(t.clone()));
        }
        let session = self.client.open_session(&self.token);
        match bounded(self.timeout, session.chat_post_message(&req)).await {
            Ok(res) => Ok(Delivered { message_id: Some(res.ts.to_string()) }),
            Err(e @ CallError::Slack(SlackClientError::ProtocolError(_))) => {
                // A 2xx whose body cannot be read: Slack took the message. Posting it again
                // would show it twice; its ts (a card's thread anchor) is looked up instead.
                tracing::warn!(key, error = %e.kind(), "slack's answer to a post was unreadable; counted as delivered");
                let ts = match self.find_posted(&channel, thread, key).await {
                    Ok(ts) => ts,
                    Err(e) => {
                        tracing::warn!(key, error = %e, "cannot find the posted message's ts");
                        None
                    }
                };
                Ok(Delivered { message_id: ts })
            }
            Err(e) => {
                if e.ambiguous() {
                    tracing::warn!(key, error = %e.kind(), "post outcome unknown; history is checked before the next attempt");
                }
                Err(map_call(e))
            }
        }
    }

    /// The ts of a message carrying outbox `key` among the recent messages of `channel` (or of
    /// the thread `thread`), if there is one.
    async fn find_posted(
        &self,
        channel: &SlackChannelId,
        thread: Option<&String>,
        key: &str,
    ) -> Result<Option<String>, SendError> {
        let session = self.client.open_session(&self.token);
        let messages = match thread {
            Some(t) => {
                // slack-morphism's request type lacks `include_all_metadata`, which replies
                // need to carry metadata: the same GET with the parameter added.
                let limit = HISTORY_WINDOW.to_string();
                let params = [
                    ("channel", Some(channel.value().as_str())),
                    ("ts", Some(t.as_str())),
                    ("limit", Some(limit.as_str())),
                    ("include_all_metadata", Some("true")),
                ];
                let call =
                    session.http_session_api.http_get::<SlackApiConversationsRepliesResponse, _, &str>(
                        "conversations.replies",
                        &params,
                        None,
                    );
                bounded(self.timeout, call).await.map_err(map_call)?.messages
            }
            None => {
                let req = SlackApiConversationsHistoryRequest::new()
                    .with_channel(channel.clone())
                    .with_limit(HISTORY_WINDOW)
                    .with_include_all_metadata(true);
                bounded(self.timeout, session.conversations_history(&req)).await.map_err(map_call)?.messages
            }
        };
        Ok(messages.into_iter().find(|m| carries_key(&m.content, key)).map(|m| m.origin.ts.to_string()))
    }
}

fn outbox_metadata(key: &str) -> SlackMessageMetadata {
    SlackMessageMetadata::new(OUTBOX_EVENT.to_string())
        .with_event_payload(HashMap::from([("key".to_string(), key.to_string())]))
}

fn carries_key(content: &SlackMessageContent, key: &str) -> bool {
    content.metadata.as_ref().is_some_and(|md| {
        md.event_type == OUTBOX_EVENT
            && md.event_payload.as_ref().and_then(|p| p.get("key")).is_some_and(|k| k == key)
    })
}

/// A bounded call's failure in the outbox's terms.
fn map_call(e: CallError) -> SendError {
    match e {
        CallError::Timeout => SendError::Temporary("slack: timed out".into()),
        CallError::Slack(e) => map_error(e),
    }
}

/// Slack user ids start with U or W; channels with C, G or D.
pub fn is_user_id(s: &str) -> bool {
    (s.starts_with('U') || s.starts_with('W')) && s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn content(m: &Outbound) -> Result<SlackMessageContent, SendError> {
    let blocks = message_blocks(&m.text, &m.choices).map_err(SendError::Permanent)?;
    let mut content = SlackMessageContent::new().with_text(fallback_text(&m.text));
    if let Some(b) = blocks {
        content = content.with_blocks(b);
    }
    Ok(content)
}

/// Which Slack errors are worth retrying.
pub fn map_error(e: SlackClientError) -> SendError {
    match e {
        SlackClientError::RateLimitError(r) => SendError::RateLimited {
            retry_after_ms: r.retry_after.map(|d| d.as_millis() as u64).unwrap_or(30_000).max(1),
        },
        SlackClientError::ApiError(a) => match a.code.as_str() {
            "ratelimited" | "rate_limited" => SendError::RateLimited { retry_after_ms: 30_000 },
            "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "team_added_to_org" => SendError::Temporary(format!("slack: {}", a.code)),
            code => SendError::Permanent(format!("slack: {code}")),
        },
        SlackClientError::HttpError(h)
            if h.status_code.is_server_error() || h.status_code.as_u16() == 408 =>
        {
            SendError::Temporary(format!("slack answered {}", h.status_code))
        }
        SlackClientError::HttpError(h) => SendError::Permanent(format!("slack answered {}", h.status_code)),
        other => SendError::Temporary(format!("slack: {}", super::calls::kind(&other))),
    }
}

#[async_trait]
impl Channel for SlackChannel {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn send(&self, key: &str, m: &Outbound) -> Result<Delivered, SendError> {
        self.deliver(key, m, false).await
    }

    async fn resend(&self, key: &str, m: &Outbound) -> Result<Delivered, SendError> {
        self.deliver(key, m, true).await
    }
}

impl SlackChannel {
    async fn deliver(&self, key: &str, m: &Outbound, check_first: bool) -> Result<Delivered, SendError> {
        match &m.kind {
            OutboundKind::Message | OutboundKind::Card { .. } => {
                self.post(key, m, m.to.thread.as_ref(), check_first).await
            }
            OutboundKind::ThreadReply { ticket } => match &m.to.thread {
                Some(t) => self.post(key, m, Some(t), check_first).await,
                None => Err(SendError::Temporary(format!("the card for {ticket} has no thread yet"))),
            },
            OutboundKind::CardUpdate { card } => {
                let Some(ts) = &m.to.thread else {
                    return Err(SendError::Temporary(format!(
                        "the card for {} is not posted yet",
                        card.number
                    )));
                };
                let channel = self.channel_for(&m.to.channel).await?;
                let req = SlackApiChatUpdateRequest::new(channel, content(m)?, SlackTs::new(ts.clone()));
                let session = self.client.open_session(&self.token);
                let res = bounded(self.timeout, session.chat_update(&req)).await.map_err(map_call)?;
                Ok(Delivered { message_id: Some(res.ts.to_string()) })
            }
            OutboundKind::Reaction { emoji, message } => {
                let channel = self.channel_for(&m.to.channel).await?;
                let req = SlackApiReactionsAddRequest::new(
                    channel,
                    SlackReactionName::new(emoji.trim_matches(':').to_string()),
                    SlackTs::new(message.clone()),
                );
                let session = self.client.open_session(&self.token);
                match bounded(self.timeout, session.reactions_add(&req)).await {
                    Ok(_) => Ok(Delivered::default()),
                    Err(CallError::Slack(SlackClientError::ApiError(a))) if a.code == "already_reacted" => {
                        Ok(Delivered::default())
                    }
                    Err(e) => Err(map_call(e)),
                }
            }
            OutboundKind::Private { user } => {
                let channel = self.channel_for(&m.to.channel).await?;
                let mut req = SlackApiChatPostEphemeralRequest::new(
                    channel,
                    SlackUserId::new(user.clone()),
                    content(m)?,
                );
                if let Some(t) = &m.to.thread {
                    req = req.with_thread_ts(SlackTs::new(t.clone()));
                }
                let session = self.client.open_session(&self.token);
                session.chat_post_ephemeral(&req).await.map_err(map_error)?;
                Ok(Delivered::default())
            }
            OutboundKind::Webhook { .. } => {
                Err(SendError::Permanent("a webhook event is not a Slack message".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_told_from_channels() {
        assert!(is_user_id("U024BE7LH"));
        assert!(is_user_id("W012A3CDE"));
        assert!(!is_user_id("C024BE91L"));
        assert!(!is_user_id("D024BE91L"));
        assert!(!is_user_id("U"));
        assert!(!is_user_id("U12 3"));
    }

    #[test]
    fn rate_limits_and_permanent_errors_map_to_outbox_rules() {
        let rl = SlackClientError::RateLimitError(
            SlackRateLimitError::new().with_retry_after(std::time::Duration::from_secs(3)),
        );
        assert!(matches!(map_error(rl), SendError::RateLimited { retry_after_ms: 3000 }));
        let gone = SlackClientError::ApiError(SlackClientApiError::new("channel_not_found".into()));
        assert!(matches!(map_error(gone), SendError::Permanent(_)));
        let blip = SlackClientError::ApiError(SlackClientApiError::new("internal_error".into()));
        assert!(matches!(map_error(blip), SendError::Temporary(_)));
    }
}
