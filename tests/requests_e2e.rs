//! Access and licence requests end to end through the console channel, on SQLite and on
//! PostgreSQL: an employee asks in chat, the justification is required, the manager and then
//! the group approve from their own consoles, the seat is counted and the signed
//! `access.grant` webhook is delivered through the outbox; a denial carries its reason to the
//! requester; a full pool puts the next request in line, and revoking a seat hands it on.
//! Bystanders and the requester are refused (nothing recorded, the event's dedupe row
//! written), and every decision is in the keyed audit chain.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::adapters::webhook::WebhookChannel;
use deskbot::app::App;
use deskbot::config::{Config, Sources};
use deskbot::domain::{Address, Channel, Inbound, InboundKind, Platform, UserRef};
use deskbot::outbox::Outbox;
use deskbot::service::Handled;
use deskbot::store::EventKey;
use deskbot::store::compliance::{NewGrant, Role};
use deskbot::store::requests::{RequestNumber, RequestStatus};
use pgdb::PgDb;
use std::sync::Arc;
use support::requests::{self as req, Received};
use support::{Captured, TestApp, TestClock};

struct Desk {
    t: TestApp,
    clock: TestClock,
    got: Received,
    outbox: Outbox,
    pg: Option<PgDb>,
}

/// An app on SQLite (`pg` false) or a fresh PostgreSQL database; `None` when PostgreSQL is
/// skipped explicitly.
async fn desk(pg: bool) -> Option<Desk> {
    let db = if pg { Some(PgDb::create("requests").await?) } else { None };
    let (url, got) = req::receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.csv");
    req::people_csv(
        &people,
        &[
            ("console:alice", "alice@example.com", "max@example.com", "Design"),
            ("console:carl", "carl@example.com", "max@example.com", "Design"),
            ("console:max", "max@example.com", "", "Design"),
            ("console:gus", "gus@example.com", "max@example.com", "IT"),
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
    config.intents_dir = req::intents(dir.path(), 1);
    config.hot_reload = false;
    let clock = TestClock::at(1_800_000_000_000);
    let app = App::build_with_clock(config, clock.clock()).await.unwrap();
    for (who, group) in [("console:gus", "software-approvers"), ("console:max", "finance-approvers")] {
        app.store.grant_role(&req::approver(who, group), (app.clock)()).await.unwrap();
    }
    app.service.forget_grants().await;
    let hooks: Arc<dyn Channel> = Arc::new(WebhookChannel::new(&app.config.webhook).unwrap());
    let outbox = app.outbox(vec![hooks]);
    let t = TestApp { app, dir, out: Captured::default() };
    Some(Desk { t, clock, got, outbox, pg: db })
}

impl Desk {
    /// `user` at the console, a while later (so messages queued for them are due).
    async fn chat(&self, user: &str, lines: &[&str]) -> String {
        self.clock.advance(3_600_000);
        self.t.chat(user, lines).await
    }

    /// Run the `deskbot` binary on this desk's config and database; its stdout.
    async fn cli(&self, args: &[&str]) -> String {
        req::cli(self.t.dir.path(), args).await
    }

    /// Run the `deskbot` binary expecting it to fail; its stderr.
    async fn cli_fails(&self, args: &[&str]) -> String {
        req::cli_fails(self.t.dir.path(), args).await
    }

    async fn done(self) {
        if let Some(db) = self.pg {
            drop(self.t);
            db.drop_now().await;
        }
    }

    /// A button press (or a forged one) as `user`, in their own DM.
    async fn press(&self, user: &str, id: &str, event: &str) -> Handled {
        let inbound = Inbound {
            event_id: event.into(),
            user: UserRef::new(Platform::Console, user),
            display_name: Some(user.into()),
            conversation: format!("console:{user}"),
            reply_to: Address::new(Platform::Console, user),
            kind: InboundKind::Choice { id: id.into() },
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        self.t.app.service.handle(inbound).await.unwrap()
    }

    /// `R-n` is approved and its grant webhook not yet delivered; once the IdP acknowledges it
    /// (delivered with a 2xx), the request is fulfilled.
    async fn acknowledged(&self, n: i64) {
        assert_eq!(
            self.status(n).await,
            RequestStatus::Approved,
            "granted once the IdP acknowledges, not before"
        );
        self.outbox.deliver_due().await.unwrap();
        assert_eq!(self.status(n).await, RequestStatus::Fulfilled, "the IdP acknowledged the grant");
    }

    async fn status(&self, n: i64) -> RequestStatus {
        self.t.app.store.request(RequestNumber(n)).await.unwrap().unwrap().status
    }

    async fn bodies(&self) -> Vec<(String, serde_json::Value)> {
        self.outbox.deliver_due().await.unwrap();
        req::signed_bodies(&self.got)
    }
}

async fn request_is_approved_by_manager_then_group_and_granted_by_webhook(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    let out = d.chat("alice", &["I need acrobat", "pdfs"]).await;
    assert!(out.contains("What will you use it for?"), "{out}");
    assert!(out.contains("at least 20 characters"), "a short justification is asked again: {out}");
    let out = d.chat("alice", &["to sign supplier contracts every single week"]).await;
    assert!(out.contains("Request R-1001 recorded: Adobe Acrobat Pro licence"), "{out}");
    assert!(out.contains("waits for approval from your manager"), "{out}");

    // A bystander's press and the requester's own are refused; nothing is recorded.
    let refused = d.press("eve", "approve:R-1001", "forged-1").await;
    assert!(
        matches!(&refused, Handled::Refused { note } if note.contains("not waiting for your decision")),
        "{refused:?}"
    );
    let own = d.press("alice", "approve:R-1001", "self-1").await;
    assert!(matches!(&own, Handled::Refused { note } if note.contains("your own request")), "{own:?}");
    let early = d.press("gus", "approve:R-1001", "early-1").await;
    assert!(matches!(early, Handled::Refused { .. }), "the group's turn has not come: {early:?}");
    let seen = EventKey { platform: Platform::Console, event_id: "forged-1".into() };
    assert!(d.t.app.store.event_seen(&seen).await.unwrap(), "the refused press is recorded as seen");
    assert!(d.t.app.store.request_decisions(RequestNumber(1001)).await.unwrap().is_empty());

    // The manager sees the request at their console and approves it.
    let out = d.chat("max", &["approve R-1001"]).await;
    assert!(
        out.contains("Approval needed (step 1 of 2, manager): alice asks for Adobe Acrobat Pro licence"),
        "{out}"
    );
    assert!(out.contains("Justification: to sign supplier contracts every single week"), "{out}");
    assert!(out.contains("1. Approve") && out.contains("2. Deny"), "{out}");
    assert!(out.contains("Approved R-1001. It goes on to the next step."), "{out}");
    assert_eq!(d.status(1001).await, RequestStatus::Pending);
    assert!(d.bodies().await.is_empty(), "nothing is granted before the last step");

    // The group approves with the DM's button.
    let out = d.chat("gus", &[]).await;
    assert!(out.contains("step 2 of 2, group:software-approvers"), "{out}");
    assert!(matches!(d.press("gus", "approve:R-1001", "gus-1").await, Handled::Applied { .. }));
    assert_eq!(
        d.status(1001).await,
        RequestStatus::Approved,
        "granted once the IdP acknowledges, not before"
    );
    assert_eq!(d.t.app.store.seats_used("adobe-acrobat-pro").await.unwrap(), 1);
    let held = d.t.app.store.holdings(Some("adobe-acrobat-pro"), false).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].holder, UserRef::new(Platform::Console, "alice"));
    assert!(held[0].expires_at.is_some(), "a 365d item is time-boxed");

    let got = d.bodies().await;
    assert_eq!(d.status(1001).await, RequestStatus::Fulfilled, "the IdP acknowledged the grant");
    assert_eq!(got.len(), 1, "one signed grant, delivered once: {got:?}");
    let (event, body) = &got[0];
    assert_eq!(event, "access.grant");
    assert_eq!(body["action"], "grant");
    assert_eq!(body["request"], "R-1001");
    assert_eq!(body["item"], "adobe-acrobat-pro");
    assert_eq!(body["user"]["id"], "alice");
    assert_eq!(body["approved_by"], serde_json::json!(["console:max", "console:gus"]));
    assert_eq!(d.bodies().await.len(), 1, "a delivered grant is not sent again");

    let out = d.chat("alice", &[]).await;
    assert!(out.contains("max approved R-1001"), "{out}");
    assert!(out.contains("R-1001 is approved until"), "{out}");
    assert!(out.contains("R-1001: Adobe Acrobat Pro licence is granted until"), "{out}");

    // Every step is in the keyed audit chain, and the chain verifies.
    let audit = d.t.app.store.audit_entries(0, None, 1000).await.unwrap();
    let kinds: Vec<&str> = audit.iter().map(|e| e.kind.as_str()).collect();
    for k in ["request.created", "request.approved", "access.granted"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let verdict = deskbot::compliance::audit::verify(&d.t.app.store).await.unwrap();
    assert!(verdict.broken.is_none(), "{verdict:?}");

    // The pool is full: the next request waits in line, and gets the seat when it is revoked.
    d.chat("carl", &["I need acrobat", "to review and sign the design contracts"]).await;
    d.chat("max", &["approve R-1002"]).await;
    let out = d.chat("gus", &["approve R-1002"]).await;
    assert!(out.contains("Approved R-1002."), "{out}");
    assert_eq!(d.status(1002).await, RequestStatus::Waiting);
    let out = d.chat("carl", &[]).await;
    assert!(
        out.contains("all 1 seats of Adobe Acrobat Pro licence are taken. You are number 1 in line"),
        "{out}"
    );
    assert_eq!(d.t.app.store.seats_used("adobe-acrobat-pro").await.unwrap(), 1, "never over the pool");

    let alice = UserRef::new(Platform::Console, "alice");
    let handed =
        d.t.app
            .service
            .revoke_seat("adobe-acrobat-pro", &alice, "ops", "left the contracts team")
            .await
            .unwrap();
    assert_eq!(handed, vec![RequestNumber(1002)]);
    assert_eq!(d.status(1001).await, RequestStatus::Revoked);
    d.acknowledged(1002).await;
    assert_eq!(d.t.app.store.seats_used("adobe-acrobat-pro").await.unwrap(), 1);
    let got = d.bodies().await;
    let events: Vec<(&str, &str)> =
        got.iter().map(|(e, b)| (e.as_str(), b["user"]["id"].as_str().unwrap_or(""))).collect();
    assert_eq!(events, [("access.grant", "alice"), ("access.revoke", "alice"), ("access.grant", "carl")]);
    let out = d.chat("alice", &[]).await;
    assert!(out.contains("was revoked: left the contracts team"), "{out}");
    let out = d.chat("carl", &[]).await;
    assert!(out.contains("A seat of Adobe Acrobat Pro licence is free"), "{out}");

    // The operator's and the auditor's view, from the CLI on the same database.
    let csv = d.cli(&["licences", "report", "--csv"]).await;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("holder,item,granted at,approved by,justification,expires,last reviewed,request"),
        "{csv}"
    );
    let carl: Vec<&str> = lines.filter(|l| l.contains("console:carl")).collect();
    assert_eq!(carl.len(), 1, "{csv}");
    assert!(carl[0].contains("step 1 console:max; step 2 console:gus"), "{csv}");
    assert!(
        carl[0].contains("to review and sign the design contracts") && carl[0].ends_with(",R-1002"),
        "{csv}"
    );
    assert!(!csv.contains("console:alice"), "a revoked seat is not held: {csv}");
    let trail: serde_json::Value =
        serde_json::from_str(&d.cli(&["requests", "show", "R-1001", "--json"]).await).unwrap();
    assert_eq!(trail["request"]["status"], "revoked");
    assert_eq!(trail["decisions"].as_array().map(Vec::len), Some(2));
    assert_eq!(trail["holding"]["revoke_reason"], "left the contracts team");
    let pools: serde_json::Value =
        serde_json::from_str(&d.cli(&["licences", "list", "--json"]).await).unwrap();
    let acrobat = pools.as_array().unwrap().iter().find(|p| p["item"] == "adobe-acrobat-pro").unwrap();
    assert_eq!(
        (acrobat["used"].as_i64(), acrobat["total"].as_i64(), acrobat["waiting"].as_i64()),
        (Some(1), Some(1), Some(0))
    );
    let pending = d.cli(&["requests", "list", "--status", "fulfilled"]).await;
    assert!(pending.contains("R-1002") && !pending.contains("R-1001"), "{pending}");
    d.done().await;
}

async fn a_denial_reaches_the_requester_with_its_reason(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.chat(
        "carl",
        &["I need access to the finance folder", "read only", "to reconcile the Q3 supplier invoices"],
    )
    .await;
    let r = d.t.app.store.request(RequestNumber(1001)).await.unwrap().unwrap();
    assert_eq!(r.item, "finance-folder");
    assert_eq!(r.status, RequestStatus::Pending);
    let out = d.chat("max", &["deny R-1001", "finance data is for the finance team only"]).await;
    assert!(out.contains("Why are you denying R-1001?"), "{out}");
    assert!(out.contains("Denied R-1001. The requester is told your reason."), "{out}");
    assert_eq!(d.status(1001).await, RequestStatus::Denied);
    let decisions = d.t.app.store.request_decisions(RequestNumber(1001)).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert!(!decisions[0].approve);
    assert_eq!(decisions[0].reason.as_deref(), Some("finance data is for the finance team only"));
    let out = d.chat("carl", &[]).await;
    assert!(out.contains("R-1001 (Access to the Finance shared folder) was denied by max: finance data is for the finance team only"), "{out}");
    // A bystander's Deny is refused before any reason is asked; deciding again is refused too.
    let bystander = d.press("eve", "deny:R-1001", "eve-deny").await;
    assert!(matches!(bystander, Handled::Refused { .. }), "{bystander:?}");
    let again = d.press("max", "approve:R-1001", "again-1").await;
    assert!(matches!(&again, Handled::Refused { note } if note.contains("denied already")), "{again:?}");
    assert_eq!(d.t.app.store.seats_used("finance-folder").await.unwrap(), 0);
    d.done().await;
}

async fn an_approver_s_own_request_skips_their_step(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    // gus approves for software-approvers: his own Acrobat request skips that step, so his
    // manager's approval is the last one.
    d.chat("gus", &["I need acrobat", "to sign the hardware supplier contracts"]).await;
    let r = d.t.app.store.request(RequestNumber(1001)).await.unwrap().unwrap();
    assert_eq!(r.steps[1].skipped.as_deref(), Some(deskbot::desk::requests::SELF_SKIP));
    assert!(r.steps[1].approvers.is_empty(), "never the requester");
    let own = d.press("gus", "approve:R-1001", "gus-self").await;
    assert!(matches!(&own, Handled::Refused { note } if note.contains("your own request")), "{own:?}");
    let out = d.chat("max", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001."), "{out}");
    d.acknowledged(1001).await;
    let decisions = d.t.app.store.request_decisions(RequestNumber(1001)).await.unwrap();
    assert_eq!(decisions.iter().map(|d| d.approver.to_string()).collect::<Vec<_>>(), ["console:max"]);
    d.done().await;
}

async fn two_person_approval_needs_two_different_approvers(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    for who in ["console:gus", "console:alice"] {
        let grant = NewGrant {
            user: who.parse().unwrap(),
            role: Role::Approver,
            scope: "data-owners".into(),
            by: "test".into(),
            justification: "owns the customer database".into(),
        };
        d.t.app.store.grant_role(&grant, (d.t.app.clock)()).await.unwrap();
    }
    d.t.app.service.forget_grants().await;
    d.chat(
        "carl",
        &[
            "I need read access to the production database",
            "orders",
            "to trace the duplicate invoices customers reported",
        ],
    )
    .await;
    d.chat("max", &["approve R-1001"]).await;
    let out = d.chat("gus", &["approve R-1001"]).await;
    assert!(out.contains("step 2 of 2, group:data-owners"), "{out}");
    assert!(out.contains("needs a second, different approver"), "{out}");
    let twice = d.press("gus", "approve:R-1001", "gus-again").await;
    assert!(
        matches!(&twice, Handled::Refused { note } if note.contains("different second approver")),
        "{twice:?}"
    );
    assert_eq!(d.status(1001).await, RequestStatus::Pending);
    let out = d.chat("alice", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001."), "{out}");
    // Fulfilled by the access queue: approved, a seat held, a ticket filed for carl.
    assert_eq!(d.status(1001).await, RequestStatus::Approved);
    assert_eq!(d.t.app.store.seats_used("prod-db-read").await.unwrap(), 1);
    let tickets = d.t.app.store.tickets(&deskbot::store::TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].queue.as_str(), "access");
    assert_eq!(tickets[0].requester, UserRef::new(Platform::Console, "carl"));
    assert_eq!(tickets[0].fields.get("request").map(String::as_str), Some("R-1001"));
    let out = d.chat("carl", &[]).await;
    assert!(out.contains("R-1001 is approved until"), "{out}");
    d.done().await;
}

#[tokio::test]
async fn sqlite_two_person_approval_needs_two_different_approvers() {
    two_person_approval_needs_two_different_approvers(false).await;
}

#[tokio::test]
async fn postgres_two_person_approval_needs_two_different_approvers() {
    two_person_approval_needs_two_different_approvers(true).await;
}

#[tokio::test]
async fn sqlite_request_is_approved_by_manager_then_group_and_granted_by_webhook() {
    request_is_approved_by_manager_then_group_and_granted_by_webhook(false).await;
}

#[tokio::test]
async fn postgres_request_is_approved_by_manager_then_group_and_granted_by_webhook() {
    request_is_approved_by_manager_then_group_and_granted_by_webhook(true).await;
}

#[tokio::test]
async fn sqlite_a_denial_reaches_the_requester_with_its_reason() {
    a_denial_reaches_the_requester_with_its_reason(false).await;
}

#[tokio::test]
async fn postgres_a_denial_reaches_the_requester_with_its_reason() {
    a_denial_reaches_the_requester_with_its_reason(true).await;
}

#[tokio::test]
async fn sqlite_an_approver_s_own_request_skips_their_step() {
    an_approver_s_own_request_skips_their_step(false).await;
}

#[tokio::test]
async fn postgres_an_approver_s_own_request_skips_their_step() {
    an_approver_s_own_request_skips_their_step(true).await;
}

const DAY: i64 = 24 * 3_600_000;

impl Desk {
    /// Fire every due timer, as the leader's scheduler does.
    async fn tick(&self) {
        deskbot::service::scheduler::tick(&self.t.app.service).await.unwrap();
    }

    async fn audit_kinds(&self) -> Vec<String> {
        self.t.app.store.audit_entries(0, None, 1000).await.unwrap().into_iter().map(|e| e.kind).collect()
    }

    /// alice asks for Acrobat, max and gus approve: R-1001 is granted.
    async fn acrobat_for_alice(&self) {
        self.chat("alice", &["I need acrobat", "to sign supplier contracts every single week"]).await;
        self.chat("max", &["approve R-1001"]).await;
        self.chat("gus", &["approve R-1001"]).await;
        self.acknowledged(1001).await;
    }
}

async fn a_time_boxed_grant_is_warned_extended_and_revoked_when_it_lapses(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.acrobat_for_alice().await;
    let alice = UserRef::new(Platform::Console, "alice");
    let first = d.t.app.store.holding_for_request(RequestNumber(1001)).await.unwrap().unwrap();
    let expires = first.expires_at.unwrap();

    // Eight days before the end nothing is said; seven days before, the holder is warned.
    d.clock.set(expires - 8 * DAY);
    d.tick().await;
    assert!(!d.chat("alice", &[]).await.contains("expires on"));
    d.clock.set(expires - 7 * DAY);
    d.tick().await;
    let out = d.chat("alice", &[]).await;
    assert!(out.contains("Your Adobe Acrobat Pro licence (R-1001) expires on"), "{out}");
    assert!(out.contains("1. Extend"), "{out}");
    d.tick().await;
    assert_eq!(
        d.audit_kinds().await.iter().filter(|k| *k == "access.expiry_warned").count(),
        1,
        "warned once, however often the scheduler runs"
    );

    // Only the holder may extend; the extension is a new request with its own approval.
    let forged = d.press("carl", "extend:R-1001", "carl-extend").await;
    assert!(matches!(&forged, Handled::Refused { note } if note.contains("Only the holder")), "{forged:?}");
    assert!(matches!(d.press("alice", "extend:R-1001", "alice-extend").await, Handled::Applied { .. }));
    let ext = d.t.app.store.request(RequestNumber(1002)).await.unwrap().unwrap();
    assert_eq!(ext.extends, Some(RequestNumber(1001)));
    assert!(ext.justification.starts_with("Extension of R-1001:"), "{}", ext.justification);
    let again = d.press("alice", "extend:R-1001", "alice-extend-2").await;
    assert!(matches!(&again, Handled::Refused { note } if note.contains("R-1002 already asks")), "{again:?}");
    d.chat("max", &["approve R-1002"]).await;
    d.chat("gus", &["approve R-1002"]).await;
    d.acknowledged(1002).await;
    assert_eq!(d.t.app.store.seats_used("adobe-acrobat-pro").await.unwrap(), 1, "the same seat, extended");
    let held = d.t.app.store.holdings(Some("adobe-acrobat-pro"), false).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].id, held[0].request), (first.id, Some(RequestNumber(1002))));
    let new_expiry = held[0].expires_at.unwrap();
    assert_eq!(new_expiry, expires + 365 * DAY, "runs on from the old expiry");

    // The old expiry passes: nothing is revoked.
    d.clock.set(expires + DAY);
    d.tick().await;
    assert_eq!(d.t.app.store.holdings(Some("adobe-acrobat-pro"), false).await.unwrap().len(), 1);

    // The extended grant lapses: revoked through the webhook, the holder told.
    d.clock.set(new_expiry + 1);
    d.tick().await;
    assert!(d.t.app.store.holdings(Some("adobe-acrobat-pro"), false).await.unwrap().is_empty());
    assert_eq!(d.status(1002).await, RequestStatus::Revoked);
    assert_eq!(d.t.app.store.seats_used("adobe-acrobat-pro").await.unwrap(), 0);
    let got = d.bodies().await;
    let events: Vec<(&str, &str)> =
        got.iter().map(|(e, b)| (e.as_str(), b["request"].as_str().unwrap_or(""))).collect();
    assert_eq!(events, [("access.grant", "R-1001"), ("access.grant", "R-1002"), ("access.revoke", "R-1002")]);
    let out = d.chat("alice", &[]).await;
    assert!(out.contains("was revoked: expired on"), "{out}");
    let kinds = d.audit_kinds().await;
    for k in ["access.extended", "access.revoked"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    let _ = alice;
    d.done().await;
}

