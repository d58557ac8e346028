//! Leadership: which of several `deskbot run` processes on one database runs the timers
//! (SLA reminders, auto-close). On PostgreSQL the leader is the process holding a session-level
//! advisory lock on a connection it keeps for its whole life; the others retry every
//! [`RETRY_EVERY`] and one takes over within seconds of the leader dying (the server releases
//! the lock when the leader's connection closes). On SQLite there is one machine, so the
//! process is always the leader.
//!
//! The handle is independent of the `Store` trait: [`Leadership::start`] takes the database URL.

use crate::store::redact_url;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The advisory lock key every deskbot process contends for ("deskbot" + "timers", as bytes).
pub const LOCK_KEY: i64 = 0x6465_736b_7469_6d72;
/// How often a non-leader retries, and how often a leader checks its connection is alive.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);

/// A cheap, cloneable view of whether this process leads.
#[derive(Clone, Debug)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
}

impl Leadership {
    /// Start contending for leadership on the database `database_url` names, until `cancel`.
    /// The background task lives on the current tokio runtime; leadership is released (the
    /// connection closed) when it stops.
    pub fn start(database_url: &str, cancel: CancellationToken) -> Leadership {
        Self::start_with(database_url, RETRY_EVERY, cancel)
    }

    /// [`Leadership::start`] with a chosen retry interval (tests use a short one).
    pub fn start_with(database_url: &str, every: Duration, cancel: CancellationToken) -> Leadership {
        Self::spawn(database_url, every, cancel, None)
    }

    /// [`Leadership::start`], with the contending task tracked by `tracker` so shutdown waits
    /// for the connection (and with it the lock) to be released.
    pub fn start_tracked(database_url: &str, cancel: CancellationToken, tracker: &TaskTracker) -> Leadership {
        Self::spawn(database_url, RETRY_EVERY, cancel, Some(tracker))
    }

    fn spawn(
        database_url: &str,
        every: Duration,
        cancel: CancellationToken,
        tracker: Option<&TaskTracker>,
    ) -> Leadership {
        if !is_postgres(database_url) {
            return Self::always();
        }
        let (tx, rx) = watch::channel(false);
        let task = contend(database_url.to_string(), every, tx, cancel);
        match tracker {
            Some(t) => drop(t.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
        Leadership { rx }
    }

    /// A handle that always leads (one process on SQLite, or a test).
    pub fn always() -> Leadership {
        let (tx, rx) = watch::channel(true);
        // Keep the value readable after the sender is gone.
        drop(tx);
        Leadership { rx }
    }

    /// Does this process lead right now?
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// A receiver that changes when leadership is gained or lost.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }

    /// Wait until this process leads (returns at once if it does). `false` if the contending
    /// task stopped first.
    pub async fn wait_until_leader(&self) -> bool {
        let mut rx = self.rx.clone();
        rx.wait_for(|l| *l).await.is_ok()
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// The contending loop: (re)connect, try the lock, and while holding it check the connection.
async fn contend(url: String, every: Duration, tx: watch::Sender<bool>, cancel: CancellationToken) {
    let mut conn: Option<PgConnection> = None;
    loop {
        if conn.is_none() {
            conn = connect(&url).await;
        }
        let was_leading = *tx.borrow();
        let leading = match conn.as_mut() {
            None => false,
            Some(c) => match step(c, was_leading).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "leadership connection lost; will reconnect");
                    conn = None;
                    false
                }
            },
        };
        if leading != was_leading {
            if leading {
                tracing::info!("this process is now the leader (runs the timers)");
            } else {
                tracing::warn!("this process is no longer the leader");
            }
            tx.send_replace(leading);
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    tx.send_replace(false);
    if let Some(c) = conn {
        // Closing the session releases the advisory lock.
        let _ = c.close().await;
    }
}

/// One round on a live connection. A session-level advisory lock is held until the session
/// ends, so a leader only checks that its session is alive; a non-leader tries the lock.
async fn step(conn: &mut PgConnection, leading: bool) -> Result<bool, sqlx::Error> {
    if leading {
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        Ok(true)
    } else {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LOCK_KEY).fetch_one(&mut *conn).await
    }
}

async fn connect(url: &str) -> Option<PgConnection> {
    let options = match PgConnectOptions::from_str(url) {
        Ok(o) => o.application_name("deskbot-leader"),
        Err(e) => {
            tracing::error!(error = %e, url = %redact_url(url), "bad database URL; this process will never lead");
            return None;
        }
    };
    match PgConnection::connect_with(&options).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "cannot connect for leadership; retrying");
            None
        }
    }
}
