//! Per-message sentence-embedding latency (tokenise + transformer forward pass + pooling), one
//! message at a time as in production, on one core: run with `RAYON_NUM_THREADS=1`. The model
//! comes from DESKBOT_TEST_MODEL_DIR (an imported all-MiniLM-L6-v2); without it a tiny random
//! model stands in (its figures say nothing about the real one). Under `cargo bench` the bench
//! also prints p50/p99 over CLINC150's validation messages (or the starter questions).
use criterion::{Criterion, criterion_group, criterion_main};
use deskbot::embed::{Embedder, tiny};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

const QUESTIONS: &[&str] = &[
    "I forgot my password",
    "my vpn keeps dropping every few minutes",
    "the coffee machine on floor 3 is leaking",
    "how do I get access to the finance shared drive",
    "outlook is not syncing my emails",
];

fn load() -> (Embedder, &'static str, Option<tempfile::TempDir>) {
    if let Some(dir) = std::env::var_os("DESKBOT_TEST_MODEL_DIR")
        && let Ok(m) = Embedder::load(Path::new(&dir))
    {
        return (m, "model", None);
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    tiny::write_tiny_model(tmp.path()).expect("tiny model");
    let m = Embedder::load(tmp.path()).expect("tiny model loads");
    (m, "tiny", Some(tmp))
}

fn messages() -> Vec<String> {
    let dir = std::env::var("DESKBOT_CLINC150_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clinc150"),
        PathBuf::from,
    );
    let rows: Vec<String> = std::fs::read_to_string(dir.join("val.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    if rows.is_empty() { QUESTIONS.iter().map(|q| q.to_string()).collect() } else { rows }
}

fn percentiles(m: &Embedder, label: &str) {
    let msgs = messages();
    let mut us: Vec<u128> = msgs
        .iter()
        .take(1000)
        .map(|t| {
            let start = Instant::now();
            black_box(m.embed(t).ok());
            start.elapsed().as_micros()
        })
        .collect();
    us.sort_unstable();
    let at = |p: usize| us.get((us.len() * p / 100).min(us.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "embed_{label}: {} messages, p50 {:.2} ms, p99 {:.2} ms (RAYON_NUM_THREADS={})",
        us.len(),
        at(50) as f64 / 1000.0,
        at(99) as f64 / 1000.0,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into())
    );
}

fn bench(c: &mut Criterion) {
    let (m, label, _tmp) = load();
    if std::env::args().any(|a| a == "--bench") {
        percentiles(&m, label);
    }
    let mut i = 0;
    c.bench_function(&format!("embed_one_message_{label}"), |b| {
        b.iter(|| {
            i = (i + 1) % QUESTIONS.len();
            black_box(m.embed(QUESTIONS[i]).ok())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
