//! What the access-request tests share, whichever channel drives them (console, Slack,
//! Discord): the identity provider's webhook receiver, the starter pack with Acrobat fulfilled
//! by that webhook from a small pool, the directory CSV, approver grants, and polling helpers
//! that wait for a positive signal with a deadline.
#![allow(dead_code)]

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use deskbot::adapters::webhook::{EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use deskbot::domain::Platform;
use deskbot::store::DynStore;
use deskbot::store::compliance::{NewGrant, Role};
use deskbot::store::requests::{RequestNumber, RequestStatus};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The webhook secret the test config gives the `idp` webhook.
pub const SECRET: &str = "s3cret";
/// The catalog item the tests request.
pub const ACROBAT: &str = "adobe-acrobat-pro";
pub const DAY: i64 = 24 * 3_600_000;
/// Polling: this step, up to this many times (30 s, for slow machines).
pub const STEP: Duration = Duration::from_millis(20);
pub const TRIES: usize = 1500;

/// What the identity provider received: headers and body of each POST.
pub type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// The identity provider's webhook endpoint: records what it gets and acknowledges it (200).
pub async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/idp",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body.to_vec()));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/idp"), got)
}

/// The `[[webhook]]` table for the receiver at `url`.
pub fn webhook_toml(url: &str) -> String {
    format!(
        "[[webhook]]\nname = \"idp\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         events = [\"access.grant\", \"access.revoke\"]\n"
    )
}

/// Every delivery so far, its signature checked: (event header, body).
pub fn signed_bodies(got: &Received) -> Vec<(String, Value)> {
    let now = chrono::Utc::now().timestamp();
    got.lock()
        .unwrap()
        .iter()
        .map(|(h, body)| {
            let (ts, sig) = (h[TIMESTAMP_HEADER].to_str().unwrap(), h[SIGNATURE_HEADER].to_str().unwrap());
            assert_eq!(verify(SECRET, ts, sig, body, now, 300), Ok(()), "a fulfilment webhook is signed");
            (h[EVENT_HEADER].to_str().unwrap().to_string(), serde_json::from_slice(body).unwrap())
        })
        .collect()
}

/// Wait until the receiver holds `n` deliveries; all of them, signatures checked.
pub async fn wait_deliveries(got: &Received, n: usize) -> Vec<(String, Value)> {
    for _ in 0..TRIES {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(STEP).await;
    }
    let bodies = signed_bodies(got);
    assert!(bodies.len() >= n, "expected {n} webhook deliveries, got {bodies:?}");
    bodies
}