async fn an_undecided_step_is_reminded_once_then_escalated_to_the_leads(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    let grant = req::lead("console:lena", "service-desk");
    d.t.app.store.grant_role(&grant, (d.t.app.clock)()).await.unwrap();
    d.t.app.service.forget_grants().await;
    d.chat("carl", &["I need acrobat", "to review and sign the design contracts"]).await;
    assert!(d.chat("max", &[]).await.contains("Approval needed"));

    d.clock.advance(DAY);
    d.tick().await;
    let out = d.chat("max", &[]).await;
    assert!(out.contains("Reminder: approval still needed (step 1 of 2, manager)"), "{out}");
    let lena_early = d.press("lena", "approve:R-1001", "lena-early").await;
    assert!(matches!(lena_early, Handled::Refused { .. }), "not before the escalation: {lena_early:?}");

    d.clock.advance(DAY);
    d.tick().await;
    let out = d.chat("lena", &[]).await;
    assert!(out.contains("Escalated to you: approval needed (step 1 of 2, manager)"), "{out}");
    assert!(d.chat("carl", &[]).await.contains("R-1001 waited too long for your manager"));
    d.clock.advance(10 * DAY);
    d.tick().await;
    let kinds = d.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "request.reminded").count(), 1, "reminded once: {kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "request.escalated").count(), 1, "{kinds:?}");
    let out = d.chat("lena", &["approve R-1001"]).await;
    assert!(out.contains("Approved R-1001. It goes on to the next step."), "{out}");
    let decisions = d.t.app.store.request_decisions(RequestNumber(1001)).await.unwrap();
    assert_eq!(decisions[0].approver.to_string(), "console:lena");
    d.done().await;
}

