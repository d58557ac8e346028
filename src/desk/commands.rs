//! What agents type in a ticket's thread: `!` commands, notes, and (with `relay = "all"`)
//! messages for the employee. Parsing only; `workflow.rs` decides what they do.

use super::queues::Relay;
use super::settings::DeskSettings;
use crate::domain::{Platform, Priority, QueueName, UserRef};

/// An action on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Claim,
    Assign(UserRef),
    Unassign,
    Priority(Priority),
    Transfer(QueueName),
    Pending(Option<String>),
    Resolve(Option<String>),
    Reopen,
    Close,
    Reply(String),
    Help,
}

/// A thread message, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadInput {
    Command(Command),
    /// Internal talk among agents: stored, never sent to the employee.
    Note(String),
}

pub const HELP: &str = "Commands: !claim · !assign @agent · !unassign · !priority low|normal|high|urgent · \
!transfer QUEUE · !pending [message] · !resolve [message] · !reopen · !close · !reply TEXT. \
Anything else in this thread is an internal note.";

/// Classify a thread message. `Err` carries a reply for the agent (unknown command, bad
/// argument); nothing changes then.
pub fn parse(text: &str, platform: Platform, relay: Relay, s: &DeskSettings) -> Result<ThreadInput, String> {
    let t = text.trim();
    let reply_word = s.reply_prefix.trim_end();
    if let Some(rest) = strip_prefix_ci(t, &s.reply_prefix).or_else(|| (t == reply_word).then_some("")) {
        let rest = rest.trim();
        if rest.is_empty() {
            return Err(format!(
                "Write the reply after the prefix: `{}Your laptop is ready`",
                s.reply_prefix
            ));
        }
        return Ok(ThreadInput::Command(Command::Reply(rest.to_string())));
    }
    if let Some(cmd) = t.strip_prefix('!') {
        return command(cmd, platform).map(ThreadInput::Command);
    }
    match relay {
        Relay::ReplyOnly => Ok(ThreadInput::Note(t.to_string())),
        Relay::All => match strip_prefix_ci(t, &s.note_prefix) {
            Some(note) => Ok(ThreadInput::Note(note.trim().to_string())),
            None => Ok(ThreadInput::Command(Command::Reply(t.to_string()))),
        },
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

fn command(cmd: &str, platform: Platform) -> Result<Command, String> {
    let (word, arg) = match cmd.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (cmd, ""),
    };
    let arg_opt = || (!arg.is_empty()).then(|| arg.to_string());
    let need = |what: &str| format!("`!{word}` needs {what}. {HELP}");
    Ok(match word.to_lowercase().as_str() {
        "claim" | "take" => Command::Claim,
        "assign" if arg.is_empty() => return Err(need("an agent, e.g. `!assign @kim`")),
        "assign" => Command::Assign(agent_ref(arg, platform)?),
        "unassign" => Command::Unassign,
        "priority" => Command::Priority(arg.parse().map_err(|e: String| format!("{e}. {HELP}"))?),
        "transfer" | "move" if arg.is_empty() => return Err(need("a queue, e.g. `!transfer network`")),
        "transfer" | "move" => Command::Transfer(QueueName::parse(arg)?),
        "pending" | "wait" => Command::Pending(arg_opt()),
        "resolve" | "resolved" | "done" => Command::Resolve(arg_opt()),
        "reopen" => Command::Reopen,
        "close" => Command::Close,
        "reply" if arg.is_empty() => return Err(need("the text for the employee")),
        "reply" => Command::Reply(arg.to_string()),
        "help" => Command::Help,
        other => return Err(format!("Unknown command `!{other}`. {HELP}")),
    })
}

/// `@U123`, `<@U123>`, `<@!123>` (platform mentions) or `slack:U123`.
pub fn agent_ref(text: &str, platform: Platform) -> Result<UserRef, String> {
    let t = text
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_start_matches('@')
        .trim_start_matches('!');
    let t = t.split('|').next().unwrap_or(t);
    if t.is_empty() {
        return Err("name an agent, e.g. `!assign @kim`".into());
    }
    if t.contains(':') {
        return t.parse();
    }
    Ok(UserRef::new(platform, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_messages_are_classified_safely() {
        let s = DeskSettings::default();
        let p = |t: &str, r: Relay| parse(t, Platform::Slack, r, &s);
        use Command::*;
        let table: Vec<(&str, Relay, Result<ThreadInput, ()>)> = vec![
            ("!claim", Relay::ReplyOnly, Ok(ThreadInput::Command(Claim))),
            (
                "!reply Try again now",
                Relay::ReplyOnly,
                Ok(ThreadInput::Command(Reply("Try again now".into()))),
            ),
            ("!REPLY Try", Relay::ReplyOnly, Ok(ThreadInput::Command(Reply("Try".into())))),
            (
                "looks like a driver issue",
                Relay::ReplyOnly,
                Ok(ThreadInput::Note("looks like a driver issue".into())),
            ),
            ("please restart", Relay::All, Ok(ThreadInput::Command(Reply("please restart".into())))),
            ("note: user is VIP", Relay::All, Ok(ThreadInput::Note("user is VIP".into()))),
            (
                "!assign <@U42>",
                Relay::ReplyOnly,
                Ok(ThreadInput::Command(Assign(UserRef::new(Platform::Slack, "U42")))),
            ),
            (
                "!assign discord:7",
                Relay::ReplyOnly,
                Ok(ThreadInput::Command(Assign(UserRef::new(Platform::Discord, "7")))),
            ),
            (
                "!priority urgent",
                Relay::ReplyOnly,
                Ok(ThreadInput::Command(Priority(crate::domain::Priority::Urgent))),
            ),
            (
                "!resolve Replaced the dock",
                Relay::ReplyOnly,
                Ok(ThreadInput::Command(Resolve(Some("Replaced the dock".into())))),
            ),
            ("!pending", Relay::ReplyOnly, Ok(ThreadInput::Command(Pending(None)))),
            ("!priority asap", Relay::ReplyOnly, Err(())),
            ("!frobnicate", Relay::ReplyOnly, Err(())),
            ("!reply", Relay::ReplyOnly, Err(())),
            ("!assign", Relay::ReplyOnly, Err(())),
        ];
        for (text, relay, want) in table {
            let got = p(text, relay).map_err(|_| ());
            assert_eq!(got, want, "{text}");
        }
    }
}
