//! Intent matching. Two layers, built once per catalog load and then read-only:
//! 1. the intents' regex `patterns` in one `RegexSet`; a hit wins with confidence 1.0 and its
//!    named captures feed `{placeholders}`;
//! 2. the statistical [`Classifier`] over the examples, its raw similarity mapped to a
//!    confidence so that one `threshold` separates "answer" from "go to a person".
use super::Intent;
use super::classifier::{Classifier, Scores};
use regex::{Regex, RegexSet};

/// The raw similarity that maps to confidence 0.5 (the default threshold). Chosen on the
/// starter pack's test cases and checked on CLINC150's validation split.
const RAW_AT_HALF: f32 = 0.26;
/// How many candidates `Match::ranked` carries.
const RANKED: usize = 5;
/// How much the lead over the runner-up adds to the top score: a message that fits many
/// intents equally ("it doesn't work") is less certain than one that fits one.
const MARGIN_WEIGHT: f32 = 1.0;

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

/// Train a matcher on the intents' examples, descriptions and patterns and the out-of-scope
/// messages. Patterns that do not compile are skipped (the loader reports them first).
pub fn build_matcher(intents: &[Intent], out_of_scope: &[String], opts: &MatcherOptions) -> Box<dyn Matcher> {
    build_matcher_with(intents, &[], out_of_scope, opts)
}

/// [`build_matcher`] with extra training text per intent (`extra[i]` for intent `i`, may be
/// shorter than `intents`): the loader passes the title and example questions of the KB
/// article an intent answers with.
pub fn build_matcher_with(
    intents: &[Intent],
    extra: &[Vec<String>],
    out_of_scope: &[String],
    opts: &MatcherOptions,
) -> Box<dyn Matcher> {
    let classes: Vec<Vec<&str>> = intents
        .iter()
        .enumerate()
        .map(|(i, intent)| {
            let extra = extra.get(i).map(Vec::as_slice).unwrap_or_default();
            let description = Some(intent.description.as_str()).filter(|d| !d.trim().is_empty());
            intent.examples.iter().chain(extra).map(String::as_str).chain(description).collect()
        })
        .collect();
    let oos: Vec<&str> = out_of_scope.iter().map(String::as_str).collect();
    Box::new(IntentMatcher {
        patterns: PatternLayer::new(intents),
        classifier: Classifier::train(&classes, &oos),
        threshold: opts.threshold,
    })
}

struct IntentMatcher {
    patterns: PatternLayer,
    classifier: Classifier,
    threshold: f32,
}

/// Raw similarity → confidence: piecewise linear, `RAW_AT_HALF` ↦ 0.5, monotone, 0 ↦ 0, 1 ↦ 1.
fn calibrate(raw: f32) -> f32 {
    let c = if raw <= RAW_AT_HALF {
        0.5 * raw / RAW_AT_HALF
    } else {
        0.5 + 0.5 * (raw - RAW_AT_HALF) / (1.0 - RAW_AT_HALF)
    };
    c.clamp(0.0, 1.0)
}

impl Matcher for IntentMatcher {
    fn classify(&self, text: &str) -> Match {
        let Scores { classes, out_of_scope } = self.classifier.scores(text);
        let mut order: Vec<usize> = (0..classes.len()).collect();
        order.sort_by(|&a, &b| classes[b].total_cmp(&classes[a]).then(a.cmp(&b)));
        let mut ranked: Vec<(usize, f32)> = order
            .iter()
            .take(RANKED)
            .map(|&i| (i, calibrate(classes[i])))
            .filter(|&(_, c)| c > 0.0)
            .collect();

        if let Some((intent, captures)) = self.patterns.best_hit(text, &classes) {
            ranked.retain(|&(i, _)| i != intent);
            ranked.insert(0, (intent, 1.0));
            ranked.truncate(RANKED);
            return Match { intent: Some(intent), confidence: 1.0, captures, ranked };
        }
        let Some(&(best, _)) = ranked.first() else {
            return Match::default();
        };
        let second = order.get(1).map_or(0.0, |&i| classes[i]);
        let confidence = calibrate(classes[best] + MARGIN_WEIGHT * (classes[best] - second));
        ranked[0].1 = confidence;
        let in_scope = confidence >= self.threshold && classes[best] > out_of_scope;
        Match { intent: in_scope.then_some(best), confidence, captures: Vec::new(), ranked }
    }

    fn threshold(&self) -> f32 {
        self.threshold
    }
}

/// All intents' patterns in one `RegexSet`, plus each one alone for its captures.
struct PatternLayer {
    set: RegexSet,
    regexes: Vec<Regex>,
    /// Intent index of each pattern.
    owner: Vec<usize>,
}

impl PatternLayer {
    fn new(intents: &[Intent]) -> Self {
        let mut regexes = Vec::new();
        let mut owner = Vec::new();
        for (i, intent) in intents.iter().enumerate() {
            for p in &intent.patterns {
                if let Ok(re) = Regex::new(p) {
                    regexes.push(re);
                    owner.push(i);
                }
            }
        }
        let set = RegexSet::new(regexes.iter().map(Regex::as_str)).unwrap_or_else(|_| RegexSet::empty());
        Self { set, regexes, owner }
    }

    /// The matching intent with the best statistical score, and its named captures.
    fn best_hit(&self, text: &str, scores: &[f32]) -> Option<(usize, Vec<(String, String)>)> {
        let hits = self.set.matches(text);
        let best = hits.iter().map(|p| self.owner[p]).max_by(|&a, &b| {
            let (sa, sb) = (scores.get(a).copied().unwrap_or(0.0), scores.get(b).copied().unwrap_or(0.0));
            sa.total_cmp(&sb).then(b.cmp(&a))
        })?;
        let captures = hits
            .iter()
            .filter(|&p| self.owner[p] == best)
            .find_map(|p| {
                let re = &self.regexes[p];
                let caps = re.captures(text)?;
                let named: Vec<(String, String)> = re
                    .capture_names()
                    .flatten()
                    .filter_map(|name| Some((name.to_string(), caps.name(name)?.as_str().to_string())))
                    .collect();
                (!named.is_empty()).then_some(named)
            })
            .unwrap_or_default();
        Some((best, captures))
    }
}

#[cfg(test)]
mod tests;
