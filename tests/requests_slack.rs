//! Access requests on the fake Slack, driving the real daemon (`app::run`) as people would:
//! messages in their DMs and button presses in, DMs, ephemeral refusals, stored requests,
//! decisions, holdings, audit entries and signed webhook deliveries out.
//!
//! The first test fulfils Acrobat through the software queue (a ticket card for the agents);
//! the others run on SQLite and on PostgreSQL with Acrobat fulfilled by the `idp` webhook from
//! a pool of one seat: approval by the manager then the group with a bystander's and the
//! requester's presses refused, a denial with its reason, the waiting line of a full pool, the
//! expiry warning with Extend and the revocation when the grant lapses (a test clock moved by
//! hand; the daemon's scheduler runs every second against it), and an access review whose
//! Remove revokes one grant.

#[path = "support/pgdb.rs"]
mod pgdb;
mod support;

use deskbot::store::requests::{RequestNumber, RequestStatus};
use pgdb::PgDb;
use serde_json::Value;
use support::RunningClock;
use support::fake_slack::{Call, dm_of};
use support::requests::{self as req, ACROBAT, DAY, Received};
use support::slack_bot::*;

const MAX: &str = "U0MAX0001";

fn has_button(c: &Call, id: &str) -> bool {
    c.params["blocks"].to_string().contains(&format!("\"action_id\":\"{id}\""))
}

/// The ids of the buttons on a posted message.
fn buttons(c: &Call) -> Vec<String> {
    let blocks = c.params["blocks"].to_string();
    let blocks: Value = serde_json::from_str(&blocks).unwrap_or_default();
    let blocks = match blocks {
        Value::String(s) => serde_json::from_str(&s).unwrap_or_default(),
        b => b,
    };
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_string))
        .collect()
}

fn ts_of(c: &Call) -> String {
    c.response["ts"].as_str().expect("a posted message has a ts").to_string()
}

#[tokio::test]
async fn slack_request_is_approved_from_dm_buttons_and_a_bystander_is_refused() {
    let people = tempfile::tempdir().unwrap();
    let csv = people.path().join("people.csv");
    req::people_csv(
        &csv,
        &[
            (&format!("slack:{ERIN}"), "erin@example.com", "bob@example.com", "Design"),
            (&format!("slack:{BOB}"), "bob@example.com", "", "Design"),
            (&format!("slack:{KIM}"), "kim@example.com", "", "IT"),
        ],
    );
    let bot = SlackBot::start_opts(SlackOpts {
        extra: &req::directory_toml(&csv),
        grants: vec![req::approver(&format!("slack:{KIM}"), "software-approvers")],
        ..SlackOpts::default()
    })
    .await;

    let erin = dm_of(ERIN);
    bot.event(message(&erin, ERIN, "I need acrobat", &bot.fake.ts(), None)).await;
    bot.wait_post(&erin, "What will you use it for?").await;
    bot.event(message(&erin, ERIN, "to sign supplier contracts every single week", &bot.fake.ts(), None))
        .await;
    bot.wait_post(&erin, "Request R-1001 recorded").await;

    let bob = dm_of(BOB);
    let ask = bot.wait_post(&bob, "Approval needed (step 1 of 2, manager)").await;
    assert!(has_button(&ask, "approve:R-1001") && has_button(&ask, "deny:R-1001"), "{ask:?}");
    let ask_ts = ask.response["ts"].as_str().unwrap_or("1700000000.000100").to_string();

    // Kim presses (a forged copy of) Bob's button: refused privately, nothing recorded.
    bot.interaction(button(KIM, &bob, &ask_ts, None, "approve:R-1001")).await;
    bot.wait_for("the refusal shown to Kim only", |calls| {
        calls.iter().find(|c| c.method == "chat.postEphemeral" && c.params["user"] == KIM).cloned()
    })
    .await;
    assert!(bot.store.request_decisions(RequestNumber(1001)).await.unwrap().is_empty());

    // Bob approves; the group's approver is asked next.
    bot.interaction(button(BOB, &bob, &ask_ts, None, "approve:R-1001")).await;
    let kim = dm_of(KIM);
    let ask = bot.wait_post(&kim, "Approval needed (step 2 of 2, group:software-approvers)").await;
    bot.wait_post(&erin, "Bob approved R-1001").await;
    let ask_ts = ask.response["ts"].as_str().unwrap_or("1700000000.000200").to_string();
    bot.interaction(button(KIM, &kim, &ask_ts, None, "approve:R-1001")).await;

    // Fulfilled by the software queue: a ticket card for the agents, Erin told.
    bot.wait_post(AGENTS, "Grant Adobe Acrobat Pro licence").await;
    bot.wait_post(&erin, "R-1001 is approved").await;
    let r = bot.store.request(RequestNumber(1001)).await.unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Approved);
    assert_eq!(bot.store.seats_used("adobe-acrobat-pro").await.unwrap(), 1);
    assert_eq!(req::deciders(&bot.store, 1001).await, [format!("slack:{BOB}"), format!("slack:{KIM}")]);
    bot.stop().await;
}

