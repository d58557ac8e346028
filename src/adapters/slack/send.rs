//! Deliveries to Slack: messages and thread replies with `chat.postMessage`, ticket cards (their
//! `ts` anchors the ticket's thread), card edits with `chat.update`, status reactions with
//! `reactions.add`. A user id as the destination is turned into a DM with `conversations.open`.
//! Slack's errors map onto the outbox's retry rules; 429 carries Retry-After.

use super::Client;
use super::blocks::{message_blocks, mrkdwn};
use crate::domain::Platform;
use crate::domain::{Channel, Delivered, Outbound, OutboundKind, SendError};
use async_trait::async_trait;
use slack_morphism::errors::*;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct SlackChannel {
    client: Arc<Client>,
    token: SlackApiToken,
    /// User id → their DM channel with the bot.
    dms: Mutex<HashMap<String, String>>,
}

impl SlackChannel {
    pub fn new(client: Arc<Client>, token: SlackApiToken) -> Self {
        Self { client, token, dms: Mutex::new(HashMap::new()) }
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
        let res = session.conversations_open(&req).await.map_err(map_error)?;
        let id = res.channel.id.to_string();
        if let Ok(mut m) = self.dms.lock() {
            m.insert(to.to_string(), id.clone());
        }
        Ok(SlackChannelId::new(id))
    }

    async fn post(&self, m: &Outbound, thread: Option<&String>) -> Result<Delivered, SendError> {
        let channel = self.channel_for(&m.to.channel).await?;
        let content = content(m)?;
        let mut req = SlackApiChatPostMessageRequest::new(channel, content);
        if let Some(t) = thread {
            req = req.with_thread_ts(SlackTs::new(t.clone()));
        }
        let session = self.client.open_session(&self.token);
        let res = session.chat_post_message(&req).await.map_err(map_error)?;
        Ok(Delivered { message_id: Some(res.ts.to_string()) })
    }
}

/// Slack user ids start with U or W; channels with C, G or D.
pub fn is_user_id(s: &str) -> bool {
    (s.starts_with('U') || s.starts_with('W')) && s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn content(m: &Outbound) -> Result<SlackMessageContent, SendError> {
    let blocks = message_blocks(&m.text, &m.choices).map_err(SendError::Permanent)?;
    let mut content = SlackMessageContent::new().with_text(mrkdwn(&m.text));
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
        SlackClientError::ProtocolError(_) => SendError::Temporary("slack: unreadable answer".into()),
        other => SendError::Temporary(format!("slack: {}", first_line(&other.to_string()))),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[async_trait]
impl Channel for SlackChannel {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn send(&self, _key: &str, m: &Outbound) -> Result<Delivered, SendError> {
        match &m.kind {
            OutboundKind::Message | OutboundKind::Card { .. } => self.post(m, m.to.thread.as_ref()).await,
            OutboundKind::ThreadReply { ticket } => match &m.to.thread {
                Some(t) => self.post(m, Some(t)).await,
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
                let res = session.chat_update(&req).await.map_err(map_error)?;
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
                match session.reactions_add(&req).await {
                    Ok(_) => Ok(Delivered::default()),
                    Err(SlackClientError::ApiError(a)) if a.code == "already_reacted" => {
                        Ok(Delivered::default())
                    }
                    Err(e) => Err(map_error(e)),
                }
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
