//! Metrics and tracing for handled events: the span each event runs in, and the counters a
//! committed event moves (questions and answers by intent, deflections, tickets filed and
//! resolved by queue, SLA breaches).

use super::Service;
use crate::domain::{Inbound, InboundKind};
use crate::domain::{QueueName, TicketNumber, TicketStatus};
use crate::store::{CaseEvent, CaseKind, Commit, TicketOp};

/// The span one inbound event is handled in.
pub(super) fn event_span(inbound: &Inbound) -> tracing::Span {
    let kind = match &inbound.kind {
        InboundKind::Message { .. } => "message",
        InboundKind::Choice { .. } => "choice",
        InboundKind::Reopen { .. } => "reopen",
        InboundKind::AgentReply { .. } => "agent_reply",
        InboundKind::Reaction { .. } => "reaction",
        InboundKind::FileTicket { .. } => "file_ticket",
    };
    let channel = inbound.user.platform.as_str();
    metrics::counter!("deskbot_inbound_events_total", "channel" => channel, "kind" => kind).increment(1);
    let ticket = match &inbound.kind {
        InboundKind::AgentReply { number, .. } => Some(number.to_string()),
        _ => None,
    };
    tracing::info_span!(
        "event",
        channel,
        kind,
        event_id = %inbound.event_id,
        conversation = %inbound.conversation,
        ticket = ticket.as_deref().map(tracing::field::display),
    )
}

/// What a commit will change, taken before it is handed to the store.
pub(super) struct CommitSummary {
    cases: Vec<CaseEvent>,
    filed: Vec<QueueName>,
    resolved: Vec<TicketNumber>,
    breached: Vec<TicketNumber>,
}

impl CommitSummary {
    pub(super) fn of(commit: &Commit) -> Self {
        let mut s = Self {
            cases: commit.cases.clone(),
            filed: Vec::new(),
            resolved: Vec::new(),
            breached: Vec::new(),
        };
        for op in &commit.tickets {
            match op {
                TicketOp::Create(t) => s.filed.push(t.queue.clone()),
                TicketOp::SetStatus { number, status: TicketStatus::Resolved, .. } => {
                    s.resolved.push(*number)
                }
                TicketOp::Audit { number, kind, .. } if kind == "sla_breach" => s.breached.push(*number),
                _ => {}
            }
        }
        s
    }
}

impl Service {
    /// Count what a committed event changed.
    pub(super) async fn observe(&self, s: CommitSummary) {
        for c in &s.cases {
            let intent = c.intent.clone().unwrap_or_else(|| "none".to_string());
            match c.kind {
                k if k.starts_case() => {
                    metrics::counter!("deskbot_questions_total", "outcome" => k.as_str()).increment(1);
                    if k == CaseKind::Answered {
                        metrics::counter!("deskbot_answers_total", "intent" => intent).increment(1);
                    }
                }
                CaseKind::Solved => {
                    metrics::counter!("deskbot_deflections_total", "intent" => intent).increment(1)
                }
                CaseKind::NotSolved => {
                    metrics::counter!("deskbot_not_solved_total", "intent" => intent).increment(1)
                }
                _ => {}
            }
        }
        for q in s.filed {
            metrics::counter!("deskbot_tickets_filed_total", "queue" => q.to_string()).increment(1);
        }
        for (numbers, name) in
            [(s.resolved, "deskbot_tickets_resolved_total"), (s.breached, "deskbot_sla_breaches_total")]
        {
            for n in numbers {
                let queue = match self.store.ticket(n).await {
                    Ok(Some(t)) => t.queue.to_string(),
                    _ => "unknown".to_string(),
                };
                metrics::counter!(name, "queue" => queue).increment(1);
            }
        }
    }
}
