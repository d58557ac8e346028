//! Sentence embeddings from a local BERT-family model directory (all-MiniLM-L6-v2 and its kin):
//! `config.json`, `tokenizer.json`, `model.safetensors` and `1_Pooling/config.json`, as
//! `deskbot model import` writes them. The encoder is deskbot's own BERT forward pass ([`bert`]) on
//! the CPU, its weights read with candle and packed once for the matrix kernel; nothing is ever
//! downloaded. A sentence's embedding is the mean of its token vectors (padding masked out),
//! L2-normalised, so the dot product of two embeddings is their cosine.
//!
//! Embeddings of catalog texts (intent examples, KB articles) go through [`Embedder::embed_cached`]:
//! a cache file next to the model (`embeddings.cache`) keyed by the text's SHA-256 and the model's
//! checksum, so a restart or a hot reload re-embeds only texts it has not seen.
//!
//! A message is embedded once however many stages read it: the matcher and the KB search ask
//! [`Embedder::embed_query`], which remembers the last few messages' embeddings.
//!
//! Threads: the matrix products run on `RAYON_NUM_THREADS` threads (default: all cores). One
//! message at a time is fastest on one core; catalog embedding runs in batches of
//! [`BATCH`] texts of similar length.

pub mod bert;
pub mod cache;
pub mod import;

use candle_core::{Device, Tensor};
use candle_transformers::models::bert::Config as BertConfig;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokenizers::Tokenizer;

/// Files a model directory holds.
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const POOLING_FILE: &str = "1_Pooling/config.json";
/// Written by `deskbot model import`: dimensions, checksum and the self-test's figures.
pub const MANIFEST_FILE: &str = "deskbot-model.json";
/// The embedding cache, next to the model.
pub const CACHE_FILE: &str = "embeddings.cache";
/// Texts per forward pass when embedding a catalog.
pub const BATCH: usize = 32;
/// How many recent messages' embeddings [`Embedder::embed_query`] remembers.
const RECENT: usize = 8;
/// Longer texts are cut to this many tokens (all-MiniLM-L6-v2 was trained on 128; article
/// bodies are embedded in chunks by the KB index).
pub const MAX_TOKENS: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file of the model is missing or broken: `file: reason`.
    #[error("{0}: {1}")]
    File(String, String),
    #[error("embedding failed: {0}")]
    Runtime(String),
}

fn file_err(path: &Path, reason: impl std::fmt::Display) -> EmbedError {
    EmbedError::File(path.display().to_string(), reason.to_string())
}

fn runtime(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Runtime(e.to_string())
}

/// What `model info` prints and the manifest records.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// Embedding dimensions.
    pub dimensions: usize,
    pub layers: usize,
    pub vocab_size: usize,
    pub parameters: usize,
    /// SHA-256 over the model's files (config, tokenizer, weights, pooling), hex.
    pub checksum: String,
}

/// A loaded sentence-embedding model.
pub struct Embedder {
    model: bert::Bert,
    tokenizer: Tokenizer,
    info: ModelInfo,
    dir: PathBuf,
    cache: Mutex<Option<cache::Cache>>,
    /// The last few messages and their embeddings, newest last.
    recent: Mutex<std::collections::VecDeque<(String, Vec<f32>)>>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dir", &self.dir).field("info", &self.info).finish()
    }
}

/// Checks the BERT-family config and the pooling config; returns the parsed config.
pub fn read_config(dir: &Path) -> Result<BertConfig, EmbedError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e))?;
    let raw: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| file_err(&path, format!("not JSON: {e}")))?;
    let model_type = raw.get("model_type").and_then(|v| v.as_str()).unwrap_or("bert");
    if !matches!(model_type, "bert" | "roberta" | "xlm-roberta" | "camembert" | "distilbert") {
        return Err(file_err(&path, format!("model_type `{model_type}` is not a BERT-family model")));
    }
    let config: BertConfig =
        serde_json::from_value(raw).map_err(|e| file_err(&path, format!("not a BERT config: {e}")))?;
    if config.hidden_size == 0
        || config.num_attention_heads == 0
        || !config.hidden_size.is_multiple_of(config.num_attention_heads)
    {
        return Err(file_err(&path, "hidden_size must be a positive multiple of num_attention_heads"));
    }
    let pooling = dir.join(POOLING_FILE);
    let text = std::fs::read_to_string(&pooling).map_err(|e| file_err(&pooling, e))?;
    let raw: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| file_err(&pooling, format!("not JSON: {e}")))?;
    if raw.get("pooling_mode_mean_tokens").and_then(|v| v.as_bool()) != Some(true) {
        return Err(file_err(&pooling, "only mean pooling (pooling_mode_mean_tokens: true) is supported"));
    }
    let dim = raw.get("word_embedding_dimension").and_then(|v| v.as_u64());
    if dim.is_some_and(|d| d as usize != config.hidden_size) {
        return Err(file_err(&pooling, "word_embedding_dimension differs from the model's hidden_size"));
    }
    Ok(config)
}

