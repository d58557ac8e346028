//! What each CLI command does and prints. `main.rs` parses arguments and calls these.

pub mod compliance;
pub mod requests;

use crate::app::{self, App, AppError, ChatOptions};
use crate::config::{Config, Sources};
use crate::domain::{QueueName, TicketNumber, TicketStatus, UserRef};
use crate::intents;
use crate::store::{Speaker, Ticket, TicketFilter};
use std::io::IsTerminal;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Load config and start logging. Commands that talk to a person (`quiet`) log warnings only,
/// unless a level was configured.
pub fn load_config(sources: &Sources, quiet: bool) -> Result<Config, AppError> {
    let config = Config::load(sources)?;
    let level = if quiet && config.log_level == "info" { "warn" } else { config.log_level.as_str() };
    crate::telemetry::init(config.log_format, level);
    Ok(config)
}

/// Who `deskbot chat` talks as: `--user`, else `$USER`, else `employee`.
fn console_user(user: Option<String>) -> String {
    user.or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "employee".to_string())
}

pub async fn chat(config: Config, user: Option<String>) -> Result<u8, AppError> {
    let user = console_user(user);
    let app = App::build(config).await?;
    let opts = ChatOptions { user, interactive: std::io::stdin().is_terminal() };
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    app::chat(&app, &opts, input, Box::new(std::io::stdout())).await?;
    Ok(0)
}

pub async fn run(config: Config) -> Result<u8, AppError> {
    let app = App::build(config).await?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        signal.cancel();
    });
    app::run(app, Vec::new(), shutdown).await?;
    Ok(0)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn migrate(config: Config) -> Result<u8, AppError> {
    app::open_store(&config).await?;
    println!("database is up to date: {}", crate::store::redact_url(&config.database_url()));
    Ok(0)
}

/// `deskbot migrate --from A --to B [--force]`: copy a whole database (either side defaults to
/// the configured one), verify the row counts and print them.
pub async fn migrate_copy(
    config: Config,
    from: Option<String>,
    to: Option<String>,
    force: bool,
) -> Result<u8, AppError> {
    use crate::store::copy::{CopyError, copy_database};
    use crate::store::redact_url;
    let from = from.unwrap_or_else(|| config.database_url());
    let to = to.unwrap_or_else(|| config.database_url());
    let report = copy_database(&from, &to, force).await.map_err(|e| match e {
        CopyError::Store(s) => AppError::Store(s),
        e @ (CopyError::TargetNotEmpty(_) | CopyError::SameDatabase) => AppError::Usage(e.to_string()),
        e => AppError::Runtime(e.to_string()),
    })?;
    println!("copied {} → {}", redact_url(&from), redact_url(&to));
    if report.replaced > 0 {
        println!("  (replaced {} rows that were in the target)", report.replaced);
    }
    for (table, rows) in &report.tables {
        println!("  {table:<16} {rows:>9} rows  ✓");
    }
    println!("  next ticket number: {}", TicketNumber(report.next_ticket));
    Ok(0)
}

fn with_dir(mut config: Config, dir: Option<PathBuf>) -> Config {
    if let Some(d) = dir {
        config.intents_dir = d;
    }
    config
}

pub async fn intents_check(config: Config, dir: Option<PathBuf>) -> Result<u8, AppError> {
    let config = with_dir(config, dir);
    match app::load_catalog(&config).await {
        Ok(c) => {
            println!(
                "{}: ok — {} intents, {} articles, {} test cases",
                config.intents_dir.display(),
                c.intents.len(),
                c.articles.len(),
                c.cases.len()
            );
            Ok(0)
        }
        Err(AppError::Catalog(d)) => {
            for problem in &d.0 {
                println!("{problem}");
            }
            eprintln!("{} problem{} found", d.0.len(), if d.0.len() == 1 { "" } else { "s" });
            Ok(2)
        }
        Err(e) => Err(e),
    }
}

