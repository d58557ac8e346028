//! The portal's page templates (askama, auto-escaped: text from people and articles' titles
//! can never become markup). The only value shown unescaped is an article body that
//! `kb.rs` rendered and sanitised.

use askama::Template;

/// What every page's frame shows: the navigation, the sign-out form, a notice.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub signed_in: bool,
    pub csrf: Option<String>,
    pub note: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/message.html")]
pub struct Message {
    pub frame: Frame,
    pub heading: String,
    pub paragraphs: Vec<String>,
}

#[derive(Template)]
#[template(path = "portal/login.html")]
pub struct Login {
    pub frame: Frame,
    pub csrf: String,
    pub token: String,
}

/// The sign-in page: the company account's button (when configured) and the magic link.
#[derive(Template)]
#[template(path = "portal/signin.html")]
pub struct SignIn {
    pub frame: Frame,
    /// The company sign-in button's words, when `[portal.oidc]` is set.
    pub company: Option<String>,
}

/// After a company sign-in no chat identity matched: how to link one.
#[derive(Template)]
#[template(path = "portal/claim.html")]
pub struct Claim {
    pub frame: Frame,
    pub email: String,
}

pub struct TicketRow {
    pub number: String,
    pub title: String,
    pub status: String,
    pub updated: String,
}

pub struct ArticleRow {
    pub id: String,
    pub title: String,
    pub excerpt: String,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
pub struct Home {
    pub frame: Frame,
    pub csrf: String,
    pub delivery: String,
    pub tickets: Vec<TicketRow>,
    pub articles: Vec<ArticleRow>,
}

#[derive(Template)]
#[template(path = "portal/tickets.html")]
pub struct Tickets {
    pub frame: Frame,
    pub tickets: Vec<TicketRow>,
}

pub struct TicketView {
    pub number: String,
    pub title: String,
    pub status: String,
    pub queue: String,
    pub assignee: Option<String>,
    pub sla_due: Option<String>,
    pub created: String,
}

/// One line of a ticket's public thread.
pub struct Line {
    pub who: String,
    pub class: &'static str,
    pub at: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "portal/ticket.html")]
pub struct Ticket {
    pub frame: Frame,
    pub csrf: String,
    pub delivery: String,
    pub t: TicketView,
    pub thread: Vec<Line>,
    pub can_comment: bool,
    pub can_reopen: bool,
    pub can_rate: bool,
}

#[derive(Template)]
#[template(path = "portal/kb.html")]
pub struct Kb {
    pub frame: Frame,
    pub query: String,
    pub hits: Vec<ArticleRow>,
}

#[derive(Template)]
#[template(path = "portal/article.html")]
pub struct Article {
    pub frame: Frame,
    pub delivery: String,
    pub id: String,
    pub title: String,
    /// Rendered from markdown and sanitised (see `kb::to_html`).
    pub body: String,
}

/// An offered choice, as a button.
pub struct ChoiceView {
    pub id: String,
    pub label: String,
}

/// The part of the chat page that live updates replace.
pub struct LiveView {
    pub lines: Vec<Line>,
    pub choices: Vec<ChoiceView>,
    pub csrf: String,
    /// The choice buttons' one-time form id.
    pub delivery: String,
    /// The newest line's id (live updates report lines after it).
    pub last: i64,
}

#[derive(Template)]
#[template(path = "portal/chat.html")]
pub struct Chat {
    pub frame: Frame,
    pub live: LiveView,
    pub delivery: String,
}

#[derive(Template)]
#[template(path = "portal/chat_fragment.html")]
pub struct ChatFragment {
    pub live: LiveView,
}
