//! Measuring answer quality: how well KB search finds the right article (`kb.rs`, behind
//! `deskbot kb eval`). Intent accuracy is measured by `intents::eval`. This layer sits above
//! the catalog and the importers it reads test sets with.

pub mod kb;