pub async fn intents_test(config: Config, dir: Option<PathBuf>, json: bool) -> Result<u8, AppError> {
    let config = with_dir(config, dir);
    let catalog = app::load_catalog(&config).await?;
    if catalog.cases.is_empty() {
        return Err(AppError::Usage(format!("no test cases under {}/tests", config.intents_dir.display())));
    }
    let report = intents::eval::evaluate(&catalog, &catalog.cases);
    if json {
        let text = serde_json::to_string(&report).map_err(|e| AppError::Runtime(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", report.render_text());
    }
    Ok(0)
}

pub async fn kb_search(config: Config, query: &str, limit: usize) -> Result<u8, AppError> {
    let catalog = app::load_catalog(&config).await?;
    let min = catalog.kb_index.min_score();
    let hits = catalog.search_kb(query, limit.max(1));
    if hits.is_empty() {
        println!("no articles match");
    }
    for h in hits {
        if let Some(a) = catalog.articles.get(h.article) {
            let mark = if h.score >= min { "" } else { "  (below the offer threshold)" };
            println!("{:>7.3}  {:<28} {}{mark}", h.score, a.id, a.title);
        }
    }
    Ok(0)
}

/// Filters for `deskbot tickets list`.
#[derive(Debug, Clone, clap::Args)]
pub struct TicketListArgs {
    /// open, pending, resolved, closed, active (open + pending) or all; comma-separated.
    #[arg(long, default_value = "active")]
    pub status: String,
    #[arg(long)]
    pub queue: Option<String>,
    /// Requester as PLATFORM:ID, e.g. console:alice.
    #[arg(long)]
    pub user: Option<String>,
    /// Assignee as PLATFORM:ID, or `none` for unassigned tickets.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Only tickets older than this, e.g. `2d`, `36h`.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
}

fn parse_statuses(s: &str) -> Result<Vec<TicketStatus>, AppError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "all" => return Ok(Vec::new()),
            "active" => out.extend([TicketStatus::Open, TicketStatus::Pending]),
            p => out.push(p.parse().map_err(AppError::Usage)?),
        }
    }
    Ok(out)
}

pub async fn tickets_list(config: Config, args: TicketListArgs) -> Result<u8, AppError> {
    let filter = TicketFilter {
        statuses: parse_statuses(&args.status)?,
        queue: args.queue.as_deref().map(QueueName::parse).transpose().map_err(AppError::Usage)?,
        requester: args.user.as_deref().map(str::parse::<UserRef>).transpose().map_err(AppError::Usage)?,
        assignee: match args.assignee.as_deref() {
            None => None,
            Some("none") => Some(None),
            Some(a) => Some(Some(a.parse::<UserRef>().map_err(AppError::Usage)?.to_string())),
        },
        created_before: match args.older_than.as_deref() {
            None => None,
            Some(age) => {
                let d = humantime::parse_duration(age)
                    .map_err(|e| AppError::Usage(format!("--older-than `{age}`: {e} (e.g. 2d, 36h)")))?;
                Some(chrono::Utc::now().timestamp_millis() - d.as_millis() as i64)
            }
        },
        limit: args.limit,
    };
    let store = app::open_store(&config).await?;
    let tickets = store.tickets(&filter).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&tickets).map_err(|e| AppError::Runtime(e.to_string()))?;
        println!("{text}");
        return Ok(0);
    }
    if tickets.is_empty() {
        println!("no tickets");
        return Ok(0);
    }
    println!(
        "{:<9} {:<9} {:<8} {:<13} {:<16} {:<20} TITLE",
        "NUMBER", "STATUS", "PRIORITY", "QUEUE", "CREATED", "REQUESTER"
    );
    for t in &tickets {
        println!(
            "{:<9} {:<9} {:<8} {:<13} {:<16} {:<20} {}",
            t.number.to_string(),
            t.status.as_str(),
            t.priority.as_str(),
            t.queue.as_str(),
            when(t.created_at),
            t.requester.to_string(),
            t.title
        );
    }
    Ok(0)
}

fn parse_number(s: &str) -> Result<TicketNumber, AppError> {
    s.parse().map_err(AppError::Usage)
}

