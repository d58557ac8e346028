//! `/portal/chat`: the same conversation as the person's DMs with deskbot, through the intake
//! router (a portal message is a DM from the chat identity the portal acts as, so a question
//! started here and continued in Slack is one conversation). The choices are real form
//! buttons; agents' replies arrive live over server-sent events (`/portal/chat/events`,
//! read by deskbot's own `chat.js`), and the page is rebuilt from the store on every load.

use super::pages::{self, ChoiceView, Line, LiveView};
use super::{MAX_TEXT_BYTES, message_page, unavailable};
use super::{
    PortalLookup, PortalState, Viewer, csrf_ok, csrf_refused, delivery_id, require, valid_delivery, when,
};
use crate::domain::{Address, ChatEvent, Input, Place};
use crate::http::session::Peer;
use crate::service::Handled;
use crate::service::router::{Taken, dm_conversation};
use crate::store::Speaker;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::time::Duration;

/// Lines of the conversation shown.
const SHOWN_LINES: i64 = 60;
/// How often a live connection looks for new lines.
const LIVE_POLL: Duration = Duration::from_secs(2);
/// How long one live connection lasts; the browser reconnects after it.
const LIVE_FOR: Duration = Duration::from_secs(300);

pub(super) const SCRIPT: &str = include_str!("../../../static/chat.js");

/// The conversation the portal's chat is for this viewer: their DM conversation.
fn conversation(v: &Viewer) -> String {
    dm_conversation(v.user.platform, &v.user.id)
}

async fn live_view(s: &PortalState, v: &Viewer) -> Result<LiveView, Response> {
    let key = conversation(v);
    let store = s.service.store();
    let kind = |e: crate::store::StoreError| unavailable(crate::service::error_kind(&e.into()));
    let stored = store.conversation_messages(&key, SHOWN_LINES).await.map_err(kind)?;
    let last = stored.iter().map(|m| m.id).max().unwrap_or(0);
    let lines = stored
        .into_iter()
        .filter_map(|m| {
            let (who, class) = match &m.turn.from {
                Speaker::Employee => ("You".to_string(), "me"),
                Speaker::Agent(name) => (format!("{name} (IT)"), "agent"),
                Speaker::Bot => ("Help desk bot".to_string(), "bot"),
                Speaker::Filer(_) | Speaker::System => return None,
            };
            Some(Line { who, class, at: when(m.turn.at), text: super::shown(&m.turn.from, m.turn.text) })
        })
        .collect();
    let state = store.load_conversation(&key).await.map_err(kind)?;
    let catalog = s.service.catalog().load();
    let choices = state
        .and_then(|c| serde_json::from_value::<crate::engine::ConversationState>(c.state).ok())
        .map(|st| crate::engine::choices_for(&st.state, &catalog))
        .unwrap_or_default()
        .into_iter()
        .map(|c| ChoiceView { id: c.id, label: c.label })
        .collect();
    Ok(LiveView { lines, choices, csrf: v.csrf.clone(), delivery: delivery_id(), last })
}

async fn chat_page(s: &PortalState, v: &Viewer, note: Option<String>, status: StatusCode) -> Response {
    let live = match live_view(s, v).await {
        Ok(l) => l,
        Err(res) => return res,
    };
    let page = pages::Chat { frame: v.frame(note), live, delivery: delivery_id() };
    v.respond(status, page.render())
}

pub(super) async fn page(State(s): State<PortalState>, peer: Peer, headers: HeaderMap) -> Response {
    match require(&s, peer, &headers).await {
        Ok(v) => chat_page(&s, &v, None, StatusCode::OK).await,
        Err(res) => res,
    }
}

/// The live part of the page alone (for `chat.js`).
pub(super) async fn live(State(s): State<PortalState>, peer: Peer, headers: HeaderMap) -> Response {
    let v = match require(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    match live_view(&s, &v).await {
        Ok(live) => v.respond(StatusCode::OK, pages::ChatFragment { live }.render()),
        Err(res) => res,
    }
}

#[derive(Deserialize)]
pub(super) struct SayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    delivery: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    choice: String,
}

pub(super) async fn say(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Form(f): Form<SayForm>,
) -> Response {
    let v = match require(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    if !csrf_ok(&v, &f.csrf) {
        return csrf_refused(&v);
    }
    if !valid_delivery(&f.delivery) {
        return chat_page(
            &s,
            &v,
            Some("That form is incomplete; please send it again.".into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    if f.text.len() > MAX_TEXT_BYTES || f.choice.len() > 200 {
        return message_page(StatusCode::BAD_REQUEST, Some(&v), "That is too long", &["Please shorten it."]);
    }
    // A DM from the chat identity the session acts as, to where deskbot answers them.
    let dm = Address::person(v.user.platform, &v.user.id);
    let input = if f.choice.is_empty() {
        if f.text.trim().is_empty() {
            return chat_page(&s, &v, Some("Type a message first.".into()), StatusCode::BAD_REQUEST).await;
        }
        Input::Message { id: f.delivery, text: f.text, mentions_bot: false, attachments: Vec::new() }
    } else {
        Input::Button { delivery: f.delivery, message: "portal".into(), value: f.choice }
    };
    let event = ChatEvent {
        platform: v.user.platform,
        place: Place::Direct { channel: dm.channel, thread: None },
        sender: v.user.id.clone(),
        sender_name: None,
        at: s.now(),
        input,
    };
    match s.service.take(event, &PortalLookup).await {
        Ok(Taken::Handled(Handled::Applied { .. } | Handled::Duplicate | Handled::Ignored)) => {
            let mut res = Redirect::to("/portal/chat").into_response();
            if let Some(c) = &v.cookie {
                res.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            res
        }
        Ok(taken) => {
            let note = taken.private_note().unwrap_or("Nothing was sent.").to_string();
            chat_page(&s, &v, Some(note), StatusCode::OK).await
        }
        Err(e) => {
            tracing::error!(error = %e, "portal: a chat message was not handled");
            unavailable("chat")
        }
    }
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    #[serde(default)]
    after: i64,
}

/// Server-sent events: `update` (data: the newest line's id) whenever the conversation has
/// lines after `after`. Each connection lasts at most [`LIVE_FOR`].
pub(super) async fn events(
    State(s): State<PortalState>,
    peer: Peer,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    let v = match require(&s, peer, &headers).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let key = conversation(&v);
    let store = s.service.store().clone();
    let deadline = tokio::time::Instant::now() + LIVE_FOR;
    let stream = futures_util::stream::unfold(q.after, move |mut after| {
        let store = store.clone();
        let key = key.clone();
        async move {
            while tokio::time::Instant::now() < deadline {
                match store.conversation_last_message(&key).await {
                    Ok(last) if last > after => {
                        after = last;
                        let ev = Event::default().event("update").data(last.to_string());
                        return Some((Ok::<_, std::convert::Infallible>(ev), after));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "portal: live updates cannot read the store");
                        return None;
                    }
                }
                tokio::time::sleep(LIVE_POLL).await;
            }
            None
        }
    });
    let mut res = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    if let Some(c) = &v.cookie {
        res.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    res
}
