//! Portal sign-in with the company's identity provider: OpenID Connect, authorization code
//! flow with PKCE, through the `openidconnect` crate (discovery, JWKS, ID-token signature,
//! issuer, audience, expiry and nonce checks). `[portal.oidc]` configures it; the HTTP side
//! (`http/portal/oidc.rs`) keeps each sign-in's state, nonce and PKCE verifier in the store,
//! single-use, for ten minutes.
//!
//! Who the provider vouched for becomes a chat identity here, in one place: a subject already
//! linked signs in as its chat identity; otherwise its verified email is looked up on the chat
//! platforms ([`PeopleByEmail`], e.g. Slack's `users.lookupByEmail`) and the match is linked;
//! otherwise the person links themselves with a magic link from chat.

use super::{Service, ServiceError};
use crate::domain::{Millis, UserRef};
use crate::store::{OidcLogin, ProviderIdentity};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a sign-in sent to the provider may take to come back, and how long a claim
/// waits for its magic link.
pub const LOGIN_VALID_MS: Millis = 10 * 60_000;
/// How long the provider's discovery document and keys are reused before they are fetched
/// again (a key the provider rotated in is picked up at the latest then).
const METADATA_TTL_MS: Millis = 10 * 60_000;
/// One call to the provider (discovery, keys, token) may take this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// `[portal.oidc]`: sign in with the company's identity provider.
#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The issuer URL (its `/.well-known/openid-configuration` is read), e.g.
    /// `https://login.microsoftonline.com/TENANT/v2.0`.
    pub issuer: String,
    /// The client (application) id registered at the provider.
    pub client_id: String,
    /// The client secret (or `DESKBOT_PORTAL__OIDC__CLIENT_SECRET(_FILE)`).
    pub client_secret: Option<String>,
    /// A file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// The button's words on the sign-in page.
    pub button: Option<String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[set]"))
            .field("client_secret_file", &self.client_secret_file)
            .finish()
    }
}

impl OidcConfig {
    pub fn validate(&self) -> Result<(), String> {
        IssuerUrl::new(self.issuer.trim().to_string())
            .map_err(|e| format!("portal.oidc.issuer `{}` is not a URL: {e}", self.issuer))?;
        if self.client_id.trim().is_empty() {
            return Err("portal.oidc.client_id is empty".into());
        }
        if self.client_secret.as_deref().is_some_and(|s| !s.trim().is_empty())
            && self.client_secret_file.is_some()
        {
            return Err("set portal.oidc.client_secret or client_secret_file, not both".into());
        }
        Ok(())
    }

    /// The client secret, from the config or its file (`None`: a public client, PKCE only).
    fn secret(&self) -> Result<Option<ClientSecret>, String> {
        if let Some(path) = &self.client_secret_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read portal.oidc.client_secret_file {}: {e}", path.display()))?;
            return Ok(Some(ClientSecret::new(text.trim().to_string())));
        }
        Ok(self
            .client_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| ClientSecret::new(s.to_string())))
    }
}

/// Why a provider sign-in did not name anyone. Messages name the failed check, never a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider's discovery document could not be read: {0}")]
    Discovery(String),
    #[error("the authorization code was refused: {0}")]
    Exchange(String),
    #[error("the token response carried no ID token")]
    NoIdToken,
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    #[error("the ID token names no email")]
    NoEmail,
    #[error("the ID token's email is not verified")]
    UnverifiedEmail,
    #[error("the identity provider is not configured correctly: {0}")]
    Config(String),
}

/// A sign-in to send the browser off with: the provider's URL, the `state` it carries, and
/// what the callback must find in the store.
pub struct Begun {
    pub url: String,
    pub state: String,
    pub login: OidcLogin,
}

/// The chat platforms' people directories, by email (Slack's `users.lookupByEmail`).
#[async_trait::async_trait]
pub trait PeopleByEmail: Send + Sync {
    /// The chat identity with this email, if the platform knows one.
    async fn by_email(&self, email: &str) -> Result<Option<UserRef>, String>;
}

/// The configured identity provider.
pub struct Provider {
    cfg: OidcConfig,
    secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: Mutex<Option<(CoreProviderMetadata, Millis)>>,
}

