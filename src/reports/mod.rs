//! Reports: the figures an IT lead looks at (conversations, deflection, tickets, response and
//! resolution times, SLA compliance, CSAT, top intents, unanswered questions) for a period and
//! optionally one queue. [`gather`] reads the store, [`compute`] is pure and turns the rows into
//! a [`Report`]; the `/reports` page (`html.rs`) and `deskbot report` (`text.rs`) both show
//! that same [`Report`]. Test traffic (configured testers, `deskbot chat --test`) is left out
//! of every figure.

pub mod cases;
pub mod cluster;
mod config;
mod figures;
pub mod html;
pub mod period;
pub mod requests;
mod svg;
pub mod text;

use crate::domain::{Millis, QueueName, UserRef};
use crate::intents::Catalog;
use crate::store::reports::DAY_MS;
use crate::store::{CaseRecord, CaseRollup, CsatRecord, DynStore, StoreError, TicketFacts, TicketRollup};
use serde::Serialize;
use std::collections::HashSet;

pub use cluster::Cluster;
pub use config::{ReportsConfig, env_key};
pub use figures::compute;
pub use period::{Period, parse_since};

/// What to report on.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    pub period: Period,
    pub queue: Option<QueueName>,
    /// Users whose conversations are test traffic (`[reports] testers`).
    pub testers: Vec<UserRef>,
    /// Where KB articles live on the web (`engine.kb_base_url`), for links.
    pub kb_base_url: Option<String>,
}

/// The rows a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// Case events read row by row (the open day and the edges of the period).
    pub cases: Vec<CaseRecord>,
    /// The case events of the period's closed whole days, pre-aggregated.
    pub rollup: CaseRollup,
    /// Tickets created and ratings given in the period outside the rolled-up days.
    pub tickets: Vec<TicketFacts>,
    pub csat: Vec<CsatRecord>,
    /// The tickets and ratings of the period's closed whole days, pre-aggregated.
    pub ticket_rollup: TicketRollup,
    pub test_conversations: HashSet<String>,
    /// Every request and every active grant, for the "Requests" figures.
    pub requests: Vec<crate::store::requests::Request>,
    pub holdings: Vec<crate::store::requests::Holding>,
}

/// Requests read for the "Requests" figures at most (newest first).
const REQUESTS_READ: i64 = 100_000;

/// A UTC day is closed (its case events can be rolled up) this long after its midnight
/// passed: a commit that began before midnight may still land a moment later.
pub const CLOSED_AFTER: Millis = 10 * 60_000;

/// The whole UTC days of `from..to` closed at `now`, as `[first midnight, end midnight)`, if any.
pub fn closed_days(from: Millis, to: Millis, now: Millis) -> Option<(Millis, Millis)> {
    let first = from + (DAY_MS - from.rem_euclid(DAY_MS)) % DAY_MS;
    let open = now - CLOSED_AFTER;
    let end = to.min(open);
    let end = end - end.rem_euclid(DAY_MS);
    (end > first).then_some((first, end))
}

/// Read everything the period needs: the closed whole days' case events, tickets and ratings
/// from the rollups; the case events of the rest (the open day, the edges of the period)
/// counted in SQL; its tickets and ratings row by row, with any closed day whose rollup a
/// change dropped between its build and the read.
pub async fn gather(store: &DynStore, opts: &ReportOptions, now: Millis) -> Result<ReportData, StoreError> {
    let (from, to) = (opts.period.from, opts.period.to);
    let (rollup, tickets, csat, ticket_rollup) = match closed_days(from, to, now) {
        Some((a, b)) => {
            let mut rollup = store.case_counts(from, a, &opts.testers).await?;
            rollup.add(store.case_rollup(a, b, &opts.testers, now).await?);
            rollup.add(store.case_counts(b, to, &opts.testers).await?);
            let ticket_rollup = store.ticket_rollup(a, b, &opts.testers, now).await?;
            let mut live = vec![(from, a)];
            let built: HashSet<Millis> = ticket_rollup.days.iter().copied().collect();
            let mut day = a;
            while day < b {
                if !built.contains(&day) {
                    match live.last_mut() {
                        Some(last) if last.1 == day => last.1 = day + DAY_MS,
                        _ => live.push((day, day + DAY_MS)),
                    }
                }
                day += DAY_MS;
            }
            live.push((b, to));
            let (mut tickets, mut csat) = (Vec::new(), Vec::new());
            for (x, y) in live.into_iter().filter(|(x, y)| x < y) {
                tickets.extend(store.ticket_facts(x, y).await?);
                csat.extend(store.csat_scores(x, y).await?);
            }
            (rollup, tickets, csat, ticket_rollup)
        }
        None => (
            store.case_counts(from, to, &opts.testers).await?,
            store.ticket_facts(from, to).await?,
            store.csat_scores(from, to).await?,
            TicketRollup::default(),
        ),
    };
    Ok(ReportData {
        cases: Vec::new(),
        rollup,
        tickets,
        csat,
        ticket_rollup,
        test_conversations: store.test_conversations().await?.into_iter().collect(),
        requests: store.requests(None, REQUESTS_READ).await?,
        holdings: store.holdings(None, false).await?,
    })
}

