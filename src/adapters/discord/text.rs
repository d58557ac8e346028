//! Message text for Discord: splitting past the 2,000-character limit at clean places (a
//! line, then a space; an open code block is closed and reopened), the nonce Discord dedupes
//! sends on, and answer choices as button rows.

use crate::domain::Choice;
use serenity::all::{ButtonStyle, CreateActionRow, CreateButton};
use sha2::{Digest, Sha256};

/// Discord's limit for a message's content (it counts UTF-16 code units).
pub const MAX_CONTENT: usize = 2000;
/// Discord's limit for a nonce.
const MAX_NONCE: usize = 25;
const MAX_LABEL: usize = 80;
const MAX_CUSTOM_ID: usize = 100;
const BUTTONS_PER_ROW: usize = 5;
const MAX_ROWS: usize = 5;
const FENCE: &str = "```";

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Split `text` into messages of at most `limit` UTF-16 units, each cut after a newline if
/// one is in the second half of the chunk, else after a space, else at a character boundary.
/// A code block open at a cut is closed there and reopened in the next part.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(16);
    let mut parts = Vec::new();
    let mut rest = text.to_string();
    loop {
        if units(&rest) <= limit {
            if parts.is_empty() {
                parts.push(rest);
            } else if !rest.trim().is_empty() {
                parts.push(rest.trim_end().to_string());
            }
            return parts;
        }
        // Leave room for a closing fence.
        let budget = limit - FENCE.len() - 1;
        let mut end = 0;
        let mut used = 0;
        for (i, c) in rest.char_indices() {
            if used + c.len_utf16() > budget {
                break;
            }
            used += c.len_utf16();
            end = i + c.len_utf8();
        }
        let window = &rest[..end];
        let cut = window
            .rfind('\n')
            .filter(|&i| i >= end / 2)
            .or_else(|| window.rfind(' ').filter(|&i| i >= end / 2))
            .map(|i| i + 1)
            .unwrap_or(end)
            .max(1);
        let cut = if rest.is_char_boundary(cut) { cut } else { end };
        let mut head = rest[..cut].trim_end().to_string();
        let open_fence = head.matches(FENCE).count() % 2 == 1;
        let mut tail = rest[cut..].trim_start_matches([' ', '\n']).to_string();
        if open_fence {
            head.push('\n');
            head.push_str(FENCE);
            tail = format!("{FENCE}\n{tail}");
        }
        parts.push(head);
        rest = tail;
    }
}

/// The nonce for part `part` of the outbox message `key`: stable across retries, so Discord
/// returns the already-created message instead of posting it twice.
pub fn nonce(key: &str, part: usize) -> String {
    let digest = Sha256::digest(format!("{key}#{part}").as_bytes());
    hex::encode(digest)[..MAX_NONCE].to_string()
}

/// Choices as rows of buttons (Discord allows 5 rows of 5). Choices past that, or with an id
/// Discord cannot carry, are left out and logged.
pub fn button_rows(choices: &[Choice]) -> Vec<CreateActionRow> {
    let usable: Vec<&Choice> = choices
        .iter()
        .filter(|c| {
            let ok = !c.id.is_empty() && c.id.len() <= MAX_CUSTOM_ID;
            if !ok {
                tracing::warn!(len = c.id.len(), "choice id too long for a Discord button; left out");
            }
            ok
        })
        .take(BUTTONS_PER_ROW * MAX_ROWS)
        .collect();
    if usable.len() < choices.len() {
        tracing::warn!(offered = choices.len(), shown = usable.len(), "some choices were not shown");
    }
    usable
        .chunks(BUTTONS_PER_ROW)
        .map(|row| {
            CreateActionRow::Buttons(
                row.iter()
                    .map(|c| {
                        let style = if c.id.starts_with("desk:resolve") {
                            ButtonStyle::Success
                        } else if c.id.starts_with("desk:") {
                            ButtonStyle::Primary
                        } else {
                            ButtonStyle::Secondary
                        };
                        CreateButton::new(c.id.clone()).label(label(&c.label)).style(style)
                    })
                    .collect(),
            )
        })
        .collect()
}

/// A button label within Discord's 80 characters (never empty).
fn label(l: &str) -> String {
    let l = l.trim();
    if l.is_empty() {
        return "…".into();
    }
    if l.chars().count() <= MAX_LABEL {
        return l.to_string();
    }
    let mut s: String = l.chars().take(MAX_LABEL - 1).collect();
    s.push('…');
    s
}

/// At most `max` characters of `s` on one line, for names (threads are limited to 100).
pub fn short(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part_and_long_text_splits_at_lines() {
        assert_eq!(split("hello", MAX_CONTENT), vec!["hello"]);
        let line = "word ".repeat(20);
        let text = format!("{}\n", line.trim()).repeat(60);
        let parts = split(&text, MAX_CONTENT);
        assert!(parts.len() >= 2);
        for p in &parts {
            assert!(units(p) <= MAX_CONTENT);
            assert!(p.ends_with("word"), "cut mid-line: {:?}", &p[p.len() - 10..]);
        }
        let rejoined: String = parts.join("\n").split_whitespace().collect();
        assert_eq!(rejoined, text.split_whitespace().collect::<String>());
    }

    #[test]
    fn words_are_not_cut_and_code_blocks_are_reopened() {
        let text = format!("```\n{}\n```", "abcdefgh ".repeat(400));
        let parts = split(&text, MAX_CONTENT);
        assert!(parts.len() >= 2);
        for p in &parts {
            assert!(units(p) <= MAX_CONTENT, "{}", units(p));
            assert_eq!(p.matches("```").count() % 2, 0, "unbalanced fence in {p:?}");
            assert!(!p.contains("abcd\n") && !p.contains(" efgh"), "word cut");
        }
    }

    #[test]
    fn a_text_without_spaces_splits_at_char_boundaries_counting_utf16() {
        let text = "😀".repeat(3000); // 2 UTF-16 units each
        let parts = split(&text, MAX_CONTENT);
        assert!(parts.iter().all(|p| units(p) <= MAX_CONTENT));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn nonce_is_stable_short_and_differs_per_part() {
        assert_eq!(nonce("discord:1:0", 0), nonce("discord:1:0", 0));
        assert_ne!(nonce("discord:1:0", 0), nonce("discord:1:0", 1));
        assert_eq!(nonce("k", 0).len(), 25);
    }

    #[test]
    fn choices_become_rows_of_at_most_five_buttons() {
        let choices: Vec<Choice> = (1..=7).map(|i| Choice::new(i.to_string(), i.to_string())).collect();
        let rows = button_rows(&choices);
        assert_eq!(rows.len(), 2);
        let json = serde_json::to_value(&rows).unwrap();
        assert_eq!(json[0]["components"].as_array().unwrap().len(), 5);
        assert_eq!(json[1]["components"][1]["custom_id"], "7");
        assert_eq!(short(&"x".repeat(200), 100).chars().count(), 100);
    }
}
