//! [`compute`]: the figures of a [`Report`] from the rows of a period. Pure, so each figure is
//! unit-tested on hand-made rows (see `figures_tests.rs`).
//!
//! Definitions:
//! - a *conversation* is a question an employee started (answered, articles offered, nothing
//!   matched, or asked for a person straight away);
//! - *deflected* counts answers the employee confirmed with "That solved it"; the deflection
//!   rate is deflected / conversations;
//! - first response is the first agent message that reached the employee; times are wall-clock
//!   from the ticket's creation; median and p90 are nearest-rank;
//! - a ticket with SLA targets is *breached* when a breach was recorded or its first response
//!   or resolution came after the due time; compliance is met / tickets with targets;
//! - the period selects questions asked, tickets created and ratings given within it; a
//!   ticket's times count even when its reply or resolution came after the period;
//! - test traffic (flagged conversations, configured testers) is left out of everything.

use super::{CsatFigures, DayRow, DeflectionRow, Durations, Report, ReportData, ReportOptions, SlaFigures};
use crate::domain::{Millis, UserRef};
use crate::intents::Catalog;
use crate::store::{CaseKind, CaseRecord, TicketFacts};
use std::collections::BTreeMap;

/// Nearest-rank percentile (`p` in 0–100) of sorted values.
pub(crate) fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

