//! Access requests on the fake Discord, on SQLite and on PostgreSQL: the real daemon
//! (`app::run`) with serenity pointed at the fake gateway and REST API. Erin asks in a DM, is
//! asked for her justification, and request R-1001 is recorded; her manager Bob (from the
//! directory CSV) gets a DM with Approve / Deny; Max pressing Bob's Approve is refused
//! privately and nothing changes; Bob approves, Kim (the software-approvers group) approves,
//! the signed `access.grant` webhook reaches the local receiver, is acknowledged, and the seat
//! is counted. A denial carries Bob's reason to Erin. With Acrobat's pool at one seat, Max's
//! approved request waits in line (his place told) and gets the seat when the operator revokes
//! Erin's; Erin pressing Approve on her own request is refused. A test clock jumped forward
//! (the daemon's scheduler runs every second against it) brings the expiry warning with
//! Extend, pressed by Erin (Kim refused), and the revocation when the grant lapses. An access
//! review (`deskbot licences review`) gives Bob Keep / Remove; Kim's and Erin's presses are
//! refused, Bob's Remove with its reason revokes the grant through the webhook.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::adapters::webhook::{EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use deskbot::app::{self, App};
use deskbot::config::{Config, Sources};
use deskbot::domain::Platform;
use deskbot::store::DynStore;
use deskbot::store::requests::{RequestNumber, RequestStatus};
use pgdb::PgDb;
use serde_json::{Value, json};
use std::time::Duration;
use support::RunningClock;
use support::fake_discord::{FakeDiscord, GUILD, TOKEN};
use support::requests::{self as req, ACROBAT, DAY, Received};
use tokio_util::sync::CancellationToken;

const QUEUE: u64 = 920_000_000_000_000_001;
const ERIN: (u64, &str) = (800_000_000_000_000_001, "erin");
const KIM: (u64, &str) = (800_000_000_000_000_002, "kim");
const MAX: (u64, &str) = (800_000_000_000_000_003, "max");
const BOB: (u64, &str) = (800_000_000_000_000_004, "bob");

