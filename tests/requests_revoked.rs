//! SECURITY.md invariant 3 for access requests: the grants ledger decides who may approve,
//! not the copy of the approvers a request took when it was submitted. An approver whose grant
//! is revoked with `deskbot roles revoke` (the CLI's own code path) after a request was sent to
//! them can no longer decide it: their Approve / Deny press and their typed "approve R-n" are
//! refused privately (the request stays pending, no decision is stored, the requester is told
//! nothing), "approvals" lists nothing for them and reminders no longer reach them. The same
//! holds for a lead an escalation added once their lead grant is revoked, and being a lead does
//! not keep a group approver who lost the group's grant on a step no escalation added them to.
//! Approvers who still hold their grant decide as before. On SQLite and on PostgreSQL.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::app::App;
use deskbot::commands::compliance::{Scope, roles_revoke, roles_revoke_in};
use deskbot::config::{Config, Sources};
use deskbot::domain::{Address, Inbound, InboundKind, Platform, UserRef};
use deskbot::service::Handled;
use deskbot::store::requests::{RequestNumber, RequestStatus};
use pgdb::PgDb;
use std::time::Duration;
use support::requests::{self as req, DAY};
use support::{Captured, TestApp, TestClock};

/// Longer than a running process keeps its grants snapshot (`GRANTS_MAX_AGE`, two seconds):
/// a revocation made by the CLI has reached the desk after this long.
const SNAPSHOT_AGE: Duration = Duration::from_millis(2_100);

struct Desk {
    t: TestApp,
    clock: TestClock,
    pg: Option<PgDb>,
}

/// A desk whose software-approvers are gus and gil, whose finance approver is max, and whose
/// service-desk lead is lena; alice and carl report to max. `None` when PostgreSQL is skipped
/// explicitly.
async fn desk(pg: bool) -> Option<Desk> {
    let db = if pg { Some(PgDb::create("requests_revoked").await?) } else { None };
    let (url, _got) = req::receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.csv");
    req::people_csv(
        &people,
        &[
            ("console:alice", "alice@example.com", "max@example.com", "Design"),
            ("console:carl", "carl@example.com", "max@example.com", "Design"),
            ("console:max", "max@example.com", "", "Design"),
            ("console:gus", "gus@example.com", "max@example.com", "IT"),
            ("console:gil", "gil@example.com", "max@example.com", "IT"),
        ],
    );
    let mut toml = format!("{}\n{}", req::webhook_toml(&url), req::directory_toml(&people));
    if let Some(db) = &db {
        toml = format!("database_url = \"{}\"\n{toml}", db.url);
    }
    let file = dir.path().join("deskbot.toml");
    std::fs::write(&file, toml).unwrap();
    let mut config =
        Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &[]).unwrap();
    config.intents_dir = req::intents(dir.path(), 5);
    config.hot_reload = false;
    let clock = TestClock::at(1_800_000_000_000);
    let app = App::build_with_clock(config, clock.clock()).await.unwrap();
    let now = (app.clock)();
    for (who, group) in [
        ("console:gus", "software-approvers"),
        ("console:gil", "software-approvers"),
        ("console:max", "finance-approvers"),
    ] {
        app.store.grant_role(&req::approver(who, group), now).await.unwrap();
    }
    app.store.grant_role(&req::lead("console:lena", "service-desk"), now).await.unwrap();
    app.service.forget_grants().await;
    let t = TestApp { app, dir, out: Captured::default() };
    Some(Desk { t, clock, pg: db })
}

impl Desk {
    /// `user` at the console, a while later (so messages queued for them are due).
    async fn chat(&self, user: &str, lines: &[&str]) -> String {
        self.clock.advance(3_600_000);
        self.t.chat(user, lines).await
    }

    /// A button press as `user`, in their own DM.
    async fn press(&self, user: &str, id: &str, event: &str) -> Handled {
        self.send(user, InboundKind::Choice { id: id.into() }, event).await
    }

    /// A typed message from `user`, in their own DM (the console shows a refusal's note on
    /// stderr, so the tests type through here to see it).
    async fn say(&self, user: &str, text: &str, event: &str) -> Handled {
        self.send(user, InboundKind::Message { text: text.into() }, event).await
    }

