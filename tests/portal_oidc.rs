//! Portal sign-in with the company's identity provider, against a fake OpenID Connect
//! provider (discovery, JWKS, RS256 ID tokens, PKCE checked at its token endpoint) and the
//! fake Slack (`users.lookupByEmail`). The happy path signs in and shows the person's tickets;
//! a forged or replayed answer is refused and issues no session cookie: a token signed by
//! another key, for another audience, expired, with another nonce or an unverified email, a
//! replayed state, a state never issued or started in another browser, and a code obtained
//! for someone else's PKCE challenge. Someone the chat platforms do not know by email links
//! themselves with a magic link from chat, opened in the same browser.

mod support;

use deskbot::domain::{ChatEvent, Input, Place, Platform, UserRef};
use deskbot::http::portal::{PortalLookup, PortalState, router};
use deskbot::service::oidc::PeopleByEmail;
use deskbot::store::TicketFilter;
use reqwest::StatusCode;
use slack_morphism::prelude::{SlackApiToken, SlackApiTokenValue};
use std::sync::Arc;
use support::fake_idp::{CLIENT_ID, CLIENT_SECRET, FakeIdp, Forge};
use support::fake_slack::FakeSlack;
use support::web::{Served, field, pair, serve_on, set_cookie, sets_session};
use support::{TestApp, TestClock};

const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;
const SESSION: &str = "deskbot_portal";
const BROWSER: &str = "deskbot_portal_oidc";

struct World {
    web: Served,
    idp: FakeIdp,
    slack: FakeSlack,
    clock: TestClock,
    t: TestApp,
}

/// The portal with `[portal.oidc]` naming the fake provider, Slack's people looked up on the
/// fake Slack, `http.public_url` its own address.
async fn world() -> World {
    let clock = TestClock::at(T0);
    let idp = FakeIdp::start(Arc::new({
        let c = clock.clock();
        move || c()
    }))
    .await;
    let slack = FakeSlack::start().await;
    slack.add_user("U0ALICE01", "Alice");
    slack.add_email("U0ALICE01", "alice@example.com");
    let (listener, base) = support::web::listener().await;
    let toml = format!(
        "[http]\npublic_url = \"{base}\"\n[portal.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
         client_secret = \"{CLIENT_SECRET}\"\n",
        idp.issuer
    );
    let t = TestApp::with_config(&toml, clock.clock()).await;
    let client = deskbot::adapters::slack::client(&slack.api_url).unwrap();
    let token = SlackApiToken::new(SlackApiTokenValue::new(support::fake_slack::BOT_TOKEN.into()));
    let people: Vec<Arc<dyn PeopleByEmail>> = vec![Arc::new(
        deskbot::adapters::slack::people::SlackPeople::new(client, token, std::time::Duration::from_secs(5)),
    )];
    let state = PortalState::new(&t.app.config, t.app.service.clone())
        .with_people(people)
        .with_oidc(&t.app.config)
        .unwrap();
    let web = serve_on(listener, base, router(state));
    World { web, idp, slack, clock, t }
}

/// A sign-in started by a browser: its binding cookie and the provider's answer (the
/// callback's path and query, as the provider redirects the browser there).
struct Started {
    browser: String,
    callback: String,
}

