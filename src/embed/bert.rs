//! The BERT encoder's forward pass for sentence embeddings, on the CPU.
//!
//! The computation is BERT's (the same as candle's `BertModel`, which the tests check it
//! against): word + position + token-type embeddings and a layer norm, then per layer
//! self-attention (query, key and value as one fused matrix), its output projection with a
//! residual layer norm, the feed-forward block (GELU) with a residual layer norm.
//!
//! What makes it fast for one short message at a time (a dozen token rows): every weight matrix
//! is packed once at load into the layout the matrix-multiply kernel reads
//! ([`rten_gemm::PackedBMatrix`]), so a forward pass never re-lays out 22 M weights as a general
//! `gemm` does at each call; the biases are added by the kernel as it writes its output; GELU's
//! `erf` is vectorised ([`rten_vecmath::Gelu`]). Attention over a few dozen tokens is small and
//! runs as plain loops.
use super::EmbedError;
use candle_core::{DType, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct};
use rten_gemm::{BiasVector, GemmExecutor, GemmInputA, GemmInputB, GemmOptions, PackedBMatrix};
use rten_simd::SimdUnaryOp;
use rten_tensor::NdTensorView;
use std::collections::HashMap;

/// A dense layer: `y = x · Wᵀ + b`, `W` packed for the kernel.
struct Dense {
    w: PackedBMatrix<f32>,
    b: Vec<f32>,
    out: usize,
}

/// Layer-norm scale and shift.
struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

struct Layer {
    /// Query, key and value side by side: `hidden → 3 × hidden`.
    qkv: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    up: Dense,
    down: Dense,
    out_norm: Norm,
}

/// A loaded encoder.
pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    max_positions: usize,
    eps: f32,
    act: HiddenAct,
}

thread_local! {
    /// The matrix kernel for this CPU (chosen at first use; the executor is not `Send`, so each
    /// thread holds its own; a packed matrix is checked against the kernel reading it).
    static GEMM: GemmExecutor<f32> = GemmExecutor::default();
}

/// Weight tensors by name, found under the prefixes checkpoints use (`bert.`, the model type's).
struct Weights {
    tensors: HashMap<String, Tensor>,
    prefix: String,
}

impl Weights {
    fn new(tensors: HashMap<String, Tensor>, model_type: Option<&str>) -> Self {
        let candidates =
            ["", "bert."].into_iter().map(str::to_string).chain(model_type.map(|t| format!("{t}.")));
        let prefix = candidates
            .into_iter()
            .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
            .unwrap_or_default();
        Self { tensors, prefix }
    }

    /// The tensor `name` as f32 values, checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let full = format!("{}{name}", self.prefix);
        let t = self.tensors.get(&full).ok_or_else(|| format!("tensor `{full}` is missing"))?;
        if t.dims() != shape {
            return Err(format!("tensor `{full}` has shape {:?}, expected {shape:?}", t.dims()));
        }
        t.to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("tensor `{full}`: {e}"))
    }

    /// A layer norm's scale and shift (`weight`/`bias`, or the older `gamma`/`beta`).
    fn norm(&self, name: &str, dim: usize) -> Result<Norm, String> {
        let w = self
            .get(&format!("{name}.weight"), &[dim])
            .or_else(|e| self.get(&format!("{name}.gamma"), &[dim]).map_err(|_| e))?;
        let b = self
            .get(&format!("{name}.bias"), &[dim])
            .or_else(|e| self.get(&format!("{name}.beta"), &[dim]).map_err(|_| e))?;
        Ok(Norm { w, b })
    }
}

