//! `/reports` (the reports page), `/reports/login` and `/reports/logout`. The page needs a
//! login: the admin token (`Authorization: Bearer …`, or entered once in the form, which
//! starts a random server-side session kept in the database, with an expiry and a logout) or,
//! when configured, the user header of an authenticating reverse proxy — believed only on
//! connections from `http.trusted_proxies`. Every form carries a CSRF token; every page
//! carries a strict CSP and refuses framing (see `session.rs`).

use super::session::{self, Peer};
use crate::config::Config;
use crate::domain::{QueueName, UserRef};
use crate::reports::{self, ReportOptions, html};
use crate::service::{Clock, LiveCatalog};
use crate::store::DynStore;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;

/// The session cookie: a random id, looked up (by its hash) in the store.
const COOKIE: &str = "deskbot_reports";
/// The sign-in form's CSRF cookie (double submit: the form must post the same value).
const LOGIN_COOKIE: &str = "deskbot_reports_login";
/// How long a sign-in form stays usable, in seconds.
const LOGIN_FORM_SECS: u64 = 600;

/// What the reports routes share.
#[derive(Clone)]
pub struct ReportsState {
    pub store: DynStore,
    pub catalog: LiveCatalog,
    pub clock: Clock,
    token: Option<Arc<SecretString>>,
    user_header: Option<String>,
    proxies: Arc<Vec<ipnet::IpNet>>,
    secure_cookies: bool,
    session_ms: i64,
    testers: Vec<UserRef>,
    queues: Vec<String>,
    kb_base_url: Option<String>,
}

impl ReportsState {
    pub fn new(config: &Config, store: DynStore, catalog: LiveCatalog, clock: Clock) -> Self {
        let proxies = config.http.proxy_networks().unwrap_or_default();
        let user_header = config.reports.user_header.clone().filter(|h| !h.trim().is_empty());
        if user_header.is_some() && proxies.is_empty() {
            tracing::warn!(
                "reports.user_header is set but http.trusted_proxies is empty: the header is ignored \
                 until the proxy's address is listed there"
            );
        }
        Self {
            store,
            catalog,
            clock,
            token: config.reports.secret_token().map(Arc::new),
            user_header,
            proxies: Arc::new(proxies),
            secure_cookies: config.http.is_https(),
            session_ms: i64::from(config.reports.session_hours) * 3_600_000,
            testers: config.reports.tester_refs().unwrap_or_default(),
            queues: config.queue_names().iter().map(|q| q.to_string()).collect(),
            kb_base_url: config.kb_base_url(),
        }
    }
}

pub fn router(state: ReportsState) -> Router {
    let csp = HeaderValue::from_str(&html::content_security_policy())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    Router::new()
        .route("/reports", get(page))
        .route("/reports/static/portal.css", get(|| stylesheet(super::portal::STYLE)))
        .route("/reports/static/reports.css", get(|| stylesheet(html::STYLE)))
        .route("/reports/login", get(login_form).post(login))
        .route("/reports/logout", post(logout))
        .layer(axum::middleware::from_fn(move |req, next| session::page_headers(csp.clone(), req, next)))
        .with_state(state)
}

/// Who is looking, and how they signed in.
struct Viewer {
    name: String,
    /// The browser session's CSRF token (form sign-ins only).
    csrf: Option<String>,
}

/// Who is signed in, if anyone.
async fn signed_in(s: &ReportsState, peer: Peer, headers: &HeaderMap) -> Result<Option<Viewer>, Response> {
    if let Some(h) = &s.user_header
        && let Some(user) = headers.get(h.as_str()).and_then(|v| v.to_str().ok()).map(str::trim)
        && !user.is_empty()
    {
        if peer.is_in(&s.proxies) {
            return Ok(Some(Viewer { name: user.to_string(), csrf: None }));
        }
        tracing::warn!(peer = ?peer.0, "reports: identity header from an untrusted address ignored");
    }
    let Some(token) = s.token.as_ref() else { return Ok(None) };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer.is_some_and(|b| session::same(b, token.expose_secret())) {
        return Ok(Some(Viewer { name: "admin".to_string(), csrf: None }));
    }
    let Some(id) = session::cookie(headers, COOKIE) else { return Ok(None) };
    match s.store.report_session(&session::id_hash(&id), (s.clock)()).await {
        Ok(Some(csrf)) => Ok(Some(Viewer { name: "admin".to_string(), csrf: Some(csrf) })),
        Ok(None) => Ok(None),
        Err(e) => Err(unavailable(&e)),
    }
}

/// The stylesheets the pages link (the portal's, shared, and the page's own).
async fn stylesheet(css: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
}

/// A rendered page, or a plain 500 if its template failed.
fn page_or_error(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reports: the page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown; try again.\n").into_response()
        }
    }
}

fn unavailable(e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "reports: cannot read the store");
    (StatusCode::SERVICE_UNAVAILABLE, "The database cannot be read right now; try again.\n").into_response()
}

/// The sign-in page with a fresh form token (and its cookie), or 403 when sign-in is off.
fn refused(s: &ReportsState, status: StatusCode, error: Option<&str>) -> Response {
    if s.token.is_none() && s.user_header.is_none() {
        let body = "The reports page is off: set DESKBOT_REPORTS_TOKEN (or reports.user_header behind an \
                    authenticating proxy) to turn it on.\n";
        return (StatusCode::FORBIDDEN, body).into_response();
    }
    if s.token.is_none() {
        return (StatusCode::UNAUTHORIZED, "Sign in through the reverse proxy.\n").into_response();
    }
    let Some(csrf) = session::random_token() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "No randomness available; try again.\n").into_response();
    };
    let mut res = page_or_error(status, html::login(error, &csrf));
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"deskbot reports\""));
    }
    if let Some(c) = session::set_cookie(LOGIN_COOKIE, &csrf, "/reports", LOGIN_FORM_SECS, s.secure_cookies) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Deserialize)]