fn durations(mut v: Vec<i64>) -> Durations {
    v.sort_unstable();
    Durations { count: v.len() as u64, median_ms: percentile(&v, 50), p90_ms: percentile(&v, 90) }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn day(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

fn breached(t: &TicketFacts) -> bool {
    let Some(sla) = &t.sla else { return false };
    let late =
        |done: Option<Millis>, due: Option<Millis>| matches!((done, due), (Some(d), Some(due)) if d > due);
    t.sla_breaches > 0
        || late(t.first_response_at.or(sla.first_response_at), sla.first_response_due)
        || late(t.resolved_at, sla.resolution_due)
}

/// Per intent or article: shown, solved, not solved.
fn deflection_rows(
    events: &[&CaseRecord],
    key: impl Fn(&CaseRecord) -> Option<&str>,
    shown_kinds: &[CaseKind],
    name: impl Fn(&str) -> Option<String>,
) -> Vec<DeflectionRow> {
    let mut rows: BTreeMap<String, DeflectionRow> = BTreeMap::new();
    for e in events {
        let Some(id) = key(e) else { continue };
        let row = rows.entry(id.to_string()).or_insert_with(|| DeflectionRow {
            id: id.to_string(),
            name: name(id),
            ..DeflectionRow::default()
        });
        match e.kind {
            k if shown_kinds.contains(&k) => row.shown += 1,
            CaseKind::Solved => row.solved += 1,
            CaseKind::NotSolved => row.not_solved += 1,
            _ => {}
        }
    }
    let mut out: Vec<DeflectionRow> = rows
        .into_values()
        .filter(|r| r.shown > 0)
        .map(|mut r| {
            r.deflection_rate = ratio(r.solved, r.shown);
            r
        })
        .collect();
    out.sort_by(|a, b| b.shown.cmp(&a.shown).then_with(|| a.id.cmp(&b.id)));
    out
}

/// The report for `data` under `opts`. `catalog` names intents and articles and finds what
/// unanswered questions came closest to; without it ids are shown as they are.
pub fn compute(data: &ReportData, opts: &ReportOptions, catalog: Option<&Catalog>) -> Report {
    let is_test = |conversation: &str, user: &UserRef| {
        data.test_conversations.contains(conversation) || opts.testers.contains(user)
    };
    let in_queue = |q: &crate::domain::QueueName| opts.queue.as_ref().is_none_or(|want| want == q);
    let mut excluded = 0u64;
    let mut keep = |test: bool| {
        excluded += u64::from(test);
        !test
    };

    let cases: Vec<&CaseRecord> =
        data.cases.iter().filter(|e| keep(is_test(&e.conversation, &e.user)) && in_queue(&e.queue)).collect();
    let tickets: Vec<&TicketFacts> = data
        .tickets
        .iter()
        .filter(|t| keep(is_test(&t.conversation, &t.requester)) && in_queue(&t.queue))
        .collect();
    let ratings: Vec<u8> = data
        .csat
        .iter()
        .filter(|c| keep(is_test(&c.conversation, &c.requester)) && in_queue(&c.queue))
        .map(|c| c.score)
        .collect();

    let count = |k: CaseKind| cases.iter().filter(|e| e.kind == k).count() as u64;
    let conversations = cases.iter().filter(|e| e.kind.starts_case()).count() as u64;
    let deflected = count(CaseKind::Solved);

    let first_response =
        durations(tickets.iter().filter_map(|t| t.first_response_at.map(|at| at - t.created_at)).collect());
    let resolution =
        durations(tickets.iter().filter_map(|t| t.resolved_at.map(|at| at - t.created_at)).collect());

    let with_sla: Vec<&&TicketFacts> = tickets.iter().filter(|t| t.sla.is_some()).collect();
    let sla_breached = with_sla.iter().filter(|t| breached(t)).count() as u64;
    let sla_n = with_sla.len() as u64;
    let sla = SlaFigures {
        tickets: sla_n,
        met: sla_n - sla_breached,
        breached: sla_breached,
        compliance: ratio(sla_n - sla_breached, sla_n),
    };

    let mut distribution = [0u64; 5];
    for s in &ratings {
        if let Some(slot) = (*s as usize).checked_sub(1).and_then(|i| distribution.get_mut(i)) {
            *slot += 1;
        }
    }
    let csat = CsatFigures {
        count: ratings.len() as u64,
        average: (!ratings.is_empty())
            .then(|| ratings.iter().map(|s| f64::from(*s)).sum::<f64>() / ratings.len() as f64),
        distribution,
    };

    let intent_name = |id: &str| catalog.and_then(|c| c.intent(id)).map(|i| i.description.clone());
    let article_name = |id: &str| catalog.and_then(|c| c.article(id)).map(|a| a.title.clone());
    let top_intents = deflection_rows(&cases, |e| e.intent.as_deref(), &[CaseKind::Answered], intent_name);
    let articles = deflection_rows(
        &cases,
        |e| e.article.as_deref(),
        &[CaseKind::Answered, CaseKind::Picked],
        article_name,
    );

    let daily = daily_rows(opts.period.from, opts.period.to, &cases, &tickets);

    Report {
        from: opts.period.from,
        to: opts.period.to,
        period: opts.period.label.clone(),
        queue: opts.queue.as_ref().map(|q| q.to_string()),
        conversations,
        answered: count(CaseKind::Answered) + count(CaseKind::Picked),
        deflected,
        deflection_rate: ratio(deflected, conversations),
        tickets_filed: tickets.len() as u64,
        tickets_resolved: tickets.iter().filter(|t| t.resolved_at.is_some()).count() as u64,
        first_response,
        resolution,
        sla,
        csat,
        top_intents,
        articles,
        unanswered: super::cluster::cluster(&cases, catalog),
        daily,
        excluded_test_rows: excluded,
        requests: super::requests::figures(
            &data.requests,
            &data.holdings,
            opts.period.from,
            opts.period.to,
            catalog,
        ),
    }
}

/// Conversations, deflections and tickets per UTC day of the period, oldest first (days
/// without any are there too, so the chart's axis is the period).
fn daily_rows(from: Millis, to: Millis, cases: &[&CaseRecord], tickets: &[&TicketFacts]) -> Vec<DayRow> {
    const DAY: Millis = 24 * 3_600_000;
    const MAX_DAYS: i64 = 120;
    let mut days: BTreeMap<String, DayRow> = BTreeMap::new();
    if to > from && (to - from) / DAY <= MAX_DAYS {
        let mut t = from - from.rem_euclid(DAY);
        while t < to {
            days.insert(day(t), DayRow { day: day(t), ..DayRow::default() });
            t += DAY;
        }
    }
    fn at(days: &mut BTreeMap<String, DayRow>, ms: Millis) -> &mut DayRow {
        let d = day(ms);
        days.entry(d.clone()).or_insert_with(|| DayRow { day: d, ..DayRow::default() })
    }
    for e in cases {
        let r = at(&mut days, e.at);
        r.conversations += u64::from(e.kind.starts_case());
        r.deflected += u64::from(e.kind == CaseKind::Solved);
    }
    for t in tickets {
        at(&mut days, t.created_at).tickets += 1;
    }
    days.into_values().collect()
}

#[cfg(test)]
#[path = "figures_tests.rs"]
mod tests;
