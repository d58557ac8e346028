//! Hot reload: watch the intents directory (recursively), debounce bursts of filesystem events,
//! reload in `spawn_blocking`, and swap the live catalog only when the new one loads cleanly.
//! A broken edit keeps the old catalog serving and reports the diagnostics.
use super::spans::file_diag;
use super::{Catalog, Diagnostics, LoadOptions, load_catalog};
use crate::domain::QueueName;
use arc_swap::ArcSwap;
use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The catalog every conversation reads; replaced whole on reload.
pub type LiveCatalog = Arc<ArcSwap<Catalog>>;

/// How long the directory must be quiet before a reload (editors write in bursts).
pub const DEBOUNCE: Duration = Duration::from_millis(300);

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
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DebounceEventResult>();
    let to_err = |source| WatchError { path: dir.clone(), source };
    let mut debouncer = new_debouncer(DEBOUNCE, move |res| {
        let _ = tx.send(res);
    })
    .map_err(to_err)?;
    debouncer.watcher().watch(&dir, RecursiveMode::Recursive).map_err(to_err)?;
    Ok(async move {
        let _debouncer = debouncer; // dropping it stops the watcher thread
        loop {
            let batch = tokio::select! {
                () = cancel.cancelled() => break,
                batch = rx.recv() => batch,
            };
            let relevant = match batch {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "intents watcher error");
                    continue;
                }
                Some(Ok(events)) => events.iter().any(|e| relevant_path(&e.path)),
            };
            // Coalesce whatever else arrived meanwhile into this reload.
            let mut relevant = relevant;
            while let Ok(more) = rx.try_recv() {
                relevant |= more.is_ok_and(|events| events.iter().any(|e| relevant_path(&e.path)));
            }
            if !relevant {
                continue;
            }
            let event = reload(&dir, &queues, &opts, &live).await;
            if !cancel.is_cancelled() {
                on_event(event);
            }
        }
    })
}

/// Reload once, swapping the live catalog on success.
pub async fn reload(dir: &Path, queues: &[QueueName], opts: &LoadOptions, live: &LiveCatalog) -> ReloadEvent {
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

/// Intents, articles and tests, or a directory; not editor swap and backup files.
fn relevant_path(path: &Path) -> bool {
    let hidden =
        path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.ends_with('~'));
    let ext = path.extension().and_then(|e| e.to_str());
    !hidden && matches!(ext, Some("toml" | "md") | None)
}

#[cfg(test)]
mod tests;
