//! A fake Discord for tests: the REST routes deskbot uses (recording every call with its
//! body and the answer given) and a gateway websocket that speaks the real protocol (HELLO,
//! IDENTIFY → READY, heartbeat ACKs, dispatches with sequence numbers, RESUME → replay →
//! RESUMED, RECONNECT). Faults: 429 with `retry_after`, a dropped socket, a repeated
//! dispatch, and (on the test side) forged interaction signatures. Payload shapes follow
//! Discord's API documentation; `spec_problems` checks them against the official OpenAPI spec.

#[path = "fake_discord_rest.rs"]
mod rest;
#[path = "fake_discord_tls.rs"]
mod tls;

use axum::Router;
use ed25519_dalek::{Signer, SigningKey};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;

pub const BOT_ID: u64 = 900_000_000_000_000_001;
pub const APP_ID: u64 = 900_000_000_000_000_002;
pub const GUILD: u64 = 910_000_000_000_000_001;
pub const TOKEN: &str = "fake-bot-token";
const SIGNING_SEED: [u8; 32] = [7; 32];
/// Short, so tests see heartbeats (Discord says about 41 s).
const HEARTBEAT_MS: u64 = 400;
const TIMESTAMP: &str = "2026-11-25T07:00:00.000000+00:00";

/// One REST call deskbot made, and the answer it got.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub status: u16,
    pub response: Value,
    pub auth: Option<String>,
}

/// A gateway frame the client sent (op code and data).
#[derive(Debug, Clone)]
pub struct Sent {
    pub op: u64,
    pub d: Value,
}

enum Control {
    Frame(String),
    Drop,
}

#[derive(Default)]
struct State_ {
    calls: Vec<Call>,
    messages: HashMap<u64, Value>,
    /// Posted messages whose MESSAGE_CREATE is held back.
    held: HashMap<u64, Value>,
    /// The time of the latest message a person posted, in ms.
    last_posted_ms: i64,
    channels: HashMap<u64, Value>,
    dms: HashMap<u64, u64>,
    nonces: HashMap<(u64, String), u64>,
    next_id: u64,
    /// The next N message creations answer 429.
    rate_limited: u32,
    // Gateway.
    seq: u64,
    dispatched: Vec<(u64, String)>,
    session: Option<String>,
    sessions: u64,
    conn: Option<mpsc::UnboundedSender<Control>>,
    /// Client frames, in order.
    sent: Vec<Sent>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub rest: SocketAddr,
    pub gateway: SocketAddr,
    st: Arc<Mutex<State_>>,
}

pub fn user(id: u64, name: &str) -> Value {
    json!({
        "id": id.to_string(), "username": name, "avatar": null, "discriminator": "0",
        "public_flags": 0, "flags": 0, "global_name": name, "primary_guild": null, "bot": id == BOT_ID,
    })
}

