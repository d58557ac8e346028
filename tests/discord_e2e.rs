//! The Discord channel end to end: the real daemon (`app::run`) with serenity's gateway and
//! REST clients pointed at the fake Discord in `tests/support/fake_discord.rs`. Employees
//! write DMs, mention the bot, react 🎫, use `/helpdesk`, "Create ticket", buttons and modals
//! (over the gateway and the signed HTTP endpoint); agents work the ticket from its card and
//! thread. Every REST body and answer is checked against Discord's OpenAPI spec.

mod support;

use deskbot::app::{self, App};
use deskbot::config::{Config, Sources};
use deskbot::domain::Channel;
use deskbot::domain::{Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::service::Service;
use deskbot::store::{DynStore, TicketFilter};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::fake_discord::{BOT_ID, FakeDiscord, GUILD, TOKEN};
use support::test_channel::TestChannel;
use tokio_util::sync::CancellationToken;

const QUEUE: u64 = 920_000_000_000_000_001;
const GENERAL: u64 = 920_000_000_000_000_002;
const ERIN: (u64, &str) = (800_000_000_000_000_001, "erin");
const KIM: (u64, &str) = (800_000_000_000_000_002, "kim");
const MAX: (u64, &str) = (800_000_000_000_000_003, "max");

struct Env {
    fake: FakeDiscord,
    base: String,
    store: DynStore,
    service: Arc<Service>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), deskbot::app::AppError>>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The agents' channel of the service-desk queue, as TOML.
fn discord_queue() -> String {
    format!(
        r#"channel = {{ discord = "{QUEUE}" }}
agents = ["discord:{}"]"#,
        KIM.0
    )
}

impl Env {
    async fn start() -> Env {
        Self::start_with(&discord_queue(), "", Vec::new()).await
    }

    /// The daemon with the fake Discord; `queue` is the service-desk queue's channel and
    /// agents; `channels` are extra channels (e.g. the test channel as another platform).
    async fn start_with(queue: &str, extra: &str, channels: Vec<Arc<dyn Channel>>) -> Env {
        Self::start_queues(queue, "", extra, channels).await
    }

    /// As `start_with`, with `others` (TOML lines) added to every other queue.
    async fn start_queues(queue: &str, others: &str, extra: &str, channels: Vec<Arc<dyn Channel>>) -> Env {
        let fake = FakeDiscord::start().await;
        fake.text_channel(QUEUE, "it-agents");
        fake.text_channel(GENERAL, "general");
        let port = free_port();
        let mut toml = format!(
            r#"
hot_reload = false
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
{extra}
[[queue]]
name = "service-desk"
{queue}
"#,
            app = support::fake_discord::APP_ID,
            key = FakeDiscord::public_key_hex(),
            api = fake.api_url(),
        );
        for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
            toml.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n{others}\n"));
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("deskbot.toml");
        std::fs::write(&file, toml).unwrap();
        let mut config =
            Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &[]).unwrap();
        config.intents_dir = support::starter_pack();
        let app = App::build(config).await.unwrap();
        let (store, service) = (app.store.clone(), app.service.clone());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app::run(app, channels, shutdown.clone()));
        fake.ready().await;
        let env = Env {
            fake,
            base: format!("http://127.0.0.1:{port}"),
            store,
            service,
            shutdown,
            task,
            http: reqwest::Client::new(),
            _dir: dir,
        };
        env.wait_http().await;
        env
    }

    async fn wait_http(&self) {
        for _ in 0..1500 {
            if self.http.get(format!("{}/healthz", self.base)).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("deskbot's HTTP server did not come up");
    }

    /// POST a signed interaction to deskbot's endpoint.
    async fn signed(&self, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let ts = chrono::Utc::now().timestamp().to_string();
        let sig = self.fake.sign(&ts, &bytes);
        self.raw_interaction(&bytes, Some(&sig), Some(&ts)).await
    }

    async fn raw_interaction(&self, body: &[u8], sig: Option<&str>, ts: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/discord/interactions", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = sig {
            req = req.header("X-Signature-Ed25519", s);
        }
        if let Some(t) = ts {
            req = req.header("X-Signature-Timestamp", t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn tickets(&self) -> Vec<deskbot::store::Ticket> {
        self.store.tickets(&TicketFilter::default()).await.unwrap()
    }

    async fn wait_tickets(&self, n: usize) -> Vec<deskbot::store::Ticket> {
        for _ in 0..1500 {
            let t = self.tickets().await;
            if t.len() >= n {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} tickets, have {:?}", self.tickets().await);
    }

    /// Texts posted to a channel once at least `n` are there.
    async fn texts(&self, channel: u64, n: usize) -> Vec<String> {
        self.fake.until(&format!("{n} messages in {channel}"), |f| f.texts(channel).len() >= n).await;
        self.fake.texts(channel)
    }

    /// Stop the daemon and check all REST traffic against Discord's spec.
    async fn finish(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "daemon did not stop cleanly: {result:?}");
        let problems = self.fake.spec_problems();
        assert!(problems.is_empty(), "REST traffic does not match Discord's spec:\n{}", problems.join("\n"));
        assert!(self.fake.calls().iter().all(|c| c.auth.as_deref() == Some(&format!("Bot {TOKEN}"))));
    }
}

/// The message ids of buttons in a posted message, by label.
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

/// Reactions deskbot added, as (path, emoji).
fn reactions(f: &FakeDiscord) -> Vec<(String, String)> {
    f.calls()
        .into_iter()
        .filter(|c| c.method == "PUT" && c.path.contains("/reactions/"))
        .map(|c| {
            let enc = c.path.split("/reactions/").nth(1).unwrap_or("").trim_end_matches("/@me").to_string();
            let bytes: Vec<u8> = enc
                .split('%')
                .enumerate()
                .flat_map(|(i, p)| {
                    if i == 0 {
                        p.as_bytes().to_vec()
                    } else {
                        let mut v = vec![u8::from_str_radix(&p[..2], 16).unwrap()];
                        v.extend_from_slice(&p.as_bytes()[2..]);
                        v
                    }
                })
                .collect();
            (c.path.clone(), String::from_utf8(bytes).unwrap())
        })
        .collect()
}

fn id_of(message: &Value) -> u64 {
    message["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn dm_question_is_answered_with_buttons_and_a_button_press_continues_it() {
    let env = Env::start().await;
    assert!(env.fake.ws_url().starts_with("ws://127.0.0.1"));
    // serenity took its gateway URL from the fake, and registered the commands in the guild.
    assert_eq!(env.fake.identifies(), 1);
    env.fake
        .until("commands registered", |f| {
            f.calls()
                .iter()
                .any(|c| c.method == "PUT" && c.path.ends_with(&format!("/guilds/{GUILD}/commands")))
        })
        .await;

    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.post(dm, false, ERIN, "I forgot my password");
    let texts = env.texts(dm, 1).await;
    assert!(texts[0].to_lowercase().contains("password"), "{texts:?}");
    let answer = env.fake.posted(dm)[0].clone();
    let solved = button(&answer, "That solved it");

    let press = env.fake.button(dm, false, ERIN, id_of(&answer), &solved);
    env.fake.dispatch("INTERACTION_CREATE", press.clone());
    let texts = env.texts(dm, 2).await;
    assert!(texts[1].contains("Glad that helped"), "{texts:?}");
    let callbacks = env.fake.callbacks();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].0, press["id"].as_str().unwrap());
    assert_eq!(callbacks[0].1["type"], 6, "a button press is acknowledged without a new message");
    assert!(env.tickets().await.is_empty());
    // Status reactions on the employee's message: 👀 when taken up, ✅ when solved.
    env.fake.until("✅ on the question", |f| reactions(f).iter().any(|(_, e)| e == "✅")).await;
    let marks: Vec<String> = reactions(&env.fake).into_iter().map(|(_, e)| e).collect();
    assert_eq!(marks, vec!["👀", "✅"]);
    env.finish().await;
}

#[tokio::test]
async fn mention_is_answered_in_a_thread_started_on_that_message() {
    let env = Env::start().await;
    let m = env.fake.post(GENERAL, true, ERIN, &format!("<@{BOT_ID}> my vpn keeps dropping"));
    let texts = env.texts(m, 1).await;
    assert!(texts[0].to_lowercase().contains("vpn"), "{texts:?}");
    let thread = env.fake.channel(m).expect("a thread on the message");
    assert_eq!(thread["parent_id"], json!(GENERAL.to_string()));
    assert_eq!(thread["owner_id"], json!(BOT_ID.to_string()));
    assert!(thread["name"].as_str().unwrap().contains("vpn keeps dropping"), "{thread}");
    assert!(env.fake.texts(GENERAL).is_empty(), "nothing is posted in the channel itself");

    // The employee answers in the thread without mentioning the bot; the bot follows.
    env.fake.post(m, true, ERIN, "Not solved");
    env.texts(m, 2).await;
    // Talk that does not mention the bot in a plain channel is ignored.
    env.fake.post(GENERAL, true, MAX, "lunch anyone?");
    // A thread people start themselves (THREAD_CREATE): ignored unless the bot is mentioned.
    let theirs = env.fake.foreign_thread(GENERAL, MAX.0);
    env.fake.announce_thread(theirs);
    // Chatter posted before the mention reaches deskbot after it (the gateway's events are
    // handled side by side): it was said to people, and stays unanswered although deskbot
    // follows the thread from the mention on.
    let chatter = env.fake.post_held(theirs, true, MAX, "does anyone know the wifi password?");
    env.fake.post(theirs, true, MAX, &format!("<@{BOT_ID}> I forgot my password"));
    let answer = env.texts(theirs, 1).await;
    assert!(answer[0].to_lowercase().contains("password"), "{answer:?}");
    wait_outbox_empty(&env.store).await;
    env.fake.release(chatter);
    wait_seen(&env.store, &format!("msg:{theirs}:{chatter}")).await;
    // An answer would have been queued with the event's record: queued, or already sent.
    assert_eq!(env.store.outbox_depth().await.unwrap(), 0, "nothing more is queued");
    let said = env.fake.texts(theirs);
    assert_eq!(said.len(), 1, "only the mention was answered: {said:?}");
    // What he says after the mention is for deskbot.
    env.fake.post(theirs, true, MAX, "Not solved");
    env.texts(theirs, 2).await;
    let lookups = env
        .fake
        .calls()
        .iter()
        .filter(|c| c.method == "GET" && c.path.ends_with(&format!("/channels/{theirs}")))
        .count();
    assert_eq!(lookups, 0, "THREAD_CREATE told deskbot what the thread is");
    assert!(env.fake.texts(GENERAL).is_empty());
    env.finish().await;
}

#[tokio::test]
async fn ticket_reaction_files_a_ticket_crediting_the_author() {
    let env = Env::start().await;
    let m = env.fake.post(GENERAL, true, ERIN, "the coffee machine on floor 2 eats every cup");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(env.fake.texts(GENERAL).is_empty(), "a plain message is not for the bot");

    env.fake.react(GENERAL, true, m, MAX, "🎫");
    let tickets = env.wait_tickets(1).await;
    // A second person's 🎫 on the same message files nothing more.
    env.fake.react(GENERAL, true, m, KIM, "🎫");
    assert_eq!(tickets[0].requester, UserRef::new(Platform::Discord, ERIN.0.to_string()));
    assert!(tickets[0].title.contains("coffee machine on floor 2"), "{:?}", tickets[0].title);
    // The card reaches the agents' channel, with buttons and a thread for the ticket.
    let cards = env.texts(QUEUE, 1).await;
    assert!(cards[0].contains("IT-1001") && cards[0].contains("coffee machine"), "{cards:?}");
    let card = env.fake.posted(QUEUE)[0].clone();
    button(&card, "Claim");
    // The thread is started when the transcript is sent: wait for it first.
    let transcript = env.texts(id_of(&card), 1).await;
    assert!(transcript[0].contains("coffee machine"), "{transcript:?}");
    let card_thread = env.fake.channel(id_of(&card)).expect("a thread on the card");
    assert_eq!(card_thread["parent_id"], json!(QUEUE.to_string()));
    assert!(card_thread["name"].as_str().unwrap().starts_with("IT-1001"), "{card_thread}");
    // The confirmation goes in a thread on the reacted message.
    let confirm = env.texts(m, 1).await;
    assert!(confirm.iter().any(|t| t.contains("IT-1001")), "{confirm:?}");
    env.fake.until("🎫 on the message", |f| !reactions(f).is_empty()).await;
    let marks = reactions(&env.fake);
    assert!(
        marks.iter().all(|(p, _)| p.contains(&format!("/channels/{GENERAL}/messages/{m}/"))),
        "{marks:?}"
    );
    assert!(marks.iter().any(|(_, e)| e == "🎫"), "{marks:?}");
    assert_eq!(env.tickets().await.len(), 1);
    env.finish().await;
}

#[tokio::test]
async fn slash_command_modal_and_message_command_work_over_the_gateway() {
    let env = Env::start().await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);

    let help = env.fake.slash(GENERAL, true, ERIN, "help");
    env.fake.dispatch("INTERACTION_CREATE", help);
    env.fake.until("help callback", |f| f.callbacks().len() == 1).await;
    assert_eq!(env.fake.callbacks()[0].1["type"], 4);
    assert_eq!(env.fake.callbacks()[0].1["data"]["flags"], 64, "the acknowledgement is ephemeral");
    let texts = env.texts(dm, 1).await;
    assert!(texts[0].contains("\"status\" shows your tickets"), "{texts:?}");

    let new = env.fake.slash(GENERAL, true, ERIN, "new");
    env.fake.dispatch("INTERACTION_CREATE", new);
    env.fake.until("modal callback", |f| f.callbacks().len() == 2).await;
    let modal = env.fake.callbacks()[1].1.clone();
    assert_eq!(modal["type"], 9, "{modal}");
    let form_id = modal["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = env.fake.modal_submit(
        GENERAL,
        true,
        ERIN,
        &form_id,
        &[("summary", "Docking station is dead"), ("details", "No display, no USB since this morning")],
    );
    env.fake.dispatch("INTERACTION_CREATE", submit);
    let tickets = env.wait_tickets(1).await;
    assert_eq!(tickets[0].requester, UserRef::new(Platform::Discord, ERIN.0.to_string()));
    assert!(tickets[0].title.contains("Docking station"), "{:?}", tickets[0].title);
    env.fake.until("ticket confirmed in the DM", |f| f.texts(dm).iter().any(|t| t.contains("IT-1001"))).await;

    let status = env.fake.slash(dm, false, ERIN, "status");
    env.fake.dispatch("INTERACTION_CREATE", status);
    env.fake
        .until("status answered", |f| {
            f.texts(dm).iter().any(|t| t.contains("IT-1001") && t.contains("Docking"))
        })
        .await;

    // "Create ticket" on someone's message files it for its author.
    let m = env.fake.post(GENERAL, true, MAX, "the wifi in room 4 drops every few minutes");
    let cmd = env.fake.message_command(GENERAL, KIM, m);
    env.fake.dispatch("INTERACTION_CREATE", cmd);
    let tickets = env.wait_tickets(2).await;
    let t = tickets.iter().find(|t| t.title.contains("wifi")).expect("ticket from the message command");
    assert_eq!(t.requester, UserRef::new(Platform::Discord, MAX.0.to_string()));
    assert_eq!(t.filed_by, UserRef::new(Platform::Discord, KIM.0.to_string()), "Kim filed it for Max");
    assert_eq!(t.description, "the wifi in room 4 drops every few minutes", "the message, verbatim");
    let history = env.store.ticket_events(t.number).await.unwrap();
    assert_eq!(history[0].actor, format!("discord:{}", KIM.0));
    assert!(history[0].detail.as_deref().unwrap_or("").starts_with("filed by discord:"), "{history:?}");
    env.finish().await;
}

