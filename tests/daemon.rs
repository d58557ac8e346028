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

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// User plus system CPU time of a process so far, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3 (`state`);
    // utime and stime are fields 14 and 15, in clock ticks.
    let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    let ticks: f64 = rest[11].parse::<f64>().unwrap() + rest[12].parse::<f64>().unwrap();
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks / hz
}

/// The value of an unlabelled counter on /metrics, if it is there.
fn metric(page: &str, name: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `deskbot run` with hot reload on and no traffic for 10 s: the intents are never reloaded and
/// the process uses next to no CPU. Then an edit is still picked up.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn idle_daemon_reloads_nothing_and_uses_almost_no_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let intents = dir.path().join("intents");
    copy_dir(&support::starter_pack(), &intents);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("deskbot.log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .arg("run")
        .current_dir(dir.path())
        .env("DESKBOT_INTENTS_DIR", &intents)
        .env("DESKBOT_HOT_RELOAD", "true")
        .env("DESKBOT_HTTP__LISTEN", &addr)
        .env("DESKBOT_LOG_FORMAT", "human")
        .env_remove("DESKBOT_DATABASE_URL")
        .env_remove("DESKBOT_CONFIG")
        .env_remove("DESKBOT_AUDIT_KEY")
        .env_remove("DESKBOT_AUDIT_KEY_FILE")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut ready = String::new();
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            ready = get(&addr, "/readyz").await;
            if ready.contains("\"ready\":true") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready.contains("\"ready\":true"), "daemon did not come up: {ready}");
    let page = get(&addr, "/metrics").await;
    assert_eq!(metric(&page, "deskbot_intents_reloads_total"), Some(0.0), "the watcher is on: {page}");

    let before = cpu_seconds(pid);
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let used = cpu_seconds(pid) - before;
    let page = get(&addr, "/metrics").await;
    assert_eq!(metric(&page, "deskbot_intents_reloads_total"), Some(0.0), "{page}");
    assert!(used < 0.5, "an idle daemon used {used:.2} s of CPU in 10 s");

    // The watcher was live all along: a real edit is reloaded (and counted) once.
    let file = intents.join("zz_idle_test.toml");
    std::fs::write(
        &file,
        "[[intent]]\nid = \"idle_probe\"\nexamples = [\"idle probe\"]\nanswer = \"ok\"\nqueue = \"service-desk\"\n",
    )
    .unwrap();
    let log_text = || std::fs::read_to_string(dir.path().join("deskbot.log")).unwrap();
    for _ in 0..200 {
        if log_text().contains("intents reloaded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reloads = metric(&get(&addr, "/metrics").await, "deskbot_intents_reloads_total");
    child.kill().unwrap();
    child.wait().unwrap();
    let logged = log_text();
    assert_eq!(reloads, Some(1.0), "the edit was reloaded once:\n{logged}");
    assert_eq!(logged.matches("intents reloaded").count(), 1, "{logged}");
}
