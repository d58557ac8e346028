//! Access requests on the fake Discord, on SQLite and on PostgreSQL: the real daemon
//! (`app::run`) with serenity pointed at the fake gateway and REST API. Erin asks in a DM, is
//! asked for her justification, and request R-1001 is recorded; her manager Bob (from the
//! directory CSV) gets a DM with Approve / Deny; Max pressing Bob's Approve is refused
//! privately and nothing changes; Bob approves, Kim (the software-approvers group) approves,
//! the signed `access.grant` webhook reaches the local receiver, is acknowledged, and the seat
//! is counted. A denial carries Bob's reason to Erin.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use deskbot::adapters::webhook::{EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use deskbot::app::{self, App};
use deskbot::config::{Config, Sources};
use deskbot::domain::Platform;
use deskbot::store::DynStore;
use deskbot::store::compliance::{NewGrant, Role};
use deskbot::store::requests::{RequestNumber, RequestStatus};
use pgdb::PgDb;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fake_discord::{FakeDiscord, GUILD, TOKEN};
use tokio_util::sync::CancellationToken;

const QUEUE: u64 = 920_000_000_000_000_001;
const ERIN: (u64, &str) = (800_000_000_000_000_001, "erin");
const KIM: (u64, &str) = (800_000_000_000_000_002, "kim");
const MAX: (u64, &str) = (800_000_000_000_000_003, "max");
const BOB: (u64, &str) = (800_000_000_000_000_004, "bob");

