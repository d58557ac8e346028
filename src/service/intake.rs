//! How employees' messages come in on chat platforms, the same for Slack and Discord:
//! request channels (watched channels where every top-level message starts a conversation in
//! its thread), pleasantries that are not requests, grouping a person's messages into one
//! conversation, status reactions and the emoji names deskbot uses.

use crate::domain::{Millis, Platform};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// `[intake]` in `deskbot.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// Channels (ids, or names without `#`) watched for requests, e.g. `["it-help"]`.
    pub request_channels: Vec<String>,
    /// Messages from one person in a request channel within this window join one conversation
    /// (a duration such as `10m`).
    pub grouping_window: String,
    /// Answer questions asked in a public channel by direct message, so details stay private.
    pub answer_in_dm: bool,
    /// Put status reactions on the employee's message: working, solved, ticket filed.
    pub status_reactions: bool,
    /// Reaction names (Slack-style, without colons).
    pub working_emoji: String,
    pub solved_emoji: String,
    pub ticket_emoji: String,
    /// Reacting with this emoji to any message files a ticket from it for its author.
    pub file_ticket_emoji: String,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            request_channels: Vec::new(),
            grouping_window: "10m".into(),
            answer_in_dm: false,
            status_reactions: true,
            working_emoji: "eyes".into(),
            solved_emoji: "white_check_mark".into(),
            ticket_emoji: "ticket".into(),
            file_ticket_emoji: "ticket".into(),
        }
    }
}

impl IntakeConfig {
    /// The grouping window in milliseconds, or why it is not a duration.
    pub fn grouping_window_ms(&self) -> Result<i64, String> {
        let d = humantime::parse_duration(self.grouping_window.trim()).map_err(|e| {
            format!("intake.grouping_window `{}` is not a duration: {e}", self.grouping_window)
        })?;
        i64::try_from(d.as_millis()).map_err(|_| "intake.grouping_window is too long".to_string())
    }

    /// Whether `channel` (an id) or `name` (its name, when known) is a request channel.
    pub fn is_request_channel(&self, channel: &str, name: Option<&str>) -> bool {
        self.request_channels.iter().any(|c| {
            let c = c.trim_start_matches('#');
            c == channel || name.is_some_and(|n| n.trim_start_matches('#').eq_ignore_ascii_case(c))
        })
    }
}

/// Which status a reaction marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// deskbot is working on it (a question was taken up).
    Working,
    /// The employee said the answer solved it.
    Solved,
    /// A ticket was filed from it.
    Ticket,
}

impl IntakeConfig {
    pub fn emoji(&self, status: Status) -> &str {
        match status {
            Status::Working => &self.working_emoji,
            Status::Solved => &self.solved_emoji,
            Status::Ticket => &self.ticket_emoji,
        }
    }
}

/// A message that is not a request: greetings, thanks, "ok", a lone emoji.
pub fn is_pleasantry(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() {
        return true;
    }
    // Only emoji, punctuation or Slack-style `:emoji:` codes.
    let without_codes = strip_emoji_codes(t);
    if without_codes.chars().all(|c| !c.is_alphanumeric()) {
        return true;
    }
    crate::engine::is_pleasantry(t)
}

fn strip_emoji_codes(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for (i, part) in t.split(':').enumerate() {
        // Odd parts sit between two colons: drop them when they look like an emoji name.
        let looks_like_code = i % 2 == 1
            && !part.is_empty()
            && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'));
        if !looks_like_code {
            out.push_str(part);
        }
    }
    out
}

/// Emoji deskbot uses, by Slack name and Unicode form (Discord sends and takes Unicode).
const EMOJI: &[(&str, &str)] = &[
    ("eyes", "👀"),
    ("white_check_mark", "✅"),
    ("heavy_check_mark", "✔️"),
    ("ticket", "🎫"),
    ("admission_tickets", "🎟️"),
    ("book", "📖"),
    ("open_book", "📖"),
    ("sos", "🆘"),
    ("raising_hand", "🙋"),
    ("hourglass", "⌛"),
    ("hourglass_flowing_sand", "⏳"),
    ("x", "❌"),
    ("thumbsup", "👍"),
    ("+1", "👍"),
    ("thumbsdown", "👎"),
    ("-1", "👎"),
    ("wrench", "🔧"),
    ("rotating_light", "🚨"),
];

/// The Unicode form of an emoji name (`ticket` → 🎫), if deskbot knows it.
pub fn emoji_unicode(name: &str) -> Option<&'static str> {
    let name = name.trim_matches(':');
    EMOJI.iter().find(|(n, _)| *n == name).map(|(_, u)| *u)
}

/// The name of a Unicode emoji (🎫 → `ticket`), if deskbot knows it. Variation selectors
/// and skin tones are ignored.
pub fn emoji_name(unicode: &str) -> Option<&'static str> {
    let base = |s: &str| -> String {
        s.chars().filter(|c| !matches!(*c as u32, 0xFE0E | 0xFE0F | 0x1F3FB..=0x1F3FF)).collect()
    };
    let wanted = base(unicode);
    EMOJI.iter().find(|(_, u)| base(u) == wanted).map(|(n, _)| *n)
}

