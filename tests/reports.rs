//! Reports end to end: every figure on a seeded database (the day described in
//! `support/reports_seed.rs`, worked out by hand), the queue filter, `deskbot report`,
//! questions asked in chat becoming case events, `chat --test`, the page's login, `/metrics`
//! as Prometheus exposition format and `/readyz`.

#[path = "support/reports_seed.rs"]
mod reports_seed;

use deskbot::app::{self, App, ChatOptions};
use deskbot::config::{Config, Sources};
use deskbot::domain::QueueName;
use deskbot::reports::{self, Durations, ReportOptions};
use deskbot::store::CaseKind;
use reports_seed::{D, H, M};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "reports-token-0123456789";

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A data directory with a seeded database and a `deskbot.toml` that uses it.
struct Seeded {
    dir: tempfile::TempDir,
    config: PathBuf,
}

async fn seeded(port: u16) -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("deskbot.db").display());
    let key = deskbot::compliance::key::AuditKey::load(dir.path()).unwrap().0;
    let store = deskbot::store::open(&db, key).await.unwrap();
    store.migrate().await.unwrap();
    reports_seed::seed(&store, now() - 2 * D).await;
    let config = dir.path().join("deskbot.toml");
    let intents = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{db}\"\nintents_dir = \"{}\"\nhot_reload = false\nlog_format = \"human\"\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n\
             [engine]\nkb_base_url = \"https://wiki.example.com/kb\"\n\
             [reports]\ntoken = \"{TOKEN}\"\ntesters = [\"slack:UTESS\"]\n",
            intents.display()
        ),
    )
    .unwrap();
    Seeded { dir, config }
}

async fn app_for(s: &Seeded) -> App {
    let config = Config::load_from(&Sources { file: Some(s.config.clone()), data_dir: None }, &[]).unwrap();
    App::build(config).await.unwrap()
}

fn opts(app: &App, queue: Option<&str>) -> ReportOptions {
    ReportOptions {
        period: reports::parse_since("7d", now()).unwrap(),
        queue: queue.map(|q| QueueName::parse(q).unwrap()),
        testers: app.config.reports.tester_refs().unwrap(),
        kb_base_url: None,
    }
}

#[tokio::test]
async fn seeded_day_gives_the_hand_computed_figures() {
    let s = seeded(0).await;
    let app = app_for(&s).await;
    let r = reports::build(&app.store, &app.catalog.load_full(), &opts(&app, None)).await.unwrap();
    assert_eq!(r.conversations, 6);
    assert_eq!(r.answered, 4);
    assert_eq!(r.deflected, 2);
    assert_eq!(r.deflection_rate, Some(2.0 / 6.0));
    assert_eq!((r.tickets_filed, r.tickets_resolved), (3, 2));
    assert_eq!(r.first_response, Durations { count: 3, median_ms: Some(30 * M), p90_ms: Some(60 * M) });
    assert_eq!(r.resolution, Durations { count: 2, median_ms: Some(2 * H), p90_ms: Some(8 * H) });
    assert_eq!((r.sla.tickets, r.sla.met, r.sla.breached, r.sla.compliance), (2, 1, 1, Some(0.5)));
    assert_eq!((r.csat.count, r.csat.average, r.csat.distribution), (2, Some(3.5), [0, 1, 0, 0, 1]));
    let intents: Vec<(&str, u64, u64, u64)> =
        r.top_intents.iter().map(|i| (i.id.as_str(), i.shown, i.solved, i.not_solved)).collect();
    assert_eq!(intents, [("password_reset", 2, 1, 1), ("vpn_problem", 1, 0, 1)]);
    assert_eq!(r.top_intents[0].deflection_rate, Some(0.5));
    assert!(r.top_intents[0].name.as_deref().is_some_and(|n| !n.is_empty()), "named from the catalog");
    let articles: Vec<(&str, u64, u64, u64)> =
        r.articles.iter().map(|a| (a.id.as_str(), a.shown, a.solved, a.not_solved)).collect();
    assert_eq!(articles, [("password-reset", 2, 1, 1), ("vpn-troubleshooting", 1, 1, 0)]);
    let clusters: Vec<(u64, &str)> = r.unanswered.iter().map(|c| (c.count, c.examples[0].as_str())).collect();
    assert_eq!(
        clusters,
        [(2, "the coffee machine is broken"), (1, "vpn keeps dropping"), (1, "password expired")]
    );
    assert_eq!(r.unanswered[0].examples[1], "coffee machine broken again");
    assert_eq!(r.unanswered[1].closest[0].id, "vpn_problem", "what it was given");
    assert!(!r.unanswered[0].closest.is_empty(), "no-match questions get the nearest candidates");
    assert_eq!(r.excluded_test_rows, 5);
    let days: u64 = r.daily.iter().map(|d| d.conversations).sum();
    assert_eq!(days, 6);
}

