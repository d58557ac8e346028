//! PII redaction, applied to employee text before it is stored or forwarded (to an agents'
//! channel, a webhook, anywhere). Each rule replaces what it finds with a typed placeholder
//! (`[email]`, `[card]`, …); rules with a checksum or a shape check (`checks.rs`) fire only on
//! matches that pass it, so order numbers, dates and words survive. Admins add their own rules
//! in config (`[[redact.rules]]`). The corpus in `tests/fixtures/redaction_corpus.tsv` measures
//! precision and recall (`tests.rs`).

mod checks;
#[cfg(test)]
mod tests;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

/// `[redact]` in deskbot.toml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Redact PII before anything is stored or forwarded.
    pub enabled: bool,
    /// Extra rules: `{ name = "employee-id", pattern = 'E\d{6}' }` → `[employee-id]`.
    pub rules: Vec<RedactRule>,
    /// Also redact IPv4 and IPv6 addresses (`[ip]`). Off by default: agents often need them.
    pub ip_addresses: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedactRule {
    pub name: String,
    pub pattern: String,
}

impl Default for RedactConfig {
    fn default() -> Self {
        Self { enabled: true, rules: Vec::new(), ip_addresses: false }
    }
}

/// How a rule decides on a match and what it puts in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Every match is redacted.
    Plain,
    /// Keep capture group 1 (e.g. "password is ") and redact group 2 if it looks like a secret.
    Secret,
    /// Keep capture group 1 (e.g. "Bearer ") and redact the rest.
    KeepPrefix,
    Luhn,
    Iban,
    Ssn,
    Phone,
    Ipv4,
    Ipv6,
}

struct Rule {
    name: String,
    re: Regex,
    kind: Kind,
}

/// A compiled set of redaction rules.
pub struct Redactor {
    rules: Vec<Rule>,
    enabled: bool,
}

/// Built-in rules, applied in this order: secrets first (a token may contain digits a phone
/// rule would eat), then addresses and numbers from the most to the least specific.
const BUILT_IN: &[(&str, &str, Kind)] = &[
    (
        "secret",
        r"(?i)\b((?:password|passwd|passwort|pwd|pw|passcode|passphrase|pin)\s*(?:(?:is|was)(?:\s+now)?\s*[:=]?|[:=])\s*)(\S+)",
        Kind::Secret,
    ),
    (
        "token",
        r"\b(?:xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|[sprk]k_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
        Kind::Plain,
    ),
    (
        "token",
        r"(?i)\b(bearer\s+|api[_ -]?key\s*[:=]\s*|token\s*[:=]\s*)[A-Za-z0-9._~+/-]{16,}=*",
        Kind::KeepPrefix,
    ),
    ("email", r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b", Kind::Plain),
    ("iban", r"(?i)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", Kind::Iban),
    ("card", r"\b(?:\d[ -]?){12,18}\d\b", Kind::Luhn),
    ("ssn", r"\b\d{3}([- ])\d{2}[- ]\d{4}\b", Kind::Ssn),
    ("ip", r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*", Kind::Ipv6),
    ("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", Kind::Ipv4),
    (
        "phone",
        r"(?:\+\d{1,3}[ -]?)?(?:\(\d{2,4}\)[ -]?)?\b\d{1,4}(?:[ -]\d{1,9}){1,5}\b|\+\d{9,14}\b",
        Kind::Phone,
    ),
];

impl Redactor {
    /// Build from config. Custom patterns were validated when config loaded; a bad one here
    /// is skipped rather than stopping the bot.
    pub fn new(cfg: &RedactConfig) -> Self {
        let mut rules: Vec<Rule> = BUILT_IN
            .iter()
            .filter(|(_, _, kind)| cfg.ip_addresses || !matches!(kind, Kind::Ipv4 | Kind::Ipv6))
            .filter_map(|(name, pat, kind)| {
                Regex::new(pat).ok().map(|re| Rule { name: name.to_string(), re, kind: *kind })
            })
            .collect();
        for r in &cfg.rules {
            match Regex::new(&r.pattern) {
                Ok(re) => rules.push(Rule { name: r.name.clone(), re, kind: Kind::Plain }),
                Err(e) => tracing::warn!(rule = %r.name, error = %e, "skipping invalid redaction rule"),
            }
        }
        Self { rules, enabled: cfg.enabled }
    }

    /// No redaction at all.
    pub fn disabled() -> Self {
        Self { rules: Vec::new(), enabled: false }
    }

    /// Is redaction on?
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn redact(&self, text: &str) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut out = text.to_string();
        for rule in &self.rules {
            if !rule.re.is_match(&out) {
                continue;
            }
            let hay = out.clone();
            out = rule.re.replace_all(&hay, |c: &Captures<'_>| replacement(rule, c, &hay)).into_owned();
        }
        out
    }
}

/// What one match becomes: the placeholder, or the match itself when a check says no.
fn replacement(rule: &Rule, c: &Captures<'_>, hay: &str) -> String {
    let whole = c.get(0).map(|m| m.as_str()).unwrap_or("");
    // The character before the match: digits glued to an identifier (`INV-2024-000123`) are
    // part of it.
    let glued = c
        .get(0)
        .and_then(|m| hay[..m.start()].chars().last())
        .is_some_and(|p| p.is_alphanumeric() || matches!(p, '-' | '_' | '/' | '#'));
    let group = |i| c.get(i).map(|m| m.as_str()).unwrap_or("");
    let tag = format!("[{}]", rule.name);
    match rule.kind {
        Kind::Plain => tag,
        Kind::KeepPrefix => format!("{}{tag}", group(1)),
        Kind::Secret if checks::looks_secret(group(2)) => {
            let secret = group(2).trim_end_matches(['.', ',', ';', ')']);
            format!("{}{tag}{}", group(1), &group(2)[secret.len()..])
        }
        Kind::Secret => whole.to_string(),
        Kind::Luhn if checks::luhn_ok(whole) => tag,
        Kind::Iban => match checks::iban_prefix(whole) {
            Some(len) => format!("{tag}{}", &whole[len..]),
            None => whole.to_string(),
        },
        Kind::Ssn if checks::ssn_ok(whole) => tag,
        Kind::Phone if !glued && checks::phone_like(whole) => tag,
        Kind::Ipv4 if checks::ipv4_ok(whole) => tag,
        Kind::Ipv6 => {
            let trimmed = whole.trim_end_matches('.');
            if checks::ipv6_ok(trimmed) {
                format!("{tag}{}", &whole[trimmed.len()..])
            } else {
                whole.to_string()
            }
        }
        Kind::Luhn | Kind::Ssn | Kind::Phone | Kind::Ipv4 => whole.to_string(),
    }
}