struct PageQuery {
    since: Option<String>,
    queue: Option<String>,
}

async fn page(
    State(s): State<ReportsState>,
    peer: Peer,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let viewer = match signed_in(&s, peer, &headers).await {
        Ok(Some(v)) => v,
        Ok(None) => return refused(&s, StatusCode::UNAUTHORIZED, None),
        Err(res) => return res,
    };
    let since = q.since.filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "7d".to_string());
    let period = match reports::parse_since(&since, (s.clock)()) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("since: {e}\n")).into_response(),
    };
    let queue = match q.queue.filter(|v| !v.trim().is_empty()).map(|v| QueueName::parse(&v)) {
        None => None,
        Some(Ok(q)) if s.queues.iter().any(|k| k == q.as_str()) => Some(q),
        Some(_) => return (StatusCode::BAD_REQUEST, "queue: not a configured queue\n").into_response(),
    };
    let opts =
        ReportOptions { period, queue, testers: s.testers.clone(), kb_base_url: s.kb_base_url.clone() };
    let catalog = s.catalog.load_full();
    let started = std::time::Instant::now();
    let report = match reports::build(&s.store, &catalog, &opts).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reports: cannot read the store");
            return (StatusCode::SERVICE_UNAVAILABLE, "The database cannot be read right now; try again.\n")
                .into_response();
        }
    };
    metrics::histogram!("deskbot_store_query_duration_seconds", "query" => "report")
        .record(started.elapsed().as_secs_f64());
    let page = html::Page {
        report: &report,
        queues: &s.queues,
        kb_base_url: s.kb_base_url.as_deref(),
        viewer: Some(viewer.name.as_str()),
        logout_csrf: viewer.csrf.as_deref(),
    };
    page_or_error(StatusCode::OK, html::render(&page))
}

async fn login_form(State(s): State<ReportsState>, peer: Peer, headers: HeaderMap) -> Response {
    match signed_in(&s, peer, &headers).await {
        Ok(Some(_)) => return Redirect::to("/reports").into_response(),
        Ok(None) => {}
        Err(res) => return res,
    }
    refused(&s, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    csrf: String,
}

async fn login(State(s): State<ReportsState>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let Some(token) = s.token.clone() else { return refused(&s, StatusCode::UNAUTHORIZED, None) };
    // The form must post back the token its page set as a cookie: another site cannot read
    // it, so it cannot sign a browser in to a session of its choosing.
    let form_ok = session::cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|c| !f.csrf.is_empty() && session::same(&c, &f.csrf));
    if !form_ok {
        tracing::warn!("reports: a sign-in without a valid form token");
        return refused(&s, StatusCode::FORBIDDEN, Some("That form has expired; please sign in again."));
    }
    if !session::same(f.token.trim(), token.expose_secret()) {
        tracing::warn!("reports: a sign-in with a wrong token");
        return refused(&s, StatusCode::UNAUTHORIZED, Some("That token is not right."));
    }
    let (Some(id), Some(csrf)) = (session::random_token(), session::random_token()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "No randomness available; try again.\n").into_response();
    };
    let now = (s.clock)();
    if let Err(e) = s.store.purge_report_sessions(now).await {
        tracing::warn!(error = %e, "reports: cannot purge expired sessions");
    }
    if let Err(e) =
        s.store.create_report_session(&session::id_hash(&id), &csrf, now, now + s.session_ms).await
    {
        return unavailable(&e);
    }
    tracing::info!("reports: signed in with the token");
    let mut res = Redirect::to("/reports").into_response();
    let max_age = u64::try_from(s.session_ms / 1000).unwrap_or(0);
    for c in [
        session::set_cookie(COOKIE, &id, "/reports", max_age, s.secure_cookies),
        session::set_cookie(LOGIN_COOKIE, "", "/reports", 0, s.secure_cookies),
    ]
    .into_iter()
    .flatten()
    {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// End the browser's session: needs the session cookie and the session's CSRF token.
async fn logout(State(s): State<ReportsState>, headers: HeaderMap, Form(f): Form<LogoutForm>) -> Response {
    let Some(id) = session::cookie(&headers, COOKIE) else {
        return (StatusCode::FORBIDDEN, "Not signed in.\n").into_response();
    };
    let hash = session::id_hash(&id);
    let csrf = match s.store.report_session(&hash, (s.clock)()).await {
        Ok(Some(csrf)) => csrf,
        Ok(None) => return (StatusCode::FORBIDDEN, "Not signed in.\n").into_response(),
        Err(e) => return unavailable(&e),
    };
    if f.csrf.is_empty() || !session::same(&f.csrf, &csrf) {
        tracing::warn!("reports: a sign-out without the session's form token");
        return (StatusCode::FORBIDDEN, "That form is not from this session.\n").into_response();
    }
    if let Err(e) = s.store.delete_report_session(&hash).await {
        return unavailable(&e);
    }
    let mut res = Redirect::to("/reports/login").into_response();
    if let Some(c) = session::set_cookie(COOKIE, "", "/reports", 0, s.secure_cookies) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