type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// The identity provider's webhook endpoint: records what it gets and acknowledges it.
async fn receiver() -> (String, Received) {
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

fn copy_dir(from: &Path, to: &Path) {
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

/// The starter pack, with Acrobat fulfilled by the `idp` webhook.
fn intents(dir: &Path) -> std::path::PathBuf {
    let to = dir.join("intents");
    copy_dir(&support::starter_pack(), &to);
    let file = to.join("catalog").join("licences.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.replacen(
        "fulfil = { queue = \"software\" }\n\n[[item]]\nid = \"visio-plan-2\"",
        "fulfil = { webhook = \"idp\" }\n\n[[item]]\nid = \"visio-plan-2\"",
        1,
    );
    assert!(text.contains("fulfil = { webhook = \"idp\" }"), "the test catalog fulfils Acrobat by webhook");
    std::fs::write(&file, text).unwrap();
    to
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Env {
    fake: FakeDiscord,
    store: DynStore,
    got: Received,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), deskbot::app::AppError>>,
    dir: tempfile::TempDir,
    pg: Option<PgDb>,
}

impl Env {
    /// The daemon on SQLite (`pg` false) or a fresh PostgreSQL database; `None` when
    /// PostgreSQL is skipped explicitly.
    async fn start(pg: bool) -> Option<Env> {
        let db = if pg { Some(PgDb::create("reqdiscord").await?) } else { None };
        let (url, got) = receiver().await;
        let fake = FakeDiscord::start().await;
        fake.text_channel(QUEUE, "it-agents");
        let dir = tempfile::tempdir().unwrap();
        let people = dir.path().join("people.csv");
        std::fs::write(
            &people,
            format!(
                "person,email,manager,department\n\
                 discord:{erin},erin@example.com,bob@example.com,Design\n\
                 discord:{bob},bob@example.com,,Design\n\
                 discord:{kim},kim@example.com,,IT\n\
                 discord:{max},max@example.com,bob@example.com,Design\n",
                erin = ERIN.0,
                bob = BOB.0,
                kim = KIM.0,
                max = MAX.0
            ),
        )
        .unwrap();
        let mut toml = format!(
            r#"hot_reload = false
[http]
listen = "127.0.0.1:{port}"
[outbox]
poll_ms = 20
[discord]
token = "{TOKEN}"
application_id = "{app}"
public_key = "{key}"
api_url = "{api}"
guilds = ["{GUILD}"]
[directory]
source = "csv:{people}"
[[webhook]]
name = "idp"
url = "{url}"
secret = "s3cret"
events = ["access.grant", "access.revoke"]
[[queue]]
name = "service-desk"
channel = {{ discord = "{QUEUE}" }}
agents = ["discord:{kim}"]
"#,
            port = free_port(),
            app = support::fake_discord::APP_ID,
            key = FakeDiscord::public_key_hex(),
            api = fake.api_url(),
            people = people.display(),
            kim = KIM.0,
        );
        for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
            toml.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n"));
        }
        if let Some(db) = &db {
            toml = format!("database_url = \"{}\"\n{toml}", db.url);
        }
        let file = dir.path().join("deskbot.toml");
        std::fs::write(&file, toml).unwrap();
        let mut config =
            Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &[]).unwrap();
        config.intents_dir = intents(dir.path());
        let app = App::build(config).await.unwrap();
        let grant = NewGrant {
            user: format!("discord:{}", KIM.0).parse().unwrap(),
            role: Role::Approver,
            scope: "software-approvers".into(),
            by: "test".into(),
            justification: "owns the licence budget".into(),
        };
        app.store.grant_role(&grant, chrono::Utc::now().timestamp_millis()).await.unwrap();
        app.service.forget_grants().await;
        let store = app.store.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app::run(app, Vec::new(), shutdown.clone()));
        fake.ready().await;
        Some(Env { fake, store, got, shutdown, task, dir, pg: db })
    }

    /// The DM channel deskbot opened with `user`, once it holds a message containing `text`;
    /// that message.
    async fn dm_with(&self, user: (u64, &str), text: &str) -> (u64, Value) {
        self.fake
            .until(&format!("a DM to {} with {text:?}", user.1), |f| {
                f.dm_of(user.0).is_some_and(|dm| f.texts(dm).iter().any(|t| t.contains(text)))
            })
            .await;
        let dm = self.fake.dm_of(user.0).unwrap();
        let m = self.fake.posted(dm).into_iter().rev().find(|m| content(m).contains(text)).unwrap();
        (dm, m)
    }

    /// Wait until `channel` holds a message containing `text`.
    async fn wait_text(&self, channel: u64, text: &str) {
        self.fake
            .until(&format!("{text:?} in {channel}"), |f| f.texts(channel).iter().any(|t| t.contains(text)))
            .await;
    }

    /// Dispatch a button press over the gateway; the interaction response deskbot gave.
    async fn press(&self, channel: u64, who: (u64, &str), message: &Value, custom_id: &str) -> Value {
        let press = self.fake.button(channel, false, who, id_of(message), custom_id);
        self.answer(press).await
    }

    async fn answer(&self, interaction: Value) -> Value {
        let id = interaction["id"].as_str().unwrap().to_string();
        self.fake.dispatch("INTERACTION_CREATE", interaction);
        self.fake.until("the interaction's response", |f| f.callbacks().iter().any(|(i, _)| *i == id)).await;
        self.fake.callbacks().into_iter().find(|(i, _)| *i == id).unwrap().1
    }

    async fn status(&self, n: i64) -> RequestStatus {
        self.store.request(RequestNumber(n)).await.unwrap().unwrap().status
    }

    async fn wait_status(&self, n: i64, want: RequestStatus) {
        for _ in 0..1500 {
            if self.status(n).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("R-{n} never became {want:?}: {:?}", self.status(n).await);
    }

    /// Run the `deskbot` binary on this daemon's config and database; its stdout.
    fn cli(&self, args: &[&str]) -> String {
        let dir = self.dir.path();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
            .args(args)
            .current_dir(dir)
            .env("DESKBOT_INTENTS_DIR", dir.join("intents"))
            .env("DESKBOT_HOT_RELOAD", "false")
            .env_remove("DESKBOT_DATABASE_URL")
            .env_remove("DESKBOT_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "deskbot {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Stop the daemon, check the REST traffic against Discord's spec, drop the database.
    async fn finish(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "daemon did not stop cleanly: {result:?}");
        let problems = self.fake.spec_problems();
        assert!(problems.is_empty(), "REST traffic does not match Discord's spec:\n{}", problems.join("\n"));
        drop(self.store);
        if let Some(db) = self.pg {
            db.drop_now().await;
        }
    }
}

fn content(m: &Value) -> &str {
    m["content"].as_str().unwrap_or("")
}

fn id_of(message: &Value) -> u64 {
    message["id"].as_str().unwrap().parse().unwrap()
}

/// The custom id of the button labelled `label` on a posted message.
fn button(message: &Value, label: &str) -> String {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find(|b| b["label"] == json!(label))
        .and_then(|b| b["custom_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no button `{label}` in {message}"))
}

async fn wait_seen(store: &DynStore, id: &str) {
    let key = deskbot::store::EventKey { platform: Platform::Discord, event_id: id.to_string() };
    for _ in 0..1500 {
        if store.event_seen(&key).await.unwrap() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("event {id} was never recorded");
}

/// Erin asks for Acrobat in her DM and justifies it; R-1001 is recorded and Bob is asked.
async fn erin_asks_for_acrobat(env: &Env) -> (u64, Value) {
    let erin = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.post(erin, false, ERIN, "I need acrobat");
    env.wait_text(erin, "What will you use it for?").await;
    env.fake.post(erin, false, ERIN, "to sign supplier contracts every single week");
    env.wait_text(erin, "Request R-1001 recorded").await;
    assert_eq!(env.status(1001).await, RequestStatus::Pending);
    env.dm_with(BOB, "Approval needed (step 1 of 2, manager)").await
}

async fn request_is_approved_on_discord_and_granted_by_webhook(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let (bob_dm, ask) = erin_asks_for_acrobat(&env).await;
    let erin = env.fake.dm_of(ERIN.0).unwrap();
    assert!(content(&ask).contains("to sign supplier contracts every single week"), "{ask}");
    let approve = button(&ask, "Approve");
    assert_eq!(approve, "approve:R-1001");
    assert_eq!(button(&ask, "Deny"), "deny:R-1001");

    // Max presses (a forged copy of) Bob's Approve: a private refusal, the press recorded,
    // nothing decided.
    let press = env.fake.button(bob_dm, false, MAX, id_of(&ask), &approve);
    let press_id = press["id"].as_str().unwrap().to_string();
    let note = env.answer(press).await;
    assert_eq!(note["type"], 4, "{note}");
    assert_eq!(note["data"]["flags"], 64, "the refusal is ephemeral: {note}");
    wait_seen(&env.store, &format!("action:{press_id}")).await;
    assert!(env.store.request_decisions(RequestNumber(1001)).await.unwrap().is_empty());
    assert_eq!(env.status(1001).await, RequestStatus::Pending);
    assert!(env.fake.dm_of(KIM.0).is_none(), "the next step was not asked");

    // Bob approves; Erin is told and Kim is asked.
    let ack = env.press(bob_dm, BOB, &ask, &approve).await;
    assert_ne!(ack["data"]["flags"], 64, "Bob's press is not refused: {ack}");
    env.wait_text(erin, "bob approved R-1001").await;
    let (kim_dm, ask) = env.dm_with(KIM, "Approval needed (step 2 of 2, group:software-approvers)").await;
    env.press(kim_dm, KIM, &ask, &button(&ask, "Approve")).await;

    // The grant goes to the IdP, signed; its acknowledgement fulfils the request.
    env.wait_status(1001, RequestStatus::Fulfilled).await;
    for _ in 0..1500 {
        if !env.got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = env.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one grant delivered");
    let (h, body) = &got[0];
    let now = chrono::Utc::now().timestamp();
    let (ts, sig) = (h[TIMESTAMP_HEADER].to_str().unwrap(), h[SIGNATURE_HEADER].to_str().unwrap());
    assert_eq!(verify("s3cret", ts, sig, body, now, 300), Ok(()), "the grant is signed");
    assert_eq!(h[EVENT_HEADER].to_str().unwrap(), "access.grant");
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        (body["action"].as_str(), body["request"].as_str()),
        (Some("grant"), Some("R-1001")),
        "{body}"
    );
    assert_eq!(body["item"]["id"].as_str().or(body["item"].as_str()), Some("adobe-acrobat-pro"), "{body}");
    env.wait_text(erin, "R-1001").await;

    let by: Vec<String> = env
        .store
        .request_decisions(RequestNumber(1001))
        .await
        .unwrap()
        .iter()
        .map(|d| d.approver.to_string())
        .collect();
    assert_eq!(by, [format!("discord:{}", BOB.0), format!("discord:{}", KIM.0)]);
    assert_eq!(env.store.seats_used("adobe-acrobat-pro").await.unwrap(), 1);
    let pools: Value = serde_json::from_str(&env.cli(&["licences", "list", "--json"])).unwrap();
    let acrobat = pools.as_array().unwrap().iter().find(|p| p["item"] == "adobe-acrobat-pro").unwrap();
    assert_eq!((acrobat["used"].as_i64(), acrobat["waiting"].as_i64()), (Some(1), Some(0)), "{acrobat}");
    env.finish().await;
}

async fn a_denial_on_discord_reaches_the_requester_with_its_reason(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let (bob_dm, ask) = erin_asks_for_acrobat(&env).await;
    let erin = env.fake.dm_of(ERIN.0).unwrap();
    let deny = button(&ask, "Deny");
    let reason = "the team shares the existing Acrobat seat";
    let response = env.press(bob_dm, BOB, &ask, &deny).await;
    // The reason is asked in Bob's DM (Discord's press is acknowledged without a message) and
    // his next message there is taken as the reason.
    assert_eq!(response["type"], 6, "{response}");
    env.wait_text(bob_dm, "Why are you denying R-1001?").await;
    env.fake.post(bob_dm, false, BOB, reason);
    env.wait_text(bob_dm, "Denied R-1001").await;
    env.wait_text(erin, reason).await;
    assert_eq!(env.status(1001).await, RequestStatus::Denied);
    let decisions = env.store.request_decisions(RequestNumber(1001)).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert!(!decisions[0].approve);
    assert_eq!(decisions[0].reason.as_deref(), Some(reason));
    assert_eq!(env.store.seats_used("adobe-acrobat-pro").await.unwrap(), 0);
    assert!(env.fake.dm_of(KIM.0).is_none(), "a denied request asks nobody else");
    assert!(env.got.lock().unwrap().is_empty(), "nothing granted");
    env.finish().await;
}

#[tokio::test]
async fn sqlite_request_is_approved_on_discord_and_granted_by_webhook() {
    request_is_approved_on_discord_and_granted_by_webhook(false).await;
}

#[tokio::test]
async fn postgres_request_is_approved_on_discord_and_granted_by_webhook() {
    request_is_approved_on_discord_and_granted_by_webhook(true).await;
}

#[tokio::test]
async fn sqlite_a_denial_on_discord_reaches_the_requester_with_its_reason() {
    a_denial_on_discord_reaches_the_requester_with_its_reason(false).await;
}

#[tokio::test]
async fn postgres_a_denial_on_discord_reaches_the_requester_with_its_reason() {
    a_denial_on_discord_reaches_the_requester_with_its_reason(true).await;
}
