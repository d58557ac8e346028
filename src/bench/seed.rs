//! `deskbot bench seed`: fill an empty database with a realistic history, fast, so the queries
//! a desk runs every day (reports, ticket lists, the SLA scan, purge, person export, audit
//! verify) can be measured at the size they will reach. Tickets are spread over `--days` with
//! the starter pack's intent and queue mix, each with its transcript, history, case events,
//! some ratings and KB feedback, timers for the open ones, and one keyed audit entry (the chain
//! verifies). PostgreSQL is loaded with `COPY … FROM STDIN` (CSV), SQLite with prepared inserts
//! in large transactions. A database that already holds tickets is refused.

use crate::app::AppError;
use crate::config::Config;
use crate::store::StoreError;
use crate::store::compliance::{GENESIS_HASH, entry_hash};
use crate::store::key::AuditKey;
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolCopyExt, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Instant;

/// Tickets generated and written per batch.
const BATCH: u64 = 20_000;
/// People who file tickets.
const PEOPLE: u64 = 5_000;
const DAY_MS: i64 = 86_400_000;
/// The seeded tickets' SLA targets, from their creation.
const FIRST_RESPONSE_DUE: i64 = 4 * 3_600_000;
const RESOLUTION_DUE: i64 = 40 * 3_600_000;

/// `deskbot bench seed` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// How many tickets to create.
    #[arg(long, default_value_t = 10_000)]
    pub tickets: u64,
    /// Spread them over this many days, ending now.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// The database to fill (it must hold no tickets yet).
    #[arg(long, value_name = "URL")]
    pub database_url: String,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
}

/// What seeding wrote and how fast.
#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    pub database: String,
    pub tickets: u64,
    pub days: u32,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// Seconds spent in each phase: `load` (generating and writing the rows), `indexes`
    /// (building the secondary indexes), `constraints` (checking the foreign keys, PostgreSQL)
    /// and `analyze`.
    pub phases: BTreeMap<String, f64>,
}

impl SeedReport {
    pub fn human(&self) -> String {
        let mut s = format!(
            "seeded {} tickets over {} days into {}: {} rows in {:.1} s ({:.0} rows/s)\n",
            self.tickets, self.days, self.database, self.rows, self.seconds, self.rows_per_second
        );
        for (t, n) in &self.tables {
            s.push_str(&format!("  {t:<14} {n}\n"));
        }
        let phases: Vec<String> = self.phases.iter().map(|(p, secs)| format!("{p} {secs:.1} s")).collect();
        s.push_str(&format!("  phases: {}\n", phases.join(", ")));
        s
    }
}

/// One intent of the mix: its id, queue and a typical request.
#[derive(Debug, Clone)]
struct Kind {
    intent: String,
    queue: String,
    text: String,
}

