//! `/portal`: the employee's self-service pages, served by `deskbot run` from the same store
//! as the bot. A person signs in with a one-time link from chat or the CLI (bound to their
//! chat identity), or through an authenticating reverse proxy's header (believed only from
//! `http.trusted_proxies`); the portal then acts as that chat identity. Sessions are
//! server-side (random id, HttpOnly, SameSite=Lax, `Secure` over https, idle and absolute
//! expiry, a logout), every POST carries the session's CSRF token, and every page carries a
//! CSP without inline script (see `session.rs`). Pages are askama templates (auto-escaped);
//! KB articles are markdown rendered with pulldown-cmark and sanitised with ammonia.
//!
//! What a person does here goes through the intake router like a chat message (ticket
//! actions are `Input::TicketAction` events), so the owner rule and the desk decide.

mod chat;
mod kb;
mod oidc;
mod pages;

use super::session::{self, Peer};
use crate::config::Config;
use crate::domain::{ChatEvent, Input, Place, TicketAction, TicketNumber, TicketStatus, UserRef};
use crate::service::portal::PortalConfig;
use crate::service::router::Taken;
use crate::service::{Handled, Service};
use crate::store::{Speaker, TicketFilter};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use pages::Frame;
use serde::Deserialize;
use std::sync::Arc;

/// The session cookie: a random id, looked up (by its hash) in the store.
const COOKIE: &str = "deskbot_portal";
/// The sign-in page's CSRF cookie (double submit: the form must post the same value).
const LOGIN_COOKIE: &str = "deskbot_portal_login";
/// How long the sign-in page's form stays usable, in seconds.
const LOGIN_FORM_SECS: u64 = 600;
/// Sign-in attempts one address may make per minute.
const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 10;
/// Addresses the sign-in limiter remembers at most (a flood of addresses resets it).
const LOGIN_LIMITER_ADDRESSES: usize = 10_000;

/// The longest comment or question taken from a form, in bytes (the pipeline bounds it
/// further).
const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The portal's pages' Content-Security-Policy: deskbot's own stylesheet and script only.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("../../../static/portal.css");

/// Article ids, and when (ms) they were figured.
type Figured = (i64, Vec<String>);

/// What the portal's routes share.
#[derive(Clone)]
pub struct PortalState {
    service: Arc<Service>,
    cfg: PortalConfig,
    proxies: Arc<Vec<ipnet::IpNet>>,
    secure_cookies: bool,
    /// The most helpful articles, as the reports figure them, and when they were figured.
    helpful: Arc<std::sync::Mutex<Option<Figured>>>,
    /// Sign-in attempts per address in the current minute.
    logins: Arc<std::sync::Mutex<LoginWindow>>,
    /// The company's identity provider, when `[portal.oidc]` is set.
    oidc: Option<Arc<crate::service::oidc::Provider>>,
    /// The chat platforms' people by email (a provider sign-in's email finds its person).
    people: Arc<Vec<Arc<dyn crate::service::oidc::PeopleByEmail>>>,
}

/// Sign-in attempts per address within one minute.
#[derive(Default)]
struct LoginWindow {
    minute: i64,
    attempts: std::collections::HashMap<Option<std::net::IpAddr>, u32>,
}

impl PortalState {
    /// Count a sign-in attempt from `peer`; false once the address has used up this minute's.
    fn login_allowed(&self, peer: Peer) -> bool {
        let minute = self.now().div_euclid(60_000);
        let Ok(mut w) = self.logins.lock() else { return false };
        if w.minute != minute || w.attempts.len() >= LOGIN_LIMITER_ADDRESSES {
            w.minute = minute;
            w.attempts.clear();
        }
        let n = w.attempts.entry(peer.0).or_insert(0);
        *n += 1;
        *n <= LOGIN_ATTEMPTS_PER_MINUTE
    }
}