pub async fn tickets_show(config: Config, number: &str, json: bool) -> Result<u8, AppError> {
    let number = parse_number(number)?;
    let store = app::open_store(&config).await?;
    let Some(t) = store.ticket(number).await? else {
        return Err(AppError::Usage(format!("ticket {number} does not exist")));
    };
    let messages = store.ticket_messages(number).await?;
    let events = store.ticket_events(number).await?;
    if json {
        let v = serde_json::json!({
            "requester": t.requester,
            "filed_by": t.filed_by,
            "ticket": t,
            "transcript": messages,
            "events": events,
        });
        println!("{}", serde_json::to_string_pretty(&v).map_err(|e| AppError::Runtime(e.to_string()))?);
        return Ok(0);
    }
    print_ticket(&t);
    println!("\nTranscript:");
    for m in &messages {
        let who = match &m.turn.from {
            Speaker::Employee => "employee".to_string(),
            Speaker::Bot => "deskbot".to_string(),
            Speaker::Agent(n) => n.clone(),
            Speaker::Filer(n) => format!("{n} (filed it)"),
            Speaker::System => "system".to_string(),
        };
        let note = if m.internal { " (internal)" } else { "" };
        println!("  [{}] {who}{note}: {}", when(m.turn.at), m.turn.text.replace('\n', "\n      "));
    }
    println!("\nHistory:");
    for e in &events {
        let detail = e.detail.as_deref().map(|d| format!(" — {d}")).unwrap_or_default();
        println!("  [{}] {} by {}{detail}", when(e.at), e.kind, e.actor);
    }
    Ok(0)
}

fn print_ticket(t: &Ticket) {
    println!("{} {}", t.number, t.title);
    println!("  status:    {}", t.status);
    println!("  priority:  {}", t.priority);
    println!("  queue:     {}", t.queue);
    println!("  intent:    {}", t.intent.as_deref().unwrap_or("-"));
    let name = t.requester_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    println!("  requester: {}{name}", t.requester);
    println!("  filed by:  {}", t.filed_by);
    println!("  assignee:  {}", t.assignee.as_deref().unwrap_or("-"));
    println!("  created:   {}", when(t.created_at));
    if let Some(r) = t.resolved_at {
        println!("  resolved:  {}", when(r));
    }
    for (k, v) in &t.fields {
        println!("  {k}: {v}");
    }
    println!("\n{}", t.description);
}

pub async fn tickets_resolve(
    config: Config,
    number: &str,
    message: Option<String>,
    by: Option<String>,
) -> Result<u8, AppError> {
    let number = parse_number(number)?;
    let by = by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "admin".to_string());
    let app = App::build(config).await?;
    app.service.resolve_ticket(number, &by, message).await?;
    println!("{number} resolved; the requester has been notified");
    Ok(0)
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub async fn outbox_list(config: Config, status: &str, limit: i64, json: bool) -> Result<u8, AppError> {
    let status = match status {
        "all" => None,
        s @ ("pending" | "sending" | "done" | "dead") => Some(s),
        other => {
            return Err(AppError::Usage(format!(
                "unknown status `{other}` (pending, sending, done, dead, all)"
            )));
        }
    };
    let store = app::open_store(&config).await?;
    let rows = store.outbox_list(status, limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).map_err(|e| AppError::Runtime(e.to_string()))?);
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no deliveries");
    }
    for r in rows {
        let err = r.last_error.as_deref().map(|e| format!("  error: {e}")).unwrap_or_default();
        println!(
            "{:>6} {:<8} {:<8} tries {:<2} {}  {}{err}",
            r.id,
            r.status,
            r.platform,
            r.attempts,
            when(r.created_at),
            r.preview
        );
    }
    Ok(0)
}

pub async fn outbox_retry(config: Config, id: Option<i64>, all: bool) -> Result<u8, AppError> {
    if id.is_none() && !all {
        return Err(AppError::Usage("name a delivery id, or pass --all".into()));
    }
    let store = app::open_store(&config).await?;
    let n = store.outbox_retry(id, chrono::Utc::now().timestamp_millis()).await?;
    println!("{n} deliver{} queued again", if n == 1 { "y" } else { "ies" });
    Ok(if n == 0 && id.is_some() { 2 } else { 0 })
}

