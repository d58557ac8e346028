//! Access reviews: `deskbot licences review --item ID|--all` starts a campaign over the active
//! grants. Each holder's manager (from the directory) gets one DM listing their reports'
//! grants with Keep / Remove per grant (`AR-<grant id>`); only that manager may answer, and
//! never for their own grant. Unanswered after `review_days` (a request timer), or with no
//! manager in the directory, a grant goes to the item queue's leads. Keep marks the grant
//! reviewed; Remove asks why and revokes it through its fulfilment. Every answer is a justified
//! entry of the audit chain. Neighbours: `requests.rs`, `request_timers.rs`.

use super::request_timers::day;
use super::requests::Parts;
use super::{Service, ServiceError};
use crate::domain::{Address, Choice, Millis, Outbound, UserRef};
use crate::engine::{APPROVE_PREFIX, DENY_PREFIX};
use crate::store::requests::{
    Holding, NewReviewItem, REVIEW_PREFIX, RequestOp, ReviewItem, parse_review_item,
};
use crate::usertext::mark;
use std::collections::BTreeMap;

/// What starting a campaign did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewStarted {
    /// Grants under review.
    pub grants: usize,
    /// Managers asked.
    pub managers: usize,
    /// Grants whose holder has no manager in the directory: sent to the leads at once.
    pub to_leads: usize,
}

