//! Leadership on real PostgreSQL: of two contenders exactly one leads; when the leader's
//! connection dies the other takes over within seconds. On SQLite a process always leads.

#[path = "support/pgdb.rs"]
mod pgdb;

use deskbot::leader::{LOCK_KEY, Leadership};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_millis(200);

async fn settle(a: &Leadership, b: &Leadership) {
    for _ in 0..100 {
        if a.is_leader() || b.is_leader() {
            // Give the other a few rounds to (wrongly) claim it too.
            tokio::time::sleep(EVERY * 3).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sqlite_process_always_leads() {
    let l = Leadership::start("sqlite:/tmp/never-opened.db", CancellationToken::new());
    assert!(l.is_leader());
    assert!(l.wait_until_leader().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_leads_and_the_other_takes_over_when_its_connection_dies() {
    let Some(db) = pgdb::PgDb::create("leader").await else { return };
    let (ca, cb) = (CancellationToken::new(), CancellationToken::new());
    let a = Leadership::start_with(&db.url, EVERY, ca.clone());
    let b = Leadership::start_with(&db.url, EVERY, cb.clone());
    settle(&a, &b).await;
    assert!(a.is_leader() ^ b.is_leader(), "exactly one leads: a={} b={}", a.is_leader(), b.is_leader());
    let (leader, follower) = if a.is_leader() { (&a, &b) } else { (&b, &a) };

    // Kill the leader's session from outside, as a crashed host or a network cut would.
    let mut admin = db.connect().await;
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND objid = ($1 & 4294967295)::oid",
    )
    .bind(LOCK_KEY)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, 1, "one session held the lock");
    let mut took_over = follower.watch();
    tokio::time::timeout(Duration::from_secs(5), took_over.wait_for(|l| *l))
        .await
        .expect("the follower took over within seconds")
        .unwrap();
    tokio::time::sleep(EVERY * 3).await;
    assert!(follower.is_leader());
    assert!(!leader.is_leader(), "the old leader noticed it lost its session");

    // The old leader reconnects and stays a follower; a clean stop hands leadership back.
    let (new_leader_cancel, old_leader_cancel) = if a.is_leader() { (ca, cb) } else { (cb, ca) };
    new_leader_cancel.cancel();
    let mut back = leader.watch();
    tokio::time::timeout(Duration::from_secs(5), back.wait_for(|l| *l))
        .await
        .expect("leadership came back after a clean stop")
        .unwrap();
    old_leader_cancel.cancel();
    drop(admin);
    tokio::time::sleep(EVERY * 2).await;
    db.drop_now().await;
}
