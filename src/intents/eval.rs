//! `deskbot intents test`: run the test cases through the catalog's matcher and report
//! accuracy (overall, in scope), out-of-scope recall and precision, latency and the misses,
//! like `rasa test` does.
use super::{Catalog, TestCase};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

/// How many confusion pairs the report lists.
const WORST_CONFUSIONS: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub cases: usize,
    /// Share of all cases predicted right.
    pub accuracy: f64,
    pub in_scope_cases: usize,
    pub in_scope_accuracy: f64,
    pub oos_cases: usize,
    /// Share of "none" cases that went to a person (1.0 when there are none).
    pub oos_recall: f64,
    /// Share of messages sent to a person that should have been (1.0 when none were sent).
    pub oos_precision: f64,
    pub threshold: f32,
    pub p50_us: u64,
    pub p99_us: u64,
    pub misses: Vec<Miss>,
    pub confusions: Vec<Confusion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub text: String,
    pub expected: String,
    pub got: String,
    pub confidence: f32,
    pub source: String,
}

/// `expected` classified as `got`, `count` times.
#[derive(Debug, Clone, Serialize)]
pub struct Confusion {
    pub expected: String,
    pub got: String,
    pub count: usize,
}

const NONE: &str = "none";

pub fn evaluate(catalog: &Catalog, cases: &[TestCase]) -> EvalReport {
    let mut latencies: Vec<u64> = Vec::with_capacity(cases.len());
    let mut outcomes: Vec<(Option<&str>, Option<&str>)> = Vec::with_capacity(cases.len());
    let mut misses = Vec::new();
    let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
    for case in cases {
        let start = Instant::now();
        let m = catalog.classify(&case.text);
        latencies.push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
        let got = m.intent.and_then(|i| catalog.intents.get(i)).map(|i| i.id.as_str());
        outcomes.push((case.intent.as_deref(), got));
        if got != case.intent.as_deref() {
            let expected = case.intent.clone().unwrap_or_else(|| NONE.to_string());
            let got = got.unwrap_or(NONE).to_string();
            *pairs.entry((expected.clone(), got.clone())).or_insert(0) += 1;
            let (text, source) = (case.text.clone(), case.source.clone());
            misses.push(Miss { text, expected, got, confidence: m.confidence, source });
        }
    }
    latencies.sort_unstable();
    let mut confusions: Vec<Confusion> =
        pairs.into_iter().map(|((expected, got), count)| Confusion { expected, got, count }).collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.count));
    confusions.truncate(WORST_CONFUSIONS);
    let s = ScopeMetrics::of(&outcomes);
    EvalReport {
        cases: cases.len(),
        accuracy: s.accuracy,
        in_scope_cases: s.in_scope_cases,
        in_scope_accuracy: s.in_scope_accuracy,
        oos_cases: s.oos_cases,
        oos_recall: s.oos_recall,
        oos_precision: s.oos_precision,
        threshold: catalog.matcher.threshold(),
        p50_us: percentile(&latencies, 50),
        p99_us: percentile(&latencies, 99),
        misses,
        confusions,
    }
}

/// The accuracy figures of (expected, predicted) pairs; `None` is "goes to a person".
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeMetrics {
    pub accuracy: f64,
    pub in_scope_cases: usize,
    /// In-scope cases given their intent.
    pub in_scope_accuracy: f64,
    pub oos_cases: usize,
    /// Out-of-scope cases predicted `none`.
    pub oos_recall: f64,
    /// `none` predictions that were out-of-scope cases.
    pub oos_precision: f64,
}

impl ScopeMetrics {
    pub fn of(outcomes: &[(Option<&str>, Option<&str>)]) -> Self {
        let (mut correct, mut in_scope, mut in_scope_ok, mut oos, mut oos_ok, mut said_none) =
            (0, 0, 0, 0, 0, 0);
        for &(want, got) in outcomes {
            let ok = want == got;
            correct += usize::from(ok);
            said_none += usize::from(got.is_none());
            if want.is_some() {
                in_scope += 1;
                in_scope_ok += usize::from(ok);
            } else {
                oos += 1;
                oos_ok += usize::from(ok);
            }
        }
        Self {
            accuracy: ratio(correct, outcomes.len()),
            in_scope_cases: in_scope,
            in_scope_accuracy: ratio(in_scope_ok, in_scope),
            oos_cases: oos,
            oos_recall: ratio(oos_ok, oos),
            oos_precision: ratio(oos_ok, said_none),
        }
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 1.0 } else { num as f64 / den as f64 }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

impl EvalReport {
    /// A report for people: figures first, then the misses and the worst confusions.
    pub fn render_text(&self) -> String {
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        let mut s = String::new();
        let _ = writeln!(s, "cases:              {}", self.cases);
        let _ = writeln!(s, "accuracy:           {}", pct(self.accuracy));
        let _ = writeln!(s, "in-scope accuracy:  {} of {}", pct(self.in_scope_accuracy), self.in_scope_cases);
        let _ = writeln!(
            s,
            "out-of-scope:       recall {}, precision {} ({} cases)",
            pct(self.oos_recall),
            pct(self.oos_precision),
            self.oos_cases
        );
        let _ = writeln!(s, "threshold:          {:.2}", self.threshold);
        let _ = writeln!(s, "latency:            p50 {} µs, p99 {} µs", self.p50_us, self.p99_us);
        if !self.misses.is_empty() {
            let _ = writeln!(s, "\nmisses ({}):", self.misses.len());
            for m in &self.misses {
                let _ = writeln!(
                    s,
                    "  {}: {:?}\n      expected {}, got {} ({:.2})",
                    m.source, m.text, m.expected, m.got, m.confidence
                );
            }
        }
        if !self.confusions.is_empty() {
            let _ = writeln!(s, "\nworst confusions:");
            for c in &self.confusions {
                let _ = writeln!(s, "  {:>3} × {} → {}", c.count, c.expected, c.got);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{ScopeMetrics, percentile};

    #[test]
    fn scope_metrics_on_a_hand_computed_example() {
        // 3 in scope (2 right, 1 sent to a person), 2 out of scope (1 caught, 1 given "vpn").
        let outcomes = [
            (Some("vpn"), Some("vpn")),
            (Some("mail"), Some("mail")),
            (Some("vpn"), None),
            (None, None),
            (None, Some("vpn")),
        ];
        let m = ScopeMetrics::of(&outcomes);
        assert_eq!((m.accuracy, m.in_scope_cases, m.oos_cases), (0.6, 3, 2));
        assert_eq!((m.in_scope_accuracy, m.oos_recall, m.oos_precision), (2.0 / 3.0, 0.5, 0.5));
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!((percentile(&v, 50), percentile(&v, 99), percentile(&v, 100)), (50, 99, 100));
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 50), 0);
    }
}
