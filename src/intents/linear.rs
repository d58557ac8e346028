//! Multinomial logistic regression over sparse features, trained by stochastic gradient descent
//! with L2 regularisation and a decaying learning rate. Deterministic: the example order comes
//! from a fixed-seed generator. The trained weights are stored feature-major (all classes of one
//! feature side by side) and quantised to one byte per weight with a scale per feature, so
//! scoring a message touches only the rows of its active features and a 150-intent model's rows
//! stay in cache (scoring is bound by memory reads, not arithmetic).
use super::features::Sparse;

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    pub epochs: usize,
    /// Initial learning rate; decays linearly to `learning_rate * final_rate` over the run.
    pub learning_rate: f32,
    pub final_rate: f32,
    /// L2 penalty per example.
    pub l2: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { epochs: 10, learning_rate: 5.0, final_rate: 0.01, l2: 1e-6, seed: 0x5eed }
    }
}

impl TrainOptions {
    /// The defaults with enough passes for `examples` examples: at least 10 and about 25,000
    /// steps (at most 30 passes), so a small catalog is learnt as thoroughly as a big one.
    pub fn for_examples(examples: usize) -> Self {
        let epochs = (25_000 / examples.max(1)).clamp(10, 30);
        Self { epochs, ..Self::default() }
    }
}

/// Gradients smaller than this are skipped.
const MIN_GRADIENT: f32 = 1e-4;

#[derive(Debug, Clone, Default)]
pub struct Linear {
    n_classes: usize,
    /// Quantised weights: feature `f`, class `c` at `weights[f * n_classes + c]`, worth
    /// `weights[..] as f32 * row_scale[f]`.
    weights: Vec<i8>,
    row_scale: Vec<f32>,
    bias: Vec<f32>,
}

/// A small deterministic generator (SplitMix64) for shuffling.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

impl Linear {
    /// Fit on `xs` (feature ids below `n_features`) with labels `ys` (below `n_classes`).
    pub fn train(
        xs: &[Sparse],
        ys: &[u32],
        n_features: usize,
        n_classes: usize,
        opts: &TrainOptions,
    ) -> Self {
        let mut weights = vec![0.0f32; n_features * n_classes];
        let mut bias = vec![0.0f32; n_classes];
        if n_classes == 0 || xs.is_empty() {
            return Self::quantised(n_classes, &weights, bias);
        }
        let mut order: Vec<usize> = (0..xs.len().min(ys.len())).collect();
        let mut rng = SplitMix(opts.seed);
        let total = (opts.epochs * order.len()).max(1) as f32;
        let mut scale = 1.0f32;
        let mut probs = vec![0.0f32; n_classes];
        let mut step = 0usize;
        let mut active: Vec<(usize, f32)> = Vec::with_capacity(n_classes);
        for _ in 0..opts.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let lr = opts.learning_rate * (1.0 - (1.0 - opts.final_rate) * step as f32 / total);
                step += 1;
                let x = &xs[i];
                dense_scores(&weights, &bias, x, scale, &mut probs);
                softmax(&mut probs);
                let y = ys[i] as usize;
                if let Some(p) = probs.get_mut(y) {
                    *p -= 1.0;
                }
                scale *= 1.0 - lr * opts.l2;
                let step_w = lr / scale;
                // Classes the model already gets (almost) right need no update: after the
                // first epochs that is nearly all of them, which makes training fast.
                active.clear();
                active
                    .extend((0..n_classes).filter(|&c| probs[c].abs() > MIN_GRADIENT).map(|c| (c, probs[c])));
                for (&f, &v) in x.ids.iter().zip(&x.vals) {
                    let start = f as usize * n_classes;
                    let row = &mut weights[start..start + n_classes];
                    let k = step_w * v;
                    for &(c, g) in &active {
                        row[c] -= k * g;
                    }
                }
                for (b, g) in bias.iter_mut().zip(&probs) {
                    *b -= lr * g;
                }
                if scale < 1e-3 {
                    weights.iter_mut().for_each(|w| *w *= scale);
                    scale = 1.0;
                }
            }
        }
        weights.iter_mut().for_each(|w| *w *= scale);
        Self::quantised(n_classes, &weights, bias)
    }

    fn quantised(n_classes: usize, weights: &[f32], bias: Vec<f32>) -> Self {
        let rows = weights.chunks_exact(n_classes.max(1));
        let row_scale: Vec<f32> =
            rows.clone().map(|r| r.iter().fold(0.0f32, |m, w| m.max(w.abs())) / 127.0).collect();
        let weights = rows
            .zip(&row_scale)
            .flat_map(|(r, &s)| {
                r.iter().map(move |w| if s > 0.0 { (w / s).round().clamp(-127.0, 127.0) as i8 } else { 0 })
            })
            .collect();
        Self { n_classes, weights, row_scale, bias }
    }

    fn raw_scores(&self, x: &Sparse, out: &mut [f32]) {
        out.fill(0.0);
        for (&f, &v) in x.ids.iter().zip(&x.vals) {
            let start = f as usize * self.n_classes;
            let (Some(row), Some(&s)) =
                (self.weights.get(start..start + self.n_classes), self.row_scale.get(f as usize))
            else {
                continue;
            };
            let k = v * s;
            for (o, &w) in out.iter_mut().zip(row) {
                *o += k * f32::from(w);
            }
        }
        for (o, b) in out.iter_mut().zip(&self.bias) {
            *o += b;
        }
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Class probabilities of `x` into `out` (length `n_classes`).
    pub fn probabilities(&self, x: &Sparse, out: &mut [f32]) {
        self.raw_scores(x, out);
        softmax(out);
    }

    /// The weight of feature `f` for class `c` (0 for features out of range).
    pub fn weight(&self, f: u32, c: usize) -> f32 {
        let w = self.weights.get(f as usize * self.n_classes + c).copied().unwrap_or(0);
        f32::from(w) * self.row_scale.get(f as usize).copied().unwrap_or(0.0)
    }
}

