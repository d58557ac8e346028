//! KB articles (stub).
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub tags: Vec<String>,
    pub examples: Vec<String>,
    /// Markdown body, front matter removed.
    pub body: String,
    pub source: PathBuf,
}

impl Article {
    /// The first paragraph, cut to about `max_chars` at a word boundary.
    pub fn excerpt(&self, _max_chars: usize) -> String {
        self.body.clone()
    }
}

pub fn parse_article(
    _path: &std::path::Path,
    _text: &str,
) -> Result<Article, super::super::intents::Diagnostic> {
    unimplemented!()
}
