//! The store conformance suite: one set of stories every `Store` must tell the same way, run
//! against a fresh SQLite file per test and a fresh PostgreSQL database per test on the server
//! `DESKBOT_TEST_POSTGRES_URL` names (unset, the PostgreSQL variants fail unless
//! `DESKBOT_TEST_SKIP_POSTGRES=1`). SQLite-only behaviour (locking, opening files) is at the end.

#[path = "support/reports_seed.rs"]
mod reports_seed;
#[path = "support/store.rs"]
mod support;

use deskbot::domain::{Platform, TicketNumber, TicketStatus};
use deskbot::store::{
    CommitOutcome, DynStore, KbFeedback, NewMessage, Speaker, StoreError, TICKET_PLACEHOLDER, TicketFilter,
    TicketOp, Turn,
};
use std::collections::HashSet;
use support::{T0, applied, commit, new_ticket, outbox, queue, set_status};

macro_rules! conformance {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let db = crate::support::sqlite().await;
                    super::$story(&db.store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let Some(db) = crate::support::postgres().await else { return };
                    super::$story(&db.store).await;
                    db.finish().await;
                }
            )*
        }
    };
}

conformance!(
    conversation_is_created_then_updated_by_version,
    replayed_event_changes_nothing_and_queues_nothing,
    conflicting_conversation_write_is_rejected,
    ticket_numbers_are_unique_and_increasing,
    created_ticket_keeps_requester_transcript_and_audit,
    ticket_filed_from_someone_elses_message_records_requester_and_filer,
    placeholder_is_replaced_with_created_ticket_number,
    duplicate_outbox_key_is_ignored,
    outbox_row_is_claimed_by_one_worker_only,
    claim_respects_platforms_and_due_time,
    failed_delivery_is_retried_after_backoff_then_dead,
    reopen_clears_resolved_at_and_audits,
    failed_commit_leaves_nothing_half_written,
    concurrent_commits_on_one_conversation_one_wins,
    tickets_are_listed_newest_first_with_filters,
    report_reads_cover_the_period_with_first_replies_breaches_and_ratings,
    failing_timer_backs_off_without_blocking_the_others_in_its_round,
    due_timers_come_in_the_order_they_are_next_due_up_to_the_limit,
    report_sessions_expire_and_end_on_logout,
    portal_links_work_once_and_sessions_expire_idle_or_old,
    company_sign_ins_are_taken_once_and_identities_link,
    conversation_messages_join_its_tickets_and_leave_out_internal_notes,
    a_commit_larger_than_one_statement_writes_every_row_in_order,
    commits_arriving_together_each_keep_their_own_outcome,
    an_events_first_read_is_its_conversation_and_the_requesters_tickets,
);

async fn conversation_is_created_then_updated_by_version(store: &DynStore) {
    assert_eq!(store.load_conversation("c1").await.unwrap(), None);
    applied(store.commit(commit("c1", 0, Some("e1"), T0)).await.unwrap());
    let stored = store.load_conversation("c1").await.unwrap().expect("stored");
    assert_eq!((stored.version, stored.updated_at), (1, T0));
    assert_eq!(stored.user, support::user("U-c1"));
    assert_eq!(stored.reply_to, support::address("D-c1"));
    assert_eq!(stored.state["version_read"], 0);

    let mut next = commit("c1", 1, Some("e2"), T0 + 5);
    next.feedback.push(KbFeedback {
        intent: None,
        article: Some("vpn".into()),
        query: "vpn".into(),
        helpful: true,
    });
    applied(store.commit(next).await.unwrap());
    let stored = store.load_conversation("c1").await.unwrap().expect("stored");
    assert_eq!(
        (stored.version, stored.updated_at, stored.state["version_read"].as_i64()),
        (2, T0 + 5, Some(1))
    );
    store.ping().await.unwrap();
    store.migrate().await.expect("migrating twice is harmless");
}

async fn replayed_event_changes_nothing_and_queues_nothing(store: &DynStore) {
    let mut first = commit("c1", 0, Some("ev-1"), T0);
    first.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    first.outbox.push(outbox("k1", Platform::Slack, "filed"));
    assert_eq!(applied(store.commit(first.clone()).await.unwrap()), vec![TicketNumber(1001)]);

    let mut replay = first.clone();
    replay.conversation.expected_version = 1;
    replay.outbox = vec![outbox("k2", Platform::Slack, "filed again")];
    assert_eq!(store.commit(replay).await.unwrap(), CommitOutcome::Duplicate);
    assert_eq!(store.commit(first).await.unwrap(), CommitOutcome::Duplicate);

    assert_eq!(store.load_conversation("c1").await.unwrap().unwrap().version, 1);
    assert_eq!(store.tickets(&TicketFilter::default()).await.unwrap().len(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}

async fn conflicting_conversation_write_is_rejected(store: &DynStore) {
    applied(store.commit(commit("c1", 0, Some("e1"), T0)).await.unwrap());
    for stale in [0, 2, 7] {
        let mut c = commit("c1", stale, Some("e2"), T0 + 1);
        c.tickets.push(TicketOp::Create(new_ticket("lost")));
        c.outbox.push(outbox("k-lost", Platform::Slack, "lost"));
        assert_eq!(store.commit(c).await.unwrap(), CommitOutcome::Conflict, "read at version {stale}");
    }
    assert_eq!(store.load_conversation("c1").await.unwrap().unwrap().version, 1);
    assert!(store.tickets(&TicketFilter::default()).await.unwrap().is_empty());
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    // The rejected event was not recorded: retried with the right version, it applies.
    applied(store.commit(commit("c1", 1, Some("e2"), T0 + 2)).await.unwrap());
}

async fn ticket_numbers_are_unique_and_increasing(store: &DynStore) {
    let mut two = commit("c0", 0, Some("e0"), T0);
    two.tickets = vec![TicketOp::Create(new_ticket("a")), TicketOp::Create(new_ticket("b"))];
    assert_eq!(applied(store.commit(two).await.unwrap()), vec![TicketNumber(1001), TicketNumber(1002)]);

    let tasks: Vec<_> = (1..=8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut c = commit(&format!("c{i}"), 0, Some(&format!("e{i}")), T0 + i);
                c.tickets.push(TicketOp::Create(new_ticket("parallel")));
                applied(store.commit(c).await.unwrap())
            })
        })
        .collect();
    let mut numbers = vec![1001, 1002];
    for task in tasks {
        numbers.extend(task.await.unwrap().iter().map(|n| n.0));
    }
    let distinct: HashSet<_> = numbers.iter().collect();
    assert_eq!(distinct.len(), 10, "numbers repeat: {numbers:?}");
    assert!(numbers.iter().all(|n| *n >= 1001));
    let listed: Vec<i64> =
        store.tickets(&TicketFilter::default()).await.unwrap().iter().map(|t| t.number.0).collect();
    assert!(listed.windows(2).all(|w| w[0] > w[1]), "not newest first: {listed:?}");
}

