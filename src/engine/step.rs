//! The transitions of the default conversation (DESIGN.md, steps 1–4 and the employee side
//! of 6). One `Stepper` per call collects the new state and the actions.

use super::replies;
use super::state::{self, ConversationState, Filing, State, choices_for, pick_choice, question_for};
use super::words::{self, StatusQuery};
use super::{Action, Context, Step};
use crate::domain::{Inbound, InboundKind, UserRef};
use crate::domain::{TicketNumber, TicketStatus};
use crate::intents::{Answer, FileWhen, Intent, template};
use crate::store::{KbFeedback, NewTicket, Speaker, Turn};
use std::collections::BTreeMap;

/// Run one event through the conversation. Pure: same inputs, same outputs.
pub fn step(prev: &ConversationState, inbound: &Inbound, ctx: &Context<'_>) -> Step {
    let mut s = Stepper {
        st: prev.clone(),
        actions: Vec::new(),
        ctx,
        reset: false,
        conversation: &inbound.conversation,
        before: &prev.state,
        requester: match &inbound.kind {
            InboundKind::FileTicket { author, .. } => author,
            _ => &inbound.user,
        },
    };
    match &inbound.kind {
        InboundKind::Message { text } => s.on_message(text),
        InboundKind::Choice { id } => s.on_choice_event(id),
        InboundKind::Reopen { text } => s.on_reopen(text),
        InboundKind::FileTicket { text, author, note, .. } => {
            // Who asked is the platform-attested sender; the requester is the message's author.
            let by_other = inbound.user != *author;
            let note = note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
            let filing = (by_other || note.is_some()).then(|| Filing {
                by: inbound.user.clone(),
                by_name: inbound.display_name.clone(),
                note,
            });
            s.on_file_ticket(text, filing)
        }
        // Desk-side events never reach the employee's conversation engine.
        InboundKind::AgentReply { .. } | InboundKind::Reaction { .. } => {}
    }
    s.finish()
}

struct Stepper<'a, 'c> {
    st: ConversationState,
    actions: Vec<Action>,
    ctx: &'a Context<'c>,
    /// The case is closed: clear the transcript at the end of the step.
    reset: bool,
    conversation: &'a str,
    /// The state before this step (a changed state may be re-asked again).
    before: &'a State,
    /// Whose conversation this is: the sender, or the author of a message filed by someone else.
    requester: &'a crate::domain::UserRef,
}

impl Stepper<'_, '_> {
    fn finish(mut self) -> Step {
        if self.reset {
            self.st.transcript.clear();
        }
        if self.st.state != *self.before {
            self.st.reasked = false;
        }
        Step { state: self.st, actions: self.actions }
    }

    fn turn(&mut self, from: Speaker, text: &str) {
        self.turn_by(from, text, None);
    }

    /// A turn said by someone other than the conversation's owner (`by`).
    fn turn_by(&mut self, from: Speaker, text: &str, by: Option<UserRef>) {
        self.st.push_turn(Turn { from, text: text.to_string(), at: self.ctx.now, by });
    }

    fn say(&mut self, text: impl Into<String>) {
        self.say_with(text, Vec::new());
    }

    fn say_with(&mut self, text: impl Into<String>, choices: Vec<crate::domain::Choice>) {
        let text = text.into();
        // The transcript keeps words, not the marks around user-written spans.
        self.turn(Speaker::Bot, &crate::usertext::plain(&text));
        self.actions.push(Action::Reply { text, choices });
    }

    /// Say something and offer the current state's choices.
    fn prompt(&mut self, text: impl Into<String>) {
        let choices = choices_for(&self.st.state, self.ctx.catalog);
        self.say_with(text, choices);
    }

    fn go(&mut self, state: State) {
        self.st.state = state;
    }

    fn close_case(&mut self) {
        self.st.state = State::Idle;
        self.reset = true;
    }