/// `deskbot intents import`.
#[derive(Debug, Clone, clap::Args)]
pub struct IntentsImportArgs {
    #[arg(long, value_enum)]
    pub format: crate::import::Format,
    /// Input files, read in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Directory to write the intents into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn intents_import(args: &IntentsImportArgs) -> Result<u8, AppError> {
    let mut records = Vec::new();
    for f in &args.files {
        records.extend(crate::import::read_labelled(args.format, f).map_err(usage)?);
    }
    let s = crate::import::write_intents(&records, &args.out).map_err(usage)?;
    println!(
        "{}: {} intents ({} examples), {} out-of-scope messages, {} repeats dropped",
        args.out.display(),
        s.intents,
        s.examples,
        s.out_of_scope,
        s.duplicates
    );
    println!(
        "next: write real answers, pick queues, then `deskbot intents check --dir {}`",
        args.out.display()
    );
    Ok(0)
}

/// `deskbot kb import`.
#[derive(Debug, Clone, clap::Args)]
pub struct KbImportArgs {
    /// Only `jsonl`: one {"id","title","body"} object per line.
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
    pub format: String,
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Directory whose kb/ receives the articles.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// {"query","article"} lines added to the articles' example questions.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
}

pub fn kb_import(args: &KbImportArgs) -> Result<u8, AppError> {
    let s = crate::import::import_kb(&args.file, args.examples.as_deref(), &args.out).map_err(usage)?;
    println!(
        "{}: {} articles, {} example questions, {} ids rewritten",
        s.dir.display(),
        s.articles,
        s.examples,
        s.renamed.len()
    );
    Ok(0)
}

/// `deskbot kb eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct KbEvalArgs {
    /// An intents directory (its kb/ is used) or a directory of *.md articles
    /// (default: intents_dir from config).
    #[arg(long, value_name = "DIR")]
    pub kb: Option<PathBuf>,
    /// {"query","article"} lines to search for.
    #[arg(long, value_name = "FILE")]
    pub cases: PathBuf,
    /// {"query","article"} lines added as example questions before indexing.
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Hold out: split the cases into K folds, index the examples minus each fold's queries.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub folds: usize,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
    /// Sentence-embedding model directory (overrides [matcher] model): hybrid ranking.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