#[tokio::test]
async fn slash_command_buttons_and_modal_work_through_the_signed_endpoint() {
    let env = Env::start().await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    let (status, body) =
        env.signed(&json!({"id": "1", "type": 1, "application_id": "1", "token": "t", "version": 1})).await;
    assert_eq!((status, body), (200, json!({"type": 1})));

    let (status, body) = env.signed(&env.fake.slash(dm, false, ERIN, "new")).await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], 9, "{body}");
    let form_id = body["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = env.fake.modal_submit(
        dm,
        false,
        ERIN,
        &form_id,
        &[("summary", "The badge reader at the side door beeps red"), ("details", "")],
    );
    let (status, body) = env.signed(&submit).await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], 4, "{body}");
    // The same interaction again (a retry): acknowledged, not acted on twice.
    let (status, body) = env.signed(&submit).await;
    assert_eq!((status, body["type"].clone()), (200, json!(6)));
    let tickets = env.wait_tickets(1).await;
    assert!(tickets[0].title.contains("badge reader"), "{tickets:?}");
    env.fake.until("confirmation", |f| f.texts(dm).iter().any(|t| t.contains("IT-1001"))).await;
    assert_eq!(env.tickets().await.len(), 1, "the repeated submission filed nothing");

    // A rating button after the ticket is resolved, pressed through the endpoint.
    env.service.resolve_ticket(TicketNumber(1001), "ops", None).await.unwrap();
    env.fake
        .until("rating request", |f| {
            f.posted(dm).iter().any(|m| {
                m["components"].as_array().is_some_and(|c| !c.is_empty())
                    && m["content"].as_str().unwrap_or("").contains("resolved")
            })
        })
        .await;
    let ask = env
        .fake
        .posted(dm)
        .into_iter()
        .rev()
        .find(|m| m["content"].as_str().unwrap_or("").contains("resolved"))
        .unwrap();
    let five = button(&ask, "5");
    let (status, body) = env.signed(&env.fake.button(dm, false, ERIN, id_of(&ask), &five)).await;
    assert_eq!((status, body["type"].clone()), (200, json!(6)));
    for _ in 0..1500 {
        let events = env.store.ticket_events(TicketNumber(1001)).await.unwrap();
        if events.iter().any(|e| e.kind == "csat" && e.detail.as_deref() == Some("score 5")) {
            env.finish().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the rating was not recorded");
}

#[tokio::test]
async fn forged_stale_or_unsigned_interactions_get_401() {
    let env = Env::start().await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    let body = serde_json::to_vec(&env.fake.slash(dm, false, ERIN, "help")).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let good = env.fake.sign(&ts, &body);
    // Signed by someone else, for other bytes, or with a tampered body.
    let other = env.fake.sign(&ts, b"{}");
    let (s, _) = env.raw_interaction(&body, Some(&other), Some(&ts)).await;
    assert_eq!(s, 401);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(env.raw_interaction(&tampered, Some(&good), Some(&ts)).await.0, 401);
    assert_eq!(env.raw_interaction(&body, Some("zz"), Some(&ts)).await.0, 401);
    assert_eq!(env.raw_interaction(&body, None, None).await.0, 401);
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    let stale = env.fake.sign(&old, &body);
    assert_eq!(env.raw_interaction(&body, Some(&stale), Some(&old)).await.0, 401);
    // Malformed but signed: refused, not a crash.
    let junk = b"{\"type\": 2, \"nonsense\": true}";
    let sig = env.fake.sign(&ts, junk);
    assert_eq!(env.raw_interaction(junk, Some(&sig), Some(&ts)).await.0, 400);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(env.fake.texts(dm).is_empty(), "nothing was acted on");
    assert_eq!(env.raw_interaction(&body, Some(&good), Some(&ts)).await.0, 200);
    env.finish().await;
}

#[tokio::test]
async fn a_repeated_dispatch_produces_one_reply() {
    let env = Env::start().await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.post(dm, false, ERIN, "I forgot my password");
    let message = env.fake.last_seq();
    env.texts(dm, 1).await;
    env.fake.redispatch(message);
    env.fake.redispatch(message);
    let help = env.fake.dispatch("INTERACTION_CREATE", env.fake.slash(dm, false, ERIN, "help"));
    env.texts(dm, 2).await;
    env.fake.redispatch(help);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.fake.texts(dm).len(), 2, "{:?}", env.fake.texts(dm));
    assert_eq!(env.fake.callbacks().len(), 1, "a replayed interaction is not answered twice");
    env.finish().await;
}

