//! The `/reports` page: askama templates (`templates/reports/`, auto-escaped) on the portal's
//! stylesheet (`static/portal.css`) plus the page's own rules (`static/reports.css`), both
//! served by deskbot; SVG charts inline (nothing is fetched from anywhere else), laid out in
//! cards that stack on a phone. Every figure carries a `data-figure` attribute so tests can
//! read it back. The charts are the only markup not escaped by the templates: `svg.rs` builds
//! them from numbers, fixed ids and colours, and labels it escapes itself.

use super::svg;
use super::text::{opt_duration, percent};
use super::{DeflectionRow, Report};
use askama::Template;

/// The periods offered in the page's selector.
pub const PERIODS: &[(&str, &str)] =
    &[("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days")];

/// The reports page's own stylesheet (on top of the portal's).
pub const STYLE: &str = include_str!("../../static/reports.css");

/// What the page needs besides the report.
pub struct Page<'a> {
    pub report: &'a Report,
    /// Every queue, for the selector.
    pub queues: &'a [String],
    pub kb_base_url: Option<&'a str>,
    /// Who is looking (from the proxy's header), if known.
    pub viewer: Option<&'a str>,
    /// A signed-in browser session's CSRF token: the page then offers "Sign out".
    pub logout_csrf: Option<&'a str>,
}

/// One `<option>` of a selector.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(items: impl IntoIterator<Item = (String, String)>, selected: &str) -> Vec<Choice> {
    items.into_iter().map(|(value, label)| Choice { selected: value == selected, value, label }).collect()
}

/// One headline figure: a card with its value and a note (and a p90 figure for durations).
struct Stat {
    title: &'static str,
    name: &'static str,
    value: String,
    note: String,
    p90: Option<(&'static str, String)>,
}

/// One row of a deflection table.
struct Row {
    id: String,
    name: String,
    title: String,
    href: Option<String>,
    shown: u64,
    solved: u64,
    not_solved: u64,
    solved_pct: String,
}

/// `show_ids`: name rows by id (intents) rather than by title (articles).
fn rows(rows: &[DeflectionRow], show_ids: bool, link: impl Fn(&str) -> Option<String>) -> Vec<Row> {
    rows.iter()
        .take(15)
        .map(|r| Row {
            id: r.id.clone(),
            name: if show_ids { r.id.clone() } else { r.name.clone().unwrap_or_else(|| r.id.clone()) },
            title: r.name.clone().unwrap_or_else(|| r.id.clone()),
            href: link(&r.id),
            shown: r.shown,
            solved: r.solved,
            not_solved: r.not_solved,
            solved_pct: percent(r.deflection_rate),
        })
        .collect()
}

/// A nearby intent or article of an unanswered question.
struct Near {
    kind: &'static str,
    name: String,
    href: Option<String>,
}

/// A cluster of unanswered questions.
struct Unanswered {
    count: u64,
    first: String,
    also: Vec<String>,
    closest: Vec<Near>,
    no_match: u64,
    not_solved: u64,
}

#[derive(Template)]
#[template(path = "reports/page.html")]
struct PageView {
    period: String,
    queue: String,
    viewer: Option<String>,
    logout_csrf: Option<String>,
    periods: Vec<Choice>,
    queues: Vec<Choice>,
    stats: Vec<Stat>,
    /// The "Requests" section: open requests, time to approve, grants due for review.
    request_stats: Vec<Stat>,
    /// Seats used per catalog item: (item, used, seats or "unlimited").
    seats: Vec<(String, u64, String)>,
    /// The charts: trusted markup from `svg.rs` (numbers and escaped labels only).
    deflection_ring: String,
    sla_ring: String,
    csat_chart: String,
    daily_chart: String,
    intents_chart: String,
    deflection_rate: String,
    deflected: u64,
    conversations: u64,
    sla_compliance: String,
    sla_met: u64,
    sla_tickets: u64,
    sla_breached: u64,
    csat_average: String,
    csat_count: u64,
    intents: Vec<Row>,
    articles: Vec<Row>,
    unanswered: Vec<Unanswered>,
    excluded: u64,
    from: String,
    to: String,
}

#[derive(Template)]
#[template(path = "reports/login.html")]
struct LoginView<'a> {
    error: Option<&'a str>,
    csrf: &'a str,
}

