//! What compliance needs from the store: the hash-chained audit log, justified role grants,
//! retention purges, per-person export and erasure, and store-kept recurring jobs. The SQL is
//! in `compliance_sql.rs`, shared by both backends.
//!
//! The audit chain: every entry carries the previous entry's hash and its own, SHA-256 over
//! [`entry_hash`]'s canonical JSON. Appends lock the one-row `audit_head` (which holds the last
//! sequence number and hash), so concurrent writers on PostgreSQL queue instead of forking the
//! chain. Rows copied from `ticket_events` by migration 0003 carry no hash; the first append (or
//! `deskbot audit verify`) creates the head and chains them, oldest first.

use crate::domain::{Millis, TicketNumber, UserRef};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Result, StoredMessage, Ticket};

/// The "previous hash" of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit entry to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub at: Millis,
    pub actor: String,
    pub kind: String,
    pub ticket: Option<TicketNumber>,
    /// The person or thing the entry is about (e.g. `slack:U123` for a role grant).
    pub subject: Option<String>,
    pub detail: Option<String>,
}

/// An audit entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub kind: String,
    pub ticket_number: Option<i64>,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl AuditEntry {
    /// The hash this entry should carry after `prev`.
    pub fn expected_hash(&self, prev: &str) -> String {
        entry_hash(
            prev,
            self.seq,
            self.at,
            &self.actor,
            &self.kind,
            self.ticket_number,
            self.subject.as_deref(),
            self.detail.as_deref(),
        )
    }
}

/// SHA-256 (hex) over the previous hash and the entry's fields, as one JSON array so no two
/// different entries serialise alike.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev: &str,
    seq: i64,
    at: Millis,
    actor: &str,
    kind: &str,
    ticket: Option<i64>,
    subject: Option<&str>,
    detail: Option<&str>,
) -> String {
    let canonical = serde_json::json!([prev, seq, at, actor, kind, ticket, subject, detail]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// A role someone holds on the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Lead,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "agent" => Ok(Role::Agent),
            "lead" => Ok(Role::Lead),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role `{other}` (agent, lead, admin)")),
        }
    }
}

/// The scope of a grant that covers every queue.
pub const ALL_QUEUES: &str = "*";

/// A grant to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGrant {
    pub user: UserRef,
    pub role: Role,
    /// A queue name, or [`ALL_QUEUES`].
    pub scope: String,
    /// Who grants it (`config` for grants from deskbot.toml).
    pub by: String,
    pub justification: String,
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleGrant {
    pub id: i64,
    pub user: UserRef,
    pub role: Role,
    pub scope: String,
    pub granted_by: String,
    pub justification: String,
    pub granted_at: Millis,
    /// When it was last (re-)justified.
    pub reviewed_at: Millis,
    pub revoked_at: Option<Millis>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

/// What recording a grant did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantOutcome {
    /// A new grant.
    Granted,
    /// The same grant was active: its justification and review date were renewed.
    Rejustified,
}

/// Expiry cutoffs for one queue's tickets: data older than a cutoff goes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueCutoffs {
    pub queue: String,
    /// Transcript lines of the queue's tickets written before this.
    pub transcripts_before: Option<Millis>,
    /// Resolved or closed tickets (resolved before this) are anonymised.
    pub closed_before: Option<Millis>,
}

/// What a purge removes; built from config by `compliance::retention`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PurgePlan {
    pub queues: Vec<QueueCutoffs>,
    /// Conversations, transcript lines without a ticket, delivered messages, KB feedback
    /// queries and dedupe keys older than this.
    pub other_before: Option<Millis>,
    /// Who runs it (`retention` for the daily job).
    pub actor: String,
}

/// How many rows a purge deleted or anonymised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub messages_deleted: u64,
    pub tickets_anonymised: u64,
    pub conversations_deleted: u64,
    pub outbox_deleted: u64,
    pub feedback_anonymised: u64,
    pub dedupe_keys_deleted: u64,
    /// False for a dry run (nothing was changed).
    pub applied: bool,
}

