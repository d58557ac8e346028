//! The Events API on deskbot's HTTP server: `/slack/events`, `/slack/interactivity` and
//! `/slack/commands`. slack-morphism's layer checks the signature (HMAC-SHA256 over
//! `v0:timestamp:body`, constant-time, at most 5 minutes old); failures answer 401 and change
//! nothing. A signed payload that cannot be read answers 400 and is counted, logged by kind
//! only. A request is answered 2xx only once its event is committed: if that takes longer
//! than 2.5 s (Slack gives up at 3 s) or fails, the answer is 503/500 and Slack delivers the
//! event again (`X-Slack-Retry-Num`). The first run may still finish and commit; the store's
//! dedupe key then makes the retry a duplicate, never a second ticket.

use super::Client;
use super::calls::boxed_kind;
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

/// How long a request may work before it is answered "not yet" (Slack allows 3 s).
const ACK_WITHIN: Duration = Duration::from_millis(2500);

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Bad or missing signatures and stale timestamps: 401. Unreadable payloads: 400.
fn on_error(err: BoxError, _c: Arc<Client>, _s: SlackClientEventsUserState) -> StatusCode {
    let unsigned = err.downcast_ref::<SlackEventSignatureVerifierError>().is_some()
        || err.downcast_ref::<SlackEventAbsentSignatureError>().is_some()
        || err.downcast_ref::<axum::http::header::ToStrError>().is_some();
    let kind = boxed_kind(err.as_ref());
    if unsigned {
        tracing::warn!(error = %kind, "slack request with a bad signature rejected");
        crate::observe::event_rejected("slack", "signature");
        StatusCode::UNAUTHORIZED
    } else {
        tracing::warn!(error = %kind, "unreadable slack request rejected");
        crate::observe::event_rejected("slack", "unreadable");
        StatusCode::BAD_REQUEST
    }
}

/// Run `work`; answer with its result if it finishes in time. Otherwise answer 503 (not
/// acknowledged: Slack retries) and let it finish behind the answer.
async fn within_ack<T, F>(what: &'static str, id: String, work: F, ok: impl FnOnce(T) -> Response) -> Response
where
    T: Send + 'static,
    F: Future<Output = Result<T, HandleError>> + Send + 'static,
{
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(ACK_WITHIN, &mut task).await {
        Ok(Ok(Ok(v))) => ok(v),
        Ok(Ok(Err(e))) => {
            tracing::error!(what, id, error = %e.kind(), "slack event not handled; not acknowledged, Slack will retry");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Ok(Err(_)) => {
            tracing::error!(what, id, "slack event handler crashed; not acknowledged, Slack will retry");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => {
            tracing::warn!(
                what,
                id,
                "slack event not committed within 2.5 s; not acknowledged, Slack will retry"
            );
            metrics::counter!("deskbot_events_deferred_total", "platform" => "slack").increment(1);
            tokio::spawn(async move {
                match task.await {
                    Ok(Ok(_)) => {
                        tracing::debug!(what, id, "slow slack event committed; its retry will be a duplicate")
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(what, id, error = %e.kind(), "slow slack event failed; Slack will retry")
                    }
                    Err(_) => tracing::error!(what, id, "slow slack event handler crashed; Slack will retry"),
                }
            });
            StatusCode::SERVICE_UNAVAILABLE.into_response()
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
            let id = cb.event_id.to_string();
            within_ack("event", id, async move { h.push(cb).await }, |_| StatusCode::OK.into_response()).await
        }
        SlackPushEvent::AppRateLimited(_) => {
            tracing::warn!("slack is rate limiting events to deskbot");
            StatusCode::OK.into_response()
        }
    }
}

/// An id to name an interaction by in logs (its trigger, or its view).
fn interaction_id(ev: &SlackInteractionEvent) -> String {
    match ev {
        SlackInteractionEvent::BlockActions(b) => b.trigger_id.to_string(),
        SlackInteractionEvent::MessageAction(a) => a.trigger_id.to_string(),
        SlackInteractionEvent::Shortcut(s) => s.trigger_id.to_string(),
        SlackInteractionEvent::ViewSubmission(v) => v.view.state_params.id.to_string(),
        _ => String::new(),
    }
}

async fn interaction(
    State(h): State<Arc<Handler>>,
    Extension(ev): Extension<SlackInteractionEvent>,
) -> Response {
    within_ack("interaction", interaction_id(&ev), async move { h.interaction(ev).await }, |r| match r {
        SlackInteractionResponse::Empty => StatusCode::OK.into_response(),
        other => Json(other).into_response(),
    })
    .await
}

async fn command(State(h): State<Arc<Handler>>, Extension(ev): Extension<SlackCommandEvent>) -> Response {
    let id = ev.trigger_id.to_string();
    within_ack("command", id, async move { h.command(ev).await }, |note| {
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