    async fn send(&self, user: &str, kind: InboundKind, event: &str) -> Handled {
        self.clock.advance(60_000);
        let inbound = Inbound {
            event_id: event.into(),
            user: UserRef::new(Platform::Console, user),
            display_name: Some(user.into()),
            conversation: format!("console:{user}"),
            reply_to: Address::new(Platform::Console, user),
            kind,
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        self.t.app.service.handle(inbound).await.unwrap()
    }

    /// gus leaves the software group: the admin revokes his approver grant of it with the CLI's
    /// code path, and the desk has seen the revocation.
    async fn gus_leaves_the_software_group(&self) {
        let scope = Scope { queue: None, group: Some("software-approvers") };
        roles_revoke_in(
            self.config(),
            "console:gus",
            "approver",
            scope,
            "left the software team",
            Some("ann".into()),
        )
        .await
        .unwrap();
        tokio::time::sleep(SNAPSHOT_AGE).await;
    }

    fn config(&self) -> Config {
        self.t.app.config.clone()
    }

    async fn tick(&self) {
        deskbot::service::scheduler::tick(&self.t.app.service).await.unwrap();
    }

    async fn status(&self, n: i64) -> RequestStatus {
        req::status(&self.t.app.store, n).await
    }

    async fn step(&self, n: i64) -> i64 {
        self.t.app.store.request(RequestNumber(n)).await.unwrap().unwrap().step
    }

    async fn deciders(&self, n: i64) -> Vec<String> {
        req::deciders(&self.t.app.store, n).await
    }

    async fn audit_details(&self, kind: &str) -> Vec<String> {
        let entries = self.t.app.store.audit_entries(0, None, 1000).await.unwrap();
        entries.into_iter().filter(|e| e.kind == kind).map(|e| e.detail.unwrap_or_default()).collect()
    }

    async fn done(self) {
        if let Some(db) = self.pg {
            drop(self.t);
            db.drop_now().await;
        }
    }
}

fn refused(h: &Handled, why: &str) -> bool {
    matches!(h, Handled::Refused { note } if note.contains("not waiting for your decision") && note.contains(why))
}

async fn a_revoked_approver_can_no_longer_decide_what_was_sent_to_them(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.chat("alice", &["I need acrobat", "to sign supplier contracts every single week"]).await;
    let out = d.chat("max", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001. It goes on to the next step."), "{out}");
    for who in ["gus", "gil"] {
        let out = d.chat(who, &[]).await;
        assert!(out.contains("Approval needed (step 2 of 2, group:software-approvers)"), "{who}: {out}");
    }
    d.chat("alice", &[]).await; // what alice was told so far, read

    d.gus_leaves_the_software_group().await;

    // The old DM's buttons, the typed command and "approvals" are all refused or empty.
    let outbox_before = d.t.app.store.outbox_depth().await.unwrap();
    let approve = d.press("gus", "approve:R-1001", "gus-approve").await;
    assert!(
        refused(&approve, "no longer hold the approver grant of the software-approvers group"),
        "{approve:?}"
    );
    let deny = d.press("gus", "deny:R-1001", "gus-deny").await;
    assert!(
        refused(&deny, "no longer hold the approver grant"),
        "refused before a reason is asked: {deny:?}"
    );
    assert_eq!(d.t.app.store.outbox_depth().await.unwrap(), outbox_before, "a refused press queues nothing");
    let typed = d.say("gus", "approve R-1001", "gus-typed").await;
    assert!(refused(&typed, "no longer hold the approver grant"), "{typed:?}");
    let out = d.chat("gus", &["approve R-1001"]).await;
    assert!(!out.contains("Approved R-1001"), "{out}");
    let out = d.chat("gus", &["approvals"]).await;
    assert!(out.contains("No request waits for your approval."), "{out}");
    assert!(!out.contains("Justification"), "the justification is not sent to him again: {out}");

    assert_eq!(d.status(1001).await, RequestStatus::Pending);
    assert_eq!(d.step(1001).await, 1, "still at the group's step");
    assert_eq!(d.deciders(1001).await, ["console:max"], "no decision of gus is stored");
    let out = d.chat("alice", &[]).await;
    assert!(!out.contains("gus") && !out.contains("approved") && !out.contains("denied"), "{out}");

    // The reminder goes to the approver who still holds the grant, not to gus.
    d.clock.advance(DAY);
    d.tick().await;
    let out = d.chat("gus", &[]).await;
    assert!(!out.contains("Reminder") && !out.contains("Justification"), "no reminder for gus: {out}");
    let out = d.chat("gil", &[]).await;
    assert!(out.contains("Reminder: approval still needed (step 2 of 2, group:software-approvers)"), "{out}");
    let reminded = d.audit_details("request.reminded").await;
    assert_eq!(reminded.len(), 1, "{reminded:?}");
    assert!(reminded[0].ends_with("reminded console:gil"), "{reminded:?}");

    // Positive control: gil still holds the grant and approves.
    let out = d.chat("gil", &["approvals"]).await;
    assert!(out.contains("R-1001 waits for your approval"), "{out}");
    let out = d.chat("gil", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001."), "{out}");
    assert_eq!(d.status(1001).await, RequestStatus::Approved);
    assert_eq!(d.deciders(1001).await, ["console:max", "console:gil"]);
    d.done().await;
}

async fn a_lead_an_escalation_added_is_refused_once_their_lead_grant_is_revoked(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.chat("carl", &["I need acrobat", "to review and sign the design contracts"]).await;
    d.clock.advance(DAY);
    d.tick().await;
    d.clock.advance(DAY);
    d.tick().await;
    let out = d.chat("lena", &[]).await;
    assert!(out.contains("Escalated to you: approval needed (step 1 of 2, manager)"), "{out}");
    let r = d.t.app.store.request(RequestNumber(1001)).await.unwrap().unwrap();
    assert!(r.steps[0].approvers.contains(&"console:lena".parse().unwrap()), "{:?}", r.steps);

    roles_revoke(d.config(), "console:lena", "lead", Some("service-desk"), "moved on", Some("ann".into()))
        .await
        .unwrap();
    tokio::time::sleep(SNAPSHOT_AGE).await;

    let approve = d.press("lena", "approve:R-1001", "lena-approve").await;
    assert!(refused(&approve, "no longer one of its approvers"), "{approve:?}");
    let typed = d.say("lena", "approve R-1001", "lena-typed").await;
    assert!(refused(&typed, "no longer one of its approvers"), "{typed:?}");
    let out = d.chat("lena", &["approve R-1001"]).await;
    assert!(!out.contains("Approved R-1001"), "{out}");
    let out = d.chat("lena", &["approvals"]).await;
    assert!(out.contains("No request waits for your approval."), "{out}");
    assert_eq!(d.status(1001).await, RequestStatus::Pending);
    assert_eq!(d.step(1001).await, 0);
    assert!(d.deciders(1001).await.is_empty(), "no decision of lena is stored");

    // Positive control: the manager the directory still names decides.
    let out = d.chat("max", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001. It goes on to the next step."), "{out}");
    assert_eq!(d.deciders(1001).await, ["console:max"]);
    d.done().await;
}

async fn a_group_approver_who_is_also_a_lead_is_refused_once_their_approver_grant_is_revoked(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    // gus approves for the software group and also leads the service desk, whose leads an
    // escalation of Acrobat's steps would add.
    let now = (d.t.app.clock)();
    d.t.app.store.grant_role(&req::lead("console:gus", "service-desk"), now).await.unwrap();
    d.t.app.service.forget_grants().await;
    d.chat("alice", &["I need acrobat", "to sign supplier contracts every single week"]).await;
    let out = d.chat("max", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001. It goes on to the next step."), "{out}");
    let out = d.chat("gus", &[]).await;
    assert!(out.contains("Approval needed (step 2 of 2, group:software-approvers)"), "{out}");

    // He leaves the group, but stays a lead: he was sent the step as an approver, and no
    // escalation added him, so being a lead does not let him decide it.
    d.gus_leaves_the_software_group().await;
    let leads = d.t.app.store.role_grants(false).await.unwrap();
    assert!(
        leads.iter().any(|g| g.user.id == "gus" && g.role == deskbot::store::compliance::Role::Lead),
        "gus is still a lead: {leads:?}"
    );

    let approve = d.press("gus", "approve:R-1001", "gus-approve").await;
    assert!(
        refused(&approve, "no longer hold the approver grant of the software-approvers group"),
        "{approve:?}"
    );
    let typed = d.say("gus", "approve R-1001", "gus-typed").await;
    assert!(refused(&typed, "no longer hold the approver grant"), "{typed:?}");
    let out = d.chat("gus", &["approvals"]).await;
    assert!(out.contains("No request waits for your approval."), "{out}");
    assert_eq!(d.status(1001).await, RequestStatus::Pending);
    assert_eq!(d.deciders(1001).await, ["console:max"], "no decision of gus is stored");

    // Positive control: gil still holds the grant and approves.
    let out = d.chat("gil", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001."), "{out}");
    assert_eq!(d.status(1001).await, RequestStatus::Approved);
    d.done().await;
}

#[tokio::test]
async fn sqlite_a_revoked_approver_can_no_longer_decide_what_was_sent_to_them() {
    a_revoked_approver_can_no_longer_decide_what_was_sent_to_them(false).await;
}

#[tokio::test]
async fn postgres_a_revoked_approver_can_no_longer_decide_what_was_sent_to_them() {
    a_revoked_approver_can_no_longer_decide_what_was_sent_to_them(true).await;
}

#[tokio::test]
async fn sqlite_a_lead_an_escalation_added_is_refused_once_their_lead_grant_is_revoked() {
    a_lead_an_escalation_added_is_refused_once_their_lead_grant_is_revoked(false).await;
}

#[tokio::test]
async fn postgres_a_lead_an_escalation_added_is_refused_once_their_lead_grant_is_revoked() {
    a_lead_an_escalation_added_is_refused_once_their_lead_grant_is_revoked(true).await;
}

#[tokio::test]
async fn sqlite_a_group_approver_who_is_also_a_lead_is_refused_once_their_approver_grant_is_revoked() {
    a_group_approver_who_is_also_a_lead_is_refused_once_their_approver_grant_is_revoked(false).await;
}

#[tokio::test]
async fn postgres_a_group_approver_who_is_also_a_lead_is_refused_once_their_approver_grant_is_revoked() {
    a_group_approver_who_is_also_a_lead_is_refused_once_their_approver_grant_is_revoked(true).await;
}
