//! The reports page played by an attacker: an identity header sent straight to deskbot (not
//! through a trusted proxy), an expired session, a cookie reused after logout, forms posted
//! without their CSRF token, the page framed, and `/reports` and `/metrics` looked for on the
//! public port when `http.admin_listen` moves them to a private one.

mod support;

use deskbot::http::reports::{ReportsState, router};
use reqwest::StatusCode;
use std::time::Duration;
use support::web::{Served, field, pair, set_cookie};
use support::{TestApp, TestClock};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "reports-token-0123456789";
const T0: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

/// The reports routes of an app built from `extra` config, served on a loopback port exactly
/// as `deskbot run` serves them (with the TCP peer known), with a clock the test moves.
struct Reports {
    base: String,
    clock: TestClock,
    client: reqwest::Client,
    _t: TestApp,
    web: Served,
}

async fn reports(extra: &str) -> Reports {
    let clock = TestClock::at(T0);
    let t = TestApp::with_config(&format!("[reports]\ntoken = \"{TOKEN}\"\n{extra}"), clock.clock()).await;
    let state = ReportsState::new(&t.app.config, t.app.store.clone(), t.app.catalog.clone(), clock.clock());
    let web = support::web::serve(router(state)).await;
    Reports { base: web.base.clone(), clock, client: web.client.clone(), _t: t, web }
}

/// The value of the hidden `csrf` field of a page.
fn csrf_field(html: &str) -> String {
    field(html, "csrf")
}

impl Reports {
    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        self.web.get(path, cookie).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        self.web.post(path, cookie, form).await
    }

    /// Sign in through the form; returns the session cookie (`name=value`) and the `Set-Cookie`.
    async fn sign_in(&self) -> (String, String) {
        let form = self.get("/reports/login", None).await;
        assert_eq!(form.status(), StatusCode::OK);
        let login_cookie = pair(&set_cookie(&form, "deskbot_reports_login").expect("a form cookie"));
        let csrf = csrf_field(&form.text().await.unwrap());
        let res =
            self.post("/reports/login", Some(&login_cookie), &[("token", TOKEN), ("csrf", &csrf)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let session = set_cookie(&res, "deskbot_reports").expect("a session cookie");
        (pair(&session), session)
    }

    /// The page as the holder of `cookie` sees it: its status and, when shown, the logout token.
    async fn page(&self, cookie: &str) -> (StatusCode, Option<String>) {
        let res = self.get("/reports", Some(cookie)).await;
        let status = res.status();
        let html = res.text().await.unwrap();
        let logout = html
            .contains("/reports/logout")
            .then(|| csrf_field(&html[html.find("/reports/logout").unwrap()..]));
        (status, logout)
    }
}

#[tokio::test]
async fn identity_header_is_believed_only_from_a_trusted_proxy() {
    // A proxy is configured, but the request comes straight from 127.0.0.1.
    let r = reports("user_header = \"X-Forwarded-User\"\n[http]\ntrusted_proxies = [\"10.0.0.0/8\"]\n").await;
    let forged =
        r.client.get(format!("{}/reports", r.base)).header("X-Forwarded-User", "ceo").send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED, "a forged header signs nobody in");
    assert!(!forged.text().await.unwrap().contains("data-figure"));
    // The same header with no proxies configured at all (the default) is ignored too.
    let r = reports("user_header = \"X-Forwarded-User\"\n").await;
    let forged =
        r.client.get(format!("{}/reports", r.base)).header("X-Forwarded-User", "ceo").send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // From a trusted proxy's address it is believed.
    let r =
        reports("user_header = \"X-Forwarded-User\"\n[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n").await;
    let proxied =
        r.client.get(format!("{}/reports", r.base)).header("X-Forwarded-User", "dana").send().await.unwrap();
    assert_eq!(proxied.status(), StatusCode::OK);
    assert!(proxied.text().await.unwrap().contains("signed in as dana"));
}

