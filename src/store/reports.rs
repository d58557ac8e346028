//! What the reports need from the store: case events (what happened to each question an
//! employee asked, written inside the event's commit), test-traffic flags, and period reads of
//! tickets and ratings. The SQL, shared by both backends, is stamped out by [`reports_sql!`].

use super::{Result, SlaState};
use crate::domain::{Millis, Priority, QueueName, TicketNumber, TicketStatus, UserRef};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What happened to a question, as recorded for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A new question answered by an intent.
    Answered,
    /// A new question with no intent: KB articles were offered.
    Offered,
    /// A new question that matched nothing.
    NoMatch,
    /// The employee asked for a person straight away and described the problem.
    Direct,
    /// The employee picked one of the offered articles.
    Picked,
    /// "That solved it".
    Solved,
    /// "Not solved" (or "none of these" after articles were offered).
    NotSolved,
}

impl CaseKind {
    pub const ALL: [CaseKind; 7] = [
        CaseKind::Answered,
        CaseKind::Offered,
        CaseKind::NoMatch,
        CaseKind::Direct,
        CaseKind::Picked,
        CaseKind::Solved,
        CaseKind::NotSolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Answered => "answered",
            CaseKind::Offered => "offered",
            CaseKind::NoMatch => "no_match",
            CaseKind::Direct => "direct",
            CaseKind::Picked => "picked",
            CaseKind::Solved => "solved",
            CaseKind::NotSolved => "not_solved",
        }
    }

    /// Does this event start a new case (one "conversation" in the reports)?
    pub fn starts_case(self) -> bool {
        matches!(self, CaseKind::Answered | CaseKind::Offered | CaseKind::NoMatch | CaseKind::Direct)
    }
}

impl std::str::FromStr for CaseKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        CaseKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown case kind `{s}`"))
    }
}

/// A case event to write with a commit; the conversation, user and time come from the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    pub kind: CaseKind,
    pub intent: Option<String>,
    pub article: Option<String>,
    /// The queue a ticket for this question would go to (for the reports' queue filter).
    pub queue: QueueName,
    /// The employee's question (already redacted).
    pub query: String,
}

/// A case event as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    pub conversation: String,
    pub user: UserRef,
    pub kind: CaseKind,
    pub intent: Option<String>,
    pub article: Option<String>,
    pub queue: QueueName,
    pub query: String,
    pub at: Millis,
}

/// What the reports need about one ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketFacts {
    pub number: TicketNumber,
    pub conversation: String,
    pub requester: UserRef,
    pub intent: Option<String>,
    pub queue: QueueName,
    pub priority: Priority,
    pub status: TicketStatus,
    pub created_at: Millis,
    pub resolved_at: Option<Millis>,
    /// The first agent message that reached the employee.
    pub first_response_at: Option<Millis>,
    pub sla: Option<SlaState>,
    /// How many SLA breaches were recorded (`sla_breach` audit entries).
    pub sla_breaches: i64,
}

/// One CSAT rating with its ticket's queue and requester.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsatRecord {
    pub ticket: TicketNumber,
    pub conversation: String,
    pub requester: UserRef,
    pub queue: QueueName,
    pub score: u8,
    pub at: Millis,
}

/// One UTC day in milliseconds.
pub const DAY_MS: Millis = 24 * 3_600_000;

/// Case events of closed days, pre-aggregated (see migrations `0014_report_rollups.sql`); test
/// traffic is already left out and counted in `excluded`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseRollup {
    /// Per day, queue and kind.
    pub days: Vec<CaseDayCount>,
    /// Per queue, kind, intent and article, over all the days.
    pub items: Vec<CaseItemCount>,
    /// Unanswered questions by wording, per day (the same wording on several days comes once
    /// per day).
    pub unanswered: Vec<UnansweredGroup>,
    /// Case events left out as test traffic.
    pub excluded: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseDayCount {
    /// UTC midnight of the day.
    pub day: Millis,
    pub queue: QueueName,
    pub kind: CaseKind,
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseItemCount {
    pub queue: QueueName,
    pub kind: CaseKind,
    pub intent: Option<String>,
    pub article: Option<String>,
    pub n: u64,
}

/// Unanswered questions (no match, not solved) with one wording, queue, kind, intent and
/// article: the first one's time and id (the order the reports take questions in) and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct UnansweredGroup {
    pub queue: QueueName,
    pub kind: CaseKind,
    pub intent: Option<String>,
    pub article: Option<String>,
    pub query: String,
    pub first_at: Millis,
    pub first_id: i64,
    pub n: u64,
}

