//! A local fake Slack for end-to-end tests. It speaks the wire protocol the real
//! slack-morphism client uses: the Web API (`/api/{method}`, bearer tokens, JSON or form
//! bodies, Slack's `{"ok": …}` envelopes and 429 + Retry-After), Socket Mode
//! (`apps.connections.open` hands out a local `ws://` URL; envelopes are acknowledged by
//! `envelope_id`; `hello` and `disconnect` messages) and signed Events API requests to
//! deskbot's own endpoints (`v0:timestamp:body` HMAC-SHA256). It records every call and
//! can inject faults: rate limits, dropped sockets, repeated deliveries, bad signatures, and
//! `chat.postMessage` answers that stall, drop the connection or are garbage (after or before
//! the message is posted). Posted messages keep their `metadata` and are listed by
//! `conversations.history` / `conversations.replies` (metadata only with
//! `include_all_metadata`, as Slack does).
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub const BOT_TOKEN: &str = "xoxb-1-fake-bot-token";
pub const APP_TOKEN: &str = "xapp-1-fake-app-token";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const TEAM: &str = "T0FAKETEAM";
pub const BOT_USER: &str = "U0DESKBOT";
pub const BOT_ID: &str = "B0DESKBOT1";
pub const APP_ID: &str = "A0DESKBOT1";

/// One Web API call deskbot made, with the answer the fake gave.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub token: Option<String>,
    pub status: u16,
    pub response: Value,
    /// When the fake received it.
    pub at: std::time::Instant,
}

/// What the fake does with one `chat.postMessage` call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PostFault {
    /// Post the message, then answer only after this long (the client has given up).
    StallAfter(Duration),
    /// Answer nothing for this long, without posting.
    StallBefore(Duration),
    /// Post the message, then cut the connection in the middle of the answer.
    DropAfter,
    /// Post the message, then answer 200 with a body that is not JSON.
    GarbageAfter,
    /// Answer 500 without posting.
    ServerError,
}

enum WsCmd {
    Text(String),
    /// Close the TCP connection without a close frame.
    Drop,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    /// Method → (answers left to rate-limit, Retry-After seconds).
    limits: Mutex<HashMap<String, (u32, u64)>>,
    sockets: Mutex<Vec<(usize, mpsc::UnboundedSender<WsCmd>)>>,
    acks: Mutex<Vec<Value>>,
    /// Envelopes sent but not acknowledged: sent again on the next connection, as Slack does.
    pending: Mutex<Vec<(String, String)>>,
    connects: AtomicUsize,
    /// Answer `apps.connections.open` with an error (Slack unreachable for sockets).
    refuse_sockets: std::sync::atomic::AtomicBool,
    next_ts: AtomicU64,
    next_id: AtomicU64,
    /// Messages known to `conversations.history`: (channel, ts) → (user, text).
    history: Mutex<HashMap<(String, String), (String, String)>>,
    names: Mutex<HashMap<String, String>>,
    /// Email → user id (for `users.lookupByEmail`).
    emails: Mutex<HashMap<String, String>>,
    /// Remembered messages that are replies inside a thread: (channel, ts) → the parent's ts.
    threaded: Mutex<HashMap<(String, String), String>>,
    ws_port: Mutex<u16>,
    /// Faults for the next `chat.postMessage` calls, in order.
    post_faults: Mutex<std::collections::VecDeque<PostFault>>,
    /// Messages the bot posted: channel, ts, thread_ts, text, metadata.
    posted: Mutex<Vec<Value>>,
}

