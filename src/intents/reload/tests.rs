//! Hot reload against a real directory: edits show up, broken edits keep the old catalog.
use super::*;
use std::fs;
use tokio::sync::mpsc;

const INTENT: &str = "[[intent]]\nid = \"vpn_problem\"\nexamples = [\"vpn down\"]\nanswer = \"Reconnect.\"\nqueue = \"network\"\n";

fn load(dir: &Path) -> Catalog {
    match load_catalog(dir, &[], &LoadOptions::default()) {
        Ok(c) => c,
        Err(d) => panic!("{d}"),
    }
}

/// Wait (up to 10 s, no fixed sleeps) for the next reload event.
async fn next(rx: &mut mpsc::UnboundedReceiver<ReloadEvent>) -> ReloadEvent {
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(e)) => e,
        other => panic!("no reload event: {other:?}"),
    }
}

#[tokio::test]
async fn edits_are_picked_up_and_broken_edits_keep_the_old_catalog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("network.toml");
    fs::write(&file, INTENT).expect("write");
    let live: LiveCatalog = Arc::new(ArcSwap::from_pointee(load(dir.path())));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let task = watch(
        dir.path().to_path_buf(),
        vec![],
        LoadOptions::default(),
        live.clone(),
        cancel.clone(),
        move |e| {
            let _ = tx.send(e);
        },
    )
    .map(tokio::spawn)
    .expect("watch");

    let more = INTENT.replace("vpn_problem", "wifi_problem").replace("vpn down", "wifi down");
    fs::write(dir.path().join("wifi.toml"), &more).expect("write");
    let mut event = next(&mut rx).await;
    while !matches!(event, ReloadEvent::Reloaded { intents: 2, .. }) {
        event = next(&mut rx).await; // an editor may produce several bursts
    }
    assert!(live.load().intent("wifi_problem").is_some());

    fs::write(&file, INTENT.replace("queue = \"network\"", "queue = \"Not A Queue\"")).expect("write");
    let event = next(&mut rx).await;
    let ReloadEvent::Failed(diags) = event else { panic!("expected a failure, got {event:?}") };
    let shown = diags.to_string();
    assert!(shown.contains("network.toml:5:9: `Not A Queue` is not a queue name"), "{shown}");
    assert_eq!(live.load().intents.len(), 2, "the old catalog keeps serving");

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("watcher stops when cancelled")
        .expect("join");
}

#[test]
fn editor_backups_and_hidden_files_do_not_trigger_reloads() {
    for (path, want) in [
        ("intents/vpn.toml", true),
        ("intents/kb/vpn.md", true),
        ("intents/kb", true),
        ("intents/.vpn.toml.swp", false),
        ("intents/vpn.toml~", false),
        ("intents/notes.txt", false),
    ] {
        assert_eq!(relevant_path(Path::new(path)), want, "{path}");
    }
}