async fn created_ticket_keeps_requester_transcript_and_audit(store: &DynStore) {
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    let note = Turn { from: Speaker::Agent("bo".into()), text: "checking".into(), at: T0, by: None };
    c.messages.push(NewMessage { turn: note.clone(), ticket: Some(TicketNumber(0)), internal: true });
    c.messages.push(NewMessage { turn: note.clone(), ticket: None, internal: false });
    let number = applied(store.commit(c).await.unwrap())[0];

    let t = store.ticket(number).await.unwrap().expect("ticket");
    assert_eq!(
        (t.title.as_str(), t.status, t.requester_name.as_deref()),
        ("VPN down", TicketStatus::Open, Some("Ana"))
    );
    assert_eq!((t.requester, t.reply_to), (support::user("U-c1"), support::address("D-c1")));
    assert_eq!(
        (t.conversation.as_str(), t.queue.as_str(), t.intent.as_deref()),
        ("c1", "network", Some("vpn_down"))
    );
    assert_eq!(
        (t.fields.get("device").map(String::as_str), t.created_at, t.resolved_at),
        (Some("LT-0042"), T0, None)
    );
    assert_eq!(store.ticket(TicketNumber(4242)).await.unwrap(), None);

    let lines = store.ticket_messages(number).await.unwrap();
    let got: Vec<_> = lines.iter().map(|m| (m.turn.from.clone(), m.turn.text.as_str(), m.internal)).collect();
    assert_eq!(
        got,
        vec![
            (Speaker::Employee, "vpn is down", false),
            (Speaker::Bot, "Did restarting help?", false),
            (Speaker::Agent("bo".into()), "checking", true),
        ]
    );
    assert!(lines.iter().all(|m| m.ticket == Some(number) && m.conversation == "c1"));
    let events = store.ticket_events(number).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind.as_str(), events[0].actor.as_str(), events[0].at),
        ("created", "slack:U-c1", T0)
    );
}

async fn ticket_filed_from_someone_elses_message_records_requester_and_filer(store: &DynStore) {
    // Bob files the message of c1's owner, with a note of his own.
    let mut c = commit("c1", 0, Some("e1"), T0);
    let mut t = new_ticket("printer jams");
    t.filed_by = Some(support::user("U-bob"));
    t.filed_by_name = Some("Bob".into());
    t.transcript.push(Turn {
        from: Speaker::Filer("Bob".into()),
        text: "urgent for the board".into(),
        at: T0,
        by: None,
    });
    c.tickets.push(TicketOp::Create(t));
    let filed = applied(store.commit(c).await.unwrap())[0];
    // Their own ticket: filed by its requester.
    let mut c = commit("c2", 0, Some("e2"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("vpn down")));
    let own = applied(store.commit(c).await.unwrap())[0];

    let t = store.ticket(filed).await.unwrap().unwrap();
    assert_eq!((t.requester, t.filed_by), (support::user("U-c1"), support::user("U-bob")));
    let t = store.ticket(own).await.unwrap().unwrap();
    assert_eq!(t.filed_by, t.requester);
    let listed = store.tickets(&TicketFilter { limit: 10, ..TicketFilter::default() }).await.unwrap();
    assert_eq!(listed.iter().find(|t| t.number == filed).map(|t| t.filed_by.id.as_str()), Some("U-bob"));
    let json = serde_json::to_value(&listed).unwrap();
    assert!(
        json.as_array().unwrap().iter().all(|t| t.get("requester").is_some() && t.get("filed_by").is_some())
    );

    let lines = store.ticket_messages(filed).await.unwrap();
    assert_eq!(lines[0].turn.text, "vpn is down", "the transcript starts at the employee's message");
    assert_eq!(lines.last().map(|m| m.turn.from.clone()), Some(Speaker::Filer("Bob".into())));
    let events = store.ticket_events(filed).await.unwrap();
    assert_eq!((events[0].kind.as_str(), events[0].actor.as_str()), ("created", "slack:U-bob"));
    assert!(
        events[0].detail.as_deref().unwrap().starts_with("filed by slack:U-bob for slack:U-c1;"),
        "{events:?}"
    );
    let audit = store.audit_entries(0, None, 100).await.unwrap();
    assert!(audit.iter().any(|e| e.actor == "slack:U-bob"
        && e.detail.as_deref().is_some_and(|d| d.contains("filed by slack:U-bob for slack:U-c1"))));
}

async fn placeholder_is_replaced_with_created_ticket_number(store: &DynStore) {
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    let text = format!("Filed as {TICKET_PLACEHOLDER}.");
    c.outbox.push(outbox("k1", Platform::Slack, &text));
    let turn = Turn { from: Speaker::Bot, text: text.clone(), at: T0, by: None };
    c.messages.push(NewMessage { turn, ticket: Some(TicketNumber(0)), internal: false });
    let number = applied(store.commit(c).await.unwrap())[0];

    let claimed = store.claim_outbox(&[Platform::Slack], "w", T0, 1000, 10).await.unwrap();
    assert_eq!(claimed[0].message.text, format!("Filed as {number}."));
    let last = store.ticket_messages(number).await.unwrap().pop().expect("message row");
    assert_eq!(last.turn.text, "Filed as IT-1001.");

    let mut none = commit("c1", 1, Some("e2"), T0 + 1);
    none.outbox.push(outbox("k2", Platform::Slack, &text));
    applied(store.commit(none).await.unwrap());
    let claimed = store.claim_outbox(&[Platform::Slack], "w", T0 + 1, 1000, 10).await.unwrap();
    assert_eq!(claimed[0].message.text, "Filed as your ticket.");
}

async fn duplicate_outbox_key_is_ignored(store: &DynStore) {
    let mut a = commit("c1", 0, Some("e1"), T0);
    a.outbox = vec![outbox("same", Platform::Slack, "first"), outbox("same", Platform::Slack, "twice")];
    applied(store.commit(a).await.unwrap());
    let mut b = commit("c1", 1, Some("e2"), T0);
    b.outbox.push(outbox("same", Platform::Slack, "second"));
    applied(store.commit(b).await.unwrap());
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    let claimed = store.claim_outbox(&[Platform::Slack], "w", T0, 1000, 10).await.unwrap();
    assert_eq!((claimed.len(), claimed[0].message.text.as_str()), (1, "first"));
}

