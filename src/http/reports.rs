//! `/reports` (the reports page) and `/reports/login`. The page needs a login: the
//! admin token (`Authorization: Bearer …`, or entered once in the form, which sets an
//! HttpOnly cookie holding a keyed hash of the token, never the token) or, when configured, the
//! authenticated user header of a reverse proxy. Without either, no figures are shown.

use crate::config::Config;
use crate::domain::{QueueName, UserRef};
use crate::reports::{self, ReportOptions, html};
use crate::service::{Clock, LiveCatalog};
use crate::store::DynStore;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use std::sync::Arc;

const COOKIE: &str = "deskbot_reports";

/// What the reports routes share.
#[derive(Clone)]
pub struct ReportsState {
    pub store: DynStore,
    pub catalog: LiveCatalog,
    pub clock: Clock,
    token: Option<Arc<SecretString>>,
    user_header: Option<String>,
    testers: Vec<UserRef>,
    queues: Vec<String>,
    kb_base_url: Option<String>,
}

impl ReportsState {
    pub fn new(config: &Config, store: DynStore, catalog: LiveCatalog, clock: Clock) -> Self {
        Self {
            store,
            catalog,
            clock,
            token: config.reports.secret_token().map(Arc::new),
            user_header: config.reports.user_header.clone().filter(|h| !h.trim().is_empty()),
            testers: config.reports.tester_refs().unwrap_or_default(),
            queues: config.queue_names().iter().map(|q| q.to_string()).collect(),
            kb_base_url: config.engine.kb_base_url.clone(),
        }
    }
}

pub fn router(state: ReportsState) -> Router {
    Router::new()
        .route("/reports", get(page))
        .route("/reports/login", get(login_form).post(login))
        .with_state(state)
}

/// The value the login cookie holds: HMAC-SHA256 of a fixed label under the token.
fn session_value(token: &SecretString) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(token.expose_secret().as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"deskbot reports session v1");
    hex::encode(mac.finalize().into_bytes())
}

/// Equal in constant time (compares digests, so lengths do not leak either).
fn same(a: &str, b: &str) -> bool {
    use sha2::Digest;
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Who is signed in: `Some(viewer name)` or `None`.
fn signed_in(s: &ReportsState, headers: &HeaderMap) -> Option<String> {
    if let Some(h) = &s.user_header
        && let Some(user) = headers.get(h.as_str()).and_then(|v| v.to_str().ok()).map(str::trim)
        && !user.is_empty()
    {
        return Some(user.to_string());
    }
    let token = s.token.as_ref()?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer.is_some_and(|b| same(b, token.expose_secret())) {
        return Some("admin".to_string());
    }
    let session = session_value(token);
    cookie(headers, COOKIE).filter(|c| !session.is_empty() && same(c, &session)).map(|_| "admin".to_string())
}

fn refused(s: &ReportsState, error: Option<&str>) -> Response {
    if s.token.is_none() && s.user_header.is_none() {
        let body = "The reports page is off: set DESKBOT_REPORTS_TOKEN (or reports.user_header behind an \
                    authenticating proxy) to turn it on.\n";
        return (StatusCode::FORBIDDEN, body).into_response();
    }
    let mut res = (StatusCode::UNAUTHORIZED, Html(html::login(error))).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"deskbot reports\""),
    );
    res
}

#[derive(Deserialize)]
struct PageQuery {
    since: Option<String>,
    queue: Option<String>,
}

async fn page(State(s): State<ReportsState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let Some(viewer) = signed_in(&s, &headers) else { return refused(&s, None) };
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
        viewer: Some(viewer.as_str()),
    };
    let mut res = Html(html::render(&page)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    res
}

async fn login_form(State(s): State<ReportsState>, headers: HeaderMap) -> Response {
    if signed_in(&s, &headers).is_some() {
        return Redirect::to("/reports").into_response();
    }
    if s.token.is_none() {
        return refused(&s, None);
    }
    Html(html::login(None)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(s): State<ReportsState>, Form(f): Form<LoginForm>) -> Response {
    let Some(token) = &s.token else { return refused(&s, None) };
    if !same(f.token.trim(), token.expose_secret()) {
        tracing::warn!("reports: a sign-in with a wrong token");
        return refused(&s, Some("That token is not right."));
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/reports; HttpOnly; SameSite=Strict; Max-Age=604800",
        session_value(token)
    );
    let mut res = Redirect::to("/reports").into_response();
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_and_tokens_compare_exactly() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; deskbot_reports=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same("secret-token", "secret-token"));
        assert!(!same("secret-token", "secret-tokem"));
        assert!(!same("secret", "secret-token"));
        let t = SecretString::from("0123456789abcdef".to_string());
        assert_eq!(session_value(&t).len(), 64);
        assert!(!session_value(&t).contains("0123456789abcdef"));
    }
}
