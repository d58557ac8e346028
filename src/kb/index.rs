//! KB search index (stub).
use super::{Article, KbIndex};
pub fn build_index(_articles: &[Article]) -> Box<dyn KbIndex> {
    unimplemented!()
}