#[tokio::test]
async fn a_dropped_socket_resumes_and_missed_events_are_replayed() {
    let env = Env::start().await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.drop_socket();
    // Sent while the client is away: it arrives with the replay after RESUME.
    env.fake.post(dm, false, ERIN, "I forgot my password");
    env.fake.until("a resume", |f| !f.resumes().is_empty()).await;
    let resume = env.fake.resumes()[0].clone();
    assert_eq!(resume["session_id"], "session-1");
    assert_eq!(resume["token"], format!("Bot {TOKEN}"));
    let texts = env.texts(dm, 1).await;
    assert!(texts[0].to_lowercase().contains("password"), "{texts:?}");
    assert_eq!(env.fake.identifies(), 1, "resumed, not identified again");

    // Discord asks for a reconnect: the session is resumed again.
    env.fake.request_reconnect();
    env.fake.until("a second resume", |f| f.resumes().len() == 2).await;
    env.fake.post(dm, false, ERIN, "thanks");
    env.texts(dm, 2).await;
    assert_eq!(env.fake.texts(dm).len(), 2, "the replayed message was answered once");
    // Heartbeats are answered, and /readyz reports the gateway up again.
    env.fake.until("a heartbeat", |f| f.sent().iter().any(|s| s.op == 1)).await;
    let ready = discord_up(&format!("{}/readyz", env.base)).await;
    assert_eq!(ready["channels"]["discord"]["up"], true, "{ready}");
    env.finish().await;
}

