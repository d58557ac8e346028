//! Compliance stories of the store conformance suite (included by `store_conformance.rs`, so
//! they run on SQLite and PostgreSQL): the audit chain,
//! role grants, retention purge, person export and erasure, and store-kept jobs.

use crate::support::{self, T0, applied, commit, new_ticket, set_status};
use deskbot::compliance::key::AuditKey;
use deskbot::compliance::{audit, person};
use deskbot::domain::Outbound;
use deskbot::domain::{Address, Platform, TicketStatus, UserRef};
use deskbot::store::compliance::{
    GENESIS_HASH, GrantOutcome, NewAuditEntry, NewGrant, PurgePlan, QueueCutoffs, Role,
};
use deskbot::store::{DynStore, KbFeedback, NewMessage, NewOutbox, Speaker, TicketOp, Turn};

const DAY: i64 = 86_400_000;

conformance!(
    audit_chain_links_ticket_events_and_appended_entries,
    a_commit_with_more_ticket_events_than_one_statement_holds_keeps_them_in_order_and_chained,
    concurrent_audit_appends_never_fork_the_chain,
    role_grants_are_justified_renewed_revoked_and_audited,
    purge_dry_run_changes_nothing_and_apply_expires_and_audits,
    person_export_then_erase_leaves_only_the_erasure_record,
    erasing_a_filer_removes_their_note_and_id_but_not_the_requesters_ticket,
    an_event_read_before_an_erasure_cannot_write_the_erased_words_back,
    recurring_job_is_claimed_once_per_period,
    concurrent_grants_of_one_role_record_it_once,
    concurrent_starts_seed_config_grants_once_and_never_over_a_revocation,
);

fn entry(kind: &str, at: i64) -> NewAuditEntry {
    NewAuditEntry {
        at,
        actor: "ops".into(),
        kind: kind.into(),
        ticket: None,
        subject: Some("thing".into()),
        detail: Some(format!("{kind} detail")),
    }
}

async fn audit_chain_links_ticket_events_and_appended_entries(store: &DynStore) {
    let v = audit::verify(store).await.unwrap();
    assert_eq!((v.entries, v.broken), (0, None));
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    let n = applied(store.commit(c).await.unwrap())[0];
    let mut c = commit("c1", 1, Some("e2"), T0 + 10);
    c.tickets.push(set_status(n, TicketStatus::Resolved, Some("fixed")));
    applied(store.commit(c).await.unwrap());
    store.append_audit(&[entry("manual", T0 + 20)]).await.unwrap();

    let all = store.audit_entries(0, None, 100).await.unwrap();
    let got: Vec<_> = all.iter().map(|e| (e.seq, e.kind.as_str(), e.ticket_number)).collect();
    assert_eq!(got, vec![(1, "created", Some(n.0)), (2, "status:resolved", Some(n.0)), (3, "manual", None)]);
    assert_eq!(all[0].prev_hash.as_deref(), Some(GENESIS_HASH));
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(store.audit_head().await.unwrap(), (3, all[2].hash.clone().unwrap()));
    let since = store.audit_entries(0, Some(T0 + 10), 100).await.unwrap();
    assert_eq!(since.len(), 2);
    let v = audit::verify(store).await.unwrap();
    assert_eq!((v.entries, v.last_seq, v.broken), (3, 3, None));
}

