//! `/portal/kb`: the knowledge base, searched with the bot's own index; full articles are
//! rendered from markdown (pulldown-cmark) and sanitised (ammonia), so no raw HTML or script
//! in an article file reaches the page. Open to everyone when `portal.public_kb = true`.

use super::pages::{self, ArticleRow, Frame};
use super::{PortalState, Viewer, csrf_ok, csrf_refused, delivery_id, valid_delivery};
use super::{message_page, not_found, render, require, sign_in_needed, viewer};
use crate::http::session::Peer;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

/// Search results shown at most.
const MAX_HITS: usize = 10;
/// Articles listed when nothing is searched.
const MAX_LISTED: usize = 100;
/// Characters of an article's start shown under its title.
const EXCERPT_CHARS: usize = 160;
/// How long the most helpful articles are reused before they are figured again, in ms.
const HELPFUL_TTL_MS: i64 = 10 * 60_000;
/// How many most helpful articles the home page shows.
const HELPFUL_SHOWN: usize = 5;

/// An article's markdown as HTML that is safe to put in a page: rendered, then cleaned of
/// anything but plain formatting (no script, no style, no event handlers, no iframes; links
/// get `rel="noopener noreferrer"`).
pub fn to_html(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, opts));
    ammonia::clean(&raw)
}

/// The viewer, or `None` when the KB is public and nobody is signed in; `Err` when a
/// sign-in is needed.
async fn reader(s: &PortalState, peer: Peer, headers: &HeaderMap) -> Result<Option<Viewer>, Response> {
    if s.cfg.public_kb { viewer(s, peer, headers).await } else { require(s, peer, headers).await.map(Some) }
}

fn frame(v: Option<&Viewer>, note: Option<String>) -> Frame {
    match v {
        Some(v) => v.frame(note),
        None => Frame { note, ..Frame::default() },
    }
}

fn respond(v: Option<&Viewer>, status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match v {
        Some(v) => v.respond(status, body),
        None => render(status, body),
    }
}

#[derive(Deserialize)]
pub(super) struct KbQuery {
    #[serde(default)]
    q: String,
}

pub(super) async fn search(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Query(q): Query<KbQuery>,
) -> Response {
    let v = match reader(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let query: String = q.q.trim().chars().take(500).collect();
    let catalog = s.service.catalog().load();
    let row = |a: &crate::kb::Article| ArticleRow {
        id: a.id.clone(),
        title: a.title.clone(),
        excerpt: a.excerpt(EXCERPT_CHARS),
    };
    let hits = if query.is_empty() {
        let mut all: Vec<ArticleRow> = catalog.articles.iter().take(MAX_LISTED).map(row).collect();
        all.sort_by_key(|a| a.title.to_lowercase());
        all
    } else {
        catalog
            .search_kb(&query, MAX_HITS)
            .into_iter()
            .filter_map(|h| catalog.articles.get(h.article))
            .map(row)
            .collect()
    };
    let page = pages::Kb { frame: frame(v.as_ref(), None), query, hits };
    respond(v.as_ref(), StatusCode::OK, page.render())
}

async fn article_page(s: &PortalState, v: Option<&Viewer>, id: &str, note: Option<String>) -> Response {
    let catalog = s.service.catalog().load();
    let Some(a) = catalog.article(id) else { return not_found(v) };
    let page = pages::Article {
        frame: frame(v, note),
        delivery: delivery_id(),
        id: a.id.clone(),
        title: a.title.clone(),
        body: to_html(&a.body),
    };
    respond(v, StatusCode::OK, page.render())
}

pub(super) async fn article(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = match reader(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    article_page(&s, v.as_ref(), &id, None).await
}

#[derive(Deserialize)]
pub(super) struct FeedbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    delivery: String,
    #[serde(default)]
    helpful: String,
}

/// "Did this help?": recorded for signed-in people (the form carries their session's token).
pub(super) async fn feedback(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<FeedbackForm>,
) -> Response {
    let v = match viewer(&s, peer, &headers).await {
        Ok(Some(v)) => v,
        Ok(None) => return sign_in_needed(&s),
        Err(res) => return res,
    };
    if !csrf_ok(&v, &f.csrf) {
        return csrf_refused(&v);
    }
    let helpful = match f.helpful.as_str() {
        "yes" => true,
        "no" => false,
        _ => {
            return message_page(
                StatusCode::BAD_REQUEST,
                Some(&v),
                "That did not work",
                &["Answer yes or no."],
            );
        }
    };
    if !valid_delivery(&f.delivery) {
        return message_page(
            StatusCode::BAD_REQUEST,
            Some(&v),
            "That did not work",
            &["That form is incomplete; reload the page and try again."],
        );
    }
    match s.service.portal_kb_feedback(&v.user, &f.delivery, &id, helpful).await {
        Ok(_) => {}
        Err(crate::service::ServiceError::NoSuchArticle(_)) => return not_found(Some(&v)),
        Err(e) => {
            tracing::error!(error = crate::service::error_kind(&e), "portal: KB feedback not recorded");
            return super::unavailable("kb feedback");
        }
    }
    let note = if helpful {
        "Thanks, glad it helped."
    } else {
        "Thanks for telling us. Ask the help desk if you are still stuck."
    };
    article_page(&s, Some(&v), &id, Some(note.to_string())).await
}

/// The articles that solved most questions over the last 30 days (the reports' deflection
/// figures), reused for ten minutes.
pub(super) async fn most_helpful(s: &PortalState) -> Vec<ArticleRow> {
    let now = s.now();
    let cached = s.helpful.lock().ok().and_then(|c| c.clone()).filter(|(at, _)| now - at < HELPFUL_TTL_MS);
    let ids = match cached {
        Some((_, ids)) => ids,
        None => {
            let ids = figure_helpful(s, now).await;
            if let Ok(mut c) = s.helpful.lock() {
                *c = Some((now, ids.clone()));
            }
            ids
        }
    };
    let catalog = s.service.catalog().load();
    ids.iter()
        .filter_map(|id| catalog.article(id))
        .map(|a| ArticleRow { id: a.id.clone(), title: a.title.clone(), excerpt: String::new() })
        .collect()
}

async fn figure_helpful(s: &PortalState, now: i64) -> Vec<String> {
    let Ok(period) = crate::reports::parse_since("30d", now) else { return Vec::new() };
    let opts = crate::reports::ReportOptions { period, queue: None, testers: Vec::new(), kb_base_url: None };
    let catalog = s.service.catalog().load_full();
    match crate::reports::build(s.service.store(), &catalog, &opts).await {
        Ok(report) => {
            let mut rows: Vec<_> = report.articles.into_iter().filter(|r| r.solved > 0).collect();
            rows.sort_by(|a, b| b.solved.cmp(&a.solved).then_with(|| a.id.cmp(&b.id)));
            rows.into_iter().take(HELPFUL_SHOWN).map(|r| r.id).collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "portal: cannot figure the most helpful articles");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn raw_html_and_script_in_an_article_do_not_survive() {
        let md = "# Reset\n\nStep **one**.\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
                  [ok](https://example.com) [bad](javascript:alert(3))\n\n<iframe src=https://evil></iframe>";
        let html = to_html(md);
        assert!(html.contains("<strong>one</strong>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        for bad in ["<script", "alert(1)", "onerror", "javascript:", "<iframe"] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
    }
}
