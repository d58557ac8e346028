//! TF-IDF vectors shared by the intent matcher and KB example search: stemmed word unigrams and
//! bigrams plus character 3–5-grams (which catch typos), each block L2-normalised and weighted
//! so a dot product is a weighted mix of word and character cosine similarity. Features are
//! hashed (FNV-1a, stable across runs) so vectorising allocates no strings.
use crate::text;
use std::collections::HashMap;

/// A sparse vector sorted by feature id, unit length over known and unknown features.
pub type SparseVec = Vec<(u32, f32)>;

/// Share of the similarity carried by word features (the rest by character n-grams).
const WORD_WEIGHT: f32 = 0.5;

/// Hashed features of one text: (feature hash, is_word_feature).
fn features(text: &str, out: &mut Vec<(u64, bool)>) {
    out.clear();
    let words = text::words(text);
    let content: Vec<&String> = words.iter().filter(|w| !text::is_stopword(w)).collect();
    let stems: Vec<String> = content.iter().map(|w| text::stem(w)).collect();
    for s in &stems {
        out.push((fnv(b'w', s.chars()), true));
    }
    for pair in stems.windows(2) {
        let joined = pair[0].chars().chain(std::iter::once(' ')).chain(pair[1].chars());
        out.push((fnv(b'b', joined), true));
    }
    for w in content {
        text::char_ngrams(w, 3, 5, |g| out.push((fnv(b'c', g.iter().copied()), false)));
    }
}

fn fnv(kind: u8, chars: impl Iterator<Item = char>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(kind);
    for c in chars {
        h ^= u64::from(u32::from(c));
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Vocabulary and IDF learnt from a set of documents.
#[derive(Debug, Default)]
pub struct Vectorizer {
    vocab: HashMap<u64, u32>,
    idf: Vec<f32>,
    /// IDF of a feature never seen in training (it still counts towards a vector's length).
    unknown_idf: f32,
}

impl Vectorizer {
    pub fn fit<'a>(docs: impl IntoIterator<Item = &'a str>) -> Self {
        let mut vocab: HashMap<u64, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let mut buf = Vec::new();
        let mut n_docs = 0usize;
        for doc in docs {
            n_docs += 1;
            features(doc, &mut buf);
            buf.sort_unstable();
            buf.dedup();
            for (h, _) in &buf {
                let next = df.len() as u32;
                let id = *vocab.entry(*h).or_insert(next);
                if id == next {
                    df.push(0);
                }
                df[id as usize] += 1;
            }
        }
        let n = n_docs as f32;
        let idf = df.iter().map(|&d| ((n + 1.0) / (d as f32 + 1.0)).ln() + 1.0).collect();
        Self { vocab, idf, unknown_idf: (n + 1.0).ln() + 1.0 }
    }

    /// Sublinear TF × IDF, each block normalised, known features only in the result.
    pub fn vectorize(&self, text: &str) -> SparseVec {
        let mut buf = Vec::new();
        features(text, &mut buf);
        let mut tf: HashMap<(u64, bool), f32> = HashMap::new();
        for f in buf {
            *tf.entry(f).or_insert(0.0) += 1.0;
        }
        let (mut norm_w, mut norm_c) = (0.0f32, 0.0f32);
        let mut known: Vec<(u32, f32, bool)> = Vec::with_capacity(tf.len());
        for ((h, is_word), count) in tf {
            let id = self.vocab.get(&h).copied();
            let idf = id.map_or(self.unknown_idf, |i| self.idf[i as usize]);
            let w = (1.0 + count.ln()) * idf;
            if is_word {
                norm_w += w * w;
            } else {
                norm_c += w * w;
            }
            if let Some(id) = id {
                known.push((id, w, is_word));
            }
        }
        let scale_w = if norm_w > 0.0 { WORD_WEIGHT.sqrt() / norm_w.sqrt() } else { 0.0 };
        let scale_c = if norm_c > 0.0 { (1.0 - WORD_WEIGHT).sqrt() / norm_c.sqrt() } else { 0.0 };
        let mut v: SparseVec = known
            .into_iter()
            .map(|(id, w, is_word)| (id, w * if is_word { scale_w } else { scale_c }))
            .collect();
        v.sort_unstable_by_key(|&(id, _)| id);
        v
    }
}

/// Unit-length mean of vectors (a class centroid).
pub fn centroid<'a>(vectors: impl IntoIterator<Item = &'a SparseVec>) -> SparseVec {
    let mut sum: HashMap<u32, f32> = HashMap::new();
    for v in vectors {
        for &(id, w) in v {
            *sum.entry(id).or_insert(0.0) += w;
        }
    }
    let norm = sum.values().map(|w| w * w).sum::<f32>().sqrt();
    let mut out: SparseVec =
        sum.into_iter().map(|(id, w)| (id, if norm > 0.0 { w / norm } else { 0.0 })).collect();
    out.sort_unstable_by_key(|&(id, _)| id);
    out
}

/// An inverted index over vectors: dot products of a query with all of them at once.
#[derive(Debug, Default)]
pub struct Postings {
    lists: HashMap<u32, Vec<(u32, f32)>>,
    len: usize,
}

impl Postings {
    pub fn new(vectors: &[SparseVec]) -> Self {
        let mut lists: HashMap<u32, Vec<(u32, f32)>> = HashMap::new();
        for (doc, v) in vectors.iter().enumerate() {
            for &(id, w) in v {
                lists.entry(id).or_default().push((doc as u32, w));
            }
        }
        Self { lists, len: vectors.len() }
    }

    /// Cosine similarity of `q` with every indexed vector, in index order.
    pub fn dots(&self, q: &SparseVec) -> Vec<f32> {
        let mut out = vec![0.0f32; self.len];
        for (id, qw) in q {
            if let Some(list) = self.lists.get(id) {
                for &(doc, w) in list {
                    out[doc as usize] += qw * w;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &SparseVec, b: &SparseVec) -> f32 {
        Postings::new(std::slice::from_ref(b)).dots(a)[0]
    }

    #[test]
    fn similar_texts_score_higher_than_unrelated_ones() {
        let docs = ["reset my password", "printer is jammed", "vpn will not connect", "new laptop please"];
        let v = Vectorizer::fit(docs);
        let q = v.vectorize("i need to reset my pasword");
        let sims: Vec<f32> = docs.iter().map(|d| cos(&q, &v.vectorize(d))).collect();
        assert!(sims[0] > 0.3 && sims[1..].iter().all(|&s| s < sims[0] / 2.0), "{sims:?}");
        let same = v.vectorize("printer is jammed");
        assert!((cos(&same, &same) - 1.0).abs() < 1e-4);
    }

    #[test]
    fn unknown_words_lower_similarity_and_stopwords_alone_give_nothing() {
        let v = Vectorizer::fit(["vpn will not connect"]);
        let known = v.vectorize("vpn not connect");
        let diluted = v.vectorize("vpn not connect coffee machine leaking floor");
        let doc = v.vectorize("vpn will not connect");
        assert!(cos(&diluted, &doc) < cos(&known, &doc));
        assert!(v.vectorize("hi thanks").is_empty());
    }
}
