//! The intake settings as the Slack adapter uses them (TEMPORARY until the shared intake lands).

use crate::config::Config;
use crate::domain::Millis;

pub struct Placement {
    pub conversation: String,
    pub thread: String,
    pub new: bool,
}

pub struct Intake {
    pub request_channels: Vec<String>,
    pub answer_in_dm: bool,
    pub file_ticket_emoji: String,
}

impl Intake {
    pub fn from_config(_c: &Config) -> Self {
        Self { request_channels: Vec::new(), answer_in_dm: false, file_ticket_emoji: "ticket".into() }
    }
    pub fn is_pleasantry(&self, _t: &str) -> bool {
        false
    }
    pub fn place(&self, channel: &str, _user: &str, ts: &str, _at: Millis) -> Placement {
        Placement { conversation: format!("slack:{channel}:{ts}"), thread: ts.to_string(), new: true }
    }
}