async fn outbox_row_is_claimed_by_one_worker_only(store: &DynStore) {
    queue(store, 3, Platform::Slack).await;
    let a = store.claim_outbox(&[Platform::Slack], "a", T0, 1000, 2).await.unwrap();
    let texts: Vec<_> = a.iter().map(|i| i.message.text.as_str()).collect();
    assert_eq!((texts, a[0].attempts), (vec!["m0", "m1"], 1));
    let b = store.claim_outbox(&[Platform::Slack], "b", T0, 1000, 10).await.unwrap();
    assert_eq!(b.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(), vec!["slack-2"]);
    assert!(store.claim_outbox(&[Platform::Slack], "b", T0 + 999, 1000, 10).await.unwrap().is_empty());
    // An expired lease is claimed again, counting the attempt.
    let c = store.claim_outbox(&[Platform::Slack], "c", T0 + 1001, 1000, 10).await.unwrap();
    assert_eq!((c.len(), c[0].attempts), (3, 2));
    assert_eq!(store.outbox_depth().await.unwrap(), 3);

    queue(store, 40, Platform::Discord).await;
    let all = claim_race(std::slice::from_ref(store), Platform::Discord, 3, false).await;
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (40, 40), "a row was claimed twice or never");
}

/// Eight workers, spread over `stores` in turn, claim `platform`'s rows `limit` at a time until
/// none is left (marking each batch done when `finish`); every id each claimed, in one list.
async fn claim_race(stores: &[DynStore], platform: Platform, limit: i64, finish: bool) -> Vec<i64> {
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let store = stores[w % stores.len()].clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = store.claim_outbox(&[platform], &format!("w{w}"), T0, 60_000, limit).await;
                    let ids: Vec<i64> = batch.unwrap().into_iter().map(|i| i.id).collect();
                    if ids.is_empty() {
                        return got;
                    }
                    if finish {
                        store.outbox_done_many(&ids, T0 + 1).await.unwrap();
                    }
                    got.extend(ids);
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

async fn claim_respects_platforms_and_due_time(store: &DynStore) {
    queue(store, 1, Platform::Discord).await;
    assert!(store.claim_outbox(&[Platform::Slack], "w", T0, 1000, 10).await.unwrap().is_empty());
    assert!(store.claim_outbox(&[], "w", T0, 1000, 10).await.unwrap().is_empty());
    assert!(store.claim_outbox(&[Platform::Discord], "w", T0 - 1, 1000, 10).await.unwrap().is_empty());
    assert!(store.claim_outbox(&[Platform::Discord], "w", T0, 1000, 0).await.unwrap().is_empty());
    let both = [Platform::Slack, Platform::Discord];
    assert_eq!(store.claim_outbox(&both, "w", T0, 1000, 10).await.unwrap().len(), 1);
}

async fn failed_delivery_is_retried_after_backoff_then_dead(store: &DynStore) {
    queue(store, 1, Platform::Slack).await;
    let item = store.claim_outbox(&[Platform::Slack], "w", T0, 1000, 1).await.unwrap().remove(0);
    store.outbox_failed(item.id, "429", Some(T0 + 5000)).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    assert!(store.claim_outbox(&[Platform::Slack], "w", T0 + 4999, 1000, 1).await.unwrap().is_empty());
    let again = store.claim_outbox(&[Platform::Slack], "w", T0 + 5000, 1000, 1).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (item.id, 2));
    store.outbox_failed(item.id, "channel_not_found", None).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert!(store.claim_outbox(&[Platform::Slack], "w", T0 + 99_999, 1000, 1).await.unwrap().is_empty());

    queue(store, 1, Platform::Discord).await;
    let item = store.claim_outbox(&[Platform::Discord], "w", T0, 1000, 1).await.unwrap().remove(0);
    store.outbox_done(item.id, T0 + 1).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert!(store.claim_outbox(&[Platform::Discord], "w", T0 + 99_999, 1000, 1).await.unwrap().is_empty());
}

async fn reopen_clears_resolved_at_and_audits(store: &DynStore) {
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    let n = applied(store.commit(c).await.unwrap())[0];
    let mut c = commit("c1", 1, Some("e2"), T0 + 10);
    c.tickets.push(set_status(n, TicketStatus::Resolved, Some("reset the token")));
    applied(store.commit(c).await.unwrap());
    assert_eq!(store.ticket(n).await.unwrap().unwrap().resolved_at, Some(T0 + 10));

    let mut c = commit("c1", 2, Some("e3"), T0 + 20);
    c.tickets.push(set_status(n, TicketStatus::Open, None));
    c.tickets.push(TicketOp::Csat { number: n, score: 2, comment: Some("came back".into()) });
    applied(store.commit(c).await.unwrap());
    let t = store.ticket(n).await.unwrap().unwrap();
    assert_eq!((t.status, t.resolved_at, t.updated_at), (TicketStatus::Open, None, T0 + 20));

    let events = store.ticket_events(n).await.unwrap();
    let got: Vec<_> =
        events.iter().map(|e| (e.kind.as_str(), e.actor.as_str(), e.detail.as_deref(), e.at)).collect();
    assert_eq!(got[1], ("status:resolved", "slack:UAGENT", Some("reset the token"), T0 + 10));
    assert_eq!(got[2], ("reopened", "slack:UAGENT", None, T0 + 20));
    assert_eq!(got[3], ("csat", "slack:U-c1", Some("score 2: came back"), T0 + 20));
}

async fn failed_commit_leaves_nothing_half_written(store: &DynStore) {
    let mut bad = commit("c1", 0, Some("e1"), T0);
    bad.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    bad.tickets.push(set_status(TicketNumber(999_999), TicketStatus::Resolved, None));
    bad.outbox.push(outbox("k1", Platform::Slack, "filed"));
    let err = store.commit(bad.clone()).await.expect_err("unknown ticket must fail the commit");
    assert!(err.to_string().contains("IT-999999"), "{err}");
    assert_eq!(store.load_conversation("c1").await.unwrap(), None);
    assert!(store.tickets(&TicketFilter::default()).await.unwrap().is_empty());
    assert!(store.ticket_messages(TicketNumber(1001)).await.unwrap().is_empty());
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    bad.tickets.pop();
    applied(store.commit(bad).await.unwrap());
}

async fn concurrent_commits_on_one_conversation_one_wins(store: &DynStore) {
    for version in [0, 1] {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut c = commit("c1", version, Some(&format!("e{version}-{i}")), T0 + i);
                    c.outbox.push(outbox(&format!("k{version}-{i}"), Platform::Slack, "hi"));
                    store.commit(c).await.unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                CommitOutcome::Applied { .. } => wins += 1,
                CommitOutcome::Conflict => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "exactly one writer at version {version} wins");
    }
    assert_eq!(store.load_conversation("c1").await.unwrap().unwrap().version, 2);
    assert_eq!(store.outbox_depth().await.unwrap(), 2);
}