impl Bert {
    /// Build the encoder from a checkpoint's tensors.
    pub fn load(tensors: HashMap<String, Tensor>, config: &Config) -> Result<Self, String> {
        if config.type_vocab_size == 0 || config.max_position_embeddings == 0 {
            return Err("type_vocab_size and max_position_embeddings must be at least 1".into());
        }
        let w = Weights::new(tensors, config.model_type.as_deref());
        let h = config.hidden_size;
        let inter = config.intermediate_size;
        // PyTorch stores a linear layer's weight as out × in; the kernel reads in × out.
        let pack = |rows: &[f32], out: usize, inp: usize| {
            let view = NdTensorView::from_data([out, inp], rows);
            GEMM.with(|g| g.prepack_b(view.transposed()))
        };
        let dense = |name: &str, inp: usize, out: usize| -> Result<Dense, String> {
            let weight = w.get(&format!("{name}.weight"), &[out, inp])?;
            let b = w.get(&format!("{name}.bias"), &[out])?;
            Ok(Dense { w: pack(&weight, out, inp), b, out })
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let mut qkv_w = Vec::with_capacity(3 * h * h);
            let mut qkv_b = Vec::with_capacity(3 * h);
            for part in ["query", "key", "value"] {
                qkv_w.extend(w.get(&format!("{p}.attention.self.{part}.weight"), &[h, h])?);
                qkv_b.extend(w.get(&format!("{p}.attention.self.{part}.bias"), &[h])?);
            }
            let qkv = Dense { w: pack(&qkv_w, 3 * h, h), b: qkv_b, out: 3 * h };
            drop(qkv_w);
            layers.push(Layer {
                qkv,
                attn_out: dense(&format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h)?,
                up: dense(&format!("{p}.intermediate.dense"), h, inter)?,
                down: dense(&format!("{p}.output.dense"), inter, h)?,
                out_norm: w.norm(&format!("{p}.output.LayerNorm"), h)?,
            });
        }
        let e = "embeddings";
        Ok(Self {
            word: w.get(&format!("{e}.word_embeddings.weight"), &[config.vocab_size, h])?,
            position: w
                .get(&format!("{e}.position_embeddings.weight"), &[config.max_position_embeddings, h])?,
            token_type: w.get(&format!("{e}.token_type_embeddings.weight"), &[config.type_vocab_size, h])?,
            emb_norm: w.norm(&format!("{e}.LayerNorm"), h)?,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            max_positions: config.max_position_embeddings,
            eps: config.layer_norm_eps as f32,
            act: config.hidden_act,
        })
    }