    fn on_message(&mut self, text: &str) {
        self.turn(Speaker::Employee, text);
        if self.st.state == State::Idle {
            // Nothing in progress: whatever this message starts begins with it.
            self.st.restart_transcript();
        }
        if text.trim().is_empty() {
            return self.say(replies::EMPTY);
        }
        if words::is_cancel(text) {
            self.close_case();
            return self.say(replies::CANCELLED);
        }
        if words::is_help(text) {
            return self.say(replies::help());
        }
        if words::is_approvals(text) {
            return self.actions.push(Action::ListApprovals);
        }
        if let Some(q) = words::status_query(text) {
            return self.status(q);
        }
        if let Some((approve, request, reason)) = words::decision(text) {
            return self.decide(approve, request, reason);
        }
        if let Some(request) = words::extension(text) {
            return self.actions.push(Action::Extend { request });
        }
        match self.st.state.clone() {
            State::Request { item, next, values } => self.field_answer(text, item, next, values),
            State::DenyReason { request } => {
                self.close_case();
                self.actions.push(Action::Decide {
                    request,
                    approve: false,
                    reason: Some(text.trim().to_string()),
                });
            }
            State::Ticket => self.ticket_message(text),
            State::Comment { number } => {
                if !words::is_no(text) && !words::is_thanks(text) {
                    self.actions.push(Action::RateComment { number, comment: text.to_string() });
                }
                // Back to the ticket: a reply within the reopen window still reopens it.
                self.close_case();
                self.go(State::Ticket);
                self.say(replies::COMMENT_THANKS)
            }
            State::Form { query, intent, next, values, retries } => {
                self.slot_answer(text, query, intent, next, values, retries)
            }
            State::Describe
                if !self.st.reasked && (words::looks_like_option(text) || words::is_ack(text)) =>
            {
                self.st.reasked = true;
                self.say(replies::DESCRIBE)
            }
            State::Describe => self.escalate_new(text),
            State::OfferTicket { query } if words::is_yes(text) => {
                self.escalate(query, None, BTreeMap::new())
            }
            State::OfferTicket { .. } if words::is_no(text) => {
                self.close_case();
                self.say(replies::CANCELLED)
            }
            State::Answered { .. }
            | State::Offered { .. }
            | State::Clarify { .. }
            | State::OfferTicket { .. } => {
                let choices = choices_for(&self.st.state, self.ctx.catalog);
                if let Some(c) = pick_choice(&choices, text) {
                    let id = c.id.clone();
                    return self.on_choice(&id);
                }
                // "Did that solve it?" is a yes-or-no question.
                if matches!(self.st.state, State::Answered { .. }) && !words::is_thanks(text) {
                    if words::is_yes(text) {
                        return self.on_choice(state::SOLVED);
                    }
                    if words::is_no(text) {
                        return self.on_choice(state::NOT_SOLVED);
                    }
                }
                // A number or a yes/no that fits none of the options is not a new problem.
                if words::looks_like_option(text) {
                    return self.reask(choices);
                }
                self.idle_message(text)
            }
            State::Idle => self.idle_message(text),
        }
    }

    /// The same question again, with its options, after a reply that was none of them; once
    /// only, then a short pointer without repeating the options.
    fn reask(&mut self, choices: Vec<crate::domain::Choice>) {
        if self.st.reasked {
            return self.say(replies::STILL_NOT_AN_OPTION);
        }
        self.st.reasked = true;
        let question = question_for(&self.st.state).unwrap_or_default();
        let labels: Vec<String> =
            choices.iter().enumerate().map(|(i, c)| format!("{}. {}", i + 1, c.label)).collect();
        self.say_with(replies::not_an_option(&question, &labels), choices)
    }

    /// A ticket asked for from a message (a reaction or shortcut): the message, verbatim, is
    /// the description; what the person who asked typed is their own note. The intent's form
    /// questions still come first.
    fn on_file_ticket(&mut self, text: &str, filing: Option<Filing>) {
        self.st.transcript.clear();
        self.st.filing = filing;
        self.turn(Speaker::Employee, text);
        if text.trim().is_empty() {
            self.st.filing = None;
            return self.say(replies::EMPTY);
        }
        if let Some(f) = self.st.filing.clone()
            && let Some(note) = &f.note
        {
            let who = f.by_name.clone().unwrap_or_else(|| f.by.to_string());
            self.turn_by(Speaker::Filer(who), note, Some(f.by.clone()));
        }
        self.escalate_new(text)
    }

    /// A message that starts something new.
    fn idle_message(&mut self, text: &str) {
        if words::is_greeting(text) {
            self.go(State::Idle);
            return self.say(replies::greeting(self.ctx.display_name));
        }
        if words::is_thanks(text) {
            self.close_case();
            return self.say(replies::WELCOME);
        }
        if words::wants_person(text) {
            let query = match &self.st.state {
                State::Answered { query, .. }
                | State::Offered { query, .. }
                | State::Clarify { query, .. }
                | State::OfferTicket { query } => Some(query.clone()),
                _ => None,
            };
            let intent = match &self.st.state {
                State::Answered { intent, .. } => intent.clone(),
                _ => None,
            };
            return match query {
                Some(q) => self.escalate(q, intent, BTreeMap::new()),
                None => {
                    self.go(State::Describe);
                    self.say("Sure. Briefly describe the problem and I'll file a ticket for the IT team.")
                }
            };
        }
        self.new_query(text);
    }