/// Why a campaign could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no active grants to review{0}")]
    Nothing(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// One grant as a reviewer reads it.
fn line(h: &Holding, title: &str) -> String {
    let who = mark(h.holder_name.as_deref().unwrap_or(&h.holder.id));
    let until = h.expires_at.map(|e| format!(", until {}", day(e))).unwrap_or_default();
    format!(
        "• {REVIEW_PREFIX}{}: {who} ({}) holds {title} since {}{until}; last reviewed {}",
        h.id,
        h.holder,
        day(h.granted_at),
        day(h.reviewed_at)
    )
}

fn choices(h: &Holding) -> [Choice; 2] {
    [
        Choice::new(
            format!("{APPROVE_PREFIX}{REVIEW_PREFIX}{}", h.id),
            format!("Keep {REVIEW_PREFIX}{}", h.id),
        ),
        Choice::new(
            format!("{DENY_PREFIX}{REVIEW_PREFIX}{}", h.id),
            format!("Remove {REVIEW_PREFIX}{}", h.id),
        ),
    ]
}

/// One DM to `to` listing `grants`, with Keep / Remove for each.
fn review_dm(to: &UserRef, heading: &str, grants: &[(&Holding, String)]) -> Outbound {
    let mut text = format!("🔍 {heading}. Is each access still needed?");
    let mut buttons = Vec::new();
    for (h, title) in grants {
        text.push('\n');
        text.push_str(&line(h, title));
        buttons.extend(choices(h));
    }
    let first = grants.first().map(|(h, _)| h.id).unwrap_or_default();
    text.push_str(&format!(
        "\n(Without buttons: type \"keep {REVIEW_PREFIX}{first}\" or \"remove {REVIEW_PREFIX}{first} REASON\".)"
    ));
    Outbound::message(Address::person(to.platform, &to.id), text, buttons)
}

impl Service {
    /// Start a review of every active grant of `item` (all items when `None`), by `by`.
    pub async fn start_review(&self, item: Option<&str>, by: &str) -> Result<ReviewStarted, ReviewError> {
        let now = self.now();
        let held = self.store.holdings(item, false).await.map_err(ServiceError::from)?;
        if held.is_empty() {
            return Err(ReviewError::Nothing(item.map(|i| format!(" of `{i}`")).unwrap_or_default()));
        }
        let directory = self.directory().await;
        let access = self.access().await?;
        let catalog = self.catalog.load();
        let title = |id: &str| catalog.item(id).map_or_else(|| id.to_string(), |i| i.title.clone());
        type Grants<'a> = BTreeMap<String, (UserRef, Vec<(&'a Holding, String)>)>;
        let mut by_manager: Grants = BTreeMap::new();
        let mut by_leads: Grants = BTreeMap::new();
        let mut items = Vec::new();
        let mut to_leads = 0;
        for h in &held {
            // Nobody reviews their own grant.
            let reviewer = directory.manager_of(&h.holder).filter(|m| *m != h.holder);
            items.push(NewReviewItem { holding: h.id, item: h.item.clone(), reviewer: reviewer.clone() });
            match reviewer {
                Some(m) => {
                    by_manager.entry(m.to_string()).or_insert((m, Vec::new())).1.push((h, title(&h.item)))
                }
                None => {
                    to_leads += 1;
                    for lead in access.leads(&self.item_queue(&h.item)).into_iter().filter(|l| *l != h.holder)
                    {
                        by_leads
                            .entry(lead.to_string())
                            .or_insert((lead, Vec::new()))
                            .1
                            .push((h, title(&h.item)));
                    }
                }
            }
        }
        let days = self.requests.review_days;
        let due_at = now.saturating_add(i64::from(days) * crate::intents::requests::DAY_MS);
        let scope = item.unwrap_or("*").to_string();
        let mut parts = Parts::default();
        parts.ops.push(RequestOp::StartReview { scope: scope.clone(), by: by.to_string(), due_at, items });
        for (m, grants) in by_manager.values() {
            let heading = format!("Access review: your reports' access (please answer within {days} days)");
            parts.outbox.push(review_dm(m, &heading, grants));
        }
        for (lead, grants) in by_leads.values() {
            parts.outbox.push(review_dm(
                lead,
                "Access review: access nobody in the directory manages",
                grants,
            ));
        }
        self.commit_parts(format!("review:{scope}:{now}"), parts, now).await?;
        Ok(ReviewStarted { grants: held.len(), managers: by_manager.len(), to_leads })
    }

    /// The open review item `AR-<grant>` and its grant, if `actor` may answer it.
    async fn reviewable(
        &self,
        actor: &UserRef,
        text: &str,
    ) -> Result<Result<(ReviewItem, Holding), String>, ServiceError> {
        let Some(grant) = parse_review_item(text) else {
            return Ok(Err(format!("`{text}` is not a review item (like AR-12).")));
        };
        let Some(item) = self.store.open_review_item(grant).await? else {
            return Ok(Err(format!("{REVIEW_PREFIX}{grant} is not waiting for a review answer.")));
        };
        let Some(h) = self.store.holding(grant).await?.filter(|h| h.revoked_at.is_none()) else {
            return Ok(Err(format!("The grant {REVIEW_PREFIX}{grant} is no longer held.")));
        };
        if h.holder == *actor {
            return Ok(Err(format!("You cannot review your own access ({REVIEW_PREFIX}{grant}).")));
        }
        let manager = item.reviewer.as_ref() == Some(actor);
        let to_leads = item.reviewer.is_none() || item.escalated_at.is_some();
        let lead = to_leads && self.access().await?.leads(&self.item_queue(&h.item)).contains(actor);
        if !manager && !lead {
            return Ok(Err(format!("{REVIEW_PREFIX}{grant} is not waiting for your review.")));
        }
        Ok(Ok((item, h)))
    }

    /// Why `actor` may not answer review item `text`, if they may not.
    pub(super) async fn review_refused(
        &self,
        actor: &UserRef,
        text: &str,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self.reviewable(actor, text).await?.err())
    }

    /// A reviewer's Keep or Remove (with its reason). Remove revokes the grant through its
    /// fulfilment; the freed seat is offered on after the commit ([`Self::after_review`]).
    pub(super) async fn decide_review(
        &self,
        actor: &UserRef,
        text: &str,
        keep: bool,
        reason: Option<String>,
        now: Millis,
    ) -> Result<Parts, ServiceError> {
        let (item, h) = match self.reviewable(actor, text).await? {
            Ok(found) => found,
            Err(note) => return Ok(Parts::reply(note)),
        };
        let reason = reason.filter(|r| !r.trim().is_empty()).unwrap_or_else(|| "still needed".to_string());
        let by = actor.to_string();
        let mut parts = Parts::default();
        parts.ops.push(RequestOp::Review { id: item.id, keep, by: by.clone(), reason: reason.clone() });
        if keep {
            parts.replies.push(format!("Kept {REVIEW_PREFIX}{}: {} keeps {}.", h.id, h.holder, h.item));
        } else {
            let why = format!("removed at access review ({REVIEW_PREFIX}{}): {reason}", h.id);
            parts.extend(self.revocation(&h, &by, &why, now).await?);
            parts
                .replies
                .push(format!("Removed {REVIEW_PREFIX}{}: {}'s {} is revoked.", h.id, h.holder, h.item));
        }
        Ok(parts)
    }

    /// After a committed review answer: a removed grant's seat goes to the next in line.
    pub(super) async fn after_review(&self, text: &str) -> Result<(), ServiceError> {
        if let Some(grant) = parse_review_item(text)
            && let Some(h) = self.store.holding(grant).await?
            && h.revoked_at.is_some()
        {
            self.offer_free_seats(&h.item).await?;
        }
        Ok(())
    }

    /// `review.escalate`: an item still unanswered goes to the item queue's leads.
    pub(super) async fn escalate_review(&self, id: i64) -> Result<Parts, ServiceError> {
        let mut parts = Parts::default();
        let Some(item) = self.store.review_item(id).await? else { return Ok(parts) };
        if item.decision.is_some() || item.escalated_at.is_some() {
            return Ok(parts);
        }
        let Some(h) = self.store.holding(item.holding).await?.filter(|h| h.revoked_at.is_none()) else {
            return Ok(parts);
        };
        parts.ops.push(RequestOp::ReviewEscalated { id });
        let catalog = self.catalog.load();
        let title = catalog.item(&h.item).map_or_else(|| h.item.clone(), |i| i.title.clone());
        let leads = self.access().await?.leads(&self.item_queue(&h.item));
        for lead in leads.iter().filter(|l| **l != h.holder) {
            let heading = "Access review: unanswered by the holder's manager, now yours";
            parts.outbox.push(review_dm(lead, heading, &[(&h, title.clone())]));
        }
        Ok(parts)
    }
}
