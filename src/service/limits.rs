//! Input bounds (`[limits]`): message length, messages per employee per minute, attachments
//! per message. A message over the rate is not lost: it is stored in the conversation's
//! transcript and the employee gets one polite "slow down" per minute; the engine does not run
//! on it. Only messages deskbot takes count: the owner rule comes first, so talk in threads
//! deskbot is not part of (or someone else's) is neither counted nor kept. The rate is counted per process (each process of a PostgreSQL deployment counts the
//! employees it serves).

use super::{Service, ServiceError, keyed};
use crate::compliance::LimitsConfig;
use crate::domain::{Inbound, InboundKind, Outbound};
use crate::domain::{Millis, UserRef};
use crate::engine::ConversationState;
use crate::store::{
    Commit, ConversationWrite, EventKey, NewMessage, Speaker, StoreError, StoredConversation, Turn,
};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const WINDOW_MS: Millis = 60_000;
/// Forget idle employees once this many are tracked.
const MAX_TRACKED: usize = 10_000;

/// The reply to an employee over the rate limit.
pub fn slow_down_notice(per_minute: u32) -> String {
    format!(
        "You're sending messages faster than I can keep up with (more than {per_minute} a minute). \
         I've saved what you sent; please give me a moment before sending more."
    )
}

/// The notice when attachments were dropped.
pub fn attachments_notice(kept: usize) -> String {
    format!("(You sent more than {kept} attachments, so I kept only the first {kept}.)")
}

#[derive(Default)]
struct Window {
    accepted: VecDeque<Millis>,
    warned_at: Option<Millis>,
}

/// What the rate limiter says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Ok,
    /// Over the limit; `warn` when the employee has not been told in the last minute.
    Slow {
        warn: bool,
    },
}

pub struct Limits {
    cfg: LimitsConfig,
    windows: Mutex<HashMap<UserRef, Window>>,
}

impl Limits {
    pub fn new(cfg: LimitsConfig) -> Self {
        Self { cfg, windows: Mutex::new(HashMap::new()) }
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.cfg
    }

    /// Count one message from `user` at `now`.
    pub fn check(&self, user: &UserRef, now: Millis) -> Rate {
        let limit = self.cfg.messages_per_minute as usize;
        if limit == 0 {
            return Rate::Ok;
        }
        let Ok(mut windows) = self.windows.lock() else { return Rate::Ok };
        if windows.len() > MAX_TRACKED {
            windows.retain(|_, w| w.accepted.back().is_some_and(|t| now - t < WINDOW_MS));
        }
        let w = windows.entry(user.clone()).or_default();
        while w.accepted.front().is_some_and(|t| now - t >= WINDOW_MS) {
            w.accepted.pop_front();
        }
        if w.accepted.len() < limit {
            w.accepted.push_back(now);
            return Rate::Ok;
        }
        let warn = w.warned_at.is_none_or(|t| now - t >= WINDOW_MS);
        if warn {
            w.warned_at = Some(now);
        }
        Rate::Slow { warn }
    }

    /// Keep the first `max_attachments`; `Some(kept)` when some were dropped.
    pub fn bound_attachments<T>(&self, attachments: &mut Vec<T>) -> Option<usize> {
        let max = self.cfg.max_attachments;
        (attachments.len() > max).then(|| {
            attachments.truncate(max);
            max
        })
    }

    /// Cut `text` to the configured length; true if it was cut.
    pub fn cut(&self, text: &mut String) -> bool {
        match text.char_indices().nth(self.cfg.max_message_chars) {
            Some((at, _)) => {
                text.truncate(at);
                true
            }
            None => false,
        }
    }
}

/// After the input bound cut a text mid-number, drop what is left of that number (digits and
/// the separators between them): the rest of it was never seen, so no rule could judge it.
pub fn drop_cut_number(text: &mut String) {
    let kept = text.trim_end_matches(|c: char| c.is_numeric() || matches!(c, ' ' | '-' | '.'));
    if kept.len() < text.len() && text[kept.len()..].chars().any(char::is_numeric) {
        text.truncate(kept.len());
    }
}

impl Service {
    /// The commit for a message over the rate limit: kept in the conversation's transcript
    /// without running the engine, and (once a minute) a request to slow down. Only messages
    /// the owner rule admitted come here.
    pub(super) fn slow_commit(
        &self,
        inbound: &Inbound,
        stored: Option<&StoredConversation>,
        warn: bool,
        now: Millis,
    ) -> Result<Commit, ServiceError> {
        let text = match &inbound.kind {
            InboundKind::Message { text } => text.clone(),
            _ => String::new(),
        };
        let (state, version) = match stored {
            Some(c) => (c.state.clone(), c.version),
            None => {
                let fresh =
                    ConversationState { since: super::employee::began_at(inbound), ..Default::default() };
                (serde_json::to_value(fresh).map_err(|e| StoreError::Corrupt(e.to_string()))?, 0)
            }
        };
        let mut outbound = Vec::new();
        if warn {
            let notice = slow_down_notice(self.limits.config().messages_per_minute);
            outbound.push(Outbound::message(inbound.reply_to.clone(), notice, Vec::new()));
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
            messages: vec![NewMessage {
                turn: Turn { from: Speaker::Employee, text, at: now, by: None },
                ticket: None,
                internal: false,
            }],
            tickets: Vec::new(),
            feedback: Vec::new(),
            outbox: keyed(&format!("{}:{}", inbound.user.platform, inbound.event_id), outbound),
            now,
            cases: Vec::new(),
            requests: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    #[test]
    fn rate_limit_slides_and_warns_once_a_minute() {
        let l = Limits::new(LimitsConfig { messages_per_minute: 2, ..LimitsConfig::default() });
        let u = UserRef::new(Platform::Slack, "U1");
        assert_eq!(l.check(&u, 0), Rate::Ok);
        assert_eq!(l.check(&u, 10), Rate::Ok);
        assert_eq!(l.check(&u, 20), Rate::Slow { warn: true });
        assert_eq!(l.check(&u, 30), Rate::Slow { warn: false });
        assert_eq!(l.check(&UserRef::new(Platform::Slack, "U2"), 30), Rate::Ok);
        assert_eq!(l.check(&u, 60_001), Rate::Ok);
        let mut t = "é".repeat(10);
        let short = Limits::new(LimitsConfig { max_message_chars: 4, ..LimitsConfig::default() });
        assert!(short.cut(&mut t));
        assert_eq!(t, "éééé");
        assert!(!short.cut(&mut t));
        let few = Limits::new(LimitsConfig { max_attachments: 2, ..LimitsConfig::default() });
        let mut files = vec![1, 2, 3, 4];
        assert_eq!(few.bound_attachments(&mut files), Some(2));
        assert_eq!(files, vec![1, 2]);
        assert_eq!(few.bound_attachments(&mut files), None);
    }

    #[test]
    fn a_number_cut_by_the_input_bound_is_dropped_whole() {
        let mut t = "my card is 4111 1111 11".to_string();
        drop_cut_number(&mut t);
        assert_eq!(t, "my card is");
        let mut words = "my card is [card] ok".to_string();
        drop_cut_number(&mut words);
        assert_eq!(words, "my card is [card] ok");
    }
}
