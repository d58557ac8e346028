//! The checks that keep redaction precise: checksums (Luhn for cards, ISO 13616 mod-97 for
//! IBANs), the shapes of SSNs, phone numbers and IP addresses, and whether the word after
//! "password is" is a secret or just English ("my password is expired").

/// The Luhn checksum over the 13–19 digits of `s`.
pub(super) fn luhn_ok(s: &str) -> bool {
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

/// The length of the longest prefix of `s` that is a valid IBAN: the whole match, or the match
/// without a trailing short group that belongs to the next word.
pub(super) fn iban_prefix(s: &str) -> Option<usize> {
    if iban_ok(s) {
        return Some(s.len());
    }
    let cut = s.rfind(' ')?;
    iban_ok(&s[..cut]).then_some(cut)
}

/// ISO 13616: 15–34 characters; moving the first four to the end and reading letters as
/// 10–35 gives a number that is 1 modulo 97.
pub(super) fn iban_ok(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if !(15..=34).contains(&compact.len()) || !compact.is_ascii() {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// A US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000; one kind of separator.
pub(super) fn ssn_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['-', ' ']).collect();
    if parts.len() != 3 || (s.contains('-') && s.contains(' ')) {
        return false;
    }
    let (area, group, serial) = (parts[0], parts[1], parts[2]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// A phone number has 9 to 15 digits (dates, times and short codes do not), and is not
/// shaped like an SSN (a failed SSN check must not come back as a phone) or led by a date.
pub(super) fn phone_like(s: &str) -> bool {
    let shape: String = s.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect();
    let ssn_shaped = matches!(shape.as_str(), "999-99-9999" | "999 99 9999");
    let dated = shape.starts_with("9999-99-99");
    !ssn_shaped && !dated && (9..=15).contains(&s.chars().filter(char::is_ascii_digit).count())
}

pub(super) fn ipv4_ok(s: &str) -> bool {
    s.parse::<std::net::Ipv4Addr>().is_ok()
}

/// A real IPv6 address with at least two groups written out (so `::` alone is not one).
pub(super) fn ipv6_ok(s: &str) -> bool {
    s.matches(':').count() >= 2
        && s.chars().filter(|c| c.is_ascii_hexdigit()).count() >= 2
        && s.parse::<std::net::Ipv6Addr>().is_ok()
}

/// Words that follow "password is" in complaints, not secrets.
const NOT_SECRETS: &[&str] = &[
    "a",
    "about",
    "again",
    "all",
    "already",
    "also",
    "an",
    "and",
    "being",
    "blocked",
    "broken",
    "case",
    "changed",
    "correct",
    "disabled",
    "does",
    "doesnt",
    "due",
    "empty",
    "expired",
    "expiring",
    "fine",
    "for",
    "forgotten",
    "going",
    "gone",
    "in",
    "incorrect",
    "invalid",
    "it",
    "just",
    "locked",
    "lost",
    "my",
    "needed",
    "no",
    "not",
    "now",
    "ok",
    "okay",
    "on",
    "past",
    "really",
    "rejected",
    "required",
    "reset",
    "right",
    "same",
    "saved",
    "set",
    "so",
    "still",
    "stored",
    "strong",
    "that",
    "the",
    "this",
    "to",
    "too",
    "under",
    "unknown",
    "very",
    "weak",
    "what",
    "when",
    "where",
    "working",
    "wrong",
    "yes",
    "you",
    "your",
];

/// Does the word after "password is" look like the password itself?
pub(super) fn looks_secret(word: &str) -> bool {
    let w =
        word.trim_matches(|c: char| matches!(c, '"' | '\'' | '`' | ',' | '.' | '!' | '?' | ';' | ')' | '('));
    if w.chars().count() < 3 {
        return false;
    }
    let plain_word = w.chars().all(|c| c.is_ascii_lowercase()) || {
        // "Expired", "Locked": capitalised English.
        let mut cs = w.chars();
        cs.next().is_some_and(|c| c.is_ascii_uppercase()) && cs.all(|c| c.is_ascii_lowercase())
    };
    !(plain_word && NOT_SECRETS.contains(&w.to_ascii_lowercase().as_str()))
}
