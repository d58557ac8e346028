//! `deskbot bench`: a load driver for the real pipeline. Worker tasks push a realistic mix of
//! synthetic inbound events (`load.rs`) through the engine, the store and the outbox worker,
//! which delivers to an in-process channel; no network. It prints messages/s and the latency of
//! handling one event (the time until it is committed), then measures, on the same database
//! and with the same concurrency, the raw rate of single-row insert transactions (`raw.rs`)
//! and the ratio of the two.
//!
//! `--processes N` re-runs this binary N times on the same database (one shared start time)
//! and adds up their counts; that is how a scaled-out deployment on PostgreSQL is measured.
//! Without `--database-url` it uses a fresh SQLite file in a temporary directory, never the
//! configured database.

pub mod load;
pub mod queries;
mod raw;
mod report;
pub mod seed;

pub use report::{BenchReport, ProcessReport, parse_duration};

use crate::app::{App, AppError};
use crate::config::Config;
use crate::outbox::Outbox;
use crate::store::redact_url;
use load::{Budget, CountingChannel, WorkerStats, run_worker};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long the raw insert measurement runs.
const RAW_LENGTH: Duration = Duration::from_secs(3);
/// Longest wait for the outbox to drain after the load stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);
/// Lead time children get to start up before the shared start.
const CHILD_LEAD: Duration = Duration::from_millis(2500);

/// `deskbot bench seed` and `deskbot bench queries`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchAction {
    /// Fill an empty database with a realistic history (tickets over days, transcripts,
    /// events, ratings, case events, audit entries, timers), reporting rows/s.
    #[command(
        after_help = "Examples:\n  deskbot bench seed --tickets 100000 --days 90 --database-url sqlite:/tmp/seeded.db\n  deskbot bench seed --tickets 11000000 --days 1095 --database-url postgres://localhost/deskbot_seeded --json"
    )]
    Seed(seed::SeedArgs),
    /// Time the desk's everyday reads on a seeded database: p50/p95 per query.
    #[command(
        after_help = "Examples:\n  deskbot bench queries --database-url sqlite:/tmp/seeded.db\n  deskbot bench queries --database-url postgres://localhost/deskbot_seeded --json"
    )]
    Queries(queries::QueriesArgs),
}

/// `deskbot bench` arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub action: Option<BenchAction>,
    /// Stop after this many inbound events in total.
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Run for this long, e.g. 10s, 500ms, 2m (default 10s when --count is not given).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Concurrent worker tasks per process.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Processes on the same database (this binary re-run; use with PostgreSQL).
    #[arg(long, default_value_t = 1)]
    pub processes: usize,
    /// Database to load (default: a fresh SQLite file in a temporary directory).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
    /// Internal: run as child INDEX of a --processes run, starting at unix ms START.
    #[arg(long, hide = true, value_name = "INDEX:START")]
    pub child: Option<String>,
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Run the benchmark as the user asked (the parent process).
pub async fn run(config: Config, args: &BenchArgs) -> Result<BenchReport, AppError> {
    let mut _temp = None;
    let url = match &args.database_url {
        Some(u) => u.clone(),
        None => {
            let dir = std::env::temp_dir().join(format!("deskbot-bench-{}-{}", std::process::id(), now_ms()));
            std::fs::create_dir_all(&dir)
                .map_err(|e| AppError::Runtime(format!("cannot create {}: {e}", dir.display())))?;
            let url = format!("sqlite:{}", dir.join("bench.db").display());
            _temp = Some(TempDir(dir));
            url
        }
    };
    crate::store::migrate_url(&url).await?;
    let workers = args.workers.max(1);
    let processes = args.processes.max(1);
    let reports = if processes == 1 {
        vec![run_process(config, &url, args, 0, now_ms()).await?]
    } else {
        spawn_children(&config, &url, args, processes).await?
    };
    let raw = raw::insert_rate(&url, workers * processes, RAW_LENGTH).await?;
    let database =
        if args.database_url.is_some() { redact_url(&url) } else { "sqlite (temporary file)".into() };
    Ok(BenchReport::combine(database, backend(&url), workers, processes, reports, raw))
}

fn backend(url: &str) -> &'static str {
    if url.starts_with("sqlite:") { "sqlite" } else { "postgres" }
}

