//! Block Kit layouts deskbot sends: a message with its choices as buttons, a ticket card with
//! the desk's buttons, the "Create ticket" modal and the App Home tab. Built as Slack's JSON and
//! parsed into slack-morphism's types, so a layout Slack would refuse fails here first.

use crate::domain::{Choice, TicketSummary};
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

/// Blocks for a message: the text, then one button per choice (`action_id` = `value` = the
/// choice's id). `None` without choices: the plain text is enough.
pub fn message_blocks(text: &str, choices: &[Choice]) -> Result<Option<Vec<SlackBlock>>, String> {
    if choices.is_empty() {
        return Ok(None);
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
    let blocks = json!([
        { "type": "section", "text": { "type": "mrkdwn", "text": cut(&mrkdwn(text), MAX_SECTION) } },
        { "type": "actions", "block_id": "choices", "elements": buttons },
    ]);
    parse(blocks).map(Some)
}

fn parse(blocks: Value) -> Result<Vec<SlackBlock>, String> {
    serde_json::from_value(blocks).map_err(|e| format!("bad Block Kit layout: {e}"))
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
            },
        }));
    }
    let view = json!({ "type": "home", "blocks": blocks });
    serde_json::from_value(view).map_err(|e| format!("bad home layout: {e}"))
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
        let h = serde_json::to_value(home_view(&[]).unwrap()).unwrap();
        assert_eq!(h["type"], "home");
    }
}