    fn new_query(&mut self, text: &str) {
        // The transcript is the case's so far: a case started from Idle begins with this
        // message (see `on_message`); a new question in an open case keeps what came before.
        let m = self.ctx.catalog.classify(text);
        if let Some(intents) = self.ambiguous_pair(&m) {
            self.go(State::Clarify { query: text.to_string(), intents });
            return self.prompt(replies::clarify());
        }
        if let Some(intent) = m.intent.and_then(|i| self.ctx.catalog.intents.get(i)) {
            let captures: BTreeMap<String, String> = m.captures.into_iter().collect();
            return self.answer_intent(intent, text, captures);
        }
        let min = self.ctx.catalog.kb_index.min_score();
        let articles: Vec<String> = self
            .ctx
            .catalog
            .search_kb(text, self.ctx.settings.max_kb_offers)
            .into_iter()
            .filter(|h| h.score >= min)
            .filter_map(|h| self.ctx.catalog.articles.get(h.article).map(|a| a.id.clone()))
            .collect();
        if !articles.is_empty() {
            self.go(State::Offered { query: text.to_string(), articles });
            return self.prompt(replies::offer_articles());
        }
        self.go(State::OfferTicket { query: text.to_string() });
        self.prompt(replies::offer_ticket())
    }

    /// The ids of the two intents to choose between, when the match is ambiguous.
    fn ambiguous_pair(&self, m: &crate::intents::Match) -> Option<Vec<String>> {
        if !m.ambiguous || m.intent.is_none() {
            return None;
        }
        let ids: Vec<String> = m
            .ranked
            .iter()
            .take(2)
            .filter_map(|&(i, _)| self.ctx.catalog.intents.get(i).map(|d| d.id.clone()))
            .collect();
        (ids.len() == 2).then_some(ids)
    }

    fn answer_intent(&mut self, intent: &Intent, query: &str, captures: BTreeMap<String, String>) {
        if let Answer::Request(item) = &intent.answer {
            return self.start_request(item);
        }
        let (body, article) = match &intent.answer {
            Answer::Article(id) => (self.article_text(id), Some(id.clone())),
            Answer::Text(t) => {
                let values: Vec<(String, String)> = captures.clone().into_iter().collect();
                (template::fill(t, &values), None)
            }
            Answer::Request(_) => (String::new(), None),
        };
        if intent.file == FileWhen::Always {
            // Filed at once; the answer is what to do while the team picks it up.
            self.say(body);
            let values = captures.into_iter().filter(|(k, _)| intent.slots.iter().any(|s| &s.name == k));
            return self.file(query.to_string(), Some(intent.id.clone()), values.collect());
        }
        self.go(State::Answered {
            query: query.to_string(),
            intent: Some(intent.id.clone()),
            article,
            captures,
        });
        self.prompt(format!("{body}\n\n{}", replies::answer_footer()))
    }

    fn article_text(&self, id: &str) -> String {
        match self.ctx.catalog.article(id) {
            Some(a) => {
                let mut t = format!("{}\n{}", a.title, a.excerpt(self.ctx.settings.excerpt_chars));
                if let Some(base) = &self.ctx.settings.kb_base_url {
                    t.push_str(&format!("\nMore: {}/{}", base.trim_end_matches('/'), a.id));
                }
                t
            }
            None => "I have an article for that, but it is missing right now.".to_string(),
        }
    }