#[tokio::test]
async fn queue_filter_keeps_only_that_queue() {
    let s = seeded(0).await;
    let app = app_for(&s).await;
    let r =
        reports::build(&app.store, &app.catalog.load_full(), &opts(&app, Some("identity"))).await.unwrap();
    assert_eq!((r.conversations, r.deflected, r.tickets_filed), (2, 1, 1));
    assert_eq!(r.first_response, Durations { count: 1, median_ms: Some(10 * M), p90_ms: Some(10 * M) });
    assert_eq!((r.csat.count, r.sla.tickets), (0, 0));
    let clusters: Vec<&str> = r.unanswered.iter().map(|c| c.examples[0].as_str()).collect();
    assert_eq!(clusters, ["password expired"]);
}

#[tokio::test]
async fn report_command_prints_the_same_figures() {
    let s = seeded(0).await;
    let bin = env!("CARGO_BIN_EXE_deskbot");
    let out = tokio::process::Command::new(bin)
        .args(["--config", s.config.to_str().unwrap(), "report", "--since", "7d", "--json"])
        .current_dir(s.dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["conversations"], 6);
    assert_eq!(v["deflected"], 2);
    assert_eq!(v["tickets_filed"], 3);
    assert_eq!(v["first_response"]["median_ms"], 30 * M);
    assert_eq!(v["sla"]["compliance"], 0.5);
    assert_eq!(v["csat"]["average"], 3.5);
    assert_eq!(v["unanswered"][0]["count"], 2);

    let text = tokio::process::Command::new(bin)
        .args(["--config", s.config.to_str().unwrap(), "report", "--since", "7d", "--queue", "network"])
        .current_dir(s.dir.path())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("last 7d (network)"), "{text}");
    assert!(text.contains("conversations        1"), "{text}");
    assert!(text.contains("SLA compliance       100% (1 of 1 met, 0 breached)"), "{text}");
    assert!(text.contains("first response       median 30m, p90 30m"), "{text}");

    let bad = tokio::process::Command::new(bin)
        .args(["--config", s.config.to_str().unwrap(), "report", "--queue", "nope"])
        .current_dir(s.dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no queue `nope`"));
}

#[tokio::test]
async fn questions_in_chat_become_case_events_and_chat_test_is_left_out() {
    let s = seeded(0).await;
    let app = app_for(&s).await;
    let chat = |user: &str, lines: &[&str]| {
        let mut input = lines.join("\n").into_bytes();
        input.push(b'\n');
        let opts = ChatOptions { user: user.to_string(), interactive: false };
        let app = &app;
        async move { app::chat(app, &opts, &input[..], Box::new(std::io::sink())).await.unwrap() }
    };
    let before = now();
    chat("alice", &["I forgot my password", "1"]).await;
    chat("bob", &["zxqv blorp quux"]).await;
    let events = app.store.case_events(before, now() + 1).await.unwrap();
    let got: Vec<(CaseKind, Option<&str>, &str)> =
        events.iter().map(|e| (e.kind, e.intent.as_deref(), e.conversation.as_str())).collect();
    assert_eq!(
        got,
        [
            (CaseKind::Answered, Some("password_reset"), "console:alice"),
            (CaseKind::Solved, Some("password_reset"), "console:alice"),
            (CaseKind::NoMatch, None, "console:bob"),
        ]
    );
    assert_eq!(events[0].queue.as_str(), "identity");

    let out =
        deskbot_with_input(&s, &["chat", "--test", "--user", "qa"], &[], b"I forgot my password\n1\n").await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(app.store.test_conversations().await.unwrap().contains(&"console:qa".to_string()));
    let r = reports::build(&app.store, &app.catalog.load_full(), &opts(&app, None)).await.unwrap();
    assert_eq!(r.conversations, 6 + 2, "alice and bob count, qa does not");
    assert_eq!(r.deflected, 3);
}

