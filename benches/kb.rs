//! Criterion benchmarks of KB search at scale: 10,000 synthetic articles generated
//! deterministically (a fixed-seed xorshift over an IT vocabulary), searched one question at a
//! time as in production, and the time to build the index over them.

use criterion::{Criterion, criterion_group, criterion_main};
use deskbot::kb::{Article, build_index};
use std::hint::black_box;

const WORDS: &[&str] = &[
    "vpn",
    "password",
    "printer",
    "laptop",
    "monitor",
    "outlook",
    "email",
    "mailbox",
    "calendar",
    "teams",
    "zoom",
    "wifi",
    "network",
    "drive",
    "folder",
    "access",
    "account",
    "locked",
    "reset",
    "install",
    "update",
    "crash",
    "slow",
    "battery",
    "keyboard",
    "mouse",
    "dock",
    "screen",
    "sync",
    "onedrive",
    "sharepoint",
    "license",
    "phone",
    "mfa",
    "token",
    "certificate",
    "browser",
    "chrome",
    "cache",
    "backup",
    "restore",
    "deleted",
    "file",
    "permission",
    "group",
    "meeting",
    "room",
    "projector",
    "camera",
    "audio",
    "headset",
    "bluetooth",
    "driver",
    "windows",
    "macos",
    "linux",
    "error",
    "code",
    "timeout",
    "login",
    "sso",
    "okta",
    "portal",
    "ticket",
    "request",
    "approval",
    "manager",
    "expense",
    "order",
    "hardware",
];

/// Deterministic pseudo-random numbers (xorshift64*), so every run benches the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize
    }

    fn phrase(&mut self, n: usize) -> String {
        (0..n).map(|_| WORDS[self.next() % WORDS.len()]).collect::<Vec<_>>().join(" ")
    }
}

fn articles(n: usize) -> Vec<Article> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| Article {
            id: format!("article-{i}"),
            title: rng.phrase(5),
            tags: vec![WORDS[rng.next() % WORDS.len()].to_string()],
            examples: (0..3).map(|_| rng.phrase(6)).collect(),
            body: (0..8).map(|_| format!("{}.", rng.phrase(12))).collect::<Vec<_>>().join(" "),
            source: format!("kb/article-{i}.md").into(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let arts = articles(10_000);
    let mut rng = Rng(42);
    let questions: Vec<String> = (0..64).map(|_| format!("my {} is not working", rng.phrase(3))).collect();
    let index = build_index(&arts);
    c.bench_function("kb_search_10k_articles", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(index.search(&questions[i % questions.len()], 3))
        })
    });
    let mut group = c.benchmark_group("kb_build");
    group.sample_size(10);
    group.bench_function("kb_index_build_10k_articles", |b| b.iter(|| black_box(build_index(&arts))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
