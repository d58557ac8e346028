//! The desk as configured: every queue with its parsed business hours and SLA policy, plus
//! desk-wide settings. Built once from config (`Config::desk`); pure lookups afterwards. Who
//! may act on a queue is not here: the grants ledger decides (`access.rs`).

use super::hours::BusinessHours;
use super::queues::QueueConfig;
use super::settings::DeskSettings;
use super::sla::SlaPolicy;
use crate::domain::{Address, QueueName};
use std::collections::BTreeMap;

pub struct QueueRuntime {
    pub cfg: QueueConfig,
    pub hours: BusinessHours,
    pub sla: SlaPolicy,
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
            queues.insert(cfg.name.clone(), QueueRuntime { cfg, hours, sla });
        }
        Ok(Desk { queues, settings, reopen_window_ms, default_queue, webhooks })
    }

    /// The queue, or the default queue when it no longer exists (config changed).
    pub fn queue(&self, name: &QueueName) -> Option<&QueueRuntime> {
        self.queues.get(name).or_else(|| self.queues.get(&self.default_queue))
    }
}