/// Run `deskbot ARGS` in the seeded directory with `input` on stdin.
async fn deskbot_with_input(
    s: &Seeded,
    args: &[&str],
    env: &[(&str, &str)],
    input: &[u8],
) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_deskbot"));
    cmd.arg("--config").arg(&s.config).args(args).current_dir(s.dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

/// A console channel whose every delivery fails for now.
struct Refusing;

#[async_trait::async_trait]
impl deskbot::domain::Channel for Refusing {
    fn platform(&self) -> deskbot::domain::Platform {
        deskbot::domain::Platform::Console
    }
    async fn send(
        &self,
        _key: &str,
        _message: &deskbot::domain::Outbound,
    ) -> Result<deskbot::domain::Delivered, deskbot::domain::SendError> {
        Err(deskbot::domain::SendError::Temporary("terminal unavailable".into()))
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Every line is a comment (`# HELP`, `# TYPE`) or a sample `name{labels} value`.
fn assert_prometheus_exposition(text: &str) {
    let name = r"[a-zA-Z_:][a-zA-Z0-9_:]*";
    let label = r#"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*""#;
    let sample = regex::Regex::new(&format!(
        r"^({name})(\{{({label})(,{label})*,?\}})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?$"
    ))
    .unwrap();
    let help = regex::Regex::new(&format!(r"^# HELP {name} .*$")).unwrap();
    let kind =
        regex::Regex::new(&format!(r"^# TYPE ({name}) (counter|gauge|histogram|summary|untyped)$")).unwrap();
    let mut types = std::collections::HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(c) = kind.captures(line) {
            types.insert(c[1].to_string(), c[2].to_string());
            continue;
        }
        assert!(help.is_match(line) || sample.is_match(line), "not Prometheus exposition format: {line:?}");
        if let Some(c) = sample.captures(line) {
            let n = &c[1];
            let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| n.strip_suffix(s)).unwrap_or(n);
            assert!(types.contains_key(n) || types.contains_key(family), "sample before its TYPE: {line}");
        }
    }
}

#[tokio::test]
async fn reports_page_needs_a_login_and_metrics_and_readyz_answer() {
    let port = free_port();
    let s = seeded(port).await;
    let app = app_for(&s).await;
    let channels = app.channels.clone();
    let service = app.service.clone();
    let store = app.store.clone();
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(app::run(app, Vec::new(), shutdown.clone()));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "deskbot did not start");

    let anon = client.get(format!("{base}/reports")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    let body = anon.text().await.unwrap();
    assert!(body.contains("Sign in") && !body.contains("data-figure"), "{body}");
    let wrong =
        client.get(format!("{base}/reports")).bearer_auth("wrong-token-wrong-token").send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let ok = client.get(format!("{base}/reports")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let page = ok.text().await.unwrap();
    assert!(page.contains(r#"data-figure="conversations">6<"#), "{page}");
    assert!(page.contains(r#"data-figure="deflection_rate">33%<"#));
    assert!(page.contains("<svg") && !page.contains("<script src") && !page.contains("https://cdn"));
    assert!(page.contains("https://wiki.example.com/kb/password-reset"), "article links use kb_base_url");

    // The sign-in form sets a cookie whose value the form must post back (CSRF).
    let form = client.get(format!("{base}/reports/login")).send().await.unwrap();
    let form_cookie = form.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let html = form.text().await.unwrap();
    let at = html.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    let csrf = html[at..].split('"').next().unwrap().to_string();
    let post = |token: &'static str| {
        client
            .post(format!("{base}/reports/login"))
            .header("cookie", form_cookie.clone())
            .form(&[("token", token), ("csrf", csrf.as_str())])
            .send()
    };
    let login = post("nope").await.unwrap();
    assert_eq!(login.status(), 401);
    let login = post(TOKEN).await.unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("deskbot_reports="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && !cookie.contains(TOKEN), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let with_cookie = client
        .get(format!("{base}/reports?since=30d&queue=identity"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    // 30 days reach the question asked ten days before the seeded day (c0).
    assert!(with_cookie.text().await.unwrap().contains(r#"data-figure="conversations">3<"#));

    // One question that matches nothing, handled by the running daemon's service.
    let user = deskbot::domain::UserRef::new(deskbot::domain::Platform::Console, "mia");
    service
        .handle(deskbot::domain::Inbound {
            event_id: "metrics-1".into(),
            user: user.clone(),
            display_name: None,
            conversation: "console:mia".into(),
            reply_to: deskbot::domain::Address::new(user.platform, "mia"),
            kind: deskbot::domain::InboundKind::Message { text: "zxqv blorp quux".into() },
            at: now(),
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        })
        .await
        .unwrap();
    // Its replies wait in the outbox (the daemon has no console channel); a console channel
    // that refuses them counts failures and retries.
    let failing =
        deskbot::outbox::Outbox::new(store, vec![Arc::new(Refusing)], 8, deskbot::service::system_clock());
    let round = failing.deliver_due().await.unwrap();
    assert!(round.retried >= 1, "{round:?}");
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert_prometheus_exposition(&text);
    for name in [
        "deskbot_outbox_depth_messages",
        "deskbot_build_info{version=",
        "deskbot_process_uptime_seconds",
        "deskbot_catalog_intents",
        "deskbot_inbound_events_total{channel=\"console\",kind=\"message\"}",
        "deskbot_questions_total{outcome=\"no_match\"}",
        "deskbot_matcher_duration_seconds_bucket{le=",
        "deskbot_store_commit_duration_seconds_count",
        "# TYPE deskbot_store_commit_duration_seconds histogram",
        "deskbot_store_commit_batch_size_count",
        "deskbot_outbox_send_failures_total{platform=\"console\",outcome=\"retry\"}",
        "deskbot_outbox_retries_total{platform=\"console\"}",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let depth = text.lines().find_map(|l| l.strip_prefix("deskbot_outbox_depth_messages ")).unwrap();
    assert!(depth.parse::<f64>().unwrap() >= 1.0, "the waiting replies count: {depth}");

    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let v: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(v["ready"], true, "{v}");
    assert_eq!(v["not_ready"], serde_json::json!([]));
    channels.set("slack", false, "socket closed: reconnecting");
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let v: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(v["not_ready"], serde_json::json!(["channel:slack"]), "{v}");

    shutdown.cancel();
    daemon.await.unwrap().unwrap();
}

#[test]
fn prometheus_checker_rejects_what_is_not_exposition_format() {
    assert_prometheus_exposition("# TYPE a_total counter\na_total{x=\"1\"} 3\n");
    let bad = std::panic::catch_unwind(|| assert_prometheus_exposition("a_total{x=1} 3\n"));
    assert!(bad.is_err());
    let bad = std::panic::catch_unwind(|| assert_prometheus_exposition("# TYPE a gauge\na three\n"));
    assert!(bad.is_err());
}

#[tokio::test]
async fn json_logs_carry_the_conversation_and_ticket_of_each_event() {
    let s = seeded(0).await;
    // The config file says `human`; the environment wins.
    let env = [("DESKBOT_LOG_FORMAT", "json"), ("RUST_LOG", "deskbot=info")];
    let out = deskbot_with_input(&s, &["chat", "--user", "lee"], &env, b"zxqv blorp quux\n1\n").await;
    assert!(out.status.success());
    let logs = String::from_utf8_lossy(&out.stderr);
    let filed = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "ticket filed")
        .unwrap_or_else(|| panic!("no JSON 'ticket filed' line in:\n{logs}"));
    assert_eq!(filed["span"]["conversation"], "console:lee", "{filed}");
    assert_eq!(filed["span"]["channel"], "console");
    assert!(filed["span"]["ticket"].as_str().is_some_and(|t| !t.is_empty()), "{filed}");
}

/// The README's Operate section: its scrape config and alert rules are YAML and the rules use
/// metrics deskbot exports.
#[test]
fn readme_operate_section_has_scrape_config_and_alert_rules_on_real_metrics() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let operate = &readme[readme.find("\n## Operate\n").expect("README has an Operate section")..];
    assert!(operate.contains("/metrics") && operate.contains("/readyz"));
    let blocks: Vec<&str> =
        operate.split("```yaml\n").skip(1).map(|b| b.split("```").next().unwrap_or("")).collect();
    assert_eq!(blocks.len(), 2, "a scrape config and the alert rules");
    let scrape = &yaml_rust2::YamlLoader::load_from_str(blocks[0]).unwrap()[0];
    assert_eq!(scrape["scrape_configs"][0]["job_name"].as_str(), Some("deskbot"));
    let rules = &yaml_rust2::YamlLoader::load_from_str(blocks[1]).unwrap()[0]["groups"][0]["rules"];
    let exprs: Vec<&str> = rules.as_vec().unwrap().iter().map(|r| r["expr"].as_str().unwrap()).collect();
    let exported = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/observe.rs")).unwrap();
    for (expr, metric) in exprs.iter().zip(["deskbot_sla_breaches_total", "deskbot_outbox_depth_messages"]) {
        assert!(expr.contains(metric), "{expr}");
        assert!(exported.contains(&format!("\"{metric}\"")), "{metric} is not described in observe.rs");
    }
}