/// The fingerprint of a testers list a rollup day was built with (order does not matter).
pub fn testers_fingerprint(testers: &[UserRef]) -> String {
    use sha2::Digest;
    let mut ids: Vec<String> = testers.iter().map(|u| format!("{}:{}", u.platform.as_str(), u.id)).collect();
    ids.sort();
    ids.dedup();
    let mut h = sha2::Sha256::new();
    for id in &ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Forget the rollup days before `$1` (their case events were rewritten by a purge); they are
/// rebuilt when a report next needs them.
pub(crate) const FORGET_DAYS_BEFORE: &str = "DELETE FROM report_days WHERE day < $1";
/// Forget every rollup day (an erasure may rewrite any case event's words).
pub(crate) const FORGET_ALL_DAYS: &str = "DELETE FROM report_days";

/// The report step inside one commit transaction.
#[async_trait]
pub(crate) trait ReportTx: Send {
    async fn insert_case_event(
        &mut self,
        conversation: &str,
        user: &UserRef,
        event: &CaseEvent,
        now: Millis,
    ) -> Result<()>;
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Case events with `from <= at < to`, oldest first.
    async fn case_events(&self, from: Millis, to: Millis) -> Result<Vec<CaseRecord>>;
    /// Tickets created with `from <= created_at < to`, by number.
    async fn ticket_facts(&self, from: Millis, to: Millis) -> Result<Vec<TicketFacts>>;
    /// Ratings given with `from <= at < to`, oldest first.
    async fn csat_scores(&self, from: Millis, to: Millis) -> Result<Vec<CsatRecord>>;
    /// Flag a conversation as test traffic (idempotent).
    async fn mark_test_conversation(&self, key: &str, now: Millis) -> Result<()>;
    /// Every conversation flagged as test traffic.
    async fn test_conversations(&self) -> Result<Vec<String>>;
    /// The case events of the whole UTC days `from_day <= day < to_day` (midnights), rolled
    /// up; days not built yet (or built with another testers list) are built first, each in
    /// its own short transaction. Only for closed days: nothing may be added to them later.
    async fn case_rollup(
        &self,
        from_day: Millis,
        to_day: Millis,
        testers: &[UserRef],
        now: Millis,
    ) -> Result<CaseRollup>;
}

fn corrupt(what: &str, e: String) -> super::StoreError {
    super::StoreError::Corrupt(format!("{what}: {e}"))
}

fn user_of(platform: &str, id: String, what: &str) -> Result<UserRef> {
    Ok(UserRef::new(platform.parse().map_err(|e| corrupt(what, e))?, id))
}

fn queue_of(name: &str, what: &str) -> Result<QueueName> {
    QueueName::parse(name).map_err(|e| corrupt(what, e.to_string()))
}

#[derive(sqlx::FromRow)]
pub(crate) struct CaseRow {
    conversation: String,
    platform: String,
    user_id: String,
    kind: String,
    intent: Option<String>,
    article: Option<String>,
    queue: String,
    query: String,
    created_at: i64,
}

impl CaseRow {
    pub(crate) fn into_record(self) -> Result<CaseRecord> {
        let what = "case event";
        Ok(CaseRecord {
            user: user_of(&self.platform, self.user_id, what)?,
            kind: self.kind.parse().map_err(|e| corrupt(what, e))?,
            queue: queue_of(&self.queue, what)?,
            conversation: self.conversation,
            intent: self.intent,
            article: self.article,
            query: self.query,
            at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TicketFactsRow {
    number: i64,
    conversation: String,
    requester_platform: String,
    requester_id: String,
    intent: Option<String>,
    queue: String,
    priority: String,
    status: String,
    created_at: i64,
    resolved_at: Option<i64>,
    first_response_at: Option<i64>,
    sla: Option<super::json::JsonText>,
    sla_breaches: i64,
}

impl TicketFactsRow {
    pub(crate) fn into_facts(self) -> Result<TicketFacts> {
        let what = format!("ticket {}", self.number);
        Ok(TicketFacts {
            number: TicketNumber(self.number),
            requester: user_of(&self.requester_platform, self.requester_id, &what)?,
            queue: queue_of(&self.queue, &what)?,
            priority: self.priority.parse().map_err(|e| corrupt(&what, e))?,
            status: self.status.parse().map_err(|e| corrupt(&what, e))?,
            sla: self.sla.map(|j| j.parse(&format!("{what} SLA state"))).transpose()?,
            conversation: self.conversation,
            intent: self.intent,
            created_at: self.created_at,
            resolved_at: self.resolved_at,
            first_response_at: self.first_response_at,
            sla_breaches: self.sla_breaches,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CsatRow {
    ticket_number: i64,
    conversation: String,
    requester_platform: String,
    requester_id: String,
    queue: String,
    score: i32,
    created_at: i64,
}

impl CsatRow {
    pub(crate) fn into_record(self) -> Result<CsatRecord> {
        let what = format!("rating of ticket {}", self.ticket_number);
        Ok(CsatRecord {
            ticket: TicketNumber(self.ticket_number),
            requester: user_of(&self.requester_platform, self.requester_id, &what)?,
            queue: queue_of(&self.queue, &what)?,
            score: u8::try_from(self.score).map_err(|e| corrupt(&what, e.to_string()))?,
            conversation: self.conversation,
            at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CaseDayRow {
    day: i64,
    queue: String,
    kind: String,
    n: i64,
}

impl CaseDayRow {
    pub(crate) fn into_count(self) -> Result<CaseDayCount> {
        let what = "report rollup";
        Ok(CaseDayCount {
            day: self.day,
            queue: queue_of(&self.queue, what)?,
            kind: self.kind.parse().map_err(|e| corrupt(what, e))?,
            n: u64::try_from(self.n).map_err(|e| corrupt(what, e.to_string()))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CaseItemRow {
    queue: String,
    kind: String,
    intent: Option<String>,
    article: Option<String>,
    n: i64,
}

impl CaseItemRow {
    pub(crate) fn into_count(self) -> Result<CaseItemCount> {
        let what = "report rollup";
        Ok(CaseItemCount {
            queue: queue_of(&self.queue, what)?,
            kind: self.kind.parse().map_err(|e| corrupt(what, e))?,
            intent: self.intent,
            article: self.article,
            n: u64::try_from(self.n).map_err(|e| corrupt(what, e.to_string()))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UnansweredRow {
    queue: String,
    kind: String,
    intent: Option<String>,
    article: Option<String>,
    query: String,
    first_at: i64,
    first_id: i64,
    n: i64,
}

impl UnansweredRow {
    pub(crate) fn into_group(self) -> Result<UnansweredGroup> {
        let what = "report rollup";
        Ok(UnansweredGroup {
            queue: queue_of(&self.queue, what)?,
            kind: self.kind.parse().map_err(|e| corrupt(what, e))?,
            intent: self.intent,
            article: self.article,
            query: self.query,
            first_at: self.first_at,
            first_id: self.first_id,
            n: u64::try_from(self.n).map_err(|e| corrupt(what, e.to_string()))?,
        })
    }
}

/// Test traffic left out of a rollup day: flagged conversations and the testers (`$3`, `$4`…
/// pushed by [`push_testers`]).
pub(crate) const NOT_TEST: &str =
    "NOT EXISTS (SELECT 1 FROM test_conversations t WHERE t.key = c.conversation)";

macro_rules! reports_sql {
    (db: $db:ty, store: $store:ty, map_err: $map_err:path $(,)?) => {
        mod reports_shared {
            use super::*;
            use $crate::domain::{Millis, UserRef};
            use $crate::store::Result;
            use $crate::store::reports::{
                CaseDayRow, CaseEvent, CaseItemRow, CaseRecord, CaseRollup, CaseRow, CsatRecord, CsatRow, DAY_MS,
                NOT_TEST, ReportStore, ReportTx, TicketFacts, TicketFactsRow, UnansweredRow, testers_fingerprint,
            };
            use sqlx::{QueryBuilder, Transaction};

            /// `AND NOT (platform = … AND user_id = …)` for each tester.
            fn push_testers(qb: &mut QueryBuilder<$db>, testers: &[UserRef]) {
                for u in testers {
                    qb.push(" AND NOT (c.platform = ");
                    qb.push_bind(u.platform.as_str().to_string());
                    qb.push(" AND c.user_id = ");
                    qb.push_bind(u.id.clone());
                    qb.push(")");
                }
            }

            /// Build the rollup of the day starting at `day` unless it is there with this
            /// testers list (or a concurrent builder is doing it).
            async fn build_day(store: &$store, day: Millis, testers: &[UserRef], fp: &str, now: Millis) -> Result<()> {
                let mut tx = store.begin_write().await?;
                sqlx::query("DELETE FROM report_days WHERE day = $1 AND testers <> $2")
                    .bind(day)
                    .bind(fp)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                let claimed = sqlx::query(
                    "INSERT INTO report_days (day, testers, excluded, built_at) VALUES ($1, $2, 0, $3) \
                     ON CONFLICT (day) DO NOTHING",
                )
                .bind(day)
                .bind(fp)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?
                .rows_affected();
                if claimed == 0 {
                    return tx.rollback().await.map_err($map_err);
                }
                for sql in ["DELETE FROM report_case_days WHERE day = $1", "DELETE FROM report_unanswered_days WHERE day = $1"] {
                    sqlx::query(sql)
                        .bind(day)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                }
                fn period(qb: &mut QueryBuilder<$db>, day: Millis) {
                    qb.push(" FROM case_events c WHERE c.created_at >= ");
                    qb.push_bind(day);
                    qb.push(" AND c.created_at < ");
                    qb.push_bind(day + DAY_MS);
                }
                let mut qb = QueryBuilder::<$db>::new("INSERT INTO report_case_days (day, queue, kind, intent, article, n) SELECT ");
                qb.push_bind(day);
                qb.push(", c.queue, c.kind, c.intent, c.article, COUNT(*)");
                period(&mut qb, day);
                qb.push(" AND ").push(NOT_TEST);
                push_testers(&mut qb, testers);
                qb.push(" GROUP BY c.queue, c.kind, c.intent, c.article");
                qb.build().execute(&mut *tx).await.map_err($map_err)?;

                let mut qb = QueryBuilder::<$db>::new(
                    "INSERT INTO report_unanswered_days (day, queue, kind, intent, article, first_id, first_at, n) \
                     SELECT ",
                );
                qb.push_bind(day);
                qb.push(
                    ", queue, kind, intent, article, id, created_at, n FROM (SELECT c.queue, c.kind, c.intent, \
                     c.article, c.id, c.created_at, ROW_NUMBER() OVER (PARTITION BY c.queue, c.kind, c.intent, \
                     c.article, c.query ORDER BY c.created_at, c.id) AS rn, COUNT(*) OVER (PARTITION BY c.queue, \
                     c.kind, c.intent, c.article, c.query) AS n",
                );
                period(&mut qb, day);
                qb.push(" AND c.kind IN ('no_match', 'not_solved') AND ").push(NOT_TEST);
                push_testers(&mut qb, testers);
                qb.push(") g WHERE rn = 1");
                qb.build().execute(&mut *tx).await.map_err($map_err)?;

                // What was left out: every case event of the day less the ones rolled up.
                let mut qb = QueryBuilder::<$db>::new("UPDATE report_days SET excluded = (SELECT COUNT(*)");
                period(&mut qb, day);
                qb.push(") - (SELECT COALESCE(SUM(n), 0) FROM report_case_days WHERE day = ");
                qb.push_bind(day);
                qb.push(") WHERE day = ");
                qb.push_bind(day);
                qb.build().execute(&mut *tx).await.map_err($map_err)?;
                tx.commit().await.map_err($map_err)
            }

            #[async_trait::async_trait]
            impl ReportTx for Transaction<'static, $db> {
                async fn insert_case_event(
                    &mut self,
                    conversation: &str,
                    user: &UserRef,
                    event: &CaseEvent,
                    now: Millis,
                ) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO case_events (conversation, platform, user_id, kind, intent, article, \
                         queue, query, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(conversation)
                    .bind(user.platform.as_str())
                    .bind(&user.id)
                    .bind(event.kind.as_str())
                    .bind(event.intent.as_deref())
                    .bind(event.article.as_deref())
                    .bind(event.queue.as_str())
                    .bind(&event.query)
                    .bind(now)
                    .execute(&mut **self)
                    .await
                    .map_err($map_err)?;
                    Ok(())
                }
            }

            /// Rows of `sql` (which binds the period as `$1 <= t < $2`), each turned into `T`.
            async fn in_period<R, T>(
                store: &$store,
                sql: &'static str,
                from: Millis,
                to: Millis,
                into: fn(R) -> Result<T>,
            ) -> Result<Vec<T>>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            {
                let rows: Vec<R> =
                    sqlx::query_as(sql).bind(from).bind(to).fetch_all(&store.pool).await.map_err($map_err)?;
                rows.into_iter().map(into).collect()
            }

            #[async_trait::async_trait]
            impl ReportStore for $store {
                async fn case_events(&self, from: Millis, to: Millis) -> Result<Vec<CaseRecord>> {
                    in_period(
                        self,
                        "SELECT conversation, platform, user_id, kind, intent, article, queue, query, created_at \
                         FROM case_events WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id",
                        from,
                        to,
                        CaseRow::into_record,
                    )
                    .await
                }

                async fn ticket_facts(&self, from: Millis, to: Millis) -> Result<Vec<TicketFacts>> {
                    in_period(
                        self,
                        "SELECT t.number, t.conversation, t.requester_platform, t.requester_id, t.intent, \
                         t.queue, t.priority, t.status, t.created_at, t.resolved_at, t.sla, \
                         (SELECT MIN(m.created_at) FROM messages m WHERE m.ticket_number = t.number \
                            AND m.speaker_kind = 'agent' AND m.internal = FALSE) AS first_response_at, \
                         (SELECT COUNT(*) FROM ticket_events e WHERE e.ticket_number = t.number \
                            AND e.kind = 'sla_breach') AS sla_breaches \
                         FROM tickets t WHERE t.created_at >= $1 AND t.created_at < $2 ORDER BY t.number",
                        from,
                        to,
                        TicketFactsRow::into_facts,
                    )
                    .await
                }

                async fn csat_scores(&self, from: Millis, to: Millis) -> Result<Vec<CsatRecord>> {
                    in_period(
                        self,
                        "SELECT c.ticket_number, t.conversation, t.requester_platform, t.requester_id, \
                         t.queue, c.score, c.created_at FROM csat c JOIN tickets t ON t.number = c.ticket_number \
                         WHERE c.created_at >= $1 AND c.created_at < $2 ORDER BY c.created_at, c.ticket_number",
                        from,
                        to,
                        CsatRow::into_record,
                    )
                    .await
                }

                async fn mark_test_conversation(&self, key: &str, now: Millis) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    let added = sqlx::query(
                        "INSERT INTO test_conversations (key, created_at) VALUES ($1, $2) \
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?
                    .rows_affected();
                    if added > 0 {
                        // The days its questions were rolled up into are rebuilt without them.
                        sqlx::query(
                            "DELETE FROM report_days WHERE day IN (SELECT DISTINCT created_at - (created_at % $2) \
                             FROM case_events WHERE conversation = $1)",
                        )
                        .bind(key)
                        .bind(DAY_MS)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn case_rollup(
                    &self,
                    from_day: Millis,
                    to_day: Millis,
                    testers: &[UserRef],
                    now: Millis,
                ) -> Result<CaseRollup> {
                    let fp = testers_fingerprint(testers);
                    let built: Vec<i64> = sqlx::query_scalar(
                        "SELECT day FROM report_days WHERE day >= $1 AND day < $2 AND testers = $3",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .bind(&fp)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    let built: std::collections::HashSet<i64> = built.into_iter().collect();
                    let mut day = from_day;
                    while day < to_day {
                        if !built.contains(&day) {
                            build_day(self, day, testers, &fp, now).await?;
                        }
                        day += DAY_MS;
                    }
                    // One snapshot for all reads (SQLite: one read transaction; PostgreSQL:
                    // each statement sees committed days, which only ever get rebuilt whole).
                    let mut tx = self.pool.begin().await.map_err($map_err)?;
                    let days: Vec<CaseDayRow> = sqlx::query_as(
                        "SELECT day, queue, kind, CAST(SUM(n) AS BIGINT) AS n FROM report_case_days WHERE day >= $1 AND day < $2 \
                         GROUP BY day, queue, kind",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let items: Vec<CaseItemRow> = sqlx::query_as(
                        "SELECT queue, kind, intent, article, CAST(SUM(n) AS BIGINT) AS n FROM report_case_days \
                         WHERE day >= $1 AND day < $2 GROUP BY queue, kind, intent, article",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let unanswered: Vec<UnansweredRow> = sqlx::query_as(
                        "SELECT u.queue, u.kind, u.intent, u.article, c.query, u.first_at, u.first_id, u.n \
                         FROM report_unanswered_days u JOIN case_events c ON c.id = u.first_id \
                         WHERE u.day >= $1 AND u.day < $2",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    let excluded: Option<i64> = sqlx::query_scalar(
                        "SELECT CAST(SUM(excluded) AS BIGINT) FROM report_days WHERE day >= $1 AND day < $2",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(CaseRollup {
                        days: days.into_iter().map(CaseDayRow::into_count).collect::<Result<_>>()?,
                        items: items.into_iter().map(CaseItemRow::into_count).collect::<Result<_>>()?,
                        unanswered: unanswered.into_iter().map(UnansweredRow::into_group).collect::<Result<_>>()?,
                        excluded: excluded.unwrap_or(0).max(0) as u64,
                    })
                }

                async fn test_conversations(&self) -> Result<Vec<String>> {
                    sqlx::query_scalar("SELECT key FROM test_conversations ORDER BY key")
                        .fetch_all(&self.pool)
                        .await
                        .map_err($map_err)
                }
            }
        }
    };
}

pub(crate) use reports_sql;