#[tokio::test]
async fn agents_work_the_ticket_from_its_card_and_thread() {
    let env = Env::start().await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.post(dm, false, ERIN, "the coffee machine on floor 3 is leaking");
    let offer = env.texts(dm, 1).await;
    assert!(offer[0].contains("file a ticket"), "{offer:?}");
    let file = button(&env.fake.posted(dm)[0], "File a ticket");
    env.fake.dispatch(
        "INTERACTION_CREATE",
        env.fake.button(dm, false, ERIN, id_of(&env.fake.posted(dm)[0]), &file),
    );
    env.fake.until("ticket confirmed", |f| f.texts(dm).iter().any(|t| t.contains("IT-1001"))).await;
    env.texts(QUEUE, 1).await;
    let card = env.fake.posted(QUEUE)[0].clone();
    let (card_id, thread) = (id_of(&card), id_of(&card));
    env.texts(thread, 1).await;

    // Claim from the card's button: the card is edited in place, the thread hears about it.
    let claim = button(&card, "Claim");
    env.fake.dispatch("INTERACTION_CREATE", env.fake.button(QUEUE, true, KIM, card_id, &claim));
    env.fake
        .until("card edited", |f| {
            f.message(card_id).is_some_and(|m| m["content"].as_str().unwrap().contains(&KIM.0.to_string()))
        })
        .await;
    assert!(
        env.fake
            .calls()
            .iter()
            .any(|c| c.method == "PATCH" && c.path.ends_with(&format!("/messages/{card_id}")))
    );
    env.fake.until("claim notice", |f| f.texts(thread).iter().any(|t| t.contains("claimed IT-1001"))).await;

    // Thread talk is internal; `!reply` reaches the employee; the answer comes back.
    env.fake.post(thread, true, KIM, "checking with facilities");
    env.fake.post(thread, true, KIM, "!reply A plumber is on the way");
    env.fake
        .until("reply relayed", |f| f.texts(dm).iter().any(|t| t.contains("A plumber is on the way")))
        .await;
    assert!(!env.fake.texts(dm).iter().any(|t| t.contains("facilities")));
    env.fake.post(dm, false, ERIN, "thanks, it is still dripping");
    env.fake.until("answer relayed", |f| f.texts(thread).iter().any(|t| t.contains("still dripping"))).await;

    // "Reply to requester" opens a modal; its text reaches the employee.
    let reply = button(&env.fake.message(card_id).unwrap(), "Reply to requester");
    let s = env.fake.dispatch("INTERACTION_CREATE", env.fake.button(QUEUE, true, KIM, card_id, &reply));
    let _ = s;
    env.fake.until("reply modal", |f| f.callbacks().iter().any(|(_, b)| b["type"] == 9)).await;
    let form = env.fake.callbacks().into_iter().find(|(_, b)| b["type"] == 9).unwrap().1;
    let form_id = form["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = env.fake.modal_submit_on(
        QUEUE,
        true,
        KIM,
        card_id,
        &form_id,
        &[("text", "Fixed the hose, try it now")],
    );
    env.fake.dispatch("INTERACTION_CREATE", submit);
    env.fake.until("modal reply relayed", |f| f.texts(dm).iter().any(|t| t.contains("Fixed the hose"))).await;

    // ✅ on the card resolves it; the employee is asked for a rating.
    env.fake.react(QUEUE, true, card_id, KIM, "✅");
    env.fake
        .until("resolved notice", |f| f.texts(dm).iter().any(|t| t.contains("IT-1001 has been resolved")))
        .await;
    assert_eq!(env.store.ticket(TicketNumber(1001)).await.unwrap().unwrap().status, TicketStatus::Resolved);
    // Someone who is not an agent cannot act.
    env.fake.post(thread, true, MAX, "!reopen");
    // The refusal is private: a DM to them (a bot's ephemeral message needs an interaction).
    env.fake
        .until("refusal", |f| {
            f.dm_of(MAX.0).is_some_and(|dm| f.texts(dm).iter().any(|t| t.contains("Only agents")))
        })
        .await;
    assert!(!env.fake.texts(thread).iter().any(|t| t.contains("Only agents")), "not in the thread");
    assert_eq!(env.store.ticket(TicketNumber(1001)).await.unwrap().unwrap().status, TicketStatus::Resolved);
    env.finish().await;
}

#[tokio::test]
async fn a_rate_limited_send_is_retried_and_long_replies_are_split() {
    let env = Env::start().await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.rate_limit_next(1);
    env.fake.post(dm, false, ERIN, "I forgot my password");
    env.texts(dm, 1).await;
    let statuses: Vec<u16> = env
        .fake
        .calls()
        .iter()
        .filter(|c| c.path.ends_with(&format!("{dm}/messages")))
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, vec![429, 200], "one 429, then the retry");

    // An agent's long reply reaches the employee in clean parts under 2,000 characters.
    env.fake.post(dm, false, ERIN, "the coffee machine on floor 3 is leaking");
    env.texts(dm, 2).await;
    env.fake.post(dm, false, ERIN, "File a ticket");
    env.fake.until("ticket", |f| f.texts(dm).iter().any(|t| t.contains("IT-1001"))).await;
    env.texts(QUEUE, 1).await;
    let card = id_of(&env.fake.posted(QUEUE)[0]);
    env.texts(card, 1).await;
    let long: String = (1..=300).map(|i| format!("Step {i}: do the thing.\n")).collect();
    let before = env.fake.texts(dm).len();
    env.fake.post(card, true, KIM, &format!("!reply {long}"));
    env.fake
        .until("long reply", |f| {
            f.texts(dm).len() >= before + 2 && f.texts(dm).last().unwrap().contains("Step 300")
        })
        .await;
    let parts: Vec<String> = env.fake.texts(dm).into_iter().skip(before).collect();
    assert!(parts.len() >= 3, "{} parts", parts.len());
    for p in &parts {
        assert!(p.encode_utf16().count() <= 2000);
        assert!(p.ends_with("do the thing."), "cut mid-line: …{}", &p[p.len().saturating_sub(30)..]);
    }
    let joined = parts.join("\n");
    for i in [1, 150, 300] {
        assert!(joined.contains(&format!("Step {i}: do the thing.")));
    }
    env.finish().await;
}

