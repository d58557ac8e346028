//! The fake Discord's REST side: the routes deskbot uses, answered from the fake's world
//! (channels, messages, threads, DMs), every call recorded with its body and answer.

use super::{BOT_ID, Call, FakeDiscord, GUILD, TIMESTAMP, message, thread, user};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

impl FakeDiscord {
    fn answer(&self, method: &Method, path: &str, body: &Value) -> (u16, Value) {
        let seg: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
        let m = method.as_str();
        match (m, seg.as_slice()) {
            ("GET", ["gateway"]) => (200, json!({"url": self.ws_url()})),
            ("GET", ["gateway", "bot"]) => (
                200,
                json!({"url": self.ws_url(), "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}),
            ),
            ("PUT", ["applications", app, "commands"])
            | ("PUT", ["applications", app, "guilds", _, "commands"]) => {
                let guild = seg.get(3).map(|g| g.to_string());
                let list: Vec<Value> = body.as_array().cloned().unwrap_or_default().into_iter().map(|c| {
                    let mut r = json!({"id": self.id().to_string(), "application_id": app, "version": "1",
                        "default_member_permissions": null, "type": c.get("type").cloned().unwrap_or(json!(1)),
                        "name": c["name"], "description": c.get("description").cloned().unwrap_or(json!("")),
                        "dm_permission": true, "nsfw": false});
                    if let Some(opts) = c.get("options") { r["options"] = opts.clone(); }
                    if let Some(g) = &guild { r["guild_id"] = json!(g); }
                    r
                }).collect();
                (200, Value::Array(list))
            }
            ("GET", ["channels", c]) => match self.channel(parse(c)) {
                Some(ch) => (200, ch),
                None => error(404, 10003, "Unknown Channel"),
            },
            ("POST", ["channels", c, "messages"]) => self.create_message(parse(c), body),
            ("GET", ["channels", c, "messages", id]) => match self.message(parse(id)) {
                Some(msg) if msg["channel_id"] == json!(c) => (200, msg),
                _ => error(404, 10008, "Unknown Message"),
            },
            ("PATCH", ["channels", c, "messages", id]) => {
                let mut s = self.st.lock().unwrap();
                match s.messages.get_mut(&parse(id)) {
                    Some(msg) if msg["channel_id"] == json!(c) => {
                        for k in ["content", "embeds"] {
                            if let Some(v) = body.get(k) {
                                msg[k] = v.clone();
                            }
                        }
                        if body.get("content").is_some() {
                            let (everyone, users) = pinged(&msg["content"], body.get("allowed_mentions"));
                            msg["mention_everyone"] = json!(everyone);
                            msg["mentions"] =
                                json!(users.into_iter().map(|u| user(u, "someone")).collect::<Vec<_>>());
                        }
                        if let Some(c) = body.get("components") {
                            msg["components"] = numbered(c);
                        }
                        msg["edited_timestamp"] = json!(TIMESTAMP);
                        (200, msg.clone())
                    }
                    _ => error(404, 10008, "Unknown Message"),
                }
            }
            ("POST", ["channels", c, "messages", id, "threads"]) => {
                let (parent, mid) = (parse(c), parse(id));
                if self.message(mid).is_none_or(|msg| msg["channel_id"] != json!(c)) {
                    return error(404, 10008, "Unknown Message");
                }
                if self.channel(mid).is_some() {
                    return error(400, 160004, "A thread has already been created for this message");
                }
                let name = body["name"].as_str().unwrap_or("thread");
                let t = thread(mid, parent, BOT_ID, name);
                let mut s = self.st.lock().unwrap();
                s.channels.insert(mid, t.clone());
                if let Some(msg) = s.messages.get_mut(&mid) {
                    msg["thread"] = t.clone();
                }
                (201, t)
            }
            ("POST", ["channels", c, "threads"]) => {
                let forum = parse(c);
                if self.channel(forum).is_none_or(|ch| ch["type"] != json!(15)) {
                    return error(400, 50024, "Cannot execute action on this channel type");
                }
                let id = self.id();
                let t = thread(id, forum, BOT_ID, body["name"].as_str().unwrap_or("post"));
                let msg = &body["message"];
                let mut starter = message(
                    id,
                    id,
                    Some(GUILD),
                    user(BOT_ID, "deskbot"),
                    msg["content"].as_str().unwrap_or(""),
                    vec![],
                );
                if let Some(c) = msg.get("components") {
                    starter["components"] = numbered(c);
                }
                let mut s = self.st.lock().unwrap();
                s.channels.insert(id, t.clone());
                s.messages.insert(id, starter.clone());
                let mut out = t;
                out["message"] = starter;
                (201, out)
            }
            ("PUT", ["channels", c, "messages", id, "reactions", _, "@me"]) => {
                match self.message(parse(id)) {
                    Some(msg) if msg["channel_id"] == json!(c) => (204, Value::Null),
                    _ => error(404, 10008, "Unknown Message"),
                }
            }
            ("POST", ["users", "@me", "channels"]) => {
                let who = body["recipient_id"].as_str().map(parse).unwrap_or(0);
                let existing = self.dm_of(who);
                let id = existing.unwrap_or_else(|| self.dm_channel(who, "someone"));
                (200, self.channel(id).unwrap_or(Value::Null))
            }
            ("POST", ["interactions", _, _, "callback"]) => (204, Value::Null),
            _ => error(404, 0, "404: Not Found"),
        }
    }

    fn create_message(&self, channel: u64, body: &Value) -> (u16, Value) {
        {
            let mut s = self.st.lock().unwrap();
            if s.rate_limited > 0 {
                s.rate_limited -= 1;
                return (
                    429,
                    json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false}),
                );
            }
            if !s.channels.contains_key(&channel) {
                return error(404, 10003, "Unknown Channel");
            }
            if body["enforce_nonce"] == json!(true)
                && let Some(n) = body["nonce"].as_str()
                && let Some(existing) = s.nonces.get(&(channel, n.to_string()))
                && let Some(m) = s.messages.get(existing)
            {
                return (200, m.clone());
            }
        }
        let id = self.id();
        let mut m = message(
            id,
            channel,
            None,
            user(BOT_ID, "deskbot"),
            body["content"].as_str().unwrap_or(""),
            vec![],
        );
        if let Some(c) = body.get("components") {
            m["components"] = numbered(c);
        }
        let (everyone, users) = pinged(&body["content"], body.get("allowed_mentions"));
        m["mention_everyone"] = json!(everyone);
        m["mentions"] = json!(users.into_iter().map(|u| user(u, "someone")).collect::<Vec<_>>());
        if let Some(n) = body.get("nonce") {
            m["nonce"] = n.clone();
        }
        let mut s = self.st.lock().unwrap();
        if let Some(g) = s.channels.get(&channel).and_then(|c| c.get("guild_id")).cloned() {
            m["guild_id"] = g;
        }
        if let Some(n) = body["nonce"].as_str() {
            s.nonces.insert((channel, n.to_string()), id);
        }
        s.messages.insert(id, m.clone());
        (200, m)
    }
}