/// Where a message in a request channel belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The conversation key, `{platform}:{channel}:{thread}`.
    pub conversation: String,
    /// The message the conversation's thread hangs off (the first message of the group).
    pub thread: String,
    /// This message starts the conversation.
    pub new: bool,
}

/// Groups one person's messages in a request channel: a message within the window of that
/// person's previous one joins its conversation; otherwise it starts a new one in its own
/// thread. Kept in memory: after a restart, or on another process, the next message starts
/// a fresh conversation, which costs a thread, not a message.
pub struct Grouper {
    window_ms: i64,
    /// (platform, channel, user) → (the group's thread, the latest message's time).
    last: Mutex<HashMap<GroupKey, (String, Millis)>>,
}

type GroupKey = (Platform, String, String);

/// Entries are pruned when the map grows past this many people.
const PRUNE_AT: usize = 10_000;

impl Grouper {
    pub fn new(window_ms: i64) -> Self {
        Self { window_ms: window_ms.max(0), last: Mutex::new(HashMap::new()) }
    }

    /// Place `message_id` from `user` in `channel`, sent at `at`.
    pub fn place(
        &self,
        platform: Platform,
        channel: &str,
        user: &str,
        message_id: &str,
        at: Millis,
    ) -> Placement {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.len() >= PRUNE_AT {
            let window = self.window_ms;
            last.retain(|_, (_, seen)| at - *seen <= window);
        }
        let key = (platform, channel.to_string(), user.to_string());
        let (thread, new, seen) = match last.get(&key) {
            // Within the window of the latest message (either side: events may arrive out of
            // order).
            Some((thread, seen)) if (at - *seen).abs() <= self.window_ms => {
                (thread.clone(), false, at.max(*seen))
            }
            _ => (message_id.to_string(), true, at),
        };
        last.insert(key, (thread.clone(), seen));
        Placement { conversation: format!("{platform}:{channel}:{thread}"), thread, new }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn pleasantries_are_not_requests() {
        for t in ["thanks!", "ok", "Thank you so much", "hi there", ":+1:", "👍", "  ", "good morning"] {
            assert!(is_pleasantry(t), "{t:?} should be a pleasantry");
        }
        for t in [
            "my laptop won't boot",
            "ok so the vpn is down again",
            "hi, I need a new mouse",
            ":fire: printer",
        ] {
            assert!(!is_pleasantry(t), "{t:?} is a request");
        }
    }

    #[test]
    fn messages_within_the_window_join_one_conversation() {
        let g = Grouper::new(10 * MIN);
        let a = g.place(Platform::Slack, "C1", "U1", "100.1", 0);
        assert!(a.new);
        assert_eq!(a.conversation, "slack:C1:100.1");
        let b = g.place(Platform::Slack, "C1", "U1", "100.2", 9 * MIN);
        assert_eq!((b.new, b.thread.as_str()), (false, "100.1"));
        // The window runs from the latest message, not the first.
        let c = g.place(Platform::Slack, "C1", "U1", "100.3", 18 * MIN);
        assert!(!c.new);
        // Someone else, or another channel, starts their own.
        assert!(g.place(Platform::Slack, "C1", "U2", "100.4", 18 * MIN).new);
        assert!(g.place(Platform::Slack, "C2", "U1", "100.5", 18 * MIN).new);
        // After a quiet spell longer than the window: a new conversation.
        let d = g.place(Platform::Slack, "C1", "U1", "100.6", 29 * MIN);
        assert_eq!((d.new, d.thread.as_str()), (true, "100.6"));
    }

    #[test]
    fn emoji_names_round_trip() {
        assert_eq!(emoji_unicode("ticket"), Some("🎫"));
        assert_eq!(emoji_unicode(":eyes:"), Some("👀"));
        assert_eq!(emoji_name("🎫"), Some("ticket"));
        assert_eq!(emoji_name("✅"), Some("white_check_mark"));
        assert_eq!(emoji_name("👍🏽"), Some("thumbsup"));
        assert_eq!(emoji_name("🦀"), None);
    }

    #[test]
    fn request_channels_match_by_id_or_name() {
        let c =
            IntakeConfig { request_channels: vec!["#it-help".into(), "C999".into()], ..Default::default() };
        assert!(c.is_request_channel("C123", Some("IT-help")));
        assert!(c.is_request_channel("C999", None));
        assert!(!c.is_request_channel("C123", Some("random")));
        assert_eq!(c.grouping_window_ms(), Ok(10 * MIN));
        let bad = IntakeConfig { grouping_window: "soon".into(), ..Default::default() };
        assert!(bad.grouping_window_ms().is_err());
    }
}
