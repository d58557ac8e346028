//! `deskbot healthcheck`: a minimal HTTP/1.1 GET against the local daemon, so a container's
//! HEALTHCHECK works in a runtime image without curl or a shell. Plain HTTP only: it talks to
//! the daemon on its own listen address.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `http://HOST:PORT{path}` for a listen address; a wildcard host becomes loopback.
pub fn local_url(listen: &str, path: &str) -> String {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "80"));
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "[::]" => "[::1]",
        h => h,
    };
    format!("http://{host}:{port}{path}")
}

/// GET `url` (plain `http://`) and return the status code.
pub async fn probe(url: &str, timeout: Duration) -> Result<u16, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let work = async {
        let mut stream = TcpStream::connect(authority).await.map_err(|e| format!("cannot connect: {e}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("cannot send: {e}"))?;
        let mut head = [0u8; 64];
        let mut n = 0;
        while n < 12 {
            let got = stream.read(&mut head[n..]).await.map_err(|e| format!("cannot read: {e}"))?;
            if got == 0 {
                break;
            }
            n += got;
        }
        parse_status(&head[..n]).ok_or_else(|| "not an HTTP response".to_string())
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| format!("no answer within {timeout:?}"))?
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head.get(..12)?).ok()?;
    let code = text.strip_prefix("HTTP/1.")?.get(2..5)?;
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_probe_loopback() {
        assert_eq!(local_url("0.0.0.0:8080", "/healthz"), "http://127.0.0.1:8080/healthz");
        assert_eq!(local_url("127.0.0.1:9000", "/readyz"), "http://127.0.0.1:9000/readyz");
        assert_eq!(local_url("[::]:8080", "/healthz"), "http://[::1]:8080/healthz");
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status(b"HTTP"), None);
    }
}
