//! Shared test helpers: `TestApp` boots the real application from config with a fresh
//! SQLite database and the shipped starter pack, and captures what the console prints.
#![allow(dead_code)]

pub mod discord_spec;
pub mod fake_discord;
pub mod test_channel;

use deskbot::app::{self, App, ChatOptions};
use deskbot::config::{Config, Sources};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A `Write` whose bytes the test can read back.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything printed since the last call.
    pub fn take(&self) -> String {
        let mut v = self.0.lock().unwrap();
        let s = String::from_utf8_lossy(&v).into_owned();
        v.clear();
        s
    }
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn starter_pack() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("intents")
}

pub struct TestApp {
    pub app: App,
    pub dir: tempfile::TempDir,
    pub out: Captured,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_intents(starter_pack()).await
    }

    /// The app from a `deskbot.toml` text, with a clock the test controls.
    pub async fn with_config(toml: &str, clock: deskbot::service::Clock) -> TestApp {
        Self::with_config_in(|_| toml.to_string(), |_, _| {}, clock).await
    }

    /// The app from the `deskbot.toml` text `toml` writes for the app's fresh data directory
    /// (it may put files there the config names), with a clock the test controls. The config
    /// has the starter pack and no hot reload unless `adjust` changes it before the app is built.
    pub async fn with_config_in(
        toml: impl FnOnce(&Path) -> String,
        adjust: impl FnOnce(&mut Config, &Path),
        clock: deskbot::service::Clock,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("deskbot.toml");
        std::fs::write(&file, toml(dir.path())).unwrap();
        let mut config =
            Config::load_from(&Sources { file: Some(file), data_dir: Some(dir.path().into()) }, &[]).unwrap();
        config.intents_dir = starter_pack();
        config.hot_reload = false;
        adjust(&mut config, dir.path());
        let app = App::build_with_clock(config, clock).await.unwrap();
        TestApp { app, dir, out: Captured::default() }
    }

    pub async fn with_intents(intents: PathBuf) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            Config::load_from(&Sources { file: None, data_dir: Some(dir.path().into()) }, &[]).unwrap();
        config.intents_dir = intents;
        config.hot_reload = false;
        let app = App::build(config).await.unwrap();
        TestApp { app, dir, out: Captured::default() }
    }

    /// Send lines as `user` through the console channel; returns what the bot printed.
    pub async fn chat(&self, user: &str, lines: &[&str]) -> String {
        let mut input = lines.join("\n").into_bytes();
        if !lines.is_empty() {
            input.push(b'\n');
        }
        let opts = ChatOptions { user: user.to_string(), interactive: false };
        app::chat(&self.app, &opts, &input[..], Box::new(self.out.clone())).await.unwrap();
        self.out.take()
    }
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct TestClock(pub Arc<std::sync::atomic::AtomicI64>);

impl TestClock {
    pub fn at(ms: i64) -> Self {
        TestClock(Arc::new(std::sync::atomic::AtomicI64::new(ms)))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn clock(&self) -> deskbot::service::Clock {
        let t = self.0.clone();
        Arc::new(move || t.load(std::sync::atomic::Ordering::SeqCst))
    }
}

pub mod fake_idp;
pub mod fake_slack;
pub mod requests;
pub mod slack_bot;
pub mod slack_spec;
pub mod web;

/// A clock that runs with real time from where the test last put it: a running daemon sees
/// time pass (and what a CLI command run beside it records is due at once), and the test
/// jumps it forward to reach a timer days away.
#[derive(Clone, Default)]
pub struct RunningClock(pub Arc<std::sync::atomic::AtomicI64>);

impl RunningClock {
    fn real() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
    /// Now, as the app sees it.
    pub fn now(&self) -> i64 {
        Self::real() + self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// From now on the clock reads `ms`, and runs on from there.
    pub fn set(&self, ms: i64) {
        self.0.store(ms - Self::real(), std::sync::atomic::Ordering::SeqCst);
    }
    pub fn clock(&self) -> deskbot::service::Clock {
        let offset = self.0.clone();
        Arc::new(move || Self::real() + offset.load(std::sync::atomic::Ordering::SeqCst))
    }
}
