//! Criterion benchmarks of the hot path: intent matching, KB search, one engine step, one
//! inbound event through the service (engine + one SQLite transaction), and eight events from
//! eight employees at once (their commits meet in the store's group commit).

use criterion::{Criterion, criterion_group, criterion_main};
use deskbot::app::App;
use deskbot::config::{Config, Sources};
use deskbot::domain::{Address, Platform, UserRef};
use deskbot::domain::{Inbound, InboundKind};
use deskbot::engine::{self, ConversationState, Settings};
use std::hint::black_box;
use std::path::PathBuf;

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::load_from(&Sources { file: None, data_dir: Some(dir.into()) }, &[]).expect("config");
    c.intents_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("intents");
    c.hot_reload = false;
    // One synthetic user sends far faster than a person; measure the pipeline, not the limit.
    c.limits.messages_per_minute = 0;
    c
}

const QUESTIONS: &[&str] = &[
    "I forgot my password",
    "my vpn keeps dropping every few minutes",
    "the coffee machine on floor 3 is leaking",
    "how do I get access to the finance shared drive",
    "outlook is not syncing my emails",
];

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let app = rt.block_on(App::build(config(dir.path()))).expect("app");
    let catalog = app.catalog.load_full();

    c.bench_function("matcher_classify", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(catalog.classify(QUESTIONS[i % QUESTIONS.len()]))
        })
    });
    c.bench_function("kb_search_top3", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(catalog.search_kb(QUESTIONS[i % QUESTIONS.len()], 3))
        })
    });
    let settings = Settings::default();
    let state = ConversationState::default();
    let inbound = |id: String, text: &str| Inbound {
        event_id: id,
        user: UserRef::new(Platform::Test, "bench"),
        display_name: None,
        conversation: "test:bench".into(),
        reply_to: Address::new(Platform::Test, "bench"),
        kind: InboundKind::Message { text: text.into() },
        at: 0,
        message_id: None,
        message_channel: None,
        attachments: Vec::new(),
        via: Default::default(),
    };
    c.bench_function("engine_step", |b| {
        let ev = inbound("e".into(), QUESTIONS[1]);
        b.iter(|| {
            let ctx = engine::Context {
                catalog: &catalog,
                now: 0,
                tickets: &[],
                settings: &settings,
                display_name: None,
            };
            black_box(engine::step(&state, &ev, &ctx))
        })
    });
    c.bench_function("service_handle_sqlite", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let ev = inbound(format!("b-{n}"), QUESTIONS[(n as usize) % QUESTIONS.len()]);
            rt.block_on(app.service.handle(ev)).expect("handled")
        })
    });
    c.bench_function("service_handle_sqlite_8_at_once", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let events = (0..8u64).map(|u| {
                let mut ev = inbound(format!("c-{n}-{u}"), QUESTIONS[((n + u) as usize) % QUESTIONS.len()]);
                ev.user = UserRef::new(Platform::Test, format!("bench-{u}"));
                ev.conversation = format!("test:bench-{u}");
                ev.reply_to = Address::new(Platform::Test, format!("bench-{u}"));
                app.service.handle(ev)
            });
            for handled in rt.block_on(futures_util::future::join_all(events)) {
                handled.expect("handled");
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