async fn tickets_are_listed_newest_first_with_filters(store: &DynStore) {
    for (i, key) in ["c1", "c2", "c3"].iter().enumerate() {
        let mut c = commit(key, 0, None, T0 + i as i64);
        c.tickets.push(TicketOp::Create(new_ticket(key)));
        applied(store.commit(c).await.unwrap());
    }
    let mut c = commit("c2", 1, None, T0 + 9);
    c.tickets.push(set_status(TicketNumber(1002), TicketStatus::Resolved, None));
    applied(store.commit(c).await.unwrap());

    let list = |filter: TicketFilter| async move {
        store.tickets(&filter).await.unwrap().iter().map(|t| t.number.0).collect::<Vec<_>>()
    };
    assert_eq!(list(TicketFilter::default()).await, vec![1003, 1002, 1001]);
    assert_eq!(list(TicketFilter { limit: 2, ..Default::default() }).await, vec![1003, 1002]);
    let open =
        TicketFilter { statuses: vec![TicketStatus::Open, TicketStatus::Pending], ..Default::default() };
    assert_eq!(list(open).await, vec![1003, 1001]);
    let mine = TicketFilter { requester: Some(support::user("U-c2")), ..Default::default() };
    assert_eq!(list(mine).await, vec![1002]);
    let queue = deskbot::domain::QueueName::parse("identity").unwrap();
    assert!(list(TicketFilter { queue: Some(queue), ..Default::default() }).await.is_empty());
}

async fn an_events_first_read_is_its_conversation_and_the_requesters_tickets(store: &DynStore) {
    let me = support::user("U-c1");
    let (conversation, tickets) = store.load_for_event("c1", &me, 20).await.unwrap();
    assert!(conversation.is_none() && tickets.is_empty(), "nothing stored yet");
    for version in 0..3 {
        let mut c = commit("c1", version, None, T0 + version);
        c.tickets.push(TicketOp::Create(new_ticket(&format!("mine {version}"))));
        applied(store.commit(c).await.unwrap());
    }
    let mut theirs = commit("c2", 0, None, T0);
    theirs.tickets.push(TicketOp::Create(new_ticket("theirs")));
    applied(store.commit(theirs).await.unwrap());
    applied(store.commit(commit("c3", 0, None, T0)).await.unwrap());

    let (conversation, tickets) = store.load_for_event("c1", &me, 20).await.unwrap();
    assert_eq!(conversation, store.load_conversation("c1").await.unwrap());
    assert_eq!(conversation.map(|c| c.version), Some(3));
    let mine = TicketFilter { requester: Some(me.clone()), limit: 20, ..Default::default() };
    assert_eq!(tickets, store.tickets(&mine).await.unwrap(), "the same tickets as the listing, every column");
    let numbers = |tickets: &[deskbot::store::Ticket]| tickets.iter().map(|t| t.number.0).collect::<Vec<_>>();
    assert_eq!(numbers(&tickets), vec![1003, 1002, 1001], "only mine, newest first");
    assert_eq!(tickets[0].title, "mine 2");

    let (_, newest) = store.load_for_event("c1", &me, 2).await.unwrap();
    assert_eq!(numbers(&newest), vec![1003, 1002], "the limit keeps the newest");
    let (elsewhere, still_mine) = store.load_for_event("c9", &me, 20).await.unwrap();
    assert!(elsewhere.is_none(), "a conversation that does not exist is none");
    assert_eq!(numbers(&still_mine), vec![1003, 1002, 1001]);
    let (theirs, none) = store.load_for_event("c3", &support::user("U-c3"), 20).await.unwrap();
    assert_eq!(theirs.map(|c| c.key), Some("c3".to_string()));
    assert!(none.is_empty(), "someone who filed nothing has no tickets");
}

// ---- PostgreSQL only ---------------------------------------------------------------------

/// A connection that was used moments ago goes out unchecked; one idle longer is pinged first.
/// When the server has ended every session (as a restart does), the pause puts each pooled
/// connection past that point, so reads and commits get a live connection again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_ended_by_the_server_are_replaced_after_a_pause() {
    use sqlx::Connection;
    let Some(db) = support::postgres().await else { return };
    applied(db.store.commit(commit("c1", 0, Some("e1"), T0)).await.unwrap());
    assert!(db.store.load_conversation("c1").await.unwrap().is_some());

    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let ended: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(ended >= 2, "the store's reader and writer sessions were ended ({ended})");
    admin.close().await.unwrap();
    // Longer than the pools' 500 ms "recently used" window.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;

    assert_eq!(db.store.load_conversation("c1").await.unwrap().map(|c| c.version), Some(1));
    applied(db.store.commit(commit("c1", 1, Some("e2"), T0 + 1)).await.unwrap());
    let (conversation, _) = db.store.load_for_event("c1", &support::user("U-c1"), 20).await.unwrap();
    assert_eq!(conversation.map(|c| c.version), Some(2));
    db.finish().await;
}

/// Every delivered outbox row leaves dead index entries behind until vacuum. The claim must
/// read past them with a plain index scan (which marks them, so the next claim skips them), not
/// a bitmap scan, which visits every one on every claim: the plan it runs with on a busy,
/// never-analysed outbox says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outbox_claim_reads_past_delivered_rows_with_an_index_scan() {
    let Some(db) = support::postgres().await else { return };
    for c in 0..20 {
        let mut batch = commit(&format!("c{c}"), 0, Some(&format!("e{c}")), T0);
        for k in 0..50 {
            batch.outbox.push(outbox(&format!("k{c}-{k}"), Platform::Slack, "hello"));
        }
        applied(db.store.commit(batch).await.unwrap());
    }
    let claimed = db.store.claim_outbox(&[Platform::Slack], "w", T0, 60_000, 1000).await.unwrap();
    assert_eq!(claimed.len(), 1000);
    let ids: Vec<i64> = claimed.iter().map(|i| i.id).collect();
    db.store.outbox_done_many(&ids, T0 + 1).await.unwrap();

    let store = deskbot::store::postgres::PostgresStore::open(&db.url, support::test_key()).await.unwrap();
    let plan = store.outbox_claim_plan().await.unwrap();
    assert!(!plan.contains("Bitmap"), "the claim reads the outbox by a bitmap scan:\n{plan}");
    assert!(plan.contains("Index Scan using outbox_claim_idx"), "{plan}");
    assert!(db.store.claim_outbox(&[Platform::Slack], "w", T0 + 2, 60_000, 10).await.unwrap().is_empty());
    db.finish().await;
}

// ---- SQLite only -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_database_reports_busy() {
    use sqlx::Connection;
    let db = support::sqlite_with(std::time::Duration::from_millis(200)).await;
    let mut other = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.unwrap();

    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    c.outbox.push(outbox("k1", Platform::Slack, "filed"));
    let err = db.store.commit(c.clone()).await.expect_err("the database is locked");
    assert!(matches!(err, StoreError::Busy), "{err:?}");
    let err = db.store.outbox_done(1, T0).await.expect_err("the database is locked");
    assert!(matches!(err, StoreError::Busy), "{err:?}");

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(db.store.load_conversation("c1").await.unwrap(), None);
    assert!(db.store.tickets(&TicketFilter::default()).await.unwrap().is_empty());
    assert_eq!(db.store.outbox_depth().await.unwrap(), 0);
    assert_eq!(applied(db.store.commit(c).await.unwrap()), vec![TicketNumber(1001)]);
}

