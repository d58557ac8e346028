//! Digits in any script read as ASCII before the rules run: full-width `４１１１`, Arabic-Indic
//! `٤١١١`, Devanagari, mathematical digits, … (every Unicode `Nd` character). Between two digits,
//! look-alike separators (full-width and typographic dashes, odd spaces) become `-` or ` ` and
//! invisible characters (zero-width space and joiners) are dropped, so `４１１１－１１１１…` and
//! `4111\u{200b}1111…` meet the same card rule as `4111-1111…`. Text without such characters
//! is returned unchanged (borrowed).

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// A non-ASCII decimal digit, or a look-alike separator or invisible character.
static SUSPECT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"[\p{Nd}&&[^0-9]]|[\u{00A0}\u{2007}\u{202F}\u{3000}\u{2010}-\u{2015}\u{2212}\u{FE63}\u{FF0D}\u{200B}-\u{200D}\u{2060}\u{FEFF}]").ok()
});

static ND: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{Nd}$").ok());

fn is_nd(c: char) -> bool {
    let mut buf = [0u8; 4];
    ND.as_ref().is_some_and(|re| re.is_match(c.encode_utf8(&mut buf)))
}

/// The value of a decimal digit of any script. Unicode keeps each script's digits as one run
/// of ten consecutive code points from 0 to 9 (runs may touch), so the value is the count of
/// `Nd` code points before `c` in its run, modulo 10.
fn digit_value(c: char) -> Option<u32> {
    if let Some(d) = c.to_digit(10) {
        return Some(d);
    }
    if !is_nd(c) {
        return None;
    }
    let mut k = 0u32;
    let mut code = c as u32;
    while let Some(prev) = code.checked_sub(1).and_then(char::from_u32) {
        if !is_nd(prev) {
            break;
        }
        k += 1;
        code -= 1;
    }
    Some(k % 10)
}

/// What a separator-like character becomes between digits: `Some('-')`, `Some(' ')`, or
/// `None` for an invisible character (dropped).
fn separator(c: char) -> Option<Option<char>> {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => Some(Some('-')),
        '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{3000}' => Some(Some(' ')),
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => Some(None),
        _ => None,
    }
}

/// `text` with every decimal digit in ASCII and the separators between digits plain.
pub(super) fn normalize(text: &str) -> Cow<'_, str> {
    match SUSPECT.as_ref() {
        Some(re) if !re.is_match(text) => return Cow::Borrowed(text),
        _ => {}
    }
    let chars: Vec<char> = text
        .chars()
        .map(|c| match digit_value(c) {
            Some(d) if !c.is_ascii_digit() => char::from_digit(d, 10).unwrap_or(c),
            _ => c,
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let Some(replacement) = separator(c) else {
            out.push(c);
            continue;
        };
        let before = out.chars().last().is_some_and(|p| p.is_ascii_digit());
        // The next character that is not itself an invisible one.
        let after = chars[i + 1..]
            .iter()
            .find(|n| !matches!(separator(**n), Some(None)))
            .is_some_and(|n| n.is_ascii_digit());
        match (before && after, replacement) {
            (true, Some(r)) => out.push(r),
            (true, None) => {}
            (false, _) => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_of_every_script_read_as_ascii() {
        assert_eq!(normalize("４１１１ １１１１"), "4111 1111");
        assert_eq!(normalize("٤١١١-٠٩"), "4111-09");
        assert_eq!(normalize("४१११"), "4111");
        assert_eq!(normalize("𝟒𝟏𝟏𝟏 𝟗"), "4111 9");
        assert_eq!(normalize("４１１１－１１１１\u{3000}１"), "4111-1111 1");
        assert_eq!(normalize("4111\u{200b}1111\u{2060}1"), "411111111");
        assert!(matches!(normalize("plain 4111 text"), Cow::Borrowed(_)));
    }

    #[test]
    fn separators_away_from_digits_are_left_alone() {
        assert_eq!(normalize("pages 10–12 — see\u{00a0}above"), "pages 10-12 — see\u{00a0}above");
        assert_eq!(normalize("a\u{200b}b"), "a\u{200b}b");
    }
}
