//! The employee portal end to end over HTTP, served exactly as `deskbot run` serves it (TCP
//! peer known), with a clock the test moves: magic-link sign-in (once, within 10 minutes),
//! sessions (idle and absolute expiry, logout with CSRF), the trusted proxy header, my
//! tickets (another person's ticket is a 404; forms without the session's token are refused;
//! comment, rate and reopen go through the intake router), the KB (sanitised, public or
//! not), "portal" typed in chat, and the security headers.

mod support;

use deskbot::app::App;
use deskbot::config::{Config, Sources};
use deskbot::domain::{ChatEvent, Input, Place, Platform, TicketNumber, TicketStatus, UserRef};
use deskbot::http::portal::{PortalLookup, PortalState, router};
use deskbot::service::router::Taken;
use deskbot::store::{EventKey, TicketFilter};
use reqwest::StatusCode;
use std::path::Path;
use support::web::{Served, field, pair, set_cookie};
use support::{Captured, TestApp, TestClock};

const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;

struct Portal {
    base: String,
    clock: TestClock,
    client: reqwest::Client,
    t: TestApp,
    web: Served,
}

/// The portal of an app built from `toml`, on a loopback port.
async fn portal(toml: &str) -> Portal {
    let clock = TestClock::at(T0);
    let t = TestApp::with_config(toml, clock.clock()).await;
    serve(t, clock).await
}

async fn serve(t: TestApp, clock: TestClock) -> Portal {
    let state = PortalState::new(&t.app.config, t.app.service.clone());
    let web = support::web::serve(router(state)).await;
    Portal { base: web.base.clone(), clock, client: web.client.clone(), t, web }
}

impl Portal {
    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        self.web.get(path, cookie).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        self.web.post(path, cookie, form).await
    }

    /// A sign-in link for `user`, as `deskbot portal link` mints it; its path.
    async fn link(&self, user: &str) -> String {
        let url = self.t.app.service.portal_link(&user.parse().unwrap()).await.unwrap();
        assert!(url.starts_with("http://127.0.0.1:8080/portal/login/"), "{url}");
        url.trim_start_matches("http://127.0.0.1:8080").to_string()
    }

    /// Open a sign-in link and press Continue: the response to the POST.
    async fn use_link(&self, path: &str) -> reqwest::Response {
        let page = self.get(path, None).await;
        assert_eq!(page.status(), StatusCode::OK);
        let login_cookie = pair(&set_cookie(&page, "deskbot_portal_login").expect("a sign-in form cookie"));
        let html = page.text().await.unwrap();
        let (csrf, token) = (field(&html, "csrf"), field(&html, "token"));
        self.post("/portal/login", Some(&login_cookie), &[("csrf", &csrf), ("token", &token)]).await
    }

    /// Sign `user` in with a fresh link; the session cookie pair.
    async fn sign_in(&self, user: &str) -> String {
        let link = self.link(user).await;
        let res = self.use_link(&link).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        pair(&set_cookie(&res, "deskbot_portal").expect("a session cookie"))
    }

    async fn page(&self, path: &str, cookie: &str) -> (StatusCode, String) {
        let res = self.get(path, Some(cookie)).await;
        (res.status(), res.text().await.unwrap())
    }
}

/// `user` files a ticket from the console ("the coffee machine … is leaking", then "File a
/// ticket"); its number.
async fn file_ticket(t: &TestApp, user: &str, text: &str) -> TicketNumber {
    let out = t.chat(user, &[text, "1"]).await;
    assert!(out.contains("IT-"), "{out}");
    let filter = TicketFilter {
        requester: Some(UserRef::new(Platform::Console, user)),
        limit: 10,
        ..Default::default()
    };
    t.app.store.tickets(&filter).await.unwrap()[0].number
}

