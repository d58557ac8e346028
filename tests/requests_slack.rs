//! Access requests on the fake Slack: Erin asks in a DM, her manager Bob gets the approval DM
//! with Approve / Deny buttons, a bystander's forged press is refused privately and records
//! nothing, Bob's press moves the request to the software-approvers group, Kim's press approves
//! it: a seat is taken and, the item being fulfilled by the software queue, a ticket card is
//! posted in the queue's channel while Erin is told.

mod support;

use deskbot::service::GRANTS_MAX_AGE;
use deskbot::store::compliance::{NewGrant, Role};
use deskbot::store::requests::{RequestNumber, RequestStatus};
use support::fake_slack::dm_of;
use support::slack_bot::*;

fn has_button(c: &support::fake_slack::Call, id: &str) -> bool {
    c.params["blocks"].to_string().contains(&format!("\"action_id\":\"{id}\""))
}

#[tokio::test]
async fn slack_request_is_approved_from_dm_buttons_and_a_bystander_is_refused() {
    let people = tempfile::tempdir().unwrap();
    let csv = people.path().join("people.csv");
    std::fs::write(
        &csv,
        format!(
            "person,email,manager,department\nslack:{ERIN},erin@example.com,bob@example.com,Design\n\
             slack:{BOB},bob@example.com,,Design\nslack:{KIM},kim@example.com,,IT\n"
        ),
    )
    .unwrap();
    let bot =
        SlackBot::start_with("socket", &format!("[directory]\nsource = \"csv:{}\"\n", csv.display())).await;
    let grant = NewGrant {
        user: format!("slack:{KIM}").parse().unwrap(),
        role: Role::Approver,
        scope: "software-approvers".into(),
        by: "test".into(),
        justification: "owns the licence budget".into(),
    };
    let now = chrono::Utc::now().timestamp_millis();
    bot.store.grant_role(&grant, now).await.unwrap();
    // The running daemon reads the ledger again within GRANTS_MAX_AGE.
    tokio::time::sleep(GRANTS_MAX_AGE + std::time::Duration::from_millis(200)).await;

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
    let by: Vec<String> = bot
        .store
        .request_decisions(RequestNumber(1001))
        .await
        .unwrap()
        .iter()
        .map(|d| d.approver.to_string())
        .collect();
    assert_eq!(by, [format!("slack:{BOB}"), format!("slack:{KIM}")]);
    bot.stop().await;
}
