//! The Events API on deskbot's HTTP server: `/slack/events`, `/slack/interactivity` and
//! `/slack/commands`. slack-morphism's layer checks the signature (HMAC-SHA256 over
//! `v0:timestamp:body`, constant-time, at most 5 minutes old); failures answer 401 and change
//! nothing. Each request is answered within Slack's 3 seconds: the event is committed first
//! when that is quick, otherwise the ack goes out and the work finishes behind it. An error
//! answers 500 so Slack retries (`X-Slack-Retry-Num`); the store's dedupe keeps it once.

use super::Client;
use super::handler::{HandleError, Handler};
use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::json;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::{SlackEventAbsentSignatureError, SlackEventSignatureVerifierError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Slack's payloads are a few kilobytes; anything far larger is refused before it is read.
const MAX_BODY: usize = 1024 * 1024;

/// How long a request may work before it is acknowledged anyway (Slack allows 3 s).
const ACK_WITHIN: Duration = Duration::from_millis(2500);

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Bad or missing signatures and stale timestamps: 401. Unreadable payloads: 400.
fn on_error(err: BoxError, _c: Arc<Client>, _s: SlackClientEventsUserState) -> StatusCode {
    let unsigned = err.downcast_ref::<SlackEventSignatureVerifierError>().is_some()
        || err.downcast_ref::<SlackEventAbsentSignatureError>().is_some()
        || err.downcast_ref::<axum::http::header::ToStrError>().is_some();
    if unsigned {
        tracing::warn!(error = %super::handler::short(&err), "slack request with a bad signature rejected");
        StatusCode::UNAUTHORIZED
    } else {
        tracing::warn!(error = %super::handler::short(&err), "unreadable slack request rejected");
        StatusCode::BAD_REQUEST
    }
}

/// Run `work`; answer with its result if it finishes in time, else acknowledge and let it finish.
async fn within_ack<T, F>(work: F, ok: impl FnOnce(T) -> Response) -> Response
where
    T: Send + 'static,
    F: Future<Output = Result<T, HandleError>> + Send + 'static,
{
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(ACK_WITHIN, &mut task).await {
        Ok(Ok(Ok(v))) => ok(v),
        Ok(Ok(Err(e))) => {
            tracing::error!(error = %e, "slack event not handled; Slack will retry");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "slack event handler crashed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => {
            tracing::warn!("slack event still being handled; acknowledged to meet the 3 s limit");
            StatusCode::OK.into_response()
        }
    }
}

fn retry_info(headers: &HeaderMap) -> Option<String> {
    let num = headers.get("x-slack-retry-num")?.to_str().ok()?;
    let reason = headers.get("x-slack-retry-reason").and_then(|v| v.to_str().ok()).unwrap_or("?");
    Some(format!("{num} ({reason})"))
}

async fn push(
    State(h): State<Arc<Handler>>,
    headers: HeaderMap,
    Extension(ev): Extension<SlackPushEvent>,
) -> Response {
    match ev {
        SlackPushEvent::UrlVerification(v) => Json(json!({ "challenge": v.challenge })).into_response(),
        SlackPushEvent::EventCallback(cb) => {
            if let Some(retry) = retry_info(&headers) {
                tracing::info!(event = %cb.event_id, retry, "slack redelivered an event");
            }
            within_ack(async move { h.push(cb).await }, |_| StatusCode::OK.into_response()).await
        }
        SlackPushEvent::AppRateLimited(_) => {
            tracing::warn!("slack is rate limiting events to deskbot");
            StatusCode::OK.into_response()
        }
    }
}

async fn interaction(
    State(h): State<Arc<Handler>>,
    Extension(ev): Extension<SlackInteractionEvent>,
) -> Response {
    within_ack(async move { h.interaction(ev).await }, |r| match r {
        SlackInteractionResponse::Empty => StatusCode::OK.into_response(),
        other => Json(other).into_response(),
    })
    .await
}

async fn command(State(h): State<Arc<Handler>>, Extension(ev): Extension<SlackCommandEvent>) -> Response {
    within_ack(async move { h.command(ev).await }, |note| {
        Json(json!({ "response_type": "ephemeral", "text": note })).into_response()
    })
    .await
}

/// The three endpoints, for deskbot's router.
pub fn routes(client: Arc<Client>, handler: Arc<Handler>, secret: &SlackSigningSecret) -> Router {
    let env = Arc::new(SlackClientEventsListenerEnvironment::new(client).with_error_handler(on_error));
    let listener: SlackEventsAxumListener<super::HttpsConn> = SlackEventsAxumListener::new(env);
    Router::new()
        .route(
            "/slack/events",
            post(push).layer(
                listener.events_layer(secret).with_event_extractor(SlackEventsExtractors::push_event()),
            ),
        )
        .route(
            "/slack/interactivity",
            post(interaction).layer(
                listener
                    .events_layer(secret)
                    .with_event_extractor(SlackEventsExtractors::interaction_event()),
            ),
        )
        .route(
            "/slack/commands",
            post(command).layer(
                listener.events_layer(secret).with_event_extractor(SlackEventsExtractors::command_event()),
            ),
        )
        .with_state(handler)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
}