#[tokio::test]
async fn a_magic_link_signs_in_once_within_ten_minutes() {
    let p = portal("").await;
    // Not signed in: told how to get a link.
    let res = p.get("/portal", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("portal"));

    let link = p.link("console:alice").await;
    // Opening the link (a chat preview fetching it) does not use it up.
    assert_eq!(p.get(&link, None).await.status(), StatusCode::OK);
    let res = p.use_link(&link).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&res, "deskbot_portal").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/portal") && !cookie.contains("Secure"), "{cookie}");
    let (status, html) = p.page("/portal", &pair(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Describe your problem") && html.contains("Sign out"), "{html}");

    // The same link again: refused, no session.
    let again = p.use_link(&link).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&again, "deskbot_portal").is_none());

    // A fresh link used after 10 minutes: refused.
    let late = p.link("console:alice").await;
    p.clock.advance(10 * MINUTE + 1);
    let res = p.use_link(&late).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res, "deskbot_portal").is_none());

    // A made-up token, and a sign-in form posted without its cookie: refused.
    let res = p.use_link(&format!("/portal/login/{}", "ab".repeat(32))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let fresh = p.link("console:alice").await;
    let token = fresh.rsplit('/').next().unwrap();
    let res = p.post("/portal/login", None, &[("csrf", "x"), ("token", token)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // That refusal did not use the link up.
    assert_eq!(p.use_link(&fresh).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_expire_when_idle_or_old_and_logout_needs_the_token() {
    let p = portal("[portal]\nsession_idle_minutes = 30\nsession_hours = 2\n").await;
    let cookie = p.sign_in("console:alice").await;
    let (_, html) = p.page("/portal", &cookie).await;
    let csrf = field(&html, "csrf");

    // Active use keeps the session past the idle limit, but not past the absolute one.
    for _ in 0..4 {
        p.clock.advance(25 * MINUTE);
        assert_eq!(p.page("/portal/tickets", &cookie).await.0, StatusCode::OK);
    }
    p.clock.advance(25 * MINUTE);
    assert_eq!(p.page("/portal/tickets", &cookie).await.0, StatusCode::UNAUTHORIZED, "past 2 hours");

    // Idle for longer than 30 minutes: signed out.
    let cookie = p.sign_in("console:alice").await;
    p.clock.advance(31 * MINUTE);
    assert_eq!(p.page("/portal", &cookie).await.0, StatusCode::UNAUTHORIZED);

    // Logout: refused without the session's token (the session stays), done with it.
    let cookie = p.sign_in("console:alice").await;
    let (_, html) = p.page("/portal", &cookie).await;
    let csrf2 = field(&html, "csrf");
    assert_ne!(csrf, csrf2, "each session has its own token");
    assert_eq!(p.post("/portal/logout", Some(&cookie), &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        p.post("/portal/logout", Some(&cookie), &[("csrf", &csrf)]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(p.page("/portal", &cookie).await.0, StatusCode::OK);
    let res = p.post("/portal/logout", Some(&cookie), &[("csrf", &csrf2)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookie(&res, "deskbot_portal").unwrap().contains("Max-Age=0"));
    assert_eq!(
        p.page("/portal", &cookie).await.0,
        StatusCode::UNAUTHORIZED,
        "the cookie is dead after logout"
    );
}

#[tokio::test]
async fn an_employee_sees_only_their_own_tickets_and_forms_need_the_session_token() {
    let p = portal("").await;
    let alice_ticket = file_ticket(&p.t, "alice", "the coffee machine on floor 3 is leaking").await;
    let bob_ticket = file_ticket(&p.t, "bob", "the BOB-SECRET aquarium in the lobby is cloudy").await;
    let cookie = p.sign_in("console:alice").await;

    let (status, html) = p.page("/portal/tickets", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&alice_ticket.to_string()) && html.contains("coffee machine"), "{html}");
    assert!(!html.contains(&bob_ticket.to_string()) && !html.contains("BOB-SECRET"), "{html}");

    let (status, html) = p.page(&format!("/portal/tickets/{alice_ticket}"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("service-desk") && html.contains("open"), "{html}");
    let csrf = field(&html, "csrf");
    let delivery = field(&html, "delivery");

    // Another person's ticket, by any spelling, and a ticket that does not exist: 404 alike.
    for path in [
        format!("/portal/tickets/{bob_ticket}"),
        format!("/portal/tickets/{}", bob_ticket.0),
        "/portal/tickets/IT-9999".to_string(),
        "/portal/tickets/not-a-number".to_string(),
    ] {
        let (status, html) = p.page(&path, &cookie).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!html.contains("BOB-SECRET"));
    }
    // Commenting on Bob's ticket with Alice's valid token: 404, nothing recorded.
    let before = p.t.app.store.ticket_messages(bob_ticket).await.unwrap().len();
    let res = p
        .post(
            &format!("/portal/tickets/{bob_ticket}"),
            Some(&cookie),
            &[("csrf", &csrf), ("delivery", &delivery), ("action", "comment"), ("text", "ALICE-WAS-HERE")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(p.t.app.store.ticket_messages(bob_ticket).await.unwrap().len(), before);

    // A comment on her own ticket without the token, or with a wrong one: refused, and the
    // event was never taken (no dedupe row).
    let event = EventKey { platform: Platform::Console, event_id: format!("portal:{delivery}") };
    let path = format!("/portal/tickets/{alice_ticket}");
    for token in ["", "0000", &"f".repeat(64)] {
        let res = p
            .post(
                &path,
                Some(&cookie),
                &[("csrf", token), ("delivery", &delivery), ("action", "comment"), ("text", "FORGED")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "token {token:?}");
    }
    // Without the session cookie, the right token alone does nothing either.
    let res = p
        .post(
            &path,
            None,
            &[("csrf", &csrf), ("delivery", &delivery), ("action", "comment"), ("text", "FORGED")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!p.t.app.store.event_seen(&event).await.unwrap());

    // With it: relayed into the ticket through the same conversation as the chat.
    let res = p
        .post(
            &path,
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("delivery", &delivery),
                ("action", "comment"),
                ("text", "It leaks on the carpet now"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(p.t.app.store.event_seen(&event).await.unwrap());
    let (_, html) = p.page(&path, &cookie).await;
    assert!(html.contains("It leaks on the carpet now"), "{html}");
    // The same form posted twice counts once.
    let res = p
        .post(
            &path,
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("delivery", &delivery),
                ("action", "comment"),
                ("text", "It leaks on the carpet now"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let msgs = p.t.app.store.ticket_messages(alice_ticket).await.unwrap();
    assert_eq!(msgs.iter().filter(|m| m.turn.text.contains("carpet")).count(), 1, "{msgs:?}");
    // Employee text is escaped, never markup.
    let evil = "<script>alert('x')</script><b>bold</b>";
    let (_, html) = p.page(&path, &cookie).await;
    let res = p
        .post(
            &path,
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("delivery", &field(&html, "delivery")),
                ("action", "comment"),
                ("text", evil),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = p.page(&path, &cookie).await;
    assert!(!html.contains("<script>alert") && !html.contains("<b>bold</b>"), "{html}");
    assert!(html.contains("&#60;script&#62;"), "{html}");
}

#[tokio::test]
async fn the_public_thread_hides_internal_notes_and_resolved_tickets_are_rated_and_reopened() {
    let p = portal("").await;
    let number = file_ticket(&p.t, "alice", "the coffee machine on floor 3 is leaking").await;
    // An internal note and a public reply on the ticket, as the desk records them.
    p.t.app
        .store
        .commit(deskbot::store::Commit {
            event: None,
            conversation: deskbot::store::ConversationWrite::none(),
            messages: vec![
                deskbot::store::NewMessage {
                    turn: deskbot::store::Turn {
                        from: deskbot::store::Speaker::Agent("Dana".into()),
                        text: "INTERNAL-CANARY probably the valve".into(),
                        at: T0,
                        by: None,
                    },
                    ticket: Some(number),
                    internal: true,
                },
                deskbot::store::NewMessage {
                    turn: deskbot::store::Turn {
                        from: deskbot::store::Speaker::Agent("Dana".into()),
                        text: "A plumber is on the way".into(),
                        at: T0,
                        by: None,
                    },
                    ticket: Some(number),
                    internal: false,
                },
            ],
            tickets: Vec::new(),
            feedback: Vec::new(),
            outbox: Vec::new(),
            now: T0,
            cases: Vec::new(),
            requests: Vec::new(),
        })
        .await
        .unwrap();
    let cookie = p.sign_in("console:alice").await;
    let path = format!("/portal/tickets/{number}");
    let (_, html) = p.page(&path, &cookie).await;
    assert!(html.contains("A plumber is on the way") && html.contains("Dana"), "{html}");
    assert!(!html.contains("INTERNAL-CANARY"), "{html}");
    // Open: no rating, no reopen.
    assert!(!html.contains(r#"value="rate""#) && !html.contains(r#"value="reopen""#));

    p.t.app.service.resolve_ticket(number, "dana", Some("Valve replaced".into())).await.unwrap();
    let (_, html) = p.page(&path, &cookie).await;
    assert!(html.contains("resolved") && html.contains(r#"value="rate""#), "{html}");
    assert!(!html.contains(r#"value="comment""#), "a resolved ticket takes no comments: {html}");
    let (csrf, delivery) = (field(&html, "csrf"), field(&html, "delivery"));
    let res = p
        .post(
            &path,
            Some(&cookie),
            &[("csrf", &csrf), ("delivery", &delivery), ("action", "rate"), ("score", "5")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let events = p.t.app.store.ticket_events(number).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "csat" && e.detail.as_deref() == Some("score 5")), "{events:?}");

    // A rating out of range is refused by the page before anything is taken.
    let (_, html) = p.page(&path, &cookie).await;
    let res = p
        .post(
            &path,
            Some(&cookie),
            &[("csrf", &csrf), ("delivery", &field(&html, "delivery")), ("action", "rate"), ("score", "9")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Reopened within the window, with what is still wrong.
    let (_, html) = p.page(&path, &cookie).await;
    let res = p
        .post(
            &path,
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("delivery", &field(&html, "delivery")),
                ("action", "reopen"),
                ("text", "It is dripping again"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(p.t.app.store.ticket(number).await.unwrap().unwrap().status, TicketStatus::Open);

    // Past the reopen window the page offers no reopen, and a forged one is refused.
    p.clock.advance(MINUTE);
    let handled = p.t.app.service.resolve_ticket(number, "dana", None).await.unwrap();
    assert!(matches!(handled, deskbot::service::Handled::Applied { .. }), "{handled:?}");
    assert_eq!(p.t.app.store.ticket(number).await.unwrap().unwrap().status, TicketStatus::Resolved);
    p.clock.advance(p.t.app.service.reopen_window_ms() + MINUTE);
    let cookie = p.sign_in("console:alice").await;
    let (_, html) = p.page(&path, &cookie).await;
    assert!(!html.contains(r#"value="reopen""#), "{html}");
    let res = p
        .post(
            &path,
            Some(&cookie),
            &[
                ("csrf", &field(&html, "csrf")),
                ("delivery", &field(&html, "delivery")),
                ("action", "reopen"),
                ("text", "again"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(p.t.app.store.ticket(number).await.unwrap().unwrap().status, TicketStatus::Resolved);
}

#[tokio::test]
async fn portal_typed_in_a_dm_or_as_the_command_returns_a_private_link() {
    let p = portal("").await;
    let dm = |text: &str, id: &str| ChatEvent {
        platform: Platform::Console,
        place: Place::Direct { channel: "alice".into(), thread: None },
        sender: "alice".into(),
        sender_name: None,
        at: T0,
        input: Input::Message {
            id: id.into(),
            text: text.into(),
            mentions_bot: false,
            attachments: Vec::new(),
        },
    };
    let taken = p.t.app.service.take(dm(" Portal ", "m1"), &PortalLookup).await.unwrap();
    let Taken::Private(note) = &taken else { panic!("{taken:?}") };
    let url = note.lines().find(|l| l.starts_with("http")).unwrap();
    assert!(url.starts_with("http://127.0.0.1:8080/portal/login/"), "{note}");
    // Shown to the person only: nothing recorded, nothing queued.
    let key = EventKey { platform: Platform::Console, event_id: "msg:alice:m1".into() };
    assert!(!p.t.app.store.event_seen(&key).await.unwrap());
    assert_eq!(p.t.app.store.outbox_depth().await.unwrap(), 0);
    assert!(p.t.app.store.load_conversation("console:alice").await.unwrap().is_none());
    // The link signs in as the person who asked.
    let res = p.use_link(url.trim_start_matches("http://127.0.0.1:8080")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // `/helpdesk portal` on Slack: a link for the Slack user who ran it.
    let cmd = ChatEvent {
        platform: Platform::Slack,
        place: Place::Nowhere,
        sender: "U0BOB".into(),
        sender_name: None,
        at: T0,
        input: Input::Command { delivery: "trigger-1".into(), text: "portal".into() },
    };
    let taken = p.t.app.service.take(cmd, &PortalLookup).await.unwrap();
    let note = taken.private_note().unwrap().to_string();
    let url = note.lines().find(|l| l.starts_with("http")).unwrap();
    let res = p.use_link(url.trim_start_matches("http://127.0.0.1:8080")).await;
    let cookie = pair(&set_cookie(&res, "deskbot_portal").unwrap());
    // Bob (on Slack) sees none of Alice's console tickets.
    file_ticket(&p.t, "alice", "the coffee machine on floor 3 is leaking").await;
    let (_, html) = p.page("/portal/tickets", &cookie).await;
    assert!(html.contains("You have no tickets"), "{html}");

    // In a channel "portal" is just a word: no link.
    let in_channel =
        ChatEvent { place: Place::Channel { channel: "C1".into(), name: None }, ..dm("portal", "m2") };
    let taken = p.t.app.service.take(in_channel, &PortalLookup).await.unwrap();
    assert!(!matches!(taken, Taken::Private(_)), "{taken:?}");
}

#[tokio::test]
async fn the_trusted_header_is_believed_only_from_a_trusted_proxy() {
    let p = portal("[http]\ntrusted_proxies = [\"127.0.0.1\"]\n[portal]\nuser_header = \"X-Portal-User\"\n")
        .await;
    let res = p
        .client
        .get(format!("{}/portal", p.base))
        .header("X-Portal-User", "console:alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = pair(&set_cookie(&res, "deskbot_portal").expect("a session for the forms"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign out"), "{html}");
    // A header that names nobody is refused.
    let res =
        p.client.get(format!("{}/portal", p.base)).header("X-Portal-User", "alice").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The session follows the header: another person behind the proxy gets their own.
    let res = p
        .client
        .get(format!("{}/portal", p.base))
        .header("X-Portal-User", "console:bob")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookie(&res, "deskbot_portal").is_some());

    // Not a trusted proxy: the header is ignored.
    let p = portal("[http]\ntrusted_proxies = [\"10.0.0.0/8\"]\n[portal]\nuser_header = \"X-Portal-User\"\n")
        .await;
    let res = p
        .client
        .get(format!("{}/portal", p.base))
        .header("X-Portal-User", "console:alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res, "deskbot_portal").is_none());
}

/// The starter pack plus an article whose markdown carries raw HTML and script.
fn intents_with_hostile_article(dir: &Path) -> std::path::PathBuf {
    let to = dir.join("intents");
    copy_dir(&support::starter_pack(), &to);
    std::fs::write(
        to.join("kb").join("printer-jam.md"),
        "+++\nid = \"printer-jam\"\ntitle = \"Clearing a printer jam <i>fast</i>\"\ntags = [\"printer\"]\n\
         examples = [\"the printer is jammed\"]\n+++\nOpen **tray 2** and pull the paper out.\n\n\
         <script>document.title='pwned'</script>\n\n<img src=x onerror=\"alert(1)\">\n\n\
         [support](javascript:alert(2))\n",
    )
    .unwrap();
    to
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

async fn kb_portal(public: bool) -> Portal {
    let dir = tempfile::tempdir().unwrap();
    let intents = intents_with_hostile_article(dir.path());
    let file = dir.path().join("deskbot.toml");
    std::fs::write(&file, format!("[portal]\npublic_kb = {public}\n")).unwrap();
    let mut config =
        Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &[]).unwrap();
    config.intents_dir = intents;
    config.hot_reload = false;
    let clock = TestClock::at(T0);
    let app = App::build_with_clock(config, clock.clock()).await.unwrap();
    serve(TestApp { app, dir, out: Captured::default() }, clock).await
}

#[tokio::test]
async fn kb_articles_are_searched_rendered_sanitised_and_rated() {
    let p = kb_portal(false).await;
    assert_eq!(p.get("/portal/kb", None).await.status(), StatusCode::UNAUTHORIZED, "the KB needs a sign-in");
    let cookie = p.sign_in("console:alice").await;
    let (status, html) = p.page("/portal/kb?q=printer+jammed", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/portal/kb/printer-jam"), "{html}");
    assert!(html.contains("&#60;i&#62;fast&#60;/i&#62;"), "a title is text: {html}");
    let (status, html) = p.page("/portal/kb/printer-jam", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<strong>tray 2</strong>"), "{html}");
    for bad in ["<script", "pwned", "onerror", "javascript:", "<i>fast"] {
        assert!(!html.contains(bad), "{bad} reached the page: {html}");
    }
    assert_eq!(p.page("/portal/kb/no-such-article", &cookie).await.0, StatusCode::NOT_FOUND);

    // "Did this help?": recorded once per form, refused without the token.
    let (csrf, delivery) = (field(&html, "csrf"), field(&html, "delivery"));
    let res =
        p.post("/portal/kb/printer-jam", Some(&cookie), &[("delivery", &delivery), ("helpful", "yes")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let key = EventKey { platform: Platform::Console, event_id: format!("portal:kb:{delivery}") };
    assert!(!p.t.app.store.event_seen(&key).await.unwrap());
    let form = [("csrf", csrf.as_str()), ("delivery", delivery.as_str()), ("helpful", "yes")];
    let res = p.post("/portal/kb/printer-jam", Some(&cookie), &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("glad it helped"));
    assert!(p.t.app.store.event_seen(&key).await.unwrap());

    // Public KB: readable without a sign-in, but feedback needs one.
    let p = kb_portal(true).await;
    let res = p.get("/portal/kb/printer-jam", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("tray 2") && !html.contains("Did this help?"), "{html}");
    assert_eq!(p.get("/portal/tickets", None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_forbid_framing_inline_script_and_referrers() {
    let p = portal("").await;
    for path in ["/portal", "/portal/login/abc", "/portal/static/portal.css"] {
        let res = p.get(path, None).await;
        let h = res.headers();
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
    }
    let res = p.get("/portal/static/portal.css", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/css"));
    // Over https, the session cookie is Secure.
    let p = portal("[http]\npublic_url = \"https://help.example.com\"\n").await;
    let url = p.t.app.service.portal_link(&"console:alice".parse().unwrap()).await.unwrap();
    let path = url.strip_prefix("https://help.example.com").expect("links use http.public_url").to_string();
    let res = p.use_link(&path).await;
    assert!(set_cookie(&res, "deskbot_portal").unwrap().contains("; Secure"));
    // And answers link to the portal's KB pages.
    assert_eq!(p.t.app.config.kb_base_url().as_deref(), Some("https://help.example.com/portal/kb"));
}

#[tokio::test]
async fn the_portal_chat_is_the_employees_conversation_with_live_agent_replies() {
    let p = portal("").await;
    let cookie = p.sign_in("console:carol").await;
    let (status, html) = p.page("/portal/chat", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<script src="/portal/static/chat.js" defer></script>"#), "{html}");
    let send = |html: String, form: Vec<(&'static str, String)>| {
        let csrf = field(&html, "csrf");
        let delivery = field(&html, "delivery");
        let cookie = cookie.clone();
        let p = &p;
        async move {
            let mut all = vec![("csrf", csrf), ("delivery", delivery)];
            all.extend(form);
            let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            p.post("/portal/chat", Some(&cookie), &pairs).await
        }
    };
    // A question without the session's token is refused and never reaches the conversation.
    let res = p.post("/portal/chat", Some(&cookie), &[("delivery", &"a".repeat(64)), ("text", "hi")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(p.t.app.store.load_conversation("console:carol").await.unwrap().is_none());

    let res = send(html, vec![("text", "my vpn keeps dropping".into())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = p.page("/portal/chat", &cookie).await;
    assert!(html.to_lowercase().contains("vpn"), "{html}");
    assert!(
        html.contains(r#"name="choice" value="not_solved""#),
        "the answer's buttons are form buttons: {html}"
    );
    // The same conversation as the console's.
    assert!(p.t.app.store.load_conversation("console:carol").await.unwrap().is_some());

    // "Not solved" files a ticket (after a question, when the intent asks one).
    let res = send(html, vec![("choice", "not_solved".into())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let filter =
        TicketFilter { requester: Some("console:carol".parse().unwrap()), limit: 5, ..Default::default() };
    for _ in 0..3 {
        if !p.t.app.store.tickets(&filter).await.unwrap().is_empty() {
            break;
        }
        let (_, html) = p.page("/portal/chat", &cookie).await;
        let form = match html.contains(r#"name="choice" value="file_ticket""#) {
            true => vec![("choice", "file_ticket".to_string())],
            false => vec![("text", "Windows laptop LT-01234, at home".to_string())],
        };
        assert_eq!(send(html, form).await.status(), StatusCode::SEE_OTHER);
    }
    let ticket = p.t.app.store.tickets(&filter).await.unwrap()[0].number;
    let (_, html) = p.page("/portal/chat", &cookie).await;
    assert!(html.contains(&ticket.to_string()), "{html}");
    // Live: an agent's reply shows up on the open page's event stream.
    let after = html.split(r#"data-last=""#).nth(1).unwrap().split('"').next().unwrap().to_string();
    let mut events = p
        .client
        .get(format!("{}/portal/chat/events?after={after}", p.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert!(events.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
    p.t.app
        .service
        .resolve_ticket(ticket, "dana", Some("LIVE-REPLY: reinstalled the VPN profile".into()))
        .await
        .unwrap();
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let c = events.chunk().await.unwrap().expect("the stream stays open");
            let c = String::from_utf8_lossy(&c).to_string();
            if c.contains("event: update") {
                return c;
            }
        }
    })
    .await
    .expect("an update within 10 s");
    assert!(chunk.contains("data: "), "{chunk}");
    // After a reload the page shows it, from the store.
    let res = p.get("/portal/chat/live", Some(&cookie)).await;
    let fragment = res.text().await.unwrap();
    assert!(fragment.contains("LIVE-REPLY"), "{fragment}");
    let (_, html) = p.page("/portal/chat", &cookie).await;
    assert!(html.contains("LIVE-REPLY") && html.contains("my vpn keeps dropping"), "{html}");
    assert_eq!(html.matches("my vpn keeps dropping").count(), 1, "each line once: {html}");
    assert!(html.contains("Not solved") && !html.contains("[not_solved]"), "buttons read as labels: {html}");

    // Another person's portal shows none of it.
    let other = p.sign_in("console:dave").await;
    let (_, html) = p.page("/portal/chat", &other).await;
    assert!(!html.contains("vpn keeps dropping") && !html.contains("LIVE-REPLY"), "{html}");
    assert_eq!(p.get("/portal/static/chat.js", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let p = portal("").await;
    let junk = "ab".repeat(32);
    for i in 0..10 {
        let res = p.use_link(&format!("/portal/login/{junk}")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The eleventh in the same minute is refused before the link is even looked at: a real
    // link is not used up by it.
    let link = p.link("console:alice").await;
    let res = p.use_link(&link).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers().get("retry-after").unwrap(), "60");
    p.clock.advance(MINUTE);
    assert_eq!(p.use_link(&link).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn erasing_a_person_ends_their_portal_sessions_and_links() {
    let p = portal("").await;
    let alice = p.sign_in("console:alice").await;
    let bob = p.sign_in("console:bob").await;
    let unused = p.link("console:alice").await;
    let key = deskbot::app::load_audit_key(&p.t.app.config).unwrap();
    let who: UserRef = "console:alice".parse().unwrap();
    deskbot::compliance::person::erase(&p.t.app.store, &key, &who, &[], "dpo", T0).await.unwrap();
    assert_eq!(p.page("/portal", &alice).await.0, StatusCode::UNAUTHORIZED, "her session is gone");
    assert_eq!(p.use_link(&unused).await.status(), StatusCode::UNAUTHORIZED, "her link is gone");
    assert_eq!(p.page("/portal", &bob).await.0, StatusCode::OK, "others keep theirs");
}
