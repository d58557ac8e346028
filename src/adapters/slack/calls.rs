//! Bounded Web API calls and loggable error kinds. Every call to Slack goes through
//! [`bounded`], so none waits longer than `slack.api_timeout_ms`. slack-morphism's errors
//! print the HTTP or JSON body they came with (a malformed event's body is a person's words),
//! so they are never logged as such: [`kind`] and [`boxed_kind`] name what went wrong in
//! words of our own plus Slack's error code, nothing from the payload.

use super::handler::HandleError;
use slack_morphism::errors::*;
use slack_morphism::signature_verifier::{SlackEventAbsentSignatureError, SlackEventSignatureVerifierError};
use std::future::Future;
use std::time::Duration;

/// How long one Web API call may take unless `slack.api_timeout_ms` says otherwise.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a Web API call gave no answer deskbot can use.
#[derive(Debug)]
pub enum CallError {
    /// No answer within the timeout: Slack may or may not have acted on the call.
    Timeout,
    Slack(SlackClientError),
}

impl CallError {
    pub fn kind(&self) -> String {
        match self {
            CallError::Timeout => "timed out".into(),
            CallError::Slack(e) => kind(e),
        }
    }

    /// Did the call perhaps take effect although no (readable) answer came back?
    pub fn ambiguous(&self) -> bool {
        match self {
            CallError::Timeout => true,
            CallError::Slack(e) => matches!(
                e,
                SlackClientError::HttpProtocolError(_)
                    | SlackClientError::EndOfStream(_)
                    | SlackClientError::SystemError(_)
            ),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kind())
    }
}

/// Run one Web API call, giving up after `timeout`.
pub async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = slack_morphism::ClientResult<T>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CallError::Slack(e)),
        Err(_) => Err(CallError::Timeout),
    }
}

/// Slack's error codes are short snake_case words; anything else is not echoed.
fn code(c: &str) -> &str {
    let ok = !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok { c } else { "unrecognised code" }
}

fn json_kind(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "eof",
    };
    format!("unreadable JSON ({what} error at line {} column {})", e.line(), e.column())
}

/// What a client error was, without the body it carries.
pub fn kind(e: &SlackClientError) -> String {
    match e {
        SlackClientError::ApiError(a) => format!("api error {}", code(&a.code)),
        SlackClientError::HttpError(h) => format!("http status {}", h.status_code.as_u16()),
        SlackClientError::HttpProtocolError(_) => "connection failed".into(),
        SlackClientError::EndOfStream(_) => "connection closed".into(),
        SlackClientError::ProtocolError(p) => json_kind(&p.json_error),
        SlackClientError::SocketModeProtocolError(_) => "socket mode protocol error".into(),
        SlackClientError::SystemError(_) => "client system error".into(),
        SlackClientError::RateLimitError(_) => "rate limited".into(),
    }
}

/// What an error handed to slack-morphism's listener error handler was.
pub fn boxed_kind(err: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    if let Some(e) = err.downcast_ref::<SlackClientError>() {
        kind(e)
    } else if let Some(e) = err.downcast_ref::<SlackClientProtocolError>() {
        json_kind(&e.json_error)
    } else if let Some(e) = err.downcast_ref::<serde_json::Error>() {
        json_kind(e)
    } else if let Some(e) = err.downcast_ref::<HandleError>() {
        e.kind()
    } else if err.downcast_ref::<SlackEventAbsentSignatureError>().is_some() {
        "signature missing".into()
    } else if let Some(e) = err.downcast_ref::<SlackEventSignatureVerifierError>() {
        match e {
            SlackEventSignatureVerifierError::AbsentSignatureError(_) => "signature missing",
            SlackEventSignatureVerifierError::WrongSignatureError(_) => "signature wrong",
            SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => "timestamp stale",
            SlackEventSignatureVerifierError::CryptoInitError(_) => "signature check failed",
        }
        .into()
    } else if err.downcast_ref::<axum::http::header::ToStrError>().is_some() {
        "unreadable header".into()
    } else {
        "unrecognised error".into()
    }
}

/// Is this a payload Slack sent that can never be read, however often it comes again?
pub fn unreadable_payload(err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    err.downcast_ref::<SlackClientProtocolError>().is_some()
        || err.downcast_ref::<serde_json::Error>().is_some()
        || err
            .downcast_ref::<SlackClientError>()
            .is_some_and(|e| matches!(e, SlackClientError::ProtocolError(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_never_carry_the_body() {
        let canary = "CANARY-9f3 123-45-6789 diabetic";
        let json = serde_json::from_str::<u64>(&format!("\"{canary}\"")).unwrap_err();
        assert!(json.to_string().contains("CANARY"), "serde's own text does carry it");
        let e = SlackClientError::ProtocolError(
            SlackClientProtocolError::new(json).with_json_body(canary.into()),
        );
        assert!(e.to_string().contains(canary), "slack-morphism's own text does carry it");
        assert!(!kind(&e).contains("CANARY"), "{}", kind(&e));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
        assert!(!boxed_kind(boxed.as_ref()).contains("CANARY"));
        assert!(unreadable_payload(boxed.as_ref()));
        let api = SlackClientError::ApiError(
            SlackClientApiError::new("channel_not_found".into()).with_http_response_body(canary.into()),
        );
        assert_eq!(kind(&api), "api error channel_not_found");
        let odd = SlackClientError::ApiError(SlackClientApiError::new(canary.into()));
        assert!(!kind(&odd).contains("CANARY"));
        let http = SlackClientError::HttpError(
            SlackClientHttpError::new(axum::http::StatusCode::BAD_GATEWAY)
                .with_http_response_body(canary.into()),
        );
        assert_eq!(kind(&http), "http status 502");
    }
}