impl PurgeReport {
    pub fn total(&self) -> u64 {
        self.messages_deleted
            + self.tickets_anonymised
            + self.conversations_deleted
            + self.outbox_deleted
            + self.feedback_anonymised
            + self.dedupe_keys_deleted
    }

    /// One line for the audit log and the CLI.
    pub fn summary(&self) -> String {
        format!(
            "messages deleted {}, tickets anonymised {}, conversations deleted {}, deliveries deleted {}, \
             feedback queries anonymised {}, dedupe keys deleted {}",
            self.messages_deleted,
            self.tickets_anonymised,
            self.conversations_deleted,
            self.outbox_deleted,
            self.feedback_anonymised,
            self.dedupe_keys_deleted
        )
    }
}

/// A conversation as exported for its owner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationRecord {
    pub key: String,
    pub reply_to: serde_json::Value,
    pub state: serde_json::Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A rating the person gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatingRecord {
    pub ticket: TicketNumber,
    pub score: i64,
    pub comment: Option<String>,
    pub at: Millis,
}

/// Everything stored about one person (`deskbot person export`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonData {
    pub user: UserRef,
    /// Names the person was stored under.
    pub names: Vec<String>,
    pub conversations: Vec<ConversationRecord>,
    pub messages: Vec<StoredMessage>,
    pub tickets: Vec<Ticket>,
    /// Tickets the person worked on as an agent.
    pub assigned_tickets: Vec<TicketNumber>,
    pub ratings: Vec<RatingRecord>,
    pub roles: Vec<RoleGrant>,
    pub audit: Vec<AuditEntry>,
}

/// What to erase and what to put in its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    pub user: UserRef,
    /// Display names to scrub wherever they appear (besides the user id).
    pub names: Vec<String>,
    /// Stands in for the user id from now on (e.g. `erased-3f9a…`).
    pub pseudonym: String,
    /// The conversation state their conversations are reset to.
    pub blank_state: serde_json::Value,
    pub by: String,
    pub now: Millis,
}

/// How many rows an erasure rewrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    pub conversations: u64,
    pub messages: u64,
    pub tickets: u64,
    pub ratings: u64,
    pub ticket_events: u64,
    pub audit_entries: u64,
    pub deliveries: u64,
    pub roles: u64,
    pub other: u64,
    /// The first audit entry re-linked after rewriting, if any.
    pub relinked_from: Option<i64>,
}

