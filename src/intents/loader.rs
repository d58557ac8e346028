//! Loading and validating an intents directory (stub).
use super::{Catalog, Diagnostics, MatcherOptions};
use crate::domain::QueueName;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub matcher: MatcherOptions,
    pub kb_min_score: Option<f32>,
}

pub fn load_catalog(_dir: &Path, _queues: &[QueueName], _opts: &LoadOptions) -> Result<Catalog, Diagnostics> {
    unimplemented!()
}
