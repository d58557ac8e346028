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
/// Folds of the cross-validation that sets the out-of-scope threshold (see
/// [`IntentModel::held_out_threshold`]).
pub const FOLDS: usize = 5;
/// Out-of-scope recall the cross-validated threshold reaches on held-out out-of-scope examples
/// (chosen on CLINC150's validation split; see [`super::matcher::DEFAULT_MODEL_THRESHOLD`]).
pub const HELD_OUT_RECALL: f32 = 0.82;
/// Bounds of the cross-validated threshold.
pub const THRESHOLD_RANGE: (f32, f32) = (0.1, 0.6);

pub struct IntentModel {
    vocab: Vocabulary,
    linear: Linear,
    n_intents: usize,
    /// Training examples: class, vector, text (for explanations).
    examples: Vec<(u32, Sparse, String)>,
    dense: Option<Dense>,
    /// The threshold cross-validation chose, when it was asked for and possible.
    held_out_threshold: Option<f32>,
}

/// How training sets the out-of-scope threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ThresholdRule {
    /// The threshold is given (configured, or a default): no cross-validation.
    #[default]
    Given,
    /// Cross-validate over the training examples so that this share of the held-out
    /// out-of-scope examples goes to a person (see [`IntentModel::held_out_threshold`]).
    CrossValidated(f32),
}

