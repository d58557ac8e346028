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

use super::cluster::Asked;
use super::{CsatFigures, DayRow, DeflectionRow, Durations, Report, ReportData, ReportOptions, SlaFigures};
use crate::domain::{Millis, UserRef};
use crate::intents::Catalog;
use crate::store::reports::DAY_MS as DAY;
use crate::store::{CaseKind, TicketDayCount, TicketFacts};
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

/// An unanswered question's wording, kind, intent and article.
type Wording<'a> = (CaseKind, Option<&'a str>, Option<&'a str>, &'a str);

/// Case events after test traffic and the queue filter, counted: per day and kind, per
/// intent/article and kind, and the unanswered ones by wording in the order first asked.
/// Built from the live rows and the closed days' rollups alike.
#[derive(Default)]
struct CaseCounts<'a> {
    by_day: BTreeMap<(Millis, CaseKind), u64>,
    by_item: BTreeMap<(Option<&'a str>, Option<&'a str>, CaseKind), u64>,
    /// (kind, intent, article, query) → (first asked at, its id or position, how many).
    unanswered: BTreeMap<Wording<'a>, (Millis, i64, u64)>,
}

impl<'a> CaseCounts<'a> {
    fn add(
        &mut self,
        day: Millis,
        kind: CaseKind,
        intent: Option<&'a str>,
        article: Option<&'a str>,
        n: u64,
    ) {
        *self.by_day.entry((day, kind)).or_default() += n;
        *self.by_item.entry((intent, article, kind)).or_default() += n;
    }

    #[allow(clippy::too_many_arguments)]
    fn add_unanswered(
        &mut self,
        kind: CaseKind,
        intent: Option<&'a str>,
        article: Option<&'a str>,
        query: &'a str,
        at: Millis,
        id: i64,
        n: u64,
    ) {
        let e = self.unanswered.entry((kind, intent, article, query)).or_insert((at, id, 0));
        if (at, id) < (e.0, e.1) {
            (e.0, e.1) = (at, id);
        }
        e.2 += n;
    }

    fn count(&self, want: impl Fn(CaseKind) -> bool) -> u64 {
        self.by_day.iter().filter(|((_, k), _)| want(*k)).map(|(_, n)| n).sum()
    }

    /// The unanswered questions in the order they were first asked.
    fn asked(&self) -> Vec<Asked<'a>> {
        let mut v: Vec<(Millis, i64, Asked<'a>)> = self
            .unanswered
            .iter()
            .map(|(&(kind, intent, article, query), &(at, id, n))| {
                (at, id, Asked { kind, intent, article, query, n })
            })
            .collect();
        v.sort_by_key(|(at, id, _)| (*at, *id));
        v.into_iter().map(|(_, _, a)| a).collect()
    }
}

