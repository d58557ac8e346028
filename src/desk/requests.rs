//! Access and licence requests, the pure part: which approval steps a request goes through and
//! who may decide each ([`plan`]), who of them still may now ([`standing`]: the grants ledger
//! and the directory decide, not the copy taken at submission), and what one approver's
//! decision does ([`decide`], [`decide_now`]).
//! Segregation of duties lives here: nobody decides their own request, a step whose approvers
//! include the requester is skipped (unless no other step is left, when its other approvers
//! decide), and a two-person step needs two different approvers. `service::requests` reads
//! the store and the directory and turns the outcome into one commit.

use crate::desk::hours::BusinessHours;
use crate::desk::sla::parse_business_duration;
use crate::domain::{Millis, UserRef};
use crate::intents::requests::{Approval, ApproverRule, DAY_MS, Item};
use crate::store::requests::{Decision, PlannedStep, Request, RequestStatus};
use serde::{Deserialize, Serialize};

/// `[requests]` in deskbot.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestsConfig {
    /// Business time (the item's queue's hours) an approval step waits before its approvers
    /// are reminded once; as long again and it escalates. An item's own `approval_timeout`
    /// wins. `"1d"` is one business day.
    pub approval_timeout: String,
    /// How many days before a time-boxed grant lapses its holder is warned, with "Extend".
    pub expiry_warning_days: u32,
    /// How many days a manager has to answer an access review before it goes to the leads.
    pub review_days: u32,
}

impl Default for RequestsConfig {
    fn default() -> Self {
        Self { approval_timeout: "1d".into(), expiry_warning_days: 7, review_days: 14 }
    }
}

impl RequestsConfig {
    pub fn validate(&self) -> Result<(), String> {
        parse_business_duration(&self.approval_timeout, DAY_MS)
            .map_err(|e| format!("requests.approval_timeout `{}`: {e}", self.approval_timeout))?;
        if self.review_days == 0 {
            return Err("requests.review_days must be at least 1".into());
        }
        Ok(())
    }
}

/// When the approvers of a step entered at `now` are reminded (and, as long again after, when
/// the step escalates): `timeout` of business time on `hours`. A timeout that does not parse
/// falls back to one business day.
pub fn approval_due(timeout: &str, hours: &BusinessHours, now: Millis) -> Millis {
    let ms = parse_business_duration(timeout, hours.day_ms()).unwrap_or_else(|_| hours.day_ms());
    hours.add(now, ms.max(1))
}

/// Why a step is skipped when the requester is among its approvers.
pub const SELF_SKIP: &str = "the requester is an approver of this step";

/// The approval steps of `item` for `requester`. `manager` comes from the directory; `group`
/// lists a group's approvers from the grants ledger.
pub fn plan(
    item: &Item,
    requester: &UserRef,
    manager: Option<UserRef>,
    group: impl Fn(&str) -> Vec<UserRef>,
) -> Vec<PlannedStep> {
    let mut steps: Vec<PlannedStep> = item
        .approvers
        .iter()
        .map(|rule| {
            let all = match rule {
                ApproverRule::Manager => manager.clone().into_iter().collect::<Vec<_>>(),
                ApproverRule::Group(g) => group(g),
            };
            let needed = match (item.approval, rule) {
                (Approval::TwoPerson, ApproverRule::Group(_)) => 2,
                _ => 1,
            };
            let own = all.contains(requester);
            PlannedStep {
                rule: rule.to_string(),
                approvers: all.into_iter().filter(|a| a != requester).collect(),
                needed,
                skipped: own.then(|| SELF_SKIP.to_string()),
                escalated: Vec::new(),
            }
        })
        .collect();
    // Skipping every step would approve the request with nobody deciding: the last step that
    // has someone else to decide it stays.
    if steps.iter().all(|s| s.skipped.is_some())
        && let Some(last) = steps.iter_mut().rev().find(|s| !s.approvers.is_empty())
    {
        last.skipped = None;
    }
    steps
}

