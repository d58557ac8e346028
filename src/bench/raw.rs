//! The yardstick the pipeline is compared with: how many single-row INSERT transactions per
//! second the same database takes, through sqlx with the store's own connection settings
//! (SQLite: WAL, `synchronous = NORMAL`, `BEGIN IMMEDIATE`; PostgreSQL: a pool of 8), from the
//! same number of concurrent tasks. The scratch table is dropped afterwards.

use crate::store::StoreError;
use crate::store::sqlite::DEFAULT_BUSY_TIMEOUT;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const INSERT: &str = "INSERT INTO deskbot_bench_raw (payload, at) VALUES ($1, $2)";

enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// Insert transactions per second over `length`, from `tasks` concurrent tasks.
pub async fn insert_rate(url: &str, tasks: usize, length: Duration) -> Result<f64, StoreError> {
    let pool = if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(db_err)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(DEFAULT_BUSY_TIMEOUT);
        Pool::Sqlite(SqlitePoolOptions::new().max_connections(8).connect_with(opts).await.map_err(db_err)?)
    } else {
        Pool::Pg(PgPoolOptions::new().max_connections(8).connect(url).await.map_err(db_err)?)
    };
    let create = match &pool {
        Pool::Sqlite(_) => {
            "CREATE TABLE IF NOT EXISTS deskbot_bench_raw \
             (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL, at INTEGER NOT NULL)"
        }
        Pool::Pg(_) => {
            "CREATE TABLE IF NOT EXISTS deskbot_bench_raw \
             (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, at BIGINT NOT NULL)"
        }
    };
    exec(&pool, create).await?;
    let pool = Arc::new(pool);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + length;
    let mut handles = Vec::new();
    for t in 0..tasks.max(1) {
        let (pool, done) = (pool.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut i = 0i64;
            while Instant::now() < until {
                i += 1;
                let payload = format!("task {t} row {i}: a line about the size of a chat message");
                one_insert(&pool, &payload, i).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), StoreError>(())
        }));
    }
    for h in handles {
        h.await.map_err(|e| StoreError::Database(format!("raw insert task crashed: {e}")))??;
    }
    let seconds = started.elapsed().as_secs_f64();
    exec(&pool, "DROP TABLE IF EXISTS deskbot_bench_raw").await?;
    Ok(done.load(Ordering::Relaxed) as f64 / seconds.max(1e-9))
}

async fn exec(pool: &Pool, sql: &'static str) -> Result<(), StoreError> {
    match pool {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop).map_err(db_err),
        Pool::Pg(p) => sqlx::query(sql).execute(p).await.map(drop).map_err(db_err),
    }
}

/// One transaction holding one INSERT, committed.
async fn one_insert(pool: &Pool, payload: &str, at: i64) -> Result<(), StoreError> {
    let sql = INSERT;
    match pool {
        Pool::Sqlite(p) => {
            let mut tx = p.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
            sqlx::query(sql).bind(payload).bind(at).execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        }
        Pool::Pg(p) => {
            let mut tx = p.begin().await.map_err(db_err)?;
            sqlx::query(sql).bind(payload).bind(at).execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        }
    }
}
