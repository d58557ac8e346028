//! `POST /discord/interactions`: Discord's HTTP alternative to gateway interactions. Every
//! request must carry a valid Ed25519 signature (`X-Signature-Ed25519` over
//! `X-Signature-Timestamp` + body) made within the last five minutes, else 401 (Discord probes
//! this with forgeries). PING is answered with PONG; the rest is planned and committed like a
//! gateway interaction, and the response goes back in the HTTP answer.

use super::Adapter;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serenity::all::{CreateInteractionResponse, Interaction};
use serenity::interactions_endpoint::Verifier;
use std::sync::Arc;

pub const PATH: &str = "/discord/interactions";
/// Oldest signature timestamp accepted, in seconds (replay protection).
const MAX_AGE_SECS: i64 = 300;

#[derive(Clone)]
struct EndpointState {
    adapter: Arc<Adapter>,
    verifier: Arc<Verifier>,
}

pub fn router(adapter: Arc<Adapter>, verifier: Verifier) -> Router {
    Router::new()
        .route(PATH, post(interactions))
        .with_state(EndpointState { adapter, verifier: Arc::new(verifier) })
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn interactions(State(s): State<EndpointState>, headers: HeaderMap, body: Bytes) -> Response {
    let (Some(sig), Some(ts)) =
        (header(&headers, "x-signature-ed25519"), header(&headers, "x-signature-timestamp"))
    else {
        tracing::warn!("discord interaction without signature headers refused");
        return (StatusCode::UNAUTHORIZED, "missing signature").into_response();
    };
    if s.verifier.verify(sig, ts, &body).is_err() {
        tracing::warn!("discord interaction with a bad signature refused");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let now = s.adapter.service.now() / 1000;
    match ts.parse::<i64>() {
        Ok(t) if (now - t).abs() <= MAX_AGE_SECS => {}
        _ => {
            tracing::warn!(timestamp = ts, "discord interaction with a stale timestamp refused");
            return (StatusCode::UNAUTHORIZED, "stale signature timestamp").into_response();
        }
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "malformed discord interaction body");
            return (StatusCode::BAD_REQUEST, "malformed JSON").into_response();
        }
    };
    if value.get("type").and_then(serde_json::Value::as_u64) == Some(1) {
        return axum::Json(serde_json::json!({ "type": 1 })).into_response();
    }
    let interaction: Interaction = match serde_json::from_value(value) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "discord interaction not understood");
            return (StatusCode::BAD_REQUEST, "unsupported interaction").into_response();
        }
    };
    if !s.adapter.places.first_sight(&format!("interaction:{}", interaction.id())) {
        // Already handled (e.g. also delivered over the gateway): acknowledge without acting.
        return axum::Json(CreateInteractionResponse::Acknowledge).into_response();
    }
    let Some(plan) = s.adapter.plan(&interaction).await else {
        return (StatusCode::BAD_REQUEST, "unsupported interaction").into_response();
    };
    axum::Json(s.adapter.commit_plan(plan).await).into_response()
}
