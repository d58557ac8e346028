//! Small recognisers for what people type besides questions: greetings, thanks, "cancel",
//! "talk to a person", asking about their tickets, a rating.

use crate::domain::TicketNumber;
use regex::Regex;
use std::sync::LazyLock;

fn norm(text: &str) -> String {
    text.trim().trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace()).to_lowercase()
}

fn one_of(text: &str, words: &[&str]) -> bool {
    let t = norm(text);
    words.iter().any(|w| t == *w)
}

pub fn is_greeting(text: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(hi|hello|hey|hiya|yo|howdy|good (morning|afternoon|evening)|greetings)( there| deskbot| bot| team| all)?$")
            .unwrap_or_else(|e| unreachable!("{e}"))
    });
    RE.is_match(&norm(text))
}

pub fn is_thanks(text: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(thanks|thank you|thx|ty|cheers|great|perfect|awesome|ok|okay|cool|got it|nice)( (so much|a lot|very much|again))?( thanks| thank you)?$")
            .unwrap_or_else(|e| unreachable!("{e}"))
    });
    RE.is_match(&norm(text))
}

pub fn is_cancel(text: &str) -> bool {
    one_of(text, &["cancel", "stop", "never mind", "nevermind", "nvm", "forget it", "quit", "abort"])
}

pub fn is_help(text: &str) -> bool {
    one_of(text, &["help", "?", "menu", "what can you do", "commands"])
}

/// "new question", "something else": leave the ticket and start over.
pub fn is_new_question(text: &str) -> bool {
    one_of(
        text,
        &[
            "new",
            "new question",
            "new issue",
            "new problem",
            "something else",
            "another question",
            "new request",
        ],
    )
}

pub fn is_yes(text: &str) -> bool {
    one_of(text, &["yes", "y", "yeah", "yep", "sure", "please", "yes please", "ok", "okay", "do it"])
}

pub fn is_no(text: &str) -> bool {
    one_of(text, &["no", "n", "nope", "no thanks", "not now"])
}

/// Small talk that asks for nothing: thanks, "ok", a greeting, or only emoji and punctuation
/// (`👍`, `:+1:`).
pub fn is_ack(text: &str) -> bool {
    static CODE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r":[a-z0-9_+-]+:").unwrap_or_else(|e| unreachable!("{e}")));
    if is_thanks(text) || is_greeting(text) {
        return true;
    }
    let t = text.trim();
    !t.is_empty() && CODE.replace_all(t, "").chars().all(|c| !c.is_alphanumeric())
}

/// A reply that only makes sense as a pick from offered options: a bare number ("3",
/// "option 2", "#1"), or a yes or a no.
pub fn looks_like_option(text: &str) -> bool {
    static NUM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(option |number |no\.? ?|#)?\d{1,4}$").unwrap_or_else(|e| unreachable!("{e}"))
    });
    NUM.is_match(&norm(text)) || is_yes(text) || is_no(text)
}

/// "talk to a person", "I need a human", "open a ticket", …
pub fn wants_person(text: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)^(please )?((talk|speak|chat) (to|with) (a |an |some)?(person|human|agent|someone|technician|tech)|(i )?(need|want) (a |an )?(human|person|agent|technician)|(human|agent|person) please|(open|file|create|raise|log|submit) (a |new )?(ticket|case|request|incident)|new ticket|escalate)$",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    });
    RE.is_match(&norm(text))
}

/// "approvals", "what do I need to approve?": an approver asks which requests wait for them.
pub fn is_approvals(text: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^((my|pending|open|waiting) )?approvals$|^(what|anything|something|any requests?)( (do|does|is there|for))?( i| me)?( need| have| waiting)?( for me)? to approve$",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    });
    RE.is_match(norm(text).trim_end_matches('?'))
}

/// What a status question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusQuery {
    All,
    One(TicketNumber),
}