async fn a_review_campaign_removes_one_grant_and_hands_its_seat_on(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.acrobat_for_alice().await;
    d.chat("carl", &["I need acrobat", "to review and sign the design contracts"]).await;
    d.chat("max", &["approve R-1002"]).await;
    d.chat("gus", &["approve R-1002"]).await;
    assert_eq!(d.status(1002).await, RequestStatus::Waiting);
    let grant = d.t.app.store.holding_for_request(RequestNumber(1001)).await.unwrap().unwrap();
    let ar = format!("AR-{}", grant.id);

    let started = d.t.app.service.start_review(Some("adobe-acrobat-pro"), "auditor").await.unwrap();
    assert_eq!((started.grants, started.managers, started.to_leads), (1, 1, 0));
    let out = d.chat("max", &[]).await;
    assert!(out.contains("Access review: your reports' access"), "{out}");
    assert!(out.contains(&format!("{ar}: alice (console:alice) holds Adobe Acrobat Pro licence")), "{out}");
    assert!(out.contains(&format!("1. Keep {ar}")) && out.contains(&format!("2. Remove {ar}")), "{out}");

    // Only the holder's manager may answer, and nobody for their own grant.
    let bystander = d.press("gus", &format!("deny:{ar}"), "gus-remove").await;
    assert!(matches!(&bystander, Handled::Refused { note } if note.contains("not waiting for your review")));
    let own = d.press("alice", &format!("approve:{ar}"), "alice-keep").await;
    assert!(matches!(&own, Handled::Refused { note } if note.contains("your own access")), "{own:?}");

    let out =
        d.chat("max", &[&format!("remove {ar}"), "moved to the design team, no contracts to sign"]).await;
    assert!(out.contains(&format!("Why should the access of {ar} be removed?")), "{out}");
    assert!(out.contains(&format!("Removed {ar}")), "{out}");
    assert_eq!(d.status(1001).await, RequestStatus::Revoked);
    d.acknowledged(1002).await; // the freed seat goes to the next in line
    let held = d.t.app.store.holdings(Some("adobe-acrobat-pro"), true).await.unwrap();
    assert!(held[0].revoke_reason.as_deref().unwrap_or("").contains("no contracts to sign"), "{held:?}");
    let got = d.bodies().await;
    let events: Vec<(&str, &str)> =
        got.iter().map(|(e, b)| (e.as_str(), b["user"]["id"].as_str().unwrap_or(""))).collect();
    assert_eq!(events, [("access.grant", "alice"), ("access.revoke", "alice"), ("access.grant", "carl")]);
    let again = d.press("max", &format!("approve:{ar}"), "max-keep-late").await;
    assert!(matches!(again, Handled::Refused { .. }), "answered already: {again:?}");
    let entries = d.t.app.store.audit_entries(0, None, 1000).await.unwrap();
    let removed: Vec<_> = entries.iter().filter(|e| e.kind == "review.removed").collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].actor, "console:max");
    assert!(removed[0].detail.as_deref().unwrap_or("").contains("no contracts to sign"));

    // A second campaign: carl's grant, unanswered by max, goes to the leads after review_days.
    let lead = req::lead("console:lena", "service-desk");
    d.t.app.store.grant_role(&lead, (d.t.app.clock)()).await.unwrap();
    d.t.app.service.forget_grants().await;
    d.t.app.service.start_review(None, "auditor").await.unwrap();
    let carl = d.t.app.store.holding_for_request(RequestNumber(1002)).await.unwrap().unwrap();
    let ar = format!("AR-{}", carl.id);
    let early = d.press("lena", &format!("approve:{ar}"), "lena-early").await;
    assert!(matches!(early, Handled::Refused { .. }), "the manager's turn first: {early:?}");
    d.clock.advance(15 * DAY);
    d.tick().await;
    let out = d.chat("lena", &[]).await;
    assert!(out.contains("unanswered by the holder's manager, now yours"), "{out}");
    let out = d.chat("lena", &[&format!("keep {ar}")]).await;
    assert!(out.contains(&format!("Kept {ar}")), "{out}");
    let kept = d.t.app.store.holding(carl.id).await.unwrap().unwrap();
    assert!(kept.reviewed_at > carl.reviewed_at, "the grant is marked reviewed");
    let csv = d.cli(&["licences", "report", "--csv"]).await;
    assert!(csv.contains("console:carl"), "{csv}");
    d.done().await;
}

