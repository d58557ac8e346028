//! Outgoing webhooks: ticket events are POSTed, signed with HMAC-SHA256 over the body, and
//! retried through the outbox when the receiver fails; each event arrives once.

mod support;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use deskbot::adapters::webhook::{
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, WebhookChannel, signature,
};
use deskbot::domain::{Address, Platform, TicketNumber, UserRef};
use deskbot::domain::{Channel, Inbound, InboundKind};
use deskbot::outbox::Outbox;
use std::sync::{Arc, Mutex};
use support::test_channel::TestChannel;
use support::{TestApp, TestClock};

type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let mut v = sink.lock().unwrap();
                v.push((headers, body.to_vec()));
                // The very first delivery fails, to exercise the retry.
                if v.len() == 1 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test]
async fn ticket_events_are_signed_retried_and_delivered_once() {
    let (url, got) = receiver().await;
    let mut toml = format!(
        "[[webhook]]\nname = \"itsm\"\nurl = \"{url}\"\nsecret = \"s3cret\"\n\n[[queue]]\nname = \"service-desk\"\nchannel = {{ test = \"agents\" }}\nagents = [\"test:kim\"]\n"
    );
    for q in ["identity", "network", "hardware", "software", "access", "security", "facilities"] {
        toml.push_str(&format!("\n[[queue]]\nname = \"{q}\"\n"));
    }
    let clock = TestClock::at(1_800_000_000_000);
    let t = TestApp::with_config(&toml, clock.clock()).await;
    let hooks: Arc<dyn Channel> = Arc::new(WebhookChannel::new(&t.app.config.webhook).unwrap());
    let chat: Arc<dyn Channel> = Arc::new(TestChannel::default());
    let outbox = Outbox::new(t.app.store.clone(), vec![chat, hooks], 8, clock.clock());
    for (i, text) in ["the coffee machine on floor 3 is leaking", "1"].iter().enumerate() {
        let inbound = Inbound {
            event_id: format!("w-{i}"),
            user: UserRef::new(Platform::Test, "erin"),
            display_name: Some("Erin".into()),
            conversation: "test:erin".into(),
            reply_to: Address::new(Platform::Test, "erin-dm"),
            kind: InboundKind::Message { text: text.to_string() },
            at: 0,
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        t.app.service.handle(inbound).await.unwrap();
    }
    let first = outbox.deliver_due().await.unwrap();
    assert_eq!(first.retried, 1, "the failed webhook is retried later");
    clock.advance(5_000);
    outbox.deliver_due().await.unwrap();
    t.app.service.resolve_ticket(TicketNumber(1001), "kim", Some("fixed".into())).await.unwrap();
    outbox.deliver_due().await.unwrap();

    let got = got.lock().unwrap();
    assert_eq!(got.len(), 3, "one failure, then created and resolved once each");
    assert_eq!(got[0].0[DELIVERY_HEADER], got[1].0[DELIVERY_HEADER], "a retry carries the same delivery key");
    for (headers, body) in got.iter() {
        assert_eq!(headers[SIGNATURE_HEADER].to_str().unwrap(), signature("s3cret", body));
    }
    let created: serde_json::Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(got[1].0[EVENT_HEADER], "ticket.created");
    assert_eq!(created["ticket"]["number"], 1001);
    assert_eq!(created["ticket"]["title"], "the coffee machine on floor 3 is leaking");
    let resolved: serde_json::Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(resolved["event"], "ticket.resolved");
    assert_eq!(resolved["ticket"]["status"], "resolved");
}

#[test]
fn webhook_config_errors_are_clear() {
    use deskbot::adapters::webhook::WebhookConfig;
    let base = WebhookConfig {
        name: "x".into(),
        url: "ftp://x".into(),
        secret: Some("s".into()),
        secret_file: None,
        events: vec![],
    };
    assert!(base.validate().unwrap_err().contains("https://"));
    let no_secret = WebhookConfig { url: "https://x".into(), secret: None, ..base.clone() };
    assert!(no_secret.validate().unwrap_err().contains("secret"));
    let bad_event = WebhookConfig { url: "https://x".into(), events: vec!["ticket.exploded".into()], ..base };
    assert!(bad_event.validate().unwrap_err().contains("ticket.exploded"));
}