/// SHA-256 over the four model files, each preceded by its name.
pub fn checksum(dir: &Path) -> Result<String, EmbedError> {
    let mut h = Sha256::new();
    for name in [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, POOLING_FILE] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| file_err(&path, e))?;
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

impl Embedder {
    /// Load a model directory. The checksum comes from the import manifest when there is one
    /// (hashing 90 MB at every start is wasted time), else it is computed.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let config = read_config(dir)?;
        let tok_path = dir.join(TOKENIZER_FILE);
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| file_err(&tok_path, e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(|e| file_err(&tok_path, e))?;
        let w_path = dir.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&w_path).map_err(|e| file_err(&w_path, e))?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| file_err(&w_path, format!("not a safetensors file: {e}")))?;
        drop(bytes);
        let parameters = tensors.values().map(Tensor::elem_count).sum();
        let model = bert::Bert::load(tensors, &config)
            .map_err(|e| file_err(&w_path, format!("not this BERT: {e}")))?;
        let manifest = dir.join(MANIFEST_FILE);
        let recorded = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<import::Manifest>(&t).ok())
            .map(|m| m.info.checksum)
            .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        let checksum = match recorded {
            Some(c) => c,
            None => checksum(dir)?,
        };
        let info = ModelInfo {
            dimensions: config.hidden_size,
            layers: config.num_hidden_layers,
            vocab_size: config.vocab_size,
            parameters,
            checksum,
        };
        Ok(Self {
            model,
            tokenizer,
            info,
            dir: dir.to_path_buf(),
            cache: Mutex::new(None),
            recent: Mutex::new(std::collections::VecDeque::with_capacity(RECENT)),
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn dim(&self) -> usize {
        self.info.dimensions
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The embedding of one text (unit length).
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let encoding = self.tokenizer.encode(text, true).map_err(runtime)?;
        Ok(self.forward(std::slice::from_ref(&encoding))?.pop().unwrap_or_default())
    }

    /// The embedding of a message that several stages read (the matcher, then the KB search):
    /// the same text asked again soon after is not run through the model again.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let lock = || self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, v)) = lock().iter().rev().find(|(t, _)| t == text) {
            return Ok(v.clone());
        }
        let v = self.embed(text)?;
        let mut recent = lock();
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back((text.to_string(), v.clone()));
        Ok(v)
    }

    /// Embeddings of `texts`, in order, in one forward pass (padded to the longest).
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(runtime)?;
        self.forward(&encodings)
    }

    /// Mean-pooled, unit-length embeddings of tokenised texts (padded to the longest).
    fn forward(&self, encodings: &[tokenizers::Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let seqs: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        Ok(self.model.embed(&seqs)?.into_iter().map(normalised).collect())
    }

    /// Embeddings of `texts` through the cache: only texts not embedded before by this model
    /// run through it (in batches of similar length), and the cache file is updated when any
    /// did. A cache file that cannot be read or written is ignored (logged).
    pub fn embed_cached(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut guard = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let cache = guard.get_or_insert_with(|| {
            let path = self.dir.join(CACHE_FILE);
            match cache::Cache::load(&path, &self.info.checksum, self.dim()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "embedding cache not read; starting empty");
                    cache::Cache::new(&self.info.checksum, self.dim())
                }
            }
        });
        let keys: Vec<cache::Key> = texts.iter().map(|t| cache::key(t)).collect();
        keys.iter().for_each(|k| cache.touch(*k));
        let mut missing: Vec<usize> = (0..texts.len()).filter(|&i| !cache.contains(&keys[i])).collect();
        // Similar lengths batch together (less padding); a repeated text is embedded once.
        missing.sort_by_key(|&i| (texts[i].len(), keys[i]));
        missing.dedup_by_key(|i| keys[*i]);
        for chunk in missing.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                cache.insert(keys[i], v);
            }
        }
        if !missing.is_empty()
            && let Err(e) = cache.save(&self.dir.join(CACHE_FILE))
        {
            tracing::warn!(error = %e, "embedding cache not written");
        }
        Ok(keys.iter().map(|k| cache.get(k).map(<[f32]>::to_vec).unwrap_or_default()).collect())
    }
}

/// `v` scaled to unit length (zero stays zero).
pub fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Dot product (the cosine of two unit vectors).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests;
/// A tiny random BERT for tests and benches (no download).
#[doc(hidden)]
pub mod tiny;
