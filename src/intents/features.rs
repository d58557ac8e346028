//! Sparse features of a message for the linear intent model: stemmed word unigrams (stopwords
//! kept: "what is" and "how do i" tell intents apart), word bigrams with sentence boundaries,
//! and character 3–5-grams inside word boundaries (they catch typos and word variants). Each
//! block gets sublinear term frequency and its own L2 norm, weighted so the whole vector has
//! unit length. Features are hashed (FNV-1a, stable across runs and platforms) and mapped to
//! dense ids by a vocabulary learnt at training time; unseen features are dropped.
use crate::text;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Weights (of the squared norm) of the three blocks: unigrams, bigrams, character n-grams.
const BLOCK_WEIGHTS: [f32; 3] = [0.35, 0.15, 0.5];
/// Character n-gram lengths.
const CHAR_MIN: usize = 3;
const CHAR_MAX: usize = 5;

/// A sparse vector: feature ids ascending, with their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparse {
    pub ids: Vec<u32>,
    pub vals: Vec<f32>,
}

impl Sparse {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Hashes are already well mixed: use them as they are.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdMap = HashMap<u64, u32, BuildHasherDefault<IdHasher>>;

/// Which block a hashed feature belongs to: the top two bits of its hash.
fn block_of(h: u64) -> usize {
    ((h >> 62) as usize).min(2)
}

fn tag(block: u64, h: u64) -> u64 {
    (h & (u64::MAX >> 2)) | (block << 62)
}

fn fnv(seed: u8, chars: impl Iterator<Item = char>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(seed);
    for c in chars {
        h ^= u64::from(u32::from(c));
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Final mix so the top bits (the block tag) do not shadow information.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// The hashed features of `text` with repeats, in no particular order.
pub fn hashed(text: &str, out: &mut Vec<u64>) {
    out.clear();
    let words = text::words(text);
    let stems: Vec<String> = words.iter().map(|w| text::stem(w)).collect();
    for s in &stems {
        out.push(tag(0, fnv(b'w', s.chars())));
    }
    let bos = std::iter::once("<s>");
    let eos = std::iter::once("</s>");
    let seq: Vec<&str> = bos.chain(stems.iter().map(String::as_str)).chain(eos).collect();
    if stems.len() > 1 {
        for pair in seq.windows(2) {
            let joined = pair[0].chars().chain(std::iter::once(' ')).chain(pair[1].chars());
            out.push(tag(1, fnv(b'b', joined)));
        }
    }
    for w in &words {
        text::char_ngrams(w, CHAR_MIN, CHAR_MAX, |g| out.push(tag(2, fnv(b'c', g.iter().copied()))));
    }
}

/// The vocabulary: hashed feature → dense id, learnt from training texts.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    ids: IdMap,
}

impl Vocabulary {
    /// The features of `docs` seen in at least `min_docs` of them (a feature seen once cannot
    /// tell classes apart and only slows scoring down); ids are given in first-seen order, so
    /// training is deterministic.
    pub fn fit<'a>(docs: impl IntoIterator<Item = &'a str> + Clone, min_docs: u32) -> Self {
        let mut counts = IdMap::default();
        let mut buf = Vec::new();
        for doc in docs.clone() {
            hashed(doc, &mut buf);
            buf.sort_unstable();
            buf.dedup();
            for &h in &buf {
                *counts.entry(h).or_insert(0u32) += 1;
            }
        }
        let mut ids = IdMap::default();
        for doc in docs {
            hashed(doc, &mut buf);
            for &h in &buf {
                if counts.get(&h).is_some_and(|&c| c >= min_docs) {
                    let next = ids.len() as u32;
                    ids.entry(h).or_insert(next);
                }
            }
        }
        Self { ids }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The feature vector of `text`. Norms count unseen features too, so a message full of
    /// words the catalog never saw gets small values (and a less confident verdict).
    pub fn vectorize(&self, text: &str) -> Sparse {
        let mut hashes = Vec::new();
        hashed(text, &mut hashes);
        hashes.sort_unstable();
        let mut norms = [0.0f32; 3];
        let mut known: Vec<(u32, f32, usize)> = Vec::with_capacity(hashes.len());
        let mut i = 0;
        while i < hashes.len() {
            let h = hashes[i];
            let mut j = i;
            while j < hashes.len() && hashes[j] == h {
                j += 1;
            }
            let tf = 1.0 + ((j - i) as f32).ln();
            let block = block_of(h);
            norms[block] += tf * tf;
            if let Some(&id) = self.ids.get(&h) {
                known.push((id, tf, block));
            }
            i = j;
        }
        let scale: [f32; 3] =
            std::array::from_fn(
                |b| {
                    if norms[b] > 0.0 { BLOCK_WEIGHTS[b].sqrt() / norms[b].sqrt() } else { 0.0 }
                },
            );
        known.sort_unstable_by_key(|k| k.0);
        Sparse {
            ids: known.iter().map(|k| k.0).collect(),
            vals: known.iter().map(|k| k.1 * scale[k.2]).collect(),
        }
    }

    /// Reverse lookup for explanations: the readable form of each id that `texts` produce.
    pub fn names<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> HashMap<u32, String> {
        let mut out = HashMap::new();
        for t in texts {
            for (h, name) in named(t) {
                if let Some(&id) = self.ids.get(&h) {
                    out.entry(id).or_insert(name);
                }
            }
        }
        out
    }
}

/// The hashed features of `text` with a readable name each (for `intents explain`).
pub fn named(text: &str) -> Vec<(u64, String)> {
    let words = text::words(text);
    let stems: Vec<String> = words.iter().map(|w| text::stem(w)).collect();
    let mut out: Vec<(u64, String)> =
        stems.iter().map(|s| (tag(0, fnv(b'w', s.chars())), format!("word \"{s}\""))).collect();
    if stems.len() > 1 {
        let seq: Vec<&str> = std::iter::once("<s>")
            .chain(stems.iter().map(String::as_str))
            .chain(std::iter::once("</s>"))
            .collect();
        for pair in seq.windows(2) {
            let joined = format!("{} {}", pair[0], pair[1]);
            out.push((tag(1, fnv(b'b', joined.chars())), format!("words \"{joined}\"")));
        }
    }
    for w in &words {
        text::char_ngrams(w, CHAR_MIN, CHAR_MAX, |g| {
            let s: String = g.iter().collect();
            out.push((tag(2, fnv(b'c', g.iter().copied())), format!("chars \"{s}\"")));
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &Sparse, b: &Sparse) -> f32 {
        let m: HashMap<u32, f32> = b.ids.iter().copied().zip(b.vals.iter().copied()).collect();
        a.ids.iter().zip(&a.vals).map(|(i, v)| v * m.get(i).copied().unwrap_or(0.0)).sum()
    }

    #[test]
    fn a_known_text_has_unit_length_and_ascending_ids() {
        let v = Vocabulary::fit(["reset my password", "vpn will not connect"], 1);
        let x = v.vectorize("Reset my password!");
        assert!((dot(&x, &x) - 1.0).abs() < 1e-4, "{x:?}");
        assert!(x.ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn typos_and_casing_keep_most_of_the_similarity() {
        let v = Vocabulary::fit(["reset my password", "printer is jammed"], 1);
        let a = v.vectorize("reset my password");
        let typo = v.vectorize("RESET my pasword");
        let other = v.vectorize("printer is jammed");
        assert!(dot(&a, &typo) > 0.5, "{}", dot(&a, &typo));
        assert!(dot(&a, &other) < 0.1);
    }

    #[test]
    fn unseen_words_shrink_the_vector_and_empty_text_gives_nothing() {
        let v = Vocabulary::fit(["vpn will not connect"], 1);
        let full = v.vectorize("vpn will not connect");
        let diluted = v.vectorize("vpn will not connect coffee machine leaking");
        assert!(dot(&diluted, &diluted) < dot(&full, &full));
        assert!(v.vectorize("").is_empty());
        assert!(v.vectorize("?!").is_empty());
    }

    #[test]
    fn hashing_is_stable() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        hashed("my vpn keeps dropping", &mut a);
        hashed("my vpn keeps dropping", &mut b);
        assert_eq!(a, b);
        assert!(a.iter().any(|&h| block_of(h) == 1) && a.iter().any(|&h| block_of(h) == 2));
    }
}
