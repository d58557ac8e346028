//! deskbot: a self-hosted, chat-first IT self-service bot.
//!
//! The data flow (see DESIGN.md): an adapter ([`adapters`]) turns a platform payload into a
//! neutral [`domain::ChatEvent`] (where, who as the platform attests, what); the intake router
//! ([`service::router`]) decides what it means — the conversation it joins, where answers go,
//! its dedupe id, the owner rule — and makes it a [`domain::Inbound`]; the pipeline
//! ([`service::Service`]) checks permissions from the grants ledger, runs the pure [`engine::step`] or the desk workflow
//! against the current [`intents::Catalog`], and commits everything the event changed in one
//! store transaction; the [`outbox`] worker delivers the replies through the adapters.
//!
//! Layers import downward only (checked by `tests/module_graph.rs`, which fails on any import
//! cycle between these modules):
//!
//! 1. `domain`, `text`, `usertext`, `embed` — shared vocabulary and text utilities (`usertext`
//!    marks which parts of an outbound text a user wrote; `embed` turns text into sentence
//!    embeddings with a local model); no policy.
//! 2. `intents`, `kb`, `redact` — the catalog (intents, articles, matcher, search) and PII
//!    redaction.
//! 3. `engine`, `desk` — pure decisions: the employee conversation and the agents' desk.
//! 4. `store`, `leader` — the only SQL; one transaction per event.
//! 5. `compliance`, `reports` — retention, erasure, audit, grants; figures for the reports.
//! 6. `service` — the intake router and pipeline: the one place that decides who acts.
//! 7. `adapters`, `outbox`, `http` — translate to and from Slack, Discord, console, webhooks
//!    and HTTP (the reports page, and the employees' portal: one more adapter behind the intake
//!    router); deliver.
//! 8. `config`, `telemetry` — assemble each module's config section; logging. (`observe`, the
//!    metric names and their descriptions, sits just above `intents`, so any layer may count.)
//! 9. `app`, `import`, `eval`, `bench`, `commands`, `healthcheck` — start the whole, the CLI.

pub mod adapters;
pub mod app;
pub mod bench;
pub mod commands;
pub mod compliance;
pub mod config;
pub mod desk;
pub mod domain;
pub mod embed;
pub mod engine;
pub mod eval;
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
