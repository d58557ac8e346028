//! The `/reports` page: one server-rendered HTML document with its CSS and SVG charts inline
//! (nothing is fetched from anywhere), laid out in cards that stack on a phone. Every figure
//! carries a `data-figure` attribute so tests can read it back.

use super::svg;
use super::text::{opt_duration, percent};
use super::{DeflectionRow, Report};
use std::fmt::Write;

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The periods offered in the page's selector.
pub const PERIODS: &[(&str, &str)] =
    &[("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days")];

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

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#f3f4f6}
header{background:#1f2937;color:#fff;padding:12px 16px}header h1{font-size:18px;margin:0}header p{margin:2px 0 0;color:#d1d5db;font-size:13px}
main{max-width:1100px;margin:0 auto;padding:12px}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#374151}
select,button,input{font:inherit;padding:6px 8px;border:1px solid #d1d5db;border-radius:6px;background:#fff}
button{background:#2563eb;color:#fff;border-color:#2563eb}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:10px;margin-bottom:10px}
.wide{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:10px;margin-bottom:10px}
.card{background:#fff;border-radius:10px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.06);min-width:0}
.card h2{font-size:13px;font-weight:600;color:#4b5563;margin:0 0 6px;text-transform:uppercase;letter-spacing:.03em}
.big{font-size:28px;font-weight:700}.muted{color:#6b7280;font-size:13px}
.ringrow{display:flex;align-items:center;gap:10px}
table{width:100%;border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #f3f4f6}th{color:#6b7280;font-weight:600}
td.n,th.n{text-align:right}
ul.unanswered{list-style:none;padding:0;margin:0}ul.unanswered li{padding:8px 0;border-bottom:1px solid #f3f4f6}
.count{display:inline-block;min-width:2em;padding:0 6px;border-radius:10px;background:#fee2e2;color:#991b1b;font-weight:600;text-align:center;margin-right:6px}
.legend span{display:inline-block;margin-right:10px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
a{color:#1d4ed8}.scroll{overflow-x:auto}
.legend i.blue{background:#2563eb}.legend i.green{background:#16a34a}.legend i.orange{background:#ea580c}
header form.logout{float:right;margin:0}header form.logout button{background:transparent;border-color:#9ca3af;color:#fff;font-size:13px;padding:3px 8px}
.login{max-width:420px;margin:24px auto}.login input{width:100%}.error{color:#b91c1c}
@media (max-width:480px){main{padding:8px}table{font-size:12px}th,td{padding:3px 4px}.big{font-size:24px}}
"#;

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{STYLE}</style></head>",
        esc(title)
    )
}

fn figure(name: &str, value: &str) -> String {
    format!(r#"<span class="big" data-figure="{name}">{}</span>"#, esc(value))
}

fn stat(title: &str, name: &str, value: &str, note: &str) -> String {
    format!(
        r#"<div class="card"><h2>{}</h2>{}<div class="muted">{}</div></div>"#,
        esc(title),
        figure(name, value),
        note
    )
}

/// The "Requests" section: open requests, median time to approve, grants due for review, and
/// seats used per item. Self-contained so it can move to a template on its own.
fn requests_section(f: &super::requests::RequestFigures) -> String {
    let mut rows = String::new();
    for seat in &f.seats {
        let total = seat.total.map_or_else(|| "unlimited".to_string(), |t| t.to_string());
        let _ = write!(
            rows,
            r#"<tr><td>{}</td><td class="num" data-seats="{}">{}</td><td class="num">{}</td></tr>"#,
            esc(&seat.item),
            esc(&seat.item),
            seat.used,
            esc(&total)
        );
    }
    format!(
        r#"<section class="grid" id="requests">{}{}{}</section><section class="wide"><div class="card"><h2>Seats used per item</h2><div class="scroll"><table><thead><tr><th>item</th><th>used</th><th>seats</th></tr></thead><tbody>{rows}</tbody></table></div></div></section>"#,
        stat(
            "Open requests",
            "requests_open",
            &f.open.to_string(),
            "pending, waiting for a seat or being set up"
        ),
        stat(
            "Time to approve",
            "requests_time_to_approve",
            &opt_duration(f.time_to_approve.median_ms),
            &format!("median · {} approved in the period", f.time_to_approve.count)
        ),
        stat(
            "Grants due for review",
            "requests_due_for_review",
            &f.due_for_review.to_string(),
            &format!("not reviewed in {} days", super::requests::REVIEW_DUE_DAYS)
        ),
    )
}

fn options(items: impl IntoIterator<Item = (String, String)>, selected: &str) -> String {
    items
        .into_iter()
        .map(|(v, label)| {
            let sel = if v == selected { " selected" } else { "" };
            format!(r#"<option value="{}"{sel}>{}</option>"#, esc(&v), esc(&label))
        })
        .collect()
}

/// `show_ids`: name rows by id (intents) rather than by title (articles).
fn deflection_table(
    id: &str,
    rows: &[DeflectionRow],
    show_ids: bool,
    link: impl Fn(&str) -> Option<String>,
) -> String {
    if rows.is_empty() {
        return r#"<p class="muted">No answers in this period.</p>"#.to_string();
    }
    let mut s = format!(
        r#"<div class="scroll"><table id="{id}"><thead><tr><th>Name</th><th class="n">Shown</th><th class="n">Solved</th><th class="n">Not solved</th><th class="n">Solved %</th></tr></thead><tbody>"#
    );
    for r in rows.iter().take(15) {
        let name = if show_ids { &r.id } else { r.name.as_deref().unwrap_or(&r.id) };
        let title = r.name.as_deref().unwrap_or(&r.id);
        let cell = match link(&r.id) {
            Some(href) => format!(r#"<a href="{}">{}</a>"#, esc(&href), esc(name)),
            None => esc(name),
        };
        let _ = write!(
            s,
            r#"<tr data-id="{}"><td title="{}">{cell}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&r.id),
            esc(title),
            r.shown,
            r.solved,
            r.not_solved,
            percent(r.deflection_rate)
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let r = page.report;
    let queue = r.queue.clone().unwrap_or_default();
    let article_link = |id: &str| page.kb_base_url.map(|b| format!("{}/{id}", b.trim_end_matches('/')));
    let mut s = head("deskbot reports");
    let viewer = page.viewer.map(|v| format!(" · signed in as {}", esc(v))).unwrap_or_default();
    let logout = page
        .logout_csrf
        .map(|t| {
            format!(
                r#"<form class="logout" method="post" action="/reports/logout"><input type="hidden" name="csrf" value="{}"><button type="submit">Sign out</button></form>"#,
                esc(t)
            )
        })
        .unwrap_or_default();
    let _ = write!(
        s,
        r#"<body><header>{logout}<h1>deskbot reports</h1><p>Last {} · {}{viewer}</p></header><main>"#,
        esc(&r.period),
        if queue.is_empty() { "all queues".to_string() } else { format!("queue {}", esc(&queue)) }
    );
    let mut periods: Vec<(String, String)> =
        PERIODS.iter().map(|(v, l)| (v.to_string(), l.to_string())).collect();
    if !periods.iter().any(|(v, _)| *v == r.period) {
        periods.push((r.period.clone(), format!("Last {}", r.period)));
    }
    let mut queues = vec![(String::new(), "All queues".to_string())];
    queues.extend(page.queues.iter().map(|q| (q.clone(), q.clone())));
    let _ = write!(
        s,
        r#"<form class="filters" method="get" action="/reports"><label>Period<select name="since">{}</select></label><label>Queue<select name="queue">{}</select></label><button type="submit">Show</button></form>"#,
        options(periods, &r.period),
        options(queues, &queue)
    );

    s.push_str(r#"<section class="grid">"#);
    s.push_str(&stat("Conversations", "conversations", &r.conversations.to_string(), "questions asked"));
    s.push_str(&stat(
        "Deflected",
        "deflected",
        &r.deflected.to_string(),
        &format!("confirmed solved by the bot · {} answered", r.answered),
    ));
    s.push_str(&stat(
        "Tickets filed",
        "tickets_filed",
        &r.tickets_filed.to_string(),
        &format!("{} resolved", r.tickets_resolved),
    ));
    s.push_str(&stat(
        "First response",
        "first_response_median",
        &opt_duration(r.first_response.median_ms),
        &format!(
            "median · p90 <span data-figure=\"first_response_p90\">{}</span>",
            opt_duration(r.first_response.p90_ms)
        ),
    ));
    s.push_str(&stat(
        "Resolution",
        "resolution_median",
        &opt_duration(r.resolution.median_ms),
        &format!(
            "median · p90 <span data-figure=\"resolution_p90\">{}</span>",
            opt_duration(r.resolution.p90_ms)
        ),
    ));
    s.push_str("</section>");

    let (blue, green, orange) = svg::COLORS;
    s.push_str(r#"<section class="wide">"#);
    let _ = write!(
        s,
        r#"<div class="card"><h2>Deflection rate</h2><div class="ringrow">{}<div>{}<div class="muted">{} of {} conversations solved without a person</div></div></div></div>"#,
        svg::ring("chart-deflection", "Deflection rate", r.deflection_rate, green),
        figure("deflection_rate", &percent(r.deflection_rate)),
        r.deflected,
        r.conversations
    );
    let _ = write!(
        s,
        r#"<div class="card"><h2>SLA compliance</h2><div class="ringrow">{}<div>{}<div class="muted"><span data-figure="sla_met">{}</span> of {} tickets met their targets · {} breached</div></div></div></div>"#,
        svg::ring("chart-sla", "SLA compliance", r.sla.compliance, blue),
        figure("sla_compliance", &percent(r.sla.compliance)),
        r.sla.met,
        r.sla.tickets,
        r.sla.breached
    );
    let csat_rows: Vec<(String, f64, String)> = r
        .csat
        .distribution
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("{} ★", i + 1), *n as f64, n.to_string()))
        .collect();
    let avg = r.csat.average.map(|a| format!("{a:.1}")).unwrap_or_else(|| "–".into());
    let _ = write!(
        s,
        r#"<div class="card"><h2>CSAT</h2>{}<span class="muted"> / 5 from <span data-figure="csat_count">{}</span> ratings</span>{}</div>"#,
        figure("csat_average", &avg),
        r.csat.count,
        svg::bars("chart-csat", "CSAT distribution", &csat_rows, Some(orange))
    );
    let days: Vec<(String, u64, u64, u64)> =
        r.daily.iter().map(|d| (d.day.clone(), d.conversations, d.deflected, d.tickets)).collect();
    let _ = write!(
        s,
        r#"<div class="card"><h2>Per day</h2><div class="legend"><span><i class="blue"></i>conversations</span><span><i class="green"></i>deflected</span><span><i class="orange"></i>tickets</span></div>{}</div>"#,
        svg::daily("chart-daily", &days)
    );
    s.push_str("</section>");

    s.push_str(&requests_section(&r.requests));

    s.push_str(r#"<section class="wide">"#);
    let intent_rows: Vec<(String, f64, String)> =
        r.top_intents.iter().take(8).map(|i| (i.id.clone(), i.shown as f64, i.shown.to_string())).collect();
    let _ = write!(
        s,
        r#"<div class="card"><h2>Top intents</h2>{}{}</div>"#,
        svg::bars("chart-intents", "Top intents", &intent_rows, None),
        deflection_table("intents", &r.top_intents, true, |_| None)
    );
    let _ = write!(
        s,
        r#"<div class="card"><h2>Deflection per KB article</h2>{}</div>"#,
        deflection_table("articles", &r.articles, false, article_link)
    );
    s.push_str("</section>");

    let _ = write!(
        s,
        r#"<section class="card" id="unanswered"><h2>Unanswered questions <span class="muted">(matched nothing or marked not solved; the knowledge-base gaps to fill next)</span></h2>"#
    );
    if r.unanswered.is_empty() {
        s.push_str(r#"<p class="muted">None in this period.</p>"#);
    } else {
        s.push_str(r#"<ul class="unanswered">"#);
        for c in &r.unanswered {
            let first = c.examples.first().map(String::as_str).unwrap_or("");
            let _ = write!(
                s,
                r#"<li data-count="{}"><span class="count">{}×</span>“{}”"#,
                c.count,
                c.count,
                esc(first)
            );
            for e in c.examples.iter().skip(1) {
                let _ = write!(s, r#"<div class="muted">also: “{}”</div>"#, esc(e));
            }
            let closest: Vec<String> = c
                .closest
                .iter()
                .map(|x| {
                    let link = if x.kind == "article" { article_link(&x.id) } else { None };
                    let name = format!("{} ({})", x.name, x.id);
                    match link {
                        Some(href) => format!(r#"{} <a href="{}">{}</a>"#, x.kind, esc(&href), esc(&name)),
                        None => format!(r#"{} <b>{}</b>"#, x.kind, esc(&name)),
                    }
                })
                .collect();
            if !closest.is_empty() {
                let _ = write!(s, r#"<div class="muted">closest: {}</div>"#, closest.join(" · "));
            }
            let _ = write!(
                s,
                r#"<div class="muted">{} no match · {} not solved</div></li>"#,
                c.no_match, c.not_solved
            );
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>");
    let _ = write!(
        s,
        r#"<p class="muted">Test traffic left out: {} rows. First response and resolution are wall-clock time from the ticket's creation; medians are nearest-rank. Generated for {} – {}.</p></main></body></html>"#,
        r.excluded_test_rows,
        when(r.from),
        when(r.to)
    );
    s
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The login form (no data on it). `error` says why the last attempt failed; `csrf` is the
/// token the form posts back (it must match the sign-in cookie set with this page).
pub fn login(error: Option<&str>, csrf: &str) -> String {
    let mut s = head("deskbot reports: sign in");
    let err = error.map(|e| format!(r#"<p class="error">{}</p>"#, esc(e))).unwrap_or_default();
    let _ = write!(
        s,
        r#"<body><header><h1>deskbot reports</h1></header><main><div class="card login"><h2>Sign in</h2>{err}<form method="post" action="/reports/login"><input type="hidden" name="csrf" value="{}"><p><label>Reports token<br><input type="password" name="token" autocomplete="current-password"></label></p><button type="submit">Sign in</button></form><p class="muted">The token is DESKBOT_REPORTS_TOKEN in the server's configuration.</p></div></main></body></html>"#,
        esc(csrf)
    );
    s
}

/// The `Content-Security-Policy` of every reports page: nothing may load or run but the
/// page's own stylesheet (allowed by its hash); forms post to this origin only; no framing.
pub fn content_security_policy() -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'"
    )
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
            viewer: None,
            logout_csrf: Some("t0k\"en"),
        };
        let html = render(&page);
        assert!(!html.contains("<script>"), "raw employee text in the page");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;vpn&quot;"));
        assert!(
            html.contains(r#"<a href="https://kb.example/vpn-setup">VPN &lt;setup&gt; (vpn-setup)</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"data-figure="conversations">4<"#));
        assert!(html.contains(r#"data-figure="deflection_rate">25%<"#));
        assert!(
            html.contains(r#"<option value="14d" selected>Last 14d</option>"#),
            "a custom period stays selected"
        );
        assert!(
            !html.contains("http://") && !html.contains("<link") && !html.contains("<script"),
            "self-contained"
        );
        assert!(
            html.contains(
                r#"action="/reports/logout"><input type="hidden" name="csrf" value="t0k&quot;en">"#
            )
        );
        assert!(!html.contains(" style=") && !html.contains("<script"), "nothing the CSP would block");
        let login = login(Some("<bad>"), "form-token");
        assert!(login.contains("&lt;bad&gt;") && !login.contains("data-figure"));
        assert!(login.contains(r#"name="csrf" value="form-token""#) && !login.contains(" style="));
    }

    #[test]
    fn the_policy_allows_exactly_the_page_stylesheet() {
        use base64::Engine;
        use sha2::Digest;
        let csp = content_security_policy();
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE.as_bytes()));
        assert!(csp.starts_with("default-src 'none'; "), "{csp}");
        assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"), "{csp}");
        assert_eq!(head("t").matches("<style>").count(), 1);
        assert!(
            head("t").contains(&format!("<style>{STYLE}</style>")),
            "the hashed text is the element's text"
        );
    }
}
