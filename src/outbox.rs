//! The outbox worker: claims due rows, delivers them through the channel for their platform,
//! and records the outcome: done, retry later (exponential backoff, or the platform's
//! Retry-After), or dead after too many attempts. Rows are claimed oldest first and sent one
//! at a time, so replies keep their order within a conversation.

use crate::domain::Clock;
use crate::domain::{Channel, Outbound, OutboundKind, SendError};
use crate::domain::{Millis, Platform};
use crate::store::{DynStore, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a claim lasts before another worker may take the row over.
const LEASE_MS: i64 = 60_000;
/// Rows claimed per round.
const BATCH: i64 = 32;
/// Longest wait between attempts.
const MAX_BACKOFF_MS: i64 = 5 * 60_000;

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

pub struct Outbox {
    store: DynStore,
    channels: HashMap<Platform, Arc<dyn Channel>>,
    worker: String,
    max_attempts: i32,
    clock: Clock,
    lease_ms: i64,
}

impl Outbox {
    pub fn new(store: DynStore, channels: Vec<Arc<dyn Channel>>, max_attempts: i32, clock: Clock) -> Self {
        let worker = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis());
        let channels = channels.into_iter().map(|c| (c.platform(), c)).collect();
        Self { store, channels, worker, max_attempts, clock, lease_ms: LEASE_MS }
    }

    /// How long a claim lasts before another worker may take the row over (default 60 s): the
    /// longest a row stays stuck when its worker dies mid-delivery.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease_ms = i64::try_from(lease.as_millis()).unwrap_or(LEASE_MS).max(1);
        self
    }

    /// Deliver everything due now for the platforms this worker has channels for.
    pub async fn deliver_due(&self) -> Result<Round, StoreError> {
        let platforms: Vec<Platform> = self.channels.keys().copied().collect();
        let mut round = Round::default();
        if platforms.is_empty() {
            return Ok(round);
        }
        loop {
            let now = (self.clock)();
            let items = self.store.claim_outbox(&platforms, &self.worker, now, self.lease_ms, BATCH).await?;
            if items.is_empty() {
                return Ok(round);
            }
            let n = items.len();
            // Delivered rows are marked done together after the batch: one transaction instead
            // of one per message. A crash before that resends them under the same
            // idempotency key, which platforms dedupe.
            let mut delivered_ids = Vec::with_capacity(n);
            for item in items {
                let Some(channel) = self.channels.get(&item.message.to.platform) else { continue };
                let result = match self.anchor(&item.message).await? {
                    Ok(message) => channel.send(&item.key, &message).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(delivered) => {
                        if let (OutboundKind::Card { card }, Some(id)) =
                            (&item.message.kind, &delivered.message_id)
                        {
                            let to = &item.message.to;
                            self.store
                                .set_ticket_card(card.number, to.platform, &to.channel, id, (self.clock)())
                                .await?;
                        }
                        delivered_ids.push(item.id);
                        round.sent += 1;
                        metrics::counter!("deskbot_outbox_sent_total", "platform" => item.message.to.platform.as_str()).increment(1);
                    }
                    Err(e) => {
                        let retry_at = next_attempt((self.clock)(), item.attempts, self.max_attempts, &e);
                        tracing::warn!(key = %item.key, attempts = item.attempts, error = %e, gave_up = retry_at.is_none(), "delivery failed");
                        self.store.outbox_failed(item.id, &e.to_string(), retry_at).await?;
                        let (platform, outcome) = (
                            item.message.to.platform.as_str(),
                            if retry_at.is_some() { "retry" } else { "dead" },
                        );
                        metrics::counter!("deskbot_outbox_send_failures_total", "platform" => platform, "outcome" => outcome).increment(1);
                        if retry_at.is_some() {
                            metrics::counter!("deskbot_outbox_retries_total", "platform" => platform)
                                .increment(1);
                            round.retried += 1;
                        } else {
                            round.dead += 1;
                        }
                    }
                }
            }
            self.store.outbox_done_many(&delivered_ids, (self.clock)()).await?;
            if (n as i64) < BATCH {
                return Ok(round);
            }
        }
    }

    /// Thread replies and card updates go under the ticket's card: find its message id.
    /// A card not delivered yet is a temporary failure (the card is ahead in the queue).
    async fn anchor(&self, message: &Outbound) -> Result<Result<Outbound, SendError>, StoreError> {
        let Some(ticket) = message.kind.anchored_to() else { return Ok(Ok(message.clone())) };
        let to = &message.to;
        match self.store.ticket_card(ticket, to.platform, &to.channel).await? {
            Some(id) => {
                let mut m = message.clone();
                m.to.thread = Some(id);
                Ok(Ok(m))
            }
            None => Ok(Err(SendError::Temporary(format!("the card for {ticket} is not posted yet")))),
        }
    }

    /// Deliver until cancelled, then do a last round so nothing due is left behind.
    pub async fn run(self, poll: Duration, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::error!(error = %e, "outbox round failed");
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(poll) => {}
            }
        }
        if let Err(e) = self.deliver_due().await {
            tracing::error!(error = %e, "final outbox round failed");
        }
    }
}

/// When to try again, or `None` to give up. `attempts` counts the attempt that just failed.
pub fn next_attempt(now: Millis, attempts: i32, max_attempts: i32, err: &SendError) -> Option<Millis> {
    match err {
        SendError::Permanent(_) => None,
        _ if attempts >= max_attempts => None,
        SendError::RateLimited { retry_after_ms } => Some(now + (*retry_after_ms as i64).max(1)),
        SendError::Temporary(_) => {
            let exp = 1000i64.saturating_mul(1i64 << attempts.clamp(0, 20));
            Some(now + exp.min(MAX_BACKOFF_MS))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_honours_retry_after_and_gives_up() {
        let t = SendError::Temporary("x".into());
        assert_eq!(next_attempt(0, 1, 8, &t), Some(2000));
        assert_eq!(next_attempt(0, 3, 8, &t), Some(8000));
        assert_eq!(next_attempt(0, 7, 20, &t), Some(128_000));
        assert_eq!(next_attempt(0, 12, 20, &t), Some(MAX_BACKOFF_MS));
        assert_eq!(next_attempt(0, 8, 8, &t), None);
        assert_eq!(next_attempt(100, 1, 8, &SendError::RateLimited { retry_after_ms: 3000 }), Some(3100));
        assert_eq!(next_attempt(0, 1, 8, &SendError::Permanent("no".into())), None);
    }
}
