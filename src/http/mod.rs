//! deskbot's HTTP server (axum on hyper): `/healthz` (the process is alive) and `/readyz` (the
//! database answers, a catalog is loaded and every chat channel is connected). Platform
//! endpoints, the reports page (`reports.rs`) and the employees' portal (`portal/`) are
//! mounted beside these. Every wait is bounded: at most [`MAX_CONNECTIONS`]
//! connections at once (further ones wait in the listen backlog), request headers must
//! arrive within [`HEADER_READ_TIMEOUT`] (which also closes idle keep-alive connections), and
//! a whole request, body included, is answered within [`REQUEST_TIMEOUT`] (else 408).

pub mod metrics;
pub mod portal;
pub mod reports;
pub mod session;

use crate::domain::status::ChannelStatuses;
use crate::service::LiveCatalog;
use crate::store::DynStore;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct HttpState {
    pub store: DynStore,
    pub catalog: LiveCatalog,
    /// Chat channels report their connection here.
    pub channels: Arc<ChannelStatuses>,
}

pub fn router(state: HttpState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(state)
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn readyz(State(s): State<HttpState>) -> impl IntoResponse {
    let db = s.store.ping().await;
    let catalog = s.catalog.load();
    let intents = catalog.intents.len();
    let mut not_ready = Vec::new();
    if let Err(e) = &db {
        tracing::warn!(error = %e, "readiness: database not reachable");
        not_ready.push("database");
    }
    if intents == 0 {
        not_ready.push("catalog");
    }
    let channels = s.channels.snapshot();
    let down: Vec<String> =
        channels.iter().filter(|(_, c)| !c.up).map(|(n, _)| format!("channel:{n}")).collect();
    let mut not_ready: Vec<String> = not_ready.into_iter().map(str::to_string).collect();
    not_ready.extend(down);
    let body = json!({
        "ready": not_ready.is_empty(),
        "database": db.is_ok(),
        "catalog": { "intents": intents, "articles": catalog.articles.len() },
        "channels": channels,
        "not_ready": not_ready,
    });
    let code = if not_ready.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a client has to send a request's headers (and how long a kept-alive
/// connection may sit idle).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take, reading its body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve until `cancel` fires, then finish in-flight requests (for up to 10 s).
/// Handlers can read the peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(listener: TcpListener, app: Router, cancel: CancellationToken) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).keep_alive(true);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = cancel.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                app.clone().oneshot(req)
            });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Client resets and timeouts end here; they are the client's business.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "http connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("http requests still running at shutdown were cut off");
    }
    Ok(())
}
