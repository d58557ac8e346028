//! Block Kit layouts deskbot sends: a message with its choices as buttons, a ticket card with
//! the desk's buttons, the "Create ticket" and "Reply to requester" modals and the App Home tab.
//! Built as Slack's JSON and parsed into slack-morphism's types, so a layout Slack would refuse
//! fails here first. A text holding user-written spans (`crate::usertext`) becomes a
//! `rich_text` block: its user runs are plain `text` elements, which Slack never reads as
//! mrkdwn, links or mentions.

use crate::domain::{Choice, TicketSummary};
use crate::usertext::{self, Span};
use regex::Regex;
use serde_json::{Value, json};
use slack_morphism::prelude::*;
use std::sync::OnceLock;

/// The modal's callback id and its one input.
pub const TICKET_MODAL: &str = "deskbot_ticket";
pub const TICKET_BLOCK: &str = "ticket";
pub const TICKET_INPUT: &str = "text";
/// The message shortcut's callback id (see deploy/slack-app-manifest.yaml).
pub const CREATE_TICKET_SHORTCUT: &str = "create_ticket";
/// The "Reply to requester" modal's callback id and its one input.
pub const REPLY_MODAL: &str = "deskbot_reply";
pub const REPLY_BLOCK: &str = "reply";
pub const REPLY_INPUT: &str = "text";

/// Slack cuts section text at 3000 characters and button labels at 75.
const MAX_SECTION: usize = 3000;
const MAX_LABEL: usize = 75;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Escape what Slack's mrkdwn treats as markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Markdown as deskbot's answers are written (`**bold**`, `[text](https://…)`) in Slack's
/// mrkdwn (`*bold*`, `<https://…|text>`), with Slack's control characters escaped.
pub fn mrkdwn(text: &str) -> String {
    static BOLD: OnceLock<Regex> = OnceLock::new();
    static LINK: OnceLock<Regex> = OnceLock::new();
    let bold = BOLD.get_or_init(|| Regex::new(r"\*\*([^*\n]+?)\*\*").unwrap_or_else(|_| unreachable!()));
    let link = LINK.get_or_init(|| {
        Regex::new(r"\[([^\]\n]+)\]\((https?://[^)\s|]+)\)").unwrap_or_else(|_| unreachable!())
    });
    let escaped = escape(text);
    let linked = link.replace_all(&escaped, "<$2|$1>");
    bold.replace_all(&linked, "*$1*").into_owned()
}

/// A message's `text` field: deskbot's and admins' words in mrkdwn, user-written spans only
/// escaped (no markdown conversion). With user spans the blocks carry the message and this is
/// the notification's fallback.
pub fn fallback_text(text: &str) -> String {
    usertext::render(text, mrkdwn, escape)
}

/// Blocks for a message: the text, then one button per choice (`action_id` = `value` = the
/// choice's id). `None` without choices and without user-written text: the `text` field is
/// enough.
pub fn message_blocks(text: &str, choices: &[Choice]) -> Result<Option<Vec<SlackBlock>>, String> {
    let user_written = usertext::has_user(text);
    if choices.is_empty() && !user_written {
        return Ok(None);
    }
    let body = if user_written {
        rich_text(text)
    } else {
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(&mrkdwn(text), MAX_SECTION) } })
    };
    if choices.is_empty() {
        return parse(json!([body])).map(Some);
    }
    let buttons: Vec<Value> = choices
        .iter()
        .take(25)
        .map(|c| {
            json!({
                "type": "button",
                "action_id": cut(&c.id, 255),
                "value": cut(&c.id, 2000),
                "text": { "type": "plain_text", "text": cut(&c.label, MAX_LABEL), "emoji": true },
            })
        })
        .collect();
    let blocks = json!([body, { "type": "actions", "block_id": "choices", "elements": buttons }]);
    parse(blocks).map(Some)
}

/// A `rich_text` block: user-written spans as plain text runs; deskbot's words with their
/// `**bold**` and `[text](https://…)` as styled runs and links.
fn rich_text(text: &str) -> Value {
    let mut runs = Vec::new();
    let mut left = MAX_RICH_TEXT;
    for span in usertext::spans(text) {
        if left == 0 {
            break;
        }
        match span {
            Span::User(t) => push_run(&mut runs, &mut left, t, None),
            Span::Formatted(t) => formatted_runs(&mut runs, &mut left, t),
        }
    }
    json!({ "type": "rich_text", "elements": [{ "type": "rich_text_section", "elements": runs }] })
}