/// The starter pack's mix, read from the configured intents (a fixed mix if they cannot be read).
fn mix(config: &Config) -> Vec<Kind> {
    let opts = crate::app::load_options(config);
    let from_catalog = crate::intents::load_catalog(&config.intents_dir, &config.queue_names(), &opts)
        .ok()
        .map(|c| {
            c.intents
                .iter()
                .filter_map(|i| {
                    let text = i.examples.first()?.clone();
                    Some(Kind { intent: i.id.clone(), queue: i.queue.to_string(), text })
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if !from_catalog.is_empty() {
        return from_catalog;
    }
    [
        ("password-reset", "identity", "I forgot my password"),
        ("vpn-drops", "network", "my vpn keeps dropping"),
        ("printer", "hardware", "the printer prints blank pages"),
        ("software-install", "software", "can you install adobe acrobat"),
    ]
    .into_iter()
    .map(|(i, q, t)| Kind { intent: i.into(), queue: q.into(), text: t.into() })
    .collect()
}

/// A small, fast, deterministic generator (splitmix64): the same seed gives the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A value in a row: text, a number, or NULL.
#[derive(Debug, Clone)]
enum V {
    T(String),
    I(i64),
    B(bool),
    N,
}

/// Rows for one table.
struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<V>>,
}

impl Rows {
    fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Self { table, columns, rows: Vec::new() }
    }
}

/// Everything one batch writes, table by table (in foreign-key order).
struct Batch {
    tables: Vec<Rows>,
}

/// A batch ready for its database: `COPY` statements with their CSV for PostgreSQL, the rows
/// themselves for SQLite's prepared inserts.
enum Encoded {
    Csv(Vec<(String, Vec<u8>)>),
    Rows(Batch),
}

impl Batch {
    fn encode(self, postgres: bool) -> Encoded {
        if !postgres {
            return Encoded::Rows(self);
        }
        let tables = self
            .tables
            .iter()
            .filter(|t| !t.rows.is_empty())
            .map(|t| {
                let stmt =
                    format!("COPY {} ({}) FROM STDIN WITH (FORMAT csv)", t.table, t.columns.join(", "));
                let mut buf = String::with_capacity(t.rows.len() * 64);
                for row in &t.rows {
                    for (i, v) in row.iter().enumerate() {
                        if i > 0 {
                            buf.push(',');
                        }
                        csv_field(&mut buf, v);
                    }
                    buf.push('\n');
                }
                (stmt, buf.into_bytes())
            })
            .collect();
        Encoded::Csv(tables)
    }

    fn table_names(&self) -> Vec<&'static str> {
        self.tables.iter().map(|t| t.table).collect()
    }
}

/// Generate tickets `first..first+count` (numbers from 1001), their rows, and the audit chain's
/// next links (`prev` is the chain's last link, updated).
#[allow(clippy::too_many_arguments)]
fn generate(
    rng: &mut Rng,
    kinds: &[Kind],
    first: u64,
    count: u64,
    total: u64,
    start: i64,
    span: i64,
    key: &AuditKey,
    prev: &mut String,
) -> Batch {
    let mut tickets = Rows::new(
        "tickets",
        &[
            "number",
            "title",
            "description",
            "requester_platform",
            "requester_id",
            "requester_name",
            "conversation",
            "reply_to",
            "intent",
            "queue",
            "priority",
            "status",
            "assignee",
            "fields",
            "created_at",
            "updated_at",
            "resolved_at",
            "first_response_at",
            "filed_by_platform",
            "filed_by_id",
            "sla",
        ],
    );
    let mut messages = Rows::new(
        "messages",
        &["conversation", "ticket_number", "speaker_kind", "speaker_name", "text", "internal", "created_at"],
    );
    let mut events = Rows::new("ticket_events", &["ticket_number", "at", "kind", "actor", "detail"]);
    let mut csat = Rows::new("csat", &["ticket_number", "score", "comment", "created_at"]);
    let mut cases = Rows::new(
        "case_events",
        &["conversation", "platform", "user_id", "kind", "intent", "article", "queue", "query", "created_at"],
    );
    let mut feedback =
        Rows::new("kb_feedback", &["intent", "article", "query", "helpful", "created_at", "conversation"]);
    let mut timers =
        Rows::new("timers", &["ticket_number", "kind", "due_at", "fired_at", "cancelled_at", "created_at"]);
    let mut audit = Rows::new(
        "audit_log",
        &["seq", "at", "actor", "kind", "ticket_number", "subject", "detail", "prev_hash", "hash"],
    );
    let now = start + span;
    for i in first..first + count {
        let number = 1001 + i as i64;
        // Evenly spread in time (ticket numbers grow with time), with jitter inside the slot.
        let slot = span / total.max(1) as i64;
        let created = start + (i as i64) * slot + rng.below(slot.max(1) as u64) as i64;
        let k = &kinds[rng.below(kinds.len() as u64) as usize];
        let person = format!("U{:08}", rng.below(PEOPLE));
        let agent = format!("U9{:07}", rng.below(40));
        let conversation = format!("slack:dm:{person}");
        let age = now - created;
        let status = if age > 7 * DAY_MS {
            if rng.chance(85) { "closed" } else { "resolved" }
        } else if age > 2 * DAY_MS {
            ["resolved", "closed", "open", "pending"][rng.below(4) as usize]
        } else {
            ["open", "open", "pending", "resolved"][rng.below(4) as usize]
        };
        let done = matches!(status, "resolved" | "closed");
        let first_response = created + 60_000 + rng.below(4 * 3_600_000) as i64;
        let resolved = done.then(|| first_response + rng.below(2 * DAY_MS as u64) as i64);
        let updated = resolved.unwrap_or(first_response);
        let priority = ["low", "normal", "normal", "normal", "high", "urgent"][rng.below(6) as usize];
        let assignee = (status != "open" || rng.chance(50)).then(|| format!("slack:{agent}"));
        let reply_to = format!(r#"{{"platform":"slack","channel":"{person}"}}"#);
        tickets.rows.push(vec![
            V::I(number),
            V::T(k.text.clone()),
            V::T(format!("{} (since this morning)", k.text)),
            V::T("slack".into()),
            V::T(person.clone()),
            V::T(format!("Person {person}")),
            V::T(conversation.clone()),
            V::T(reply_to),
            V::T(k.intent.clone()),
            V::T(k.queue.clone()),
            V::T(priority.into()),
            V::T(status.into()),
            assignee.clone().map(V::T).unwrap_or(V::N),
            V::T("{}".into()),
            V::I(created),
            V::I(updated),
            resolved.map(V::I).unwrap_or(V::N),
            V::I(first_response),
            V::T("slack".into()),
            V::T(person.clone()),
            V::T(format!(
                r#"{{"first_response_due":{},"resolution_due":{},"first_response_at":{first_response}}}"#,
                created + FIRST_RESPONSE_DUE,
                created + RESOLUTION_DUE
            )),
        ]);
        for (j, (speaker, text, internal)) in [
            ("employee", k.text.as_str(), false),
            ("bot", "Here is what usually fixes it. Did that solve it?", false),
            ("employee", "no, still broken", false),
            ("agent", "checking the logs for this one", true),
            ("agent", "I am on it: could you restart once more?", false),
        ]
        .into_iter()
        .enumerate()
        {
            // The public agent reply is the ticket's first response.
            let at =
                if speaker == "agent" && !internal { first_response } else { created + j as i64 * 30_000 };
            messages.rows.push(vec![
                V::T(conversation.clone()),
                V::I(number),
                V::T(speaker.into()),
                if speaker == "agent" { V::T(agent.clone()) } else { V::N },
                V::T(text.into()),
                V::B(internal),
                V::I(at),
            ]);
        }
        let actor = format!("slack:{person}");
        events.rows.push(vec![
            V::I(number),
            V::I(created),
            V::T("created".into()),
            V::T(actor.clone()),
            V::N,
        ]);
        if let Some(a) = &assignee {
            events.rows.push(vec![
                V::I(number),
                V::I(first_response),
                V::T("assigned".into()),
                V::T(a.clone()),
                V::N,
            ]);
        }
        let late = first_response > created + FIRST_RESPONSE_DUE
            || resolved.is_some_and(|r| r > created + RESOLUTION_DUE)
            || (resolved.is_none() && now > created + RESOLUTION_DUE);
        if late {
            events.rows.push(vec![
                V::I(number),
                V::I(created + FIRST_RESPONSE_DUE),
                V::T("sla_breach".into()),
                V::T("sla".into()),
                V::N,
            ]);
        }
        if let Some(r) = resolved {
            events.rows.push(vec![
                V::I(number),
                V::I(r),
                V::T("resolved".into()),
                V::T(format!("slack:{agent}")),
                V::N,
            ]);
            if rng.chance(30) {
                let score = [5, 5, 5, 4, 4, 3, 2, 1][rng.below(8) as usize];
                csat.rows.push(vec![V::I(number), V::I(score), V::N, V::I(r + 3_600_000)]);
            }
        } else {
            // The open ones wait on their SLA timers.
            timers.rows.push(vec![
                V::I(number),
                V::T("sla_resolution".into()),
                V::I(created + 3 * DAY_MS),
                V::N,
                V::N,
                V::I(created),
            ]);
        }
        for (j, kind) in ["answered", "not_solved"].into_iter().enumerate() {
            cases.rows.push(vec![
                V::T(conversation.clone()),
                V::T("slack".into()),
                V::T(person.clone()),
                V::T(kind.into()),
                V::T(k.intent.clone()),
                V::N,
                V::T(k.queue.clone()),
                V::T(k.text.clone()),
                V::I(created + j as i64 * 20_000),
            ]);
        }
        // As many questions again are answered by the KB without a ticket.
        let deflected = created - 3_600_000;
        let asker = format!("U{:08}", rng.below(PEOPLE));
        for (j, kind) in ["answered", "solved"].into_iter().enumerate() {
            cases.rows.push(vec![
                V::T(format!("slack:dm:{asker}")),
                V::T("slack".into()),
                V::T(asker.clone()),
                V::T(kind.into()),
                V::T(k.intent.clone()),
                V::N,
                V::T(k.queue.clone()),
                V::T(k.text.clone()),
                V::I(deflected + j as i64 * 20_000),
            ]);
        }
        if rng.chance(20) {
            feedback.rows.push(vec![
                V::T(k.intent.clone()),
                V::N,
                V::T(k.text.clone()),
                V::B(rng.chance(70)),
                V::I(deflected + 60_000),
                V::T(format!("slack:dm:{asker}")),
            ]);
        }
        let seq = i as i64 + 1;
        let hash = entry_hash(key, prev, seq, created, &actor, "ticket_created", Some(number), None, None);
        audit.rows.push(vec![
            V::I(seq),
            V::I(created),
            V::T(actor),
            V::T("ticket_created".into()),
            V::I(number),
            V::N,
            V::N,
            V::T(prev.clone()),
            V::T(hash.clone()),
        ]);
        *prev = hash;
    }
    Batch { tables: vec![tickets, messages, events, csat, cases, feedback, timers, audit] }
}

enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// One CSV field (PostgreSQL's CSV: NULL is an unquoted empty field, text is always quoted).
fn csv_field(out: &mut String, v: &V) {
    match v {
        V::N => {}
        V::I(n) => out.push_str(&n.to_string()),
        V::B(b) => out.push_str(if *b { "t" } else { "f" }),
        V::T(t) => {
            out.push('"');
            for c in t.chars() {
                if c == '"' {
                    out.push('"');
                }
                out.push(c);
            }
            out.push('"');
        }
    }
}

impl Pool {
    async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(db_err)?
                .journal_mode(SqliteJournalMode::Wal)
                // A seed that dies half way is started again on a fresh file: nothing is lost
                // by not syncing each batch, and a larger page cache keeps the inserts in memory.
                .synchronous(SqliteSynchronous::Off)
                .pragma("cache_size", "-262144")
                .busy_timeout(crate::store::sqlite::DEFAULT_BUSY_TIMEOUT);
            Ok(Pool::Sqlite(
                SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.map_err(db_err)?,
            ))
        } else {
            // Each batch commits without waiting for its WAL flush (a failed seed is redone).
            let opts =
                PgConnectOptions::from_str(url).map_err(db_err)?.options([("synchronous_commit", "off")]);
            Ok(Pool::Pg(PgPoolOptions::new().max_connections(2).connect_with(opts).await.map_err(db_err)?))
        }
    }

    async fn count_tickets(&self) -> Result<i64, StoreError> {
        let q = "SELECT COUNT(*) FROM tickets";
        match self {
            Pool::Sqlite(p) => sqlx::query_scalar(q).fetch_one(p).await.map_err(db_err),
            Pool::Pg(p) => sqlx::query_scalar(q).fetch_one(p).await.map_err(db_err),
        }
    }

    async fn write(&self, batch: &Encoded) -> Result<(), StoreError> {
        match (self, batch) {
            (Pool::Pg(p), Encoded::Csv(tables)) => {
                for (stmt, csv) in tables {
                    let mut copy = p.copy_in_raw(stmt).await.map_err(db_err)?;
                    for chunk in csv.chunks(1 << 20) {
                        copy.send(chunk).await.map_err(db_err)?;
                    }
                    copy.finish().await.map_err(db_err)?;
                }
                Ok(())
            }
            (Pool::Sqlite(p), Encoded::Rows(batch)) => {
                let mut tx = p.begin().await.map_err(db_err)?;
                for t in &batch.tables {
                    let marks: Vec<String> = (1..=t.columns.len()).map(|i| format!("${i}")).collect();
                    let stmt = format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        t.table,
                        t.columns.join(", "),
                        marks.join(", ")
                    );
                    for row in &t.rows {
                        // Built from this file's own table and column names only.
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(stmt.as_str()));
                        for v in row {
                            q = match v {
                                V::T(s) => q.bind(s.as_str()),
                                V::I(n) => q.bind(*n),
                                V::B(b) => q.bind(*b),
                                V::N => q.bind(None::<String>),
                            };
                        }
                        q.execute(&mut *tx).await.map_err(db_err)?;
                    }
                }
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }
            _ => Err(StoreError::Database("a batch encoded for the other database".into())),
        }
    }

    /// The secondary indexes of `tables` (not those behind a constraint), as (name, the
    /// statement that builds it).
    async fn secondary_indexes(&self, tables: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
        let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
        match self {
            Pool::Pg(p) => sqlx::query_as(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i \
                 WHERE i.schemaname = current_schema() AND i.tablename = ANY($1) \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            )
            .bind(&names)
            .fetch_all(p)
            .await
            .map_err(db_err),
            Pool::Sqlite(p) => {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
                )
                .fetch_all(p)
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .filter(|(_, t, _)| names.contains(t))
                    .map(|(n, _, sql)| (n, sql))
                    .collect())
            }
        }
    }

    /// The foreign keys of `tables` (PostgreSQL), as (table, constraint name, definition).
    async fn foreign_keys(&self, tables: &[&str]) -> Result<Vec<(String, String, String)>, StoreError> {
        let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
        match self {
            Pool::Pg(p) => sqlx::query_as(
                "SELECT t.relname::text, c.conname::text, pg_get_constraintdef(c.oid) \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                 WHERE c.contype = 'f' AND t.relname = ANY($1) \
                 AND t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
                 ORDER BY t.relname, c.conname",
            )
            .bind(&names)
            .fetch_all(p)
            .await
            .map_err(db_err),
            Pool::Sqlite(_) => Ok(Vec::new()),
        }
    }

    /// Run one statement of this file's own (or the database's own index definitions).
    async fn exec(&self, stmt: &str) -> Result<(), StoreError> {
        let stmt = sqlx::AssertSqlSafe(stmt.to_string());
        match self {
            Pool::Pg(p) => sqlx::raw_sql(stmt).execute(p).await.map(drop).map_err(db_err),
            Pool::Sqlite(p) => sqlx::raw_sql(stmt).execute(p).await.map(drop).map_err(db_err),
        }
    }

    /// Build the indexes dropped for the load again, two at a time on PostgreSQL (one
    /// connection each, with room to sort).
    async fn rebuild(&self, indexes: &[(String, String)]) -> Result<(), StoreError> {
        match self {
            Pool::Pg(p) => {
                let defs: Vec<String> = indexes.iter().map(|(_, def)| def.clone()).collect();
                let (x, y) = tokio::join!(
                    build_lane(p, defs.iter().step_by(2).cloned().collect()),
                    build_lane(p, defs.iter().skip(1).step_by(2).cloned().collect())
                );
                x.and(y)
            }
            Pool::Sqlite(_) => {
                for (_, def) in indexes {
                    self.exec(def).await?;
                }
                Ok(())
            }
        }
    }

    /// Numbering continues after the seeded tickets; the audit chain's head is its last link.
    async fn finish(&self, next_ticket: i64, last_seq: i64, last_hash: &str) -> Result<(), StoreError> {
        match self {
            Pool::Pg(p) => {
                sqlx::query("SELECT setval('ticket_seq', $1)")
                    .bind(next_ticket - 1)
                    .execute(p)
                    .await
                    .map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash",
                )
                .bind(last_seq)
                .bind(last_hash)
                .execute(p)
                .await
                .map_err(db_err)?;
                sqlx::query("ANALYZE").execute(p).await.map_err(db_err)?;
            }
            Pool::Sqlite(p) => {
                sqlx::query("UPDATE ticket_seq SET next = $1 WHERE id = 1")
                    .bind(next_ticket)
                    .execute(p)
                    .await
                    .map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
                )
                .bind(last_seq)
                .bind(last_hash)
                .execute(p)
                .await
                .map_err(db_err)?;
                sqlx::query("ANALYZE").execute(p).await.map_err(db_err)?;
            }
        }
        Ok(())
    }
}

