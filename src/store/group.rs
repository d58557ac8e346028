//! Group commit: commits that arrive while the store is writing wait in a queue, and the next
//! write takes all of them (up to [`MAX_BATCH`]) into one transaction. Each commit keeps its own
//! outcome: its dedupe key, its conversation version check and its failures are judged on their
//! own (a savepoint, or a guarded statement, per commit; see `sql.rs`), so one event's duplicate,
//! conflict or error never touches another's. A lone commit runs as before, in a transaction of
//! its own.
//!
//! The batch is written by a task of its own, not by the caller: a caller that gives up waiting
//! (a dropped future) cannot abandon other callers' commits half-way.
//!
//! That task runs on a thread of its own ([`writer_runtime`]), not among the tasks that handle
//! events. The writer is the one place every commit of a process goes through, one after the
//! other, and each step of a write waits for the database to answer before it sends the next:
//! among the event tasks, each of those wake-ups could queue behind whatever the engine (or a
//! read on SQLite) was doing on the runtime's threads, leaving the writer idle while commits
//! piled up.

use super::{Commit, CommitOutcome, Result, StoreError};
use async_trait::async_trait;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Commits per transaction at most. PostgreSQL keeps up to 64 subtransactions of a transaction
/// in shared memory before it spills them; a batch stays well under that.
pub(crate) const MAX_BATCH: usize = 32;

/// Writes a batch: one outcome per commit, in order.
#[async_trait]
pub(crate) trait BatchWriter: Send + Sync + 'static {
    async fn write_batch(&self, commits: Vec<Commit>) -> Vec<Result<CommitOutcome>>;
}

struct Job {
    commit: Commit,
    done: oneshot::Sender<Result<CommitOutcome>>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A task is writing (and will take the queue once it is done).
    writing: bool,
}

/// The runtime the writers' tasks run on: one thread for the process, shared by every store it
/// opens, started on first use. It sleeps while nothing is being written. `None` if the thread
/// cannot be started; the writers then run among the other tasks.
fn writer_runtime() -> Option<Handle> {
    static RUNTIME: OnceLock<Option<Handle>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the writer's runtime; commits run with the other tasks");
                    return None;
                }
            };
            let handle = runtime.handle().clone();
            let started = std::thread::Builder::new()
                .name("deskbot-writer".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()));
            match started {
                Ok(_) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the writer's thread; commits run with the other tasks");
                    None
                }
            }
        })
        .clone()
}

/// The queue in front of one store's writer.
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
    writer: Arc<dyn BatchWriter>,
    /// Where the batches are written ([`writer_runtime`]); `None`: on the caller's runtime.
    runtime: Option<Handle>,
}

impl GroupCommit {
    pub(crate) fn new(writer: Arc<dyn BatchWriter>) -> Arc<Self> {
        Arc::new(Self { queue: Mutex::new(Queue::default()), writer, runtime: writer_runtime() })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start a task that writes the queue: on the writer's runtime, else on the caller's.
    fn start_drain(self: &Arc<Self>) {
        let group = self.clone();
        let drain = async move { group.drain().await };
        match self.runtime.clone().or_else(|| Handle::try_current().ok()) {
            Some(runtime) => drop(runtime.spawn(drain)),
            None => tracing::error!("no runtime to write commits on"),
        }
    }

    /// Queue `commit` and wait for its outcome.
    pub(crate) async fn commit(self: &Arc<Self>, commit: Commit) -> Result<CommitOutcome> {
        let (done, outcome) = oneshot::channel();
        let start = {
            let mut q = self.queue();
            q.jobs.push(Job { commit, done });
            !std::mem::replace(&mut q.writing, true)
        };
        if start {
            self.start_drain();
        }
        outcome.await.map_err(|_| StoreError::Database("the commit was abandoned (shutting down)".into()))?
    }

    /// Write batches until the queue is empty.
    async fn drain(self: Arc<Self>) {
        // Should the writer panic, the next commit must still find someone to write it.
        let mut guard = Restart(Some(self.clone()));
        loop {
            let jobs = {
                let mut q = self.queue();
                if q.jobs.is_empty() {
                    q.writing = false;
                    break;
                }
                let take = q.jobs.len().min(MAX_BATCH);
                q.jobs.drain(..take).collect::<Vec<_>>()
            };
            let (commits, senders): (Vec<Commit>, Vec<_>) =
                jobs.into_iter().map(|j| (j.commit, j.done)).unzip();
            let n = commits.len();
            metrics::histogram!("deskbot_store_commit_batch_size").record(n as f64);
            let mut outcomes = self.writer.write_batch(commits).await.into_iter();
            for done in senders {
                let outcome = outcomes
                    .next()
                    .unwrap_or_else(|| Err(StoreError::Database("the batch writer lost a commit".into())));
                // The caller may have stopped waiting; its commit stands either way.
                let _ = done.send(outcome);
            }
        }
        guard.0 = None;
    }
}

/// Disarmed when `drain` returns; armed only when it unwinds: hand the queue to a fresh task.
struct Restart(Option<Arc<GroupCommit>>);

impl Drop for Restart {
    fn drop(&mut self) {
        let Some(group) = self.0.take() else { return };
        let restart = {
            let mut q = group.queue();
            q.writing = !q.jobs.is_empty();
            q.writing
        };
        if restart {
            group.start_drain();
        }
    }
}