/// The daemon on the fake Slack with Acrobat fulfilled by the `idp` webhook from one seat;
/// Erin and Max report to Bob, Kim approves for software-approvers.
struct Env {
    bot: SlackBot,
    clock: RunningClock,
    got: Received,
    pg: Option<PgDb>,
}

impl Env {
    /// On SQLite (`pg` false) or a fresh PostgreSQL database; `None` when PostgreSQL is
    /// skipped explicitly.
    async fn start(pg: bool) -> Option<Env> {
        let db = if pg { Some(PgDb::create("reqslack").await?) } else { None };
        let (url, got) = req::receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("people.csv");
        req::people_csv(
            &csv,
            &[
                (&format!("slack:{ERIN}"), "erin@example.com", "bob@example.com", "Design"),
                (&format!("slack:{MAX}"), "max@example.com", "bob@example.com", "Design"),
                (&format!("slack:{BOB}"), "bob@example.com", "", "Design"),
                (&format!("slack:{KIM}"), "kim@example.com", "", "IT"),
            ],
        );
        let intents = req::intents(dir.path(), 1);
        let extra = format!("{}\n{}", req::webhook_toml(&url), req::directory_toml(&csv));
        let clock = RunningClock::default();
        let bot = SlackBot::start_opts(SlackOpts {
            extra: &extra,
            clock: Some(clock.clock()),
            intents: Some(intents),
            database_url: db.as_ref().map(|d| d.url.clone()),
            grants: vec![req::approver(&format!("slack:{KIM}"), "software-approvers")],
            dir: Some(dir),
            ..SlackOpts::default()
        })
        .await;
        bot.fake.add_user(MAX, "Max");
        Some(Env { bot, clock, got, pg: db })
    }

    async fn finish(self) {
        self.bot.stop().await;
        if let Some(db) = self.pg {
            db.drop_now().await;
        }
    }

    /// `user` writes `text` in their DM with deskbot.
    async fn say(&self, user: &str, text: &str) {
        self.bot.event(message(&dm_of(user), user, text, &self.bot.fake.ts(), None)).await;
    }

    /// `user` presses the button `id` on `on` (a message deskbot posted).
    async fn press(&self, user: &str, on: &Call, id: &str) {
        let channel = on.params["channel"].as_str().unwrap_or_default().to_string();
        self.bot.interaction(button(user, &channel, &ts_of(on), None, id)).await;
    }

    /// `user` presses `id` on `on` and is refused privately; the refusal.
    async fn refused(&self, user: &str, on: &Call, id: &str) -> String {
        let before = self.ephemerals(user).len();
        self.press(user, on, id).await;
        let notes = self
            .bot
            .wait_for(&format!("a refusal shown to {user} only"), |_| {
                let notes = self.ephemerals(user);
                (notes.len() > before).then_some(notes)
            })
            .await;
        notes[before].clone()
    }

