//! Importing training data from other tools: labelled messages (JSON lines, CSV, Rasa NLU YAML)
//! become an intents directory, help articles (JSON lines) become `kb/*.md`. `records` reads
//! the line-based formats, `rasa` the Rasa files, `cases` evaluation cases, `intents` and `kb`
//! write the directory. Every bad input line is reported as `file:line: message`.

pub mod cases;
pub mod intents;
pub mod kb;
pub mod rasa;
pub mod records;

use std::fmt;
use std::path::{Path, PathBuf};

pub use cases::read_cases;
pub use intents::{ImportSummary, write_intents};
pub use kb::{KbImportSummary, import_kb};
pub use records::{Labelled, read_labelled};

/// Input formats of `deskbot intents import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `{"text": "...", "intent": "..."}` per line.
    Jsonl,
    /// A header `text,intent`, then one message per row.
    Csv,
    /// Rasa NLU training data (`nlu:` with `- intent:` and `examples: |`).
    Rasa,
}

/// A problem with an input file, at a line when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: usize,
    pub message: String,
}

impl ImportError {
    pub fn at(file: &Path, line: usize, message: impl Into<String>) -> Self {
        Self { file: file.to_path_buf(), line, message: message.into() }
    }

    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self::at(file, 0, message)
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Labels that mean "no intent: goes to a person" (ours, CLINC's and Rasa's).
const OUT_OF_SCOPE_LABELS: &[&str] = &["none", "oos", "out_of_scope", "nlu_fallback"];

/// An imported label as an intent id: `None` for the out-of-scope labels, otherwise lowercase
/// with anything but letters, digits, `-` and `_` turned into `_` (Rasa's `faq/ask_vpn` →
/// `faq_ask_vpn`). `Err` when nothing usable is left.
pub fn intent_id(label: &str) -> Result<Option<String>, String> {
    let trimmed = label.trim();
    if OUT_OF_SCOPE_LABELS.iter().any(|l| trimmed.eq_ignore_ascii_case(l)) {
        return Ok(None);
    }
    let mut id = String::with_capacity(trimmed.len());
    for c in trimmed.to_lowercase().chars() {
        let keep = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let c = if keep { c } else { '_' };
        if !(c == '_' && id.ends_with('_')) {
            id.push(c);
        }
    }
    let id = id.trim_matches('_').to_string();
    if id.is_empty() {
        return Err(format!("intent label `{trimmed}` has no letters or digits to make an id from"));
    }
    Ok(Some(id))
}

/// An article id in the lowercase-hyphen form `kb:` answers use: "How do I?" → "how-do-i".
pub fn article_id(raw: &str) -> String {
    let mut id = String::with_capacity(raw.len());
    for c in raw.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_matches('-').to_string()
}

/// Read a whole input file as UTF-8.
pub(crate) fn read_input(path: &Path) -> Result<String, ImportError> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::file(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..good].iter().filter(|&&b| b == b'\n').count() + 1;
        ImportError::at(path, line, "not valid UTF-8: save the file as UTF-8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_ids_and_out_of_scope_labels_become_none() {
        for (label, want) in [
            ("password_reset", Ok(Some("password_reset"))),
            ("Faq/Ask VPN", Ok(Some("faq_ask_vpn"))),
            ("greet+goodbye", Ok(Some("greet_goodbye"))),
            ("none", Ok(None)),
            ("oos", Ok(None)),
            ("out_of_scope", Ok(None)),
            ("nlu_fallback", Ok(None)),
            (" NONE ", Ok(None)),
        ] {
            let got = intent_id(label);
            assert_eq!(got.as_ref().map(|o| o.as_deref()), want.as_ref().map(|o| *o), "{label}");
        }
        assert!(intent_id("???").is_err());
        assert!(intent_id("").is_err());
    }

    #[test]
    fn article_ids_are_lowercase_hyphen() {
        assert_eq!(
            article_id("000-Strikethrough with GitHub Markdown?"),
            "000-strikethrough-with-github-markdown"
        );
        assert_eq!(article_id("  VPN__setup  "), "vpn-setup");
        assert_eq!(article_id("!!!"), "");
    }
}
