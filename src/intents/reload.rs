//! Hot reload (interim shape; replaced by the watcher).
use super::{Catalog, Diagnostics, LoadOptions};
use crate::domain::QueueName;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub enum ReloadEvent {
    Reloaded { intents: usize, articles: usize },
    Failed(Diagnostics),
}

impl std::fmt::Display for ReloadEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadEvent::Reloaded { intents, articles } => {
                write!(f, "reloaded: {intents} intents, {articles} articles")
            }
            ReloadEvent::Failed(d) => write!(f, "reload failed, keeping the previous catalog:\n{d}"),
        }
    }
}

pub async fn watch(
    _dir: PathBuf,
    _queues: Vec<QueueName>,
    _opts: LoadOptions,
    _live: Arc<ArcSwap<Catalog>>,
    cancel: CancellationToken,
    _report: impl Fn(&ReloadEvent) + Send + Sync + 'static,
) -> Result<(), String> {
    cancel.cancelled().await;
    Ok(())
}
