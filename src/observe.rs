//! Prometheus metrics: the recorder (installed once per process), every metric's description
//! and unit, and the text `/metrics` serves. Code elsewhere records with one-line
//! `metrics::counter!` / `histogram!` / `gauge!` calls; names are `deskbot_*` with the unit in
//! the name.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static STARTED: OnceLock<(Instant, f64)> = OnceLock::new();

/// Latency buckets in seconds, 0.5 ms to 10 s.
const BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Install the global recorder (once; later calls return the same handle). `None` when
/// another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            STARTED.get_or_init(|| {
                let epoch =
                    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
                (Instant::now(), epoch)
            });
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .and_then(|b| b.install_recorder())
                .map_err(|e| tracing::warn!(error = %e, "metrics are off"))
                .ok()?;
            describe();
            for platform in ["slack", "discord"] {
                metrics::counter!("deskbot_events_lost_total", "platform" => platform).absolute(0);
            }
            metrics::gauge!("deskbot_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .clone()
}

/// A payload a platform sent that can never be processed (unreadable, unsigned): refused,
/// counted by reason. The caller logs its kind, never its body.
pub fn event_rejected(platform: &'static str, reason: &'static str) {
    metrics::counter!("deskbot_events_rejected_total", "platform" => platform, "reason" => reason)
        .increment(1);
}

/// An event the platform was told was received, then failed: it will not come again.
pub fn event_lost(platform: &'static str, event: &str, kind: &str) {
    tracing::error!(platform, event, error = kind, "event acknowledged but not handled; it is lost");
    metrics::counter!("deskbot_events_lost_total", "platform" => platform).increment(1);
}

fn describe() {
    describe_counter!(
        "deskbot_events_lost_total",
        Unit::Count,
        "Events acknowledged to their platform that then failed, by platform"
    );
    describe_counter!(
        "deskbot_events_rejected_total",
        Unit::Count,
        "Payloads refused as unreadable or unsigned, by platform and reason"
    );
    describe_counter!(
        "deskbot_events_deferred_total",
        Unit::Count,
        "Events not committed in time and left for the platform to deliver again"
    );
    describe_counter!("deskbot_inbound_events_total", Unit::Count, "Inbound events by channel and kind");
    describe_counter!(
        "deskbot_questions_total",
        Unit::Count,
        "New questions by outcome (answered, offered, no_match, direct)"
    );
    describe_counter!("deskbot_answers_total", Unit::Count, "Answers given, by intent");
    describe_counter!("deskbot_deflections_total", Unit::Count, "Answers confirmed solved, by intent");
    describe_counter!("deskbot_not_solved_total", Unit::Count, "Answers marked not solved, by intent");
    describe_counter!("deskbot_tickets_filed_total", Unit::Count, "Tickets filed, by queue");
    describe_counter!("deskbot_tickets_resolved_total", Unit::Count, "Tickets resolved, by queue");
    describe_counter!("deskbot_sla_breaches_total", Unit::Count, "SLA breaches, by queue");
    describe_counter!(
        "deskbot_timer_failures_total",
        Unit::Count,
        "Timers that failed to fire (retried later)"
    );
    describe_gauge!("deskbot_outbox_depth_messages", Unit::Count, "Messages waiting to be delivered");
    describe_counter!("deskbot_outbox_sent_total", Unit::Count, "Messages delivered, by platform");
    describe_counter!(
        "deskbot_outbox_send_failures_total",
        Unit::Count,
        "Failed deliveries, by platform and outcome (retry, dead)"
    );
    describe_counter!(
        "deskbot_outbox_retries_total",
        Unit::Count,
        "Deliveries scheduled for another attempt, by platform"
    );
    describe_histogram!("deskbot_matcher_duration_seconds", Unit::Seconds, "Time to classify one message");
    describe_histogram!("deskbot_store_commit_duration_seconds", Unit::Seconds, "Time to commit one event");
    describe_histogram!(
        "deskbot_store_commit_batch_size",
        Unit::Count,
        "Commits written together by one group commit"
    );
    describe_histogram!(
        "deskbot_store_query_duration_seconds",
        Unit::Seconds,
        "Time of store reads, by query"
    );
    describe_counter!(
        crate::intents::reload::RELOADS_METRIC,
        Unit::Count,
        "Reloads of the intents directory after its files changed (loaded or not)"
    );
    describe_counter!(
        "deskbot_catalog_reloads_total",
        Unit::Count,
        "Hot reloads of the intents directory that succeeded"
    );
    describe_counter!(
        "deskbot_catalog_reload_errors_total",
        Unit::Count,
        "Hot reloads refused because of errors"
    );
    describe_gauge!("deskbot_catalog_intents", Unit::Count, "Intents in the live catalog");
    describe_gauge!("deskbot_build_info", "deskbot's version (always 1)");
    describe_gauge!(
        "deskbot_process_start_time_seconds",
        Unit::Seconds,
        "When the process started (unix time)"
    );
    describe_gauge!("deskbot_process_uptime_seconds", Unit::Seconds, "Seconds since the process started");
}

/// The exposition text, with the process gauges brought up to date.
pub fn render(handle: &PrometheusHandle) -> String {
    if let Some((started, epoch)) = STARTED.get() {
        metrics::gauge!("deskbot_process_start_time_seconds").set(*epoch);
        metrics::gauge!("deskbot_process_uptime_seconds").set(started.elapsed().as_secs_f64());
    }
    handle.render()
}
