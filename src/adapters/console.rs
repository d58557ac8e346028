//! The console channel: you are the employee, in a terminal. Replies are printed as a block,
//! choices as numbered options you answer by number or by typing the label. It works with
//! piped stdin too (one reply block per input line), so it can be scripted.

use crate::domain::Platform;
use crate::domain::{Channel, Delivered, Outbound, SendError};
use async_trait::async_trait;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest input line read from the console; the rest of a longer line is discarded.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Prints messages for one console user to a writer (stdout in `deskbot chat`).
pub struct ConsoleChannel {
    user: String,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl ConsoleChannel {
    pub fn new(user: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        Self { user: user.into(), out: Arc::new(Mutex::new(out)) }
    }
}

/// How a message looks on the console: plain text (a terminal shows no markup).
pub fn render(message: &Outbound) -> String {
    let mut s = String::new();
    for (i, line) in crate::usertext::plain(&message.text).lines().enumerate() {
        s.push_str(if i == 0 { "deskbot> " } else { "         " });
        s.push_str(line);
        s.push('\n');
    }
    for (i, c) in message.choices.iter().enumerate() {
        s.push_str(&format!("    {}. {}\n", i + 1, c.label));
    }
    s
}

#[async_trait]
impl Channel for ConsoleChannel {
    fn platform(&self) -> Platform {
        Platform::Console
    }

    async fn send(&self, _key: &str, message: &Outbound) -> Result<Delivered, SendError> {
        let to = match &message.kind {
            crate::domain::OutboundKind::Private { user } => user,
            _ => &message.to.channel,
        };
        if *to != self.user {
            // Someone else's console: they get it the next time they open `deskbot chat`.
            return Err(SendError::Temporary(format!("{to} is not at this console")));
        }
        if matches!(message.kind, crate::domain::OutboundKind::Reaction { .. }) {
            // A terminal has no message to react on.
            return Ok(Delivered::default());
        }
        let text = render(message);
        let mut out = self.out.lock().map_err(|_| SendError::Temporary("console writer poisoned".into()))?;
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| SendError::Temporary(format!("cannot write to the console: {e}")))?;
        Ok(Delivered::default())
    }
}

/// The console as the intake router sees it: one person typing, nothing to look up.
pub struct Terminal;

#[async_trait]
impl crate::service::router::Lookup for Terminal {
    async fn message(
        &self,
        _channel: &str,
        _id: &str,
    ) -> Result<Option<crate::domain::FetchedMessage>, String> {
        Ok(None)
    }

    async fn channel_name(&self, _channel: &str) -> Option<String> {
        None
    }

    async fn display_name(&self, _user: &str) -> Option<String> {
        None
    }
}

/// Read one line of at most [`MAX_LINE_BYTES`] (the rest of the line is skipped), as text
/// with invalid UTF-8 replaced. `None` at end of input.
pub async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<(String, bool)>> {
    let mut buf = Vec::new();
    let mut cut = false;
    let mut any = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buf.len());
        if take > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take);
        if done {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    Ok(Some((String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string(), cut)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Address;
    use crate::domain::Choice;

    #[tokio::test]
    async fn lines_are_bounded_and_invalid_utf8_is_replaced() {
        let mut input: Vec<u8> = b"hello\n".to_vec();
        input.extend(vec![b'a'; MAX_LINE_BYTES + 10]);
        input.extend(b"\nbad \xff\xfe bytes\nlast");
        let mut r = tokio::io::BufReader::new(&input[..]);
        assert_eq!(read_line(&mut r).await.unwrap(), Some(("hello".into(), false)));
        let (long, cut) = read_line(&mut r).await.unwrap().unwrap();
        assert!(cut && long.len() == MAX_LINE_BYTES);
        assert_eq!(read_line(&mut r).await.unwrap().unwrap().0, "bad \u{fffd}\u{fffd} bytes");
        assert_eq!(read_line(&mut r).await.unwrap().unwrap().0, "last");
        assert_eq!(read_line(&mut r).await.unwrap(), None);
    }

    #[test]
    fn choices_render_as_numbered_options() {
        let m = Outbound::message(
            Address::new(Platform::Console, "alice"),
            "Answer\nmore",
            vec![Choice::new("a", "That solved it"), Choice::new("b", "Not solved")],
        );
        assert_eq!(render(&m), "deskbot> Answer\n         more\n    1. That solved it\n    2. Not solved\n");
    }
}
