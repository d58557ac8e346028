//! The SQLite store, the default backend: one file, WAL journal, a small connection pool.
//! This file holds what is SQLite-specific (opening, pragmas, error codes, claiming outbox
//! rows); the SQL shared with PostgreSQL is stamped out by `sql.rs`. Every write runs in a
//! `BEGIN IMMEDIATE` transaction, so concurrent writers queue on the busy timeout instead of
//! failing when a read lock cannot be upgraded.

use super::rows::OutboxRow;
use super::sql::{error_detail, shared_sql};
use super::{OutboxItem, Result, StoreError};
use crate::domain::{Millis, Platform};
use crate::store::group::GroupCommit;
use crate::store::key::AuditKey;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a statement waits for another writer before reporting [`StoreError::Busy`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of the database file is read through a memory map (16 GiB of address space; only
/// the pages read take memory, and the kernel may drop them). SQLite's own build caps this at
/// 2 GB; `.cargo/config.toml` raises the cap.
pub(crate) const MMAP_SIZE: &str = "17179869184";

pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for every write transaction of this process: writers queue on it in
    /// FIFO order instead of polling SQLite's busy handler (which sleeps 1–100 ms per retry
    /// and made tail latency under load). Other processes still meet the busy timeout.
    writer: SqlitePool,
    /// Links the audit chain; `None` only for a store opened to migrate.
    audit_key: Option<AuditKey>,
    /// Commits queue here and are written on `writer`, together when they arrive together.
    group: Arc<GroupCommit>,
    /// The per-message read, made on the calling thread; `None` for an in-memory database.
    inline: Option<InlineReads>,
}

/// The per-message read (a conversation and its requester's latest tickets, a few index
/// lookups in pages the memory map already holds) made on the calling thread, through
/// connections of its own, instead of being handed to a connection's thread and back as every
/// statement through sqlx is. On a virtual machine that hand-off, two thread wake-ups, cost
/// more than the read itself: about 0.2 ms of a message's 1.1 ms (see the README's
/// "Measuring").
///
/// The connections only read (`query_only`), see the file through the same memory map, and do
/// not wait for a lock (no busy timeout): whenever one cannot read at once (a checkpoint that
/// truncates the log, a schema change) or fails at all, the read is made through the pool as
/// before, so this never blocks the caller's thread on another process.
struct InlineReads {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
    /// A read is being made on some caller's thread.
    busy: std::sync::atomic::AtomicBool,
}

/// Idle inline-read connections kept (one per thread that reads at once, at most).
const INLINE_KEPT: usize = 8;

impl InlineReads {
    fn new(path: &std::path::Path) -> Self {
        Self {
            path: path.to_path_buf(),
            idle: std::sync::Mutex::new(Vec::new()),
            busy: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(Duration::ZERO)?;
        conn.execute_batch(&format!("PRAGMA query_only = ON; PRAGMA mmap_size = {MMAP_SIZE};"))?;
        Ok(conn)
    }

    /// The conversation keyed `key` and `requester`'s newest `limit` tickets, as the pool's
    /// read returns them; `None` when this read could not be made here (the caller reads
    /// through the pool).
    fn load_for_event(
        &self,
        sql: &str,
        key: &str,
        requester: &crate::domain::UserRef,
        limit: i64,
    ) -> Option<Result<(Option<super::StoredConversation>, Vec<super::Ticket>)>> {
        use std::sync::atomic::Ordering;
        // One read at a time on a caller's thread: while one is made, others go to the pool's
        // threads and proceed in parallel instead of holding more of the runtime's threads.
        if self.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return None;
        }
        let read = self.load_now(sql, key, requester, limit);
        self.busy.store(false, Ordering::Release);
        read
    }

    fn load_now(
        &self,
        sql: &str,
        key: &str,
        requester: &crate::domain::UserRef,
        limit: i64,
    ) -> Option<Result<(Option<super::StoredConversation>, Vec<super::Ticket>)>> {
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match taken.map_or_else(|| self.open(), Ok) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "cannot open a connection for inline reads; reading through the pool");
                return None;
            }
        };
        let read = Self::read(&conn, sql, key, requester, limit);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < INLINE_KEPT {
            idle.push(conn);
        }
        drop(idle);
        match read {
            Ok((conversation, tickets)) => Some(
                conversation.map(super::rows::ConversationRow::into_conversation).transpose().and_then(|c| {
                    let tickets = tickets
                        .into_iter()
                        .map(super::rows::TicketRow::into_ticket)
                        .collect::<Result<Vec<_>>>()?;
                    Ok((c, tickets))
                }),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "inline read failed; reading through the pool");
                None
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn read(
        conn: &rusqlite::Connection,
        sql: &str,
        key: &str,
        requester: &crate::domain::UserRef,
        limit: i64,
    ) -> rusqlite::Result<(Option<super::rows::ConversationRow>, Vec<super::rows::TicketRow>)> {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows =
            stmt.query(rusqlite::params![key, requester.platform.as_str(), requester.id, limit])?;
        let mut conversation = None;
        let mut tickets = Vec::new();
        while let Some(row) = rows.next()? {
            let kind: String = row.get(0)?;
            if kind == "c" {
                conversation = Some(super::rows::ConversationRow::from_rusqlite(row, 1)?);
            } else {
                tickets.push(super::rows::TicketRow::from_rusqlite(row, 8)?);
            }
        }
        tickets.sort_by_key(|t| std::cmp::Reverse(t.number()));
        Ok((conversation, tickets))
    }
}

