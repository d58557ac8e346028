//! An in-memory channel that plays every platform in tests: it records each delivery in
//! order, gives cards message ids (so threads work), and dedupes on the idempotency key the
//! way platforms do.

use async_trait::async_trait;
use deskbot::domain::Platform;
use deskbot::domain::{Channel, Delivered, Outbound, OutboundKind, SendError};
use std::collections::HashSet;
use std::sync::Mutex;

/// One delivery as a person would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// `channel` or `channel/thread`.
    pub place: String,
    pub text: String,
    pub choices: Vec<String>,
    /// `message`, `card`, `card_update`, `thread`, `webhook` or `reaction` (text `:emoji: on ID`).
    pub kind: &'static str,
}

#[derive(Default)]
pub struct TestChannel {
    seen: Mutex<Vec<Seen>>,
    keys: Mutex<HashSet<String>>,
    next_id: Mutex<u64>,
    /// The platform it plays (the in-memory `test` platform unless set).
    platform: Option<Platform>,
}

impl TestChannel {
    /// A channel playing `platform` (e.g. Slack or Discord addresses, with the router's keys).
    #[allow(dead_code)]
    pub fn on(platform: Platform) -> Self {
        Self { platform: Some(platform), ..Default::default() }
    }

    /// Everything delivered to `place` (a channel, or `channel/thread`), in order.
    pub fn at(&self, place: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.place == place).cloned().collect()
    }
    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    /// Texts delivered to `place` since the last call for any place.
    pub fn texts(&self, place: &str) -> Vec<String> {
        self.at(place).into_iter().map(|s| s.text).collect()
    }
    /// The message id of the first card posted in `channel`.
    pub fn card_id(&self, channel: &str) -> Option<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .position(|s| s.place == channel && s.kind == "card")
            .map(|i| format!("m{}", i + 1))
    }
}

#[async_trait]
impl Channel for TestChannel {
    fn platform(&self) -> Platform {
        self.platform.unwrap_or(Platform::Test)
    }

    async fn send(&self, key: &str, m: &Outbound) -> Result<Delivered, SendError> {
        if !self.keys.lock().unwrap().insert(key.to_string()) {
            return Ok(Delivered::default());
        }
        let mut seen = self.seen.lock().unwrap();
        let kind = match &m.kind {
            OutboundKind::Message => "message",
            OutboundKind::Card { .. } => "card",
            OutboundKind::CardUpdate { .. } => "card_update",
            OutboundKind::ThreadReply { .. } => "thread",
            OutboundKind::Webhook { .. } => "webhook",
            OutboundKind::Reaction { .. } => "reaction",
            OutboundKind::Private { .. } => "private",
        };
        let place = match (&m.kind, &m.to.thread) {
            // Only that person sees it: a place of their own.
            (OutboundKind::Private { user }, _) => format!("private:{user}"),
            (OutboundKind::CardUpdate { .. }, _) | (_, None) => m.to.channel.clone(),
            (_, Some(t)) => format!("{}/{}", m.to.channel, t),
        };
        seen.push(Seen {
            place,
            text: match &m.kind {
                OutboundKind::Reaction { emoji, message } => format!(":{emoji}: on {message}"),
                _ => deskbot::usertext::plain(&m.text),
            },
            choices: m.choices.iter().map(|c| c.label.clone()).collect(),
            kind,
        });
        *self.next_id.lock().unwrap() += 1;
        Ok(Delivered { message_id: Some(format!("m{}", seen.len())) })
    }
}