/// Whom a message pings, as Discord decides it: mentions in the content (`@everyone`,
/// `@here`, `<@id>`, `<@!id>`; a backslash before one makes it text) that `allowed_mentions`
/// permits — all of them when the request has none.
fn pinged(content: &Value, allowed: Option<&Value>) -> (bool, Vec<u64>) {
    let text = content.as_str().unwrap_or("");
    let parse = |kind: &str| match allowed {
        None => true,
        Some(a) => a["parse"].as_array().is_some_and(|p| p.iter().any(|k| k == kind)),
    };
    let listed = |id: u64| {
        allowed
            .and_then(|a| a["users"].as_array())
            .is_some_and(|u| u.iter().any(|x| x == &json!(id.to_string())))
    };
    let escaped = |i: usize| i > 0 && text.as_bytes()[i - 1] == b'\\';
    let everyone = ["@everyone", "@here"].iter().any(|w| text.match_indices(w).any(|(i, _)| !escaped(i)))
        && parse("everyone");
    let mut users = Vec::new();
    for (i, _) in text.match_indices("<@") {
        if escaped(i) {
            continue;
        }
        let rest = text[i + 2..].trim_start_matches('!');
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(id) = digits.parse::<u64>()
            && rest[digits.len()..].starts_with('>')
            && (parse("users") || listed(id))
        {
            users.push(id);
        }
    }
    (everyone, users)
}

/// Components as Discord returns them: each with a numeric `id`, in tree order.
fn numbered(components: &Value) -> Value {
    fn walk(v: &mut Value, next: &mut u64) {
        if let Some(list) = v.as_array_mut() {
            for c in list {
                *next += 1;
                c["id"] = json!(*next);
                if let Some(children) = c.get_mut("components") {
                    walk(children, next);
                }
            }
        }
    }
    let mut out = components.clone();
    walk(&mut out, &mut 0);
    out
}

fn parse(s: &str) -> u64 {
    s.parse().unwrap_or(0)
}

fn error(status: u16, code: u64, message: &str) -> (u16, Value) {
    (status, json!({"code": code, "message": message}))
}

/// The `payload_json` part of a multipart/form-data body (how Discord takes JSON next to
/// files), if the request is multipart.
fn payload_json(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let ct = headers.get("content-type")?.to_str().ok()?;
    let boundary = ct.strip_prefix("multipart/form-data")?.split("boundary=").nth(1)?.trim_matches('"');
    let text = String::from_utf8_lossy(body);
    text.split(&format!("--{boundary}")).find(|p| p.contains("name=\"payload_json\"")).and_then(|p| {
        let (_, content) = p.split_once("\r\n\r\n")?;
        Some(content.trim_end_matches("\r\n").to_string())
    })
}

pub(super) async fn rest(
    State(f): State<FakeDiscord>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let json_body: Value = match payload_json(&headers, &body) {
        Some(part) => serde_json::from_str(&part).unwrap_or(Value::Null),
        None if body.is_empty() => Value::Null,
        None => serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let (status, response) = f.answer(&method, &path, &json_body);
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    f.st.lock().unwrap().calls.push(Call {
        method: method.to_string(),
        path,
        body: json_body,
        status,
        response: response.clone(),
        auth,
    });
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == 204 {
        return code.into_response();
    }
    let mut r = (code, axum::Json(response)).into_response();
    if status == 429 {
        r.headers_mut().insert("x-ratelimit-scope", "user".parse().unwrap());
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
    }
    r
}
