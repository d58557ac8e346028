//! Data-subject requests: export everything stored about one person, and erase them —
//! anonymise them everywhere (their words, names and ids) while keeping ticket statistics,
//! and record the erasure under a keyed hash of the id (never the id). What is touched is the
//! personal-data catalogue's (`catalogue.rs`). An erasure rewrites audit entries that name the
//! person and re-links the chain from there, so it refuses to run on a chain that is already
//! broken (that would hide the tampering).

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
}

/// Everything stored about `user` (plus `names` to look for in free text).
pub async fn export(store: &DynStore, user: &UserRef, names: &[String]) -> Result<PersonData, PersonError> {
    Ok(store.person_data(user, names).await?)
}

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
