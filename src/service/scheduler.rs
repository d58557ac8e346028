//! The scheduler: fires due timers (SLA reminders and breaches, pending reminders and
//! auto-resolve, auto-close). Timers live in the store, so a restart loses none; each fires
//! through a commit keyed by its id, so none fires twice even if two processes race. Only the
//! process holding leadership polls, to avoid wasted work. A timer that fails to fire is
//! logged, counted and retried later with a growing delay (kept in the store); it never stops
//! the others in its round.

use crate::domain::Millis;
use crate::service::{Handled, Service, ServiceError};
use crate::store::{DynStore, StoreError, Timer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Timers fired per round at most.
const BATCH: i64 = 100;
/// The first retry of a failed timer waits this long; each further failure doubles it …
const RETRY_FIRST_MS: Millis = 5_000;
/// … up to this.
const RETRY_MAX_MS: Millis = 3_600_000;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Timers whose commit applied.
    pub fired: usize,
    /// Timers that failed and wait for a retry.
    pub failed: usize,
}

/// When a timer that has failed `attempts` times before (and now once more) is tried again.
pub fn retry_at(now: Millis, attempts: i64) -> Millis {
    let doublings = attempts.clamp(0, 20) as u32;
    now + RETRY_FIRST_MS.saturating_mul(1 << doublings).min(RETRY_MAX_MS)
}

/// Fire everything due now: ticket timers, then request timers.
pub async fn tick(service: &Service) -> Result<Round, StoreError> {
    let tickets =
        tick_with(service.store(), service.now(), |timer| async move { service.fire_timer(&timer).await })
            .await?;
    let requests = tick_requests(service).await?;
    Ok(Round { fired: tickets.fired + requests.fired, failed: tickets.failed + requests.failed })
}

/// One round of request timers (expiry warnings and lapses, approval reminders and
/// escalations, unanswered reviews), with the same retry rule as ticket timers.
pub async fn tick_requests(service: &Service) -> Result<Round, StoreError> {
    let store = service.store();
    let now = service.now();
    let mut round = Round::default();
    for timer in store.due_request_timers(now, BATCH).await? {
        match service.fire_request_timer(&timer).await {
            Ok(Handled::Applied { .. }) => round.fired += 1,
            Ok(_) => {}
            Err(e) => {
                let next = retry_at(now, timer.attempts);
                tracing::error!(target_id = timer.target, timer = timer.id, kind = timer.kind.as_str(), attempts = timer.attempts + 1, retry_in_ms = next - now, error = %e, "request timer failed; retrying later");
                metrics::counter!("deskbot_timer_failures_total").increment(1);
                store.request_timer_failed(timer.id, next).await?;
                round.failed += 1;
            }
        }
    }
    Ok(round)
}

/// One round with `fire` doing the firing: each due timer is fired on its own; one that fails
/// is put back with a later `retry_at` and the round goes on. Only a failure to read the due
/// timers or to record a failure ends the round early.
pub async fn tick_with<F, Fut>(store: &DynStore, now: Millis, fire: F) -> Result<Round, StoreError>
where
    F: Fn(Timer) -> Fut,
    Fut: Future<Output = Result<Handled, ServiceError>>,
{
    let due = store.due_timers(now, BATCH).await?;
    let mut round = Round::default();
    for timer in due {
        let (id, attempts, kind, ticket) = (timer.id, timer.attempts, timer.kind.clone(), timer.ticket);
        match fire(timer).await {
            Ok(Handled::Applied { .. }) => round.fired += 1,
            Ok(_) => {}
            Err(e) => {
                let next = retry_at(now, attempts);
                match &e {
                    ServiceError::NoSuchTicket(_) => {
                        tracing::warn!(%ticket, timer = id, %kind, attempts = attempts + 1, "timer for a missing ticket")
                    }
                    _ => {
                        tracing::error!(%ticket, timer = id, %kind, attempts = attempts + 1, retry_in_ms = next - now, error = %e, "timer failed; retrying later")
                    }
                }
                metrics::counter!("deskbot_timer_failures_total").increment(1);
                store.timer_failed(id, next).await?;
                round.failed += 1;
            }
        }
    }
    Ok(round)
}

/// Poll every `poll` while `is_leader()` says so, until cancelled.
pub async fn run(
    service: Arc<Service>,
    poll: Duration,
    cancel: CancellationToken,
    is_leader: impl Fn() -> bool + Send + 'static,
) {
    loop {
        if is_leader() {
            match tick(&service).await {
                Ok(Round { fired: 0, failed: 0 }) => {}
                Ok(r) => tracing::debug!(fired = r.fired, failed = r.failed, "timers fired"),
                Err(e) => tracing::error!(error = %e, "scheduler round failed"),
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_back_off_doubling_up_to_an_hour() {
        let at: Vec<i64> = (0..4).map(|n| super::retry_at(1_000, n) - 1_000).collect();
        assert_eq!(at, vec![5_000, 10_000, 20_000, 40_000]);
        assert_eq!(super::retry_at(0, 30), 3_600_000);
        assert_eq!(super::retry_at(0, -1), 5_000);
    }
}
