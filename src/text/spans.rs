//! Turning byte offsets in a file into the 1-based `line:col` an admin's editor shows, and
//! building [`Diagnostic`]s from spans and TOML errors.
use super::diagnostics::Diagnostic;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One file's text with its line starts, to place spans.
pub struct SourceMap<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        let line_starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect::<Vec<_>>();
        Self { path, text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end or inside a
    /// character are clamped.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.text[start..offset].chars().count() + 1;
        (line, col)
    }

    pub fn at(&self, span: &Range<usize>, message: impl Into<String>) -> Diagnostic {
        let (line, col) = self.line_col(span.start);
        Diagnostic { file: self.path.to_path_buf(), line, col, message: message.into() }
    }

    /// A TOML syntax or shape error, placed at its span shifted by `base` (for front matter).
    pub fn toml_error(&self, err: &toml::de::Error, base: usize) -> Diagnostic {
        let span = err.span().map(|s| s.start + base..s.end + base).unwrap_or(base..base);
        self.at(&span, tidy_toml_message(err.message()))
    }
}

/// A problem with a whole file (line 0: shown as `file: message`).
pub fn file_diag(path: &Path, message: impl Into<String>) -> Diagnostic {
    Diagnostic { file: PathBuf::from(path), line: 0, col: 0, message: message.into() }
}

/// toml's messages are good but multi-line in places; keep one line.
fn tidy_toml_message(msg: &str) -> String {
    msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// The short text of a regex error: `unclosed group` rather than the multi-line rendering.
pub fn regex_error_text(err: &regex::Error) -> String {
    match err {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .map(str::to_string)
            .unwrap_or_else(|| s.lines().last().unwrap_or("").trim().to_string()),
        regex::Error::CompiledTooBig(limit) => format!("pattern too big once compiled (limit {limit} bytes)"),
        other => other.to_string(),
    }
}

/// Up to three of `known` closest to `wanted` (edit distance), for "did you mean" hints.
pub fn near_names<'k>(wanted: &str, known: impl IntoIterator<Item = &'k str>) -> Vec<&'k str> {
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .map(|k| (edit_distance(wanted, k), k))
        .filter(|(d, k)| *d <= (k.chars().count().max(wanted.chars().count()) / 2).max(2))
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_characters() {
        let text = "ab\nçd = 1\n\nx";
        let map = SourceMap::new(Path::new("f.toml"), text);
        for (offset, want) in [(0, (1, 1)), (1, (1, 2)), (3, (2, 1)), (5, (2, 2)), (11, (3, 1)), (12, (4, 1))]
        {
            assert_eq!(map.line_col(offset), want, "offset {offset}");
        }
        assert_eq!(map.line_col(4), (2, 1), "inside a multi-byte char clamps back");
        assert_eq!(map.line_col(999), (4, 2));
    }

    #[test]
    fn regex_errors_are_shortened() {
        let unclosed = String::from("(?i)(") + "unclosed";
        let err = regex::Regex::new(&unclosed).err();
        let text = err.as_ref().map(regex_error_text).unwrap_or_default();
        assert_eq!(text, "unclosed group");
    }

    #[test]
    fn near_names_suggests_close_spellings() {
        let known = ["network", "identity", "hardware"];
        assert_eq!(near_names("netwrk", known), ["network"]);
        assert!(near_names("zzzzzzzzzzzzzz", known).is_empty());
    }
}