    /// The ephemeral notes shown to `user`, oldest first.
    fn ephemerals(&self, user: &str) -> Vec<String> {
        self.bot
            .fake
            .calls_to("chat.postEphemeral")
            .iter()
            .filter(|c| c.params["user"] == user)
            .map(|c| c.params["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// `who` asks for Acrobat and justifies it; request R-`n` is recorded and Bob is asked.
    async fn asks_for_acrobat(&self, who: &str, n: i64) -> Call {
        let before = self.bot.posts_in(&dm_of(BOB), None).len();
        self.say(who, "I need acrobat").await;
        self.bot.wait_post(&dm_of(who), "What will you use it for?").await;
        self.say(who, "to sign supplier contracts every single week").await;
        self.bot.wait_post(&dm_of(who), &format!("Request R-{n} recorded")).await;
        assert_eq!(req::status(&self.bot.store, n).await, RequestStatus::Pending);
        self.asked(BOB, before, &format!("Approval needed (step 1 of 2, manager): {}", name(who))).await
    }

    /// The first post to `user`'s DM after the first `after` ones that contains `text`.
    async fn asked(&self, user: &str, after: usize, text: &str) -> Call {
        let dm = dm_of(user);
        self.bot
            .wait_for(&format!("{text:?} in {user}'s DM"), |_| {
                self.bot
                    .posts_in(&dm, None)
                    .into_iter()
                    .skip(after)
                    .find(|c| c.status == 200 && c.params["text"].as_str().is_some_and(|t| t.contains(text)))
            })
            .await
    }

    /// Bob then Kim approve R-`n` from the buttons of their DMs.
    async fn both_approve(&self, n: i64, bob_ask: &Call) {
        let kim_before = self.bot.posts_in(&dm_of(KIM), None).len();
        self.press(BOB, bob_ask, &format!("approve:R-{n}")).await;
        let ask = self.asked(KIM, kim_before, "(step 2 of 2, group:software-approvers)").await;
        assert!(ask.params["text"].as_str().unwrap_or("").contains(&format!("R-{n}")), "{ask:?}");
        assert!(has_button(&ask, &format!("approve:R-{n}")), "{ask:?}");
        self.press(KIM, &ask, &format!("approve:R-{n}")).await;
    }

    /// Erin's Acrobat (R-1001) approved by Bob and Kim, its grant delivered and acknowledged.
    async fn acrobat_for_erin(&self) {
        let ask = self.asks_for_acrobat(ERIN, 1001).await;
        self.both_approve(1001, &ask).await;
        req::wait_status(&self.bot.store, 1001, RequestStatus::Fulfilled).await;
        req::wait_deliveries(&self.got, 1).await;
        self.bot.wait_post(&dm_of(ERIN), "R-1001: Adobe Acrobat Pro licence is granted until").await;
    }
}

fn name(user: &str) -> &'static str {
    match user {
        ERIN => "Erin",
        MAX => "Max",
        BOB => "Bob",
        _ => "Kim",
    }
}

async fn request_is_approved_by_manager_then_group_and_granted_by_webhook(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let store = &env.bot.store;
    let ask = env.asks_for_acrobat(ERIN, 1001).await;
    let text = ask.params["text"].as_str().unwrap_or_default();
    assert!(text.contains("to sign supplier contracts every single week"), "{text}");
    assert_eq!(buttons(&ask), ["approve:R-1001", "deny:R-1001"], "{ask:?}");

    // Kim presses (a forged copy of) Bob's Approve, Erin presses it on her own request: both
    // refused privately, nothing decided, the next step not asked.
    let note = env.refused(KIM, &ask, "approve:R-1001").await;
    assert!(note.contains("R-1001 is not waiting for your decision"), "{note}");
    let note = env.refused(ERIN, &ask, "approve:R-1001").await;
    assert!(note.contains("You cannot decide your own request R-1001"), "{note}");
    assert!(store.request_decisions(RequestNumber(1001)).await.unwrap().is_empty());
    assert_eq!(req::status(store, 1001).await, RequestStatus::Pending);
    assert!(env.bot.posts_in(&dm_of(KIM), None).is_empty(), "the group's turn has not come");

    // Bob approves: Erin is told, Kim is asked; Kim approves.
    env.both_approve(1001, &ask).await;
    env.bot.wait_post(&dm_of(ERIN), "Bob approved R-1001").await;

    // The signed grant reaches the IdP, which acknowledges it: fulfilled, the seat counted.
    let got = req::wait_deliveries(&env.got, 1).await;
    req::wait_status(store, 1001, RequestStatus::Fulfilled).await;
    assert_eq!(got.len(), 1, "one grant: {got:?}");
    let (event, body) = &got[0];
    assert_eq!(event, "access.grant");
    assert_eq!(
        (body["action"].as_str(), body["request"].as_str()),
        (Some("grant"), Some("R-1001")),
        "{body}"
    );
    assert_eq!(body["item"], ACROBAT, "{body}");
    assert_eq!(body["user"]["id"], ERIN, "{body}");
    assert_eq!(body["approved_by"], serde_json::json!([format!("slack:{BOB}"), format!("slack:{KIM}")]));
    env.bot.wait_post(&dm_of(ERIN), "R-1001: Adobe Acrobat Pro licence is granted until").await;
    assert_eq!(req::deciders(store, 1001).await, [format!("slack:{BOB}"), format!("slack:{KIM}")]);
    assert_eq!(store.seats_used(ACROBAT).await.unwrap(), 1);
    let held = store.holdings(Some(ACROBAT), false).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].holder.to_string(), format!("slack:{ERIN}"));
    for kind in ["request.created", "request.approved", "access.granted"] {
        assert!(req::audit_count(store, kind).await >= 1, "{kind} audited");
    }
    let pools: Value =
        serde_json::from_str(&req::cli(env.bot.dir(), &["licences", "list", "--json"]).await).unwrap();
    let acrobat = pools.as_array().unwrap().iter().find(|p| p["item"] == ACROBAT).unwrap();
    assert_eq!((acrobat["used"].as_i64(), acrobat["waiting"].as_i64()), (Some(1), Some(0)), "{acrobat}");
    env.finish().await;
}