impl SqliteStore {
    /// SQLite builds every index in its migrations (one writer; nothing to build concurrently).
    pub(crate) async fn build_live_indexes(&self) -> Result<()> {
        Ok(())
    }

    /// Open (creating if missing) the database a `sqlite:PATH` URL names, with the audit key
    /// that links its audit chain. Does not migrate: call [`Store::migrate`](super::Store::migrate).
    pub async fn open(url: &str, key: AuditKey) -> Result<Self> {
        Self::open_with(url, DEFAULT_BUSY_TIMEOUT, key).await
    }

    /// [`SqliteStore::open`] with a chosen busy timeout.
    pub async fn open_with(url: &str, busy_timeout: Duration, key: AuditKey) -> Result<Self> {
        Self::connect(url, busy_timeout, Some(key)).await
    }

    /// Open without the audit key: enough to migrate, never to write the audit log.
    pub(crate) async fn open_unkeyed(url: &str) -> Result<Self> {
        Self::connect(url, DEFAULT_BUSY_TIMEOUT, None).await
    }

    async fn connect(url: &str, busy_timeout: Duration, audit_key: Option<AuditKey>) -> Result<Self> {
        let cannot_open = |e: sqlx::Error| match map_err(e) {
            StoreError::Busy => StoreError::Busy,
            other => StoreError::Connect(format!("{url}: {}", error_detail(&other))),
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(cannot_open)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Deleted and overwritten rows are zeroed on disk, so purged or erased personal
            // data does not linger in free pages.
            .pragma("secure_delete", "ON")
            // Move the write-ahead log into the file every 10,000 pages (40 MB) rather than
            // SQLite's 1,000: under load the default checkpointed dozens of times a second, on
            // the writer's path, and a page rewritten often is copied once per checkpoint.
            .pragma("wal_autocheckpoint", "10000")
            // Temporary tables (the group commit's bookkeeping) stay in memory, never in a file.
            .pragma("temp_store", "MEMORY")
            // Read the database file through a memory map: a page is read straight from the
            // kernel's cache, shared by every connection, instead of being copied into each
            // connection's own 2 MB page cache first (eight readers, so a query seldom finds
            // its pages warm). Halves the reports at size. Writes still go through the log.
            .pragma("mmap_size", MMAP_SIZE)
            .busy_timeout(busy_timeout);
        let mut pool = super::pool::checked_when_idle(SqlitePoolOptions::new()).max_connections(8);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_private(options.get_filename())
                .map_err(|e| StoreError::Connect(format!("{url}: cannot create the database file: {e}")))?;
        }
        if in_memory {
            // An in-memory database lives only as long as some connection to it.
            pool = pool.min_connections(1).idle_timeout(None).max_lifetime(None);
        }
        let pool = pool.connect_with(options.clone()).await.map_err(cannot_open)?;
        let inline = (!in_memory).then(|| InlineReads::new(options.get_filename()));
        let writer = if in_memory {
            pool.clone()
        } else {
            super::pool::checked_when_idle(SqlitePoolOptions::new())
                .max_connections(1)
                .acquire_timeout(busy_timeout.max(Duration::from_secs(1)) * 6)
                // The commits' connection reads little and would remap at every growth of
                // the file, on the commits' path: it reads by copying.
                .connect_with(options.pragma("mmap_size", "0"))
                .await
                .map_err(cannot_open)?
        };
        let group = GroupCommit::new(Arc::new(shared::Writer {
            pool: writer.clone(),
            begin: "BEGIN IMMEDIATE",
            key: audit_key.clone(),
        }));
        Ok(Self { pool, writer, audit_key, group, inline })
    }

