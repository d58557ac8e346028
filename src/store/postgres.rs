//! The PostgreSQL store, for when one machine is not enough: several deskbot processes share
//! one database. This file holds what is PostgreSQL-specific (connecting, SQLSTATE
//! mapping, claiming outbox rows with `FOR UPDATE SKIP LOCKED`); the SQL shared with SQLite is
//! stamped out by `sql.rs`. Duplicate events and conversation races are detected with
//! `ON CONFLICT DO NOTHING` and row counts, so a transaction is never poisoned by a unique
//! violation.

use super::rows::OutboxRow;
use super::sql::{error_detail, shared_sql};
use super::{OutboxItem, Result, StoreError, redact_url};
use crate::domain::{Millis, Platform};
use crate::store::group::GroupCommit;
use crate::store::key::AuditKey;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub struct PostgresStore {
    pool: PgPool,
    /// Links the audit chain; `None` only for a store opened to migrate.
    audit_key: Option<AuditKey>,
    /// Commits queue here; those that arrive together are written in one transaction.
    group: Arc<GroupCommit>,
    /// The outbox's claims and marks, planned without bitmap scans (see [`Self::connect`]).
    outbox: PgPool,
    /// The per-message read, planned once (see [`Self::connect`]).
    events: PgPool,
}

/// Indexes on tables that grow with the desk, built after the migrations with `CREATE INDEX
/// CONCURRENTLY` (which cannot run in a migration's transaction) so a live desk keeps writing
/// while they build: the reports' period reads of tickets and ratings, flagging a conversation
/// as test traffic, a person's rows and the lines they spoke in others' tickets (export,
/// erasure), and the nightly purge's old transcript lines and resolved tickets not purged yet;
/// the reports' first public agent reply and SLA breaches of each ticket; the SLA scheduler's
/// due-timer scan; the outbox claim. SQLite builds the same ones in its migrations 0014, 0015
/// and 0017 (the outbox claim needs none there, below).
pub(crate) const LIVE_INDEXES: &[(&str, &str)] = &[
    ("tickets_created_idx", "tickets (created_at)"),
    ("tickets_conversation_idx", "tickets (conversation)"),
    ("csat_created_idx", "csat (created_at)"),
    ("case_events_conversation_idx", "case_events (conversation)"),
    ("case_events_user_idx", "case_events (platform, user_id)"),
    (
        "messages_agent_reply_idx",
        "messages (ticket_number, created_at) WHERE speaker_kind = 'agent' AND internal = FALSE",
    ),
    ("ticket_events_breach_idx", "ticket_events (ticket_number) WHERE kind = 'sla_breach'"),
    ("conversations_user_idx", "conversations (platform, user_id)"),
    ("ticket_events_actor_idx", "ticket_events (actor)"),
    ("audit_log_actor_idx", "audit_log (actor)"),
    ("audit_log_subject_idx", "audit_log (subject)"),
    ("messages_created_idx", "messages (created_at)"),
    ("messages_speaker_idx", "messages (speaker_platform, speaker_id) WHERE speaker_id IS NOT NULL"),
    (
        "timers_next_idx",
        "timers ((COALESCE(retry_at, due_at)), id) WHERE fired_at IS NULL AND cancelled_at IS NULL",
    ),
    // The outbox claim, in id order over the claimable rows only (see `PostgresStore::connect`
    // for why it is read by a plain index scan). SQLite keeps no dead index entries: its claim
    // goes through `outbox_due_idx`.
    ("outbox_claim_idx", "outbox (id) WHERE status IN ('pending', 'sending')"),
    (
        "tickets_expiry_idx",
        "tickets (queue, (COALESCE(resolved_at, updated_at))) \
         WHERE status IN ('resolved', 'closed') AND requester_id <> 'purged'",
    ),
];

/// The outbox claim: the oldest claimable rows of the given platforms, each taken by one worker.
const CLAIM_SQL: &str = "UPDATE outbox SET status = 'sending', claimed_by = $1, claimed_until = $2, \
     attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox WHERE platform = ANY($3) \
       AND ((status = 'pending' AND next_attempt_at <= $4) \
         OR (status = 'sending' AND claimed_until < $4)) \
       ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED) \
     RETURNING id, key, payload, attempts";

impl PostgresStore {
    /// The plan the outbox claim runs with on the outbox's connections (`EXPLAIN`, one line a
    /// node), for diagnosing a slow claim.
    pub async fn outbox_claim_plan(&self) -> Result<String> {
        let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {CLAIM_SQL}")))
            .bind("plan")
            .bind(0_i64)
            .bind(vec![Platform::Slack.as_str().to_string()])
            .bind(0_i64)
            .bind(64_i64)
            .fetch_all(self.outbox_pool())
            .await
            .map_err(map_err)?;
        Ok(lines.join("\n"))
    }