impl Provider {
    /// The provider of `cfg`, calling back to `{base_url}/portal/oidc/callback`.
    pub fn new(cfg: &OidcConfig, base_url: &str) -> Result<Self, String> {
        cfg.validate()?;
        let redirect = RedirectUrl::new(format!("{base_url}/portal/oidc/callback"))
            .map_err(|e| format!("http.public_url does not make a callback URL: {e}"))?;
        let http = reqwest::Client::builder()
            // The token endpoint must answer itself: following a redirect would be an SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the identity provider's HTTP client: {e}"))?;
        Ok(Self { secret: cfg.secret()?, cfg: cfg.clone(), redirect, http, metadata: Mutex::new(None) })
    }

    /// The words on the sign-in button.
    pub fn button(&self) -> String {
        self.cfg.button.clone().unwrap_or_else(|| "Sign in with your company account".into())
    }

    /// The discovery document and keys, fetched at most every [`METADATA_TTL_MS`].
    async fn metadata(&self, now: Millis) -> Result<CoreProviderMetadata, OidcError> {
        if let Some((m, at)) = self.metadata.lock().ok().and_then(|m| m.clone())
            && now - at < METADATA_TTL_MS
            && now >= at
        {
            return Ok(m);
        }
        let issuer = IssuerUrl::new(self.cfg.issuer.trim().to_string())
            .map_err(|e| OidcError::Config(e.to_string()))?;
        let m = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Discovery(error_chain(&e)))?;
        if let Ok(mut slot) = self.metadata.lock() {
            *slot = Some((m.clone(), now));
        }
        Ok(m)
    }

    fn client(
        &self,
        m: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            m,
            ClientId::new(self.cfg.client_id.trim().to_string()),
            self.secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Start a sign-in for a browser bound by `browser_hash`: the provider's URL with a fresh
    /// state, nonce and PKCE challenge.
    pub async fn begin(&self, browser_hash: String, now: Millis) -> Result<Begun, OidcError> {
        let client = self.client(self.metadata(now).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            login: OidcLogin {
                browser_hash,
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        })
    }

    /// Finish a sign-in: exchange `code` with the PKCE verifier, check the ID token (the
    /// provider's signature, issuer, audience, expiry at `now`, the nonce) and return who it
    /// names, with their verified email.
    pub async fn finish(
        &self,
        code: &str,
        login: &OidcLogin,
        now: Millis,
    ) -> Result<ProviderIdentity, OidcError> {
        let client = self.client(self.metadata(now).await?);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
        let id_token = token.id_token().ok_or(OidcError::NoIdToken)?;
        let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        let verifier = client.id_token_verifier().set_time_fn(move || at);
        let claims = id_token
            .claims(&verifier, &Nonce::new(login.nonce.clone()))
            .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
        let email = claims.email().map(|e| e.as_str().trim().to_lowercase()).filter(|e| !e.is_empty());
        let email = email.ok_or(OidcError::NoEmail)?;
        if claims.email_verified() != Some(true) {
            return Err(OidcError::UnverifiedEmail);
        }
        Ok(ProviderIdentity {
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            email,
        })
    }
}

/// An error and its causes, on one line (the crates' errors name the failed check).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl Service {
    /// The chat identity a provider sign-in acts as: the one linked to its subject, else the
    /// one a chat platform knows by its verified email (linked from then on), else `None`
    /// (the person links themselves with a magic link from chat).
    pub async fn portal_person(
        &self,
        who: &ProviderIdentity,
        people: &[Arc<dyn PeopleByEmail>],
    ) -> Result<Option<UserRef>, ServiceError> {
        if let Some(user) = self.store.portal_identity(&who.issuer, &who.subject).await? {
            return Ok(Some(user));
        }
        for p in people {
            match p.by_email(&who.email).await {
                Ok(Some(user)) => {
                    self.store.link_portal_identity(who, &user, self.now()).await?;
                    tracing::info!(
                        platform = user.platform.as_str(),
                        "portal: provider sign-in linked by email"
                    );
                    return Ok(Some(user));
                }
                Ok(None) => {}
                Err(kind) => tracing::warn!(error = %kind, "portal: people lookup by email failed"),
            }
        }
        Ok(None)
    }

    /// Link a provider sign-in to the chat identity a magic link proved.
    pub async fn link_portal_person(
        &self,
        who: &ProviderIdentity,
        user: &UserRef,
    ) -> Result<(), ServiceError> {
        self.store.link_portal_identity(who, user, self.now()).await?;
        tracing::info!(platform = user.platform.as_str(), "portal: provider sign-in linked by a magic link");
        Ok(())
    }
}
