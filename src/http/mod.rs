//! deskbot's HTTP server (axum): `/healthz` (the process is alive) and `/readyz` (the
//! database answers, a catalog is loaded and every chat channel is connected). Platform endpoints are mounted beside these.

pub mod metrics;
pub mod reports;

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
use tokio::net::TcpListener;
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

/// Serve until `cancel` fires, then finish in-flight requests.
pub async fn serve(listener: TcpListener, app: Router, cancel: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(async move { cancel.cancelled().await }).await
}