/// A commit's ticket events are written with its other appended rows and its audit entries
/// with the moved chain head, 500 rows a statement: 1,201 of them come back in order, each
/// linked to the one before, and the chain verifies.
async fn a_commit_with_more_ticket_events_than_one_statement_holds_keeps_them_in_order_and_chained(
    store: &DynStore,
) {
    const N: usize = 1_200;
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("VPN down")));
    for i in 0..N {
        c.tickets.push(TicketOp::Audit {
            number: deskbot::domain::TicketNumber(0),
            kind: "note".into(),
            actor: "agent".into(),
            detail: Some(format!("step {i}")),
        });
    }
    let n = applied(store.commit(c).await.unwrap())[0];

    let events = store.ticket_events(n).await.unwrap();
    let details: Vec<_> = events.iter().map(|e| e.detail.clone().unwrap_or_default()).collect();
    assert_eq!(events.len(), N + 1);
    assert_eq!(events[0].kind, "created");
    assert!(
        details[1..] == (0..N).map(|i| format!("step {i}")).collect::<Vec<_>>(),
        "ticket events out of order"
    );
    let all = store.audit_entries(0, None, 5_000).await.unwrap();
    assert_eq!(all.len(), N + 1);
    assert!(all.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1 && e.ticket_number == Some(n.0)));
    assert_eq!(all[N].detail.as_deref(), Some(format!("step {}", N - 1).as_str()));
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(store.audit_head().await.unwrap(), (N as i64 + 1, all[N].hash.clone().unwrap()));
    let v = audit::verify(store).await.unwrap();
    assert_eq!((v.entries, v.last_seq, v.broken), (N as u64 + 1, N as i64 + 1, None));

    // The next commit links on from the moved head.
    let mut c = commit("c1", 1, Some("e2"), T0 + 10);
    c.tickets.push(set_status(n, TicketStatus::Resolved, Some("fixed")));
    applied(store.commit(c).await.unwrap());
    let v = audit::verify(store).await.unwrap();
    assert_eq!((v.entries, v.broken), (N as u64 + 2, None));
}

async fn concurrent_audit_appends_never_fork_the_chain(store: &DynStore) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..5 {
                s.append_audit(&[entry(&format!("w{i}-{j}"), T0 + j)]).await.unwrap();
            }
            let mut c = commit(&format!("k{i}"), 0, Some(&format!("e{i}")), T0);
            c.tickets.push(TicketOp::Create(new_ticket("x")));
            applied(s.commit(c).await.unwrap());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v = audit::verify(store).await.unwrap();
    assert_eq!((v.entries, v.last_seq, v.broken), (48, 48, None));
}

async fn role_grants_are_justified_renewed_revoked_and_audited(store: &DynStore) {
    let grant = NewGrant {
        user: support::user("U-kim"),
        role: Role::Agent,
        scope: "network".into(),
        by: "boss".into(),
        justification: "joined the network team".into(),
    };
    assert_eq!(store.grant_role(&grant, T0).await.unwrap(), GrantOutcome::Granted);
    let again = NewGrant { justification: "still on the network team".into(), ..grant.clone() };
    assert_eq!(store.grant_role(&again, T0 + DAY).await.unwrap(), GrantOutcome::Rejustified);
    let active = store.role_grants(false).await.unwrap();
    assert_eq!(active.len(), 1);
    let g = &active[0];
    assert_eq!((g.granted_at, g.reviewed_at, g.granted_by.as_str()), (T0, T0 + DAY, "boss"));
    assert_eq!(g.justification, "still on the network team");

    let kim = support::user("U-kim");
    assert!(!store.revoke_role(&kim, Role::Lead, "network", "boss", "wrong role", T0).await.unwrap());
    assert!(store.revoke_role(&kim, Role::Agent, "network", "boss", "moved on", T0 + 2 * DAY).await.unwrap());
    assert!(!store.revoke_role(&kim, Role::Agent, "network", "boss", "twice", T0 + 2 * DAY).await.unwrap());
    assert!(store.role_grants(false).await.unwrap().is_empty());
    let all = store.role_grants(true).await.unwrap();
    assert_eq!((all[0].revoked_at, all[0].revoked_by.as_deref()), (Some(T0 + 2 * DAY), Some("boss")));
    // A new grant after a revocation is a new row.
    assert_eq!(store.grant_role(&grant, T0 + 3 * DAY).await.unwrap(), GrantOutcome::Granted);
    assert_eq!(store.role_grants(true).await.unwrap().len(), 2);

    let kinds: Vec<_> = store
        .audit_entries(0, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.subject.unwrap_or_default(), e.actor))
        .collect();
    let want = ["role_granted", "role_rejustified", "role_revoked", "role_granted"];
    assert_eq!(kinds.len(), 4);
    for (got, want) in kinds.iter().zip(want) {
        assert_eq!((got.0.as_str(), got.1.as_str(), got.2.as_str()), (want, "slack:U-kim", "boss"));
    }
}

