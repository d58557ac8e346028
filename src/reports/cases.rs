//! Which case events one engine step produces: a new question answered, offered articles or
//! matched nothing; a ticket asked for straight away; an offered article picked; an answer marked solved or not solved. Derived
//! from the step (the state before and after, and its actions), so the engine stays as it is.

use crate::domain::QueueName;
use crate::domain::{Inbound, InboundKind};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, Platform, UserRef};
    use crate::engine::{Context, ConversationState, Settings, step};
    use crate::intents::{LoadOptions, load_catalog};
    use crate::store::KbFeedback;

    fn starter() -> Catalog {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
        let queues = crate::desk::default_queues().into_iter().map(|q| q.name).collect::<Vec<_>>();
        load_catalog(&dir, &queues, &LoadOptions::default()).expect("starter pack loads")
    }

    fn inbound(kind: InboundKind) -> Inbound {
        let user = UserRef::new(Platform::Console, "amy");
        Inbound {
            event_id: "e".into(),
            user,
            display_name: None,
            conversation: "console:amy".into(),
            reply_to: Address::new(Platform::Console, "amy"),
            kind,
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        }
    }

    fn msg(text: &str) -> Inbound {
        inbound(InboundKind::Message { text: text.into() })
    }

    fn brief(events: &[CaseEvent]) -> Vec<(CaseKind, Option<&str>, &str)> {
        events.iter().map(|e| (e.kind, e.intent.as_deref(), e.query.as_str())).collect()
    }

    /// Run messages through the real engine and starter pack; the case events of each step.
    fn run(catalog: &Catalog, inputs: &[Inbound]) -> Vec<Vec<CaseEvent>> {
        let settings = Settings::default();
        let mut state = ConversationState::default();
        let mut out = Vec::new();
        for inbound in inputs {
            let ctx = Context { catalog, now: 0, tickets: &[], settings: &settings, display_name: None };
            let s = step(&state, inbound, &ctx);
            out.push(case_events(&state.state, &s, inbound, catalog, &settings.default_queue));
            state = s.state;
        }
        out
    }

    #[test]
    fn real_conversations_record_one_event_per_outcome() {
        use CaseKind::*;
        let catalog = starter();
        let solved = run(
            &catalog,
            &[msg("I forgot my password"), inbound(InboundKind::Choice { id: "solved".into() })],
        );
        assert_eq!(brief(&solved[0]), [(Answered, Some("password_reset"), "I forgot my password")]);
        assert_eq!(solved[0][0].queue.as_str(), "identity");
        assert_eq!(brief(&solved[1]), [(Solved, Some("password_reset"), "I forgot my password")]);

        let not_solved = run(&catalog, &[msg("I forgot my password"), msg("not solved")]);
        assert_eq!(brief(&not_solved[1]), [(NotSolved, Some("password_reset"), "I forgot my password")]);

        let nothing = run(&catalog, &[msg("zxqv blorp quux"), msg("1")]);
        assert_eq!(brief(&nothing[0]), [(NoMatch, None, "zxqv blorp quux")]);
        assert_eq!(nothing[0][0].queue.as_str(), "service-desk");
        assert!(nothing[1].is_empty(), "filing the ticket is not a second question");

        let direct = run(&catalog, &[msg("talk to a person"), msg("zxqv blorp quux")]);
        assert!(direct[0].is_empty(), "nothing described yet");
        assert_eq!(brief(&direct[1]), [(Direct, None, "zxqv blorp quux")]);

        let chatter = run(&catalog, &[msg("hello"), msg("thanks")]);
        assert!(chatter.iter().all(Vec::is_empty), "greetings are not questions");
    }

    #[test]
    fn offered_articles_picked_or_refused() {
        use CaseKind::*;
        let catalog = starter();
        let q = "remote access";
        let offered = State::Offered { query: q.into(), articles: vec!["vpn-troubleshooting".into()] };
        let answered = State::Answered {
            query: q.into(),
            intent: None,
            article: Some("vpn-troubleshooting".into()),
            captures: Default::default(),
        };
        let dq = QueueName::parse("service-desk").unwrap();
        let st = |state: State, actions| Step {
            state: ConversationState { state, ..ConversationState::default() },
            actions,
        };

        let first = case_events(&State::Idle, &st(offered.clone(), vec![]), &msg(q), &catalog, &dq);
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].kind, first[0].article.as_deref()), (Offered, Some("vpn-troubleshooting")));

        let pick = inbound(InboundKind::Choice { id: "article:vpn-troubleshooting".into() });
        let picked = case_events(&offered, &st(answered.clone(), vec![]), &pick, &catalog, &dq);
        assert_eq!((picked[0].kind, picked[0].article.as_deref()), (Picked, Some("vpn-troubleshooting")));

        let yes = Action::Feedback(KbFeedback {
            intent: None,
            article: Some("vpn-troubleshooting".into()),
            query: q.into(),
            helpful: true,
        });
        let solved = case_events(&answered, &st(State::Idle, vec![yes]), &msg("1"), &catalog, &dq);
        assert_eq!(brief(&solved), [(Solved, None, q)]);

        let file = Action::FileTicket(crate::store::NewTicket {
            title: q.into(),
            description: q.into(),
            intent: None,
            queue: dq.clone(),
            priority: Default::default(),
            fields: Default::default(),
            transcript: vec![],
            requester_name: None,
            filed_by: None,
            filed_by_name: None,
            note: None,
            on_behalf: None,
        });
        let none = inbound(InboundKind::Choice { id: "none".into() });
        let refused = case_events(&offered, &st(State::Ticket, vec![file]), &none, &catalog, &dq);
        assert_eq!(
            (refused[0].kind, refused[0].article.as_deref()),
            (NotSolved, Some("vpn-troubleshooting"))
        );
    }
}
