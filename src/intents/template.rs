//! `{slot}` placeholders in inline answers, filled from pattern captures and slot answers.
//! Unknown placeholders are left as they are (an admin sees them in testing); `{{` and `}}`
//! write literal braces.

/// Replace each `{name}` in `template` with its value; the first value of a name wins.
pub fn fill(template: &str, values: &[(String, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('{')
            && let Some(end) = tail.find('}')
        {
            let name = &tail[1..end];
            let value = values.iter().find(|(k, _)| k == name.trim()).map(|(_, v)| v.as_str());
            match value {
                Some(v) if is_name(name.trim()) => out.push_str(v),
                _ => out.push_str(&tail[..=end]),
            }
            rest = &tail[end + 1..];
            continue;
        }
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn fills_known_placeholders_and_keeps_the_rest() {
        let values =
            vec![("device".to_string(), "LT-0042".to_string()), ("who".to_string(), "Ann".to_string())];
        for (template, want) in [
            ("Laptop {device} noted.", "Laptop LT-0042 noted."),
            ("{who} asked about {device}", "Ann asked about LT-0042"),
            ("{ device }", "LT-0042"),
            ("Unknown {thing} stays", "Unknown {thing} stays"),
            ("Literal {{device}} braces", "Literal {device} braces"),
            ("}} and {{", "} and {"),
            ("Unclosed {device", "Unclosed {device"),
            ("stray } brace", "stray } brace"),
            ("{}", "{}"),
            ("naïve {who}—ok", "naïve Ann—ok"),
            ("", ""),
        ] {
            assert_eq!(fill(template, &values), want, "{template:?}");
        }
    }
}
