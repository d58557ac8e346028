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
        bump_ticket_sql: $bump_ticket:expr,
        lock_row_sql: $lock_row:literal,
        tail_in_cte: $tail_in_cte:literal $(,)?
    ) => {
        mod shared {
            use super::*;
            use $crate::domain::{Millis, Platform, TicketNumber, TicketStatus, UserRef};
            use $crate::store::commit::{CommitTx, Tail, apply, plain};
            use $crate::store::rows::{
                ConversationRow, MessageRow, OutboxRow, PrefixedConversationRow, TicketEventRow, TicketRow,
                claimed_items, push_ticket_filter, speaker_columns, speaker_id_columns, ticket_limit,
            };
            use $crate::store::{
                Commit, CommitOutcome, ConversationWrite, EventKey, NewTicket, OutboxItem, Result,
                Store, StoreError, StoredConversation, StoredMessage, Ticket, TicketEvent, TicketFilter, Turn,
            };
            use $crate::store::json::JsonText;
            use sqlx::{QueryBuilder, Transaction};
            use std::collections::HashSet;

            const TICKET_SELECT: &str = "SELECT number, title, description, requester_platform, requester_id, \
                requester_name, filed_by_platform, filed_by_id, conversation, reply_to, intent, queue, priority, \
                status, assignee, fields, created_at, updated_at, resolved_at, sla FROM tickets";

            /// [`Store::load_for_event`]'s statement: the conversation's columns (prefixed
            /// `c_`) in a row marked 'c', then one row per ticket, as [`TICKET_SELECT`] and
            /// `push_ticket_filter` with a requester would list them.
            pub(crate) const LOAD_FOR_EVENT: &str = "SELECT 'c' AS row_kind, key AS c_key, platform AS c_platform, \
                user_id AS c_user_id, reply_to AS c_reply_to, state AS c_state, version AS c_version, \
                updated_at AS c_updated_at, NULL AS number, NULL AS title, NULL AS description, \
                NULL AS requester_platform, NULL AS requester_id, NULL AS requester_name, NULL AS filed_by_platform, \
                NULL AS filed_by_id, NULL AS conversation, NULL AS reply_to, NULL AS intent, NULL AS queue, \
                NULL AS priority, NULL AS status, NULL AS assignee, NULL AS fields, NULL AS created_at, \
                NULL AS updated_at, NULL AS resolved_at, NULL AS sla FROM conversations WHERE key = $1 \
                UNION ALL SELECT 't', NULL, NULL, NULL, NULL, NULL, NULL, NULL, number, title, description, \
                requester_platform, requester_id, requester_name, filed_by_platform, filed_by_id, conversation, \
                reply_to, intent, queue, priority, status, assignee, fields, created_at, updated_at, \
                resolved_at, sla FROM (SELECT * FROM tickets WHERE requester_platform = $2 AND requester_id = $3 \
                ORDER BY number DESC LIMIT $4) AS mine";

            /// Split [`LOAD_FOR_EVENT`]'s rows: the conversation (when it exists) and the
            /// tickets, newest first.
            pub(crate) fn event_rows(
                rows: Vec<<$db as sqlx::Database>::Row>,
            ) -> Result<(Option<StoredConversation>, Vec<Ticket>)> {
                use sqlx::{FromRow, Row};
                let mut conversation = None;
                let mut tickets = Vec::with_capacity(rows.len());
                for row in &rows {
                    let kind: String = row.try_get("row_kind").map_err($map_err)?;
                    if kind == "c" {
                        let row = PrefixedConversationRow::from_row(row).map_err($map_err)?;
                        conversation = Some(ConversationRow::from(row).into_conversation()?);
                    } else {
                        tickets.push(TicketRow::from_row(row).map_err($map_err)?.into_ticket()?);
                    }
                }
                tickets.sort_by(|a, b| b.number.cmp(&a.number));
                Ok((conversation, tickets))
            }

            type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>;

            async fn write(q: Query<'_>, tx: &mut Transaction<'static, $db>) -> Result<u64> {
                Ok(q.execute(&mut **tx).await.map_err($map_err)?.rows_affected())
            }

            /// Finish a claim: rows whose message cannot be read are marked dead (and logged)
            /// instead of being retried forever; the rest are returned oldest first.
            /// The claim itself is one statement (atomic on its own), so this runs after it has
            /// committed; a row left claimed by a failure here is claimed again once its lease
            /// runs out.
            pub(super) async fn finish_claim(
                pool: &sqlx::Pool<$db>,
                rows: Vec<OutboxRow>,
            ) -> Result<Vec<OutboxItem>> {
                let (items, unreadable) = claimed_items(rows);
                for (id, reason) in unreadable {
                    tracing::warn!(outbox_id = id, error = %reason, "outbox row cannot be read; marking it dead");
                    sqlx::query("UPDATE outbox SET status = 'dead', last_error = $1 WHERE id = $2")
                        .bind(reason)
                        .bind(id)
                        .execute(pool)
                        .await
                        .map_err($map_err)?;
                }
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
                    // The number is taken inside the insert; SQLite then moves its counter on.
                    let q = sqlx::query_scalar(concat!(
                        "INSERT INTO tickets (number, title, description, requester_platform, requester_id, \
                         requester_name, conversation, reply_to, intent, queue, priority, status, fields, \
                         created_at, updated_at, filed_by_platform, filed_by_id) VALUES (",
                        $next_ticket,
                        ", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12, $12, $13, $14) RETURNING number",
                    ))
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
                    let number: i64 = q.fetch_one(&mut **self).await.map_err($map_err)?;
                    let bump: Option<&'static str> = $bump_ticket;
                    if let Some(bump) = bump {
                        write(sqlx::query(bump), self).await?;
                    }
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
                    let mut rest = TailRest::of(t)?;
                    while !rest.is_empty() {
                        let mut batch = TailBatch::<$db>::new($tail_in_cte);
                        rest.push(&mut batch, t);
                        batch.execute(self).await?;
                    }
                    Ok(())
                }
            }

            /// The rows of a [`Tail`] not sent yet.
            struct TailRest<'t> {
                messages: &'t [(Option<TicketNumber>, Turn, bool)],
                feedback: &'t [$crate::store::KbFeedback],
                cases: &'t [$crate::store::reports::CaseEvent],
                events: &'t [$crate::store::compliance::NewAuditEntry],
                outbox: Vec<(&'t str, &'static str, JsonText)>,
                sent: usize,
            }

            impl<'t> TailRest<'t> {
                fn of(t: &'t Tail<'_>) -> Result<Self> {
                    let mut outbox = Vec::with_capacity(t.outbox.len());
                    for (key, message) in &t.outbox {
                        outbox.push((*key, message.to.platform.as_str(), JsonText::of(message, "outbox message")?));
                    }
                    Ok(Self { messages: &t.messages, feedback: t.feedback, cases: t.cases, events: t.events, outbox, sent: 0 })
                }

                fn is_empty(&self) -> bool {
                    self.messages.is_empty() && self.feedback.is_empty() && self.cases.is_empty()
                        && self.events.is_empty() && self.outbox.len() == self.sent
                }

                /// Up to [`Tail::CHUNK`] rows of each kind as inserts of `batch`.
                fn push(&mut self, batch: &mut TailBatch<$db>, t: &Tail<'_>) {
                    let columns = "INSERT INTO ticket_events (ticket_number, at, kind, actor, detail) ";
                    batch.rows(columns, "", &mut self.events, |mut row, e| {
                        row.push_bind(e.ticket.map(|n| n.0))
                            .push_bind(e.at)
                            .push_bind(e.kind.as_str())
                            .push_bind(e.actor.as_str())
                            .push_bind(e.detail.as_deref());
                    });
                    let columns = "INSERT INTO messages (conversation, ticket_number, speaker_kind, speaker_name, \
                        speaker_platform, speaker_id, text, internal, created_at) ";
                    batch.rows(columns, "", &mut self.messages, |mut row, (ticket, turn, internal)| {
                        let (kind, name) = speaker_columns(&turn.from);
                        let (platform, id) = speaker_id_columns(turn);
                        row.push_bind(t.conversation)
                            .push_bind(ticket.map(|n| n.0))
                            .push_bind(kind)
                            .push_bind(name)
                            .push_bind(platform)
                            .push_bind(id)
                            .push_bind(turn.text.as_str())
                            .push_bind(*internal)
                            .push_bind(turn.at);
                    });
                    let columns = "INSERT INTO kb_feedback (intent, article, query, helpful, created_at, conversation) ";
                    batch.rows(columns, "", &mut self.feedback, |mut row, fb| {
                        row.push_bind(fb.intent.as_deref())
                            .push_bind(fb.article.as_deref())
                            .push_bind(fb.query.as_str())
                            .push_bind(fb.helpful)
                            .push_bind(t.now)
                            .push_bind(t.conversation);
                    });
                    let columns = "INSERT INTO case_events \
                        (conversation, platform, user_id, kind, intent, article, queue, query, created_at) ";
                    batch.rows(columns, "", &mut self.cases, |mut row, e| {
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
                    let mut outbox = &self.outbox[self.sent..];
                    let before = outbox.len();
                    batch.rows(columns, " ON CONFLICT (key) DO NOTHING", &mut outbox, |mut row, (key, platform, payload)| {
                        row.push_bind(*key)
                            .push_bind(*platform)
                            .push_bind(payload)
                            .push("'pending'")
                            .push("0")
                            .push_bind(t.now)
                            .push_bind(t.now);
                    });
                    self.sent += before - outbox.len();
                }
            }

            /// Several statements sent as one: on SQLite, statements separated by `;` (run in
            /// order by one call into the driver's worker, each reporting its changes); on
            /// PostgreSQL, whose extended protocol takes one statement, data-modifying `WITH`
            /// parts of a single statement, a part guarded on another by `EXISTS`.
            struct TailBatch<DB: sqlx::Database> {
                qb: QueryBuilder<DB>,
                in_cte: bool,
                /// Statements (SQLite) or `WITH` parts (PostgreSQL) so far.
                parts: usize,
                /// A `WITH` part is open (its closing parenthesis not pushed yet).
                open: bool,
                /// Named parts, with where their count is reported: the statement's index on
                /// SQLite, the column of the final `SELECT` on PostgreSQL.
                names: Vec<(&'static str, usize)>,
                /// Rows are inserted only when this condition holds (an SQL expression).
                guard_rows: Option<String>,
            }

            impl TailBatch<$db> {
                fn new(in_cte: bool) -> Self {
                    Self { qb: QueryBuilder::new(""), in_cte, parts: 0, open: false, names: Vec::new(), guard_rows: None }
                }

                fn close(&mut self) {
                    if self.open {
                        self.qb.push(")");
                        self.open = false;
                    }
                }

                /// Start one more statement (or `WITH` part, named `name`), to be written into
                /// the returned builder.
                fn part(&mut self, name: &'static str) -> &mut QueryBuilder<$db> {
                    self.close();
                    if self.in_cte {
                        self.qb.push(if self.parts == 0 { "WITH " } else { ", " });
                        match name {
                            "" => self.qb.push(format_args!("part{} AS (", self.parts)),
                            _ => self.qb.push(format_args!("{name} AS (")),
                        };
                        self.open = true;
                    } else if self.parts > 0 {
                        self.qb.push("; ");
                    }
                    if !name.is_empty() {
                        let at = if self.in_cte { self.names.len() } else { self.parts };
                        self.names.push((name, at));
                    }
                    self.parts += 1;
                    &mut self.qb
                }

                /// A statement with no parameters (SQLite only: PostgreSQL has no place for it).
                fn raw(&mut self, sql: &'static str) {
                    self.part("").push(sql);
                }

                /// The open part returns a row for each row it wrote (PostgreSQL; SQLite reports
                /// changes without it).
                fn returning_one(&mut self) {
                    if self.in_cte {
                        self.qb.push(" RETURNING 1");
                    }
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
                    let guard = self.guard_rows.clone();
                    let qb = self.part("");
                    qb.push(insert);
                    match guard {
                        Some(g) => {
                            qb.push("SELECT * FROM (");
                            qb.push_values(now, |row, item| push(row, item));
                            qb.push(format_args!(") AS v WHERE {g}"));
                        }
                        None => {
                            qb.push_values(now, |row, item| push(row, item));
                        }
                    }
                    qb.push(suffix);
                }

                async fn execute(mut self, tx: &mut Transaction<'static, $db>) -> Result<()> {
                    if self.parts == 0 {
                        return Ok(());
                    }
                    self.close();
                    if self.in_cte {
                        self.qb.push(" SELECT 1");
                    }
                    self.qb.build().execute(&mut **tx).await.map_err($map_err)?;
                    Ok(())
                }

                /// SQLite: run the statements in order; the changes each one reported, up to the
                /// first that failed, and that failure.
                async fn changes<'e, E>(mut self, conn: E) -> (Vec<u64>, Option<StoreError>)
                where
                    E: sqlx::Executor<'e, Database = $db>,
                {
                    use futures_util::TryStreamExt;
                    let mut changes = Vec::with_capacity(self.parts);
                    let mut results = conn.fetch_many(self.qb.build());
                    loop {
                        match results.try_next().await {
                            Ok(Some(sqlx::Either::Left(done))) => changes.push(done.rows_affected()),
                            Ok(Some(sqlx::Either::Right(_))) => {}
                            Ok(None) => return (changes, None),
                            Err(e) => return (changes, Some($map_err(e))),
                        }
                    }
                }

                /// The index the next SQLite statement will have.
                fn next_statement(&self) -> usize {
                    self.parts
                }

                /// The column of the final `SELECT` the next named `WITH` part's count will be in.
                fn count(&self) -> usize {
                    self.names.len()
                }

                /// PostgreSQL: run the statement, ending it with a `SELECT` of the count of each
                /// named part (in the order they were named), then, for each of `seen`, whether
                /// that event was recorded before the statement.
                async fn select_counts<'e, E>(mut self, conn: E, seen: &[&$crate::store::EventKey]) -> Result<Vec<i64>>
                where
                    E: sqlx::Executor<'e, Database = $db>,
                {
                    use sqlx::Row;
                    if self.parts == 0 {
                        return Ok(Vec::new());
                    }
                    self.close();
                    self.qb.push(" SELECT ");
                    let mut columns = 0;
                    for (name, _) in &self.names {
                        self.qb.push(if columns == 0 { "" } else { ", " });
                        self.qb.push(format_args!("(SELECT COUNT(*) FROM {name})"));
                        columns += 1;
                    }
                    for e in seen {
                        self.qb.push(if columns == 0 { "" } else { ", " });
                        self.qb.push("(SELECT COUNT(*) FROM inbound_events WHERE platform = ")
                            .push_bind(e.platform.as_str())
                            .push(" AND event_id = ")
                            .push_bind(e.event_id.clone())
                            .push(")");
                        columns += 1;
                    }
                    if columns == 0 {
                        self.qb.push("1");
                    }
                    let row = self.qb.build().fetch_one(conn).await.map_err($map_err)?;
                    let mut counts = Vec::with_capacity(columns);
                    for i in 0..columns {
                        counts.push(row.try_get::<i64, _>(i).map_err($map_err)?);
                    }
                    Ok(counts)
                }
            }

            /// The store's writer as group commit drives it.
            ///
            /// A *plain* commit (no ticket or request work, see `commit::plain`) needs no
            /// round trip of its own: plain commits that arrive together are written by one call
            /// to the database ([`PlainGroup`]). Other commits run step by step, each inside a
            /// savepoint of its own when they share a transaction. SQLite writes a batch in one
            /// `BEGIN IMMEDIATE` transaction; PostgreSQL writes plain commits as single
            /// statements that need no transaction around them, and the rest in one.
            pub(crate) struct Writer {
                pub(crate) pool: sqlx::Pool<$db>,
                /// The statement that opens a write transaction.
                pub(crate) begin: &'static str,
                pub(crate) key: Option<$crate::store::key::AuditKey>,
            }

            type Outcomes = Vec<Option<Result<CommitOutcome>>>;

            impl Writer {
                fn key(&self) -> Result<&$crate::store::key::AuditKey> {
                    self.key.as_ref().ok_or_else(|| {
                        StoreError::Database("this store was opened without the audit key and cannot write the audit log".into())
                    })
                }

                async fn begin(&self) -> Result<Transaction<'static, $db>> {
                    self.pool.begin_with(self.begin).await.map_err($map_err)
                }

                /// One commit on its own.
                async fn write_one(&self, commit: &Commit) -> Result<CommitOutcome> {
                    let key = self.key()?;
                    if $tail_in_cte && plain(commit).is_some() {
                        let mut conn = self.pool.acquire().await.map_err($map_err)?;
                        let mut outcomes = PlainGroup::new(&[commit]).run_guarded(&mut *conn).await?;
                        return outcomes.pop().unwrap_or(Ok(CommitOutcome::Conflict));
                    }
                    let mut tx = self.begin().await?;
                    // On error `tx` is dropped, which rolls everything back.
                    let outcome = if plain(commit).is_some() {
                        let mut outcomes = PlainGroup::new(&[commit]).run_once(&mut tx).await?;
                        outcomes.pop().unwrap_or(Ok(CommitOutcome::Conflict))?
                    } else {
                        apply(&mut tx, key, commit.clone()).await?
                    };
                    if matches!(outcome, CommitOutcome::Applied { .. }) {
                        tx.commit().await.map_err($map_err)?;
                    } else {
                        tx.rollback().await.map_err($map_err)?;
                    }
                    Ok(outcome)
                }

                /// Several commits. Fills in the outcome of each commit it wrote (or found a
                /// duplicate, a conflict or its own error); `Err` when a transaction as a whole
                /// failed, leaving the commits it held without an outcome (nothing of them is
                /// written).
                async fn write_together(&self, commits: &[Commit], outcomes: &mut Outcomes) -> Result<()> {
                    let key = self.key()?;
                    let (plain_at, step_at): (Vec<usize>, Vec<usize>) =
                        (0..commits.len()).partition(|&i| plain(&commits[i]).is_some());
                    if $tail_in_cte {
                        // Plain commits: one statement per group, each atomic on its own.
                        let mut conn = self.pool.acquire().await.map_err($map_err)?;
                        for group in PlainGroup::split(commits, &plain_at) {
                            let refs: Vec<&Commit> = group.iter().map(|&i| &commits[i]).collect();
                            let got = PlainGroup::new(&refs).run_guarded(&mut *conn).await?;
                            for (i, outcome) in group.into_iter().zip(got) {
                                outcomes[i] = Some(outcome);
                            }
                        }
                        drop(conn);
                        if step_at.len() <= 1 {
                            for i in step_at {
                                outcomes[i] = Some(self.write_one(&commits[i]).await);
                            }
                            return Ok(());
                        }
                    }
                    let mut tx = self.begin().await?;
                    let mut got = Vec::with_capacity(commits.len());
                    for &i in &step_at {
                        sqlx::raw_sql("SAVEPOINT deskbot_commit").execute(&mut *tx).await.map_err($map_err)?;
                        let outcome = apply(&mut tx, key, commits[i].clone()).await;
                        if !matches!(outcome, Ok(CommitOutcome::Applied { .. })) {
                            sqlx::raw_sql("ROLLBACK TO SAVEPOINT deskbot_commit; RELEASE SAVEPOINT deskbot_commit")
                                .execute(&mut *tx)
                                .await
                                .map_err($map_err)?;
                        }
                        got.push((i, outcome));
                    }
                    if !$tail_in_cte && !plain_at.is_empty() {
                        let refs: Vec<&Commit> = plain_at.iter().map(|&i| &commits[i]).collect();
                        let plain_got = PlainGroup::new(&refs).run_in_batch(&mut tx).await?;
                        got.extend(plain_at.iter().copied().zip(plain_got));
                    }
                    tx.commit().await.map_err($map_err)?;
                    for (i, outcome) in got {
                        outcomes[i] = Some(outcome);
                    }
                    Ok(())
                }
            }

            #[async_trait::async_trait]
            impl $crate::store::group::BatchWriter for Writer {
                async fn write_batch(&self, commits: Vec<Commit>) -> Vec<Result<CommitOutcome>> {
                    if !$tail_in_cte && commits.iter().all(|c| plain(c).is_some()) {
                        let refs: Vec<&Commit> = commits.iter().collect();
                        let written = match self.pool.acquire().await {
                            Ok(mut conn) => PlainGroup::new(&refs).run_alone(&mut conn).await,
                            Err(e) => Err($map_err(e)),
                        };
                        return match written {
                            Ok(outcomes) => outcomes,
                            Err(e) => commits.iter().map(|_| Err(e.clone())).collect(),
                        };
                    }
                    if commits.len() == 1 {
                        return vec![self.write_one(&commits[0]).await];
                    }
                    let mut outcomes: Outcomes = commits.iter().map(|_| None).collect();
                    if let Err(e) = self.write_together(&commits, &mut outcomes).await {
                        // What that transaction held was not written: each commit on its own,
                        // so one bad commit fails alone.
                        tracing::debug!(error = %e, "group commit failed; writing its commits one by one");
                    }
                    let mut done = Vec::with_capacity(commits.len());
                    for (commit, outcome) in commits.iter().zip(outcomes) {
                        done.push(match outcome {
                            Some(outcome) => outcome,
                            None => self.write_one(commit).await,
                        });
                    }
                    done
                }
            }

            /// Where one plain commit's counted statements are: its dedupe key's insert, its
            /// conversation's write, and (PostgreSQL) whether its event was seen before.
            #[derive(Default, Clone, Copy)]
            struct Marks {
                ev: Option<usize>,
                cv: Option<usize>,
                seen: Option<usize>,
            }

            /// Plain commits written by one call to the database: each one's dedupe key, its
            /// conversation (by version) and the rows it appends.
            ///
            /// SQLite runs the statements of one call in order and reports each one's changes: a
            /// commit whose dedupe key was there is a duplicate, one whose conversation version
            /// moved a conflict, one whose statement failed has that error. Then the call is
            /// rolled back to the savepoint it opened with and made again without those commits
            /// ([`PlainGroup::run_in_batch`]).
            ///
            /// PostgreSQL takes one statement per call, so each commit becomes data-modifying
            /// `WITH` parts guarded on one another: the conversation is written only when the
            /// event was not seen before, the dedupe key only when the conversation was written,
            /// the rows only when the dedupe key was. A duplicate or a conflict writes nothing,
            /// so the statement needs no transaction around it, and the commits of one statement
            /// never touch the same conversation or event ([`PlainGroup::split`]).
            struct PlainGroup<'c> {
                commits: &'c [&'c Commit],
            }

            impl<'c> PlainGroup<'c> {
                fn new(commits: &'c [&'c Commit]) -> Self {
                    Self { commits }
                }

                /// The plain commits at `at`, in groups that each name a conversation and an
                /// event at most once and append at most [`Tail::CHUNK`] rows in all (a larger
                /// commit goes alone).
                fn split(commits: &[Commit], at: &[usize]) -> Vec<Vec<usize>> {
                    let mut groups: Vec<(Vec<usize>, HashSet<&str>, usize)> = Vec::new();
                    for &i in at {
                        let c = &commits[i];
                        let names = [c.conversation.key.as_str(), c.event.as_ref().map_or("", |e| e.event_id.as_str())];
                        let rows = c.messages.len() + c.feedback.len() + c.cases.len() + c.outbox.len();
                        let fits = |g: &(Vec<usize>, HashSet<&str>, usize)| {
                            g.2 + rows <= Tail::CHUNK && names.iter().all(|n| n.is_empty() || !g.1.contains(n))
                        };
                        let g = match groups.iter().position(fits) {
                            Some(g) => g,
                            None => {
                                groups.push((Vec::new(), HashSet::new(), 0));
                                groups.len() - 1
                            }
                        };
                        let group = &mut groups[g];
                        group.0.push(i);
                        group.1.extend(names.into_iter().filter(|n| !n.is_empty()));
                        group.2 += rows;
                    }
                    groups.into_iter().map(|g| g.0).collect()
                }

                /// SQLite, alone in its transaction: the outcome of each commit (the caller
                /// rolls back unless every one applied).
                async fn run_once(&self, tx: &mut Transaction<'static, $db>) -> Result<Vec<Result<CommitOutcome>>> {
                    let live: Vec<usize> = (0..self.commits.len()).collect();
                    let (outcomes, _) = self.call(&mut **tx, &live, false).await?;
                    Ok(outcomes)
                }

                /// SQLite, inside a batch's transaction: repeat the call without the commits
                /// that did not apply until the rest all do.
                async fn run_in_batch(&self, tx: &mut Transaction<'static, $db>) -> Result<Vec<Result<CommitOutcome>>> {
                    let mut decided: Vec<Option<Result<CommitOutcome>>> = self.commits.iter().map(|_| None).collect();
                    let mut live: Vec<usize> = (0..self.commits.len()).collect();
                    while !live.is_empty() {
                        let (outcomes, all_applied) = self.call(&mut **tx, &live, true).await?;
                        if all_applied {
                            for (i, outcome) in live.iter().zip(outcomes) {
                                decided[*i] = Some(outcome);
                            }
                            break;
                        }
                        sqlx::raw_sql("ROLLBACK TO SAVEPOINT deskbot_group; RELEASE SAVEPOINT deskbot_group")
                            .execute(&mut **tx)
                            .await
                            .map_err($map_err)?;
                        let mut next = Vec::with_capacity(live.len());
                        for (i, outcome) in live.iter().zip(outcomes) {
                            match outcome {
                                // Rolled back with the rest: written again by the next call.
                                Ok(CommitOutcome::Applied { .. }) => next.push(*i),
                                other => decided[*i] = Some(other),
                            }
                        }
                        live = next;
                    }
                    Ok(decided.into_iter().map(|d| d.unwrap_or(Ok(CommitOutcome::Conflict))).collect())
                }

                /// SQLite, the whole transaction in one call: `BEGIN IMMEDIATE`, each commit
                /// guarded like PostgreSQL's (its conversation only while its event is not
                /// recorded, its dedupe key only when the conversation was written, a flag for it
                /// in a connection-private table only when the key was, its rows only under that
                /// flag), then `COMMIT`. A duplicate or a conflict writes nothing; a failed
                /// statement stops the call, which is rolled back and made again without the
                /// commit it belongs to.
                async fn run_alone(&self, conn: &mut <$db as sqlx::Database>::Connection) -> Result<Vec<Result<CommitOutcome>>> {
                    let mut decided: Vec<Option<Result<CommitOutcome>>> = self.commits.iter().map(|_| None).collect();
                    let mut live: Vec<usize> = (0..self.commits.len()).collect();
                    // Commits whose conversation was not written: duplicates or conflicts, told
                    // apart once the call is over.
                    let mut unwritten = Vec::new();
                    while !live.is_empty() {
                        let mut fb = TailBatch::<$db>::new(false);
                        fb.raw("BEGIN IMMEDIATE");
                        fb.raw("CREATE TEMP TABLE IF NOT EXISTS deskbot_applied (job INTEGER PRIMARY KEY)");
                        fb.raw("DELETE FROM temp.deskbot_applied");
                        let mut tails = Vec::with_capacity(live.len());
                        for &i in &live {
                            let parts = plain(self.commits[i]).ok_or_else(|| StoreError::Database("not a plain commit".into()))?;
                            tails.push(parts.tail(&[], None));
                        }
                        let mut marks = Vec::with_capacity(live.len());
                        let mut ends = Vec::with_capacity(live.len());
                        for (n, &i) in live.iter().enumerate() {
                            let commit = self.commits[i];
                            let mut m = Marks::default();
                            let mut last = None;
                            if !commit.conversation.is_none() {
                                m.cv = Some(fb.next_statement());
                                conversation_write(fb.part(""), commit, commit.event.as_ref())?;
                                last = m.cv;
                            }
                            if let Some(event) = &commit.event {
                                m.ev = Some(fb.next_statement());
                                let guard = last.map(|_| "changes() = 1");
                                event_insert(fb.part(""), event, commit.now, guard);
                                last = m.ev;
                            }
                            m.seen = Some(fb.next_statement());
                            let flag = fb.part("");
                            flag.push(format_args!("INSERT INTO temp.deskbot_applied (job) SELECT {n}"));
                            if last.is_some() {
                                flag.push(" WHERE changes() = 1");
                            }
                            fb.guard_rows = Some(format!("EXISTS (SELECT 1 FROM temp.deskbot_applied WHERE job = {n})"));
                            TailRest::of(&tails[n])?.push(&mut fb, &tails[n]);
                            fb.guard_rows = None;
                            marks.push(m);
                            ends.push(fb.next_statement());
                        }
                        fb.raw("COMMIT");
                        let (changes, failed) = fb.changes(&mut *conn).await;
                        let Some(err) = failed else {
                            for (n, &i) in live.iter().enumerate() {
                                let applied = marks[n].seen.is_some_and(|s| changes.get(s) == Some(&1));
                                decided[i] = Some(if applied {
                                    Ok(CommitOutcome::Applied { created: Vec::new() })
                                } else if marks[n].cv.is_none() {
                                    Ok(CommitOutcome::Duplicate)
                                } else {
                                    unwritten.push(i);
                                    Ok(CommitOutcome::Conflict)
                                });
                            }
                            break;
                        };
                        // Nothing of this call stays; a failed BEGIN leaves nothing to roll back.
                        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                        // The setup statements (three) failed: nothing to blame on one commit.
                        let at = changes.len();
                        let Some(n) = (0..live.len()).find(|&n| at < ends[n]).filter(|_| at >= 3) else {
                            return Err(err);
                        };
                        decided[live[n]] = Some(Err(err));
                        live.remove(n);
                    }
                    // A conversation that was not written: a duplicate when the event is recorded
                    // now (before this call, or by a commit of the same event in it), else a
                    // conflict.
                    for i in unwritten {
                        if let Some(event) = &self.commits[i].event {
                            let seen: Option<i64> = sqlx::query_scalar(
                                "SELECT 1 FROM inbound_events WHERE platform = $1 AND event_id = $2",
                            )
                            .bind(event.platform.as_str())
                            .bind(event.event_id.as_str())
                            .fetch_optional(&mut *conn)
                            .await
                            .map_err($map_err)?;
                            if seen.is_some() {
                                decided[i] = Some(Ok(CommitOutcome::Duplicate));
                            }
                        }
                    }
                    Ok(decided.into_iter().map(|d| d.unwrap_or(Ok(CommitOutcome::Conflict))).collect())
                }

                /// PostgreSQL: one guarded statement for every commit of the group, no
                /// transaction needed.
                async fn run_guarded<'e, E>(&self, conn: E) -> Result<Vec<Result<CommitOutcome>>>
                where
                    E: sqlx::Executor<'e, Database = $db>,
                {
                    let live: Vec<usize> = (0..self.commits.len()).collect();
                    let (outcomes, _) = self.call(conn, &live, false).await?;
                    Ok(outcomes)
                }

                /// Build and make one call for the commits at `live`. Returns their outcomes (a
                /// commit after a failed SQLite statement is reported `Applied`: it did not run,
                /// and the caller runs it again) and whether all of them applied. Errors only for
                /// what no single commit caused (building a statement, PostgreSQL's statement).
                async fn call<'e, E>(
                    &self,
                    conn: E,
                    live: &[usize],
                    savepoint: bool,
                ) -> Result<(Vec<Result<CommitOutcome>>, bool)>
                where
                    E: sqlx::Executor<'e, Database = $db>,
                {
                    let mut fb = TailBatch::<$db>::new($tail_in_cte);
                    if savepoint && !$tail_in_cte {
                        fb.raw("SAVEPOINT deskbot_group");
                    }
                    let mut marks = Vec::with_capacity(live.len());
                    // The statement index each commit's statements end at (SQLite).
                    let mut ends = Vec::with_capacity(live.len());
                    let mut seen_checks: Vec<&EventKeyRef> = Vec::new();
                    let mut tails = Vec::with_capacity(live.len());
                    for &i in live {
                        let commit = self.commits[i];
                        let parts = plain(commit).ok_or_else(|| StoreError::Database("not a plain commit".into()))?;
                        tails.push(parts.tail(&[], None));
                    }
                    for (n, &i) in live.iter().enumerate() {
                        let commit = self.commits[i];
                        let tail = &tails[n];
                        let mut m = Marks::default();
                        let names = names_of(n);
                        if $tail_in_cte {
                            m.seen = commit.event.as_ref().map(|e| {
                                seen_checks.push(e);
                                seen_checks.len() - 1
                            });
                            if !commit.conversation.is_none() {
                                let unseen = commit.event.as_ref();
                                m.cv = Some(fb.count());
                                conversation_write(fb.part(names.cv), commit, unseen)?;
                                fb.returning_one();
                            }
                            if let Some(event) = &commit.event {
                                let guard = m.cv.map(|_| format!("EXISTS (SELECT 1 FROM {})", names.cv));
                                m.ev = Some(fb.count());
                                event_insert(fb.part(names.ev), event, commit.now, guard.as_deref());
                                fb.returning_one();
                            }
                            let last = if m.ev.is_some() { Some(names.ev) } else if m.cv.is_some() { Some(names.cv) } else { None };
                            fb.guard_rows = last.map(|g| format!("EXISTS (SELECT 1 FROM {g})"));
                        } else {
                            if let Some(event) = &commit.event {
                                m.ev = Some(fb.next_statement());
                                event_insert(fb.part(""), event, commit.now, None);
                            }
                            if !commit.conversation.is_none() {
                                m.cv = Some(fb.next_statement());
                                conversation_write(fb.part(""), commit, None)?;
                            }
                        }
                        TailRest::of(tail)?.push(&mut fb, tail);
                        fb.guard_rows = None;
                        marks.push(m);
                        ends.push(fb.next_statement());
                    }
                    if $tail_in_cte {
                        let named = fb.names.len();
                        let counts = fb.select_counts(conn, &seen_checks).await?;
                        let get = |at: Option<usize>| -> Result<Option<i64>> {
                            at.map(|c| {
                                counts.get(c).copied().ok_or_else(|| StoreError::Database("a count is missing".into()))
                            })
                            .transpose()
                        };
                        let mut outcomes = Vec::with_capacity(live.len());
                        let mut all = true;
                        for m in &marks {
                            let seen = get(m.seen.map(|s| named + s))?.unwrap_or(0);
                            let (cv, ev) = (get(m.cv)?, get(m.ev)?);
                            // The dedupe key is written only after the conversation, so without
                            // a conversation write a key that was there is a duplicate; with one,
                            // a key not written means the conversation was not.
                            let outcome = if seen > 0 || (cv.is_none() && ev == Some(0)) {
                                CommitOutcome::Duplicate
                            } else if cv == Some(0) {
                                CommitOutcome::Conflict
                            } else {
                                CommitOutcome::Applied { created: Vec::new() }
                            };
                            all &= matches!(outcome, CommitOutcome::Applied { .. });
                            outcomes.push(Ok(outcome));
                        }
                        return Ok((outcomes, all));
                    }
                    let (changes, mut failed) = fb.changes(conn).await;
                    let skip = usize::from(savepoint);
                    if failed.is_some() && changes.len() < skip {
                        return Err(failed.unwrap_or(StoreError::Busy));
                    }
                    let mut outcomes = Vec::with_capacity(live.len());
                    let mut all = true;
                    for (n, m) in marks.iter().enumerate() {
                        let ran = changes.len() >= ends[n];
                        let at_fault = !ran && (n == 0 || changes.len() >= ends[n - 1]);
                        let outcome = if at_fault {
                            all = false;
                            Err(failed.take().unwrap_or(StoreError::Busy))
                        } else if !ran {
                            all = false;
                            Ok(CommitOutcome::Applied { created: Vec::new() })
                        } else if m.ev.is_some_and(|s| changes[s] == 0) {
                            all = false;
                            Ok(CommitOutcome::Duplicate)
                        } else if m.cv.is_some_and(|s| changes[s] == 0) {
                            all = false;
                            Ok(CommitOutcome::Conflict)
                        } else {
                            Ok(CommitOutcome::Applied { created: Vec::new() })
                        };
                        outcomes.push(outcome);
                    }
                    Ok((outcomes, all))
                }
            }

            type EventKeyRef = $crate::store::EventKey;

            /// The `WITH` part names of the `n`th commit of a call.
            struct PartNames {
                cv: &'static str,
                ev: &'static str,
            }

            fn names_of(n: usize) -> PartNames {
                const CV: [&str; $crate::store::group::MAX_BATCH] = [
                    "cv0", "cv1", "cv2", "cv3", "cv4", "cv5", "cv6", "cv7", "cv8", "cv9", "cv10", "cv11", "cv12",
                    "cv13", "cv14", "cv15", "cv16", "cv17", "cv18", "cv19", "cv20", "cv21", "cv22", "cv23", "cv24",
                    "cv25", "cv26", "cv27", "cv28", "cv29", "cv30", "cv31",
                ];
                const EV: [&str; $crate::store::group::MAX_BATCH] = [
                    "ev0", "ev1", "ev2", "ev3", "ev4", "ev5", "ev6", "ev7", "ev8", "ev9", "ev10", "ev11", "ev12",
                    "ev13", "ev14", "ev15", "ev16", "ev17", "ev18", "ev19", "ev20", "ev21", "ev22", "ev23", "ev24",
                    "ev25", "ev26", "ev27", "ev28", "ev29", "ev30", "ev31",
                ];
                PartNames { cv: CV[n % CV.len()], ev: EV[n % EV.len()] }
            }

            /// Record the event's dedupe key; with a guard, only when that condition holds (and a
            /// key that is there already is then an error, never a silent skip).
            fn event_insert(qb: &mut QueryBuilder<$db>, event: &EventKeyRef, now: Millis, guard: Option<&str>) {
                qb.push("INSERT INTO inbound_events (platform, event_id, seen_at) SELECT ")
                    .push_bind(event.platform.as_str())
                    .push(", ")
                    .push_bind(event.event_id.clone())
                    .push(", ")
                    .push_bind(now);
                match guard {
                    Some(g) => {
                        qb.push(format_args!(" WHERE {g}"));
                    }
                    None => {
                        qb.push(" WHERE TRUE ON CONFLICT (platform, event_id) DO NOTHING");
                    }
                }
            }

            /// Write the commit's conversation: insert it at version 1 or move it on from the
            /// version it was read at. With `unseen`, only while that event is not recorded.
            fn conversation_write(
                qb: &mut QueryBuilder<$db>,
                commit: &Commit,
                unseen: Option<&EventKeyRef>,
            ) -> Result<()> {
                let conv = &commit.conversation;
                let reply_to = JsonText::of(&conv.reply_to, "reply address")?;
                let state = JsonText::of(&conv.state, "conversation state")?;
                let unseen_sql = |qb: &mut QueryBuilder<$db>, e: &EventKeyRef| {
                    qb.push(" AND NOT EXISTS (SELECT 1 FROM inbound_events WHERE platform = ")
                        .push_bind(e.platform.as_str())
                        .push(" AND event_id = ")
                        .push_bind(e.event_id.clone())
                        .push(")");
                };
                if conv.expected_version == 0 {
                    qb.push("INSERT INTO conversations \
                        (key, platform, user_id, reply_to, state, version, created_at, updated_at) SELECT ")
                        .push_bind(conv.key.clone())
                        .push(", ")
                        .push_bind(conv.user.platform.as_str())
                        .push(", ")
                        .push_bind(conv.user.id.clone())
                        .push(", ")
                        .push_bind(reply_to)
                        .push(", ")
                        .push_bind(state)
                        .push(", 1, ")
                        .push_bind(commit.now)
                        .push(", ")
                        .push_bind(commit.now)
                        // A WHERE clause either way: SQLite reads `SELECT … ON` as a join without one.
                        .push(" WHERE TRUE");
                    if let Some(e) = unseen {
                        unseen_sql(qb, e);
                    }
                    qb.push(" ON CONFLICT (key) DO NOTHING");
                } else {
                    qb.push("UPDATE conversations SET reply_to = ")
                        .push_bind(reply_to)
                        .push(", state = ")
                        .push_bind(state)
                        .push(", version = version + 1, updated_at = ")
                        .push_bind(commit.now)
                        .push(" WHERE key = ")
                        .push_bind(conv.key.clone())
                        .push(" AND version = ")
                        .push_bind(conv.expected_version);
                    if let Some(e) = unseen {
                        unseen_sql(qb, e);
                    }
                }
                Ok(())
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

                async fn load_for_event(
                    &self,
                    key: &str,
                    requester: &UserRef,
                    limit: i64,
                ) -> Result<(Option<StoredConversation>, Vec<Ticket>)> {
                    // Where the backend can read on the calling thread (SQLite, see
                    // `sqlite::InlineReads`), it does.
                    if let Some(read) = self.inline_load_for_event(key, requester, ticket_limit(limit)) {
                        return read;
                    }
                    // One statement, so one round trip (and on SQLite one hand-off to the
                    // driver's thread): the conversation's row, marked 'c', then the tickets.
                    let rows = sqlx::query(LOAD_FOR_EVENT)
                        .bind(key)
                        .bind(requester.platform.as_str())
                        .bind(&requester.id)
                        .bind(ticket_limit(limit))
                        .fetch_all(self.event_pool())
                        .await
                        .map_err($map_err)?;
                    event_rows(rows)
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
                    self.audit_key()?;
                    self.group.commit(commit).await
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
                        "SELECT id, conversation, ticket_number, speaker_kind, speaker_name, speaker_platform, speaker_id, \
                         text, internal, created_at FROM messages WHERE internal = $2 AND ((conversation = $1 AND ticket_number IS NULL) OR \
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
                        "SELECT conversation, ticket_number, speaker_kind, speaker_name, speaker_platform, speaker_id, \
                         text, internal, created_at FROM messages WHERE ticket_number = $1 ORDER BY created_at, id",
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

                // The outbox's updates are single statements, each atomic without a transaction
                // around it: one call to the database instead of three.
                async fn outbox_done(&self, id: i64, now: Millis) -> Result<()> {
                    sqlx::query(
                        "UPDATE outbox SET status = 'done', sent_at = $1, claimed_by = NULL, \
                         claimed_until = NULL WHERE id = $2",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(self.outbox_pool())
                    .await
                    .map_err($map_err)
                    .map(drop)
                }

                async fn outbox_done_many(&self, ids: &[i64], now: Millis) -> Result<()> {
                    if ids.is_empty() {
                        return Ok(());
                    }
                    let mut qb = QueryBuilder::<$db>::new("UPDATE outbox SET status = 'done', sent_at = ");
                    qb.push_bind(now);
                    qb.push(", claimed_by = NULL, claimed_until = NULL WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(self.outbox_pool()).await.map_err($map_err).map(drop)
                }

                async fn outbox_failed(&self, id: i64, error: &str, next_attempt_at: Option<Millis>) -> Result<()> {
                    sqlx::query(
                        "UPDATE outbox SET status = CASE WHEN $1 IS NULL THEN 'dead' ELSE 'pending' END, \
                         next_attempt_at = COALESCE($1, next_attempt_at), last_error = $2, \
                         claimed_by = NULL, claimed_until = NULL WHERE id = $3",
                    )
                    .bind(next_attempt_at)
                    .bind(error)
                    .bind(id)
                    .execute(self.outbox_pool())
                    .await
                    .map_err($map_err)
                    .map(drop)
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