impl World {
    /// Press "Sign in with your company account" and sign in at the provider.
    async fn start(&self) -> Started {
        let res = self.web.get("/portal/oidc/login", None).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = set_cookie(&res, BROWSER).expect("a browser-binding cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        let to = res.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with(&format!("{}/authorize?", self.idp.issuer)), "{to}");
        assert!(to.contains("code_challenge_method=S256") && to.contains("nonce="), "{to}");
        let at_idp = self.web.client.get(&to).send().await.unwrap();
        assert_eq!(at_idp.status(), StatusCode::SEE_OTHER, "{}", at_idp.text().await.unwrap());
        let back = at_idp.headers()["location"].to_str().unwrap().to_string();
        let callback = back.strip_prefix(&self.web.base).expect("back to deskbot's callback").to_string();
        assert!(callback.starts_with("/portal/oidc/callback?code="), "{callback}");
        Started { browser: pair(&cookie), callback }
    }

    async fn finish(&self, s: &Started) -> reqwest::Response {
        self.web.get(&s.callback, Some(&s.browser)).await
    }

    /// `user` (on Slack) files a ticket in a DM; its number.
    async fn slack_ticket(&self, user: &str, text: &str) -> String {
        let msg = |text: &str, id: &str| ChatEvent {
            platform: Platform::Slack,
            place: Place::Direct { channel: "D0ALICE".into(), thread: None },
            sender: user.into(),
            sender_name: None,
            at: T0,
            input: Input::Message {
                id: id.into(),
                text: text.into(),
                mentions_bot: false,
                attachments: Vec::new(),
            },
        };
        self.t.app.service.take(msg(text, "m1"), &PortalLookup).await.unwrap();
        self.t.app.service.take(msg("1", "m2"), &PortalLookup).await.unwrap();
        let filter = TicketFilter {
            requester: Some(UserRef::new(Platform::Slack, user)),
            limit: 10,
            ..Default::default()
        };
        self.t.app.store.tickets(&filter).await.unwrap()[0].number.to_string()
    }
}

/// A refusal: 403, and no session cookie.
async fn assert_refused(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{what}");
    assert!(!sets_session(&res, SESSION), "{what}: a session cookie was issued");
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign-in refused"), "{what}: {html}");
}

#[tokio::test]
async fn a_company_sign_in_finds_the_slack_person_by_email_and_shows_their_tickets() {
    let w = world().await;
    let number = w.slack_ticket("U0ALICE01", "the coffee machine on floor 3 is leaking").await;

    // The sign-in page offers the company account.
    let page = w.web.get("/portal/login", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Sign in with your company account") && html.contains("/portal/oidc/login"),
        "{html}"
    );
    let page = w.web.get("/portal", None).await;
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(page.text().await.unwrap().contains("Sign in with your company account"));

    let s = w.start().await;
    let res = w.finish(&s).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/portal");
    let session = set_cookie(&res, SESSION).expect("a session");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    // The browser-binding cookie is spent.
    assert!(set_cookie(&res, BROWSER).is_some_and(|c| c.contains("Max-Age=0")));
    let session = pair(&session);
    let tickets = w.web.get("/portal/tickets", Some(&session)).await;
    assert_eq!(tickets.status(), StatusCode::OK);
    let html = tickets.text().await.unwrap();
    assert!(html.contains(&number) && html.contains("coffee machine"), "{html}");

    // deskbot proved the code with a PKCE verifier, and asked Slack by the verified email.
    let calls = w.idp.token_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].1.as_deref().is_some_and(|v| v.len() >= 43) && calls[0].2, "{calls:?}");
    let lookups: Vec<_> = w.slack.calls().into_iter().filter(|c| c.method == "users.lookupByEmail").collect();
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].params["email"], "alice@example.com");
    support::slack_spec::assert_calls_match_spec(&w.slack.calls());

    // Linked: the next sign-in does not ask Slack again.
    let s = w.start().await;
    assert!(sets_session(&w.finish(&s).await, SESSION));
    assert_eq!(w.slack.calls().iter().filter(|c| c.method == "users.lookupByEmail").count(), 1);
}

#[tokio::test]
async fn forged_tokens_are_refused_without_a_session() {
    let w = world().await;
    for forge in
        [Forge::BadSignature, Forge::WrongAudience, Forge::Expired, Forge::WrongNonce, Forge::UnverifiedEmail]
    {
        w.idp.forge(forge);
        let s = w.start().await;
        assert_refused(w.finish(&s).await, &format!("{forge:?}")).await;
        // The provider answered; deskbot itself refused what it signed.
        assert!(w.idp.token_calls().last().is_some_and(|c| c.2), "{forge:?}");
    }
    // The same provider, honest again: signed in.
    w.idp.forge(Forge::Nothing);
    let s = w.start().await;
    assert!(sets_session(&w.finish(&s).await, SESSION));
}

