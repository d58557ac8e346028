//! Queue definitions: where tickets go and who works them. Intents name their queue;
//! `default_queue` catches the rest. With no `[[queue]]` in config, the starter set is used.

use crate::desk::hours::BusinessHours;
use crate::desk::sla::SlaPolicy;
use crate::domain::{Platform, QueueName, UserRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One queue from `deskbot.toml` (`[[queue]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub name: QueueName,
    /// Shown to agents and in reports.
    #[serde(default)]
    pub description: Option<String>,
    /// The agents' channel per platform: `channel = { slack = "C0123", discord = "9876" }`.
    #[serde(default)]
    pub channel: BTreeMap<Platform, String>,
    /// Who may act on tickets: a list of `platform:id`, or `"channel-members"` for anyone who
    /// can post in the queue's channel. Seeds the grants ledger, which decides.
    #[serde(default)]
    pub agents: Agents,
    /// Leads may act too and are told about SLA breaches.
    #[serde(default)]
    pub leads: Vec<String>,
    /// `none`, `round_robin` or `least_loaded`.
    #[serde(default)]
    pub assignment: Assignment,
    /// `reply_only` (default: only `!reply` reaches the employee) or `all` (every thread
    /// message does, except those starting with `note:`).
    #[serde(default)]
    pub relay: Relay,
    /// Business hours the SLA clock runs on (absent: 24x7).
    #[serde(default)]
    pub hours: Option<crate::desk::hours::HoursConfig>,
    /// SLA targets per priority (absent: no SLA timers).
    #[serde(default)]
    pub sla: Option<crate::desk::sla::SlaConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Agents {
    List(Vec<String>),
    /// `"channel-members"`.
    Mode(String),
}

impl Default for Agents {
    fn default() -> Self {
        Agents::List(Vec::new())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    #[default]
    None,
    RoundRobin,
    LeastLoaded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Relay {
    #[default]
    ReplyOnly,
    All,
}

impl QueueConfig {
    pub fn named(name: QueueName, description: &str) -> Self {
        Self {
            name,
            description: Some(description.to_string()),
            channel: BTreeMap::new(),
            agents: Agents::default(),
            leads: Vec::new(),
            assignment: Assignment::None,
            relay: Relay::ReplyOnly,
            hours: None,
            sla: None,
        }
    }

    /// Check what serde cannot: agent references and the agents mode. Errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        let at = |key: &str| format!("queue `{}`: {key}", self.name);
        match &self.agents {
            Agents::Mode(m) if m != "channel-members" => {
                return Err(format!(
                    "{}: expected a list of PLATFORM:ID or \"channel-members\", not `{m}`",
                    at("agents")
                ));
            }
            Agents::List(list) => {
                for a in list {
                    a.parse::<UserRef>().map_err(|e| format!("{}: {e}", at("agents")))?;
                }
            }
            Agents::Mode(_) => {}
        }
        for l in &self.leads {
            l.parse::<UserRef>().map_err(|e| format!("{}: {e}", at("leads")))?;
        }
        self.policy().map(drop).map_err(|e| format!("queue `{}`: {e}", self.name))
    }

    /// The queue's business hours and SLA policy (24x7 and no targets when not configured).
    pub fn policy(&self) -> Result<(BusinessHours, SlaPolicy), String> {
        let hours = match &self.hours {
            Some(h) => BusinessHours::from_config(h).map_err(|e| e.to_string())?,
            None => BusinessHours::always(),
        };
        let sla = match &self.sla {
            Some(s) => SlaPolicy::from_config(s, &hours).map_err(|e| e.to_string())?,
            None => SlaPolicy::default(),
        };
        Ok((hours, sla))
    }
}

/// The queues the shipped starter pack routes to.
pub fn default_queues() -> Vec<QueueConfig> {
    [
        ("service-desk", "General IT requests and anything unmatched"),
        ("identity", "Accounts, passwords, MFA, SSO"),
        ("network", "VPN, Wi-Fi, connectivity"),
        ("hardware", "Laptops, peripherals, printers, phones"),
        ("software", "Installs, licences, application problems"),
        ("access", "Access to applications, folders and mailboxes"),
        ("security", "Phishing, incidents, lost devices"),
        ("facilities", "Meeting rooms and office equipment"),
    ]
    .into_iter()
    .filter_map(|(n, d)| QueueName::parse(n).ok().map(|name| QueueConfig::named(name, d)))
    .collect()
}
