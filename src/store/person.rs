//! Data-subject requests in the store: everything stored about one person ([`PersonData`])
//! and their erasure ([`Erasure`]): their id and names scrubbed everywhere, their own words
//! blanked, ticket statistics kept, the audit chain re-linked and the erasure recorded. Which
//! columns are touched, and how, is the personal-data catalogue's (`catalogue.rs`); the SQL that
//! applies it is in `person_sql.rs`.

use super::compliance::{AuditEntry, RoleGrant};
use super::{Result, StoredMessage, Ticket};
use crate::domain::{Millis, TicketNumber, UserRef};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;

/// A conversation as exported for its owner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationRecord {
    pub key: String,
    pub reply_to: serde_json::Value,
    pub state: serde_json::Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A rating the person gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatingRecord {
    pub ticket: TicketNumber,
    pub score: i64,
    pub comment: Option<String>,
    pub at: Millis,
}

/// Everything stored about one person (`deskbot person export`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonData {
    pub user: UserRef,
    /// Names the person was stored under.
    pub names: Vec<String>,
    pub conversations: Vec<ConversationRecord>,
    pub messages: Vec<StoredMessage>,
    pub tickets: Vec<Ticket>,
    /// Tickets the person worked on as an agent.
    pub assigned_tickets: Vec<TicketNumber>,
    pub ratings: Vec<RatingRecord>,
    pub roles: Vec<RoleGrant>,
    pub audit: Vec<AuditEntry>,
    /// Every row the personal-data catalogue attributes to the person, by table, with the
    /// catalogue's text and JSON columns (the complete record; the lists above are views), and
    /// under [`WORDS_IN_OTHERS_CONVERSATIONS`] what they added to others' conversations.
    pub records: BTreeMap<String, Vec<serde_json::Map<String, serde_json::Value>>>,
}

/// What to erase and what to put in its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    pub user: UserRef,
    /// Display names to scrub wherever they appear (besides the user id).
    pub names: Vec<String>,
    /// Stands in for the user id from now on (e.g. `erased-3f9a…`).
    pub pseudonym: String,
    /// The keyed hash the `person_erased` audit entry names the person by (never the id).
    pub subject_hash: String,
    /// The conversation state their conversations are reset to.
    pub blank_state: serde_json::Value,
    pub by: String,
    pub now: Millis,
}

/// How many rows an erasure rewrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// Rows rewritten or deleted, per table.
    pub tables: BTreeMap<String, u64>,
    /// Undelivered messages that held the person's words, id or names, dropped.
    pub deliveries_dropped: u64,
    /// Delivered messages whose payload was blanked.
    pub deliveries_blanked: u64,
    /// The first audit entry re-linked after rewriting, if any.
    pub relinked_from: Option<i64>,
    /// Whether the freed pages were wiped from the database files afterwards (SQLite: WAL
    /// checkpoint and VACUUM; PostgreSQL: VACUUM). False when that failed; see the log.
    #[serde(skip)]
    pub compacted: bool,
}

impl ErasureReport {
    pub(crate) fn add(&mut self, table: &str, rows: u64) {
        if rows > 0 {
            *self.tables.entry(table.to_string()).or_default() += rows;
        }
    }

    /// Rows rewritten in `table`.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables.get(table).copied().unwrap_or(0)
    }

    /// One line for the CLI: `tickets 2, messages 14, …`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
        parts.push(format!("deliveries dropped {}", self.deliveries_dropped));
        parts.push(format!("deliveries blanked {}", self.deliveries_blanked));
        parts.join(", ")
    }
}

#[async_trait]
pub trait PersonStore: Send + Sync {
    /// Everything stored about one person; `names` adds display names to look for.
    async fn person_data(&self, user: &UserRef, names: &[String]) -> Result<PersonData>;
    /// Anonymise one person everywhere, keep ticket statistics, and record the erasure.
    async fn erase_person(&self, erasure: &Erasure) -> Result<ErasureReport>;
}

/// How a backend finds the rows whose text holds a needle in any letter case, non-ASCII
/// letters included (a person named "Émile Øster" is found as "ÉMILE ØSTER" too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contains {
    /// `LOWER(x) LIKE '%needle%'`: PostgreSQL folds every letter's case.
    Like,
    /// `x GLOB '*[Éé]mile*'`: SQLite's `LOWER` and `LIKE` fold ASCII letters only, so each
    /// letter becomes the class of its cases.
    Glob,
}

