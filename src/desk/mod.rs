//! The desk: queues and how agents work tickets from chat. `queues.rs` holds queue
//! definitions, `settings.rs` desk-wide settings, `hours.rs` and `sla.rs` business-hours SLA
//! math, `commands.rs` the `!` commands, `workflow.rs` what an agent action does (pure),
//! `cards.rs` what the desk posts, `access.rs` who may act (from the grants ledger),
//! `directory.rs` who manages whom, `requests.rs` the approval steps of access and licence
//! requests (pure); the timers run from `service/scheduler.rs`.

pub mod access;
pub mod cards;
pub mod commands;
pub mod directory;
pub mod hours;
pub mod queues;
pub mod requests;
pub mod runtime;
pub mod settings;
pub mod sla;
pub mod workflow;

pub use access::Access;
pub use queues::{QueueConfig, default_queues};
pub use runtime::{Desk, QueueRuntime, WebhookRoute};
pub use settings::DeskSettings;