async fn a_denial_reaches_the_requester_with_its_reason(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let store = &env.bot.store;
    let ask = env.asks_for_acrobat(ERIN, 1001).await;
    let reason = "the team shares the existing Acrobat seat";
    env.press(BOB, &ask, "deny:R-1001").await;
    // The reason is asked in Bob's DM; his next message there is taken as the reason.
    env.bot.wait_post(&dm_of(BOB), "Why are you denying R-1001?").await;
    env.say(BOB, reason).await;
    env.bot.wait_post(&dm_of(BOB), "Denied R-1001").await;
    env.bot.wait_post(&dm_of(ERIN), reason).await;
    assert_eq!(req::status(store, 1001).await, RequestStatus::Denied);
    let decisions = store.request_decisions(RequestNumber(1001)).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert!(!decisions[0].approve);
    assert_eq!(decisions[0].reason.as_deref(), Some(reason));
    assert_eq!(decisions[0].approver.to_string(), format!("slack:{BOB}"));
    assert_eq!(req::audit_count(store, "request.denied").await, 1);
    env.bot.settled().await;
    assert_eq!(store.seats_used(ACROBAT).await.unwrap(), 0);
    assert!(env.bot.posts_in(&dm_of(KIM), None).is_empty(), "a denied request asks nobody else");
    assert!(env.got.lock().unwrap().is_empty(), "nothing granted");
    env.finish().await;
}

