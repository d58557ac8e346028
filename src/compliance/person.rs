//! Data-subject requests: export everything stored about one person, and erase them —
//! anonymise them everywhere (their words, names and ids) while keeping ticket statistics,
//! and record the erasure under a keyed hash of the id (never the id). What is touched is the
//! personal-data catalogue's (`catalogue.rs`). An erasure rewrites audit entries that name the
//! person and re-links the chain from there, so it refuses to run on a chain that is already
//! broken (that would hide the tampering).

use super::catalogue;
use super::key::AuditKey;
use crate::domain::{Millis, UserRef};
use crate::engine::ConversationState;
use crate::store::person::{Erasure, ErasureReport, PersonData};
use crate::store::{DynStore, StoreError};
use sha2::{Digest, Sha256};
use std::hash::{BuildHasher, Hasher};

#[derive(Debug, thiserror::Error)]
pub enum PersonError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "the audit chain is broken at entry #{0}; an erasure would re-link it and hide that. Run `deskbot audit verify`"
    )]
    BrokenChain(i64),
    #[error("nothing is stored about {0}")]
    Unknown(UserRef),
    #[error("cannot delete the draft KB article {path} of ticket #{ticket} ({error}); nothing was erased")]
    Draft { ticket: i64, path: String, error: std::io::ErrorKind },
}

/// The KB drafts (files, see `catalogue::KB_DRAFT_WRITTEN`) of the person's own tickets, by
/// ticket, from the audit entries `person_data` returns.
fn drafts(data: &PersonData) -> Vec<(i64, std::path::PathBuf)> {
    let mine: std::collections::BTreeSet<i64> = data.tickets.iter().map(|t| t.number.0).collect();
    let mut found: Vec<(i64, std::path::PathBuf)> = data
        .audit
        .iter()
        .filter(|e| e.kind == catalogue::KB_DRAFT_WRITTEN)
        .filter_map(|e| {
            let ticket = e.ticket_number.filter(|n| mine.contains(n))?;
            Some((ticket, catalogue::draft_path(ticket, e.detail.as_deref()?)?))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Everything stored about `user` (plus `names` to look for in free text).
/// The KB drafts of their tickets are in `records["kb_drafts"]` (ticket, path, text; a draft
/// deleted since is listed without text).
pub async fn export(store: &DynStore, user: &UserRef, names: &[String]) -> Result<PersonData, PersonError> {
    let mut data = store.person_data(user, names).await?;
    let mut files = Vec::new();
    for (ticket, path) in drafts(&data) {
        let mut o = serde_json::Map::new();
        o.insert("ticket".into(), ticket.into());
        o.insert("path".into(), path.display().to_string().into());
        if let Ok(text) = tokio::fs::read_to_string(&path).await {
            o.insert("text".into(), text.into());
        }
        files.push(o);
    }
    if !files.is_empty() {
        data.records.insert(KB_DRAFTS.into(), files);
    }
    Ok(data)
}

/// The export's name for the KB drafts of the person's tickets (files, not a table).
pub const KB_DRAFTS: &str = "kb_drafts";

/// A fresh pseudonym: not derivable from the user id.
fn pseudonym(user: &UserRef, now: Millis) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now);
    h.write(user.to_string().as_bytes());
    let digest = Sha256::digest(h.finish().to_le_bytes());
    format!("erased-{}", &hex::encode(digest)[..12])
}

/// Anonymise `user` everywhere. The names stored with them (ticket requester names, agent
/// display names) are scrubbed as well as `extra_names`. The `person_erased` audit entry names
/// them by `key`'s hash of their id.
pub async fn erase(
    store: &DynStore,
    key: &AuditKey,
    user: &UserRef,
    extra_names: &[String],
    by: &str,
    now: Millis,
) -> Result<ErasureReport, PersonError> {
    if let Some(b) = super::audit::verify(store).await?.broken {
        return Err(PersonError::BrokenChain(b.seq));
    }
    let data = store.person_data(user, extra_names).await?;
    if data.conversations.is_empty()
        && data.tickets.is_empty()
        && data.roles.is_empty()
        && data.audit.is_empty()
        && data.assigned_tickets.is_empty()
        && data.records.is_empty()
    {
        return Err(PersonError::Unknown(user.clone()));
    }
    // The drafts first: were a file left undeletable, the erasure can be run again and still
    // find it (the entries naming the files are rewritten by the erasure).
    for (ticket, path) in drafts(&data) {
        catalogue::remove_draft(&path).map_err(|e| PersonError::Draft {
            ticket,
            path: path.display().to_string(),
            error: e.kind(),
        })?;
    }
    let blank_state = serde_json::to_value(ConversationState::default())
        .map_err(|e| StoreError::Database(format!("cannot encode a blank conversation: {e}")))?;
    let erasure = Erasure {
        user: user.clone(),
        names: data.names,
        pseudonym: pseudonym(user, now),
        subject_hash: key.person_hash(user),
        blank_state,
        by: by.to_string(),
        now,
    };
    Ok(store.erase_person(&erasure).await?)
}