struct Env {
    fake: FakeDiscord,
    store: DynStore,
    clock: RunningClock,
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
        let (url, got) = req::receiver().await;
        let fake = FakeDiscord::start().await;
        fake.text_channel(QUEUE, "it-agents");
        let dir = tempfile::tempdir().unwrap();
        let people = dir.path().join("people.csv");
        let [erin, bob, kim, max] = [ERIN, BOB, KIM, MAX].map(|u| format!("discord:{}", u.0));
        req::people_csv(
            &people,
            &[
                (&erin, "erin@example.com", "bob@example.com", "Design"),
                (&bob, "bob@example.com", "", "Design"),
                (&kim, "kim@example.com", "", "IT"),
                (&max, "max@example.com", "bob@example.com", "Design"),
            ],
        );
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
{directory}
{webhook}
[[queue]]
name = "service-desk"
channel = {{ discord = "{QUEUE}" }}
agents = ["discord:{kim}"]
"#,
            port = support::free_port(),
            app = support::fake_discord::APP_ID,
            key = FakeDiscord::public_key_hex(),
            api = fake.api_url(),
            directory = req::directory_toml(&people),
            webhook = req::webhook_toml(&url),
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
        config.intents_dir = req::intents(dir.path(), 1);
        let clock = RunningClock::default();
        let app = App::build_with_clock(config, clock.clock()).await.unwrap();
        let grant = req::approver(&kim, "software-approvers");
        app.store.grant_role(&grant, (app.clock)()).await.unwrap();
        app.service.forget_grants().await;
        let store = app.store.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app::run(app, Vec::new(), shutdown.clone()));
        fake.ready().await;
        Some(Env { fake, store, clock, got, shutdown, task, dir, pg: db })
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
        req::status(&self.store, n).await
    }

    async fn wait_status(&self, n: i64, want: RequestStatus) {
        req::wait_status(&self.store, n, want).await
    }

    /// Run the `deskbot` binary on this daemon's config and database; its stdout.
    async fn cli(&self, args: &[&str]) -> String {
        req::cli(self.dir.path(), args).await
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
    req::wait_seen(store, Platform::Discord, id).await
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
    let pools: Value = serde_json::from_str(&env.cli(&["licences", "list", "--json"]).await).unwrap();
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

impl Env {
    /// The first message in `user`'s DM containing every one of `texts`, once there is one.
    async fn dm_with_all(&self, user: (u64, &str), texts: &[&str]) -> (u64, Value) {
        let has = |m: &Value| texts.iter().all(|t| content(m).contains(t));
        self.fake
            .until(&format!("a DM to {} with {texts:?}", user.1), |f| {
                f.dm_of(user.0).is_some_and(|dm| f.posted(dm).iter().any(has))
            })
            .await;
        let dm = self.fake.dm_of(user.0).unwrap();
        (dm, self.fake.posted(dm).into_iter().find(has).unwrap())
    }

    /// `who` presses `custom_id` on `message` in `channel` and is refused privately (the
    /// press recorded as handled); the refusal.
    async fn refused(&self, channel: u64, who: (u64, &str), message: &Value, custom_id: &str) -> String {
        let press = self.fake.button(channel, false, who, id_of(message), custom_id);
        let press_id = press["id"].as_str().unwrap().to_string();
        let note = self.answer(press).await;
        assert_eq!(note["type"], 4, "{note}");
        assert_eq!(note["data"]["flags"], 64, "the refusal is ephemeral: {note}");
        wait_seen(&self.store, &format!("action:{press_id}")).await;
        note["data"]["content"].as_str().unwrap_or_default().to_string()
    }

    /// `who` asks for Acrobat in their DM and justifies it; R-`n` is recorded and Bob's
    /// approval DM for it is returned.
    async fn asks_for_acrobat(&self, who: (u64, &str), n: i64) -> (u64, Value) {
        let dm = self.fake.dm_channel(who.0, who.1);
        let asked =
            |f: &FakeDiscord| f.texts(dm).iter().filter(|t| t.contains("What will you use it for?")).count();
        let before = asked(&self.fake);
        self.fake.post(dm, false, who, "I need acrobat");
        self.fake.until("the justification asked", |f| asked(f) > before).await;
        self.fake.post(dm, false, who, "to review and sign the design contracts");
        self.wait_text(dm, &format!("Request R-{n} recorded")).await;
        assert_eq!(self.status(n).await, RequestStatus::Pending);
        self.dm_with_all(BOB, &["Approval needed (step 1 of 2, manager)", &format!("R-{n}")]).await
    }

    /// Bob then Kim approve R-`n` from their DMs' buttons.
    async fn both_approve(&self, n: i64, bob_dm: u64, ask: &Value) {
        let approve = format!("approve:R-{n}");
        assert_eq!(button(ask, "Approve"), approve);
        let ack = self.press(bob_dm, BOB, ask, &approve).await;
        assert_ne!(ack["data"]["flags"], 64, "Bob's press is not refused: {ack}");
        let rn = format!("R-{n}");
        let (kim_dm, ask) =
            self.dm_with_all(KIM, &["Approval needed (step 2 of 2, group:software-approvers)", &rn]).await;
        let ack = self.press(kim_dm, KIM, &ask, &approve).await;
        assert_ne!(ack["data"]["flags"], 64, "Kim's press is not refused: {ack}");
    }

    /// Erin's Acrobat (R-1001) approved by Bob and Kim, its grant delivered and acknowledged.
    async fn acrobat_for_erin(&self) {
        let (bob_dm, ask) = self.asks_for_acrobat(ERIN, 1001).await;
        self.both_approve(1001, bob_dm, &ask).await;
        req::wait_deliveries(&self.got, 1).await;
        self.wait_status(1001, RequestStatus::Fulfilled).await;
        let erin = self.fake.dm_of(ERIN.0).unwrap();
        self.wait_text(erin, "R-1001: Adobe Acrobat Pro licence is granted until").await;
    }
}

fn pairs(want: &[(&str, &str)]) -> Vec<(String, String)> {
    want.iter().map(|(e, r)| (e.to_string(), r.to_string())).collect()
}

async fn a_full_pool_on_discord_puts_the_next_in_line_and_self_approval_is_refused(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let (bob_dm, ask) = env.asks_for_acrobat(ERIN, 1001).await;

    // Erin presses Approve on (a forged copy of) Bob's DM about her own request: refused.
    let note = env.refused(bob_dm, ERIN, &ask, "approve:R-1001").await;
    assert!(note.contains("You cannot decide your own request R-1001"), "{note}");
    assert!(env.store.request_decisions(RequestNumber(1001)).await.unwrap().is_empty());
    assert_eq!(env.status(1001).await, RequestStatus::Pending);

    env.both_approve(1001, bob_dm, &ask).await;
    req::wait_deliveries(&env.got, 1).await;
    env.wait_status(1001, RequestStatus::Fulfilled).await;

    // Max asks too: approved, but the one seat is Erin's, so he waits in line, told his place.
    let (bob_dm, ask) = env.asks_for_acrobat(MAX, 1002).await;
    let note = env.refused(bob_dm, MAX, &ask, "approve:R-1002").await;
    assert!(note.contains("You cannot decide your own request R-1002"), "{note}");
    env.both_approve(1002, bob_dm, &ask).await;
    env.wait_status(1002, RequestStatus::Waiting).await;
    let max = env.fake.dm_of(MAX.0).unwrap();
    env.wait_text(max, "all 1 seats of Adobe Acrobat Pro licence are taken. You are number 1 in line").await;
    assert_eq!(env.store.seats_used(ACROBAT).await.unwrap(), 1, "never over the pool");
    let pools: Value = serde_json::from_str(&env.cli(&["licences", "list", "--json"]).await).unwrap();
    let acrobat = pools.as_array().unwrap().iter().find(|p| p["item"] == ACROBAT).unwrap();
    assert_eq!((acrobat["used"].as_i64(), acrobat["waiting"].as_i64()), (Some(1), Some(1)), "{acrobat}");

    // The operator revokes Erin's seat: the revoke goes to the IdP and Max gets the seat.
    let erin = format!("discord:{}", ERIN.0);
    env.cli(&["licences", "revoke", ACROBAT, &erin, "--justification", "left the contracts team"]).await;
    env.wait_status(1002, RequestStatus::Fulfilled).await;
    assert_eq!(env.status(1001).await, RequestStatus::Revoked);
    let got = req::wait_deliveries(&env.got, 3).await;
    assert_eq!(
        req::events(&got),
        pairs(&[("access.grant", "R-1001"), ("access.revoke", "R-1001"), ("access.grant", "R-1002")])
    );
    env.wait_text(max, "A seat of Adobe Acrobat Pro licence is free").await;
    let erin_dm = env.fake.dm_of(ERIN.0).unwrap();
    env.wait_text(erin_dm, "was revoked: left the contracts team").await;
    assert_eq!(env.store.seats_used(ACROBAT).await.unwrap(), 1);
    env.finish().await;
}

async fn a_time_boxed_grant_on_discord_is_warned_with_extend_and_revoked_when_it_lapses(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    env.acrobat_for_erin().await;
    let grant = env.store.holding_for_request(RequestNumber(1001)).await.unwrap().unwrap();
    let expires = grant.expires_at.expect("a 365d item is time-boxed");

    // Seven days before the end the daemon's scheduler warns Erin, with Extend.
    env.clock.set(expires - 7 * DAY + 60_000);
    let (erin_dm, warning) = env.dm_with(ERIN, "Your Adobe Acrobat Pro licence (R-1001) expires on").await;
    let extend = button(&warning, "Extend");
    assert_eq!(extend, "extend:R-1001");

    // Only the holder may extend; Erin's Extend is a new request with its own approval.
    let note = env.refused(erin_dm, KIM, &warning, &extend).await;
    assert!(note.contains("Only the holder of R-1001 may extend it"), "{note}");
    let ack = env.press(erin_dm, ERIN, &warning, &extend).await;
    assert_ne!(ack["data"]["flags"], 64, "Erin's press is not refused: {ack}");
    env.dm_with_all(BOB, &["Approval needed (step 1 of 2, manager)", "R-1002"]).await;
    let ext = env.store.request(RequestNumber(1002)).await.unwrap().expect("the extension request");
    assert_eq!(ext.extends, Some(RequestNumber(1001)));
    assert!(ext.justification.starts_with("Extension of R-1001:"), "{}", ext.justification);

    // Left undecided, the grant lapses: revoked through the webhook, Erin told.
    env.clock.set(expires + 60_000);
    req::wait_revoked(&env.store, 1001).await;
    let got = req::wait_deliveries(&env.got, 2).await;
    assert_eq!(req::events(&got), pairs(&[("access.grant", "R-1001"), ("access.revoke", "R-1001")]));
    assert_eq!(got[1].1["action"], "revoke");
    assert_eq!(env.status(1001).await, RequestStatus::Revoked);
    env.wait_text(erin_dm, "was revoked: expired on").await;
    assert_eq!(env.store.seats_used(ACROBAT).await.unwrap(), 0);
    assert_eq!(req::audit_count(&env.store, "access.expiry_warned").await, 1, "warned once");
    env.finish().await;
}

async fn a_review_campaign_on_discord_removes_one_grant(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    env.acrobat_for_erin().await;
    let grant = env.store.holding_for_request(RequestNumber(1001)).await.unwrap().unwrap();
    let ar = format!("AR-{}", grant.id);

    // The auditor starts a campaign; Bob, Erin's manager, gets Keep / Remove in his DM.
    let out = env.cli(&["licences", "review", "--item", ACROBAT]).await;
    assert!(out.contains("access review started: 1 grants, 1 managers asked"), "{out}");
    let (bob_dm, review) = env.dm_with(BOB, "Access review: your reports' access").await;
    assert!(content(&review).contains(&format!("{ar}: erin (discord:{}) holds", ERIN.0)), "{review}");
    let (keep, remove) = (button(&review, &format!("Keep {ar}")), button(&review, &format!("Remove {ar}")));
    assert_eq!((keep.as_str(), remove.as_str()), (&*format!("approve:{ar}"), &*format!("deny:{ar}")));

    // Kim's Remove and Erin's Keep on her own grant are refused privately; nothing recorded.
    let note = env.refused(bob_dm, KIM, &review, &remove).await;
    assert!(note.contains(&format!("{ar} is not waiting for your review")), "{note}");
    let note = env.refused(bob_dm, ERIN, &review, &keep).await;
    assert!(note.contains(&format!("You cannot review your own access ({ar})")), "{note}");
    assert!(env.store.open_review_item(grant.id).await.unwrap().is_some(), "still open");

    // Bob presses Remove and gives his reason in his DM: revoked through the webhook.
    let response = env.press(bob_dm, BOB, &review, &remove).await;
    assert_eq!(response["type"], 6, "{response}");
    env.wait_text(bob_dm, &format!("Why should the access of {ar} be removed?")).await;
    env.fake.post(bob_dm, false, BOB, "moved to the design team, no contracts to sign");
    env.wait_text(bob_dm, &format!("Removed {ar}")).await;
    req::wait_revoked(&env.store, 1001).await;
    let got = req::wait_deliveries(&env.got, 2).await;
    assert_eq!(req::events(&got), pairs(&[("access.grant", "R-1001"), ("access.revoke", "R-1001")]));
    assert_eq!(env.status(1001).await, RequestStatus::Revoked);
    let entries = env.store.audit_entries(0, None, 1000).await.unwrap();
    let removed: Vec<_> = entries.iter().filter(|e| e.kind == "review.removed").collect();
    assert_eq!(removed.len(), 1, "one review answer");
    assert_eq!(removed[0].actor, format!("discord:{}", BOB.0));
    assert!(removed[0].detail.as_deref().unwrap_or("").contains("no contracts to sign"));
    let erin_dm = env.fake.dm_of(ERIN.0).unwrap();
    env.wait_text(erin_dm, "was revoked").await;
    env.finish().await;
}

#[tokio::test]
async fn sqlite_a_full_pool_on_discord_puts_the_next_in_line_and_self_approval_is_refused() {
    a_full_pool_on_discord_puts_the_next_in_line_and_self_approval_is_refused(false).await;
}

#[tokio::test]
async fn postgres_a_full_pool_on_discord_puts_the_next_in_line_and_self_approval_is_refused() {
    a_full_pool_on_discord_puts_the_next_in_line_and_self_approval_is_refused(true).await;
}

#[tokio::test]
async fn sqlite_a_time_boxed_grant_on_discord_is_warned_with_extend_and_revoked_when_it_lapses() {
    a_time_boxed_grant_on_discord_is_warned_with_extend_and_revoked_when_it_lapses(false).await;
}

#[tokio::test]
async fn postgres_a_time_boxed_grant_on_discord_is_warned_with_extend_and_revoked_when_it_lapses() {
    a_time_boxed_grant_on_discord_is_warned_with_extend_and_revoked_when_it_lapses(true).await;
}

#[tokio::test]
async fn sqlite_a_review_campaign_on_discord_removes_one_grant() {
    a_review_campaign_on_discord_removes_one_grant(false).await;
}

#[tokio::test]
async fn postgres_a_review_campaign_on_discord_removes_one_grant() {
    a_review_campaign_on_discord_removes_one_grant(true).await;
}
