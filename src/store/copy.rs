//! Copying a whole deskbot database into another one (`deskbot migrate --from … --to …`), in
//! any direction between SQLite and PostgreSQL. Both sides are migrated to the current schema
//! first; then every table is read from one snapshot of the source, page by page in key order,
//! and written into the target inside ONE transaction, which also moves the ticket numbering
//! and PostgreSQL's id sequences past the copied rows and checks every table's row count before
//! it commits. A target that already holds data is refused unless `force` is set, in which case
//! its rows are deleted in the same transaction.
//!
//! Columns and their types are read from each side's catalog, so a new column added by a later
//! migration is copied without touching this file; a new TABLE must be added to [`TABLES`] (in
//! foreign-key order), and the copy refuses to run while it is missing.

use super::copy_sql::{Db, Kind, Side, Value};
use super::{StoreError, redact_url};
use std::collections::BTreeMap;

/// A table to copy and the columns that order it uniquely (empty: order by every column).
pub(crate) struct TableSpec {
    pub name: &'static str,
    pub key: &'static [&'static str],
}

/// Every data table, parents before children. Bookkeeping tables (`_sqlx_migrations`,
/// `ticket_seq`, `request_seq`) are handled separately.
pub(crate) const TABLES: &[TableSpec] = &[
    TableSpec { name: "conversations", key: &["key"] },
    TableSpec { name: "tickets", key: &["number"] },
    TableSpec { name: "messages", key: &["id"] },
    TableSpec { name: "ticket_events", key: &["id"] },
    TableSpec { name: "inbound_events", key: &["platform", "event_id"] },
    TableSpec { name: "outbox", key: &["id"] },
    TableSpec { name: "agents", key: &["platform", "user_id"] },
    TableSpec { name: "kb_feedback", key: &["id"] },
    TableSpec { name: "csat", key: &[] },
    TableSpec { name: "ticket_cards", key: &["ticket_number", "platform", "channel"] },
    TableSpec { name: "timers", key: &["id"] },
    TableSpec { name: "audit_log", key: &["seq"] },
    TableSpec { name: "audit_head", key: &["id"] },
    TableSpec { name: "audit_keying", key: &["id"] },
    TableSpec { name: "role_grants", key: &["id"] },
    TableSpec { name: "jobs", key: &["name"] },
    TableSpec { name: "case_events", key: &["id"] },
    TableSpec { name: "test_conversations", key: &["key"] },
    TableSpec { name: "report_sessions", key: &["id_hash"] },
    TableSpec { name: "portal_links", key: &["token_hash"] },
    TableSpec { name: "portal_sessions", key: &["id_hash"] },
    TableSpec { name: "portal_oidc_logins", key: &["state_hash"] },
    TableSpec { name: "portal_identities", key: &["issuer", "subject"] },
    TableSpec { name: "portal_identity_claims", key: &["token_hash"] },
    TableSpec { name: "requests", key: &["number"] },
    TableSpec { name: "request_decisions", key: &["id"] },
    TableSpec { name: "seat_holdings", key: &["id"] },
    TableSpec { name: "seat_pools", key: &["item"] },
    TableSpec { name: "request_timers", key: &["id"] },
    TableSpec { name: "access_reviews", key: &["id"] },
    TableSpec { name: "access_review_items", key: &["id"] },
    TableSpec { name: "report_days", key: &["day"] },
    TableSpec { name: "report_case_days", key: &[] },
    TableSpec { name: "report_unanswered_days", key: &[] },
    TableSpec { name: "report_ticket_days", key: &["day", "queue"] },
];

/// Tables the copy knows are not data.
const BOOKKEEPING: &[&str] = &["_sqlx_migrations", "ticket_seq", "request_seq", "sqlite_sequence"];

/// Rows read and written per round trip.
const PAGE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "the target database already holds data ({0}); refusing to overwrite it. \
         Pass --force to replace its contents"
    )]
    TargetNotEmpty(String),
    #[error("table `{0}` is not known to the copy (add it to TABLES in src/store/copy.rs)")]
    UnknownTable(String),
    #[error("table `{table}` column `{column}`: {problem}")]
    Schema { table: String, column: String, problem: String },
    #[error(
        "copy of `{table}` does not add up: {source_rows} rows in the source, {target_rows} in the target"
    )]
    CountMismatch { table: String, source_rows: i64, target_rows: i64 },
    #[error("the source and target are the same database")]
    SameDatabase,
}

/// What a copy wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// Rows per table, in copy order (verified equal on both sides).
    pub tables: Vec<(String, i64)>,
    /// The number the target will give its next ticket.
    pub next_ticket: i64,
    /// Rows deleted from the target first (`force`).
    pub replaced: i64,
}

