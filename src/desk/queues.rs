//! Queue definitions: where tickets go. Intents name their queue; `default_queue` catches the
//! rest. With no `[[queue]]` in config, the starter set below is used.

use crate::domain::QueueName;
use serde::{Deserialize, Serialize};

/// One queue from `deskbot.toml` (`[[queue]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub name: QueueName,
    /// Shown to agents and in reports.
    #[serde(default)]
    pub description: Option<String>,
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
    .filter_map(|(n, d)| {
        QueueName::parse(n).ok().map(|name| QueueConfig { name, description: Some(d.to_string()) })
    })
    .collect()
}