/// Two processes on one SQLite file (each with its own writer connection) claim and finish
/// outbox rows side by side: the claim is one statement, and SQLite takes the write lock when it
/// starts, so no row is claimed by both and every row ends done.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_file_never_claim_a_row_twice() {
    let db = support::sqlite().await;
    let other: DynStore = std::sync::Arc::new(
        deskbot::store::sqlite::SqliteStore::open_with(
            &db.url,
            deskbot::store::sqlite::DEFAULT_BUSY_TIMEOUT,
            support::test_key(),
        )
        .await
        .unwrap(),
    );
    support::queue(&db.store, 60, Platform::Slack).await;
    let all = claim_race(&[db.store.clone(), other.clone()], Platform::Slack, 2, true).await;
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (60, 60), "a row was claimed twice or never");
    assert_eq!(other.outbox_depth().await.unwrap(), 0);
    assert!(
        db.store
            .claim_outbox(&[Platform::Slack], "late", T0 + 10_000_000, 1000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn opening_in_a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/deskbot.db");
    let url = format!("sqlite:{}", path.display());
    let err = deskbot::store::open(&url, support::test_key()).await.err().expect("cannot create the file");
    let StoreError::Connect(msg) = &err else { panic!("expected a connect error, got {err:?}") };
    assert!(msg.contains(&path.display().to_string()) && msg.contains("directory"), "{msg}");

    let err =
        deskbot::store::open("mysql://db/deskbot", support::test_key()).await.err().expect("unsupported");
    assert!(matches!(err, StoreError::Connect(_)), "{err:?}");
    let err = deskbot::store::open("postgres://bot:hunter2@127.0.0.1:1/deskbot", support::test_key())
        .await
        .err()
        .expect("no server");
    let StoreError::Connect(msg) = &err else { panic!("expected a connect error, got {err:?}") };
    assert!(msg.contains("127.0.0.1:1") && !msg.contains("hunter2"), "{msg}");
}

#[tokio::test]
async fn open_does_not_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("deskbot.db").display());
    let store = deskbot::store::open(&url, support::test_key()).await.unwrap();
    store.ping().await.unwrap();
    assert!(store.outbox_depth().await.is_err(), "tables exist before migrate()");
    store.migrate().await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn unreadable_stored_data_is_reported_not_panicked() {
    use sqlx::Connection;
    let db = support::sqlite().await;
    applied(db.store.commit(commit("c1", 0, None, T0)).await.unwrap());
    queue(&db.store, 2, Platform::Slack).await;
    let mut raw = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE conversations SET state = '{not json' WHERE key = 'c1'")
        .execute(&mut raw)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET payload = '{\"to\": 5}' WHERE key = 'slack-0'")
        .execute(&mut raw)
        .await
        .unwrap();

    let err = db.store.load_conversation("c1").await.expect_err("state is not JSON");
    assert!(matches!(&err, StoreError::Corrupt(m) if m.contains("c1")), "{err:?}");
    // The unreadable row is set aside as dead; the readable one is still delivered.
    let claimed = db.store.claim_outbox(&[Platform::Slack], "w", T0, 1000, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(), vec!["slack-1"]);
    assert_eq!(db.store.outbox_depth().await.unwrap(), 1);
}

async fn report_reads_cover_the_period_with_first_replies_breaches_and_ratings(store: &DynStore) {
    use deskbot::store::CaseKind;
    use reports_seed::{D, H, M};
    let base = T0;
    reports_seed::seed(store, base).await;
    let (from, to) = (base - 7 * D, base + D);

    let cases = store.case_events(from, to).await.unwrap();
    assert_eq!(cases.len(), 14, "c0 is outside the period: {cases:#?}");
    assert_eq!(cases[0].kind, CaseKind::Answered);
    assert_eq!((cases[0].conversation.as_str(), cases[0].at), ("c1", base));
    assert_eq!(cases[0].user.to_string(), "slack:UALICE");
    assert_eq!(cases[0].intent.as_deref(), Some("password_reset"));
    assert_eq!(cases[0].article.as_deref(), Some("password-reset"));
    assert_eq!(cases[0].queue.as_str(), "identity");
    assert_eq!(store.case_events(base - 11 * D, base - 9 * D).await.unwrap().len(), 1);
    assert!(store.case_events(base, base).await.unwrap().is_empty(), "the end is exclusive");

    let tickets = store.ticket_facts(from, to).await.unwrap();
    assert_eq!(tickets.len(), 4);
    let t1 = &tickets[0];
    assert_eq!((t1.queue.as_str(), t1.conversation.as_str()), ("network", "c2"));
    assert_eq!(t1.first_response_at, Some(base + 41 * M));
    assert_eq!(t1.resolved_at, Some(base + 2 * H + 11 * M));
    assert_eq!(t1.sla.as_ref().and_then(|s| s.first_response_due), Some(base + 11 * M + H));
    assert_eq!(t1.sla_breaches, 0);
    assert_eq!(tickets[1].sla_breaches, 1);
    assert_eq!(tickets[2].first_response_at, Some(base + 61 * M), "internal notes are not a response");
    assert_eq!((tickets[2].sla.clone(), tickets[2].resolved_at), (None, None));

    let csat = store.csat_scores(from, to).await.unwrap();
    let scores: Vec<(i64, u8, &str)> = csat.iter().map(|c| (c.ticket.0, c.score, c.queue.as_str())).collect();
    assert_eq!(
        scores,
        [
            (t1.number.0, 5, "network"),
            (tickets[3].number.0, 1, "identity"),
            (tickets[1].number.0, 2, "service-desk")
        ]
    );
    assert_eq!(csat[0].requester.to_string(), "slack:UBOB");

    assert_eq!(store.test_conversations().await.unwrap(), ["c8"]);
    store.mark_test_conversation("c8", base + 1).await.unwrap();
    store.mark_test_conversation("c9", base + 1).await.unwrap();
    assert_eq!(store.test_conversations().await.unwrap(), ["c8", "c9"], "flagging twice is harmless");

    // Erasing a person keeps the counts but not their words or id.
    let carol = deskbot::domain::UserRef::new(Platform::Slack, "UCAROL");
    let key = deskbot::compliance::key::AuditKey::from_bytes(vec![7u8; 32]).unwrap();
    deskbot::compliance::person::erase(store, &key, &carol, &[], "dpo", base + D).await.unwrap();
    let after = store.case_events(from, to).await.unwrap();
    assert_eq!(after.len(), 14);
    let theirs: Vec<_> = after.iter().filter(|c| c.conversation == "c3").collect();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].query, "[erased]");
    assert!(theirs[0].user.id.starts_with("erased-"), "{:?}", theirs[0].user);
    assert_eq!(theirs[0].kind, CaseKind::NoMatch);
}

