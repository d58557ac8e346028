//! `GET /metrics`: Prometheus text format. Gauges that describe stored state (outbox depth,
//! catalog size) are brought up to date at scrape time; counters and histograms are recorded
//! where things happen (see `observe.rs`).

use crate::service::LiveCatalog;
use crate::store::DynStore;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

#[derive(Clone)]
struct MetricsState {
    store: DynStore,
    catalog: LiveCatalog,
    handle: Option<PrometheusHandle>,
}

/// The `/metrics` route; installs the process's recorder if it is not yet.
pub fn router(store: DynStore, catalog: LiveCatalog) -> Router {
    let state = MetricsState { store, catalog, handle: crate::observe::install() };
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

async fn metrics(State(s): State<MetricsState>) -> Response {
    let Some(handle) = &s.handle else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed\n").into_response();
    };
    let started = std::time::Instant::now();
    match s.store.outbox_depth().await {
        Ok(depth) => metrics::gauge!("deskbot_outbox_depth_messages").set(depth as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the outbox depth"),
    }
    metrics::histogram!("deskbot_store_query_duration_seconds", "query" => "outbox_depth")
        .record(started.elapsed().as_secs_f64());
    metrics::gauge!("deskbot_catalog_intents").set(s.catalog.load().intents.len() as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::observe::render(handle))
        .into_response()
}
