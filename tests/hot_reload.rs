//! Hot reload under a running app: an edit to the intents directory takes effect within about
//! a second without losing the conversation in progress; a broken edit keeps the last good
//! catalog and reports file:line:col.

mod support;

use deskbot::app::{App, ChatOptions};
use deskbot::config::{Config, Sources};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn copy_dir(from: &Path, to: &Path) {
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

async fn wait_for(mut ok: impl FnMut() -> bool) -> bool {
    for _ in 0..600 {
        if ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn edits_apply_live_and_broken_edits_keep_the_last_good_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let intents = dir.path().join("intents");
    copy_dir(&support::starter_pack(), &intents);
    let mut config =
        Config::load_from(&Sources { file: None, data_dir: Some(dir.path().into()) }, &[]).unwrap();
    config.intents_dir = intents.clone();
    let app = App::build(config).await.unwrap();
    let tracker = TaskTracker::new();
    let cancel = CancellationToken::new();
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = events.clone();
    app.spawn_hot_reload(&tracker, cancel.clone(), move |ev| sink.lock().unwrap().push(ev.to_string()));

    let out = support::Captured::default();
    let opts = ChatOptions { user: "ann".into(), interactive: false };
    deskbot::app::chat(
        &app,
        &opts,
        &b"the coffee machine on floor 3 is leaking\n"[..],
        Box::new(out.clone()),
    )
    .await
    .unwrap();
    assert!(out.take().contains("File a ticket"));

    // A new intent appears while the offer is pending.
    let before = app.catalog.load().intents.len();
    std::fs::write(
        intents.join("kitchen.toml"),
        "[[intent]]\nid = \"coffee_machine\"\ndescription = \"Coffee machine problems\"\n\
         examples = [\"coffee machine is broken\", \"the coffee machine leaks\", \"no coffee from the machine\"]\n\
         patterns = ['(?i)coffee machine']\nanswer = \"Call facilities on 555.\"\nqueue = \"facilities\"\n",
    )
    .unwrap();
    assert!(
        wait_for(|| app.catalog.load().intents.len() == before + 1).await,
        "reload: {:?}",
        events.lock().unwrap()
    );
    // The conversation in progress survived: "1" still files the offered ticket.
    deskbot::app::chat(&app, &opts, &b"1\n"[..], Box::new(out.clone())).await.unwrap();
    assert!(out.take().contains("IT-1001"));
    let next = b"new question\nthe coffee machine on floor 2 is broken\n";
    deskbot::app::chat(&app, &opts, &next[..], Box::new(out.clone())).await.unwrap();
    assert!(out.take().contains("Call facilities on 555."));

    // A broken edit: reported with file:line:col, the last good catalog stays live.
    std::fs::write(intents.join("kitchen.toml"), "[[intent]]\nid = \"coffee_machine\"\nexamples = [\n")
        .unwrap();
    assert!(
        wait_for(|| events.lock().unwrap().iter().any(|e| e.contains("kitchen.toml:"))).await,
        "{events:?}"
    );
    assert_eq!(app.catalog.load().intents.len(), before + 1);
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
}
