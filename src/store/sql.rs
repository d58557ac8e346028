//! The SQL both backends share, written once. sqlx binds `$1`-style parameters on SQLite as on
//! PostgreSQL, and `sqlx::types::Json` binds as TEXT on SQLite and JSONB on PostgreSQL, so the
//! statements below are valid in both dialects. sqlx has no practical way to be generic over
//! the database type, so [`shared_sql!`] stamps out, for one backend:
//!
//! - `impl CommitTx for Transaction<'static, DB>`: the SQL of each commit step (the order and
//!   the rules are in `commit.rs`);
//! - `impl Store for TheStore`: reads, commit, and outbox bookkeeping.
//!
//! The backend supplies what differs: `pool`, `map_err`, its migrations folder, `begin_write()`
//! (SQLite takes the write lock up front), `claim()` (PostgreSQL skips locked rows), how the
//! next ticket number is allocated, and how a ticket row is locked for a status change.
//! [`error_detail`] is a small error helper both backends use when they add context.

macro_rules! shared_sql {
    (
        db: $db:ty,
        store: $store:ty,
        map_err: $map_err:path,
        migrations: $migrations:literal,
        next_ticket_sql: $next_ticket:literal,
        lock_row_sql: $lock_row:literal,
        tail_in_cte: $tail_in_cte:literal $(,)?
    ) => {
        mod shared {
            use super::*;
            use $crate::domain::{Millis, Platform, TicketNumber, TicketStatus};
            use $crate::store::commit::{CommitTx, Tail, apply};
            use $crate::store::rows::{
                ConversationRow, MessageRow, OutboxRow, TicketEventRow, TicketRow, claimed_items, push_ticket_filter,
                speaker_columns,
            };
            use $crate::store::{
                Commit, CommitOutcome, ConversationWrite, EventKey, NewTicket, OutboxItem, Result,
                Store, StoreError, StoredConversation, StoredMessage, Ticket, TicketEvent, TicketFilter, Turn,
            };
            use $crate::store::json::JsonText;
            use sqlx::{QueryBuilder, Transaction};

            const TICKET_SELECT: &str = "SELECT number, title, description, requester_platform, requester_id, \
                requester_name, filed_by_platform, filed_by_id, conversation, reply_to, intent, queue, priority, \
                status, assignee, fields, created_at, updated_at, resolved_at, sla FROM tickets";

            type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>;

            async fn write(q: Query<'_>, tx: &mut Transaction<'static, $db>) -> Result<u64> {
                Ok(q.execute(&mut **tx).await.map_err($map_err)?.rows_affected())
            }

            /// Finish a claim: rows whose message cannot be read are marked dead (and logged)
            /// instead of being retried forever; the rest are returned oldest first.
            pub(super) async fn finish_claim(
                mut tx: Transaction<'static, $db>,
                rows: Vec<OutboxRow>,
            ) -> Result<Vec<OutboxItem>> {
                let (items, unreadable) = claimed_items(rows);
                for (id, reason) in unreadable {
                    tracing::warn!(outbox_id = id, error = %reason, "outbox row cannot be read; marking it dead");
                    let q = sqlx::query("UPDATE outbox SET status = 'dead', last_error = $1 WHERE id = $2")
                        .bind(reason)
                        .bind(id);
                    write(q, &mut tx).await?;
                }
                tx.commit().await.map_err($map_err)?;
                Ok(items)
            }

            #[async_trait::async_trait]
            impl CommitTx for Transaction<'static, $db> {
                async fn record_event(&mut self, event: &EventKey, now: Millis) -> Result<bool> {
                    let q = sqlx::query(
                        "INSERT INTO inbound_events (platform, event_id, seen_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (platform, event_id) DO NOTHING",
                    )
                    .bind(event.platform.as_str())
                    .bind(&event.event_id)
                    .bind(now);
                    Ok(write(q, self).await? == 1)
                }

                async fn insert_conversation(&mut self, c: &ConversationWrite, now: Millis) -> Result<bool> {
                    let q = sqlx::query(
                        "INSERT INTO conversations \
                         (key, platform, user_id, reply_to, state, version, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, 1, $6, $6) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(&c.key)
                    .bind(c.user.platform.as_str())
                    .bind(&c.user.id)
                    .bind(JsonText::of(&c.reply_to, "reply address")?)
                    .bind(JsonText::of(&c.state, "conversation state")?)
                    .bind(now);
                    Ok(write(q, self).await? == 1)
                }

                async fn update_conversation(&mut self, c: &ConversationWrite, now: Millis) -> Result<bool> {
                    let q = sqlx::query(
                        "UPDATE conversations SET reply_to = $1, state = $2, version = version + 1, \
                         updated_at = $3 WHERE key = $4 AND version = $5",
                    )
                    .bind(JsonText::of(&c.reply_to, "reply address")?)
                    .bind(JsonText::of(&c.state, "conversation state")?)
                    .bind(now)
                    .bind(&c.key)
                    .bind(c.expected_version);
                    Ok(write(q, self).await? == 1)
                }

                async fn insert_ticket(
                    &mut self,
                    t: &NewTicket,
                    c: &ConversationWrite,
                    now: Millis,
                ) -> Result<TicketNumber> {
                    let (user, key, reply_to) = match &t.on_behalf {
                        Some(o) => (&o.user, &o.conversation, &o.reply_to),
                        None => (&c.user, &c.key, &c.reply_to),
                    };
                    let filed_by = t.filed_by.as_ref().unwrap_or(user);
                    let number: i64 =
                        sqlx::query_scalar($next_ticket).fetch_one(&mut **self).await.map_err($map_err)?;
                    let q = sqlx::query(
                        "INSERT INTO tickets (number, title, description, requester_platform, requester_id, \
                         requester_name, conversation, reply_to, intent, queue, priority, status, fields, \
                         created_at, updated_at, filed_by_platform, filed_by_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', $12, $13, $13, $14, $15)",
                    )
                    .bind(number)
                    .bind(&t.title)
                    .bind(&t.description)
                    .bind(user.platform.as_str())
                    .bind(&user.id)
                    .bind(t.requester_name.as_deref())
                    .bind(key)
                    .bind(JsonText::of(reply_to, "reply address")?)
                    .bind(t.intent.as_deref())
                    .bind(t.queue.as_str())
                    .bind(t.priority.as_str())
                    .bind(JsonText::of(&t.fields, "ticket fields")?)
                    .bind(now)
                    .bind(filed_by.platform.as_str())
                    .bind(&filed_by.id);
                    write(q, self).await?;
                    Ok(TicketNumber(number))
                }

                async fn ticket_status(
                    &mut self,
                    number: TicketNumber,
                ) -> Result<Option<(String, Option<Millis>)>> {
                    sqlx::query_as(concat!("SELECT status, resolved_at FROM tickets WHERE number = $1", $lock_row))
                        .bind(number.0)
                        .fetch_optional(&mut **self)
                        .await
                        .map_err($map_err)
                }

                async fn set_ticket_status(
                    &mut self,
                    number: TicketNumber,
                    status: TicketStatus,
                    resolved_at: Option<Millis>,
                    now: Millis,
                ) -> Result<()> {
                    let q = sqlx::query(
                        "UPDATE tickets SET status = $1, resolved_at = $2, updated_at = $3 WHERE number = $4",
                    )
                    .bind(status.as_str())
                    .bind(resolved_at)
                    .bind(now)
                    .bind(number.0);
                    write(q, self).await.map(drop)
                }

                async fn insert_ticket_event(
                    &mut self,
                    number: TicketNumber,
                    at: Millis,
                    kind: &str,
                    actor: &str,
                    detail: Option<&str>,
                ) -> Result<()> {
                    let q = sqlx::query(
                        "INSERT INTO ticket_events (ticket_number, at, kind, actor, detail) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(number.0)
                    .bind(at)
                    .bind(kind)
                    .bind(actor)
                    .bind(detail);
                    write(q, self).await.map(drop)
                }

                async fn insert_message(
                    &mut self,
                    conversation: &str,
                    ticket: Option<TicketNumber>,
                    turn: &Turn,
                    internal: bool,
                ) -> Result<()> {
                    let (kind, name) = speaker_columns(&turn.from);
                    let q = sqlx::query(
                        "INSERT INTO messages \
                         (conversation, ticket_number, speaker_kind, speaker_name, text, internal, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(conversation)
                    .bind(ticket.map(|n| n.0))
                    .bind(kind)
                    .bind(name)
                    .bind(&turn.text)
                    .bind(internal)
                    .bind(turn.at);
                    write(q, self).await.map(drop)
                }

                async fn insert_csat(
                    &mut self,
                    number: TicketNumber,
                    score: u8,
                    comment: Option<&str>,
                    now: Millis,
                ) -> Result<()> {
                    let q = sqlx::query(
                        "INSERT INTO csat (ticket_number, score, comment, created_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(number.0)
                    .bind(i32::from(score))
                    .bind(comment)
                    .bind(now);
                    write(q, self).await.map(drop)
                }

                async fn insert_tail(&mut self, t: &Tail<'_>) -> Result<()> {
                    let mut outbox = Vec::with_capacity(t.outbox.len());
                    for (key, message) in &t.outbox {
                        outbox.push((*key, message.to.platform.as_str(), JsonText::of(message, "outbox message")?));
                    }
                    let (mut m, mut f, mut c, mut o) =
                        (t.messages.as_slice(), t.feedback, t.cases, outbox.as_slice());
                    while !(m.is_empty() && f.is_empty() && c.is_empty() && o.is_empty()) {
                        let mut batch = TailBatch::<$db>::new($tail_in_cte);
                        let columns = "INSERT INTO messages \
                            (conversation, ticket_number, speaker_kind, speaker_name, text, internal, created_at) ";
                        batch.rows(columns, "", &mut m, |mut row, (ticket, turn, internal)| {
                            let (kind, name) = speaker_columns(&turn.from);
                            row.push_bind(t.conversation)
                                .push_bind(ticket.map(|n| n.0))
                                .push_bind(kind)
                                .push_bind(name)
                                .push_bind(turn.text.as_str())
                                .push_bind(*internal)
                                .push_bind(turn.at);
                        });
                        let columns = "INSERT INTO kb_feedback (intent, article, query, helpful, created_at, conversation) ";
                        batch.rows(columns, "", &mut f, |mut row, fb| {
                            row.push_bind(fb.intent.as_deref())
                                .push_bind(fb.article.as_deref())
                                .push_bind(fb.query.as_str())
                                .push_bind(fb.helpful)
                                .push_bind(t.now)
                                .push_bind(t.conversation);
                        });
                        let columns = "INSERT INTO case_events \
                            (conversation, platform, user_id, kind, intent, article, queue, query, created_at) ";
                        batch.rows(columns, "", &mut c, |mut row, e| {
                            row.push_bind(t.conversation)
                                .push_bind(t.user.platform.as_str())
                                .push_bind(t.user.id.as_str())
                                .push_bind(e.kind.as_str())
                                .push_bind(e.intent.as_deref())
                                .push_bind(e.article.as_deref())
                                .push_bind(e.queue.as_str())
                                .push_bind(e.query.as_str())
                                .push_bind(t.now);
                        });
                        let columns =
                            "INSERT INTO outbox (key, platform, payload, status, attempts, next_attempt_at, created_at) ";
                        batch.rows(columns, " ON CONFLICT (key) DO NOTHING", &mut o, |mut row, (key, platform, payload)| {
                            row.push_bind(*key)
                                .push_bind(*platform)
                                .push_bind(payload)
                                .push("'pending'")
                                .push("0")
                                .push_bind(t.now)
                                .push_bind(t.now);
                        });
                        batch.execute(self).await?;
                    }
                    Ok(())
                }
            }

            /// Several inserts sent as one: on SQLite, statements separated by `;` (run by one
            /// call into the driver's worker); on PostgreSQL, whose extended protocol takes one
            /// statement, data-modifying `WITH` parts of a single statement.
            struct TailBatch<DB: sqlx::Database> {
                qb: QueryBuilder<DB>,
                in_cte: bool,
                parts: usize,
            }

            impl TailBatch<$db> {
                fn new(in_cte: bool) -> Self {
                    Self { qb: QueryBuilder::new(""), in_cte, parts: 0 }
                }

                /// Up to [`Tail::CHUNK`] rows taken off the front of `rows` as one more insert
                /// (`insert` names the table and columns, `suffix` follows the values); none
                /// when `rows` is empty.
                fn rows<T>(
                    &mut self,
                    insert: &str,
                    suffix: &str,
                    rows: &mut &[T],
                    mut push: impl FnMut(sqlx::query_builder::Separated<'_, $db, &'static str>, &T),
                ) {
                    let (now, rest) = rows.split_at(rows.len().min(Tail::CHUNK));
                    *rows = rest;
                    if now.is_empty() {
                        return;
                    }
                    if self.in_cte {
                        self.qb.push(if self.parts == 0 { "WITH " } else { ", " });
                        self.qb.push(format_args!("part{} AS (", self.parts));
                    } else if self.parts > 0 {
                        self.qb.push("; ");
                    }
                    self.parts += 1;
                    self.qb.push(insert);
                    self.qb.push_values(now, |row, item| push(row, item));
                    self.qb.push(suffix);
                    if self.in_cte {
                        self.qb.push(")");
                    }
                }

                async fn execute(mut self, tx: &mut Transaction<'static, $db>) -> Result<()> {
                    if self.parts == 0 {
                        return Ok(());
                    }
                    if self.in_cte {
                        self.qb.push(" SELECT 1");
                    }
                    self.qb.build().execute(&mut **tx).await.map_err($map_err)?;
                    Ok(())
                }
            }

            #[async_trait::async_trait]
            impl Store for $store {
                async fn migrate(&self) -> Result<()> {
                    sqlx::migrate!($migrations).run(&self.pool).await.map_err(|e| match e {
                        sqlx::migrate::MigrateError::Execute(inner) => match $map_err(inner) {
                            StoreError::Busy => StoreError::Busy,
                            other => StoreError::Migrate(other.to_string()),
                        },
                        other => StoreError::Migrate(other.to_string()),
                    })?;
                    self.build_live_indexes().await
                }

                async fn ping(&self) -> Result<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await.map_err($map_err)?;
                    Ok(())
                }

                async fn load_conversation(&self, key: &str) -> Result<Option<StoredConversation>> {
                    let row: Option<ConversationRow> = sqlx::query_as(
                        "SELECT key, platform, user_id, reply_to, state, version, updated_at \
                         FROM conversations WHERE key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($map_err)?;
                    row.map(ConversationRow::into_conversation).transpose()
                }

                async fn event_seen(&self, event: &EventKey) -> Result<bool> {
                    let row: Option<(i64,)> = sqlx::query_as(
                        "SELECT seen_at FROM inbound_events WHERE platform = $1 AND event_id = $2",
                    )
                    .bind(event.platform.as_str())
                    .bind(&event.event_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($map_err)?;
                    Ok(row.is_some())
                }

                async fn commit(&self, commit: Commit) -> Result<CommitOutcome> {
                    let key = self.audit_key()?;
                    let mut tx = self.begin_write().await?;
                    // On error `tx` is dropped, which rolls everything back.
                    let outcome = apply(&mut tx, key, commit).await?;
                    if matches!(outcome, CommitOutcome::Applied { .. }) {
                        tx.commit().await.map_err($map_err)?;
                    } else {
                        tx.rollback().await.map_err($map_err)?;
                    }
                    Ok(outcome)
                }

                async fn ticket(&self, number: TicketNumber) -> Result<Option<Ticket>> {
                    let mut qb = QueryBuilder::<$db>::new(TICKET_SELECT);
                    qb.push(" WHERE number = ").push_bind(number.0);
                    let row: Option<TicketRow> =
                        qb.build_query_as().fetch_optional(&self.pool).await.map_err($map_err)?;
                    row.map(TicketRow::into_ticket).transpose()
                }

                async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>> {
                    let mut qb = QueryBuilder::<$db>::new(TICKET_SELECT);
                    push_ticket_filter(&mut qb, filter);
                    let rows: Vec<TicketRow> =
                        qb.build_query_as().fetch_all(&self.pool).await.map_err($map_err)?;
                    rows.into_iter().map(TicketRow::into_ticket).collect()
                }

                async fn ticket_events(&self, number: TicketNumber) -> Result<Vec<TicketEvent>> {
                    let rows: Vec<TicketEventRow> = sqlx::query_as(
                        "SELECT at, kind, actor, detail FROM ticket_events WHERE ticket_number = $1 ORDER BY id",
                    )
                    .bind(number.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    Ok(rows.into_iter().map(TicketEvent::from).collect())
                }

                async fn conversation_messages(&self, key: &str, limit: i64) -> Result<Vec<StoredMessage>> {
                    let rows: Vec<MessageRow> = sqlx::query_as(
                        "SELECT id, conversation, ticket_number, speaker_kind, speaker_name, text, internal, \
                         created_at FROM messages WHERE internal = $2 AND ((conversation = $1 AND ticket_number IS NULL) OR \
                         (conversation <> $1 AND ticket_number IN (SELECT number FROM tickets WHERE conversation = $1))) ORDER BY id DESC LIMIT $3",
                    )
                    .bind(key)
                    .bind(false)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    let mut lines = rows.into_iter().map(MessageRow::into_message).collect::<Result<Vec<_>>>()?;
                    lines.reverse();
                    Ok(lines)
                }

                async fn conversation_last_message(&self, key: &str) -> Result<i64> {
                    let last: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(id) FROM messages WHERE internal = $2 AND ((conversation = $1 AND ticket_number IS NULL) OR \
                         (conversation <> $1 AND ticket_number IN (SELECT number FROM tickets WHERE conversation = $1)))",
                    )
                    .bind(key)
                    .bind(false)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($map_err)?;
                    Ok(last.unwrap_or(0))
                }

                async fn ticket_messages(&self, number: TicketNumber) -> Result<Vec<StoredMessage>> {
                    let rows: Vec<MessageRow> = sqlx::query_as(
                        "SELECT conversation, ticket_number, speaker_kind, speaker_name, text, internal, \
                         created_at FROM messages WHERE ticket_number = $1 ORDER BY created_at, id",
                    )
                    .bind(number.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    rows.into_iter().map(MessageRow::into_message).collect()
                }

                async fn claim_outbox(
                    &self,
                    platforms: &[Platform],
                    worker: &str,
                    now: Millis,
                    lease_ms: i64,
                    limit: i64,
                ) -> Result<Vec<OutboxItem>> {
                    if platforms.is_empty() || limit <= 0 {
                        return Ok(Vec::new());
                    }
                    self.claim(platforms, worker, now, lease_ms, limit.min(1000)).await
                }

                async fn outbox_done(&self, id: i64, now: Millis) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let q = sqlx::query(
                        "UPDATE outbox SET status = 'done', sent_at = $1, claimed_by = NULL, \
                         claimed_until = NULL WHERE id = $2",
                    )
                    .bind(now)
                    .bind(id);
                    write(q, &mut tx).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn outbox_done_many(&self, ids: &[i64], now: Millis) -> Result<()> {
                    if ids.is_empty() {
                        return Ok(());
                    }
                    let mut tx = self.begin_write().await?;
                    let mut qb = QueryBuilder::<$db>::new("UPDATE outbox SET status = 'done', sent_at = ");
                    qb.push_bind(now);
                    qb.push(", claimed_by = NULL, claimed_until = NULL WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(&mut *tx).await.map_err($map_err)?;
                    tx.commit().await.map_err($map_err)
                }

                async fn outbox_failed(&self, id: i64, error: &str, next_attempt_at: Option<Millis>) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let q = sqlx::query(
                        "UPDATE outbox SET status = CASE WHEN $1 IS NULL THEN 'dead' ELSE 'pending' END, \
                         next_attempt_at = COALESCE($1, next_attempt_at), last_error = $2, \
                         claimed_by = NULL, claimed_until = NULL WHERE id = $3",
                    )
                    .bind(next_attempt_at)
                    .bind(error)
                    .bind(id);
                    write(q, &mut tx).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn outbox_depth(&self) -> Result<i64> {
                    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')")
                        .fetch_one(&self.pool)
                        .await
                        .map_err($map_err)
                }
            }
        }
    };
}

pub(crate) use shared_sql;

use super::StoreError;

/// The part of an error's message worth repeating after a path or URL.
pub(crate) fn error_detail(e: &StoreError) -> String {
    match e {
        StoreError::Unwritable(m)
        | StoreError::Connect(m)
        | StoreError::Migrate(m)
        | StoreError::Corrupt(m)
        | StoreError::Database(m) => m.clone(),
        StoreError::Busy => e.to_string(),
    }
}
