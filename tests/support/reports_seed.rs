//! A day of use, written straight into a store with known times, for the reports tests (the
//! figures, the CLI and the browser test all check the numbers worked out below by hand).
//!
//! Conversations (`base` = the start; m = minutes, h = hours):
//! - c1 alice: "I forgot my password" answered by password_reset (article password-reset), solved.
//! - c2 bob: "vpn keeps dropping" answered by vpn_problem, not solved → ticket 1 (network, SLA
//!   1h/4h): first reply after 30m, resolved after 2h, rated 5.
//! - c3 carol: "the coffee machine is broken" matched nothing → ticket 2 (service-desk, SLA
//!   30m/1d): first reply after 60m (breached, audited), resolved after 8h, rated 2.
//! - c4 dave: "coffee machine broken again" matched nothing.
//! - c5 erin: "how to set up remote access": articles offered, picked vpn-troubleshooting, solved.
//! - c6 frank: "password expired" answered by password_reset, not solved → ticket 3 (identity,
//!   no SLA): an internal note after 1m, first reply after 10m, still open.
//! - c7 tess (a configured tester): answered, solved, ticket 4 resolved and rated 1 — excluded.
//! - c8: a conversation flagged as test traffic ("test message", no match) — excluded.
//! - c0: ten days before `base`, answered — outside a 7-day period.
//!
//! Hand-computed figures for the last 7 days, all queues: 6 conversations, 4 answered,
//! 2 deflected (33%), 3 tickets filed, 2 resolved, first response median 30m / p90 60m,
//! resolution median 2h / p90 8h, SLA 1 of 2 met (50%), CSAT 3.5 from [0,1,0,0,1],
//! intents password_reset 2 shown 1 solved, vpn_problem 1 shown 0 solved; articles
//! password-reset 2 shown 1 solved, vpn-troubleshooting 1 shown 1 solved; unanswered clusters:
//! coffee machine (2), vpn keeps dropping (1), password expired (1); 5 test rows left out.
#![allow(dead_code)]

use deskbot::domain::{Address, Millis, Platform, Priority, QueueName, TicketNumber, TicketStatus, UserRef};
use deskbot::store::{
    CaseEvent, CaseKind, Commit, CommitOutcome, ConversationWrite, DynStore, NewMessage, NewTicket, SlaState,
    Speaker, TicketChange, TicketOp, Turn,
};
use std::collections::HashMap;

pub const M: i64 = 60_000;
pub const H: i64 = 60 * M;
pub const D: i64 = 24 * H;

/// The configured tester in the seeded data.
pub fn tester() -> UserRef {
    UserRef::new(Platform::Slack, "UTESS")
}

struct Seeder<'a> {
    store: &'a DynStore,
    versions: HashMap<String, i64>,
    n: u64,
}

fn queue(q: &str) -> QueueName {
    QueueName::parse(q).expect("queue")
}

fn case(kind: CaseKind, intent: Option<&str>, article: Option<&str>, q: &str, query: &str) -> CaseEvent {
    CaseEvent {
        kind,
        intent: intent.map(str::to_string),
        article: article.map(str::to_string),
        queue: queue(q),
        query: query.to_string(),
    }
}

impl Seeder<'_> {
    async fn commit(
        &mut self,
        key: &str,
        user: &UserRef,
        at: Millis,
        f: impl FnOnce(&mut Commit),
    ) -> Vec<TicketNumber> {
        let version = self.versions.get(key).copied().unwrap_or(0);
        self.n += 1;
        let mut c = Commit {
            event: Some(deskbot::store::EventKey {
                platform: user.platform,
                event_id: format!("seed-{}", self.n),
            }),
            conversation: ConversationWrite {
                key: key.to_string(),
                user: user.clone(),
                reply_to: Address::new(user.platform, user.id.clone()),
                state: serde_json::json!({ "state": "idle" }),
                expected_version: version,
            },
            messages: Vec::new(),
            tickets: Vec::new(),
            feedback: Vec::new(),
            outbox: Vec::new(),
            now: at,
            cases: Vec::new(),
            requests: Vec::new(),
        };
        f(&mut c);
        match self.store.commit(c).await.expect("seed commit") {
            CommitOutcome::Applied { created } => {
                self.versions.insert(key.to_string(), version + 1);
                created
            }
            other => panic!("seed commit {key}: {other:?}"),
        }
    }

    async fn cases(&mut self, key: &str, user: &UserRef, at: Millis, events: Vec<CaseEvent>) {
        self.commit(key, user, at, |c| c.cases = events).await;
    }

    /// File a ticket from conversation `key` at `at`, with optional SLA due times.
    async fn file(
        &mut self,
        key: &str,
        user: &UserRef,
        at: Millis,
        q: &str,
        sla: Option<(i64, i64)>,
    ) -> TicketNumber {
        let created = self
            .commit(key, user, at, |c| {
                c.tickets.push(TicketOp::Create(NewTicket {
                    title: format!("ticket from {key}"),
                    description: "seeded".into(),
                    intent: None,
                    queue: queue(q),
                    priority: Priority::Normal,
                    fields: Default::default(),
                    transcript: Vec::new(),
                    requester_name: None,
                    filed_by: None,
                    filed_by_name: None,
                    note: None,
                    on_behalf: None,
                }));
                if let Some((fr, res)) = sla {
                    c.tickets.push(TicketOp::Change {
                        number: TicketNumber(0),
                        actor: "deskbot".into(),
                        change: TicketChange::Sla(SlaState {
                            first_response_due: Some(at + fr),
                            resolution_due: Some(at + res),
                            first_response_at: None,
                            paused_remaining_ms: None,
                        }),
                    });
                }
            })
            .await;
        created[0]
    }

    /// Something the desk does to ticket `n` at `at`.
    async fn desk(&mut self, n: TicketNumber, at: Millis, f: impl FnOnce(&mut Commit)) {
        let desk = UserRef::new(Platform::System, "desk");
        self.commit(&format!("desk:{n}"), &desk, at, f).await;
    }

    async fn agent_says(&mut self, n: TicketNumber, at: Millis, internal: bool) {
        self.desk(n, at, |c| {
            c.messages.push(NewMessage {
                turn: Turn { from: Speaker::Agent("Ann".into()), text: "On it".into(), at, by: None },
                ticket: Some(n),
                internal,
            })
        })
        .await;
    }

    async fn resolve(&mut self, n: TicketNumber, at: Millis) {
        self.desk(n, at, |c| {
            c.tickets.push(TicketOp::SetStatus {
                number: n,
                status: TicketStatus::Resolved,
                actor: "Ann".into(),
                note: None,
            })
        })
        .await;
    }

    async fn rate(&mut self, key: &str, user: &UserRef, n: TicketNumber, at: Millis, score: u8) {
        self.commit(key, user, at, |c| c.tickets.push(TicketOp::Csat { number: n, score, comment: None }))
            .await;
    }
}