#[derive(Clone)]
pub struct FakeSlack {
    inner: Arc<Inner>,
    /// `http://127.0.0.1:PORT/api`, for `DESKBOT_SLACK_API_URL`.
    pub api_url: String,
    http: reqwest::Client,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let inner = Arc::new(Inner::default());
        inner.next_ts.store(now_secs() * 1_000_000, Ordering::SeqCst);
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *inner.ws_port.lock().unwrap() = ws.local_addr().unwrap().port();
        let api_url = format!("http://{}/api", api.local_addr().unwrap());
        let router = Router::new().route("/api/{method}", any(web_api)).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(api, router).await;
        });
        let ws_inner = inner.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = ws.accept().await {
                tokio::spawn(socket(ws_inner.clone(), stream));
            }
        });
        FakeSlack { inner, api_url, http: reqwest::Client::new() }
    }

    /// A user the fake knows (for `users.info`).
    pub fn add_user(&self, id: &str, name: &str) {
        self.inner.names.lock().unwrap().insert(id.to_string(), name.to_string());
    }

    /// A user's email (for `users.lookupByEmail`).
    pub fn add_email(&self, id: &str, email: &str) {
        self.inner.emails.lock().unwrap().insert(email.to_lowercase(), id.to_string());
    }

    /// A fresh timestamp for a person's message (`1700000000.001000`): a millisecond after the
    /// last one, so their order shows in their times as it does in Slack's.
    pub fn ts(&self) -> String {
        ts_string(self.inner.next_ts.fetch_add(1_000, Ordering::SeqCst))
    }

    /// Remember a message so `conversations.history` can return it.
    pub fn remember(&self, channel: &str, ts: &str, user: &str, text: &str) {
        self.inner
            .history
            .lock()
            .unwrap()
            .insert((channel.to_string(), ts.to_string()), (user.to_string(), text.to_string()));
    }

    /// Remember a reply inside a thread whose parent the test does not care about (found by
    /// `conversations.replies`, not history).
    pub fn remember_reply(&self, channel: &str, ts: &str, user: &str, text: &str) {
        self.remember_in_thread(channel, "1600000000.000100", ts, user, text);
    }

    /// Remember a reply inside the thread of message `parent`.
    pub fn remember_in_thread(&self, channel: &str, parent: &str, ts: &str, user: &str, text: &str) {
        self.remember(channel, ts, user, text);
        self.inner.threaded.lock().unwrap().insert((channel.to_string(), ts.to_string()), parent.to_string());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.method == method).collect()
    }

    /// Successful `chat.postMessage` calls.
    pub fn posts(&self) -> Vec<Call> {
        self.calls_to("chat.postMessage").into_iter().filter(|c| c.status == 200).collect()
    }

    /// Answer the next `times` calls to `method` with 429 and `Retry-After: secs`.
    pub fn rate_limit(&self, method: &str, times: u32, secs: u64) {
        self.inner.limits.lock().unwrap().insert(method.to_string(), (times, secs));
    }

    /// Apply these faults to the next `chat.postMessage` calls, one each.
    pub fn fault_posts(&self, faults: &[PostFault]) {
        self.inner.post_faults.lock().unwrap().extend(faults.iter().copied());
    }

    /// Faults not yet used.
    pub fn faults_left(&self) -> usize {
        self.inner.post_faults.lock().unwrap().len()
    }

    /// Every message the bot has posted (as Slack has them, whatever deskbot was told).
    pub fn posted(&self) -> Vec<Value> {
        self.inner.posted.lock().unwrap().clone()
    }

    /// Refuse (or again allow) new Socket Mode connections.
    pub fn refuse_sockets(&self, refuse: bool) {
        self.inner.refuse_sockets.store(refuse, Ordering::SeqCst);
    }

    /// How many websockets have been opened so far.
    pub fn connects(&self) -> usize {
        self.inner.connects.load(Ordering::SeqCst)
    }

    pub fn live_sockets(&self) -> usize {
        self.inner.sockets.lock().unwrap().iter().filter(|(_, s)| !s.is_closed()).count()
    }

    /// Wait until at least `n` websockets are live.
    pub async fn wait_sockets(&self, n: usize) {
        for _ in 0..500 {
            if self.live_sockets() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no Socket Mode connection within 10 s");
    }

    /// Cut every websocket without a close frame (a network drop).
    pub fn drop_sockets(&self) {
        let socks: Vec<_> = self.inner.sockets.lock().unwrap().drain(..).collect();
        for (_, s) in socks {
            let _ = s.send(WsCmd::Drop);
        }
    }

    /// Ask every client to reconnect, as Slack does before it recycles a host.
    pub fn send_disconnect(&self) {
        let msg = json!({ "type": "disconnect", "reason": "refresh_requested", "debug_info": { "host": "fake-slack" } });
        for (_, s) in self.inner.sockets.lock().unwrap().iter() {
            let _ = s.send(WsCmd::Text(msg.to_string()));
        }
    }

    /// Deliver one Socket Mode envelope to a live socket; returns its envelope id.
    pub fn envelope(&self, kind: &str, payload: Value, accepts_response_payload: bool) -> String {
        let id = format!("env-{}", self.inner.next_id.fetch_add(1, Ordering::SeqCst));
        let mut env = json!({
            "envelope_id": id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        });
        if kind == "events_api" {
            env["retry_attempt"] = json!(0);
            env["retry_reason"] = json!("");
        }
        self.inner.pending.lock().unwrap().push((id.clone(), env.to_string()));
        let socks = self.inner.sockets.lock().unwrap();
        if let Some((_, s)) = socks.iter().rev().find(|(_, s)| !s.is_closed()) {
            let _ = s.send(WsCmd::Text(env.to_string()));
        }
        id
    }

    /// Acknowledgements received so far.
    pub fn acks(&self) -> Vec<Value> {
        self.inner.acks.lock().unwrap().clone()
    }

    pub async fn wait_ack(&self, envelope: &str) -> Value {
        for _ in 0..500 {
            if let Some(a) = self.acks().into_iter().find(|a| a["envelope_id"] == envelope) {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("envelope {envelope} was not acknowledged within 10 s");
    }

    /// An `event_callback` wrapping `event`, as Slack sends it.
    pub fn callback(&self, event: Value) -> Value {
        json!({
            "token": "verification-token",
            "team_id": TEAM,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": format!("Ev{:08}", self.inner.next_id.fetch_add(1, Ordering::SeqCst)),
            "event_time": now_secs(),
            "authorizations": [{ "enterprise_id": null, "team_id": TEAM, "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false }],
            "is_ext_shared_channel": false,
            "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
        })
    }

    /// POST a signed request to deskbot; returns status and body.
    pub async fn post_signed(
        &self,
        url: &str,
        content_type: &str,
        body: String,
        sign: Sign,
    ) -> (u16, String) {
        let ts = match sign {
            Sign::Stale => now_secs() - 600,
            _ => now_secs(),
        }
        .to_string();
        let secret = if matches!(sign, Sign::Forged) { "not-the-secret" } else { SIGNING_SECRET };
        let mut req = self
            .http
            .post(url)
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", signature(secret, &ts, &body));
        if let Sign::Retry(n) = sign {
            req =
                req.header("x-slack-retry-num", n.to_string()).header("x-slack-retry-reason", "http_timeout");
        }
        let res = req.body(body).send().await.expect("deskbot answers");
        let status = res.status().as_u16();
        (status, res.text().await.unwrap_or_default())
    }
}

/// How a request to deskbot is signed.
#[derive(Debug, Clone, Copy)]
pub enum Sign {
    Good,
    /// A redelivery with `X-Slack-Retry-Num`.
    Retry(u32),
    Forged,
    Stale,
}

pub fn signature(secret: &str, ts: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// `application/x-www-form-urlencoded` encoding of pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn ts_string(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

fn parse_form(s: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k), Value::String(decode(v)));
    }
    out
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let h = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn err(error: &str) -> Value {
    json!({ "ok": false, "error": error })
}

async fn web_api(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = parse_form(query.as_deref().unwrap_or(""));
    let body = String::from_utf8_lossy(&body).into_owned();
    let json_body =
        headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
    if json_body {
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&body) {
            params.extend(m);
        }
    } else {
        params.extend(parse_form(&body));
    }
    let params = Value::Object(params);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| params["token"].as_str().map(str::to_string));
    let limited = {
        let mut limits = inner.limits.lock().unwrap();
        match limits.get_mut(&method) {
            Some((left, secs)) if *left > 0 => {
                *left -= 1;
                Some(*secs)
            }
            _ => None,
        }
    };
    let fault = if method == "chat.postMessage" && limited.is_none() {
        inner.post_faults.lock().unwrap().pop_front()
    } else {
        None
    };
    match fault {
        Some(PostFault::StallBefore(d)) => {
            tokio::time::sleep(d).await;
            return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(err("fake_stalled"))).into_response();
        }
        Some(PostFault::ServerError) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
        _ => {}
    }
    let (status, response) = match limited {
        Some(_) => (429, err("ratelimited")),
        None => (200, answer(&inner, &method, &params, token.as_deref())),
    };
    match fault {
        Some(PostFault::StallAfter(d)) => tokio::time::sleep(d).await,
        Some(PostFault::DropAfter) => {
            // Headers go out, then the connection dies in the middle of the body.
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"ok\": true, \"chan")),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fake drop")),
            ];
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(axum::body::Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap();
        }
        Some(PostFault::GarbageAfter) => {
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(axum::body::Body::from("<html>upstream hiccup</html>"))
                .unwrap();
        }
        _ => {}
    }
    inner.calls.lock().unwrap().push(Call {
        method: method.clone(),
        params,
        token,
        status,
        response: response.clone(),
        at: std::time::Instant::now(),
    });
    let mut res = (StatusCode::from_u16(status).unwrap(), axum::Json(response)).into_response();
    if let Some(secs) = limited {
        res.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
    }
    res
}

