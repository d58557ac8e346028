//! Whether each chat channel is connected, for `/readyz` and the logs. Adapters report into
//! it as they connect, lose and regain their connections.

use crate::domain::Millis;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One channel's last reported state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelStatus {
    pub up: bool,
    /// What happened last, e.g. "connected as @deskbot" or "socket closed: reconnecting".
    pub detail: String,
    /// When the state last changed (ms since the epoch).
    pub since: Millis,
}

/// The registry the app holds; cheap to clone and share.
#[derive(Debug, Default)]
pub struct ChannelStatuses {
    inner: Mutex<BTreeMap<String, ChannelStatus>>,
}

impl ChannelStatuses {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Record `name` (e.g. `slack`) as up or down. A channel that registers itself as down
    /// before it connects keeps `/readyz` unready until it is up.
    pub fn set(&self, name: &str, up: bool, detail: impl Into<String>) {
        let detail = detail.into();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let since = match map.get(name) {
            Some(prev) if prev.up == up => prev.since,
            _ => now_ms(),
        };
        if up {
            tracing::info!(channel = name, detail = %detail, "channel up");
        } else {
            tracing::warn!(channel = name, detail = %detail, "channel down");
        }
        map.insert(name.to_string(), ChannelStatus { up, detail, since });
    }

    /// Every registered channel, by name.
    pub fn snapshot(&self) -> BTreeMap<String, ChannelStatus> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Names of registered channels that are down.
    pub fn down(&self) -> Vec<String> {
        self.snapshot().into_iter().filter(|(_, s)| !s.up).map(|(n, _)| n).collect()
    }
}

fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_channels_are_listed_until_they_come_up() {
        let s = ChannelStatuses::new();
        assert!(s.down().is_empty());
        s.set("slack", false, "connecting");
        s.set("discord", true, "READY");
        assert_eq!(s.down(), vec!["slack".to_string()]);
        s.set("slack", true, "connected");
        assert!(s.down().is_empty());
        assert_eq!(s.snapshot()["slack"].detail, "connected");
    }
}
