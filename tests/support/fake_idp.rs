//! A fake OpenID Connect identity provider on a loopback port, speaking the real protocol:
//! a discovery document, a JWKS with its RSA key, an authorization endpoint that signs in
//! whoever the test says (and redirects back with a code and the state), and a token endpoint
//! that checks the client's secret, the code (once) and the PKCE verifier against the
//! challenge before it returns an RS256-signed ID token. A test can tell it to forge the next
//! token: signed by another key, for another audience, expired, or with another nonce.
#![allow(dead_code)]

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, EndUserEmail, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey,
    StandardClaims, SubjectIdentifier,
};
use serde::Deserialize;
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "deskbot-portal";
pub const CLIENT_SECRET: &str = "fake-idp-client-secret";

/// What the next ID token gets wrong, on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    Nothing,
    /// Signed by a key the provider never published (same key id).
    BadSignature,
    WrongAudience,
    /// Expired ten minutes before the provider's "now".
    Expired,
    WrongNonce,
    /// The email is not marked verified.
    UnverifiedEmail,
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    subject: String,
    email: String,
}

struct Inner {
    issuer: String,
    key: CoreRsaPrivateSigningKey,
    impostor: CoreRsaPrivateSigningKey,
    now: Arc<dyn Fn() -> i64 + Send + Sync>,
    person: Mutex<(String, String)>,
    forge: Mutex<Forge>,
    grants: Mutex<HashMap<String, Grant>>,
    next: Mutex<u64>,
    /// Token requests: (code, PKCE verifier sent, answered 200).
    token_calls: Mutex<Vec<(String, Option<String>, bool)>>,
}

#[derive(Clone)]
pub struct FakeIdp {
    inner: Arc<Inner>,
    pub issuer: String,
}

fn key(file: &str) -> CoreRsaPrivateSigningKey {
    let path = format!("{}/tests/fixtures/oidc/{file}", env!("CARGO_MANIFEST_DIR"));
    let pem = std::fs::read_to_string(&path).unwrap();
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new("k1".into()))).unwrap()
}

impl FakeIdp {
    /// Start the provider; `now` is its clock (ms), for the tokens' issue and expiry times.
    pub async fn start(now: Arc<dyn Fn() -> i64 + Send + Sync>) -> FakeIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner {
            issuer: issuer.clone(),
            key: key("idp_key.pem"),
            impostor: key("impostor_key.pem"),
            now,
            person: Mutex::new(("sub-0001".into(), "alice@example.com".into())),
            forge: Mutex::new(Forge::Nothing),
            grants: Mutex::default(),
            next: Mutex::new(1),
            token_calls: Mutex::default(),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeIdp { inner, issuer }
    }

    /// Who signs in at the authorization endpoint from now on.
    pub fn sign_in_as(&self, subject: &str, email: &str) {
        *self.inner.person.lock().unwrap() = (subject.into(), email.into());
    }

    /// Forge every ID token from now on in this way (`Forge::Nothing` to stop).
    pub fn forge(&self, f: Forge) {
        *self.inner.forge.lock().unwrap() = f;
    }

    /// The token requests so far: (code, PKCE verifier sent, answered 200).
    pub fn token_calls(&self) -> Vec<(String, Option<String>, bool)> {
        self.inner.token_calls.lock().unwrap().clone()
    }

    /// A code issued to someone else's authorization (with their own PKCE challenge), as an
    /// attacker would obtain one for their own account.
    pub fn code_for_other_challenge(&self, nonce: &str) -> String {
        let mut next = self.inner.next.lock().unwrap();
        *next += 1;
        let code = format!("code-{}", *next);
        self.inner.grants.lock().unwrap().insert(
            code.clone(),
            Grant {
                nonce: nonce.into(),
                challenge: pkce_challenge("the attacker's own verifier, never sent by deskbot"),
                redirect_uri: String::new(),
                subject: "sub-attacker".into(),
                email: "mallory@example.com".into(),
            },
        );
        code
    }
}

fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

async fn discovery(State(i): State<Arc<Inner>>) -> Json<serde_json::Value> {
    let b = &i.issuer;
    Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "jwks_uri": format!("{b}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified"],
    }))
}

async fn jwks(State(i): State<Arc<Inner>>) -> Json<serde_json::Value> {
    let set = CoreJsonWebKeySet::new(vec![i.key.as_verification_key()]);
    Json(serde_json::to_value(&set).unwrap())
}

async fn authorize(State(i): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID || get("response_type") != "code" {
        return (StatusCode::BAD_REQUEST, "unknown client or response type").into_response();
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return (StatusCode::BAD_REQUEST, "PKCE (S256) is required").into_response();
    }
    if !get("scope").split(' ').any(|s| s == "openid") {
        return (StatusCode::BAD_REQUEST, "scope openid is required").into_response();
    }
    let (subject, email) = i.person.lock().unwrap().clone();
    let code = {
        let mut next = i.next.lock().unwrap();
        *next += 1;
        format!("code-{}", *next)
    };
    i.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            redirect_uri: get("redirect_uri"),
            subject,
            email,
        },
    );
    let mut back = reqwest::Url::parse(&get("redirect_uri")).unwrap();
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", &get("state"));
    Redirect::to(back.as_str()).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    #[serde(default)]
    redirect_uri: String,
    code_verifier: Option<String>,
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response()
}

async fn token(State(i): State<Arc<Inner>>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let res = token_answer(&i, &headers, &f);
    i.token_calls.lock().unwrap().push((
        f.code.clone(),
        f.code_verifier.clone(),
        res.status() == StatusCode::OK,
    ));
    res
}

fn token_answer(i: &Inner, headers: &HeaderMap, f: &TokenForm) -> Response {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != format!("Basic {basic}") {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_client" }))).into_response();
    }
    if f.grant_type != "authorization_code" {
        return oauth_error("unsupported_grant_type");
    }
    // A code works once.
    let Some(grant) = i.grants.lock().unwrap().remove(&f.code) else { return oauth_error("invalid_grant") };
    if !grant.redirect_uri.is_empty() && grant.redirect_uri != f.redirect_uri {
        return oauth_error("invalid_grant");
    }
    match &f.code_verifier {
        Some(v) if pkce_challenge(v) == grant.challenge => {}
        _ => return oauth_error("invalid_grant"),
    }
    let forge = *i.forge.lock().unwrap();
    let now = (i.now)();
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let (iat, exp) = match forge {
        Forge::Expired => (at(now - 70 * 60_000), at(now - 10 * 60_000)),
        _ => (at(now), at(now + 60 * 60_000)),
    };
    let audience = if forge == Forge::WrongAudience { "someone-else" } else { CLIENT_ID };
    let nonce =
        if forge == Forge::WrongNonce { "a-nonce-deskbot-never-sent".to_string() } else { grant.nonce };
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(i.issuer.clone()).unwrap(),
        vec![Audience::new(audience.into())],
        exp,
        iat,
        StandardClaims::new(SubjectIdentifier::new(grant.subject))
            .set_email(Some(EndUserEmail::new(grant.email)))
            .set_email_verified(Some(forge != Forge::UnverifiedEmail)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let key = if forge == Forge::BadSignature { &i.impostor } else { &i.key };
    let id_token =
        CoreIdToken::new(claims, key, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, None, None).unwrap();
    Json(json!({
        "access_token": format!("at-{}", f.code),
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": serde_json::to_value(&id_token).unwrap(),
    }))
    .into_response()
}
