//! The compliance SQL, shared by both backends like `sql.rs`: [`compliance_sql!`] stamps out,
//! for one backend, `impl AuditTx` (appending to the audit chain inside any transaction) and
//! `impl ComplianceStore` (audit reads, role grants, purge, jobs), and the helpers
//! `person_sql.rs` builds on. The backend supplies `lock` (` FOR UPDATE` on PostgreSQL, where
//! the chain head row serialises appends; SQLite's write transactions are serial already).

use super::Result;
use super::compliance::NewAuditEntry;
use crate::store::key::AuditKey;

/// Appending to the audit chain inside an open transaction, linked under `key`.
#[async_trait::async_trait]
pub(crate) trait AuditTx: Send {
    async fn append_audit_tx(&mut self, key: &AuditKey, entries: &[NewAuditEntry]) -> Result<()>;
}

macro_rules! compliance_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path, lock: $lock:literal, cte: $cte:literal $(,)?) => {
        mod compliance_shared {
            use super::*;
            use $crate::store::key::AuditKey;
            use $crate::domain::{Millis, UserRef};
            use $crate::store::compliance::{
                ALL_QUEUES, AuditEntry, ChainKeying, ComplianceStore, GENESIS_HASH, GrantOutcome, KEYED_KIND, NewAuditEntry,
                NewGrant, PurgePlan, PurgeReport, Role, RoleGrant, entry_hash, plain_chain_fault,
            };
            use $crate::store::catalogue::{
                Column, Expiry, Fill, Purge, Table, CATALOGUE, KB_DRAFT_WRITTEN, PURGED_ADDRESS, PURGED_TEST_CONVERSATION,
                PURGED_WORDS, delivery_ticket, draft_path, remove_draft,
            };
            use std::collections::BTreeSet;
            use $crate::store::compliance_sql::AuditTx;
            use $crate::store::grants::{CONFIG_GRANTOR, ConfigSync, SyncStep, plan_config_sync};
            use $crate::store::json::JsonText;
            use $crate::store::{Result, StoreError};
            use sqlx::{AssertSqlSafe, QueryBuilder, Row, Transaction};

            pub(super) type Tx = Transaction<'static, $db>;
            const PURGED: &str = "purged";

            pub(super) async fn exec(q: sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>, tx: &mut Tx) -> Result<u64> {
                Ok(q.execute(&mut **tx).await.map_err($map_err)?.rows_affected())
            }

            impl $store {
                /// The audit key every chain write needs (a store opened only to migrate has none).
                pub(crate) fn audit_key(&self) -> Result<&AuditKey> {
                    self.audit_key.as_ref().ok_or_else(|| {
                        StoreError::Database("this store was opened without the audit key and cannot write the audit log".into())
                    })
                }
            }

            /// Lock the chain head, creating it on first use: rows copied by migration 0003 (no
            /// links at all) are chained then; rows that already carry links are never re-linked
            /// here (that would launder a rewrite behind a deleted head): the head is set to the
            /// last of them and `deskbot audit verify` judges them.
            pub(super) async fn head(tx: &mut Tx, key: &AuditKey) -> Result<(i64, String)> {
                let sql = concat!("SELECT last_seq, last_hash FROM audit_head WHERE id = 1", $lock);
                let row: Option<(i64, String)> =
                    sqlx::query_as(sql).fetch_optional(&mut **tx).await.map_err($map_err)?;
                if let Some(row) = row {
                    return Ok(row);
                }
                let q = sqlx::query(
                    "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
                )
                .bind(GENESIS_HASH);
                let created = exec(q, tx).await? == 1;
                let row: (i64, String) = sqlx::query_as(sql).fetch_one(&mut **tx).await.map_err($map_err)?;
                if !created {
                    return Ok(row);
                }
                let last: Option<(i64, Option<String>)> =
                    sqlx::query_as("SELECT seq, hash FROM audit_log WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err($map_err)?;
                let Some((seq, hash)) = last else { return relink(tx, key, 0).await };
                tracing::warn!(seq, "the audit chain head was missing; set to the last linked entry (run `deskbot audit verify`)");
                let hash = hash.unwrap_or_else(|| GENESIS_HASH.to_string());
                let q = sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1").bind(seq).bind(&hash);
                exec(q, tx).await?;
                Ok((seq, hash))
            }

            /// Entries re-linked per statement and read per page by [`relink`].
            const RELINK_BATCH: i64 = 1000;

            /// Recompute the links of entries from `from_seq` on and move the head to the end:
            /// read a page of entries in order, then rewrite the page's links with one
            /// `UPDATE … FROM (VALUES …)` (both databases), inside the caller's transaction.
            pub(super) async fn relink(tx: &mut Tx, key: &AuditKey, from_seq: i64) -> Result<(i64, String)> {
                let prev: Option<Option<String>> =
                    sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT 1")
                        .bind(from_seq)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err($map_err)?;
                let mut prev = prev.flatten().unwrap_or_else(|| GENESIS_HASH.to_string());
                let mut next = from_seq;
                loop {
                    let rows: Vec<AuditEntry> =
                        sqlx::query_as("SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2")
                            .bind(next)
                            .bind(RELINK_BATCH)
                            .fetch_all(&mut **tx)
                            .await
                            .map_err($map_err)?;
                    let Some(last) = rows.last() else { break };
                    next = last.seq + 1;
                    let mut links = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let hash = r.expected_hash(key, &prev);
                        if r.prev_hash.as_deref() != Some(prev.as_str()) || r.hash.as_deref() != Some(hash.as_str()) {
                            links.push((r.seq, prev.clone(), hash.clone()));
                        }
                        prev = hash;
                    }
                    if !links.is_empty() {
                        let mut qb = QueryBuilder::<$db>::new("WITH v (seq, prev_hash, hash) AS (VALUES ");
                        for (i, (seq, p, h)) in links.iter().enumerate() {
                            qb.push(if i == 0 { "(CAST(" } else { ", (CAST(" });
                            qb.push_bind(*seq).push(" AS BIGINT), ").push_bind(p.as_str()).push(", ").push_bind(h.as_str()).push(")");
                        }
                        qb.push(
                            ") UPDATE audit_log SET prev_hash = v.prev_hash, hash = v.hash FROM v WHERE audit_log.seq = v.seq",
                        );
                        qb.build().execute(&mut **tx).await.map_err($map_err)?;
                    }
                    if (rows.len() as i64) < RELINK_BATCH {
                        break;
                    }
                }
                let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
                    .fetch_one(&mut **tx)
                    .await
                    .map_err($map_err)?;
                let q = sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
                    .bind(last)
                    .bind(&prev);
                exec(q, tx).await?;
                Ok((last, prev))
            }

            /// See [`ComplianceStore::key_audit_chain`]: only a chain migration 0007 marked as
            /// written before the key is a candidate, once; it is re-chained under `key` (and that
            /// recorded) when it still verifies as a plain chain, and refused otherwise.
            async fn rekey(tx: &mut Tx, key: &AuditKey, now: Millis) -> Result<ChainKeying> {
                let sql = concat!("SELECT state FROM audit_keying WHERE id = 1", $lock);
                let state: Option<String> = sqlx::query_scalar(sql).fetch_optional(&mut **tx).await.map_err($map_err)?;
                if state.as_deref() != Some("pending") {
                    return Ok(ChainKeying::Unchanged);
                }
                let (seq, last) = head(tx, key).await?;
                let rows: Vec<AuditEntry> =
                    sqlx::query_as("SELECT * FROM audit_log ORDER BY seq").fetch_all(&mut **tx).await.map_err($map_err)?;
                let outcome = match plain_chain_fault(&rows, seq, &last) {
                    Some((seq, reason)) => ChainKeying::Refused { seq, reason },
                    None => {
                        relink(tx, key, 0).await?;
                        let entries = rows.len() as u64;
                        let detail = format!(
                            "re-chained {entries} entries under the audit key; the plain SHA-256 chain ended at #{seq} with {last}"
                        );
                        tx.append_audit_tx(key, &[audit(now, "deskbot", KEYED_KIND, None, detail)]).await?;
                        ChainKeying::Rekeyed { entries, old_seq: seq, old_hash: last }
                    }
                };
                let decided = if matches!(outcome, ChainKeying::Rekeyed { .. }) { "keyed" } else { "refused" };
                let q = sqlx::query("UPDATE audit_keying SET state = $1, decided_at = $2 WHERE id = 1").bind(decided).bind(now);
                exec(q, tx).await?;
                Ok(outcome)
            }

            #[async_trait::async_trait]
            impl AuditTx for Tx {
                async fn append_audit_tx(&mut self, key: &AuditKey, entries: &[NewAuditEntry]) -> Result<()> {
                    if entries.is_empty() {
                        return Ok(());
                    }
                    let (mut seq, mut prev) = head(self, key).await?;
                    let mut linked = Vec::with_capacity(entries.len());
                    for e in entries {
                        seq += 1;
                        let ticket = e.ticket.map(|n| n.0);
                        let hash = entry_hash(
                            key, &prev, seq, e.at, &e.actor, &e.kind, ticket, e.subject.as_deref(), e.detail.as_deref(),
                        );
                        linked.push((seq, e, std::mem::replace(&mut prev, hash.clone()), hash));
                    }
                    // The entries (500 a statement) and the moved head go in one statement
                    // where they fit: `WITH` parts on PostgreSQL, statements of one call on SQLite.
                    let chunks: Vec<_> = linked.chunks(500).collect();
                    for (i, chunk) in chunks.iter().enumerate() {
                        let last = i + 1 == chunks.len();
                        let mut qb = QueryBuilder::<$db>::new(if $cte && last { "WITH linked AS (" } else { "" });
                        qb.push("INSERT INTO audit_log (seq, at, actor, kind, ticket_number, subject, detail, prev_hash, hash) ");
                        qb.push_values(chunk.iter(), |mut row, (seq, e, prev, hash)| {
                            row.push_bind(*seq)
                                .push_bind(e.at)
                                .push_bind(e.actor.as_str())
                                .push_bind(e.kind.as_str())
                                .push_bind(e.ticket.map(|n| n.0))
                                .push_bind(e.subject.as_deref())
                                .push_bind(e.detail.as_deref())
                                .push_bind(prev.as_str())
                                .push_bind(hash.as_str());
                        });
                        if last {
                            qb.push(if $cte { ") " } else { "; " });
                            qb.push("UPDATE audit_head SET last_seq = ").push_bind(seq);
                            qb.push(", last_hash = ").push_bind(prev.as_str()).push(" WHERE id = 1");
                        }
                        exec(qb.build(), self).await?;
                    }
                    Ok(())
                }
            }

            pub(super) fn audit(at: Millis, actor: &str, kind: &str, subject: Option<String>, detail: String) -> NewAuditEntry {
                NewAuditEntry { at, actor: actor.to_string(), kind: kind.to_string(), ticket: None, subject, detail: Some(detail) }
            }

            /// `WHERE col IN (…)` over numbers, for a builder that already has its `WHERE`.
            pub(super) fn push_numbers(qb: &mut QueryBuilder<$db>, numbers: &[i64]) {
                qb.push(" (");
                let mut list = qb.separated(", ");
                for n in numbers {
                    list.push_bind(*n);
                }
                qb.push(")");
            }

            pub(super) async fn exec_in(tx: &mut Tx, head_sql: &str, numbers: &[i64]) -> Result<u64> {
                let mut total = 0;
                for chunk in numbers.chunks(500) {
                    let mut qb = QueryBuilder::<$db>::new(head_sql);
                    push_numbers(&mut qb, chunk);
                    total += qb.build().execute(&mut **tx).await.map_err($map_err)?.rows_affected();
                }
                Ok(total)
            }

            /// `queue = …`, or for [`ALL_QUEUES`] every queue but the `listed` ones.
            fn push_queue(qb: &mut QueryBuilder<$db>, queue: &str, listed: &[String]) {
                if queue != ALL_QUEUES {
                    qb.push("queue = ").push_bind(queue.to_string());
                } else if listed.is_empty() {
                    qb.push("1 = 1");
                } else {
                    qb.push("queue NOT IN (");
                    let mut list = qb.separated(", ");
                    for q in listed {
                        list.push_bind(q.clone());
                    }
                    qb.push(")");
                }
            }

            /// The KB draft files the audit log records for these tickets (see
            /// `catalogue::KB_DRAFT_WRITTEN`).
            async fn draft_files(tx: &mut Tx, numbers: &[i64]) -> Result<Vec<(i64, std::path::PathBuf)>> {
                let mut found = Vec::new();
                for chunk in numbers.chunks(500) {
                    let mut qb = QueryBuilder::<$db>::new("SELECT ticket_number, detail FROM audit_log WHERE kind = ");
                    qb.push_bind(KB_DRAFT_WRITTEN).push(" AND ticket_number IN");
                    push_numbers(&mut qb, chunk);
                    let rows: Vec<(Option<i64>, Option<String>)> =
                        qb.build_query_as().fetch_all(&mut **tx).await.map_err($map_err)?;
                    found.extend(rows.into_iter().filter_map(|(t, d)| {
                        let t = t?;
                        Some((t, draft_path(t, d.as_deref()?)?))
                    }));
                }
                Ok(found)
            }

            /// A catalogue fill as a bound value: `pseudonym` stands in for `Fill::Pseudonym`
            /// (`purged` in a purge), `blank` for `Fill::BlankState`.
            pub(super) fn push_fill(qb: &mut QueryBuilder<$db>, c: &Column, fill: Fill, pseudonym: &str, blank: &JsonText) {
                match fill {
                    Fill::Null if c.json => qb.push_bind(None::<JsonText>),
                    Fill::Null => qb.push_bind(None::<String>),
                    Fill::Text(t) if c.json => qb.push_bind(JsonText(serde_json::Value::from(t).to_string())),
                    Fill::Text(t) => qb.push_bind(t.to_string()),
                    Fill::Json(j) if c.json => qb.push_bind(JsonText(j.to_string())),
                    Fill::Json(j) => qb.push_bind(j.to_string()),
                    Fill::Pseudonym => qb.push_bind(pseudonym.to_string()),
                    Fill::BlankState => qb.push_bind(blank.clone()),
                };
            }

            fn push_purge_fill(qb: &mut QueryBuilder<$db>, c: &Column, fill: Fill) {
                push_fill(qb, c, fill, PURGED, &JsonText("{}".to_string()));
            }

            /// `SET a = …, b = …` and `(a IS DISTINCT FROM … OR …)` for a table's purge fills;
            /// `None` when the table sets nothing.
            fn purge_update(t: &Table, filter: impl Fn(&mut QueryBuilder<$db>)) -> Option<QueryBuilder<$db>> {
                let cols: Vec<(&Column, Fill)> = t
                    .columns
                    .iter()
                    .filter_map(|c| match c.purge {
                        Purge::Set(fill) => Some((c, fill)),
                        _ => None,
                    })
                    .collect();
                let keys: Vec<&Column> = t.columns.iter().filter(|c| c.purge == Purge::ConversationKey).collect();
                if cols.is_empty() && keys.is_empty() {
                    return None;
                }
                let mut qb = QueryBuilder::<$db>::new(format!("UPDATE {} SET ", t.name));
                for (i, (c, fill)) in cols.iter().enumerate() {
                    qb.push(if i == 0 { "" } else { ", " }).push(format!("{} = ", c.name));
                    push_purge_fill(&mut qb, c, *fill);
                }
                for (i, c) in keys.iter().enumerate() {
                    qb.push(if i + cols.len() == 0 { "" } else { ", " });
                    qb.push(format!(
                        "{c} = CASE WHEN {c} IN (SELECT key FROM test_conversations) THEN '{PURGED_TEST_CONVERSATION}' \
                         ELSE '{PURGED}' END",
                        c = c.name
                    ));
                }
                qb.push(" WHERE ");
                filter(&mut qb);
                qb.push(" AND (1 = 0");
                for (c, fill) in &cols {
                    qb.push(format!(" OR {} IS DISTINCT FROM ", c.name));
                    push_purge_fill(&mut qb, c, *fill);
                }
                for c in &keys {
                    qb.push(format!(
                        " OR COALESCE({}, '') NOT IN ('{PURGED}', '{PURGED_TEST_CONVERSATION}')",
                        c.name
                    ));
                }
                qb.push(")");
                Some(qb)
            }

            fn count_purged(r: &mut PurgeReport, table: &str, rows: u64) {
                match table {
                    "tickets" => r.tickets_anonymised += rows,
                    "kb_feedback" => r.feedback_anonymised += rows,
                    _ => r.records_anonymised += rows,
                }
            }

            /// Anonymise what the catalogue says of expired tickets' rows. Returns the first
            /// audit entry rewritten, if any (the chain is re-linked from there).
            async fn expire_tickets(tx: &mut Tx, numbers: &[i64], r: &mut PurgeReport) -> Result<Option<i64>> {
                let mut first = None;
                for chunk in numbers.chunks(500) {
                    // Actors that name the requester first, while the ticket still names them.
                    for t in CATALOGUE {
                        let Expiry::Ticket(col) = t.expiry else { continue };
                        for c in t.columns.iter().filter(|c| c.purge == Purge::RequesterAsRole) {
                            let mut qb = QueryBuilder::<$db>::new(format!(
                                "UPDATE {tab} SET {c} = 'requester' WHERE {c} = (SELECT tk.requester_platform || ':' || \
                                 tk.requester_id FROM tickets tk WHERE tk.number = {tab}.{col}) AND {col} IN",
                                tab = t.name,
                                c = c.name,
                            ));
                            push_numbers(&mut qb, chunk);
                            count_purged(r, t.name, qb.build().execute(&mut **tx).await.map_err($map_err)?.rows_affected());
                        }
                    }
                    for t in CATALOGUE {
                        let Expiry::Ticket(col) = t.expiry else { continue };
                        if t.name == "audit_log" {
                            let mut qb = QueryBuilder::<$db>::new("SELECT MIN(seq) FROM audit_log WHERE ticket_number IN");
                            push_numbers(&mut qb, chunk);
                            let min: Option<i64> = qb.build_query_scalar().fetch_one(&mut **tx).await.map_err($map_err)?;
                            first = first.into_iter().chain(min).min();
                        }
                        let Some(mut qb) = purge_update(t, |qb| {
                            qb.push(format!("{col} IN"));
                            push_numbers(qb, chunk);
                        }) else {
                            continue;
                        };
                        count_purged(r, t.name, qb.build().execute(&mut **tx).await.map_err($map_err)?.rows_affected());
                    }
                }
                Ok(first)
            }

            /// The deliveries about the expired tickets (the catalogue's `Purge::Deliveries`):
            /// a delivered one keeps only that it was sent; an undelivered one (queued, being
            /// sent, or dead after its last attempt: it would never go now) is dropped.
            async fn expire_deliveries(tx: &mut Tx, numbers: &BTreeSet<i64>, r: &mut PurgeReport) -> Result<()> {
                if numbers.is_empty() {
                    return Ok(());
                }
                let tombstone = JsonText(
                    serde_json::json!({
                        "to": serde_json::from_str::<serde_json::Value>(PURGED_ADDRESS).unwrap_or_default(),
                        "text": PURGED_WORDS,
                    })
                    .to_string(),
                );
                for t in CATALOGUE {
                    for c in t.columns.iter().filter(|c| c.purge == Purge::Deliveries) {
                        let (table, col) = (t.name, c.name);
                        let sql = format!("SELECT id, status, {col} FROM {table} ORDER BY id");
                        let rows: Vec<(i64, String, JsonText)> =
                            sqlx::query_as(AssertSqlSafe(sql)).fetch_all(&mut **tx).await.map_err($map_err)?;
                        for (id, status, payload) in rows {
                            let v: serde_json::Value = payload.parse("outbox message")?;
                            if !delivery_ticket(&v).is_some_and(|n| numbers.contains(&n)) {
                                continue;
                            }
                            if status == "done" {
                                let sql = format!("UPDATE {table} SET {col} = $1, last_error = NULL WHERE id = $2");
                                let q = sqlx::query(AssertSqlSafe(sql)).bind(tombstone.clone()).bind(id);
                                r.outbox_blanked += exec(q, tx).await?;
                            } else {
                                let q = sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1"))).bind(id);
                                r.outbox_deleted += exec(q, tx).await?;
                            }
                        }
                    }
                }
                Ok(())
            }

            /// Anonymise what the catalogue says of rows older than the transcripts cutoff (the
            /// queue's, for tables with a queue column, and the global one).
            async fn expire_by_age(tx: &mut Tx, plan: &PurgePlan, r: &mut PurgeReport) -> Result<()> {
                for t in CATALOGUE {
                    let Expiry::Age { at, queue } = t.expiry else { continue };
                    let mut cuts: Vec<(Option<String>, Millis)> = Vec::new();
                    if queue.is_some() {
                        // `ALL_QUEUES`: the global cutoff below covers every row.
                        cuts.extend(
                            plan.queues
                                .iter()
                                .filter(|q| q.queue != ALL_QUEUES)
                                .filter_map(|q| q.transcripts_before.map(|c| (Some(q.queue.clone()), c))),
                        );
                    }
                    cuts.extend(plan.other_before.map(|c| (None, c)));
                    for (q, cut) in cuts {
                        let Some(mut qb) = purge_update(t, |qb| {
                            qb.push(format!("{at} < ")).push_bind(cut);
                            if let (Some(qcol), Some(q)) = (queue, &q) {
                                qb.push(format!(" AND {qcol} = ")).push_bind(q.clone());
                            }
                        }) else {
                            continue;
                        };
                        let rows = qb.build().execute(&mut **tx).await.map_err($map_err)?.rows_affected();
                        count_purged(r, t.name, rows);
                        if rows > 0 && t.name == "case_events" {
                            // Their words changed: the report rollups of those days are rebuilt.
                            let q = sqlx::query($crate::store::reports::FORGET_DAYS_BEFORE).bind(cut);
                            q.execute(&mut **tx).await.map_err($map_err)?;
                        }
                    }
                }
                Ok(())
            }

            /// Insert an active grant; false when the same grant is active already (a
            /// concurrent grant then waits and renews instead of failing). Older rows of the
            /// key hand their `in_config` flag to the new one.
            pub(super) async fn insert_grant(tx: &mut Tx, g: &NewGrant, in_config: bool, now: Millis) -> Result<bool> {
                let q = sqlx::query(
                    "INSERT INTO role_grants (platform, user_id, role, scope, granted_by, justification, \
                     granted_at, reviewed_at, in_config) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
                     ON CONFLICT (platform, user_id, role, scope) WHERE revoked_at IS NULL DO NOTHING",
                )
                .bind(g.user.platform.as_str())
                .bind(&g.user.id)
                .bind(g.role.as_str())
                .bind(&g.scope)
                .bind(&g.by)
                .bind(&g.justification)
                .bind(now)
                .bind(in_config);
                if exec(q, tx).await? == 0 {
                    return Ok(false);
                }
                let q = sqlx::query(
                    "UPDATE role_grants SET in_config = $1 WHERE platform = $2 AND user_id = $3 AND role = $4 \
                     AND scope = $5 AND revoked_at IS NOT NULL",
                )
                .bind(false)
                .bind(g.user.platform.as_str())
                .bind(&g.user.id)
                .bind(g.role.as_str())
                .bind(&g.scope);
                exec(q, tx).await?;
                Ok(true)
            }

            fn grant_from_row(r: &<$db as sqlx::Database>::Row) -> Result<RoleGrant> {
                let platform: String = r.try_get("platform").map_err($map_err)?;
                let role: String = r.try_get("role").map_err($map_err)?;
                Ok(RoleGrant {
                    id: r.try_get("id").map_err($map_err)?,
                    user: UserRef::new(
                        platform.parse().map_err(|e: String| StoreError::Corrupt(format!("role grant: {e}")))?,
                        r.try_get::<String, _>("user_id").map_err($map_err)?,
                    ),
                    role: role.parse().map_err(|e: String| StoreError::Corrupt(format!("role grant: {e}")))?,
                    scope: r.try_get("scope").map_err($map_err)?,
                    granted_by: r.try_get("granted_by").map_err($map_err)?,
                    justification: r.try_get("justification").map_err($map_err)?,
                    granted_at: r.try_get("granted_at").map_err($map_err)?,
                    reviewed_at: r.try_get("reviewed_at").map_err($map_err)?,
                    revoked_at: r.try_get("revoked_at").map_err($map_err)?,
                    revoked_by: r.try_get("revoked_by").map_err($map_err)?,
                    revoke_reason: r.try_get("revoke_reason").map_err($map_err)?,
                    in_config: r.try_get("in_config").map_err($map_err)?,
                })
            }

            #[async_trait::async_trait]
            impl ComplianceStore for $store {
                async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<()> {
                    let key = self.audit_key()?;
                    let mut tx = self.begin_write().await?;
                    tx.append_audit_tx(key, entries).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn audit_head(&self) -> Result<(i64, String)> {
                    let key = self.audit_key()?;
                    let mut tx = self.begin_write().await?;
                    let h = head(&mut tx, key).await?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(h)
                }

                fn audit_link(&self, prev: &str, entry: &AuditEntry) -> Result<String> {
                    Ok(entry.expected_hash(self.audit_key()?, prev))
                }

                async fn key_audit_chain(&self, now: Millis) -> Result<ChainKeying> {
                    let key = self.audit_key()?;
                    // Every start and every command comes here: a chain that needs nothing is
                    // told by a read, so a read-only command never waits for the write lock.
                    let state: Option<String> = sqlx::query_scalar("SELECT state FROM audit_keying WHERE id = 1")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($map_err)?;
                    if state.as_deref() != Some("pending") {
                        return Ok(ChainKeying::Unchanged);
                    }
                    let mut tx = self.begin_write().await?;
                    let outcome = rekey(&mut tx, key, now).await?;
                    // Committed whatever the outcome: a head created on the way is kept.
                    tx.commit().await.map_err($map_err)?;
                    Ok(outcome)
                }

                async fn audit_entries(&self, after_seq: i64, since: Option<Millis>, limit: i64) -> Result<Vec<AuditEntry>> {
                    sqlx::query_as("SELECT * FROM audit_log WHERE seq > $1 AND at >= $2 ORDER BY seq LIMIT $3")
                        .bind(after_seq)
                        .bind(since.unwrap_or(i64::MIN))
                        .bind(limit.clamp(1, 100_000))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($map_err)
                }

                async fn grant_role(&self, g: &NewGrant, now: Millis) -> Result<GrantOutcome> {
                    let mut tx = self.begin_write().await?;
                    // The new row carries on whether deskbot.toml lists this grant.
                    let listed: Option<bool> = sqlx::query_scalar(
                        "SELECT in_config FROM role_grants WHERE platform = $1 AND user_id = $2 AND role = $3 \
                         AND scope = $4 ORDER BY id DESC LIMIT 1",
                    )
                    .bind(g.user.platform.as_str())
                    .bind(&g.user.id)
                    .bind(g.role.as_str())
                    .bind(&g.scope)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let outcome = if insert_grant(&mut tx, g, listed.unwrap_or(false), now).await? {
                        GrantOutcome::Granted
                    } else {
                        let q = sqlx::query(
                            "UPDATE role_grants SET justification = $1, reviewed_at = $2 WHERE platform = $3 \
                             AND user_id = $4 AND role = $5 AND scope = $6 AND revoked_at IS NULL",
                        )
                        .bind(&g.justification)
                        .bind(now)
                        .bind(g.user.platform.as_str())
                        .bind(&g.user.id)
                        .bind(g.role.as_str())
                        .bind(&g.scope);
                        exec(q, &mut tx).await?;
                        GrantOutcome::Rejustified
                    };
                    let kind = match outcome {
                        GrantOutcome::Granted => "role_granted",
                        GrantOutcome::Rejustified => "role_rejustified",
                    };
                    let detail = format!("{} on {}: {}", g.role, g.scope, g.justification);
                    tx.append_audit_tx(self.audit_key()?, &[audit(now, &g.by, kind, Some(g.user.to_string()), detail)]).await?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(outcome)
                }

                async fn revoke_role(
                    &self,
                    user: &UserRef,
                    role: Role,
                    scope: &str,
                    by: &str,
                    reason: &str,
                    now: Millis,
                ) -> Result<bool> {
                    let mut tx = self.begin_write().await?;
                    let q = sqlx::query(
                        "UPDATE role_grants SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
                         WHERE platform = $4 AND user_id = $5 AND role = $6 AND scope = $7 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(by)
                    .bind(reason)
                    .bind(user.platform.as_str())
                    .bind(&user.id)
                    .bind(role.as_str())
                    .bind(scope);
                    if exec(q, &mut tx).await? == 0 {
                        tx.rollback().await.map_err($map_err)?;
                        return Ok(false);
                    }
                    let detail = format!("{role} on {scope}: {reason}");
                    tx.append_audit_tx(self.audit_key()?, &[audit(now, by, "role_revoked", Some(user.to_string()), detail)]).await?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(true)
                }

                async fn sync_config_grants(&self, wanted: &[NewGrant], now: Millis) -> Result<ConfigSync> {
                    let key = self.audit_key()?;
                    let mut tx = self.begin_write().await?;
                    // Lock the audit head first: two processes starting at once sync one after
                    // the other, the second finding nothing left to do.
                    head(&mut tx, key).await?;
                    let rows = sqlx::query("SELECT * FROM role_grants ORDER BY id")
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    let rows = rows.iter().map(grant_from_row).collect::<Result<Vec<_>>>()?;
                    let mut report = ConfigSync::default();
                    let mut entries = Vec::new();
                    for step in plan_config_sync(wanted, &rows) {
                        match step {
                            SyncStep::Grant(g) => {
                                if insert_grant(&mut tx, &g, true, now).await? {
                                    report.granted += 1;
                                    let detail = format!("{} on {}: {}", g.role, g.scope, g.justification);
                                    entries.push(audit(now, &g.by, "role_granted", Some(g.user.to_string()), detail));
                                }
                            }
                            SyncStep::Revoke { id, user, role, scope } => {
                                let reason = "no longer in deskbot.toml";
                                let q = sqlx::query(
                                    "UPDATE role_grants SET revoked_at = $1, revoked_by = $2, revoke_reason = $3, \
                                     in_config = $4 WHERE id = $5 AND revoked_at IS NULL",
                                )
                                .bind(now)
                                .bind(CONFIG_GRANTOR)
                                .bind(reason)
                                .bind(false)
                                .bind(id);
                                if exec(q, &mut tx).await? == 1 {
                                    report.revoked += 1;
                                    let detail = format!("{role} on {scope}: {reason}");
                                    entries.push(audit(now, CONFIG_GRANTOR, "role_revoked", Some(user.to_string()), detail));
                                }
                            }
                            SyncStep::Mark { id, user, listed, kind, detail } => {
                                let q = sqlx::query("UPDATE role_grants SET in_config = $1 WHERE id = $2")
                                    .bind(listed)
                                    .bind(id);
                                exec(q, &mut tx).await?;
                                if kind == "role_config_overridden" {
                                    report.overridden += 1;
                                } else {
                                    report.recorded += 1;
                                }
                                entries.push(audit(now, CONFIG_GRANTOR, kind, Some(user.to_string()), detail));
                            }
                        }
                    }
                    tx.append_audit_tx(key, &entries).await?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(report)
                }

                async fn role_grants(&self, include_revoked: bool) -> Result<Vec<RoleGrant>> {
                    let sql = if include_revoked {
                        "SELECT * FROM role_grants ORDER BY id"
                    } else {
                        "SELECT * FROM role_grants WHERE revoked_at IS NULL ORDER BY id"
                    };
                    let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err($map_err)?;
                    rows.iter().map(grant_from_row).collect()
                }

                async fn purge(&self, plan: &PurgePlan, now: Millis, apply: bool) -> Result<PurgeReport> {
                    let key = self.audit_key()?;
                    let mut tx = self.begin_write().await?;
                    // Audit details of expired tickets are rewritten: hold the chain head.
                    head(&mut tx, key).await?;
                    let mut r = PurgeReport::default();
                    let mut relink_from: Option<i64> = None;
                    // Conversation keys flagged as test traffic become one key, flagged too.
                    let flag = sqlx::query(AssertSqlSafe(format!(
                        "INSERT INTO test_conversations (key, created_at) SELECT '{PURGED_TEST_CONVERSATION}', $1 \
                         WHERE EXISTS (SELECT 1 FROM test_conversations) ON CONFLICT (key) DO NOTHING"
                    )))
                    .bind(now);
                    exec(flag, &mut tx).await?;
                    // The plan's `ALL_QUEUES` entry covers every queue it does not list: tickets
                    // left in a queue since removed from (or renamed in) the config.
                    let listed: Vec<String> =
                        plan.queues.iter().filter(|q| q.queue != ALL_QUEUES).map(|q| q.queue.clone()).collect();
                    let mut drafts: Vec<(i64, std::path::PathBuf)> = Vec::new();
                    let mut expired: BTreeSet<i64> = BTreeSet::new();
                    for q in &plan.queues {
                        if let Some(cut) = q.transcripts_before {
                            let mut d = QueryBuilder::<$db>::new("DELETE FROM messages WHERE created_at < ");
                            d.push_bind(cut).push(" AND ticket_number IN (SELECT number FROM tickets WHERE ");
                            push_queue(&mut d, &q.queue, &listed);
                            d.push(")");
                            r.messages_deleted += d.build().execute(&mut *tx).await.map_err($map_err)?.rows_affected();
                        }
                        let Some(cut) = q.closed_before else { continue };
                        // Shaped like tickets_expiry_idx (its predicate spelled the same, with
                        // PURGED inline) so both databases use the partial index.
                        let mut s = QueryBuilder::<$db>::new("SELECT number FROM tickets WHERE ");
                        push_queue(&mut s, &q.queue, &listed);
                        s.push(
                            " AND status IN ('resolved', 'closed') AND requester_id <> 'purged' \
                             AND COALESCE(resolved_at, updated_at) < ",
                        )
                        .push_bind(cut);
                        let numbers: Vec<i64> = s.build_query_scalar().fetch_all(&mut *tx).await.map_err($map_err)?;
                        if numbers.is_empty() {
                            continue;
                        }
                        r.messages_deleted += exec_in(&mut tx, "DELETE FROM messages WHERE ticket_number IN", &numbers).await?;
                        exec_in(&mut tx, "DELETE FROM ticket_cards WHERE ticket_number IN", &numbers).await?;
                        exec_in(&mut tx, "DELETE FROM timers WHERE ticket_number IN", &numbers).await?;
                        // Read before the audit details naming them are purged.
                        drafts.extend(draft_files(&mut tx, &numbers).await?);
                        let first = expire_tickets(&mut tx, &numbers, &mut r).await?;
                        relink_from = relink_from.into_iter().chain(first).min();
                        expired.extend(numbers);
                    }
                    if let Some(cut) = plan.other_before {
                        let steps: [(&str, &mut u64); 4] = [
                            ("DELETE FROM messages WHERE ticket_number IS NULL AND created_at < $1", &mut r.messages_deleted),
                            (
                                "DELETE FROM conversations WHERE updated_at < $1 AND key NOT LIKE 'desk:%' AND NOT EXISTS \
                                 (SELECT 1 FROM tickets t WHERE t.conversation = conversations.key \
                                 AND t.status IN ('open', 'pending'))",
                                &mut r.conversations_deleted,
                            ),
                            // Undelivered for the whole period: dead in all but name, and holding words.
                            ("DELETE FROM outbox WHERE status <> 'sending' AND created_at < $1", &mut r.outbox_deleted),
                            ("DELETE FROM inbound_events WHERE seen_at < $1", &mut r.dedupe_keys_deleted),
                        ];
                        for (sql, count) in steps {
                            *count += exec(sqlx::query(sql).bind(cut), &mut tx).await?;
                        }
                    }
                    // After the old deliveries went: fewer rows to read.
                    expire_deliveries(&mut tx, &expired, &mut r).await?;
                    expire_by_age(&mut tx, plan, &mut r).await?;
                    // A dry run rolls back: re-linking the chain would only cost time.
                    if let (Some(from), true) = (relink_from, apply) {
                        relink(&mut tx, key, from).await?;
                    }
                    r.applied = apply;
                    if apply {
                        tx.append_audit_tx(self.audit_key()?, &[audit(now, &plan.actor, "purge", None, r.summary())]).await?;
                        tx.commit().await.map_err($map_err)?;
                        if let Err(e) = self.wipe_freed().await {
                            tracing::warn!(error = %$crate::store::sql::error_detail(&e), "purged, but freed pages could not be wiped yet");
                        }
                        // The KB drafts of the tickets anonymised (files: after the commit).
                        for (ticket, path) in &drafts {
                            if let Err(e) = remove_draft(path) {
                                tracing::error!(
                                    ticket,
                                    path = %path.display(),
                                    error = %e.kind(),
                                    "purged, but a draft KB article of the ticket could not be deleted"
                                );
                            }
                        }
                    } else {
                        tx.rollback().await.map_err($map_err)?;
                    }
                    Ok(r)
                }

                async fn claim_job(&self, name: &str, now: Millis, next_due: Millis) -> Result<bool> {
                    let mut tx = self.begin_write().await?;
                    let q = sqlx::query("INSERT INTO jobs (name, due_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                        .bind(name)
                        .bind(now);
                    exec(q, &mut tx).await?;
                    let q = sqlx::query("UPDATE jobs SET due_at = $1, last_run_at = $2 WHERE name = $3 AND due_at <= $2")
                        .bind(next_due)
                        .bind(now)
                        .bind(name);
                    let claimed = exec(q, &mut tx).await? == 1;
                    tx.commit().await.map_err($map_err)?;
                    Ok(claimed)
                }
            }
        }
    };
}

pub(crate) use compliance_sql;
