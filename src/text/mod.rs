//! Text normalisation and tokenising shared by the intent matcher and KB search: lowercase,
//! contractions folded ("can't" → "cannot"), punctuation stripped, a light English stemmer
//! (plurals, -ing, -ed) and a small stopword list. Hand-written on purpose: a few dozen lines
//! cover what short helpdesk messages need, with no dependency and fully deterministic output.

pub mod diagnostics;
pub mod spans;
pub mod tfidf;

/// Contractions and their common apostrophe-less spellings, folded before punctuation goes.
const CONTRACTIONS: &[(&str, &str)] = &[
    ("can't", "cannot"),
    ("cant", "cannot"),
    ("won't", "will not"),
    ("shan't", "shall not"),
    ("ain't", "is not"),
    ("dont", "do not"),
    ("doesnt", "does not"),
    ("didnt", "did not"),
    ("isnt", "is not"),
    ("wasnt", "was not"),
    ("arent", "are not"),
    ("werent", "were not"),
    ("havent", "have not"),
    ("hasnt", "has not"),
    ("couldnt", "could not"),
    ("wouldnt", "would not"),
    ("shouldnt", "should not"),
    ("im", "i am"),
    ("ive", "i have"),
];

/// Suffixes after an apostrophe: `n't` → ` not`, `'re` → ` are`, …; `'s` is dropped.
const APOSTROPHE_SUFFIXES: &[(&str, &str)] =
    &[("n't", " not"), ("'re", " are"), ("'m", " am"), ("'ll", " will"), ("'ve", " have"), ("'d", " would")];

/// Words too common to say anything about an IT problem. Negations and question words stay:
/// "not working" and "how do i" carry meaning.
const STOPWORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "could", "did",
    "do", "does", "for", "from", "got", "had", "has", "have", "he", "hello", "her", "hey", "hi", "him",
    "his", "i", "if", "in", "is", "it", "its", "just", "me", "mine", "my", "of", "on", "or", "our", "please",
    "pls", "plz", "she", "should", "so", "some", "thank", "thanks", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "thx", "to", "too", "us", "very", "was", "we", "were", "will",
    "with", "would", "you", "your",
];

/// Lowercase, fold contractions, replace punctuation with spaces and collapse whitespace.
/// Letters and digits of every script are kept.
pub fn normalize(text: &str) -> String {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}', '`'], "'");
    let mut out = String::with_capacity(lower.len());
    for raw in lower.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let folded = fold_contraction(word);
        for c in folded.chars() {
            out.push(if c.is_alphanumeric() { c } else { ' ' });
        }
        out.push(' ');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fold_contraction(word: &str) -> String {
    let bare: String = word.chars().filter(|&c| c != '\'').collect();
    if let Some((_, full)) = CONTRACTIONS.iter().find(|(short, _)| *short == word || *short == bare) {
        return (*full).to_string();
    }
    for (suffix, full) in APOSTROPHE_SUFFIXES {
        if let Some(stem) = word.strip_suffix(suffix) {
            return format!("{stem}{full}");
        }
    }
    word.strip_suffix("'s").unwrap_or(word).to_string()
}

/// The normalised words of `text`, stopwords included.
pub fn words(text: &str) -> Vec<String> {
    normalize(text).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

/// Stemmed content words: what the matcher's word features and KB search index.
pub fn terms(text: &str) -> Vec<String> {
    words(text).iter().filter(|w| !is_stopword(w)).map(|w| stem(w)).collect()
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// A light English stemmer: plurals, -ing, -ed and a final silent "e", so that "printers",
/// "printing" and "printed" meet at "print" and "update", "updating", "updated" at "updat".
/// Non-ASCII words and short words are left alone.
pub fn stem(word: &str) -> String {
    if !word.is_ascii() || word.len() <= 3 || word.bytes().any(|b| b.is_ascii_digit()) {
        return word.to_string();
    }
    let mut w = word.to_string();
    if let Some(s) = w.strip_suffix("ies").filter(|s| s.len() >= 2) {
        w = format!("{s}y");
    } else if let Some(s) = w.strip_suffix("sses") {
        w = format!("{s}ss");
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w.pop();
    }
    let before = w.len();
    if let Some(s) = w.strip_suffix("ied").filter(|s| s.len() >= 2) {
        w = format!("{s}y");
    } else if let Some(s) = w.strip_suffix("ing").filter(|s| s.len() >= 3 && s.bytes().any(is_vowel)) {
        w = s.to_string();
    } else if let Some(s) =
        w.strip_suffix("ed").filter(|s| s.len() >= 3 && !s.ends_with('e') && s.bytes().any(is_vowel))
    {
        w = s.to_string();
    }
    if w.len() < before {
        let b = w.as_bytes();
        let n = b.len();
        if n >= 2 && b[n - 1] == b[n - 2] && !is_vowel(b[n - 1]) && !matches!(b[n - 1], b'l' | b's' | b'z') {
            w.pop();
        }
    }
    if w.len() > 3 && w.ends_with('e') && !w.ends_with("ee") {
        w.pop();
    }
    w
}

/// Calls `f` with each character n-gram (`min..=max` chars) of `word`, padded with `<` and `>`
/// so that word starts and ends count. They catch typos ("pasword") and variants the stemmer
/// misses.
pub fn char_ngrams(word: &str, min: usize, max: usize, mut f: impl FnMut(&[char])) {
    let chars: Vec<char> = std::iter::once('<').chain(word.chars()).chain(std::iter::once('>')).collect();
    for n in min..=max {
        if chars.len() < n {
            break;
        }
        chars.windows(n).for_each(&mut f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopword_list_is_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn normalize_folds_case_contractions_and_punctuation() {
        for (input, want) in [
            ("I can't log in!!", "i cannot log in"),
            ("It WON'T print", "it will not print"),
            ("doesn’t work", "does not work"),
            ("cant connect to wi-fi", "cannot connect to wi fi"),
            ("Outlook's search", "outlook search"),
            ("  Ünïcode   Straße ", "ünïcode straße"),
            ("I'm locked out; we're stuck", "i am locked out we are stuck"),
            ("error 0x80070005 (access denied)", "error 0x80070005 access denied"),
            ("", ""),
            ("?!.", ""),
        ] {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn stemmer_meets_common_variants() {
        for (a, b) in [
            ("printers", "printer"),
            ("printing", "print"),
            ("printed", "print"),
            ("updating", "update"),
            ("updated", "updates"),
            ("policies", "policy"),
            ("denied", "deny"),
            ("stopped", "stop"),
            ("logged", "log"),
            ("installed", "install"),
            ("meetings", "meeting"),
            ("passwords", "password"),
            ("shared", "share"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} vs {b}");
        }
        for w in ["access", "status", "need", "thing", "string", "bus", "m365", "straße"] {
            assert_eq!(stem(w), w, "{w} should stay");
        }
    }

    #[test]
    fn terms_drop_stopwords_and_stem() {
        assert_eq!(terms("Please reset my passwords for the VPN"), ["reset", "password", "vpn"]);
        assert_eq!(terms("it's not working"), ["not", "work"]);
    }

    #[test]
    fn char_ngrams_pad_word_edges() {
        let mut out: Vec<String> = Vec::new();
        char_ngrams("vpn", 3, 4, |g| out.push(g.iter().collect()));
        assert_eq!(out, ["<vp", "vpn", "pn>", "<vpn", "vpn>"]);
    }
}
