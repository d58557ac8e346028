//! Crash safety on PostgreSQL: two worker processes (this test binary re-run with
//! `DESKBOT_CRASH_WORKER` set) push a few thousand inbound events through the real service and
//! outbox, while the test SIGKILLs one of them at random moments and restarts it. A restarted
//! worker replays its events from a lagging checkpoint, as a platform retries unacknowledged
//! events. Every delivery is recorded, by idempotency key, in a table both processes write
//! (a platform dedupes on that key). Afterwards the delivered keys must equal, exactly, the
//! keys a clean single-process run produces (none lost, none extra), each with the same text
//! (no logical message under two keys), and no ticket may be filed twice. Raw redeliveries
//! (same key sent again after a kill) are allowed and reported. Runs when
//! `DESKBOT_TEST_POSTGRES_URL` is set.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use async_trait::async_trait;
use deskbot::app::App;
use deskbot::config::{Config, Sources};
use deskbot::domain::{Address, Platform, UserRef};
use deskbot::domain::{Channel, Delivered, Inbound, InboundKind, Outbound, SendError};
use deskbot::outbox::Outbox;
use deskbot::store::TicketFilter;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const CONVERSATIONS: usize = 1000;
const KILLS: usize = 6;
const CHECKPOINT_EVERY: usize = 20;
const WORKERS: usize = 2;

const OPENERS: &[&str] = &[
    "I forgot my password",
    "how do I connect to the vpn from home",
    "talk to a person",
    "outlook is not syncing my emails",
];

/// The two events of conversation `c`, in order.
fn script(c: usize) -> [Inbound; 2] {
    let user = format!("crash-u{c}");
    let ev = |n: usize, text: &str| Inbound {
        event_id: format!("crash-{c}-{n}"),
        user: UserRef::new(Platform::Test, user.clone()),
        display_name: None,
        conversation: format!("test:{user}"),
        reply_to: Address::new(Platform::Test, user.clone()),
        kind: InboundKind::Message { text: text.to_string() },
        at: 0,
        message_id: None,
        message_channel: None,
        attachments: Vec::new(),
        via: Default::default(),
    };
    let opener = OPENERS[c % OPENERS.len()];
    let second = if opener == "talk to a person" { "the coffee machine on floor 3 is leaking" } else { "1" };
    [ev(0, opener), ev(1, second)]
}

/// Ticket numbers depend on which process filed first; compare texts without them.
fn normalise(text: &str) -> String {
    regex::Regex::new(r"IT-\d+").map(|re| re.replace_all(text, "IT-#").into_owned()).unwrap_or_default()
}

async fn app_on(url: &str, dir: &std::path::Path) -> App {
    let mut config = Config::load_from(&Sources { file: None, data_dir: Some(dir.into()) }, &[]).unwrap();
    config.intents_dir = support::starter_pack();
    config.hot_reload = false;
    config.database_url = Some(url.to_string());
    App::build(config).await.unwrap()
}

/// Records deliveries: into a shared table (workers) or memory (the reference run).
struct Recorder {
    pool: Option<PgPool>,
    memory: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl Channel for Recorder {
    fn platform(&self) -> Platform {
        Platform::Test
    }
    async fn send(&self, key: &str, message: &Outbound) -> Result<Delivered, SendError> {
        match &self.pool {
            Some(pool) => sqlx::query("INSERT INTO crash_deliveries (key, text, pid) VALUES ($1, $2, $3)")
                .bind(key)
                .bind(&message.text)
                .bind(std::process::id() as i32)
                .execute(pool)
                .await
                .map(|_| Delivered::default())
                .map_err(|e| SendError::Temporary(e.to_string())),
            None => {
                self.memory.lock().unwrap().push((key.to_string(), message.text.clone()));
                Ok(Delivered::default())
            }
        }
    }
}

/// The worker process: its half of the conversations from the checkpoint on, then drain.
#[test]
fn crash_worker_process() {
    let (Ok(index), Ok(url)) = (std::env::var("DESKBOT_CRASH_WORKER"), std::env::var("DESKBOT_CRASH_URL"))
    else {
        return; // Not a worker: nothing to do in a normal test run.
    };
    let index: usize = index.parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let app = app_on(&url, dir.path()).await;
        let pool = PgPool::connect(&url).await.unwrap();
        let recorder = Arc::new(Recorder { pool: Some(pool.clone()), memory: Mutex::new(Vec::new()) });
        let outbox = Outbox::new(app.store.clone(), vec![recorder as Arc<dyn Channel>], 8, app.clock.clone())
            .with_lease(Duration::from_millis(1500));
        let cancel = CancellationToken::new();
        let delivering = tokio::spawn(outbox.run(Duration::from_millis(20), cancel.clone()));
        let from: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(next), 0) FROM crash_progress WHERE worker = $1")
                .bind(index as i32)
                .fetch_one(&pool)
                .await
                .unwrap();
        let mine: Vec<usize> = (0..CONVERSATIONS).filter(|c| c % WORKERS == index).collect();
        for (i, c) in mine.iter().enumerate().skip(from as usize) {
            for ev in script(*c) {
                app.service.handle(ev).await.unwrap();
            }
            if (i + 1) % CHECKPOINT_EVERY == 0 {
                // Lagging on purpose: a restart replays up to CHECKPOINT_EVERY conversations.
                sqlx::query("INSERT INTO crash_progress (worker, next) VALUES ($1, $2)")
                    .bind(index as i32)
                    .bind((i + 1).saturating_sub(CHECKPOINT_EVERY / 2) as i64)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        }
        while app.store.outbox_depth().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cancel.cancel();
        delivering.await.unwrap();
    });
}