/// The whole page.
pub fn render(page: &Page<'_>) -> Result<String, askama::Error> {
    let r = page.report;
    let queue = r.queue.clone().unwrap_or_default();
    let article_link = |id: &str| page.kb_base_url.map(|b| format!("{}/{id}", b.trim_end_matches('/')));
    let mut periods: Vec<(String, String)> =
        PERIODS.iter().map(|(v, l)| (v.to_string(), l.to_string())).collect();
    if !periods.iter().any(|(v, _)| *v == r.period) {
        periods.push((r.period.clone(), format!("Last {}", r.period)));
    }
    let mut queues = vec![(String::new(), "All queues".to_string())];
    queues.extend(page.queues.iter().map(|q| (q.clone(), q.clone())));
    let stats = vec![
        Stat {
            title: "Conversations",
            name: "conversations",
            value: r.conversations.to_string(),
            note: "questions asked".into(),
            p90: None,
        },
        Stat {
            title: "Deflected",
            name: "deflected",
            value: r.deflected.to_string(),
            note: format!("confirmed solved by the bot · {} answered", r.answered),
            p90: None,
        },
        Stat {
            title: "Tickets filed",
            name: "tickets_filed",
            value: r.tickets_filed.to_string(),
            note: format!("{} resolved", r.tickets_resolved),
            p90: None,
        },
        Stat {
            title: "First response",
            name: "first_response_median",
            value: opt_duration(r.first_response.median_ms),
            note: "median".into(),
            p90: Some(("first_response_p90", opt_duration(r.first_response.p90_ms))),
        },
        Stat {
            title: "Resolution",
            name: "resolution_median",
            value: opt_duration(r.resolution.median_ms),
            note: "median".into(),
            p90: Some(("resolution_p90", opt_duration(r.resolution.p90_ms))),
        },
    ];
    let f = &r.requests;
    let request_stats = vec![
        Stat {
            title: "Open requests",
            name: "requests_open",
            value: f.open.to_string(),
            note: "pending, waiting for a seat or being set up".into(),
            p90: None,
        },
        Stat {
            title: "Time to approve",
            name: "requests_time_to_approve",
            value: opt_duration(f.time_to_approve.median_ms),
            note: format!("median · {} approved in the period", f.time_to_approve.count),
            p90: None,
        },
        Stat {
            title: "Grants due for review",
            name: "requests_due_for_review",
            value: f.due_for_review.to_string(),
            note: format!("not reviewed in {} days", super::requests::REVIEW_DUE_DAYS),
            p90: None,
        },
    ];
    let seats = f
        .seats
        .iter()
        .map(|s| (s.item.clone(), s.used, s.total.map_or_else(|| "unlimited".to_string(), |t| t.to_string())))
        .collect();
    let (blue, green, orange) = svg::COLORS;
    let csat_rows: Vec<(String, f64, String)> = r
        .csat
        .distribution
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("{} ★", i + 1), *n as f64, n.to_string()))
        .collect();
    let days: Vec<(String, u64, u64, u64)> =
        r.daily.iter().map(|d| (d.day.clone(), d.conversations, d.deflected, d.tickets)).collect();
    let intent_rows: Vec<(String, f64, String)> =
        r.top_intents.iter().take(8).map(|i| (i.id.clone(), i.shown as f64, i.shown.to_string())).collect();
    let unanswered = r
        .unanswered
        .iter()
        .map(|c| Unanswered {
            count: c.count,
            first: c.examples.first().cloned().unwrap_or_default(),
            also: c.examples.iter().skip(1).cloned().collect(),
            closest: c
                .closest
                .iter()
                .map(|x| Near {
                    kind: x.kind,
                    name: format!("{} ({})", x.name, x.id),
                    href: if x.kind == "article" { article_link(&x.id) } else { None },
                })
                .collect(),
            no_match: c.no_match,
            not_solved: c.not_solved,
        })
        .collect();
    PageView {
        period: r.period.clone(),
        periods: choices(periods, &r.period),
        queues: choices(queues, &queue),
        queue,
        viewer: page.viewer.map(str::to_string),
        logout_csrf: page.logout_csrf.map(str::to_string),
        stats,
        request_stats,
        seats,
        deflection_ring: svg::ring("chart-deflection", "Deflection rate", r.deflection_rate, green),
        sla_ring: svg::ring("chart-sla", "SLA compliance", r.sla.compliance, blue),
        csat_chart: svg::bars("chart-csat", "CSAT distribution", &csat_rows, Some(orange)),
        daily_chart: svg::daily("chart-daily", &days),
        intents_chart: svg::bars("chart-intents", "Top intents", &intent_rows, None),
        deflection_rate: percent(r.deflection_rate),
        deflected: r.deflected,
        conversations: r.conversations,
        sla_compliance: percent(r.sla.compliance),
        sla_met: r.sla.met,
        sla_tickets: r.sla.tickets,
        sla_breached: r.sla.breached,
        csat_average: r.csat.average.map(|a| format!("{a:.1}")).unwrap_or_else(|| "–".into()),
        csat_count: r.csat.count,
        intents: rows(&r.top_intents, true, |_| None),
        articles: rows(&r.articles, false, article_link),
        unanswered,
        excluded: r.excluded_test_rows,
        from: when(r.from),
        to: when(r.to),
    }
    .render()
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The login form (no data on it). `error` says why the last attempt failed; `csrf` is the
/// token the form posts back (it must match the sign-in cookie set with this page).
pub fn login(error: Option<&str>, csrf: &str) -> Result<String, askama::Error> {
    LoginView { error, csrf }.render()
}

