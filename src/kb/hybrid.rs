//! Hybrid KB search: the lexical score of [`super::index`] (BM25-style over the fields plus
//! example-question similarity, in 0..=1) blended with the cosine of sentence embeddings of
//! the query and of the article's texts (title, example questions, body chunks). An article's
//! meaning score is its best text's cosine, a body chunk's discounted by [`BODY_FACTOR`]
//! (bodies are long and say many things). The weights were tuned on StackFAQ dev (4-fold,
//! examples attached; P@1 / MRR): words only 0.858 / 0.909; semantic weight 0.3: 0.952 / 0.969,
//! 0.5: 0.970 / 0.982, 0.7: 0.976 / 0.987, 0.8: 0.978 / 0.988, 1.0 (meaning only): 0.986 /
//! 0.993. The body factor (0.8, 0.9, 1.0) moved nothing beyond 0.002. 0.7 keeps three tenths
//! for the words themselves: error codes, product and host names mean little to a model that
//! never saw them, and a desk's articles are full of them, which StackFAQ's are not.
use super::{Article, KbHit, KbIndex};
use crate::embed::{Embedder, cosine};
use std::sync::Arc;

/// Share of the final score from the embedding cosine.
pub const SEMANTIC_WEIGHT: f32 = 0.7;
/// A body chunk's cosine counts this much of a title's or example question's.
pub const BODY_FACTOR: f32 = 0.9;
/// Body chunks hold about this many words (the model reads 128 tokens at most).
const CHUNK_WORDS: usize = 80;

pub struct HybridIndex {
    lexical: Box<dyn KbIndex>,
    embedder: Arc<Embedder>,
    /// (article, discount, embedding) for every embedded text.
    vectors: Vec<(usize, f32, Vec<f32>)>,
    n_articles: usize,
    weight: f32,
    body_factor: f32,
}

/// The texts of `a` that are embedded, with their discount.
fn texts(a: &Article) -> Vec<(String, f32)> {
    let mut out = vec![(a.title.clone(), 1.0)];
    out.extend(a.examples.iter().map(|e| (e.clone(), 1.0)));
    let words: Vec<&str> = a.body.split_whitespace().collect();
    for chunk in words.chunks(CHUNK_WORDS) {
        out.push((format!("{}. {}", a.title, chunk.join(" ")), BODY_FACTOR));
    }
    out
}

impl HybridIndex {
    /// `None` when the articles cannot be embedded (logged): the caller keeps the lexical index.
    pub fn new(
        articles: &[Article],
        lexical: Box<dyn KbIndex>,
        embedder: Arc<Embedder>,
    ) -> Result<Self, Box<dyn KbIndex>> {
        Self::tuned(articles, lexical, embedder, SEMANTIC_WEIGHT, BODY_FACTOR)
    }

    /// [`HybridIndex::new`] with other weights (for tuning).
    pub fn tuned(
        articles: &[Article],
        lexical: Box<dyn KbIndex>,
        embedder: Arc<Embedder>,
        weight: f32,
        body_factor: f32,
    ) -> Result<Self, Box<dyn KbIndex>> {
        let mut owners = Vec::new();
        let mut all = Vec::new();
        for (i, a) in articles.iter().enumerate() {
            for (t, f) in texts(a) {
                owners.push((i, f));
                all.push(t);
            }
        }
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let embedded = match embedder.embed_cached(&refs) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "KB articles not embedded; searching on words only");
                return Err(lexical);
            }
        };
        let vectors = owners.into_iter().zip(embedded).map(|((i, f), v)| (i, f, v)).collect();
        Ok(Self { lexical, embedder, vectors, n_articles: articles.len(), weight, body_factor })
    }
}

impl KbIndex for HybridIndex {
    fn search(&self, query: &str, k: usize) -> Vec<KbHit> {
        let mut scores = vec![0.0f32; self.n_articles];
        for h in self.lexical.search(query, self.n_articles) {
            if let Some(s) = scores.get_mut(h.article) {
                *s = (1.0 - self.weight) * h.score;
            }
        }
        match self.embedder.embed_query(query) {
            Ok(q) => {
                let mut best = vec![0.0f32; self.n_articles];
                for (i, f, v) in &self.vectors {
                    let discount = if *f < 1.0 { self.body_factor } else { 1.0 };
                    let c = cosine(&q, v) * discount;
                    if let Some(b) = best.get_mut(*i) {
                        *b = b.max(c);
                    }
                }
                for (s, b) in scores.iter_mut().zip(best) {
                    *s += self.weight * b;
                }
            }
            Err(e) => tracing::warn!(error = %e, "query not embedded; words only"),
        }
        let mut hits: Vec<KbHit> = scores
            .into_iter()
            .enumerate()
            .map(|(article, score)| KbHit { article, score })
            .filter(|h| h.score > 0.0)
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.article.cmp(&b.article)));
        hits.truncate(k);
        hits
    }

    fn min_score(&self) -> f32 {
        self.lexical.min_score()
    }
}

/// The KB index for a catalog: hybrid when a model is given, else lexical.
pub fn build_index_embedded(
    articles: &[Article],
    min_score: Option<f32>,
    model: Option<&Arc<Embedder>>,
) -> Box<dyn KbIndex> {
    let lexical = super::build_index_with(articles, min_score);
    match model {
        None => lexical,
        Some(m) => match HybridIndex::new(articles, lexical, m.clone()) {
            Ok(h) => Box::new(h),
            Err(lexical) => lexical,
        },
    }
}
