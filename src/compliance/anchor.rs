//! Anchors: the audit chain's head (sequence number, HMAC link, time) copied outside the
//! database, so that truncating or rewriting the chain behind that copy shows. `deskbot audit
//! anchor` prints one; `deskbot run` logs one a day and sends it to the configured webhooks
//! (as an `audit.anchor` event through the outbox); `deskbot audit verify --anchor FILE`
//! checks the chain still holds each anchor in FILE. The chain itself is in `audit.rs`.

use crate::domain::{Address, Clock, Millis, Outbound, OutboundKind, Platform, UserRef};
use crate::store::{Commit, CommitOutcome, ConversationWrite, DynStore, EventKey, NewOutbox, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The webhook event that carries an anchor.
pub const ANCHOR_EVENT: &str = "audit.anchor";
/// The store job that emits the daily anchor.
pub const ANCHOR_JOB: &str = "audit-anchor";
/// The system conversation anchor deliveries are committed under.
const CONVERSATION: &str = "system:audit-anchor";

/// The chain's head at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The last entry's sequence number (0 for an empty chain).
    pub seq: i64,
    /// The last entry's link (HMAC-SHA256 under the audit key, hex).
    pub hmac: String,
    /// When the last entry was written (RFC 3339, UTC); absent for an empty chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Anchor {
    /// The anchor as one JSON line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The chain's current head.
pub async fn current(store: &DynStore) -> Result<Anchor, StoreError> {
    let (seq, hmac) = store.audit_head().await?;
    let at = entry(store, seq).await?.and_then(|e| rfc3339(e.at));
    Ok(Anchor { seq, hmac, at })
}

async fn entry(
    store: &DynStore,
    seq: i64,
) -> Result<Option<crate::store::compliance::AuditEntry>, StoreError> {
    if seq <= 0 {
        return Ok(None);
    }
    Ok(store.audit_entries(seq - 1, None, 1).await?.into_iter().next().filter(|e| e.seq == seq))
}

fn rfc3339(ms: Millis) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Anchors from a file: one JSON object per non-empty line, as `deskbot audit anchor` prints
/// them (other fields are ignored, so a webhook's `anchor` object pasted alone also works).
pub fn parse(text: &str) -> Result<Vec<Anchor>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let a: Anchor = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not an anchor (expected {{\"seq\":…,\"hmac\":…}}): {e}", n + 1))?;
        out.push(a);
    }
    if out.is_empty() {
        return Err("no anchor in the file".into());
    }
    Ok(out)
}

/// An anchor the chain no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorMismatch {
    pub seq: i64,
    pub reason: String,
}

/// Check that the chain still holds each anchor: the entry at its sequence number exists and
/// carries its link. The first anchor that does not hold, if any.
pub async fn check(store: &DynStore, anchors: &[Anchor]) -> Result<Option<AnchorMismatch>, StoreError> {
    for a in anchors {
        if a.seq == 0 {
            continue;
        }
        let reason = match entry(store, a.seq).await? {
            None => "the chain no longer has this entry: it was truncated or renumbered".to_string(),
            Some(e) if e.hash.as_deref() != Some(a.hmac.as_str()) => {
                "the entry's link differs from the anchor: the chain up to it was rewritten".to_string()
            }
            Some(_) => continue,
        };
        return Ok(Some(AnchorMismatch { seq: a.seq, reason }));
    }
    Ok(None)
}

/// Log the current anchor (INFO, one line) and queue it, in one commit, for the webhooks named
/// in `webhooks` (those configured to want [`ANCHOR_EVENT`]). Returns the anchor.
pub async fn emit(store: &DynStore, webhooks: &[String], now: Millis) -> Result<Anchor, StoreError> {
    let anchor = current(store).await?;
    tracing::info!(seq = anchor.seq, "audit anchor {}", anchor.to_line());
    if webhooks.is_empty() {
        return Ok(anchor);
    }
    let body = serde_json::json!({ "event": ANCHOR_EVENT, "at": now, "anchor": anchor });
    let outbox: Vec<NewOutbox> = webhooks
        .iter()
        .map(|name| NewOutbox {
            key: format!("{ANCHOR_EVENT}:{now}:{name}"),
            message: Outbound {
                to: Address::new(Platform::Webhook, name.clone()),
                text: format!("{ANCHOR_EVENT} #{}", anchor.seq),
                choices: Vec::new(),
                kind: OutboundKind::Webhook { event: ANCHOR_EVENT.to_string(), body: body.clone() },
                about: Default::default(),
            },
        })
        .collect();
    // Only this job writes the conversation; a conflict means a concurrent emit: read again.
    for _ in 0..3 {
        let version = store.load_conversation(CONVERSATION).await?.map(|c| c.version).unwrap_or(0);
        let commit = Commit {
            event: Some(EventKey { platform: Platform::System, event_id: format!("{ANCHOR_EVENT}:{now}") }),
            conversation: ConversationWrite {
                key: CONVERSATION.to_string(),
                user: UserRef::new(Platform::System, "deskbot"),
                reply_to: Address::new(Platform::System, CONVERSATION),
                state: serde_json::json!({ "anchored_seq": anchor.seq }),
                expected_version: version,
            },
            messages: Vec::new(),
            tickets: Vec::new(),
            feedback: Vec::new(),
            outbox: outbox.clone(),
            now,
            cases: Vec::new(),
            requests: Vec::new(),
        };
        match store.commit(commit).await? {
            CommitOutcome::Applied { .. } | CommitOutcome::Duplicate => return Ok(anchor),
            CommitOutcome::Conflict => continue,
        }
    }
    Err(StoreError::Busy)
}

/// Emit the anchor once a day while `is_leader()` says so, until cancelled. Checks every
/// `poll`; the day is claimed through a store job, so restarts and replicas emit once a day.
pub async fn run_daily(
    store: DynStore,
    webhooks: Vec<String>,
    clock: Clock,
    poll: Duration,
    cancel: CancellationToken,
    is_leader: impl Fn() -> bool + Send + 'static,
) {
    super::run_daily_job(&store, ANCHOR_JOB, clock, poll, cancel, is_leader, |now| {
        let (store, webhooks) = (&store, &webhooks);
        async move {
            if let Err(e) = emit(store, webhooks, now).await {
                tracing::error!(error = %e, "cannot emit the audit anchor");
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_is_one_json_line_and_parses_back() {
        let a = Anchor { seq: 7, hmac: "ab".repeat(32), at: Some("2026-01-02T03:04:05.000Z".into()) };
        let line = a.to_line();
        assert!(!line.contains('\n'));
        assert_eq!(parse(&format!("{line}\n\n{line}\n")).unwrap(), vec![a.clone(), a]);
        assert!(parse("").is_err());
        assert!(parse("{\"seq\": \"x\"}").unwrap_err().contains("line 1"));
    }
}
