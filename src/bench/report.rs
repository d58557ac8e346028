//! What `deskbot bench` reports: one process's raw counts ([`ProcessReport`], also the wire
//! format between a `--processes` parent and its children) and the combined figures
//! ([`BenchReport`], printed as text or one JSON object).

use super::load::percentile_ms;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What one process measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessReport {
    /// Inbound events handled.
    pub messages: u64,
    /// From the (shared) start until the outbox was drained.
    pub seconds: f64,
    /// Replies this process's outbox worker delivered.
    pub deliveries: u64,
    pub tickets: u64,
    pub errors: u64,
    /// Per-event handling latency, microseconds.
    pub latencies_us: Vec<u32>,
}

/// The combined result.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub database: String,
    pub backend: &'static str,
    pub workers: usize,
    pub processes: usize,
    pub messages: u64,
    pub seconds: f64,
    pub messages_per_sec: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub raw_insert_tx_per_sec: f64,
    /// `messages_per_sec / raw_insert_tx_per_sec`.
    pub ratio: f64,
    pub deliveries: u64,
    pub tickets_filed: u64,
    pub errors: u64,
}

impl BenchReport {
    pub fn combine(
        database: String,
        backend: &'static str,
        workers: usize,
        processes: usize,
        reports: Vec<ProcessReport>,
        raw_insert_tx_per_sec: f64,
    ) -> BenchReport {
        let mut lat: Vec<u32> = Vec::new();
        let (mut messages, mut deliveries, mut tickets, mut errors, mut seconds) = (0, 0, 0, 0, 0f64);
        for r in reports {
            messages += r.messages;
            deliveries += r.deliveries;
            tickets += r.tickets;
            errors += r.errors;
            seconds = seconds.max(r.seconds);
            lat.extend(r.latencies_us);
        }
        lat.sort_unstable();
        let messages_per_sec = messages as f64 / seconds.max(1e-9);
        BenchReport {
            database,
            backend,
            workers,
            processes,
            messages,
            seconds: round(seconds, 3),
            messages_per_sec: round(messages_per_sec, 1),
            p50_ms: round(percentile_ms(&lat, 50.0), 3),
            p95_ms: round(percentile_ms(&lat, 95.0), 3),
            p99_ms: round(percentile_ms(&lat, 99.0), 3),
            max_ms: round(percentile_ms(&lat, 100.0), 3),
            raw_insert_tx_per_sec: round(raw_insert_tx_per_sec, 1),
            ratio: round(messages_per_sec / raw_insert_tx_per_sec.max(1e-9), 4),
            deliveries,
            tickets_filed: tickets,
            errors,
        }
    }

    pub fn render_text(&self) -> String {
        format!(
            "deskbot bench: {} messages in {:.2} s on {} ({} worker{} × {} process{})\n\
             \x20 pipeline    {:>10.1} messages/s   latency p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n\
             \x20 raw insert  {:>10.1} tx/s (single-row insert transactions, same database)\n\
             \x20 ratio       {:>10.1} %\n\
             \x20 delivered   {} replies; {} tickets filed; {} errors\n",
            self.messages,
            self.seconds,
            self.database,
            self.workers,
            if self.workers == 1 { "" } else { "s" },
            self.processes,
            if self.processes == 1 { "" } else { "es" },
            self.messages_per_sec,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.max_ms,
            self.raw_insert_tx_per_sec,
            self.ratio * 100.0,
            self.deliveries,
            self.tickets_filed,
            self.errors,
        )
    }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// `10s`, `500ms`, `2m`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(format!("`{s}` is not a duration (e.g. 10s, 500ms, 2m)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_common_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn reports_combine_counts_and_latencies_across_processes() {
        let a = ProcessReport {
            messages: 2,
            seconds: 1.0,
            deliveries: 3,
            latencies_us: vec![1000, 3000],
            ..Default::default()
        };
        let b = ProcessReport {
            messages: 2,
            seconds: 2.0,
            deliveries: 1,
            latencies_us: vec![2000, 4000],
            ..Default::default()
        };
        let r = BenchReport::combine("db".into(), "postgres", 1, 2, vec![a, b], 8.0);
        assert_eq!((r.messages, r.deliveries, r.seconds), (4, 4, 2.0));
        assert_eq!((r.messages_per_sec, r.ratio), (2.0, 0.25));
        assert_eq!((r.p50_ms, r.p99_ms), (2.0, 4.0));
        let json = serde_json::to_value(&r).unwrap();
        for key in [
            "messages",
            "seconds",
            "messages_per_sec",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "raw_insert_tx_per_sec",
            "ratio",
            "database",
            "workers",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
