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

#[test]
fn only_creates_writes_removes_and_renames_of_relevant_files_count_as_edits() {
    use notify::event::{
        AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode,
    };
    let ev = |kind: EventKind, path: &str| Event::new(kind).add_path(PathBuf::from(path));
    for (event, want) in [
        (ev(EventKind::Access(AccessKind::Open(AccessMode::Any)), "i/vpn.toml"), false),
        (ev(EventKind::Access(AccessKind::Close(AccessMode::Read)), "i/kb/vpn.md"), false),
        (ev(EventKind::Access(AccessKind::Close(AccessMode::Write)), "i/vpn.toml"), false),
        (ev(EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)), "i/vpn.toml"), false),
        (ev(EventKind::Create(CreateKind::File), "i/.vpn.toml.swp"), false),
        (ev(EventKind::Modify(ModifyKind::Data(DataChange::Any)), "i/notes.txt"), false),
        (ev(EventKind::Create(CreateKind::File), "i/vpn.toml"), true),
        (ev(EventKind::Modify(ModifyKind::Data(DataChange::Any)), "i/kb/vpn.md"), true),
        (ev(EventKind::Modify(ModifyKind::Name(RenameMode::To)), "i/vpn.toml"), true),
        (ev(EventKind::Remove(RemoveKind::File), "i/vpn.toml"), true),
        (ev(EventKind::Remove(RemoveKind::Folder), "i/kb"), true),
        (Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan), true),
    ] {
        assert_eq!(is_edit(&event), want, "{event:?}");
    }
}

#[tokio::test]
async fn reads_and_identical_saves_reload_nothing_and_a_real_edit_still_does() {
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

    // Reads (as the loader makes), a save of the same bytes, a touch: no reload.
    for _ in 0..5 {
        fs::read_to_string(&file).expect("read");
        let _ = load(dir.path());
    }
    fs::write(&file, INTENT).expect("write the same");
    // A separate burst, later: had anything above reloaded, its event would come first.
    tokio::time::sleep(DEBOUNCE * 3).await;
    let more = INTENT.replace("vpn_problem", "wifi_problem").replace("vpn down", "wifi down");
    fs::write(dir.path().join("wifi.toml"), &more).expect("write");
    let event = next(&mut rx).await;
    assert!(matches!(event, ReloadEvent::Reloaded { intents: 2, .. }), "{event:?}");
    assert!(rx.try_recv().is_err(), "one reload for the burst");

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("watcher stops when cancelled")
        .expect("join");
}
