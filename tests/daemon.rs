//! `deskbot run` in-process: the HTTP health endpoints answer, and the shutdown signal stops
//! every task cleanly.

mod support;

use deskbot::app::{self, App};
use deskbot::config::{Config, Sources};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn get(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    buf
}

#[tokio::test]
async fn daemon_serves_health_and_stops_on_signal() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config =
        Config::load_from(&Sources { file: None, data_dir: Some(dir.path().into()) }, &[]).unwrap();
    config.intents_dir = support::starter_pack();
    config.http.listen = format!("127.0.0.1:{port}");
    let app = App::build(config).await.unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app::run(app, Vec::new(), shutdown.clone()));
    let addr = format!("127.0.0.1:{port}");
    let mut health = String::new();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            health = get(&addr, "/healthz").await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = get(&addr, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200") && ready.contains("\"ready\":true"), "{ready}");
    shutdown.cancel();
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), running).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "daemon did not stop cleanly: {done:?}");
}
