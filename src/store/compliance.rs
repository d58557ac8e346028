//! What compliance needs from the store: the hash-chained audit log, justified role grants,
//! retention purges and store-kept recurring jobs (per-person export and erasure are in
//! `person.rs`). The SQL is in `compliance_sql.rs`, shared by both backends.
//!
//! The audit chain: every entry carries the previous entry's link and its own, HMAC-SHA256 under
//! the audit key (kept outside the database, see `compliance/key.rs`) over [`entry_hash`]'s
//! canonical JSON. Whoever can rewrite rows but lacks the key cannot recompute links that verify.
//! Appends lock the one-row `audit_head` (which holds the last sequence number and link), so
//! concurrent writers on PostgreSQL queue instead of forking the chain. Rows copied from
//! `ticket_events` by migration 0003 carry no link; the first append (or `deskbot audit verify`)
//! creates the head and chains them, oldest first. A chain written before the key existed (plain
//! SHA-256 links, marked by migration 0007) is re-chained once under the key when the store is
//! first opened with it ([`ComplianceStore::key_audit_chain`]), and only when it still verifies.
//! Nothing else ever re-chains plain links: a chain recomputed without the key stays broken.

use crate::domain::{Millis, TicketNumber, UserRef};
use crate::store::key::AuditKey;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Result;

/// The "previous hash" of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The kind of the entry that records the one-time re-chaining of a pre-key chain.
pub const KEYED_KIND: &str = "audit_chain_keyed";

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
    /// The link this entry should carry after `prev`, under `key`.
    pub fn expected_hash(&self, key: &AuditKey, prev: &str) -> String {
        entry_hash(
            key,
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

    /// The plain SHA-256 link chains carried before they were keyed. Only used to recognise
    /// such a chain (to re-chain it once, or to explain a verification failure), never to
    /// write one.
    pub fn unkeyed_hash(&self, prev: &str) -> String {
        let canonical = canonical(
            prev,
            self.seq,
            self.at,
            &self.actor,
            &self.kind,
            self.ticket_number,
            self.subject.as_deref(),
            self.detail.as_deref(),
        );
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The link of one entry: HMAC-SHA256 (hex) under the audit key over the previous link and the
/// entry's fields. Every writer of the chain (appends, re-links after an erasure, re-keying)
/// and `deskbot audit verify` go through this one function.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    key: &AuditKey,
    prev: &str,
    seq: i64,
    at: Millis,
    actor: &str,
    kind: &str,
    ticket: Option<i64>,
    subject: Option<&str>,
    detail: Option<&str>,
) -> String {
    key.mac_hex(canonical(prev, seq, at, actor, kind, ticket, subject, detail).as_bytes())
}

/// The previous link and the entry's fields as one JSON array, so no two different entries
/// serialise alike.
#[allow(clippy::too_many_arguments)]
fn canonical(
    prev: &str,
    seq: i64,
    at: Millis,
    actor: &str,
    kind: &str,
    ticket: Option<i64>,
    subject: Option<&str>,
    detail: Option<&str>,
) -> String {
    serde_json::json!([prev, seq, at, actor, kind, ticket, subject, detail]).to_string()
}

/// Why entry `e` does not follow `prev` (the link of entry `prev_seq`, 0 for the start), given
/// the link `expected` it should carry; `None` when it does.
pub fn link_fault(e: &AuditEntry, prev: &str, prev_seq: i64, expected: &str) -> Option<String> {
    if e.prev_hash.as_deref() != Some(prev) {
        return Some(if prev_seq == 0 {
            "it does not start the chain (an entry before it was removed, or it was inserted)".to_string()
        } else {
            format!(
                "it does not link to entry #{prev_seq} (an entry between them was removed, or it was inserted)"
            )
        });
    }
    if e.hash.as_deref() != Some(expected) {
        if e.hash.as_deref() == Some(e.unkeyed_hash(prev).as_str()) {
            return Some(
                "its link is a plain SHA-256, not keyed with the audit key (the chain was recomputed without \
                 the key, or was never re-chained under it)"
                    .to_string(),
            );
        }
        return Some("its contents do not match its hash (the row was changed)".to_string());
    }
    None
}

/// Where a chain of plain SHA-256 links (as written before the audit key) breaks, given all its
/// entries oldest first and its head: `None` when it is intact, ends at the head and was never
/// keyed before. A plain chain that contains a [`KEYED_KIND`] entry was keyed once and then
/// recomputed without the key: it is refused like a broken one.
pub fn plain_chain_fault(rows: &[AuditEntry], head_seq: i64, head_hash: &str) -> Option<(i64, String)> {
    let mut prev = GENESIS_HASH.to_string();
    let mut prev_seq = 0;
    for e in rows {
        if e.kind == KEYED_KIND {
            return Some((
                e.seq,
                "the chain was keyed here before and now carries plain SHA-256 links: it was recomputed without                  the audit key"
                    .to_string(),
            ));
        }
        let expected = e.unkeyed_hash(&prev);
        if let Some(reason) = link_fault(e, &prev, prev_seq, &expected) {
            return Some((e.seq, reason));
        }
        prev = expected;
        prev_seq = e.seq;
    }
    (prev_seq != head_seq || prev != head_hash).then(|| {
        (head_seq, format!("the chain ends at entry #{prev_seq} but its head names entry #{head_seq}"))
    })
}

/// What [`ComplianceStore::key_audit_chain`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainKeying {
    /// No chain from before the key is waiting (or it was dealt with before): nothing changed.
    Unchanged,
    /// A plain SHA-256 chain verified and was re-chained under the key; the re-chaining is
    /// recorded as a [`KEYED_KIND`] entry naming the old head.
    Rekeyed { entries: u64, old_seq: i64, old_hash: String },
    /// The chain is neither keyed nor an intact plain chain: it was left as it is (re-chaining
    /// would hide the break). `deskbot audit verify` reports it.
    Refused { seq: i64, reason: String },
}

/// A role someone holds on the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Lead,
    Admin,
    /// Decides approval requests routed to them (never their own).
    Approver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Lead => "lead",
            Role::Admin => "admin",
            Role::Approver => "approver",
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
            "approver" => Ok(Role::Approver),
            other => Err(format!("unknown role `{other}` (agent, lead, admin, approver)")),
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
    /// deskbot.toml listed this user, role and scope at the last start (read on the newest row
    /// of the three; see `store::grants`).
    pub in_config: bool,
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
    /// Deliveries deleted: old ones, and undelivered (or dead) ones about expired tickets.
    pub outbox_deleted: u64,
    /// Delivered messages about expired tickets, replaced by an empty message to nowhere.
    pub outbox_blanked: u64,
    pub feedback_anonymised: u64,
    /// Ticket history, ratings, audit details and report questions anonymised (the catalogue's
    /// other expiring columns).
    pub records_anonymised: u64,
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
            + self.outbox_blanked
            + self.feedback_anonymised
            + self.records_anonymised
            + self.dedupe_keys_deleted
    }

    /// One line for the audit log and the CLI.
    pub fn summary(&self) -> String {
        format!(
            "messages deleted {}, tickets anonymised {}, conversations deleted {}, deliveries deleted {}, \
             deliveries blanked {}, feedback queries anonymised {}, records anonymised {}, dedupe keys deleted {}",
            self.messages_deleted,
            self.tickets_anonymised,
            self.conversations_deleted,
            self.outbox_deleted,
            self.outbox_blanked,
            self.feedback_anonymised,
            self.records_anonymised,
            self.dedupe_keys_deleted
        )
    }
}