/// Longest text deskbot puts in one `rich_text` block, in characters.
const MAX_RICH_TEXT: usize = 12_000;

fn push_run(runs: &mut Vec<Value>, left: &mut usize, text: &str, style: Option<Value>) {
    if text.is_empty() || *left == 0 {
        return;
    }
    let t = cut(text, *left);
    *left = left.saturating_sub(t.chars().count());
    let mut run = json!({ "type": "text", "text": t });
    if let Some(s) = style {
        run["style"] = s;
    }
    runs.push(run);
}

fn formatted_runs(runs: &mut Vec<Value>, left: &mut usize, text: &str) {
    static MARKUP: OnceLock<Regex> = OnceLock::new();
    let markup = MARKUP.get_or_init(|| {
        Regex::new(r"\*\*([^*\n]+?)\*\*|\[([^\]\n]+)\]\((https?://[^)\s|]+)\)")
            .unwrap_or_else(|_| unreachable!())
    });
    let mut at = 0;
    for c in markup.captures_iter(text) {
        let Some(whole) = c.get(0) else { continue };
        push_run(runs, left, &text[at..whole.start()], None);
        at = whole.end();
        if let Some(bold) = c.get(1) {
            push_run(runs, left, bold.as_str(), Some(json!({ "bold": true })));
        } else if let (Some(label), Some(url)) = (c.get(2), c.get(3))
            && *left > 0
        {
            *left = left.saturating_sub(label.as_str().chars().count());
            runs.push(json!({ "type": "link", "url": url.as_str(), "text": label.as_str() }));
        }
    }
    push_run(runs, left, &text[at..], None);
}

fn parse(blocks: Value) -> Result<Vec<SlackBlock>, String> {
    serde_json::from_value(blocks).map_err(|e| format!("bad Block Kit layout ({:?} error)", e.classify()))
}