async fn a_full_pool_puts_the_next_request_in_line_and_a_revocation_hands_the_seat_on(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let store = &env.bot.store;
    env.acrobat_for_erin().await;

    // Max asks too; both approve, but the one seat is Erin's: Max waits, told his place.
    let ask = env.asks_for_acrobat(MAX, 1002).await;
    env.both_approve(1002, &ask).await;
    req::wait_status(store, 1002, RequestStatus::Waiting).await;
    env.bot
        .wait_post(
            &dm_of(MAX),
            "all 1 seats of Adobe Acrobat Pro licence are taken. You are number 1 in line",
        )
        .await;
    assert_eq!(store.seats_used(ACROBAT).await.unwrap(), 1, "never over the pool");
    let pools: Value =
        serde_json::from_str(&req::cli(env.bot.dir(), &["licences", "list", "--json"]).await).unwrap();
    let acrobat = pools.as_array().unwrap().iter().find(|p| p["item"] == ACROBAT).unwrap();
    assert_eq!((acrobat["used"].as_i64(), acrobat["waiting"].as_i64()), (Some(1), Some(1)), "{acrobat}");

    // The operator revokes Erin's seat: revoked through the webhook, and Max gets it.
    let erin = format!("slack:{ERIN}");
    req::cli(
        env.bot.dir(),
        &["licences", "revoke", ACROBAT, &erin, "--justification", "left the contracts team"],
    )
    .await;
    req::wait_status(store, 1002, RequestStatus::Fulfilled).await;
    assert_eq!(req::status(store, 1001).await, RequestStatus::Revoked);
    let got = req::wait_deliveries(&env.got, 3).await;
    let want = [("access.grant", "R-1001"), ("access.revoke", "R-1001"), ("access.grant", "R-1002")];
    assert_eq!(req::events(&got), want.map(|(e, r)| (e.to_string(), r.to_string())));
    env.bot.wait_post(&dm_of(ERIN), "was revoked: left the contracts team").await;
    env.bot.wait_post(&dm_of(MAX), "A seat of Adobe Acrobat Pro licence is free").await;
    assert_eq!(store.seats_used(ACROBAT).await.unwrap(), 1);
    env.finish().await;
}

async fn a_time_boxed_grant_is_warned_with_extend_and_revoked_when_it_lapses(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let store = &env.bot.store;
    env.acrobat_for_erin().await;
    let grant = store.holding_for_request(RequestNumber(1001)).await.unwrap().unwrap();
    let expires = grant.expires_at.expect("a 365d item is time-boxed");

    // Seven days before the end the scheduler warns Erin, with Extend.
    env.clock.set(expires - 7 * DAY + 60_000);
    let warning = env.bot.wait_post(&dm_of(ERIN), "Your Adobe Acrobat Pro licence (R-1001) expires on").await;
    assert_eq!(buttons(&warning), ["extend:R-1001"], "{warning:?}");

    // Only the holder may extend; Erin's Extend is a new request with its own approval.
    let note = env.refused(KIM, &warning, "extend:R-1001").await;
    assert!(note.contains("Only the holder of R-1001 may extend it"), "{note}");
    let bob_before = env.bot.posts_in(&dm_of(BOB), None).len();
    env.press(ERIN, &warning, "extend:R-1001").await;
    env.asked(BOB, bob_before, "Approval needed (step 1 of 2, manager): Erin").await;
    let ext = store.request(RequestNumber(1002)).await.unwrap().expect("the extension request");
    assert_eq!(ext.extends, Some(RequestNumber(1001)));
    assert_eq!(ext.status, RequestStatus::Pending);
    assert!(ext.justification.starts_with("Extension of R-1001:"), "{}", ext.justification);

    // Left undecided, the grant lapses: revoked through the webhook, Erin told.
    env.clock.set(expires + 60_000);
    req::wait_revoked(store, 1001).await;
    let got = req::wait_deliveries(&env.got, 2).await;
    let want = [("access.grant", "R-1001"), ("access.revoke", "R-1001")];
    assert_eq!(req::events(&got), want.map(|(e, r)| (e.to_string(), r.to_string())));
    assert_eq!(got[1].1["action"], "revoke");
    assert_eq!(req::status(store, 1001).await, RequestStatus::Revoked);
    env.bot.wait_post(&dm_of(ERIN), "was revoked: expired on").await;
    assert_eq!(store.seats_used(ACROBAT).await.unwrap(), 0);
    assert_eq!(req::audit_count(store, "access.expiry_warned").await, 1, "warned once");
    assert_eq!(req::audit_count(store, "access.revoked").await, 1);
    env.finish().await;
}