/// Copy everything from `from` into `to` (database URLs). See the module comment.
pub async fn copy_database(from: &str, to: &str, force: bool) -> Result<CopyReport, CopyError> {
    if from == to {
        return Err(CopyError::SameDatabase);
    }
    // Bring both schemas to this version (the source must exist: never create it).
    let source_db = Db::open(from, false).await?;
    super::migrate_url(from).await?;
    super::migrate_url(to).await?;
    let target_db = Db::open(to, true).await?;

    let mut src = source_db.snapshot().await?;
    let mut dst = target_db.begin_write().await?;
    check_tables(&mut src, "source").await?;
    check_tables(&mut dst, "target").await?;

    // Numbers the target already handed out (before a forced replace) are never reused.
    let target_next = dst.next_ticket().await?;
    let mut replaced = 0;
    let occupied = occupied_tables(&mut dst).await?;
    if !occupied.is_empty() {
        if !force {
            let list: Vec<String> = occupied.iter().map(|(t, n)| format!("{t}: {n} rows")).collect();
            return Err(CopyError::TargetNotEmpty(list.join(", ")));
        }
        for spec in TABLES.iter().rev() {
            replaced += dst.execute(&format!("DELETE FROM {}", spec.name), &[]).await?;
        }
        tracing::warn!(rows = replaced, target = %redact_url(to), "replaced the target's contents (--force)");
    }

    let mut tables = Vec::new();
    for spec in TABLES {
        let columns = matched_columns(&mut src, &mut dst, spec.name).await?;
        let copied = copy_table(&mut src, &mut dst, spec, &columns).await?;
        let source_rows = src.count(spec.name).await?;
        let target_rows = dst.count(spec.name).await?;
        if source_rows != target_rows || copied != target_rows {
            return Err(CopyError::CountMismatch { table: spec.name.into(), source_rows, target_rows });
        }
        tables.push((spec.name.to_string(), target_rows));
    }

    let next_ticket = src.next_ticket().await?.max(target_next).max(dst.max_ticket().await? + 1);
    dst.set_next_ticket(next_ticket).await?;
    // Request numbers move past the copied requests too (never back: the target's own count stays).
    dst.execute(
        "UPDATE request_seq SET next = (SELECT COALESCE(MAX(number), 1000) + 1 FROM requests) \
         WHERE id = 1 AND next <= (SELECT COALESCE(MAX(number), 1000) FROM requests)",
        &[],
    )
    .await?;
    dst.reset_id_sequences(TABLES.iter().map(|t| t.name)).await?;
    src.finish().await?;
    dst.commit().await?;
    Ok(CopyReport { tables, next_ticket, replaced })
}

/// Refuse to run when a side has a table this copy does not know about.
async fn check_tables(side: &mut Side, which: &str) -> Result<(), CopyError> {
    for table in side.tables().await? {
        let known = TABLES.iter().any(|t| t.name == table) || BOOKKEEPING.contains(&table.as_str());
        if !known {
            tracing::error!(table = %table, side = which, "unknown table");
            return Err(CopyError::UnknownTable(table));
        }
    }
    Ok(())
}

/// Data tables of the target that hold rows, with their counts.
async fn occupied_tables(dst: &mut Side) -> Result<Vec<(String, i64)>, CopyError> {
    let mut out = Vec::new();
    for spec in TABLES {
        let n = dst.count(spec.name).await?;
        if n > 0 {
            out.push((spec.name.to_string(), n));
        }
    }
    Ok(out)
}

/// A column to copy: its name, how to read it from the source and how to write it to the target.
pub(crate) struct Column {
    pub name: String,
    pub read: Kind,
    pub write: Kind,
}

/// The target's columns, each of which the source must have too.
async fn matched_columns(src: &mut Side, dst: &mut Side, table: &str) -> Result<Vec<Column>, CopyError> {
    let source: BTreeMap<String, Kind> = src.columns(table).await?.into_iter().collect();
    let mut out = Vec::new();
    for (name, write) in dst.columns(table).await? {
        let Some(read) = source.get(&name).copied() else {
            return Err(CopyError::Schema {
                table: table.into(),
                column: name,
                problem: "missing in the source (are both databases at the same schema version?)".into(),
            });
        };
        out.push(Column { name, read, write });
    }
    Ok(out)
}

/// Copy one table page by page in key order; returns the rows written.
async fn copy_table(
    src: &mut Side,
    dst: &mut Side,
    spec: &TableSpec,
    columns: &[Column],
) -> Result<i64, CopyError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let order: Vec<&str> = if spec.key.is_empty() { names.clone() } else { spec.key.to_vec() };
    let key_at: Vec<usize> = spec.key.iter().filter_map(|k| names.iter().position(|n| n == k)).collect();
    let mut written = 0i64;
    let mut after: Option<Vec<Value>> = None;
    let mut offset = 0usize;
    loop {
        let page =
            src.read_page(spec.name, columns, &order, spec.key, after.as_deref(), offset, PAGE).await?;
        if page.is_empty() {
            return Ok(written);
        }
        let n = page.len();
        if spec.key.is_empty() {
            offset += n;
        } else if let Some(last) = page.last() {
            after = Some(key_at.iter().map(|&i| last[i].clone()).collect());
        }
        written += dst.insert_rows(spec.name, columns, &page).await?;
        if n < PAGE {
            return Ok(written);
        }
    }
}
