//! The compliance SQL, shared by both backends like `sql.rs`: [`compliance_sql!`] stamps out,
//! for one backend, `impl AuditTx` (appending to the audit chain inside any transaction) and
//! `impl ComplianceStore` (audit reads, role grants, purge, export, erasure, jobs). The
//! backend supplies `lock` (` FOR UPDATE` on PostgreSQL, where the chain head row serialises
//! appends; SQLite's write transactions are serial already) and `after_erase` (a statement run
//! after an erasure commits, e.g. SQLite's WAL checkpoint so old pages leave the disk).

use super::Result;
use super::compliance::NewAuditEntry;

/// Appending to the audit chain inside an open transaction.
#[async_trait::async_trait]
pub(crate) trait AuditTx: Send {
    async fn append_audit_tx(&mut self, entries: &[NewAuditEntry]) -> Result<()>;
}

macro_rules! compliance_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path, lock: $lock:literal, after_erase: $after:literal $(,)?) => {
        mod compliance_shared {
            use super::*;
            use $crate::domain::{Millis, TicketNumber, UserRef};
            use $crate::store::compliance::{
                AuditEntry, ComplianceStore, ConversationRecord, Erasure, ErasureReport, GENESIS_HASH,
                GrantOutcome, NewAuditEntry, NewGrant, PersonData, PurgePlan, PurgeReport, RatingRecord, Role,
                RoleGrant, Scrubber, entry_hash, like_anywhere,
            };
            use $crate::store::compliance_sql::AuditTx;
            use $crate::store::json::JsonText;
            use $crate::store::rows::{MessageRow, TicketRow};
            use $crate::store::{Result, StoreError};
            use sqlx::{AssertSqlSafe, QueryBuilder, Row, Transaction};
            use std::collections::BTreeSet;

            type Tx = Transaction<'static, $db>;
            const PURGED: &str = "purged";
            const ERASED: &str = "[erased]";

            async fn exec(q: sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>, tx: &mut Tx) -> Result<u64> {
                Ok(q.execute(&mut **tx).await.map_err($map_err)?.rows_affected())
            }

            /// Lock the chain head, creating it (and chaining the rows copied by the migration)
            /// on first use.
            async fn head(tx: &mut Tx) -> Result<(i64, String)> {
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
                if created { relink(tx, 0).await } else { Ok(row) }
            }

            /// Recompute the hashes of entries from `from_seq` on and move the head to the end.
            async fn relink(tx: &mut Tx, from_seq: i64) -> Result<(i64, String)> {
                let prev: Option<Option<String>> =
                    sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT 1")
                        .bind(from_seq)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err($map_err)?;
                let mut prev = prev.flatten().unwrap_or_else(|| GENESIS_HASH.to_string());
                let rows: Vec<AuditEntry> = sqlx::query_as("SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq")
                    .bind(from_seq)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err($map_err)?;
                for r in &rows {
                    let hash = r.expected_hash(&prev);
                    let q = sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
                        .bind(&prev)
                        .bind(&hash)
                        .bind(r.seq);
                    exec(q, tx).await?;
                    prev = hash;
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

            #[async_trait::async_trait]
            impl AuditTx for Tx {
                async fn append_audit_tx(&mut self, entries: &[NewAuditEntry]) -> Result<()> {
                    if entries.is_empty() {
                        return Ok(());
                    }
                    let (mut seq, mut prev) = head(self).await?;
                    for e in entries {
                        seq += 1;
                        let ticket = e.ticket.map(|n| n.0);
                        let hash = entry_hash(
                            &prev, seq, e.at, &e.actor, &e.kind, ticket, e.subject.as_deref(), e.detail.as_deref(),
                        );
                        let q = sqlx::query(
                            "INSERT INTO audit_log (seq, at, actor, kind, ticket_number, subject, detail, prev_hash, hash) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(seq)
                        .bind(e.at)
                        .bind(&e.actor)
                        .bind(&e.kind)
                        .bind(ticket)
                        .bind(e.subject.as_deref())
                        .bind(e.detail.as_deref())
                        .bind(&prev)
                        .bind(&hash);
                        exec(q, self).await?;
                        prev = hash;
                    }
                    let q = sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
                        .bind(seq)
                        .bind(&prev);
                    exec(q, self).await.map(drop)
                }
            }

            fn audit(at: Millis, actor: &str, kind: &str, subject: Option<String>, detail: String) -> NewAuditEntry {
                NewAuditEntry { at, actor: actor.to_string(), kind: kind.to_string(), ticket: None, subject, detail: Some(detail) }
            }

            /// `WHERE col IN (…)` over numbers, for a builder that already has its `WHERE`.
            fn push_numbers(qb: &mut QueryBuilder<$db>, numbers: &[i64]) {
                qb.push(" (");
                let mut list = qb.separated(", ");
                for n in numbers {
                    list.push_bind(*n);
                }
                qb.push(")");
            }

            async fn exec_in(tx: &mut Tx, head_sql: &str, numbers: &[i64]) -> Result<u64> {
                let mut total = 0;
                for chunk in numbers.chunks(500) {
                    let mut qb = QueryBuilder::<$db>::new(head_sql);
                    push_numbers(&mut qb, chunk);
                    total += qb.build().execute(&mut **tx).await.map_err($map_err)?.rows_affected();
                }
                Ok(total)
            }

            /// Scrub text columns of rows (keyed by an integer column) that mention a needle;
            /// returns the keys of rows changed.
            async fn scrub_columns(
                tx: &mut Tx,
                s: &Scrubber,
                table: &str,
                key: &str,
                cols: &[&str],
            ) -> Result<Vec<i64>> {
                let mut changed = BTreeSet::new();
                for needle in &s.needles {
                    let cond: Vec<String> = cols
                        .iter()
                        .map(|c| format!("LOWER(COALESCE({c}, '')) LIKE $1 ESCAPE '\\'"))
                        .collect();
                    let sql = format!("SELECT {key}, {} FROM {table} WHERE {}", cols.join(", "), cond.join(" OR "));
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(like_anywhere(needle))
                        .fetch_all(&mut **tx)
                        .await
                        .map_err($map_err)?;
                    for row in rows {
                        let id: i64 = row.try_get(0).map_err($map_err)?;
                        let mut values = Vec::new();
                        let mut differs = false;
                        for i in 0..cols.len() {
                            let old: Option<String> = row.try_get(i + 1).map_err($map_err)?;
                            let new = s.opt(old.as_deref());
                            differs |= new != old;
                            values.push(new);
                        }
                        if !differs {
                            continue;
                        }
                        let sets: Vec<String> = cols.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
                        let sql = format!("UPDATE {table} SET {} WHERE {key} = ${}", sets.join(", "), cols.len() + 1);
                        let mut q = sqlx::query(AssertSqlSafe(sql));
                        for v in values {
                            q = q.bind(v);
                        }
                        exec(q.bind(id), tx).await?;
                        changed.insert(id);
                    }
                }
                Ok(changed.into_iter().collect())
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
                })
            }

            const TICKET_COLUMNS: &str = "SELECT number, title, description, requester_platform, requester_id, \
                requester_name, conversation, reply_to, intent, queue, priority, status, assignee, fields, \
                created_at, updated_at, resolved_at, sla FROM tickets";

            #[async_trait::async_trait]
            impl ComplianceStore for $store {
                async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    tx.append_audit_tx(entries).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn audit_head(&self) -> Result<(i64, String)> {
                    let mut tx = self.begin_write().await?;
                    let h = head(&mut tx).await?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(h)
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
                    let outcome = if exec(q, &mut tx).await? > 0 {
                        GrantOutcome::Rejustified
                    } else {
                        let q = sqlx::query(
                            "INSERT INTO role_grants (platform, user_id, role, scope, granted_by, justification, \
                             granted_at, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                        )
                        .bind(g.user.platform.as_str())
                        .bind(&g.user.id)
                        .bind(g.role.as_str())
                        .bind(&g.scope)
                        .bind(&g.by)
                        .bind(&g.justification)
                        .bind(now);
                        exec(q, &mut tx).await?;
                        GrantOutcome::Granted
                    };
                    let kind = match outcome {
                        GrantOutcome::Granted => "role_granted",
                        GrantOutcome::Rejustified => "role_rejustified",
                    };
                    let detail = format!("{} on {}: {}", g.role, g.scope, g.justification);
                    tx.append_audit_tx(&[audit(now, &g.by, kind, Some(g.user.to_string()), detail)]).await?;
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
                    tx.append_audit_tx(&[audit(now, by, "role_revoked", Some(user.to_string()), detail)]).await?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(true)
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
                    let mut tx = self.begin_write().await?;
                    let mut r = PurgeReport::default();
                    for q in &plan.queues {
                        if let Some(cut) = q.transcripts_before {
                            let d = sqlx::query(
                                "DELETE FROM messages WHERE created_at < $1 AND ticket_number IN \
                                 (SELECT number FROM tickets WHERE queue = $2)",
                            )
                            .bind(cut)
                            .bind(&q.queue);
                            r.messages_deleted += exec(d, &mut tx).await?;
                        }
                        let Some(cut) = q.closed_before else { continue };
                        let numbers: Vec<i64> = sqlx::query_scalar(
                            "SELECT number FROM tickets WHERE queue = $1 AND status IN ('resolved', 'closed') \
                             AND COALESCE(resolved_at, updated_at) < $2 AND requester_id <> $3",
                        )
                        .bind(&q.queue)
                        .bind(cut)
                        .bind(PURGED)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($map_err)?;
                        if numbers.is_empty() {
                            continue;
                        }
                        r.messages_deleted += exec_in(&mut tx, "DELETE FROM messages WHERE ticket_number IN", &numbers).await?;
                        exec_in(&mut tx, "UPDATE csat SET comment = NULL WHERE ticket_number IN", &numbers).await?;
                        exec_in(&mut tx, "UPDATE ticket_events SET detail = NULL WHERE ticket_number IN", &numbers).await?;
                        exec_in(&mut tx, "DELETE FROM ticket_cards WHERE ticket_number IN", &numbers).await?;
                        exec_in(&mut tx, "DELETE FROM timers WHERE ticket_number IN", &numbers).await?;
                        let reply_to = JsonText::of(&serde_json::json!({ "platform": "system", "channel": PURGED }), "address")?;
                        for n in &numbers {
                            let q = sqlx::query(
                                "UPDATE tickets SET title = '[purged]', description = '', requester_id = $1, \
                                 requester_name = NULL, conversation = $1, reply_to = $2, fields = $3 WHERE number = $4",
                            )
                            .bind(PURGED)
                            .bind(reply_to.clone())
                            .bind(JsonText("{}".into()))
                            .bind(*n);
                            r.tickets_anonymised += exec(q, &mut tx).await?;
                        }
                    }
                    if let Some(cut) = plan.other_before {
                        let steps: [(&str, &mut u64); 5] = [
                            ("DELETE FROM messages WHERE ticket_number IS NULL AND created_at < $1", &mut r.messages_deleted),
                            (
                                "DELETE FROM conversations WHERE updated_at < $1 AND key NOT LIKE 'desk:%' AND NOT EXISTS \
                                 (SELECT 1 FROM tickets t WHERE t.conversation = conversations.key \
                                 AND t.status IN ('open', 'pending'))",
                                &mut r.conversations_deleted,
                            ),
                            ("DELETE FROM outbox WHERE status IN ('done', 'dead') AND created_at < $1", &mut r.outbox_deleted),
                            ("UPDATE kb_feedback SET query = '' WHERE created_at < $1 AND query <> ''", &mut r.feedback_anonymised),
                            ("DELETE FROM inbound_events WHERE seen_at < $1", &mut r.dedupe_keys_deleted),
                        ];
                        for (sql, count) in steps {
                            *count += exec(sqlx::query(sql).bind(cut), &mut tx).await?;
                        }
                    }
                    r.applied = apply;
                    if apply {
                        tx.append_audit_tx(&[audit(now, &plan.actor, "purge", None, r.summary())]).await?;
                        tx.commit().await.map_err($map_err)?;
                    } else {
                        tx.rollback().await.map_err($map_err)?;
                    }
                    Ok(r)
                }

                async fn person_data(&self, user: &UserRef, names: &[String]) -> Result<PersonData> {
                    let uref = user.to_string();
                    let p = user.platform.as_str();
                    let convs = sqlx::query(
                        "SELECT key, reply_to, state, created_at, updated_at FROM conversations \
                         WHERE platform = $1 AND user_id = $2 ORDER BY created_at, key",
                    )
                    .bind(p)
                    .bind(&user.id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    let mut conversations = Vec::new();
                    for c in convs {
                        let reply_to: JsonText = c.try_get("reply_to").map_err($map_err)?;
                        let state: JsonText = c.try_get("state").map_err($map_err)?;
                        conversations.push(ConversationRecord {
                            key: c.try_get("key").map_err($map_err)?,
                            reply_to: reply_to.parse("reply address")?,
                            state: state.parse("conversation state")?,
                            created_at: c.try_get("created_at").map_err($map_err)?,
                            updated_at: c.try_get("updated_at").map_err($map_err)?,
                        });
                    }
                    let rows: Vec<TicketRow> = sqlx::query_as(AssertSqlSafe(format!(
                        "{TICKET_COLUMNS} WHERE requester_platform = $1 AND requester_id = $2 ORDER BY number"
                    )))
                    .bind(p)
                    .bind(&user.id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    let tickets = rows.into_iter().map(TicketRow::into_ticket).collect::<Result<Vec<_>>>()?;
                    let numbers: Vec<i64> = tickets.iter().map(|t| t.number.0).collect();
                    let mut keys: BTreeSet<String> = conversations.iter().map(|c| c.key.clone()).collect();
                    keys.extend(tickets.iter().map(|t| t.conversation.clone()));

                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT conversation, ticket_number, speaker_kind, speaker_name, text, internal, created_at \
                         FROM messages WHERE conversation IN (",
                    );
                    let mut list = qb.separated(", ");
                    list.push_bind(String::new());
                    for k in &keys {
                        list.push_bind(k.clone());
                    }
                    qb.push(") OR ticket_number IN");
                    push_numbers(&mut qb, &[&[0i64][..], &numbers[..]].concat());
                    qb.push(" ORDER BY created_at, id");
                    let rows: Vec<MessageRow> = qb.build_query_as().fetch_all(&self.pool).await.map_err($map_err)?;
                    let messages = rows.into_iter().map(MessageRow::into_message).collect::<Result<Vec<_>>>()?;

                    let assigned: Vec<i64> = sqlx::query_scalar("SELECT number FROM tickets WHERE assignee = $1 ORDER BY number")
                        .bind(&uref)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($map_err)?;
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT ticket_number, score, comment, created_at FROM csat WHERE ticket_number IN",
                    );
                    push_numbers(&mut qb, &[&[0i64][..], &numbers[..]].concat());
                    let ratings = qb
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err($map_err)?
                        .iter()
                        .map(|r| {
                            let score = i64::from(r.try_get::<i32, _>("score").map_err($map_err)?);
                            Ok(RatingRecord {
                                ticket: TicketNumber(r.try_get("ticket_number").map_err($map_err)?),
                                score,
                                comment: r.try_get("comment").map_err($map_err)?,
                                at: r.try_get("created_at").map_err($map_err)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let roles = self.role_grants(true).await?.into_iter().filter(|g| &g.user == user).collect();

                    let mut all_names: BTreeSet<String> = names.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
                    all_names.extend(tickets.iter().filter_map(|t| t.requester_name.clone()));
                    let agent: Option<Option<String>> =
                        sqlx::query_scalar("SELECT display_name FROM agents WHERE platform = $1 AND user_id = $2")
                            .bind(p)
                            .bind(&user.id)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err($map_err)?;
                    all_names.extend(agent.flatten());

                    let mut qb = QueryBuilder::<$db>::new("SELECT * FROM audit_log WHERE actor = ");
                    qb.push_bind(uref.clone()).push(" OR subject = ").push_bind(uref.clone());
                    for needle in std::iter::once(&user.id).chain(all_names.iter()) {
                        qb.push(" OR LOWER(COALESCE(detail, '')) LIKE ").push_bind(like_anywhere(needle)).push(" ESCAPE '\\'");
                    }
                    qb.push(" OR ticket_number IN");
                    push_numbers(&mut qb, &[&[0i64][..], &numbers[..]].concat());
                    qb.push(" ORDER BY seq");
                    let audit: Vec<AuditEntry> = qb.build_query_as().fetch_all(&self.pool).await.map_err($map_err)?;
                    Ok(PersonData {
                        user: user.clone(),
                        names: all_names.into_iter().collect(),
                        conversations,
                        messages,
                        tickets,
                        assigned_tickets: assigned.into_iter().map(TicketNumber).collect(),
                        ratings,
                        roles,
                        audit,
                    })
                }

                async fn erase_person(&self, e: &Erasure) -> Result<ErasureReport> {
                    let s = Scrubber::new(e);
                    let p = e.user.platform.as_str();
                    let uref = e.user.to_string();
                    let mut r = ErasureReport::default();
                    let mut tx = self.begin_write().await?;
                    // Hold the chain head from the start: the audit rows are rewritten below.
                    head(&mut tx).await?;

                    let tickets: Vec<(i64, String, JsonText)> = sqlx::query_as(
                        "SELECT number, conversation, reply_to FROM tickets WHERE requester_platform = $1 AND requester_id = $2",
                    )
                    .bind(p)
                    .bind(&e.user.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let numbers: Vec<i64> = tickets.iter().map(|t| t.0).collect();
                    let convs: Vec<(String, JsonText)> =
                        sqlx::query_as("SELECT key, reply_to FROM conversations WHERE platform = $1 AND user_id = $2")
                            .bind(p)
                            .bind(&e.user.id)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err($map_err)?;
                    let mut keys: BTreeSet<String> = convs.iter().map(|c| c.0.clone()).collect();
                    keys.extend(tickets.iter().map(|t| t.1.clone()));
                    let blank = JsonText::of(&e.blank_state, "conversation state")?;
                    for (key, reply_to) in &convs {
                        let reply_to = JsonText::of(&s.json(&reply_to.parse::<serde_json::Value>("reply address")?), "reply address")?;
                        let q = sqlx::query("UPDATE conversations SET key = $1, user_id = $2, reply_to = $3, state = $4 WHERE key = $5")
                            .bind(s.text(key))
                            .bind(&e.pseudonym)
                            .bind(reply_to)
                            .bind(blank.clone())
                            .bind(key);
                        r.conversations += exec(q, &mut tx).await?;
                    }
                    for old in &keys {
                        let new = s.text(old);
                        if &new != old {
                            for sql in [
                                "UPDATE messages SET conversation = $1 WHERE conversation = $2",
                                "UPDATE tickets SET conversation = $1 WHERE conversation = $2",
                            ] {
                                exec(sqlx::query(sql).bind(&new).bind(old), &mut tx).await?;
                            }
                        }
                    }
                    // Their own words go; the lines of others that name them are scrubbed.
                    let mut qb = QueryBuilder::<$db>::new("UPDATE messages SET text = ");
                    qb.push_bind(ERASED).push(" WHERE speaker_kind = 'employee' AND text <> ").push_bind(ERASED);
                    qb.push(" AND (conversation IN (");
                    let mut list = qb.separated(", ");
                    list.push_bind(String::new());
                    for k in &keys {
                        list.push_bind(s.text(k));
                    }
                    qb.push(") OR ticket_number IN");
                    push_numbers(&mut qb, &[&[0i64][..], &numbers[..]].concat());
                    qb.push(")");
                    r.messages += qb.build().execute(&mut *tx).await.map_err($map_err)?.rows_affected();
                    r.messages += scrub_columns(&mut tx, &s, "messages", "id", &["text", "speaker_name"]).await?.len() as u64;

                    for (number, _, reply_to) in &tickets {
                        let reply_to = JsonText::of(&s.json(&reply_to.parse::<serde_json::Value>("reply address")?), "reply address")?;
                        let q = sqlx::query(
                            "UPDATE tickets SET requester_id = $1, requester_name = NULL, title = $2, description = $2, \
                             fields = $3, reply_to = $4 WHERE number = $5",
                        )
                        .bind(&e.pseudonym)
                        .bind(ERASED)
                        .bind(JsonText("{}".into()))
                        .bind(reply_to)
                        .bind(*number);
                        r.tickets += exec(q, &mut tx).await?;
                    }
                    r.tickets += scrub_columns(&mut tx, &s, "tickets", "number", &["title", "description", "requester_name", "assignee"]).await?.len() as u64;
                    r.ratings += exec_in(&mut tx, "UPDATE csat SET comment = NULL WHERE comment IS NOT NULL AND ticket_number IN", &numbers).await?;

                    // Their comments in the ticket history and the audit log are their words too.
                    for sql in ["UPDATE ticket_events SET detail = NULL WHERE actor = $1 AND detail IS NOT NULL AND kind LIKE 'csat%'",
                                "UPDATE audit_log SET detail = NULL WHERE actor = $1 AND detail IS NOT NULL AND kind LIKE 'csat%'"] {
                        r.ticket_events += exec(sqlx::query(sql).bind(&uref), &mut tx).await?;
                    }
                    r.ticket_events += scrub_columns(&mut tx, &s, "ticket_events", "id", &["actor", "detail"]).await?.len() as u64;
                    let seqs = scrub_columns(&mut tx, &s, "audit_log", "seq", &["actor", "subject", "detail"]).await?;
                    r.audit_entries = seqs.len() as u64;
                    let first_seq: Option<i64> = sqlx::query_scalar(
                        "SELECT MIN(seq) FROM audit_log WHERE actor = $1 AND detail IS NULL AND kind LIKE 'csat%'",
                    )
                    .bind(&uref)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let from = seqs.first().copied().into_iter().chain(first_seq).min();
                    if let Some(from) = from {
                        relink(&mut tx, from).await?;
                        r.relinked_from = Some(from);
                    }

                    let rows: Vec<(i64, JsonText)> =
                        sqlx::query_as("SELECT id, payload FROM outbox").fetch_all(&mut *tx).await.map_err($map_err)?;
                    for (id, payload) in rows {
                        let old: serde_json::Value = payload.parse("outbox message")?;
                        let new = s.json(&old);
                        if new != old {
                            let q = sqlx::query("UPDATE outbox SET payload = $1 WHERE id = $2")
                                .bind(JsonText::of(&new, "outbox message")?)
                                .bind(id);
                            r.deliveries += exec(q, &mut tx).await?;
                        }
                    }
                    let q = sqlx::query(
                        "UPDATE role_grants SET user_id = $1, revoked_at = COALESCE(revoked_at, $2), \
                         revoked_by = COALESCE(revoked_by, $3), revoke_reason = COALESCE(revoke_reason, 'person erased') \
                         WHERE platform = $4 AND user_id = $5",
                    )
                    .bind(&e.pseudonym)
                    .bind(e.now)
                    .bind(&e.by)
                    .bind(p)
                    .bind(&e.user.id);
                    r.roles += exec(q, &mut tx).await?;
                    r.roles += scrub_columns(&mut tx, &s, "role_grants", "id", &["granted_by", "justification", "revoked_by", "revoke_reason"]).await?.len() as u64;
                    let q = sqlx::query("DELETE FROM agents WHERE platform = $1 AND user_id = $2").bind(p).bind(&e.user.id);
                    r.other += exec(q, &mut tx).await?;
                    r.other += scrub_columns(&mut tx, &s, "kb_feedback", "id", &["query"]).await?.len() as u64;

                    let detail = format!(
                        "anonymised as {}:{}; {}",
                        e.user.platform,
                        e.pseudonym,
                        serde_json::to_string(&r).map_err(|x| StoreError::Database(x.to_string()))?
                    );
                    tx.append_audit_tx(&[audit(e.now, &e.by, "person_erased", Some(uref), detail)]).await?;
                    tx.commit().await.map_err($map_err)?;
                    if !$after.is_empty() {
                        sqlx::query($after).execute(&self.pool).await.map_err($map_err)?;
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
