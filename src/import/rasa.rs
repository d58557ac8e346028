//! Rasa NLU training data (YAML, Rasa 2 and 3): the `nlu:` list's `- intent:` items and their
//! `examples: |` block (or a list of `text:` items). Entity annotations — `[text](entity)`,
//! `[text](entity:value)`, `[text]{"entity": ...}` — become the plain text. Synonyms, regexes,
//! lookups and any other top-level key (stories, rules, responses) are skipped.
use super::records::{Labelled, labelled};
use super::{ImportError, read_input};
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

pub fn read_rasa(path: &Path) -> Result<Vec<Labelled>, ImportError> {
    let text = read_input(path)?;
    parse_rasa(path, &text)
}

pub fn parse_rasa(path: &Path, text: &str) -> Result<Vec<Labelled>, ImportError> {
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| ImportError::at(path, e.marker().line().max(1), format!("bad YAML: {}", e.info())))?;
    let mut out = Vec::new();
    let mut any_nlu = false;
    let lines: Vec<&str> = text.lines().collect();
    for doc in &docs {
        let Some(items) = doc["nlu"].as_vec() else { continue };
        any_nlu = true;
        let mut from_line = 0;
        for item in items {
            let Some(name) = yaml_text(&item["intent"]) else {
                if item.as_hash().is_none() || item["intent"].is_badvalue() {
                    continue; // synonym, regex, lookup
                }
                let line = find_line(&lines, from_line, |l| l.contains("intent:")).unwrap_or(0);
                return Err(ImportError::at(path, line, "`intent:` must name the intent"));
            };
            let intent_line = find_line(&lines, from_line, |l| {
                l.trim_start().trim_start_matches("- ").trim_start().starts_with("intent:")
                    && l.contains(name.as_str())
            })
            .unwrap_or(0);
            from_line = intent_line;
            let examples = examples_of(path, &item["examples"], &name, intent_line)?;
            for ex in examples {
                let line = find_line(&lines, from_line, |l| l.contains(ex.as_str())).unwrap_or(intent_line);
                let plain = strip_entities(&ex);
                if plain.trim().is_empty() {
                    continue;
                }
                out.push(labelled(path, line, plain, &name)?);
            }
        }
    }
    if !any_nlu {
        return Err(ImportError::file(path, "no `nlu:` list: is this a Rasa NLU training data file?"));
    }
    Ok(out)
}

fn yaml_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The raw example strings of one intent item.
fn examples_of(path: &Path, y: &Yaml, intent: &str, line: usize) -> Result<Vec<String>, ImportError> {
    match y {
        Yaml::String(block) => {
            let mut out = Vec::new();
            for raw in block.lines() {
                let l = raw.trim();
                if l.is_empty() || l.starts_with('#') {
                    continue;
                }
                match l.strip_prefix('-') {
                    Some(ex) => out.push(ex.trim().to_string()),
                    None => {
                        let msg = format!("intent `{intent}`: example line `{l}` must start with `- `");
                        return Err(ImportError::at(path, line, msg));
                    }
                }
            }
            Ok(out)
        }
        Yaml::Array(items) => {
            Ok(items.iter().filter_map(|i| yaml_text(i).or_else(|| yaml_text(&i["text"]))).collect())
        }
        Yaml::BadValue | Yaml::Null => {
            Err(ImportError::at(path, line, format!("intent `{intent}` has no `examples:`")))
        }
        _ => Err(ImportError::at(
            path,
            line,
            format!("intent `{intent}`: `examples:` must be a `|` block of `- ` lines"),
        )),
    }
}

/// First line (1-based) at or after `from` (1-based, 0 = start) that satisfies `f`.
fn find_line(lines: &[&str], from: usize, f: impl Fn(&str) -> bool) -> Option<usize> {
    let start = from.saturating_sub(1);
    lines.iter().enumerate().skip(start).find(|(_, l)| f(l)).map(|(i, _)| i + 1)
}

/// `[text](entity)`, `[text](entity:value)` and `[text]{...}` (one or more JSON blocks) → text.
pub fn strip_entities(example: &str) -> String {
    let mut out = String::with_capacity(example.len());
    let mut rest = example;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let mut tail = &after[close + 1..];
        let mut annotated = false;
        loop {
            if tail.starts_with('(')
                && let Some(end) = tail.find(')')
            {
                tail = &tail[end + 1..];
            } else if tail.starts_with('{')
                && let Some(end) = balanced_brace_end(tail)
            {
                tail = &tail[end..];
            } else {
                break;
            }
            annotated = true;
        }
        if annotated {
            out.push_str(&after[..close]);
        } else {
            out.push('[');
            out.push_str(&after[..=close]);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Byte index just past the `}` closing the `{` that `s` starts with.
fn balanced_brace_end(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_annotations_become_plain_text() {
        for (input, want) in [
            ("my [laptop](device) is broken", "my laptop is broken"),
            ("book [room 4](room:room_4) now", "book room 4 now"),
            (r#"reset [Alice]{"entity": "name", "role": "x"} please"#, "reset Alice please"),
            (r#"[a]{"entity": "x"}{"entity": "y"} and [b](z)"#, "a and b"),
            ("plain [brackets] stay", "plain [brackets] stay"),
            ("unclosed [bracket", "unclosed [bracket"),
        ] {
            assert_eq!(strip_entities(input), want, "{input}");
        }
    }

    #[test]
    fn rasa_file_gives_intents_out_of_scope_and_lines() {
        let text = "version: \"3.1\"\nnlu:\n- intent: vpn_help\n  examples: |\n    - my [vpn](app) drops\n    - cannot connect to vpn\n- synonym: vpn\n  examples: |\n    - virtual private network\n- intent: out_of_scope\n  examples: |\n    - what's for lunch\n- intent: nlu_fallback\n  examples:\n  - text: tell me a joke\n";
        let got = parse_rasa(Path::new("nlu.yml"), text).map_err(|e| e.to_string());
        let got = got.map(|v| v.into_iter().map(|l| (l.text, l.intent, l.source)).collect::<Vec<_>>());
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            Ok(vec![
                (s("my vpn drops"), Some(s("vpn_help")), s("nlu.yml:5")),
                (s("cannot connect to vpn"), Some(s("vpn_help")), s("nlu.yml:6")),
                (s("what's for lunch"), None, s("nlu.yml:12")),
                (s("tell me a joke"), None, s("nlu.yml:15")),
            ])
        );
    }

    #[test]
    fn broken_rasa_files_are_reported() {
        for (text, want) in [
            ("nlu:\n- intent: a\n  examples: |\n    - x\n  - : :\n   bad", "nlu.yml:"),
            ("stories: []\n", "nlu.yml: no `nlu:` list"),
            ("nlu:\n- intent: a\n", "nlu.yml:2: intent `a` has no `examples:`"),
            ("nlu:\n- intent: a\n  examples: |\n    x\n", "nlu.yml:2: intent `a`: example line `x`"),
        ] {
            let got = parse_rasa(Path::new("nlu.yml"), text).map(|_| ()).map_err(|e| e.to_string());
            let got = got.err().unwrap_or_default();
            assert!(got.starts_with(want), "{text:?}: got {got:?}, want {want:?}");
        }
    }
}
