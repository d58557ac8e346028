//! Per-person SQL, shared by both backends like `sql.rs`: [`person_sql!`] stamps out
//! `impl PersonStore` (export and erasure) on top of the audit helpers `compliance_sql!`
//! stamped out in the same backend module. The backend supplies `after_erase`, a statement run
//! after an erasure commits (SQLite's WAL checkpoint, so old pages leave the disk).

macro_rules! person_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path, after_erase: $after:literal $(,)?) => {
        mod person_shared {
            use super::*;
            use super::compliance_shared::{audit, exec, exec_in, head, push_numbers, relink, Tx};
            use $crate::domain::{TicketNumber, UserRef};
            use $crate::store::compliance::{AuditEntry, ComplianceStore};
            use $crate::store::compliance_sql::AuditTx;
            use $crate::store::json::JsonText;
            use $crate::store::person::{
                ConversationRecord, Erasure, ErasureReport, PersonData, PersonStore, RatingRecord, Scrubber,
                like_anywhere,
            };
            use $crate::store::rows::{MessageRow, TicketRow};
            use $crate::store::{Result, StoreError};
            use sqlx::{AssertSqlSafe, QueryBuilder, Row};
            use std::collections::BTreeSet;

            const ERASED: &str = "[erased]";

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

            const TICKET_COLUMNS: &str = "SELECT number, title, description, requester_platform, requester_id, \
                requester_name, filed_by_platform, filed_by_id, conversation, reply_to, intent, queue, priority, \
                status, assignee, fields, created_at, updated_at, resolved_at, sla FROM tickets";

            #[async_trait::async_trait]
            impl PersonStore for $store {
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

                    // The IN lists start with a value no row has ('' and ticket 0), so they are
                    // never empty.
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
                                "UPDATE case_events SET conversation = $1 WHERE conversation = $2",
                                "UPDATE test_conversations SET key = $1 WHERE key = $2",
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

                    // Tickets they filed, for themselves or from someone else's message: the
                    // notes they added go, and the ticket names their pseudonym as its filer.
                    let q = sqlx::query(
                        "UPDATE messages SET text = $1 WHERE speaker_kind = 'filer' AND ticket_number IN \
                         (SELECT number FROM tickets WHERE filed_by_platform = $2 AND filed_by_id = $3)",
                    )
                    .bind(ERASED)
                    .bind(p)
                    .bind(&e.user.id);
                    r.messages += exec(q, &mut tx).await?;
                    let q = sqlx::query("UPDATE tickets SET filed_by_id = $1 WHERE filed_by_platform = $2 AND filed_by_id = $3")
                        .bind(&e.pseudonym)
                        .bind(p)
                        .bind(&e.user.id);
                    exec(q, &mut tx).await?;
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
                    // The reports' record of their questions: the counts stay, their words and id go.
                    let q = sqlx::query("UPDATE case_events SET user_id = $1, query = $2 WHERE platform = $3 AND user_id = $4")
                        .bind(&e.pseudonym)
                        .bind(ERASED)
                        .bind(p)
                        .bind(&e.user.id);
                    r.other += exec(q, &mut tx).await?;
                    r.other += scrub_columns(&mut tx, &s, "case_events", "id", &["query"]).await?.len() as u64;

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

            }
        }
    };
}

pub(crate) use person_sql;
