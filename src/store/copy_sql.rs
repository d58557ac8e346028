//! The SQL behind `copy.rs`: one open transaction on either backend ([`Side`]), reading a
//! table's catalog, paging rows out in key order and inserting them in multi-row statements.
//! The statements are the same on both backends (`QueryBuilder` writes each dialect's
//! placeholders), so [`on_tx!`] stamps each method body out once per backend.

use super::copy::{Column, CopyError};
use super::json::JsonText;
use super::{StoreError, postgres, sqlite};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Postgres, QueryBuilder, Row, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Most bound parameters in one INSERT (both backends allow more).
const MAX_PARAMS: usize = 10_000;

/// How a column's values are read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    /// JSONB on PostgreSQL (TEXT on SQLite reads and writes as `Text`).
    Json,
    Int8,
    Int4,
    Bool,
}

/// One value in flight.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

/// A connection pool on either backend.
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// An open transaction on either backend.
pub(crate) enum Side {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

/// Run the same body against whichever backend's transaction `side` holds, mapping errors
/// with that backend's error mapper.
macro_rules! on_tx {
    ($side:expr, |$tx:ident, $map:ident| $body:expr) => {
        match $side {
            Side::Sqlite($tx) => {
                let $map = sqlite::map_err;
                $body
            }
            Side::Pg($tx) => {
                let $map = postgres::map_err;
                $body
            }
        }
    };
}

impl Db {
    /// Open a small pool; a SQLite file is created only when `create` is set.
    pub(crate) async fn open(url: &str, create: bool) -> Result<Db, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(sqlite::map_err)?
                .create_if_missing(create)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.map_err(|e| {
                StoreError::Connect(format!("{url}: {}", super::sql::error_detail(&sqlite::map_err(e))))
            })?;
            Ok(Db::Sqlite(pool))
        } else {
            let opts = PgConnectOptions::from_str(url).map_err(postgres::map_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .map_err(postgres::map_err)?;
            Ok(Db::Pg(pool))
        }
    }

    /// A read-only view of one consistent snapshot.
    pub(crate) async fn snapshot(&self) -> Result<Side, StoreError> {
        match self {
            Db::Sqlite(p) => Ok(Side::Sqlite(p.begin().await.map_err(sqlite::map_err)?)),
            Db::Pg(p) => {
                let mut tx = p.begin().await.map_err(postgres::map_err)?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await
                    .map_err(postgres::map_err)?;
                Ok(Side::Pg(tx))
            }
        }
    }

    /// A write transaction (SQLite takes the write lock at once).
    pub(crate) async fn begin_write(&self) -> Result<Side, StoreError> {
        match self {
            Db::Sqlite(p) => {
                Ok(Side::Sqlite(p.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite::map_err)?))
            }
            Db::Pg(p) => Ok(Side::Pg(p.begin().await.map_err(postgres::map_err)?)),
        }
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sqlite_kind(declared: &str) -> Option<Kind> {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        Some(Kind::Int8)
    } else if t.contains("BOOL") {
        Some(Kind::Bool)
    } else if t.contains("TEXT") || t.contains("CHAR") {
        Some(Kind::Text)
    } else {
        None
    }
}

fn pg_kind(data_type: &str) -> Option<Kind> {
    match data_type {
        "text" | "character varying" => Some(Kind::Text),
        "jsonb" => Some(Kind::Json),
        "bigint" => Some(Kind::Int8),
        "integer" => Some(Kind::Int4),
        "boolean" => Some(Kind::Bool),
        _ => None,
    }
}

/// A value ready to bind as a column of kind `kind`.
enum Bound {
    Text(Option<String>),
    Json(Option<JsonText>),
    Int8(Option<i64>),
    Int4(Option<i32>),
    Bool(Option<bool>),
}

