//! Outbound HTTP: a small blocking client over `wasi:http/outgoing-handler`.
//!
//! A bot may call only the origins its `http` grant names (the gateway's
//! config: `http = ["https://api.example.com"]`); any other request fails
//! with [`ErrorCode::HttpRequestDenied`] before a connection is made, and so
//! does one past the bot's `http_requests_per_call`. The gateway bounds each
//! request: a timeout (`http_timeout_ms`; [`Request::timeout`] may only
//! shorten it) and capped bodies (`http_max_request_bytes`,
//! `http_max_response_bytes`). Redirects are not followed.
//!
//! [`Request::send`] blocks until the whole response body is in. Time spent
//! waiting is off the call's CPU deadline but inside its wall-clock limit
//! (`wall_ms`, raised by default for a bot with `http` grants), and other
//! chats and bots are not held up meanwhile.
//!
//! ```no_run
//! use openqq_bot::http::{self, Request};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Weather { temp_c: f64 }
//!
//! fn weather(city: &str) -> Result<f64, http::Error> {
//!     let w: Weather = Request::get(format!("https://api.example.com/weather?city={city}"))
//!         .header("accept", "application/json")
//!         .send()?
//!         .error_for_status()?
//!         .json()?;
//!     Ok(w.temp_c)
//! }
//!
//! match weather("shanghai") {
//!     Ok(t) => println!("{t} °C"),
//!     Err(e) if e.is_denied() => println!("not granted: {e}"),
//!     Err(e) => println!("failed: {e}"),
//! }
//! ```
//!
//! On native targets (`cargo test`) requests go to the thread's
//! [`MockHost`](crate::testing::MockHost), which answers from canned
//! responses per URL and records every request
//! ([`MockHost::http_respond`](crate::testing::MockHost::http_respond)).

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::wasi::http::types::{ErrorCode, Method};

#[cfg(target_arch = "wasm32")]
mod wasi;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::http as imp;
#[cfg(target_arch = "wasm32")]
use wasi as imp;

/// Header fields, in order; names compare without regard to case. Values
/// that are not UTF-8 are kept with `�` in their place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Adds a field (after any of the same name).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// A request to send: build it, then [`send`](Request::send) it.
///
/// The fields are public so a test can look at what a bot sent
/// ([`MockHost::http_requests`](crate::testing::MockHost::http_requests)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// `http://` or `https://`, a host, and a path with its query.
    pub url: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// This request's own timeout (connect, first byte, between bytes);
    /// the gateway's `http_timeout_ms` bounds it anyway.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` to `url`, no headers, no body.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Headers::default(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::Get, url)
    }

    /// A `POST` to `url`.
    pub fn post(url: impl Into<String>) -> Request {
        Request::new(Method::Post, url)
    }

    /// Adds a header field.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, and `content-type:
    /// application/json`.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] when `value` cannot be encoded.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Request, Error> {
        let body = serde_json::to_vec(value).map_err(|e| Error::Encode(e.to_string()))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Gives up on the request after `timeout` without progress (to
    /// connect, to the first byte, between bytes) — sooner than the
    /// gateway's own `http_timeout_ms`, never later.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and waits for the whole response. Any status is a
    /// response; see [`Response::error_for_status`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a URL or header this client cannot send;
    /// [`Error::Http`] when the gateway or the network failed it
    /// ([`ErrorCode::HttpRequestDenied`] without the grant or past the
    /// quota, timeouts, a response over the size cap).
    pub fn send(&self) -> Result<Response, Error> {
        let target = Target::parse(&self.url)?;
        imp::send(self, &target)
    }
}

/// A response: its status, headers and whole body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response itself when its status is 2xx, else [`Error::Status`].
    ///
    /// # Errors
    ///
    /// [`Error::Status`] with the status and the start of the body (often
    /// the server's reason).
    pub fn error_for_status(self) -> Result<Response, Error> {
        if self.is_success() {
            return Ok(self);
        }
        Err(Error::Status {
            status: self.status,
            body: excerpt(&self.body),
        })
    }

    /// The body as text.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when it is not UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|e| Error::Decode(format!("body: {e}")))
    }

    /// The body decoded from JSON as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when it is not JSON of `T`'s shape.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Decode(format!(
                "body is not the JSON expected ({e}): {}",
                excerpt(&self.body)
            ))
        })
    }
}

/// How much of a body an error quotes.
const EXCERPT_CHARS: usize = 200;

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(EXCERPT_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Not sent: a URL or header this client cannot send (the text says
    /// which).
    Invalid(String),
    /// The gateway or the network failed the request, with WASI's code:
    /// [`ErrorCode::HttpRequestDenied`] when the origin is not granted or
    /// the bot's quota is spent, `ConnectionTimeout` or
    /// `HttpResponseTimeout` past a timeout, `HttpResponseBodySize` over
    /// the size cap, `ConnectionRefused`, `DnsError`, …
    Http(ErrorCode),
    /// From [`Response::error_for_status`]: a status that is not 2xx, with
    /// the start of the body.
    Status { status: u16, body: String },
    /// From [`Response::json`] / [`Response::text`]: the body is not what
    /// was expected.
    Decode(String),
    /// From [`Request::json`]: the value could not be encoded.
    Encode(String),
}

impl Error {
    /// The WASI error code, for [`Error::Http`].
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Http(code) => Some(code),
            _ => None,
        }
    }

    /// Whether the gateway refused the request (the `http` grant, a quota).
    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Http(ErrorCode::HttpRequestDenied))
    }

    /// Whether the request timed out (connecting, or waiting for the
    /// response).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Error::Http(
                ErrorCode::DnsTimeout
                    | ErrorCode::ConnectionTimeout
                    | ErrorCode::ConnectionReadTimeout
                    | ErrorCode::ConnectionWriteTimeout
                    | ErrorCode::HttpResponseTimeout
            )
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(t) => write!(f, "invalid request: {t}"),
            Error::Http(ErrorCode::HttpRequestDenied) => f.write_str(
                "denied: HTTP-request-denied (the origin is not in the bot's `http` grant, \
                 or its HTTP quota is spent)",
            ),
            Error::Http(code) => write!(f, "HTTP request failed: {}", code_name(code)),
            Error::Status { status, body } => write!(f, "HTTP status {status}: {body}"),
            Error::Decode(t) => write!(f, "cannot decode: {t}"),
            Error::Encode(t) => write!(f, "cannot encode: {t}"),
        }
    }
}

