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

impl CaseRollup {
    /// Add another range's counts (ranges that do not overlap).
    pub fn add(&mut self, other: CaseRollup) {
        self.days.extend(other.days);
        self.items.extend(other.items);
        self.unanswered.extend(other.unanswered);
        self.excluded += other.excluded;
    }
}

/// One UTC day in milliseconds.
pub const DAY_MS: Millis = 24 * 3_600_000;

impl TicketFacts {
    /// A ticket with SLA targets is breached when a breach was recorded or its first response
    /// or resolution came after the due time.
    pub fn breached(&self) -> bool {
        let Some(sla) = &self.sla else { return false };
        let late = |done: Option<Millis>, due: Option<Millis>| matches!((done, due), (Some(d), Some(due)) if d > due);
        self.sla_breaches > 0
            || late(self.first_response_at.or(sla.first_response_at), sla.first_response_due)
            || late(self.resolved_at, sla.resolution_due)
    }
}

/// The tickets created and the ratings given on one closed UTC day in one queue, rolled up
/// (see migrations `0016_report_ticket_rollups.sql`); test traffic is already left out.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketDayCount {
    /// UTC midnight of the day.
    pub day: Millis,
    pub queue: QueueName,
    pub filed: u64,
    pub resolved: u64,
    pub sla_tickets: u64,
    pub sla_breached: u64,
    /// First-response times of the day's tickets that have one, sorted.
    pub first_response: Vec<i64>,
    /// Resolution times of the day's resolved tickets, sorted.
    pub resolution: Vec<i64>,
    /// Ratings given that day: how many of 1, 2, 3, 4 and 5.
    pub csat: [u64; 5],
}

/// Tickets and ratings of closed days, pre-aggregated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketRollup {
    /// The days read from the rollups (midnights, ascending); a day of the range missing here
    /// changed after it was built and before it was read, and is read row by row.
    pub days: Vec<Millis>,
    /// Per day and queue.
    pub counts: Vec<TicketDayCount>,
    /// Test-traffic tickets and ratings left out.
    pub excluded: u64,
}

/// Sorted durations as stored: decimal milliseconds, comma-separated.
pub(crate) fn encode_durations(v: &[i64]) -> String {
    let mut out = String::with_capacity(v.len() * 8);
    for (i, d) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&d.to_string());
    }
    out
}

pub(crate) fn decode_durations(s: &str) -> Result<Vec<i64>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|d| d.parse().map_err(|_| corrupt("report rollup", format!("a duration `{d}`"))))
        .collect()
}

/// Roll up one day's tickets (created that day) and ratings (given that day) per queue, leaving
/// out test traffic: returns the per-queue counts and how many rows were left out.
pub(crate) fn roll_up_day(
    day: Millis,
    tickets: &[TicketFacts],
    csat: &[CsatRecord],
    flagged: &std::collections::HashSet<String>,
    testers: &[UserRef],
) -> (Vec<TicketDayCount>, u64) {
    let is_test = |c: &str, u: &UserRef| flagged.contains(c) || testers.contains(u);
    let mut by_queue: std::collections::BTreeMap<String, TicketDayCount> = std::collections::BTreeMap::new();
    let mut excluded = 0u64;
    fn slot<'m>(
        by_queue: &'m mut std::collections::BTreeMap<String, TicketDayCount>,
        day: Millis,
        q: &QueueName,
    ) -> &'m mut TicketDayCount {
        by_queue.entry(q.as_str().to_string()).or_insert_with(|| TicketDayCount {
            day,
            queue: q.clone(),
            filed: 0,
            resolved: 0,
            sla_tickets: 0,
            sla_breached: 0,
            first_response: Vec::new(),
            resolution: Vec::new(),
            csat: [0; 5],
        })
    }
    for t in tickets {
        if is_test(&t.conversation, &t.requester) {
            excluded += 1;
            continue;
        }
        let c = slot(&mut by_queue, day, &t.queue);
        c.filed += 1;
        if let Some(at) = t.resolved_at {
            c.resolved += 1;
            c.resolution.push(at - t.created_at);
        }
        if let Some(at) = t.first_response_at {
            c.first_response.push(at - t.created_at);
        }
        if t.sla.is_some() {
            c.sla_tickets += 1;
            c.sla_breached += u64::from(t.breached());
        }
    }
    for r in csat {
        if is_test(&r.conversation, &r.requester) {
            excluded += 1;
            continue;
        }
        if let Some(n) =
            (r.score as usize).checked_sub(1).and_then(|i| slot(&mut by_queue, day, &r.queue).csat.get_mut(i))
        {
            *n += 1;
        }
    }
    let mut out: Vec<TicketDayCount> = by_queue.into_values().collect();
    for c in &mut out {
        c.first_response.sort_unstable();
        c.resolution.sort_unstable();
    }
    (out, excluded)
}

