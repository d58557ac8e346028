//! What the web pages share for sign-in safety: random server-side session ids (the database
//! keeps their SHA-256, see `store/sessions.rs`), cookies (HttpOnly, SameSite=Strict, `Secure`
//! over https), CSRF tokens compared in constant time, the TCP peer of a request and whether
//! it is a trusted proxy, and the security headers every page carries.

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

pub use crate::store::sessions::random_token;
pub use crate::store::sessions::token_hash as id_hash;

/// Equal in constant time (compares digests, so lengths do not leak either).
pub fn same(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

/// The value of cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value scoped to `path`; `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// A `Set-Cookie` value like [`set_cookie`] but `SameSite=Lax`: sent on a top-level
/// navigation from another site (a sign-in link clicked in chat), never on its POSTs.
pub fn set_cookie_lax(
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    secure: bool,
) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// The TCP peer's address, when the server was started with connection info (`http::serve`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

impl Peer {
    /// Whether the connection comes from one of `proxies`. An IPv4 peer seen as an
    /// IPv4-mapped IPv6 address is matched as IPv4.
    pub fn is_in(&self, proxies: &[ipnet::IpNet]) -> bool {
        let Some(ip) = self.0 else { return false };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        proxies.iter().any(|n| n.contains(&ip))
    }
}

/// Middleware: the headers every web page carries — a strict CSP (`csp`), no framing, no
/// referrer, no MIME sniffing, no caching.
pub async fn page_headers(csp: HeaderValue, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_tokens_and_peers() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; deskbot_reports=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, "deskbot_reports").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same("secret-token", "secret-token"));
        assert!(!same("secret-token", "secret-tokem"));
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b, "session ids are random");
        assert_ne!(id_hash(&a), a);
        let c = set_cookie("s", "v", "/reports", 60, true).unwrap();
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"), "{c}");
        assert!(!set_cookie("s", "v", "/reports", 60, false).unwrap().to_str().unwrap().contains("Secure"));
        let nets: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert!(Peer(Some("10.1.2.3".parse().unwrap())).is_in(&nets));
        assert!(Peer(Some("::ffff:10.1.2.3".parse().unwrap())).is_in(&nets));
        assert!(Peer(Some("::1".parse().unwrap())).is_in(&nets));
        assert!(!Peer(Some("192.168.1.1".parse().unwrap())).is_in(&nets));
        assert!(!Peer(None).is_in(&nets));
        assert!(!Peer(Some("10.1.2.3".parse().unwrap())).is_in(&[]));
    }
}
