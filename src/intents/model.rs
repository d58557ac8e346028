//! The statistical half of the matcher: a [`Linear`] model over [`features`](super::features),
//! trained at catalog load on the intents' examples plus, when there are any, the out-of-scope
//! messages as one extra "reject" class. The reject class only ever takes probability away from
//! the intents: it is never an answer. The training vectors are kept for explanations (the
//! nearest examples of a candidate).
//!
//! With a sentence-embedding model ([`crate::embed`]) each text's embedding joins its sparse
//! features as a dense block of extra features (ids after the vocabulary's, weighted by
//! [`EMBEDDING_WEIGHT`]): one linear model over both, so word evidence and meaning add up.
use super::features::{Sparse, Vocabulary};
use super::linear::{Linear, TrainOptions};
use crate::embed::{Embedder, cosine};
use std::sync::Arc;

/// Length of the embedding block relative to the unit-length sparse block, chosen on CLINC150's
/// validation split (train → val).
pub const EMBEDDING_WEIGHT: f32 = 1.0;

pub struct IntentModel {
    vocab: Vocabulary,
    linear: Linear,
    n_intents: usize,
    /// Training examples: class, vector, text (for explanations).
    examples: Vec<(u32, Sparse, String)>,
    dense: Option<Dense>,
}

/// The embedding stage: the model and the training examples' embeddings (same order as
/// `examples`), for the nearest examples by meaning.
struct Dense {
    embedder: Arc<Embedder>,
    examples: Vec<Vec<f32>>,
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
        Self::train_with(classes, out_of_scope, None)
    }

    /// [`IntentModel::train`] with the embedding stage when `embedder` is given. Should the
    /// model fail on the catalog's texts, the error is logged and the sparse features alone
    /// are used.
    pub fn train_with(
        classes: &[Vec<&str>],
        out_of_scope: &[&str],
        embedder: Option<&Arc<Embedder>>,
    ) -> Self {
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
        let dense = embedder.and_then(|e| {
            let texts: Vec<&str> = examples.iter().map(|x| x.2.as_str()).collect();
            match e.embed_cached(&texts) {
                Ok(v) => Some(Dense { embedder: e.clone(), examples: v }),
                Err(err) => {
                    tracing::error!(error = %err, "sentence embeddings unavailable; matching on words only");
                    None
                }
            }
        });
        let offset = vocab.len() as u32;
        let xs: Vec<Sparse> = match &dense {
            Some(d) => examples.iter().zip(&d.examples).map(|(e, v)| with_dense(&e.1, offset, v)).collect(),
            None => examples.iter().map(|e| e.1.clone()).collect(),
        };
        let ys: Vec<u32> = examples.iter().map(|e| e.0).collect();
        let n_classes = n_intents + usize::from(!out_of_scope.is_empty());
        let opts = TrainOptions::for_examples(xs.len());
        let n_features = vocab.len() + dense.as_ref().map_or(0, |d| d.embedder.dim());
        let linear = Linear::train(&xs, &ys, n_features, n_classes, &opts);
        Self { vocab, linear, n_intents, examples, dense }
    }

    /// Whether the embedding stage is on.
    pub fn has_embeddings(&self) -> bool {
        self.dense.is_some()
    }

    /// The message's sparse features, with its embedding block when the stage is on, and the
    /// embedding itself. An embedding failure leaves the words alone to decide (logged).
    fn features(&self, text: &str) -> (Sparse, Option<Vec<f32>>) {
        let x = self.vocab.vectorize(text);
        let Some(d) = &self.dense else { return (x, None) };
        match d.embedder.embed(text) {
            Ok(v) => (with_dense(&x, self.vocab.len() as u32, &v), Some(v)),
            Err(e) => {
                tracing::warn!(error = %e, "message not embedded");
                (x, None)
            }
        }
    }

    pub fn n_intents(&self) -> usize {
        self.n_intents
    }

    pub fn probabilities(&self, text: &str) -> Probabilities {
        let (x, _) = self.features(text);
        let mut p = vec![0.0f32; self.linear.n_classes()];
        self.linear.probabilities(&x, &mut p);
        let reject = if p.len() > self.n_intents { p.pop().unwrap_or(0.0) } else { 0.0 };
        Probabilities { intents: p, reject }
    }

    /// The features of `text` that pushed it most towards `class`, with their contribution to
    /// the class's score (feature value × weight), biggest first.
    pub fn drivers(&self, text: &str, class: usize, k: usize) -> Vec<(String, f32)> {
        let (x, _) = self.features(text);
        let names = self.vocab.names(std::iter::once(text));
        let n_vocab = self.vocab.len() as u32;
        let mut meaning = 0.0f32;
        let mut out: Vec<(String, f32)> = x
            .ids
            .iter()
            .zip(&x.vals)
            .filter_map(|(&f, &v)| {
                let c = v * self.linear.weight(f, class);
                if f >= n_vocab {
                    meaning += c;
                    return None;
                }
                Some((names.get(&f).cloned().unwrap_or_else(|| format!("#{f}")), c))
            })
            .collect();
        if self.dense.is_some() {
            out.push(("sentence embedding".to_string(), meaning));
        }
        out.retain(|(_, c)| *c > 0.0);
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(k);
        out
    }

    /// The training examples of `class` most similar to `text`: cosine of the sentence
    /// embeddings when the stage is on, else of the n-gram feature vectors.
    pub fn nearest(&self, text: &str, class: usize, k: usize) -> Vec<(String, f32)> {
        let (x, v) = self.features(text);
        let by_meaning = self.dense.as_ref().zip(v.as_ref());
        let mut out: Vec<(String, f32)> = self
            .examples
            .iter()
            .enumerate()
            .filter(|(_, e)| e.0 as usize == class)
            .map(|(i, e)| {
                let sim = match by_meaning {
                    Some((d, v)) => d.examples.get(i).map_or(0.0, |ev| cosine(v, ev)),
                    None => dot(&x, &e.1),
                };
                (e.2.clone(), sim)
            })
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

/// `x` followed by the embedding block `v` (ids from `offset`, scaled by the block weight).
fn with_dense(x: &Sparse, offset: u32, v: &[f32]) -> Sparse {
    let mut out = x.clone();
    out.ids.extend((0..v.len() as u32).map(|j| offset + j));
    out.vals.extend(v.iter().map(|&e| e * EMBEDDING_WEIGHT));
    out
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
