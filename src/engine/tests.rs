//! Table-driven tests of every engine transition, against a small hand-built catalog whose
//! matcher and KB index are deterministic keyword fakes.

use super::*;
use crate::domain::{Address, Platform, Priority, QueueName, TicketNumber, TicketStatus, UserRef};
use crate::domain::{Inbound, InboundKind, TicketSummary};
use crate::intents::{Answer, Catalog, Intent, Match, Matcher, Slot};
use crate::kb::{Article, KbHit, KbIndex};
use crate::store::{Speaker, TICKET_PLACEHOLDER};
use regex::Regex;

struct KeywordMatcher(Vec<(&'static str, usize)>);

impl Matcher for KeywordMatcher {
    fn classify(&self, text: &str) -> Match {
        let t = text.to_lowercase();
        let hits: Vec<usize> = self.0.iter().filter(|(k, _)| t.contains(k)).map(|(_, i)| *i).collect();
        let hit = hits.first().copied();
        // Two keywords: two intents fit equally well.
        let ranked: Vec<(usize, f32)> = hits.iter().map(|&i| (i, 0.45)).collect();
        let mut captures = Vec::new();
        if let Some(c) = Regex::new(r"floor (?P<floor>\d+)").ok().and_then(|r| r.captures(&t)) {
            captures.push(("floor".to_string(), c["floor"].to_string()));
        }
        let confidence = if hit.is_some() { 0.9 } else { 0.1 };
        Match { intent: hit, confidence, captures, ambiguous: ranked.len() > 1, ranked }
    }
    fn threshold(&self) -> f32 {
        0.5
    }
}

struct KeywordKb;

impl KbIndex for KeywordKb {
    fn search(&self, query: &str, _k: usize) -> Vec<KbHit> {
        if query.to_lowercase().contains("wifi") {
            vec![KbHit { article: 1, score: 2.0 }, KbHit { article: 0, score: 0.1 }]
        } else {
            vec![]
        }
    }
    fn min_score(&self) -> f32 {
        0.5
    }
}

fn q(s: &str) -> QueueName {
    QueueName::parse(s).unwrap()
}

fn intent(id: &str, answer: Answer, queue: &str, slots: Vec<Slot>) -> Intent {
    Intent {
        id: id.into(),
        description: format!("{id} description"),
        examples: vec![],
        patterns: vec![],
        answer,
        queue: q(queue),
        priority: Priority::Normal,
        slots,
        threshold: None,
        file: Default::default(),
        source: "test.toml".into(),
    }
}

fn article(id: &str, title: &str) -> Article {
    Article {
        id: id.into(),
        title: title.into(),
        tags: vec![],
        examples: vec![],
        body: format!("{title} body."),
        source: format!("kb/{id}.md").into(),
    }
}

fn catalog() -> Catalog {
    let asset = Slot {
        name: "asset".into(),
        ask: "What is the asset tag?".into(),
        pattern: Some(Regex::new(r"^LT-\d+$").unwrap()),
        hint: Some("An asset tag looks like LT-1234.".into()),
    };
    let floor = Slot { name: "floor".into(), ask: "Which floor?".into(), pattern: None, hint: None };
    let mut urgent = intent("security_incident", Answer::Text("Unplug it now.".into()), "security", vec![]);
    urgent.priority = Priority::Urgent;
    let mut lost = intent("lost_device", Answer::Text("Call ext. 4357 now.".into()), "security", vec![]);
    lost.priority = Priority::Urgent;
    lost.file = crate::intents::FileWhen::Always;
    Catalog {
        intents: vec![
            intent("vpn_problem", Answer::Article("vpn".into()), "network", vec![]),
            intent(
                "password_reset",
                Answer::Text("Reset it at https://password.example.com".into()),
                "identity",
                vec![],
            ),
            intent("laptop_broken", Answer::Text("Try a restart.".into()), "hardware", vec![asset]),
            intent(
                "printer",
                Answer::Text("Printers on floor {floor} are managed by facilities.".into()),
                "hardware",
                vec![floor],
            ),
            urgent,
            lost,
            crate::intents::requests::as_intent(&acrobat(), &q("service-desk")),
        ],
        items: vec![acrobat()],
        articles: vec![article("vpn", "Fix VPN drops"), article("wifi", "Join the Wi-Fi")],
        cases: vec![],
        out_of_scope: vec![],
        matcher: Box::new(KeywordMatcher(vec![
            ("vpn", 0),
            ("password", 1),
            ("laptop", 2),
            ("printer", 3),
            ("malware", 4),
            ("stolen", 5),
            ("acrobat", 6),
        ])),
        kb_index: Box::new(KeywordKb),
    }
}

fn acrobat() -> crate::intents::requests::Item {
    use crate::intents::requests::{Approval, ApproverRule, Field, Fulfil, Item, ItemKind};
    Item {
        id: "adobe-acrobat-pro".into(),
        title: "Adobe Acrobat Pro licence".into(),
        kind: ItemKind::Licence,
        examples: vec!["I need acrobat".into()],
        seats: Some(2),
        duration_ms: None,
        approvers: vec![ApproverRule::Manager],
        approval: Approval::Single,
        fields: vec![Field {
            name: "justification".into(),
            ask: "What will you use it for?".into(),
            min_chars: 20,
        }],
        fulfil: Fulfil::Webhook("idp".into()),
        approval_timeout: None,
        source: "catalog/licences.toml".into(),
    }
}

fn msg(text: &str) -> InboundKind {
    InboundKind::Message { text: text.into() }
}

fn inbound(kind: InboundKind) -> Inbound {
    Inbound {
        event_id: "e".into(),
        user: UserRef::new(Platform::Console, "alice"),
        display_name: Some("Alice".into()),
        conversation: "console:alice".into(),
        reply_to: Address::new(Platform::Console, "alice"),
        kind,
        at: 0,
        message_id: None,
        message_channel: None,
        attachments: Vec::new(),
        via: Default::default(),
    }
}

/// Runs a script of events from `start`, returning every step.
fn run(start: State, script: Vec<(InboundKind, i64)>, tickets: &[TicketSummary]) -> Vec<Step> {
    let cat = catalog();
    let settings = Settings { reopen_window_ms: 1000, ..Settings::default() };
    let mut st = ConversationState { state: start, ..ConversationState::default() };
    let mut out = Vec::new();
    for (kind, now) in script {
        let ctx = Context { catalog: &cat, now, tickets, settings: &settings, display_name: Some("Alice") };
        let s = step(&st, &inbound(kind), &ctx);
        st = s.state.clone();
        out.push(s);
    }
    out
}

fn name(s: &State) -> &'static str {
    match s {
        State::Idle => "idle",
        State::Answered { .. } => "answered",
        State::Offered { .. } => "offered",
        State::Clarify { .. } => "clarify",
        State::OfferTicket { .. } => "offer_ticket",
        State::Form { .. } => "form",
        State::Describe => "describe",
        State::Ticket => "ticket",
        State::Comment { .. } => "comment",
        State::Request { .. } => "request",
        State::DenyReason { .. } => "deny_reason",
    }
}

fn kinds(s: &Step) -> Vec<&'static str> {
    s.actions
        .iter()
        .map(|a| match a {
            Action::Reply { .. } => "reply",
            Action::FileTicket(_) => "file",
            Action::SetTicketStatus { status: TicketStatus::Open, .. } => "reopen",
            Action::SetTicketStatus { .. } => "status",
            Action::Rate { .. } => "rate",
            Action::Relay { .. } => "relay",
            Action::RateComment { .. } => "comment",
            Action::Feedback(f) if f.helpful => "helpful",
            Action::Feedback(_) => "unhelpful",
            Action::SubmitRequest { .. } => "submit",
            Action::Decide { approve: true, .. } => "approve",
            Action::Decide { .. } => "deny",
            Action::Extend { .. } => "extend",
            Action::ListApprovals => "approvals",
        })
        .collect()
}