impl std::error::Error for Error {}

/// `ErrorCode::ConnectionTimeout` → `connection-timeout` (the WIT name),
/// with the payload when there is one.
fn code_name(code: &ErrorCode) -> String {
    // The generated Debug reads `ErrorCode::ConnectionTimeout` or
    // `ErrorCode::InternalError(Some("…"))`; drop the type's name.
    let debug = format!("{code:?}");
    debug
        .strip_prefix("ErrorCode::")
        .unwrap_or(&debug)
        .to_owned()
}

/// Where a request goes, from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub https: bool,
    /// `host` or `host:port`, as written.
    pub authority: String,
    /// At least `/`; the fragment dropped.
    pub path_with_query: String,
}

impl Target {
    /// Splits `http[s]://authority/path?query#fragment`.
    pub(crate) fn parse(url: &str) -> Result<Target, Error> {
        let invalid = |why: &str| Error::Invalid(format!("URL `{url}`: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("no scheme (http:// or https://)"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("only http and https")),
        };
        let rest = rest.split('#').next().unwrap_or("");
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
        {
            return Err(invalid("a host, without user name or spaces, is needed"));
        }
        let path_with_query = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Target {
            https,
            authority: authority.to_owned(),
            path_with_query,
        })
    }

    /// `scheme://host:port`, the port always written, as grants compare.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        // A port follows the last `:` unless that is inside `[v6]`.
        let has_port = self
            .authority
            .rfind(':')
            .is_some_and(|i| !self.authority[i..].contains(']'));
        let authority = self.authority.to_ascii_lowercase();
        if has_port {
            format!("{scheme}://{authority}")
        } else {
            let port = if self.https { 443 } else { 80 };
            format!("{scheme}://{authority}:{port}")
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let t = Target::parse("https://api.example.com/v1/chat?x=1#frag").unwrap();
        assert_eq!(
            t,
            Target {
                https: true,
                authority: "api.example.com".into(),
                path_with_query: "/v1/chat?x=1".into()
            }
        );
        assert_eq!(t.origin(), "https://api.example.com:443");
        let t = Target::parse("HTTP://127.0.0.1:8080").unwrap();
        assert_eq!(
            (t.path_with_query.as_str(), t.origin()),
            ("/", "http://127.0.0.1:8080".into())
        );
        assert_eq!(Target::parse("http://h?q").unwrap().path_with_query, "/?q");
        assert_eq!(
            Target::parse("http://[::1]/").unwrap().origin(),
            "http://[::1]:80"
        );
        for bad in [
            "api.example.com/x",
            "ftp://h/",
            "https:///x",
            "http://u:p@h/",
            "http://a b/",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(Error::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn responses_decode_and_check_their_status() {
        let ok = Response {
            status: 200,
            headers: Headers::default(),
            body: br#"{"a": 1}"#.to_vec(),
        };
        assert_eq!(ok.json::<serde_json::Value>().unwrap()["a"], 1);
        assert!(matches!(ok.json::<Vec<u8>>(), Err(Error::Decode(_))));
        let bad = Response {
            status: 429,
            body: "slow down".repeat(50).into_bytes(),
            ..ok
        };
        let err = bad.error_for_status().unwrap_err();
        let Error::Status { status: 429, body } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(body.chars().count(), EXCERPT_CHARS + 1);
        assert!(err.to_string().starts_with("HTTP status 429: slow down"));
    }

    #[test]
    fn errors_say_what_the_code_was() {
        let denied = Error::Http(ErrorCode::HttpRequestDenied);
        assert!(denied.is_denied() && !denied.is_timeout());
        assert!(denied.to_string().starts_with("denied: "), "{denied}");
        let slow = Error::Http(ErrorCode::HttpResponseTimeout);
        assert!(slow.is_timeout());
        assert_eq!(slow.to_string(), "HTTP request failed: HttpResponseTimeout");
        let internal = Error::Http(ErrorCode::InternalError(Some("boom".into())));
        assert_eq!(
            internal.to_string(),
            "HTTP request failed: InternalError(Some(\"boom\"))"
        );
        assert_eq!(
            internal.code(),
            Some(&ErrorCode::InternalError(Some("boom".into())))
        );
    }

    #[test]
    fn headers_compare_names_without_case() {
        let r = Request::post("http://h/")
            .header("Authorization", "Bearer k")
            .json(&serde_json::json!({"x": 1}))
            .unwrap();
        assert_eq!(r.headers.get("authorization"), Some("Bearer k"));
        assert_eq!(r.headers.get("CONTENT-TYPE"), Some("application/json"));
        assert_eq!(r.body, br#"{"x":1}"#);
        assert_eq!(r.headers.iter().count(), 2);
    }
}
