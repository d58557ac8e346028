//! The desk's SQL, shared by both backends like `sql.rs`: [`desk_sql!`] stamps out, for one
//! backend, `impl DeskTx` (ticket field changes and timers inside a commit) and
//! `impl DeskStore` (cards, due timers, loads, outbox administration).

use super::Result;
use super::desk::TicketChange;
use crate::domain::{Millis, TicketNumber};

/// The desk's steps inside one commit transaction.
#[async_trait::async_trait]
pub(crate) trait DeskTx: Send {
    /// Apply a field change; returns the old and new value as text for the audit log.
    async fn change_ticket(
        &mut self,
        number: TicketNumber,
        change: &TicketChange,
        now: Millis,
    ) -> Result<Option<(String, String)>>;
    async fn insert_timer(
        &mut self,
        number: TicketNumber,
        kind: &str,
        due_at: Millis,
        now: Millis,
    ) -> Result<()>;
    /// Cancel a ticket's unfired timers of these kinds (all kinds when empty).
    async fn cancel_timers(&mut self, number: TicketNumber, kinds: &[String], now: Millis) -> Result<()>;
    /// Mark a timer fired; false if it already fired or was cancelled.
    async fn fire_timer(&mut self, id: i64, now: Millis) -> Result<bool>;
}

macro_rules! desk_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path $(,)?) => {
        mod desk_shared {
            use super::*;
            use $crate::domain::{Millis, Platform, QueueName, TicketNumber};
            use $crate::store::Result;
            use $crate::store::desk::{DeskStore, OutboxRecord, TicketChange, Timer};
            use $crate::store::desk_sql::DeskTx;
            use $crate::store::json::JsonText;
            use sqlx::{QueryBuilder, Row, Transaction};

            async fn exec(
                q: sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>,
                tx: &mut Transaction<'static, $db>,
            ) -> Result<u64> {
                Ok(q.execute(&mut **tx).await.map_err($map_err)?.rows_affected())
            }

            #[async_trait::async_trait]
            impl DeskTx for Transaction<'static, $db> {
                async fn change_ticket(
                    &mut self,
                    number: TicketNumber,
                    change: &TicketChange,
                    now: Millis,
                ) -> Result<Option<(String, String)>> {
                    let row = sqlx::query("SELECT assignee, priority, queue FROM tickets WHERE number = $1")
                        .bind(number.0)
                        .fetch_optional(&mut **self)
                        .await
                        .map_err($map_err)?;
                    let Some(row) = row else { return Ok(None) };
                    let get = |col: &str| -> Result<Option<String>> { row.try_get(col).map_err($map_err) };
                    let none = || "nobody".to_string();
                    let (old, new, q) = match change {
                        TicketChange::Assignee(a) => (
                            get("assignee")?.unwrap_or_else(none),
                            a.clone().unwrap_or_else(none),
                            sqlx::query("UPDATE tickets SET assignee = $1, updated_at = $2 WHERE number = $3")
                                .bind(a.clone()),
                        ),
                        TicketChange::Priority(p) => (
                            get("priority")?.unwrap_or_default(),
                            p.as_str().to_string(),
                            sqlx::query("UPDATE tickets SET priority = $1, updated_at = $2 WHERE number = $3")
                                .bind(Some(p.as_str().to_string())),
                        ),
                        TicketChange::Queue(q) => (
                            get("queue")?.unwrap_or_default(),
                            q.as_str().to_string(),
                            sqlx::query("UPDATE tickets SET queue = $1, updated_at = $2 WHERE number = $3")
                                .bind(Some(q.as_str().to_string())),
                        ),
                        TicketChange::Sla(s) => {
                            let q = sqlx::query("UPDATE tickets SET sla = $1 WHERE number = $2")
                                .bind(JsonText::of(s, "ticket SLA")?)
                                .bind(number.0);
                            exec(q, self).await?;
                            return Ok(Some((String::new(), String::new())));
                        }
                    };
                    exec(q.bind(now).bind(number.0), self).await?;
                    Ok(Some((old, new)))
                }

                async fn insert_timer(
                    &mut self,
                    number: TicketNumber,
                    kind: &str,
                    due_at: Millis,
                    now: Millis,
                ) -> Result<()> {
                    let q = sqlx::query(
                        "INSERT INTO timers (ticket_number, kind, due_at, created_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(number.0)
                    .bind(kind)
                    .bind(due_at)
                    .bind(now);
                    exec(q, self).await.map(drop)
                }

                async fn cancel_timers(&mut self, number: TicketNumber, kinds: &[String], now: Millis) -> Result<()> {
                    let mut qb = QueryBuilder::<$db>::new("UPDATE timers SET cancelled_at = ");
                    qb.push_bind(now).push(" WHERE ticket_number = ").push_bind(number.0);
                    qb.push(" AND fired_at IS NULL AND cancelled_at IS NULL");
                    if !kinds.is_empty() {
                        qb.push(" AND kind IN (");
                        let mut list = qb.separated(", ");
                        for k in kinds {
                            list.push_bind(k.clone());
                        }
                        qb.push(")");
                    }
                    qb.build().execute(&mut **self).await.map_err($map_err).map(drop)
                }

                async fn fire_timer(&mut self, id: i64, now: Millis) -> Result<bool> {
                    let q = sqlx::query(
                        "UPDATE timers SET fired_at = $1 WHERE id = $2 AND fired_at IS NULL AND cancelled_at IS NULL",
                    )
                    .bind(now)
                    .bind(id);
                    Ok(exec(q, self).await? == 1)
                }
            }

            #[async_trait::async_trait]
            impl DeskStore for $store {
                async fn set_ticket_card(
                    &self,
                    number: TicketNumber,
                    platform: Platform,
                    channel: &str,
                    message_id: &str,
                    now: Millis,
                ) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO ticket_cards (ticket_number, platform, channel, message_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_number, platform, channel) \
                         DO UPDATE SET message_id = excluded.message_id",
                    )
                    .bind(number.0)
                    .bind(platform.as_str())
                    .bind(channel)
                    .bind(message_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($map_err)
                    .map(drop)
                }

                async fn ticket_card(
                    &self,
                    number: TicketNumber,
                    platform: Platform,
                    channel: &str,
                ) -> Result<Option<String>> {
                    sqlx::query_scalar(
                        "SELECT message_id FROM ticket_cards \
                         WHERE ticket_number = $1 AND platform = $2 AND channel = $3",
                    )
                    .bind(number.0)
                    .bind(platform.as_str())
                    .bind(channel)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($map_err)
                }

                async fn ticket_by_thread(
                    &self,
                    platform: Platform,
                    channel: &str,
                    message_id: &str,
                ) -> Result<Option<TicketNumber>> {
                    let n: Option<i64> = sqlx::query_scalar(
                        "SELECT ticket_number FROM ticket_cards \
                         WHERE platform = $1 AND channel = $2 AND message_id = $3",
                    )
                    .bind(platform.as_str())
                    .bind(channel)
                    .bind(message_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($map_err)?;
                    Ok(n.map(TicketNumber))
                }

                async fn due_timers(&self, now: Millis, limit: i64) -> Result<Vec<Timer>> {
                    let rows = sqlx::query(
                        // Read in the order of timers_next_idx and stopped at the limit;
                        // `due_at <= $1` keeps a rescheduled timer with an older retry time waiting.
                        "SELECT id, ticket_number, kind, due_at, attempts FROM timers \
                         WHERE fired_at IS NULL AND cancelled_at IS NULL \
                         AND COALESCE(retry_at, due_at) <= $1 AND due_at <= $1 \
                         ORDER BY COALESCE(retry_at, due_at), id LIMIT $2",
                    )
                    .bind(now)
                    .bind(limit.clamp(1, 1000))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    rows.into_iter()
                        .map(|r| {
                            Ok(Timer {
                                id: r.try_get("id").map_err($map_err)?,
                                ticket: TicketNumber(r.try_get("ticket_number").map_err($map_err)?),
                                kind: r.try_get("kind").map_err($map_err)?,
                                due_at: r.try_get("due_at").map_err($map_err)?,
                                attempts: r.try_get("attempts").map_err($map_err)?,
                            })
                        })
                        .collect()
                }

                async fn timer_failed(&self, id: i64, retry_at: Millis) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "UPDATE timers SET attempts = attempts + 1, retry_at = $1 \
                         WHERE id = $2 AND fired_at IS NULL AND cancelled_at IS NULL",
                    )
                    .bind(retry_at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    tx.commit().await.map_err($map_err)
                }

                async fn assignee_loads(&self, queue: &QueueName) -> Result<Vec<(String, i64)>> {
                    sqlx::query_as(
                        "SELECT assignee, COUNT(*) FROM tickets WHERE queue = $1 AND assignee IS NOT NULL \
                         AND status IN ('open', 'pending') GROUP BY assignee ORDER BY assignee",
                    )
                    .bind(queue.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)
                }

                async fn outbox_list(&self, status: Option<&str>, limit: i64) -> Result<Vec<OutboxRecord>> {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT id, key, platform, status, attempts, next_attempt_at, last_error, created_at, \
                         payload FROM outbox",
                    );
                    if let Some(s) = status {
                        qb.push(" WHERE status = ").push_bind(s.to_string());
                    }
                    qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit.clamp(1, 10_000));
                    let rows = qb.build().fetch_all(&self.pool).await.map_err($map_err)?;
                    rows.into_iter()
                        .map(|r| {
                            let payload: JsonText = r.try_get("payload").map_err($map_err)?;
                            let text = serde_json::from_str::<serde_json::Value>(&payload.0)
                                .ok()
                                .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
                                .unwrap_or_default();
                            Ok(OutboxRecord {
                                id: r.try_get("id").map_err($map_err)?,
                                key: r.try_get("key").map_err($map_err)?,
                                platform: r.try_get("platform").map_err($map_err)?,
                                status: r.try_get("status").map_err($map_err)?,
                                attempts: i32::try_from(r.try_get::<i64, _>("attempts").map_err($map_err)?).unwrap_or(i32::MAX),
                                next_attempt_at: r.try_get("next_attempt_at").map_err($map_err)?,
                                last_error: r.try_get("last_error").map_err($map_err)?,
                                created_at: r.try_get("created_at").map_err($map_err)?,
                                preview: text.chars().take(60).collect(),
                            })
                        })
                        .collect()
                }

                async fn outbox_retry(&self, id: Option<i64>, now: Millis) -> Result<u64> {
                    let mut qb = QueryBuilder::<$db>::new(
                        "UPDATE outbox SET status = 'pending', attempts = 0, last_error = NULL, next_attempt_at = ",
                    );
                    qb.push_bind(now).push(" WHERE status = 'dead'");
                    if let Some(id) = id {
                        qb.push(" AND id = ").push_bind(id);
                    }
                    Ok(qb.build().execute(&self.pool).await.map_err($map_err)?.rows_affected())
                }
            }
        }
    };
}

pub(crate) use desk_sql;
