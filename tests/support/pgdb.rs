//! A fresh, empty PostgreSQL database per test on the server `DESKBOT_TEST_POSTGRES_URL` names,
//! dropped again by [`PgDb::drop_now`]. When the variable is unset a test FAILS, unless
//! `DESKBOT_TEST_SKIP_POSTGRES=1` says explicitly that the PostgreSQL variants are to be skipped:
//! a suite that silently tested only SQLite would look green while PostgreSQL broke.
#![allow(dead_code)]

use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct PgDb {
    /// The new database's URL.
    pub url: String,
    admin: String,
    name: String,
}

impl PgDb {
    /// Create an empty database, or `None` when PostgreSQL is skipped explicitly (see the
    /// module comment; panics when it is neither configured nor skipped).
    pub async fn create(tag: &str) -> Option<PgDb> {
        let admin = admin_url()?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("deskbot_{tag}_{}_{nanos}_{n}", std::process::id());
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at DESKBOT_TEST_POSTGRES_URL: {e}"));
        let sql = format!("CREATE DATABASE \"{name}\"");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("create test database");
        let url = with_database(&admin, &name);
        Some(PgDb { url, admin, name })
    }

    /// A connection to the test database (not the admin one).
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connect to the test database")
    }

    /// Drop the database (a failed test leaves it behind for inspection).
    pub async fn drop_now(self) {
        if let Ok(mut conn) = PgConnection::connect(&self.admin).await {
            let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
        }
    }
}

/// `DESKBOT_TEST_POSTGRES_URL`, or `None` when `DESKBOT_TEST_SKIP_POSTGRES=1`; panics otherwise.
pub fn admin_url() -> Option<String> {
    match std::env::var("DESKBOT_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("DESKBOT_TEST_SKIP_POSTGRES").is_ok_and(|v| v.trim() == "1") => {
            eprintln!("SKIPPED the PostgreSQL variant: DESKBOT_TEST_SKIP_POSTGRES=1");
            None
        }
        _ => panic!(
            "DESKBOT_TEST_POSTGRES_URL is not set: point it at a PostgreSQL server \
             (postgres://postgres@127.0.0.1:5432/postgres; `.ci/run` starts one), or set \
             DESKBOT_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL variants on purpose"
        ),
    }
}

/// The same server URL naming another database.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{db}{query}")
}