    /// A button press (or stale button) arriving as its own event.
    fn on_choice_event(&mut self, id: &str) {
        let decided = [(state::APPROVE_PREFIX, true), (state::DENY_PREFIX, false)]
            .into_iter()
            .find_map(|(prefix, approve)| id.strip_prefix(prefix).map(|r| (approve, r.to_string())));
        if let Some((approve, request)) = decided {
            self.turn(Speaker::Employee, &format!("[{id}]"));
            return self.decide(approve, request, None);
        }
        if let Some(request) = id.strip_prefix(state::EXTEND_PREFIX) {
            self.turn(Speaker::Employee, &format!("[{id}]"));
            return self.actions.push(Action::Extend { request: request.to_string() });
        }
        if let (State::Ticket, Some(score)) = (&self.st.state, id.strip_prefix(state::RATE_PREFIX)) {
            self.turn(Speaker::Employee, &format!("[{score}]"));
            return match (self.my_ticket(), score.parse::<u8>()) {
                (Some(t), Ok(score)) if t.status == TicketStatus::Resolved && (1..=5).contains(&score) => {
                    self.rate(t.number, score)
                }
                _ => self.say("That option has expired. Tell me what's wrong and I'll help."),
            };
        }
        let offered = choices_for(&self.st.state, self.ctx.catalog);
        match offered.iter().find(|c| c.id == id) {
            Some(c) => {
                let label = format!("[{}]", c.label);
                self.turn(Speaker::Employee, &label);
                self.on_choice(id)
            }
            None => self.say("That option has expired. Tell me what's wrong and I'll help."),
        }
    }

    fn on_choice(&mut self, id: &str) {
        let current = self.st.state.clone();
        match (id, current) {
            (state::SOLVED, State::Answered { query, intent, article, .. }) => {
                self.actions.push(Action::Feedback(KbFeedback { intent, article, query, helpful: true }));
                self.close_case();
                self.say(replies::SOLVED)
            }
            (state::NOT_SOLVED, State::Answered { query, intent, article, captures }) => {
                self.actions.push(Action::Feedback(KbFeedback {
                    intent: intent.clone(),
                    article,
                    query: query.clone(),
                    helpful: false,
                }));
                self.escalate(query, intent, captures)
            }
            (state::PERSON, State::Answered { query, intent, captures, .. }) => {
                self.escalate(query, intent, captures)
            }
            (state::NONE_OF_THESE, State::Offered { query, .. }) => {
                self.escalate(query, None, BTreeMap::new())
            }
            (state::NONE_OF_THESE, State::Clarify { query, .. }) => {
                self.escalate(query, None, BTreeMap::new())
            }
            (id, State::Clarify { query, .. }) if id.starts_with(state::INTENT_PREFIX) => {
                let id = id.trim_start_matches(state::INTENT_PREFIX);
                match self.ctx.catalog.intent(id) {
                    Some(intent) => self.answer_intent(intent, &query, BTreeMap::new()),
                    None => self.escalate(query, None, BTreeMap::new()),
                }
            }
            (state::FILE_TICKET, State::OfferTicket { query }) => self.escalate(query, None, BTreeMap::new()),
            (state::CANCEL, _) => {
                self.close_case();
                self.say(replies::CANCELLED)
            }
            (id, State::Offered { query, .. }) if id.starts_with(state::ARTICLE_PREFIX) => {
                let article = id.trim_start_matches(state::ARTICLE_PREFIX).to_string();
                let body = self.article_text(&article);
                self.go(State::Answered {
                    query,
                    intent: None,
                    article: Some(article),
                    captures: BTreeMap::new(),
                });
                self.prompt(format!("{body}\n\n{}", replies::answer_footer()))
            }
            _ => self.say("That option has expired. Tell me what's wrong and I'll help."),
        }
    }

    /// An approver's decision, typed or pressed. Deny without a reason asks for one first.
    fn decide(&mut self, approve: bool, request: String, reason: Option<String>) {
        if !approve && reason.is_none() {
            self.go(State::DenyReason { request: request.clone() });
            return self.say(replies::deny_reason(&request));
        }
        self.actions.push(Action::Decide { request, approve, reason });
    }

    /// A catalog item was recognised: ask its fields, then record the request.
    fn start_request(&mut self, item_id: &str) {
        let Some(item) = self.ctx.catalog.item(item_id) else {
            self.close_case();
            return self.say(replies::ITEM_GONE);
        };
        match item.fields.first() {
            Some(f) => {
                let ask = replies::request_intro(&item.title, &f.ask);
                self.go(State::Request { item: item.id.clone(), next: 0, values: BTreeMap::new() });
                self.say(ask)
            }
            None => self.submit_request(item_id.to_string(), BTreeMap::new()),
        }
    }

