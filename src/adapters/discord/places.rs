//! What the adapter remembers about Discord channels between events, shared by the gateway
//! handler and the sender: which channels are threads (and their parent), which threads are
//! deskbot's own, DM channels per user, and names for threads still to be created. All of
//! it can be lost (a restart): it is refilled from the gateway or by asking Discord.

use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept per map before the oldest half is dropped.
const MAX_ENTRIES: usize = 20_000;

/// What a channel id turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A thread in `parent`; `ours` when deskbot created it.
    Thread { parent: u64, ours: bool },
    /// A DM with a person.
    Dm,
    /// A forum channel: its "messages" are posts, each a thread.
    Forum,
    /// Any other channel.
    Channel,
}

#[derive(Default)]
pub struct Places {
    kinds: Mutex<Bounded<u64, Place>>,
    dms: Mutex<Bounded<u64, u64>>,
    thread_names: Mutex<Bounded<u64, String>>,
    names: Mutex<Bounded<u64, String>>,
    seen: Mutex<Bounded<String, ()>>,
}

impl Places {
    pub fn get(&self, channel: u64) -> Option<Place> {
        self.kinds.lock().ok()?.get(&channel).cloned()
    }

    pub fn set(&self, channel: u64, place: Place) {
        if let Ok(mut m) = self.kinds.lock() {
            m.insert(channel, place);
        }
    }

    /// A guild channel's name, when it was looked up.
    pub fn name_of(&self, channel: u64) -> Option<String> {
        self.names.lock().ok()?.get(&channel).cloned()
    }

    pub fn set_name(&self, channel: u64, name: String) {
        if let Ok(mut m) = self.names.lock() {
            m.insert(channel, name);
        }
    }

    /// The DM channel opened with a user, if known.
    pub fn dm_of(&self, user: u64) -> Option<u64> {
        self.dms.lock().ok()?.get(&user).copied()
    }

    pub fn set_dm(&self, user: u64, channel: u64) {
        if let Ok(mut m) = self.dms.lock() {
            m.insert(user, channel);
        }
        self.set(channel, Place::Dm);
    }

    /// Remember a name for the thread that will be started on `message`.
    pub fn name_thread(&self, message: u64, name: String) {
        if let Ok(mut m) = self.thread_names.lock() {
            m.insert(message, name);
        }
    }

    pub fn thread_name(&self, message: u64) -> Option<String> {
        self.thread_names.lock().ok()?.get(&message).cloned()
    }

    /// True the first time `id` is seen (a cheap guard before the store's dedupe, e.g. so a
    /// replayed interaction is not answered twice).
    pub fn first_sight(&self, id: &str) -> bool {
        match self.seen.lock() {
            Ok(mut m) => {
                if m.get(&id.to_string()).is_some() {
                    return false;
                }
                m.insert(id.to_string(), ());
                true
            }
            Err(_) => true,
        }
    }
}

/// A map that forgets its oldest half when full.
struct Bounded<K, V> {
    map: HashMap<K, (u64, V)>,
    tick: u64,
}

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Self { map: HashMap::new(), tick: 0 }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V> Bounded<K, V> {
    fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(_, v)| v)
    }

    fn insert(&mut self, k: K, v: V) {
        self.tick += 1;
        if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(&k) {
            let mut ticks: Vec<u64> = self.map.values().map(|(t, _)| *t).collect();
            ticks.sort_unstable();
            let cutoff = ticks[ticks.len() / 2];
            self.map.retain(|_, (t, _)| *t > cutoff);
        }
        self.map.insert(k, (self.tick, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_maps_forget_the_oldest_half() {
        let mut b = Bounded::default();
        for i in 0..(MAX_ENTRIES as u64 + 10) {
            b.insert(i, i);
        }
        assert!(b.map.len() <= MAX_ENTRIES);
        assert!(b.get(&0).is_none() && b.get(&(MAX_ENTRIES as u64 + 9)).is_some());
        let p = Places::default();
        assert!(p.first_sight("a") && !p.first_sight("a"));
    }
}
