//! The statistical half of the matcher: a [`Linear`] model over [`features`](super::features),
//! trained at catalog load on the intents' examples plus, when there are any, the out-of-scope
//! messages as one extra "reject" class. The reject class only ever takes probability away from
//! the intents: it is never an answer. The training vectors are kept for explanations (the
//! nearest examples of a candidate).
use super::features::{Sparse, Vocabulary};
use super::linear::{Linear, TrainOptions};

pub struct IntentModel {
    vocab: Vocabulary,
    linear: Linear,
    n_intents: usize,
    /// Training examples: class, vector, text (for explanations).
    examples: Vec<(u32, Sparse, String)>,
}

/// Probabilities of one message: one per intent, and the reject class (0 without one).
#[derive(Debug, Clone, PartialEq)]
pub struct Probabilities {
    pub intents: Vec<f32>,
    pub reject: f32,
}

impl IntentModel {
    /// `classes[i]` holds the training texts of intent `i`.
    pub fn train(classes: &[Vec<&str>], out_of_scope: &[&str]) -> Self {
        let all = classes.iter().flatten().chain(out_of_scope).copied();
        let vocab = Vocabulary::fit(all, min_docs(classes.iter().map(Vec::len).sum()));
        let n_intents = classes.len();
        let labelled = classes
            .iter()
            .enumerate()
            .flat_map(|(c, texts)| texts.iter().map(move |t| (c as u32, *t)))
            .chain(out_of_scope.iter().map(|t| (n_intents as u32, *t)));
        let examples: Vec<(u32, Sparse, String)> =
            labelled.map(|(c, t)| (c, vocab.vectorize(t), t.to_string())).collect();
        let xs: Vec<Sparse> = examples.iter().map(|e| e.1.clone()).collect();
        let ys: Vec<u32> = examples.iter().map(|e| e.0).collect();
        let n_classes = n_intents + usize::from(!out_of_scope.is_empty());
        let opts = TrainOptions::for_examples(xs.len());
        let linear = Linear::train(&xs, &ys, vocab.len(), n_classes, &opts);
        Self { vocab, linear, n_intents, examples }
    }

    pub fn n_intents(&self) -> usize {
        self.n_intents
    }

    pub fn probabilities(&self, text: &str) -> Probabilities {
        let x = self.vocab.vectorize(text);
        let mut p = vec![0.0f32; self.linear.n_classes()];
        self.linear.probabilities(&x, &mut p);
        let reject = if p.len() > self.n_intents { p.pop().unwrap_or(0.0) } else { 0.0 };
        Probabilities { intents: p, reject }
    }

    /// The features of `text` that pushed it most towards `class`, with their contribution to
    /// the class's score (feature value × weight), biggest first.
    pub fn drivers(&self, text: &str, class: usize, k: usize) -> Vec<(String, f32)> {
        let x = self.vocab.vectorize(text);
        let names = self.vocab.names(std::iter::once(text));
        let mut out: Vec<(String, f32)> = x
            .ids
            .iter()
            .zip(&x.vals)
            .map(|(&f, &v)| {
                (names.get(&f).cloned().unwrap_or_else(|| format!("#{f}")), v * self.linear.weight(f, class))
            })
            .filter(|(_, c)| *c > 0.0)
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(k);
        out
    }

    /// The training examples of `class` most similar to `text` (cosine of feature vectors).
    pub fn nearest(&self, text: &str, class: usize, k: usize) -> Vec<(String, f32)> {
        let x = self.vocab.vectorize(text);
        let mut out: Vec<(String, f32)> = self
            .examples
            .iter()
            .filter(|e| e.0 as usize == class)
            .map(|e| (e.2.clone(), dot(&x, &e.1)))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(k);
        out
    }
}

/// Features must occur in this many training texts to count: 2 on big catalogs (thousands of
/// examples, where single-use character n-grams are mostly noise), 1 on small ones, where one
/// example may be all an intent has.
fn min_docs(examples: usize) -> u32 {
    if examples >= 5_000 { 2 } else { 1 }
}

/// Dot product of two sparse vectors with ascending ids.
fn dot(a: &Sparse, b: &Sparse) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.ids.len() && j < b.ids.len() {
        match a.ids[i].cmp(&b.ids[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a.vals[i] * b.vals[j];
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> IntentModel {
        let classes = vec![
            vec!["reset my password", "forgot my password", "password expired"],
            vec!["vpn will not connect", "vpn keeps dropping", "vpn error"],
        ];
        IntentModel::train(&classes, &["the coffee machine is leaking", "what is for lunch"])
    }

    #[test]
    fn probabilities_cover_intents_and_the_reject_class() {
        let m = model();
        let p = m.probabilities("i forgot my password");
        assert_eq!(p.intents.len(), 2);
        assert!((p.intents.iter().sum::<f32>() + p.reject - 1.0).abs() < 1e-4);
        assert!(p.intents[0] > p.intents[1] && p.intents[0] > p.reject, "{p:?}");
        let off = m.probabilities("coffee machine leaking on floor 2");
        assert!(off.reject > off.intents[0] && off.reject > off.intents[1], "{off:?}");
    }

    #[test]
    fn explanations_name_features_and_nearest_examples() {
        let m = model();
        let drivers = m.drivers("my vpn keeps dropping", 1, 3);
        assert!(drivers.iter().any(|(n, _)| n.contains("vpn")), "{drivers:?}");
        assert!(drivers.windows(2).all(|w| w[0].1 >= w[1].1));
        let near = m.nearest("my vpn keeps dropping", 1, 2);
        assert_eq!(near.first().map(|n| n.0.as_str()), Some("vpn keeps dropping"));
    }

    #[test]
    fn training_twice_gives_the_same_verdicts() {
        let (a, b) = (model(), model());
        for t in ["vpn error again", "forgot pasword", "tell me a joke"] {
            assert_eq!(a.probabilities(t), b.probabilities(t));
        }
    }
}
