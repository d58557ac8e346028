//! Serving a router of deskbot's HTTP pages on a loopback port exactly as `deskbot run` does
//! (`http::serve`, with the TCP peer known), and what the page tests share: a client that
//! does not follow redirects, cookies from `Set-Cookie`, hidden form fields.
#![allow(dead_code)]

use tokio_util::sync::CancellationToken;

/// A router served on `127.0.0.1`, stopped when dropped.
pub struct Served {
    pub base: String,
    pub client: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A listener on a free loopback port, and its `http://…` base URL (bind first when the
/// app's config must name its own address).
pub async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// Serve `router` on a fresh loopback port.
pub async fn serve(router: axum::Router) -> Served {
    let (l, base) = listener().await;
    serve_on(l, base, router)
}

/// Serve `router` on `listener` (whose URL is `base`).
pub fn serve_on(listener: tokio::net::TcpListener, base: String, router: axum::Router) -> Served {
    let stop = CancellationToken::new();
    tokio::spawn(deskbot::http::serve(listener, router, stop.clone()));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Served { base, client, stop }
}

impl Served {
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }
}

/// The `Set-Cookie` header that sets cookie `name`, if any.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// `name=value` of a `Set-Cookie` header.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// The value of the first hidden field `name` of a page.
pub fn field(html: &str, name: &str) -> String {
    let key = format!(r#"name="{name}" value=""#);
    let at = html.find(&key).unwrap_or_else(|| panic!("no {name} field in {html}")) + key.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// Whether a response starts a session: a `Set-Cookie` for `name` with a non-empty value.
pub fn sets_session(res: &reqwest::Response, name: &str) -> bool {
    set_cookie(res, name).is_some_and(|c| pair(&c).len() > name.len() + 1)
}