impl Contains {
    /// The SQL before and after the bound pattern, testing `expr`.
    pub(crate) fn sql(self, expr: &str) -> (String, &'static str) {
        match self {
            Contains::Like => (format!("LOWER({expr}) LIKE "), " ESCAPE '\\'"),
            Contains::Glob => (format!("{expr} GLOB "), ""),
        }
    }

    /// The pattern to bind for `needle`.
    pub(crate) fn pattern(self, needle: &str) -> String {
        match self {
            Contains::Like => like_anywhere(needle),
            Contains::Glob => glob_anywhere(needle),
        }
    }
}

/// A `GLOB` pattern matching `needle` anywhere, in any letter case (Unicode case mappings that
/// are one character; `*`, `?` and `[` match themselves).
pub(crate) fn glob_anywhere(needle: &str) -> String {
    let mut out = String::from("*");
    for c in needle.chars() {
        let mut cases: Vec<char> = vec![c];
        for m in [c.to_lowercase().collect::<Vec<_>>(), c.to_uppercase().collect::<Vec<_>>()] {
            if let [one] = m.as_slice()
                && !cases.contains(one)
            {
                cases.push(*one);
            }
        }
        match (c, cases.len()) {
            ('*' | '?' | '[', _) => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            (_, 1) => out.push(c),
            _ => {
                out.push('[');
                out.extend(cases);
                out.push(']');
            }
        }
    }
    out.push('*');
    out
}

/// A `LIKE` pattern matching `needle` anywhere (lower-cased; `\` escapes).
pub(crate) fn like_anywhere(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Replaces a person's id and names in text (case-insensitive, whole words where the needle
/// starts or ends with a word character).
pub(crate) struct Scrubber {
    rules: Vec<(regex::Regex, String)>,
    /// The raw needles, for `LIKE` filters.
    pub needles: Vec<String>,
}

impl Scrubber {
    pub(crate) fn new(e: &Erasure) -> Scrubber {
        Scrubber::of(&e.user, &e.names, &e.pseudonym)
    }

    /// Replaces `user`'s id with `pseudonym` and `names` with `[erased]`.
    pub(crate) fn of(user: &UserRef, names: &[String], pseudonym: &str) -> Scrubber {
        let full = user.to_string();
        let mut pairs: Vec<(String, String)> = vec![
            (full, format!("{}:{}", user.platform, pseudonym)),
            (user.id.clone(), pseudonym.to_string()),
        ];
        for n in names {
            let n = n.trim();
            if n.chars().count() >= 2 && !pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(n)) {
                pairs.push((n.to_string(), "[erased]".to_string()));
            }
        }
        // Longest first, so `slack:U1` goes before `U1`.
        pairs.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        let rules = pairs
            .iter()
            .filter_map(|(k, v)| {
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                let start = if word(k.chars().next()) { r"\b" } else { "" };
                let end = if word(k.chars().last()) { r"\b" } else { "" };
                let re = regex::Regex::new(&format!("(?i){start}{}{end}", regex::escape(k))).ok()?;
                Some((re, v.clone()))
            })
            .collect();
        Scrubber { rules, needles: pairs.into_iter().map(|(k, _)| k).collect() }
    }

    /// Does `s` name the person?
    pub(crate) fn mentions(&self, s: &str) -> bool {
        self.rules.iter().any(|(re, _)| re.is_match(s))
    }

    /// The text with every needle replaced.
    pub(crate) fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (re, with) in &self.rules {
            if re.is_match(&out) {
                out = re.replace_all(&out, regex::NoExpand(with)).into_owned();
            }
        }
        out
    }

    /// Scrub every string (and object key) in a JSON value.
    pub(crate) fn json(&self, v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (self.text(k), self.json(x))).collect()),
            other => other.clone(),
        }
    }
}

/// The export's name for the words a person added to others' conversations (see
/// [`erase_words_by`]): each an object of the conversation's state whose `by` is them (a
/// transcript line, a filing and its note), without the rest of that state, which is not theirs.
pub const WORDS_IN_OTHERS_CONVERSATIONS: &str = "words_in_others_conversations";

/// Every object in `v` whose `by` is `who` (a serialized `UserRef`), outermost first.
pub(crate) fn said_by(v: &serde_json::Value, who: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    use serde_json::Value;
    match v {
        Value::Array(a) => a.iter().for_each(|x| said_by(x, who, out)),
        Value::Object(o) if o.get("by") == Some(who) => out.push(v.clone()),
        Value::Object(o) => o.values().for_each(|x| said_by(x, who, out)),
        _ => {}
    }
}