#[derive(sqlx::FromRow)]
pub(crate) struct TicketDayRow {
    day: i64,
    queue: String,
    testers: String,
    filed: i64,
    resolved: i64,
    sla_tickets: i64,
    sla_breached: i64,
    first_response: String,
    resolution: String,
    csat_1: i64,
    csat_2: i64,
    csat_3: i64,
    csat_4: i64,
    csat_5: i64,
    excluded: i64,
}

/// The rows of [`TicketDayRow`]s read in one statement, into a rollup: only the days whose
/// marker row (empty queue) is there and was built with the testers fingerprint `fp`.
pub(crate) fn ticket_rollup_of(rows: Vec<TicketDayRow>, fp: &str) -> Result<TicketRollup> {
    let n = |v: i64| u64::try_from(v).map_err(|e| corrupt("report rollup", e.to_string()));
    let days: std::collections::BTreeSet<i64> =
        rows.iter().filter(|r| r.queue.is_empty() && r.testers == fp).map(|r| r.day).collect();
    let mut out = TicketRollup { days: days.iter().copied().collect(), ..Default::default() };
    for r in rows.into_iter().filter(|r| days.contains(&r.day) && r.testers == fp) {
        if r.queue.is_empty() {
            out.excluded += n(r.excluded)?;
            continue;
        }
        out.counts.push(TicketDayCount {
            day: r.day,
            queue: queue_of(&r.queue, "report rollup")?,
            filed: n(r.filed)?,
            resolved: n(r.resolved)?,
            sla_tickets: n(r.sla_tickets)?,
            sla_breached: n(r.sla_breached)?,
            first_response: decode_durations(&r.first_response)?,
            resolution: decode_durations(&r.resolution)?,
            csat: [n(r.csat_1)?, n(r.csat_2)?, n(r.csat_3)?, n(r.csat_4)?, n(r.csat_5)?],
        });
    }
    Ok(out)
}

/// Tickets created `$1 <= created_at < $2`: what the reports need of each.
pub(crate) const TICKET_FACTS: &str = "SELECT t.number, t.conversation, t.requester_platform, t.requester_id, t.intent, \
     t.queue, t.priority, t.status, t.created_at, t.resolved_at, t.sla, \
     (SELECT MIN(m.created_at) FROM messages m WHERE m.ticket_number = t.number \
        AND m.speaker_kind = 'agent' AND m.internal = FALSE) AS first_response_at, \
     (SELECT COUNT(*) FROM ticket_events e WHERE e.ticket_number = t.number \
        AND e.kind = 'sla_breach') AS sla_breaches \
     FROM tickets t WHERE t.created_at >= $1 AND t.created_at < $2 ORDER BY t.number";