/// Per intent or article: shown, solved, not solved.
fn deflection_rows(
    counts: &CaseCounts,
    key: impl Fn(Option<&str>, Option<&str>) -> Option<String>,
    shown_kinds: &[CaseKind],
    name: impl Fn(&str) -> Option<String>,
) -> Vec<DeflectionRow> {
    let mut rows: BTreeMap<String, DeflectionRow> = BTreeMap::new();
    for (&(intent, article, kind), &n) in &counts.by_item {
        let Some(id) = key(intent, article) else { continue };
        let row = rows.entry(id.clone()).or_insert_with(|| DeflectionRow {
            name: name(&id),
            id,
            ..DeflectionRow::default()
        });
        match kind {
            k if shown_kinds.contains(&k) => row.shown += n,
            CaseKind::Solved => row.solved += n,
            CaseKind::NotSolved => row.not_solved += n,
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

    let mut cases = CaseCounts::default();
    for e in &data.cases {
        if !keep(is_test(&e.conversation, &e.user)) || !in_queue(&e.queue) {
            continue;
        }
        let (intent, article) = (e.intent.as_deref(), e.article.as_deref());
        cases.add(e.at - e.at.rem_euclid(DAY), e.kind, intent, article, 1);
    }
    // Positions stand in for ids among the live rows (they come in time-then-id order; the
    // rollups cover other days, so equal times never mix the two).
    for (i, e) in data.cases.iter().enumerate() {
        if matches!(e.kind, CaseKind::NoMatch | CaseKind::NotSolved)
            && !is_test(&e.conversation, &e.user)
            && in_queue(&e.queue)
        {
            let (intent, article) = (e.intent.as_deref(), e.article.as_deref());
            cases.add_unanswered(e.kind, intent, article, &e.query, e.at, i as i64, 1);
        }
    }
    let rollup = &data.rollup;
    for d in rollup.days.iter().filter(|d| in_queue(&d.queue)) {
        *cases.by_day.entry((d.day, d.kind)).or_default() += d.n;
    }
    for c in rollup.items.iter().filter(|c| in_queue(&c.queue)) {
        *cases.by_item.entry((c.intent.as_deref(), c.article.as_deref(), c.kind)).or_default() += c.n;
    }
    for u in rollup.unanswered.iter().filter(|u| in_queue(&u.queue)) {
        let (intent, article) = (u.intent.as_deref(), u.article.as_deref());
        cases.add_unanswered(u.kind, intent, article, &u.query, u.first_at, u.first_id, u.n);
    }
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

    let count = |k: CaseKind| cases.count(|x| x == k);
    let conversations = cases.count(CaseKind::starts_case);
    let deflected = count(CaseKind::Solved);

    let rolled: Vec<&TicketDayCount> =
        data.ticket_rollup.counts.iter().filter(|c| in_queue(&c.queue)).collect();
    let first_response = durations(
        tickets
            .iter()
            .filter_map(|t| t.first_response_at.map(|at| at - t.created_at))
            .chain(rolled.iter().flat_map(|c| c.first_response.iter().copied()))
            .collect(),
    );
    let resolution = durations(
        tickets
            .iter()
            .filter_map(|t| t.resolved_at.map(|at| at - t.created_at))
            .chain(rolled.iter().flat_map(|c| c.resolution.iter().copied()))
            .collect(),
    );

    let with_sla: Vec<&&TicketFacts> = tickets.iter().filter(|t| t.sla.is_some()).collect();
    let sla_breached = with_sla.iter().filter(|t| t.breached()).count() as u64
        + rolled.iter().map(|c| c.sla_breached).sum::<u64>();
    let sla_n = with_sla.len() as u64 + rolled.iter().map(|c| c.sla_tickets).sum::<u64>();
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
    for c in &rolled {
        for (slot, n) in distribution.iter_mut().zip(c.csat) {
            *slot += n;
        }
    }
    let rated: u64 = distribution.iter().sum();
    let score_sum: u64 = distribution.iter().zip(1u64..).map(|(n, s)| n * s).sum();
    let csat = CsatFigures {
        count: rated,
        average: (rated > 0).then(|| score_sum as f64 / rated as f64),
        distribution,
    };

    let intent_name = |id: &str| catalog.and_then(|c| c.intent(id)).map(|i| i.description.clone());
    let article_name = |id: &str| catalog.and_then(|c| c.article(id)).map(|a| a.title.clone());
    let top_intents =
        deflection_rows(&cases, |i, _| i.map(str::to_string), &[CaseKind::Answered], intent_name);
    let articles = deflection_rows(
        &cases,
        |_, a| a.map(str::to_string),
        &[CaseKind::Answered, CaseKind::Picked],
        article_name,
    );

    let daily = daily_rows(opts.period.from, opts.period.to, &cases, &tickets, &rolled);
    let asked = cases.asked();

    Report {
        from: opts.period.from,
        to: opts.period.to,
        period: opts.period.label.clone(),
        queue: opts.queue.as_ref().map(|q| q.to_string()),
        conversations,
        answered: count(CaseKind::Answered) + count(CaseKind::Picked),
        deflected,
        deflection_rate: ratio(deflected, conversations),
        tickets_filed: tickets.len() as u64 + rolled.iter().map(|c| c.filed).sum::<u64>(),
        tickets_resolved: tickets.iter().filter(|t| t.resolved_at.is_some()).count() as u64
            + rolled.iter().map(|c| c.resolved).sum::<u64>(),
        first_response,
        resolution,
        sla,
        csat,
        top_intents,
        articles,
        unanswered: super::cluster::cluster(&asked, catalog),
        daily,
        excluded_test_rows: excluded + rollup.excluded + data.ticket_rollup.excluded,
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
fn daily_rows(
    from: Millis,
    to: Millis,
    cases: &CaseCounts,
    tickets: &[&TicketFacts],
    rolled: &[&TicketDayCount],
) -> Vec<DayRow> {
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
    for (&(day, kind), &n) in &cases.by_day {
        let r = at(&mut days, day);
        if kind.starts_case() {
            r.conversations += n;
        }
        if kind == CaseKind::Solved {
            r.deflected += n;
        }
    }
    for t in tickets {
        at(&mut days, t.created_at).tickets += 1;
    }
    for c in rolled {
        at(&mut days, c.day).tickets += c.filed;
    }
    days.into_values().collect()
}

#[cfg(test)]
#[path = "figures_tests.rs"]
mod tests;