/// `deskbot model import PATH --out DIR`.
pub async fn model_import(
    path: &std::path::Path,
    out: &std::path::Path,
    self_test: bool,
) -> Result<u8, AppError> {
    let (path, out) = (path.to_path_buf(), out.to_path_buf());
    let started = std::time::Instant::now();
    let manifest = tokio::task::spawn_blocking(move || crate::embed::import::import(&path, &out, self_test))
        .await
        .map_err(|e| AppError::Runtime(format!("model import crashed: {e}")))?
        .map_err(|e| AppError::Usage(e.to_string()))?;
    if let Some(t) = &manifest.self_test {
        println!("self-test (cosine; paraphrases should score high, unrelated sentences low):");
        for (a, b, c) in &t.paraphrases {
            println!("  paraphrase {c:.3}  {a:?} ~ {b:?}");
        }
        for (a, b, c) in &t.unrelated {
            println!("  unrelated  {c:.3}  {a:?} ~ {b:?}");
        }
        println!(
            "  lowest paraphrase {:.3}, highest unrelated {:.3}: passed",
            t.min_paraphrase(),
            t.max_unrelated()
        );
    } else {
        println!("self-test skipped");
    }
    let i = &manifest.info;
    println!(
        "imported: {} dimensions, {} layers, {:.1} M parameters, checksum {} ({:.1} s)",
        i.dimensions,
        i.layers,
        i.parameters as f64 / 1e6,
        i.checksum,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// `deskbot model info DIR`.
pub async fn model_info(dir: &std::path::Path, json: bool) -> Result<u8, AppError> {
    let dir = dir.to_path_buf();
    let (info, manifest) = tokio::task::spawn_blocking(move || crate::embed::import::info(&dir))
        .await
        .map_err(|e| AppError::Runtime(format!("model info crashed: {e}")))?
        .map_err(|e| AppError::Usage(e.to_string()))?;
    if json {
        let v = serde_json::json!({
            "dimensions": info.dimensions,
            "layers": info.layers,
            "vocab_size": info.vocab_size,
            "parameters": info.parameters,
            "checksum": info.checksum,
            "source": manifest.as_ref().map(|m| m.source.clone()),
            "self_test": manifest.as_ref().and_then(|m| m.self_test.clone()),
        });
        println!("{v}");
    } else {
        println!("dimensions: {}", info.dimensions);
        println!("layers:     {}", info.layers);
        println!("vocabulary: {}", info.vocab_size);
        println!("parameters: {:.1} M", info.parameters as f64 / 1e6);
        println!("checksum:   {}", info.checksum);
        if let Some(m) = &manifest {
            println!("imported from: {}", m.source);
            if let Some(t) = &m.self_test {
                println!(
                    "self-test:  lowest paraphrase {:.3}, highest unrelated {:.3}",
                    t.min_paraphrase(),
                    t.max_unrelated()
                );
            }
        }
    }
    Ok(0)
}

pub async fn kb_eval(config: Config, args: KbEvalArgs) -> Result<u8, AppError> {
    let dir = args.kb.clone().unwrap_or_else(|| config.intents_dir.clone());
    let min_score = config.kb.min_score;
    let model = app::configured_model(&config).await?;
    let report = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let articles = crate::eval::kb::load_articles(&dir).map_err(AppError::Catalog)?;
        let cases = crate::import::kb::read_pairs(&args.cases).map_err(usage)?;
        let examples = match &args.examples {
            Some(p) => crate::import::kb::read_pairs(p).map_err(usage)?,
            None => Vec::new(),
        };
        crate::eval::kb::evaluate_kb_with(&articles, &cases, &examples, args.folds, min_score, model.as_ref())
            .map_err(usage)
    })
    .await
    .map_err(|e| AppError::Runtime(format!("kb eval crashed: {e}")))??;
    print_report(&report, args.json, crate::eval::kb::KbEvalReport::render_text)
}

/// `deskbot intents test --cases`: the catalog's matcher on cases from a file or directory.
pub async fn intents_test_cases(
    config: Config,
    dir: Option<PathBuf>,
    cases: &std::path::Path,
    json: bool,
) -> Result<u8, AppError> {
    let config = with_dir(config, dir);
    let catalog = app::load_catalog(&config).await?;
    let cases = crate::import::read_cases(cases).map_err(usage)?;
    let report = intents::eval::evaluate(&catalog, &cases);
    print_report(&report, json, intents::EvalReport::render_text)
}

/// `deskbot intents explain`.
pub async fn intents_explain(
    config: Config,
    dir: Option<PathBuf>,
    text: &str,
    json: bool,
) -> Result<u8, AppError> {
    let catalog = app::load_catalog(&with_dir(config, dir)).await?;
    print_report(&catalog.explain(text), json, intents::explain::ExplainReport::render_text)
}

fn print_report<R: serde::Serialize>(report: &R, json: bool, text: fn(&R) -> String) -> Result<u8, AppError> {
    if json {
        let s = serde_json::to_string(report).map_err(|e| AppError::Runtime(e.to_string()))?;
        println!("{s}");
    } else {
        print!("{}", text(report));
    }
    Ok(0)
}

fn usage(e: crate::import::ImportError) -> AppError {
    AppError::Usage(e.to_string())
}

