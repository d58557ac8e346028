//! Which case events one engine step produces: a new question answered, offered articles or
//! matched nothing; a ticket asked for straight away; an offered article picked; an answer marked solved or not solved. Derived
//! from the step (the state before and after, and its actions), so the engine stays as it is.

use crate::channel::{Inbound, InboundKind};
use crate::domain::QueueName;
use crate::engine::{Action, State, Step};
use crate::intents::Catalog;
use crate::store::{CaseEvent, CaseKind};

/// The case events of `step`, which ran `inbound` on a conversation that was in `prev`.
pub fn case_events(
    prev: &State,
    step: &Step,
    inbound: &Inbound,
    catalog: &Catalog,
    default_queue: &QueueName,
) -> Vec<CaseEvent> {
    let text = match &inbound.kind {
        InboundKind::Message { text } => Some(text.as_str()),
        _ => None,
    };
    let queue = |intent: Option<&str>| {
        intent
            .and_then(|id| catalog.intent(id))
            .map(|i| i.queue.clone())
            .unwrap_or_else(|| default_queue.clone())
    };
    let event = |kind, intent: Option<String>, article: Option<String>, query: &str| CaseEvent {
        kind,
        queue: queue(intent.as_deref()),
        intent,
        article,
        query: query.to_string(),
    };
    let mut out = Vec::new();
    let files_ticket = step.actions.iter().any(|a| matches!(a, Action::FileTicket(_)));
    for action in &step.actions {
        if let Action::Feedback(f) = action {
            let kind = if f.helpful { CaseKind::Solved } else { CaseKind::NotSolved };
            out.push(event(kind, f.intent.clone(), f.article.clone(), &f.query));
        }
    }
    // A ticket filed straight from a message (🎫 reaction, message shortcut): a new case.
    if let InboundKind::FileTicket { text, .. } = &inbound.kind
        && (files_ticket || matches!(step.state.state, State::Form { .. }))
    {
        let intent = step.actions.iter().find_map(|a| match a {
            Action::FileTicket(t) => t.intent.clone(),
            _ => None,
        });
        out.push(event(CaseKind::Direct, intent, None, text));
        return out;
    }
    match (prev, &step.state.state) {
        (_, State::Answered { query, intent, article, .. }) if text == Some(query.as_str()) => {
            out.push(event(CaseKind::Answered, intent.clone(), article.clone(), query))
        }
        (State::Offered { .. }, State::Answered { query, article, .. }) => {
            out.push(event(CaseKind::Picked, None, article.clone(), query))
        }
        (_, State::Offered { query, articles }) if text == Some(query.as_str()) => {
            out.push(event(CaseKind::Offered, None, articles.first().cloned(), query))
        }
        (_, State::OfferTicket { query }) if text == Some(query.as_str()) => {
            out.push(event(CaseKind::NoMatch, None, None, query))
        }
        // "None of these" (or asking for a person) after articles were offered.
        (State::Offered { query, articles }, _) if files_ticket => {
            out.push(event(CaseKind::NotSolved, None, articles.first().cloned(), query))
        }
        // A description typed after "talk to a person", taken for a ticket or its form.
        (State::Describe, State::Ticket | State::Form { .. }) => {
            let intent = step.actions.iter().find_map(|a| match a {
                Action::FileTicket(t) => t.intent.clone(),
                _ => None,
            });
            let intent = intent.or_else(|| match &step.state.state {
                State::Form { intent, .. } => intent.clone(),
                _ => None,
            });
            if let Some(text) = text {
                out.push(event(CaseKind::Direct, intent, None, text))
            }
        }
        _ => {}
    }
    out
}
