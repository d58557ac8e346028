//! `deskbot bench queries`: time the reads a desk runs every day on a (seeded) database — the
//! reports page for 7 and 90 days (all queues and one), `tickets list` (open in one queue, one
//! requester's), `tickets show`, the SLA scheduler's due-timer scan, an employee's `status`,
//! `purge --dry-run`, `person export` — and the audit chain's verification rate. Each query
//! runs through the same code the product uses, repeatedly; p50 and p95 are reported.
//! `reports_90d_first` is the first 90-day report of the run, once: it builds the daily
//! rollups the others read.

use crate::app::AppError;
use crate::config::Config;
use crate::domain::{Platform, QueueName, TicketNumber, TicketStatus, UserRef};
use crate::reports::{Period, ReportOptions};
use crate::store::{DynStore, TicketFilter};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

/// `deskbot bench queries` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct QueriesArgs {
    /// The (seeded) database to query.
    #[arg(long, value_name = "URL")]
    pub database_url: String,
    /// Runs of each query (the first one warms the cache and is not counted).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Print one JSON object, keyed by query name, holding `p50_ms` and `p95_ms`.
    #[arg(long)]
    pub json: bool,
}

/// The timing of one query.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// Rows (or entries) the query returned, to show it did real work.
    pub rows: u64,
    /// For the audit verification: entries checked per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_second: Option<f64>,
}

/// Percentile `p` (0..=100) of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn time<F, Fut>(runs: usize, mut f: F) -> Result<Timing, AppError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, AppError>>,
{
    let mut rows = f().await?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        rows = f().await?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(Timing {
        p50_ms: percentile(&samples, 50.0),
        p95_ms: percentile(&samples, 95.0),
        rows,
        per_second: None,
    })
}

fn period(days: i64, now: i64) -> Period {
    Period { from: now - days * 86_400_000, to: now, label: format!("{days}d") }
}

/// Something to query for: the busiest queue, a requester with tickets, a ticket.
struct Subjects {
    queue: QueueName,
    requester: UserRef,
    ticket: TicketNumber,
}

async fn subjects(store: &DynStore) -> Result<Subjects, AppError> {
    let recent = store.tickets(&TicketFilter { limit: 1, ..Default::default() }).await?;
    let Some(t) = recent.into_iter().next() else {
        return Err(AppError::Usage("the database holds no tickets; run `deskbot bench seed` first".into()));
    };
    Ok(Subjects { queue: t.queue.clone(), requester: t.requester.clone(), ticket: t.number })
}

