//! Intents: the admin-edited catalog. `format` holds the file shapes, `loader` reads and
//! validates a directory into a [`Catalog`] (every problem as `file:line:col: message`),
//! `matcher` classifies a message, `template` fills `{slot}` placeholders, `reload` watches the
//! directory and swaps the live catalog, `eval` runs the test cases, `explain` shows why a message gets its intent. Helpers: `validate`
//! (semantic checks), `spans` (byte offsets → line:col), `features` + `linear` + `model` (the
//! matcher's statistical model), `tfidf` (KB example search).

pub mod eval;
pub mod explain;
pub mod features;
pub mod format;
pub mod linear;
pub mod loader;
pub mod matcher;
pub mod model;
pub mod reload;
pub mod requests;
pub mod template;
pub mod validate;

use crate::domain::{Priority, QueueName};
use crate::kb::{Article, KbHit, KbIndex};
use regex::Regex;
use std::fmt;
use std::path::PathBuf;

pub use crate::text::diagnostics::{Diagnostic, Diagnostics};
pub use crate::text::{spans, tfidf};
pub use eval::{EvalReport, evaluate};
pub use loader::{LoadOptions, Sources, check, load_catalog, load_sources};
pub use matcher::{Candidate, Explanation, Match, Matcher, MatcherOptions, build_matcher};
pub use reload::{LiveCatalog, ReloadEvent};

/// What the bot answers when an intent matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `kb:ID`: send the article's excerpt.
    Article(String),
    /// Inline text, may hold `{slot}` placeholders filled from pattern captures.
    Text(String),
    /// A request-catalog item (`intents/catalog/*.toml`): start a request for it.
    Request(String),
}

/// When a ticket is filed for an intent (`file = "…"` in `intents/*.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileWhen {
    /// Only when the answer did not help or the employee asks for a person (the default).
    #[default]
    OnRequest,
    /// At once, with the answer shown as first steps (security incidents, lost devices).
    Always,
}

impl std::str::FromStr for FileWhen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "always" => Ok(FileWhen::Always),
            "on_request" => Ok(FileWhen::OnRequest),
            other => Err(format!("file must be \"always\" or \"on_request\", not `{other}`")),
        }
    }
}

/// A question the bot asks before filing a ticket for an intent.
#[derive(Debug, Clone)]
pub struct Slot {
    pub name: String,
    pub ask: String,
    pub pattern: Option<Regex>,
    /// Shown when an answer does not fit the pattern.
    pub hint: Option<String>,
}

/// One intent, validated.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub description: String,
    pub examples: Vec<String>,
    pub patterns: Vec<String>,
    pub answer: Answer,
    pub queue: QueueName,
    pub priority: Priority,
    pub slots: Vec<Slot>,
    /// Confidence this intent needs (overrides the catalog's threshold): higher for intents
    /// where a wrong answer is costly.
    pub threshold: Option<f32>,
    /// Whether matching it files a ticket at once.
    pub file: FileWhen,
    /// Where it was defined, for messages to admins.
    pub source: PathBuf,
}

/// A test case from `intents/tests/*.toml`. `intent == None` means "must go to a person".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    pub text: String,
    pub intent: Option<String>,
    pub source: String,
}

/// An immutable snapshot of intents, articles and the trained matcher and index.
/// Swapped whole on hot reload; a conversation in progress refers to intents by id.
pub struct Catalog {
    /// The intents, then one per request-catalog item (answer [`Answer::Request`]).
    pub intents: Vec<Intent>,
    /// The request catalog.
    pub items: Vec<requests::Item>,
    pub articles: Vec<Article>,
    pub cases: Vec<TestCase>,
    /// Example messages labelled "no intent" (they must go to a person).
    pub out_of_scope: Vec<String>,
    pub matcher: Box<dyn Matcher>,
    pub kb_index: Box<dyn KbIndex>,
}

impl Catalog {
    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    /// A request-catalog item.
    pub fn item(&self, id: &str) -> Option<&requests::Item> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn article(&self, id: &str) -> Option<&Article> {
        self.articles.iter().find(|a| a.id == id)
    }

    /// Classify one message.
    pub fn classify(&self, text: &str) -> Match {
        let started = std::time::Instant::now();
        let m = self.matcher.classify(text);
        metrics::histogram!("deskbot_matcher_duration_seconds").record(started.elapsed().as_secs_f64());
        m
    }

    /// The slow part of classifying `text`, ahead of [`Catalog::classify`] (see
    /// [`Matcher::prepare`]): the service runs it off the async workers.
    pub fn prepare(&self, text: &str) {
        self.matcher.prepare(text);
    }

    /// Whether [`Catalog::prepare`] does anything: without a model, classifying is quick.
    pub fn prepares(&self) -> bool {
        self.matcher.prepares()
    }

    /// The best `k` articles for a free-text question.
    pub fn search_kb(&self, text: &str, k: usize) -> Vec<KbHit> {
        self.kb_index.search(text, k)
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("intents", &self.intents.len())
            .field("articles", &self.articles.len())
            .field("items", &self.items.len())
            .field("cases", &self.cases.len())
            .finish()
    }
}
