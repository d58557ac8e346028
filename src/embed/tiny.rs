//! A tiny BERT (random weights, two layers, 32 dimensions, a word-level vocabulary of a few
//! dozen words) written as a complete model directory, for tests and benches that need a model
//! without downloading one. Its embeddings mean nothing; they are deterministic.
use super::{CONFIG_FILE, POOLING_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;

pub const DIM: usize = 32;

const WORDS: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "i", "my", "the", "a", "to", "is", "how", "do", "reset",
    "password", "forgot", "vpn", "connect", "printer", "jammed", "paper", "laptop", "screen", "broken",
    "new", "need", "keeps", "dropping", "what", "weather", "lunch", "coffee", "machine", "leaking", "help",
    "access", "account", "locked", "email", "wifi", "slow", "?", "!", ".", ",", "##s", "##ed", "##ing",
];

/// Write a tiny model into `dir` (created if needed).
pub fn write_tiny_model(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir.join("1_Pooling"))?;
    let config = serde_json::json!({
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": DIM,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64,
        "model_type": "bert",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": WORDS.len()
    });
    std::fs::write(dir.join(CONFIG_FILE), serde_json::to_string_pretty(&config)?)?;
    let pooling = serde_json::json!({
        "word_embedding_dimension": DIM,
        "pooling_mode_cls_token": false,
        "pooling_mode_mean_tokens": true,
        "pooling_mode_max_tokens": false
    });
    std::fs::write(dir.join(POOLING_FILE), serde_json::to_string_pretty(&pooling)?)?;
    let vocab: serde_json::Map<String, serde_json::Value> =
        WORDS.iter().enumerate().map(|(i, w)| (w.to_string(), serde_json::json!(i))).collect();
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    std::fs::write(dir.join(TOKENIZER_FILE), serde_json::to_string(&tokenizer)?)?;

    let cfg: Config = serde_json::from_value(config)?;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    BertModel::load(vb, &cfg)?;
    // Deterministic weights (SplitMix64), whatever candle's initialiser did.
    let mut state: u64 = 0x7e57;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let data = varmap.data().lock().map_err(|_| "poisoned")?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let shape = var.shape().clone();
        let values: Vec<f32> = (0..shape.elem_count()).map(|_| next()).collect();
        var.set(&Tensor::from_vec(values, shape, &Device::Cpu)?)?;
    }
    drop(data);
    varmap.save(dir.join(WEIGHTS_FILE))?;
    Ok(())
}