async fn a_queue_fulfilled_request_is_fulfilled_when_its_ticket_is_resolved(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    let out = d
        .chat(
            "carl",
            &["I need access to the finance folder", "read only", "to reconcile the Q3 supplier invoices"],
        )
        .await;
    assert!(out.contains("Request R-1001 recorded: Access to the Finance shared folder"), "{out}");
    // max is carl's manager and a finance approver: both steps.
    d.chat("max", &["approve R-1001", "approve R-1001"]).await;
    assert_eq!(d.status(1001).await, RequestStatus::Approved);
    let tickets = d.t.app.store.tickets(&deskbot::store::TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    d.t.app.service.resolve_ticket(tickets[0].number, "ops", None).await.unwrap();
    assert_eq!(d.status(1001).await, RequestStatus::Fulfilled);
    let out = d.chat("carl", &[]).await;
    assert!(out.contains("R-1001: Access to the Finance shared folder is set up"), "{out}");
    d.done().await;
}

#[tokio::test]
async fn sqlite_a_time_boxed_grant_is_warned_extended_and_revoked_when_it_lapses() {
    a_time_boxed_grant_is_warned_extended_and_revoked_when_it_lapses(false).await;
}

#[tokio::test]
async fn postgres_a_time_boxed_grant_is_warned_extended_and_revoked_when_it_lapses() {
    a_time_boxed_grant_is_warned_extended_and_revoked_when_it_lapses(true).await;
}

#[tokio::test]
async fn sqlite_an_undecided_step_is_reminded_once_then_escalated_to_the_leads() {
    an_undecided_step_is_reminded_once_then_escalated_to_the_leads(false).await;
}

#[tokio::test]
async fn postgres_an_undecided_step_is_reminded_once_then_escalated_to_the_leads() {
    an_undecided_step_is_reminded_once_then_escalated_to_the_leads(true).await;
}

#[tokio::test]
async fn sqlite_a_review_campaign_removes_one_grant_and_hands_its_seat_on() {
    a_review_campaign_removes_one_grant_and_hands_its_seat_on(false).await;
}

#[tokio::test]
async fn postgres_a_review_campaign_removes_one_grant_and_hands_its_seat_on() {
    a_review_campaign_removes_one_grant_and_hands_its_seat_on(true).await;
}

#[tokio::test]
async fn sqlite_a_queue_fulfilled_request_is_fulfilled_when_its_ticket_is_resolved() {
    a_queue_fulfilled_request_is_fulfilled_when_its_ticket_is_resolved(false).await;
}

#[tokio::test]
async fn postgres_a_queue_fulfilled_request_is_fulfilled_when_its_ticket_is_resolved() {
    a_queue_fulfilled_request_is_fulfilled_when_its_ticket_is_resolved(true).await;
}

/// The IdP never accepts the grant: after the outbox's last attempt the request stays approved,
/// a ticket asks the desk to grant it by hand, alice is told, and resolving that ticket fulfils
/// the request. Nothing says "granted" before then.
async fn a_grant_the_idp_never_acknowledges_becomes_a_ticket(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.chat("alice", &["I need acrobat", "to sign supplier contracts every single week"]).await;
    d.chat("max", &["approve R-1001"]).await;
    d.chat("gus", &["approve R-1001"]).await;
    assert_eq!(d.status(1001).await, RequestStatus::Approved);

    // The IdP's address refuses connections.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/idp", closed.local_addr().unwrap());
    drop(closed);
    let mut hooks = d.t.app.config.webhook.clone();
    hooks[0].url = dead;
    let channel: Arc<dyn Channel> = Arc::new(WebhookChannel::new(&hooks).unwrap());
    let failing = d.t.app.outbox(vec![channel]);
    let mut dead_rows = 0;
    for _ in 0..40 {
        dead_rows += failing.deliver_due().await.unwrap().dead;
        if dead_rows > 0 {
            break;
        }
        d.clock.advance(10 * 60_000);
    }
    assert_eq!(dead_rows, 1, "the grant webhook is given up after its last attempt");
    assert_eq!(d.status(1001).await, RequestStatus::Approved, "not granted: the IdP never acknowledged it");
    assert!(d.got.lock().unwrap().is_empty());

    let tickets = d.t.app.store.tickets(&deskbot::store::TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let t = &tickets[0];
    assert!(t.title.contains("Grant Adobe Acrobat Pro licence") && t.title.contains("R-1001"), "{}", t.title);
    assert!(t.description.contains("`idp` webhook failed"), "{}", t.description);
    assert_eq!(t.requester, UserRef::new(Platform::Console, "alice"));
    let out = d.chat("alice", &[]).await;
    assert!(
        out.contains("R-1001 is approved, but setting up Adobe Acrobat Pro licence automatically failed"),
        "{out}"
    );
    assert!(!out.contains("is granted"), "{out}");
    let audit = d.t.app.store.audit_entries(0, None, 1000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.kind == "request.status"
                && e.detail.as_deref().unwrap_or("").contains("webhook failed")),
        "the failure is in the audit chain"
    );

    // Granted by hand: resolving the ticket fulfils the request.
    d.t.app.service.resolve_ticket(t.number, "ops", None).await.unwrap();
    assert_eq!(d.status(1001).await, RequestStatus::Fulfilled);
    let out = d.chat("alice", &[]).await;
    assert!(out.contains("R-1001: Adobe Acrobat Pro licence is set up"), "{out}");
    d.done().await;
}

/// "approvals" lists what waits for the asker's decision (sent again with its buttons), and
/// nothing for someone whose turn has not come or who is not an approver.
async fn an_approver_lists_the_requests_waiting_for_them(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.chat("alice", &["I need acrobat", "to sign supplier contracts every single week"]).await;
    d.chat("max", &[]).await; // the first ask, read

    let out = d.chat("max", &["approvals"]).await;
    assert!(out.contains("R-1001 waits for your approval"), "{out}");
    assert!(
        out.contains("Waiting for your approval (step 1 of 2, manager): alice asks for Adobe Acrobat Pro"),
        "{out}"
    );
    assert!(out.contains("1. Approve") && out.contains("2. Deny"), "{out}");
    for (who, why) in
        [("gus", "the group's turn has not come"), ("carl", "not an approver"), ("alice", "her own")]
    {
        let out = d.chat(who, &["what do I need to approve?"]).await;
        assert!(out.contains("No request waits for your approval."), "{who} ({why}): {out}");
    }

    d.chat("max", &["approve R-1001"]).await;
    let out = d.chat("max", &["approvals"]).await;
    assert!(out.contains("No request waits for your approval."), "decided: {out}");
    let out = d.chat("gus", &["my approvals"]).await;
    assert!(out.contains("R-1001 waits for your approval"), "{out}");
    assert!(out.contains("(step 2 of 2, group:software-approvers)"), "{out}");
    d.done().await;
}

#[tokio::test]
async fn sqlite_a_grant_the_idp_never_acknowledges_becomes_a_ticket() {
    a_grant_the_idp_never_acknowledges_becomes_a_ticket(false).await;
}

#[tokio::test]
async fn postgres_a_grant_the_idp_never_acknowledges_becomes_a_ticket() {
    a_grant_the_idp_never_acknowledges_becomes_a_ticket(true).await;
}

#[tokio::test]
async fn sqlite_an_approver_lists_the_requests_waiting_for_them() {
    an_approver_lists_the_requests_waiting_for_them(false).await;
}

#[tokio::test]
async fn postgres_an_approver_lists_the_requests_waiting_for_them() {
    an_approver_lists_the_requests_waiting_for_them(true).await;
}

/// `deskbot licences review` as an auditor runs it: refused for an unknown item and for an item
/// nobody holds; for `--all` it asks the holder's manager, who sees the grant with Keep / Remove,
/// and the campaign is in the audit chain under the name given with `--by`.
async fn a_review_campaign_is_started_from_the_command_line(pg: bool) {
    let Some(d) = desk(pg).await else { return };
    d.acrobat_for_alice().await;
    let grant = d.t.app.store.holding_for_request(RequestNumber(1001)).await.unwrap().unwrap();
    let ar = format!("AR-{}", grant.id);

    let err = d.cli_fails(&["licences", "review", "--item", "no-such-item"]).await;
    assert!(err.contains("`no-such-item` is not an item of the request catalog"), "{err}");
    let err = d.cli_fails(&["licences", "review", "--item", "visio-plan-2"]).await;
    assert!(err.contains("no active grants to review"), "{err}");
    let err = d.cli_fails(&["licences", "review"]).await;
    assert!(err.contains("--item") && err.contains("--all"), "one of the two is required: {err}");
    assert!(
        !d.audit_kinds().await.iter().any(|k| k == "review.started"),
        "a refused campaign records nothing"
    );

    let out = d.cli(&["licences", "review", "--all", "--by", "auditor"]).await;
    assert!(out.contains("access review started: 1 grants, 1 managers asked, 0 sent to the leads"), "{out}");
    let out = d.chat("max", &[]).await;
    assert!(out.contains("Access review: your reports' access"), "{out}");
    assert!(out.contains(&format!("{ar}: alice (console:alice) holds Adobe Acrobat Pro licence")), "{out}");
    let audit = d.t.app.store.audit_entries(0, None, 1000).await.unwrap();
    let started: Vec<_> = audit.iter().filter(|e| e.kind == "review.started").collect();
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].actor, "auditor");

    // max keeps it: the grant shows as reviewed in the auditor's export.
    let out = d.chat("max", &[&format!("keep {ar}")]).await;
    assert!(out.contains(&format!("Kept {ar}")), "{out}");
    let kept_at = chrono::DateTime::from_timestamp_millis((d.t.app.clock)()).unwrap();
    let csv = d.cli(&["licences", "report", "--csv"]).await;
    let mut report = csv::Reader::from_reader(csv.as_bytes());
    let header = report.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = report.records().map(Result::unwrap).collect();
    let column = |row: &csv::StringRecord, name: &str| {
        row[header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}: {header:?}"))]
            .to_string()
    };
    assert_eq!(rows.len(), 1, "{csv}");
    assert_eq!(column(&rows[0], "holder"), "console:alice");
    assert_eq!(column(&rows[0], "last reviewed"), kept_at.format("%Y-%m-%d %H:%M").to_string(), "{csv}");
    assert_ne!(column(&rows[0], "granted at"), column(&rows[0], "last reviewed"), "{csv}");
    d.done().await;
}

#[tokio::test]
async fn sqlite_a_review_campaign_is_started_from_the_command_line() {
    a_review_campaign_is_started_from_the_command_line(false).await;
}

#[tokio::test]
async fn postgres_a_review_campaign_is_started_from_the_command_line() {
    a_review_campaign_is_started_from_the_command_line(true).await;
}
