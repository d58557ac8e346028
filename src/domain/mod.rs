//! Small domain types shared by every module: who, where, which ticket, how urgent.
//! Parsed once at the edge, trusted inside.

pub mod duration;
pub mod event;
pub mod message;
pub mod status;

pub use event::{ChatEvent, FetchedMessage, Input, Place, TicketAction};

pub use message::{
    About, Attachment, Channel, Choice, Delivered, Inbound, InboundKind, MAX_INBOUND_TEXT, Outbound,
    OutboundKind, SendError, TicketCard, TicketSummary, Via, sanitize_text,
};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch, UTC. The engine never reads a clock: callers pass `now`.
pub type Millis = i64;

/// The platform a user or address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Console,
    Slack,
    Discord,
    /// The in-memory channel used by tests and the load bench.
    Test,
    /// deskbot itself: timers and other events no person sent.
    System,
    /// Outgoing webhooks to other systems of record.
    Webhook,
}

impl Platform {
    /// Whether a thread is a channel of its own on this platform (Discord), so a message in a
    /// thread sits in the thread's id rather than in its parent channel (Slack).
    pub fn threads_are_channels(self) -> bool {
        matches!(self, Platform::Discord)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Console => "console",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Test => "test",
            Platform::System => "system",
            Platform::Webhook => "webhook",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "console" => Ok(Platform::Console),
            "slack" => Ok(Platform::Slack),
            "discord" => Ok(Platform::Discord),
            "test" => Ok(Platform::Test),
            "system" => Ok(Platform::System),
            "webhook" => Ok(Platform::Webhook),
            other => Err(format!("unknown platform `{other}` (known: console, slack, discord)")),
        }
    }
}

/// A person on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserRef {
    pub platform: Platform,
    pub id: String,
}

impl UserRef {
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        Self { platform, id: id.into() }
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

impl FromStr for UserRef {
    type Err = String;
    /// `platform:id`, e.g. `slack:U123` or `console:alice`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (p, id) = s.split_once(':').ok_or_else(|| {
            format!("`{s}` is not a user reference (expected PLATFORM:ID, e.g. console:alice)")
        })?;
        if id.is_empty() {
            return Err(format!("`{s}` has an empty user id"));
        }
        Ok(UserRef::new(p.parse()?, id))
    }
}

/// An opaque place to send a message: a platform, a channel and optionally a thread in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    pub platform: Platform,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

impl Address {
    pub fn new(platform: Platform, channel: impl Into<String>) -> Self {
        Self { platform, channel: channel.into(), thread: None }
    }
    pub fn in_thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = Some(thread.into());
        self
    }

    /// A person's direct messages with deskbot, by their user id: Slack opens the DM when a
    /// user id is the channel; Discord's sender opens it from `dm:{user}`.
    pub fn person(platform: Platform, user: &str) -> Self {
        match platform {
            Platform::Discord => Self::new(platform, format!("{DM_PREFIX}{user}")),
            _ => Self::new(platform, user),
        }
    }
}

/// How a Discord address names a person's DMs before the DM channel is known.
pub const DM_PREFIX: &str = "dm:";

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, Default)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown priority `{s}` (known: low, normal, high, urgent)"))
    }
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    Open,
    Pending,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 4] =
        [TicketStatus::Open, TicketStatus::Pending, TicketStatus::Resolved, TicketStatus::Closed];
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }
    pub fn is_active(self) -> bool {
        matches!(self, TicketStatus::Open | TicketStatus::Pending)
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketStatus::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown status `{s}` (known: open, pending, resolved, closed)"))
    }
}

/// A request's number, shown as `R-1001`. `RequestNumber(0)` in a `RequestOp` names the
/// request the same commit creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestNumber(pub i64);

impl std::fmt::Display for RequestNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "R-{}", self.0)
    }
}

impl std::str::FromStr for RequestNumber {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t.strip_prefix("R-").or_else(|| t.strip_prefix("r-")).unwrap_or(t);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 => Ok(RequestNumber(n)),
            _ => Err(format!("`{t}` is not a request number (like R-1001)")),
        }
    }
}

/// A ticket's number, shown to people as `IT-1042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct TicketNumber(pub i64);

/// The prefix people see in front of a ticket number.
pub const TICKET_PREFIX: &str = "IT";

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TICKET_PREFIX}-{}", self.0)
    }
}

impl FromStr for TicketNumber {
    type Err = String;
    /// Accepts `IT-1042`, `it-1042`, `#1042` and `1042`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t
            .strip_prefix('#')
            .or_else(|| {
                t.split_once('-').filter(|(p, _)| p.eq_ignore_ascii_case(TICKET_PREFIX)).map(|(_, d)| d)
            })
            .unwrap_or(t);
        digits
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(TicketNumber)
            .ok_or_else(|| format!("`{s}` is not a ticket number (expected e.g. {TICKET_PREFIX}-1042)"))
    }
}

/// A queue's name, e.g. `identity`. Lowercase letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(QueueName(s.to_string()))
        } else {
            Err(format!("`{s}` is not a queue name (lowercase letters, digits, `-`, `_`)"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for QueueName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        QueueName::parse(&s)
    }
}

impl From<QueueName> for String {
    fn from(q: QueueName) -> String {
        q.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where "now" comes from; tests inject a fixed or stepping clock.
pub type Clock = std::sync::Arc<dyn Fn() -> Millis + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    std::sync::Arc::new(|| chrono::Utc::now().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_parse_in_the_forms_people_type() {
        for s in ["IT-1042", "it-1042", "#1042", "1042", " IT-1042 "] {
            assert_eq!(s.parse::<TicketNumber>(), Ok(TicketNumber(1042)), "{s}");
        }
        for s in ["", "IT-", "XX-12", "-5", "0", "IT-abc"] {
            assert!(s.parse::<TicketNumber>().is_err(), "{s}");
        }
        assert_eq!(TicketNumber(7).to_string(), "IT-7");
    }

    #[test]
    fn user_refs_and_priorities_round_trip() {
        let u: UserRef = "slack:U123".parse().unwrap();
        assert_eq!(u.to_string(), "slack:U123");
        assert!("nope".parse::<UserRef>().is_err());
        assert!("irc:x".parse::<UserRef>().is_err());
        assert_eq!("URGENT".parse::<Priority>(), Ok(Priority::Urgent));
        assert!("asap".parse::<Priority>().is_err());
        assert!(QueueName::parse("Net Work").is_err());
    }
}
