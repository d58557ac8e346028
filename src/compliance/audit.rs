//! Verifying and exporting the keyed, hash-chained audit log. The chain itself is written by
//! the store (see `store/compliance.rs`); here it is read back page by page and every link
//! recomputed under the audit key the store was opened with. Anchors (the head copied outside
//! the database) are in `anchor.rs`.

use crate::domain::Millis;
use crate::store::compliance::{AuditEntry, GENESIS_HASH, link_fault};
use crate::store::{DynStore, StoreError};
use serde::Serialize;

/// Entries read per round trip.
const PAGE: i64 = 5000;

/// The first entry where the chain breaks, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// The outcome of `deskbot audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub entries: u64,
    pub last_seq: i64,
    pub broken: Option<BrokenLink>,
}

/// Recompute the whole chain. Creates the chain head first if this database never had one
/// (which chains the entries copied from before migration 0003).
pub async fn verify(store: &DynStore) -> Result<Verdict, StoreError> {
    let (head_seq, head_hash) = store.audit_head().await?;
    let mut prev = GENESIS_HASH.to_string();
    let mut last_seq = 0;
    let mut entries = 0u64;
    loop {
        let page = store.audit_entries(last_seq, None, PAGE).await?;
        let Some(last) = page.last() else { break };
        let next_after = last.seq;
        for e in &page {
            let expected = store.audit_link(&prev, e)?;
            if let Some(reason) = link_fault(e, &prev, last_seq, &expected) {
                return Ok(Verdict { entries, last_seq, broken: Some(BrokenLink { seq: e.seq, reason }) });
            }
            prev = e.hash.clone().unwrap_or_default();
            last_seq = e.seq;
            entries += 1;
        }
        last_seq = next_after;
    }
    let broken = (last_seq != head_seq || prev != head_hash).then(|| BrokenLink {
        seq: head_seq,
        reason: format!(
            "the chain ends at entry #{last_seq} but its head names entry #{head_seq}: entries at the end were removed or changed"
        ),
    });
    Ok(Verdict { entries, last_seq, broken })
}

/// Entries at or after `since`, oldest first, for auditors.
pub async fn export(store: &DynStore, since: Option<Millis>) -> Result<Vec<AuditEntry>, StoreError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, since, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        out.extend(page);
    }
    Ok(out)
}
