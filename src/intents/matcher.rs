//! Intent matching (stub, replaced by the real matcher).
use super::Intent;

/// Matcher settings from config.
#[derive(Debug, Clone, PartialEq)]
pub struct MatcherOptions {
    /// Below this confidence a message has no intent ("goes to a person").
    pub threshold: f32,
}

impl Default for MatcherOptions {
    fn default() -> Self {
        Self { threshold: 0.5 }
    }
}

/// The matcher's verdict on one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Match {
    /// Index into the catalog's intents, when confident enough.
    pub intent: Option<usize>,
    /// 0.0..=1.0 for the best candidate.
    pub confidence: f32,
    /// Named captures of the pattern that matched, for `{slot}` placeholders.
    pub captures: Vec<(String, String)>,
    /// Best candidates, best first (intent index, score), even below the threshold.
    pub ranked: Vec<(usize, f32)>,
}

pub trait Matcher: Send + Sync {
    fn classify(&self, text: &str) -> Match;
    fn threshold(&self) -> f32;
}

pub fn build_matcher(
    _intents: &[Intent],
    _out_of_scope: &[String],
    _opts: &MatcherOptions,
) -> Box<dyn Matcher> {
    unimplemented!()
}
