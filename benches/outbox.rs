//! Criterion benchmark of the outbox's round on PostgreSQL, as the delivery worker makes it for
//! each message: queue one reply, claim the claimable rows, mark them delivered, on an outbox
//! that has already delivered a few thousand rows (whose dead index entries a claim must read
//! past; see `PostgresStore::connect`).
//!
//! It needs a PostgreSQL server: `DESKBOT_TEST_POSTGRES_URL` names it (as for the tests), and a
//! scratch database is created on it and dropped afterwards. Without the variable it says so
//! and measures nothing.

use criterion::{Criterion, criterion_group, criterion_main};
use deskbot::compliance::key::AuditKey;
use deskbot::domain::{Address, Outbound, Platform};
use deskbot::store::{Commit, ConversationWrite, DynStore, NewOutbox};
use sqlx::Connection;

/// Rows delivered before the measurement starts.
const DELIVERED: usize = 3_000;

fn queue(keys: impl Iterator<Item = String>, now: i64) -> Commit {
    Commit {
        event: None,
        conversation: ConversationWrite::none(),
        messages: Vec::new(),
        tickets: Vec::new(),
        feedback: Vec::new(),
        outbox: keys
            .map(|key| NewOutbox {
                message: Outbound::message(Address::new(Platform::Slack, "C-bench"), "hello", Vec::new()),
                key,
            })
            .collect(),
        now,
        cases: Vec::new(),
        requests: Vec::new(),
    }
}

/// Claim everything claimable and mark it delivered; how many rows that was.
async fn round(store: &DynStore, now: i64) -> usize {
    let claimed = store.claim_outbox(&[Platform::Slack], "bench", now, 60_000, 500).await.expect("claim");
    let ids: Vec<i64> = claimed.iter().map(|i| i.id).collect();
    store.outbox_done_many(&ids, now).await.expect("mark delivered");
    ids.len()
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, String::new()), |(b, q)| (b, format!("?{q}")));
    let at = base.find("://").map_or(0, |i| i + 3);
    let base = base[at..].find('/').map_or(base, |slash| &base[..at + slash]);
    format!("{base}/{db}{query}")
}

fn bench(c: &mut Criterion) {
    let Ok(admin) = std::env::var("DESKBOT_TEST_POSTGRES_URL") else {
        eprintln!("outbox_round_postgres: not measured, DESKBOT_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let name = format!("deskbot_bench_outbox_{}", std::process::id());
    let url = with_database(&admin, &name);
    let store = rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("reach PostgreSQL");
        let create = format!("CREATE DATABASE \"{name}\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await
            .expect("create the scratch database");
        let key = AuditKey::from_bytes(vec![0x5a; 32]).expect("key");
        let store = deskbot::store::open(&url, key).await.expect("open");
        store.migrate().await.expect("migrate");
        for chunk in 0..DELIVERED / 100 {
            let keys = (0..100).map(|i| format!("warm-{chunk}-{i}"));
            store.commit(queue(keys, 1)).await.expect("queue");
            round(&store, 2).await;
        }
        store
    });
    let mut n = 0u64;
    c.bench_function("outbox_round_postgres", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(async {
                store.commit(queue(std::iter::once(format!("m-{n}")), 3)).await.expect("queue");
                assert_eq!(round(&store, 3).await, 1);
            })
        })
    });
    drop(store);
    rt.block_on(async {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await;
        }
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