/// One training example scored by a model trained without its fold.
#[derive(Debug, Clone, Copy)]
struct HeldOut {
    out_of_scope: bool,
    /// The best intent's probability.
    best: f32,
    reject: f32,
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
        Self::train_rule(classes, out_of_scope, embedder, ThresholdRule::Given)
    }

    /// [`IntentModel::train_with`], cross-validating the threshold when `rule` asks for it.
    pub fn train_rule(
        classes: &[Vec<&str>],
        out_of_scope: &[&str],
        embedder: Option<&Arc<Embedder>>,
        rule: ThresholdRule,
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
        let held_out_threshold = match rule {
            ThresholdRule::CrossValidated(recall) if out_of_scope.len() >= FOLDS => {
                let held = held_out(&xs, &ys, n_features, n_classes, n_intents);
                Some(threshold_for(&held, recall))
            }
            _ => None,
        };
        Self { vocab, linear, n_intents, examples, dense, held_out_threshold }
    }

    /// The out-of-scope threshold chosen by cross-validation, when training was asked to and
    /// the catalog has at least [`FOLDS`] out-of-scope examples: the examples are split into
    /// [`FOLDS`] folds (each intent's and the out-of-scope examples spread evenly); a model
    /// trained the same way without a fold scores that fold; the threshold is the lowest at
    /// which the rule's share (the default: [`HELD_OUT_RECALL`]) of the held-out out-of-scope examples go to a person (below
    /// the threshold, or the reject class more likely), within [`THRESHOLD_RANGE`]. A model
    /// that learnt from few examples per intent is less sure of everything, and its threshold
    /// comes out lower; the same rule on a large catalog keeps it high.
    pub fn held_out_threshold(&self) -> Option<f32> {
        self.held_out_threshold
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
        match d.embedder.embed_query(text) {
            Ok(v) => (with_dense(&x, self.vocab.len() as u32, &v), Some(v)),
            Err(e) => {
                tracing::warn!(error = %e, "message not embedded");
                (x, None)
            }
        }
    }

    /// Embed `text` ahead of [`IntentModel::probabilities`] (the embedder remembers it).
    pub fn prepare(&self, text: &str) {
        if let Some(d) = &self.dense
            && let Err(e) = d.embedder.embed_query(text)
        {
            tracing::warn!(error = %e, "message not embedded");
        }
    }

    pub fn n_intents(&self) -> usize {
        self.n_intents
    }

    pub fn probabilities(&self, text: &str) -> Probabilities {
        let (x, _) = self.features(text);
        self.probabilities_of(&x)
    }

    /// [`IntentModel::probabilities`] from the words alone, without running the embedding
    /// model (the embedding block counts as zero): for ordering intents whose patterns already
    /// matched, which must stay a matter of microseconds.
    pub fn word_probabilities(&self, text: &str) -> Probabilities {
        self.probabilities_of(&self.vocab.vectorize(text))
    }

    fn probabilities_of(&self, x: &Sparse) -> Probabilities {
        let mut p = vec![0.0f32; self.linear.n_classes()];
        self.linear.probabilities(x, &mut p);
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

/// Every example scored by a model trained on the other folds (the same features, the same
/// training settings for the smaller set). Fold of an example: its position among its class's
/// examples, modulo [`FOLDS`].
fn held_out(
    xs: &[Sparse],
    ys: &[u32],
    n_features: usize,
    n_classes: usize,
    n_intents: usize,
) -> Vec<HeldOut> {
    let mut seen = vec![0usize; n_classes];
    let fold: Vec<usize> = ys
        .iter()
        .map(|&y| {
            let n = &mut seen[y as usize];
            *n += 1;
            (*n - 1) % FOLDS
        })
        .collect();
    let mut out = Vec::with_capacity(xs.len());
    let mut p = vec![0.0f32; n_classes];
    for f in 0..FOLDS {
        let (train_x, train_y): (Vec<Sparse>, Vec<u32>) =
            xs.iter().zip(ys).zip(&fold).filter(|(_, k)| **k != f).map(|((x, y), _)| (x.clone(), *y)).unzip();
        let opts = TrainOptions::for_examples(train_x.len());
        let linear = Linear::train(&train_x, &train_y, n_features, n_classes, &opts);
        for ((x, &y), _) in xs.iter().zip(ys).zip(&fold).filter(|(_, k)| **k == f) {
            linear.probabilities(x, &mut p);
            let reject = if n_classes > n_intents { p[n_intents] } else { 0.0 };
            let best = p[..n_intents].iter().copied().fold(0.0f32, f32::max);
            out.push(HeldOut { out_of_scope: y as usize >= n_intents, best, reject });
        }
    }
    out
}

/// The lowest threshold (to 0.01, within [`THRESHOLD_RANGE`]) at which a share `recall` of
/// the held-out out-of-scope examples goes to a person.
fn threshold_for(held: &[HeldOut], recall: f32) -> f32 {
    let oos: Vec<&HeldOut> = held.iter().filter(|h| h.out_of_scope).collect();
    let (lo, hi) = THRESHOLD_RANGE;
    let needed = (recall * oos.len() as f32).ceil() as usize;
    let mut t = lo;
    while t < hi {
        let sent = oos.iter().filter(|h| h.best < t || h.reject >= h.best).count();
        if sent >= needed {
            return t;
        }
        t = ((t + 0.01) * 100.0).round() / 100.0;
    }
    hi
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

    fn held(out_of_scope: bool, best: f32, reject: f32) -> HeldOut {
        HeldOut { out_of_scope, best, reject }
    }

    #[test]
    fn the_threshold_is_the_lowest_that_sends_enough_held_out_chatter_to_a_person() {
        // Ten out-of-scope examples: two rejected by the reject class, the rest by confidence.
        let mut h: Vec<HeldOut> =
            [0.12, 0.18, 0.22, 0.25, 0.31, 0.35, 0.47, 0.52].iter().map(|&b| held(true, b, 0.01)).collect();
        h.push(held(true, 0.9, 0.95));
        h.push(held(true, 0.3, 0.4));
        h.push(held(false, 0.05, 0.0));
        // 8 of 10 must go: the two rejected ones plus six below the threshold (0.12 … 0.35).
        assert_eq!(threshold_for(&h, 0.8), 0.36);
        // Half: the two rejected plus three.
        assert_eq!(threshold_for(&h, 0.5), 0.23);
        assert_eq!(threshold_for(&h, 1.0), 0.53);
        // Never below or above the range.
        assert_eq!(threshold_for(&h, 0.1), THRESHOLD_RANGE.0);
        assert_eq!(threshold_for(&[held(true, 0.8, 0.0)], 1.0), THRESHOLD_RANGE.1);
    }

    #[test]
    fn cross_validation_needs_asking_and_enough_out_of_scope_examples() {
        let classes: Vec<Vec<&str>> = vec![
            vec!["reset my password", "forgot my password", "password expired", "locked out", "new password"],
            vec!["vpn will not connect", "vpn keeps dropping", "vpn error", "vpn slow", "vpn login fails"],
        ];
        let oos = [
            "the coffee machine is leaking",
            "what is for lunch",
            "my payslip is wrong",
            "the lift is stuck",
            "book a meeting room",
        ];
        let given = IntentModel::train(&classes, &oos);
        assert_eq!(given.held_out_threshold(), None);
        let cv =
            IntentModel::train_rule(&classes, &oos, None, ThresholdRule::CrossValidated(HELD_OUT_RECALL));
        let t = cv.held_out_threshold().expect("a cross-validated threshold");
        assert!((THRESHOLD_RANGE.0..=THRESHOLD_RANGE.1).contains(&t), "{t}");
        // The model itself is the same either way.
        assert_eq!(cv.probabilities("vpn error again"), given.probabilities("vpn error again"));
        let few = IntentModel::train_rule(
            &classes,
            &oos[..FOLDS - 1],
            None,
            ThresholdRule::CrossValidated(HELD_OUT_RECALL),
        );
        assert_eq!(few.held_out_threshold(), None);
    }
}