#[tokio::test]
async fn sessions_are_random_expire_and_end_at_logout() {
    let r = reports("session_hours = 12\n").await;
    let (a, set_a) = r.sign_in().await;
    let (b, _) = r.sign_in().await;
    assert_ne!(a, b, "every sign-in gets its own random session");
    assert!(!a.contains(TOKEN), "{a}");
    for flag in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/reports"] {
        assert!(set_a.contains(flag), "{flag} missing: {set_a}");
    }
    assert!(!set_a.contains("Secure"), "plain http: no Secure flag");
    assert_eq!(r.page(&a).await.0, StatusCode::OK);

    // Expiry: one hour short of it the session works, at it the session is gone.
    r.clock.advance(11 * HOUR);
    assert_eq!(r.page(&b).await.0, StatusCode::OK);
    r.clock.advance(HOUR);
    assert_eq!(r.page(&b).await.0, StatusCode::UNAUTHORIZED, "an expired session is refused");
    r.clock.set(T0);

    // Logout needs the session's own form token.
    let (status, token) = r.page(&a).await;
    assert_eq!(status, StatusCode::OK);
    let token = token.expect("the page offers Sign out");
    let no_token = r.post("/reports/logout", Some(&a), &[]).await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN, "a logout without the CSRF token is refused");
    let (_, other_token) = r.page(&b).await;
    let wrong = r.post("/reports/logout", Some(&a), &[("csrf", &other_token.unwrap())]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "another session's token does not do");
    assert_eq!(r.page(&a).await.0, StatusCode::OK, "the refused logouts changed nothing");
    let out = r.post("/reports/logout", Some(&a), &[("csrf", &token)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&out, "deskbot_reports").unwrap().contains("Max-Age=0"), "the cookie is cleared");
    // The old cookie, replayed after logout, is refused on the server whatever the browser keeps.
    assert_eq!(r.page(&a).await.0, StatusCode::UNAUTHORIZED, "a cookie reused after logout is refused");
    assert_eq!(
        r.post("/reports/logout", Some(&a), &[("csrf", &token)]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(r.page(&b).await.0, StatusCode::OK, "other sessions go on");
    // A made-up cookie is nobody.
    assert_eq!(r.page("deskbot_reports=00ff").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_without_the_form_token_is_refused() {
    let r = reports("").await;
    let bare = r.post("/reports/login", None, &[("token", TOKEN)]).await;
    assert_eq!(bare.status(), StatusCode::FORBIDDEN, "no CSRF token, no session");
    assert!(set_cookie(&bare, "deskbot_reports").is_none());
    // A token of the attacker's own form, without the victim's matching cookie.
    let form = r.get("/reports/login", None).await;
    let csrf = csrf_field(&form.text().await.unwrap());
    let cross = r
        .post("/reports/login", Some("deskbot_reports_login=forged"), &[("token", TOKEN), ("csrf", &csrf)])
        .await;
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&cross, "deskbot_reports").is_none());
}

#[tokio::test]
async fn every_reports_page_forbids_framing_and_inline_script() {
    let r = reports("").await;
    let (session, _) = r.sign_in().await;
    let pages = [
        r.get("/reports", None).await,
        r.get("/reports/login", None).await,
        r.get("/reports", Some(&session)).await,
        r.post("/reports/logout", Some(&session), &[]).await,
    ];
    for res in pages {
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn session_cookies_are_secure_when_the_public_url_is_https() {
    let r = reports("[http]\npublic_url = \"https://deskbot.example.com\"\n").await;
    let (_, set) = r.sign_in().await;
    assert!(set.contains("; Secure"), "{set}");
}

#[tokio::test]
async fn admin_listen_moves_reports_and_metrics_off_the_public_port() {
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (public, admin) = (free(), free());
    let toml = format!(
        "[http]\nlisten = \"127.0.0.1:{public}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n[reports]\ntoken = \"{TOKEN}\"\n"
    );
    let t = TestApp::with_config(&toml, deskbot::service::system_clock()).await;
    let dir = t.dir;
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(deskbot::app::run(t.app, Vec::new(), shutdown.clone()));
    let client = reqwest::Client::new();
    let (public, admin) = (format!("http://127.0.0.1:{public}"), format!("http://127.0.0.1:{admin}"));
    let mut up = false;
    for _ in 0..200 {
        let a = client.get(format!("{public}/healthz")).send().await.is_ok_and(|r| r.status() == 200);
        let b = client.get(format!("{admin}/healthz")).send().await.is_ok_and(|r| r.status() == 200);
        if a && b {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "both listeners answer /healthz");
    for path in ["/reports", "/reports/login", "/metrics"] {
        let res = client.get(format!("{public}{path}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path} on the public port");
    }
    let res = client.post(format!("{public}/reports/login")).form(&[("token", TOKEN)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        client.get(format!("{admin}/reports")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let ok = client.get(format!("{admin}/reports")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(client.get(format!("{admin}/metrics")).send().await.unwrap().status(), StatusCode::OK);
    shutdown.cancel();
    daemon.await.unwrap().unwrap();
    drop(dir);
}
