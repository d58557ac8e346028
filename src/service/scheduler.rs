//! The scheduler: fires due timers (SLA reminders and breaches, pending reminders and
//! auto-resolve, auto-close). Timers live in the store, so a restart loses none; each fires
//! through a commit keyed by its id, so none fires twice even if two processes race. Only the
//! process holding leadership polls, to avoid wasted work.

use crate::service::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Timers fired per round at most.
const BATCH: i64 = 100;

/// Fire everything due now; returns how many timers fired.
pub async fn tick(service: &Service) -> Result<usize, crate::service::ServiceError> {
    let due = service.store().due_timers(service.now(), BATCH).await?;
    let mut fired = 0;
    for timer in &due {
        match service.fire_timer(timer).await {
            Ok(crate::service::Handled::Applied { .. }) => fired += 1,
            Ok(_) => {}
            Err(crate::service::ServiceError::NoSuchTicket(n)) => {
                tracing::warn!(ticket = %n, timer = timer.id, "timer for a missing ticket");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(fired)
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
                Ok(0) => {}
                Ok(n) => tracing::debug!(fired = n, "timers fired"),
                Err(e) => tracing::error!(error = %e, "scheduler round failed"),
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
