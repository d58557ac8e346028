//! The desk as configured: every queue with its parsed business hours and SLA policy, plus
//! desk-wide settings. Built once from config; pure lookups afterwards. Who may act on a
//! queue is not here: the grants ledger decides (`access.rs`).

use super::hours::BusinessHours;
use super::queues::QueueConfig;
use super::settings::DeskSettings;
use super::sla::SlaPolicy;
use crate::config::Config;
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
    pub webhooks: Vec<crate::channel::webhook::WebhookConfig>,
}

impl Desk {
    pub fn from_config(config: &Config) -> Result<Desk, String> {
        let mut queues = BTreeMap::new();
        for cfg in config.queues() {
            let (hours, sla) = cfg.policy().map_err(|e| format!("queue `{}`: {e}", cfg.name))?;
            queues.insert(cfg.name.clone(), QueueRuntime { cfg, hours, sla });
        }
        Ok(Desk {
            queues,
            settings: config.desk.clone(),
            reopen_window_ms: config.engine_settings().reopen_window_ms,
            default_queue: config.default_queue.clone(),
            webhooks: config.webhook.clone(),
        })
    }

    /// The queue, or the default queue when it no longer exists (config changed).
    pub fn queue(&self, name: &QueueName) -> Option<&QueueRuntime> {
        self.queues.get(name).or_else(|| self.queues.get(&self.default_queue))
    }
}
