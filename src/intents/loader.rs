//! Loading an intents directory: `dir/*.toml` (intents), `dir/kb/*.md` (articles) and
//! `dir/tests/*.toml` (test cases), in sorted order. Every problem found is collected, not just
//! the first, as `file:line:col: message`. Synchronous (std::fs): async callers use
//! `spawn_blocking`.
use super::matcher::build_matcher_embedded;
use super::requests::{Item, ItemValidator};
use super::spans::{SourceMap, file_diag};
use super::validate::Validator;
use super::{Answer, Catalog, Diagnostic, Diagnostics, Intent, MatcherOptions, TestCase};
use crate::domain::QueueName;
use crate::kb::article::parse_article_at;
use crate::kb::{Article, build_index_embedded};
use std::path::{Path, PathBuf};

/// Files bigger than this are refused: intents files are hand-written.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub matcher: MatcherOptions,
    /// Overrides the KB index's relevance floor.
    pub kb_min_score: Option<f32>,
    /// The configured `[[webhook]]` names a catalog item's `fulfil = { webhook = … }` may
    /// name (empty: not checked).
    pub webhooks: Vec<String>,
    /// Where a conversation about a webhook-fulfilled item goes when a person is needed
    /// (default: `service-desk`).
    pub default_queue: Option<QueueName>,
    /// The sentence-embedding model (`[matcher] model`), for the matcher and KB search.
    pub model: Option<std::sync::Arc<crate::embed::Embedder>>,
}

/// Everything read and validated from an intents directory, before training.
#[derive(Debug, Default)]
pub struct Sources {
    pub intents: Vec<Intent>,
    pub items: Vec<Item>,
    pub articles: Vec<Article>,
    pub cases: Vec<TestCase>,
    pub out_of_scope: Vec<String>,
}

/// Read, validate and train. `known_queues` empty means queue names are not checked.
pub fn load_catalog(
    dir: &Path,
    known_queues: &[QueueName],
    opts: &LoadOptions,
) -> Result<Catalog, Diagnostics> {
    let mut src = load_sources_with(dir, known_queues, opts)?;
    let fallback = opts.default_queue.clone().unwrap_or_else(default_queue);
    src.intents.extend(src.items.iter().map(|i| super::requests::as_intent(i, &fallback)));
    let extra: Vec<Vec<String>> = src
        .intents
        .iter()
        .map(|i| match &i.answer {
            Answer::Article(id) => src
                .articles
                .iter()
                .filter(|a| &a.id == id)
                .flat_map(|a| std::iter::once(a.title.clone()).chain(a.examples.iter().cloned()))
                .collect(),
            Answer::Text(_) => Vec::new(),
            Answer::Request(_) => Vec::new(),
        })
        .collect();
    let matcher =
        build_matcher_embedded(&src.intents, &extra, &src.out_of_scope, &opts.matcher, opts.model.as_ref());
    let kb_index = build_index_embedded(&src.articles, opts.kb_min_score, opts.model.as_ref());
    Ok(Catalog {
        intents: src.intents,
        items: src.items,
        articles: src.articles,
        cases: src.cases,
        out_of_scope: src.out_of_scope,
        matcher,
        kb_index,
    })
}

/// `deskbot intents check`: every problem in the directory (empty when all is well).
pub fn check(dir: &Path, known_queues: &[QueueName]) -> Diagnostics {
    match load_sources(dir, known_queues) {
        Ok(_) => Diagnostics(Vec::new()),
        Err(d) => d,
    }
}

/// Read and validate without training the matcher.
pub fn load_sources(dir: &Path, known_queues: &[QueueName]) -> Result<Sources, Diagnostics> {
    load_sources_with(dir, known_queues, &LoadOptions::default())
}

/// The queue conversations without a better one go to.
fn default_queue() -> QueueName {
    QueueName::parse("service-desk").unwrap_or_else(|_| unreachable!("a valid queue name"))
}

