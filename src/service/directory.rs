//! The live people directory (`[directory] source = "csv:PATH"`): read when first needed and
//! again whenever the file's modification time or size changes, so an HR export dropped in
//! place is picked up by the next request without a restart. An edit that does not parse is
//! logged (line numbers, never contents) and the previous good version stays live.

use crate::desk::directory::Directory;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What the file looked like when it was last read.
type Stamp = (Option<SystemTime>, u64);

pub struct LiveDirectory {
    path: PathBuf,
    current: Mutex<(Option<Stamp>, Arc<Directory>)>,
}

impl LiveDirectory {
    pub fn new(path: PathBuf) -> Self {
        Self { path, current: Mutex::new((None, Arc::new(Directory::default()))) }
    }

    /// Load now, reporting problems to the caller (at start, so a broken file is an error).
    pub fn load(path: PathBuf) -> Result<Self, String> {
        let live = Self::new(path);
        let text = std::fs::read_to_string(&live.path)
            .map_err(|e| format!("[directory] cannot read {}: {e}", live.path.display()))?;
        let d = Directory::parse_csv(&text)
            .map_err(|p| format!("[directory] {}: {}", live.path.display(), p.join("; ")))?;
        let stamp = stamp(&live.path);
        *live.current.lock().unwrap_or_else(|p| p.into_inner()) = (stamp, Arc::new(d));
        Ok(live)
    }

    /// The directory as the file holds it now (re-read when it changed).
    pub async fn get(&self) -> Arc<Directory> {
        let path = self.path.clone();
        let now = tokio::task::spawn_blocking(move || stamp(&path)).await.ok().flatten();
        {
            let cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
            if now.is_none() || cur.0 == now {
                return cur.1.clone();
            }
        }
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(&path)).await;
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match read {
            Ok(Ok(text)) => match Directory::parse_csv(&text) {
                Ok(d) => {
                    tracing::info!(people = d.len(), "directory reloaded");
                    *cur = (now, Arc::new(d));
                }
                Err(problems) => {
                    tracing::warn!(problems = %problems.join("; "), "directory edit does not load; the previous version stays live");
                    cur.0 = now;
                }
            },
            Ok(Err(e)) => {
                tracing::warn!(error = %e.kind(), "cannot read the directory; the previous version stays live")
            }
            Err(_) => tracing::warn!("directory read crashed; the previous version stays live"),
        }
        cur.1.clone()
    }
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok(), m.len()))
}