/// Run every query `args.runs` times against `args.database_url`.
pub async fn run(config: &Config, args: &QueriesArgs) -> Result<BTreeMap<String, Timing>, AppError> {
    let mut target = config.clone();
    target.database_url = Some(args.database_url.clone());
    let store = crate::app::open_store(&target).await?;
    let catalog = crate::intents::load_catalog(
        &config.intents_dir,
        &config.queue_names(),
        &crate::app::load_options(config),
    )
    .map_err(|d| AppError::Runtime(format!("the intents do not load:\n{d}")))?;
    let s = subjects(&store).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let runs = args.runs;
    let mut out = BTreeMap::new();
    // The first 90-day report builds the rollups of every closed day not built yet (all 90
    // after a seed; on a live desk the days agents touched since the last report).
    let opts = ReportOptions { period: period(90, now), queue: None, testers: Vec::new(), kb_base_url: None };
    let t = Instant::now();
    let first = crate::reports::build(&store, &catalog, &opts).await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    out.insert(
        "reports_90d_first".to_string(),
        Timing { p50_ms: ms, p95_ms: ms, rows: first.tickets_filed + first.conversations, per_second: None },
    );
    for (name, days, queue) in [
        ("reports_7d", 7, None),
        ("reports_7d_queue", 7, Some(s.queue.clone())),
        ("reports_90d", 90, None),
        ("reports_90d_queue", 90, Some(s.queue.clone())),
    ] {
        let opts = ReportOptions { period: period(days, now), queue, testers: Vec::new(), kb_base_url: None };
        let t = time(runs, || async {
            let r = crate::reports::build(&store, &catalog, &opts).await?;
            Ok(r.tickets_filed + r.conversations)
        })
        .await?;
        out.insert(name.to_string(), t);
    }
    // The same reports computed row by row, without the daily rollups (what they replace).
    for (name, days) in [("reports_7d_rows", 7), ("reports_90d_rows", 90)] {
        let opts =
            ReportOptions { period: period(days, now), queue: None, testers: Vec::new(), kb_base_url: None };
        let t = time(runs, || async {
            let data = crate::reports::gather_rows(&store, &opts.period).await?;
            let r = crate::reports::compute(&data, &opts, Some(&catalog));
            Ok(r.tickets_filed + r.conversations)
        })
        .await?;
        out.insert(name.to_string(), t);
    }
    let open = vec![TicketStatus::Open, TicketStatus::Pending];
    let in_queue = TicketFilter {
        statuses: open.clone(),
        queue: Some(s.queue.clone()),
        limit: 50,
        ..Default::default()
    };
    out.insert(
        "tickets_list_queue_open".into(),
        time(runs, || async { Ok(store.tickets(&in_queue).await?.len() as u64) }).await?,
    );
    let theirs = TicketFilter { requester: Some(s.requester.clone()), limit: 50, ..Default::default() };
    out.insert(
        "tickets_list_requester".into(),
        time(runs, || async { Ok(store.tickets(&theirs).await?.len() as u64) }).await?,
    );
    out.insert(
        "tickets_show".into(),
        time(runs, || async {
            let t = store.ticket(s.ticket).await?;
            let m = store.ticket_messages(s.ticket).await?;
            let e = store.ticket_events(s.ticket).await?;
            Ok(u64::from(t.is_some()) + m.len() as u64 + e.len() as u64)
        })
        .await?,
    );
    out.insert(
        "status_employee".into(),
        time(runs, || async {
            let active = TicketFilter {
                requester: Some(s.requester.clone()),
                statuses: open.clone(),
                limit: 20,
                ..Default::default()
            };
            Ok(store.tickets(&active).await?.len() as u64)
        })
        .await?,
    );
    out.insert(
        "due_timer_scan".into(),
        time(runs, || async { Ok(store.due_timers(now, 100).await?.len() as u64) }).await?,
    );
    // The daily purge's job on a desk in steady state: with the configured retention, or else
    // one that lets the oldest day of the history fall out (a seeded database was never
    // purged; purging years at once is not what a desk does each night).
    let mut retention = config.retention.clone();
    if !crate::compliance::retention::is_configured(&retention) {
        let oldest = store.ticket(TicketNumber(1001)).await?.map(|t| t.created_at).unwrap_or(now);
        let days = u32::try_from(((now - oldest) / 86_400_000 - 1).max(1)).unwrap_or(u32::MAX);
        retention.transcripts_days = Some(days);
        retention.closed_tickets_days = Some(days);
    }
    let plan = crate::compliance::retention::plan(&retention, &config.queue_names(), now, "bench");
    out.insert(
        "purge_dry_run".into(),
        time(runs, || async {
            let r = store.purge(&plan, now, false).await?;
            Ok(r.summary().len() as u64)
        })
        .await?,
    );
    let person = UserRef::new(Platform::Slack, s.requester.id.clone());
    out.insert(
        "person_export".into(),
        time(runs, || async {
            let d = crate::compliance::person::export(&store, &person, &[])
                .await
                .map_err(|e| AppError::Runtime(e.to_string()))?;
            Ok(serde_json::to_string(&d).map(|j| j.len() as u64).unwrap_or(0))
        })
        .await?,
    );
    // The audit chain: once (it reads every entry), as entries per second.
    let t = Instant::now();
    let verdict = crate::compliance::audit::verify(&store).await?;
    let secs = t.elapsed().as_secs_f64();
    if let Some(b) = verdict.broken {
        return Err(AppError::Runtime(format!("the audit chain is broken at entry #{}", b.seq)));
    }
    out.insert(
        "audit_verify".into(),
        Timing {
            p50_ms: secs * 1000.0,
            p95_ms: secs * 1000.0,
            rows: verdict.entries,
            per_second: Some(verdict.entries as f64 / secs.max(1e-9)),
        },
    );
    Ok(out)
}

/// The timings as a table.
pub fn human(timings: &BTreeMap<String, Timing>) -> String {
    let mut s = format!("{:<26} {:>10} {:>10} {:>10}\n", "query", "p50 ms", "p95 ms", "rows");
    for (name, t) in timings {
        s.push_str(&format!("{name:<26} {:>10.2} {:>10.2} {:>10}", t.p50_ms, t.p95_ms, t.rows));
        if let Some(r) = t.per_second {
            s.push_str(&format!("   ({r:.0} entries/s)"));
        }
        s.push('\n');
    }
    s
}