/// Now, as Discord writes a message's time (a message's time is when it was posted).
fn now_timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// A message object as Discord documents it.
pub fn message(
    id: u64,
    channel: u64,
    guild: Option<u64>,
    author: Value,
    content: &str,
    mentions: Vec<Value>,
) -> Value {
    let mut m = json!({
        "id": id.to_string(), "channel_id": channel.to_string(), "author": author, "content": content,
        "timestamp": now_timestamp(), "edited_timestamp": null, "tts": false, "mention_everyone": false,
        "mentions": mentions, "mention_roles": [], "attachments": [], "embeds": [], "pinned": false,
        "type": 0, "flags": 0, "components": [],
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g.to_string());
    }
    m
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let rest_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let st = Arc::new(Mutex::new(State_ { next_id: 1_000_000_000_000_000_000, ..State_::default() }));
        let fake =
            FakeDiscord { rest: rest_l.local_addr().unwrap(), gateway: gw_l.local_addr().unwrap(), st };
        let app = fake.router();
        tokio::spawn(async move { axum::serve(rest_l, app).await.ok() });
        let f = fake.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = gw_l.accept().await {
                let f = f.clone();
                tokio::spawn(async move { f.connection(tcp).await });
            }
        });
        fake
    }

    /// The REST routes, as an axum router.
    fn router(&self) -> Router {
        Router::new().fallback(rest::rest).with_state(self.clone())
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", self.rest)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.gateway)
    }

    fn id(&self) -> u64 {
        let mut s = self.st.lock().unwrap();
        s.next_id += 1;
        s.next_id
    }

    // ---- world setup -------------------------------------------------------------------

    /// A guild text channel.
    pub fn text_channel(&self, id: u64, name: &str) {
        let c = json!({"id": id.to_string(), "type": 0, "flags": 0, "guild_id": GUILD.to_string(),
            "name": name, "position": 0, "parent_id": null, "nsfw": false, "permission_overwrites": []});
        self.st.lock().unwrap().channels.insert(id, c);
    }

    /// A guild forum channel: posts are threads whose first message is the post.
    pub fn forum_channel(&self, id: u64, name: &str) {
        let c = json!({"id": id.to_string(), "type": 15, "flags": 0, "guild_id": GUILD.to_string(),
            "name": name, "position": 0, "parent_id": null, "nsfw": false, "permission_overwrites": [],
            "available_tags": [], "default_reaction_emoji": null, "default_sort_order": null,
            "default_forum_layout": 0, "default_thread_rate_limit_per_user": 0});
        self.st.lock().unwrap().channels.insert(id, c);
    }

    /// A DM channel between the bot and `user`.
    pub fn dm_channel(&self, user_id: u64, name: &str) -> u64 {
        let id = self.id();
        let c = json!({"id": id.to_string(), "type": 1, "flags": 0, "last_message_id": null,
            "recipients": [user(user_id, name)]});
        let mut s = self.st.lock().unwrap();
        s.channels.insert(id, c);
        s.dms.insert(user_id, id);
        id
    }

    /// A thread someone else started in `parent`.
    pub fn foreign_thread(&self, parent: u64, owner: u64) -> u64 {
        let id = self.id();
        let t = thread(id, parent, owner, "chat");
        self.st.lock().unwrap().channels.insert(id, t);
        id
    }

    pub fn rate_limit_next(&self, n: u32) {
        self.st.lock().unwrap().rate_limited = n;
    }

    // ---- what deskbot did --------------------------------------------------------------

    pub fn calls(&self) -> Vec<Call> {
        self.st.lock().unwrap().calls.clone()
    }

    /// Messages posted (successfully) to `channel`, as their content, in order.
    pub fn posted(&self, channel: u64) -> Vec<Value> {
        let path = format!("/api/v10/channels/{channel}/messages");
        self.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path == path && c.status == 200)
            .map(|c| c.response)
            .collect()
    }

    pub fn texts(&self, channel: u64) -> Vec<String> {
        self.posted(channel).iter().map(|m| m["content"].as_str().unwrap_or_default().to_string()).collect()
    }

    /// The current content of a message (after edits).
    pub fn message(&self, id: u64) -> Option<Value> {
        self.st.lock().unwrap().messages.get(&id).cloned()
    }

    pub fn channel(&self, id: u64) -> Option<Value> {
        self.st.lock().unwrap().channels.get(&id).cloned()
    }

    /// The DM channel deskbot opened with `user`, if any.
    pub fn dm_of(&self, user_id: u64) -> Option<u64> {
        self.st.lock().unwrap().dms.get(&user_id).copied()
    }

    /// Interaction callbacks deskbot sent, as `(interaction id, body)`.
    pub fn callbacks(&self) -> Vec<(String, Value)> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.starts_with("/api/v10/interactions/"))
            .map(|c| (c.path.split('/').nth(4).unwrap_or_default().to_string(), c.body))
            .collect()
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.st.lock().unwrap().sent.clone()
    }

    pub fn identifies(&self) -> usize {
        self.sent().iter().filter(|s| s.op == 2).count()
    }

    pub fn resumes(&self) -> Vec<Value> {
        self.sent().into_iter().filter(|s| s.op == 6).map(|s| s.d).collect()
    }

    /// Wait until `f` holds (polling), or panic with `what` after 30 s (slow machines).
    pub async fn until(&self, what: &str, f: impl Fn(&FakeDiscord) -> bool) {
        for _ in 0..1500 {
            if f(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "timed out waiting for: {what}\ncalls: {:#?}",
            self.calls().iter().map(|c| format!("{} {} {}", c.method, c.path, c.status)).collect::<Vec<_>>()
        );
    }

    /// Wait for a live, identified or resumed session.
    pub async fn ready(&self) {
        self.until("gateway session", |f| {
            let s = f.st.lock().unwrap();
            s.session.is_some() && s.conn.is_some()
        })
        .await;
    }

    // ---- gateway -----------------------------------------------------------------------

    /// Send a dispatch (or keep it for replay when no client is connected). Returns its `s`.
    pub fn dispatch(&self, t: &str, d: Value) -> u64 {
        let mut s = self.st.lock().unwrap();
        s.seq += 1;
        let frame = json!({"op": 0, "t": t, "s": s.seq, "d": d}).to_string();
        let seq = s.seq;
        s.dispatched.push((seq, frame.clone()));
        if let Some(c) = &s.conn {
            let _ = c.send(Control::Frame(frame));
        }
        seq
    }

    /// Deliver dispatch `seq` again, as a new dispatch with the same payload (Discord does
    /// after a resume, or by mistake). Returns the new sequence number.
    pub fn redispatch(&self, seq: u64) -> u64 {
        let frame = {
            let s = self.st.lock().unwrap();
            s.dispatched.iter().find(|(n, _)| *n == seq).map(|(_, f)| f.clone())
        };
        let v: Value = serde_json::from_str(&frame.expect("a dispatch with that seq")).unwrap();
        self.dispatch(v["t"].as_str().unwrap(), v["d"].clone())
    }

    /// The sequence number of the last dispatch.
    pub fn last_seq(&self) -> u64 {
        self.st.lock().unwrap().seq
    }

    /// Close the TCP connection without a close frame.
    pub fn drop_socket(&self) {
        let mut s = self.st.lock().unwrap();
        if let Some(c) = s.conn.take() {
            let _ = c.send(Control::Drop);
        }
    }

    /// Ask the client to reconnect (op 7).
    pub fn request_reconnect(&self) {
        let s = self.st.lock().unwrap();
        if let Some(c) = &s.conn {
            let _ = c.send(Control::Frame(json!({"op": 7, "d": null}).to_string()));
        }
    }

    /// Whether a client is connected right now.
    pub fn connected(&self) -> bool {
        self.st.lock().unwrap().conn.is_some()
    }

    async fn connection(&self, tcp: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
        let (mut tx, mut rx) = ws.split();
        let (ctl_tx, mut ctl_rx) = mpsc::unbounded_channel();
        if tx
            .send(Ws::text(json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}}).to_string()))
            .await
            .is_err()
        {
            return;
        }
        loop {
            tokio::select! {
                frame = rx.next() => {
                    let Some(Ok(frame)) = frame else { break };
                    let Ws::Text(text) = frame else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                    let op = v["op"].as_u64().unwrap_or(99);
                    self.st.lock().unwrap().sent.push(Sent { op, d: v["d"].clone() });
                    let out: Vec<String> = match op {
                        1 => vec![json!({"op": 11}).to_string()],
                        2 => self.identify(&ctl_tx),
                        6 => self.resume(&v["d"], &ctl_tx),
                        _ => Vec::new(),
                    };
                    for o in out {
                        if tx.send(Ws::text(o)).await.is_err() {
                            return;
                        }
                    }
                }
                ctl = ctl_rx.recv() => match ctl {
                    Some(Control::Frame(f)) => {
                        if tx.send(Ws::text(f)).await.is_err() {
                            break;
                        }
                    }
                    Some(Control::Drop) | None => return,
                },
            }
        }
        let mut s = self.st.lock().unwrap();
        if s.conn.as_ref().is_some_and(|c| c.same_channel(&ctl_tx)) {
            s.conn = None;
        }
    }

    fn identify(&self, ctl: &mpsc::UnboundedSender<Control>) -> Vec<String> {
        let mut s = self.st.lock().unwrap();
        s.sessions += 1;
        let session = format!("session-{}", s.sessions);
        s.session = Some(session.clone());
        s.seq += 1;
        let ready = json!({"op": 0, "t": "READY", "s": s.seq, "d": {
            "v": 10, "user": user(BOT_ID, "deskbot"), "guilds": [], "session_id": session,
            "resume_gateway_url": format!("ws://{}", self.gateway),
            "application": {"id": APP_ID.to_string(), "flags": 0},
        }})
        .to_string();
        let seq = s.seq;
        s.dispatched.push((seq, ready.clone()));
        s.conn = Some(ctl.clone());
        vec![ready]
    }

    fn resume(&self, d: &Value, ctl: &mpsc::UnboundedSender<Control>) -> Vec<String> {
        let mut s = self.st.lock().unwrap();
        if d["session_id"].as_str() != s.session.as_deref() {
            return vec![json!({"op": 9, "d": false}).to_string()];
        }
        let from = d["seq"].as_u64().unwrap_or(0);
        let mut out: Vec<String> =
            s.dispatched.iter().filter(|(n, _)| *n > from).map(|(_, f)| f.clone()).collect();
        s.seq += 1;
        let resumed = json!({"op": 0, "t": "RESUMED", "s": s.seq, "d": {}}).to_string();
        out.push(resumed);
        s.conn = Some(ctl.clone());
        out
    }

    // ---- events from people --------------------------------------------------------------

    /// A person posts a message (stored so deskbot can fetch it) and the gateway dispatches it.
    pub fn post(&self, channel: u64, guild: bool, author: (u64, &str), content: &str) -> u64 {
        let (id, d) = self.compose(channel, guild, author, content);
        self.dispatch("MESSAGE_CREATE", d);
        id
    }

    /// A message posted now whose MESSAGE_CREATE the gateway sends only when
    /// [`FakeDiscord::release`] is called: events reach a bot out of the order they were posted.
    pub fn post_held(&self, channel: u64, guild: bool, author: (u64, &str), content: &str) -> u64 {
        let (id, d) = self.compose(channel, guild, author, content);
        self.st.lock().unwrap().held.insert(id, d);
        id
    }

    /// Send a held message's MESSAGE_CREATE.
    pub fn release(&self, id: u64) {
        let d = self.st.lock().unwrap().held.remove(&id).expect("a held message");
        self.dispatch("MESSAGE_CREATE", d);
    }

    /// A new message in the fake's world, and its MESSAGE_CREATE payload.
    fn compose(&self, channel: u64, guild: bool, author: (u64, &str), content: &str) -> (u64, Value) {
        let id = self.id();
        let mentions =
            if content.contains(&format!("<@{BOT_ID}>")) { vec![user(BOT_ID, "deskbot")] } else { vec![] };
        let mut m = message(id, channel, guild.then_some(GUILD), user(author.0, author.1), content, mentions);
        {
            // People's messages are at least a millisecond apart, so their order shows in
            // their times (as it does in Discord's, where two come from two keyboards).
            let mut st = self.st.lock().unwrap();
            let now = chrono::Utc::now().timestamp_millis().max(st.last_posted_ms + 1);
            st.last_posted_ms = now;
            let at = chrono::DateTime::from_timestamp_millis(now).expect("a time");
            m["timestamp"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false));
            st.messages.insert(id, m.clone());
        }
        let mut d = m;
        if guild {
            d["member"] =
                json!({"roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false, "flags": 0});
        }
        (id, d)
    }

    pub fn react(&self, channel: u64, guild: bool, message_id: u64, who: (u64, &str), emoji: &str) -> u64 {
        let author = self.message(message_id).and_then(|m| m["author"]["id"].as_str().map(str::to_string));
        let mut d = json!({"user_id": who.0.to_string(), "channel_id": channel.to_string(),
            "message_id": message_id.to_string(), "emoji": {"id": null, "name": emoji},
            "burst": false, "type": 0, "message_author_id": author});
        if guild {
            d["guild_id"] = json!(GUILD.to_string());
            d["member"] = json!({"user": user(who.0, who.1), "roles": [], "joined_at": TIMESTAMP,
                "deaf": false, "mute": false, "flags": 0});
        }
        self.dispatch("MESSAGE_REACTION_ADD", d)
    }

    /// THREAD_CREATE for a thread in the fake's world.
    pub fn announce_thread(&self, id: u64) -> u64 {
        let t = self.channel(id).expect("known thread");
        let mut d = t;
        d["newly_created"] = json!(true);
        self.dispatch("THREAD_CREATE", d)
    }

    // ---- interactions --------------------------------------------------------------------

    fn interaction(&self, kind: u8, channel: u64, guild: bool, who: (u64, &str), data: Value) -> Value {
        let id = self.id();
        let mut i = json!({
            "id": id.to_string(), "application_id": APP_ID.to_string(), "type": kind,
            "token": format!("tok-{id}"), "version": 1, "channel_id": channel.to_string(),
            "locale": "en-US", "entitlements": [], "attachment_size_limit": 10485760,
            "app_permissions": "0", "authorizing_integration_owners": {}, "data": data,
        });
        if guild {
            i["guild_id"] = json!(GUILD.to_string());
            i["guild_locale"] = json!("en-US");
            i["member"] = json!({"user": user(who.0, who.1), "roles": [], "joined_at": TIMESTAMP,
                "deaf": false, "mute": false, "flags": 0, "permissions": "0"});
        } else {
            i["user"] = user(who.0, who.1);
        }
        i
    }

    pub fn slash(&self, channel: u64, guild: bool, who: (u64, &str), sub: &str) -> Value {
        let data = json!({"id": "1", "name": "helpdesk", "type": 1,
            "options": [{"name": sub, "type": 1, "options": []}]});
        self.interaction(2, channel, guild, who, data)
    }

    pub fn message_command(&self, channel: u64, who: (u64, &str), target: u64) -> Value {
        let m = self.message(target).expect("target message");
        let data = json!({"id": "2", "name": "Create ticket", "type": 3, "target_id": target.to_string(),
            "resolved": {"messages": {target.to_string(): m}}});
        self.interaction(2, channel, true, who, data)
    }

    pub fn button(
        &self,
        channel: u64,
        guild: bool,
        who: (u64, &str),
        message_id: u64,
        custom_id: &str,
    ) -> Value {
        let m = self.message(message_id).expect("message with the button");
        let mut i =
            self.interaction(3, channel, guild, who, json!({"custom_id": custom_id, "component_type": 2}));
        i["message"] = m;
        i
    }

    pub fn modal_submit(
        &self,
        channel: u64,
        guild: bool,
        who: (u64, &str),
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> Value {
        let rows: Vec<Value> = fields
            .iter()
            .map(|(id, v)| json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": v}]}))
            .collect();
        self.interaction(5, channel, guild, who, json!({"custom_id": custom_id, "components": rows}))
    }

    /// A form submitted from a button on `message_id`: Discord sends that message along.
    pub fn modal_submit_on(
        &self,
        channel: u64,
        guild: bool,
        who: (u64, &str),
        message_id: u64,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> Value {
        let mut i = self.modal_submit(channel, guild, who, custom_id, fields);
        i["message"] = self.message(message_id).expect("message the form was opened from");
        i
    }

    /// Headers for a signed interaction request (Ed25519 over timestamp + body).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let key = SigningKey::from_bytes(&SIGNING_SEED);
        let mut msg = timestamp.as_bytes().to_vec();
        msg.extend_from_slice(body);
        hex::encode(key.sign(&msg).to_bytes())
    }

    pub fn public_key_hex() -> String {
        hex::encode(SigningKey::from_bytes(&SIGNING_SEED).verifying_key().to_bytes())
    }

    /// Problems with the recorded traffic against Discord's OpenAPI spec: every request body
    /// deskbot sent and every answer the fake gave, for the routes the spec describes.
    pub fn spec_problems(&self) -> Vec<String> {
        super::discord_spec::check(&self.calls())
    }
}

fn thread(id: u64, parent: u64, owner: u64, name: &str) -> Value {
    json!({"id": id.to_string(), "type": 11, "flags": 0, "guild_id": GUILD.to_string(),
        "parent_id": parent.to_string(), "owner_id": owner.to_string(), "name": name,
        "last_message_id": null, "rate_limit_per_user": 0,
        "thread_metadata": {"archived": false, "archive_timestamp": TIMESTAMP,
            "auto_archive_duration": 10080, "locked": false, "create_timestamp": TIMESTAMP},
        "message_count": 0, "member_count": 1, "total_message_sent": 0})
}