#[async_trait]
pub trait ComplianceStore: Send + Sync {
    /// Append entries to the audit chain, in one transaction.
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<()>;
    /// Create the chain head (chaining rows from before it) if missing; returns the head's
    /// last sequence number and hash.
    async fn audit_head(&self) -> Result<(i64, String)>;
    /// The link `entry` should carry after `prev`, under this store's audit key.
    fn audit_link(&self, prev: &str, entry: &AuditEntry) -> Result<String>;
    /// Re-chain the chain migration 0007 found written before the audit key (plain SHA-256
    /// links) under the key, once, if it still verifies; see [`ChainKeying`].
    async fn key_audit_chain(&self, now: Millis) -> Result<ChainKeying>;
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
    /// Bring the ledger in line with the grants deskbot.toml lists, in one transaction, by the
    /// rules of `store::grants` (a person's revocation wins over the file), audited.
    async fn sync_config_grants(&self, wanted: &[NewGrant], now: Millis)
    -> Result<super::grants::ConfigSync>;

    /// Delete or anonymise what the plan says expired. With `apply` false nothing changes (the
    /// counts say what would). An applied purge is recorded in the audit log.
    async fn purge(&self, plan: &PurgePlan, now: Millis, apply: bool) -> Result<PurgeReport>;

    /// Claim a recurring job: true (and the next run set to `next_due`) when it is due at
    /// `now`. A job never seen before is due at once.
    async fn claim_job(&self, name: &str, now: Millis, next_due: Millis) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_depends_on_the_key_every_field_and_the_previous_link() {
        let k = AuditKey::from_bytes(vec![1u8; 32]).unwrap();
        let other = AuditKey::from_bytes(vec![2u8; 32]).unwrap();
        let base = entry_hash(&k, GENESIS_HASH, 1, 5, "a", "k", Some(1), None, Some("d"));
        assert_eq!(base.len(), 64);
        assert_ne!(base, entry_hash(&other, GENESIS_HASH, 1, 5, "a", "k", Some(1), None, Some("d")));
        assert_ne!(base, entry_hash(&k, "x", 1, 5, "a", "k", Some(1), None, Some("d")));
        assert_ne!(base, entry_hash(&k, GENESIS_HASH, 1, 5, "a", "k", Some(1), None, Some("e")));
        assert_ne!(base, entry_hash(&k, GENESIS_HASH, 1, 5, "a", "k", Some(1), Some(""), Some("d")));
        assert_eq!(base, entry_hash(&k, GENESIS_HASH, 1, 5, "a", "k", Some(1), None, Some("d")));
    }

    #[test]
    fn a_plain_sha256_link_is_named_as_unkeyed() {
        let k = AuditKey::from_bytes(vec![1u8; 32]).unwrap();
        let mut e = AuditEntry {
            seq: 1,
            at: 5,
            actor: "a".into(),
            kind: "k".into(),
            ticket_number: None,
            subject: None,
            detail: Some("d".into()),
            prev_hash: Some(GENESIS_HASH.into()),
            hash: None,
        };
        e.hash = Some(e.expected_hash(&k, GENESIS_HASH));
        assert_eq!(link_fault(&e, GENESIS_HASH, 0, &e.expected_hash(&k, GENESIS_HASH)), None);
        e.hash = Some(e.unkeyed_hash(GENESIS_HASH));
        let fault = link_fault(&e, GENESIS_HASH, 0, &e.expected_hash(&k, GENESIS_HASH)).unwrap();
        assert!(fault.contains("not keyed"), "{fault}");
        e.hash = Some("f".repeat(64));
        let fault = link_fault(&e, GENESIS_HASH, 0, &e.expected_hash(&k, GENESIS_HASH)).unwrap();
        assert!(fault.contains("row was changed"), "{fault}");
    }
}