#[path = "conformance/compliance.rs"]
mod compliance;

#[path = "conformance/audit_key.rs"]
mod audit_key;

async fn failing_timer_backs_off_without_blocking_the_others_in_its_round(store: &DynStore) {
    use deskbot::service::scheduler::{Round, tick_with};
    use deskbot::service::{Handled, ServiceError};
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    for kind in ["first", "broken", "last"] {
        c.tickets.push(TicketOp::Schedule { number: TicketNumber(0), kind: kind.into(), due_at: T0 + 10 });
    }
    applied(store.commit(c).await.unwrap());
    let fire = |timer: deskbot::store::Timer| async move {
        if timer.kind == "broken" {
            return Err(ServiceError::Store(StoreError::Busy));
        }
        let mut c = commit("timers", 0, Some(&format!("timer:{}", timer.id)), T0 + 10);
        c.conversation.expected_version = store.load_conversation("timers").await?.map_or(0, |c| c.version);
        c.tickets.push(TicketOp::TimerFired { id: timer.id });
        store.commit(c).await?;
        Ok(Handled::Applied { created: Vec::new(), replies: 0 })
    };
    let now = T0 + 10;
    let round = tick_with(store, now, fire).await.unwrap();
    assert_eq!(round, Round { fired: 2, failed: 1 }, "the timer after the broken one fired too");
    // The broken timer waits for its retry instead of heading every round.
    assert!(store.due_timers(now, 100).await.unwrap().is_empty());
    assert!(store.due_timers(now + 4_999, 100).await.unwrap().is_empty());
    let again = store.due_timers(now + 5_000, 100).await.unwrap();
    assert_eq!(again.iter().map(|t| (t.kind.as_str(), t.attempts)).collect::<Vec<_>>(), vec![("broken", 1)]);
    // It fails again: the next wait is twice as long.
    assert_eq!(tick_with(store, now + 5_000, fire).await.unwrap(), Round { fired: 0, failed: 1 });
    assert!(store.due_timers(now + 14_999, 100).await.unwrap().is_empty());
    assert_eq!(store.due_timers(now + 15_000, 100).await.unwrap()[0].attempts, 2);
}

async fn due_timers_come_in_the_order_they_are_next_due_up_to_the_limit(store: &DynStore) {
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    for (kind, due) in [("c", 30), ("a", 10), ("later", 1_000), ("b", 20), ("d", 40)] {
        c.tickets.push(TicketOp::Schedule { number: TicketNumber(0), kind: kind.into(), due_at: T0 + due });
    }
    applied(store.commit(c).await.unwrap());
    let kinds = |ts: Vec<deskbot::store::Timer>| ts.into_iter().map(|t| t.kind).collect::<Vec<_>>();
    assert_eq!(
        kinds(store.due_timers(T0 + 100, 2).await.unwrap()),
        ["a", "b"],
        "the earliest, at most the limit"
    );
    assert_eq!(kinds(store.due_timers(T0 + 100, 100).await.unwrap()), ["a", "b", "c", "d"]);
    assert!(store.due_timers(T0 + 9, 100).await.unwrap().is_empty(), "nothing due yet");
    // "a" fails and waits until T0 + 35: "b", "c" come before it, "d" after.
    let a = store.due_timers(T0 + 10, 1).await.unwrap().remove(0);
    store.timer_failed(a.id, T0 + 35).await.unwrap();
    assert_eq!(kinds(store.due_timers(T0 + 34, 100).await.unwrap()), ["b", "c"]);
    assert_eq!(kinds(store.due_timers(T0 + 100, 100).await.unwrap()), ["b", "c", "a", "d"]);
}

async fn report_sessions_expire_and_end_on_logout(store: &DynStore) {
    store.create_report_session("hash-a", "csrf-a", T0, T0 + 1000).await.unwrap();
    store.create_report_session("hash-b", "csrf-b", T0, T0 + 5000).await.unwrap();
    assert_eq!(store.report_session("hash-a", T0 + 999).await.unwrap().as_deref(), Some("csrf-a"));
    assert_eq!(store.report_session("hash-a", T0 + 1000).await.unwrap(), None, "expired");
    assert_eq!(store.report_session("nobody", T0).await.unwrap(), None);
    assert!(store.delete_report_session("hash-b").await.unwrap());
    assert_eq!(store.report_session("hash-b", T0 + 1).await.unwrap(), None, "logged out");
    assert!(!store.delete_report_session("hash-b").await.unwrap());
    store.create_report_session("hash-c", "csrf-c", T0, T0 + 9000).await.unwrap();
    assert_eq!(store.purge_report_sessions(T0 + 2000).await.unwrap(), 1, "only the expired one goes");
    assert_eq!(store.report_session("hash-c", T0 + 2000).await.unwrap().as_deref(), Some("csrf-c"));
}

async fn portal_links_work_once_and_sessions_expire_idle_or_old(store: &DynStore) {
    let alice: deskbot::domain::UserRef = "slack:UALICE".parse().unwrap();
    store.create_portal_link("link-a", &alice, T0, T0 + 600_000).await.unwrap();
    store.create_portal_link("link-b", &alice, T0, T0 + 600_000).await.unwrap();
    assert_eq!(store.use_portal_link("link-a", T0 + 1).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.use_portal_link("link-a", T0 + 2).await.unwrap(), None, "used once");
    assert_eq!(store.use_portal_link("link-b", T0 + 600_000).await.unwrap(), None, "expired");
    assert_eq!(store.use_portal_link("nobody", T0).await.unwrap(), None);

    let idle = 30 * 60_000;
    store.create_portal_session("sess-a", "csrf-a", &alice, T0, T0 + 3 * idle).await.unwrap();
    let found = store.portal_session("sess-a", T0 + idle - 1, idle).await.unwrap().unwrap();
    assert_eq!((found.user, found.csrf.as_str()), (alice.clone(), "csrf-a"));
    // Used just now: alive again for another idle period, but never past its expiry.
    assert!(store.portal_session("sess-a", T0 + 2 * idle - 2, idle).await.unwrap().is_some());
    assert!(store.portal_session("sess-a", T0 + 3 * idle, idle).await.unwrap().is_none(), "absolute expiry");
    store.create_portal_session("sess-b", "csrf-b", &alice, T0, T0 + 3 * idle).await.unwrap();
    assert!(store.portal_session("sess-b", T0 + idle, idle).await.unwrap().is_none(), "idle");
    store.create_portal_session("sess-c", "csrf-c", &alice, T0, T0 + 3 * idle).await.unwrap();
    assert!(store.delete_portal_session("sess-c").await.unwrap());
    assert!(store.portal_session("sess-c", T0 + 1, idle).await.unwrap().is_none(), "logged out");
    // The purge takes expired links and dead sessions.
    assert_eq!(store.purge_portal(T0 + 3 * idle, idle).await.unwrap(), 4);
}

