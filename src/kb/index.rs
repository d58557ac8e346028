//! KB search: BM25 over an article's fields (title and example questions boosted, tags, body)
//! with the shared tokeniser, blended with TF-IDF similarity to the article's example questions
//! and title. Scores land in 0..=1 so one relevance floor ([`KbIndex::min_score`]) works for any
//! knowledge base.
use super::{Article, KbHit, KbIndex};
use crate::text;
use crate::text::tfidf::{Postings, SparseVec, Vectorizer};
use std::collections::HashMap;

/// Default relevance floor: below it nothing is offered to the employee.
pub const DEFAULT_MIN_SCORE: f32 = 0.45;

const TITLE_BOOST: f32 = 3.0;
const EXAMPLE_BOOST: f32 = 2.0;
const TAG_BOOST: f32 = 2.0;
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// BM25 score at which the saturated BM25 part reaches one half.
const BM25_HALF: f32 = 3.0;
/// Share of the final score from the example-question similarity.
const EXAMPLE_WEIGHT: f32 = 0.4;

pub fn build_index(articles: &[Article]) -> Box<dyn KbIndex> {
    build_index_with(articles, None)
}

/// [`build_index`] with the relevance floor overridden (from config).
pub fn build_index_with(articles: &[Article], min_score: Option<f32>) -> Box<dyn KbIndex> {
    Box::new(Bm25Index::new(articles, min_score.unwrap_or(DEFAULT_MIN_SCORE)))
}

struct Bm25Index {
    /// term → (article, field-weighted term frequency)
    postings: HashMap<String, Vec<(usize, f32)>>,
    idf: HashMap<String, f32>,
    unknown_idf: f32,
    doc_len: Vec<f32>,
    avg_len: f32,
    vectorizer: Vectorizer,
    questions: Postings,
    /// Article of each indexed question.
    question_owner: Vec<usize>,
    min_score: f32,
}

impl Bm25Index {
    fn new(articles: &[Article], min_score: f32) -> Self {
        let mut postings: HashMap<String, Vec<(usize, f32)>> = HashMap::new();
        let mut doc_len = Vec::with_capacity(articles.len());
        for (i, a) in articles.iter().enumerate() {
            let mut tf: HashMap<String, f32> = HashMap::new();
            let fields = [
                (TITLE_BOOST, a.title.clone()),
                (TAG_BOOST, a.tags.join(" ")),
                (EXAMPLE_BOOST, a.examples.join(" ")),
                (1.0, a.body.clone()),
            ];
            for (boost, field) in fields {
                for t in text::terms(&field) {
                    *tf.entry(t).or_insert(0.0) += boost;
                }
            }
            doc_len.push(tf.values().sum());
            for (t, f) in tf {
                postings.entry(t).or_default().push((i, f));
            }
        }
        let n = articles.len() as f32;
        let idf_of = |df: f32| (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        let idf = postings.iter().map(|(t, p)| (t.clone(), idf_of(p.len() as f32))).collect();
        let avg_len = if doc_len.is_empty() { 1.0 } else { doc_len.iter().sum::<f32>() / n };

        let mut questions: Vec<&str> = Vec::new();
        let mut question_owner = Vec::new();
        for (i, a) in articles.iter().enumerate() {
            for q in std::iter::once(&a.title).chain(&a.examples) {
                questions.push(q);
                question_owner.push(i);
            }
        }
        let vectorizer = Vectorizer::fit(questions.iter().copied());
        let vectors: Vec<SparseVec> = questions.iter().map(|q| vectorizer.vectorize(q)).collect();
        Self {
            postings,
            idf,
            unknown_idf: idf_of(1.0),
            doc_len,
            avg_len: avg_len.max(1.0),
            questions: Postings::new(&vectors),
            vectorizer,
            question_owner,
            min_score,
        }
    }
}

impl KbIndex for Bm25Index {
    fn search(&self, query: &str, k: usize) -> Vec<KbHit> {
        let mut terms = text::terms(query);
        terms.sort();
        terms.dedup();
        let n = self.doc_len.len();
        let total_idf: f32 = terms.iter().map(|t| self.idf.get(t).copied().unwrap_or(self.unknown_idf)).sum();
        if n == 0 || total_idf <= 0.0 {
            return Vec::new();
        }
        let mut bm25 = vec![0.0f32; n];
        let mut covered = vec![0.0f32; n];
        for t in &terms {
            let (Some(list), Some(&idf)) = (self.postings.get(t), self.idf.get(t)) else { continue };
            for &(doc, tf) in list {
                let norm = K1 * (1.0 - B + B * self.doc_len[doc] / self.avg_len);
                bm25[doc] += idf * tf * (K1 + 1.0) / (tf + norm);
                covered[doc] += idf;
            }
        }
        let mut example_sim = vec![0.0f32; n];
        let q = self.vectorizer.vectorize(query);
        for (&owner, s) in self.question_owner.iter().zip(self.questions.dots(&q)) {
            example_sim[owner] = example_sim[owner].max(s);
        }
        let mut hits: Vec<KbHit> = (0..n)
            .map(|doc| {
                let coverage = covered[doc] / total_idf;
                let saturated = bm25[doc] / (bm25[doc] + BM25_HALF);
                let lexical = (coverage * (0.5 + saturated)).min(1.0);
                let score = (1.0 - EXAMPLE_WEIGHT) * lexical + EXAMPLE_WEIGHT * example_sim[doc];
                KbHit { article: doc, score }
            })
            .filter(|h| h.score > 0.0)
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.article.cmp(&b.article)));
        hits.truncate(k);
        hits
    }

    fn min_score(&self) -> f32 {
        self.min_score
    }
}

#[cfg(test)]
mod tests;