impl PortalState {
    pub fn new(config: &Config, service: Arc<Service>) -> Self {
        let proxies = config.http.proxy_networks().unwrap_or_default();
        let mut cfg = config.portal.clone();
        cfg.user_header = cfg.user_header.filter(|h| !h.trim().is_empty());
        if cfg.user_header.is_some() && proxies.is_empty() {
            tracing::warn!(
                "portal.user_header is set but http.trusted_proxies is empty: the header is ignored \
                 until the proxy's address is listed there"
            );
        }
        Self {
            service,
            cfg,
            proxies: Arc::new(proxies),
            secure_cookies: config.http.is_https(),
            helpful: Arc::default(),
            logins: Arc::default(),
            oidc: None,
            people: Arc::default(),
        }
    }

    /// Sign in with the identity provider of `[portal.oidc]`, when set, calling back to
    /// `{http.public_url}/portal/oidc/callback`.
    pub fn with_oidc(mut self, config: &Config) -> Result<Self, String> {
        if let Some(o) = &config.portal.oidc {
            let base = crate::service::portal::base_url(config.http.public_url.as_deref());
            self.oidc = Some(Arc::new(crate::service::oidc::Provider::new(o, &base)?));
        }
        Ok(self)
    }

    /// Where a provider sign-in's email is looked up (Slack's people, …).
    pub fn with_people(mut self, people: Vec<Arc<dyn crate::service::oidc::PeopleByEmail>>) -> Self {
        self.people = Arc::new(people);
        self
    }

    fn now(&self) -> i64 {
        self.service.now()
    }
}

pub fn router(state: PortalState) -> Router {
    let csp = HeaderValue::from_static(CSP);
    Router::new()
        .route("/portal", get(home))
        .route("/portal/static/portal.css", get(stylesheet))
        .route("/portal/static/chat.js", get(script))
        .route("/portal/chat", get(chat::page).post(chat::say))
        .route("/portal/chat/live", get(chat::live))
        .route("/portal/chat/events", get(chat::events))
        .route("/portal/login/{token}", get(login_page))
        .route("/portal/login", get(sign_in_page).post(login))
        .route("/portal/oidc/login", get(oidc::start))
        .route("/portal/oidc/callback", get(oidc::callback))
        .route("/portal/logout", post(logout))
        .route("/portal/tickets", get(tickets))
        .route("/portal/tickets/{number}", get(ticket).post(ticket_action))
        .route("/portal/kb", get(kb::search))
        .route("/portal/kb/{id}", get(kb::article).post(kb::feedback))
        .layer(axum::middleware::from_fn(move |req, next| session::page_headers(csp.clone(), req, next)))
        .with_state(state)
}

/// Who is signed in: the chat identity the portal acts as, the session's CSRF token, and a
/// cookie to set when this request started the session (a proxy sign-in).
pub(crate) struct Viewer {
    user: UserRef,
    csrf: String,
    cookie: Option<HeaderValue>,
}

impl Viewer {
    fn frame(&self, note: Option<String>) -> Frame {
        Frame { signed_in: true, csrf: Some(self.csrf.clone()), note }
    }

    /// A page for this viewer, with the session cookie when it is new.
    fn respond(&self, status: StatusCode, body: Result<String, askama::Error>) -> Response {
        let mut res = render(status, body);
        if let Some(c) = &self.cookie {
            res.headers_mut().append(header::SET_COOKIE, c.clone());
        }
        res
    }
}

fn render(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "portal: a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown; try again.\n").into_response()
        }
    }
}

fn unavailable(what: &str) -> Response {
    tracing::error!(error = what, "portal: cannot read the store");
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "Try again",
        &["The help desk cannot be reached right now; try again in a minute."],
    )
}

fn message_page(status: StatusCode, viewer: Option<&Viewer>, heading: &str, paragraphs: &[&str]) -> Response {
    let page = pages::Message {
        frame: viewer.map(|v| v.frame(None)).unwrap_or_default(),
        heading: heading.to_string(),
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
    };
    match viewer {
        Some(v) => v.respond(status, page.render()),
        None => render(status, page.render()),
    }
}