async fn purge_dry_run_changes_nothing_and_apply_expires_and_audits(store: &DynStore) {
    let mut c = commit("c1", 0, Some("e1"), T0);
    c.tickets.push(TicketOp::Create(new_ticket("old and closed")));
    c.tickets.push(TicketOp::Create(new_ticket("still open")));
    c.messages.push(NewMessage {
        turn: Turn { from: Speaker::Employee, text: "hello".into(), at: T0, by: None },
        ticket: None,
        internal: false,
    });
    c.feedback.push(KbFeedback { intent: None, article: None, query: "my vpn".into(), helpful: false });
    let created = applied(store.commit(c).await.unwrap());
    let (closed, open) = (created[0], created[1]);
    let mut c = commit("c1", 1, Some("e2"), T0 + 1);
    c.tickets.push(set_status(closed, TicketStatus::Resolved, Some("done")));
    c.tickets.push(TicketOp::Csat { number: closed, score: 4, comment: Some("thanks".into()) });
    applied(store.commit(c).await.unwrap());

    let now = T0 + 10 * DAY;
    let plan = PurgePlan {
        queues: vec![QueueCutoffs {
            queue: "network".into(),
            transcripts_before: Some(now - 30 * DAY),
            closed_before: Some(now - 5 * DAY),
        }],
        other_before: Some(now - 5 * DAY),
        actor: "retention".into(),
    };
    let dry = store.purge(&plan, now, false).await.unwrap();
    assert!(!dry.applied);
    assert_eq!((dry.tickets_anonymised, dry.feedback_anonymised), (1, 1));
    assert!(dry.messages_deleted >= 3, "{dry:?}");
    assert_eq!(store.ticket(closed).await.unwrap().unwrap().title, "old and closed");
    assert_eq!(store.ticket_messages(closed).await.unwrap().len(), 2);
    let audit_before = store.audit_entries(0, None, 100).await.unwrap().len();

    let done = store.purge(&plan, now, true).await.unwrap();
    assert_eq!(done, deskbot::store::compliance::PurgeReport { applied: true, ..dry });
    let t = store.ticket(closed).await.unwrap().unwrap();
    assert_eq!((t.title.as_str(), t.requester.id.as_str(), t.requester_name), ("[purged]", "purged", None));
    assert_eq!(
        (t.status, t.queue.as_str(), t.resolved_at),
        (TicketStatus::Resolved, "network", Some(T0 + 1))
    );
    assert!(store.ticket_messages(closed).await.unwrap().is_empty());
    let kept = store.ticket(open).await.unwrap().unwrap();
    assert_eq!((kept.title.as_str(), kept.requester.id.as_str()), ("still open", "U-c1"));
    assert_eq!(store.ticket_messages(open).await.unwrap().len(), 2, "within the transcript period");
    let audit = store.audit_entries(0, None, 100).await.unwrap();
    assert_eq!(audit.len(), audit_before + 1);
    let last = audit.last().unwrap();
    assert_eq!((last.kind.as_str(), last.actor.as_str()), ("purge", "retention"));
    assert!(last.detail.as_deref().unwrap_or("").contains("tickets anonymised 1"), "{last:?}");

    let again = store.purge(&plan, now, true).await.unwrap();
    assert_eq!((again.tickets_anonymised, again.messages_deleted, again.feedback_anonymised), (0, 0, 0));
    assert_eq!(audit::verify(store).await.unwrap().broken, None);
}