/// Read every row of the period, without the rollups (what the rollups must add up to).
pub async fn gather_rows(store: &DynStore, period: &Period) -> Result<ReportData, StoreError> {
    let (from, to) = (period.from, period.to);
    Ok(ReportData {
        cases: store.case_events(from, to).await?,
        rollup: CaseRollup::default(),
        tickets: store.ticket_facts(from, to).await?,
        csat: store.csat_scores(from, to).await?,
        ticket_rollup: TicketRollup::default(),
        test_conversations: store.test_conversations().await?.into_iter().collect(),
        requests: store.requests(None, REQUESTS_READ).await?,
        holdings: store.holdings(None, false).await?,
    })
}

/// Gather and compute in one go.
pub async fn build(store: &DynStore, catalog: &Catalog, opts: &ReportOptions) -> Result<Report, StoreError> {
    let data = gather(store, opts, chrono::Utc::now().timestamp_millis()).await?;
    Ok(compute(&data, opts, Some(catalog)))
}

/// Median and 90th percentile of a set of durations (nearest rank).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Durations {
    pub count: u64,
    pub median_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlaFigures {
    /// Tickets that had SLA targets.
    pub tickets: u64,
    pub met: u64,
    pub breached: u64,
    /// `met / tickets`.
    pub compliance: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CsatFigures {
    pub count: u64,
    pub average: Option<f64>,
    /// How many ratings of 1, 2, 3, 4 and 5.
    pub distribution: [u64; 5],
}

/// How one intent or article did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeflectionRow {
    pub id: String,
    /// A title or description, when the catalog has it.
    pub name: Option<String>,
    /// Times it was given as the answer.
    pub shown: u64,
    pub solved: u64,
    pub not_solved: u64,
    /// `solved / shown`.
    pub deflection_rate: Option<f64>,
}

/// One day's counts, for the trend chart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DayRow {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub conversations: u64,
    pub deflected: u64,
    pub tickets: u64,
}

/// Everything the reports show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub from: Millis,
    pub to: Millis,
    pub period: String,
    pub queue: Option<String>,
    /// Questions asked (each new question starts one).
    pub conversations: u64,
    /// Questions the bot answered (an intent's answer or an offered article).
    pub answered: u64,
    /// Answers the employee confirmed solved their problem.
    pub deflected: u64,
    /// `deflected / conversations`.
    pub deflection_rate: Option<f64>,
    pub tickets_filed: u64,
    pub tickets_resolved: u64,
    pub first_response: Durations,
    pub resolution: Durations,
    pub sla: SlaFigures,
    pub csat: CsatFigures,
    /// Intents by how often they answered, most first.
    pub top_intents: Vec<DeflectionRow>,
    /// KB articles by how often they were given, most first.
    pub articles: Vec<DeflectionRow>,
    /// Questions that matched nothing or were marked not solved, clustered by similarity.
    pub unanswered: Vec<Cluster>,
    pub daily: Vec<DayRow>,
    /// Rows left out as test traffic (case events, tickets and ratings).
    pub excluded_test_rows: u64,
    /// Access and licence requests: open, time to approve, seats, grants due for review.
    pub requests: requests::RequestFigures,
}