    fn field_answer(
        &mut self,
        text: &str,
        item_id: String,
        next: usize,
        mut values: BTreeMap<String, String>,
    ) {
        let Some(item) = self.ctx.catalog.item(&item_id) else {
            self.close_case();
            return self.say(replies::ITEM_GONE);
        };
        let Some(field) = item.fields.get(next) else {
            return self.submit_request(item_id, values);
        };
        let answer = text.trim();
        if answer.chars().count() < field.min_chars {
            let msg = replies::field_too_short(field.min_chars, &field.ask);
            self.go(State::Request { item: item_id, next, values });
            return self.say(msg);
        }
        values.insert(field.name.clone(), answer.to_string());
        match item.fields.get(next + 1) {
            Some(f) => {
                let ask = f.ask.clone();
                self.go(State::Request { item: item_id, next: next + 1, values });
                self.say(ask)
            }
            None => self.submit_request(item_id, values),
        }
    }

    fn submit_request(&mut self, item: String, fields: BTreeMap<String, String>) {
        self.actions.push(Action::SubmitRequest { item, fields });
        self.close_case();
    }

    /// Escalate a description that arrived after "talk to a person".
    fn escalate_new(&mut self, text: &str) {
        let m = self.ctx.catalog.classify(text);
        let intent = m.intent.and_then(|i| self.ctx.catalog.intents.get(i)).map(|i| i.id.clone());
        self.escalate(text.to_string(), intent, m.captures.into_iter().collect())
    }

    /// Ask the intent's form questions that are still open, or file right away.
    fn escalate(&mut self, query: String, intent: Option<String>, captures: BTreeMap<String, String>) {
        let Some(def) = intent.as_deref().and_then(|id| self.ctx.catalog.intent(id)) else {
            return self.file(query, None, BTreeMap::new());
        };
        let values: BTreeMap<String, String> =
            captures.into_iter().filter(|(k, _)| def.slots.iter().any(|s| &s.name == k)).collect();
        match def.slots.iter().position(|s| !values.contains_key(&s.name)) {
            Some(next) => {
                let ask = replies::form_intro(&def.slots[next].ask);
                self.go(State::Form { query, intent, next, values, retries: 0 });
                self.say(ask)
            }
            None => self.file(query, intent, values),
        }
    }

    fn slot_answer(
        &mut self,
        text: &str,
        query: String,
        intent: Option<String>,
        next: usize,
        mut values: BTreeMap<String, String>,
        retries: u8,
    ) {
        let def = intent.as_deref().and_then(|id| self.ctx.catalog.intent(id));
        // The intent may have changed under a hot reload: file with what we have.
        let Some(slot) = def.and_then(|d| d.slots.get(next)) else {
            return self.file(query, intent, values);
        };
        let fits = slot.pattern.as_ref().is_none_or(|p| p.is_match(text));
        if !fits && retries < self.ctx.settings.max_slot_retries {
            let msg = replies::slot_retry(&slot.ask, slot.hint.as_deref());
            self.go(State::Form { query, intent, next, values, retries: retries + 1 });
            return self.say(msg);
        }
        values.insert(slot.name.clone(), text.to_string());
        let following = def.and_then(|d| {
            d.slots.iter().enumerate().skip(next + 1).find(|(_, s)| !values.contains_key(&s.name))
        });
        match following {
            Some((i, s)) => {
                let ask = s.ask.clone();
                self.go(State::Form { query, intent, next: i, values, retries: 0 });
                self.say(ask)
            }
            None => self.file(query, intent, values),
        }
    }

    fn file(&mut self, query: String, intent: Option<String>, fields: BTreeMap<String, String>) {
        let def = intent.as_deref().and_then(|id| self.ctx.catalog.intent(id));
        let queue = def.map(|d| d.queue.clone()).unwrap_or_else(|| self.ctx.settings.default_queue.clone());
        let priority = def.map(|d| d.priority).unwrap_or_default();
        let title = title_from(&query, def.map(|d| d.description.as_str()));
        let mut description = query.clone();
        for (k, v) in &fields {
            description.push_str(&format!("\n{k}: {v}"));
        }
        let filing = self.st.filing.take();
        let msg = match &filing {
            Some(f) if f.by != *self.requester => {
                replies::filed_for(queue.as_str(), f.by_name.as_deref().unwrap_or("A colleague"))
            }
            _ => replies::filed(queue.as_str()),
        };
        let filed_by = filing.as_ref().map(|f| f.by.clone()).filter(|by| by != self.requester);
        self.actions.push(Action::FileTicket(NewTicket {
            title,
            description,
            intent: def.map(|d| d.id.clone()),
            queue,
            priority,
            fields,
            transcript: self.st.transcript.clone(),
            requester_name: self.ctx.display_name.map(str::to_string),
            filed_by,
            filed_by_name: filing.as_ref().and_then(|f| f.by_name.clone()),
            note: filing.and_then(|f| f.note),
            on_behalf: None,
        }));
        self.say(msg);
        self.close_case();
        self.st.state = State::Ticket;
    }

