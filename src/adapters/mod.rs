//! Adapters: they translate only. A platform payload becomes a neutral
//! [`crate::domain::Inbound`] handed to the intake router ([`crate::service`]); an
//! [`crate::domain::Outbound`] becomes the platform's API calls. No policy lives here: who owns
//! a conversation, who may act and what a button means are decided by the router and the desk.
//! `console.rs` is the terminal, `slack/` and `discord/` the chat platforms, `webhook.rs`
//! outgoing webhooks to other systems.

pub mod console;
pub mod discord;
pub mod order;
pub mod slack;
pub mod webhook;
