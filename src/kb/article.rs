//! KB articles: `intents/kb/*.md`, TOML front matter between `+++` lines, then a markdown body.
//! Parsing reports front-matter problems at their `file:line:col`; [`Article::excerpt`] gives
//! the plain-text first paragraph the bot sends in chat.
use crate::text::diagnostics::{Diagnostic, Diagnostics};
use crate::text::spans::SourceMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The `+++` front matter of a KB article.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleFront {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub tags: Vec<String>,
    pub examples: Vec<String>,
    /// Markdown body, front matter removed.
    pub body: String,
    pub source: PathBuf,
}

impl Article {
    /// The first paragraph of plain text (headings, code and images skipped, markdown markers
    /// stripped), cut to at most `max_chars` characters at a word boundary with "…".
    pub fn excerpt(&self, max_chars: usize) -> String {
        let para = first_paragraph(&self.body);
        cut_at_word(&para, max_chars)
    }
}

/// Split a `+++` front matter from the body and parse both.
pub fn parse_article(path: &Path, text: &str) -> Result<Article, Diagnostics> {
    parse_article_at(path, text).map(|(a, _)| a)
}

/// [`parse_article`], also returning the byte span of the `id` value (for duplicate reports).
pub fn parse_article_at(path: &Path, text: &str) -> Result<(Article, std::ops::Range<usize>), Diagnostics> {
    let map = SourceMap::new(path, text);
    let start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let rest = &text[start..];
    let fm_start = match rest.strip_prefix("+++") {
        Some(after) if after.starts_with('\n') || after.starts_with("\r\n") => {
            start + 3 + if after.starts_with('\n') { 1 } else { 2 }
        }
        _ => {
            let hint = "article has no front matter: start the file with a `+++` line, then \
                        `id = \"...\"` and `title = \"...\"`, then another `+++` line";
            return Err(Diagnostics(vec![map.at(&(start..start), hint)]));
        }
    };
    let Some((fm_end, body_start)) = closing_fence(text, fm_start) else {
        let msg = "front matter is never closed: add a line with just `+++` after it";
        return Err(Diagnostics(vec![map.at(&(start..start), msg)]));
    };
    let front: ArticleFront = toml::from_str(&text[fm_start..fm_end])
        .map_err(|e| Diagnostics(vec![map.toml_error(&e, fm_start)]))?;
    let mut problems: Vec<Diagnostic> = Vec::new();
    let id = front.id.get_ref().trim();
    let at = |span: std::ops::Range<usize>| span.start + fm_start..span.end + fm_start;
    if id.is_empty() {
        problems.push(map.at(&at(front.id.span()), "article id is empty"));
    } else if !valid_id(id) {
        let msg = format!("article id `{id}` may only hold lowercase letters, digits, `-` and `_`");
        problems.push(map.at(&at(front.id.span()), msg));
    }
    if front.title.get_ref().trim().is_empty() {
        problems.push(map.at(&at(front.title.span()), "article title is empty"));
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    let article = Article {
        id: id.to_string(),
        title: front.title.into_inner().trim().to_string(),
        tags: front.tags,
        examples: front.examples,
        body: text[body_start..].trim().to_string(),
        source: path.to_path_buf(),
    };
    Ok((article, at(front.id.span())))
}

/// Ids of intents and articles: what fits in `kb:ID` and log lines without quoting.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Byte range end of the front matter and start of the body, after the closing `+++` line.
fn closing_fence(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut pos = from;
    for line in text[from..].split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Some((pos, pos + line.len()));
        }
        pos += line.len();
    }
    None
}

fn first_paragraph(body: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut in_code = false;
    for raw in body.lines() {
        let line = raw.trim();
        if line.starts_with("```") || line.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        let skip = in_code || line.starts_with('#') || line.starts_with("<!--") || line.starts_with("![");
        if line.is_empty() || skip {
            if !lines.is_empty() {
                break;
            }
            continue;
        }
        let plain = plain_inline(strip_block_marker(line));
        if !plain.is_empty() {
            lines.push(plain);
        }
    }
    lines.join(" ")
}

