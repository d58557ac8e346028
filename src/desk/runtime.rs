//! The desk as configured: every queue with its parsed business hours, SLA policy, agents and
//! leads, plus desk-wide settings. Built once from config (`Config::desk`); pure lookups
//! afterwards.

use super::hours::BusinessHours;
use super::queues::QueueConfig;
use super::settings::DeskSettings;
use super::sla::SlaPolicy;
use crate::domain::{Address, QueueName, UserRef};
use std::collections::BTreeMap;

pub struct QueueRuntime {
    pub cfg: QueueConfig,
    pub hours: BusinessHours,
    pub sla: SlaPolicy,
    pub agents: Vec<UserRef>,
    pub leads: Vec<UserRef>,
}

impl QueueRuntime {
    /// The queue's agents' channels, as addresses.
    pub fn channels(&self) -> Vec<Address> {
        self.cfg.channel.iter().map(|(p, c)| Address::new(*p, c.clone())).collect()
    }
}

pub struct Desk {
    pub queues: BTreeMap<QueueName, QueueRuntime>,
    pub settings: DeskSettings,
    pub reopen_window_ms: i64,
    pub default_queue: QueueName,
    /// Configured webhooks: name and the events each wants.
    pub webhooks: Vec<WebhookRoute>,
}

/// A configured outgoing webhook as the desk sees it: its name and the events it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRoute {
    pub name: String,
    /// Empty means every event.
    pub events: Vec<String>,
}

impl WebhookRoute {
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

impl Desk {
    /// The desk from its queues (each with parsed hours and SLA policy) and settings.
    pub fn new(
        queue_configs: Vec<QueueConfig>,
        settings: DeskSettings,
        reopen_window_ms: i64,
        default_queue: QueueName,
        webhooks: Vec<WebhookRoute>,
    ) -> Result<Desk, String> {
        let mut queues = BTreeMap::new();
        for cfg in queue_configs {
            let (hours, sla) = cfg.policy().map_err(|e| format!("queue `{}`: {e}", cfg.name))?;
            let (agents, leads) = (cfg.agent_refs(), cfg.lead_refs());
            queues.insert(cfg.name.clone(), QueueRuntime { cfg, hours, sla, agents, leads });
        }
        Ok(Desk { queues, settings, reopen_window_ms, default_queue, webhooks })
    }

    /// The queue, or the default queue when it no longer exists (config changed).
    pub fn queue(&self, name: &QueueName) -> Option<&QueueRuntime> {
        self.queues.get(name).or_else(|| self.queues.get(&self.default_queue))
    }

    /// May `actor`, writing in `origin`, act on tickets of `queue`? Listed agents and leads
    /// may; with `agents = "channel-members"`, anyone posting in one of the queue's channels.
    pub fn may_act(&self, queue: &QueueName, actor: &UserRef, origin: &Address) -> bool {
        // deskbot itself and its operators (the CLI) act as System.
        if actor.platform == crate::domain::Platform::System {
            return true;
        }
        let Some(q) = self.queue(queue) else { return false };
        if q.agents.contains(actor) || q.leads.contains(actor) {
            return true;
        }
        q.cfg.channel_members_act()
            && q.cfg.channel.get(&origin.platform).is_some_and(|c| *c == origin.channel)
    }
}