/// Build `defs` one after the other on one connection of `pool`.
async fn build_lane(pool: &PgPool, defs: Vec<String>) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(db_err)?;
    sqlx::raw_sql("SET maintenance_work_mem = '1GB'").execute(&mut *conn).await.map_err(db_err)?;
    for def in defs {
        // The database's own index definitions, read back from its catalogue.
        sqlx::raw_sql(sqlx::AssertSqlSafe(def)).execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// Seed `args.database_url` (migrated first) with the audit key of `config`.
pub async fn seed(config: &Config, args: &SeedArgs) -> Result<SeedReport, AppError> {
    let url = args.database_url.clone();
    let mut target = config.clone();
    target.database_url = Some(url.clone());
    // Migrates, and keys the (empty) audit chain under this configuration's key.
    let store = crate::app::open_store(&target).await?;
    let key = crate::app::load_audit_key(&target)?;
    let pool = Pool::connect(&url).await?;
    if pool.count_tickets().await? > 0 {
        return Err(AppError::Usage(format!(
            "{} already holds tickets; seed an empty database",
            crate::store::redact_url(&url)
        )));
    }
    if store.audit_head().await?.0 > 0 {
        return Err(AppError::Usage("the audit log already has entries; seed an empty database".into()));
    }
    drop(store);
    let kinds = mix(config);
    let span = i64::from(args.days.max(1)) * DAY_MS;
    let start = chrono::Utc::now().timestamp_millis() - span;
    let postgres = !url.starts_with("sqlite:");
    let total = args.tickets;
    let started = Instant::now();

    // The load goes in without the secondary indexes, which are built once at the end (a
    // sorted build is many times faster than keeping them up to date row by row). The table
    // names come from an empty batch, so they match what is written.
    let names = generate(&mut Rng(0), &kinds, 0, 0, 1, start, span, &key, &mut String::new()).table_names();
    let indexes = pool.secondary_indexes(&names).await?;
    for (name, _) in &indexes {
        pool.exec(&format!("DROP INDEX {name}")).await?;
    }
    // PostgreSQL checks a foreign key row by row, locking the ticket each row points at: the
    // keys are dropped for the load and added back at the end, which checks every row in one
    // join (and fails the seed should one not hold).
    let foreign = pool.foreign_keys(&names).await?;
    for (table, name, _) in &foreign {
        pool.exec(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}")).await?;
    }
    // The report triggers only drop rollups, and an empty database has none: PostgreSQL loads
    // without firing them row by row (SQLite's cost a probe each and cannot be switched off).
    if postgres {
        for t in &names {
            pool.exec(&format!("ALTER TABLE {t} DISABLE TRIGGER USER")).await?;
        }
    }

    // Batches are generated and encoded on a thread of their own while the previous one is
    // written, so generating (and the audit chain's HMACs) overlaps the database's work.
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, Vec<(String, u64)>, Encoded)>(2);
    let producer = tokio::task::spawn_blocking(move || {
        let mut rng = Rng(0x5EED_DE5B_0710_2026);
        let mut prev = GENESIS_HASH.to_string();
        let mut done = 0;
        while done < total {
            let count = BATCH.min(total - done);
            let batch = generate(&mut rng, &kinds, done, count, total, start, span, &key, &mut prev);
            let counts = batch.tables.iter().map(|t| (t.table.to_string(), t.rows.len() as u64)).collect();
            if tx.blocking_send((count, counts, batch.encode(postgres))).is_err() {
                break; // the writer stopped on an error
            }
            done += count;
        }
        prev
    });
    // PostgreSQL takes two batches at once, one connection each: a `COPY` keeps one server
    // process busy, and the rows have no order to keep (the foreign keys are checked at the end).
    let rx = tokio::sync::Mutex::new(rx);
    let progress = std::sync::Mutex::new((0u64, BTreeMap::<String, u64>::new()));
    let lane = || async {
        loop {
            let Some((count, counts, batch)) = rx.lock().await.recv().await else { return Ok(()) };
            if let Err(e) = pool.write(&batch).await {
                // The generator stops once nobody takes its batches.
                rx.lock().await.close();
                return Err(e);
            }
            let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
            for (t, n) in counts {
                *p.1.entry(t).or_default() += n;
            }
            p.0 += count;
            if !args.json {
                eprint!("\rseeded {}/{} tickets", p.0, args.tickets);
            }
        }
    };
    let written = if postgres {
        let (a, b) = tokio::join!(lane(), lane());
        a.and(b)
    } else {
        lane().await
    };
    let (_, tables) = progress.into_inner().unwrap_or_else(|p| p.into_inner());
    drop(rx);
    let prev = producer.await.map_err(|e| AppError::Runtime(format!("the seed generator failed: {e}")))?;
    if !args.json && args.tickets > 0 {
        eprintln!();
    }
    // The triggers and indexes come back whatever happened to the load.
    let mut enabled = Ok(());
    if postgres {
        for t in &names {
            if let Err(e) = pool.exec(&format!("ALTER TABLE {t} ENABLE TRIGGER USER")).await {
                enabled = Err(e);
            }
        }
    }
    let mut phases = BTreeMap::new();
    let mut mark = started;
    let mut phase = |name: &str| {
        let now = Instant::now();
        phases.insert(name.to_string(), now.duration_since(mark).as_secs_f64());
        mark = now;
    };
    phase("load");
    let rebuilt = pool.rebuild(&indexes).await;
    phase("indexes");
    // One at a time: adding a foreign key locks the tickets table against another doing so.
    let mut constrained = Ok(());
    for (table, name, def) in &foreign {
        if let Err(e) = pool.exec(&format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}")).await {
            constrained = Err(e);
        }
    }
    phase("constraints");
    written?;
    enabled?;
    rebuilt?;
    constrained?;
    pool.finish(1001 + args.tickets as i64, args.tickets as i64, &prev).await?;
    phase("analyze");
    let seconds = started.elapsed().as_secs_f64();
    let rows: u64 = tables.values().sum();
    Ok(SeedReport {
        database: crate::store::redact_url(&url),
        tickets: args.tickets,
        days: args.days,
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        tables,
        phases,
    })
}