fn strip_block_marker(line: &str) -> &str {
    let line = line.trim_start_matches('>').trim_start();
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return rest;
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(rest) = line[digits..].strip_prefix(". ").or_else(|| line[digits..].strip_prefix(") "))
    {
        return rest;
    }
    line
}

/// Inline markdown to plain text: `[text](url)` → text, emphasis and code markers dropped.
fn plain_inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
        {
            out.push_str(&plain_inline(&rest[1..close]));
            rest = &rest[close + end + 1..];
            continue;
        }
        if c == '<'
            && (rest.starts_with("<http") || rest.starts_with("<mailto:"))
            && let Some(end) = rest.find('>')
        {
            out.push_str(&rest[1..end]);
            rest = &rest[end + 1..];
            continue;
        }
        if rest.starts_with("~~") {
            rest = &rest[2..];
            continue;
        }
        let next = rest[c.len_utf8()..].chars().next();
        let inside_word =
            out.chars().last().is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric);
        let emphasis = matches!(c, '*' | '`') || (c == '_' && !inside_word);
        if !emphasis {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut_at_word(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let budget = max_chars.saturating_sub(1);
    let cut = text.char_indices().nth(budget).map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    let at_word = if text[cut..].starts_with(char::is_whitespace) {
        head
    } else {
        head.rfind(char::is_whitespace).map_or(head, |i| &head[..i])
    };
    let trimmed = at_word.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-'));
    format!("{trimmed}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(body: &str) -> Article {
        Article {
            id: "a".into(),
            title: "A".into(),
            tags: vec![],
            examples: vec![],
            body: body.into(),
            source: PathBuf::from("a.md"),
        }
    }

    #[test]
    fn excerpt_is_first_plain_paragraph_cut_at_a_word() {
        for (body, max, want) in [
            ("Short answer.\n\nSecond paragraph.", 100, "Short answer."),
            (
                "# Title\n\nUse **Settings** > `Accounts`.\nThen [sign in](https://x.example).",
                100,
                "Use Settings > Accounts. Then sign in.",
            ),
            (
                "```\ncode\n```\n\n- Open the _VPN_ app\n- Click connect",
                100,
                "Open the VPN app Click connect",
            ),
            ("The quick brown fox jumps over the lazy dog", 20, "The quick brown fox…"),
            ("Supercalifragilistic", 10, "Supercali…"),
            ("Keep snake_case names.", 100, "Keep snake_case names."),
            ("", 10, ""),
        ] {
            assert_eq!(article(body).excerpt(max), want, "{body:?}");
        }
    }

    #[test]
    fn parses_front_matter_and_body() {
        let text =
            "+++\nid = \"vpn\"\ntitle = \"Connect to the VPN\"\ntags = [\"network\"]\n+++\n\nBody here.\n";
        let a = parse_article(Path::new("kb/vpn.md"), text).map_err(|d| d.to_string());
        let a = a.as_ref().map(|a| (a.id.as_str(), a.title.as_str(), a.tags.len(), a.body.as_str()));
        assert_eq!(a, Ok(("vpn", "Connect to the VPN", 1, "Body here.")));
    }

    #[test]
    fn front_matter_problems_point_at_line_and_col() {
        for (text, want) in [
            ("no front matter", "kb/x.md:1:1: article has no front matter"),
            ("+++\nid = \"x\"\n", "kb/x.md:1:1: front matter is never closed"),
            ("+++\nid = \"x\"\ntitle = \"T\"\ncolour = 1\n+++\n", "kb/x.md:4:1: unknown field `colour`"),
            ("+++\nid = \"\"\ntitle = \"T\"\n+++\n", "kb/x.md:2:6: article id is empty"),
            ("+++\nid = \"Bad Id\"\ntitle = \"T\"\n+++\n", "kb/x.md:2:6: article id `Bad Id`"),
            ("+++\nid = \"x\"\ntitle = \n+++\n", "kb/x.md:3:9: "),
            ("+++\ntitle = \"T\"\n+++\n", "kb/x.md:2:1: missing field `id`"),
        ] {
            let got = parse_article(Path::new("kb/x.md"), text).map(|_| ()).map_err(|d| d.to_string());
            let got = got.err().unwrap_or_default();
            assert!(got.starts_with(want), "{text:?}: got {got:?}, want prefix {want:?}");
        }
    }
}
