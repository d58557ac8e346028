//! `deskbot kb import`: help articles from JSON lines (`{"id","title","body"}`) become
//! `kb/<id>.md` with the id in lowercase-hyphen form, and `{"query","article"}` lines become the
//! articles' example questions (matched by the original id or its sanitised form).
use super::records::{read_jsonl, required};
use super::{ImportError, article_id};
use crate::kb::Article;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbImportSummary {
    pub articles: usize,
    pub examples: usize,
    /// Original id → written id, where they differ.
    pub renamed: Vec<(String, String)>,
    pub dir: PathBuf,
}

/// Original id → written id, for the articles whose id was rewritten.
pub type Renamed = Vec<(String, String)>;

#[derive(serde::Deserialize)]
struct ArticleLine {
    id: Option<String>,
    title: Option<String>,
    body: Option<String>,
}

#[derive(serde::Deserialize)]
struct ExampleLine {
    query: Option<String>,
    article: Option<String>,
}

/// One example question for an article, from a `{"query","article"}` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExamplePair {
    pub query: String,
    pub article: String,
    pub source: String,
}

/// Read `{"query","article"}` lines (also the format of `kb eval --cases`).
pub fn read_pairs(path: &Path) -> Result<Vec<ExamplePair>, ImportError> {
    read_jsonl::<ExampleLine>(path)?
        .into_iter()
        .map(|(line, r)| {
            Ok(ExamplePair {
                query: required(path, line, r.query, "query")?.trim().to_string(),
                article: required(path, line, r.article, "article")?.trim().to_string(),
                source: format!("{}:{line}", path.display()),
            })
        })
        .collect()
}

/// Read articles from JSON lines, ids sanitised and made unique.
pub fn read_articles(path: &Path) -> Result<(Vec<Article>, Renamed), ImportError> {
    let mut articles: Vec<Article> = Vec::new();
    let mut renamed = Vec::new();
    for (line, r) in read_jsonl::<ArticleLine>(path)? {
        let raw = required(path, line, r.id, "id")?;
        let title = required(path, line, r.title, "title")?.trim().to_string();
        let body = r.body.unwrap_or_default().trim().to_string();
        let base = article_id(&raw);
        if base.is_empty() {
            return Err(ImportError::at(path, line, format!("article id `{raw}` has no letters or digits")));
        }
        let mut id = base.clone();
        let mut n = 2;
        while articles.iter().any(|a| a.id == id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        if id != raw {
            renamed.push((raw, id.clone()));
        }
        let source = PathBuf::from(format!("{}:{line}", path.display()));
        articles.push(Article { id, title, tags: Vec::new(), examples: Vec::new(), body, source });
    }
    Ok((articles, renamed))
}

/// Add each pair's query to its article's examples. `renamed` maps original ids to written
/// ones; an unknown article is an error naming the line.
pub fn attach_examples(
    articles: &mut [Article],
    pairs: &[ExamplePair],
    renamed: &[(String, String)],
) -> Result<usize, ImportError> {
    let map: HashMap<&str, &str> = renamed.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut added = 0;
    for p in pairs {
        let id = map.get(p.article.as_str()).map_or_else(|| article_id(&p.article), |s| (*s).to_string());
        let Some(a) = articles.iter_mut().find(|a| a.id == p.article || a.id == id) else {
            let (file, line) = split_source(&p.source);
            return Err(ImportError::at(Path::new(file), line, format!("unknown article `{}`", p.article)));
        };
        if !a.examples.contains(&p.query) {
            a.examples.push(p.query.clone());
            added += 1;
        }
    }
    Ok(added)
}

fn split_source(source: &str) -> (&str, usize) {
    match source.rsplit_once(':') {
        Some((f, l)) => (f, l.parse().unwrap_or(0)),
        None => (source, 0),
    }
}

#[derive(Serialize)]
struct Front<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    examples: &'a [String],
}

/// `deskbot kb import`: write `out/kb/<id>.md` for every article line.
pub fn import_kb(
    articles_path: &Path,
    examples: Option<&Path>,
    out: &Path,
) -> Result<KbImportSummary, ImportError> {
    let (mut articles, renamed) = read_articles(articles_path)?;
    let added = match examples {
        Some(p) => attach_examples(&mut articles, &read_pairs(p)?, &renamed)?,
        None => 0,
    };
    let dir = out.join("kb");
    std::fs::create_dir_all(&dir)
        .map_err(|e| ImportError::file(&dir, format!("cannot create directory: {e}")))?;
    for a in &articles {
        let front = Front { id: &a.id, title: &a.title, examples: &a.examples };
        let path = dir.join(format!("{}.md", a.id));
        let toml = toml::to_string_pretty(&front)
            .map_err(|e| ImportError::file(&path, format!("cannot encode: {e}")))?;
        let text = format!("+++\n{toml}+++\n\n{}\n", a.body);
        std::fs::write(&path, text).map_err(|e| ImportError::file(&path, format!("cannot write: {e}")))?;
    }
    Ok(KbImportSummary { articles: articles.len(), examples: added, renamed, dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_get_clean_unique_ids_and_examples_follow_them() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let arts = dir.path().join("a.jsonl");
        let exs = dir.path().join("e.jsonl");
        let body = "{\"id\": \"VPN Setup\", \"title\": \"Set up the VPN\", \"body\": \"Open the app.\\n+++\\nMore.\"}\n\n{\"id\": \"vpn-setup\", \"title\": \"Other\", \"body\": \"\"}\n";
        std::fs::write(&arts, body).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&exs, "{\"query\": \"vpn at home\", \"article\": \"VPN Setup\"}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let s = import_kb(&arts, Some(&exs), dir.path()).map_err(|e| e.to_string());
        assert_eq!(s.as_ref().map(|s| (s.articles, s.examples)), Ok((2, 1)));
        let src = crate::intents::load_sources(dir.path(), &[]).map_err(|d| d.to_string());
        let got = src.map(|s| s.articles.into_iter().map(|a| (a.id, a.examples, a.body)).collect::<Vec<_>>());
        assert_eq!(
            got,
            Ok(vec![
                ("vpn-setup-2".into(), vec![], String::new()),
                ("vpn-setup".into(), vec!["vpn at home".to_string()], "Open the app.\n+++\nMore.".into()),
            ])
        );
    }

    #[test]
    fn unknown_article_and_missing_fields_name_the_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let arts = dir.path().join("a.jsonl");
        let exs = dir.path().join("e.jsonl");
        std::fs::write(&arts, "{\"id\": \"a\", \"title\": \"A\"}\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&exs, "\n{\"query\": \"q\", \"article\": \"zzz\"}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let got = import_kb(&arts, Some(&exs), dir.path()).map_err(|e| (e.line, e.message));
        assert_eq!(got.err(), Some((2, "unknown article `zzz`".to_string())));
        std::fs::write(&arts, "{\"id\": \"a\", \"title\": \"A\"}\n{\"id\": \"b\"}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let got = import_kb(&arts, None, dir.path()).map_err(|e| (e.line, e.message));
        assert_eq!(got.err(), Some((2, "missing field `title`".to_string())));
    }
}
