//! The synthetic load: worker tasks that play scripted employees and agents against the real
//! `Service` (engine + store), and an in-process channel the real outbox worker delivers to.
//!
//! The mix, per session of one employee: 3 in 5 ask a question the starter pack answers from
//! the KB and say it solved it; 2 in 5 ask for a person, describe a problem (answering a form
//! question if the intent asks one), get an agent reply, have the ticket resolved by the desk,
//! rate it and decline to add a comment. An employee whose conversation holds an earlier
//! ticket says "new issue" first, as a person must: anything else there would be added to
//! (or reopen) that ticket instead of filing a new one. Each worker owns its employees, so a
//! conversation's events stay in order.

use crate::domain::{Address, Platform, TicketNumber, UserRef};
use crate::domain::{Channel, Delivered, Inbound, InboundKind, Outbound, SendError};
use crate::service::{Handled, Service};
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Employees per worker; sessions rotate through them.
const USERS_PER_WORKER: usize = 40;

const QUESTIONS: &[&str] = &[
    "I forgot my password",
    "how do I connect to the vpn from home",
    "outlook is not syncing my emails",
    "how do I set up multi-factor authentication on my phone",
    "my account is locked after too many attempts",
];

const PROBLEMS: &[&str] = &[
    "the coffee machine on floor 3 is leaking",
    "the projector in meeting room 12 shows only a blue screen",
    "my docking station stopped charging the laptop",
    "the badge reader at the back entrance beeps red for me",
    "the shared printer on floor 2 prints blank pages",
];

/// An in-process channel: counts deliveries, never fails.
#[derive(Default)]
pub struct CountingChannel {
    pub delivered: AtomicU64,
}

#[async_trait]
impl Channel for CountingChannel {
    fn platform(&self) -> Platform {
        Platform::Test
    }
    async fn send(&self, _key: &str, _message: &Outbound) -> Result<Delivered, SendError> {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        Ok(Delivered::default())
    }
}

/// When the load stops.
#[derive(Clone)]
pub enum Budget {
    /// Stop after this many events in total (shared by every worker of the process).
    Count {
        limit: u64,
        issued: Arc<AtomicU64>,
    },
    Until(Instant),
}

impl Budget {
    fn take(&self) -> bool {
        match self {
            Budget::Count { limit, issued } => issued.fetch_add(1, Ordering::Relaxed) < *limit,
            Budget::Until(t) => Instant::now() < *t,
        }
    }
}

/// What one worker did.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Per-event latency of `Service::handle` / `resolve_ticket`, in microseconds.
    pub latencies_us: Vec<u32>,
    pub tickets: u64,
    pub errors: u64,
}

struct Worker {
    service: Arc<Service>,
    budget: Budget,
    prefix: String,
    seq: u64,
    stats: WorkerStats,
    /// Employees whose conversation holds a ticket filed earlier in the run.
    filed: HashSet<String>,
}

/// Run one worker until the budget is spent. `prefix` makes its users and event ids unique.
pub async fn run_worker(service: Arc<Service>, budget: Budget, prefix: String) -> WorkerStats {
    let mut w =
        Worker { service, budget, prefix, seq: 0, stats: WorkerStats::default(), filed: HashSet::new() };
    let mut session = 0usize;
    loop {
        let user = format!("{}-u{}", w.prefix, session % USERS_PER_WORKER);
        let more = if session % 5 < 3 {
            w.question_session(&user, QUESTIONS[session % QUESTIONS.len()]).await
        } else {
            w.ticket_session(&user, PROBLEMS[session % PROBLEMS.len()]).await
        };
        if !more {
            return w.stats;
        }
        session += 1;
    }
}

impl Worker {
    /// Ask, get the KB answer, say it solved it. `false` once the budget is spent.
    async fn question_session(&mut self, user: &str, text: &str) -> bool {
        self.say(user, text).await.is_some() && self.say(user, "1").await.is_some()
    }

    /// Ask for a person, describe the problem (answer form questions), agent reply, resolve,
    /// rate, no comment.
    async fn ticket_session(&mut self, user: &str, problem: &str) -> bool {
        if self.filed.contains(user) && self.say(user, "new issue").await.is_none() {
            return false;
        }
        if self.say(user, "talk to a person").await.is_none() {
            return false;
        }
        let mut number = None;
        let mut text = problem;
        for _ in 0..3 {
            match self.say(user, text).await {
                None => return false,
                Some(created) if !created.is_empty() => {
                    number = created.first().copied();
                    break;
                }
                Some(_) => text = "LT-01234, at the office",
            }
        }
        let Some(number) = number else { return true };
        self.stats.tickets += 1;
        self.filed.insert(user.to_string());
        let reply = InboundKind::AgentReply {
            number,
            agent: "bench-agent".into(),
            text: "Thanks, I'm on my way to have a look.".into(),
        };
        if self.event(user, reply).await.is_none() || !self.resolve(number).await {
            return false;
        }
        self.say(user, "5").await.is_some() && self.say(user, "no").await.is_some()
    }

    async fn say(&mut self, user: &str, text: &str) -> Option<Vec<TicketNumber>> {
        self.event(user, InboundKind::Message { text: text.to_string() }).await
    }

    /// One inbound event, timed. `None` when the budget is spent; otherwise the tickets it
    /// created (none on error).
    async fn event(&mut self, user: &str, kind: InboundKind) -> Option<Vec<TicketNumber>> {
        if !self.budget.take() {
            return None;
        }
        self.seq += 1;
        let inbound = Inbound {
            event_id: format!("{}-{}", self.prefix, self.seq),
            user: UserRef::new(Platform::Test, user),
            display_name: Some(user.to_string()),
            conversation: format!("test:{user}"),
            reply_to: Address::new(Platform::Test, user),
            kind,
            at: self.service.now(),
            message_id: None,
            message_channel: None,
            attachments: Vec::new(),
            via: Default::default(),
        };
        let started = Instant::now();
        let result = self.service.handle(inbound).await;
        self.record(started);
        match result {
            Ok(Handled::Applied { created, .. }) => Some(created),
            Ok(_) => Some(Vec::new()),
            Err(e) => {
                tracing::warn!(error = %e, "bench event failed");
                self.stats.errors += 1;
                Some(Vec::new())
            }
        }
    }

    /// The desk resolves the ticket (one event). `false` when the budget is spent.
    async fn resolve(&mut self, number: TicketNumber) -> bool {
        if !self.budget.take() {
            return false;
        }
        let started = Instant::now();
        let result = self.service.resolve_ticket(number, "bench-agent", Some("Fixed.".into())).await;
        self.record(started);
        if let Err(e) = result {
            tracing::warn!(error = %e, "bench resolve failed");
            self.stats.errors += 1;
        }
        true
    }

    fn record(&mut self, started: Instant) {
        let us = started.elapsed().min(Duration::from_secs(3600)).as_micros() as u32;
        self.stats.latencies_us.push(us);
    }
}

/// The `p`-th percentile (0–100) of sorted samples, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[i]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
        assert_eq!(percentile_ms(&[7000], 1.0), 7.0);
    }

    #[test]
    fn count_budget_is_shared() {
        let b = Budget::Count { limit: 3, issued: Arc::new(AtomicU64::new(0)) };
        let c = b.clone();
        assert!(b.take() && c.take() && b.take());
        assert!(!c.take());
    }
}
