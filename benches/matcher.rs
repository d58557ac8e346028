//! Criterion benchmarks of the intent matcher: one message at a time (as in production) on the
//! starter pack and on a 150-intent / 15,000-example catalog (CLINC150's train split when it is
//! at `DESKBOT_CLINC150_DIR` or `../shared/data/clinc150`, else a synthetic catalog of the same
//! size), and the time to train the matcher on that catalog (what a hot reload costs).
use criterion::{Criterion, criterion_group, criterion_main};
use deskbot::domain::{Priority, QueueName};
use deskbot::intents::{Answer, Intent, LoadOptions, MatcherOptions, build_matcher, load_catalog};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const STARTER_QUESTIONS: &[&str] = &[
    "I forgot my password",
    "my vpn keeps dropping every few minutes",
    "the coffee machine on floor 3 is leaking",
    "how do I get access to the finance shared drive",
    "outlook is not syncing my emails",
];

/// (text, label) pairs; label "none" is out of scope.
fn clinc_or_synthetic() -> (Vec<(String, String)>, &'static str) {
    let dir = std::env::var("DESKBOT_CLINC150_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clinc150"),
        PathBuf::from,
    );
    let rows: Vec<(String, String)> = std::fs::read_to_string(dir.join("train.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["text"].as_str()?.to_string(), v["intent"].as_str()?.to_string())))
        .collect();
    if rows.len() >= 15_000 {
        return (rows, "clinc150");
    }
    (synthetic(150, 100), "synthetic")
}

/// `intents` intents of `per` examples each, drawn from a fixed vocabulary with a fixed seed:
/// each intent has a few topic words of its own mixed with words every intent shares.
fn synthetic(intents: usize, per: usize) -> Vec<(String, String)> {
    let mut state: u64 = 42;
    let mut next = move |n: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n
    };
    let shared: Vec<String> = (0..300).map(|i| format!("word{i}")).collect();
    let mut out = Vec::with_capacity(intents * per);
    for c in 0..intents {
        let topic: Vec<String> = (0..6).map(|i| format!("topic{c}x{i}")).collect();
        for _ in 0..per {
            let len = 4 + next(8);
            let words: Vec<&str> = (0..len)
                .map(|_| if next(3) == 0 { topic[next(6)].as_str() } else { shared[next(300)].as_str() })
                .collect();
            out.push((words.join(" "), format!("intent_{c}")));
        }
    }
    out
}

fn catalog_of(rows: &[(String, String)]) -> (Vec<Intent>, Vec<String>) {
    let mut ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).filter(|l| *l != "none").collect();
    ids.sort_unstable();
    ids.dedup();
    let queue = QueueName::parse("general").expect("queue name");
    let intents = ids
        .iter()
        .map(|id| Intent {
            id: id.to_string(),
            description: String::new(),
            examples: rows.iter().filter(|r| r.1 == *id).map(|r| r.0.clone()).collect(),
            patterns: Vec::new(),
            answer: Answer::Text("ok".into()),
            queue: queue.clone(),
            priority: Priority::Normal,
            slots: Vec::new(),
            threshold: None,
            file: Default::default(),
            source: "bench".into(),
        })
        .collect();
    let oos = rows.iter().filter(|r| r.1 == "none").map(|r| r.0.clone()).collect();
    (intents, oos)
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    let starter = load_catalog(&dir, &[], &LoadOptions::default()).expect("starter pack loads");
    c.bench_function("matcher_starter_pack", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(starter.classify(STARTER_QUESTIONS[i % STARTER_QUESTIONS.len()]))
        })
    });

    let (rows, source) = clinc_or_synthetic();
    let (intents, oos) = catalog_of(&rows);
    let opts = MatcherOptions::default();
    let matcher = build_matcher(&intents, &oos, &opts);
    let queries: Vec<&str> = rows.iter().step_by(97).map(|r| r.0.as_str()).take(200).collect();
    c.bench_function(&format!("matcher_150_intents_{source}"), |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(matcher.classify(queries[i % queries.len()]))
        })
    });

    let mut group = c.benchmark_group("matcher_train");
    group.sample_size(10);
    group.bench_function(format!("150_intents_{source}"), |b| {
        b.iter(|| black_box(build_matcher(&intents, &oos, &opts)))
    });
    group.bench_function("starter_pack_load", |b| {
        b.iter(|| black_box(load_catalog(&dir, &[], &LoadOptions::default()).expect("loads")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