#[tokio::test]
async fn a_discord_ticket_is_worked_by_agents_on_another_platform() {
    // The agents' queue lives on another platform (the in-memory test channel stands in for
    // it); the desk relays both ways without knowing where either side is.
    let agents = Arc::new(TestChannel::default());
    let queue = r#"channel = { test = "agents" }
agents = ["test:kim"]"#;
    let env = Env::start_with(queue, "", vec![agents.clone() as Arc<dyn Channel>]).await;
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.post(dm, false, ERIN, "the coffee machine on floor 3 is leaking");
    env.texts(dm, 1).await;
    env.fake.post(dm, false, ERIN, "File a ticket");
    env.fake.until("ticket confirmed", |f| f.texts(dm).iter().any(|t| t.contains("IT-1001"))).await;
    for _ in 0..1500 {
        if agents.card_id("agents").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let card = agents.card_id("agents").expect("card on the agents' platform");
    assert!(env.fake.texts(QUEUE).is_empty());
    let inbound = deskbot::domain::Inbound {
        event_id: "agent-1".into(),
        user: UserRef::new(Platform::Test, "kim"),
        display_name: Some("kim".into()),
        conversation: format!("test:agents:{card}"),
        reply_to: deskbot::domain::Address::new(Platform::Test, "agents").in_thread(card.clone()),
        kind: deskbot::domain::InboundKind::Message { text: "!reply Facilities are on it".into() },
        at: 0,
        message_id: None,
        message_channel: None,
        attachments: Vec::new(),
        via: Default::default(),
    };
    env.service.handle(inbound).await.unwrap();
    env.fake
        .until("reply relayed to Discord", |f| f.texts(dm).iter().any(|t| t.contains("Facilities are on it")))
        .await;
    env.fake.post(dm, false, ERIN, "great, thanks");
    for _ in 0..1500 {
        if agents.texts(&format!("agents/{card}")).iter().any(|t| t.contains("great, thanks")) {
            env.finish().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the employee's answer did not reach the agents: {:?}", agents.all());
}

fn deskbot_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_deskbot"));
    c.arg("run")
        .current_dir(dir)
        .env("DESKBOT_INTENTS_DIR", support::starter_pack())
        .env("DESKBOT_HOT_RELOAD", "false")
        .env("DESKBOT_DATA_DIR", dir)
        .env_remove("DESKBOT_DATABASE_URL")
        .env_remove("DESKBOT_CONFIG")
        .env_remove("DESKBOT_DISCORD_TOKEN")
        .env_remove("DESKBOT_DISCORD_APPLICATION_ID")
        .env_remove("DESKBOT_DISCORD_PUBLIC_KEY")
        .env_remove("DESKBOT_DISCORD_API_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    c
}

/// `/readyz` once it reports the Discord gateway up (the session's READY is handled a moment
/// after the fake has sent it), or as it stands after 10 s.
async fn discord_up(url: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        if body["channels"]["discord"]["up"] == true || std::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deskbot_run_with_discord_settings_connects() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("discord_public_key");
    std::fs::write(&key_file, format!("{}\n", FakeDiscord::public_key_hex())).unwrap();
    let port = free_port();
    let mut child = deskbot_cmd(dir.path())
        .env("DESKBOT_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("DESKBOT_DISCORD_TOKEN", TOKEN)
        .env("DESKBOT_DISCORD_APPLICATION_ID", support::fake_discord::APP_ID.to_string())
        .env("DESKBOT_DISCORD_PUBLIC_KEY_FILE", &key_file)
        .env("DESKBOT_DISCORD_API_URL", fake.api_url())
        .spawn()
        .unwrap();
    fake.ready().await;
    assert_eq!(fake.identifies(), 1);
    let identify = fake.sent().into_iter().find(|s| s.op == 2).unwrap().d;
    assert_eq!(identify["token"], format!("Bot {TOKEN}"));
    let intents = identify["intents"].as_u64().unwrap();
    for bit in [1 << 0, 1 << 9, 1 << 10, 1 << 12, 1 << 13, 1 << 15] {
        assert!(intents & bit != 0, "intent bit {bit} missing from {intents}");
    }
    fake.until("global commands", |f| {
        f.calls().iter().any(|c| {
            c.method == "PUT"
                && c.path.ends_with(&format!("/applications/{}/commands", support::fake_discord::APP_ID))
        })
    })
    .await;
    let body = discord_up(&format!("http://127.0.0.1:{port}/readyz")).await;
    assert_eq!(body["channels"]["discord"]["up"], true, "{body}");
    let pid = child.id().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
    let problems = fake.spec_problems();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn missing_discord_settings_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = deskbot_cmd(dir.path()).env("DESKBOT_DISCORD_TOKEN", TOKEN).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DESKBOT_DISCORD_APPLICATION_ID"), "{err}");
    std::fs::write(
        dir.path().join("deskbot.toml"),
        "[discord]\ntoken = \"x\"\napplication_id = 12\npublic_key = \"abc\"\n",
    )
    .unwrap();
    let out = deskbot_cmd(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("public_key"), "{err}");
}

#[tokio::test]
async fn a_forum_queue_gets_a_post_per_ticket_edited_on_changes() {
    const FORUM: u64 = 920_000_000_000_000_009;
    let queue = format!("channel = {{ discord = \"{FORUM}\" }}\nagents = [\"discord:{}\"]", KIM.0);
    let env = Env::start_with(&queue, "", Vec::new()).await;
    env.fake.forum_channel(FORUM, "it-tickets");
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.post(dm, false, ERIN, "the coffee machine on floor 3 is leaking");
    env.texts(dm, 1).await;
    env.fake.post(dm, false, ERIN, "File a ticket");
    env.fake
        .until("forum post", |f| {
            f.calls()
                .iter()
                .any(|c| c.path.ends_with(&format!("/channels/{FORUM}/threads")) && c.status == 201)
        })
        .await;
    let post = env.fake.calls().into_iter().find(|c| c.path.ends_with("/threads")).unwrap().response;
    let thread = post["id"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(post["name"].as_str().unwrap().starts_with("IT-1001"), "{post}");
    let transcript = env.texts(thread, 1).await;
    assert!(transcript[0].starts_with("Transcript:"), "{transcript:?}");
    env.fake.post(thread, true, KIM, "!claim");
    env.fake
        .until("post edited", |f| {
            f.message(thread).is_some_and(|m| m["content"].as_str().unwrap().contains(&KIM.0.to_string()))
        })
        .await;
    assert!(
        env.fake.calls().iter().any(
            |c| c.method == "PATCH" && c.path.ends_with(&format!("/channels/{thread}/messages/{thread}"))
        )
    );
    // The card's "Reply to requester" button works inside the post too.
    let card = env.fake.message(thread).unwrap();
    let reply = button(&card, "Reply to requester");
    env.fake.dispatch("INTERACTION_CREATE", env.fake.button(thread, true, KIM, thread, &reply));
    env.fake.until("reply modal", |f| f.callbacks().iter().any(|(_, b)| b["type"] == 9)).await;
    let form = env.fake.callbacks().into_iter().find(|(_, b)| b["type"] == 9).unwrap().1;
    let form_id = form["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = env.fake.modal_submit_on(
        thread,
        true,
        KIM,
        thread,
        &form_id,
        &[("text", "A new machine arrives Monday")],
    );
    env.fake.dispatch("INTERACTION_CREATE", submit);
    env.fake
        .until("reply relayed", |f| f.texts(dm).iter().any(|t| t.contains("A new machine arrives Monday")))
        .await;
    env.finish().await;
}

#[tokio::test]
async fn request_channel_messages_are_grouped_into_threads_and_pleasantries_ignored() {
    const REQUESTS: u64 = 920_000_000_000_000_005;
    let env =
        Env::start_with(&discord_queue(), "[intake]\nrequest_channels = [\"it-help\"]\n", Vec::new()).await;
    env.fake.text_channel(REQUESTS, "it-help");
    env.fake.post(REQUESTS, true, ERIN, "good morning!");
    // A malformed dispatch is logged and skipped; the connection carries on.
    env.fake.dispatch("MESSAGE_CREATE", json!({"id": "not-a-snowflake", "content": 5}));
    // A system notice (a pin, type 6) is not a request.
    let mut pin = support::fake_discord::message(
        REQUESTS + 100,
        REQUESTS,
        Some(GUILD),
        support::fake_discord::user(ERIN.0, ERIN.1),
        "pinned a message",
        vec![],
    );
    pin["type"] = json!(6);
    env.fake.dispatch("MESSAGE_CREATE", pin);
    let first = env.fake.post(REQUESTS, true, ERIN, "my vpn keeps dropping");
    let answers = env.texts(first, 1).await;
    assert!(answers[0].to_lowercase().contains("vpn"), "{answers:?}");
    // A second message within the grouping window joins the same conversation and thread.
    let second = env.fake.post(REQUESTS, true, ERIN, "Not solved");
    env.texts(first, 2).await;
    assert!(env.fake.channel(second).is_none(), "no second thread");
    assert!(env.fake.texts(REQUESTS).is_empty(), "answers go in the thread");
    // Someone else's message starts their own thread.
    let other = env.fake.post(REQUESTS, true, MAX, "the coffee machine on floor 3 is leaking");
    env.texts(other, 1).await;
    let pin_id = (REQUESTS + 100).to_string();
    assert!(!env.fake.calls().iter().any(|c| c.path.contains(&pin_id)), "the pin notice got no answer");
    // The greeting got nothing: no thread, no reaction.
    let greeting = first - 1;
    assert!(env.fake.channel(greeting).is_none());
    assert!(!reactions(&env.fake).iter().any(|(p, _)| p.contains(&format!("/messages/{greeting}/"))));
    assert!(
        reactions(&env.fake).iter().any(|(p, e)| p.contains(&format!("/messages/{first}/")) && e == "👀")
    );
    env.finish().await;
}

#[tokio::test]
async fn serenitys_rate_limiter_waits_out_a_429_before_the_outbox_sees_it() {
    use deskbot::adapters::discord::DiscordChannel;
    use deskbot::adapters::discord::places::Places;
    use deskbot::domain::Outbound;
    // Production REST (no api_url): serenity's rate limiter against discord.com, here the fake
    // over TLS. A 429 with Retry-After is waited out and retried inside one delivery, under
    // the same nonce.
    let fake = FakeDiscord::start().await;
    fake.text_channel(GENERAL, "general");
    let addr = fake.serve_tls().await;
    let http = serenity::http::HttpBuilder::new(TOKEN).client(FakeDiscord::tls_client(addr)).build();
    assert!(http.ratelimiter.is_some());
    let channel = DiscordChannel::new(Arc::new(http), Arc::new(Places::default()));
    fake.rate_limit_next(1);
    let to = deskbot::domain::Address::new(Platform::Discord, GENERAL.to_string());
    let sent = channel.send("discord:ev-1:0", &Outbound::message(to, "hello", Vec::new())).await.unwrap();
    let posts: Vec<_> =
        fake.calls().into_iter().filter(|c| c.path.ends_with(&format!("{GENERAL}/messages"))).collect();
    assert_eq!(posts.iter().map(|c| c.status).collect::<Vec<_>>(), vec![429, 200]);
    assert_eq!(posts[0].body["nonce"], posts[1].body["nonce"]);
    assert_eq!(sent.message_id.as_deref(), posts[1].response["id"].as_str());
    let problems = fake.spec_problems();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_ticket_is_worked_by_agents_in_slack() {
    use support::slack_bot::{AGENTS, KIM as SLACK_KIM, SlackBot, message};
    // deskbot on both platforms: the queues' agents work in Slack (fake Slack), the employee
    // writes on Discord (fake Discord).
    let fake = FakeDiscord::start().await;
    let discord = format!(
        "[discord]\ntoken = \"{TOKEN}\"\napplication_id = \"{}\"\npublic_key = \"{}\"\napi_url = \"{}\"\nguilds = [\"{GUILD}\"]\n",
        support::fake_discord::APP_ID,
        FakeDiscord::public_key_hex(),
        fake.api_url()
    );
    let bot = SlackBot::start_with("socket", &discord).await;
    fake.ready().await;
    let dm = fake.dm_channel(ERIN.0, ERIN.1);
    fake.post(dm, false, ERIN, "the coffee machine on floor 3 is leaking");
    fake.until("ticket offer", |f| f.texts(dm).len() == 1).await;
    fake.post(dm, false, ERIN, "File a ticket");
    fake.until("ticket confirmed", |f| f.texts(dm).iter().any(|t| t.contains("IT-1001"))).await;
    let card = bot.wait_post(AGENTS, "coffee machine on floor 3").await;
    let card_ts = card.response["ts"].as_str().unwrap().to_string();
    assert!(fake.texts(QUEUE).is_empty(), "no Discord card: the queue lives in Slack");

    // Kim answers from the Slack thread; the Discord employee gets it, and their answer
    // reaches the Slack thread.
    let ts = bot.fake.ts();
    bot.event(message(AGENTS, SLACK_KIM, "!reply Facilities are on it", &ts, Some(&card_ts))).await;
    fake.until("reply relayed to Discord", |f| {
        f.texts(dm).iter().any(|t| t.contains("Facilities are on it"))
    })
    .await;
    fake.post(dm, false, ERIN, "great, thanks");
    bot.wait_post(AGENTS, "great, thanks").await;
    let ticket = bot.store.ticket(TicketNumber(1001)).await.unwrap().unwrap();
    assert_eq!(ticket.requester, UserRef::new(Platform::Discord, ERIN.0.to_string()));
    assert!(fake.spec_problems().is_empty(), "{:?}", fake.spec_problems());
    bot.stop().await;
}

/// The gateway never delivers an event again: a message whose commit fails (the database is
/// locked by another process past its busy timeout) is lost, and says so: an ERROR and
/// `deskbot_events_lost_total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_event_that_cannot_be_committed_is_counted_as_lost() {
    use sqlx::Connection;
    let env = Env::start().await;
    let sample = r#"deskbot_events_lost_total{platform="discord"}"#;
    let lost = || async {
        let body = env.http.get(format!("{}/metrics", env.base)).send().await.unwrap().text().await.unwrap();
        body.lines()
            .find(|l| l.starts_with(sample))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = lost().await;
    let url = format!("sqlite:{}", env._dir.path().join("deskbot.db").display());
    let mut lock = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut lock).await.unwrap();
    let dm = env.fake.dm_channel(ERIN.0, ERIN.1);
    env.fake.post(dm, false, ERIN, "I forgot my password");
    let mut after = before;
    for _ in 0..750 {
        after = lost().await;
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(after, before + 1.0, "the failed event is counted as lost");
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    // The next message goes through: nothing is stuck.
    env.fake.post(dm, false, ERIN, "I forgot my password");
    let texts = env.texts(dm, 1).await;
    assert!(texts[0].to_lowercase().contains("password"), "{texts:?}");
    env.finish().await;
}

/// Wait until the store has recorded the event `id` (the router's key: `msg:{channel}:{id}`,
/// `action:{interaction}`): it was handled or turned away, so anything it would have changed
/// has changed.
/// Wait until everything queued has been sent (or given up on).
async fn wait_outbox_empty(store: &DynStore) {
    for _ in 0..1500 {
        if store.outbox_depth().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the outbox never emptied");
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

#[tokio::test]
async fn a_bystander_can_neither_answer_nor_press_buttons_in_someone_elses_conversation() {
    let env = Env::start().await;
    let m = env.fake.post(GENERAL, true, ERIN, &format!("<@{BOT_ID}> my vpn keeps dropping"));
    env.texts(m, 1).await;
    let answer = env.fake.posted(m)[0].clone();
    let person = button(&answer, "Talk to a person");

    // Max presses Erin's "Talk to a person": a private note, nothing filed.
    let press = env.fake.button(m, true, MAX, id_of(&answer), &person);
    let press_id = press["id"].as_str().unwrap().to_string();
    env.fake.dispatch("INTERACTION_CREATE", press);
    env.fake.until("an answer to max's press", |f| f.callbacks().iter().any(|(id, _)| *id == press_id)).await;
    let note = env.fake.callbacks().into_iter().find(|(id, _)| *id == press_id).unwrap().1;
    assert_eq!(note["type"], 4, "{note}");
    assert_eq!(note["data"]["flags"], 64, "the note is ephemeral: {note}");
    assert!(note["data"]["content"].as_str().unwrap().contains("someone else"), "{note}");
    // Max answers Erin's question in her thread: people talking, not Erin's answer.
    let chatter = env.fake.post(m, true, MAX, "2");
    wait_seen(&env.store, &format!("msg:{m}:{chatter}")).await;
    assert!(env.tickets().await.is_empty());
    assert_eq!(env.fake.texts(m).len(), 1, "{:?}", env.fake.texts(m));

    // Erin's own press files her ticket, with her as the requester.
    let press = env.fake.button(m, true, ERIN, id_of(&answer), &person);
    env.fake.dispatch("INTERACTION_CREATE", press);
    env.texts(m, 2).await;
    let asked = env.fake.texts(m);
    if !asked.iter().any(|t| t.contains("IT-1001")) {
        // The intent asks for details first; Erin gives them.
        env.fake.post(m, true, ERIN, "it drops every ten minutes on the office wifi");
    }
    let tickets = env.wait_tickets(1).await;
    assert_eq!(tickets[0].requester, UserRef::new(Platform::Discord, ERIN.0.to_string()));
    env.finish().await;
}

#[tokio::test]
async fn a_forged_reply_form_id_cannot_aim_at_another_card() {
    let env = Env::start().await;
    // Erin's ticket, with its card in the agents' channel.
    let m = env.fake.post(GENERAL, true, ERIN, "the coffee machine on floor 2 eats every cup");
    env.fake.react(GENERAL, true, m, MAX, "🎫");
    env.wait_tickets(1).await;
    env.texts(QUEUE, 1).await;
    let card = env.fake.posted(QUEUE)[0].clone();
    // Kim submits a reply form from a plain message in GENERAL whose id names the card.
    let plain = env.fake.post(GENERAL, true, KIM, "just a message");
    let forged = format!("desk:reply:{QUEUE}:{}", id_of(&card));
    let submit = env.fake.modal_submit_on(GENERAL, true, KIM, plain, &forged, &[("text", "FORGED-REPLY")]);
    let submit_id: u64 = submit["id"].as_str().unwrap().parse().unwrap();
    env.fake.dispatch("INTERACTION_CREATE", submit);
    let refused = |f: &FakeDiscord| f.callbacks().into_iter().find(|(id, _)| *id == submit_id.to_string());
    env.fake.until("the form is refused", |f| refused(f).is_some()).await;
    let note = refused(&env.fake).unwrap().1;
    assert_eq!(note["data"]["flags"], 64, "{note}");
    let dm = env.fake.dm_of(ERIN.0).unwrap_or(0);
    assert!(
        !env.fake.texts(dm).iter().any(|t| t.contains("FORGED-REPLY")),
        "the forged form reached the requester"
    );
    let thread = id_of(&card);
    assert!(!env.fake.texts(thread).iter().any(|t| t.contains("FORGED-REPLY")));
    env.finish().await;
}

const MAL: (u64, &str) = (800_000_000_000_000_004, "@everyone *boss*");
/// What an employee can type to make text into markup, a disguised link or a ping.
const EVIL: &str =
    "[https://sso.example.com/login](https://evil.example) @everyone @here <@800000000000000002> *bold*";

/// Message creates and edits deskbot made, with their bodies and the fake's answers.
fn writes(f: &FakeDiscord) -> Vec<support::fake_discord::Call> {
    f.calls()
        .into_iter()
        .filter(|c| {
            c.status == 200 && c.path.contains("/messages") && matches!(c.method.as_str(), "POST" | "PATCH")
        })
        .filter(|c| !c.path.ends_with("/threads"))
        .collect()
}

/// The content holds `EVIL` only as text: no masked link, no mention, no emphasis.
fn assert_escaped(content: &str) {
    assert!(content.contains("\\[https://sso.example.com/login\\](https://evil.example)"), "{content}");
    assert!(!content.contains("login]("), "a masked link: {content}");
    assert!(content.contains("\\<@800000000000000002\\>") && content.contains("\\*bold\\*"), "{content}");
    assert!(!content.contains("@everyone") && !content.contains("@here"), "{content}");
}

#[tokio::test]
async fn employee_markup_reaches_agents_as_text_and_nothing_pings_anyone() {
    let drafts = tempfile::tempdir().unwrap();
    // A prefix of the desk's own: the reply form must use it.
    let extra =
        format!("[desk]\nreply_prefix = \"reply: \"\nkb_drafts_dir = \"{}\"\n", drafts.path().display());
    // Every queue is worked in the one agents' channel, wherever the text is routed.
    let env = Env::start_queues(&discord_queue(), &discord_queue(), &extra, Vec::new()).await;
    let dm = env.fake.dm_channel(MAL.0, MAL.1);
    env.fake.dispatch("INTERACTION_CREATE", env.fake.slash(dm, false, MAL, "new"));
    env.fake.until("ticket form", |f| f.callbacks().iter().any(|(_, b)| b["type"] == 9)).await;
    let submit =
        env.fake.modal_submit(dm, false, MAL, "deskbot:ticket", &[("summary", EVIL), ("details", "")]);
    env.fake.dispatch("INTERACTION_CREATE", submit);
    env.wait_tickets(1).await;
    env.texts(QUEUE, 1).await;
    let card = env.fake.posted(QUEUE)[0].clone();
    let card_id = id_of(&card);
    let create = writes(&env.fake).into_iter().find(|c| c.response["id"] == card["id"]).unwrap();
    assert_eq!(create.body["allowed_mentions"]["parse"], json!([]), "{:?}", create.body);
    let content = create.body["content"].as_str().unwrap();
    assert!(content.contains("\\[https://sso.example.com/login\\](https://evil.example)"), "{content}");
    assert!(content.contains("@\u{200B}everyone \\*boss\\*"), "the requester's name is text: {content}");
    assert_eq!(create.response["mention_everyone"], false);

    // Mallory adds a message: relayed to the ticket's thread as text.
    env.texts(card_id, 1).await;
    env.fake.post(dm, false, MAL, EVIL);
    env.fake.until("relay", |f| f.texts(card_id).iter().any(|t| t.starts_with("💬"))).await;
    let relay = env.fake.texts(card_id).into_iter().find(|t| t.starts_with("💬")).unwrap();
    assert_escaped(&relay);

    // Kim claims: the card edit carries no pings either.
    let claim = button(&card, "Claim");
    env.fake.dispatch("INTERACTION_CREATE", env.fake.button(QUEUE, true, KIM, card_id, &claim));
    env.fake.until("card edited", |f| f.calls().iter().any(|c| c.method == "PATCH" && c.status == 200)).await;
    let edit = env.fake.calls().into_iter().find(|c| c.method == "PATCH" && c.status == 200).unwrap();
    assert_eq!(edit.body["allowed_mentions"]["parse"], json!([]), "{:?}", edit.body);
    assert!(edit.body["content"].as_str().unwrap().contains("\\[https://sso.example.com/login\\]"));

    // The reply form relays with the configured prefix.
    let reply = button(&env.fake.message(card_id).unwrap(), "Reply to requester");
    env.fake.dispatch("INTERACTION_CREATE", env.fake.button(QUEUE, true, KIM, card_id, &reply));
    env.fake.until("reply form", |f| f.callbacks().iter().filter(|(_, b)| b["type"] == 9).count() == 2).await;
    let form = env.fake.callbacks().into_iter().filter(|(_, b)| b["type"] == 9).nth(1).unwrap().1;
    let form_id = form["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = env.fake.modal_submit_on(
        QUEUE,
        true,
        KIM,
        card_id,
        &form_id,
        &[("text", "Use the side entrance today")],
    );
    env.fake.dispatch("INTERACTION_CREATE", submit);
    env.fake.until("reply relayed", |f| f.texts(dm).iter().any(|t| t.contains("side entrance"))).await;

    // 📖 on Kim's note in the thread drafts an article from its text.
    let note = env.fake.post(card_id, true, KIM, "Fix: reset the badge reader from the panel");
    env.fake.react(card_id, true, note, KIM, "📖");
    env.fake.until("draft notice", |f| f.texts(card_id).iter().any(|t| t.contains("draft KB article"))).await;
    let files: Vec<_> = std::fs::read_dir(drafts.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(std::fs::read_to_string(&files[0]).unwrap().contains("reset the badge reader"));

    // Every message deskbot created or edited said "ping nobody", and nobody was pinged.
    let all = writes(&env.fake);
    assert!(all.len() >= 6, "{all:?}");
    for c in &all {
        assert_eq!(c.body["allowed_mentions"]["parse"], json!([]), "{} {} {:?}", c.method, c.path, c.body);
        assert_eq!(c.response["mention_everyone"], false, "{:?}", c.response);
        assert_eq!(c.response["mentions"], json!([]), "{:?}", c.response);
    }
    env.finish().await;
}

#[tokio::test]
async fn thread_names_are_made_from_redacted_text() {
    let env = Env::start().await;
    let text = format!("<@{BOT_ID}> card 4111 1111 1111 1111 charged twice, write to erin@example.com");
    let m = env.fake.post(GENERAL, true, ERIN, &text);
    env.texts(m, 1).await;
    let name = env.fake.channel(m).expect("a thread on the message")["name"].as_str().unwrap().to_string();
    assert!(name.contains("charged twice"), "{name}");
    assert!(
        !name.contains("4111") && !name.contains("erin@example.com"),
        "personal data in a thread name: {name}"
    );
    env.finish().await;
}

const REV: (u64, &str) = (800_000_000_000_000_005, "rev");

/// Every way an agent acts, tried by one whose grant was revoked while deskbot.toml still
/// lists them: a command in the thread (refused by DM: a bot's ephemeral message needs an
/// interaction), the card's claim button and the reply form (ephemeral answers), a ✅ on the
/// card (DM). None of it changes the ticket or reaches the requester; Kim, still an agent,
/// claims it with the same button.
#[tokio::test]
async fn a_revoked_agent_is_refused_on_every_input_through_discord() {
    let queue = format!(
        "channel = {{ discord = \"{QUEUE}\" }}\nagents = [\"discord:{}\", \"discord:{}\"]",
        KIM.0, REV.0
    );
    let env = Env::start_with(&queue, "", Vec::new()).await;
    let rev = UserRef::new(Platform::Discord, REV.0.to_string());
    let now = chrono::Utc::now().timestamp_millis();
    let revoked = env
        .store
        .revoke_role(
            &rev,
            deskbot::store::compliance::Role::Agent,
            "service-desk",
            "cli:ann",
            "left the team",
            now,
        )
        .await
        .unwrap();
    assert!(revoked);
    // Every process rereads the ledger within this bound.
    tokio::time::sleep(deskbot::service::GRANTS_MAX_AGE + Duration::from_millis(300)).await;

    let m = env.fake.post(GENERAL, true, ERIN, "the coffee machine on floor 2 eats every cup");
    env.fake.react(GENERAL, true, m, MAX, "🎫");
    env.wait_tickets(1).await;
    env.texts(QUEUE, 1).await;
    let card = env.fake.posted(QUEUE)[0].clone();
    let card_id = id_of(&card);
    // The ticket's thread on the card exists once its first message is there.
    env.texts(card_id, 1).await;
    let status = || async { env.store.ticket(TicketNumber(1001)).await.unwrap().unwrap() };
    let before = status().await;
    let dm_refusals = |f: &FakeDiscord| {
        f.dm_of(REV.0).map(|dm| f.texts(dm).iter().filter(|t| t.contains("Only agents")).count()).unwrap_or(0)
    };

    // A command in the ticket's thread: a DM refusal.
    let claim_text = env.fake.post(card_id, true, REV, "!claim");
    wait_seen(&env.store, &format!("msg:{card_id}:{claim_text}")).await;
    env.fake.until("a DM refusal for the command", |f| dm_refusals(f) >= 1).await;
    // The card's claim button: an ephemeral refusal.
    let claim = button(&card, "Claim");
    let press = env.fake.button(QUEUE, true, REV, card_id, &claim);
    let press_id = press["id"].as_str().unwrap().to_string();
    env.fake.dispatch("INTERACTION_CREATE", press);
    env.fake.until("an answer to the press", |f| f.callbacks().iter().any(|(id, _)| *id == press_id)).await;
    let note = env.fake.callbacks().into_iter().find(|(id, _)| *id == press_id).unwrap().1;
    assert_eq!(note["data"]["flags"], 64, "ephemeral: {note}");
    assert!(note["data"]["content"].as_str().unwrap().contains("Only agents"), "{note}");
    // ✅ on the card: a DM refusal.
    env.fake.react(QUEUE, true, card_id, REV, "✅");
    env.fake.until("a DM refusal for the reaction", |f| dm_refusals(f) >= 2).await;
    // The reply form, submitted from the card: an ephemeral refusal.
    let form_id = "desk:reply".to_string();
    let submit = env.fake.modal_submit_on(QUEUE, true, REV, card_id, &form_id, &[("text", "REVOKED-REPLY")]);
    let submit_id = submit["id"].as_str().unwrap().to_string();
    env.fake.dispatch("INTERACTION_CREATE", submit);
    env.fake.until("an answer to the form", |f| f.callbacks().iter().any(|(id, _)| *id == submit_id)).await;
    let note = env.fake.callbacks().into_iter().find(|(id, _)| *id == submit_id).unwrap().1;
    assert_eq!(note["data"]["flags"], 64, "ephemeral: {note}");
    assert!(note["data"]["content"].as_str().unwrap().contains("Only agents"), "{note}");

    let after = status().await;
    assert_eq!((after.status, &after.assignee), (before.status, &before.assignee), "nothing changed");
    let erin_dm = env.fake.dm_of(ERIN.0).unwrap_or(0);
    assert!(!env.fake.texts(erin_dm).iter().any(|t| t.contains("REVOKED-REPLY")));
    assert!(!env.fake.texts(card_id).iter().any(|t| t.contains("Only agents")), "refusals are private");

    // Kim, still an agent, claims with the same button.
    let press = env.fake.button(QUEUE, true, KIM, card_id, &claim);
    env.fake.dispatch("INTERACTION_CREATE", press);
    for _ in 0..500 {
        if status().await.assignee.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(status().await.assignee.is_some_and(|a| a.contains(&KIM.0.to_string())));
    env.finish().await;
}
