//! Untrusted text inside outbound messages. Whatever an employee (or any platform user) wrote
//! — a relayed message, a transcript line, a ticket title, a display name — is wrapped with
//! [`mark`] where the engine or the desk puts it into an `Outbound`'s text; everything else in
//! that text is deskbot's own wording or an admin's answer and may carry formatting. Each
//! adapter renders the two kinds of [`Span`] for its platform (`channel::slack::blocks`,
//! `channel::discord::text`; the console prints [`plain`]): user spans never become a link, a
//! mention or a formatting instruction.
//!
//! The marks are two Unicode "interlinear annotation" characters, which are reserved for
//! internal use and never exchanged: [`mark`] strips any that the wrapped text itself carries,
//! so a user cannot close their span early. An unclosed span runs to the end of the text (the
//! safe direction); a stray closing mark is dropped.

/// Opens a user-written span.
pub const OPEN: char = '\u{FFF9}';
/// Closes it.
pub const CLOSE: char = '\u{FFFB}';

/// Whether `c` is one of the marks (or the separator of the same Unicode family).
fn is_mark(c: char) -> bool {
    matches!(c, '\u{FFF9}'..='\u{FFFB}')
}

/// `text` as a user-written span, to be put inside an outbound message's text.
pub fn mark(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 6);
    out.push(OPEN);
    out.extend(text.chars().filter(|c| !is_mark(*c)));
    out.push(CLOSE);
    out
}

/// One piece of an outbound text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span<'a> {
    /// deskbot's own words or an admin's answer: may be formatted (markdown).
    Formatted(&'a str),
    /// Written by a user: rendered as inert text.
    User(&'a str),
}

/// The spans of `text`, in order (empty pieces left out).
pub fn spans(text: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        match rest.find(OPEN) {
            None => {
                push_formatted(&mut out, rest);
                return out;
            }
            Some(i) => {
                push_formatted(&mut out, &rest[..i]);
                let after = &rest[i + OPEN.len_utf8()..];
                let (user, next) = match after.find(CLOSE) {
                    Some(j) => (&after[..j], &after[j + CLOSE.len_utf8()..]),
                    None => (after, ""),
                };
                if !user.is_empty() {
                    out.push(Span::User(user));
                }
                rest = next;
            }
        }
    }
}

/// Formatted text, with stray closing marks dropped.
fn push_formatted<'a>(out: &mut Vec<Span<'a>>, text: &'a str) {
    for piece in text.split(CLOSE).filter(|p| !p.is_empty()) {
        out.push(Span::Formatted(piece));
    }
}

/// Whether `text` holds any user-written span.
pub fn has_user(text: &str) -> bool {
    text.contains(OPEN)
}

/// `text` with the marks removed: what a terminal, a log line or a thread name shows.
pub fn plain(text: &str) -> String {
    text.chars().filter(|c| !is_mark(*c)).collect()
}

/// Render `text` span by span: `formatted` for deskbot's and admins' words, `user` for
/// user-written spans.
pub fn render(text: &str, formatted: impl Fn(&str) -> String, user: impl Fn(&str) -> String) -> String {
    spans(text)
        .into_iter()
        .map(|s| match s {
            Span::Formatted(t) => formatted(t),
            Span::User(t) => user(t),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_text_comes_back_as_user_spans_between_formatted_ones() {
        let text = format!("💬 {}: {}\n**done**", mark("Erin"), mark("my *vpn* <!channel>"));
        assert_eq!(
            spans(&text),
            vec![
                Span::Formatted("💬 "),
                Span::User("Erin"),
                Span::Formatted(": "),
                Span::User("my *vpn* <!channel>"),
                Span::Formatted("\n**done**"),
            ]
        );
        assert!(has_user(&text));
        assert_eq!(plain(&text), "💬 Erin: my *vpn* <!channel>\n**done**");
        assert_eq!(spans("no marks"), vec![Span::Formatted("no marks")]);
        assert!(!has_user("no marks"));
    }

    #[test]
    fn a_user_cannot_close_their_span_early_or_open_a_formatted_one() {
        // The attacker types the marks themselves, hoping the rest escapes their span.
        let evil = format!("a{CLOSE}[x](https://evil.example){OPEN}b");
        let text = format!("> {}", mark(&evil));
        assert_eq!(spans(&text), vec![Span::Formatted("> "), Span::User("a[x](https://evil.example)b")]);
        // An unclosed span runs to the end; a stray close is dropped.
        assert_eq!(spans(&format!("x{OPEN}y **z**")), vec![Span::Formatted("x"), Span::User("y **z**")]);
        assert_eq!(spans(&format!("x{CLOSE}y")), vec![Span::Formatted("x"), Span::Formatted("y")]);
        assert_eq!(spans(&mark("")), vec![]);
    }

    #[test]
    fn render_treats_each_kind_with_its_own_function() {
        let text = format!("**Hi** {}!", mark("<b>"));
        assert_eq!(render(&text, |f| f.to_uppercase(), |u| u.replace('<', "&lt;")), "**HI** &lt;b>!");
    }
}