    /// Where the outbox's claims and marks go: the commits' connection (each is one writing
    /// statement).
    fn outbox_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// The per-message read on the calling thread ([`InlineReads`]).
    fn inline_load_for_event(
        &self,
        key: &str,
        requester: &crate::domain::UserRef,
        limit: i64,
    ) -> Option<Result<(Option<super::StoredConversation>, Vec<super::Ticket>)>> {
        self.inline.as_ref()?.load_for_event(shared::LOAD_FOR_EVENT, key, requester, limit)
    }

    /// Where the per-message read goes: the reading connections.
    fn event_pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
    }

    /// After an erasure or a purge: leave no copy of the old rows on disk. `secure_delete`
    /// zeroes freed content inside the file already; the checkpoint moves the WAL's page
    /// images into the file and truncates the WAL, and VACUUM rebuilds the file without free
    /// pages. Fails (and the caller warns) when another process holds a read open.
    async fn wipe_freed(&self) -> Result<()> {
        let mut conn = self.writer.acquire().await.map_err(map_err)?;
        let checkpoint = "PRAGMA wal_checkpoint(TRUNCATE)";
        sqlx::query(checkpoint).execute(&mut *conn).await.map_err(map_err)?;
        sqlx::query("VACUUM").execute(&mut *conn).await.map_err(map_err)?;
        let (busy, _, _): (i64, i64, i64) =
            sqlx::query_as(checkpoint).fetch_one(&mut *conn).await.map_err(map_err)?;
        if busy != 0 {
            return Err(StoreError::Busy);
        }
        Ok(())
    }

    /// Claim due rows in one `UPDATE … RETURNING` under the write lock.
    async fn claim(
        &self,
        platforms: &[Platform],
        worker: &str,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        let mut qb = QueryBuilder::<Sqlite>::new("UPDATE outbox SET status = 'sending', claimed_by = ");
        qb.push_bind(worker.to_string());
        qb.push(", claimed_until = ").push_bind(now.saturating_add(lease_ms));
        qb.push(", attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE platform IN (");
        let mut list = qb.separated(", ");
        for p in platforms {
            list.push_bind(p.as_str().to_string());
        }
        qb.push(") AND ((status = 'pending' AND next_attempt_at <= ").push_bind(now);
        qb.push(") OR (status = 'sending' AND claimed_until < ").push_bind(now);
        qb.push(")) ORDER BY id LIMIT ").push_bind(limit);
        qb.push(") RETURNING id, key, payload, attempts");

        // One statement, so no transaction around it: a writing statement takes the write lock
        // as it starts, as `BEGIN IMMEDIATE` would.
        let rows: Vec<OutboxRow> =
            qb.build_query_as().fetch_all(self.outbox_pool()).await.map_err(map_err)?;
        shared::finish_claim(self.outbox_pool(), rows).await
    }
}

crate::store::desk_sql::desk_sql! { db: Sqlite, store: SqliteStore, map_err: map_err }
crate::store::reports::reports_sql! { db: Sqlite, store: SqliteStore, map_err: map_err, lock_day: None }

crate::store::compliance_sql::compliance_sql! {
    db: Sqlite,
    store: SqliteStore,
    map_err: map_err,
    lock: "",
    cte: false,
}

crate::store::requests_sql::requests_sql! { db: Sqlite, store: SqliteStore, map_err: map_err }

crate::store::person_sql::person_sql! {
    db: Sqlite,
    store: SqliteStore,
    map_err: map_err,
    contains: crate::store::person::Contains::Glob,
}

shared_sql! {
    db: Sqlite,
    store: SqliteStore,
    map_err: map_err,
    migrations: "./migrations/sqlite",
    next_ticket_sql: "(SELECT next FROM ticket_seq WHERE id = 1)",
    bump_ticket_sql: Some("UPDATE ticket_seq SET next = next + 1 WHERE id = 1"),
    lock_row_sql: "",
    tail_in_cte: false,
}

