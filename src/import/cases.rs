//! Evaluation cases for `deskbot intents test --cases`: a JSON-lines file of
//! `{"text","intent"}`, a `tests/*.toml`-style file of `[[case]]` tables, or a directory of
//! either. Labels go through the same id mapping as imports (`none`/`oos` → out of scope).
use super::records::{Labelled, labelled, read_labelled};
use super::{Format, ImportError, read_input};
use crate::intents::TestCase;
use crate::intents::format::TestFile;
use crate::intents::spans::SourceMap;
use std::path::{Path, PathBuf};

pub fn read_cases(path: &Path) -> Result<Vec<TestCase>, ImportError> {
    let files = if path.is_dir() { case_files(path)? } else { vec![path.to_path_buf()] };
    let mut out = Vec::new();
    for f in files {
        let records = if f.extension().is_some_and(|e| e == "toml") {
            read_toml_cases(&f)?
        } else {
            read_labelled(Format::Jsonl, &f)?
        };
        out.extend(records.into_iter().map(|l| TestCase {
            text: l.text,
            intent: l.intent,
            source: l.source,
        }));
    }
    if out.is_empty() {
        return Err(ImportError::file(path, "no test cases found"));
    }
    Ok(out)
}

fn case_files(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| ImportError::file(dir, format!("cannot list directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml" || e == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_toml_cases(path: &Path) -> Result<Vec<Labelled>, ImportError> {
    let text = read_input(path)?;
    let map = SourceMap::new(path, &text);
    let file: TestFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(0, |s| map.line_col(s.start).0);
        ImportError::at(path, line, e.message().to_string())
    })?;
    file.case
        .into_iter()
        .map(|c| {
            let line = map.line_col(c.span().start).0;
            let c = c.into_inner();
            labelled(path, line, c.text.into_inner(), c.intent.get_ref())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_mixes_toml_and_jsonl_cases() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let w = |n: &str, t: &str| std::fs::write(dir.path().join(n), t).unwrap_or_else(|e| panic!("{e}"));
        w(
            "a.toml",
            "[[case]]\ntext = \"vpn down\"\nintent = \"vpn\"\n\n[[case]]\ntext = \"lunch\"\nintent = \"none\"\n",
        );
        w("b.jsonl", "{\"text\": \"joke\", \"intent\": \"oos\"}\n");
        w("notes.txt", "ignored");
        let got = read_cases(dir.path()).map_err(|e| e.to_string());
        let got = got.map(|v| v.into_iter().map(|c| (c.text, c.intent)).collect::<Vec<_>>());
        let s = |x: &str| x.to_string();
        assert_eq!(got, Ok(vec![(s("vpn down"), Some(s("vpn"))), (s("lunch"), None), (s("joke"), None)]));
    }
}
