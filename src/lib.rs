//! deskbot: a self-hosted, chat-first IT self-service bot.
//!
//! The data flow (see DESIGN.md): a channel adapter turns a platform payload into an
//! [`channel::Inbound`]; [`service::Service`] loads the conversation, runs the pure
//! [`engine::step`] against the current [`intents::Catalog`], and commits everything the
//! event changed in one store transaction; the [`outbox`] worker delivers the replies.

pub mod app;
pub mod bench;
pub mod channel;
pub mod commands;
pub mod compliance;
pub mod config;
pub mod desk;
pub mod domain;
pub mod engine;
pub mod healthcheck;
pub mod http;
pub mod import;
pub mod intents;
pub mod kb;
pub mod leader;
pub mod observe;
pub mod outbox;
pub mod redact;
pub mod reports;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod usertext;