/// Create the database file readable by its owner only (0600) if it does not exist yet;
/// SQLite gives its `-wal` and `-shm` files the same mode. An existing file is left alone.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A missing directory is reported by SQLite itself, with a hint.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Map a sqlx error on SQLite to what the caller can act on, by the SQLite primary result code
/// (the low byte of the extended code sqlx reports).
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
            let msg = db.message();
            match code & 0xff {
                5 | 6 => StoreError::Busy,
                8 => StoreError::Unwritable(format!("the database file is read-only ({msg})")),
                10 => StoreError::Unwritable(format!("disk I/O error ({msg})")),
                13 => StoreError::Unwritable(format!("the disk is full ({msg})")),
                14 => StoreError::Connect(format!(
                    "{msg} (does the directory exist, and may deskbot create files in it?)"
                )),
                11 | 26 => StoreError::Corrupt(format!("the file is damaged or not a database ({msg})")),
                _ => StoreError::Database(e.to_string()),
            }
        }
        sqlx::Error::PoolTimedOut => StoreError::Busy,
        sqlx::Error::Io(io) => StoreError::Connect(io.to_string()),
        sqlx::Error::PoolClosed => StoreError::Connect("the store has been closed".into()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

#[async_trait::async_trait]
impl super::sessions::PortalStore for SqliteStore {
    async fn create_portal_link(
        &self,
        token_hash: &str,
        user: &crate::domain::UserRef,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let q = sqlx::query(super::sessions::LINK_CREATE)
            .bind(token_hash)
            .bind(user.platform.as_str())
            .bind(&user.id)
            .bind(now)
            .bind(expires_at);
        q.execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn use_portal_link(&self, token_hash: &str, now: Millis) -> Result<Option<crate::domain::UserRef>> {
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String)> = sqlx::query_as(super::sessions::LINK_USE)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
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
        let mut tx = self.begin_write().await?;
        let q = sqlx::query(super::sessions::PORTAL_CREATE)
            .bind(id_hash)
            .bind(csrf_token)
            .bind(user.platform.as_str())
            .bind(&user.id)
            .bind(now)
            .bind(expires_at);
        q.execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn portal_session(
        &self,
        id_hash: &str,
        now: Millis,
        idle_ms: i64,
    ) -> Result<Option<super::sessions::PortalSession>> {
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String, String)> = sqlx::query_as(super::sessions::PORTAL_FIND)
            .bind(id_hash)
            .bind(now)
            .bind(idle_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        row.map(|(csrf, p, u)| {
            Ok(super::sessions::PortalSession { user: super::sessions::portal_user(&p, &u)?, csrf })
        })
        .transpose()
    }

    async fn delete_portal_session(&self, id_hash: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(super::sessions::PORTAL_DELETE)
            .bind(id_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_portal(&self, now: Millis, idle_ms: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let s = sqlx::query(super::sessions::PORTAL_PURGE_SESSIONS)
            .bind(now)
            .bind(idle_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let l = sqlx::query(super::sessions::PORTAL_PURGE_LINKS)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let o = sqlx::query(super::sessions::OIDC_PURGE_LOGINS)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let c =
            sqlx::query(super::sessions::CLAIM_PURGE).bind(now).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(s.rows_affected() + l.rows_affected() + o.rows_affected() + c.rows_affected())
    }

    async fn create_oidc_login(
        &self,
        state_hash: &str,
        login: &super::sessions::OidcLogin,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let out = sqlx::query(super::sessions::OIDC_LOGIN_CREATE)
            .bind(state_hash)
            .bind(&login.browser_hash)
            .bind(&login.nonce)
            .bind(&login.pkce_verifier)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        let _ = out;
        Ok(())
    }

    async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: Millis,
    ) -> Result<Option<super::sessions::OidcLogin>> {
        let mut tx = self.begin_write().await?;
        let out = sqlx::query_as::<_, (String, String, String, i64)>(super::sessions::OIDC_LOGIN_TAKE)
            .bind(state_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
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
        let mut tx = self.begin_write().await?;
        let out = sqlx::query(super::sessions::IDENTITY_LINK)
            .bind(&who.issuer)
            .bind(&who.subject)
            .bind(&who.email)
            .bind(user.platform.as_str())
            .bind(&user.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
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
        let mut tx = self.begin_write().await?;
        let out = sqlx::query(super::sessions::CLAIM_CREATE)
            .bind(token_hash)
            .bind(&who.issuer)
            .bind(&who.subject)
            .bind(&who.email)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        let _ = out;
        Ok(())
    }

    async fn take_identity_claim(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<super::sessions::ProviderIdentity>> {
        let mut tx = self.begin_write().await?;
        let out = sqlx::query_as::<_, (String, String, String, i64)>(super::sessions::CLAIM_TAKE)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(out.filter(|r| r.3 > now).map(|(issuer, subject, email, _)| super::sessions::ProviderIdentity {
            issuer,
            subject,
            email,
        }))
    }
}

#[async_trait::async_trait]
impl super::sessions::SessionStore for SqliteStore {
    async fn create_report_session(
        &self,
        id_hash: &str,
        csrf: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let q = sqlx::query(super::sessions::CREATE).bind(id_hash).bind(csrf).bind(now).bind(expires_at);
        q.execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn report_session(&self, id_hash: &str, now: Millis) -> Result<Option<String>> {
        let q = sqlx::query_scalar(super::sessions::FIND).bind(id_hash).bind(now);
        q.fetch_optional(&self.pool).await.map_err(map_err)
    }

    async fn delete_report_session(&self, id_hash: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query(super::sessions::DELETE).bind(id_hash).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_report_sessions(&self, now: Millis) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(super::sessions::PURGE).bind(now).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reading connection maps the database as far as asked: SQLite silently clamps the
    /// setting to its build's cap (2 GB unless `.cargo/config.toml` raised it), which would
    /// leave the newest rows of a large database, at the end of its file, read by copying.
    #[tokio::test]
    async fn reading_connections_map_the_database_beyond_sqlites_default_cap() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("map.db").display());
        let key = AuditKey::from_bytes(vec![3u8; 32]).expect("key");
        let store = SqliteStore::open(&url, key).await.expect("open");
        let wanted: i64 = MMAP_SIZE.parse().expect("a number");
        assert!(wanted > 0x7fff_0000, "the map must reach past 2 GB");
        let size: i64 = sqlx::query_scalar("PRAGMA mmap_size").fetch_one(&store.pool).await.expect("pragma");
        assert_eq!(size, wanted, "the build caps memory-mapped reads below the setting");
        let size: i64 =
            sqlx::query_scalar("PRAGMA mmap_size").fetch_one(&store.writer).await.expect("pragma");
        assert_eq!(size, 0, "the commits' connection reads by copying");
    }

    /// SQLite is built with the query planner stability guarantee on (`.cargo/config.toml`):
    /// otherwise every statement with a bound `LIMIT` (the per-message read, the outbox claim)
    /// is compiled afresh each time it runs, since binding its limit again marks it stale.
    #[tokio::test]
    async fn sqlite_is_built_to_keep_a_prepared_statement_across_bound_values() {
        let store = SqliteStore::open("sqlite::memory:", AuditKey::from_bytes(vec![3u8; 32]).expect("key"))
            .await
            .expect("open");
        let options: Vec<String> =
            sqlx::query_scalar("PRAGMA compile_options").fetch_all(&store.pool).await.expect("pragma");
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "built without ENABLE_QPSG: {options:?}");
        assert!(options.iter().any(|o| o == "MAX_MMAP_SIZE=68719476736"), "{options:?}");
    }

    async fn migrated_file_store(dir: &std::path::Path) -> SqliteStore {
        let url = format!("sqlite:{}", dir.join("inline.db").display());
        let store =
            SqliteStore::open(&url, AuditKey::from_bytes(vec![3u8; 32]).expect("key")).await.expect("open");
        crate::store::Store::migrate(&store).await.expect("migrate");
        sqlx::query(
            "INSERT INTO conversations (key, platform, user_id, reply_to, state, version, created_at, updated_at) \
             VALUES ('c1', 'slack', 'U1', '{\"platform\":\"slack\",\"channel\":\"D1\"}', '{\"step\":\"idle\"}', 4, 1, 2)",
        )
        .execute(&store.writer)
        .await
        .expect("insert");
        store
    }

    /// The per-message read is made on the calling thread and returns what the pool's read
    /// returns.
    #[tokio::test]
    async fn the_per_message_read_is_made_on_the_calling_thread_and_reads_the_same() {
        use crate::store::Store;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = migrated_file_store(dir.path()).await;
        let me = crate::domain::UserRef::new(Platform::Slack, "U1");
        let inline =
            store.inline_load_for_event("c1", &me, 20).expect("read on the calling thread").expect("read");
        let conversation = inline.0.as_ref().expect("the conversation");
        assert_eq!((conversation.key.as_str(), conversation.version), ("c1", 4));
        assert!(inline.1.is_empty());
        let rows = sqlx::query(shared::LOAD_FOR_EVENT)
            .bind("c1")
            .bind("slack")
            .bind("U1")
            .bind(20_i64)
            .fetch_all(&store.pool)
            .await
            .expect("pool read");
        let pooled = shared::event_rows(rows).expect("rows");
        assert_eq!(inline, pooled);
        assert_eq!(store.load_for_event("c9", &me, 20).await.expect("read").0, None);
    }

    /// A read that cannot be made on the calling thread (here: the file cannot be opened) is
    /// left to the pool, not failed.
    #[tokio::test]
    async fn a_read_that_cannot_be_made_inline_is_left_to_the_pool() {
        let dir = tempfile::tempdir().expect("temp dir");
        let me = crate::domain::UserRef::new(Platform::Slack, "U1");
        let nowhere = InlineReads::new(&dir.path().join("missing").join("x.db"));
        assert!(nowhere.load_for_event(shared::LOAD_FOR_EVENT, "c1", &me, 20).is_none());
    }
}
