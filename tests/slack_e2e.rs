//! Slack end to end, through the real slack-morphism client against the fake Slack, in both
//! connection modes: a message goes in as Slack would send it; the reply the fake records and
//! the ticket in the store come out.

mod support;

use deskbot::domain::{Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::store::TicketFilter;
use serde_json::json;
use support::fake_slack::{self, BOT_USER, Sign, dm_of};
use support::slack_bot::*;

/// Run a scenario once per mode.
macro_rules! both_modes {
    ($scenario:ident: $socket:ident, $events:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $socket() {
            $scenario("socket").await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $events() {
            $scenario("events").await
        }
    };
}

fn blocks_have_button(c: &support::fake_slack::Call, id: &str) -> bool {
    c.params["blocks"].to_string().contains(&format!("\"action_id\":\"{id}\""))
}

async fn dm_question_is_answered(mode: &str) {
    let bot = SlackBot::start(mode).await;
    assert!(!bot.fake.calls_to("auth.test").is_empty(), "deskbot logs in with auth.test");
    let dm = dm_of(ERIN);
    let ts = bot.fake.ts();
    bot.event(message(&dm, ERIN, "I forgot my password", &ts, None)).await;
    let reply = bot.wait_post(&dm, "password").await;
    assert!(
        blocks_have_button(&reply, "solved") || reply.params["blocks"].to_string().contains("button"),
        "{reply:?}"
    );
    // The message was marked while deskbot worked on it.
    bot.wait_for("an eyes reaction", |calls| {
        calls.iter().find(|c| c.method == "reactions.add" && c.params["timestamp"] == ts.as_str()).cloned()
    })
    .await;
    // Display names come from users.info.
    assert!(bot.fake.calls_to("users.info").iter().any(|c| c.params["user"] == ERIN));
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}
both_modes!(dm_question_is_answered: dm_question_is_answered_socket, dm_question_is_answered_events);

/// Erin's message in #general; Bob reacts with 🎫 to file it for her.
async fn file_by_reaction(bot: &SlackBot) -> (String, TicketNumber) {
    let ts = bot.fake.ts();
    let text = "the coffee machine on floor 3 is leaking";
    bot.fake.remember(GENERAL, &ts, ERIN, text);
    bot.event(json!({
        "type": "reaction_added",
        "user": BOB,
        "reaction": "ticket",
        "item_user": ERIN,
        "item": { "type": "message", "channel": GENERAL, "ts": ts },
        "event_ts": bot.fake.ts(),
    }))
    .await;
    bot.wait_post(AGENTS, "coffee machine on floor 3").await;
    let tickets = bot.store.tickets(&TicketFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0].requester, UserRef::new(Platform::Slack, ERIN), "the author is credited");
    (ts, tickets[0].number)
}

async fn reaction_files_a_ticket_crediting_the_author(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let (ts, number) = file_by_reaction(&bot).await;
    // The confirmation goes to the message's thread and names the ticket.
    bot.wait_post(GENERAL, &number.to_string()).await;
    assert!(
        bot.posts_in(GENERAL, Some(&ts))
            .iter()
            .any(|c| c.params["text"].as_str().unwrap_or("").contains(&number.to_string()))
    );
    // The card in the agents' channel carries the desk's buttons.
    let card =
        bot.posts_in(AGENTS, None).into_iter().find(|c| c.params.get("thread_ts").is_none()).expect("a card");
    for id in ["desk:claim", "desk:resolve", "desk:reply"] {
        assert!(blocks_have_button(&card, id), "{id} on {card:?}");
    }
    // The reacted message gets the ticket status reaction.
    bot.wait_for("a ticket reaction", |calls| {
        calls
            .iter()
            .find(|c| {
                c.method == "reactions.add"
                    && c.params["timestamp"] == ts.as_str()
                    && c.params["name"] == "ticket"
            })
            .cloned()
    })
    .await;
    // Slack echoes deskbot's own 🎫 status reaction as an event: it files nothing, and
    // another 🎫 on the same message does not file it twice.
    for who in [BOT_USER, KIM] {
        bot.event(json!({
            "type": "reaction_added", "user": who, "reaction": "ticket", "item_user": ERIN,
            "item": { "type": "message", "channel": GENERAL, "ts": ts }, "event_ts": bot.fake.ts(),
        }))
        .await;
    }
    bot.settled().await;
    assert_eq!(bot.store.tickets(&TicketFilter { limit: 10, ..Default::default() }).await.unwrap().len(), 1);
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}
both_modes!(reaction_files_a_ticket_crediting_the_author: reaction_files_ticket_socket, reaction_files_ticket_events);

async fn agents_work_the_ticket_in_its_thread_and_csat_buttons_rate_it(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let (ts, number) = file_by_reaction(&bot).await;
    let card = bot.posts_in(AGENTS, None).into_iter().find(|c| c.params.get("thread_ts").is_none()).unwrap();
    let card_ts = card.response["ts"].as_str().unwrap().to_string();

    // Kim claims with the card's button: the card is edited in place.
    let (status, _) = bot.interaction(button(KIM, AGENTS, &card_ts, None, "desk:claim")).await;
    assert_eq!(status, 200);
    let update = bot
        .wait_for("chat.update of the card", |calls| {
            calls.iter().find(|c| c.method == "chat.update" && c.params["ts"] == card_ts.as_str()).cloned()
        })
        .await;
    assert!(
        update.params["text"].as_str().unwrap().contains("Kim")
            || update.params["text"].as_str().unwrap().contains(KIM)
    );

    // Kim answers the requester from the thread; it reaches Erin's thread.
    bot.event(message(
        AGENTS,
        KIM,
        "!reply Open the tray and pull the paper out",
        &bot.fake.ts(),
        Some(&card_ts),
    ))
    .await;
    bot.wait_post(GENERAL, "pull the paper out").await;
    // Erin's answer in her thread reaches the agents' thread.
    bot.event(message(GENERAL, ERIN, "still jammed, sorry", &bot.fake.ts(), Some(&ts))).await;
    let relayed = bot.wait_post(AGENTS, "still jammed").await;
    assert_eq!(relayed.params["thread_ts"], card_ts.as_str());
    // A bystander in Erin's thread is not talking to deskbot.
    bot.event(message(GENERAL, BOB, "same here on floor 4", &bot.fake.ts(), Some(&ts))).await;
    // An internal note stays in the thread.
    bot.event(message(AGENTS, KIM, "probably the fuser", &bot.fake.ts(), Some(&card_ts))).await;
    // Someone without a grant presses Resolve: a note only they see (committed with the
    // decision), and the ticket stays open.
    bot.interaction(button(BOB, AGENTS, &card_ts, None, "desk:resolve")).await;
    let note = bot
        .wait_for("the private refusal", |calls| {
            calls.iter().find(|c| c.method == "chat.postEphemeral").cloned()
        })
        .await;
    assert_eq!(note.params["user"], BOB);
    assert!(note.params["text"].as_str().unwrap().contains("Only agents"), "{note:?}");
    assert_eq!(bot.store.ticket(number).await.unwrap().unwrap().status, TicketStatus::Open);

    // Resolved: Erin is asked to rate with buttons, and her click is recorded.
    bot.event(message(AGENTS, KIM, "!resolve Replaced the fuser", &bot.fake.ts(), Some(&card_ts))).await;
    let rating = bot.wait_post(GENERAL, "resolved").await;
    assert!(blocks_have_button(&rating, "rate:5"), "{rating:?}");
    let rating_ts = rating.response["ts"].as_str().unwrap().to_string();
    let thread = rating.params["thread_ts"].as_str().map(str::to_string);
    bot.interaction(button(ERIN, GENERAL, &rating_ts, thread.as_deref(), "rate:5")).await;
    for _ in 0..250 {
        let events = bot.store.ticket_events(number).await.unwrap();
        if events.iter().any(|e| e.kind == "csat") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let events = bot.store.ticket_events(number).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "csat" && e.detail.as_deref() == Some("score 5")), "{events:?}");
    let t = bot.store.ticket(number).await.unwrap().unwrap();
    assert_eq!(t.status, TicketStatus::Resolved);
    assert!(!bot.fake.posts().iter().any(|c| c.params["text"].as_str().unwrap_or("").contains("floor 4")));
    assert!(
        !bot.posts_in(GENERAL, None)
            .iter()
            .any(|c| c.params["text"].as_str().unwrap_or("").contains("probably the fuser"))
    );
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}
both_modes!(agents_work_the_ticket_in_its_thread_and_csat_buttons_rate_it: agent_thread_and_csat_socket, agent_thread_and_csat_events);