#[tokio::test]
async fn a_state_is_used_once_in_the_browser_that_started_it_within_ten_minutes() {
    let w = world().await;
    // Replayed: the callback that signed someone in, sent again.
    let s = w.start().await;
    assert!(sets_session(&w.finish(&s).await, SESSION));
    assert_refused(w.finish(&s).await, "replayed state").await;

    // Started in another browser (login CSRF): no binding cookie, or another browser's.
    let s = w.start().await;
    assert_refused(w.web.get(&s.callback, None).await, "no binding cookie").await;
    let other = w.start().await;
    let s = w.start().await;
    assert_refused(w.web.get(&s.callback, Some(&other.browser)).await, "another browser's cookie").await;
    // A refused callback spent its state: the right browser cannot use it afterwards either.
    assert_refused(w.finish(&s).await, "state spent by the refusal").await;

    // A state deskbot never issued, and no state at all.
    let s = w.start().await;
    let forged = s.callback.replace("state=", "state=0");
    assert_refused(w.web.get(&forged, Some(&s.browser)).await, "unknown state").await;
    let code_only = s.callback.split("&state=").next().unwrap().to_string();
    assert_refused(w.web.get(&code_only, Some(&s.browser)).await, "no state").await;

    // Ten minutes later: expired.
    let s = w.start().await;
    w.clock.advance(10 * MINUTE + 1);
    assert_refused(w.finish(&s).await, "expired state").await;
}

#[tokio::test]
async fn a_code_issued_for_another_pkce_challenge_is_refused() {
    let w = world().await;
    let s = w.start().await;
    // An attacker's own code (PKCE challenge of their own), injected into this browser's callback.
    let nonce = "whatever";
    let injected = w.idp.code_for_other_challenge(nonce);
    let state = s.callback.split("&state=").nth(1).unwrap();
    let path = format!("/portal/oidc/callback?code={injected}&state={state}");
    assert_refused(w.web.get(&path, Some(&s.browser)).await, "code for another challenge").await;
    let calls = w.idp.token_calls();
    let call = calls.iter().find(|c| c.0 == injected).expect("deskbot tried the code");
    assert!(call.1.is_some() && !call.2, "the provider refused the verifier: {calls:?}");
}

#[tokio::test]
async fn someone_unknown_by_email_links_their_chat_identity_with_a_magic_link() {
    let w = world().await;
    w.idp.sign_in_as("sub-carol", "carol@example.com");
    let s = w.start().await;
    let res = w.finish(&s).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!sets_session(&res, SESSION), "no session before the link");
    let claim = pair(&set_cookie(&res, "deskbot_portal_claim").expect("a claim cookie"));
    let html = res.text().await.unwrap();
    assert!(html.contains("carol@example.com") && html.contains("portal"), "{html}");

    // The magic link from chat, opened in the same browser: signed in, and linked.
    let url = w.t.app.service.portal_link(&"console:carol".parse().unwrap()).await.unwrap();
    let path = url.strip_prefix(&w.web.base).unwrap().to_string();
    let page = w.web.get(&path, Some(&claim)).await;
    let login = pair(&set_cookie(&page, "deskbot_portal_login").unwrap());
    let html = page.text().await.unwrap();
    let cookies = format!("{login}; {claim}");
    let res = w
        .web
        .post(
            "/portal/login",
            Some(&cookies),
            &[("csrf", &field(&html, "csrf")), ("token", &field(&html, "token"))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&res, "deskbot_portal_claim").is_some_and(|c| c.contains("Max-Age=0")));

    // From now on the company account signs carol straight in, as console:carol.
    let s = w.start().await;
    let res = w.finish(&s).await;
    assert!(sets_session(&res, SESSION));
    let session = pair(&set_cookie(&res, SESSION).unwrap());
    let who = w.t.app.store.portal_identity(&w.idp.issuer, "sub-carol").await.unwrap();
    assert_eq!(who, Some("console:carol".parse().unwrap()));
    assert_eq!(w.web.get("/portal/tickets", Some(&session)).await.status(), StatusCode::OK);

    // A claim cookie is worth nothing without its magic link: a stranger's sign-in is not linked.
    w.idp.sign_in_as("sub-dave", "dave@example.com");
    let s = w.start().await;
    let res = w.finish(&s).await;
    assert!(!sets_session(&res, SESSION));
    assert_eq!(w.t.app.store.portal_identity(&w.idp.issuer, "sub-dave").await.unwrap(), None);
}
