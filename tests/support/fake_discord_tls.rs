//! The fake Discord's REST side over TLS as `discord.com` (a self-signed certificate), so
//! serenity can be tested with its own rate limiter on: the rate limiter only talks to
//! Discord's real host name, which a test client resolves to the fake.

use super::FakeDiscord;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A self-signed certificate for `discord.com` (P-256, valid until 2126) and its key.
pub const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBrDCCAVOgAwIBAgIUZfkbQNCV6nZxN/1GjWVkbTHHpbYwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLZGlzY29yZC5jb20wIBcNMjYxMTI1MDcyMzUwWhgPMjEyNjEx
MDEwNzIzNTBaMBYxFDASBgNVBAMMC2Rpc2NvcmQuY29tMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAESwDQkNaHNEF8STdWZTvgpZGSXzbFd4nTpNF+25m0/dJxVpYh
NCjvH9Dy86DqUOdV8bq6gCmO63Y1FkwbUYs8OKN9MHswHQYDVR0OBBYEFAQRAxF2
IBA3N5wuQDfI+oymAZaQMB8GA1UdIwQYMBaAFAQRAxF2IBA3N5wuQDfI+oymAZaQ
MBYGA1UdEQQPMA2CC2Rpc2NvcmQuY29tMAwGA1UdEwEB/wQCMAAwEwYDVR0lBAww
CgYIKwYBBQUHAwEwCgYIKoZIzj0EAwIDRwAwRAIgIThO+1hPXguoXMCSpm1Sr8Vd
L3DnqA+OmS1e/vHletgCIDPzGw1H5c6SIPOAWfGKCY/rObomtAWC9QtfJ3+ovo10
-----END CERTIFICATE-----
";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnI9xsAUer/a9ohHI
l6w8n9IXJsRakqz2LbD9/EkmX/uhRANCAARLANCQ1oc0QXxJN1ZlO+ClkZJfNsV3
idOk0X7bmbT90nFWliE0KO8f0PLzoOpQ51XxurqAKY7rdjUWTBtRizw4
-----END PRIVATE KEY-----
";

impl FakeDiscord {
    /// Serve the REST routes over TLS on another local port; returns it.
    pub async fn serve_tls(&self) -> SocketAddr {
        let cert = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).expect("test certificate");
        let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).expect("test key");
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("TLS config");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, router) = (acceptor.clone(), router.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        addr
    }

    /// A reqwest client that trusts the fake's certificate and finds `discord.com` at `addr`.
    pub fn tls_client(addr: SocketAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .resolve("discord.com", addr)
            .add_root_certificate(
                reqwest::Certificate::from_pem(CERT_PEM.as_bytes()).expect("test certificate"),
            )
            .build()
            .expect("client")
    }
}
