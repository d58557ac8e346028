//! The shapes of the files admins edit, as serde sees them. Fields that validation reports on
//! are `Spanned` so a problem points at the exact `line:col`; unknown keys are refused.
use serde::Deserialize;
use toml::Spanned;

/// `intents/*.toml`: any number of `[[intent]]` tables and an optional `out_of_scope` list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentFile {
    #[serde(default)]
    pub out_of_scope: Vec<Spanned<String>>,
    #[serde(default)]
    pub intent: Vec<Spanned<IntentDef>>,
}

/// One `[[intent]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentDef {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub examples: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub patterns: Vec<Spanned<String>>,
    pub answer: Spanned<String>,
    pub queue: Spanned<String>,
    pub priority: Option<Spanned<String>>,
    /// Confidence (0–1) this intent needs, instead of the catalog's threshold.
    pub threshold: Option<Spanned<f32>>,
    /// `"always"` files a ticket as soon as the intent matches; `"on_request"` (the default)
    /// only when the answer did not help.
    pub file: Option<Spanned<String>>,
    #[serde(default)]
    pub slot: Vec<Spanned<SlotDef>>,
}

/// One `[[intent.slot]]` table: a question asked before filing a ticket.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotDef {
    pub name: Spanned<String>,
    /// Optional here so a missing `ask` is reported in words an admin can act on.
    pub ask: Option<Spanned<String>>,
    pub pattern: Option<Spanned<String>>,
    pub hint: Option<String>,
}

/// `intents/tests/*.toml`: `[[case]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    #[serde(default)]
    pub case: Vec<Spanned<CaseDef>>,
}

/// One test case; `intent = "none"` means the message must go to a person.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDef {
    pub text: Spanned<String>,
    pub intent: Spanned<String>,
}

/// The test-case label for "no intent: goes to a person".
pub const NONE_INTENT: &str = "none";