async fn company_sign_ins_are_taken_once_and_identities_link(store: &DynStore) {
    use deskbot::store::{OidcLogin, ProviderIdentity};
    let login =
        OidcLogin { browser_hash: "browser".into(), nonce: "nonce".into(), pkce_verifier: "verifier".into() };
    store.create_oidc_login("state-a", &login, T0, T0 + 600_000).await.unwrap();
    store.create_oidc_login("state-b", &login, T0, T0 + 600_000).await.unwrap();
    assert_eq!(store.take_oidc_login("state-a", T0 + 1).await.unwrap(), Some(login.clone()));
    assert_eq!(store.take_oidc_login("state-a", T0 + 2).await.unwrap(), None, "taken once");
    assert_eq!(store.take_oidc_login("state-b", T0 + 600_000).await.unwrap(), None, "expired");
    assert_eq!(store.take_oidc_login("state-b", T0).await.unwrap(), None, "an expired take spends it too");

    let who = ProviderIdentity {
        issuer: "https://idp".into(),
        subject: "sub-1".into(),
        email: "a@example.com".into(),
    };
    assert_eq!(store.portal_identity("https://idp", "sub-1").await.unwrap(), None);
    let alice: deskbot::domain::UserRef = "slack:UALICE".parse().unwrap();
    let other: deskbot::domain::UserRef = "console:alice".parse().unwrap();
    store.link_portal_identity(&who, &alice, T0).await.unwrap();
    assert_eq!(store.portal_identity("https://idp", "sub-1").await.unwrap(), Some(alice));
    store.link_portal_identity(&who, &other, T0 + 1).await.unwrap();
    assert_eq!(store.portal_identity("https://idp", "sub-1").await.unwrap(), Some(other), "relinked");
    assert_eq!(store.portal_identity("https://other-idp", "sub-1").await.unwrap(), None, "per issuer");

    store.create_identity_claim("claim-a", &who, T0, T0 + 600_000).await.unwrap();
    store.create_identity_claim("claim-b", &who, T0, T0 + 600_000).await.unwrap();
    assert_eq!(store.take_identity_claim("claim-a", T0 + 1).await.unwrap(), Some(who.clone()));
    assert_eq!(store.take_identity_claim("claim-a", T0 + 1).await.unwrap(), None, "taken once");
    store.create_oidc_login("state-c", &login, T0, T0 + 600_000).await.unwrap();
    // The purge takes the expired sign-in and claim.
    assert_eq!(store.purge_portal(T0 + 600_000, 60_000).await.unwrap(), 2);
    assert_eq!(store.take_identity_claim("claim-b", T0).await.unwrap(), None);
}