async fn one_message_delivered_three_times_gets_one_reply(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let dm = dm_of(ERIN);
    let ts = bot.fake.ts();
    let cb = bot.fake.callback(message(&dm, ERIN, "I forgot my password", &ts, None));
    bot.deliver_callback(&cb, Sign::Good).await;
    bot.deliver_callback(&cb, Sign::Retry(1)).await;
    // The same post again under another event id (Slack has been seen doing this).
    let mut again = cb.clone();
    again["event_id"] = json!("Ev99999999");
    bot.deliver_callback(&again, Sign::Retry(2)).await;
    bot.wait_post(&dm, "password").await;
    bot.settled().await;
    let replies: Vec<_> = bot.posts_in(&dm, None);
    assert_eq!(replies.len(), 1, "{replies:#?}");
    bot.stop().await;
}
both_modes!(one_message_delivered_three_times_gets_one_reply: triple_delivery_socket, triple_delivery_events);

async fn rate_limit_delays_but_neither_loses_nor_doubles(mode: &str) {
    let bot = SlackBot::start(mode).await;
    bot.fake.rate_limit("chat.postMessage", 1, 1);
    let dm = dm_of(ERIN);
    bot.event(message(&dm, ERIN, "I forgot my password", &bot.fake.ts(), None)).await;
    bot.wait_post(&dm, "password").await;
    let calls = bot.fake.calls_to("chat.postMessage");
    let limited: Vec<_> = calls.iter().filter(|c| c.status == 429).collect();
    assert_eq!(limited.len(), 1);
    // The retry waited for Retry-After (1 s).
    let sent = calls.iter().find(|c| c.status == 200).unwrap();
    let waited = sent.at.duration_since(limited[0].at);
    assert!(waited >= std::time::Duration::from_millis(950), "retried after {waited:?}");
    bot.settled().await;
    assert_eq!(bot.posts_in(&dm, None).len(), 1, "delivered exactly once");
    bot.stop().await;
}
both_modes!(rate_limit_delays_but_neither_loses_nor_doubles: rate_limit_socket, rate_limit_events);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_socket_reconnects_and_the_next_event_is_handled() {
    let bot = SlackBot::start("socket").await;
    assert_eq!(bot.fake.connects(), 1);
    bot.fake.drop_sockets();
    for _ in 0..500 {
        if bot.fake.connects() >= 2 && bot.fake.live_sockets() >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(bot.fake.connects() >= 2, "reconnected");
    assert!(bot.fake.calls_to("apps.connections.open").len() >= 2);
    let dm = dm_of(ERIN);
    bot.event(message(&dm, ERIN, "I forgot my password", &bot.fake.ts(), None)).await;
    bot.wait_post(&dm, "password").await;
    // A `disconnect` message: a new connection, and events keep flowing.
    bot.fake.send_disconnect();
    for _ in 0..500 {
        if bot.fake.connects() >= 3 && bot.fake.live_sockets() >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(bot.fake.connects() >= 3, "reconnected after disconnect");
    // An event on its way when the socket drops is not lost: Slack sends it again on the
    // next connection, and it is handled once whether or not it was seen before the drop.
    let dm_kim = dm_of(KIM);
    let cb = bot.fake.callback(message(&dm_kim, KIM, "I forgot my password", &bot.fake.ts(), None));
    let env = bot.fake.envelope("events_api", cb, false);
    bot.fake.drop_sockets();
    bot.fake.wait_ack(&env).await;
    bot.wait_post(&dm_kim, "password").await;
    bot.settled().await;
    assert_eq!(bot.posts_in(&dm_kim, None).len(), 1);
    let dm_bob = dm_of(BOB);
    bot.event(message(&dm_bob, BOB, "my vpn keeps dropping", &bot.fake.ts(), None)).await;
    bot.wait_for("an answer to Bob", |calls| {
        calls
            .iter()
            .find(|c| {
                c.method == "chat.postMessage" && c.status == 200 && c.params["channel"] == dm_bob.as_str()
            })
            .cloned()
    })
    .await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_signatures_are_rejected_and_change_nothing() {
    let bot = SlackBot::start("events").await;
    let dm = dm_of(ERIN);
    let cb = bot.fake.callback(message(&dm, ERIN, "I forgot my password", &bot.fake.ts(), None));
    assert_eq!(bot.deliver_callback(&cb, Sign::Forged).await, 401);
    assert_eq!(bot.deliver_callback(&cb, Sign::Stale).await, 401);
    let (status, _) = bot
        .fake
        .post_signed(
            &format!("{}/slack/interactivity", bot.base),
            "application/x-www-form-urlencoded",
            fake_slack::form(&[(
                "payload",
                &button(ERIN, &dm, "1700000000.000100", None, "solved").to_string(),
            )]),
            Sign::Forged,
        )
        .await;
    assert_eq!(status, 401);
    let unsigned = reqwest::Client::new()
        .post(format!("{}/slack/events", bot.base))
        .body(cb.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    bot.settled().await;
    assert!(bot.fake.posts().is_empty(), "{:?}", bot.fake.posts());
    assert!(bot.store.load_conversation(&format!("slack:dm:{ERIN}")).await.unwrap().is_none());
    // An oversized body is refused before it is read.
    let huge = format!("{{\"type\":\"event_callback\",\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, _) = bot
        .fake
        .post_signed(&format!("{}/slack/events", bot.base), "application/json", huge, Sign::Good)
        .await;
    assert_eq!(status, 413);
    // A well-signed malformed body is refused without harm, and the real one still works.
    let (status, _) = bot
        .fake
        .post_signed(
            &format!("{}/slack/events", bot.base),
            "application/json",
            "{\"type\":".into(),
            Sign::Good,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(bot.deliver_callback(&cb, Sign::Good).await, 200);
    bot.wait_post(&dm, "password").await;
    // Slack's URL check is answered.
    let (status, body) = bot
        .fake
        .post_signed(
            &format!("{}/slack/events", bot.base),
            "application/json",
            json!({ "token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" }).to_string(),
            Sign::Good,
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"));
    bot.stop().await;
}

async fn mention_is_answered_in_its_thread(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let ts = bot.fake.ts();
    let text = format!("<@{BOT_USER}> I forgot my password");
    // Slack sends both a `message` and an `app_mention` for one post.
    bot.event(message(GENERAL, ERIN, &text, &ts, None)).await;
    let mut mention = message(GENERAL, ERIN, &text, &ts, None);
    mention["type"] = json!("app_mention");
    bot.event(mention).await;
    let reply = bot.wait_post(GENERAL, "password").await;
    assert_eq!(reply.params["thread_ts"], ts.as_str());
    bot.settled().await;
    assert_eq!(bot.posts_in(GENERAL, Some(&ts)).len(), 1);
    bot.stop().await;
}
both_modes!(mention_is_answered_in_its_thread: mention_socket, mention_events);

/// Slack may deliver a thread's events out of the order they were posted: chatter posted
/// before the mention that brought deskbot in was said to people, and stays unanswered.
async fn chatter_delivered_after_the_mention_stays_unanswered(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let root = bot.fake.ts();
    bot.event(message(GENERAL, ERIN, "anyone around this afternoon?", &root, None)).await;
    let chatter = bot.fake.ts();
    let mention = bot.fake.ts();
    let text = format!("<@{BOT_USER}> I forgot my password");
    bot.event(message(GENERAL, ERIN, &text, &mention, Some(&root))).await;
    bot.wait_post(GENERAL, "password").await;
    bot.event(message(GENERAL, ERIN, "does anyone know the wifi password?", &chatter, Some(&root))).await;
    wait_seen(&bot, &format!("msg:{GENERAL}:{chatter}")).await;
    bot.settled().await;
    assert_eq!(bot.posts_in(GENERAL, Some(&root)).len(), 1, "only the mention was answered");
    // What she says after the mention is for deskbot.
    bot.event(message(GENERAL, ERIN, "Not solved", &bot.fake.ts(), Some(&root))).await;
    bot.settled().await;
    assert_eq!(bot.posts_in(GENERAL, Some(&root)).len(), 2, "her answer was taken up");
    bot.stop().await;
}
both_modes!(chatter_delivered_after_the_mention_stays_unanswered: out_of_order_socket, out_of_order_events);

async fn slash_command_help_new_and_status(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let dm = dm_of(ERIN);
    let (status, body) = bot.command(ERIN, GENERAL, "help").await;
    assert_eq!(status, 200);
    assert!(body.contains("direct messages"), "{body}");
    bot.wait_post(&dm, "status").await;
    bot.command(ERIN, GENERAL, "new the kitchen tap on floor 5 drips all day").await;
    bot.wait_post(AGENTS, "kitchen tap on floor 5").await;
    let tickets = bot.store.tickets(&TicketFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].requester, UserRef::new(Platform::Slack, ERIN));
    bot.command(ERIN, GENERAL, "status").await;
    bot.wait_post(&dm, "open ticket").await;
    assert!(bot.fake.calls_to("conversations.open").iter().any(|c| c.status == 200));
    bot.stop().await;
}
both_modes!(slash_command_help_new_and_status: slash_command_socket, slash_command_events);

/// Bob uses the "Create ticket" shortcut on the message `ts` in #general; returns the view
/// deskbot opened.
async fn open_shortcut(bot: &SlackBot, ts: &str, text: &str) -> serde_json::Value {
    let before = bot.fake.calls_to("views.open").len();
    let shortcut = json!({
        "type": "message_action",
        "token": "verification-token",
        "action_ts": format!("{}.000300", &ts[..10]),
        "team": { "id": fake_slack::TEAM, "domain": "fake" },
        "user": { "id": BOB, "name": "bob", "username": "bob", "team_id": fake_slack::TEAM },
        "channel": { "id": GENERAL, "name": "general" },
        "callback_id": "create_ticket",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "message_ts": ts,
        "message": { "type": "message", "user": ERIN, "text": text, "ts": ts },
        "response_url": "https://hooks.slack.com/app-actions/T0FAKETEAM/1/abc",
    });
    bot.interaction(shortcut).await;
    let open = bot
        .wait_for("views.open", |calls| {
            calls.iter().filter(|c| c.method == "views.open").nth(before).cloned()
        })
        .await;
    open.response["view"].clone()
}

/// The modal's submission by `user`, carrying `metadata` as its `private_metadata` and `typed`
/// in its input.
fn submission(view: &serde_json::Value, user: &str, metadata: &str, typed: &str) -> serde_json::Value {
    json!({
        "type": "view_submission",
        "team": { "id": fake_slack::TEAM, "domain": "fake" },
        "user": { "id": user, "username": "u", "name": "u", "team_id": fake_slack::TEAM },
        "api_app_id": fake_slack::APP_ID,
        "token": "verification-token",
        "trigger_id": "12466734323.1395872398.b1cd2e",
        "view": {
            "id": view["id"], "team_id": fake_slack::TEAM, "type": "modal", "hash": "156772938.1827394",
            "callback_id": view["callback_id"], "private_metadata": metadata,
            "title": view["title"], "blocks": view["blocks"],
            "state": { "values": { "ticket": { "text": { "type": "plain_text_input", "value": typed } } } },
        },
        "response_urls": [],
    })
}

async fn shortcut_opens_a_modal_whose_submission_files_a_ticket(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let ts = bot.fake.ts();
    let text = "my monitor flickers every few seconds";
    bot.fake.remember(GENERAL, &ts, ERIN, text);
    let view = open_shortcut(&bot, &ts, text).await;
    // The message is shown as it will be filed; the input is Bob's optional note.
    assert_eq!(view["blocks"][0]["text"]["type"], "plain_text");
    assert!(view["blocks"][0]["text"]["text"].as_str().unwrap().contains(text), "{view}");
    assert!(view["blocks"][1]["element"].get("initial_value").is_none(), "{view}");
    let meta = view["private_metadata"].as_str().unwrap().to_string();
    assert!(!meta.contains(ERIN), "the metadata names the message, not its author: {meta}");
    let (status, _) = bot.interaction(submission(&view, BOB, &meta, "since Monday, Erin is on leave")).await;
    assert_eq!(status, 200);
    let intro = bot.wait_post(AGENTS, "since Monday").await;
    let intro = intro.params["text"].as_str().unwrap_or("");
    assert!(intro.contains("Filed by"), "{intro}");
    let tickets = bot.store.tickets(&TicketFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(t.requester, UserRef::new(Platform::Slack, ERIN), "the message's author is the requester");
    assert_eq!(t.filed_by, UserRef::new(Platform::Slack, BOB), "the interaction's user filed it");
    assert_eq!(t.description, text, "the message, verbatim");
    let lines = bot.store.ticket_messages(t.number).await.unwrap();
    assert_eq!(lines[0].turn.text, text);
    assert!(
        lines.iter().any(|m| matches!(&m.turn.from, deskbot::store::Speaker::Filer(_))
            && m.turn.text == "since Monday, Erin is on leave"),
        "Bob's note, attributed to him: {lines:?}"
    );
    let events = bot.store.ticket_events(t.number).await.unwrap();
    assert_eq!(events[0].actor, format!("slack:{BOB}"));
    assert!(
        events[0].detail.as_deref().unwrap().starts_with(&format!("filed by slack:{BOB} for slack:{ERIN}"))
    );
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}
both_modes!(shortcut_opens_a_modal_whose_submission_files_a_ticket: shortcut_modal_socket, shortcut_modal_events);

/// Bob forges the modal's `private_metadata` to file "please add me to Domain Admins, I approve
/// it" in Erin's name: the requester and description come from the message Slack returns,
/// whatever the metadata claims, and his words stay his note.
async fn forged_private_metadata_cannot_choose_the_requester_or_the_text(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let forged_text = "please add me to Domain Admins, I approve it";
    let (erins, bobs) = (bot.fake.ts(), bot.fake.ts());
    bot.fake.remember(GENERAL, &erins, ERIN, "the coffee machine on floor 3 is leaking");
    bot.fake.remember(GENERAL, &bobs, BOB, "lunch at noon?");
    let view = open_shortcut(&bot, &bobs, "lunch at noon?").await;
    let all =
        || async { bot.store.tickets(&TicketFilter { limit: 10, ..Default::default() }).await.unwrap() };

    // 1. Bob's own message, with metadata claiming Erin wrote the forged text.
    let meta = json!({ "channel": GENERAL, "ts": bobs, "author": ERIN, "text": forged_text }).to_string();
    bot.interaction(submission(&view, BOB, &meta, forged_text)).await;
    // 2. Erin's real message, with metadata claiming different text.
    let mut second = submission(&view, BOB, "", forged_text);
    second["view"]["id"] = json!("V0FORGED2");
    second["view"]["private_metadata"] =
        json!(json!({ "channel": GENERAL, "ts": erins, "author": ERIN, "text": forged_text }).to_string());
    bot.interaction(second).await;
    // 3. A message that does not exist: nothing is filed, and Bob is told in the modal.
    let mut third = submission(&view, BOB, "", forged_text);
    third["view"]["id"] = json!("V0FORGED3");
    third["view"]["private_metadata"] =
        json!(json!({ "channel": GENERAL, "ts": "1999999999.000100", "author": ERIN }).to_string());
    let (_, body) = bot.interaction(third).await;
    assert!(body.contains("errors") && body.contains("no ticket was filed"), "{body}");

    let tickets = all().await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let by_desc = |d: &str| tickets.iter().find(|t| t.description == d).cloned();
    let own = by_desc("lunch at noon?").expect("Bob's message is filed as his own");
    assert_eq!((own.requester.id.as_str(), own.filed_by.id.as_str()), (BOB, BOB));
    let erin = by_desc("the coffee machine on floor 3 is leaking").expect("Erin's real words");
    assert_eq!((erin.requester.id.as_str(), erin.filed_by.id.as_str()), (ERIN, BOB));
    for t in &tickets {
        assert!(!t.description.contains("Domain Admins") && !t.title.contains("Domain Admins"), "{t:?}");
        let lines = bot.store.ticket_messages(t.number).await.unwrap();
        for m in lines.iter().filter(|m| m.turn.text.contains("Domain Admins")) {
            assert!(
                matches!(&m.turn.from, deskbot::store::Speaker::Filer(_)) || own.number == t.number,
                "the forged text is only ever Bob's note: {m:?}"
            );
        }
        let history = bot.store.ticket_events(t.number).await.unwrap();
        assert_eq!(history[0].actor, format!("slack:{BOB}"), "history names Bob as the one who filed it");
    }
    bot.stop().await;
}
both_modes!(forged_private_metadata_cannot_choose_the_requester_or_the_text: forged_metadata_socket, forged_metadata_events);

async fn app_home_lists_open_tickets(mode: &str) {
    let bot = SlackBot::start(mode).await;
    bot.command(ERIN, GENERAL, "new the kitchen tap on floor 5 drips all day").await;
    bot.wait_post(AGENTS, "kitchen tap").await;
    bot.event(json!({ "type": "app_home_opened", "user": ERIN, "channel": dm_of(ERIN), "tab": "home", "event_ts": bot.fake.ts() })).await;
    let publish = bot
        .wait_for("views.publish", |calls| calls.iter().find(|c| c.method == "views.publish").cloned())
        .await;
    assert_eq!(publish.params["user_id"], ERIN);
    assert!(publish.params["view"].to_string().contains("kitchen tap on floor 5"), "{publish:?}");
    bot.stop().await;
}
both_modes!(app_home_lists_open_tickets: app_home_socket, app_home_events);

#[test]
fn missing_tokens_fail_with_a_message_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .arg("run")
        .current_dir(dir.path())
        .env_clear()
        .env("DESKBOT_SLACK_MODE", "socket")
        .env("DESKBOT_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("DESKBOT_SLACK_BOT_TOKEN"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .arg("run")
        .current_dir(dir.path())
        .env_clear()
        .env("DESKBOT_SLACK_BOT_TOKEN", "xoxb-1")
        .env("DESKBOT_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("DESKBOT_SLACK_APP_TOKEN"), "{err}");
}

#[test]
fn the_app_manifest_asks_for_exactly_the_scopes_and_events_used() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/slack-app-manifest.yaml"))
            .unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    let m = &docs[0];
    let list = |y: &yaml_rust2::Yaml| -> Vec<String> {
        let mut v: Vec<String> =
            y.as_vec().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
        v.sort();
        v
    };
    let sorted = |s: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = s.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(list(&m["oauth_config"]["scopes"]["bot"]), sorted(deskbot::adapters::slack::BOT_SCOPES));
    assert_eq!(
        list(&m["settings"]["event_subscriptions"]["bot_events"]),
        sorted(deskbot::adapters::slack::BOT_EVENTS)
    );
    assert_eq!(m["features"]["slash_commands"][0]["command"].as_str(), Some("/helpdesk"));
    assert_eq!(
        m["features"]["shortcuts"][0]["callback_id"].as_str(),
        Some(deskbot::adapters::slack::blocks::CREATE_TICKET_SHORTCUT)
    );
    assert_eq!(m["settings"]["socket_mode_enabled"].as_bool(), Some(true));
    assert_eq!(m["settings"]["interactivity"]["is_enabled"].as_bool(), Some(true));
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("## Connect to Slack"));
    for scope in deskbot::adapters::slack::BOT_SCOPES {
        assert!(readme.contains(scope), "README explains {scope}");
    }
}

async fn request_channel_groups_a_persons_messages_and_ignores_pleasantries(mode: &str) {
    let bot = SlackBot::start_with(mode, "[intake]\nrequest_channels = [\"#it-help\"]\n").await;
    bot.event(message(HELP, ERIN, "good morning", &bot.fake.ts(), None)).await;
    let first = bot.fake.ts();
    bot.event(message(HELP, ERIN, "I forgot my password", &first, None)).await;
    bot.wait_post(HELP, "password").await;
    // Her next message within the window joins the same conversation and thread.
    bot.event(message(HELP, ERIN, "help", &bot.fake.ts(), None)).await;
    bot.wait_post(HELP, "status").await;
    bot.event(message(HELP, BOB, "thanks!", &bot.fake.ts(), None)).await;
    // Messages in other channels are not requests.
    bot.event(message(GENERAL, BOB, "I forgot my password", &bot.fake.ts(), None)).await;
    bot.settled().await;
    let posts = bot.posts_in(HELP, None);
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert!(posts.iter().all(|c| c.params["thread_ts"] == first.as_str()), "{posts:#?}");
    assert!(bot.posts_in(GENERAL, None).is_empty());
    // The channel was recognised by name.
    assert!(bot.fake.calls_to("conversations.info").iter().any(|c| c.params["channel"] == HELP));
    bot.stop().await;
}
both_modes!(request_channel_groups_a_persons_messages_and_ignores_pleasantries: request_channel_socket, request_channel_events);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_can_go_by_dm_while_the_status_reaction_stays_on_the_question() {
    let bot = SlackBot::start_with(
        "socket",
        &format!("[intake]\nrequest_channels = [\"{HELP}\"]\nanswer_in_dm = true\n"),
    )
    .await;
    let ts = bot.fake.ts();
    bot.event(message(HELP, ERIN, "I forgot my password", &ts, None)).await;
    bot.wait_post(&dm_of(ERIN), "password").await;
    assert!(bot.posts_in(HELP, None).is_empty(), "nothing is answered in the public channel");
    bot.wait_for("the eyes reaction on the question", |calls| {
        calls
            .iter()
            .find(|c| {
                c.method == "reactions.add"
                    && c.params["channel"] == HELP
                    && c.params["timestamp"] == ts.as_str()
            })
            .cloned()
    })
    .await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_the_slack_connection_lost_and_regained() {
    let bot = SlackBot::start("socket").await;
    let slack_up = || async {
        let res = reqwest::get(format!("{}/readyz", bot.base)).await.unwrap();
        let code = res.status().as_u16();
        let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        (code, v["channels"]["slack"]["up"].as_bool())
    };
    assert_eq!(slack_up().await, (200, Some(true)));
    // Slack cannot be reached for a while: the socket is lost and /readyz says so.
    bot.fake.refuse_sockets(true);
    bot.fake.drop_sockets();
    let mut seen_down = false;
    for _ in 0..200 {
        if slack_up().await == (503, Some(false)) {
            seen_down = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen_down, "readyz reports the lost connection");
    // Back: deskbot retries on its own and is ready again.
    bot.fake.refuse_sockets(false);
    bot.fake.wait_sockets(1).await;
    for _ in 0..200 {
        if slack_up().await == (200, Some(true)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(slack_up().await, (200, Some(true)));
    bot.stop().await;
}

async fn agents_claim_with_the_eyes_reaction_on_the_card(mode: &str) {
    let bot = SlackBot::start(mode).await;
    file_by_reaction(&bot).await;
    // The card's ts is deskbot's once its delivery is recorded: an agent reacts after that.
    bot.settled().await;
    let card = bot.posts_in(AGENTS, None).into_iter().find(|c| c.params.get("thread_ts").is_none()).unwrap();
    let card_ts = card.response["ts"].as_str().unwrap().to_string();
    bot.event(json!({
        "type": "reaction_added", "user": KIM, "reaction": "eyes", "item_user": BOT_USER,
        "item": { "type": "message", "channel": AGENTS, "ts": card_ts }, "event_ts": bot.fake.ts(),
    }))
    .await;
    bot.wait_for("the card updated", |calls| {
        calls.iter().find(|c| c.method == "chat.update" && c.params["ts"] == card_ts.as_str()).cloned()
    })
    .await;
    let t = bot.store.tickets(&TicketFilter { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(t[0].assignee.as_deref(), Some(format!("slack:{KIM}").as_str()));
    bot.stop().await;
}
both_modes!(agents_claim_with_the_eyes_reaction_on_the_card: eyes_claims_socket, eyes_claims_events);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaction_on_a_reply_in_a_thread_files_that_reply() {
    let bot = SlackBot::start("events").await;
    let ts = bot.fake.ts();
    bot.fake.remember_reply(GENERAL, &ts, ERIN, "the **kitchen tap** on floor 5 drips all day");
    bot.event(json!({
        "type": "reaction_added", "user": ERIN, "reaction": "ticket", "item_user": ERIN,
        "item": { "type": "message", "channel": GENERAL, "ts": ts }, "event_ts": bot.fake.ts(),
    }))
    .await;
    let card = bot.wait_post(AGENTS, "kitchen tap").await;
    assert!(
        bot.fake
            .calls_to("conversations.replies")
            .iter()
            .any(|c| c.status == 200 && c.params["ts"] == ts.as_str())
    );
    // The employee's markdown is their text: shown as typed, never converted to mrkdwn.
    let text = card.params["text"].as_str().unwrap();
    assert!(text.contains("the **kitchen tap** on floor 5") && !text.contains(" *kitchen tap* "), "{card:?}");
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deskbot_run_with_slack_config_logs_in_and_serves() {
    let fake = fake_slack::FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .arg("run")
        .current_dir(dir.path())
        .env_clear()
        .env("DESKBOT_DATA_DIR", dir.path())
        .env("DESKBOT_INTENTS_DIR", support::starter_pack())
        .env("DESKBOT_HOT_RELOAD", "false")
        .env("DESKBOT_LOG_FORMAT", "json")
        .env("DESKBOT_SLACK_MODE", "events")
        .env("DESKBOT_SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN)
        .env("DESKBOT_SLACK_SIGNING_SECRET", fake_slack::SIGNING_SECRET)
        .env("DESKBOT_SLACK_API_URL", &fake.api_url)
        .env("DESKBOT_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = None;
    for _ in 0..500 {
        if let Ok(res) = reqwest::get(format!("{base}/readyz")).await {
            ready = Some((res.status().as_u16(), res.text().await.unwrap_or_default()));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, body) = ready.expect("deskbot serves HTTP");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"slack\""), "{body}");
    assert_eq!(fake.calls_to("auth.test").len(), 1);
    // It answers Slack: a signed DM is handled and replied to.
    let dm = dm_of(ERIN);
    let cb = fake.callback(message(&dm, ERIN, "I forgot my password", &fake.ts(), None));
    let (code, _) = fake
        .post_signed(&format!("{base}/slack/events"), "application/json", cb.to_string(), Sign::Good)
        .await;
    assert_eq!(code, 200);
    for _ in 0..500 {
        if fake.posts().iter().any(|c| c.params["channel"] == dm.as_str()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(fake.posts().iter().any(|c| c.params["channel"] == dm.as_str()));
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("logged in to Slack"), "{log}");
    assert!(
        !log.contains(fake_slack::BOT_TOKEN) && !log.contains(fake_slack::SIGNING_SECRET),
        "secrets stay out of logs"
    );
}

/// Wait until the store has recorded the Slack event `id`: handled or turned away.
async fn wait_seen(bot: &SlackBot, id: &str) {
    let key = deskbot::store::EventKey { platform: Platform::Slack, event_id: id.to_string() };
    for _ in 0..1500 {
        if bot.store.event_seen(&key).await.unwrap() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("event {id} was never recorded");
}

async fn a_bystander_can_neither_answer_nor_press_buttons_in_someone_elses_conversation(mode: &str) {
    let bot = SlackBot::start_with(mode, "[intake]\nrequest_channels = [\"#it-help\"]\n").await;
    let question = bot.fake.ts();
    bot.event(message(HELP, ERIN, "my vpn keeps dropping", &question, None)).await;
    let answer = bot.wait_post(HELP, "VPN").await;
    let answer_ts = answer.response["ts"].as_str().unwrap().to_string();

    // Bob presses Erin's "Talk to a person": a note only he sees, nothing filed.
    bot.interaction(button(BOB, HELP, &answer_ts, Some(&question), "person")).await;
    let note = bot
        .wait_for("a private note to bob", |calls| {
            calls.iter().find(|c| c.method == "chat.postEphemeral").cloned()
        })
        .await;
    assert_eq!(note.params["user"], BOB, "{note:?}");
    assert_eq!(note.params["channel"], HELP);
    assert!(note.params["text"].as_str().unwrap().contains("someone else"), "{note:?}");
    // Bob answers Erin's question in her thread: people talking, not Erin's answer.
    let chatter = bot.fake.ts();
    bot.event(message(HELP, BOB, "2", &chatter, Some(&question))).await;
    wait_seen(&bot, &format!("msg:{HELP}:{chatter}")).await;
    assert!(bot.store.tickets(&TicketFilter::default()).await.unwrap().is_empty());
    assert_eq!(bot.posts_in(HELP, Some(&question)).len(), 1, "only the answer to Erin");

    // Erin's own press goes ahead, with her as the requester.
    bot.interaction(button(ERIN, HELP, &answer_ts, Some(&question), "person")).await;
    bot.wait_for("the next step for erin", |calls| {
        let posts: Vec<_> = calls
            .iter()
            .filter(|c| c.method == "chat.postMessage" && c.params["thread_ts"] == question.as_str())
            .collect();
        (posts.len() >= 2).then_some(())
    })
    .await;
    if bot.store.tickets(&TicketFilter::default()).await.unwrap().is_empty() {
        bot.event(message(
            HELP,
            ERIN,
            "it drops every ten minutes on the office wifi",
            &bot.fake.ts(),
            Some(&question),
        ))
        .await;
    }
    let ticket = bot.wait_post(AGENTS, "IT-1001").await;
    let _ = ticket;
    let tickets = bot.store.tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(tickets[0].requester, UserRef::new(Platform::Slack, ERIN));
    bot.stop().await;
}
both_modes!(a_bystander_can_neither_answer_nor_press_buttons_in_someone_elses_conversation: bystander_socket, bystander_events);

/// What an employee can type to make text into markup where agents read it.
const EVIL: &str =
    "[https://sso.example.com/login](https://evil.example) @everyone <!channel> <@U123> *bold*";
const MALLORY: &str = "U0MAL0001";

/// The blocks of a call, whether sent as JSON or as a form field.
fn blocks_of(c: &support::fake_slack::Call) -> serde_json::Value {
    match &c.params["blocks"] {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
        v => v.clone(),
    }
}

/// Every text of a call Slack reads as mrkdwn: the `text` field and mrkdwn text objects.
fn mrkdwn_texts(c: &support::fake_slack::Call) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("type").and_then(|t| t.as_str()) == Some("mrkdwn") {
                    out.push(m.get("text").and_then(|t| t.as_str()).unwrap_or("").to_string());
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = vec![c.params["text"].as_str().unwrap_or("").to_string()];
    walk(&blocks_of(c), &mut out);
    out
}

/// The plain text runs of a call's `rich_text` blocks.
fn rich_runs(c: &support::fake_slack::Call) -> Vec<String> {
    let blocks = blocks_of(c);
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "rich_text")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["elements"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["type"] == "text" && r.get("style").is_none())
        .filter_map(|r| r["text"].as_str().map(str::to_string))
        .collect()
}

/// Nothing an agent sees in `calls` to the agents' channel can link, mention or format.
fn assert_inert(calls: &[support::fake_slack::Call]) {
    assert!(!calls.is_empty());
    for c in calls {
        // The `text` field only feeds notifications once blocks carry the message: there, no
        // mention or link; in the blocks, no mrkdwn holding the user's words at all.
        for (i, t) in mrkdwn_texts(c).into_iter().enumerate() {
            let mut bad =
                vec!["<!channel>", "<!everyone>", "<@U123>", "<https://evil.example", "evil.example|"];
            if i > 0 {
                bad.extend(["*bold*", "*Boss*", "sso.example.com"]);
            }
            for b in bad {
                assert!(!t.contains(b), "{b} in mrkdwn of {} {:?}", c.method, c.params);
            }
        }
        if c.params["text"].as_str().unwrap_or("").contains("bold") {
            assert!(
                blocks_of(c).to_string().contains("rich_text"),
                "user text without blocks: {:?}",
                c.params
            );
        }
        let links = blocks_of(c).to_string();
        assert!(!links.contains("\"url\":\"https://evil.example"), "a link to evil: {links}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employee_markup_mentions_and_links_reach_the_agents_as_text() {
    let bot = SlackBot::start("events").await;
    bot.fake.add_user(MALLORY, "<!everyone> *Boss*");
    // Mallory files a ticket whose text and display name are made to be markup.
    bot.command(MALLORY, GENERAL, &format!("new {EVIL}")).await;
    let card = bot
        .wait_for("the card", |calls| {
            calls
                .iter()
                .find(|c| {
                    c.method == "chat.postMessage"
                        && c.params["channel"] == AGENTS
                        && c.params.get("thread_ts").is_none()
                })
                .cloned()
        })
        .await;
    let card_ts = card.response["ts"].as_str().unwrap().to_string();
    // The requester's name and the title are plain runs; the fallback escapes them.
    let runs = rich_runs(&card).join("");
    assert!(
        runs.contains("<!everyone> *Boss*") && runs.contains("[https://sso.example.com/login]"),
        "{runs}"
    );
    assert!(card.params["text"].as_str().unwrap().contains("&lt;!everyone&gt; *Boss*"), "{card:?}");
    // The transcript, then a message Mallory adds: relayed word for word, as text.
    let dm = dm_of(MALLORY);
    bot.event(message(&dm, MALLORY, EVIL, &bot.fake.ts(), None)).await;
    let relay = bot
        .wait_for("the relay", |calls| {
            calls
                .iter()
                .find(|c| {
                    c.method == "chat.postMessage"
                        && c.params["thread_ts"] == card_ts.as_str()
                        && c.params["text"].as_str().unwrap_or("").starts_with("💬")
                })
                .cloned()
        })
        .await;
    assert!(rich_runs(&relay).iter().any(|r| r == EVIL), "{relay:?}");
    assert!(relay.params["text"].as_str().unwrap().contains("&lt;!channel&gt; &lt;@U123&gt;"), "{relay:?}");
    assert_eq!(relay.params["unfurl_links"], false, "no preview of someone else's link");
    // Kim claims: the card edit is inert too.
    bot.interaction(button(KIM, AGENTS, &card_ts, None, "desk:claim")).await;
    bot.wait_for("the card edit", |calls| calls.iter().find(|c| c.method == "chat.update").cloned()).await;
    let to_agents: Vec<_> = bot
        .fake
        .calls()
        .into_iter()
        .filter(|c| {
            matches!(c.method.as_str(), "chat.postMessage" | "chat.update") && c.params["channel"] == AGENTS
        })
        .collect();
    assert!(to_agents.len() >= 4, "card, transcript, relay, edit: {to_agents:?}");
    assert_inert(&to_agents);
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}

/// A `view_submission` of the reply modal `view` by `user` with `text` and `metadata`.
fn reply_submission(
    view: &serde_json::Value,
    user: &str,
    text: &str,
    metadata: &str,
    id: &str,
) -> serde_json::Value {
    json!({
        "type": "view_submission",
        "team": { "id": fake_slack::TEAM, "domain": "fake" },
        "user": { "id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": fake_slack::TEAM },
        "api_app_id": fake_slack::APP_ID,
        "token": "verification-token",
        "trigger_id": format!("{id}.trigger"),
        "view": {
            "id": id, "team_id": fake_slack::TEAM, "type": "modal", "hash": "156772938.1827394",
            "callback_id": view["callback_id"], "private_metadata": metadata,
            "title": view["title"], "blocks": view["blocks"],
            "state": { "values": { "reply": { "text": { "type": "plain_text_input", "value": text } } } },
        },
        "response_urls": [],
    })
}

async fn reply_button_opens_a_modal_relayed_as_the_agent(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let (ts, number) = file_by_reaction(&bot).await;
    let card = bot.posts_in(AGENTS, None).into_iter().find(|c| c.params.get("thread_ts").is_none()).unwrap();
    let card_ts = card.response["ts"].as_str().unwrap().to_string();
    // The button opens the modal, with the trigger Slack gave for the press.
    let press = button(KIM, AGENTS, &card_ts, None, "desk:reply");
    let trigger = press["trigger_id"].as_str().unwrap().to_string();
    let (status, _) = bot.interaction(press).await;
    assert_eq!(status, 200);
    let open =
        bot.wait_for("views.open", |calls| calls.iter().find(|c| c.method == "views.open").cloned()).await;
    assert_eq!(open.params["trigger_id"], trigger.as_str());
    let view = open.response["view"].clone();
    assert_eq!(view["callback_id"], "deskbot_reply");
    let meta = view["private_metadata"].as_str().unwrap().to_string();
    assert!(
        !bot.fake.posts().iter().any(|c| c.params["text"].as_str().unwrap_or("").contains("not available"))
    );

    // Attackers first: metadata naming another ticket for this card, a card that is not one,
    // and a bystander submitting the real form.
    let forged = json!({ "channel": AGENTS, "ts": card_ts, "ticket": number.0 + 1 }).to_string();
    bot.interaction(reply_submission(&view, KIM, "forged ticket reply", &forged, "VFORGED01")).await;
    let elsewhere = json!({ "channel": GENERAL, "ts": ts, "ticket": number.0 }).to_string();
    bot.interaction(reply_submission(&view, KIM, "forged card reply", &elsewhere, "VFORGED02")).await;
    let (_, refused) = bot
        .interaction(reply_submission(&view, BOB, "I am IT, send me your password", &meta, "VBYSTAND1"))
        .await;
    // The bystander is told privately, in the form itself; nothing reaches the agents' channel
    // or the requester.
    assert!(refused.contains("errors") && refused.contains("Only agents"), "{refused}");
    // The agent's submission reaches the requester, said by the agent.
    bot.interaction(reply_submission(&view, KIM, "Try the outlet by the window", &meta, "VKIMREPLY")).await;
    let sent = bot.wait_post(GENERAL, "outlet by the window").await;
    assert_eq!(sent.params["thread_ts"], ts.as_str());
    assert!(sent.params["text"].as_str().unwrap().contains("Kim"), "{sent:?}");
    bot.wait_post(AGENTS, "replied to the requester").await;
    // None of the attempts before it reached anyone (the outbox sends in order).
    for text in ["forged ticket reply", "forged card reply", "send me your password"] {
        assert!(
            !bot.fake.posts().iter().any(|c| c.params["text"].as_str().unwrap_or("").contains(text)),
            "{text}"
        );
    }
    let events = bot.store.ticket_events(number).await.unwrap();
    // Bob filed the ticket for Erin (🎫); nothing after that is his.
    assert!(!events.iter().any(|e| e.actor.contains(BOB) && e.kind != "created"), "{events:?}");
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}
both_modes!(reply_button_opens_a_modal_relayed_as_the_agent: reply_modal_socket, reply_modal_events);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_reaction_on_a_thread_message_drafts_an_article_from_its_text() {
    let drafts = tempfile::tempdir().unwrap();
    let extra = format!("[desk]\nkb_drafts_dir = \"{}\"\n", drafts.path().display());
    let bot = SlackBot::start_with("events", &extra).await;
    file_by_reaction(&bot).await;
    let card = bot.posts_in(AGENTS, None).into_iter().find(|c| c.params.get("thread_ts").is_none()).unwrap();
    let card_ts = card.response["ts"].as_str().unwrap().to_string();
    // Kim writes the fix in the ticket's thread, then marks it with 📖.
    let note = "Fix: reseat the water filter, then run one rinse cycle";
    let ts = bot.fake.ts();
    bot.fake.remember_in_thread(AGENTS, &card_ts, &ts, KIM, note);
    bot.event(message(AGENTS, KIM, note, &ts, Some(&card_ts))).await;
    bot.event(json!({
        "type": "reaction_added", "user": KIM, "reaction": "book", "item_user": KIM,
        "item": { "type": "message", "channel": AGENTS, "ts": ts }, "event_ts": bot.fake.ts(),
    }))
    .await;
    bot.wait_post(AGENTS, "draft KB article").await;
    // The event carried no text: deskbot read the message (a reply, so through its thread).
    assert!(
        bot.fake
            .calls_to("conversations.replies")
            .iter()
            .any(|c| c.status == 200 && c.params["ts"] == ts.as_str())
    );
    let files: Vec<_> = std::fs::read_dir(drafts.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let draft = std::fs::read_to_string(&files[0]).unwrap();
    assert!(draft.contains("reseat the water filter"), "{draft}");
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}

const REV: &str = "U0REV0001";

/// Every way an agent acts on Slack, tried by one whose grant was revoked: a command in the
/// ticket's thread, the card's claim button, ✅ on the card (each refused with an ephemeral
/// note) and the reply form (refused in the form). The ticket does not change and nothing
/// reaches the requester.
async fn a_revoked_agent_is_refused_on_every_input(mode: &str) {
    use deskbot::store::compliance::{NewGrant, Role};
    let bot = SlackBot::start(mode).await;
    bot.fake.add_user(REV, "Rev");
    let rev = UserRef::new(Platform::Slack, REV);
    let now = chrono::Utc::now().timestamp_millis();
    let grant = NewGrant {
        user: rev.clone(),
        role: Role::Agent,
        scope: "service-desk".into(),
        by: "cli:ann".into(),
        justification: "on the desk rota".into(),
    };
    bot.store.grant_role(&grant, now).await.unwrap();
    assert!(
        bot.store
            .revoke_role(&rev, Role::Agent, "service-desk", "cli:ann", "left the team", now)
            .await
            .unwrap()
    );
    // Every process rereads the ledger within this bound.
    tokio::time::sleep(deskbot::service::GRANTS_MAX_AGE + std::time::Duration::from_millis(300)).await;
    let (_, number) = file_by_reaction(&bot).await;
    let card = bot.posts_in(AGENTS, None).into_iter().find(|c| c.params.get("thread_ts").is_none()).unwrap();
    let card_ts = card.response["ts"].as_str().unwrap().to_string();
    let refusals = |calls: &[support::fake_slack::Call], n: usize| {
        let found = calls
            .iter()
            .filter(|c| {
                c.method == "chat.postEphemeral"
                    && c.params["user"] == REV
                    && c.params["text"].as_str().unwrap_or("").contains("Only agents")
            })
            .count();
        (found >= n).then_some(())
    };
    let ts = bot.fake.ts();
    bot.event(message(AGENTS, REV, "!claim", &ts, Some(&card_ts))).await;
    bot.wait_for("the command's refusal", |calls| refusals(calls, 1)).await;
    bot.interaction(button(REV, AGENTS, &card_ts, None, deskbot::desk::cards::CLAIM)).await;
    bot.wait_for("the button's refusal", |calls| refusals(calls, 2)).await;
    bot.event(json!({
        "type": "reaction_added", "user": REV, "reaction": "white_check_mark", "item_user": BOT_USER,
        "item": { "type": "message", "channel": AGENTS, "ts": card_ts }, "event_ts": bot.fake.ts(),
    }))
    .await;
    bot.wait_for("the reaction's refusal", |calls| refusals(calls, 3)).await;
    let view = json!({ "callback_id": "deskbot_reply", "title": { "type": "plain_text", "text": "Reply" }, "blocks": [] });
    let meta = json!({ "channel": AGENTS, "ts": card_ts, "ticket": number.0 }).to_string();
    let (_, answer) =
        bot.interaction(reply_submission(&view, REV, "REVOKED-REPLY", &meta, "VREVOKED1")).await;
    assert!(answer.contains("errors") && answer.contains("Only agents"), "{answer}");

    let t = bot.store.ticket(number).await.unwrap().unwrap();
    assert_eq!((t.status, t.assignee), (TicketStatus::Open, None), "nothing changed");
    assert!(
        !bot.fake.posts().iter().any(|c| c.params["text"].as_str().unwrap_or("").contains("REVOKED-REPLY"))
    );
    let public = bot.posts_in(AGENTS, Some(&card_ts));
    assert!(
        !public.iter().any(|c| c.params["text"].as_str().unwrap_or("").contains("Only agents")),
        "private"
    );
    support::slack_spec::assert_calls_match_spec(&bot.fake.calls());
    bot.stop().await;
}
both_modes!(a_revoked_agent_is_refused_on_every_input: revoked_agent_socket, revoked_agent_events);

/// "portal" in a DM and `/helpdesk portal`: a one-time sign-in link for the person, shown to
/// them only (an ephemeral note and the command's own answer), never posted or stored.
async fn portal_link_in_a_dm_and_by_command(mode: &str) {
    let bot = SlackBot::start(mode).await;
    let dm = dm_of(ERIN);
    bot.event(message(&dm, ERIN, "portal", &bot.fake.ts(), None)).await;
    let note = bot
        .wait_for("the private link", |calls| {
            calls.iter().find(|c| c.method == "chat.postEphemeral").cloned()
        })
        .await;
    assert_eq!(note.params["user"], ERIN);
    let text = note.params["text"].as_str().unwrap();
    assert!(text.contains("http://127.0.0.1:8080/portal/login/"), "{note:?}");
    assert!(
        bot.fake
            .calls_to("chat.postMessage")
            .iter()
            .all(|c| !c.params.to_string().contains("/portal/login/"))
    );
    assert_eq!(bot.store.outbox_depth().await.unwrap(), 0, "nothing queued");
    let (status, body) = bot.command(BOB, GENERAL, "portal").await;
    assert_eq!(status, 200);
    let at = body.find("/portal/login/").unwrap_or_else(|| panic!("{body}")) + "/portal/login/".len();
    let token: String = body[at..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    assert_eq!(token.len(), 64, "{body}");
    let hash = deskbot::store::sessions::token_hash(&token);
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(
        bot.store.use_portal_link(&hash, now).await.unwrap(),
        Some(UserRef::new(Platform::Slack, BOB))
    );
    bot.stop().await;
}
both_modes!(portal_link_in_a_dm_and_by_command: portal_link_socket, portal_link_events);