/// `deskbot bench`: run the load (or, with the hidden `--child`, one process of it) and print
/// the report.
pub async fn bench(config: Config, args: crate::bench::BenchArgs) -> Result<u8, AppError> {
    match &args.action {
        Some(crate::bench::BenchAction::Seed(a)) => {
            let report = crate::bench::seed::seed(&config, a).await?;
            if a.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print!("{}", report.human());
            }
            return Ok(0);
        }
        Some(crate::bench::BenchAction::Queries(a)) => {
            let timings = crate::bench::queries::run(&config, a).await?;
            if a.json {
                println!("{}", serde_json::to_string(&timings).unwrap_or_default());
            } else {
                print!("{}", crate::bench::queries::human(&timings));
            }
            return Ok(0);
        }
        None => {}
    }
    if let Some(child) = &args.child {
        let report = crate::bench::run_child(config, &args, child).await?;
        println!("{}", serde_json::to_string(&report).map_err(|e| AppError::Runtime(e.to_string()))?);
        return Ok(0);
    }
    let report = crate::bench::run(config, &args).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report).map_err(|e| AppError::Runtime(e.to_string()))?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(0)
}

/// `deskbot healthcheck`: for container health checks (the runtime image has no curl).
pub async fn healthcheck(config: Config, url: Option<String>) -> Result<u8, AppError> {
    let url = url.unwrap_or_else(|| crate::healthcheck::local_url(&config.http.listen, "/healthz"));
    match crate::healthcheck::probe(&url, std::time::Duration::from_secs(3)).await {
        Ok(200) => Ok(0),
        Ok(status) => {
            eprintln!("{url}: HTTP {status}");
            Ok(1)
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            Ok(1)
        }
    }
}

/// `deskbot portal link PLATFORM:ID`: print a one-time portal sign-in link for that person.
pub async fn portal_link(config: Config, user: &str) -> Result<u8, AppError> {
    let user: crate::domain::UserRef =
        user.trim().parse().map_err(|e| AppError::Usage(format!("PLATFORM:ID: {e}")))?;
    if !matches!(
        user.platform,
        crate::domain::Platform::Console | crate::domain::Platform::Slack | crate::domain::Platform::Discord
    ) {
        return Err(AppError::Usage("PLATFORM:ID: the platform must be console, slack or discord".into()));
    }
    if !config.portal.enabled {
        return Err(AppError::Usage("the portal is off: set portal.enabled = true".into()));
    }
    let app = App::build(config).await?;
    let url = app.service.portal_link(&user).await?;
    println!("{url}");
    eprintln!("deskbot: valid for 10 minutes, once, for {user}.");
    Ok(0)
}

/// `deskbot report`: the figures of the `/reports` page, as text or JSON.
pub async fn report(config: Config, since: &str, queue: Option<String>, json: bool) -> Result<u8, AppError> {
    let app = App::build(config).await?;
    let period = crate::reports::parse_since(since, (app.clock)())
        .map_err(|e| AppError::Usage(format!("--since {e}")))?;
    let queue = match queue {
        None => None,
        Some(q) => {
            let q = QueueName::parse(&q).map_err(|e| AppError::Usage(format!("--queue: {e}")))?;
            if !app.config.queue_names().contains(&q) {
                let known: Vec<String> = app.config.queue_names().iter().map(|q| q.to_string()).collect();
                return Err(AppError::Usage(format!(
                    "--queue: no queue `{q}` (known: {})",
                    known.join(", ")
                )));
            }
            Some(q)
        }
    };
    let testers = app.config.reports.tester_refs().map_err(AppError::Usage)?;
    let opts = crate::reports::ReportOptions {
        period,
        queue,
        testers,
        kb_base_url: app.config.engine.kb_base_url.clone(),
    };
    let catalog = app.catalog.load_full();
    let report = crate::reports::build(&app.store, &catalog, &opts).await?;
    print_report(&report, json, crate::reports::text::render)
}

/// `deskbot chat --test`: flag this console conversation as test traffic, then chat.
pub async fn chat_test(config: Config, user: Option<String>) -> Result<u8, AppError> {
    let user = console_user(user);
    let store = app::open_store(&config).await?;
    store.mark_test_conversation(&format!("console:{user}"), chrono::Utc::now().timestamp_millis()).await?;
    drop(store);
    eprintln!("deskbot: this conversation is test traffic and is left out of reports.");
    chat(config, Some(user)).await
}