/// The first step at or after `from` that is not skipped.
pub fn open_step(steps: &[PlannedStep], from: usize) -> Option<usize> {
    steps.iter().enumerate().skip(from).find(|(_, s)| s.skipped.is_none()).map(|(i, _)| i)
}

/// Whether a step can be decided at all (it has enough people who may decide it).
pub fn decidable(step: &PlannedStep) -> bool {
    step.approvers.len() >= usize::from(step.needed)
}

/// What a decision leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A two-person step waits for its second approver.
    SecondApprover,
    /// On to this step.
    Step(usize),
    /// Every step approved.
    Approved,
    Denied,
}

/// What `actor` deciding `approve` on `request` does, or why they may not (shown to them
/// privately; nothing is recorded).
pub fn decide(
    request: &Request,
    decisions: &[Decision],
    actor: &UserRef,
    approve: bool,
) -> Result<Next, String> {
    let n = request.number;
    if *actor == request.requester {
        return Err(format!("You cannot decide your own request {n}."));
    }
    if request.status != RequestStatus::Pending {
        return Err(format!("{n} is {} already: there is nothing to decide.", request.status));
    }
    let at = usize::try_from(request.step).unwrap_or(usize::MAX);
    let Some(step) = request.steps.get(at) else {
        return Err(format!("{n} is not waiting for a decision."));
    };
    if !step.approvers.contains(actor) {
        return Err(format!("{n} is not waiting for your decision."));
    }
    let here: Vec<&Decision> = decisions.iter().filter(|d| d.step == request.step && d.approve).collect();
    if here.iter().any(|d| d.approver == *actor) {
        return Err(format!("You approved {n} already; it needs a different second approver."));
    }
    if !approve {
        return Ok(Next::Denied);
    }
    if here.len() + 1 < usize::from(step.needed) {
        return Ok(Next::SecondApprover);
    }
    Ok(match open_step(&request.steps, at + 1) {
        Some(i) => Next::Step(i),
        None => Next::Approved,
    })
}

/// Who of `step`'s stored approvers still may decide it now. The step keeps the approvers it
/// was sent to (and those an escalation added), but the grants ledger and the directory decide
/// (SECURITY.md invariant 3): a stored approver stands only while, for a group step, they hold
/// the group's approver grant (`group`: the ledger's current approvers of a group); for a
/// manager step, the directory (`manager_of`) names them the requester's manager or the manager
/// of another of the step's approvers (an escalation's manager's manager); and, when an
/// escalation added them to the step (`step.escalated`), while they are a current lead of the
/// item's queue (`leads`). Being a lead does not let a group approver who lost the group's grant
/// go on deciding what was sent to them as an approver. Never the requester.
pub fn standing(
    requester: &UserRef,
    step: &PlannedStep,
    group: impl Fn(&str) -> Vec<UserRef>,
    manager_of: impl Fn(&UserRef) -> Option<UserRef>,
    leads: &[UserRef],
) -> Vec<UserRef> {
    let holders = step.rule.strip_prefix("group:").map(group).unwrap_or_default();
    let manager_step = step.rule == ApproverRule::Manager.to_string();
    let managed = |a: &UserRef| {
        manager_step
            && (manager_of(requester).as_ref() == Some(a)
                || step.approvers.iter().any(|x| x != a && manager_of(x).as_ref() == Some(a)))
    };
    step.approvers
        .iter()
        .filter(|a| {
            let escalated_lead = step.escalated.contains(a) && leads.contains(a);
            *a != requester && (holders.contains(a) || escalated_lead || managed(a))
        })
        .cloned()
        .collect()
}

