//! `/portal/oidc/*`: sign-in with the company's identity provider (`service::oidc` speaks the
//! protocol and decides who it names). `/portal/oidc/login` keeps a fresh state, nonce and
//! PKCE verifier in the store (ten minutes, used once) and binds them to this browser with a
//! random cookie; `/portal/oidc/callback` takes them out, refuses a state it does not know,
//! already used, expired or started in another browser, and a token the provider's keys,
//! issuer, audience, expiry or nonce do not vouch for. Only then a session starts. Someone no
//! chat identity matches gets a claim cookie: a magic link from chat opened in the same
//! browser links the two ([`link_claim`]).

use super::{PortalState, message_page, not_found, pages, render, session, start_session, unavailable};
use crate::domain::UserRef;
use crate::http::session::Peer;
use crate::service::oidc::LOGIN_VALID_MS;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// Binds a sign-in sent to the provider to the browser that started it.
const BROWSER_COOKIE: &str = "deskbot_portal_oidc";
/// Names the claim of a provider sign-in no chat identity matched yet.
const CLAIM_COOKIE: &str = "deskbot_portal_claim";
/// Both cookies live as long as a sign-in may take, in seconds.
const COOKIE_SECS: u64 = (LOGIN_VALID_MS / 1000) as u64;

fn too_many() -> Response {
    let mut res = message_page(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "Too many attempts",
        &["Too many sign-in attempts from here; wait a minute and try again."],
    );
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    res
}

/// A refused callback: no session, and the browser's binding cookie is cleared.
fn refused(s: &PortalState, why: &str) -> Response {
    tracing::warn!(why, "portal: a company sign-in refused");
    let mut res = message_page(
        StatusCode::FORBIDDEN,
        None,
        "Sign-in refused",
        &["Your company sign-in could not be completed. Go back to the portal and try again."],
    );
    if let Some(c) = session::set_cookie_lax(BROWSER_COOKIE, "", "/portal/oidc", 0, s.secure_cookies) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `GET /portal/oidc/login`: off to the identity provider.
pub(super) async fn start(State(s): State<PortalState>, peer: Peer) -> Response {
    let Some(provider) = s.oidc.clone() else { return not_found(None) };
    if !s.login_allowed(peer) {
        tracing::warn!(peer = ?peer.0, "portal: too many sign-in attempts from one address");
        return too_many();
    }
    let Some(browser) = session::random_token() else { return unavailable("no randomness") };
    let now = s.now();
    let begun = match provider.begin(session::id_hash(&browser), now).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "portal: cannot start a company sign-in");
            return message_page(
                StatusCode::BAD_GATEWAY,
                None,
                "Company sign-in unavailable",
                &["Your company's sign-in cannot be reached right now. Try again in a minute, or type \
                   “portal” in a direct message to the help desk bot for a sign-in link."],
            );
        }
    };
    let store = s.service.store();
    if let Err(e) = store.purge_portal(now, s.cfg.idle_ms()).await {
        tracing::warn!(error = %e, "portal: cannot purge expired sign-ins");
    }
    let state_hash = session::id_hash(&begun.state);
    if let Err(e) = store.create_oidc_login(&state_hash, &begun.login, now, now + LOGIN_VALID_MS).await {
        return unavailable(crate::service::error_kind(&e.into()));
    }
    let mut res = Redirect::to(&begun.url).into_response();
    // Lax: the provider's redirect back is a top-level GET from another site.
    if let Some(c) =
        session::set_cookie_lax(BROWSER_COOKIE, &browser, "/portal/oidc", COOKIE_SECS, s.secure_cookies)
    {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /portal/oidc/callback?code=…&state=…`: the provider's answer (not rate-limited itself:
/// each answer spends a state that only the limited `/portal/oidc/login` makes).
pub(super) async fn callback(
    State(s): State<PortalState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(provider) = s.oidc.clone() else { return not_found(None) };
    if q.error.is_some() {
        return refused(&s, "the provider answered with an error");
    }
    if q.state.is_empty() || q.code.is_empty() {
        return refused(&s, "no state or code");
    }
    let now = s.now();
    let store = s.service.store();
    // Used once: the sign-in is taken out of the store before anything is checked.
    let login = match store.take_oidc_login(&session::id_hash(&q.state), now).await {
        Ok(Some(l)) => l,
        Ok(None) => return refused(&s, "unknown, used or expired state"),
        Err(e) => return unavailable(crate::service::error_kind(&e.into())),
    };
    let bound = session::cookie(&headers, BROWSER_COOKIE)
        .is_some_and(|c| session::same(&session::id_hash(&c), &login.browser_hash));
    if !bound {
        return refused(&s, "the state was started in another browser");
    }
    let who = match provider.finish(&q.code, &login, now).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "portal: the identity provider's answer refused");
            return refused(&s, "the provider's answer did not verify");
        }
    };
    let clear = session::set_cookie_lax(BROWSER_COOKIE, "", "/portal/oidc", 0, s.secure_cookies);
    match s.service.portal_person(&who, &s.people).await {
        Ok(Some(user)) => {
            let viewer = match start_session(&s, &user).await {
                Ok(v) => v,
                Err(res) => return res,
            };
            let mut res = Redirect::to("/portal").into_response();
            for c in viewer.cookie.into_iter().chain(clear) {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            res
        }
        Ok(None) => {
            let Some(token) = session::random_token() else { return unavailable("no randomness") };
            if let Err(e) =
                store.create_identity_claim(&session::id_hash(&token), &who, now, now + LOGIN_VALID_MS).await
            {
                return unavailable(crate::service::error_kind(&e.into()));
            }
            tracing::info!("portal: a company sign-in matched no chat identity; waiting for a magic link");
            let page = pages::Claim { frame: pages::Frame::default(), email: who.email };
            let mut res = render(StatusCode::OK, page.render());
            let claim =
                session::set_cookie_lax(CLAIM_COOKIE, &token, "/portal", COOKIE_SECS, s.secure_cookies);
            for c in claim.into_iter().chain(clear) {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            res
        }
        Err(e) => unavailable(crate::service::error_kind(&e)),
    }
}

/// After a magic-link sign-in as `user`: link the company sign-in this browser claimed, if
/// any. Returns the cookie that clears the claim.
pub(super) async fn link_claim(s: &PortalState, headers: &HeaderMap, user: &UserRef) -> Option<HeaderValue> {
    let token = session::cookie(headers, CLAIM_COOKIE).filter(|t| !t.is_empty())?;
    match s.service.store().take_identity_claim(&session::id_hash(&token), s.now()).await {
        Ok(Some(who)) => {
            if let Err(e) = s.service.link_portal_person(&who, user).await {
                tracing::error!(
                    error = crate::service::error_kind(&e),
                    "portal: cannot link a company sign-in"
                );
            }
        }
        Ok(None) => tracing::info!("portal: a company sign-in claim had expired"),
        Err(e) => tracing::error!(error = %e, "portal: cannot read a company sign-in claim"),
    }
    session::set_cookie_lax(CLAIM_COOKIE, "", "/portal", 0, s.secure_cookies)
}
