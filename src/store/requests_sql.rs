//! The requests' SQL, shared by both backends like `desk_sql.rs`: [`requests_sql!`] stamps
//! out, for one backend, `impl RequestTx` (request rows, decisions and seats inside a commit)
//! and `impl RequestStore` (the reads).

macro_rules! requests_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path $(,)?) => {
        mod requests_shared {
            use super::*;
            use $crate::domain::{Millis, UserRef};
            use $crate::store::json::JsonText;
            use $crate::store::requests::{
                Decision, Holding, NewDecision, NewRequest, NewReviewItem, PlannedStep, Request, RequestNumber,
                RequestStatus, RequestStore, RequestTimer, RequestTx, ReviewItem, TimerKind,
            };
            use $crate::store::{Result, StoreError};
            use sqlx::{Row, Transaction};

            type DbRow = <$db as sqlx::Database>::Row;

            async fn exec(
                q: sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>,
                tx: &mut Transaction<'static, $db>,
            ) -> Result<u64> {
                Ok(q.execute(&mut **tx).await.map_err($map_err)?.rows_affected())
            }

            fn corrupt(what: &str, e: String) -> StoreError {
                StoreError::Corrupt(format!("{what}: {e}"))
            }

            fn user(r: &DbRow, platform: &str, id: &str, what: &str) -> Result<UserRef> {
                let p: String = r.try_get(platform).map_err($map_err)?;
                let id: String = r.try_get(id).map_err($map_err)?;
                Ok(UserRef::new(p.parse().map_err(|e| corrupt(what, e))?, id))
            }

            fn request_from_row(r: &DbRow) -> Result<Request> {
                let status: String = r.try_get("status").map_err($map_err)?;
                let reply_to: JsonText = r.try_get("reply_to").map_err($map_err)?;
                let fields: JsonText = r.try_get("fields").map_err($map_err)?;
                let steps: JsonText = r.try_get("steps").map_err($map_err)?;
                Ok(Request {
                    number: RequestNumber(r.try_get("number").map_err($map_err)?),
                    item: r.try_get("item").map_err($map_err)?,
                    item_title: r.try_get("item_title").map_err($map_err)?,
                    requester: user(r, "requester_platform", "requester_id", "request")?,
                    requester_name: r.try_get("requester_name").map_err($map_err)?,
                    conversation: r.try_get("conversation").map_err($map_err)?,
                    reply_to: reply_to.parse("request reply address")?,
                    fields: fields.parse("request fields")?,
                    justification: r.try_get("justification").map_err($map_err)?,
                    status: status.parse().map_err(|e| corrupt("request", e))?,
                    step: r.try_get("step").map_err($map_err)?,
                    steps: steps.parse("request steps")?,
                    fulfil: r.try_get("fulfil").map_err($map_err)?,
                    duration_ms: r.try_get("duration_ms").map_err($map_err)?,
                    outcome: r.try_get("outcome").map_err($map_err)?,
                    created_at: r.try_get("created_at").map_err($map_err)?,
                    updated_at: r.try_get("updated_at").map_err($map_err)?,
                    decided_at: r.try_get("decided_at").map_err($map_err)?,
                    extends: r.try_get::<Option<i64>, _>("extends").map_err($map_err)?.map(RequestNumber),
                })
            }

            fn holding_from_row(r: &DbRow) -> Result<Holding> {
                let request: Option<i64> = r.try_get("request_number").map_err($map_err)?;
                Ok(Holding {
                    id: r.try_get("id").map_err($map_err)?,
                    item: r.try_get("item").map_err($map_err)?,
                    holder: user(r, "holder_platform", "holder_id", "seat holding")?,
                    holder_name: r.try_get("holder_name").map_err($map_err)?,
                    request: request.map(RequestNumber),
                    granted_at: r.try_get("granted_at").map_err($map_err)?,
                    expires_at: r.try_get("expires_at").map_err($map_err)?,
                    reviewed_at: r.try_get("reviewed_at").map_err($map_err)?,
                    revoked_at: r.try_get("revoked_at").map_err($map_err)?,
                    revoked_by: r.try_get("revoked_by").map_err($map_err)?,
                    revoke_reason: r.try_get("revoke_reason").map_err($map_err)?,
                })
            }

            fn review_item_from_row(r: &DbRow) -> Result<ReviewItem> {
                let platform: Option<String> = r.try_get("reviewer_platform").map_err($map_err)?;
                let id: Option<String> = r.try_get("reviewer_id").map_err($map_err)?;
                let reviewer = match (platform, id) {
                    (Some(p), Some(id)) => Some(UserRef::new(p.parse().map_err(|e| corrupt("review item", e))?, id)),
                    _ => None,
                };
                Ok(ReviewItem {
                    id: r.try_get("id").map_err($map_err)?,
                    review: r.try_get("review_id").map_err($map_err)?,
                    holding: r.try_get("holding_id").map_err($map_err)?,
                    item: r.try_get("item").map_err($map_err)?,
                    reviewer,
                    escalated_at: r.try_get("escalated_at").map_err($map_err)?,
                    decision: r.try_get("decision").map_err($map_err)?,
                    decided_by: r.try_get("decided_by").map_err($map_err)?,
                    reason: r.try_get("reason").map_err($map_err)?,
                    decided_at: r.try_get("decided_at").map_err($map_err)?,
                })
            }

            #[async_trait::async_trait]
            impl RequestTx for Transaction<'static, $db> {
                async fn insert_request(&mut self, r: &NewRequest, now: Millis) -> Result<RequestNumber> {
                    let number: i64 =
                        sqlx::query_scalar("UPDATE request_seq SET next = next + 1 WHERE id = 1 RETURNING next - 1")
                            .fetch_one(&mut **self)
                            .await
                            .map_err($map_err)?;
                    let q = sqlx::query(
                        "INSERT INTO requests (number, item, item_title, requester_platform, requester_id, \
                         requester_name, conversation, reply_to, fields, justification, status, step, steps, \
                         fulfil, duration_ms, created_at, updated_at, extends) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17)",
                    )
                    .bind(number)
                    .bind(&r.item)
                    .bind(&r.item_title)
                    .bind(r.requester.platform.as_str())
                    .bind(&r.requester.id)
                    .bind(r.requester_name.as_deref())
                    .bind(&r.conversation)
                    .bind(JsonText::of(&r.reply_to, "reply address")?)
                    .bind(JsonText::of(&r.fields, "request fields")?)
                    .bind(&r.justification)
                    .bind(r.status.as_str())
                    .bind(r.step)
                    .bind(JsonText::of(&r.steps, "request steps")?)
                    .bind(&r.fulfil)
                    .bind(r.duration_ms)
                    .bind(now)
                    .bind(r.extends.map(|n| n.0));
                    exec(q, self).await?;
                    Ok(RequestNumber(number))
                }

                async fn insert_decision(&mut self, number: RequestNumber, d: &NewDecision, now: Millis) -> Result<()> {
                    let q = sqlx::query(
                        "INSERT INTO request_decisions (request_number, step, approver_platform, approver_id, \
                         approver_name, decision, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(number.0)
                    .bind(d.step)
                    .bind(d.approver.platform.as_str())
                    .bind(&d.approver.id)
                    .bind(d.approver_name.as_deref())
                    .bind(if d.approve { "approve" } else { "deny" })
                    .bind(d.reason.as_deref())
                    .bind(now);
                    exec(q, self).await?;
                    Ok(())
                }

                async fn advance_request(
                    &mut self,
                    number: RequestNumber,
                    status: RequestStatus,
                    step: i64,
                    outcome: Option<&str>,
                    now: Millis,
                ) -> Result<bool> {
                    let decided = !matches!(status, RequestStatus::Pending);
                    let q = sqlx::query(
                        "UPDATE requests SET status = $1, step = $2, outcome = COALESCE($3, outcome), \
                         updated_at = $4, decided_at = CASE WHEN $5 THEN COALESCE(decided_at, $4) ELSE decided_at END \
                         WHERE number = $6",
                    )
                    .bind(status.as_str())
                    .bind(step)
                    .bind(outcome)
                    .bind(now)
                    .bind(decided)
                    .bind(number.0);
                    Ok(exec(q, self).await? == 1)
                }

                async fn take_seat(
                    &mut self,
                    number: RequestNumber,
                    item: &str,
                    seats: Option<u32>,
                    expires_at: Option<Millis>,
                    now: Millis,
                ) -> Result<Option<UserRef>> {
                    let q = sqlx::query("INSERT INTO seat_pools (item, used) VALUES ($1, 0) ON CONFLICT (item) DO NOTHING")
                        .bind(item);
                    exec(q, self).await?;
                    let q = sqlx::query("UPDATE seat_pools SET used = used + 1 WHERE item = $1 AND used < $2")
                        .bind(item)
                        .bind(seats.map_or(i64::MAX, i64::from));
                    if exec(q, self).await? != 1 {
                        return Ok(None);
                    }
                    let row = sqlx::query(
                        "SELECT requester_platform, requester_id, requester_name FROM requests WHERE number = $1",
                    )
                    .bind(number.0)
                    .fetch_optional(&mut **self)
                    .await
                    .map_err($map_err)?
                    .ok_or_else(|| StoreError::Database(format!("request {number} does not exist")))?;
                    let holder = user(&row, "requester_platform", "requester_id", "request")?;
                    let name: Option<String> = row.try_get("requester_name").map_err($map_err)?;
                    let q = sqlx::query(
                        "INSERT INTO seat_holdings (item, holder_platform, holder_id, holder_name, request_number, \
                         granted_at, expires_at, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
                    )
                    .bind(item)
                    .bind(holder.platform.as_str())
                    .bind(&holder.id)
                    .bind(name)
                    .bind(number.0)
                    .bind(now)
                    .bind(expires_at);
                    exec(q, self).await?;
                    Ok(Some(holder))
                }

                async fn extend_seat(
                    &mut self,
                    from: RequestNumber,
                    number: RequestNumber,
                    expires_at: Option<Millis>,
                ) -> Result<bool> {
                    let q = sqlx::query(
                        "UPDATE seat_holdings SET request_number = $1, expires_at = $2 \
                         WHERE request_number = $3 AND revoked_at IS NULL",
                    )
                    .bind(number.0)
                    .bind(expires_at)
                    .bind(from.0);
                    Ok(exec(q, self).await? == 1)
                }

                async fn set_request_steps(
                    &mut self,
                    number: RequestNumber,
                    steps: &[PlannedStep],
                    now: Millis,
                ) -> Result<bool> {
                    let q = sqlx::query("UPDATE requests SET steps = $1, updated_at = $2 WHERE number = $3")
                        .bind(JsonText::of(&steps, "request steps")?)
                        .bind(now)
                        .bind(number.0);
                    Ok(exec(q, self).await? == 1)
                }

                async fn insert_request_timer(
                    &mut self,
                    kind: TimerKind,
                    target: i64,
                    step: Option<i64>,
                    due_at: Millis,
                    now: Millis,
                ) -> Result<()> {
                    let q = sqlx::query(
                        "INSERT INTO request_timers (kind, target, step, due_at, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(kind.as_str())
                    .bind(target)
                    .bind(step)
                    .bind(due_at)
                    .bind(now);
                    exec(q, self).await?;
                    Ok(())
                }

                async fn fire_request_timer(&mut self, id: i64, now: Millis) -> Result<bool> {
                    let q = sqlx::query("UPDATE request_timers SET fired_at = $1 WHERE id = $2 AND fired_at IS NULL")
                        .bind(now)
                        .bind(id);
                    Ok(exec(q, self).await? == 1)
                }

                async fn insert_review(
                    &mut self,
                    scope: &str,
                    by: &str,
                    due_at: Millis,
                    items: &[NewReviewItem],
                    now: Millis,
                ) -> Result<(i64, Vec<i64>)> {
                    let review: i64 = sqlx::query_scalar(
                        "INSERT INTO access_reviews (scope, started_by, started_at, due_at) VALUES ($1, $2, $3, $4) \
                         RETURNING id",
                    )
                    .bind(scope)
                    .bind(by)
                    .bind(now)
                    .bind(due_at)
                    .fetch_one(&mut **self)
                    .await
                    .map_err($map_err)?;
                    let mut ids = Vec::with_capacity(items.len());
                    for it in items {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO access_review_items (review_id, holding_id, item, reviewer_platform, reviewer_id) \
                             VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        )
                        .bind(review)
                        .bind(it.holding)
                        .bind(&it.item)
                        .bind(it.reviewer.as_ref().map(|u| u.platform.as_str()))
                        .bind(it.reviewer.as_ref().map(|u| u.id.as_str()))
                        .fetch_one(&mut **self)
                        .await
                        .map_err($map_err)?;
                        ids.push(id);
                    }
                    Ok((review, ids))
                }

                async fn decide_review_item(
                    &mut self,
                    id: i64,
                    keep: bool,
                    by: &str,
                    reason: &str,
                    now: Millis,
                ) -> Result<bool> {
                    let q = sqlx::query(
                        "UPDATE access_review_items SET decision = $1, decided_by = $2, reason = $3, decided_at = $4 \
                         WHERE id = $5 AND decision IS NULL",
                    )
                    .bind(if keep { "keep" } else { "remove" })
                    .bind(by)
                    .bind(reason)
                    .bind(now)
                    .bind(id);
                    if exec(q, self).await? != 1 {
                        return Ok(false);
                    }
                    if keep {
                        let q = sqlx::query(
                            "UPDATE seat_holdings SET reviewed_at = $1 \
                             WHERE id = (SELECT holding_id FROM access_review_items WHERE id = $2)",
                        )
                        .bind(now)
                        .bind(id);
                        exec(q, self).await?;
                    }
                    Ok(true)
                }

                async fn escalate_review_item(&mut self, id: i64, now: Millis) -> Result<()> {
                    let q = sqlx::query(
                        "UPDATE access_review_items SET escalated_at = COALESCE(escalated_at, $1) WHERE id = $2",
                    )
                    .bind(now)
                    .bind(id);
                    exec(q, self).await?;
                    Ok(())
                }

                async fn free_seat(
                    &mut self,
                    item: &str,
                    holder: &UserRef,
                    actor: &str,
                    reason: &str,
                    now: Millis,
                ) -> Result<bool> {
                    let q = sqlx::query(
                        "UPDATE seat_holdings SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
                         WHERE item = $4 AND holder_platform = $5 AND holder_id = $6 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(actor)
                    .bind(reason)
                    .bind(item)
                    .bind(holder.platform.as_str())
                    .bind(&holder.id);
                    if exec(q, self).await? != 1 {
                        return Ok(false);
                    }
                    let q = sqlx::query("UPDATE seat_pools SET used = used - 1 WHERE item = $1 AND used > 0").bind(item);
                    exec(q, self).await?;
                    Ok(true)
                }
            }

            #[async_trait::async_trait]
            impl RequestStore for $store {
                async fn request(&self, number: RequestNumber) -> Result<Option<Request>> {
                    let row = sqlx::query("SELECT * FROM requests WHERE number = $1")
                        .bind(number.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($map_err)?;
                    row.as_ref().map(request_from_row).transpose()
                }

                async fn requests(&self, status: Option<RequestStatus>, limit: i64) -> Result<Vec<Request>> {
                    let rows = match status {
                        Some(s) => sqlx::query("SELECT * FROM requests WHERE status = $1 ORDER BY number DESC LIMIT $2")
                            .bind(s.as_str())
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await,
                        None => sqlx::query("SELECT * FROM requests ORDER BY number DESC LIMIT $1")
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await,
                    }
                    .map_err($map_err)?;
                    rows.iter().map(request_from_row).collect()
                }

                async fn waiting_line(&self, item: &str) -> Result<Vec<Request>> {
                    let rows = sqlx::query(
                        "SELECT * FROM requests WHERE item = $1 AND status = 'waiting' ORDER BY decided_at, number",
                    )
                    .bind(item)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    rows.iter().map(request_from_row).collect()
                }

                async fn request_decisions(&self, number: RequestNumber) -> Result<Vec<Decision>> {
                    let rows = sqlx::query("SELECT * FROM request_decisions WHERE request_number = $1 ORDER BY id")
                        .bind(number.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($map_err)?;
                    rows.iter()
                        .map(|r| {
                            let decision: String = r.try_get("decision").map_err($map_err)?;
                            Ok(Decision {
                                request: number,
                                step: r.try_get("step").map_err($map_err)?,
                                approver: user(r, "approver_platform", "approver_id", "request decision")?,
                                approver_name: r.try_get("approver_name").map_err($map_err)?,
                                approve: decision == "approve",
                                reason: r.try_get("reason").map_err($map_err)?,
                                at: r.try_get("at").map_err($map_err)?,
                            })
                        })
                        .collect()
                }

                async fn holdings(&self, item: Option<&str>, include_revoked: bool) -> Result<Vec<Holding>> {
                    let rows = sqlx::query(
                        "SELECT * FROM seat_holdings WHERE ($1 OR revoked_at IS NULL) \
                         AND item = COALESCE($2, item) ORDER BY id",
                    )
                    .bind(include_revoked)
                    .bind(item)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    rows.iter().map(holding_from_row).collect()
                }

                async fn seats_used(&self, item: &str) -> Result<i64> {
                    let used: Option<i64> = sqlx::query_scalar("SELECT used FROM seat_pools WHERE item = $1")
                        .bind(item)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($map_err)?;
                    Ok(used.unwrap_or(0))
                }

                async fn holding_for_request(&self, number: RequestNumber) -> Result<Option<Holding>> {
                    let row = sqlx::query(
                        "SELECT * FROM seat_holdings WHERE request_number = $1 AND revoked_at IS NULL ORDER BY id LIMIT 1",
                    )
                    .bind(number.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($map_err)?;
                    row.as_ref().map(holding_from_row).transpose()
                }

                async fn holding(&self, id: i64) -> Result<Option<Holding>> {
                    let row = sqlx::query("SELECT * FROM seat_holdings WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($map_err)?;
                    row.as_ref().map(holding_from_row).transpose()
                }

                async fn due_request_timers(&self, now: Millis, limit: i64) -> Result<Vec<RequestTimer>> {
                    let rows = sqlx::query(
                        "SELECT id, kind, target, step, due_at, attempts FROM request_timers \
                         WHERE fired_at IS NULL AND due_at <= $1 AND (retry_at IS NULL OR retry_at <= $1) \
                         ORDER BY COALESCE(retry_at, due_at), id LIMIT $2",
                    )
                    .bind(now)
                    .bind(limit.clamp(1, 1000))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    rows.iter()
                        .map(|r| {
                            let kind: String = r.try_get("kind").map_err($map_err)?;
                            Ok(RequestTimer {
                                id: r.try_get("id").map_err($map_err)?,
                                kind: kind.parse().map_err(|e| corrupt("request timer", e))?,
                                target: r.try_get("target").map_err($map_err)?,
                                step: r.try_get("step").map_err($map_err)?,
                                due_at: r.try_get("due_at").map_err($map_err)?,
                                attempts: r.try_get("attempts").map_err($map_err)?,
                            })
                        })
                        .collect()
                }

                async fn request_timer_failed(&self, id: i64, retry_at: Millis) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "UPDATE request_timers SET attempts = attempts + 1, retry_at = $1 WHERE id = $2 AND fired_at IS NULL",
                    )
                    .bind(retry_at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    tx.commit().await.map_err($map_err)
                }

                async fn review_item(&self, id: i64) -> Result<Option<ReviewItem>> {
                    let row = sqlx::query("SELECT * FROM access_review_items WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($map_err)?;
                    row.as_ref().map(review_item_from_row).transpose()
                }

                async fn open_review_item(&self, holding: i64) -> Result<Option<ReviewItem>> {
                    let row = sqlx::query(
                        "SELECT * FROM access_review_items WHERE holding_id = $1 AND decision IS NULL \
                         ORDER BY id DESC LIMIT 1",
                    )
                    .bind(holding)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($map_err)?;
                    row.as_ref().map(review_item_from_row).transpose()
                }

                async fn review_items(&self, review: i64) -> Result<Vec<ReviewItem>> {
                    let rows = sqlx::query("SELECT * FROM access_review_items WHERE review_id = $1 ORDER BY id")
                        .bind(review)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($map_err)?;
                    rows.iter().map(review_item_from_row).collect()
                }

                async fn open_extension(&self, number: RequestNumber) -> Result<Option<RequestNumber>> {
                    let n: Option<i64> = sqlx::query_scalar(
                        "SELECT number FROM requests WHERE extends = $1 AND status IN ('pending', 'waiting') \
                         ORDER BY number LIMIT 1",
                    )
                    .bind(number.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($map_err)?;
                    Ok(n.map(RequestNumber))
                }
            }
        }
    };
}

pub(crate) use requests_sql;
