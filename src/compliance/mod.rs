//! Compliance for regulated desks: retention and purge (`retention.rs`), per-person export and
//! erasure (`person.rs`), the tamper-evident audit log (`audit.rs`) keyed with the audit key
//! (`store/key.rs`, re-exported here as `key`) and anchored outside the database (`anchor.rs`),
//! and justified role grants (`roles.rs`); the CLI commands over them are in
//! `commands/compliance.rs`. The personal-data catalogue they all work from lives beside the
//! store (`store/catalogue.rs`, re-exported here as `catalogue`). Redaction lives in `redact/`,
//! input bounds in `service/limits.rs`; the SQL is in `store/compliance_sql.rs` and
//! `store/person_sql.rs`.

pub mod anchor;
pub mod audit;
/// The personal-data catalogue (kept beside the store, which reads it).
pub use crate::store::catalogue;
pub use crate::store::key;
pub mod person;
pub mod retention;
pub mod roles;

use crate::domain::{QueueName, UserRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[retention]`: how long data is kept. Unset periods keep data forever.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days to keep transcripts: ticket transcript lines, chat with no ticket, idle
    /// conversations, delivered messages, KB feedback queries and dedupe keys.
    pub transcripts_days: Option<u32>,
    /// Days after resolution a resolved or closed ticket is anonymised (its statistics stay).
    pub closed_tickets_days: Option<u32>,
    /// Per-queue overrides: `[retention.queue.identity] transcripts_days = 30`.
    pub queue: BTreeMap<String, QueueRetention>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct QueueRetention {
    pub transcripts_days: Option<u32>,
    pub closed_tickets_days: Option<u32>,
}

/// `[roles]`: admins, and how often grants must be re-justified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RolesConfig {
    /// Desk admins as `platform:id`; recorded as grants by "config" on start.
    pub admins: Vec<String>,
    /// `deskbot roles review` flags grants not (re-)justified in this many days.
    pub review_days: Option<u32>,
}

/// `[limits]`: bounds on what one employee can send.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Longer messages are cut here (in characters) and the employee is told.
    pub max_message_chars: usize,
    /// Messages per employee per minute; more get a polite "slow down" (and are still
    /// stored). 0 turns the limit off.
    pub messages_per_minute: u32,
    /// Attachments kept per message; the rest are dropped and the employee is told.
    pub max_attachments: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { max_message_chars: 8000, messages_per_minute: 20, max_attachments: 10 }
    }
}

/// Check the compliance sections against the configured queues.
pub fn validate(
    retention: &RetentionConfig,
    roles: &RolesConfig,
    limits: &LimitsConfig,
    queues: &[QueueName],
) -> Result<(), String> {
    for name in retention.queue.keys() {
        if !queues.iter().any(|q| q.as_str() == name) {
            let known: Vec<&str> = queues.iter().map(QueueName::as_str).collect();
            return Err(format!("retention.queue.{name}: unknown queue (known: {})", known.join(", ")));
        }
    }
    for a in &roles.admins {
        a.parse::<UserRef>().map_err(|e| format!("roles.admins: `{a}`: {e}"))?;
    }
    if limits.max_message_chars == 0 {
        return Err("limits.max_message_chars must be at least 1".into());
    }
    Ok(())
}

/// Run `work` once a day while `is_leader()` says so, until cancelled, checking every `poll`.
/// The day is claimed through the store's job `name`, so restarts and replicas run it once.
pub async fn run_daily_job<F, Fut>(
    store: &crate::store::DynStore,
    name: &str,
    clock: crate::domain::Clock,
    poll: std::time::Duration,
    cancel: tokio_util::sync::CancellationToken,
    is_leader: impl Fn() -> bool,
    mut work: F,
) where
    F: FnMut(crate::domain::Millis) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    const DAY_MS: i64 = 86_400_000;
    loop {
        if is_leader() {
            let now = clock();
            match store.claim_job(name, now, now + DAY_MS).await {
                Ok(true) => work(now).await,
                Ok(false) => {}
                Err(e) => tracing::error!(job = name, error = %e, "cannot claim a daily job"),
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