fn to_bound(v: &Value, col: &Column, table: &str) -> Result<Bound, CopyError> {
    let bad = |problem: String| CopyError::Schema { table: table.into(), column: col.name.clone(), problem };
    Ok(match (v, col.write) {
        (Value::Text(s), Kind::Text) => Bound::Text(s.clone()),
        (Value::Text(s), Kind::Json) => Bound::Json(s.clone().map(JsonText)),
        (Value::Int(i), Kind::Int8) => Bound::Int8(*i),
        (Value::Int(i), Kind::Int4) => {
            Bound::Int4(i.map(i32::try_from).transpose().map_err(|e| bad(format!("{e}")))?)
        }
        (Value::Bool(b), Kind::Bool) => Bound::Bool(*b),
        (Value::Int(i), Kind::Bool) => Bound::Bool(i.map(|i| i != 0)),
        (Value::Bool(b), Kind::Int8) => Bound::Int8(b.map(i64::from)),
        (v, k) => return Err(bad(format!("cannot store {v:?} in a {k:?} column"))),
    })
}

impl Side {
    /// The tables that exist on this side.
    pub(crate) async fn tables(&mut self) -> Result<Vec<String>, StoreError> {
        match self {
            Side::Sqlite(tx) => sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut **tx)
                .await
                .map_err(sqlite::map_err),
            Side::Pg(tx) => sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut **tx)
            .await
            .map_err(postgres::map_err),
        }
    }

    /// A table's columns in order, with how to read each one.
    pub(crate) async fn columns(&mut self, table: &str) -> Result<Vec<(String, Kind)>, CopyError> {
        let (rows, sqlite): (Vec<(String, String)>, bool) = match self {
            Side::Sqlite(tx) => (
                sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(sqlite::map_err)?,
                true,
            ),
            Side::Pg(tx) => (
                sqlx::query_as(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&mut **tx)
                .await
                .map_err(postgres::map_err)?,
                false,
            ),
        };
        rows.into_iter()
            .map(|(name, ty)| {
                let kind = if sqlite { sqlite_kind(&ty) } else { pg_kind(&ty) };
                kind.map(|k| (name.clone(), k)).ok_or_else(|| CopyError::Schema {
                    table: table.into(),
                    column: name,
                    problem: format!("type `{ty}` is not supported by the copy"),
                })
            })
            .collect()
    }

    pub(crate) async fn count(&mut self, table: &str) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", quoted(table));
        on_tx!(self, |tx, map| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut **tx)
            .await
            .map_err(map))
    }

    /// Run one statement without parameters; returns the rows it affected.
    pub(crate) async fn execute(&mut self, sql: &str, _no_params: &[()]) -> Result<i64, StoreError> {
        let sql = sql.to_string();
        on_tx!(self, |tx, map| sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await
            .map(|r| r.rows_affected() as i64)
            .map_err(map))
    }

    /// One page of rows in `order`, after the key values `after` (keyset paging) or at `offset`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn read_page(
        &mut self,
        table: &str,
        columns: &[Column],
        order: &[&str],
        key: &[&str],
        after: Option<&[Value]>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Vec<Value>>, CopyError> {
        let list = |names: &mut dyn Iterator<Item = &str>| names.map(quoted).collect::<Vec<_>>().join(", ");
        let select = list(&mut columns.iter().map(|c| c.name.as_str()));
        let order_by = list(&mut order.iter().copied());
        let rows = on_tx!(self, |tx, map| {
            let mut qb = QueryBuilder::new(format!("SELECT {select} FROM {}", quoted(table)));
            if let Some(after) = after {
                qb.push(format!(" WHERE ({}) > (", list(&mut key.iter().copied())));
                let mut sep = qb.separated(", ");
                for v in after {
                    match v {
                        Value::Text(s) => sep.push_bind(s.clone()),
                        Value::Int(i) => sep.push_bind(*i),
                        Value::Bool(b) => sep.push_bind(*b),
                    };
                }
                qb.push(")");
            }
            qb.push(format!(" ORDER BY {order_by} LIMIT {limit} OFFSET {offset}"));
            let rows = qb.build().fetch_all(&mut **tx).await.map_err(map)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut values = Vec::with_capacity(columns.len());
                for (i, c) in columns.iter().enumerate() {
                    values.push(match c.read {
                        Kind::Text => Value::Text(row.try_get(i).map_err(map)?),
                        Kind::Json => {
                            Value::Text(row.try_get::<Option<JsonText>, _>(i).map_err(map)?.map(|j| j.0))
                        }
                        Kind::Int8 => Value::Int(row.try_get(i).map_err(map)?),
                        Kind::Int4 => {
                            Value::Int(row.try_get::<Option<i32>, _>(i).map_err(map)?.map(i64::from))
                        }
                        Kind::Bool => Value::Bool(row.try_get(i).map_err(map)?),
                    });
                }
                out.push(values);
            }
            out
        });
        Ok(rows)
    }

    /// Insert rows (values in `columns` order); returns the rows written.
    pub(crate) async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[Column],
        rows: &[Vec<Value>],
    ) -> Result<i64, CopyError> {
        let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
        let head = format!("INSERT INTO {} ({}) ", quoted(table), names.join(", "));
        let per_statement = (MAX_PARAMS / columns.len().max(1)).max(1);
        let mut written = 0;
        for chunk in rows.chunks(per_statement) {
            let mut bound = Vec::with_capacity(chunk.len());
            for row in chunk {
                let r: Result<Vec<Bound>, CopyError> =
                    row.iter().zip(columns).map(|(v, c)| to_bound(v, c, table)).collect();
                bound.push(r?);
            }
            written += on_tx!(self, |tx, map| {
                let mut qb = QueryBuilder::new(head.clone());
                qb.push_values(bound, |mut b, row| {
                    for v in row {
                        match v {
                            Bound::Text(x) => b.push_bind(x),
                            Bound::Json(x) => b.push_bind(x),
                            Bound::Int8(x) => b.push_bind(x),
                            Bound::Int4(x) => b.push_bind(x),
                            Bound::Bool(x) => b.push_bind(x),
                        };
                    }
                });
                qb.build().execute(&mut **tx).await.map_err(map)?.rows_affected() as i64
            });
        }
        Ok(written)
    }

    /// The number the next ticket would get on this side.
    pub(crate) async fn next_ticket(&mut self) -> Result<i64, StoreError> {
        match self {
            Side::Sqlite(tx) => sqlx::query_scalar("SELECT next FROM ticket_seq WHERE id = 1")
                .fetch_one(&mut **tx)
                .await
                .map_err(sqlite::map_err),
            Side::Pg(tx) => sqlx::query_scalar(
                "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM ticket_seq",
            )
            .fetch_one(&mut **tx)
            .await
            .map_err(postgres::map_err),
        }
    }

    pub(crate) async fn max_ticket(&mut self) -> Result<i64, StoreError> {
        on_tx!(self, |tx, map| sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) FROM tickets")
            .fetch_one(&mut **tx)
            .await
            .map_err(map))
    }

    pub(crate) async fn set_next_ticket(&mut self, next: i64) -> Result<(), StoreError> {
        match self {
            Side::Sqlite(tx) => sqlx::query("UPDATE ticket_seq SET next = $1 WHERE id = 1")
                .bind(next)
                .execute(&mut **tx)
                .await
                .map(drop)
                .map_err(sqlite::map_err),
            Side::Pg(tx) => sqlx::query("SELECT setval('ticket_seq', $1, false)")
                .bind(next)
                .execute(&mut **tx)
                .await
                .map(drop)
                .map_err(postgres::map_err),
        }
    }

    /// Move PostgreSQL's `BIGSERIAL` sequences past the copied ids (SQLite's AUTOINCREMENT
    /// follows explicit ids by itself).
    pub(crate) async fn reset_id_sequences(
        &mut self,
        tables: impl Iterator<Item = &str>,
    ) -> Result<(), StoreError> {
        let Side::Pg(tx) = self else { return Ok(()) };
        for table in tables {
            let has_id: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name = $1 AND column_name = 'id')",
            )
            .bind(table)
            .fetch_one(&mut **tx)
            .await
            .map_err(postgres::map_err)?;
            if !has_id {
                continue;
            }
            let t = quoted(table);
            let sql = format!(
                "SELECT setval(seq, COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false) \
                 FROM pg_get_serial_sequence($1, 'id') AS seq WHERE seq IS NOT NULL"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(table)
                .execute(&mut **tx)
                .await
                .map_err(postgres::map_err)?;
        }
        Ok(())
    }

    /// End a read snapshot.
    pub(crate) async fn finish(self) -> Result<(), StoreError> {
        on_tx!(self, |tx, map| tx.rollback().await.map_err(map))
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        on_tx!(self, |tx, map| tx.commit().await.map_err(map))
    }
}