async fn person_export_then_erase_leaves_only_the_erasure_record(store: &DynStore) {
    let zed = support::user("U-zed");
    let mut c = commit("zed", 0, Some("e1"), T0);
    let mut t = new_ticket("Zelda Quux cannot print");
    t.requester_name = Some("Zelda Quux".into());
    c.tickets.push(TicketOp::Create(t));
    for (from, text) in [(Speaker::Employee, "I am Zelda Quux"), (Speaker::Bot, "Thanks, Zelda Quux (U-zed)")]
    {
        c.messages.push(NewMessage {
            turn: Turn { from, text: text.into(), at: T0, by: None },
            ticket: None,
            internal: false,
        });
    }
    let to = Address::new(Platform::Slack, "D-zed");
    c.outbox
        .push(NewOutbox { key: "o1".into(), message: Outbound::message(to, "Hi Zelda Quux", Vec::new()) });
    let n = applied(store.commit(c).await.unwrap())[0];
    let mut c = commit("zed", 1, Some("e2"), T0 + 1);
    c.tickets.push(set_status(n, TicketStatus::Resolved, Some("told slack:U-zed to restart")));
    c.tickets.push(TicketOp::Csat { number: n, score: 5, comment: Some("Zelda is happy".into()) });
    applied(store.commit(c).await.unwrap());
    let grant = NewGrant {
        user: zed.clone(),
        role: Role::Agent,
        scope: "network".into(),
        by: "boss".into(),
        justification: "covers printers".into(),
    };
    store.grant_role(&grant, T0 + 2).await.unwrap();
    let mut other = commit("other", 0, Some("e3"), T0);
    other.tickets.push(TicketOp::Create(new_ticket("someone else")));
    let other_n = applied(store.commit(other).await.unwrap())[0];

    let data = person::export(store, &zed, &[]).await.unwrap();
    assert_eq!(data.conversations.len(), 1);
    assert_eq!(data.tickets.iter().map(|t| t.number).collect::<Vec<_>>(), vec![n]);
    assert!(data.messages.len() >= 4, "{:?}", data.messages);
    assert_eq!((data.ratings.len(), data.roles.len()), (1, 1));
    assert_eq!(data.ratings[0].comment.as_deref(), Some("Zelda is happy"));
    assert!(
        data.audit.iter().any(|e| e.kind == "role_granted") && data.audit.iter().any(|e| e.kind == "csat")
    );
    assert_eq!(data.names, vec!["Zelda Quux".to_string()]);

    let key = AuditKey::from_bytes(vec![7u8; 32]).unwrap();
    let report = person::erase(store, &key, &zed, &["Zelda".into()], "dpo", T0 + DAY).await.unwrap();
    assert!(
        report.rows("tickets") >= 1 && report.rows("messages") >= 2 && report.rows("role_grants") >= 1,
        "{report:?}"
    );
    assert_eq!(report.deliveries_dropped, 1, "the queued greeting named them: {report:?}");

    let t = store.ticket(n).await.unwrap().unwrap();
    assert!(t.requester.id.starts_with("erased-"), "{t:?}");
    assert_eq!((t.title.as_str(), t.requester_name.as_deref()), ("[erased]", None));
    assert_eq!(
        (t.status, t.queue.as_str(), t.priority),
        (TicketStatus::Resolved, "network", new_ticket("x").priority)
    );
    let mut texts: Vec<String> =
        store.ticket_messages(n).await.unwrap().into_iter().map(|m| m.turn.text).collect();
    texts.extend(
        store
            .ticket_events(n)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|e| [e.actor, e.detail.unwrap_or_default()]),
    );
    texts.extend(store.outbox_list(None, 100).await.unwrap().into_iter().map(|o| o.preview));
    texts.extend(store.role_grants(true).await.unwrap().into_iter().map(|g| g.user.to_string()));
    let after =
        person::export(store, &UserRef::new(Platform::Slack, t.requester.id.clone()), &[]).await.unwrap();
    texts.extend(after.messages.into_iter().map(|m| m.turn.text));
    for text in &texts {
        assert!(!text.contains("U-zed") && !text.to_lowercase().contains("zelda"), "left behind: {text}");
    }
    let audit = store.audit_entries(0, None, 1000).await.unwrap();
    let naming: Vec<_> = audit
        .iter()
        .filter(|e| format!("{} {:?} {:?}", e.actor, e.subject, e.detail).contains("U-zed"))
        .collect();
    assert!(naming.is_empty(), "no entry names the id, not even the erasure's: {naming:?}");
    let erased: Vec<_> = audit.iter().filter(|e| e.kind == "person_erased").collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0].actor, "dpo");
    assert_eq!(erased[0].subject.as_deref(), Some(key.person_hash(&zed).as_str()), "a keyed hash");
    let other_key = AuditKey::from_bytes(vec![8u8; 32]).unwrap();
    assert_ne!(erased[0].subject, Some(other_key.person_hash(&zed)), "not derivable without the key");
    assert!(audit.iter().all(|e| !format!("{:?}", e).to_lowercase().contains("zelda")));
    assert_eq!(audit::verify(store).await.unwrap().broken, None, "the erasure re-links the chain");
    assert!(person::export(store, &zed, &[]).await.unwrap().tickets.is_empty());
    assert_eq!(store.ticket(other_n).await.unwrap().unwrap().requester.id, "U-other");
}