    /// Build [`LIVE_INDEXES`] that are missing. An interrupted build leaves an invalid index
    /// behind: it is dropped and built again. A failure is logged, not fatal (the index only
    /// makes reads faster; the next start tries again).
    pub(crate) async fn build_live_indexes(&self) -> Result<()> {
        for (name, on) in LIVE_INDEXES {
            let invalid: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE c.relname = $1 AND NOT i.indisvalid)",
            )
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
            for stmt in [
                invalid.then(|| format!("DROP INDEX CONCURRENTLY IF EXISTS {name}")),
                Some(format!("CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {on}")),
            ]
            .into_iter()
            .flatten()
            {
                let started = std::time::Instant::now();
                if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(stmt)).execute(&self.pool).await {
                    tracing::warn!(index = name, error = %e, "could not build an index; the next start tries again");
                    break;
                }
                if started.elapsed() > std::time::Duration::from_secs(1) {
                    tracing::info!(index = name, seconds = started.elapsed().as_secs_f64(), "index built");
                }
            }
        }
        Ok(())
    }

    /// Connect to the database a `postgres://…` URL names, with the audit key that links its
    /// audit chain. Does not migrate: call [`Store::migrate`](super::Store::migrate).
    pub async fn open(url: &str, key: AuditKey) -> Result<Self> {
        Self::connect(url, Some(key)).await
    }

    /// Connect without the audit key: enough to migrate, never to write the audit log.
    pub(crate) async fn open_unkeyed(url: &str) -> Result<Self> {
        Self::connect(url, None).await
    }

    async fn connect(url: &str, audit_key: Option<AuditKey>) -> Result<Self> {
        let cannot_open = |e: sqlx::Error| {
            StoreError::Connect(format!("{}: {}", redact_url(url), error_detail(&map_err(e))))
        };
        let options = PgConnectOptions::from_str(url).map_err(cannot_open)?;
        // Connect once directly: a pool retries an unreachable server until its acquire timeout
        // and then reports only that it timed out.
        let probe = PgConnection::connect_with(&options).await.map_err(cannot_open)?;
        let _ = probe.close().await;
        let pool = super::pool::checked_when_idle(PgPoolOptions::new())
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(cannot_open)?;
        // Commits on connections of their own, planned once: every statement they run finds its
        // rows by key, so a generic plan is as good as a custom one, and PostgreSQL would
        // otherwise plan each new statement shape afresh for its first five runs.
        let writer = super::pool::checked_when_idle(PgPoolOptions::new())
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone().options([("plan_cache_mode", "force_generic_plan")]))
            .await
            .map_err(cannot_open)?;
        let group = GroupCommit::new(Arc::new(shared::Writer {
            pool: writer,
            begin: "BEGIN",
            key: audit_key.clone(),
        }));
        // The read every message starts with (its conversation and the requester's latest
        // tickets, each found by an index on its key) on connections of its own, planned once
        // like the commits. On the shared connections, whose report queries want plans for
        // their own date ranges, it was planned afresh on every run: about 80 µs of the
        // server's time a message, as much as running it.
        let events = super::pool::checked_when_idle(PgPoolOptions::new())
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone().options([("plan_cache_mode", "force_generic_plan")]))
            .await
            .map_err(cannot_open)?;
        // The outbox claim takes the oldest claimable rows in id order. Each row's status
        // changes twice on its way to `done`, and each change leaves an index entry behind
        // until vacuum. A bitmap scan visits every one of them on every claim (about 3 ms a claim
        // after ten seconds of load, growing until autovacuum comes by); a plain index scan
        // marks the dead entries it meets, and later claims skip them. The planner prefers the
        // bitmap scan whenever its statistics are stale, so these connections never use one.
        let outbox = super::pool::checked_when_idle(PgPoolOptions::new())
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.options([("enable_bitmapscan", "off")]))
            .await
            .map_err(cannot_open)?;
        Ok(Self { pool, audit_key, group, outbox, events })
    }

    /// Where the outbox's claims and marks go.
    fn outbox_pool(&self) -> &PgPool {
        &self.outbox
    }

    /// The per-message read is a round trip to the server either way: always on the pool.
    fn inline_load_for_event(
        &self,
        _key: &str,
        _requester: &crate::domain::UserRef,
        _limit: i64,
    ) -> Option<Result<(Option<super::StoredConversation>, Vec<super::Ticket>)>> {
        None
    }

    /// Where the per-message read goes.
    fn event_pool(&self) -> &PgPool {
        &self.events
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_err)
    }

    /// After an erasure or a purge: VACUUM the catalogued tables, so the old row versions are
    /// no longer visible to anything and their space is reused. (Only `VACUUM FULL`, which
    /// locks the tables, rewrites the files; see the README.)
    async fn wipe_freed(&self) -> Result<()> {
        let tables: Vec<&str> = super::catalogue::CATALOGUE.iter().map(|t| t.name).collect();
        let sql = format!("VACUUM {}", tables.join(", "));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    /// Claim due rows, skipping rows another worker is claiming right now.
    async fn claim(
        &self,
        platforms: &[Platform],
        worker: &str,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        let platforms: Vec<String> = platforms.iter().map(|p| p.as_str().to_string()).collect();
        let rows: Vec<OutboxRow> = sqlx::query_as(CLAIM_SQL)
            .bind(worker)
            .bind(now.saturating_add(lease_ms))
            .bind(platforms)
            .bind(now)
            .bind(limit)
            .fetch_all(self.outbox_pool())
            .await
            .map_err(map_err)?;
        shared::finish_claim(self.outbox_pool(), rows).await
    }
}