/// In a conversation state that is not the person's, the words they added as someone other
/// than its owner (a note typed filing a ticket from the owner's message, kept while the form's
/// questions are asked): every object whose `by` is `who` (a serialized `UserRef`) has what it
/// holds of them — `text`, `note`, `by_name` and the speaker's `name` — replaced by `[erased]`.
/// True if anything changed.
pub(crate) fn erase_words_by(v: &mut serde_json::Value, who: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Array(a) => a.iter_mut().fold(false, |changed, x| erase_words_by(x, who) | changed),
        Value::Object(o) => {
            let mut changed = false;
            if o.get("by") == Some(who) {
                for k in ["text", "note", "by_name"] {
                    if let Some(x) = o.get_mut(k)
                        && x.is_string()
                        && x.as_str() != Some(super::catalogue::ERASED)
                    {
                        *x = Value::from(super::catalogue::ERASED);
                        changed = true;
                    }
                }
                if let Some(x) = o.get_mut("from").and_then(|f| f.get_mut("name"))
                    && x.is_string()
                    && x.as_str() != Some(super::catalogue::ERASED)
                {
                    *x = Value::from(super::catalogue::ERASED);
                    changed = true;
                }
            }
            o.values_mut().fold(changed, |changed, x| erase_words_by(x, who) | changed)
        }
        _ => false,
    }
}

/// Every string in a JSON value (object keys too).
pub(crate) fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                json_strings(x, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    #[test]
    fn scrubber_replaces_ids_and_names_as_whole_words() {
        let e = Erasure {
            user: UserRef::new(Platform::Slack, "U0ZED"),
            names: vec!["Zelda Quux".into(), "Zelda".into()],
            pseudonym: "erased-1".into(),
            subject_hash: "hmac:1".into(),
            blank_state: serde_json::json!({}),
            by: "dpo".into(),
            now: 0,
        };
        let s = Scrubber::new(&e);
        assert_eq!(s.text("slack:U0ZED asked; zelda quux said hi"), "slack:erased-1 asked; [erased] said hi");
        assert_eq!(s.text("U0ZEDX and Zeldas stay"), "U0ZEDX and Zeldas stay");
        assert_eq!(s.json(&serde_json::json!({"to": ["U0ZED"]})), serde_json::json!({"to": ["erased-1"]}));
        assert_eq!(like_anywhere("a_b%"), "%a\\_b\\%%");
        assert_eq!(glob_anywhere("Éa*1"), "*[Éé][aA][*]1*");
        assert_eq!(glob_anywhere("ß?["), "*ß[?][[]*");
    }

    #[test]
    fn words_said_by_the_person_in_anothers_state_are_erased_and_nothing_else() {
        let bob = serde_json::to_value(UserRef::new(Platform::Slack, "U0BOB")).unwrap();
        let ann = serde_json::to_value(UserRef::new(Platform::Slack, "U0ANN")).unwrap();
        let mut state = serde_json::json!({
            "transcript": [
                {"from": {"kind": "employee"}, "text": "carol's words", "at": 1},
                {"from": {"kind": "filer", "name": "Bob"}, "text": "bob's note", "at": 2, "by": bob},
                {"from": {"kind": "agent", "name": "Ann"}, "text": "ann's reply", "at": 3, "by": ann},
            ],
            "filing": {"by": bob, "by_name": "Bob", "note": "bob's note"},
        });
        let mut said = Vec::new();
        said_by(&state, &bob, &mut said);
        assert_eq!(said, vec![state["filing"].clone(), state["transcript"][1].clone()], "Bob's, not Carol's");
        assert!(erase_words_by(&mut state, &bob));
        let t = &state["transcript"];
        assert_eq!(t[0]["text"], "carol's words");
        assert_eq!((&t[1]["text"], &t[1]["from"]["name"]), (&"[erased]".into(), &"[erased]".into()));
        assert_eq!((&t[2]["text"], &t[2]["from"]["name"]), (&"ann's reply".into(), &"Ann".into()));
        assert_eq!(state["filing"]["note"], "[erased]");
        assert_eq!(state["filing"]["by_name"], "[erased]");
        assert!(!erase_words_by(&mut state, &bob), "nothing left to erase");
    }
}
