//! Retention: turn `[retention]` into a purge plan (per queue, with the global periods as
//! defaults) and run it once a day on the leader, through a job kept in the store so a restart
//! or a second process neither skips nor repeats a day.

use super::RetentionConfig;
use crate::domain::{Millis, QueueName};
use crate::store::DynStore;
use crate::store::compliance::{ALL_QUEUES, PurgePlan, QueueCutoffs};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const DAY_MS: i64 = 86_400_000;
/// The store job's name.
pub const PURGE_JOB: &str = "retention-purge";

fn cutoff(now: Millis, days: Option<u32>) -> Option<Millis> {
    days.map(|d| now - i64::from(d) * DAY_MS)
}

/// Does the config expire anything at all?
pub fn is_configured(cfg: &RetentionConfig) -> bool {
    cfg.transcripts_days.is_some()
        || cfg.closed_tickets_days.is_some()
        || cfg.queue.values().any(|q| q.transcripts_days.is_some() || q.closed_tickets_days.is_some())
}

/// The cutoffs at `now` for every queue, and last the global ones under [`ALL_QUEUES`] for the
/// tickets of every other queue (one removed from the config, or renamed, since they were filed).
pub fn plan(cfg: &RetentionConfig, queues: &[QueueName], now: Millis, actor: &str) -> PurgePlan {
    let mut queues: Vec<QueueCutoffs> = queues
        .iter()
        .map(|q| {
            let o = cfg.queue.get(q.as_str());
            QueueCutoffs {
                queue: q.as_str().to_string(),
                transcripts_before: cutoff(now, o.and_then(|o| o.transcripts_days).or(cfg.transcripts_days)),
                closed_before: cutoff(now, o.and_then(|o| o.closed_tickets_days).or(cfg.closed_tickets_days)),
            }
        })
        .collect();
    queues.push(QueueCutoffs {
        queue: ALL_QUEUES.to_string(),
        transcripts_before: cutoff(now, cfg.transcripts_days),
        closed_before: cutoff(now, cfg.closed_tickets_days),
    });
    PurgePlan { queues, other_before: cutoff(now, cfg.transcripts_days), actor: actor.to_string() }
}

/// Run the purge once a day while `is_leader()` says so, until cancelled. Checks every `poll`.
pub async fn run_daily(
    store: DynStore,
    cfg: RetentionConfig,
    queues: Vec<QueueName>,
    clock: crate::domain::Clock,
    poll: Duration,
    cancel: CancellationToken,
    is_leader: impl Fn() -> bool + Send + 'static,
) {
    if !is_configured(&cfg) {
        return;
    }
    super::run_daily_job(&store, PURGE_JOB, clock, poll, cancel, is_leader, |now| {
        let (store, cfg, queues) = (&store, &cfg, &queues);
        async move {
            match super::audit::verify(store).await {
                // A purge re-links the chain past the entries it anonymises: never over a
                // broken one, which that would hide.
                Ok(v) if v.broken.is_some() => tracing::error!(
                    entry = v.broken.map(|b| b.seq).unwrap_or_default(),
                    "retention purge skipped: the audit chain is broken; run `deskbot audit verify`"
                ),
                Ok(_) => match store.purge(&plan(cfg, queues, now, "retention"), now, true).await {
                    Ok(r) => tracing::info!(rows = r.total(), "retention purge: {}", r.summary()),
                    Err(e) => tracing::error!(error = %e, "retention purge failed"),
                },
                Err(e) => tracing::error!(error = %e, "retention purge: cannot verify the audit chain"),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::QueueRetention;

    #[test]
    fn queue_overrides_win_over_the_defaults() {
        let mut cfg =
            RetentionConfig { transcripts_days: Some(30), closed_tickets_days: None, ..Default::default() };
        cfg.queue.insert(
            "identity".into(),
            QueueRetention { transcripts_days: Some(7), closed_tickets_days: Some(90) },
        );
        let qs = vec![QueueName::parse("identity").unwrap(), QueueName::parse("network").unwrap()];
        let p = plan(&cfg, &qs, 100 * DAY_MS, "x");
        assert_eq!(p.queues[0].transcripts_before, Some(93 * DAY_MS));
        assert_eq!(p.queues[0].closed_before, Some(10 * DAY_MS));
        assert_eq!(p.queues[1].transcripts_before, Some(70 * DAY_MS));
        assert_eq!(p.queues[1].closed_before, None);
        assert_eq!(p.other_before, Some(70 * DAY_MS));
        // Every other queue (one no longer in the config) under the global periods.
        assert_eq!(p.queues[2].queue, ALL_QUEUES);
        assert_eq!(p.queues[2].transcripts_before, Some(70 * DAY_MS));
        assert_eq!(p.queues[2].closed_before, None);
        assert!(is_configured(&cfg) && !is_configured(&RetentionConfig::default()));
    }
}