fn answer(inner: &Inner, method: &str, p: &Value, token: Option<&str>) -> Value {
    let app_method = method == "apps.connections.open";
    match (token, app_method) {
        (None, _) => return err("not_authed"),
        (Some(t), true) if t != APP_TOKEN => return err("invalid_auth"),
        (Some(t), false) if t != BOT_TOKEN => return err("invalid_auth"),
        _ => {}
    }
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let ts = || ts_string(inner.next_ts.fetch_add(100, Ordering::SeqCst));
    match method {
        "auth.test" => json!({
            "ok": true, "url": "https://fake.slack.com/", "team": "Fake Corp", "user": "deskbot",
            "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": false,
        }),
        "apps.connections.open" if inner.refuse_sockets.load(Ordering::SeqCst) => err("internal_error"),
        "apps.connections.open" => {
            let port = *inner.ws_port.lock().unwrap();
            json!({ "ok": true, "url": format!("ws://127.0.0.1:{port}/link/?ticket={}", inner.next_id.fetch_add(1, Ordering::SeqCst)) })
        }
        "chat.postMessage" => {
            let channel = s("channel");
            if channel.is_empty() {
                return err("channel_not_found");
            }
            if s("text").is_empty() && p.get("blocks").is_none() {
                return err("no_text");
            }
            let ts = ts();
            let mut message = json!({ "type": "message", "text": s("text"), "user": BOT_USER, "bot_id": BOT_ID, "ts": ts, "team": TEAM });
            // Slack keeps what was posted: history and replies find it later.
            let key = (channel.clone(), ts.clone());
            inner.history.lock().unwrap().insert(key.clone(), (BOT_USER.to_string(), s("text")));
            if let Some(t) = p["thread_ts"].as_str() {
                message["thread_ts"] = json!(t);
                inner.threaded.lock().unwrap().insert(key, t.to_string());
            }
            let metadata = match &p["metadata"] {
                Value::String(m) => serde_json::from_str(m).unwrap_or(Value::Null),
                m => m.clone(),
            };
            let mut kept = message.clone();
            kept["channel"] = json!(channel);
            if metadata.is_object() {
                kept["metadata"] = metadata;
            }
            inner.posted.lock().unwrap().push(kept);
            json!({ "ok": true, "channel": channel, "ts": ts, "message": message })
        }
        "chat.postEphemeral" => {
            if s("channel").is_empty() {
                return err("channel_not_found");
            }
            if s("user").is_empty() {
                return err("user_not_in_channel");
            }
            if s("text").is_empty() && p.get("blocks").is_none() {
                return err("no_text");
            }
            json!({ "ok": true, "message_ts": ts() })
        }
        "chat.update" => {
            json!({ "ok": true, "channel": s("channel"), "ts": s("ts"), "text": s("text"), "message": { "text": s("text") } })
        }
        "conversations.open" => {
            let user = p["users"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    p["users"].as_array().and_then(|a| a.first()).and_then(|u| u.as_str()).map(str::to_string)
                })
                .unwrap_or_default();
            if user.is_empty() {
                return err("users_list_not_supplied");
            }
            json!({ "ok": true, "channel": { "id": dm_of(&user) } })
        }
        "conversations.history" if p.get("latest").is_none() => {
            // The channel's recent top-level messages, newest first.
            let limit = p["limit"].as_str().and_then(|l| l.parse().ok()).unwrap_or(100usize);
            let meta = p["include_all_metadata"].as_str() == Some("true");
            let messages: Vec<Value> = inner
                .posted
                .lock()
                .unwrap()
                .iter()
                .rev()
                .filter(|m| m["channel"] == json!(s("channel")) && m.get("thread_ts").is_none())
                .take(limit)
                .map(|m| listed(m, meta))
                .collect();
            json!({ "ok": true, "messages": messages, "has_more": false, "pin_count": 0, "channel_actions_ts": null, "channel_actions_count": 0 })
        }
        "conversations.replies" => replies(inner, p),
        "conversations.history" => {
            let key = (s("channel"), s("latest"));
            let in_thread = inner.threaded.lock().unwrap().contains_key(&key);
            if in_thread {
                // History lists top-level messages only: the nearest earlier one comes back.
                return json!({
                    "ok": true,
                    "messages": [{ "type": "message", "user": "U0ADMIN01", "text": "an earlier message", "ts": "1600000000.000100" }],
                    "has_more": true, "pin_count": 0, "channel_actions_ts": null, "channel_actions_count": 0,
                });
            }
            let has_replies = inner.threaded.lock().unwrap().values().any(|parent| *parent == key.1);
            match inner.history.lock().unwrap().get(&key) {
                Some((user, text)) => {
                    let mut m = json!({ "type": "message", "user": user, "text": text, "ts": key.1 });
                    if has_replies {
                        // A parent carries its own ts as `thread_ts`.
                        m["thread_ts"] = json!(key.1);
                    }
                    json!({
                        "ok": true, "messages": [m],
                        "has_more": false, "pin_count": 0, "channel_actions_ts": null, "channel_actions_count": 0,
                    })
                }
                None => err("message_not_found"),
            }
        }
        "conversations.info" => {
            let name = if s("channel") == "C0ITHELP01" { "it-help" } else { "general" };
            let topic = json!({ "value": "", "creator": "", "last_set": 0 });
            json!({
                "ok": true,
                "channel": {
                    "id": s("channel"), "name": name, "name_normalized": name, "created": 1_600_000_000,
                    "creator": "U0ADMIN01", "is_archived": false, "is_channel": true, "is_general": false,
                    "is_mpim": false, "is_group": false, "is_org_shared": false, "is_im": false,
                    "is_shared": false, "is_private": false, "is_member": true,
                    "topic": topic, "purpose": topic,
                },
            })
        }
        "users.lookupByEmail" => {
            let Some(id) = inner.emails.lock().unwrap().get(&s("email").to_lowercase()).cloned() else {
                return err("users_not_found");
            };
            let name = inner.names.lock().unwrap().get(&id).cloned().unwrap_or_else(|| id.to_lowercase());
            json!({ "ok": true, "user": {
                "id": id, "team_id": TEAM, "name": name.to_lowercase(), "real_name": name, "deleted": false,
                "is_bot": false,
                "profile": { "real_name": name, "display_name": name, "avatar_hash": "", "real_name_normalized": name,
                    "display_name_normalized": name, "title": "", "phone": "", "skype": "", "status_text": "",
                    "status_emoji": "", "fields": null, "email": s("email") },
            }})
        }
        "users.info" => {
            let id = s("user");
            let name = inner.names.lock().unwrap().get(&id).cloned().unwrap_or_else(|| id.to_lowercase());
            json!({ "ok": true, "user": {
                "id": id, "team_id": TEAM, "name": name.to_lowercase(), "real_name": name, "deleted": false,
                "profile": { "real_name": name, "display_name": name, "avatar_hash": "", "real_name_normalized": name,
                    "display_name_normalized": name, "title": "", "phone": "", "skype": "", "status_text": "",
                    "status_emoji": "", "fields": null },
            }})
        }
        "reactions.add" => {
            let key = (s("channel"), s("timestamp"), s("name"));
            let seen = {
                let calls = inner.calls.lock().unwrap();
                calls.iter().any(|c| {
                    c.method == "reactions.add"
                        && c.status == 200
                        && c.response["ok"] == true
                        && (
                            c.params["channel"].as_str().unwrap_or(""),
                            c.params["timestamp"].as_str().unwrap_or(""),
                            c.params["name"].as_str().unwrap_or(""),
                        ) == (key.0.as_str(), key.1.as_str(), key.2.as_str())
                })
            };
            if seen { err("already_reacted") } else { json!({ "ok": true }) }
        }
        "views.open" | "views.publish" => {
            let view = p["view"].clone();
            let view = match view {
                Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
                v => v,
            };
            let mut v = view.as_object().cloned().unwrap_or_default();
            v.insert("id".into(), json!(format!("V{:09}", inner.next_id.fetch_add(1, Ordering::SeqCst))));
            v.insert("team_id".into(), json!(TEAM));
            v.insert("hash".into(), json!("1700000000.abcdef"));
            v.insert("app_id".into(), json!(APP_ID));
            v.insert("bot_id".into(), json!(BOT_ID));
            json!({ "ok": true, "view": v })
        }
        _ => err("unknown_method"),
    }
}

