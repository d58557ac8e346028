//! Socket Mode: slack-morphism opens the websocket (`apps.connections.open` with the app
//! token), reconnects after a dropped socket or a `disconnect` message, and acknowledges each
//! envelope after our callback returns. The callback commits the event; an error leaves the
//! envelope unacknowledged so Slack delivers it again.

use super::handler::{HandleError, Handler};
use super::{Client, Connector};
use slack_morphism::errors::*;
use slack_morphism::prelude::*;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the callbacks find in slack-morphism's user state.
#[derive(Clone)]
struct State {
    handler: Arc<Handler>,
    status: super::StatusHandle,
}

async fn state(s: &SlackClientEventsUserState) -> Result<State, BoxError> {
    let guard = s.read().await;
    guard.get_user_state::<State>().cloned().ok_or_else(|| "deskbot's Slack state is missing".into())
}

fn boxed(e: HandleError) -> BoxError {
    Box::new(e)
}

async fn on_push(
    ev: SlackPushEventCallback,
    _c: Arc<Client>,
    s: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let st = state(&s).await?;
    st.handler.push(ev).await.map_err(boxed)
}

async fn on_interaction(
    ev: SlackInteractionEvent,
    _c: Arc<Client>,
    s: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let st = state(&s).await?;
    st.handler.interaction(ev).await.map_err(boxed)
}

async fn on_command(
    ev: SlackCommandEvent,
    _c: Arc<Client>,
    s: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let st = state(&s).await?;
    let note = st.handler.command(ev).await.map_err(boxed)?;
    Ok(SlackCommandEventResponse::new(SlackMessageContent::new().with_text(note))
        .with_response_type(SlackMessageResponseType::Ephemeral))
}

async fn on_hello<E>(_ev: E, _c: Arc<Client>, s: SlackClientEventsUserState) {
    if let Ok(st) = state(&s).await {
        tracing::info!("slack socket connected");
        st.status.up("socket connected");
    }
}

/// Our own failures mean "deliver again" (no ack); connection trouble is only reported.
fn on_error(err: BoxError, _c: Arc<Client>, s: SlackClientEventsUserState) -> axum::http::StatusCode {
    if let Some(e) = err.downcast_ref::<HandleError>() {
        tracing::error!(error = %e, "slack event not handled; Slack will deliver it again");
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    }
    let text = super::handler::short(&err);
    tracing::warn!(error = %text, "slack socket mode error");
    if let Ok(guard) = s.try_read()
        && let Some(st) = guard.get_user_state::<State>()
        && err
            .downcast_ref::<SlackClientError>()
            .is_some_and(|e| matches!(e, SlackClientError::SocketModeProtocolError(_)))
    {
        st.status.down(&format!("socket: {text}"));
    }
    axum::http::StatusCode::OK
}

/// Start Socket Mode; it runs until `cancel`.
pub async fn start(
    client: Arc<Client>,
    handler: Arc<Handler>,
    status: super::StatusHandle,
    app_token: SlackApiToken,
    connections: u32,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> Result<(), String> {
    let callbacks = SlackSocketModeListenerCallbacks::<Connector>::new()
        .with_hello_events(on_hello)
        .with_push_events(on_push)
        .with_interaction_events(on_interaction)
        .with_command_events(on_command);
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(on_error)
            .with_user_state(State { handler, status }),
    );
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(connections)
        .with_initial_backoff_in_seconds(1)
        .with_reconnect_timeout_in_seconds(2);
    let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
    listener
        .listen_for(&app_token)
        .await
        .map_err(|e| format!("slack socket mode: {}", super::handler::short(&e)))?;
    listener.start().await;
    tracker.spawn(async move {
        cancel.cancelled().await;
        listener.shutdown().await;
        tracing::info!("slack socket closed");
    });
    Ok(())
}
