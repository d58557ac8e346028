//! A channel's messages handed on in the order they were posted. Both platforms deliver a
//! channel's events side by side (serenity starts a task per gateway event; Slack's HTTP
//! deliveries and socket envelopes are handled concurrently), so a quick follow-up could be
//! handled before the mention it follows and find no conversation yet. Here a message waits
//! while an earlier-posted message of the same channel is still being handled. A message that
//! overtook one deskbot has not started on cannot wait for it: the owner rule judges a thread's
//! plain messages by their posting time for that case.
//!
//! Transport order only: what a message means is still decided by the router.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a message waits for earlier ones before it is handled anyway: a stuck handler must
/// not hold a channel, and Slack wants its events acknowledged within three seconds.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// The messages in flight, by channel and posting order.
#[derive(Default)]
pub struct ChannelOrder {
    /// channel → posting key → how many events with that key are in flight (Slack sends one
    /// post as a `message` and an `app_mention`).
    inflight: Mutex<HashMap<String, BTreeMap<u128, usize>>>,
    done: Notify,
}

/// A message's turn: while it lives, later messages of its channel wait.
pub struct Turn<'a> {
    order: &'a ChannelOrder,
    channel: String,
    key: u128,
}

impl ChannelOrder {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<u128, usize>>> {
        self.inflight.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn earlier_in_flight(&self, channel: &str, key: u128) -> bool {
        self.lock().get(channel).is_some_and(|m| m.range(..key).next().is_some())
    }

    /// Wait until no message of `channel` posted before `key` is in flight (or [`MAX_WAIT`]),
    /// and hold this one's place until the returned turn is dropped.
    pub async fn enter(&self, channel: &str, key: u128) -> Turn<'_> {
        *self.lock().entry(channel.to_string()).or_default().entry(key).or_insert(0) += 1;
        let turn = Turn { order: self, channel: channel.to_string(), key };
        let waited = tokio::time::timeout(MAX_WAIT, async {
            loop {
                let notified = self.done.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if !self.earlier_in_flight(channel, key) {
                    return;
                }
                notified.await;
            }
        })
        .await;
        if waited.is_err() {
            tracing::warn!(channel, "an earlier message of this channel is still being handled; going ahead");
        }
        turn
    }

    /// Channels with a message in flight (for tests: nothing is left behind).
    pub fn busy_channels(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        {
            let mut all = self.order.lock();
            if let Some(keys) = all.get_mut(&self.channel) {
                if let Some(n) = keys.get_mut(&self.key) {
                    *n -= 1;
                    if *n == 0 {
                        keys.remove(&self.key);
                    }
                }
                if keys.is_empty() {
                    all.remove(&self.channel);
                }
            }
        }
        self.order.done.notify_waiters();
    }
}

/// A Slack message's `ts` (`1700000000.000100`) as a posting key: seconds and microseconds.
pub fn slack_key(ts: &str) -> Option<u128> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u128 = secs.parse().ok()?;
    let micros: u128 = format!("{frac:0<6}").parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_later_message_waits_for_an_earlier_one_in_its_channel_only() {
        let order = ChannelOrder::default();
        let first = order.enter("C1", 10).await;
        // Another channel, and a copy of the same post, go ahead at once.
        let other = order.enter("C2", 20).now_or_never().expect("another channel does not wait");
        let same = order.enter("C1", 10).now_or_never().expect("the same post does not wait for itself");
        drop((other, same));
        let mut later = Box::pin(order.enter("C1", 11));
        assert!((&mut later).now_or_never().is_none(), "a later message waits");
        drop(first);
        let later = later.await;
        // An earlier message that arrives late does not wait for a later one.
        let early = order.enter("C1", 9).now_or_never().expect("an earlier message goes ahead");
        drop((later, early));
        assert_eq!(order.busy_channels(), 0, "nothing is left in flight");
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_nothing_behind() {
        let order = ChannelOrder::default();
        let first = order.enter("C1", 1).await;
        let mut later = Box::pin(order.enter("C1", 2));
        assert!((&mut later).now_or_never().is_none());
        drop(later);
        drop(first);
        assert_eq!(order.busy_channels(), 0);
    }

    #[test]
    fn slack_timestamps_order_as_posted() {
        assert_eq!(slack_key("1700000000.000100"), Some(1_700_000_000_000_100));
        assert!(slack_key("1700000000.000100") < slack_key("1700000000.001"));
        assert_eq!(slack_key("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(slack_key("17.x"), None);
        assert_eq!(slack_key("17.1234567"), None);
        assert_eq!(slack_key(""), None);
    }
}