#[async_trait]
pub trait ComplianceStore: Send + Sync {
    /// Append entries to the audit chain, in one transaction.
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<()>;
    /// Create the chain head (chaining rows from before it) if missing; returns the head's
    /// last sequence number and hash.
    async fn audit_head(&self) -> Result<(i64, String)>;
    /// Entries after `after_seq` (and at or after `since`), oldest first, at most `limit`.
    async fn audit_entries(
        &self,
        after_seq: i64,
        since: Option<Millis>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>>;

    /// Record a grant (or renew the same active grant's justification), audited.
    async fn grant_role(&self, grant: &NewGrant, now: Millis) -> Result<GrantOutcome>;
    /// Revoke an active grant, audited; false if there was none.
    async fn revoke_role(
        &self,
        user: &UserRef,
        role: Role,
        scope: &str,
        by: &str,
        reason: &str,
        now: Millis,
    ) -> Result<bool>;
    /// Grants, oldest first; revoked ones too when `include_revoked`.
    async fn role_grants(&self, include_revoked: bool) -> Result<Vec<RoleGrant>>;

    /// Delete or anonymise what the plan says expired. With `apply` false nothing changes (the
    /// counts say what would). An applied purge is recorded in the audit log.
    async fn purge(&self, plan: &PurgePlan, now: Millis, apply: bool) -> Result<PurgeReport>;

    /// Everything stored about one person; `names` adds display names to look for.
    async fn person_data(&self, user: &UserRef, names: &[String]) -> Result<PersonData>;
    /// Anonymise one person everywhere, keep ticket statistics, and record the erasure.
    async fn erase_person(&self, erasure: &Erasure) -> Result<ErasureReport>;

    /// Claim a recurring job: true (and the next run set to `next_due`) when it is due at
    /// `now`. A job never seen before is due at once.
    async fn claim_job(&self, name: &str, now: Millis, next_due: Millis) -> Result<bool>;
}

/// A `LIKE` pattern matching `needle` anywhere (lower-cased; `\` escapes).
pub(crate) fn like_anywhere(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Replaces a person's id and names in text (case-insensitive, whole words where the needle
/// starts or ends with a word character).
pub(crate) struct Scrubber {
    rules: Vec<(regex::Regex, String)>,
    /// The raw needles, for `LIKE` filters.
    pub needles: Vec<String>,
}

impl Scrubber {
    pub(crate) fn new(e: &Erasure) -> Scrubber {
        let full = e.user.to_string();
        let mut pairs: Vec<(String, String)> = vec![
            (full, format!("{}:{}", e.user.platform, e.pseudonym)),
            (e.user.id.clone(), e.pseudonym.clone()),
        ];
        for n in &e.names {
            let n = n.trim();
            if n.chars().count() >= 2 && !pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(n)) {
                pairs.push((n.to_string(), "[erased]".to_string()));
            }
        }
        // Longest first, so `slack:U1` goes before `U1`.
        pairs.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        let rules = pairs
            .iter()
            .filter_map(|(k, v)| {
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                let start = if word(k.chars().next()) { r"\b" } else { "" };
                let end = if word(k.chars().last()) { r"\b" } else { "" };
                let re = regex::Regex::new(&format!("(?i){start}{}{end}", regex::escape(k))).ok()?;
                Some((re, v.clone()))
            })
            .collect();
        Scrubber { rules, needles: pairs.into_iter().map(|(k, _)| k).collect() }
    }

    /// The text with every needle replaced.
    pub(crate) fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (re, with) in &self.rules {
            if re.is_match(&out) {
                out = re.replace_all(&out, regex::NoExpand(with)).into_owned();
            }
        }
        out
    }

    /// Scrub every string (and object key) in a JSON value.
    pub(crate) fn json(&self, v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (self.text(k), self.json(x))).collect()),
            other => other.clone(),
        }
    }

    pub(crate) fn opt(&self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.text(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    #[test]
    fn hash_depends_on_every_field_and_the_previous_hash() {
        let base = entry_hash(GENESIS_HASH, 1, 5, "a", "k", Some(1), None, Some("d"));
        assert_eq!(base.len(), 64);
        assert_ne!(base, entry_hash("x", 1, 5, "a", "k", Some(1), None, Some("d")));
        assert_ne!(base, entry_hash(GENESIS_HASH, 1, 5, "a", "k", Some(1), None, Some("e")));
        assert_ne!(base, entry_hash(GENESIS_HASH, 1, 5, "a", "k", Some(1), Some(""), Some("d")));
        assert_eq!(base, entry_hash(GENESIS_HASH, 1, 5, "a", "k", Some(1), None, Some("d")));
    }

    #[test]
    fn scrubber_replaces_ids_and_names_as_whole_words() {
        let e = Erasure {
            user: UserRef::new(Platform::Slack, "U0ZED"),
            names: vec!["Zelda Quux".into(), "Zelda".into()],
            pseudonym: "erased-1".into(),
            blank_state: serde_json::json!({}),
            by: "dpo".into(),
            now: 0,
        };
        let s = Scrubber::new(&e);
        assert_eq!(s.text("slack:U0ZED asked; zelda quux said hi"), "slack:erased-1 asked; [erased] said hi");
        assert_eq!(s.text("U0ZEDX and Zeldas stay"), "U0ZEDX and Zeldas stay");
        assert_eq!(s.json(&serde_json::json!({"to": ["U0ZED"]})), serde_json::json!({"to": ["erased-1"]}));
        assert_eq!(like_anywhere("a_b%"), "%a\\_b\\%%");
    }
}
