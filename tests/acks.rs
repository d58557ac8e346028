//! Nothing acknowledged is lost, logs carry no payloads, and every wait has a bound: deskbot
//! against the fake Slack with the database locked (a slow or failing store), with signed
//! payloads that cannot be read, with `chat.postMessage` answers that stall, drop the
//! connection or are garbage, and with clients that open connections and send nothing.
//! Everything deskbot logs in this test binary is captured and searched.

mod support;

use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};
use support::fake_slack::{PostFault, Sign, dm_of};
use support::slack_bot::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Capture every log line of this process: deskbot's own at debug, its libraries' at info
/// (the level deskbot runs at).
fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,deskbot=debug");
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(|| Capture).init();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

async fn wait_log(needles: &[&str]) -> String {
    for _ in 0..1000 {
        if let Some(line) = logs().lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no log line with {needles:?} within 20 s");
}

/// A sample's value on deskbot's `/metrics` (0 when it has not been recorded yet).
async fn metric(bot: &SlackBot, sample: &str) -> f64 {
    let body = reqwest::get(format!("{}/metrics", bot.base)).await.unwrap().text().await.unwrap();
    body.lines()
        .find(|l| l.starts_with(sample))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

const REJECTED: &str = r#"deskbot_events_rejected_total{platform="slack",reason="unreadable"}"#;
const LOST: &str = r#"deskbot_events_lost_total{platform="slack"}"#;

/// A signed event whose `event_time` is not a number: the one malformed field carries a
/// canary and an SSN-like string, as does the message text.
fn malformed(bot: &SlackBot, canary: &str) -> Value {
    let text = format!("{canary} my SSN is 123-45-6789 and I am diabetic");
    let mut cb = bot.fake.callback(message(&dm_of(ERIN), ERIN, &text, &bot.fake.ts(), None));
    cb["event_time"] = json!(format!("{canary} 123-45-6789"));
    cb
}

fn assert_not_logged(canary: &str) {
    let all = logs();
    assert!(
        !all.contains(canary),
        "the canary was logged:\n{}",
        all.lines().filter(|l| l.contains(canary)).collect::<Vec<_>>().join("\n")
    );
    assert!(!all.contains("123-45-6789"), "the SSN was logged");
    assert!(!all.contains("diabetic"), "the message text was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_signed_event_is_rejected_counted_and_never_logged_events_api() {
    capture_logs();
    let bot = SlackBot::start("events").await;
    let canary = "CANARY-EVT-7c1e55";
    let before = metric(&bot, REJECTED).await;
    let cb = malformed(&bot, canary);
    let (status, _) = bot
        .fake
        .post_signed(&format!("{}/slack/events", bot.base), "application/json", cb.to_string(), Sign::Good)
        .await;
    assert_eq!(status, 400, "an unreadable payload is refused, not acknowledged");
    wait_log(&["unreadable slack request rejected", "unreadable JSON"]).await;
    assert!(metric(&bot, REJECTED).await > before, "the rejection is counted");
    assert_not_logged(canary);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_signed_event_is_rejected_counted_and_never_logged_socket_mode() {
    capture_logs();
    let bot = SlackBot::start("socket").await;
    let canary = "CANARY-SOCK-a93d02";
    let before = metric(&bot, REJECTED).await;
    let env = bot.fake.envelope("events_api", malformed(&bot, canary), false);
    // It can never be read: acknowledged so Slack stops sending it, but logged and counted.
    bot.fake.wait_ack(&env).await;
    wait_log(&["unreadable slack payload rejected", "unreadable JSON"]).await;
    assert!(metric(&bot, REJECTED).await > before, "the rejection is counted");
    assert_not_logged(canary);
    bot.stop().await;
}

/// Hold SQLite's write lock from outside, as another process would: deskbot's commits wait
/// (up to the 5 s busy timeout, then fail) until it is released.
struct StoreLock(SqliteConnection);

impl StoreLock {
    async fn take(bot: &SlackBot) -> StoreLock {
        let mut c = SqliteConnection::connect(&bot.db_url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE").execute(&mut c).await.unwrap();
        StoreLock(c)
    }
    async fn release(mut self) {
        sqlx::query("COMMIT").execute(&mut self.0).await.unwrap();
    }
}

/// Posts deskbot made in `user`'s DM once the outbox is empty.
async fn delivered_to(bot: &SlackBot, user: &str) -> usize {
    for _ in 0..1000 {
        if bot.store.outbox_depth().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bot.store.outbox_depth().await.unwrap(), 0, "the outbox drains");
    bot.fake.posted().iter().filter(|m| m["channel"] == dm_of(user).as_str()).count()
}

/// Bob asks the same question with a healthy store: how many replies one handling gives.
async fn baseline(bot: &SlackBot, text: &str) -> usize {
    bot.event(message(&dm_of(BOB), BOB, text, &bot.fake.ts(), None)).await;
    bot.wait_post(&dm_of(BOB), "").await;
    let n = delivered_to(bot, BOB).await;
    assert!(n > 0);
    n
}

async fn post_event(bot: &SlackBot, cb: &Value, sign: Sign) -> u16 {
    let (status, _) = bot
        .fake
        .post_signed(&format!("{}/slack/events", bot.base), "application/json", cb.to_string(), sign)
        .await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_store_is_not_acknowledged_and_the_retry_is_a_duplicate_events_api() {
    capture_logs();
    let bot = SlackBot::start("events").await;
    let text = "I forgot my password";
    let one = baseline(&bot, text).await;

    let lock = StoreLock::take(&bot).await;
    let cb = bot.fake.callback(message(&dm_of(ERIN), ERIN, text, &bot.fake.ts(), None));
    assert_eq!(post_event(&bot, &cb, Sign::Good).await, 503, "not committed within 2.5 s: not acknowledged");
    // Slack retries while the first run still waits for the store.
    let retry = {
        let (fake, base, body) = (bot.fake.clone(), bot.base.clone(), cb.to_string());
        tokio::spawn(async move {
            fake.post_signed(&format!("{base}/slack/events"), "application/json", body, Sign::Retry(1))
                .await
                .0
        })
    };
    lock.release().await;
    assert_eq!(retry.await.unwrap(), 200, "the retry is acknowledged once the event is committed");
    assert_eq!(delivered_to(&bot, ERIN).await, one, "handled once: the retry was a duplicate");
    assert_eq!(metric(&bot, LOST).await, 0.0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_store_is_not_acknowledged_and_nothing_is_lost_events_api() {
    capture_logs();
    let bot = SlackBot::start("events").await;
    let text = "my vpn keeps disconnecting";
    let one = baseline(&bot, text).await;

    let lock = StoreLock::take(&bot).await;
    let cb = bot.fake.callback(message(&dm_of(ERIN), ERIN, text, &bot.fake.ts(), None));
    let id = cb["event_id"].as_str().unwrap().to_string();
    assert_eq!(post_event(&bot, &cb, Sign::Good).await, 503);
    // The first run gives up on the locked store (busy timeout) behind the 503.
    wait_log(&["slow slack event failed", &id, "store busy"]).await;
    lock.release().await;
    assert_eq!(post_event(&bot, &cb, Sign::Retry(1)).await, 200);
    assert_eq!(delivered_to(&bot, ERIN).await, one, "handled exactly once");
    assert_eq!(metric(&bot, LOST).await, 0.0, "nothing was acknowledged and then lost");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_acknowledges_only_after_commit() {
    capture_logs();
    let bot = SlackBot::start("socket").await;
    let text = "the printer on floor 2 is jammed";
    let one = baseline(&bot, text).await;

    let lock = StoreLock::take(&bot).await;
    let cb = bot.fake.callback(message(&dm_of(ERIN), ERIN, text, &bot.fake.ts(), None));
    let env = bot.fake.envelope("events_api", cb, false);
    wait_log(&["slack event not handled; not acknowledged", "store busy"]).await;
    assert!(
        !bot.fake.acks().iter().any(|a| a["envelope_id"] == env.as_str()),
        "a failed commit is not acknowledged"
    );
    lock.release().await;
    // Slack delivers an unacknowledged envelope again on the next connection.
    bot.fake.drop_sockets();
    bot.fake.wait_ack(&env).await;
    let conversation = bot.store.load_conversation(&format!("slack:dm:{ERIN}")).await.unwrap();
    assert!(conversation.is_some(), "acknowledged only once committed");
    assert_eq!(delivered_to(&bot, ERIN).await, one, "handled exactly once");
    assert_eq!(metric(&bot, LOST).await, 0.0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_is_posted_once_through_stalls_drops_and_garbage() {
    capture_logs();
    let bot = SlackBot::start_env("socket", &[("DESKBOT_SLACK_API_TIMEOUT_MS", "400")], "").await;
    bot.fake.fault_posts(&[
        PostFault::StallAfter(Duration::from_millis(1500)),
        PostFault::DropAfter,
        PostFault::GarbageAfter,
        PostFault::StallBefore(Duration::from_millis(1500)),
        PostFault::ServerError,
        PostFault::DropAfter,
    ]);
    let people = [ERIN, BOB, KIM];
    for text in ["I forgot my password", "my vpn is down"] {
        for who in people {
            bot.event(message(&dm_of(who), who, text, &bot.fake.ts(), None)).await;
        }
    }
    // Each event is committed (its replies queued) before it is acknowledged.
    for _ in 0..1500 {
        if bot.fake.faults_left() == 0 && bot.store.outbox_depth().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bot.fake.faults_left(), 0, "every fault was met");
    assert_eq!(bot.store.outbox_depth().await.unwrap(), 0, "everything was delivered");
    assert!(bot.store.outbox_list(Some("dead"), 100).await.unwrap().is_empty(), "nothing gave up");

    // Every post carries its outbox key, and every delivered row was posted exactly once.
    let mut posted: HashMap<String, usize> = HashMap::new();
    for m in bot.fake.posted() {
        assert_eq!(m["metadata"]["event_type"], "deskbot_outbox", "{m}");
        let key = m["metadata"]["event_payload"]["key"].as_str().expect("the outbox key").to_string();
        *posted.entry(key).or_default() += 1;
    }
    let done = bot.store.outbox_list(Some("done"), 1000).await.unwrap();
    let posts: Vec<_> = done.iter().filter(|r| posted.contains_key(&r.key)).collect();
    assert!(posts.len() >= 2 * people.len(), "{done:?}");
    for (key, n) in &posted {
        assert_eq!(*n, 1, "{key} was posted {n} times");
        assert!(done.iter().any(|r| &r.key == key), "{key} was posted but its row is not done");
    }
    // The unreadable 2xx was counted as delivered, by kind, without its body.
    wait_log(&["answer to a post was unreadable; counted as delivered"]).await;
    assert!(!logs().contains("upstream hiccup"));
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_do_not_starve_the_server() {
    capture_logs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    let cancel = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(deskbot::http::serve(listener, router, cancel.clone()));

    // Every slot taken by a client that connects and never finishes its headers.
    let closed_at: std::sync::Arc<Mutex<Vec<Instant>>> = Default::default();
    let mut silent = Vec::new();
    for _ in 0..deskbot::http::MAX_CONNECTIONS {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /ping HTTP/1.1\r\nHost: deskbot\r\n").await.unwrap();
        let closed_at = closed_at.clone();
        silent.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            // Whatever the server says (a 408 or nothing), it then closes the connection.
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            closed_at.lock().unwrap().push(Instant::now());
        }));
    }
    // A real request still gets its answer: the silent ones are cut off after the header
    // timeout, which frees their slots.
    let body = reqwest::get(format!("http://{addr}/ping")).await.unwrap().text().await.unwrap();
    let answered = Instant::now();
    assert_eq!(body, "pong");
    let first_close =
        closed_at.lock().unwrap().iter().min().copied().expect("a silent connection was closed");
    assert!(first_close <= answered, "the request waited for a free slot");
    for s in silent {
        tokio::time::timeout(deskbot::http::HEADER_READ_TIMEOUT * 3, s).await.expect("closed").unwrap();
    }
    cancel.cancel();
    server.await.unwrap().unwrap();
}