/// `conversations.replies` as Slack answers it: `ts` may name the parent or any reply; the
/// answer is the thread's parent first, then its replies (oldest first) within `oldest` /
/// `latest` (exclusive unless `inclusive`), `limit` messages in all.
fn replies(inner: &Inner, p: &Value) -> Value {
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let flag = |k: &str| p[k] == json!(true) || p[k] == json!("true") || p[k] == json!("1");
    let (channel, ts) = (s("channel"), s("ts"));
    let threaded = inner.threaded.lock().unwrap().clone();
    let parent = match threaded.get(&(channel.clone(), ts.clone())) {
        Some(parent) => parent.clone(),
        None if threaded.iter().any(|((c, _), parent)| *c == channel && *parent == ts) => ts.clone(),
        None => return err("thread_not_found"),
    };
    let micros = |t: &str| -> u128 { t.replace('.', "").parse().unwrap_or(0) };
    let inclusive = flag("inclusive");
    let within = |t: &str| {
        let after = match s("oldest") {
            o if o.is_empty() => true,
            o if inclusive => micros(t) >= micros(&o),
            o => micros(t) > micros(&o),
        };
        let before = match s("latest") {
            l if l.is_empty() => true,
            l if inclusive => micros(t) <= micros(&l),
            l => micros(t) < micros(&l),
        };
        after && before
    };
    let history = inner.history.lock().unwrap().clone();
    let all: Vec<String> = threaded
        .iter()
        .filter(|((c, _), p)| *c == channel && **p == parent)
        .map(|((_, t), _)| t.clone())
        .collect();
    let parent_user = history.get(&(channel.clone(), parent.clone())).map(|(u, _)| u.clone());
    // The parent always comes first, whatever the bounds; one the test never posted is an
    // earlier message by someone.
    let (user, text) = history
        .get(&(channel.clone(), parent.clone()))
        .cloned()
        .unwrap_or_else(|| ("U0ADMIN01".to_string(), "an earlier message".to_string()));
    let head = json!({ "type": "message", "user": user, "text": text, "ts": parent, "thread_ts": parent,
        "reply_count": all.len(), "subscribed": false });
    let mut in_thread: Vec<String> = all.into_iter().filter(|t| within(t)).collect();
    in_thread.sort_by_key(|t| micros(t));
    let reply = |t: &String| {
        history.get(&(channel.clone(), t.clone())).map(|(u, text)| {
            json!({ "type": "message", "user": u, "text": text, "ts": t, "thread_ts": parent,
                "parent_user_id": parent_user.clone().unwrap_or_else(|| "U0ADMIN01".to_string()) })
        })
    };
    let limit = p["limit"].as_u64().or_else(|| s("limit").parse().ok()).unwrap_or(1000) as usize;
    let mut messages: Vec<Value> =
        std::iter::once(head).chain(in_thread.iter().filter_map(reply)).take(limit.max(1)).collect();
    if flag("include_all_metadata") {
        // What the bot posted keeps its metadata; Slack lists it when asked for.
        let posted = inner.posted.lock().unwrap();
        for m in &mut messages {
            if let Some(meta) = posted
                .iter()
                .find(|k| k["channel"] == json!(channel) && k["ts"] == m["ts"])
                .and_then(|k| k.get("metadata"))
            {
                m["metadata"] = meta.clone();
            }
        }
    }
    json!({ "ok": true, "messages": messages, "has_more": false })
}