async fn erasing_a_filer_removes_their_note_and_id_but_not_the_requesters_ticket(store: &DynStore) {
    let mut c = commit("amy", 0, Some("e1"), T0);
    let mut t = new_ticket("projector is dead");
    t.filed_by = Some(support::user("U-fil"));
    t.transcript.push(Turn {
        from: Speaker::Filer("Filbert".into()),
        text: "Filbert's own words".into(),
        at: T0,
        by: None,
    });
    c.tickets.push(TicketOp::Create(t));
    let n = applied(store.commit(c).await.unwrap())[0];
    person::erase(store, &support::test_key(), &support::user("U-fil"), &["Filbert".into()], "dpo", T0 + DAY)
        .await
        .unwrap();
    let t = store.ticket(n).await.unwrap().unwrap();
    assert!(t.filed_by.id.starts_with("erased-"), "{t:?}");
    assert_eq!((t.requester.id.as_str(), t.title.as_str()), ("U-amy", "projector is dead"));
    let mut texts: Vec<String> = store
        .ticket_messages(n)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|m| [m.turn.text, format!("{:?}", m.turn.from)])
        .collect();
    texts.extend(
        store
            .ticket_events(n)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|e| [e.actor, e.detail.unwrap_or_default()]),
    );
    assert!(texts.iter().any(|t| t == "vpn is down"), "the requester's words stay: {texts:?}");
    for text in &texts {
        assert!(!text.contains("U-fil") && !text.contains("Filbert"), "left behind: {text}");
    }
}

async fn recurring_job_is_claimed_once_per_period(store: &DynStore) {
    assert!(store.claim_job("purge", T0, T0 + DAY).await.unwrap());
    assert!(!store.claim_job("purge", T0 + 1, T0 + 1 + DAY).await.unwrap());
    assert!(store.claim_job("other", T0 + 1, T0 + DAY).await.unwrap());
    assert!(store.claim_job("purge", T0 + DAY, T0 + 2 * DAY).await.unwrap());
}