crate::store::desk_sql::desk_sql! { db: Postgres, store: PostgresStore, map_err: map_err }
crate::store::reports::reports_sql! { db: Postgres, store: PostgresStore, map_err: map_err, lock_day: Some("SELECT pg_advisory_xact_lock(1919251317, CAST($1 AS INTEGER))") }

crate::store::compliance_sql::compliance_sql! {
    db: Postgres,
    store: PostgresStore,
    map_err: map_err,
    lock: " FOR UPDATE",
    cte: true,
}

crate::store::requests_sql::requests_sql! { db: Postgres, store: PostgresStore, map_err: map_err }

crate::store::person_sql::person_sql! {
    db: Postgres,
    store: PostgresStore,
    map_err: map_err,
    contains: crate::store::person::Contains::Like,
}

shared_sql! {
    db: Postgres,
    store: PostgresStore,
    map_err: map_err,
    migrations: "./migrations/postgres",
    next_ticket_sql: "nextval('ticket_seq')",
    bump_ticket_sql: None,
    lock_row_sql: " FOR UPDATE",
    tail_in_cte: true,
}

/// Map a sqlx error on PostgreSQL to what the caller can act on, by SQLSTATE.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let msg = db.message();
            match code.as_str() {
                // serialization failure, deadlock, lock not available, too many connections
                "40001" | "40P01" | "55P03" | "53300" => StoreError::Busy,
                "53100" => StoreError::Unwritable(format!("the database server's disk is full ({msg})")),
                "25006" => StoreError::Unwritable(format!("the database is read-only ({msg})")),
                "3D000" => StoreError::Connect(format!("the database does not exist ({msg})")),
                c if c.starts_with("08") || c.starts_with("28") || c.starts_with("57P") => {
                    StoreError::Connect(msg.to_string())
                }
                _ => StoreError::Database(e.to_string()),
            }
        }
        sqlx::Error::PoolTimedOut => StoreError::Busy,
        sqlx::Error::Io(io) => StoreError::Connect(format!("cannot reach the database server: {io}")),
        sqlx::Error::Tls(tls) => StoreError::Connect(format!("TLS: {tls}")),
        sqlx::Error::PoolClosed => StoreError::Connect("the store has been closed".into()),
        sqlx::Error::Configuration(c) => StoreError::Connect(format!("bad database URL: {c}")),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

#[async_trait::async_trait]
impl super::sessions::PortalStore for PostgresStore {
    async fn create_portal_link(
        &self,
        token_hash: &str,
        user: &crate::domain::UserRef,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let q = sqlx::query(super::sessions::LINK_CREATE)
            .bind(token_hash)
            .bind(user.platform.as_str())
            .bind(&user.id)
            .bind(now)
            .bind(expires_at);
        q.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn use_portal_link(&self, token_hash: &str, now: Millis) -> Result<Option<crate::domain::UserRef>> {
        let row: Option<(String, String)> = sqlx::query_as(super::sessions::LINK_USE)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|(p, u)| super::sessions::portal_user(&p, &u)).transpose()
    }