/// A posted message as history lists it: metadata only when asked for.
fn listed(m: &Value, with_metadata: bool) -> Value {
    let mut m = m.clone();
    if let Some(o) = m.as_object_mut() {
        o.remove("channel");
        if !with_metadata {
            o.remove("metadata");
        }
    }
    m
}

/// The DM channel id the fake gives a user.
pub fn dm_of(user: &str) -> String {
    format!("D{:0>9}", user.trim_start_matches('U'))
}

async fn socket(inner: Arc<Inner>, stream: tokio::net::TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
    let n = inner.connects.fetch_add(1, Ordering::SeqCst);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let hello = json!({
        "type": "hello", "num_connections": 1,
        "debug_info": { "host": "fake-slack", "build_number": 1, "approximate_connection_time": 18060 },
        "connection_info": { "app_id": APP_ID },
    });
    if ws.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    // Unacknowledged envelopes are delivered again on the new connection.
    let pending: Vec<String> = inner.pending.lock().unwrap().iter().map(|(_, e)| e.clone()).collect();
    for e in pending {
        if ws.send(Message::Text(e.into())).await.is_err() {
            return;
        }
    }
    inner.sockets.lock().unwrap().push((n, tx));
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(WsCmd::Text(t)) => {
                    if ws.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsCmd::Drop) | None => break,
            },
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&t) {
                        if let Some(id) = v["envelope_id"].as_str() {
                            inner.pending.lock().unwrap().retain(|(p, _)| p != id);
                        }
                        inner.acks.lock().unwrap().push(v);
                    }
                }
                Some(Ok(Message::Ping(p))) => {
                    let _ = ws.send(Message::Pong(p)).await;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    inner.sockets.lock().unwrap().retain(|(i, _)| *i != n);
    // Dropping `ws` here closes the TCP connection without a close frame.
}