/// The page for someone not signed in: the company sign-in button (when configured) and how
/// to get a sign-in link.
fn sign_in_needed(s: &PortalState) -> Response {
    let page = pages::SignIn { frame: Frame::default(), company: s.oidc.as_ref().map(|p| p.button()) };
    render(StatusCode::UNAUTHORIZED, page.render())
}

async fn sign_in_page(State(s): State<PortalState>) -> Response {
    let page = pages::SignIn { frame: Frame::default(), company: s.oidc.as_ref().map(|p| p.button()) };
    render(StatusCode::OK, page.render())
}

fn not_found(viewer: Option<&Viewer>) -> Response {
    message_page(StatusCode::NOT_FOUND, viewer, "Not found", &["There is nothing here."])
}

/// Who is signed in, if anyone.
pub(crate) async fn viewer(
    s: &PortalState,
    peer: Peer,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, Response> {
    let now = s.now();
    let store = s.service.store();
    let session = match session::cookie(headers, COOKIE) {
        Some(id) => match store.portal_session(&session::id_hash(&id), now, s.cfg.idle_ms()).await {
            Ok(found) => found,
            Err(e) => return Err(unavailable(crate::service::error_kind(&e.into()))),
        },
        None => None,
    };
    if let Some(h) = &s.cfg.user_header
        && let Some(claimed) = headers.get(h.as_str()).and_then(|v| v.to_str().ok()).map(str::trim)
        && !claimed.is_empty()
    {
        if !peer.is_in(&s.proxies) {
            tracing::warn!(peer = ?peer.0, "portal: identity header from an untrusted address ignored");
        } else {
            let Ok(user) = claimed.parse::<UserRef>() else {
                tracing::warn!("portal: the proxy's identity header is not PLATFORM:ID");
                return Err(message_page(
                    StatusCode::FORBIDDEN,
                    None,
                    "Sign-in refused",
                    &["The sign-in proxy did not name you as PLATFORM:ID; ask IT to fix portal.user_header."],
                ));
            };
            if let Some(sess) = session.filter(|x| x.user == user) {
                return Ok(Some(Viewer { user: sess.user, csrf: sess.csrf, cookie: None }));
            }
            // The proxy vouches for this person: start a session, so forms get a CSRF token.
            return start_session(s, &user).await.map(Some);
        }
    }
    Ok(session.map(|x| Viewer { user: x.user, csrf: x.csrf, cookie: None }))
}

/// A new session for `user`, and the cookie that carries it.
async fn start_session(s: &PortalState, user: &UserRef) -> Result<Viewer, Response> {
    let (Some(id), Some(csrf)) = (session::random_token(), session::random_token()) else {
        return Err(unavailable("no randomness"));
    };
    let now = s.now();
    let store = s.service.store();
    if let Err(e) = store.purge_portal(now, s.cfg.idle_ms()).await {
        tracing::warn!(error = %e, "portal: cannot purge expired sessions");
    }
    if let Err(e) =
        store.create_portal_session(&session::id_hash(&id), &csrf, user, now, now + s.cfg.session_ms()).await
    {
        return Err(unavailable(crate::service::error_kind(&e.into())));
    }
    tracing::info!(platform = user.platform.as_str(), "portal: signed in");
    let max_age = u64::try_from(s.cfg.session_ms() / 1000).unwrap_or(0);
    let cookie = session::set_cookie_lax(COOKIE, &id, "/portal", max_age, s.secure_cookies);
    Ok(Viewer { user: user.clone(), csrf, cookie })
}

/// The signed-in viewer, or the response to send instead.
async fn require(s: &PortalState, peer: Peer, headers: &HeaderMap) -> Result<Viewer, Response> {
    match viewer(s, peer, headers).await? {
        Some(v) => Ok(v),
        None => Err(sign_in_needed(s)),
    }
}

/// Whether a posted form carries the viewer's session's CSRF token.
fn csrf_ok(v: &Viewer, posted: &str) -> bool {
    !posted.is_empty() && session::same(posted, &v.csrf)
}

fn csrf_refused(v: &Viewer) -> Response {
    tracing::warn!("portal: a form without the session's token refused");
    message_page(
        StatusCode::FORBIDDEN,
        Some(v),
        "That form has expired",
        &["Go back, reload the page and try again."],
    )
}

/// A one-time id for a page's form: the event id of what it posts, so a double submit
/// counts once.
fn delivery_id() -> String {
    session::random_token().unwrap_or_default()
}

/// A posted one-time form id, if it looks like one.
fn valid_delivery(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How a line reads on a page: a pressed button (stored as `[choice_id]`) by what it did.
pub(crate) fn shown(from: &Speaker, text: String) -> String {
    let pressed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).filter(|t| {
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':' || b == b'-')
    });
    match (from, pressed) {
        (Speaker::Employee, Some(id)) => match id.strip_prefix(crate::engine::RATE_PREFIX) {
            Some(score) => format!("Rated {score} of 5"),
            None => {
                let words = id.split_once(':').map_or(id, |(_, rest)| rest).replace(['_', '-'], " ");
                let mut c = words.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            }
        },
        _ => text,
    }
}