    fn status(&mut self, q: StatusQuery) {
        let text = match q {
            StatusQuery::All => replies::status_list(self.ctx.tickets),
            StatusQuery::One(n) => {
                replies::status_one(self.ctx.tickets.iter().find(|t| t.number == n), &n.to_string())
            }
        };
        self.say(text)
    }

    /// The newest ticket filed from this conversation.
    fn my_ticket(&self) -> Option<&crate::domain::TicketSummary> {
        self.ctx.tickets.iter().filter(|t| t.conversation == self.conversation).max_by_key(|t| t.number)
    }

    /// A message while this conversation has a ticket: relay it, rate it, reopen it, or, once
    /// the ticket is closed, start something new.
    fn ticket_message(&mut self, text: &str) {
        let Some(t) = self.my_ticket().cloned() else {
            return self.start_over(text);
        };
        if words::is_new_question(text) {
            self.close_case();
            return self.say(replies::NEW_QUESTION);
        }
        match t.status {
            // Thanks, "ok", 👍: acknowledged here, not added to the ticket.
            TicketStatus::Open | TicketStatus::Pending if words::is_ack(text) => {
                self.say(replies::acknowledged(&t.number.to_string()))
            }
            TicketStatus::Open | TicketStatus::Pending => {
                if t.status == TicketStatus::Pending {
                    self.actions.push(Action::SetTicketStatus {
                        number: t.number,
                        status: TicketStatus::Open,
                        actor: "requester".to_string(),
                        note: Some("the requester replied".to_string()),
                    });
                }
                self.actions.push(Action::Relay { number: t.number, text: text.to_string() });
                self.say(replies::relayed(&t.number.to_string()))
            }
            TicketStatus::Resolved => {
                if let Some(score) = words::rating(text) {
                    return self.rate(t.number, score);
                }
                if words::is_thanks(text) {
                    return self.say(replies::WELCOME);
                }
                let within =
                    t.resolved_at.is_some_and(|at| self.ctx.now - at <= self.ctx.settings.reopen_window_ms);
                if within { self.reopen(t.number, text) } else { self.start_over(text) }
            }
            TicketStatus::Closed => self.start_over(text),
        }
    }

    /// Reopen the conversation's ticket with what is still wrong, when it is resolved and
    /// within the reopen window, whatever the conversation was waiting for.
    fn on_reopen(&mut self, text: &str) {
        self.turn(Speaker::Employee, text);
        let now = self.ctx.now;
        let window = self.ctx.settings.reopen_window_ms;
        match self.my_ticket().cloned() {
            Some(t)
                if t.status == TicketStatus::Resolved
                    && t.resolved_at.is_some_and(|at| now - at <= window) =>
            {
                self.reopen(t.number, text)
            }
            _ => self.say(replies::CANNOT_REOPEN),
        }
    }

    /// The ticket is behind us: this message starts a new case, and its transcript.
    fn start_over(&mut self, text: &str) {
        self.go(State::Idle);
        self.st.restart_transcript();
        self.idle_message(text)
    }

    fn rate(&mut self, number: TicketNumber, score: u8) {
        self.actions.push(Action::Rate { number, score });
        self.go(State::Comment { number });
        self.say(replies::rated(score))
    }

    fn reopen(&mut self, number: TicketNumber, text: &str) {
        self.actions.push(Action::SetTicketStatus {
            number,
            status: TicketStatus::Open,
            actor: "requester".to_string(),
            note: Some(text.to_string()),
        });
        self.actions.push(Action::Relay { number, text: text.to_string() });
        self.go(State::Ticket);
        self.say(replies::reopened(&number.to_string()))
    }
}

/// A ticket title: the first line of what the employee wrote, cut at a word near 80 chars.
fn title_from(query: &str, fallback: Option<&str>) -> String {
    let first = query.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if first.is_empty() {
        return fallback.unwrap_or("Help request").to_string();
    }
    if first.chars().count() <= 80 {
        return first.to_string();
    }
    let cut: String = first.chars().take(80).collect();
    let at = cut.rfind(' ').filter(|i| *i > 40).unwrap_or(cut.len());
    format!("{}…", &cut[..at])
}