/// The `Content-Security-Policy` of every reports page: nothing may load or run but deskbot's
/// own stylesheets; no script at all; forms post to this origin only; no framing.
pub fn content_security_policy() -> String {
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::Cluster;
    use crate::reports::cluster::Closest;

    #[test]
    fn employee_text_is_escaped_and_figures_are_tagged() {
        let report = Report {
            period: "14d".into(),
            conversations: 4,
            deflected: 1,
            deflection_rate: Some(0.25),
            unanswered: vec![Cluster {
                count: 1,
                no_match: 1,
                not_solved: 0,
                examples: vec!["<script>alert('x')</script> & \"vpn\"".into()],
                closest: vec![Closest {
                    kind: "article",
                    id: "vpn-setup".into(),
                    name: "VPN <setup>".into(),
                }],
            }],
            ..Report::default()
        };
        let queues = ["identity".to_string()];
        let page = Page {
            report: &report,
            queues: &queues,
            kb_base_url: Some("https://kb.example/"),
            viewer: Some("<dana>"),
            logout_csrf: Some("t0k\"en"),
        };
        let html = render(&page).unwrap();
        assert!(!html.contains("<script>"), "raw employee text in the page");
        assert!(
            html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#34;vpn&#34;"),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="https://kb.example/vpn-setup">VPN &#60;setup&#62; (vpn-setup)</a>"#),
            "{html}"
        );
        assert!(html.contains("signed in as &#60;dana&#62;"), "{html}");
        assert!(html.contains(r#"data-figure="conversations">4<"#));
        assert!(html.contains(r#"data-figure="deflection_rate">25%<"#));
        assert!(html.contains(r#"data-figure="first_response_p90">"#));
        assert!(
            html.contains(r#"<option value="14d" selected>Last 14d</option>"#),
            "a custom period stays selected"
        );
        assert!(
            !html.contains("http://") && !html.contains("<script"),
            "self-contained: nothing from elsewhere"
        );
        assert!(
            html.contains(r#"<link rel="stylesheet" href="/reports/static/portal.css">"#)
                && html.contains(r#"<link rel="stylesheet" href="/reports/static/reports.css">"#),
            "the portal's stylesheet and the page's own"
        );
        assert!(
            html.contains(r#"action="/reports/logout"><input type="hidden" name="csrf" value="t0k&#34;en">"#),
            "{html}"
        );
        assert!(!html.contains(" style=") && !html.contains("<style"), "nothing the CSP would block");
        assert_eq!(html.matches("<svg").count(), 5, "every chart is on the page");
        let login = login(Some("<bad>"), "form-token").unwrap();
        assert!(login.contains("&#60;bad&#62;") && !login.contains("data-figure"));
        assert!(login.contains(r#"name="csrf" value="form-token""#) && !login.contains(" style="));
    }

    #[test]
    fn the_policy_allows_only_deskbots_own_stylesheets() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; "), "{csp}");
        assert!(csp.contains("style-src 'self'") && !csp.contains("script-src"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"), "{csp}");
        assert!(STYLE.contains(".legend i.blue"));
    }
}