    /// Mean-pooled (not yet normalised) embeddings of `seqs` token-id sequences.
    pub fn embed(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let h = self.hidden;
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0).clamp(1, self.max_positions);
        let rows = seqs.len() * len;
        let vocab = self.word.len() / h;
        // Embeddings: word + position + token type 0, then layer norm. Padding rows are id 0;
        // attention never looks at them and pooling skips them.
        let mut x = vec![0f32; rows * h];
        for (s, ids) in seqs.iter().enumerate() {
            for t in 0..len {
                let id = ids.get(t).copied().unwrap_or(0) as usize;
                if id >= vocab {
                    return Err(EmbedError::Runtime(format!(
                        "token id {id} is outside the vocabulary ({vocab})"
                    )));
                }
                let row = &mut x[(s * len + t) * h..(s * len + t + 1) * h];
                let word = &self.word[id * h..(id + 1) * h];
                let pos = &self.position[t * h..(t + 1) * h];
                let typ = &self.token_type[..h];
                for (i, v) in row.iter_mut().enumerate() {
                    *v = word[i] + pos[i] + typ[i];
                }
            }
        }
        layer_norm(&mut x, &self.emb_norm, h, self.eps);
        let lens: Vec<usize> = seqs.iter().map(|s| s.len().min(len)).collect();
        let mut qkv = Vec::new();
        let mut ctx = vec![0f32; rows * h];
        let mut proj = Vec::new();
        let mut up = Vec::new();
        for layer in &self.layers {
            self.dense(&x, &layer.qkv, rows, &mut qkv)?;
            self.attention(&qkv, &lens, len, &mut ctx);
            self.dense(&ctx, &layer.attn_out, rows, &mut proj)?;
            add_norm(&mut x, &proj, &layer.attn_norm, h, self.eps);
            self.dense(&x, &layer.up, rows, &mut up)?;
            match self.act {
                HiddenAct::Gelu => rten_vecmath::Gelu {}.map_mut(&mut up),
                HiddenAct::GeluApproximate => rten_vecmath::ApproxGelu {}.map_mut(&mut up),
                HiddenAct::Relu => up.iter_mut().for_each(|v| *v = v.max(0.0)),
            }
            self.dense(&up, &layer.down, rows, &mut proj)?;
            add_norm(&mut x, &proj, &layer.out_norm, h, self.eps);
        }
        Ok(lens
            .iter()
            .enumerate()
            .map(|(s, &n)| {
                let mut mean = vec![0f32; h];
                for t in 0..n {
                    mean.iter_mut()
                        .zip(&x[(s * len + t) * h..(s * len + t + 1) * h])
                        .for_each(|(m, v)| *m += v);
                }
                let count = n.max(1) as f32;
                mean.iter_mut().for_each(|m| *m /= count);
                mean
            })
            .collect())
    }

    /// `out = input · Wᵀ + b` for `rows` rows.
    fn dense(&self, input: &[f32], d: &Dense, rows: usize, out: &mut Vec<f32>) -> Result<(), EmbedError> {
        let inp = input.len() / rows.max(1);
        out.clear();
        out.resize(rows * d.out, 0.0);
        let a = NdTensorView::from_data([rows, inp], input);
        GEMM.with(|g| {
            g.gemm(
                out,
                GemmInputA::Unpacked(a),
                GemmInputB::Packed(&d.w),
                GemmOptions { bias: Some(BiasVector::Row(&d.b)), ..Default::default() },
            )
        })
        .map_err(|e| EmbedError::Runtime(format!("matrix product: {e}")))
    }

    /// Scaled dot-product self-attention of each sequence over its real tokens; `qkv` holds
    /// each row's query, key and value side by side, `ctx` receives the heads' outputs.
    fn attention(&self, qkv: &[f32], lens: &[usize], len: usize, ctx: &mut [f32]) {
        let h = self.hidden;
        let d = h / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut scores = vec![0f32; len];
        for (s, &n) in lens.iter().enumerate() {
            let n = n.max(1);
            for head in 0..self.heads {
                let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
                // Padding rows' own outputs are never read: only real tokens are computed.
                for i in 0..n {
                    let qi = &qkv[(s * len + i) * 3 * h + qo..][..d];
                    let mut max = f32::NEG_INFINITY;
                    for (j, sc) in scores[..n].iter_mut().enumerate() {
                        let kj = &qkv[(s * len + j) * 3 * h + ko..][..d];
                        *sc = dot(qi, kj) * scale;
                        max = max.max(*sc);
                    }
                    let mut sum = 0.0;
                    for sc in &mut scores[..n] {
                        *sc = (*sc - max).exp();
                        sum += *sc;
                    }
                    let out = &mut ctx[(s * len + i) * h + qo..][..d];
                    out.fill(0.0);
                    for (j, &p) in scores[..n].iter().enumerate() {
                        let vj = &qkv[(s * len + j) * 3 * h + vo..][..d];
                        let p = p / sum;
                        out.iter_mut().zip(vj).for_each(|(o, v)| *o += p * v);
                    }
                }
            }
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes of partial sums vectorise; the order differs from a naive sum by rounding only.
    let mut acc = [0f32; 8];
    let (ac, ar) = a.split_at(a.len() / 8 * 8);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(8).zip(bc.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + ar.iter().zip(br).map(|(x, y)| x * y).sum::<f32>()
}

/// Layer norm of each `h`-wide row in place.
fn layer_norm(x: &mut [f32], n: &Norm, h: usize, eps: f32) {
    for row in x.chunks_exact_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&n.w).zip(&n.b) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

/// `x = layer_norm(x + y)`.
fn add_norm(x: &mut [f32], y: &[f32], n: &Norm, h: usize, eps: f32) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
    layer_norm(x, n, h, eps);
}