async fn a_review_campaign_removes_one_grant(pg: bool) {
    let Some(env) = Env::start(pg).await else { return };
    let store = &env.bot.store;
    env.acrobat_for_erin().await;
    let grant = store.holding_for_request(RequestNumber(1001)).await.unwrap().unwrap();
    let ar = format!("AR-{}", grant.id);

    // The auditor starts a campaign; Bob, Erin's manager, gets Keep / Remove.
    let bob_before = env.bot.posts_in(&dm_of(BOB), None).len();
    let out = req::cli(env.bot.dir(), &["licences", "review", "--item", ACROBAT]).await;
    assert!(out.contains("access review started: 1 grants, 1 managers asked"), "{out}");
    let review = env.asked(BOB, bob_before, "Access review: your reports' access").await;
    let text = review.params["text"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("{ar}: Erin (slack:{ERIN}) holds Adobe Acrobat Pro licence")), "{text}");
    assert_eq!(buttons(&review), [format!("approve:{ar}"), format!("deny:{ar}")], "{review:?}");

    // Kim's Remove and Erin's Keep on her own grant are refused privately; nothing recorded.
    let note = env.refused(KIM, &review, &format!("deny:{ar}")).await;
    assert!(note.contains(&format!("{ar} is not waiting for your review")), "{note}");
    let note = env.refused(ERIN, &review, &format!("approve:{ar}")).await;
    assert!(note.contains(&format!("You cannot review your own access ({ar})")), "{note}");
    assert!(store.open_review_item(grant.id).await.unwrap().is_some(), "still open");

    // Bob presses Remove and gives his reason: the grant is revoked through the webhook.
    env.press(BOB, &review, &format!("deny:{ar}")).await;
    env.bot.wait_post(&dm_of(BOB), &format!("Why should the access of {ar} be removed?")).await;
    env.say(BOB, "moved to the design team, no contracts to sign").await;
    env.bot.wait_post(&dm_of(BOB), &format!("Removed {ar}")).await;
    req::wait_revoked(store, 1001).await;
    let got = req::wait_deliveries(&env.got, 2).await;
    let want = [("access.grant", "R-1001"), ("access.revoke", "R-1001")];
    assert_eq!(req::events(&got), want.map(|(e, r)| (e.to_string(), r.to_string())));
    assert_eq!(req::status(store, 1001).await, RequestStatus::Revoked);
    let held = store.holdings(Some(ACROBAT), true).await.unwrap();
    assert!(held[0].revoke_reason.as_deref().unwrap_or("").contains("no contracts to sign"), "{held:?}");
    let entries = store.audit_entries(0, None, 1000).await.unwrap();
    let removed: Vec<_> = entries.iter().filter(|e| e.kind == "review.removed").collect();
    assert_eq!(removed.len(), 1, "one review answer");
    assert_eq!(removed[0].actor, format!("slack:{BOB}"));
    assert!(removed[0].detail.as_deref().unwrap_or("").contains("no contracts to sign"));
    env.bot.wait_post(&dm_of(ERIN), "was revoked").await;
    env.finish().await;
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
async fn sqlite_a_full_pool_puts_the_next_request_in_line_and_a_revocation_hands_the_seat_on() {
    a_full_pool_puts_the_next_request_in_line_and_a_revocation_hands_the_seat_on(false).await;
}

#[tokio::test]
async fn postgres_a_full_pool_puts_the_next_request_in_line_and_a_revocation_hands_the_seat_on() {
    a_full_pool_puts_the_next_request_in_line_and_a_revocation_hands_the_seat_on(true).await;
}

#[tokio::test]
async fn sqlite_a_time_boxed_grant_is_warned_with_extend_and_revoked_when_it_lapses() {
    a_time_boxed_grant_is_warned_with_extend_and_revoked_when_it_lapses(false).await;
}

#[tokio::test]
async fn postgres_a_time_boxed_grant_is_warned_with_extend_and_revoked_when_it_lapses() {
    a_time_boxed_grant_is_warned_with_extend_and_revoked_when_it_lapses(true).await;
}

#[tokio::test]
async fn sqlite_a_review_campaign_removes_one_grant() {
    a_review_campaign_removes_one_grant(false).await;
}

#[tokio::test]
async fn postgres_a_review_campaign_removes_one_grant() {
    a_review_campaign_removes_one_grant(true).await;
}