/// Run as one child of a `--processes` run: the load only, reported as JSON on stdout.
pub async fn run_child(config: Config, args: &BenchArgs, child: &str) -> Result<ProcessReport, AppError> {
    let bad = || AppError::Usage(format!("bad --child `{child}`"));
    let (index, start) = child.split_once(':').ok_or_else(bad)?;
    let index: usize = index.parse().map_err(|_| bad())?;
    let start: i64 = start.parse().map_err(|_| bad())?;
    let url =
        args.database_url.clone().ok_or_else(|| AppError::Usage("--child needs --database-url".into()))?;
    run_process(config, &url, args, index, start).await
}

/// Re-run this binary `processes` times on `url` and collect their reports.
async fn spawn_children(
    config: &Config,
    url: &str,
    args: &BenchArgs,
    processes: usize,
) -> Result<Vec<ProcessReport>, AppError> {
    let exe =
        std::env::current_exe().map_err(|e| AppError::Runtime(format!("cannot find this binary: {e}")))?;
    let intents = std::path::absolute(&config.intents_dir).unwrap_or_else(|_| config.intents_dir.clone());
    let start = now_ms() + CHILD_LEAD.as_millis() as i64;
    let mut children = Vec::new();
    for i in 0..processes {
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args(["bench", "--json", "--database-url", url, "--workers", &args.workers.max(1).to_string()]);
        cmd.args(["--child", &format!("{i}:{start}")]);
        match (args.count, args.duration) {
            (Some(n), _) => cmd.args([
                "--count",
                &(n / processes as u64 + u64::from(i == 0) * (n % processes as u64)).to_string(),
            ]),
            (None, Some(d)) => cmd.args(["--duration", &format!("{}ms", d.as_millis())]),
            (None, None) => &mut cmd,
        };
        cmd.env("DESKBOT_INTENTS_DIR", &intents).stdout(std::process::Stdio::piped()).kill_on_drop(true);
        children
            .push(cmd.spawn().map_err(|e| AppError::Runtime(format!("cannot start a bench process: {e}")))?);
    }
    let mut reports = Vec::new();
    for child in children {
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| AppError::Runtime(format!("bench process failed: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
        if !out.status.success() {
            return Err(AppError::Runtime(format!("a bench process exited with {}", out.status)));
        }
        reports.push(
            serde_json::from_str(line)
                .map_err(|e| AppError::Runtime(format!("unreadable bench process report: {e}")))?,
        );
    }
    Ok(reports)
}

/// The load in this process: build the app on `url`, start the outbox worker, run the
/// workers from the shared start time, wait for the outbox to drain.
async fn run_process(
    mut config: Config,
    url: &str,
    args: &BenchArgs,
    index: usize,
    start_ms: i64,
) -> Result<ProcessReport, AppError> {
    config.database_url = Some(url.to_string());
    config.hot_reload = false;
    // Synthetic users send far faster than people; the per-employee rate limit would turn the
    // load into "slow down" replies.
    config.limits.messages_per_minute = 0;
    let app = App::build(config).await?;
    let channel = Arc::new(CountingChannel::default());
    let outbox = Outbox::new(
        app.store.clone(),
        vec![channel.clone()],
        app.config.outbox.max_attempts,
        app.clock.clone(),
    );
    let cancel = CancellationToken::new();
    let poll = Duration::from_millis(app.config.outbox.poll_ms.max(1));
    let delivering = tokio::spawn(outbox.run(poll, cancel.clone()));

    let wait = start_ms - now_ms();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
    let started = Instant::now();
    let budget = match (args.count, args.duration) {
        (Some(limit), _) => Budget::Count { limit, issued: Arc::new(AtomicU64::new(0)) },
        (None, d) => Budget::Until(started + d.unwrap_or(Duration::from_secs(10))),
    };
    let mut tasks = Vec::new();
    for w in 0..args.workers.max(1) {
        let prefix = format!("b{start_ms}-p{index}-w{w}");
        tasks.push(tokio::spawn(run_worker(app.service.clone(), budget.clone(), prefix)));
    }
    let mut stats = WorkerStats::default();
    for t in tasks {
        let s = t.await.map_err(|e| AppError::Runtime(format!("bench worker crashed: {e}")))?;
        stats.latencies_us.extend(s.latencies_us);
        stats.tickets += s.tickets;
        stats.errors += s.errors;
    }
    let drain_until = Instant::now() + DRAIN_LIMIT;
    while app.store.outbox_depth().await? > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    cancel.cancel();
    let _ = delivering.await;
    Ok(ProcessReport {
        messages: stats.latencies_us.len() as u64,
        seconds,
        deliveries: channel.delivered.load(Ordering::Relaxed),
        tickets: stats.tickets,
        errors: stats.errors,
        latencies_us: stats.latencies_us,
    })
}