/// Training-time scores with unquantised weights scaled by `scale` (lazy L2 decay).
fn dense_scores(weights: &[f32], bias: &[f32], x: &Sparse, scale: f32, out: &mut [f32]) {
    let n = out.len();
    out.fill(0.0);
    for (&f, &v) in x.ids.iter().zip(&x.vals) {
        let start = f as usize * n;
        let Some(row) = weights.get(start..start + n) else { continue };
        for (o, w) in out.iter_mut().zip(row) {
            *o += v * w;
        }
    }
    for (o, b) in out.iter_mut().zip(bias) {
        *o = *o * scale + b;
    }
}

/// In place, numerically stable.
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(ids: &[u32]) -> Sparse {
        let v = 1.0 / (ids.len() as f32).sqrt();
        Sparse { ids: ids.to_vec(), vals: vec![v; ids.len()] }
    }

    #[test]
    fn learns_separable_classes_and_gives_probabilities() {
        let xs = [x(&[0, 1]), x(&[1, 2]), x(&[3, 4]), x(&[4, 5]), x(&[6]), x(&[6, 7])];
        let ys = [0, 0, 1, 1, 2, 2];
        let m = Linear::train(&xs, &ys, 8, 3, &TrainOptions::default());
        let mut p = vec![0.0; 3];
        for (xi, &yi) in xs.iter().zip(&ys) {
            m.probabilities(xi, &mut p);
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b]));
            assert_eq!(best, Some(yi as usize), "{p:?}");
        }
        assert!(m.weight(0, 0) > 0.0 && m.weight(0, 1) < m.weight(0, 0));
    }

    #[test]
    fn training_is_deterministic() {
        let xs = [x(&[0, 1]), x(&[1, 2]), x(&[2, 3])];
        let ys = [0, 1, 1];
        let a = Linear::train(&xs, &ys, 4, 2, &TrainOptions::default());
        let b = Linear::train(&xs, &ys, 4, 2, &TrainOptions::default());
        assert_eq!(a.weights, b.weights);
        assert_eq!(a.bias, b.bias);
    }

    #[test]
    fn nothing_to_learn_gives_uniform_probabilities() {
        let m = Linear::train(&[], &[], 0, 2, &TrainOptions::default());
        let mut p = vec![0.0; 2];
        m.probabilities(&Sparse::default(), &mut p);
        assert_eq!(p, vec![0.5, 0.5]);
    }
}
