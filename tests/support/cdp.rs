//! A headless Chromium driven over the DevTools protocol, shared by the browser tests of the
//! portal and the reports page.
#![allow(dead_code)]

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DESKBOT_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Kills the child when dropped, so a failing test leaves no browser or daemon behind.
pub struct Child(pub tokio::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// A DevTools protocol connection, flattened sessions on one socket.
pub struct Cdp {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub next: u64,
    pub events: Vec<Value>,
    pub session: Option<String>,
}

impl Cdp {
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            let v = self.read().await;
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    pub async fn read(&mut self) -> Value {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("DevTools connection ended: {other:?}"),
            }
        }
    }

    pub async fn wait_event(&mut self, method: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == json!(method)) {
            return self.events.remove(i);
        }
        loop {
            let v = self.read().await;
            if v["method"] == json!(method) {
                return v;
            }
            self.events.push(v);
        }
    }

    /// Navigate (or run `script` that navigates) and wait until the new page has loaded.
    pub async fn load(&mut self, url: Option<&str>, script: Option<&str>) {
        self.events.clear();
        match (url, script) {
            (Some(url), _) => {
                self.call("Page.navigate", json!({ "url": url })).await;
            }
            (None, Some(js)) => {
                self.eval(js).await;
            }
            (None, None) => {
                self.call("Page.reload", json!({})).await;
            }
        }
        self.wait_event("Page.loadEventFired").await;
    }

    pub async fn eval(&mut self, js: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({ "expression": js, "returnByValue": true })).await;
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    pub async fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        let scale = if mobile { 2 } else { 1 };
        let p = json!({ "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile });
        self.call("Emulation.setDeviceMetricsOverride", p).await;
    }

    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let r = self
            .call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true }))
            .await;
        let png = base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}: not a real screenshot");
        let path = artifacts().join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}