async fn conversation_messages_join_its_tickets_and_leave_out_internal_notes(store: &DynStore) {
    let mut c = commit("conv-m", 0, Some("ev-m1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("printer on fire")));
    c.messages.push(NewMessage {
        turn: Turn { from: Speaker::Employee, text: "the printer is on fire".into(), at: T0, by: None },
        ticket: None,
        internal: false,
    });
    // The copy of it the new ticket keeps is not shown twice.
    c.messages.push(NewMessage {
        turn: Turn { from: Speaker::Employee, text: "copied into the ticket".into(), at: T0, by: None },
        ticket: Some(TicketNumber(0)),
        internal: false,
    });
    let number = applied(store.commit(c).await.unwrap())[0];
    // The desk writes a ticket's lines without the conversation.
    let mut desk = commit("", 0, Some("ev-m2"), T0 + 1);
    desk.conversation = deskbot::store::ConversationWrite::none();
    for (text, internal) in [("a public reply", false), ("an internal note", true)] {
        desk.messages.push(NewMessage {
            turn: Turn { from: Speaker::Agent("dana".into()), text: text.into(), at: T0 + 1, by: None },
            ticket: Some(number),
            internal,
        });
    }
    applied(store.commit(desk).await.unwrap());
    let lines = store.conversation_messages("conv-m", 50).await.unwrap();
    let texts: Vec<&str> = lines.iter().map(|m| m.turn.text.as_str()).collect();
    assert!(texts.contains(&"the printer is on fire") && texts.contains(&"a public reply"), "{texts:?}");
    assert!(!texts.contains(&"an internal note") && !texts.contains(&"copied into the ticket"), "{texts:?}");
    assert!(lines.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(store.conversation_last_message("conv-m").await.unwrap(), lines.last().unwrap().id);
    assert_eq!(store.conversation_messages("conv-m", 1).await.unwrap().len(), 1, "the newest only");
    assert_eq!(store.conversation_last_message("nobody").await.unwrap(), 0);
}

/// A commit's turns, ratings, case events and queued messages are written together, several
/// hundred rows per statement: one with more than that keeps every row, in order, and a
/// replay of its event writes none of them again.
async fn a_commit_larger_than_one_statement_writes_every_row_in_order(store: &DynStore) {
    use deskbot::store::{CaseEvent, CaseKind};
    const N: usize = 1_203;
    let mut c = commit("conv-big", 0, Some("ev-big"), T0);
    for i in 0..N {
        c.messages.push(NewMessage {
            turn: Turn { from: Speaker::Employee, text: format!("line {i}"), at: T0, by: None },
            ticket: None,
            internal: false,
        });
        c.outbox.push(outbox(&format!("big-{i}"), Platform::Slack, &format!("reply {i}")));
        c.cases.push(CaseEvent {
            kind: CaseKind::Answered,
            intent: Some("vpn".into()),
            article: None,
            queue: deskbot::domain::QueueName::parse("it").unwrap(),
            query: format!("question {i}"),
        });
        c.feedback.push(KbFeedback {
            intent: None,
            article: Some("vpn".into()),
            query: format!("q {i}"),
            helpful: true,
        });
    }
    let replay = c.clone();
    applied(store.commit(c).await.unwrap());

    let lines = store.conversation_messages("conv-big", 5_000).await.unwrap();
    let texts: Vec<String> = lines.iter().map(|m| m.turn.text.clone()).collect();
    assert!(texts == (0..N).map(|i| format!("line {i}")).collect::<Vec<_>>(), "{} lines", texts.len());
    assert_eq!(store.outbox_depth().await.unwrap(), N as i64);
    let mut replies: Vec<String> = Vec::new();
    loop {
        let claimed = store.claim_outbox(&[Platform::Slack], "w", T0, 1000, 500).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        replies.extend(claimed.iter().map(|i| i.message.text.clone()));
    }
    assert!(replies == (0..N).map(|i| format!("reply {i}")).collect::<Vec<_>>(), "{} queued", replies.len());
    let cases = store.case_events(T0, T0 + 1).await.unwrap();
    let queries: Vec<String> = cases.iter().map(|e| e.query.clone()).collect();
    assert!(
        queries == (0..N).map(|i| format!("question {i}")).collect::<Vec<_>>(),
        "{} cases",
        queries.len()
    );
    assert!(
        cases.iter().all(|e| e.conversation == "conv-big" && e.user.to_string() == "slack:U-conv-big"),
        "{:?}",
        cases[0]
    );

    assert!(matches!(store.commit(replay).await.unwrap(), CommitOutcome::Duplicate));
    assert_eq!(store.conversation_messages("conv-big", 5_000).await.unwrap().len(), N);
    assert_eq!(store.case_events(T0, T0 + 1).await.unwrap().len(), N);
}

/// Commits that arrive together are written in one transaction (group commit), but each keeps
/// its own outcome: a replayed event is a duplicate and queues nothing, a stale conversation
/// version is a conflict whose event stays unrecorded (so its retry applies), a commit that
/// fails leaves nothing behind, and none of them costs a neighbour its write. Plain commits
/// (no ticket work) and commits with ticket work are mixed, as they are on a working desk.
async fn commits_arriving_together_each_keep_their_own_outcome(store: &DynStore) {
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Want {
        Applied,
        Duplicate,
        Conflict,
        Fails,
    }
    // Conversations at version 1 for the stale writers, and events seen before for the replays.
    for i in 0..8 {
        applied(store.commit(commit(&format!("old-{i}"), 0, Some(&format!("seen-{i}")), T0)).await.unwrap());
    }
    const N: usize = 96;
    let mut jobs = Vec::new();
    for i in 0..N {
        let ticket = i % 2 == 1;
        let (mut c, want) = match i % 6 {
            0 | 1 => (commit(&format!("new-{i}"), 0, Some(&format!("ev-{i}")), T0 + 1), Want::Applied),
            2 => (commit(&format!("new-{i}"), 0, Some(&format!("seen-{}", i % 8)), T0 + 1), Want::Duplicate),
            3 => (commit(&format!("old-{}", i % 8), 7, Some(&format!("ev-{i}")), T0 + 1), Want::Conflict),
            4 => (commit(&format!("old-{}", i % 8), 3, Some(&format!("ev-{i}")), T0 + 1), Want::Conflict),
            _ if i % 12 == 5 => {
                // A plain commit (no ticket work) whose line names a ticket that does not exist.
                let mut c = commit(&format!("new-{i}"), 0, Some(&format!("ev-{i}")), T0 + 1);
                c.messages.push(NewMessage {
                    turn: Turn {
                        from: Speaker::Bot,
                        text: "on a ticket nobody filed".into(),
                        at: T0 + 1,
                        by: None,
                    },
                    ticket: Some(TicketNumber(900_000 + i as i64)),
                    internal: false,
                });
                (c, Want::Fails)
            }
            _ => {
                let mut c = commit(&format!("new-{i}"), 0, Some(&format!("ev-{i}")), T0 + 1);
                c.tickets.push(set_status(TicketNumber(900_000 + i as i64), TicketStatus::Resolved, None));
                (c, Want::Fails)
            }
        };
        if ticket && want != Want::Fails {
            c.tickets.push(TicketOp::Create(new_ticket(&format!("filed by {i}"))));
        }
        c.messages.push(NewMessage {
            turn: Turn { from: Speaker::Employee, text: format!("line of {i}"), at: T0 + 1, by: None },
            ticket: None,
            internal: false,
        });
        c.outbox.push(outbox(&format!("out-{i}"), Platform::Slack, &format!("reply to {i}")));
        jobs.push((i, c, want));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
    let tasks: Vec<_> = jobs
        .iter()
        .cloned()
        .map(|(i, c, want)| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                (i, want, store.commit(c).await)
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut applied_keys = HashSet::new();
    for task in tasks {
        let (i, want, got) = task.await.unwrap();
        match (want, got) {
            (Want::Applied, Ok(CommitOutcome::Applied { created: c })) => {
                assert_eq!(c.len(), usize::from(i % 2 == 1), "commit {i}");
                created.extend(c);
                applied_keys.insert(format!("out-{i}"));
            }
            (Want::Duplicate, Ok(CommitOutcome::Duplicate))
            | (Want::Conflict, Ok(CommitOutcome::Conflict)) => {}
            (Want::Fails, Err(e)) if i % 12 == 5 => {
                assert!(e.to_string().to_lowercase().contains("foreign key"), "{e}")
            }
            (Want::Fails, Err(e)) => assert!(e.to_string().contains(&format!("IT-{}", 900_000 + i)), "{e}"),
            (want, got) => panic!("commit {i}: wanted {want:?}, got {got:?}"),
        }
    }
    // Every applied commit wrote its rows, once; nothing else was written.
    let unique: HashSet<_> = created.iter().collect();
    assert_eq!(unique.len(), created.len(), "ticket numbers are unique: {created:?}");
    assert_eq!(
        store.tickets(&TicketFilter { limit: 1000, ..TicketFilter::default() }).await.unwrap().len(),
        created.len()
    );
    let mut queued = HashSet::new();
    loop {
        let claimed = store.claim_outbox(&[Platform::Slack], "w", T0 + 10, 1000, 500).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        queued.extend(claimed.into_iter().map(|item| item.key));
    }
    assert_eq!(queued, applied_keys);
    for (i, c, want) in &jobs {
        let key = &c.conversation.key;
        let seen = store.event_seen(c.event.as_ref().unwrap()).await.unwrap();
        let lines = store.conversation_messages(key, 100).await.unwrap();
        let mine = lines.iter().filter(|m| m.turn.text == format!("line of {i}")).count();
        match want {
            Want::Applied => assert!(seen && mine == 1, "commit {i}: seen {seen}, {mine} lines"),
            Want::Duplicate => assert!(seen && mine == 0, "commit {i}: {mine} lines"),
            Want::Conflict | Want::Fails => {
                assert!(!seen && mine == 0, "commit {i}: event recorded {seen}, {mine} lines")
            }
        }
        if *want == Want::Conflict {
            assert_eq!(store.load_conversation(key).await.unwrap().unwrap().version, 1, "{key}");
        }
    }
    // A conflict's event was not recorded: read again and retried, it applies.
    let retry = jobs.iter().find(|(_, _, w)| *w == Want::Conflict).map(|(_, c, _)| c.clone()).unwrap();
    let mut retry = retry;
    retry.conversation.expected_version = 1;
    applied(store.commit(retry.clone()).await.unwrap());
    assert!(store.event_seen(retry.event.as_ref().unwrap()).await.unwrap());
}