    async fn create_portal_session(
        &self,
        id_hash: &str,
        csrf_token: &str,
        user: &crate::domain::UserRef,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let q = sqlx::query(super::sessions::PORTAL_CREATE)
            .bind(id_hash)
            .bind(csrf_token)
            .bind(user.platform.as_str())
            .bind(&user.id)
            .bind(now)
            .bind(expires_at);
        q.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn portal_session(
        &self,
        id_hash: &str,
        now: Millis,
        idle_ms: i64,
    ) -> Result<Option<super::sessions::PortalSession>> {
        let row: Option<(String, String, String)> = sqlx::query_as(super::sessions::PORTAL_FIND)
            .bind(id_hash)
            .bind(now)
            .bind(idle_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|(csrf, p, u)| {
            Ok(super::sessions::PortalSession { user: super::sessions::portal_user(&p, &u)?, csrf })
        })
        .transpose()
    }

    async fn delete_portal_session(&self, id_hash: &str) -> Result<bool> {
        let done = sqlx::query(super::sessions::PORTAL_DELETE)
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_portal(&self, now: Millis, idle_ms: i64) -> Result<u64> {
        let s = sqlx::query(super::sessions::PORTAL_PURGE_SESSIONS)
            .bind(now)
            .bind(idle_ms)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let l = sqlx::query(super::sessions::PORTAL_PURGE_LINKS)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let o = sqlx::query(super::sessions::OIDC_PURGE_LOGINS)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let c =
            sqlx::query(super::sessions::CLAIM_PURGE).bind(now).execute(&self.pool).await.map_err(map_err)?;
        Ok(s.rows_affected() + l.rows_affected() + o.rows_affected() + c.rows_affected())
    }

    async fn create_oidc_login(
        &self,
        state_hash: &str,
        login: &super::sessions::OidcLogin,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let out = sqlx::query(super::sessions::OIDC_LOGIN_CREATE)
            .bind(state_hash)
            .bind(&login.browser_hash)
            .bind(&login.nonce)
            .bind(&login.pkce_verifier)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let _ = out;
        Ok(())
    }

    async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: Millis,
    ) -> Result<Option<super::sessions::OidcLogin>> {
        let out = sqlx::query_as::<_, (String, String, String, i64)>(super::sessions::OIDC_LOGIN_TAKE)
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(out.filter(|r| r.3 > now).map(|(browser_hash, nonce, pkce_verifier, _)| {
            super::sessions::OidcLogin { browser_hash, nonce, pkce_verifier }
        }))
    }

    async fn portal_identity(&self, issuer: &str, subject: &str) -> Result<Option<crate::domain::UserRef>> {
        let row: Option<(String, String)> = sqlx::query_as(super::sessions::IDENTITY_FIND)
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|(p, u)| super::sessions::portal_user(&p, &u)).transpose()
    }

    async fn link_portal_identity(
        &self,
        who: &super::sessions::ProviderIdentity,
        user: &crate::domain::UserRef,
        now: Millis,
    ) -> Result<()> {
        let out = sqlx::query(super::sessions::IDENTITY_LINK)
            .bind(&who.issuer)
            .bind(&who.subject)
            .bind(&who.email)
            .bind(user.platform.as_str())
            .bind(&user.id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let _ = out;
        Ok(())
    }

    async fn create_identity_claim(
        &self,
        token_hash: &str,
        who: &super::sessions::ProviderIdentity,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let out = sqlx::query(super::sessions::CLAIM_CREATE)
            .bind(token_hash)
            .bind(&who.issuer)
            .bind(&who.subject)
            .bind(&who.email)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let _ = out;
        Ok(())
    }

    async fn take_identity_claim(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<super::sessions::ProviderIdentity>> {
        let out = sqlx::query_as::<_, (String, String, String, i64)>(super::sessions::CLAIM_TAKE)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(out.filter(|r| r.3 > now).map(|(issuer, subject, email, _)| super::sessions::ProviderIdentity {
            issuer,
            subject,
            email,
        }))
    }
}

#[async_trait::async_trait]
impl super::sessions::SessionStore for PostgresStore {
    async fn create_report_session(
        &self,
        id_hash: &str,
        csrf: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let q = sqlx::query(super::sessions::CREATE).bind(id_hash).bind(csrf).bind(now).bind(expires_at);
        q.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn report_session(&self, id_hash: &str, now: Millis) -> Result<Option<String>> {
        let q = sqlx::query_scalar(super::sessions::FIND).bind(id_hash).bind(now);
        q.fetch_optional(&self.pool).await.map_err(map_err)
    }

    async fn delete_report_session(&self, id_hash: &str) -> Result<bool> {
        let done =
            sqlx::query(super::sessions::DELETE).bind(id_hash).execute(&self.pool).await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_report_sessions(&self, now: Millis) -> Result<u64> {
        let done =
            sqlx::query(super::sessions::PURGE).bind(now).execute(&self.pool).await.map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
