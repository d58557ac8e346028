//! PII redaction, applied to employee text before it is stored or forwarded. Each rule
//! replaces what it finds with a typed placeholder (`[email]`, `[card]`, …). Admins add their
//! own rules in config (`[[redact.rules]]`).

use crate::config::RedactConfig;
use regex::{Captures, Regex};

/// One rule: a pattern and the placeholder name. `luhn` rules only fire on digit runs that
/// pass the Luhn check, so order numbers survive.
struct Rule {
    name: String,
    re: Regex,
    luhn: bool,
    /// Keep capture group 1 (e.g. "password is") and redact the rest.
    keep_prefix: bool,
}

/// A compiled set of redaction rules.
pub struct Redactor {
    rules: Vec<Rule>,
    enabled: bool,
}

const BUILT_IN: &[(&str, &str, bool, bool)] = &[
    // Secrets first: a token may contain digits a phone rule would eat.
    ("secret", r"(?i)\b((?:password|passwd|pwd|pw|passcode|pin)\s*(?:is|was|=|:)\s*)\S+", false, true),
    (
        "token",
        r"\b(?:xox[abposr]-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})\b",
        false,
        false,
    ),
    ("email", r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b", false, false),
    ("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b", false, false),
    ("card", r"\b(?:\d[ -]?){12,18}\d\b", true, false),
    ("ssn", r"\b\d{3}-\d{2}-\d{4}\b", false, false),
    ("phone", r"(?:\+\d{1,3}[ -]?)?(?:\(\d{2,4}\)[ -]?)?\b\d{2,4}(?:[ -]\d{2,4}){2,4}\b", false, false),
];

impl Redactor {
    /// Build from config. Custom patterns were validated when config loaded; a bad one here
    /// is skipped rather than stopping the bot.
    pub fn new(cfg: &RedactConfig) -> Self {
        let mut rules: Vec<Rule> = BUILT_IN
            .iter()
            .filter_map(|(name, pat, luhn, keep)| {
                Regex::new(pat).ok().map(|re| Rule {
                    name: name.to_string(),
                    re,
                    luhn: *luhn,
                    keep_prefix: *keep,
                })
            })
            .collect();
        for r in &cfg.rules {
            match Regex::new(&r.pattern) {
                Ok(re) => rules.push(Rule { name: r.name.clone(), re, luhn: false, keep_prefix: false }),
                Err(e) => tracing::warn!(rule = %r.name, error = %e, "skipping invalid redaction rule"),
            }
        }
        Self { rules, enabled: cfg.enabled }
    }

    /// No redaction at all.
    pub fn disabled() -> Self {
        Self { rules: Vec::new(), enabled: false }
    }

    pub fn redact(&self, text: &str) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut out = text.to_string();
        for rule in &self.rules {
            out = rule
                .re
                .replace_all(&out, |c: &Captures<'_>| {
                    let whole = c.get(0).map(|m| m.as_str()).unwrap_or("");
                    if (rule.luhn && !luhn_ok(whole)) || (rule.name == "phone" && !phone_like(whole)) {
                        return whole.to_string();
                    }
                    let prefix =
                        if rule.keep_prefix { c.get(1).map(|m| m.as_str()).unwrap_or("") } else { "" };
                    format!("{prefix}[{}]", rule.name)
                })
                .into_owned();
        }
        out
    }
}

/// A phone number has 9 to 15 digits (dates and short codes do not).
fn phone_like(s: &str) -> bool {
    (9..=15).contains(&s.chars().filter(char::is_ascii_digit).count())
}

/// The Luhn checksum over the digits of `s`.
fn luhn_ok(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { *d })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RedactRule;

    #[test]
    fn redacts_pii_and_keeps_the_rest() {
        let r = Redactor::new(&RedactConfig {
            enabled: true,
            rules: vec![RedactRule { name: "employee-id".into(), pattern: r"\bE\d{6}\b".into() }],
        });
        let table = [
            ("mail me at jane.doe@example.com please", "mail me at [email] please"),
            ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
            ("order 1234567890123 is late", "order 1234567890123 is late"),
            ("my password is hunter2 ok", "my password is [secret] ok"),
            ("token xoxb-1234567890-abcdefghij leaked", "token [token] leaked"),
            ("call me on +44 20 7946 0958", "call me on [phone]"),
            ("ssn 123-45-6789", "ssn [ssn]"),
            ("ring 555-123-4567 now", "ring [phone] now"),
            ("since 2024-01-15 it fails", "since 2024-01-15 it fails"),
            ("I am E123456", "I am [employee-id]"),
            ("my vpn keeps dropping", "my vpn keeps dropping"),
            ("laptop LT-01234 broke", "laptop LT-01234 broke"),
        ];
        for (input, want) in table {
            assert_eq!(r.redact(input), want, "{input}");
        }
        assert_eq!(Redactor::disabled().redact("a@b.co"), "a@b.co");
    }
}
