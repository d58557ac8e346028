//! The keyed audit chain on every backend (included by `store_conformance.rs`): a rewrite whose
//! links were recomputed without the key (plain SHA-256, as anyone with SQL access could) stays
//! BROKEN, also after a restart; anchors catch truncation and a rewrite laundered through the
//! pre-key migration marker; a chain from before the key is re-chained once, and only if intact.

use crate::support::{self, T0, TestDb, applied, commit, new_ticket, set_status};
use deskbot::compliance::{anchor, audit};
use deskbot::domain::TicketStatus;
use deskbot::store::compliance::{AuditEntry, ChainKeying, GENESIS_HASH, KEYED_KIND};
use deskbot::store::{DynStore, TicketOp};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, SqliteConnection};

macro_rules! on_every_backend {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let db = crate::support::sqlite().await;
                    super::$story(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let Some(db) = crate::support::postgres().await else { return };
                    super::$story(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

on_every_backend!(
    chain_recomputed_without_the_key_is_reported_broken_also_after_a_restart,
    anchor_catches_truncation_behind_it,
    anchor_catches_a_rewrite_laundered_through_the_migration_marker,
    chain_from_before_the_key_is_rechained_once_and_recorded,
    broken_chain_from_before_the_key_is_refused_not_rechained,
    daily_anchor_is_queued_once_for_every_webhook_that_wants_it,
);

/// Raw SQL on the test database, as an operator with database access would run it.
async fn sql(db: &TestDb, statement: &str) {
    let statement = sqlx::AssertSqlSafe(statement.to_string());
    if db.url.starts_with("sqlite:") {
        let mut c = SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    }
}

async fn keying_state(db: &TestDb) -> Option<String> {
    let q = "SELECT state FROM audit_keying WHERE id = 1";
    if db.url.starts_with("sqlite:") {
        let mut c = SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(q).fetch_optional(&mut c).await.unwrap()
    } else {
        let mut c = PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(q).fetch_optional(&mut c).await.unwrap()
    }
}

fn text(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("'{}'", s.replace('\'', "''")),
        None => "NULL".into(),
    }
}

/// What an attacker without the key does after editing rows: recompute every link as plain
/// SHA-256 over the same canonical JSON and move the head, written here from scratch.
async fn recompute_plain_chain(db: &TestDb, rows: &[AuditEntry]) -> (i64, String) {
    let mut prev = GENESIS_HASH.to_string();
    let mut last = 0;
    for e in rows {
        let canonical =
            serde_json::json!([prev, e.seq, e.at, e.actor, e.kind, e.ticket_number, e.subject, e.detail])
                .to_string();
        let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
        sql(
            db,
            &format!(
                "UPDATE audit_log SET actor = {}, kind = {}, subject = {}, detail = {}, prev_hash = '{prev}', \
                 hash = '{hash}' WHERE seq = {}",
                text(&Some(e.actor.clone())),
                text(&Some(e.kind.clone())),
                text(&e.subject),
                text(&e.detail),
                e.seq
            ),
        )
        .await;
        prev = hash;
        last = e.seq;
    }
    sql(db, &format!("UPDATE audit_head SET last_seq = {last}, last_hash = '{prev}' WHERE id = 1")).await;
    (last, prev)
}

/// A ticket filed, resolved by `slack:UAGENT` with a note, and a role grant: three entries.
async fn history(store: &DynStore) {
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    let n = applied(store.commit(c).await.unwrap())[0];
    let mut c = commit("c1", 1, Some("e2"), T0 + 10);
    c.tickets.push(set_status(n, TicketStatus::Resolved, Some("reinstalled the VPN profile")));
    applied(store.commit(c).await.unwrap());
    let grant = deskbot::store::compliance::NewGrant {
        user: support::user("U-kim"),
        role: deskbot::store::compliance::Role::Agent,
        scope: "network".into(),
        by: "boss".into(),
        justification: "joined the network team".into(),
    };
    store.grant_role(&grant, T0 + 20).await.unwrap();
}

async fn entries(store: &DynStore) -> Vec<AuditEntry> {
    store.audit_entries(0, None, 1000).await.unwrap()
}

/// The resolver and the note of entry #2 rewritten, as someone covering their tracks would.
fn rewritten(mut rows: Vec<AuditEntry>) -> Vec<AuditEntry> {
    let e = rows.iter_mut().find(|e| e.kind == "status:resolved").expect("a resolution entry");
    e.actor = "slack:UMALLORY".into();
    e.detail = Some("closed as a duplicate".into());
    rows
}

/// The same database opened again with the same key, as `deskbot` does on every start.
async fn reopen(db: &TestDb) -> (DynStore, ChainKeying) {
    let store = deskbot::store::open(&db.url, support::test_key()).await.unwrap();
    store.migrate().await.unwrap();
    let keying = store.key_audit_chain(T0 + 1000).await.unwrap();
    (store, keying)
}

async fn chain_recomputed_without_the_key_is_reported_broken_also_after_a_restart(db: &TestDb) {
    let store = &db.store;
    history(store).await;
    assert_eq!(audit::verify(store).await.unwrap().broken, None);
    sql(db, "UPDATE ticket_events SET actor = 'slack:UMALLORY', detail = 'closed as a duplicate' WHERE kind = 'status:resolved'").await;
    recompute_plain_chain(db, &rewritten(entries(store).await)).await;

    let v = audit::verify(store).await.unwrap();
    let broken = v.broken.expect("a chain recomputed without the key must not verify");
    assert_eq!(broken.seq, 1, "{broken:?}");
    assert!(broken.reason.contains("not keyed"), "{broken:?}");

    // A restart does not re-chain it: only a chain migration 0007 found is ever re-chained.
    let (again, keying) = reopen(db).await;
    assert_eq!(keying, ChainKeying::Unchanged);
    assert!(audit::verify(&again).await.unwrap().broken.is_some());
    assert!(entries(&again).await.iter().all(|e| e.kind != KEYED_KIND));
}

async fn anchor_catches_truncation_behind_it(db: &TestDb) {
    let store = &db.store;
    history(store).await;
    let first = anchor::current(store).await.unwrap();
    assert_eq!(first.seq, 3);
    assert_eq!(Some(first.hmac.clone()), entries(store).await[2].hash);
    assert!(first.at.as_deref().is_some_and(|t| t.ends_with('Z')), "{first:?}");
    store.append_audit(&[support_entry("later", T0 + 30)]).await.unwrap();
    assert_eq!(anchor::check(store, std::slice::from_ref(&first)).await.unwrap(), None);

    // Truncation behind the anchor, head moved back: the chain itself still verifies.
    let rows = entries(store).await;
    sql(db, "DELETE FROM audit_log WHERE seq >= 3").await;
    sql(
        db,
        &format!(
            "UPDATE audit_head SET last_seq = 2, last_hash = '{}' WHERE id = 1",
            rows[1].hash.clone().unwrap()
        ),
    )
    .await;
    assert_eq!(audit::verify(store).await.unwrap().broken, None);
    let m = anchor::check(store, std::slice::from_ref(&first)).await.unwrap().expect("truncation shows");
    assert_eq!(m.seq, 3);
    assert!(m.reason.contains("truncated"), "{m:?}");
}

/// A rewrite made to look like a chain from before the key gets re-chained on the next start
/// (the marker is in the database too): the re-chaining is recorded, and the anchor taken
/// before no longer holds.
async fn anchor_catches_a_rewrite_laundered_through_the_migration_marker(db: &TestDb) {
    let store = &db.store;
    history(store).await;
    let before = anchor::current(store).await.unwrap();
    let (seq, hash) = recompute_plain_chain(db, &rewritten(entries(store).await)).await;
    sql(
        db,
        &format!(
            "INSERT INTO audit_keying (id, state, legacy_seq, legacy_hash) VALUES (1, 'pending', {seq}, '{hash}')"
        ),
    )
    .await;
    let (again, keying) = reopen(db).await;
    assert!(matches!(keying, ChainKeying::Rekeyed { entries: 3, .. }), "{keying:?}");
    assert_eq!(audit::verify(&again).await.unwrap().broken, None);
    assert_eq!(entries(&again).await.last().unwrap().kind, KEYED_KIND);
    let m = anchor::check(&again, &[before]).await.unwrap().expect("the outside copy shows the rewrite");
    assert!(m.reason.contains("rewritten"), "{m:?}");
}

fn support_entry(kind: &str, at: i64) -> deskbot::store::compliance::NewAuditEntry {
    deskbot::store::compliance::NewAuditEntry {
        at,
        actor: "ops".into(),
        kind: kind.into(),
        ticket: None,
        subject: None,
        detail: Some(format!("{kind} detail")),
    }
}

/// Make the database look as it did under the previous version: plain SHA-256 links, and
/// migration 0007 not yet run. Then run it, as the upgrade does.
async fn as_before_the_key(db: &TestDb, rows: &[AuditEntry]) {
    recompute_plain_chain(db, rows).await;
    sql(db, "DROP TABLE audit_keying").await;
    sql(db, "DELETE FROM _sqlx_migrations WHERE version = 7").await;
}

async fn chain_from_before_the_key_is_rechained_once_and_recorded(db: &TestDb) {
    let store = &db.store;
    history(store).await;
    let rows = entries(store).await;
    as_before_the_key(db, &rows).await;
    assert!(audit::verify(store).await.unwrap().broken.is_some(), "plain links do not verify under the key");

    let (again, keying) = reopen(db).await;
    let ChainKeying::Rekeyed { entries: n, old_seq, .. } = keying else { panic!("{keying:?}") };
    assert_eq!((n, old_seq), (3, 3));
    assert_eq!(keying_state(db).await.as_deref(), Some("keyed"));
    let v = audit::verify(&again).await.unwrap();
    assert_eq!((v.entries, v.broken), (4, None));
    let all = entries(&again).await;
    let last = all.last().unwrap();
    assert_eq!((last.kind.as_str(), last.actor.as_str()), (KEYED_KIND, "deskbot"));
    assert!(last.detail.as_deref().unwrap_or("").contains("ended at #3"), "{last:?}");
    // The entries themselves are kept as they were, only their links change.
    for (old, new) in rows.iter().zip(&all) {
        assert_eq!((&old.actor, &old.kind, &old.detail), (&new.actor, &new.kind, &new.detail));
    }
    let (_, keying) = reopen(db).await;
    assert_eq!(keying, ChainKeying::Unchanged, "once only");
}

async fn broken_chain_from_before_the_key_is_refused_not_rechained(db: &TestDb) {
    let store = &db.store;
    history(store).await;
    as_before_the_key(db, &entries(store).await).await;
    // Tampered with under the previous version, without recomputing the chain.
    sql(db, "UPDATE audit_log SET detail = 'closed as a duplicate' WHERE seq = 2").await;

    let (again, keying) = reopen(db).await;
    let ChainKeying::Refused { seq, reason } = keying else { panic!("{keying:?}") };
    assert_eq!(seq, 2, "{reason}");
    assert_eq!(keying_state(db).await.as_deref(), Some("refused"));
    assert!(entries(&again).await.iter().all(|e| e.kind != KEYED_KIND));
    assert!(audit::verify(&again).await.unwrap().broken.is_some());
}

async fn daily_anchor_is_queued_once_for_every_webhook_that_wants_it(db: &TestDb) {
    use deskbot::adapters::webhook::WebhookConfig;
    use deskbot::domain::{OutboundKind, Platform};
    let store = &db.store;
    history(store).await;
    let hook = |name: &str, events: &[&str]| WebhookConfig {
        name: name.into(),
        url: format!("https://example.invalid/{name}"),
        secret: Some("s3cret".into()),
        secret_file: None,
        events: events.iter().map(|e| e.to_string()).collect(),
    };
    // Chosen as `deskbot run` chooses them: the webhooks that want the event (all by default).
    let hooks: Vec<String> =
        [hook("siem", &[]), hook("worm", &[anchor::ANCHOR_EVENT]), hook("jira", &["ticket.created"])]
            .into_iter()
            .filter(|w| w.wants(anchor::ANCHOR_EVENT))
            .map(|w| w.name)
            .collect();
    let now = T0 + 86_400_000;
    let sent = anchor::emit(store, &hooks, now).await.unwrap();
    assert_eq!(sent, anchor::current(store).await.unwrap());
    // The same day again (a retry): nothing more is queued.
    anchor::emit(store, &hooks, now).await.unwrap();
    let items = store.claim_outbox(&[Platform::Webhook], "w", now, 60_000, 10).await.unwrap();
    let mut to: Vec<&str> = items.iter().map(|i| i.message.to.channel.as_str()).collect();
    to.sort();
    assert_eq!(to, ["siem", "worm"]);
    for i in &items {
        let OutboundKind::Webhook { event, body } = &i.message.kind else { panic!("{:?}", i.message) };
        assert_eq!(event, anchor::ANCHOR_EVENT);
        assert_eq!(body["anchor"]["seq"], sent.seq);
        assert_eq!(body["anchor"]["hmac"], sent.hmac.as_str());
    }
    // The job hands out one day at a time, whoever asks.
    assert!(store.claim_job(anchor::ANCHOR_JOB, now, now + 86_400_000).await.unwrap());
    assert!(!store.claim_job(anchor::ANCHOR_JOB, now + 1000, now + 86_400_000).await.unwrap());
}
