//! The compliance SQL, shared by both backends like `sql.rs`: [`compliance_sql!`] stamps out,
//! for one backend, `impl AuditTx` (appending to the audit chain inside any transaction) and
//! `impl ComplianceStore` (audit reads, role grants, purge, jobs), and the helpers
//! `person_sql.rs` builds on. The backend supplies `lock` (` FOR UPDATE` on PostgreSQL, where
//! the chain head row serialises appends; SQLite's write transactions are serial already).

use super::Result;
use super::compliance::NewAuditEntry;

/// Appending to the audit chain inside an open transaction.
#[async_trait::async_trait]
pub(crate) trait AuditTx: Send {
    async fn append_audit_tx(&mut self, entries: &[NewAuditEntry]) -> Result<()>;
}

macro_rules! compliance_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path, lock: $lock:literal $(,)?) => {
        mod compliance_shared {
            use super::*;
            use $crate::domain::{Millis, UserRef};
            use $crate::store::compliance::{
                AuditEntry, ComplianceStore, GENESIS_HASH, GrantOutcome, NewAuditEntry, NewGrant, PurgePlan,
                PurgeReport, Role, RoleGrant, entry_hash,
            };
            use $crate::store::compliance_sql::AuditTx;
            use $crate::store::json::JsonText;
            use $crate::store::{Result, StoreError};
            use sqlx::{QueryBuilder, Row, Transaction};

            pub(super) type Tx = Transaction<'static, $db>;
            const PURGED: &str = "purged";

            pub(super) async fn exec(q: sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>, tx: &mut Tx) -> Result<u64> {
                Ok(q.execute(&mut **tx).await.map_err($map_err)?.rows_affected())
            }

            /// Lock the chain head, creating it (and chaining the rows copied by the migration)
            /// on first use.
            pub(super) async fn head(tx: &mut Tx) -> Result<(i64, String)> {
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
            pub(super) async fn relink(tx: &mut Tx, from_seq: i64) -> Result<(i64, String)> {
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
                    // Insert first: a concurrent grant of the same role (two processes recording
                    // config grants at start) then waits and renews instead of failing.
                    let q = sqlx::query(
                        "INSERT INTO role_grants (platform, user_id, role, scope, granted_by, justification, \
                         granted_at, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                         ON CONFLICT (platform, user_id, role, scope) WHERE revoked_at IS NULL DO NOTHING",
                    )
                    .bind(g.user.platform.as_str())
                    .bind(&g.user.id)
                    .bind(g.role.as_str())
                    .bind(&g.scope)
                    .bind(&g.by)
                    .bind(&g.justification)
                    .bind(now);
                    let outcome = if exec(q, &mut tx).await? == 1 {
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
                                 filed_by_id = $1, requester_name = NULL, conversation = $1, reply_to = $2, fields = $3 WHERE number = $4",
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
