//! The statistical half of the matcher: TF-IDF vectors of every example, scored per intent as a
//! mix of nearest-example similarity (kNN) and centroid similarity. Out-of-scope examples form a
//! pseudo-class scored by nearest example only (their centroid means nothing).
use super::tfidf::{self, Postings, SparseVec, Vectorizer};

/// Weight of the nearest-example similarity; the rest goes to the centroid.
const KNN_WEIGHT: f32 = 0.4;
/// Weight of the best example within the kNN part; the rest goes to the second best.
const TOP1_WEIGHT: f32 = 0.7;

pub struct Classifier {
    vectorizer: Vectorizer,
    examples: Postings,
    /// Class of each indexed example; `n_classes` marks an out-of-scope example.
    labels: Vec<u32>,
    n_classes: usize,
    centroids: Postings,
}

/// Raw similarity scores in 0..=1: one per class, and the out-of-scope pseudo-class.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub classes: Vec<f32>,
    pub out_of_scope: f32,
}

impl Classifier {
    /// `classes[i]` holds the examples of class `i`.
    pub fn train(classes: &[Vec<&str>], out_of_scope: &[&str]) -> Self {
        let all = classes.iter().flatten().chain(out_of_scope).copied();
        let vectorizer = Vectorizer::fit(all);
        let mut vectors: Vec<SparseVec> = Vec::new();
        let mut labels = Vec::new();
        let mut centroids = Vec::with_capacity(classes.len());
        for (class, examples) in classes.iter().enumerate() {
            let start = vectors.len();
            for ex in examples {
                vectors.push(vectorizer.vectorize(ex));
                labels.push(class as u32);
            }
            centroids.push(tfidf::centroid(&vectors[start..]));
        }
        for ex in out_of_scope {
            vectors.push(vectorizer.vectorize(ex));
            labels.push(classes.len() as u32);
        }
        Self {
            examples: Postings::new(&vectors),
            vectorizer,
            labels,
            n_classes: classes.len(),
            centroids: Postings::new(&centroids),
        }
    }

    pub fn scores(&self, text: &str) -> Scores {
        let q = self.vectorizer.vectorize(text);
        let sims = self.examples.dots(&q);
        let mut best = vec![(0.0f32, 0.0f32); self.n_classes + 1];
        for (&label, &s) in self.labels.iter().zip(&sims) {
            let b = &mut best[label as usize];
            if s > b.0 {
                *b = (s, b.0);
            } else if s > b.1 {
                b.1 = s;
            }
        }
        let centroid = self.centroids.dots(&q);
        let mut top1_of_best = 0.0f32;
        let mut best_score = -1.0f32;
        let classes = (0..self.n_classes)
            .map(|c| {
                let (top1, top2) = best[c];
                let knn = TOP1_WEIGHT * top1 + (1.0 - TOP1_WEIGHT) * top2;
                let score = (KNN_WEIGHT * knn + (1.0 - KNN_WEIGHT) * centroid[c]).clamp(0.0, 1.0);
                if score > best_score {
                    best_score = score;
                    top1_of_best = top1;
                }
                score
            })
            .collect::<Vec<f32>>();
        // Like for like: the out-of-scope pseudo-class wins when its nearest example is nearer
        // than the best intent's nearest example. Report it on the intents' scale.
        let oos_knn = best[self.n_classes].0;
        let out_of_scope =
            if oos_knn > top1_of_best { best_score.max(0.0) + (oos_knn - top1_of_best) } else { 0.0 };
        Scores { classes, out_of_scope }
    }
}
