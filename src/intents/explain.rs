//! `deskbot intents explain TEXT`: the verdict on one message, the best intents with their
//! scores and what drove each (the pattern that fired, the features with the biggest pull, the
//! nearest training examples), so an admin can see why the bot answers what it answers.
use super::{Catalog, Explanation};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, Serialize)]
pub struct ExplainReport {
    pub text: String,
    /// The intent the bot would answer with, or "none".
    pub intent: String,
    pub confidence: f32,
    pub ambiguous: bool,
    /// Probability of the out-of-scope examples' class.
    pub out_of_scope: f32,
    pub candidates: Vec<CandidateReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateReport {
    pub intent: String,
    pub score: f32,
    pub threshold: f32,
    pub pattern: Option<String>,
    pub features: Vec<(String, f32)>,
    pub nearest: Vec<(String, f32)>,
}

impl Catalog {
    /// Why `text` gets the intent it gets.
    pub fn explain(&self, text: &str) -> ExplainReport {
        let Explanation { verdict, out_of_scope, candidates } = self.matcher.explain(text);
        let id = |i: usize| self.intents.get(i).map_or_else(|| format!("#{i}"), |d| d.id.clone());
        ExplainReport {
            text: text.to_string(),
            intent: verdict.intent.map_or_else(|| "none".to_string(), id),
            confidence: verdict.confidence,
            ambiguous: verdict.ambiguous,
            out_of_scope,
            candidates: candidates
                .into_iter()
                .map(|c| CandidateReport {
                    intent: id(c.intent),
                    score: c.score,
                    threshold: c.threshold,
                    pattern: c.pattern,
                    features: c.features,
                    nearest: c.nearest,
                })
                .collect(),
        }
    }
}

impl ExplainReport {
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let verdict = match (self.intent.as_str(), self.ambiguous) {
            ("none", _) => "no intent: KB search, then a person".to_string(),
            (id, false) => format!("{id} ({:.2})", self.confidence),
            (id, true) => {
                format!("{id} ({:.2}), but close to the runner-up: the bot asks which", self.confidence)
            }
        };
        let _ = writeln!(s, "message:      {:?}", self.text);
        let _ = writeln!(s, "verdict:      {verdict}");
        let _ = writeln!(s, "out of scope: {:.2} (the out-of-scope examples' class)", self.out_of_scope);
        for (n, c) in self.candidates.iter().enumerate() {
            let _ =
                writeln!(s, "\n{}. {}  score {:.3}  (needs {:.2})", n + 1, c.intent, c.score, c.threshold);
            if let Some(p) = &c.pattern {
                let _ = writeln!(s, "   pattern fired: {p}");
            }
            if !c.features.is_empty() {
                let f: Vec<String> = c.features.iter().map(|(name, w)| format!("{name} +{w:.2}")).collect();
                let _ = writeln!(s, "   driven by: {}", f.join(", "));
            }
            for (text, sim) in &c.nearest {
                let _ = writeln!(s, "   near {sim:.2}: {text:?}");
            }
        }
        s
    }
}