fn summary(number: i64, status: TicketStatus, resolved_at: Option<i64>) -> TicketSummary {
    TicketSummary {
        number: TicketNumber(number),
        queue: q("network"),
        conversation: "console:alice".into(),
        title: format!("ticket {number}"),
        status,
        updated_at: 0,
        resolved_at,
    }
}

#[test]
fn every_transition_lands_in_the_expected_state_with_the_expected_actions() {
    // (name, start state, script, last step: reply contains, state, action kinds)
    type Row = (&'static str, State, Vec<&'static str>, &'static str, &'static str, Vec<&'static str>);
    let rows: Vec<Row> = vec![
        ("greeting", State::Idle, vec!["hi"], "IT help bot", "idle", vec!["reply"]),
        (
            "catalog item asks its justification",
            State::Idle,
            vec!["I need acrobat please"],
            "What will you use it for?",
            "request",
            vec!["reply"],
        ),
        (
            "a short justification is asked again",
            State::Idle,
            vec!["I need acrobat please", "pdfs"],
            "at least 20 characters",
            "request",
            vec!["reply"],
        ),
        (
            "a full justification records the request",
            State::Idle,
            vec!["I need acrobat please", "to sign supplier contracts every week"],
            "",
            "idle",
            vec!["submit"],
        ),
        ("typed approval", State::Idle, vec!["approve R-1001"], "", "idle", vec!["approve"]),
        (
            "deny asks a reason",
            State::Idle,
            vec!["deny R-1001"],
            "Why are you denying R-1001",
            "deny_reason",
            vec!["reply"],
        ),
        (
            "the reason denies",
            State::Idle,
            vec!["deny R-1001", "no budget this quarter"],
            "",
            "idle",
            vec!["deny"],
        ),
        (
            "typed denial with its reason",
            State::Idle,
            vec!["deny r-1001 no budget"],
            "",
            "idle",
            vec!["deny"],
        ),
        ("empty message", State::Idle, vec!["   "], "didn't catch", "idle", vec!["reply"]),
        ("thanks", State::Idle, vec!["thanks!"], "welcome", "idle", vec!["reply"]),
        ("help", State::Idle, vec!["help"], "status", "idle", vec!["reply"]),
        (
            "intent with article",
            State::Idle,
            vec!["my vpn keeps dropping"],
            "Fix VPN drops",
            "answered",
            vec!["reply"],
        ),
        (
            "intent with inline text",
            State::Idle,
            vec!["I forgot my password"],
            "password.example.com",
            "answered",
            vec!["reply"],
        ),
        (
            "captures fill template",
            State::Idle,
            vec!["printer on floor 3 jams"],
            "floor 3 are",
            "answered",
            vec!["reply"],
        ),
        ("kb offered", State::Idle, vec!["wifi is weird"], "articles might help", "offered", vec!["reply"]),
        (
            "nothing matched",
            State::Idle,
            vec!["the coffee machine is leaking"],
            "file a ticket",
            "offer_ticket",
            vec!["reply"],
        ),
        ("solved", State::Idle, vec!["vpn drops", "1"], "Glad", "idle", vec!["helpful", "reply"]),
        (
            "solved by label",
            State::Idle,
            vec!["vpn drops", "That solved it"],
            "Glad",
            "idle",
            vec!["helpful", "reply"],
        ),
        (
            "not solved files",
            State::Idle,
            vec!["vpn drops", "2"],
            "filed ticket",
            "ticket",
            vec!["unhelpful", "file", "reply"],
        ),
        (
            "person files",
            State::Idle,
            vec!["vpn drops", "3"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "person by words",
            State::Idle,
            vec!["vpn drops", "talk to a person"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "not solved asks form",
            State::Idle,
            vec!["laptop is dead", "2"],
            "asset tag",
            "form",
            vec!["unhelpful", "reply"],
        ),
        (
            "bad slot re-asks with hint",
            State::Idle,
            vec!["laptop is dead", "2", "dunno"],
            "LT-1234",
            "form",
            vec!["reply"],
        ),
        (
            "good slot files",
            State::Idle,
            vec!["laptop is dead", "2", "LT-42"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "slot retries run out",
            State::Idle,
            vec!["laptop is dead", "2", "a", "b", "c"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "captured slot not asked",
            State::Idle,
            vec!["printer on floor 3 jams", "2"],
            "filed ticket",
            "ticket",
            vec!["unhelpful", "file", "reply"],
        ),
        (
            "cancel in form",
            State::Idle,
            vec!["laptop is dead", "2", "cancel"],
            "cancelled",
            "idle",
            vec!["reply"],
        ),
        (
            "article picked",
            State::Idle,
            vec!["wifi is weird", "1"],
            "Join the Wi-Fi",
            "answered",
            vec!["reply"],
        ),
        (
            "none of these files",
            State::Idle,
            vec!["wifi is weird", "2"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "offer accepted by number",
            State::Idle,
            vec!["coffee machine leaks", "1"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "offer accepted by yes",
            State::Idle,
            vec!["coffee machine leaks", "yes"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "offer declined",
            State::Idle,
            vec!["coffee machine leaks", "2"],
            "cancelled",
            "idle",
            vec!["reply"],
        ),
        (
            "new question replaces answer",
            State::Idle,
            vec!["vpn drops", "I forgot my password"],
            "password",
            "answered",
            vec!["reply"],
        ),
        (
            "two intents fit: ask which",
            State::Idle,
            vec!["vpn password trouble"],
            "not sure which",
            "clarify",
            vec!["reply"],
        ),
        (
            "clarify answered by number",
            State::Idle,
            vec!["vpn password trouble", "2"],
            "password.example.com",
            "answered",
            vec!["reply"],
        ),
        (
            "clarify answered by label",
            State::Idle,
            vec!["vpn password trouble", "vpn_problem description"],
            "Fix VPN drops",
            "answered",
            vec!["reply"],
        ),
        (
            "clarify: none of these files",
            State::Idle,
            vec!["vpn password trouble", "3"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "person with nothing described",
            State::Idle,
            vec!["talk to a person"],
            "describe",
            "describe",
            vec!["reply"],
        ),
        (
            "description files",
            State::Idle,
            vec!["talk to a person", "the projector smells"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "description with form",
            State::Idle,
            vec!["talk to a person", "laptop will not boot"],
            "asset tag",
            "form",
            vec!["reply"],
        ),
        ("status", State::Idle, vec!["status"], "no tickets", "idle", vec!["reply"]),
        (
            "number out of range re-asks with the options",
            State::Idle,
            vec!["coffee machine leaks", "3"],
            "isn't one of the options",
            "offer_ticket",
            vec!["reply"],
        ),
        (
            "yes where there is no yes re-asks",
            State::Idle,
            vec!["wifi is weird", "yes"],
            "isn't one of the options",
            "offered",
            vec!["reply"],
        ),
        (
            "option words re-ask in a clarification",
            State::Idle,
            vec!["vpn password trouble", "option 9"],
            "not sure which",
            "clarify",
            vec!["reply"],
        ),
        (
            "the question is re-asked once only",
            State::Idle,
            vec!["wifi is weird", "7", "8"],
            "still didn't get that",
            "offered",
            vec!["reply"],
        ),
        (
            "a valid pick after a re-ask works",
            State::Idle,
            vec!["coffee machine leaks", "3", "1"],
            "filed ticket",
            "ticket",
            vec!["file", "reply"],
        ),
        (
            "yes answers \"did that solve it\"",
            State::Idle,
            vec!["vpn drops", "yes"],
            "Glad",
            "idle",
            vec!["helpful", "reply"],
        ),
        (
            "no answers \"did that solve it\"",
            State::Idle,
            vec!["vpn drops", "no"],
            "filed ticket",
            "ticket",
            vec!["unhelpful", "file", "reply"],
        ),
        (
            "file = always files at once and shows the answer",
            State::Idle,
            vec!["my phone was stolen"],
            "Call ext. 4357",
            "ticket",
            vec!["reply", "file", "reply"],
        ),
        (
            "a yes is not a description",
            State::Idle,
            vec!["talk to a person", "yes"],
            "describe the problem",
            "describe",
            vec!["reply"],
        ),
    ];
    for (label, start, script, reply, state, actions) in rows {
        let steps = run(start, script.iter().map(|t| (msg(t), 10)).collect(), &[]);
        for (i, s) in steps.iter().enumerate() {
            for a in &s.actions {
                if let Action::FileTicket(t) = a
                    && !super::words::wants_person(script[0])
                {
                    assert_eq!(t.title, script[0], "{label}: step {i} files the first message's problem");
                }
            }
        }
        let last = steps.last().unwrap();
        let text = last.replies().join("\n");
        assert!(
            text.to_lowercase().contains(&reply.to_lowercase()),
            "{label}: reply {text:?} lacks {reply:?}"
        );
        assert_eq!(name(&last.state.state), state, "{label}: state");
        assert_eq!(kinds(last), actions, "{label}: actions");
    }
}

#[test]
fn a_filed_ticket_takes_replies_ratings_and_reopens() {
    // (tickets of this conversation, message, now, reply contains, state, actions)
    type Row =
        (&'static str, Vec<TicketSummary>, &'static str, i64, &'static str, &'static str, Vec<&'static str>);
    let rows: Vec<Row> = vec![
        (
            "open: relayed",
            vec![summary(1001, TicketStatus::Open, None)],
            "it also beeps",
            10,
            "Added to IT-1001",
            "ticket",
            vec!["relay", "reply"],
        ),
        (
            "pending: reopened and relayed",
            vec![summary(1001, TicketStatus::Pending, None)],
            "here is the info",
            10,
            "Added",
            "ticket",
            vec!["reopen", "relay", "reply"],
        ),
        (
            "resolved: rating",
            vec![summary(1001, TicketStatus::Resolved, Some(0))],
            "4",
            10,
            "Thanks for the rating",
            "comment",
            vec!["rate", "reply"],
        ),
        (
            "resolved: thanks does not reopen",
            vec![summary(1001, TicketStatus::Resolved, Some(0))],
            "thanks!",
            10,
            "welcome",
            "ticket",
            vec!["reply"],
        ),
        (
            "resolved: reply within window reopens",
            vec![summary(1001, TicketStatus::Resolved, Some(0))],
            "it is broken again",
            10,
            "reopened",
            "ticket",
            vec!["reopen", "relay", "reply"],
        ),
        (
            "resolved: reply after window is new",
            vec![summary(1001, TicketStatus::Resolved, Some(0))],
            "my vpn drops",
            5000,
            "Fix VPN drops",
            "answered",
            vec!["reply"],
        ),
        (
            "closed: new case",
            vec![summary(1001, TicketStatus::Closed, Some(0))],
            "my vpn drops",
            10,
            "Fix VPN drops",
            "answered",
            vec!["reply"],
        ),
        (
            "newest ticket of this conversation wins",
            vec![summary(1001, TicketStatus::Closed, Some(0)), summary(1002, TicketStatus::Open, None)],
            "more info",
            10,
            "IT-1002",
            "ticket",
            vec!["relay", "reply"],
        ),
        (
            "open: thanks acknowledged, not relayed",
            vec![summary(1001, TicketStatus::Open, None)],
            "thanks!",
            10,
            "You're welcome",
            "ticket",
            vec!["reply"],
        ),
        (
            "open: ok acknowledged",
            vec![summary(1001, TicketStatus::Open, None)],
            "ok",
            10,
            "IT-1001",
            "ticket",
            vec!["reply"],
        ),
        (
            "pending: 👍 acknowledged",
            vec![summary(1001, TicketStatus::Pending, None)],
            "👍",
            10,
            "welcome",
            "ticket",
            vec!["reply"],
        ),
        (
            "new question leaves the ticket",
            vec![summary(1001, TicketStatus::Open, None)],
            "new question",
            10,
            "new problem",
            "idle",
            vec!["reply"],
        ),
    ];
    for (label, tickets, text, now, reply, state, actions) in rows {
        let steps = run(State::Ticket, vec![(msg(text), now)], &tickets);
        let last = &steps[0];
        let said = last.replies().join("\n");
        assert!(said.to_lowercase().contains(&reply.to_lowercase()), "{label}: {said:?} lacks {reply:?}");
        assert_eq!(name(&last.state.state), state, "{label}: state");
        assert_eq!(kinds(last), actions, "{label}: actions");
    }
    let tickets = vec![summary(1001, TicketStatus::Resolved, Some(0))];
    let steps = run(State::Ticket, vec![(msg("5"), 1), (msg("Quick and friendly"), 2)], &tickets);
    assert_eq!(kinds(&steps[1]), vec!["comment", "reply"]);
    assert_eq!(name(&steps[1].state.state), "ticket");
    let steps = run(State::Ticket, vec![(msg("5"), 1), (msg("no"), 2)], &tickets);
    assert_eq!(kinds(&steps[1]), vec!["reply"]);
}

#[test]
fn filed_ticket_carries_transcript_queue_priority_and_form_answers() {
    let steps = run(State::Idle, vec![(msg("laptop is dead"), 1), (msg("2"), 2), (msg("LT-42"), 3)], &[]);
    let filed = steps[2]
        .actions
        .iter()
        .find_map(|a| match a {
            Action::FileTicket(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(filed.title, "laptop is dead");
    assert_eq!(filed.queue.as_str(), "hardware");
    assert_eq!(filed.intent.as_deref(), Some("laptop_broken"));
    assert_eq!(filed.fields.get("asset").map(String::as_str), Some("LT-42"));
    assert!(filed.description.contains("asset: LT-42"));
    let said: Vec<&str> = filed.transcript.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(said.first(), Some(&"laptop is dead"));
    assert!(said.contains(&"LT-42"));
    assert!(filed.transcript.iter().any(|t| t.from == Speaker::Bot));
    assert!(steps[2].replies()[0].contains(TICKET_PLACEHOLDER));
    assert!(steps[2].state.transcript.is_empty(), "a filed case starts a fresh transcript");
    assert_eq!(steps[2].state.state, State::Ticket);
}

#[test]
fn no_intent_ticket_goes_to_default_queue_and_urgent_intents_keep_priority() {
    let steps = run(State::Idle, vec![(msg("coffee machine leaks"), 1), (msg("1"), 2)], &[]);
    let t = steps[1].actions.iter().find_map(|a| if let Action::FileTicket(t) = a { Some(t) } else { None });
    assert_eq!(t.map(|t| t.queue.as_str()), Some("service-desk"));
    let steps = run(State::Idle, vec![(msg("I think I have malware"), 1), (msg("2"), 2)], &[]);
    let t = steps[1].actions.iter().find_map(|a| if let Action::FileTicket(t) = a { Some(t) } else { None });
    assert_eq!(t.map(|t| t.priority), Some(Priority::Urgent));
}

#[test]
fn buttons_work_like_typed_choices_and_stale_buttons_are_refused() {
    let choice = |id: &str| InboundKind::Choice { id: id.into() };
    let steps = run(State::Idle, vec![(msg("vpn drops"), 1), (choice("solved"), 2)], &[]);
    assert_eq!(kinds(&steps[1]), vec!["helpful", "reply"]);
    let steps = run(State::Idle, vec![(choice("solved"), 1)], &[]);
    assert!(steps[0].replies()[0].contains("expired"));
    assert_eq!(name(&steps[0].state.state), "idle");
    let resolved = vec![summary(1001, TicketStatus::Resolved, Some(0))];
    let steps = run(State::Ticket, vec![(choice("rate:5"), 1)], &resolved);
    assert_eq!(kinds(&steps[0]), vec!["rate", "reply"]);
    let open = vec![summary(1001, TicketStatus::Open, None)];
    let steps = run(State::Ticket, vec![(choice("rate:5"), 1)], &open);
    assert!(steps[0].replies()[0].contains("expired"));
}

#[test]
fn ambiguous_match_offers_both_intents_as_choices_and_a_press_answers() {
    let pick = InboundKind::Choice { id: "intent:vpn_problem".into() };
    let steps = run(State::Idle, vec![(msg("vpn password trouble"), 1), (pick, 2)], &[]);
    let choices = match steps[0].actions.as_slice() {
        [Action::Reply { choices, .. }] => choices.clone(),
        other => panic!("expected one reply, got {other:?}"),
    };
    let ids: Vec<&str> = choices.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["intent:vpn_problem", "intent:password_reset", "none"]);
    assert_eq!(choices[0].label, "vpn_problem description");
    match &steps[1].state.state {
        State::Answered { intent, article, query, .. } => {
            assert_eq!((intent.as_deref(), article.as_deref()), (Some("vpn_problem"), Some("vpn")));
            assert_eq!(query, "vpn password trouble");
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn status_lists_tickets_and_desk_events_do_not_touch_the_conversation() {
    let tickets =
        vec![summary(1002, TicketStatus::Open, None), summary(1001, TicketStatus::Resolved, Some(0))];
    let steps = run(State::Idle, vec![(msg("what's the status of my tickets?"), 1)], &tickets);
    let text = steps[0].replies()[0];
    assert!(text.contains("IT-1002") && !text.contains("IT-1001"), "{text}");
    let steps = run(State::Idle, vec![(msg("any update on IT-1001?"), 1)], &tickets);
    assert!(steps[0].replies()[0].contains("resolved"));
    let steps = run(State::Idle, vec![(msg("status of IT-9"), 1)], &tickets);
    assert!(steps[0].replies()[0].contains("can't find"));
    let ev =
        InboundKind::AgentReply { number: TicketNumber(1001), agent: "Bob".into(), text: "Try now".into() };
    let steps = run(State::Idle, vec![(msg("vpn drops"), 1), (ev, 2)], &[]);
    assert_eq!(name(&steps[1].state.state), "answered");
    assert!(steps[1].actions.is_empty());
}

#[test]
fn transcript_is_bounded() {
    let script: Vec<(InboundKind, i64)> = (0..100).map(|i| (msg("help"), i)).collect();
    let steps = run(State::Idle, script, &[]);
    assert!(steps.last().unwrap().state.transcript.len() <= MAX_TRANSCRIPT_TURNS);
}

#[test]
fn state_round_trips_through_json() {
    for s in [
        State::Idle,
        State::Ticket,
        State::Comment { number: TicketNumber(3) },
        State::Describe,
        State::OfferTicket { query: "x".into() },
        State::Clarify { query: "x".into(), intents: vec!["a".into(), "b".into()] },
    ] {
        let st = ConversationState { state: s, ..ConversationState::default() };
        let back: ConversationState = serde_json::from_value(serde_json::to_value(&st).unwrap()).unwrap();
        assert_eq!(back, st);
    }
}

/// The first step's filed ticket, if any.
fn filed(steps: &[Step]) -> Option<NewTicket> {
    steps.iter().flat_map(|s| &s.actions).find_map(|a| match a {
        Action::FileTicket(t) => Some(t.clone()),
        _ => None,
    })
}

#[test]
fn a_reply_that_is_not_an_option_never_replaces_the_problem() {
    // Two options (File a ticket / Cancel), answered with 3: asked again, the problem stays.
    let steps = run(State::Idle, vec![(msg("coffee machine leaks"), 1), (msg("3"), 2), (msg("1"), 3)], &[]);
    match &steps[1].actions[..] {
        [Action::Reply { text, choices }] => {
            assert!(text.contains("Shall I file a ticket") && text.contains("1. File a ticket"), "{text}");
            assert_eq!(choices.len(), 2, "the same options again");
        }
        other => panic!("expected one re-ask, got {other:?}"),
    }
    assert_eq!(steps[1].state.state, State::OfferTicket { query: "coffee machine leaks".into() });
    let t = filed(&steps).unwrap();
    assert_eq!((t.title.as_str(), t.description.as_str()), ("coffee machine leaks", "coffee machine leaks"));
    let said: Vec<&str> = t.transcript.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(said.first(), Some(&"coffee machine leaks"), "{said:?}");
    assert!(said.contains(&"3"), "the stray reply stays in the transcript: {said:?}");
}

#[test]
fn a_transcript_starts_at_the_first_message_of_the_case() {
    // A new question in an open case keeps what came before it.
    let script = vec![(msg("vpn drops"), 1), (msg("I forgot my password"), 2), (msg("2"), 3)];
    let t = filed(&run(State::Idle, script, &[])).unwrap();
    assert_eq!(t.title, "I forgot my password");
    assert_eq!(t.transcript.first().map(|t| t.text.as_str()), Some("vpn drops"));
    // Small talk before a case is not part of it.
    let script = vec![(msg("hi"), 1), (msg("coffee machine leaks"), 2), (msg("1"), 3)];
    let t = filed(&run(State::Idle, script, &[])).unwrap();
    assert_eq!(t.transcript.first().map(|t| t.text.as_str()), Some("coffee machine leaks"));
    // After a closed ticket, a new case starts at its own first message.
    let closed = vec![summary(1001, TicketStatus::Closed, Some(0))];
    let steps = run(State::Ticket, vec![(msg("coffee machine leaks"), 1), (msg("1"), 2)], &closed);
    let t = filed(&steps).unwrap();
    assert_eq!(t.transcript.first().map(|t| t.text.as_str()), Some("coffee machine leaks"));
    // A long case loses turns from its middle, never its first message.
    let mut script = vec![(msg("coffee machine leaks"), 0)];
    script.extend((1..60).map(|i| (msg("cancel this? no"), i)));
    let steps = run(State::Idle, script, &[]);
    let last = &steps.last().unwrap().state.transcript;
    assert!(last.len() <= MAX_TRANSCRIPT_TURNS);
    assert_eq!(last.first().map(|t| t.text.as_str()), Some("coffee machine leaks"));
}

#[test]
fn file_always_files_at_once_with_the_answer_as_first_steps() {
    let steps = run(State::Idle, vec![(msg("my phone was stolen"), 1)], &[]);
    let replies = steps[0].replies();
    assert_eq!(replies[0], "Call ext. 4357 now.", "the answer first, without solved/not solved buttons");
    assert!(replies[1].contains(TICKET_PLACEHOLDER));
    assert!(matches!(&steps[0].actions[0], Action::Reply { choices, .. } if choices.is_empty()));
    let t = filed(&steps).unwrap();
    assert_eq!((t.queue.as_str(), t.priority), ("security", Priority::Urgent));
    assert_eq!(t.title, "my phone was stolen");
    // Thanks afterwards: acknowledged, nothing relayed to the ticket.
    let open = vec![summary(1001, TicketStatus::Open, None)];
    let steps = run(State::Ticket, vec![(msg("thanks!"), 2)], &open);
    assert!(!steps[0].actions.iter().any(|a| matches!(a, Action::Relay { .. })));
}

fn file_from(by: &str, text: &str, note: Option<&str>) -> Inbound {
    let mut i = inbound(InboundKind::FileTicket {
        text: text.into(),
        author: UserRef::new(Platform::Console, "alice"),
        author_name: Some("Alice".into()),
        note: note.map(str::to_string),
    });
    i.user = UserRef::new(Platform::Console, by);
    i.display_name = Some(by.to_uppercase());
    i
}

#[test]
fn a_ticket_filed_from_someone_elses_message_keeps_it_and_credits_both() {
    let cat = catalog();
    let settings = Settings::default();
    let ctx =
        Context { catalog: &cat, now: 1, tickets: &[], settings: &settings, display_name: Some("Alice") };
    // Bob files Alice's message, adding a note: the message is the description, verbatim.
    let text = "the coffee machine on floor 3 leaks";
    let s = step(&ConversationState::default(), &file_from("bob", text, Some("  it's flooding  ")), &ctx);
    let t = filed(std::slice::from_ref(&s)).unwrap();
    assert_eq!((t.title.as_str(), t.description.as_str()), (text, text));
    assert_eq!(t.filed_by, Some(UserRef::new(Platform::Console, "bob")));
    assert_eq!(t.note.as_deref(), Some("it's flooding"));
    assert_eq!(t.transcript[0].text, text);
    assert_eq!(t.transcript[1].from, Speaker::Filer("BOB".into()));
    assert!(s.replies()[0].starts_with("BOB asked me to file this for you"), "{:?}", s.replies());
    // Alice filing her own message: she is requester and filer.
    let s = step(&ConversationState::default(), &file_from("alice", text, None), &ctx);
    let t = filed(std::slice::from_ref(&s)).unwrap();
    assert_eq!((t.filed_by, t.note), (None, None));
    // With a form first, the filer is remembered until Alice's answer files it.
    let s1 = step(&ConversationState::default(), &file_from("bob", "my laptop is dead", None), &ctx);
    assert!(matches!(s1.state.state, State::Form { .. }));
    let s2 = step(&s1.state, &inbound(msg("LT-42")), &ctx);
    let t = filed(std::slice::from_ref(&s2)).unwrap();
    assert_eq!(t.filed_by, Some(UserRef::new(Platform::Console, "bob")));
    assert_eq!(t.description, "my laptop is dead\nasset: LT-42");
    assert!(s2.state.filing.is_none(), "the next ticket is Alice's own");
}
