//! The snippet sent with a search hit: the body sentence that shares the most (idf-free, stemmed)
//! content words with the question, cut at a word boundary. Falls back to the article's first
//! paragraph ([`Article::excerpt`]) when no sentence shares a word.
use super::Article;
use crate::text;
use std::collections::HashSet;

/// Best-matching sentence of `article` for `query`, at most `max_chars` characters.
pub fn snippet(article: &Article, query: &str, max_chars: usize) -> String {
    let wanted: HashSet<String> = text::terms(query).into_iter().collect();
    let mut best: Option<(usize, &str)> = None;
    for sentence in sentences(&article.body) {
        let hits = text::terms(sentence).iter().filter(|t| wanted.contains(*t)).collect::<HashSet<_>>().len();
        if hits > 0 && best.is_none_or(|(b, _)| hits > b) {
            best = Some((hits, sentence));
        }
    }
    match best {
        Some((_, s)) => {
            let plain = Article { body: s.to_string(), ..article.clone() };
            plain.excerpt(max_chars)
        }
        None => article.excerpt(max_chars),
    }
}

/// Body sentences: split at blank lines, list items and sentence ends; code blocks skipped.
fn sentences(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in body.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code || t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut rest = t;
        while let Some(i) = rest.find(". ").or_else(|| rest.find("? ")).or_else(|| rest.find("! ")) {
            out.push(&rest[..=i]);
            rest = rest[i + 1..].trim_start();
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_picks_the_sentence_about_the_question() {
        let a = Article {
            id: "vpn".into(),
            title: "VPN".into(),
            tags: vec![],
            examples: vec![],
            body: "Connect with GlobalProtect.\n\nIf it **drops** every few minutes, switch to the wired network. Then restart.".into(),
            source: "vpn.md".into(),
        };
        assert_eq!(
            snippet(&a, "vpn drops all the time", 80),
            "If it drops every few minutes, switch to the wired network."
        );
        assert_eq!(snippet(&a, "something else entirely", 80), "Connect with GlobalProtect.");
    }
}
