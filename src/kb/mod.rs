//! Knowledge base: articles (`intents/kb/*.md`, markdown with TOML front matter) and the
//! search index over their title, body, tags and example questions.

pub mod article;
pub mod hybrid;
pub mod index;
pub mod snippet;

pub use article::{Article, parse_article};
pub use hybrid::build_index_embedded;
pub use index::{build_index, build_index_with};
pub use snippet::snippet;

/// One search result: an index into the catalog's articles and a relevance score
/// (higher is better; comparable within one search only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KbHit {
    pub article: usize,
    pub score: f32,
}

/// Anything that can rank articles for a question. Built once per catalog load.
pub trait KbIndex: Send + Sync {
    /// At most `k` hits, best first, only those with some relevance.
    fn search(&self, query: &str, k: usize) -> Vec<KbHit>;
    /// The score a hit needs to be offered to an employee.
    fn min_score(&self) -> f32;
}
