//! The desk: queues and what agents work with. `queues.rs` holds queue definitions from
//! config; the agent-side workflow builds on them.

pub mod hours;
pub mod queues;
pub mod sla;

pub use queues::{QueueConfig, default_queues};