pub(crate) fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], chat::SCRIPT).into_response()
}

async fn login_page(State(s): State<PortalState>, Path(token): Path<String>) -> Response {
    // The link is used by the form below, not by this GET: chat link previews and mail
    // scanners that fetch the link do not burn it.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return sign_in_needed(&s);
    }
    let Some(csrf) = session::random_token() else { return unavailable("no randomness") };
    let page = pages::Login { frame: Frame::default(), csrf: csrf.clone(), token };
    let mut res = render(StatusCode::OK, page.render());
    if let Some(c) =
        session::set_cookie_lax(LOGIN_COOKIE, &csrf, "/portal", LOGIN_FORM_SECS, s.secure_cookies)
    {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !s.login_allowed(peer) {
        tracing::warn!(peer = ?peer.0, "portal: too many sign-in attempts from one address");
        let mut res = message_page(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "Too many attempts",
            &["Too many sign-in attempts from here; wait a minute and open your link again."],
        );
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return res;
    }
    let form_ok = session::cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|c| !f.csrf.is_empty() && session::same(&c, &f.csrf));
    if !form_ok {
        tracing::warn!("portal: a sign-in without its form token");
        return message_page(
            StatusCode::FORBIDDEN,
            None,
            "Sign-in refused",
            &["That sign-in form has expired. Open your sign-in link again."],
        );
    }
    let user = match s.service.store().use_portal_link(&session::id_hash(f.token.trim()), s.now()).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            tracing::warn!("portal: an unknown, used or expired sign-in link refused");
            return message_page(
                StatusCode::UNAUTHORIZED,
                None,
                "This link does not work any more",
                &[
                    "Sign-in links work once, for 10 minutes.",
                    "Type “portal” in a direct message to the help desk bot for a new one.",
                ],
            );
        }
        Err(e) => return unavailable(crate::service::error_kind(&e.into())),
    };
    let claimed = oidc::link_claim(&s, &headers, &user).await;
    let viewer = match start_session(&s, &user).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let mut res = Redirect::to("/portal").into_response();
    for c in viewer
        .cookie
        .into_iter()
        .chain(session::set_cookie_lax(LOGIN_COOKIE, "", "/portal", 0, s.secure_cookies))
        .chain(claimed)
    {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(s): State<PortalState>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let Some(id) = session::cookie(&headers, COOKIE) else { return sign_in_needed(&s) };
    let hash = session::id_hash(&id);
    let store = s.service.store();
    let sess = match store.portal_session(&hash, s.now(), s.cfg.idle_ms()).await {
        Ok(Some(sess)) => sess,
        Ok(None) => return sign_in_needed(&s),
        Err(e) => return unavailable(crate::service::error_kind(&e.into())),
    };
    let v = Viewer { user: sess.user, csrf: sess.csrf, cookie: None };
    if !csrf_ok(&v, &f.csrf) {
        return csrf_refused(&v);
    }
    if let Err(e) = store.delete_portal_session(&hash).await {
        return unavailable(crate::service::error_kind(&e.into()));
    }
    let mut res = message_page(StatusCode::OK, None, "Signed out", &["You are signed out of the portal."]);
    if let Some(c) = session::set_cookie_lax(COOKIE, "", "/portal", 0, s.secure_cookies) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The viewer's tickets, newest first.
async fn own_tickets(
    s: &PortalState,
    v: &Viewer,
    active: bool,
) -> Result<Vec<crate::store::Ticket>, Response> {
    let filter = TicketFilter {
        requester: Some(v.user.clone()),
        statuses: if active { vec![TicketStatus::Open, TicketStatus::Pending] } else { Vec::new() },
        limit: 100,
        ..TicketFilter::default()
    };
    s.service.store().tickets(&filter).await.map_err(|e| unavailable(crate::service::error_kind(&e.into())))
}

fn row(t: &crate::store::Ticket) -> pages::TicketRow {
    pages::TicketRow {
        number: t.number.to_string(),
        title: t.title.clone(),
        status: t.status.as_str().to_string(),
        updated: when(t.updated_at),
    }
}

async fn home(State(s): State<PortalState>, peer: Peer, headers: HeaderMap) -> Response {
    let v = match require(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let tickets = match own_tickets(&s, &v, true).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    let articles = kb::most_helpful(&s).await;
    let page = pages::Home {
        frame: v.frame(None),
        csrf: v.csrf.clone(),
        delivery: delivery_id(),
        tickets: tickets.iter().map(row).collect(),
        articles,
    };
    v.respond(StatusCode::OK, page.render())
}

async fn tickets(State(s): State<PortalState>, peer: Peer, headers: HeaderMap) -> Response {
    let v = match require(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let tickets = match own_tickets(&s, &v, false).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    let page = pages::Tickets { frame: v.frame(None), tickets: tickets.iter().map(row).collect() };
    v.respond(StatusCode::OK, page.render())
}

/// The viewer's ticket `number`, or a 404 (another person's ticket looks exactly like one
/// that does not exist).
async fn own_ticket(s: &PortalState, v: &Viewer, number: &str) -> Result<crate::store::Ticket, Response> {
    let Ok(number) = number.parse::<TicketNumber>() else { return Err(not_found(Some(v))) };
    match s.service.store().ticket(number).await {
        Ok(Some(t)) if t.requester == v.user => Ok(t),
        Ok(Some(_)) => {
            tracing::warn!(ticket = %number, "portal: a look at another person's ticket refused");
            Err(not_found(Some(v)))
        }
        Ok(None) => Err(not_found(Some(v))),
        Err(e) => Err(unavailable(crate::service::error_kind(&e.into()))),
    }
}

async fn ticket_page(
    s: &PortalState,
    v: &Viewer,
    t: &crate::store::Ticket,
    note: Option<String>,
    status: StatusCode,
) -> Response {
    let messages = match s.service.store().ticket_messages(t.number).await {
        Ok(m) => m,
        Err(e) => return unavailable(crate::service::error_kind(&e.into())),
    };
    // The public thread: the employee's words, deskbot's and the agents' replies to them;
    // never internal notes.
    let thread = messages
        .into_iter()
        .filter(|m| !m.internal)
        .filter_map(|m| {
            let (who, class) = match &m.turn.from {
                Speaker::Employee => ("You".to_string(), "me"),
                Speaker::Agent(name) => (format!("{name} (IT)"), "agent"),
                Speaker::Bot => ("Help desk bot".to_string(), "bot"),
                Speaker::Filer(_) | Speaker::System => return None,
            };
            Some(pages::Line { who, class, at: when(m.turn.at), text: shown(&m.turn.from, m.turn.text) })
        })
        .collect();
    let now = s.now();
    let window = s.service.reopen_window_ms();
    let within = t.resolved_at.is_some_and(|at| now - at <= window);
    let sla_due = t
        .sla
        .as_ref()
        .filter(|_| matches!(t.status, TicketStatus::Open | TicketStatus::Pending))
        .and_then(
            |sla| if sla.first_response_at.is_none() { sla.first_response_due } else { sla.resolution_due },
        )
        .map(when);
    let page = pages::Ticket {
        frame: v.frame(note),
        csrf: v.csrf.clone(),
        delivery: delivery_id(),
        t: pages::TicketView {
            number: t.number.to_string(),
            title: t.title.clone(),
            status: t.status.as_str().to_string(),
            queue: t.queue.to_string(),
            assignee: t.assignee.clone(),
            sla_due,
            created: when(t.created_at),
        },
        thread,
        can_comment: matches!(t.status, TicketStatus::Open | TicketStatus::Pending),
        can_reopen: t.status == TicketStatus::Resolved && within,
        can_rate: t.status == TicketStatus::Resolved,
    };
    v.respond(status, page.render())
}

async fn ticket(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let v = match require(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let t = match own_ticket(&s, &v, &number).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    ticket_page(&s, &v, &t, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct TicketForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    delivery: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    score: String,
}

async fn ticket_action(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(f): Form<TicketForm>,
) -> Response {
    let v = match require(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    if !csrf_ok(&v, &f.csrf) {
        return csrf_refused(&v);
    }
    let t = match own_ticket(&s, &v, &number).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    let bad = |note: &str| message_page(StatusCode::BAD_REQUEST, Some(&v), "That did not work", &[note]);
    if !valid_delivery(&f.delivery) {
        return bad("That form is incomplete; reload the page and try again.");
    }
    if f.text.len() > MAX_TEXT_BYTES {
        return bad("That is too long; please shorten it.");
    }
    let action = match f.action.as_str() {
        "comment" => TicketAction::Comment(f.text),
        "reopen" => TicketAction::Reopen(f.text),
        "rate" => match f.score.trim().parse::<u8>() {
            Ok(n) if (1..=5).contains(&n) => TicketAction::Rate(n),
            _ => return bad("Pick a rating from 1 to 5."),
        },
        _ => return bad("That form is not one of this page's."),
    };
    let event = ChatEvent {
        platform: v.user.platform,
        place: Place::Nowhere,
        sender: v.user.id.clone(),
        sender_name: None,
        at: s.now(),
        input: Input::TicketAction { delivery: f.delivery, ticket: t.number, action },
    };
    match s.service.take(event, &PortalLookup).await {
        Ok(Taken::Handled(Handled::Applied { .. } | Handled::Duplicate)) => {
            let mut res = Redirect::to(&format!("/portal/tickets/{}", t.number)).into_response();
            if let Some(c) = &v.cookie {
                res.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            res
        }
        Ok(taken) => {
            let note = taken.private_note().unwrap_or("Nothing was changed.").to_string();
            ticket_page(&s, &v, &t, Some(note), StatusCode::CONFLICT).await
        }
        Err(e) => {
            tracing::error!(error = %e, "portal: a ticket action was not handled");
            unavailable("ticket action")
        }
    }
}

/// The portal as the intake router sees it: the signed-in person acting from a page; there
/// is no platform to look anything up on.
pub struct PortalLookup;

#[async_trait::async_trait]
impl crate::service::router::Lookup for PortalLookup {
    async fn message(
        &self,
        _channel: &str,
        _id: &str,
    ) -> Result<Option<crate::domain::FetchedMessage>, String> {
        Ok(None)
    }

    async fn channel_name(&self, _channel: &str) -> Option<String> {
        None
    }

    async fn display_name(&self, _user: &str) -> Option<String> {
        None
    }
}