/// Ratings given `$1 <= created_at < $2`, with their ticket's queue and requester.
pub(crate) const CSAT_SCORES: &str = "SELECT c.ticket_number, t.conversation, t.requester_platform, t.requester_id, \
     t.queue, c.score, c.created_at FROM csat c JOIN tickets t ON t.number = c.ticket_number \
     WHERE c.created_at >= $1 AND c.created_at < $2 ORDER BY c.created_at, c.ticket_number";

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
/// Forget every ticket rollup day.
pub(crate) const FORGET_ALL_TICKET_DAYS: &str = "DELETE FROM report_ticket_days";

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
    /// The case events with `from <= at < to`, counted as a rollup is (per day, queue and kind;
    /// per item; unanswered by wording), test traffic left out, in SQL and stored nowhere: for
    /// the parts of a period the rollups do not cover, without reading every row.
    async fn case_counts(&self, from: Millis, to: Millis, testers: &[UserRef]) -> Result<CaseRollup>;
    /// The tickets created and ratings given on the whole UTC days `from_day <= day < to_day`
    /// (midnights), rolled up; days not built yet (or built with another testers list) are
    /// built first, each in its own short transaction. Only for closed days.
    async fn ticket_rollup(
        &self,
        from_day: Millis,
        to_day: Millis,
        testers: &[UserRef],
        now: Millis,
    ) -> Result<TicketRollup>;
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
    (db: $db:ty, store: $store:ty, map_err: $map_err:path, lock_day: $lock_day:expr $(,)?) => {
        mod reports_shared {
            use super::*;
            use $crate::domain::{Millis, UserRef};
            use $crate::store::Result;
            use $crate::store::reports::{
                CSAT_SCORES, CaseDayRow, CaseItemRow, CaseRecord, CaseRollup, CaseRow, CsatRecord, CsatRow,
                DAY_MS, NOT_TEST, ReportStore, TICKET_FACTS, TicketDayRow, TicketFacts, TicketFactsRow,
                TicketRollup, UnansweredRow, encode_durations, roll_up_day, testers_fingerprint, ticket_rollup_of,
            };
            use sqlx::QueryBuilder;

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

            /// Build the ticket rollup of the day starting at `day` unless it is there with
            /// this testers list. PostgreSQL: under the day's exclusive advisory lock (every
            /// change to what the day is built from takes it shared), so no change commits
            /// between the reads and the commit unseen; SQLite: under the write lock.
            async fn build_ticket_day(
                store: &$store,
                day: Millis,
                testers: &[UserRef],
                fp: &str,
                now: Millis,
            ) -> Result<()> {
                let mut tx = store.begin_write().await?;
                let lock: Option<&str> = $lock_day;
                if let Some(lock) = lock {
                    sqlx::query(lock).bind(day / DAY_MS).execute(&mut *tx).await.map_err($map_err)?;
                }
                let built: Option<String> =
                    sqlx::query_scalar("SELECT testers FROM report_ticket_days WHERE day = $1 AND queue = ''")
                        .bind(day)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($map_err)?;
                if built.as_deref() == Some(fp) {
                    return tx.rollback().await.map_err($map_err);
                }
                sqlx::query("DELETE FROM report_ticket_days WHERE day = $1")
                    .bind(day)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                let tickets: Vec<TicketFactsRow> = sqlx::query_as(TICKET_FACTS)
                    .bind(day)
                    .bind(day + DAY_MS)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                let tickets: Vec<TicketFacts> =
                    tickets.into_iter().map(TicketFactsRow::into_facts).collect::<Result<_>>()?;
                let csat: Vec<CsatRow> = sqlx::query_as(CSAT_SCORES)
                    .bind(day)
                    .bind(day + DAY_MS)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($map_err)?;
                let csat: Vec<CsatRecord> = csat.into_iter().map(CsatRow::into_record).collect::<Result<_>>()?;
                let flagged: Vec<String> = sqlx::query_scalar(
                    "SELECT t.conversation FROM tickets t WHERE t.created_at >= $1 AND t.created_at < $2 \
                     AND EXISTS (SELECT 1 FROM test_conversations f WHERE f.key = t.conversation) \
                     UNION SELECT t.conversation FROM csat c JOIN tickets t ON t.number = c.ticket_number \
                     WHERE c.created_at >= $1 AND c.created_at < $2 \
                     AND EXISTS (SELECT 1 FROM test_conversations f WHERE f.key = t.conversation)",
                )
                .bind(day)
                .bind(day + DAY_MS)
                .fetch_all(&mut *tx)
                .await
                .map_err($map_err)?;
                let flagged: std::collections::HashSet<String> = flagged.into_iter().collect();
                let (counts, excluded) = roll_up_day(day, &tickets, &csat, &flagged, testers);
                let insert = "INSERT INTO report_ticket_days (day, queue, testers, filed, resolved, sla_tickets, \
                     sla_breached, first_response, resolution, csat_1, csat_2, csat_3, csat_4, csat_5, excluded, \
                     built_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
                let i = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                for c in &counts {
                    sqlx::query(insert)
                        .bind(day)
                        .bind(c.queue.as_str())
                        .bind(fp)
                        .bind(i(c.filed))
                        .bind(i(c.resolved))
                        .bind(i(c.sla_tickets))
                        .bind(i(c.sla_breached))
                        .bind(encode_durations(&c.first_response))
                        .bind(encode_durations(&c.resolution))
                        .bind(i(c.csat[0]))
                        .bind(i(c.csat[1]))
                        .bind(i(c.csat[2]))
                        .bind(i(c.csat[3]))
                        .bind(i(c.csat[4]))
                        .bind(0i64)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                }
                let none = String::new();
                sqlx::query(insert)
                    .bind(day)
                    .bind("")
                    .bind(fp)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(&none)
                    .bind(&none)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(i(excluded))
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err($map_err)?;
                tx.commit().await.map_err($map_err)
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
                    in_period(self, TICKET_FACTS, from, to, TicketFactsRow::into_facts).await
                }

                async fn csat_scores(&self, from: Millis, to: Millis) -> Result<Vec<CsatRecord>> {
                    in_period(self, CSAT_SCORES, from, to, CsatRow::into_record).await
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

                async fn case_counts(&self, from: Millis, to: Millis, testers: &[UserRef]) -> Result<CaseRollup> {
                    fn period(qb: &mut QueryBuilder<$db>, from: Millis, to: Millis, testers: &[UserRef]) {
                        qb.push(" FROM case_events c WHERE c.created_at >= ");
                        qb.push_bind(from);
                        qb.push(" AND c.created_at < ");
                        qb.push_bind(to);
                        qb.push(" AND ").push(NOT_TEST);
                        push_testers(qb, testers);
                    }
                    // One snapshot for all reads, as in `case_rollup`.
                    let mut tx = self.pool.begin().await.map_err($map_err)?;
                    let mut qb = QueryBuilder::<$db>::new("SELECT c.created_at - (c.created_at % ");
                    qb.push_bind(DAY_MS);
                    qb.push(") AS day, c.queue, c.kind, COUNT(*) AS n");
                    period(&mut qb, from, to, testers);
                    qb.push(" GROUP BY 1, c.queue, c.kind");
                    let days: Vec<CaseDayRow> = qb.build_query_as().fetch_all(&mut *tx).await.map_err($map_err)?;
                    let mut qb = QueryBuilder::<$db>::new("SELECT c.queue, c.kind, c.intent, c.article, COUNT(*) AS n");
                    period(&mut qb, from, to, testers);
                    qb.push(" GROUP BY c.queue, c.kind, c.intent, c.article");
                    let items: Vec<CaseItemRow> = qb.build_query_as().fetch_all(&mut *tx).await.map_err($map_err)?;
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT queue, kind, intent, article, query, first_at, first_id, n FROM (SELECT c.queue, \
                         c.kind, c.intent, c.article, c.query, c.id AS first_id, c.created_at AS first_at, \
                         ROW_NUMBER() OVER (PARTITION BY c.queue, c.kind, c.intent, c.article, c.query \
                         ORDER BY c.created_at, c.id) AS rn, COUNT(*) OVER (PARTITION BY c.queue, c.kind, \
                         c.intent, c.article, c.query) AS n",
                    );
                    period(&mut qb, from, to, testers);
                    qb.push(" AND c.kind IN ('no_match', 'not_solved')) g WHERE rn = 1");
                    let unanswered: Vec<UnansweredRow> =
                        qb.build_query_as().fetch_all(&mut *tx).await.map_err($map_err)?;
                    let all: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM case_events WHERE created_at >= $1 AND created_at < $2",
                    )
                    .bind(from)
                    .bind(to)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($map_err)?;
                    tx.commit().await.map_err($map_err)?;
                    let days = days.into_iter().map(CaseDayRow::into_count).collect::<Result<Vec<_>>>()?;
                    let kept: u64 = days.iter().map(|d| d.n).sum();
                    Ok(CaseRollup {
                        days,
                        items: items.into_iter().map(CaseItemRow::into_count).collect::<Result<_>>()?,
                        unanswered: unanswered.into_iter().map(UnansweredRow::into_group).collect::<Result<_>>()?,
                        excluded: u64::try_from(all).unwrap_or(0).saturating_sub(kept),
                    })
                }

                async fn ticket_rollup(
                    &self,
                    from_day: Millis,
                    to_day: Millis,
                    testers: &[UserRef],
                    now: Millis,
                ) -> Result<TicketRollup> {
                    let fp = testers_fingerprint(testers);
                    let built: Vec<i64> = sqlx::query_scalar(
                        "SELECT day FROM report_ticket_days WHERE day >= $1 AND day < $2 AND queue = '' \
                         AND testers = $3",
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
                            build_ticket_day(self, day, testers, &fp, now).await?;
                        }
                        day += DAY_MS;
                    }
                    // One statement, so one snapshot: a day dropped by a change since it was
                    // built is missing whole (and read row by row by the caller).
                    let rows: Vec<TicketDayRow> = sqlx::query_as(
                        "SELECT day, queue, testers, filed, resolved, sla_tickets, sla_breached, first_response, \
                         resolution, csat_1, csat_2, csat_3, csat_4, csat_5, excluded FROM report_ticket_days \
                         WHERE day >= $1 AND day < $2",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($map_err)?;
                    ticket_rollup_of(rows, &fp)
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