/// What a clean, single-process run on SQLite delivers: key → normalised text, and tickets.
async fn reference() -> (BTreeMap<String, String>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("reference.db").display());
    let app = app_on(&url, dir.path()).await;
    let recorder = Arc::new(Recorder { pool: None, memory: Mutex::new(Vec::new()) });
    let channel: Arc<dyn Channel> = recorder.clone();
    let outbox = Outbox::new(app.store.clone(), vec![channel], 8, app.clock.clone());
    for c in 0..CONVERSATIONS {
        for ev in script(c) {
            app.service.handle(ev).await.unwrap();
        }
    }
    while outbox.deliver_due().await.unwrap().sent > 0 {}
    let filter = TicketFilter { limit: 100_000, ..TicketFilter::default() };
    let tickets = app.store.tickets(&filter).await.unwrap().len();
    let delivered = recorder.memory.lock().unwrap().iter().map(|(k, t)| (k.clone(), normalise(t))).collect();
    (delivered, tickets)
}

fn spawn_worker(index: usize, url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_worker_process", "--nocapture", "--test-threads", "1"])
        .env("DESKBOT_CRASH_WORKER", index.to_string())
        .env("DESKBOT_CRASH_URL", url)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A small xorshift generator: random enough for kill timing, seed printed for replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workers_lose_nothing_and_double_nothing() {
    let Some(db) = pgdb::PgDb::create("crash").await else { return };
    deskbot::store::open(&db.url).await.unwrap().migrate().await.unwrap();
    let pool = PgPool::connect(&db.url).await.unwrap();
    for sql in [
        "CREATE TABLE crash_deliveries (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, text TEXT NOT NULL, pid INT)",
        "CREATE TABLE crash_progress (worker INT NOT NULL, next BIGINT NOT NULL)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let (expected, expected_tickets) = reference().await;

    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut workers: Vec<Option<Child>> = (0..WORKERS).map(|i| Some(spawn_worker(i, &db.url))).collect();
    let mut kills = 0;
    while kills < KILLS && workers.iter().any(Option::is_some) {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(900))).await;
        let i = rng.below(WORKERS as u64) as usize;
        let Some(child) = workers[i].as_mut() else { continue };
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "worker {i} failed: {status}");
            workers[i] = None;
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        workers[i] = Some(spawn_worker(i, &db.url));
    }
    for (i, w) in workers.iter_mut().enumerate() {
        if let Some(child) = w {
            let status = child.wait().unwrap();
            assert!(status.success(), "worker {i} failed: {status}");
        }
    }

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, text FROM crash_deliveries ORDER BY id").fetch_all(&pool).await.unwrap();
    let mut delivered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, text) in &rows {
        delivered.entry(key.clone()).or_default().insert(normalise(text));
    }
    let keys: BTreeSet<&String> = delivered.keys().collect();
    let want: BTreeSet<&String> = expected.keys().collect();
    let lost: Vec<_> = want.difference(&keys).collect();
    let extra: Vec<_> = keys.difference(&want).collect();
    let changed: Vec<_> =
        delivered.iter().filter(|(k, texts)| texts.len() != 1 || !texts.contains(&expected[*k])).collect();
    let redelivered = rows.len() - delivered.len();
    let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(&pool).await.unwrap();
    let doubled_tickets: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT conversation FROM tickets GROUP BY conversation HAVING COUNT(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    eprintln!(
        "crash test: {} events, {} kills, {} messages expected, {} lost, {} doubled, {} redelivered, {:.1} s",
        CONVERSATIONS * 2,
        kills,
        expected.len(),
        lost.len(),
        extra.len() + changed.len(),
        redelivered,
        started.elapsed().as_secs_f64()
    );
    assert!(kills > 0, "no worker was killed; the test proved nothing");
    assert!(lost.is_empty(), "lost {} messages, e.g. {:?}", lost.len(), lost.first());
    assert!(
        extra.is_empty(),
        "{} messages under keys a clean run never uses, e.g. {:?}",
        extra.len(),
        extra.first()
    );
    assert!(changed.is_empty(), "messages whose content differs from a clean run: {:?}", changed.first());
    assert_eq!((tickets as usize, doubled_tickets), (expected_tickets, 0), "tickets filed exactly once");
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'done'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "every outbox row delivered");
    drop(pool);
    db.drop_now().await;
}
