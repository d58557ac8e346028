//! The auditor's search for canaries: each of a list of marks found in a test desk's database,
//! with where — in the raw SQLite file and its -wal, -shm and -journal (after a checkpoint), or
//! in every text and JSON column of a PostgreSQL database. Matching ignores ASCII case. Shared
//! by the erasure tests (`privacy_canary.rs`, `erase_speakers.rs`, `erase_outbox.rs`); included by
//! `#[path]`.
#![allow(dead_code)]

use sqlx::{Connection, PgConnection, SqliteConnection};
use std::path::Path;

/// The marks found in `dir`'s `deskbot.db` and its companion files, as `mark ×n in file`.
pub async fn in_sqlite_files(dir: &Path, marks: &[&str]) -> Vec<String> {
    let db = dir.join("deskbot.db");
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display())).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let mut found = Vec::new();
    for ext in ["", "-wal", "-shm", "-journal"] {
        let Ok(bytes) = std::fs::read(dir.join(format!("deskbot.db{ext}"))) else {
            continue;
        };
        for m in marks {
            let hits = bytes.windows(m.len()).filter(|w| w.eq_ignore_ascii_case(m.as_bytes())).count();
            if hits > 0 {
                found.push(format!("{m} ×{hits} in deskbot.db{ext}"));
            }
        }
    }
    found
}

/// Every text and JSON column of the database's tables: `(table, column)`.
pub async fn postgres_text_columns(conn: &mut PgConnection) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND data_type IN ('text', 'jsonb', 'json', 'character varying')",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// The marks found in any text or JSON column of any table, as `mark ×n in table.column`.
pub async fn in_postgres_columns(mut conn: PgConnection, marks: &[&str]) -> Vec<String> {
    let cols = postgres_text_columns(&mut conn).await;
    assert!(cols.len() > 50, "{cols:?}");
    let mut found = Vec::new();
    for (t, c) in cols {
        for m in marks {
            let sql = format!("SELECT COUNT(*) FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) ILIKE $1");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(format!("%{m}%"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            if n > 0 {
                found.push(format!("{m} ×{n} in {t}.{c}"));
            }
        }
    }
    conn.close().await.unwrap();
    found
}