/// (event, request number) of each delivery.
pub fn events(bodies: &[(String, Value)]) -> Vec<(String, String)> {
    bodies.iter().map(|(e, b)| (e.clone(), b["request"].as_str().unwrap_or("").to_string())).collect()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "drafts") {
                continue;
            }
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The starter pack copied under `dir`, with Acrobat fulfilled by the `idp` webhook from a
/// pool of `seats`; the intents directory.
pub fn intents(dir: &Path, seats: u32) -> PathBuf {
    let to = dir.join("intents");
    copy_dir(&super::starter_pack(), &to);
    let file = to.join("catalog").join("licences.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("seats = 40"), "the starter pack's Acrobat pool");
    let text = text.replacen("seats = 40", &format!("seats = {seats}"), 1).replacen(
        "fulfil = { queue = \"software\" }\n\n[[item]]\nid = \"visio-plan-2\"",
        "fulfil = { webhook = \"idp\" }\n\n[[item]]\nid = \"visio-plan-2\"",
        1,
    );
    assert!(text.contains("fulfil = { webhook = \"idp\" }"), "the test catalog fulfils Acrobat by webhook");
    std::fs::write(&file, text).unwrap();
    to
}

/// A directory CSV at `path`: (person, email, manager email, department) per row.
pub fn people_csv(path: &Path, rows: &[(&str, &str, &str, &str)]) {
    let mut csv = String::from("person,email,manager,department\n");
    for (person, email, manager, dept) in rows {
        csv.push_str(&format!("{person},{email},{manager},{dept}\n"));
    }
    std::fs::write(path, csv).unwrap();
}

/// The `[directory]` table reading `path`.
pub fn directory_toml(path: &Path) -> String {
    format!("[directory]\nsource = \"csv:{}\"\n", path.display())
}

/// A grant of the approver role for `group`, as `deskbot roles grant` records it.
pub fn approver(who: &str, group: &str) -> NewGrant {
    NewGrant {
        user: who.parse().unwrap(),
        role: Role::Approver,
        scope: group.into(),
        by: "test".into(),
        justification: "owns the budget".into(),
    }
}

/// A grant of the lead role for `queue`.
pub fn lead(who: &str, queue: &str) -> NewGrant {
    NewGrant {
        user: who.parse().unwrap(),
        role: Role::Lead,
        scope: queue.into(),
        by: "test".into(),
        justification: "leads the desk".into(),
    }
}

pub async fn status(store: &DynStore, n: i64) -> RequestStatus {
    store.request(RequestNumber(n)).await.unwrap().unwrap_or_else(|| panic!("R-{n} exists")).status
}

/// Wait until R-`n` has `want` as its status.
pub async fn wait_status(store: &DynStore, n: i64, want: RequestStatus) {
    for _ in 0..TRIES {
        if store.request(RequestNumber(n)).await.unwrap().is_some_and(|r| r.status == want) {
            return;
        }
        tokio::time::sleep(STEP).await;
    }
    let now = store.request(RequestNumber(n)).await.unwrap().map(|r| r.status);
    panic!("R-{n} never became {want:?}: {now:?}");
}

/// Wait until the event `id` of `platform` is recorded as handled (its dedupe row).
pub async fn wait_seen(store: &DynStore, platform: Platform, id: &str) {
    let key = deskbot::store::EventKey { platform, event_id: id.to_string() };
    for _ in 0..TRIES {
        if store.event_seen(&key).await.unwrap() {
            return;
        }
        tokio::time::sleep(STEP).await;
    }
    panic!("event {id} was never recorded");
}

/// Wait until the holder of R-`n`'s grant has none active for it any more.
pub async fn wait_revoked(store: &DynStore, n: i64) {
    for _ in 0..TRIES {
        let h = store.holding_for_request(RequestNumber(n)).await.unwrap();
        if h.is_none_or(|h| h.revoked_at.is_some()) {
            return;
        }
        tokio::time::sleep(STEP).await;
    }
    panic!("R-{n}'s grant was never revoked");
}

/// Audit entries of `kind`.
pub async fn audit_count(store: &DynStore, kind: &str) -> usize {
    store.audit_entries(0, None, 10_000).await.unwrap().iter().filter(|e| e.kind == kind).count()
}

/// Approvers of R-`n`'s decisions, in order.
pub async fn deciders(store: &DynStore, n: i64) -> Vec<String> {
    store.request_decisions(RequestNumber(n)).await.unwrap().iter().map(|d| d.approver.to_string()).collect()
}

/// The `deskbot` binary run in `dir` (its `deskbot.toml`, `intents/`). Awaited, not blocked
/// on: the daemon under test runs on this test's runtime and must keep going meanwhile (a
/// write transaction it has open when the command starts has to commit, or the command
/// meets the busy timeout).
async fn run_cli(dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .args(args)
        .current_dir(dir)
        .env("DESKBOT_INTENTS_DIR", dir.join("intents"))
        .env("DESKBOT_HOT_RELOAD", "false")
        .env_remove("DESKBOT_DATABASE_URL")
        .env_remove("DESKBOT_CONFIG")
        .output()
        .await
        .unwrap()
}

/// Run the `deskbot` binary in `dir`; its stdout.
pub async fn cli(dir: &Path, args: &[&str]) -> String {
    let out = run_cli(dir, args).await;
    assert!(out.status.success(), "deskbot {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Run the `deskbot` binary in `dir` expecting it to fail; its stderr.
pub async fn cli_fails(dir: &Path, args: &[&str]) -> String {
    let out = run_cli(dir, args).await;
    assert!(!out.status.success(), "deskbot {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}