/// Write the day described at the top of this file, starting at `base`.
pub async fn seed(store: &DynStore, base: Millis) {
    use CaseKind::*;
    let mut s = Seeder { store, versions: HashMap::new(), n: 0 };
    let u = |id: &str| UserRef::new(Platform::Slack, id);
    let (alice, bob, carol, dave, erin, frank, tess) =
        (u("UALICE"), u("UBOB"), u("UCAROL"), u("UDAVE"), u("UERIN"), u("UFRANK"), tester());
    let pw = |k| case(k, Some("password_reset"), Some("password-reset"), "identity", "I forgot my password");

    s.cases("c0", &alice, base - 10 * D, vec![pw(Answered)]).await;

    s.cases("c1", &alice, base, vec![pw(Answered)]).await;
    s.cases("c1", &alice, base + M, vec![pw(Solved)]).await;

    let vpn = |k| case(k, Some("vpn_problem"), None, "network", "vpn keeps dropping");
    s.cases("c2", &bob, base + 10 * M, vec![vpn(Answered)]).await;
    s.cases("c2", &bob, base + 11 * M, vec![vpn(NotSolved)]).await;
    let t1 = s.file("c2", &bob, base + 11 * M, "network", Some((H, 4 * H))).await;
    s.agent_says(t1, base + 41 * M, false).await;
    s.resolve(t1, base + 2 * H + 11 * M).await;
    s.rate("c2", &bob, t1, base + 3 * H, 5).await;

    let coffee = "the coffee machine is broken";
    s.cases("c3", &carol, base + 20 * M, vec![case(NoMatch, None, None, "service-desk", coffee)]).await;
    let t2 = s.file("c3", &carol, base + 21 * M, "service-desk", Some((30 * M, D))).await;
    s.desk(t2, base + 51 * M, |c| {
        c.tickets.push(TicketOp::Audit {
            number: t2,
            kind: "sla_breach".into(),
            actor: "deskbot".into(),
            detail: Some("first response".into()),
        })
    })
    .await;
    s.agent_says(t2, base + H + 21 * M, false).await;
    s.resolve(t2, base + 8 * H + 21 * M).await;
    s.rate("c3", &carol, t2, base + 9 * H, 2).await;

    let again = "coffee machine broken again";
    s.cases("c4", &dave, base + 30 * M, vec![case(NoMatch, None, None, "service-desk", again)]).await;

    let remote = "how to set up remote access";
    let vt = Some("vpn-troubleshooting");
    s.cases("c5", &erin, base + 40 * M, vec![case(Offered, None, vt, "service-desk", remote)]).await;
    s.cases("c5", &erin, base + 41 * M, vec![case(Picked, None, vt, "service-desk", remote)]).await;
    s.cases("c5", &erin, base + 42 * M, vec![case(Solved, None, vt, "service-desk", remote)]).await;

    let exp = |k| case(k, Some("password_reset"), Some("password-reset"), "identity", "password expired");
    s.cases("c6", &frank, base + 50 * M, vec![exp(Answered)]).await;
    s.cases("c6", &frank, base + 51 * M, vec![exp(NotSolved)]).await;
    let t3 = s.file("c6", &frank, base + 51 * M, "identity", None).await;
    s.agent_says(t3, base + 52 * M, true).await;
    s.agent_says(t3, base + 61 * M, false).await;

    s.cases("c7", &tess, base + 60 * M, vec![pw(Answered), pw(Solved)]).await;
    let t4 = s.file("c7", &tess, base + 61 * M, "identity", None).await;
    s.agent_says(t4, base + 66 * M, false).await;
    s.resolve(t4, base + 2 * H + M).await;
    s.rate("c7", &tess, t4, base + 3 * H, 1).await;

    let tester_console = UserRef::new(Platform::Console, "qa");
    s.cases(
        "c8",
        &tester_console,
        base + 70 * M,
        vec![case(NoMatch, None, None, "service-desk", "test message")],
    )
    .await;
    store.mark_test_conversation("c8", base).await.expect("flag test conversation");
}
