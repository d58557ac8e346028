//! The outbox worker: claims due rows, delivers them through the channel for their platform,
//! and records the outcome: done, retry later (exponential backoff, or the platform's
//! Retry-After), or dead after too many attempts. A claimed batch is sent concurrently, one
//! sequence per destination (platform + channel), oldest first, so replies keep their order
//! within a conversation while one slow conversation does not hold up the others. Each delivery
//! is bounded by a timeout, and the claim's lease outlives the longest batch: batch size ×
//! per-send timeout (plus a margin), so no other worker takes a row over while it is being sent.
//! A row claimed again after an attempt with an unknown outcome is delivered with
//! [`Channel::resend`], which looks for the earlier post first.

use crate::domain::Clock;
use crate::domain::{Channel, Outbound, OutboundKind, SendError};
use crate::domain::{Millis, Platform};
use crate::store::{DynStore, OutboxItem, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows claimed per round.
const BATCH: i64 = 16;
/// The longest one delivery (all of its platform calls) may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// The shortest per-send timeout a short lease may impose.
const MIN_SEND_TIMEOUT: Duration = Duration::from_millis(250);
/// Added to batch × per-send timeout for the store calls around the sends.
const LEASE_MARGIN_MS: i64 = 30_000;
/// Longest wait between attempts.
const MAX_BACKOFF_MS: i64 = 5 * 60_000;

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

impl Round {
    fn add(&mut self, other: Round) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}

/// Told of webhook deliveries that carry work out (access grants and removals): once the
/// receiver acknowledged one, or once the outbox gave up on it. Called before the row is
/// recorded as done (or dead), so a crash in between tells it again: it must be idempotent.
/// An error leaves the row claimed, to be delivered and told again when its lease expires.
#[async_trait::async_trait]
pub trait DeliveryObserver: Send + Sync {
    async fn delivered(&self, message: &Outbound) -> Result<(), StoreError>;
    async fn gave_up(&self, message: &Outbound, error: &str) -> Result<(), StoreError>;
}

pub struct Outbox {
    store: DynStore,
    observer: Option<Arc<dyn DeliveryObserver>>,
    channels: HashMap<Platform, Arc<dyn Channel>>,
    worker: String,
    max_attempts: i32,
    clock: Clock,
    lease_ms: i64,
    batch: i64,
    send_timeout: Duration,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Lease (ms), batch size and per-send timeout for a chosen lease: batch × per-send ≤ lease.
fn timing(lease: Duration) -> (i64, i64, Duration) {
    let lease_ms = millis(lease).max(1);
    let per_send = (lease / BATCH as u32).clamp(MIN_SEND_TIMEOUT, SEND_TIMEOUT);
    let batch = (lease_ms / millis(per_send).max(1)).clamp(1, BATCH);
    (lease_ms, batch, per_send)
}

impl Outbox {
    pub fn new(store: DynStore, channels: Vec<Arc<dyn Channel>>, max_attempts: i32, clock: Clock) -> Self {
        let worker = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis());
        let channels = channels.into_iter().map(|c| (c.platform(), c)).collect();
        let lease_ms = BATCH * millis(SEND_TIMEOUT) + LEASE_MARGIN_MS;
        Self {
            store,
            observer: None,
            channels,
            worker,
            max_attempts,
            clock,
            lease_ms,
            batch: BATCH,
            send_timeout: SEND_TIMEOUT,
        }
    }

    /// How long a claim lasts before another worker may take the row over (default: batch ×
    /// per-send timeout + 30 s): the longest a row stays stuck when its worker dies
    /// mid-delivery. A short lease shortens the per-send timeout and the batch to match, so
    /// the lease still outlives the batch.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        (self.lease_ms, self.batch, self.send_timeout) = timing(lease);
        self
    }

    /// Tell `observer` of delivered and abandoned webhooks.
    pub fn with_observer(mut self, observer: Arc<dyn DeliveryObserver>) -> Self {
        self.observer = Some(observer);
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
            let items =
                self.store.claim_outbox(&platforms, &self.worker, now, self.lease_ms, self.batch).await?;
            if items.is_empty() {
                return Ok(round);
            }
            let n = items.len();
            // One sequence per destination, in claim (= creation) order.
            let mut lanes: Vec<Vec<OutboxItem>> = Vec::new();
            let mut lane_of: HashMap<(Platform, String), usize> = HashMap::new();
            for item in items {
                let dest = (item.message.to.platform, item.message.to.channel.clone());
                let i = *lane_of.entry(dest).or_insert_with(|| {
                    lanes.push(Vec::new());
                    lanes.len() - 1
                });
                lanes[i].push(item);
            }
            let results =
                futures_util::future::join_all(lanes.into_iter().map(|lane| self.deliver_lane(lane))).await;
            // Delivered rows are marked done together after the batch: one transaction instead
            // of one per message. A crash before that resends them under the same
            // idempotency key, which platforms dedupe.
            let mut delivered_ids = Vec::with_capacity(n);
            let mut failure = None;
            for r in results {
                match r {
                    Ok((ids, part)) => {
                        delivered_ids.extend(ids);
                        round.add(part);
                    }
                    Err((ids, part, e)) => {
                        delivered_ids.extend(ids);
                        round.add(part);
                        failure.get_or_insert(e);
                    }
                }
            }
            self.store.outbox_done_many(&delivered_ids, (self.clock)()).await?;
            if let Some(e) = failure {
                return Err(e);
            }
            if (n as i64) < self.batch {
                return Ok(round);
            }
        }
    }

    /// Deliver one destination's rows in order. Returns the delivered row ids (also on a store
    /// error, so those are still marked done).
    #[allow(clippy::type_complexity)]
    async fn deliver_lane(
        &self,
        lane: Vec<OutboxItem>,
    ) -> Result<(Vec<i64>, Round), (Vec<i64>, Round, StoreError)> {
        let mut delivered = Vec::with_capacity(lane.len());
        let mut round = Round::default();
        for item in lane {
            match self.deliver_one(&item, &mut round).await {
                Ok(true) => delivered.push(item.id),
                Ok(false) => {}
                Err(e) => return Err((delivered, round, e)),
            }
        }
        Ok((delivered, round))
    }

    /// Send one row and record a failure; `Ok(true)` when it was delivered.
    async fn deliver_one(&self, item: &OutboxItem, round: &mut Round) -> Result<bool, StoreError> {
        let Some(channel) = self.channels.get(&item.message.to.platform) else { return Ok(false) };
        let result = match self.anchor(&item.message).await? {
            Ok(message) => {
                // Claimed before: an earlier attempt may have posted it.
                let send = async {
                    if item.attempts > 1 {
                        channel.resend(&item.key, &message).await
                    } else {
                        channel.send(&item.key, &message).await
                    }
                };
                match tokio::time::timeout(self.send_timeout, send).await {
                    Ok(r) => r,
                    Err(_) => Err(SendError::Temporary("delivery timed out".into())),
                }
            }
            Err(e) => Err(e),
        };
        let platform = item.message.to.platform.as_str();
        match result {
            Ok(delivered) => {
                if let (OutboundKind::Card { card }, Some(id)) = (&item.message.kind, &delivered.message_id) {
                    let to = &item.message.to;
                    self.store
                        .set_ticket_card(card.number, to.platform, &to.channel, id, (self.clock)())
                        .await?;
                }
                if let (Some(observer), OutboundKind::Webhook { .. }) = (&self.observer, &item.message.kind) {
                    observer.delivered(&item.message).await?;
                }
                round.sent += 1;
                metrics::counter!("deskbot_outbox_sent_total", "platform" => platform).increment(1);
                Ok(true)
            }
            Err(e) => {
                let retry_at = next_attempt((self.clock)(), item.attempts, self.max_attempts, &e);
                tracing::warn!(key = %item.key, attempts = item.attempts, error = %e, gave_up = retry_at.is_none(), "delivery failed");
                if let (None, Some(observer), OutboundKind::Webhook { .. }) =
                    (retry_at, &self.observer, &item.message.kind)
                {
                    observer.gave_up(&item.message, &e.to_string()).await?;
                }
                self.store.outbox_failed(item.id, &e.to_string(), retry_at).await?;
                let outcome = if retry_at.is_some() { "retry" } else { "dead" };
                metrics::counter!("deskbot_outbox_send_failures_total", "platform" => platform, "outcome" => outcome).increment(1);
                if retry_at.is_some() {
                    metrics::counter!("deskbot_outbox_retries_total", "platform" => platform).increment(1);
                    round.retried += 1;
                } else {
                    round.dead += 1;
                }
                Ok(false)
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
    fn the_lease_outlives_the_slowest_batch() {
        assert!(BATCH * millis(SEND_TIMEOUT) + LEASE_MARGIN_MS >= BATCH * millis(SEND_TIMEOUT));
        for lease_ms in [1_500u64, 4_000, 60_000, 600_000] {
            let (lease, batch, per_send) = timing(Duration::from_millis(lease_ms));
            assert!((1..=BATCH).contains(&batch), "{lease_ms}: batch {batch}");
            assert!(batch * millis(per_send) <= lease, "{lease_ms}: {batch} × {per_send:?} > {lease}");
        }
        let (_, batch, per_send) = timing(Duration::from_millis(1_500));
        assert_eq!((batch, per_send), (6, MIN_SEND_TIMEOUT));
    }

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
