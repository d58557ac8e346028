//! The reports' "Requests" figures, pure: open requests, the median time from asking to the
//! last approval for requests created in the period, seats used per item, and grants not
//! reviewed for [`REVIEW_DUE_DAYS`]. [`super::gather`] reads the rows; `html.rs` shows them in
//! the page's "Requests" section (`templates/reports/page.html`).

use super::Durations;
use crate::domain::Millis;
use crate::intents::Catalog;
use crate::store::requests::{Holding, Request, RequestStatus};
use serde::Serialize;
use std::collections::BTreeMap;

/// A grant last reviewed longer ago than this is due for an access review.
pub const REVIEW_DUE_DAYS: i64 = 90;

/// Seats of one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeatRow {
    pub item: String,
    pub used: u64,
    /// The pool's size; `None` is unlimited.
    pub total: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestFigures {
    /// Pending, waiting for a seat, or approved and not yet fulfilled (now, not per period).
    pub open: u64,
    /// Requests created in the period that were approved: time from asking to the last approval.
    pub time_to_approve: Durations,
    pub seats: Vec<SeatRow>,
    /// Active grants last reviewed more than [`REVIEW_DUE_DAYS`] ago (or never since granted).
    pub due_for_review: u64,
}

/// The figures from every request and active grant, for the period `from..to`.
pub fn figures(
    requests: &[Request],
    holdings: &[Holding],
    from: Millis,
    to: Millis,
    catalog: Option<&Catalog>,
) -> RequestFigures {
    let open = requests
        .iter()
        .filter(|r| {
            matches!(r.status, RequestStatus::Pending | RequestStatus::Waiting | RequestStatus::Approved)
        })
        .count() as u64;
    let approved = |s: RequestStatus| !matches!(s, RequestStatus::Pending | RequestStatus::Denied);
    let mut waits: Vec<i64> = requests
        .iter()
        .filter(|r| (from..to).contains(&r.created_at) && approved(r.status))
        .filter_map(|r| r.decided_at.map(|d| (d - r.created_at).max(0)))
        .collect();
    waits.sort_unstable();
    let rank = |p: usize| -> Option<i64> {
        (!waits.is_empty()).then(|| waits[((waits.len() * p).div_ceil(100)).clamp(1, waits.len()) - 1])
    };
    let mut used: BTreeMap<&str, u64> = BTreeMap::new();
    for h in holdings.iter().filter(|h| h.revoked_at.is_none()) {
        *used.entry(h.item.as_str()).or_default() += 1;
    }
    let total = |item: &str| catalog.and_then(|c| c.item(item)).and_then(|i| i.seats);
    let mut seats: Vec<SeatRow> = used
        .into_iter()
        .map(|(item, used)| SeatRow { item: item.to_string(), used, total: total(item) })
        .collect();
    if let Some(c) = catalog {
        for item in &c.items {
            if !seats.iter().any(|s| s.item == item.id) {
                seats.push(SeatRow { item: item.id.clone(), used: 0, total: item.seats });
            }
        }
    }
    seats.sort_by(|a, b| b.used.cmp(&a.used).then_with(|| a.item.cmp(&b.item)));
    let cutoff = to - REVIEW_DUE_DAYS * 24 * 3_600_000;
    let due_for_review =
        holdings.iter().filter(|h| h.revoked_at.is_none() && h.reviewed_at < cutoff).count() as u64;
    RequestFigures {
        open,
        time_to_approve: Durations { count: waits.len() as u64, median_ms: rank(50), p90_ms: rank(90) },
        seats,
        due_for_review,
    }
}
