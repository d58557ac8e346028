//! Desk-wide settings (`[desk]` in deskbot.toml): thread command prefixes, emoji shortcuts and
//! the lifecycle of pending and resolved tickets.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskSettings {
    /// A thread message starting with this reaches the employee.
    pub reply_prefix: String,
    /// With `relay = "all"`, a thread message starting with this stays internal.
    pub note_prefix: String,
    /// Reaction on a card or thread message that claims the ticket.
    pub claim_emoji: String,
    /// Reaction that resolves the ticket.
    pub resolve_emoji: String,
    /// Reaction on a thread message that writes a draft KB article from it.
    pub kb_draft_emoji: String,
    /// Remind the employee about a pending ticket after this many hours.
    pub pending_reminder_hours: f64,
    /// Resolve a pending ticket nobody answered after this many days.
    pub pending_auto_resolve_days: f64,
    /// SLA reminders fire at this share of a target (0–1).
    pub sla_reminder_ratio: f64,
    /// Where 📖 drafts are written (default: `<intents_dir>/kb/drafts`, which the catalog
    /// does not load: an admin reviews a draft and moves it into `kb/`).
    pub kb_drafts_dir: Option<std::path::PathBuf>,
}

impl Default for DeskSettings {
    fn default() -> Self {
        Self {
            reply_prefix: "!reply ".into(),
            note_prefix: "note:".into(),
            claim_emoji: "eyes".into(),
            resolve_emoji: "white_check_mark".into(),
            kb_draft_emoji: "book".into(),
            pending_reminder_hours: 48.0,
            pending_auto_resolve_days: 7.0,
            sla_reminder_ratio: 0.75,
            kb_drafts_dir: None,
        }
    }
}