/// "status", "what's the status of my ticket", "any update on IT-1042?", "my tickets".
pub fn status_query(text: &str) -> Option<StatusQuery> {
    static NUM: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\b(?:it-|#)(\d{1,12})\b").unwrap_or_else(|e| unreachable!("{e}")));
    static ASK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)^(status|tickets|my tickets|my requests|open tickets)$|\b(status|update|progress|news)\b.*\b(ticket|tickets|request|requests|case|it-\d+|#\d+)\b|\b(my|open) (tickets|requests)\b|\bwhere is my (ticket|request)\b",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    });
    let t = norm(text);
    if !ASK.is_match(&t) {
        return None;
    }
    let one = NUM.captures(&t).and_then(|c| c.get(1)).and_then(|m| m.as_str().parse::<i64>().ok());
    Some(match one {
        Some(n) if n > 0 => StatusQuery::One(TicketNumber(n)),
        _ => StatusQuery::All,
    })
}

/// A 1–5 rating typed alone ("4", "4/5", "5 stars").
pub fn rating(text: &str) -> Option<u8> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^([1-5])( ?/ ?5| stars?| out of 5)?$").unwrap_or_else(|e| unreachable!("{e}"))
    });
    RE.captures(&norm(text)).and_then(|c| c.get(1)).and_then(|m| m.as_str().parse().ok())
}

/// "approve R-1001", "deny R-1001 not needed for this role": a typed approval decision (the
/// console has no buttons). Returns (approve, request, reason).
pub fn decision(text: &str) -> Option<(bool, String, Option<String>)> {
    let mut words = text.split_whitespace();
    let verb = words.next()?.to_ascii_lowercase();
    let approve = match verb.as_str() {
        "approve" | "approved" | "keep" => true,
        "deny" | "denied" | "reject" | "remove" => false,
        _ => return None,
    };
    let request = words.next()?.trim_end_matches([':', ',', '.']).to_ascii_uppercase();
    // Requests are approved or denied; access-review items (`AR-12`) kept or removed.
    let digits = match verb.as_str() {
        "keep" | "remove" => request.strip_prefix("AR-")?,
        _ => request.strip_prefix("AR-").or_else(|| request.strip_prefix("R-"))?,
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let reason = words.collect::<Vec<_>>().join(" ");
    Some((approve, request, Some(reason).filter(|r| !r.is_empty())))
}

/// "extend R-1001": the holder asks to extend the grant made on that request.
pub fn extension(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("extend") {
        return None;
    }
    let request = words.next()?.trim_end_matches([':', ',', '.']).to_ascii_uppercase();
    let digits = request.strip_prefix("R-")?;
    (words.next().is_none() && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
        .then_some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognisers_accept_what_people_type_and_nothing_else() {
        type Recogniser = fn(&str) -> bool;
        let table: &[(&str, Recogniser, bool)] = &[
            ("hi", is_greeting, true),
            ("Hello there!", is_greeting, true),
            ("approvals", is_approvals, true),
            ("My approvals", is_approvals, true),
            ("pending approvals", is_approvals, true),
            ("what do I need to approve?", is_approvals, true),
            ("anything for me to approve", is_approvals, true),
            ("approve R-1001", is_approvals, false),
            ("my manager approvals are stuck in the finance app", is_approvals, false),
            ("hi my vpn is broken", is_greeting, false),
            ("thanks!", is_thanks, true),
            ("thank you so much", is_thanks, true),
            ("thanks but it still fails", is_thanks, false),
            ("Cancel", is_cancel, true),
            ("cancel my subscription", is_cancel, false),
            ("talk to a person", wants_person, true),
            ("I need a human", wants_person, true),
            ("open a ticket", wants_person, true),
            ("my person icon is gone", wants_person, false),
            ("thanks!", is_ack, true),
            ("ok", is_ack, true),
            ("👍", is_ack, true),
            (":+1: :tada:", is_ack, true),
            ("ok but it still fails", is_ack, false),
            ("3", looks_like_option, true),
            ("option 2", looks_like_option, true),
            ("#7.", looks_like_option, true),
            ("yes", looks_like_option, true),
            ("nope", looks_like_option, true),
            ("3 printers are down", looks_like_option, false),
        ];
        for (text, f, want) in table {
            assert_eq!(f(text), *want, "{text}");
        }
    }

    #[test]
    fn status_questions_and_ratings() {
        assert_eq!(status_query("status"), Some(StatusQuery::All));
        assert_eq!(status_query("what's the status of my ticket?"), Some(StatusQuery::All));
        assert_eq!(status_query("any update on IT-1042?"), Some(StatusQuery::One(TicketNumber(1042))));
        assert_eq!(status_query("my vpn status light is red"), None);
        assert_eq!(rating("4"), Some(4));
        assert_eq!(rating("5/5"), Some(5));
        assert_eq!(rating("6"), None);
        assert_eq!(rating("4 printers are down"), None);
    }
}