/// [`decide`], and then whether `actor` still stands among the current step's approvers
/// (`standing`, from [`standing`]): someone the step was sent to who has since lost the grant
/// (or the directory's say) is refused, privately, and nothing is recorded.
pub fn decide_now(
    request: &Request,
    standing: &[UserRef],
    decisions: &[Decision],
    actor: &UserRef,
    approve: bool,
) -> Result<Next, String> {
    let next = decide(request, decisions, actor, approve)?;
    if standing.contains(actor) {
        return Ok(next);
    }
    let n = request.number;
    let at = usize::try_from(request.step).unwrap_or(usize::MAX);
    let why = match request.steps.get(at).and_then(|s| s.rule.strip_prefix("group:")) {
        Some(g) => format!("you no longer hold the approver grant of the {g} group"),
        None => "you are no longer one of its approvers (your grant or the directory changed)".to_string(),
    };
    Err(format!("{n} is not waiting for your decision: {why}. Nothing was recorded."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, Platform};
    use crate::intents::requests::{Field, Fulfil, ItemKind};
    use crate::store::requests::RequestNumber;

    fn u(s: &str) -> UserRef {
        s.parse().unwrap()
    }

    fn item(approval: Approval) -> Item {
        Item {
            id: "db".into(),
            title: "DB".into(),
            kind: ItemKind::Access,
            examples: vec!["x".into()],
            seats: None,
            duration_ms: None,
            approvers: vec![ApproverRule::Manager, ApproverRule::Group("owners".into())],
            approval,
            fields: vec![Field { name: "justification".into(), ask: "why".into(), min_chars: 1 }],
            fulfil: Fulfil::Webhook("idp".into()),
            approval_timeout: None,
            source: "x".into(),
        }
    }

    fn request(steps: Vec<PlannedStep>, step: i64) -> Request {
        Request {
            number: RequestNumber(1001),
            item: "db".into(),
            item_title: "DB".into(),
            requester: u("test:ann"),
            requester_name: None,
            conversation: "c".into(),
            reply_to: Address::new(Platform::Test, "ann"),
            fields: Default::default(),
            justification: "j".into(),
            status: RequestStatus::Pending,
            step,
            steps,
            fulfil: "webhook:idp".into(),
            duration_ms: None,
            outcome: None,
            created_at: 0,
            updated_at: 0,
            decided_at: None,
            extends: None,
        }
    }

    fn approved(by: &str, step: i64) -> Decision {
        Decision {
            request: RequestNumber(1001),
            step,
            approver: u(by),
            approver_name: None,
            approve: true,
            reason: None,
            at: 0,
        }
    }

    #[test]
    fn manager_then_group_and_segregation_of_duties() {
        let group = |_: &str| vec![u("test:gus"), u("test:ann"), u("test:gil")];
        let steps = plan(&item(Approval::TwoPerson), &u("test:ann"), Some(u("test:max")), group);
        assert_eq!(steps[0].approvers, vec![u("test:max")]);
        assert_eq!(steps[0].skipped, None);
        assert_eq!(steps[1].approvers, vec![u("test:gus"), u("test:gil")], "never the requester");
        assert_eq!(steps[1].skipped.as_deref(), Some(SELF_SKIP), "a request by an approver skips the step");
        assert_eq!(open_step(&steps, 1), None);

        // Only the group step: it stays, decided by its other approvers.
        let mut only_group = item(Approval::TwoPerson);
        only_group.approvers.remove(0);
        let steps = plan(&only_group, &u("test:ann"), None, group);
        assert_eq!(steps[0].skipped, None);
        assert_eq!(steps[0].needed, 2);
        assert_eq!(steps[0].approvers, vec![u("test:gus"), u("test:gil")]);
    }

    #[test]
    fn only_approvers_who_still_hold_the_grant_stand() {
        let group = |_: &str| vec![u("test:gus"), u("test:gil")];
        let mut steps = plan(&item(Approval::Single), &u("test:ann"), Some(u("test:max")), group);
        // An escalation added a lead to the group step, and the manager's manager to the first.
        steps[1].approvers.push(u("test:lee"));
        steps[1].escalated.push(u("test:lee"));
        steps[0].approvers.push(u("test:boss"));
        steps[0].escalated.push(u("test:boss"));
        let manager_of = |x: &UserRef| match x.id.as_str() {
            "ann" => Some(u("test:max")),
            "max" => Some(u("test:boss")),
            _ => None,
        };
        // gil's grant was revoked; lee is still a lead.
        let now = |_: &str| vec![u("test:gus"), u("test:new")];
        let leads = [u("test:lee")];
        let group_now = standing(&u("test:ann"), &steps[1], now, manager_of, &leads);
        assert_eq!(group_now, vec![u("test:gus"), u("test:lee")], "never someone the step was not sent to");
        let manager_now = standing(&u("test:ann"), &steps[0], now, manager_of, &leads);
        assert_eq!(manager_now, vec![u("test:max"), u("test:boss")]);
        // gil lost the group's grant but is a lead of the queue too: he was sent the step as a
        // group approver, not by an escalation, so being a lead does not let him decide it.
        let gil_leads = [u("test:lee"), u("test:gil")];
        let with_gil = standing(&u("test:ann"), &steps[1], now, manager_of, &gil_leads);
        assert_eq!(with_gil, vec![u("test:gus"), u("test:lee")], "gil stands only as an escalation's lead");
        let refused =
            decide_now(&request(steps.clone(), 1), &with_gil, &[], &u("test:gil"), true).unwrap_err();
        assert!(refused.contains("no longer hold the approver grant"), "{refused}");
        // lee is no lead any more, and ann has another manager now.
        let moved = |x: &UserRef| (x.id == "ann").then(|| u("test:mia"));
        assert_eq!(standing(&u("test:ann"), &steps[1], now, moved, &[]), vec![u("test:gus")]);
        assert!(standing(&u("test:ann"), &steps[0], now, moved, &[]).is_empty());

        let r = request(steps, 1);
        let refused = decide_now(&r, &group_now, &[], &u("test:gil"), true).unwrap_err();
        assert!(refused.contains("not waiting for your decision"), "{refused}");
        assert!(refused.contains("no longer hold the approver grant of the owners group"), "{refused}");
        assert_eq!(decide_now(&r, &group_now, &[], &u("test:gus"), true), Ok(Next::Approved));
        assert_eq!(decide_now(&r, &group_now, &[], &u("test:lee"), false), Ok(Next::Denied));
        let own = decide_now(&r, &group_now, &[], &u("test:ann"), true).unwrap_err();
        assert!(own.contains("your own request"), "the usual refusals come first: {own}");
    }

    #[test]
    fn decisions_follow_the_steps_and_refuse_the_wrong_people() {
        let steps = plan(&item(Approval::TwoPerson), &u("test:ann"), Some(u("test:max")), |_| {
            vec![u("test:gus"), u("test:gil")]
        });
        let r = request(steps.clone(), 0);
        assert_eq!(decide(&r, &[], &u("test:max"), true), Ok(Next::Step(1)));
        assert!(decide(&r, &[], &u("test:ann"), true).unwrap_err().contains("your own request"));
        assert!(decide(&r, &[], &u("test:eve"), true).unwrap_err().contains("not waiting for your decision"));
        assert!(decide(&r, &[], &u("test:gus"), true).is_err(), "the group's turn has not come");
        assert_eq!(decide(&r, &[], &u("test:max"), false), Ok(Next::Denied));

        let r = request(steps, 1);
        assert_eq!(decide(&r, &[], &u("test:gus"), true), Ok(Next::SecondApprover));
        let first = [approved("test:gus", 1)];
        assert!(decide(&r, &first, &u("test:gus"), true).unwrap_err().contains("different second approver"));
        assert_eq!(decide(&r, &first, &u("test:gil"), true), Ok(Next::Approved));
    }
}
