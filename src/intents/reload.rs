//! Hot reload: watch the intents directory (recursively) for files being created, changed,
//! removed or renamed — never for reads, which the loader itself causes — debounce bursts,
//! reload in `spawn_blocking`, and swap the live catalog only when the new one loads cleanly.
//! A burst that leaves the files' contents as they were reloads nothing and logs nothing. A
//! broken edit keeps the old catalog serving and reports the diagnostics.
use super::spans::file_diag;
use super::{Catalog, Diagnostics, LoadOptions, load_catalog};
use crate::domain::QueueName;
use arc_swap::ArcSwap;
use notify::event::ModifyKind;
use notify::{Event, EventKind, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The catalog every conversation reads; replaced whole on reload.
pub type LiveCatalog = Arc<ArcSwap<Catalog>>;

/// How long the directory must be quiet before a reload (editors write in bursts).
pub const DEBOUNCE: Duration = Duration::from_millis(300);
/// Counts reloads that ran (the files' contents had changed), whether or not they loaded.
pub const RELOADS_METRIC: &str = "deskbot_intents_reloads_total";

#[derive(Debug, Clone)]
pub enum ReloadEvent {
    /// The new catalog is live.
    Reloaded { intents: usize, articles: usize },
    /// The edit does not load; the previous catalog keeps serving.
    Failed(Diagnostics),
}

impl std::fmt::Display for ReloadEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadEvent::Reloaded { intents, articles } => {
                write!(f, "intents reloaded: {intents} intents, {articles} articles")
            }
            ReloadEvent::Failed(d) => {
                write!(f, "intents reload failed; the previous version stays live:\n{d}")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot watch intents directory {}: {source}", path.display())]
pub struct WatchError {
    path: PathBuf,
    source: notify::Error,
}

/// Start watching `dir` now (so no edit made after this returns is missed) and return the task
/// to spawn. The task ends when `cancel` fires.
pub fn watch(
    dir: PathBuf,
    queues: Vec<QueueName>,
    opts: LoadOptions,
    live: LiveCatalog,
    cancel: CancellationToken,
    on_event: impl Fn(ReloadEvent) + Send + 'static,
) -> Result<impl Future<Output = ()> + Send + 'static, WatchError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let to_err = |source| WatchError { path: dir.clone(), source };
    // What the live catalog was loaded from, as far as the watcher can tell: read before the
    // watch starts, so an edit after this point is always seen as a change.
    let mut last = fingerprint(&dir);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) if is_edit(&event) => {
            let _ = tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "intents watcher error"),
    })
    .map_err(to_err)?;
    watcher.watch(&dir, RecursiveMode::Recursive).map_err(to_err)?;
    metrics::counter!(RELOADS_METRIC).increment(0);
    Ok(async move {
        let _watcher = watcher; // dropping it stops the watcher thread
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                edit = rx.recv() => if edit.is_none() { break },
            }
            // Wait until the directory has been quiet for DEBOUNCE (editors write in bursts).
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    edit = rx.recv() => if edit.is_none() { return },
                    () = tokio::time::sleep(DEBOUNCE) => break,
                }
            }
            let (d, prev) = (dir.clone(), last);
            let now = tokio::task::spawn_blocking(move || fingerprint(&d)).await.ok().flatten();
            if now.is_some() && now == prev {
                continue; // same contents (a touch, a save without changes): nothing to do
            }
            last = now;
            let event = reload(&dir, &queues, &opts, &live).await;
            if !cancel.is_cancelled() {
                on_event(event);
            }
        }
    })
}

/// Reload once, swapping the live catalog on success.
pub async fn reload(dir: &Path, queues: &[QueueName], opts: &LoadOptions, live: &LiveCatalog) -> ReloadEvent {
    metrics::counter!(RELOADS_METRIC).increment(1);
    let (d, q, o) = (dir.to_path_buf(), queues.to_vec(), opts.clone());
    match tokio::task::spawn_blocking(move || load_catalog(&d, &q, &o)).await {
        Ok(Ok(catalog)) => {
            let (intents, articles) = (catalog.intents.len(), catalog.articles.len());
            live.store(Arc::new(catalog));
            metrics::counter!("deskbot_catalog_reloads_total").increment(1);
            metrics::gauge!("deskbot_catalog_intents").set(intents as f64);
            ReloadEvent::Reloaded { intents, articles }
        }
        Ok(Err(diags)) => {
            metrics::counter!("deskbot_catalog_reload_errors_total").increment(1);
            ReloadEvent::Failed(diags)
        }
        Err(e) => ReloadEvent::Failed(Diagnostics(vec![file_diag(dir, format!("reload failed: {e}"))])),
    }
}

/// A change worth a look: a relevant file or directory created, written, removed or renamed
/// (or the kernel's queue overflowed, so anything may have changed). Opens, reads, closes and
/// metadata changes are not.
fn is_edit(event: &Event) -> bool {
    let changes = matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(
                ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any | ModifyKind::Other
            )
    );
    event.need_rescan() || (changes && event.paths.iter().any(|p| relevant_path(p)))
}

/// Intents, articles and tests, or a directory; not editor swap and backup files.
fn relevant_path(path: &Path) -> bool {
    let hidden =
        path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.ends_with('~'));
    let ext = path.extension().and_then(|e| e.to_str());
    !hidden && matches!(ext, Some("toml" | "md") | None)
}

/// SHA-256 over the relative path and contents of every relevant file under `dir`, in path
/// order; `None` when something cannot be read (then a reload runs and reports it).
fn fingerprint(dir: &Path) -> Option<[u8; 32]> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if !relevant_path(&path) {
                continue;
            }
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files).ok()?;
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(&f).to_string_lossy().into_owned();
        let bytes = std::fs::read(&f).ok()?;
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Some(h.finalize().into())
}

#[cfg(test)]
mod tests;