/// The "Create ticket" modal. For someone's message (`quoted`), the message is shown as it will
/// be filed, as plain text, and the one input is the filer's optional note; without a message
/// the input is the problem itself. `metadata` travels back with the submission (which
/// message; never whose).
pub fn ticket_modal(quoted: Option<&str>, metadata: &str) -> Result<SlackView, String> {
    let input = |label: &str, optional: bool| {
        json!({
            "type": "input",
            "block_id": TICKET_BLOCK,
            "optional": optional,
            "label": { "type": "plain_text", "text": label },
            "element": { "type": "plain_text_input", "action_id": TICKET_INPUT, "multiline": true },
        })
    };
    let blocks = match quoted {
        Some(text) => json!([
            {
                "type": "section",
                "text": { "type": "plain_text", "text": cut(&format!("The message, filed as written:\n{text}"), MAX_SECTION), "emoji": false },
            },
            input("Anything to add for the IT team? (optional)", true),
        ]),
        None => json!([input("What is the problem?", false)]),
    };
    let view = json!({
        "type": "modal",
        "callback_id": TICKET_MODAL,
        "private_metadata": metadata,
        "title": { "type": "plain_text", "text": "Create ticket" },
        "submit": { "type": "plain_text", "text": "File ticket" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": blocks,
    });
    serde_json::from_value(view).map_err(|e| format!("bad modal layout ({:?} error)", e.classify()))
}

/// The "Reply to requester" modal an agent opens from a card. `metadata` names the card
/// (what the reply is for); who replies is the submitting user, and the card is checked
/// against the store again on submission.
pub fn reply_modal(number: &str, metadata: &str) -> Result<SlackView, String> {
    let view = json!({
        "type": "modal",
        "callback_id": REPLY_MODAL,
        "private_metadata": metadata,
        "title": { "type": "plain_text", "text": "Reply to requester" },
        "submit": { "type": "plain_text", "text": "Send" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [{
            "type": "input",
            "block_id": REPLY_BLOCK,
            "label": { "type": "plain_text", "text": cut(&format!("Your reply on {number}"), 150) },
            "element": {
                "type": "plain_text_input",
                "action_id": REPLY_INPUT,
                "multiline": true,
                "max_length": 3000,
            },
        }],
    });
    serde_json::from_value(view).map_err(|e| format!("bad modal layout: {e}"))
}

/// The App Home tab: the employee's open tickets.
pub fn home_view(tickets: &[TicketSummary]) -> Result<SlackView, String> {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": "Your open IT tickets" },
    })];
    if tickets.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": "You have no open tickets. Message me here when something is broken." },
        }));
    }
    for t in tickets.iter().take(40) {
        blocks.push(json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": cut(&format!("*{}* {}\nStatus: {} · Queue: {}", t.number, escape(&t.title), t.status, t.queue), MAX_SECTION),
                "verbatim": true,
            },
        }));
    }
    let view = json!({ "type": "home", "blocks": blocks });
    serde_json::from_value(view).map_err(|e| format!("bad home layout ({:?} error)", e.classify()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_become_buttons_carrying_their_ids() {
        let blocks = message_blocks(
            "Try this <now>",
            &[Choice::new("solved", "That solved it"), Choice::new("rate:5", "5")],
        )
        .unwrap()
        .unwrap();
        let v = serde_json::to_value(&blocks).unwrap();
        assert_eq!(v[0]["text"]["text"], "Try this &lt;now&gt;");
        assert_eq!(v[1]["elements"][1]["action_id"], "rate:5");
        assert_eq!(v[1]["elements"][1]["value"], "rate:5");
        assert!(message_blocks("x", &[]).unwrap().is_none());
        let long = "x".repeat(200);
        let b = message_blocks("t", &[Choice::new("a", long)]).unwrap().unwrap();
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v[1]["elements"][0]["text"]["text"].as_str().unwrap().chars().count(), MAX_LABEL);
    }

    #[test]
    fn markdown_becomes_mrkdwn() {
        assert_eq!(
            mrkdwn("After **10 failed** tries see [the portal](https://pw.example.com) <now> & later"),
            "After *10 failed* tries see <https://pw.example.com|the portal> &lt;now&gt; &amp; later"
        );
        assert_eq!(mrkdwn("a ** b"), "a ** b");
    }

    #[test]
    fn user_written_spans_become_plain_runs_and_deskbots_words_keep_their_format() {
        let evil =
            "[https://sso.example.com/login](https://evil.example) @everyone <!channel> <@U123> *bold*";
        let text = format!(
            "💬 {}: {}\nSee **this** [guide](https://kb.example.com/x)",
            usertext::mark("Erin"),
            usertext::mark(evil)
        );
        let blocks = message_blocks(&text, &[]).unwrap().unwrap();
        let v = serde_json::to_value(&blocks).unwrap();
        assert_eq!(v[0]["type"], "rich_text");
        let runs = v[0]["elements"][0]["elements"].as_array().unwrap();
        assert!(
            runs.iter().any(|r| r["type"] == "text" && r["text"] == evil && r.get("style").is_none()),
            "{runs:?}"
        );
        assert!(
            runs.iter().any(|r| r["type"] == "text" && r["text"] == "this" && r["style"]["bold"] == true)
        );
        let links: Vec<&Value> = runs.iter().filter(|r| r["type"] == "link").collect();
        assert_eq!(links.len(), 1, "only the admin's link is a link: {links:?}");
        assert_eq!(links[0]["url"], "https://kb.example.com/x");
        // The fallback text escapes the user's words and converts none of them.
        let fb = fallback_text(&text);
        assert!(fb.contains("&lt;!channel&gt; &lt;@U123&gt;") && !fb.contains("<!channel>"), "{fb}");
        assert!(!fb.contains("<https://evil.example"), "{fb}");
        assert!(fb.contains("<https://kb.example.com/x|guide>") && fb.contains("*this*"), "{fb}");
        // With buttons too.
        let b = message_blocks(&text, &[Choice::new("desk:claim", "Claim")]).unwrap().unwrap();
        assert_eq!(serde_json::to_value(&b).unwrap()[1]["type"], "actions");
    }

    #[test]
    fn modal_and_home_parse() {
        let m =
            serde_json::to_value(ticket_modal(Some("printer on fire <!channel>"), "{}").unwrap()).unwrap();
        assert_eq!(m["type"], "modal");
        // The message is shown as plain text, apart from the filer's optional note.
        assert_eq!(m["blocks"][0]["text"]["type"], "plain_text");
        assert!(m["blocks"][0]["text"]["text"].as_str().unwrap().ends_with("printer on fire <!channel>"));
        assert_eq!(m["blocks"][1]["optional"], true);
        assert!(m["blocks"][1]["element"].get("initial_value").is_none());
        let own = serde_json::to_value(ticket_modal(None, "{}").unwrap()).unwrap();
        assert_eq!(own["blocks"][0]["optional"], false);
        let r = serde_json::to_value(reply_modal("IT-1001", "{}").unwrap()).unwrap();
        assert_eq!(r["callback_id"], REPLY_MODAL);
        let h = serde_json::to_value(home_view(&[]).unwrap()).unwrap();
        assert_eq!(h["type"], "home");
    }
}