async fn concurrent_grants_of_one_role_record_it_once(store: &DynStore) {
    let grant = NewGrant {
        user: support::user("U-kim"),
        role: Role::Lead,
        scope: "*".into(),
        by: "config".into(),
        justification: "listed in deskbot.toml".into(),
    };
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (s, g) = (store.clone(), grant.clone());
            tokio::spawn(async move { s.grant_role(&g, T0 + i).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        if t.await.unwrap() == GrantOutcome::Granted {
            granted += 1;
        }
    }
    assert_eq!(granted, 1);
    assert_eq!(store.role_grants(true).await.unwrap().len(), 1);
    assert_eq!(audit::verify(store).await.unwrap().entries, 6);
}

async fn concurrent_starts_seed_config_grants_once_and_never_over_a_revocation(store: &DynStore) {
    let wanted: Vec<NewGrant> = ["U-kim", "U-joe"]
        .iter()
        .map(|u| NewGrant {
            user: support::user(u),
            role: Role::Agent,
            scope: "access".into(),
            by: "config".into(),
            justification: "listed in deskbot.toml".into(),
        })
        .collect();
    // Four processes start at once with the same file: each grant is recorded once.
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (s, w) = (store.clone(), wanted.clone());
            tokio::spawn(async move { s.sync_config_grants(&w, T0 + i).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += t.await.unwrap().granted;
    }
    assert_eq!(granted, 2);
    let active = store.role_grants(false).await.unwrap();
    assert_eq!(active.len(), 2);
    assert!(active.iter().all(|g| g.in_config && g.granted_by == "config"));
    assert_eq!(audit::verify(store).await.unwrap().entries, 2);

    // A person revokes kim; the file, unchanged, grants nothing on the next starts.
    let kim = support::user("U-kim");
    assert!(store.revoke_role(&kim, Role::Agent, "access", "ann", "left", T0 + 10).await.unwrap());
    for i in 0..3 {
        let sync = store.sync_config_grants(&wanted, T0 + 20 + i).await.unwrap();
        assert_eq!(sync, Default::default(), "nothing to do, nothing recorded");
    }
    assert!(!store.role_grants(false).await.unwrap().iter().any(|g| g.user == kim));
    // Granted again by a person: active, and still known to be listed in the file.
    assert_eq!(
        store.grant_role(&NewGrant { by: "ann".into(), ..wanted[0].clone() }, T0 + 30).await.unwrap(),
        GrantOutcome::Granted
    );
    let newest =
        store.role_grants(true).await.unwrap().into_iter().filter(|g| g.user == kim).collect::<Vec<_>>();
    assert_eq!(newest.iter().map(|g| g.in_config).collect::<Vec<_>>(), vec![false, true]);
    assert_eq!(store.sync_config_grants(&wanted, T0 + 40).await.unwrap(), Default::default());
    assert_eq!(audit::verify(store).await.unwrap().broken, None);
}

/// An event that read a conversation before its owner was erased holds their words in the
/// state it is about to write. Its commit must conflict (and be worked out again from the erased
/// conversation), never put the words back: an erasure moves the conversation's version on,
/// for the owner's conversations and for anyone else's it scrubs.
async fn an_event_read_before_an_erasure_cannot_write_the_erased_words_back(store: &DynStore) {
    use deskbot::store::CommitOutcome;
    let mut first = commit("c-77", 0, Some("e1"), T0);
    first.conversation.state =
        serde_json::json!({ "step": "idle", "question": "Erin's laptop LT-77 is stolen" });
    applied(store.commit(first).await.unwrap());
    // Someone else's conversation that names her.
    let mut other = commit("bob", 0, Some("e2"), T0);
    other.conversation.state = serde_json::json!({ "step": "idle", "question": "Erin asked me to ask" });
    applied(store.commit(other).await.unwrap());
    let read_mine = store.load_conversation("c-77").await.unwrap().unwrap();
    let read_other = store.load_conversation("bob").await.unwrap().unwrap();

    person::erase(store, &support::test_key(), &support::user("U-c-77"), &["Erin".into()], "dpo", T0 + DAY)
        .await
        .unwrap();

    for (key, read, event) in [("c-77", &read_mine, "e3"), ("bob", &read_other, "e4")] {
        let mut late = commit(key, read.version, Some(event), T0 + DAY + 1);
        late.conversation.state = read.state.clone();
        assert_eq!(store.commit(late).await.unwrap(), CommitOutcome::Conflict, "{key}");
        let now = store.load_conversation(key).await.unwrap().unwrap();
        assert!(!now.state.to_string().contains("Erin"), "{key}: {}", now.state);
        assert!(now.version > read.version, "{key}");
    }
}