/// [`load_sources`], checking catalog items' webhooks against `opts.webhooks`.
pub fn load_sources_with(
    dir: &Path,
    known_queues: &[QueueName],
    opts: &LoadOptions,
) -> Result<Sources, Diagnostics> {
    if !dir.is_dir() {
        let msg =
            "intents directory not found (expected *.toml intents, kb/*.md articles, tests/*.toml cases)";
        return Err(Diagnostics(vec![file_diag(dir, msg)]));
    }
    let mut diags = Vec::new();
    let mut articles: Vec<(Article, String)> = Vec::new();
    for path in list_files(dir, Some("kb"), "md", &mut diags) {
        let Some(text) = read_text(&path, &mut diags) else { continue };
        match parse_article_at(&path, &text) {
            Ok((a, span)) => {
                let d = SourceMap::new(&path, &text).at(&span, "");
                if let Some((_, first)) = articles.iter().find(|(b, _)| b.id == a.id) {
                    let message = format!("duplicate article id `{}` (first defined at {first})", a.id);
                    diags.push(Diagnostic { message, ..d });
                } else {
                    articles.push((a, format!("{}:{}", d.file.display(), d.line)));
                }
            }
            Err(Diagnostics(d)) => diags.extend(d),
        }
    }
    let articles: Vec<Article> = articles.into_iter().map(|(a, _)| a).collect();

    let mut v = Validator::new(known_queues, articles.iter().map(|a| a.id.clone()).collect());
    for path in list_files(dir, None, "toml", &mut diags) {
        if let Some(text) = read_text(&path, &mut diags) {
            v.intent_file(&SourceMap::new(&path, &text));
        }
    }
    let mut items = ItemValidator::new(known_queues, &opts.webhooks);
    let intent_ids = v.defined_ids();
    for path in list_files(dir, Some("catalog"), "toml", &mut diags) {
        if let Some(text) = read_text(&path, &mut diags) {
            items.file(&SourceMap::new(&path, &text), &intent_ids);
        }
    }
    // Test cases may name items as well as intents.
    for item in &items.items {
        v.known_item(&item.id, &item.source);
    }
    let (items, item_problems) = (items.items, items.diags);
    diags.extend(item_problems);
    for path in list_files(dir, Some("tests"), "toml", &mut diags) {
        if let Some(text) = read_text(&path, &mut diags) {
            v.test_file(&SourceMap::new(&path, &text));
        }
    }
    let (intents, out_of_scope, cases, problems) = v.finish();
    diags.extend(problems);
    diags.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    if diags.is_empty() {
        Ok(Sources { intents, items, articles, cases, out_of_scope })
    } else {
        Err(Diagnostics(diags))
    }
}

/// Files with extension `ext` directly in `dir` (or `dir/sub`), sorted; hidden files and
/// editor backups are skipped. A missing `sub` folder is fine (no articles, no tests, no
/// request catalog).
fn list_files(dir: &Path, sub: Option<&str>, ext: &str, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let dir = sub.map_or_else(|| dir.to_path_buf(), |s| dir.join(s));
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && sub.is_some() => return Vec::new(),
        Err(e) => {
            diags.push(file_diag(&dir, format!("cannot list directory: {e}")));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.') && !n.starts_with('#'))
        })
        .collect();
    files.sort();
    files
}

/// A file's text, or a diagnostic: too big, unreadable, or not UTF-8 (placed at the first bad
/// byte).
fn read_text(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        let msg = format!("file is {size} bytes, over the 1 MiB limit: split it into several files");
        diags.push(file_diag(path, msg));
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            diags.push(file_diag(path, format!("cannot read file: {e}")));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(e) => {
            let good = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..good]);
            let map = SourceMap::new(path, &prefix);
            diags.push(map.at(&(good..good), "file is not valid UTF-8: save it as UTF-8"));
            None
        }
    }
}

#[cfg(test)]
mod tests;
